"""Storage: everything a node and a wallet must not lose, behind one async :class:`Store` protocol.

The one place in ``timecoin_core`` that does I/O; domain modules never import it.

* :class:`SqliteStore` — one SQLite file per node (aiosqlite, WAL, one writer); the
  default for nodes and wallets. ``await SqliteStore.open(path, network)`` or
  ``async with SqliteStore.open(path, network) as store``.
* :class:`MemoryStore` — the same protocol in memory, for tests.
* :func:`load_chain` / :func:`load_node_state` — rebuild a
  :class:`~timecoin_core.chain.ChainState` (and what a consensus node resumes from)
  from a store at start-up.
* ``python -m timecoin_core.store.check PATH`` — verify a store without modifying it.

docs/storage.md describes the schema, the durability guarantees and the tools.
"""

from __future__ import annotations

from .errors import (
    BlockSequenceError,
    ConflictingVoteError,
    CorruptStoreError,
    InconsistentBlockError,
    InvalidCursorError,
    NetworkMismatchError,
    NotAStoreError,
    ReadOnlyStoreError,
    SchemaTooNewError,
    StoreClosedError,
    StoreError,
    StoreLockedError,
)
from .loading import NodeState, load_chain, load_node_state, load_registry
from .memory import MemoryStore
from .protocol import Store
from .records import (
    BanRecord,
    Evidence,
    HistoryEntry,
    Page,
    PeerRecord,
    SignedVote,
    StoredBlock,
    StoredTransaction,
    StoreMetadata,
)
from .schema import SCHEMA_VERSION
from .sqlite import SqliteStore, StoreOpener

__all__ = [
    "SCHEMA_VERSION",
    "BanRecord",
    "BlockSequenceError",
    "ConflictingVoteError",
    "CorruptStoreError",
    "Evidence",
    "HistoryEntry",
    "InconsistentBlockError",
    "InvalidCursorError",
    "MemoryStore",
    "NetworkMismatchError",
    "NodeState",
    "NotAStoreError",
    "Page",
    "PeerRecord",
    "ReadOnlyStoreError",
    "SchemaTooNewError",
    "SignedVote",
    "SqliteStore",
    "Store",
    "StoreClosedError",
    "StoreError",
    "StoreLockedError",
    "StoreMetadata",
    "StoreOpener",
    "StoredBlock",
    "StoredTransaction",
    "load_chain",
    "load_node_state",
    "load_registry",
]
