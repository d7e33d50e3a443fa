"""A byzantine scripted peer (NETWORK.md test 10): bad signatures, junk blocks and floods get it
disconnected (and discouraged, for offences) while the honest nodes keep finalizing.

Four honest masternodes on the in-memory network; the attacker dials node 0 from its
own address (10.9.0.1), so discouragement is visible and touches nobody else.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time

import pytest

from timecoin_core.consensus import BlockVote, VoteKind
from timecoin_core.hashing import sha256
from timecoin_core.wire import ErrorCode, MessageType
from timecoin_net import Node, TransactionStatus
from timecoin_net.testing import (
    MemoryNetwork,
    NetworkFixture,
    ScriptedPeer,
    ScriptedPeerError,
    running_nodes,
    wait_until,
)

pytestmark = pytest.mark.anyio

ATTACKER = "10.9.0.1"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _discouraged(node: Node) -> bool:
    manager = node._manager
    assert manager is not None
    return manager.policy.is_discouraged(ATTACKER, time.monotonic())


async def _all_final(fixture: NetworkFixture, nodes: list[Node], first: int, count: int) -> None:
    txs = [fixture.payment(i) for i in range(first, first + count)]
    for i, tx in enumerate(txs):
        await nodes[1 + i % 3].submit(tx)
    await wait_until(
        lambda: all(n.tx_status(tx.txid) in (TransactionStatus.FINAL, TransactionStatus.CONFIRMED) for n in nodes for tx in txs),
        timeout=30,
        what="honest transactions final everywhere",
    )


async def test_byzantine_peer_is_cut_off_and_the_network_keeps_finalizing() -> None:
    fixture = NetworkFixture.create(4, coins=16)
    network = MemoryNetwork(seed=3)
    hosts = [f"10.0.{i}.1" for i in range(4)]
    async with running_nodes(
        fixture, transport_for=lambda i: network.transport(hosts[i]), listen_for=lambda i: (hosts[i], 9000)
    ) as nodes:
        target = nodes[0]
        address = (hosts[0], 9000)
        transport = network.transport(ATTACKER)
        await wait_until(lambda: all(n.peer_count() == 3 for n in nodes), timeout=10, what="a full mesh")
        await _all_final(fixture, nodes, 0, 4)

        # 1. A transaction whose signature does not verify.
        good = fixture.payment(10)
        forged = good.with_witnesses([(fixture.wallet.public_key.data, bytes(64))])
        async with ScriptedPeer.connect(fixture.network, address, transport=transport) as peer:
            await peer.send_now(forged)
            closed = await peer.wait_closed()
        assert closed.code is ErrorCode.CLOSED_BY_PEER and "invalid-transaction" in closed.detail
        assert _discouraged(target)
        assert target.tx_status(forged.txid) is TransactionStatus.UNKNOWN

        # 2. A block vote from a real masternode key with a forged signature.
        async with ScriptedPeer.connect(fixture.network, address, transport=transport) as peer:
            vote = BlockVote.create(
                fixture.masternode_keys[1], fixture.network.chain_id, VoteKind.PREVOTE, target.height + 1, 0, sha256(b"x")
            )
            await peer.send_now(dataclasses.replace(vote, signature=bytes(64)))
            closed = await peer.wait_closed()
        assert "bad-signature" in closed.detail

        # 3. A junk block: a commit frame whose payload does not decode.
        async with ScriptedPeer.connect(fixture.network, address, transport=transport) as peer:
            await peer.send_frame(MessageType.COMMIT, b"\x00" * 5000)
            closed = await peer.wait_closed()
        assert closed.code is ErrorCode.CLOSED_BY_PEER and "MALFORMED_MESSAGE" in closed.detail

        # 4. A flood: transactions far faster than the 200/s, burst 1,000 bucket refills;
        # a debt above twice the burst disconnects (a fault: not discouraged for it). The
        # flood goes on until the node hangs up (how many it takes depends on how fast
        # the node reads, which back-pressure slows down).
        async with ScriptedPeer.connect(fixture.network, address, transport=transport) as peer:
            sent = 0
            while peer.closed is None and sent < 100_000:
                with contextlib.suppress(ScriptedPeerError):
                    for _ in range(500):
                        peer.send(good)
                await peer.flush()
                sent += 500
            closed = await peer.wait_closed()
        assert "RATE_LIMITED" in closed.detail

        counters = target.counters
        assert counters["penalize.invalid-transaction"] == 1
        assert counters["penalize.bad-signature"] == 1
        assert counters["peers.closed.MALFORMED_MESSAGE"] == 1
        assert counters["peers.closed.RATE_LIMITED"] == 1
        # Honest peers were never touched, and the network still finalizes.
        assert all(n.peer_count() == 3 for n in nodes)
        await _all_final(fixture, nodes, 4, 4)
