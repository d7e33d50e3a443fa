"""Eviction (NETWORK.md test 4): with inbound full, one more peer evicts exactly one unprotected peer.

Eight scripted peers fill the eight inbound slots. The policy protects the four with
the lowest ping (none has a ping yet, so the four first in id order) and half of the
rest by uptime (the two oldest); the newcomer evicts the youngest of the largest /16,
which is the last peer to have connected. Over real TCP on 127.0.0.1.
"""

from __future__ import annotations

from contextlib import AsyncExitStack

import anyio
import pytest

from timecoin_core.store import MemoryStore
from timecoin_core.verify import SyncVerifier
from timecoin_core.wire import ErrorCode
from timecoin_net import Node, RuntimeSettings
from timecoin_net.testing import NetworkFixture, ScriptedPeer, wait_until

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _node(fixture: NetworkFixture, settings: RuntimeSettings) -> Node:
    return Node(
        fixture.network,
        identity=fixture.node_keys[0],
        masternode_key=fixture.masternode_keys[0],
        store=MemoryStore(fixture.network),
        verifier=SyncVerifier(),
        settings=settings,
    )


async def test_one_more_inbound_peer_evicts_exactly_one() -> None:
    fixture = NetworkFixture.create(1, coins=0)
    node = _node(fixture, RuntimeSettings(max_inbound=8, max_per_netgroup=16))
    async with anyio.create_task_group() as tg, AsyncExitStack() as stack:
        address = await tg.start(node.run)
        peers = [await stack.enter_async_context(ScriptedPeer.connect(fixture.network, address)) for _ in range(8)]
        for peer in peers:
            await peer.sync_with_ping()
        assert node.peer_count() == 8
        newcomer = await stack.enter_async_context(ScriptedPeer.connect(fixture.network, address))
        await newcomer.sync_with_ping()
        await wait_until(lambda: sum(p.closed is not None for p in peers) == 1, timeout=10, what="one eviction")
        evicted = [i for i, p in enumerate(peers) if p.closed is not None]
        assert evicted == [7]
        closed = peers[7].closed
        assert closed is not None and closed.code is ErrorCode.CLOSED_BY_PEER and "evicted" in closed.detail
        assert node.peer_count() == 8
        assert node.counters["peers.inbound.evicted"] == 1
        for peer in peers[:7]:
            await peer.sync_with_ping()  # the others are still served
        node.stop()


async def test_protected_peers_leave_no_room() -> None:
    # With four inbound slots every peer is protected (four by ping): a fifth is refused
    # before its handshake and nobody is evicted.
    fixture = NetworkFixture.create(1, coins=0)
    node = _node(fixture, RuntimeSettings(max_inbound=4, max_per_netgroup=16))
    async with anyio.create_task_group() as tg, AsyncExitStack() as stack:
        address = await tg.start(node.run)
        peers = [await stack.enter_async_context(ScriptedPeer.connect(fixture.network, address)) for _ in range(4)]
        async with ScriptedPeer.connect(fixture.network, address, handshake=False) as refused:
            await refused.wait_closed()
            assert refused.hello is None
        assert all(p.closed is None for p in peers)
        assert node.counters["peers.inbound.refuse_full"] == 1
        node.stop()
