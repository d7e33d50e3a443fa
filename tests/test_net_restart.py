"""Restart (NETWORK.md test 6, in process): a masternode stopped mid-stream resumes from its
SqliteStore with every vote it signed, signs no conflicting one, and rejoins the chain.

A conflicting vote would be refused by the store (``ConflictingVoteError``, raised out
of the node's run) before it could be sent; the test also checks the restored finality
votes and that the store checks clean afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import anyio
import pytest

from timecoin_core.consensus import BlockVote
from timecoin_core.consensus.locked_value import LockedValue
from timecoin_core.store import MemoryStore, SignedVote, SqliteStore, Store
from timecoin_core.store.check import check_store
from timecoin_core.transaction import OutPoint
from timecoin_core.verify import SyncVerifier
from timecoin_net import Node, RuntimeSettings, TransactionStatus
from timecoin_net.testing import MemoryNetwork, NetworkFixture, sync_all, wait_until

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _node(fixture: NetworkFixture, network: MemoryNetwork, i: int, store: Store | _Recording, peers: list[tuple[str, int]]) -> Node:
    host = f"10.0.{i}.1"
    return Node(
        fixture.network,
        identity=fixture.node_keys[i],
        masternode_key=fixture.masternode_keys[i],
        store=cast(Store, store),
        listen=(host, 9000),
        peers=peers,
        verifier=SyncVerifier(),
        settings=RuntimeSettings(backoff_base=0.05, backoff_cap=0.5),
        transport=network.transport(host),
    )


def _final(nodes: list[Node], txids: list[bytes]) -> bool:
    done = (TransactionStatus.FINAL, TransactionStatus.CONFIRMED)
    return all(n.tx_status(txid) in done for n in nodes for txid in txids)


async def test_restart_from_sqlite_without_a_double_vote(tmp_path: Path) -> None:
    fixture = NetworkFixture.create(4, coins=16)
    network = MemoryNetwork(seed=5)
    path = tmp_path / "chain.sqlite"
    log = _VoteLog()
    addresses = [(f"10.0.{i}.1", 9000) for i in range(4)]
    async with anyio.create_task_group() as tg:
        first = _node(fixture, network, 0, _Recording(await SqliteStore.open(path, fixture.network), log), [])
        others = [_node(fixture, network, i, MemoryStore(fixture.network), addresses[:i]) for i in range(1, 4)]
        stopped = anyio.Event()

        async def run_first() -> None:
            await first.run()
            stopped.set()

        await tg.start(_started, run_first, first)
        for node in others:
            await tg.start(node.run)
        nodes = [first, *others]
        await wait_until(lambda: all(n.peer_count() == 3 for n in nodes), timeout=10, what="a full mesh")
        txids = []
        for i in range(6):
            tx = fixture.payment(i)
            txids.append(tx.txid)
            await nodes[i % 4].submit(tx)
        await wait_until(lambda: _final(nodes, txids), timeout=30, what="final everywhere")
        await wait_until(lambda: first.height >= 3, timeout=30, what="a few blocks")
        voted = dict(first.consensus.finality.voted_outpoints())
        height = first.height

        # Stop while blocks keep coming (the other three still make a quorum).
        first.stop()
        with anyio.fail_after(5):
            await stopped.wait()
        await wait_until(lambda: all(n.peer_count() == 2 for n in others), timeout=10, what="the others notice")
        await wait_until(lambda: min(n.height for n in others) >= height + 2, timeout=30, what="progress without it")

        second = _node(fixture, network, 0, _Recording(await SqliteStore.open(path, fixture.network), log), addresses[1:])
        await tg.start(second.run)
        assert second.height >= height  # the chain came back from the store
        restored = second.consensus.finality.voted_outpoints()
        assert all(restored.get(outpoint, txid) == txid for outpoint, txid in voted.items())
        nodes = [second, *others]
        await wait_until(lambda: all(n.peer_count() == 3 for n in nodes), timeout=10, what="the mesh again")
        more = []
        for i in range(6, 10):
            tx = fixture.payment(i)
            more.append(tx.txid)
            await nodes[i % 4].submit(tx)
        await wait_until(lambda: _final(nodes, more), timeout=30, what="new transactions final everywhere")
        target = max(n.height for n in others)
        await sync_all(nodes, height=target, timeout=30)
        assert len({n.utxo_commitment for n in nodes}) == 1
        # Caught up, it votes again (through the store, where a conflict would be refused).
        await wait_until(lambda: len(log.block_votes) >= log.restarted_at + 4, timeout=30, what="votes after restart")
        for node in nodes:
            node.stop()
    # The address book was saved at shutdown: the three peers, by their listening address.
    async with SqliteStore.open(path, read_only=True) as store:
        assert {p.address for p in await store.peers()} >= {f"{h}:{p}" for h, p in addresses[1:]}
    report = await check_store(str(path))
    # Every check passes, certificates included: the store keeps with each confirmed
    # transaction the certificate its block commits to (the proposer's), not this
    # node's own (BlockCommitted.proof, commit_block(proofs=)).
    assert report.consistent, report.errors
    # Both runs together: one block vote per (kind, height, round), one txid per outpoint.
    assert log.block_votes and log.finality_votes
    assert log.restarted_at > 0 and any(i > log.restarted_at for i in log.block_vote_order)
    keys = [(v.kind, v.height, v.round) for v in log.block_votes]
    for key in set(keys):
        assert len({v for v in log.block_votes if (v.kind, v.height, v.round) == key}) == 1
    for outpoint, voted_txids in log.finality_votes.items():
        assert len(voted_txids) == 1, outpoint


class _VoteLog:
    def __init__(self) -> None:
        self.block_votes: list[BlockVote] = []
        self.block_vote_order: list[int] = []
        self.finality_votes: dict[OutPoint, set[bytes]] = {}
        self.restarted_at = 0
        self.opened = 0


class _Recording:
    """A store that logs every vote written through it, for both runs of the node."""

    def __init__(self, store: SqliteStore, log: _VoteLog) -> None:
        self._store = store
        self._log = log
        log.opened += 1
        if log.opened == 2:
            log.restarted_at = len(log.block_votes)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def record_signed_vote(self, vote: SignedVote, *, locked: LockedValue | None = None) -> None:
        await self._store.record_signed_vote(vote, locked=locked)
        if isinstance(vote, BlockVote):
            self._log.block_vote_order.append(len(self._log.block_votes) + 1)
            self._log.block_votes.append(vote)

    async def record_vote(self, txid: bytes, outpoints: Sequence[OutPoint]) -> None:
        await self._store.record_vote(txid, outpoints)
        for outpoint in outpoints:
            self._log.finality_votes.setdefault(outpoint, set()).add(txid)


async def _started(run: object, node: Node, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
    assert callable(run)
    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        await wait_until(lambda: node.address is not None, timeout=10, what="listening")
        task_status.started()
