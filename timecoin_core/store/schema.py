"""The SQLite schema of a Timecoin store and its forward migrations.

A store is a SQLite database whose header carries :data:`APPLICATION_ID` (so any
other database is recognised before it is touched) and whose ``schema_version`` table
holds one row per migration applied (mirrored in ``PRAGMA user_version``). Opening a
store runs the missing migrations in order, each in its own transaction together with
its version row, so a crash leaves the store at one version or the next, never between.
A store with a version above :data:`SCHEMA_VERSION` is refused untouched.

docs/storage.md explains every table.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

__all__ = ["APPLICATION_ID", "MIGRATIONS", "SCHEMA_VERSION", "Migration", "tables_at"]

APPLICATION_ID: Final = 0x54494D43
"""``PRAGMA application_id`` of every Timecoin store (``"TIMC"``)."""


@dataclass(frozen=True, slots=True)
class Migration:
    """Upgrade a store to ``version`` (from ``version - 1``) by running ``statements``."""

    version: int
    description: str
    statements: Sequence[str]


_V1: Final = (
    """CREATE TABLE schema_version (
        version INTEGER PRIMARY KEY,
        description TEXT NOT NULL
    )""",
    """CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value BLOB NOT NULL
    ) WITHOUT ROWID""",
    # One row per committed block. The block's encoding is split around its
    # transactions (they live in txs): head = header | signature, tail = what follows.
    """CREATE TABLE blocks (
        height INTEGER PRIMARY KEY,
        hash BLOB NOT NULL UNIQUE,
        head BLOB NOT NULL,
        tail BLOB NOT NULL,
        tx_count INTEGER NOT NULL,
        size INTEGER NOT NULL,
        certificate BLOB,
        undo BLOB NOT NULL,
        fees INTEGER NOT NULL,
        subsidy INTEGER NOT NULL,
        supply INTEGER NOT NULL,
        utxo_count INTEGER NOT NULL,
        commitment BLOB NOT NULL
    )""",
    # id = height << 17 | position: the rowid clusters a block's transactions in order.
    """CREATE TABLE txs (
        id INTEGER PRIMARY KEY,
        txid BLOB NOT NULL UNIQUE,
        raw BLOB NOT NULL,
        certificate BLOB
    )""",
    # outpoint = txid | index:u32be, so byte order is outpoint order.
    """CREATE TABLE utxo (
        outpoint BLOB PRIMARY KEY,
        payload BLOB NOT NULL,
        amount INTEGER NOT NULL,
        height INTEGER NOT NULL
    ) WITHOUT ROWID""",
    "CREATE INDEX utxo_by_payload ON utxo (payload, outpoint)",
    """CREATE TABLE history (
        payload BLOB NOT NULL,
        height INTEGER NOT NULL,
        position INTEGER NOT NULL,
        txid BLOB NOT NULL,
        received INTEGER NOT NULL,
        sent INTEGER NOT NULL,
        PRIMARY KEY (payload, height, position)
    ) WITHOUT ROWID""",
    """CREATE TABLE final_txs (
        seq INTEGER PRIMARY KEY,
        txid BLOB NOT NULL UNIQUE,
        raw BLOB NOT NULL,
        certificate BLOB NOT NULL
    )""",
    """CREATE TABLE votes (
        outpoint BLOB PRIMARY KEY,
        txid BLOB NOT NULL
    ) WITHOUT ROWID""",
    """CREATE TABLE signed_votes (
        seq INTEGER PRIMARY KEY,
        key BLOB NOT NULL UNIQUE,
        kind INTEGER NOT NULL,
        height INTEGER NOT NULL,
        raw BLOB NOT NULL
    )""",
    """CREATE TABLE voting_sets (
        epoch INTEGER PRIMARY KEY,
        raw BLOB NOT NULL
    )""",
    """CREATE TABLE evidence (
        seq INTEGER PRIMARY KEY,
        offender BLOB NOT NULL UNIQUE,
        raw BLOB NOT NULL
    )""",
    """CREATE TABLE peers (
        address TEXT PRIMARY KEY,
        last_seen INTEGER NOT NULL,
        services INTEGER NOT NULL,
        failures INTEGER NOT NULL
    ) WITHOUT ROWID""",
    "CREATE INDEX peers_by_last_seen ON peers (last_seen)",
    """CREATE TABLE bans (
        host TEXT PRIMARY KEY,
        until INTEGER NOT NULL,
        reason TEXT NOT NULL
    ) WITHOUT ROWID""",
)

# The value a BFT lock is on, with its polka (a LockedValue), one per height: written
# in the same transaction as the precommit that locks it, so a restarted node can
# re-propose what it is locked on. Rows of committed heights are deleted with the block.
_V2: Final = (
    """CREATE TABLE locked_values (
        height INTEGER PRIMARY KEY,
        round INTEGER NOT NULL,
        raw BLOB NOT NULL
    )""",
)

MIGRATIONS: Final[tuple[Migration, ...]] = (
    Migration(1, "blocks, transactions, UTXO set, history, consensus records, peers", _V1),
    Migration(2, "locked values of the BFT engine", _V2),
)
"""Every migration, in order: ``MIGRATIONS[i].version == i + 1``."""

SCHEMA_VERSION: Final = MIGRATIONS[-1].version
"""The schema version this code writes (and the newest it reads)."""

TABLES: Final = (
    "bans",
    "blocks",
    "evidence",
    "final_txs",
    "history",
    "locked_values",
    "meta",
    "peers",
    "schema_version",
    "signed_votes",
    "txs",
    "utxo",
    "votes",
    "voting_sets",
)
"""The tables of the current schema."""


def tables_at(version: int, migrations: Sequence[Migration] = MIGRATIONS) -> frozenset[str]:
    """The tables a store of schema ``version`` holds (what the first ``version`` migrations create)."""
    created: set[str] = set()
    for migration in migrations[:version]:
        for statement in migration.statements:
            created.update(re.findall(r"CREATE TABLE (\w+)", statement))
            created.difference_update(re.findall(r"DROP TABLE (\w+)", statement))
    return frozenset(created)
