"""run_from_datadir around a node: signals, exit codes, status.json, store errors (with a stand-in node)."""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import pytest

from timecoin_core.block import genesis_block
from timecoin_core.keys import PrivateKey
from timecoin_core.network import DEVNET
from timecoin_core.store import SqliteStore, Store
from timecoin_net import (
    DatadirError,
    Endpoint,
    NodeConfig,
    NodeOverrides,
    init_datadir,
    run_from_datadir,
)
from timecoin_net.config import Datadir
from timecoin_net.devnet import read_status
from timecoin_net.runner import EXIT_FORCED, apply_overrides

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class StandInNode:
    """Only what run_from_datadir needs of a node: run until stop, and the views."""

    def __init__(self, datadir: Datadir, store: Store, runtime: dict[str, Any], *, obey_stop: bool = True) -> None:
        self.datadir = datadir
        self.store = store
        self.runtime = runtime
        self.obey_stop = obey_stop
        self.height = 7
        self.stopped = anyio.Event()
        self.stop_requested = anyio.Event()
        self.stop_calls = 0

    async def run(self, *, task_status: anyio.abc.TaskStatus[tuple[str, int]] = anyio.TASK_STATUS_IGNORED) -> None:
        task_status.started(self.datadir.config.p2p_endpoint().as_tuple())
        await self.stopped.wait()

    def peer_count(self) -> int:
        return 2

    def finality_latency(self, percentiles: Sequence[float] = (50.0, 90.0, 99.0)) -> dict[float, float]:
        return {p: p / 1000 for p in percentiles}

    def stop(self) -> None:
        self.stop_calls += 1
        self.stop_requested.set()
        if self.obey_stop:
            self.stopped.set()


@pytest.fixture
def datadir(tmp_path: Path) -> Path:
    config = NodeConfig(network="devnet", listen=Endpoint("127.0.0.1", 0), runtime={"x": 1})
    init_datadir(tmp_path / "d", config, masternode_key=PrivateKey.generate())
    return tmp_path / "d"


async def test_first_signal_stops_gracefully_with_exit_0(datadir: Path) -> None:
    nodes: list[StandInNode] = []
    ready = anyio.Event()

    def factory(d: Datadir, store: Store, runtime: dict[str, Any]) -> StandInNode:
        nodes.append(StandInNode(d, store, runtime))
        return nodes[-1]

    async def signal_when_ready() -> None:
        await ready.wait()
        status = read_status(datadir)
        assert status is not None and status.state == "running" and status.peers == 2 and status.height == 7
        assert (status.finality_p50, status.finality_p99) == (0.05, 0.099)
        assert status.genesis == genesis_block(DEVNET).hash.hex()
        os.kill(os.getpid(), signal.SIGTERM)

    async with anyio.create_task_group() as group:
        group.start_soon(signal_when_ready)
        with anyio.fail_after(30):
            code = await run_from_datadir(datadir, on_ready=lambda _: ready.set(), node_factory=factory)
    assert code == 0
    assert nodes[0].stop_calls == 1
    assert nodes[0].runtime == {"x": 1}
    status = read_status(datadir)
    assert status is not None and status.state == "stopped" and status.exit_code == 0 and status.pid == os.getpid()
    # The store was closed: it opens again (it is locked while a node holds it).
    async with SqliteStore.open(datadir / "chain.sqlite", DEVNET):
        pass


async def test_a_second_signal_forces_exit_130(datadir: Path) -> None:
    ready = anyio.Event()
    nodes: list[StandInNode] = []

    def factory(d: Datadir, store: Store, runtime: dict[str, Any]) -> StandInNode:
        nodes.append(StandInNode(d, store, runtime, obey_stop=False))
        return nodes[-1]

    async def signal_twice() -> None:
        await ready.wait()
        os.kill(os.getpid(), signal.SIGINT)
        await nodes[0].stop_requested.wait()
        status = read_status(datadir)
        assert status is not None and status.state == "stopping"
        os.kill(os.getpid(), signal.SIGINT)

    async with anyio.create_task_group() as group:
        group.start_soon(signal_twice)
        with anyio.fail_after(30):
            code = await run_from_datadir(
                datadir,
                on_ready=lambda _: ready.set(),
                node_factory=factory,
            )
    assert code == EXIT_FORCED
    status = read_status(datadir)
    assert status is not None and status.exit_code == EXIT_FORCED


async def test_a_node_that_ends_by_itself_ends_the_run(datadir: Path) -> None:
    def factory(d: Datadir, store: Store, runtime: dict[str, Any]) -> StandInNode:
        node = StandInNode(d, store, runtime)
        node.stopped.set()
        return node

    with anyio.fail_after(30):
        assert await run_from_datadir(datadir, handle_signals=False, node_factory=factory) == 0


async def test_a_node_that_fails_to_start_is_an_error_and_releases_the_store(datadir: Path) -> None:
    class Broken(StandInNode):
        async def run(self, *, task_status: anyio.abc.TaskStatus[tuple[str, int]] = anyio.TASK_STATUS_IGNORED) -> None:
            raise OSError(98, "Address already in use")

    import errno

    assert errno.EADDRINUSE == 98
    with pytest.raises(DatadirError, match="address already in use"):
        await run_from_datadir(datadir, handle_signals=False, node_factory=Broken)
    status = read_status(datadir)
    assert status is not None and status.exit_code == 1
    async with SqliteStore.open(datadir / "chain.sqlite", DEVNET):
        pass


async def test_a_locked_store_is_a_clear_error(datadir: Path) -> None:
    async with SqliteStore.open(datadir / "chain.sqlite", DEVNET):
        with pytest.raises(DatadirError, match="in use by another process"):
            await run_from_datadir(datadir, handle_signals=False, node_factory=StandInNode)


async def test_a_store_of_another_network_is_a_clear_error(datadir: Path) -> None:
    from dataclasses import replace

    async with SqliteStore.open(datadir / "chain.sqlite", replace(DEVNET, genesis_timestamp=5)):
        pass
    with pytest.raises(DatadirError, match="belongs to another network or genesis"):
        await run_from_datadir(datadir, handle_signals=False, node_factory=StandInNode)


def test_overrides_replace_listen_and_peers_and_check_the_network(datadir: Path) -> None:
    from timecoin_net import load_datadir

    loaded = load_datadir(datadir)
    peer = Endpoint("127.0.0.1", 9)
    changed = apply_overrides(loaded, NodeOverrides(listen=Endpoint("127.0.0.1", 5), peers=(peer,), network="devnet"))
    assert changed.config.listen == Endpoint("127.0.0.1", 5)
    assert changed.config.peers == (peer,)
    assert apply_overrides(loaded, None) is loaded
    with pytest.raises(DatadirError, match="is a datadir of network 'devnet', not 'mainnet'"):
        apply_overrides(loaded, NodeOverrides(network="mainnet"))


async def test_a_shutdown_that_hangs_is_cancelled_with_exit_1(datadir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import timecoin_net.runner as runner

    monkeypatch.setattr(runner, "SHUTDOWN_GRACE", 0.05)
    ready = anyio.Event()

    async def signal_once() -> None:
        await ready.wait()
        os.kill(os.getpid(), signal.SIGTERM)

    async with anyio.create_task_group() as group:
        group.start_soon(signal_once)
        with anyio.fail_after(30):
            code = await run_from_datadir(
                datadir,
                on_ready=lambda _: ready.set(),
                node_factory=lambda d, s, r: StandInNode(d, s, r, obey_stop=False),
            )
    assert code == runner.EXIT_FAILED
    status = read_status(datadir)
    assert status is not None and status.exit_code == runner.EXIT_FAILED
