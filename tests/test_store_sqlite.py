"""What only a file-backed store must do: persist, refuse foreign files untouched, migrate, lock, check."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from timecoin_core.block import Block
from timecoin_core.consensus.bft_messages import BlockVote, VoteKind
from timecoin_core.consensus.locked_value import LockedValue
from timecoin_core.network import DEVNET, TESTNET
from timecoin_core.store import (
    SCHEMA_VERSION,
    BanRecord,
    CorruptStoreError,
    MemoryStore,
    NetworkMismatchError,
    NotAStoreError,
    PeerRecord,
    ReadOnlyStoreError,
    SchemaTooNewError,
    SqliteStore,
    StoreError,
    StoreLockedError,
    load_chain,
    load_node_state,
)
from timecoin_core.store import sqlite as sqlite_module
from timecoin_core.store.check import check_store
from timecoin_core.store.schema import MIGRATIONS, TABLES, Migration, tables_at
from timecoin_core.testing.store_stress import StressRun, stress_chain
from timecoin_core.transaction import OutPoint, Transaction, TxIn, TxOut

pytestmark = pytest.mark.anyio

BLOCKS = 12


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def run() -> StressRun:
    return stress_chain(BLOCKS, 3, pending=2)


def _digest(path: Path) -> dict[str, str]:
    """Hashes of the file and of its journal or write-ahead log, if they hold anything.

    A read-only SQLite connection to a WAL database may create an empty ``-wal`` and
    the ``-shm`` index (a cache, not data); neither changes what the store holds.
    """
    found = {}
    for suffix in ("", "-wal", "-journal"):
        side = Path(str(path) + suffix)
        if side.exists() and (suffix == "" or side.stat().st_size):
            found[suffix] = hashlib.sha256(side.read_bytes()).hexdigest()
    return found


async def _fill(path: Path, run: StressRun, upto: int = BLOCKS) -> None:
    async with SqliteStore.open(path, run.chain.network) as store:
        chain = run.chain.node.chain
        for height in range(1, upto + 1):
            block = chain.block_at(height)
            assert block is not None
            voting_set = None
            if height % run.chain.network.epoch_length == 0:
                voting_set = run.chain.node.registry.voting_set(height // run.chain.network.epoch_length)
            await store.commit_block(block, run.commits[height], voting_set=voting_set)


async def test_everything_survives_reopening(tmp_path: Path, run: StressRun) -> None:
    path = tmp_path / "node.db"
    await _fill(path, run)
    tx = run.chain.transaction(run.pending[0])
    assert tx is not None
    key = run.chain.masternode_keys[0]
    vote = BlockVote.create(key, run.chain.network.chain_id, VoteKind.PRECOMMIT, BLOCKS + 1, 0, b"\x07" * 32)
    async with SqliteStore.open(path, run.chain.network) as store:
        await store.record_final(tx, run.certificates[tx.txid])
        await store.record_vote(tx.txid, [i.outpoint for i in tx.inputs])
        await store.record_signed_vote(vote)
        await store.put_peer(PeerRecord("1.2.3.4:5", 9))
        await store.put_ban(BanRecord("6.6.6.6", 99, "spam"))
        before = await store.metadata()
    async with SqliteStore.open(path) as store:  # the network comes from the store
        assert await store.metadata() == before
        assert store.schema_version == SCHEMA_VERSION
        assert await store.final_transactions() == [(tx, run.certificates[tx.txid])]
        assert await store.voted_outpoints() == dict.fromkeys((i.outpoint for i in tx.inputs), tx.txid)
        assert await store.signed_votes() == [vote]
        assert await store.peers() == [PeerRecord("1.2.3.4:5", 9)]
        assert await store.bans(0) == [BanRecord("6.6.6.6", 99, "spam")]
        loaded = await load_chain(store)
        assert loaded.utxos.commitment() == run.commitments[BLOCKS]


async def test_open_is_awaitable_and_a_context_manager(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "a.db", DEVNET)
    assert (await store.metadata()).height == 0
    await store.close()
    async with SqliteStore.open(tmp_path / "a.db") as reopened:
        assert reopened.network == DEVNET


async def test_creating_needs_a_network(tmp_path: Path) -> None:
    with pytest.raises(StoreError):
        await SqliteStore.open(tmp_path / "new.db")
    assert not (tmp_path / "new.db").exists()
    with pytest.raises(NotAStoreError):
        await SqliteStore.open(tmp_path / "new.db", DEVNET, read_only=True)


async def test_an_empty_file_becomes_a_store(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    async with SqliteStore.open(path, DEVNET) as store:
        assert (await store.metadata()).height == 0
    assert not [p for p in os.listdir(tmp_path) if ".creating-" in p]


@pytest.mark.parametrize(
    "content",
    [b"not a database at all\n" * 10, b"SQLite format 3\x00" + b"\x00" * 20],
    ids=["text", "truncated-sqlite"],
)
async def test_non_sqlite_files_are_refused_untouched(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "foreign.db"
    path.write_bytes(content)
    before = _digest(path)
    for read_only in (False, True):
        with pytest.raises(NotAStoreError):
            await SqliteStore.open(path, DEVNET, read_only=read_only)
    assert _digest(path) == before
    assert sorted(os.listdir(tmp_path)) == ["foreign.db"]


@pytest.mark.parametrize("wal", [False, True], ids=["rollback-journal", "wal"])
async def test_other_sqlite_databases_are_refused_untouched(tmp_path: Path, wal: bool) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    if wal:
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO accounts (name) VALUES ('alice')")
    conn.commit()
    conn.close()
    before = _digest(path)
    for read_only in (False, True):
        with pytest.raises(NotAStoreError) as info:
            await SqliteStore.open(path, DEVNET, read_only=read_only)
        assert "another application" in str(info.value)
    assert _digest(path) == before
    report = await check_store(str(path))
    assert not report.consistent and report.checks == {"open": False}
    assert _digest(path) == before
    assert sorted(os.listdir(tmp_path)) == ["other.db"]  # SQLite never opened it


async def test_a_directory_is_not_a_store(tmp_path: Path) -> None:
    with pytest.raises(NotAStoreError):
        await SqliteStore.open(tmp_path, DEVNET)


async def test_a_newer_schema_is_refused_untouched(tmp_path: Path, run: StressRun) -> None:
    path = tmp_path / "future.db"
    newer = (*MIGRATIONS, Migration(SCHEMA_VERSION + 1, "a table from the future", ("CREATE TABLE future (x)",)))
    async with SqliteStore.open(path, DEVNET, migrations=newer) as store:
        assert store.schema_version == SCHEMA_VERSION + 1
    before = _digest(path)
    for read_only in (False, True):
        with pytest.raises(SchemaTooNewError) as info:
            await SqliteStore.open(path, DEVNET, read_only=read_only)
        assert (info.value.found, info.value.supported) == (SCHEMA_VERSION + 1, SCHEMA_VERSION)
    assert _digest(path) == before


async def test_older_stores_migrate_forward(tmp_path: Path, run: StressRun) -> None:
    path = tmp_path / "old.db"
    await _fill(path, run, upto=3)
    newer = (
        *MIGRATIONS,
        Migration(SCHEMA_VERSION + 1, "labels", ("CREATE TABLE labels (payload BLOB PRIMARY KEY, label TEXT)",)),
    )
    async with SqliteStore.open(path, migrations=newer) as store:
        assert store.schema_version == SCHEMA_VERSION + 1
        assert (await store.metadata()).height == 3
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT version FROM schema_version ORDER BY version").fetchall() == [
        (v,) for v in range(1, SCHEMA_VERSION + 2)
    ]
    assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION + 1,)
    conn.close()
    async with SqliteStore.open(path, migrations=newer) as store:  # nothing left to do
        assert store.schema_version == SCHEMA_VERSION + 1


async def test_a_failed_migration_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    async with SqliteStore.open(path, DEVNET):
        pass
    broken = (*MIGRATIONS, Migration(SCHEMA_VERSION + 1, "broken", ("CREATE TABLE ok (x)", "NOT SQL")))
    with pytest.raises(StoreError):
        await SqliteStore.open(path, migrations=broken)
    async with SqliteStore.open(path) as store:
        assert store.schema_version == SCHEMA_VERSION
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT name FROM sqlite_schema WHERE name = 'ok'").fetchall() == []
    conn.close()


async def test_another_network_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "devnet.db"
    async with SqliteStore.open(path, DEVNET):
        pass
    with pytest.raises(NetworkMismatchError):
        await SqliteStore.open(path, TESTNET)
    with pytest.raises(NetworkMismatchError):
        await SqliteStore.open(path, dataclasses.replace(DEVNET, epoch_length=11))


async def test_one_writer_many_readers(tmp_path: Path, run: StressRun) -> None:
    path = tmp_path / "s.db"
    await _fill(path, run, upto=2)
    async with SqliteStore.open(path) as writer:
        with pytest.raises(StoreLockedError):
            await SqliteStore.open(path)
        async with SqliteStore.open(path, read_only=True) as reader:
            assert reader.read_only
            block = run.chain.node.chain.block_at(3)
            assert block is not None
            await writer.commit_block(block, run.commits[3])
            assert (await reader.block(3)) is not None
            assert (await reader.metadata()) == await writer.metadata()  # a reader sees new blocks
            assert [s.height async for s in reader.iter_blocks(2)] == [2, 3]
            assert [s.height for s in (await reader.blocks(1)).items] == [1, 2, 3]
            with pytest.raises(ReadOnlyStoreError):
                await reader.commit_block(block)
            with pytest.raises(ReadOnlyStoreError):
                await reader.put_peer(PeerRecord("x:1", 0))
    async with SqliteStore.open(path) as again:  # the lock left with its writer
        assert (await again.metadata()).height == 3


async def test_check_passes_and_modifies_nothing(tmp_path: Path, run: StressRun) -> None:
    path = tmp_path / "s.db"
    await _fill(path, run)
    async with SqliteStore.open(path) as store:
        tx = run.chain.transaction(run.pending[0])
        assert tx is not None
        await store.record_final(tx, run.certificates[tx.txid])
        await store.record_vote(tx.txid, [i.outpoint for i in tx.inputs])
    before = _digest(path)
    report = await check_store(str(path), full=True)
    assert report.consistent, report.to_json()
    assert (report.height, report.final_transactions, report.voted_outpoints) == (BLOCKS, 1, len(tx.inputs))
    assert report.recomputed_commitment == report.utxo_commitment == run.commitments[BLOCKS].hex()
    assert _digest(path) == before
    result = subprocess.run(
        [sys.executable, "-m", "timecoin_core.store.check", str(path)], capture_output=True, timeout=60
    )
    assert result.returncode == 0
    assert b'"consistent": true' in result.stdout


def _tamper(path: Path, *statements: str) -> None:
    conn = sqlite3.connect(path)
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()


@pytest.mark.parametrize(
    ("statements", "failed"),
    [
        (("UPDATE utxo SET amount = amount + 1 WHERE outpoint = (SELECT min(outpoint) FROM utxo)",), "utxo"),
        (
            (
                "INSERT INTO utxo SELECT outpoint || x'00', payload, amount, height FROM utxo LIMIT 1",
                "UPDATE meta SET value = value WHERE key = 'network'",
            ),
            "utxo",
        ),
        (("DELETE FROM history WHERE height = 3",), "indexes"),
        (("UPDATE txs SET txid = zeroblob(32) WHERE id = (SELECT max(id) FROM txs)",), "indexes"),
        (("UPDATE blocks SET certificate = (SELECT certificate FROM blocks WHERE height = 2) WHERE height = 3",), "certificates"),
        (("UPDATE blocks SET fees = fees + 1 WHERE height = 4",), "blocks"),
        (("UPDATE voting_sets SET raw = (SELECT raw FROM voting_sets WHERE epoch = 0) WHERE epoch = 1",), "registry"),
        (("INSERT INTO votes VALUES ((SELECT outpoint FROM utxo LIMIT 1) , zeroblob(32))",), None),
    ],
    ids=["coin-amount", "extra-coin", "history-row", "txid", "certificate", "fees", "voting-set", "harmless-vote"],
)
async def test_check_finds_tampering(
    tmp_path: Path, run: StressRun, statements: tuple[str, ...], failed: str | None
) -> None:
    path = tmp_path / "s.db"
    await _fill(path, run)
    _tamper(path, *statements)
    report = await check_store(str(path))
    if failed is None:
        assert report.consistent, report.to_json()
    else:
        assert not report.consistent
        assert report.checks.get(failed) is False or report.checks == {"open": False}, report.to_json()
    result = subprocess.run(
        [sys.executable, "-m", "timecoin_core.store.check", "--no-signatures", str(path)],
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == (0 if failed is None else 1)


async def test_a_spent_vote_left_behind_is_reported(tmp_path: Path, run: StressRun) -> None:
    path = tmp_path / "s.db"
    await _fill(path, run)
    block = run.chain.node.chain.block_at(5)
    assert block is not None
    spent = block.transactions[0].inputs[0].outpoint
    _tamper(path, f"INSERT INTO votes VALUES (x'{spent.txid.hex()}{spent.index:08x}', zeroblob(32))")
    report = await check_store(str(path))
    assert report.checks["records"] is False


async def test_load_chain_refuses_coins_that_contradict_the_commitment(tmp_path: Path, run: StressRun) -> None:
    path = tmp_path / "s.db"
    await _fill(path, run, upto=4)
    _tamper(path, "UPDATE utxo SET height = height + 1 WHERE outpoint = (SELECT min(outpoint) FROM utxo)")
    async with SqliteStore.open(path) as store:
        with pytest.raises(CorruptStoreError):
            await load_chain(store)


async def test_opening_refuses_a_tip_that_contradicts_the_coins(tmp_path: Path, run: StressRun) -> None:
    path = tmp_path / "s.db"
    await _fill(path, run, upto=4)
    _tamper(path, "DELETE FROM utxo WHERE outpoint = (SELECT min(outpoint) FROM utxo)")
    with pytest.raises(CorruptStoreError):
        await SqliteStore.open(path)


async def test_durable_writes_sync_fully_and_blocks_do_not(tmp_path: Path, run: StressRun) -> None:
    async with SqliteStore.open(tmp_path / "s.db", run.chain.network) as store:
        statements: list[str] = []
        assert store._conn is not None
        await store._conn.set_trace_callback(statements.append)
        block = run.chain.node.chain.block_at(1)
        assert block is not None
        await store.commit_block(block, run.commits[1])
        assert not any("synchronous = FULL" in s for s in statements)
        statements.clear()
        tx = block.transactions[0]
        await store.record_vote(b"\x01" * 32, [tx.outpoint(0)])
        assert statements[0] == "PRAGMA synchronous = FULL" and "COMMIT" in statements
        assert statements.index("PRAGMA synchronous = FULL") < statements.index("COMMIT")
        assert statements[-1] == "PRAGMA synchronous = NORMAL"


async def test_a_cancelled_commit_leaves_the_store_consistent(tmp_path: Path, run: StressRun) -> None:
    async with SqliteStore.open(tmp_path / "s.db", run.chain.network) as store:
        block = run.chain.node.chain.block_at(1)
        assert block is not None
        task = asyncio.ensure_future(store.commit_block(block, run.commits[1]))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(100):
            await asyncio.sleep(0.01)
            if (await store.metadata()).height == 1:
                break
        meta = await store.metadata()
        assert meta.height == 1 and (await store.block(1)) is not None
        assert meta.utxo_commitment == run.commitments[1]


async def test_pipelined_bulk_commits_equal_one_by_one(
    tmp_path: Path, run: StressRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_module, "_PIPELINE_TRANSACTIONS", 5)  # many small chunks
    chain = run.chain.node.chain
    blocks = [(chain.block_at(h), run.commits[h]) for h in range(1, BLOCKS + 1)]
    await _fill(tmp_path / "one.db", run)
    async with SqliteStore.open(tmp_path / "bulk.db", run.chain.network) as bulk:
        before = await bulk.metadata()
        ghost = Transaction([TxIn(OutPoint(b"\xee" * 32, 0))], [TxOut(1, bytes(20))])
        tip = chain.block_at(BLOCKS)
        assert tip is not None
        bad = Block.create(
            run.chain.network, run.chain.masternode_keys[0], height=BLOCKS + 1, prev_hash=tip.hash,
            timestamp=tip.header.timestamp + 1, transactions=[ghost],
        )
        with pytest.raises(StoreError):  # the last chunk fails: the earlier chunks roll back too
            await bulk.commit_blocks([*blocks, (bad, None)])  # type: ignore[list-item]
        assert await bulk.metadata() == before
        assert [c async for c in bulk.iter_coins()] == [c async for c in MemoryStore(run.chain.network).iter_coins()]
        assert await bulk.commit_blocks(blocks) == BLOCKS  # type: ignore[arg-type]
        async with SqliteStore.open(tmp_path / "one.db", read_only=True) as one:
            assert await bulk.metadata() == await one.metadata()
            assert [s async for s in bulk.iter_blocks()] == [s async for s in one.iter_blocks()]
    report = await check_store(str(tmp_path / "bulk.db"))
    assert report.consistent, report.to_json()



async def test_check_next_to_a_live_writer_reads_one_snapshot(tmp_path: Path, run: StressRun) -> None:
    path = tmp_path / "live.db"
    await _fill(path, run, upto=4)
    chain = run.chain.node.chain
    async with SqliteStore.open(path) as writer:
        checking = asyncio.ensure_future(check_store(str(path)))
        for height in range(5, BLOCKS + 1):
            await writer.commit_block(chain.block_at(height), run.commits[height])  # type: ignore[arg-type]
            await asyncio.sleep(0.001)
        report = await checking
        assert report.consistent, report.to_json()
        assert report.height is not None and 4 <= report.height <= BLOCKS
        assert report.recomputed_commitment == run.commitments[report.height].hex()
    async with SqliteStore.open(path, read_only=True) as reader:
        with pytest.raises(StoreError):
            async with reader.snapshot(), reader.snapshot():
                pass
        async with reader.snapshot():
            assert (await reader.metadata()).height == BLOCKS


@pytest.mark.parametrize(
    "damage",
    [
        "UPDATE utxo SET amount = 9223372036854775807 WHERE outpoint = (SELECT min(outpoint) FROM utxo)",
        "UPDATE utxo SET amount = -5 WHERE outpoint = (SELECT min(outpoint) FROM utxo)",
        "UPDATE utxo SET payload = x'00' WHERE outpoint = (SELECT min(outpoint) FROM utxo)",
    ],
    ids=["amount-above-max-money", "negative-amount", "short-payload"],
)
async def test_a_damaged_utxo_row_is_a_corruption_error_naming_file_and_row(
    tmp_path: Path, run: StressRun, damage: str
) -> None:
    path = tmp_path / "s.db"
    await _fill(path, run)
    conn = sqlite3.connect(path)
    (key,) = conn.execute("SELECT min(outpoint) FROM utxo").fetchone()
    (payload,) = conn.execute("SELECT payload FROM utxo WHERE outpoint = ?", (key,)).fetchone()
    conn.close()
    _tamper(path, damage)
    outpoint = OutPoint(bytes(key[:32]), int.from_bytes(key[32:], "big"))
    async with SqliteStore.open(path, run.chain.network, read_only=True) as store:
        with pytest.raises(CorruptStoreError, match=rf"s\.db: utxo row {bytes(key).hex()} is damaged"):
            await store.coin(outpoint)
        with pytest.raises(CorruptStoreError, match="is damaged"):
            [c async for c in store.iter_coins()]
        if len(bytes(payload)) == 20 and "payload" not in damage:
            with pytest.raises(CorruptStoreError, match="is damaged"):
                await store.coins_of(bytes(payload))


def test_check_tool_refuses_contradictory_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from timecoin_core.store.check import main as check_main

    with pytest.raises(SystemExit) as exited:
        check_main([str(tmp_path / "any.db"), "--full", "--no-signatures"])
    assert exited.value.code == 2
    assert "cannot be combined" in capsys.readouterr().err
    assert not (tmp_path / "any.db").exists()  # refused before touching anything


def _lock(run: StressRun, height: int, round: int = 0, value: bytes = b"block") -> tuple[BlockVote, LockedValue]:
    chain_id = run.chain.network.chain_id
    keys = run.chain.masternode_keys
    value_id = hashlib.sha256(value).digest()
    prevotes = [BlockVote.create(k, chain_id, VoteKind.PREVOTE, height, round, value_id) for k in keys]
    precommit = BlockVote.create(keys[0], chain_id, VoteKind.PRECOMMIT, height, round, value_id)
    return precommit, LockedValue.of(value, prevotes)


async def test_a_schema_1_store_opens_and_upgrades_to_keep_locked_values(tmp_path: Path, run: StressRun) -> None:
    # A store written before locked values were recorded (schema 1: no locked_values).
    path = tmp_path / "v1.db"
    old_vote = BlockVote.create(run.chain.masternode_keys[0], run.chain.network.chain_id, VoteKind.PREVOTE, 4, 0, None)
    async with SqliteStore.open(path, run.chain.network, migrations=MIGRATIONS[:1]) as store:
        assert store.schema_version == 1
        for height in range(1, 4):
            block = run.chain.node.chain.block_at(height)
            assert block is not None
            await store.commit_block(block, run.commits[height])
        await store.record_signed_vote(old_vote)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT name FROM sqlite_schema WHERE name = 'locked_values'").fetchall() == []
    conn.close()
    # Read-only, this code reads it as it is: no locked values, nothing written.
    before = _digest(path)
    async with SqliteStore.open(path, read_only=True) as store:
        assert store.schema_version == 1
        assert await store.locked_values() == []
        assert await store.signed_votes() == [old_vote]
    report = await check_store(str(path))
    assert report.consistent, report.to_json()
    assert _digest(path) == before
    # Opened for writing it migrates to the current schema and keeps everything.
    precommit, locked = _lock(run, 4)
    async with SqliteStore.open(path) as store:
        assert store.schema_version == SCHEMA_VERSION == 2
        assert await store.signed_votes() == [old_vote]
        assert await store.locked_values() == []
        await store.record_signed_vote(precommit, locked=locked)
    async with SqliteStore.open(path) as store:
        assert await store.locked_values() == [locked]
        state = await load_node_state(store)
        assert state.locked_values == [locked] and state.signed_votes == [old_vote, precommit]
        block = run.chain.node.chain.block_at(4)
        assert block is not None
        await store.commit_block(block, run.commits[4])
        assert await store.locked_values() == []
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT version FROM schema_version ORDER BY version").fetchall() == [(1,), (2,)]
    conn.close()
    report = await check_store(str(path))
    assert report.consistent, report.to_json()


async def test_a_locked_value_is_written_in_the_durable_transaction_of_its_precommit(
    tmp_path: Path, run: StressRun
) -> None:
    precommit, locked = _lock(run, 1)
    async with SqliteStore.open(tmp_path / "s.db", run.chain.network) as store:
        statements: list[str] = []
        assert store._conn is not None
        await store._conn.set_trace_callback(statements.append)
        await store.record_signed_vote(precommit, locked=locked)
        inserts = [i for i, s in enumerate(statements) if s.startswith("INSERT")]
        assert [statements[i].split()[2] for i in inserts] == ["signed_votes", "locked_values"]
        assert statements.count("COMMIT") == 1
        begin, commit = statements.index("BEGIN IMMEDIATE"), statements.index("COMMIT")
        assert statements.index("PRAGMA synchronous = FULL") < begin < inserts[0] < inserts[-1] < commit


async def test_check_reports_a_damaged_locked_value(tmp_path: Path, run: StressRun) -> None:
    path = tmp_path / "s.db"
    await _fill(path, run)
    precommit, locked = _lock(run, BLOCKS + 1)
    async with SqliteStore.open(path) as store:
        await store.record_signed_vote(precommit, locked=locked)
    assert (await check_store(str(path))).consistent
    for statement in ("UPDATE locked_values SET raw = x'00'", f"UPDATE locked_values SET height = {BLOCKS + 2}"):
        _tamper(path, statement)
        report = await check_store(str(path))
        assert report.checks["records"] is False, report.to_json()
        async with SqliteStore.open(path, read_only=True) as store:
            with pytest.raises(CorruptStoreError):
                await store.locked_values()
        _tamper(path, f"UPDATE locked_values SET height = {BLOCKS + 1}, raw = x'{locked.to_bytes().hex()}'")


def test_the_table_list_is_what_the_migrations_create() -> None:
    assert tables_at(SCHEMA_VERSION) == frozenset(TABLES)
    assert tables_at(1) == frozenset(TABLES) - {"locked_values"}
