"""The RPC backend of a running node (``NodeBackend``): four nodes on the memory network, an RPC
server on one of them, a client that sends a transaction and waits for it to be final,
reads the node, its peers and the consensus, and subscribes nothing it cannot get."""

from __future__ import annotations

from pathlib import Path

import pytest

from timecoin_net import AsyncRpcClient, RpcError, RpcServer, RpcServerConfig
from timecoin_net.node_rpc import NodeBackend
from timecoin_net.testing import MemoryNetwork, NetworkFixture, running_nodes, wait_until

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_rpc_on_a_running_node(tmp_path: Path) -> None:
    fixture = NetworkFixture.create(4, coins=4)
    network = MemoryNetwork(seed=4)
    hosts = [f"10.0.{i}.1" for i in range(4)]
    async with running_nodes(
        fixture, transport_for=lambda i: network.transport(hosts[i]), listen_for=lambda i: (hosts[i], 9000)
    ) as nodes:
        await wait_until(lambda: all(n.peer_count() == 3 for n in nodes), timeout=10, what="a full mesh")
        backend = NodeBackend(nodes[0])
        async with RpcServer(backend, RpcServerConfig(datadir=tmp_path)) as server, AsyncRpcClient(
            server.url, datadir=tmp_path
        ) as client:
            info = await client.call("getinfo")
            assert info["peers"] == 3 and info["network"] == "devnet"
            tx = fixture.payment(0)
            txid = await client.call("sendrawtransaction", tx.to_bytes().hex())
            assert txid == tx.txid.hex()
            status = await client.call("waitfortxstatus", txid, "final", 30)
            assert status["status"] in ("final", "confirmed")
            status = await client.call("waitfortxstatus", txid, "confirmed", 30)
            assert status["status"] == "confirmed" and status["height"] >= 1
            assert (await client.call("getblockhash", status["height"])) == nodes[0].block(status["height"]).hash.hex()  # type: ignore[union-attr]
            peers = await client.call("getpeerinfo")
            assert len(peers) == 3 and all(p["operator"] for p in peers)
            consensus = await client.call("getconsensusinfo")
            assert len(consensus["voting_set"]) == 4
            assert len(await client.call("getmasternodes")) == 4
            assert (await client.call("getmempoolinfo"))["size"] >= 0
            with pytest.raises(RpcError) as caught:
                await client.call("sendrawtransaction", tx.to_bytes().hex())
            assert caught.value.code == -27  # already in a block
            with pytest.raises(RpcError):
                await client.call("sendrawtransaction", "00")
        backend.close()
