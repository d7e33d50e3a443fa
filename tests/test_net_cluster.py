"""Four nodes in one process reach the same chain: over the in-memory network with seeded faults
(asyncio and trio) and over real TCP on 127.0.0.1.

Every wait is on a condition (``wait_until``, ``sync_all``); the timeouts only bound a
broken run.
"""

from __future__ import annotations

import importlib.util

import pytest
from prometheus_client.parser import text_string_to_metric_families

from timecoin_core.transaction import Transaction
from timecoin_net import Node, RuntimeSettings, TransactionStatus
from timecoin_net.testing import (
    LinkModel,
    MemoryNetwork,
    NetworkFixture,
    running_nodes,
    sync_all,
    wait_until,
)

pytestmark = pytest.mark.anyio

BACKENDS = [
    "asyncio",
    pytest.param(
        "trio", marks=pytest.mark.skipif(importlib.util.find_spec("trio") is None, reason="trio is not installed")
    ),
]


@pytest.fixture(params=BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _settled(nodes: list[Node], txs: list[Transaction]) -> bool:
    return all(node.tx_status(tx.txid) is TransactionStatus.CONFIRMED for node in nodes for tx in txs)


async def _exercise(fixture: NetworkFixture, nodes: list[Node], count: int = 8) -> None:
    await wait_until(lambda: all(n.peer_count() == len(nodes) - 1 for n in nodes), timeout=10, what="a full mesh")
    txs = [fixture.payment(i) for i in range(count)]
    for i, tx in enumerate(txs):
        await nodes[i % len(nodes)].submit(tx)
    await wait_until(
        lambda: all(n.tx_status(tx.txid) in (TransactionStatus.FINAL, TransactionStatus.CONFIRMED) for n in nodes for tx in txs),
        timeout=30,
        what="every transaction final at every node",
    )
    await wait_until(lambda: _settled(nodes, txs), timeout=30, what="every transaction in a block at every node")
    # Blocks keep coming; wait for one height that every node has committed, then compare.
    height = max(n.height for n in nodes)
    await sync_all(nodes, height=height, timeout=30)
    assert len({n.tip for n in nodes}) == 1
    assert len({n.utxo_commitment for n in nodes}) == 1
    for node in nodes:
        assert node.finality_latency()  # every node saw these transactions become final


async def test_four_nodes_on_the_memory_network_with_faults() -> None:
    fixture = NetworkFixture.create(4, coins=8)
    network = MemoryNetwork(seed=7, model=LinkModel(min_delay=0.001, max_delay=0.02, loss=0.02, duplicate=0.05, reorder=0.05))
    hosts = [f"10.0.{i}.1" for i in range(4)]
    settings = RuntimeSettings(relay_ttl=1.0, inventory_timeout=1.0)
    async with running_nodes(
        fixture,
        transport_for=lambda i: network.transport(hosts[i]),
        listen_for=lambda i: (hosts[i], 9000),
        settings=settings,
    ) as nodes:
        await _exercise(fixture, nodes)
    faults = sum(f.lost + f.duplicated + f.reordered for f in network.faults)
    assert faults > 0  # the faults did happen


async def test_partition_and_heal_on_the_memory_network() -> None:
    fixture = NetworkFixture.create(4, coins=8)
    network = MemoryNetwork(seed=11)
    hosts = [f"10.0.{i}.1" for i in range(4)]
    settings = RuntimeSettings(backoff_base=0.05, backoff_cap=0.5)
    async with running_nodes(
        fixture,
        transport_for=lambda i: network.transport(hosts[i]),
        listen_for=lambda i: (hosts[i], 9000),
        settings=settings,
    ) as nodes:
        await wait_until(lambda: all(n.peer_count() == 3 for n in nodes), timeout=10, what="a full mesh")
        network.partition(hosts[:2], hosts[2:])
        await wait_until(lambda: all(n.peer_count() == 1 for n in nodes), timeout=10, what="the partition")
        split = [n.height for n in nodes]
        tx = fixture.payment(0)
        await nodes[0].submit(tx)
        # Two of four masternodes are no quorum: nothing is final on either side.
        assert all(n.tx_status(tx.txid) is not TransactionStatus.FINAL for n in nodes)
        network.heal()
        await wait_until(lambda: all(n.peer_count() == 3 for n in nodes), timeout=10, what="the healed mesh")
        await wait_until(lambda: _settled(nodes, [tx]), timeout=30, what="the transaction confirmed after healing")
        await sync_all(nodes, height=max(split) + 1, timeout=30)
        assert len({n.utxo_commitment for n in nodes}) == 1


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_four_nodes_over_tcp(anyio_backend: str) -> None:
    fixture = NetworkFixture.create(4, coins=8)
    # offload_bytes=0: every consensus message is decoded and handled in a worker thread
    # (the path large proposals take), so both paths run in this file.
    async with running_nodes(fixture, settings=RuntimeSettings(offload_bytes=0)) as nodes:
        assert all(n.address is not None and n.address[0] == "127.0.0.1" for n in nodes)
        await _exercise(fixture, nodes)
        assert all(n.counters["offloaded"] > 0 for n in nodes)
        # The runtime feeds each node's own Prometheus registry.
        for node in nodes:
            samples = [
                s for family in text_string_to_metric_families(node.metrics.exposition().decode()) for s in family.samples
            ]
            value = {s.name: s.value for s in samples}
            # (The gauge follows the BlockCommitted action, a store write after the chain.)
            assert node.height - 1 <= value["timecoin_consensus_height"] <= node.height
            assert value["timecoin_finality_latency_seconds_count"] >= 8
            assert sum(s.value for s in samples if s.name == "timecoin_p2p_peers") == 3
