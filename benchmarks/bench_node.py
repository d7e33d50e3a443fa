"""The node runtime in one process: 4 masternodes over TCP on 127.0.0.1.

Figures (all four nodes share this process, so the machine's cores are shared by
everything, unlike a devnet of processes):

* final transactions per second at saturation: ``SATURATION`` transactions submitted at
  once (a quarter to each node), from the first submission until every node holds all
  of them final; CPU per final transaction for the whole network, with the simulator's
  figure for the same configuration (measured in the same run) as reference;
* finality latency p50/p99 at half the measured saturation rate, from first sight at a
  node to final at that node, over every node; reference: the vote batch window, the
  latency floor the protocol sets;
* event-loop lag p99 while the nodes verify at full rate: how late a 10 ms sleep of a
  probe task wakes up, against the same probe on an idle loop.
"""

from __future__ import annotations

import statistics
import time

import anyio

from timecoin_core.sim import SimConfig, run_seed
from timecoin_core.transaction import Transaction
from timecoin_core.verify import ThreadVerifier
from timecoin_net import Node, TransactionStatus
from timecoin_net.testing import NetworkFixture, running_nodes, wait_until

from ._table import Row, Table

SATURATION = 2000
LATENCY_SECONDS = 5.0
_DONE = (TransactionStatus.FINAL, TransactionStatus.CONFIRMED)


def run() -> list[Table]:
    """Throughput, latency and loop lag of four in-process nodes."""
    return [anyio.run(_measure)]


async def _lag_probe(samples: list[float], stop: anyio.Event) -> None:
    while not stop.is_set():
        start = time.perf_counter()
        await anyio.sleep(0.01)
        samples.append(time.perf_counter() - start - 0.01)


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] if ordered else 0.0


async def _measure() -> Table:
    fixture = NetworkFixture.create(4, coins=SATURATION + 2000)
    idle: list[float] = []
    stop = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(_lag_probe, idle, stop)
        await anyio.sleep(1.0)
        stop.set()
    async with running_nodes(fixture, verifier_for=lambda i: ThreadVerifier(workers=1)) as nodes:
        await wait_until(lambda: all(n.peer_count() == 3 for n in nodes), timeout=20)
        txs = [fixture.payment(i) for i in range(SATURATION)]
        lag: list[float] = []
        stop = anyio.Event()
        cpu0 = time.process_time()
        start = time.perf_counter()
        async with anyio.create_task_group() as tg:
            tg.start_soon(_lag_probe, lag, stop)
            for k, node in enumerate(nodes):
                tg.start_soon(_submit_all, node, txs[k::4])
            await wait_until(
                lambda: all(n.tx_status(tx.txid) in _DONE for n in nodes for tx in txs), timeout=600
            )
            stop.set()
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu0
        rate = SATURATION / elapsed
        # Half of saturation, paced, for latency.
        for node in nodes:
            node._latencies.clear()
        paced = [fixture.payment(i) for i in range(SATURATION, SATURATION + int(rate / 2 * LATENCY_SECONDS))]
        period = 2 / rate
        for i, tx in enumerate(paced):
            await nodes[i % 4].submit(tx)
            await anyio.sleep(period)
        await wait_until(lambda: all(n.tx_status(tx.txid) in _DONE for n in nodes for tx in paced), timeout=120)
        latencies = [s for n in nodes for s in n._latencies]
        window = fixture.network.vote_batch_window
    sim_us = _simulator_cpu_per_tx()
    table = Table(f"Node runtime, 4 masternodes in one process over TCP, {SATURATION} transactions")
    table.add(Row("final transactions per second (saturation)", rate, None, "tx/s", ">= 1,000 (devnet of processes)", rate >= 1000))
    table.add(Row("CPU per final transaction (whole network)", cpu / SATURATION * 1e6, sim_us, "us", "(reference: simulator)"))
    table.add(Row("finality latency p50 at half saturation", _p(latencies, 50) * 1e3, window * 1e3, "ms", "<= 100 ms", _p(latencies, 50) <= 0.1))
    table.add(Row("finality latency p99 at half saturation", _p(latencies, 99) * 1e3, window * 1e3, "ms", "(reference: vote batch window)"))
    table.add(Row("event-loop lag p99 while verifying", _p(lag, 99) * 1e3, _p(idle, 99) * 1e3, "ms", "< 20 ms", _p(lag, 99) < 0.02))
    table.add(Row("event-loop lag median while verifying", statistics.median(lag) * 1e3 if lag else 0.0, None, "ms"))
    return table


async def _submit_all(node: Node, txs: list[Transaction]) -> None:
    for tx in txs:
        await node.submit(tx)


def _simulator_cpu_per_tx() -> float:
    config = SimConfig(nodes=4, byzantine=0, faults=False, duration=10.0, settle=10.0, tx_rate=100.0)
    start = time.process_time()
    result = run_seed(0, config)
    return (time.process_time() - start) / max(result.finalized_txs, 1) * 1e6
