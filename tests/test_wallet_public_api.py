"""The wallet package's public surface: the names users reach for, documented, errors under one root."""

from __future__ import annotations

import inspect

import timecoin_core.wallet as wallet
from timecoin_core import AddressError, AmountError, TimecoinError

# What issue 13 added to the wallet's surface; removing one is an API break.
ISSUE_13 = {
    "BlockSource", "DEFAULT_FEE_WINDOW", "DEFAULT_MAX_FEE_FLOOR", "DustOutputError", "FeeEstimator",
    "FeeTooHighError", "FinalFeeSample", "MAX_URI_LENGTH", "MESSAGE_SIGNATURE_VERSION", "MESSAGE_TAG",
    "MessageSignatureError", "PSBT_MAGIC", "PSBT_VERSION", "PartialSignatureError",
    "PartiallySignedTransaction", "Payment", "PaymentRequest", "PaymentUriError", "PoolSource",
    "PoolTransaction", "PsbtError", "PsbtIncompleteError", "PsbtMismatchError", "PsbtNetworkError",
    "TxStatus", "URI_SCHEME", "WalletAddressError", "WalletAmountError", "WalletArgumentError",
    "WalletTransaction", "WalletTypeError", "decode_message_signature", "default_max_fee",
    "message_digest", "paid_payloads", "selection_alternatives", "sign_message", "verify_message", "wallet_history",
}


def test_new_names_are_exported_and_documented() -> None:
    assert set(wallet.__all__) >= ISSUE_13
    for name in ISSUE_13:
        value = getattr(wallet, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__doc__, name
    for method in ("plan_payments", "create_payments", "sign_psbt", "sign_message", "history"):
        assert getattr(wallet.Wallet, method).__doc__, method
    assert wallet.TransactionPlan.to_psbt.__doc__


def test_every_wallet_error_is_under_the_root() -> None:
    errors = [v for v in vars(wallet).values() if inspect.isclass(v) and issubclass(v, Exception)]
    assert len(errors) > 20
    for error in errors:
        assert issubclass(error, TimecoinError) and issubclass(error, ValueError), error
    for error in (wallet.CoinSelectionError, wallet.PsbtError, wallet.PaymentUriError, wallet.MessageSignatureError):
        assert issubclass(error, wallet.WalletError)
    assert issubclass(wallet.WalletTypeError, TypeError)
    assert issubclass(wallet.WalletAddressError, AddressError)
    assert issubclass(wallet.WalletAmountError, AmountError)
    assert issubclass(wallet.DustOutputError, wallet.WalletAmountError)
