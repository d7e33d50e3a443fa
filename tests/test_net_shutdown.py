"""Shutdown under load (NETWORK.md test 11): every node stops within 5 s while clients submit,
peers get a ``Goodbye``, no task is left behind, nothing warns, and the store checks clean.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from timecoin_core.errors import TimecoinError
from timecoin_core.store import MemoryStore, SqliteStore, Store
from timecoin_core.store.check import check_store
from timecoin_core.wire import ErrorCode
from timecoin_net import Node, NodeStoppingError, TransactionStatus
from timecoin_net.testing import (
    MemoryNetwork,
    NetworkFixture,
    ScriptedPeer,
    running_nodes,
    wait_until,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.filterwarnings("error")
async def test_shutdown_under_load_leaves_nothing_behind(tmp_path: Path) -> None:
    before = set(asyncio.all_tasks())
    fixture = NetworkFixture.create(4, coins=400)
    network = MemoryNetwork(seed=9)
    hosts = [f"10.0.{i}.1" for i in range(4)]
    path = tmp_path / "chain.sqlite"
    stores: list[Store] = [await SqliteStore.open(path, fixture.network)]
    stores += [MemoryStore(fixture.network) for _ in range(3)]
    submitted: list[bytes] = []
    refused: list[Exception] = []
    async with running_nodes(
        fixture,
        transport_for=lambda i: network.transport(hosts[i]),
        listen_for=lambda i: (hosts[i], 9000),
        store_for=lambda i: stores[i],
    ) as nodes:
        await wait_until(lambda: all(n.peer_count() == 3 for n in nodes), timeout=10, what="a full mesh")
        async with ScriptedPeer.connect(fixture.network, (hosts[1], 9000), transport=network.transport("10.7.0.1")) as watcher:

            async def load(node: Node, offset: int) -> None:
                # Until the node refuses: a fast node may take every payment before the
                # shutdown starts, so the client then sends them again (already known or
                # spent: typed refusals it ignores), as a wallet retrying would.
                for round_ in itertools.count():
                    for i in range(offset, len(fixture.coins), 4):
                        tx = fixture.payment(i)
                        try:
                            await node.submit(tx)
                        except NodeStoppingError as exc:
                            refused.append(exc)
                            return
                        except TimecoinError:
                            if round_ == 0:
                                raise
                            continue
                        if round_ == 0:
                            submitted.append(tx.txid)
                    await anyio.lowlevel.checkpoint()

            async with anyio.create_task_group() as clients:
                for offset, node in enumerate(nodes):
                    clients.start_soon(load, node, offset)
                # Under load: transactions going final and blocks being committed.
                await wait_until(
                    lambda: sum(nodes[0].tx_status(t) is not TransactionStatus.UNKNOWN for t in submitted) > 20
                    and nodes[0].height >= 1,
                    timeout=30,
                    what="load",
                )
                with anyio.fail_after(5):  # the pass criterion: shutdown within 5 s under load
                    for node in nodes:
                        node.stop()
                    await wait_until(lambda: not any(n.running for n in nodes), timeout=5)
                    await wait_until(lambda: all(n._stopped for n in nodes), timeout=5, what="every run() returned")
            closed = await watcher.wait_closed(timeout=5)
            assert closed.code is ErrorCode.CLOSED_BY_PEER and "shutting down" in closed.detail
    assert refused  # clients were refused once shutdown began, not left hanging
    gc.collect()
    leftover = [t for t in asyncio.all_tasks() if t not in before and not t.done() and t is not asyncio.current_task()]
    assert leftover == []
    report = await check_store(str(path))
    assert report.consistent, report.errors
