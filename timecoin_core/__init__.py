"""Timecoin core: the pure domain of the Timecoin SDK.

Amounts, the canonical codec, tagged hashing, Ed25519 keys and addresses, network
parameters, transactions, validation and signature verification. No event loop, no
sockets, no wall clock: time is always an argument.
"""

from __future__ import annotations

from .amount import (
    COIN,
    MAX_MONEY,
    check_amount,
    checked_add,
    checked_sub,
    checked_sum,
    coins,
    format_amount,
)
from .builder import BuilderError, TransactionBuilder
from .codec import Reader, Writer
from .errors import (
    AddressError,
    AmountError,
    DecodeError,
    InvalidKeyError,
    TimecoinError,
    VerifierError,
)
from .fees import FeeRate
from .hashing import Tag, tagged_hash
from .keys import Address, PrivateKey, PublicKey, address_payload
from .network import DEVNET, MAINNET, NETWORKS, TESTNET, GenesisOutput, Network, NetworkError, Tier
from .transaction import OutPoint, Transaction, TxIn, TxOut
from .validation import (
    BadSignatureError,
    DuplicateInputError,
    FeeTooLowError,
    InputsBelowOutputsError,
    MissingInputError,
    NoInputsError,
    NoOutputsError,
    OutputSumError,
    OutputView,
    TransactionError,
    TxTooLargeError,
    TxVerdict,
    WrongKeyError,
    ZeroOutputError,
    check_transaction,
    validate_transaction,
    validate_transactions,
)
from .verify import (
    ProcessVerifier,
    SignatureCheck,
    SyncVerifier,
    ThreadVerifier,
    Verifier,
    available_backends,
    make_verifier,
    verify_one,
)

__version__ = "0.1.0"

__all__ = [
    "COIN",
    "DEVNET",
    "MAINNET",
    "MAX_MONEY",
    "NETWORKS",
    "TESTNET",
    "Address",
    "AddressError",
    "AmountError",
    "BadSignatureError",
    "BuilderError",
    "DecodeError",
    "DuplicateInputError",
    "FeeRate",
    "FeeTooLowError",
    "GenesisOutput",
    "InputsBelowOutputsError",
    "InvalidKeyError",
    "MissingInputError",
    "Network",
    "NetworkError",
    "NoInputsError",
    "NoOutputsError",
    "OutPoint",
    "OutputSumError",
    "OutputView",
    "PrivateKey",
    "ProcessVerifier",
    "PublicKey",
    "Reader",
    "SignatureCheck",
    "SyncVerifier",
    "Tag",
    "ThreadVerifier",
    "Tier",
    "TimecoinError",
    "Transaction",
    "TransactionBuilder",
    "TransactionError",
    "TxIn",
    "TxOut",
    "TxTooLargeError",
    "TxVerdict",
    "Verifier",
    "VerifierError",
    "Writer",
    "WrongKeyError",
    "ZeroOutputError",
    "__version__",
    "address_payload",
    "available_backends",
    "check_amount",
    "check_transaction",
    "checked_add",
    "checked_sub",
    "checked_sum",
    "coins",
    "format_amount",
    "make_verifier",
    "tagged_hash",
    "validate_transaction",
    "validate_transactions",
    "verify_one",
]
