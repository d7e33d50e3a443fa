"""Wallets: BIP-0039 mnemonics, SLIP-0010 Ed25519 derivation, coin selection and :class:`Wallet`.

The user guide is docs/wallet.md.
"""

from __future__ import annotations

from ..fees import FeeRate
from .coin_selection import (
    DEFAULT_MAX_TRIES,
    INPUT_SIZE,
    OUTPUT_SIZE,
    CoinSelectionError,
    FeeExceedsAmountError,
    InsufficientFundsError,
    Selection,
    SelectionAlgorithm,
    change_window,
    effective_fee_rate,
    is_selectable,
    select_coins,
    transaction_size,
)
from .mnemonic import (
    MnemonicError,
    english_wordlist,
    entropy_to_mnemonic,
    generate_mnemonic,
    is_valid_mnemonic,
    mnemonic_to_entropy,
    mnemonic_to_seed,
)
from .slip10 import (
    COIN_TYPE,
    HARDENED_OFFSET,
    PURPOSE,
    DerivationError,
    ExtendedKey,
    account_path,
    address_path,
    derive_key,
    derive_path,
    master_node,
    parse_path,
)
from .wallet import (
    DEFAULT_GAP_LIMIT,
    CoinSource,
    CreatedTransaction,
    ForeignCoinError,
    TransactionPlan,
    Wallet,
    WalletError,
    WatchOnlyError,
)

__all__ = [
    "COIN_TYPE",
    "DEFAULT_GAP_LIMIT",
    "DEFAULT_MAX_TRIES",
    "HARDENED_OFFSET",
    "INPUT_SIZE",
    "OUTPUT_SIZE",
    "PURPOSE",
    "CoinSelectionError",
    "CoinSource",
    "CreatedTransaction",
    "DerivationError",
    "ExtendedKey",
    "FeeExceedsAmountError",
    "FeeRate",
    "ForeignCoinError",
    "InsufficientFundsError",
    "MnemonicError",
    "Selection",
    "SelectionAlgorithm",
    "TransactionPlan",
    "Wallet",
    "WalletError",
    "WatchOnlyError",
    "account_path",
    "address_path",
    "change_window",
    "derive_key",
    "derive_path",
    "effective_fee_rate",
    "english_wordlist",
    "entropy_to_mnemonic",
    "generate_mnemonic",
    "is_selectable",
    "is_valid_mnemonic",
    "master_node",
    "mnemonic_to_entropy",
    "mnemonic_to_seed",
    "parse_path",
    "select_coins",
    "transaction_size",
]
