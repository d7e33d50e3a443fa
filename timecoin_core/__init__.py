"""Timecoin core: the pure domain of the Timecoin SDK.

Amounts, the canonical codec, tagged hashing, Ed25519 keys and addresses, network
parameters, transactions, validation and signature verification, the UTXO set, the
transaction pool, blocks and chain state. Subpackages: ``wallet`` (HD wallet and coin
selection), ``consensus`` (registry, finality, BFT, the consensus node), ``sim`` (the
deterministic simulator) and ``testing`` (LocalChain and the pytest plugin). No event
loop, no sockets, no wall clock: time is always an argument.
"""

from __future__ import annotations

import importlib as _importlib
import typing as _typing

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
from .block import Block, BlockHeader, genesis_block, reward_txid
from .builder import BuilderArgumentError, BuilderError, TransactionBuilder
from .chain import AppliedBlock, BlockError, BlockTransactionError, ChainSnapshot, ChainState
from .codec import Reader, Writer
from .errors import (
    AddressError,
    AmountError,
    DecodeError,
    InvalidArgumentError,
    InvalidKeyError,
    TimecoinError,
    VerifierError,
)
from .fees import FeeRate
from .hashing import Tag, tagged_hash
from .keys import Address, PrivateKey, PublicKey, address_payload
from .mempool import (
    AddOutcome,
    DoubleSpendError,
    DuplicateTransactionError,
    FinalTransactionError,
    PendingParentError,
    PoolEntry,
    PoolError,
    PoolFullError,
    Removal,
    TxPool,
    UnknownTransactionError,
)
from .merkle import MerkleProof, merkle_proof, merkle_root, verify_merkle_proof
from .network import DEVNET, MAINNET, NETWORKS, TESTNET, GenesisOutput, Network, NetworkError, Tier
from .orphans import OrphanBuffer
from .transaction import OutPoint, Transaction, TxIn, TxOut
from .utxo import (
    Balance,
    Coin,
    CoinHeldError,
    CoinPage,
    CoinState,
    IllegalTransitionError,
    UtxoError,
    UtxoSet,
)
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
    WrongNetworkError,
    ZeroOutputError,
    check_transaction,
    validate_transaction,
    validate_transactions,
)
from .verify import (
    BackendUnavailableError,
    ProcessVerifier,
    SignatureCheck,
    SyncVerifier,
    ThreadVerifier,
    UnknownBackendError,
    Verifier,
    VerifierConfigError,
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
    "AddOutcome",
    "Address",
    "AddressError",
    "AmountError",
    "AppliedBlock",
    "BackendUnavailableError",
    "BadSignatureError",
    "Balance",
    "Block",
    "BlockError",
    "BlockHeader",
    "BlockTransactionError",
    "BuilderArgumentError",
    "BuilderError",
    "ChainSnapshot",
    "ChainState",
    "Coin",
    "CoinHeldError",
    "CoinPage",
    "CoinState",
    "DecodeError",
    "DoubleSpendError",
    "DuplicateInputError",
    "DuplicateTransactionError",
    "FeeRate",
    "FeeTooLowError",
    "FinalTransactionError",
    "GenesisOutput",
    "IllegalTransitionError",
    "InputsBelowOutputsError",
    "InvalidArgumentError",
    "InvalidKeyError",
    "MemoryStore",
    "MerkleProof",
    "MissingInputError",
    "Network",
    "NetworkError",
    "NoInputsError",
    "NoOutputsError",
    "OrphanBuffer",
    "OutPoint",
    "OutputSumError",
    "OutputView",
    "PendingParentError",
    "PoolEntry",
    "PoolError",
    "PoolFullError",
    "PrivateKey",
    "ProcessVerifier",
    "PublicKey",
    "Reader",
    "Removal",
    "SignatureCheck",
    "SqliteStore",
    "Store",
    "StoreError",
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
    "TxPool",
    "TxTooLargeError",
    "TxVerdict",
    "UnknownBackendError",
    "UnknownTransactionError",
    "UtxoError",
    "UtxoSet",
    "Verifier",
    "VerifierConfigError",
    "VerifierError",
    "Writer",
    "WrongKeyError",
    "WrongNetworkError",
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
    "genesis_block",
    "load_chain",
    "make_verifier",
    "merkle_proof",
    "merkle_root",
    "reward_txid",
    "tagged_hash",
    "validate_transaction",
    "validate_transactions",
    "verify_merkle_proof",
    "verify_one",
]

# The store is the one part of the core that does I/O (asyncio, aiosqlite, sqlite3):
# importing the domain must not pay for it, so its names load on first use.
_LAZY = {name: "timecoin_core.store" for name in ("MemoryStore", "SqliteStore", "Store", "StoreError", "load_chain")}

if _typing.TYPE_CHECKING:
    from .store import MemoryStore, SqliteStore, Store, StoreError, load_chain


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'timecoin_core' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value
