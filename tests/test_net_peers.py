"""The connection manager: two nodes that dial each other keep one connection, a node that
dials itself gives up on it, a banned host is refused, stalled readers are throttled."""

from __future__ import annotations

import errno
import time

import anyio
import pytest

from timecoin_core.store import MemoryStore
from timecoin_core.verify import SyncVerifier
from timecoin_net import Link, Node, RuntimeSettings, TcpTransport, TransportError
from timecoin_net.testing import (
    MemoryNetwork,
    NetworkFixture,
    ScriptedPeer,
    ScriptedPeerError,
    wait_until,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _node(fixture: NetworkFixture, network: MemoryNetwork, i: int, peers: list[tuple[str, int]]) -> Node:
    host = f"10.0.{i}.1"
    return Node(
        fixture.network,
        identity=fixture.node_keys[i],
        masternode_key=fixture.masternode_keys[i] if i < len(fixture.masternode_keys) else None,
        store=MemoryStore(fixture.network),
        listen=(host, 9000),
        peers=peers,
        verifier=SyncVerifier(),
        settings=RuntimeSettings(backoff_base=0.05, backoff_cap=0.2),
        transport=network.transport(host),
    )


async def test_two_nodes_dialling_each_other_keep_one_connection() -> None:
    fixture = NetworkFixture.create(2, coins=0)
    network = MemoryNetwork(seed=1)
    a = _node(fixture, network, 0, [("10.0.1.1", 9000)])
    b = _node(fixture, network, 1, [("10.0.0.1", 9000)])
    async with anyio.create_task_group() as tg:
        await tg.start(a.run)
        await tg.start(b.run)
        await wait_until(lambda: a.peer_count() == 1 and b.peer_count() == 1, timeout=10, what="a connection")
        # Whichever pair of dials raced, both sides settle on the same single connection:
        # the one dialled by the smaller identity key.
        manager_a, manager_b = a._manager, b._manager
        assert manager_a is not None and manager_b is not None
        smaller = a if a.wire_identity < b.wire_identity else b

        def settled() -> bool:
            if len(manager_a.connections) != 1 or len(manager_b.connections) != 1:
                return False
            (conn_a,) = manager_a.connections.values()
            dialler = a if not conn_a.inbound else b
            return dialler is smaller

        # Whichever way the dials race, both sides end with one connection: the one the
        # smaller identity key dialled (the other node's dial loop then stays idle).
        await wait_until(settled, timeout=10, what="one connection, dialled by the smaller identity")
        assert a.peer_count() == b.peer_count() == 1
        a.stop()
        b.stop()


async def test_a_node_never_keeps_a_connection_to_itself() -> None:
    fixture = NetworkFixture.create(1, coins=0)
    network = MemoryNetwork(seed=2)
    node = _node(fixture, network, 0, [("10.0.0.1", 9000)])
    async with anyio.create_task_group() as tg:
        await tg.start(node.run)
        await wait_until(lambda: node.counters.get("peers.closed.SELF_CONNECTION", 0) >= 2, timeout=10, what="self-dials refused")
        assert node.peer_count() == 0
        node.stop()


async def test_a_banned_host_is_refused() -> None:
    fixture = NetworkFixture.create(1, coins=0)
    network = MemoryNetwork(seed=3)
    node = _node(fixture, network, 0, [])
    async with anyio.create_task_group() as tg:
        await tg.start(node.run)
        async with ScriptedPeer.connect(fixture.network, ("10.0.0.1", 9000), transport=network.transport("10.5.0.1")) as peer:
            manager = node._manager
            assert manager is not None
            manager.ban("10.5.0.1", time.time() + 3600)
            await peer.wait_closed()
        with pytest.raises(ScriptedPeerError):
            async with ScriptedPeer.connect(
                fixture.network, ("10.0.0.1", 9000), transport=network.transport("10.5.0.1"), timeout=5
            ):
                pass
        assert node.counters["peers.inbound.refused_banned"] == 1
        node.stop()


async def test_a_listen_address_in_use_keeps_its_errno() -> None:
    async def ignore(link: Link) -> None:
        return None

    async with anyio.create_task_group() as tg:
        address = await tg.start(TcpTransport().listen, "127.0.0.1", 0, ignore)
        with pytest.raises(TransportError) as caught:
            await tg.start(TcpTransport().listen, "127.0.0.1", address[1], ignore)
        assert caught.value.errno == errno.EADDRINUSE  # what the daemon reports as "address in use"
        tg.cancel_scope.cancel()


async def test_a_node_whose_address_is_taken_raises_that_error() -> None:
    fixture = NetworkFixture.create(1, coins=0)

    def node(port: int) -> Node:
        return Node(
            fixture.network,
            identity=fixture.node_keys[0],
            masternode_key=None,
            store=MemoryStore(fixture.network),
            listen=("127.0.0.1", port),
            verifier=SyncVerifier(),
        )

    first = node(0)
    async with anyio.create_task_group() as tg:
        address = await tg.start(first.run)
        with pytest.raises(TransportError) as caught:
            await node(address[1]).run()
        assert caught.value.errno == errno.EADDRINUSE
        first.stop()
