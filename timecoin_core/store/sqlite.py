"""SqliteStore: the :class:`~timecoin_core.store.Store` protocol on one SQLite file (aiosqlite).

Theory of operation
-------------------
*Opening* never writes before it knows what it opened. The first 100 bytes are read
as plain bytes: a file that is not SQLite, or a SQLite database without Timecoin's
``application_id``, is refused (:class:`NotAStoreError`) without SQLite ever opening
it. A Timecoin store is then opened read-only to check its schema version
(:class:`SchemaTooNewError` for a newer one) and its network; only then is it opened
for writing, locked against a second writer (``flock``), and migrated forward.

*Creating* builds the whole store (schema, network, genesis) in a temporary file and
renames it into place, so a crash while creating leaves either no store or a complete
one, and any other non-empty file at the path is never mistaken for a new store.

*Writing*: one connection in WAL mode, one writer. Every write is one SQLite
transaction (``BEGIN IMMEDIATE`` .. ``COMMIT``), so a crash at any moment leaves the
store as it was after some committed write: never half a block. Blocks, evidence and
peers are written with ``synchronous=NORMAL`` (durable at the next checkpoint or the
next durable write); votes, signed votes and final transactions with
``synchronous=FULL`` (durable when the call returns, and with them every earlier
write, since the WAL is synced in order).

*Reading* takes the same lock as writing (one connection, so a reader never sees the
inside of a write) and pages by key; streams read in bounded chunks.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import secrets
import sqlite3
import struct
import sys
import urllib.parse
from collections.abc import AsyncIterator, Generator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Self

import aiosqlite

from .._files import fsync_file, place_new, sync_directory
from ..block import DEFAULT_MAX_BLOCK_SIZE, HEADER_SIZE, SIGNATURE_SIZE, Block, genesis_block
from ..codec import encode_varint, varint_size
from ..commitment import UtxoAccumulator
from ..consensus.bft_messages import CommitCertificate
from ..consensus.finality_messages import FinalityCertificate
from ..consensus.locked_value import LockedValue
from ..consensus.registry import Registry, epoch_of
from ..consensus.voting import VotingSet
from ..errors import DecodeError, InvalidArgumentError, TimecoinError
from ..network import Network
from ..transaction import OutPoint, Transaction, TxOut
from ..utxo import Coin, CoinState
from ._codec import (
    KIND_BLOCK_VOTE,
    KIND_VOTE_BATCH,
    decode_evidence,
    decode_signed_vote,
    decode_voting_set,
    encode_evidence,
    encode_voting_set,
    signed_vote_key,
)
from ._network import network_from_json, network_to_json
from ._paging import (
    block_range,
    coins_after,
    coins_cursor,
    history_after,
    history_cursor,
    next_block_cursor,
    transactions_cursor,
    transactions_first,
)
from ._plan import (
    TX_ID_SHIFT,
    BlockPlan,
    TipState,
    check_hash,
    check_height,
    check_limit,
    check_payload,
    commitment_sums,
    decode_undo,
    finish_plan,
    genesis_plan,
    key_outpoint,
    outpoint_key,
    plan_block,
)
from ._validate import (
    check_evidence,
    check_final,
    check_locked,
    check_proofs,
    check_vote,
    committed_certificate,
)
from .errors import (
    ConflictingVoteError,
    CorruptStoreError,
    InconsistentBlockError,
    NetworkMismatchError,
    NotAStoreError,
    ReadOnlyStoreError,
    SchemaTooNewError,
    StoreClosedError,
    StoreError,
    StoreLockedError,
)
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
from .schema import APPLICATION_ID, MIGRATIONS, Migration

__all__ = ["SqliteStore", "StoreOpener"]

_SQLITE_MAGIC: Final = b"SQLite format 3\x00"
_OUTPOINT_KEY: Final = struct.Struct(">32sI")
_POSITION_MASK: Final = (1 << TX_ID_SHIFT) - 1
_IN_CHUNK: Final = 500
_STREAM_ROWS: Final = 256
_STREAM_BYTES: Final = 8_000_000
_COIN_CHUNK: Final = 4096
_PIPELINE_TRANSACTIONS: Final = 2048
_META_NETWORK: Final = "network"
_META_GENESIS: Final = "genesis_hash"
_META_ACCUMULATOR: Final = "utxo_accumulator"
_BLOCK_COLUMNS: Final = (
    "height, head, tail, tx_count, certificate, undo, fees, subsidy, supply, utxo_count, commitment"
)


# -- opening ----------------------------------------------------------------------------


def _probe(path: str) -> str:
    """``"missing"``, ``"empty"`` or ``"store"``; :class:`NotAStoreError` for anything else.

    Reads bytes only: SQLite never opens a file that is not ours.
    """
    try:
        with open(path, "rb") as f:
            header = f.read(100)
    except FileNotFoundError:
        return "missing"
    except IsADirectoryError:
        raise NotAStoreError(path, "it is a directory") from None
    except OSError as exc:
        raise NotAStoreError(path, f"it cannot be read ({exc.strerror})") from None
    if not header:
        return "empty"
    if len(header) < 100 or not header.startswith(_SQLITE_MAGIC):
        raise NotAStoreError(path, "it is not a SQLite database")
    application_id = int.from_bytes(header[68:72], "big")
    if application_id != APPLICATION_ID:
        raise NotAStoreError(path, f"it is a SQLite database of another application (application_id {application_id:#x})")
    return "store"


def _ro_uri(path: str) -> str:
    return "file:" + urllib.parse.quote(os.path.abspath(path)) + "?mode=ro"


@dataclass(frozen=True, slots=True)
class _Inspection:
    version: int
    network: Network
    genesis_hash: bytes


def _inspect(path: str, migrations: Sequence[Migration]) -> _Inspection:
    """Read a store's version and network over a read-only connection."""
    supported = migrations[-1].version
    try:
        conn = sqlite3.connect(_ro_uri(path), uri=True)
    except sqlite3.Error as exc:
        raise CorruptStoreError(f"{path}: cannot open: {exc}") from None
    try:
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        if version > supported:
            raise SchemaTooNewError(path, version, supported)
        rows = conn.execute("SELECT max(version) FROM schema_version").fetchone()
        if rows is None or rows[0] != version:
            raise CorruptStoreError(f"{path}: schema_version table disagrees with user_version {version}")
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        network = network_from_json(bytes(meta[_META_NETWORK]).decode())
        genesis = bytes(meta[_META_GENESIS])
    except sqlite3.DatabaseError as exc:
        raise CorruptStoreError(f"{path}: {exc}") from None
    except KeyError as exc:
        raise CorruptStoreError(f"{path}: metadata {exc} is missing") from None
    finally:
        conn.close()
    if genesis_block(network).hash != genesis:
        raise CorruptStoreError(f"{path}: the stored genesis hash does not match the stored network")
    return _Inspection(version, network, genesis)


if sys.platform == "win32":  # pragma: no cover - the lock is advisory and POSIX-only

    def _lock(path: str) -> int | None:
        return None

    def _unlock(fd: int | None) -> None:
        return None

else:
    import fcntl

    def _lock(path: str) -> int | None:
        # flock is independent of SQLite's POSIX locks, and the kernel drops it when
        # the process dies, even by SIGKILL: no stale lock files to clean up.
        fd = os.open(path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreLockedError(f"{path} is open for writing elsewhere (one writer per store)") from None
        return fd

    def _unlock(fd: int | None) -> None:
        if fd is not None:
            os.close(fd)


async def _run_migrations(conn: aiosqlite.Connection, current: int, migrations: Sequence[Migration]) -> int:
    for migration in migrations:
        if migration.version <= current:
            continue
        await conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in migration.statements:
                await conn.execute(statement)
            await conn.execute(
                "INSERT INTO schema_version (version, description) VALUES (?, ?)",
                (migration.version, migration.description),
            )
            await conn.execute(f"PRAGMA user_version = {int(migration.version)}")
        except BaseException:
            await conn.execute("ROLLBACK")
            raise
        await conn.execute("COMMIT")
        current = migration.version
    return current


def _remove_abandoned(path: str) -> None:
    """Delete temporary files of creations whose process died (a crash while creating)."""
    for name in glob.glob(glob.escape(path) + ".creating-*"):
        pid_text = name[len(path) + len(".creating-") :].split("-", 1)[0]
        if not pid_text.isdigit():
            continue
        pid = int(pid_text)
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
            continue  # still running: maybe creating right now
        except ProcessLookupError:
            pass
        except OSError:
            continue
        with contextlib.suppress(FileNotFoundError):
            os.remove(name)


async def _create(path: str, network: Network, migrations: Sequence[Migration]) -> None:
    """Build a complete store in a temporary file, then move it to ``path`` atomically."""
    directory = os.path.dirname(os.path.abspath(path))
    _remove_abandoned(path)
    temporary = f"{path}.creating-{os.getpid()}-{secrets.token_hex(4)}"
    conn = await aiosqlite.connect(temporary, isolation_level=None)
    try:
        await conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        await _run_migrations(conn, 0, migrations)
        genesis = genesis_block(network)
        plan = genesis_plan(genesis)
        voting_set = Registry(network, genesis.reward_txid).voting_set(0)
        await conn.execute("BEGIN IMMEDIATE")
        await conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)",
            [
                (_META_NETWORK, network_to_json(network).encode()),
                (_META_GENESIS, genesis.hash),
                (_META_ACCUMULATOR, plan.tip.accumulator.to_bytes()),
            ],
        )
        await conn.execute(
            "INSERT INTO voting_sets (epoch, raw) VALUES (?, ?)", (0, encode_voting_set(voting_set))
        )
        await _write_plans(conn, [plan], _BatchRows.of([plan], {}))
        await conn.execute("COMMIT")
        await conn.execute("PRAGMA journal_mode = WAL")
    finally:
        await conn.close()
    fsync_file(temporary)
    if os.path.exists(path) and os.path.getsize(path) == 0:
        os.replace(temporary, path)
    else:
        place_new(temporary, path)  # False: another process created it meanwhile; open theirs
    sync_directory(directory)


# -- writing blocks -----------------------------------------------------------------------


@dataclass(slots=True)
class _BatchRows:
    """The rows a batch of block plans writes, net of coins created and spent inside it.

    Everything but the ``blocks`` rows and the accumulator, which need the UTXO
    commitment (:func:`_head_rows`), so they can be written while it is computed.
    """

    txs: list[tuple[int, bytes, bytes, bytes | None]]
    utxo_deleted: list[tuple[bytes]]
    utxo_inserted: list[tuple[bytes, bytes, int, int]]
    history: list[tuple[bytes, int, int, bytes, int, int]]
    inputs: list[tuple[bytes]]
    finals: list[tuple[bytes]]
    offenders: list[tuple[bytes]]

    @classmethod
    def of(
        cls, plans: Sequence[BlockPlan], final_certs: dict[bytes, bytes], proofs: dict[bytes, bytes] | None = None
    ) -> _BatchRows:
        proofs = proofs or {}
        txs: list[tuple[int, bytes, bytes, bytes | None]] = []
        history: list[tuple[bytes, int, int, bytes, int, int]] = []
        inputs: list[tuple[bytes]] = []
        finals: list[tuple[bytes]] = []
        offenders: list[tuple[bytes]] = []
        created: dict[OutPoint, tuple[TxOut, int]] = {}
        deleted: list[tuple[bytes]] = []
        pack = _OUTPOINT_KEY.pack
        for plan in plans:
            block = plan.block
            height = block.height
            base = height << TX_ID_SHIFT
            for position, tx in enumerate(block.transactions):
                txid = tx.txid
                pending = final_certs.get(txid)
                if pending is not None:
                    finals.append((txid,))
                certificate = proofs.get(txid) or committed_certificate(block, position, pending)
                txs.append((base | position, txid, tx.to_bytes(), certificate))
            for op in plan.removed:
                if created.pop(op, None) is None:
                    deleted.append((pack(*op),))
            for op, out in plan.created.items():
                created[op] = (out, height)
            history += plan.history
            inputs += [(pack(*op),) for op in plan.inputs]
            offenders += [(o,) for o in plan.offenders]
        inserted = [(pack(*op), out.payload, out.amount, h) for op, (out, h) in created.items()]
        return cls(txs, deleted, inserted, history, inputs, finals, offenders)


def _head_rows(plans: Sequence[BlockPlan]) -> tuple[list[tuple[object, ...]], bytes]:
    """The ``blocks`` rows of finished plans and the accumulator after the last."""
    blocks: list[tuple[object, ...]] = []
    head_size = HEADER_SIZE + SIGNATURE_SIZE
    for plan in plans:
        stored = plan.stored
        block = stored.block
        encoded = block.to_bytes()
        tx_end = head_size + varint_size(len(block.transactions)) + sum(tx.size for tx in block.transactions)
        cert = stored.certificate
        blocks.append(
            (
                block.height,
                block.hash,
                encoded[:head_size],
                encoded[tx_end:],
                len(block.transactions),
                len(encoded),
                None if cert is None else cert.to_bytes(),
                plan.undo,
                stored.fees,
                stored.subsidy,
                stored.supply,
                stored.utxo_count,
                stored.utxo_commitment,
            )
        )
    return blocks, plans[-1].tip.accumulator.to_bytes()


async def _write_body(conn: aiosqlite.Connection, rows: _BatchRows) -> None:
    if rows.txs:
        await conn.executemany("INSERT INTO txs (id, txid, raw, certificate) VALUES (?, ?, ?, ?)", rows.txs)
    if rows.utxo_deleted:
        await conn.executemany("DELETE FROM utxo WHERE outpoint = ?", rows.utxo_deleted)
    if rows.utxo_inserted:
        await conn.executemany(
            "INSERT INTO utxo (outpoint, payload, amount, height) VALUES (?, ?, ?, ?)", rows.utxo_inserted
        )
    if rows.history:
        await conn.executemany(
            "INSERT INTO history (payload, height, position, txid, received, sent) VALUES (?, ?, ?, ?, ?, ?)",
            rows.history,
        )
    if rows.finals:
        await conn.executemany("DELETE FROM final_txs WHERE txid = ?", rows.finals)
    if rows.offenders:
        await conn.executemany("DELETE FROM evidence WHERE offender = ?", rows.offenders)


async def _write_head(conn: aiosqlite.Connection, plans: Sequence[BlockPlan]) -> None:
    blocks, accumulator = _head_rows(plans)
    await conn.executemany(
        "INSERT INTO blocks (height, hash, head, tail, tx_count, size, certificate, undo, fees, subsidy, "
        "supply, utxo_count, commitment) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        blocks,
    )
    await conn.execute("UPDATE meta SET value = ? WHERE key = ?", (accumulator, _META_ACCUMULATOR))


async def _write_plans(conn: aiosqlite.Connection, plans: Sequence[BlockPlan], rows: _BatchRows) -> None:
    await _write_body(conn, rows)
    await _write_head(conn, plans)


def _chunks(items: Sequence[Any], size: int = _IN_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _block_chunks(
    blocks: Sequence[tuple[Block, CommitCertificate | None]],
) -> Iterable[Sequence[tuple[Block, CommitCertificate | None]]]:
    start = 0
    count = 0
    for index, (block, _) in enumerate(blocks):
        count += len(block.transactions) + 1
        if count >= _PIPELINE_TRANSACTIONS:
            yield blocks[start : index + 1]
            start, count = index + 1, 0
    if start < len(blocks):
        yield blocks[start:]


def _placeholders(n: int) -> str:
    return ",".join("?" * n)


async def _exists(conn: aiosqlite.Connection, table: str) -> bool:
    rows = list(await conn.execute_fetchall(f"SELECT EXISTS (SELECT 1 FROM {table})"))
    return bool(rows[0][0])


# -- the store ----------------------------------------------------------------------------


class StoreOpener:
    """What :meth:`SqliteStore.open` returns: ``await`` it, or use it as ``async with``."""

    def __init__(self, opening: Any) -> None:
        self._opening = opening
        self._store: SqliteStore | None = None

    def __await__(self) -> Generator[Any, None, SqliteStore]:
        return self._opening.__await__()  # type: ignore[no-any-return]

    async def __aenter__(self) -> SqliteStore:
        self._store = await self._opening
        return self._store

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._store is not None:
            await self._store.close()


class SqliteStore:
    """A :class:`~timecoin_core.store.Store` in one SQLite file. Open with :meth:`open`."""

    def __init__(
        self,
        path: str,
        conn: aiosqlite.Connection,
        network: Network,
        version: int,
        genesis_hash: bytes,
        read_only: bool,
        lock_fd: int | None,
    ) -> None:
        """Use :meth:`open`; the constructor only assembles an already opened store."""
        self._path = path
        self._conn: aiosqlite.Connection | None = conn
        self._network = network
        self._version = version
        self._genesis_hash = genesis_hash
        self._read_only = read_only
        self._lock_fd = lock_fd
        self._lock = asyncio.Lock()
        self._in_snapshot = False
        self._tip = TipState(0, genesis_hash, 0, UtxoAccumulator())
        self._max_block = max(DEFAULT_MAX_BLOCK_SIZE, network.max_block_size)

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        network: Network | None = None,
        *,
        read_only: bool = False,
        cache_mib: int = 64,
        migrations: Sequence[Migration] = MIGRATIONS,
    ) -> StoreOpener:
        """Open the store at ``path``, creating it (with genesis of ``network``) if there is none.

        ``network`` is required to create a store; when given for an existing one it
        must match (:class:`NetworkMismatchError`). ``read_only`` opens without
        locking and refuses writes (the check tool). A missing path or a 0-byte file
        is a new store; any other file that is not a Timecoin store raises
        :class:`NotAStoreError`, a newer schema :class:`SchemaTooNewError`, both before
        anything is written. ``cache_mib`` bounds SQLite's page cache (memory a
        long-running node spends on hot pages). ``migrations`` is for tests of the
        migration machinery.
        """
        if type(cache_mib) is not int or not 1 <= cache_mib <= 1 << 20:
            raise InvalidArgumentError("cache_mib", "cache_mib must be an int in 1..1048576")
        return StoreOpener(cls._open(os.fspath(path), network, read_only, cache_mib, tuple(migrations)))

    @classmethod
    async def _open(
        cls, path: str, network: Network | None, read_only: bool, cache_mib: int, migrations: tuple[Migration, ...]
    ) -> SqliteStore:
        state = await asyncio.to_thread(_probe, path)
        if state != "store":
            if read_only:
                raise NotAStoreError(path, "there is no store at this path" if state == "missing" else "the file is empty")
            if network is None:
                raise StoreError(f"there is no store at {path}: creating one needs its network")
            await _create(path, network, migrations)
        info = await asyncio.to_thread(_inspect, path, migrations)
        if network is not None and (network != info.network or genesis_block(network).hash != info.genesis_hash):
            raise NetworkMismatchError(
                f"{path} belongs to network {info.network.name!r} with genesis {info.genesis_hash.hex()}, "
                f"not to {network.name!r} with genesis {genesis_block(network).hash.hex()}"
            )
        lock_fd = None
        if read_only:
            conn = await aiosqlite.connect(_ro_uri(path), uri=True, isolation_level=None)
        else:
            lock_fd = _lock(path)
            try:
                conn = await aiosqlite.connect(path, isolation_level=None)
            except BaseException:
                _unlock(lock_fd)
                raise
        store = cls(path, conn, info.network, info.version, info.genesis_hash, read_only, lock_fd)
        try:
            await store._start(migrations, cache_mib)
        except BaseException:
            await store.close()
            raise
        return store

    async def _start(self, migrations: Sequence[Migration], cache_mib: int) -> None:
        conn = self._connection()
        try:
            await conn.execute("PRAGMA busy_timeout = 5000")
            await conn.execute(f"PRAGMA cache_size = -{cache_mib * 1024}")
            await conn.execute("PRAGMA temp_store = MEMORY")
            if not self._read_only:
                await conn.execute("PRAGMA journal_mode = WAL")
                await conn.execute("PRAGMA synchronous = NORMAL")
                self._version = await _run_migrations(conn, self._version, migrations)
            await self._load_tip()
        except sqlite3.DatabaseError as exc:
            raise CorruptStoreError(f"{self._path}: {exc}") from None

    async def _load_tip(self, count_coins: bool = True) -> None:
        conn = self._connection()
        rows = list(
            await conn.execute_fetchall(
                "SELECT height, hash, supply, utxo_count, commitment FROM blocks ORDER BY height DESC LIMIT 1"
            )
        )
        meta = list(await conn.execute_fetchall("SELECT value FROM meta WHERE key = ?", (_META_ACCUMULATOR,)))
        if not rows or not meta:
            raise CorruptStoreError(f"{self._path} holds no blocks or no UTXO accumulator")
        height, block_hash, supply, count, commitment = rows[0]
        try:
            accumulator = UtxoAccumulator.from_bytes(bytes(meta[0][0]))
        except DecodeError as exc:
            raise CorruptStoreError(f"{self._path}: {exc}") from None
        if accumulator.count != count or accumulator.commitment() != bytes(commitment):
            raise CorruptStoreError(f"{self._path}: the UTXO accumulator does not match the tip at {height}")
        if count_coins:
            ((coins,),) = await conn.execute_fetchall("SELECT count(*) FROM utxo")
            if coins != count:
                raise CorruptStoreError(f"{self._path}: {coins} coins stored, the tip at {height} says {count}")
        self._tip = TipState(height, bytes(block_hash), supply, accumulator)

    async def _current_tip(self) -> TipState:
        """The tip: cached by the writer; re-read by a read-only store (another process writes)."""
        if not self._read_only or self._in_snapshot:
            return self._tip
        async with self._reading() as conn:
            await conn.execute("BEGIN")
            try:
                await self._load_tip(count_coins=False)
            finally:
                await conn.execute("COMMIT")
        return self._tip

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[None]:
        """Read-only stores: every read inside the block sees the store as it was on entry.

        One SQLite read transaction (WAL keeps the snapshot while a writer goes on), so
        a long series of reads, such as the check tool's, is consistent even next to a
        live node. The writer's own reads need no snapshot.
        """
        if not self._read_only:
            raise StoreError("snapshot() is for read-only stores")
        if self._in_snapshot:
            raise StoreError("snapshots do not nest")
        async with self._reading() as conn:
            await conn.execute("BEGIN")
            try:
                await self._load_tip(count_coins=False)
            except BaseException:
                await conn.execute("COMMIT")
                raise
        self._in_snapshot = True
        try:
            yield
        finally:
            self._in_snapshot = False
            if self._conn is not None:
                async with self._reading() as conn:
                    await conn.execute("COMMIT")

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def path(self) -> str:
        """The store's file."""
        return self._path

    @property
    def network(self) -> Network:
        """The network the store belongs to."""
        return self._network

    @property
    def read_only(self) -> bool:
        """True when opened read-only."""
        return self._read_only

    @property
    def schema_version(self) -> int:
        """The schema version of the open store."""
        return self._version

    async def close(self) -> None:
        """Close the connection and release the writer lock. Idempotent."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                async with self._lock:
                    await conn.close()
            finally:
                _unlock(self._lock_fd)
                self._lock_fd = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def _connection(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise StoreClosedError("the store is closed")
        return self._conn

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            conn = self._connection()
            try:
                yield conn
            except sqlite3.DatabaseError as exc:
                raise _translate(self._path, exc) from None

    @asynccontextmanager
    async def _writing(self, durable: bool = False) -> AsyncIterator[aiosqlite.Connection]:
        if self._read_only:
            raise ReadOnlyStoreError(f"{self._path} is open read-only")
        async with self._lock:
            conn = self._connection()
            try:
                if durable:
                    await conn.execute("PRAGMA synchronous = FULL")
                await conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    await conn.execute("ROLLBACK")
                    raise
                await conn.execute("COMMIT")
            except sqlite3.IntegrityError as exc:
                raise InconsistentBlockError(f"write refused by a store constraint: {exc}") from None
            except sqlite3.DatabaseError as exc:
                raise _translate(self._path, exc) from None
            finally:
                if durable and self._conn is not None:
                    await conn.execute("PRAGMA synchronous = NORMAL")

    async def metadata(self) -> StoreMetadata:
        """Schema version, network, genesis and tip."""
        self._connection()
        tip = await self._current_tip()
        return StoreMetadata(
            self._version,
            self._network,
            self._genesis_hash,
            tip.height,
            tip.hash,
            tip.accumulator.commitment(),
            tip.accumulator.count,
            tip.supply,
        )

    # -- writing blocks ---------------------------------------------------------------------

    async def commit_block(
        self,
        block: Block,
        certificate: CommitCertificate | None = None,
        *,
        voting_set: VotingSet | None = None,
        proofs: Sequence[FinalityCertificate] | None = None,
    ) -> StoredBlock:
        """Apply ``block`` and everything it changes in one transaction (see :class:`~timecoin_core.store.Store`)."""
        if voting_set is not None and not isinstance(voting_set, VotingSet):
            raise InvalidArgumentError("voting_set", "voting_set must be a VotingSet")
        proven = check_proofs(block, proofs)
        plans = await self._commit([(block, certificate)], voting_set, proven)
        return plans[0].stored

    async def commit_blocks(self, blocks: Sequence[tuple[Block, CommitCertificate | None]]) -> int:
        """Commit consecutive blocks in one transaction, all or nothing; return the new height."""
        self._connection()
        if blocks:
            await self._commit(blocks, None)
        return self._tip.height

    async def _commit(
        self,
        blocks: Sequence[tuple[Block, CommitCertificate | None]],
        voting_set: VotingSet | None,
        proofs: dict[bytes, bytes] | None = None,
    ) -> list[BlockPlan]:
        for block, _ in blocks:
            if not isinstance(block, Block):
                raise InvalidArgumentError("blocks", "commit takes Block values")
        # Shielded: a caller cancelled while COMMIT runs must not leave the cached tip
        # behind the file. The write finishes (or rolls back) either way.
        return await asyncio.shield(self._commit_now(blocks, voting_set, proofs or {}))

    async def _commit_now(
        self,
        blocks: Sequence[tuple[Block, CommitCertificate | None]],
        voting_set: VotingSet | None,
        proofs: dict[bytes, bytes],
    ) -> list[BlockPlan]:
        async with self._writing() as conn:
            inputs = list({txin.outpoint for block, _ in blocks for tx in block.transactions for txin in tx.inputs})
            stored: dict[OutPoint, tuple[TxOut, int]] = {}
            for chunk in _chunks([outpoint_key(op) for op in inputs]):
                for key, payload, amount, height in await conn.execute_fetchall(
                    f"SELECT outpoint, payload, amount, height FROM utxo WHERE outpoint IN ({_placeholders(len(chunk))})",
                    chunk,
                ):
                    outpoint, output = _row_output(self._path, key, payload, amount)
                    stored[outpoint] = (output, height)
            final_certs: dict[bytes, bytes] = {}
            if await _exists(conn, "final_txs"):
                txids = [tx.txid for block, _ in blocks for tx in block.transactions]
                for chunk in _chunks(txids):
                    for txid, cert in await conn.execute_fetchall(
                        f"SELECT txid, certificate FROM final_txs WHERE txid IN ({_placeholders(len(chunk))})", chunk
                    ):
                        final_certs[bytes(txid)] = bytes(cert)
            plans, inputs_spent = await self._plan_and_write(conn, blocks, stored, final_certs, proofs)
            if inputs_spent and await _exists(conn, "votes"):
                await conn.executemany("DELETE FROM votes WHERE outpoint = ?", inputs_spent)
            height = plans[-1].tip.height
            await conn.execute(
                "DELETE FROM signed_votes WHERE (kind = ? AND height <= ?) OR (kind = ? AND height < ?)",
                (KIND_BLOCK_VOTE, height, KIND_VOTE_BATCH, epoch_of(height + 1, self._network.epoch_length)),
            )
            if self._version >= 2:  # schema 1 (only in tests of old migrations) has no locked values
                await conn.execute("DELETE FROM locked_values WHERE height <= ?", (height,))
            if voting_set is not None:
                await conn.execute(
                    "INSERT OR REPLACE INTO voting_sets (epoch, raw) VALUES (?, ?)",
                    (voting_set.epoch, encode_voting_set(voting_set)),
                )
        self._tip = plans[-1].tip
        return plans

    async def _plan_and_write(
        self,
        conn: aiosqlite.Connection,
        blocks: Sequence[tuple[Block, CommitCertificate | None]],
        stored: dict[OutPoint, tuple[TxOut, int]],
        final_certs: dict[bytes, bytes],
        proofs: dict[bytes, bytes],
    ) -> tuple[list[BlockPlan], list[tuple[bytes]]]:
        """Plan the blocks and write their rows, chunk by chunk.

        A long batch is pipelined: the next chunk is planned on a worker thread (pure
        Python) while SQLite writes the previous one on the connection's thread (C,
        without the GIL). Planning never waits for writes: it reads only the coins
        looked up before the batch and what earlier chunks created.
        """
        reward = self._network.block_reward
        if len(blocks) == 1:
            # The commitment (a hash per coin) is computed on a worker thread while
            # SQLite writes everything that does not depend on it.
            block, certificate = blocks[0]
            plan = plan_block(block, certificate, self._tip, reward, stored, finish=False)
            rows = _BatchRows.of([plan], final_certs, proofs)
            body = asyncio.ensure_future(_write_body(conn, rows))
            try:
                sums = await asyncio.to_thread(commitment_sums, plan)
            finally:
                await asyncio.gather(body, return_exceptions=True)
            body.result()
            finish_plan(plan, sums)
            await _write_head(conn, [plan])
            return [plan], rows.inputs
        view = dict(stored)
        tip = self._tip

        def plan_chunk(chunk: Sequence[tuple[Block, CommitCertificate | None]]) -> tuple[list[BlockPlan], _BatchRows]:
            nonlocal tip
            planned = []
            for block, certificate in chunk:
                plan = plan_block(block, certificate, tip, reward, view)
                for op in plan.removed:
                    del view[op]
                for op, out in plan.created.items():
                    view[op] = (out, block.height)
                planned.append(plan)
                tip = plan.tip
            return planned, _BatchRows.of(planned, final_certs)

        plans: list[BlockPlan] = []
        inputs: list[tuple[bytes]] = []
        writer: asyncio.Task[None] | None = None
        try:
            for chunk in _block_chunks(blocks):
                planned, rows = await asyncio.to_thread(plan_chunk, chunk)
                if writer is not None:
                    await writer
                writer = asyncio.ensure_future(_write_plans(conn, planned, rows))
                plans += planned
                inputs += rows.inputs
            assert writer is not None
            await writer
        except BaseException:
            if writer is not None and not writer.done():
                # Let the statements already queued finish before the caller rolls back.
                await asyncio.gather(writer, return_exceptions=True)
            raise
        return plans, inputs

    # -- reading the chain --------------------------------------------------------------------

    def _stored_block(self, row: Sequence[Any], raws: Sequence[bytes]) -> StoredBlock:
        height, head, tail, tx_count, certificate, undo, fees, subsidy, supply, utxo_count, commitment = row
        if len(raws) != tx_count:
            raise CorruptStoreError(f"block {height} has {tx_count} transactions, {len(raws)} are stored")
        try:
            block = Block.from_bytes(
                b"".join([bytes(head), encode_varint(tx_count), *raws, bytes(tail)]), max_size=self._max_block
            )
            return StoredBlock(
                block,
                None if certificate is None else CommitCertificate.from_bytes(bytes(certificate)),
                fees,
                subsidy,
                supply,
                decode_undo(bytes(undo), block),
                utxo_count,
                bytes(commitment),
            )
        except (DecodeError, ValueError) as exc:
            raise CorruptStoreError(f"block {height} does not decode: {exc}") from None

    async def _blocks_between(self, conn: aiosqlite.Connection, first: int, last: int) -> list[StoredBlock]:
        rows = list(
            await conn.execute_fetchall(
                f"SELECT {_BLOCK_COLUMNS} FROM blocks WHERE height BETWEEN ? AND ? ORDER BY height", (first, last)
            )
        )
        txs = await conn.execute_fetchall(
            "SELECT id, raw FROM txs WHERE id BETWEEN ? AND ? ORDER BY id",
            (first << TX_ID_SHIFT, (last << TX_ID_SHIFT) | _POSITION_MASK),
        )
        by_height: dict[int, list[bytes]] = {}
        for tx_key, raw in txs:
            by_height.setdefault(tx_key >> TX_ID_SHIFT, []).append(bytes(raw))
        return [self._stored_block(row, by_height.get(row[0], [])) for row in rows]

    async def block(self, height: int) -> StoredBlock | None:
        """The committed block at ``height``, or ``None``."""
        check_height(height)
        async with self._reading() as conn:
            found = await self._blocks_between(conn, height, height)
        return found[0] if found else None

    async def block_by_hash(self, block_hash: bytes) -> StoredBlock | None:
        """The committed block with ``block_hash``, or ``None``."""
        check_hash(block_hash, "block_hash")
        async with self._reading() as conn:
            rows = list(await conn.execute_fetchall("SELECT height FROM blocks WHERE hash = ?", (block_hash,)))
            if not rows:
                return None
            found = await self._blocks_between(conn, rows[0][0], rows[0][0])
        return found[0] if found else None

    async def blocks(
        self, start: int = 0, stop: int | None = None, *, limit: int = 100, cursor: str | None = None
    ) -> Page[StoredBlock]:
        """One page of the blocks with ``start <= height < stop``, ascending."""
        first, end, scope = block_range(start, stop, limit, cursor)
        end = min(end, (await self._current_tip()).height + 1)
        if first >= end:
            return Page((), None)
        async with self._reading() as conn:
            items = tuple(await self._blocks_between(conn, first, min(end, first + limit) - 1))
        return Page(items, next_block_cursor(items, end, scope))

    async def iter_blocks(self, start: int = 0, stop: int | None = None) -> AsyncIterator[StoredBlock]:
        """Stream the blocks with ``start <= height < stop`` in chunks of bounded size, ascending."""
        check_height(start, "start")
        height = start
        while True:
            tip = (await self._current_tip()).height + 1
            end = tip if stop is None else min(stop, tip)
            if height >= end:
                return
            async with self._reading() as conn:
                sizes = await conn.execute_fetchall(
                    "SELECT height, size FROM blocks WHERE height >= ? AND height < ? ORDER BY height LIMIT ?",
                    (height, end, _STREAM_ROWS),
                )
                last = height
                total = 0
                for h, size in sizes:
                    if total and total + size > _STREAM_BYTES:
                        break
                    last, total = h, total + size
                chunk = await self._blocks_between(conn, height, last)
            if not chunk:
                return
            for stored in chunk:
                yield stored
            height = chunk[-1].height + 1
            del chunk

    async def transaction(self, txid: bytes) -> StoredTransaction | None:
        """The confirmed transaction ``txid`` and where it is, or ``None``."""
        check_hash(txid, "txid")
        async with self._reading() as conn:
            rows = list(await conn.execute_fetchall("SELECT id, raw, certificate FROM txs WHERE txid = ?", (txid,)))
        if not rows:
            return None
        key, raw, certificate = rows[0]
        try:
            return StoredTransaction(
                Transaction.from_bytes(bytes(raw)),
                key >> TX_ID_SHIFT,
                key & _POSITION_MASK,
                None if certificate is None else FinalityCertificate.from_bytes(bytes(certificate)),
            )
        except DecodeError as exc:
            raise CorruptStoreError(f"transaction {txid.hex()} does not decode: {exc}") from None

    async def block_transactions(
        self, height: int, *, limit: int = 100, cursor: str | None = None
    ) -> Page[Transaction]:
        """One page of the transactions of the block at ``height``, in block order."""
        first, scope = transactions_first(height, limit, cursor)
        base = height << TX_ID_SHIFT
        async with self._reading() as conn:
            rows = list(
                await conn.execute_fetchall(
                    "SELECT id, raw FROM txs WHERE id BETWEEN ? AND ? ORDER BY id LIMIT ?",
                    (base + first, base | _POSITION_MASK, limit + 1),
                )
            )
        try:
            items = tuple(Transaction.from_bytes(bytes(raw)) for _, raw in rows[:limit])
        except DecodeError as exc:
            raise CorruptStoreError(f"a transaction of block {height} does not decode: {exc}") from None
        more = len(rows) > limit
        return Page(items, transactions_cursor(scope, rows[limit - 1][0] & _POSITION_MASK) if more else None)

    async def coin(self, outpoint: OutPoint) -> Coin | None:
        """The confirmed unspent coin at ``outpoint``, or ``None``."""
        if not isinstance(outpoint, OutPoint):
            raise InvalidArgumentError("outpoint", "coin takes an OutPoint")
        async with self._reading() as conn:
            rows = list(
                await conn.execute_fetchall(
                    "SELECT payload, amount, height FROM utxo WHERE outpoint = ?", (outpoint_key(outpoint),)
                )
            )
        if not rows:
            return None
        payload, amount, height = rows[0]
        _, output = _row_output(self._path, outpoint_key(outpoint), payload, amount)
        return Coin(outpoint, output, height, CoinState.UNSPENT, None)

    async def coins_of(self, payload: bytes, *, limit: int = 100, cursor: str | None = None) -> Page[Coin]:
        """One page of the confirmed unspent coins paying to ``payload``, in outpoint order."""
        check_payload(payload)
        check_limit(limit)
        after = coins_after(payload, cursor)
        async with self._reading() as conn:
            rows = list(
                await conn.execute_fetchall(
                    "SELECT outpoint, amount, height FROM utxo WHERE payload = ? AND outpoint > ? "
                    "ORDER BY outpoint LIMIT ?",
                    (payload, after if after is not None else b"", limit + 1),
                )
            )
        unspent = CoinState.UNSPENT
        coins = tuple(
            Coin(*_row_output(self._path, key, payload, amount), height, unspent, None)
            for key, amount, height in rows[:limit]
        )
        return Page(coins, coins_cursor(payload, bytes(rows[limit - 1][0])) if len(rows) > limit else None)

    async def iter_coins(self) -> AsyncIterator[Coin]:
        """Stream the whole confirmed UTXO set in outpoint order, in chunks."""
        after = b""
        unspent = CoinState.UNSPENT
        while True:
            async with self._reading() as conn:
                rows = list(
                    await conn.execute_fetchall(
                        "SELECT outpoint, payload, amount, height FROM utxo WHERE outpoint > ? ORDER BY outpoint LIMIT ?",
                        (after, _COIN_CHUNK),
                    )
                )
            for key, payload, amount, height in rows:
                yield Coin(*_row_output(self._path, key, payload, amount), height, unspent, None)
            if len(rows) < _COIN_CHUNK:
                return
            after = bytes(rows[-1][0])

    async def history_of(
        self, payload: bytes, *, limit: int = 100, cursor: str | None = None
    ) -> Page[HistoryEntry]:
        """One page of what confirmed transactions did to ``payload``, oldest first."""
        check_payload(payload)
        check_limit(limit)
        after = history_after(payload, cursor)
        height, position = after if after is not None else (-1, -1)
        async with self._reading() as conn:
            rows = list(
                await conn.execute_fetchall(
                    "SELECT height, position, txid, received, sent FROM history "
                    "WHERE payload = ? AND (height, position) > (?, ?) ORDER BY height, position LIMIT ?",
                    (payload, height, position, limit + 1),
                )
            )
        items = tuple(HistoryEntry(bytes(txid), h, p, r, s) for h, p, txid, r, s in rows[:limit])
        if len(rows) > limit:
            return Page(items, history_cursor(payload, items[-1].height, items[-1].position))
        return Page(items, None)

    async def voting_set(self, epoch: int) -> VotingSet | None:
        """The stored voting set of ``epoch``, or ``None``."""
        async with self._reading() as conn:
            rows = list(await conn.execute_fetchall("SELECT raw FROM voting_sets WHERE epoch = ?", (epoch,)))
        if not rows:
            return None
        try:
            return decode_voting_set(bytes(rows[0][0]))
        except (DecodeError, ValueError) as exc:
            raise CorruptStoreError(f"voting set of epoch {epoch} does not decode: {exc}") from None

    # -- consensus records --------------------------------------------------------------------

    async def record_vote(self, txid: bytes, outpoints: Sequence[OutPoint]) -> None:
        """Durably record that this node votes for ``txid`` on ``outpoints`` (idempotent)."""
        ops = check_vote(txid, outpoints)
        keys = [outpoint_key(op) for op in ops]
        async with self._writing(durable=True) as conn:
            for chunk in _chunks(keys):
                for key, held in await conn.execute_fetchall(
                    f"SELECT outpoint, txid FROM votes WHERE outpoint IN ({_placeholders(len(chunk))})", chunk
                ):
                    if bytes(held) != txid:
                        raise ConflictingVoteError(
                            f"outpoint {key_outpoint(bytes(key))} is already voted for {bytes(held).hex()}, not {txid.hex()}"
                        )
            await conn.executemany("INSERT OR IGNORE INTO votes (outpoint, txid) VALUES (?, ?)", [(k, txid) for k in keys])

    async def voted_outpoints(self) -> dict[OutPoint, bytes]:
        """Every recorded outpoint -> txid vote not yet settled by a block."""
        async with self._reading() as conn:
            rows = await conn.execute_fetchall("SELECT outpoint, txid FROM votes ORDER BY outpoint")
        return {key_outpoint(bytes(key)): bytes(txid) for key, txid in rows}

    async def record_signed_vote(self, vote: SignedVote, *, locked: LockedValue | None = None) -> None:
        """Durably record a vote this masternode signed, and in the same transaction the value
        it locks on if given (idempotent; a different block vote for the slot conflicts and
        records nothing)."""
        key, kind, height = signed_vote_key(vote)
        locked = check_locked(vote, locked)
        raw = vote.to_bytes()
        async with self._writing(durable=True) as conn:
            rows = list(await conn.execute_fetchall("SELECT raw FROM signed_votes WHERE key = ?", (key,)))
            if rows and bytes(rows[0][0]) != raw:
                raise ConflictingVoteError("a different block vote of this kind, height and round is recorded")
            if not rows:
                await conn.execute(
                    "INSERT INTO signed_votes (key, kind, height, raw) VALUES (?, ?, ?, ?)", (key, kind, height, raw)
                )
            if locked is not None:
                # One row per height: a later lock of the height replaces an earlier one.
                await conn.execute(
                    "INSERT INTO locked_values (height, round, raw) VALUES (?, ?, ?) ON CONFLICT (height) DO UPDATE"
                    " SET round = excluded.round, raw = excluded.raw WHERE excluded.round >= locked_values.round",
                    (locked.height, locked.round, locked.to_bytes()),
                )

    async def signed_votes(self) -> list[SignedVote]:
        """Recorded signed votes still relevant, in record order."""
        async with self._reading() as conn:
            rows = await conn.execute_fetchall("SELECT kind, raw FROM signed_votes ORDER BY seq")
        try:
            return [decode_signed_vote(kind, bytes(raw)) for kind, raw in rows]
        except (DecodeError, ValueError) as exc:
            raise CorruptStoreError(f"a signed vote does not decode: {exc}") from None

    async def locked_values(self) -> list[LockedValue]:
        """Recorded locked values of heights not yet committed, by height."""
        async with self._reading() as conn:
            if self._version < 2:
                return []  # a store of schema 1 opened read-only: it has no such table yet
            rows = await conn.execute_fetchall("SELECT height, round, raw FROM locked_values ORDER BY height")
        values = []
        for height, round, raw in rows:
            try:
                locked = LockedValue.from_bytes(bytes(raw))
            except (DecodeError, ValueError) as exc:
                raise CorruptStoreError(f"the locked value of height {height} does not decode: {exc}") from None
            if (locked.height, locked.round) != (height, round):
                raise CorruptStoreError(f"the locked value stored at height {height} is of height {locked.height}")
            values.append(locked)
        return values

    async def record_final(self, tx: Transaction, certificate: FinalityCertificate) -> bool:
        """Durably record a final transaction and its certificate; False if already known."""
        check_final(tx, certificate)
        txid = tx.txid
        async with self._writing(durable=True) as conn:
            if list(await conn.execute_fetchall("SELECT 1 FROM txs WHERE txid = ?", (txid,))):
                return False
            cursor = await conn.execute(
                "INSERT OR IGNORE INTO final_txs (txid, raw, certificate) VALUES (?, ?, ?)",
                (txid, tx.to_bytes(), certificate.to_bytes()),
            )
            return cursor.rowcount == 1

    async def final_transactions(self) -> list[tuple[Transaction, FinalityCertificate]]:
        """Final transactions not yet in a block, in record order."""
        async with self._reading() as conn:
            rows = await conn.execute_fetchall("SELECT raw, certificate FROM final_txs ORDER BY seq")
        try:
            return [
                (Transaction.from_bytes(bytes(raw)), FinalityCertificate.from_bytes(bytes(cert))) for raw, cert in rows
            ]
        except DecodeError as exc:
            raise CorruptStoreError(f"a final transaction does not decode: {exc}") from None

    async def record_evidence(self, evidence: Evidence) -> bool:
        """Keep ``evidence`` unless evidence against its offender is held already."""
        check_evidence(evidence)
        async with self._writing() as conn:
            cursor = await conn.execute(
                "INSERT OR IGNORE INTO evidence (offender, raw) VALUES (?, ?)",
                (evidence.offender, encode_evidence(evidence)),
            )
            return cursor.rowcount == 1

    async def evidence(self) -> list[Evidence]:
        """Pending evidence, in record order."""
        async with self._reading() as conn:
            rows = await conn.execute_fetchall("SELECT raw FROM evidence ORDER BY seq")
        try:
            return [decode_evidence(bytes(raw)) for (raw,) in rows]
        except (DecodeError, ValueError) as exc:
            raise CorruptStoreError(f"evidence does not decode: {exc}") from None

    # -- the network layer ------------------------------------------------------------------

    async def put_peer(self, peer: PeerRecord) -> None:
        """Insert or replace the peer with ``peer.address``."""
        if not isinstance(peer, PeerRecord):
            raise InvalidArgumentError("peer", "put_peer takes a PeerRecord")
        async with self._writing() as conn:
            await conn.execute(
                "INSERT OR REPLACE INTO peers (address, last_seen, services, failures) VALUES (?, ?, ?, ?)",
                (peer.address, peer.last_seen, peer.services, peer.failures),
            )

    async def peers(self, limit: int = 1000) -> list[PeerRecord]:
        """Known peers, most recently seen first."""
        check_limit(limit)
        async with self._reading() as conn:
            rows = await conn.execute_fetchall(
                "SELECT address, last_seen, services, failures FROM peers ORDER BY last_seen DESC, address LIMIT ?",
                (limit,),
            )
        return [PeerRecord(*row) for row in rows]

    async def remove_peer(self, address: str) -> None:
        """Forget a peer."""
        async with self._writing() as conn:
            await conn.execute("DELETE FROM peers WHERE address = ?", (address,))

    async def put_ban(self, ban: BanRecord) -> None:
        """Insert or replace the ban of ``ban.host``."""
        if not isinstance(ban, BanRecord):
            raise InvalidArgumentError("ban", "put_ban takes a BanRecord")
        async with self._writing() as conn:
            await conn.execute(
                "INSERT OR REPLACE INTO bans (host, until, reason) VALUES (?, ?, ?)", (ban.host, ban.until, ban.reason)
            )

    async def bans(self, now: int) -> list[BanRecord]:
        """Bans still in force at ``now``, by host."""
        async with self._reading() as conn:
            rows = await conn.execute_fetchall(
                "SELECT host, until, reason FROM bans WHERE until > ? ORDER BY host", (now,)
            )
        return [BanRecord(*row) for row in rows]

    async def remove_ban(self, host: str) -> None:
        """Lift a ban."""
        async with self._writing() as conn:
            await conn.execute("DELETE FROM bans WHERE host = ?", (host,))


def _translate(path: str, exc: sqlite3.DatabaseError) -> StoreError:
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        return StoreLockedError(f"{path}: {exc}")
    if isinstance(exc, sqlite3.OperationalError):
        return StoreError(f"{path}: {exc}")
    return CorruptStoreError(f"{path}: {exc}")


def _row_output(path: object, key: object, payload: object, amount: object) -> tuple[OutPoint, TxOut]:
    # Every value read back from a row is checked as strictly as a decoded one: a
    # damaged row surfaces as the store's corruption error naming the file and the row,
    # never as an AmountError from deep inside the domain.
    try:
        return key_outpoint(bytes(key)), TxOut(amount, bytes(payload))  # type: ignore[arg-type, call-overload]
    except (TimecoinError, ValueError, TypeError) as exc:
        row = bytes(key).hex() if isinstance(key, bytes | bytearray | memoryview) else repr(key)
        raise CorruptStoreError(f"{path}: utxo row {row} is damaged: {exc}") from None
