"""Running a node from its datadir: what ``timecoin node run`` does, as a library call.

Theory of operation
-------------------
:func:`run_from_datadir` loads and checks the datadir (:func:`~timecoin_net.config.load_datadir`),
opens its store, builds a :class:`timecoin_net.Node` and runs it in one task group
next to two small tasks: one turns signals into a shutdown, one writes the node's
``status.json`` every second (the devnet launcher and ``devnet status`` read it).

Signals: the first SIGINT or SIGTERM asks the node to stop (``Node.stop``: it drains
and persists in its own shielded scope, bounded by its deadline) and the call returns
0 once ``Node.run`` has returned; a second signal cancels everything that is not
shielded and the call returns 130, as a shell reports a process killed by Ctrl-C.
Every error the operator can cause (a bad datadir, a store locked by another node, a
store of another network, a port in use) is raised as a
:class:`~timecoin_net.config.DatadirError` before the node runs, with one line that
says what is wrong.
"""

from __future__ import annotations

import dataclasses
import errno
import logging
import os
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import anyio
import anyio.abc
from pydantic import ValidationError

from timecoin_core.block import genesis_block
from timecoin_core.errors import InvalidArgumentError
from timecoin_core.store import (
    NetworkMismatchError,
    SchemaTooNewError,
    SqliteStore,
    Store,
    StoreError,
    StoreLockedError,
)

from .config import Datadir, DatadirError, Endpoint, describe_validation_error, load_datadir
from .devnet import NodeStatus, write_status
from .metrics import MetricsServer
from .node import Node
from .node_rpc import NodeBackend
from .rpc import BindRefusedError, RpcServer, RpcServerConfig
from .settings import RuntimeSettings

__all__ = ["EXIT_FAILED", "EXIT_FORCED", "SHUTDOWN_GRACE", "NodeOverrides", "RunnableNode", "run_from_datadir"]

EXIT_FORCED = 130
"""The exit code after a second signal forced the node down (128 + SIGINT, as shells report Ctrl-C)."""

EXIT_FAILED = 1
"""The exit code when the node failed, or did not finish its shutdown within :data:`SHUTDOWN_GRACE`."""

SHUTDOWN_GRACE = 15.0
"""Seconds the node may take to shut down after the first signal before it is cancelled
(its own drain deadline is 5 s; this only catches a shutdown that hangs)."""

STATUS_INTERVAL = 1.0
"""Seconds between two writes of ``status.json``."""

_log = logging.getLogger("timecoin_net.runner")


@dataclass(frozen=True, slots=True)
class NodeOverrides:
    """Command-line values that replace node.toml's for one run (None: keep the file's).

    ``network`` is a check, not a switch: a datadir's store belongs to one network, so
    naming another is refused.
    """

    listen: Endpoint | None = None
    peers: tuple[Endpoint, ...] | None = None
    network: str | None = None


class RunnableNode(Protocol):
    """What :func:`run_from_datadir` needs of a node (:class:`timecoin_net.Node` is one)."""

    async def run(self, *, task_status: anyio.abc.TaskStatus[tuple[str, int]] = ...) -> None:
        """Serve until :meth:`stop`; report the bound p2p address through ``task_status``."""

    def stop(self) -> None:
        """Begin a graceful shutdown (idempotent)."""

    @property
    def height(self) -> int:
        """Height of the committed chain."""

    def peer_count(self) -> int:
        """Peers with a completed handshake."""

    def finality_latency(self, percentiles: Sequence[float] = ...) -> dict[float, float]:
        """Seconds from first sight to final, by percentile; empty before any transaction is final."""


NodeFactory = Callable[[Datadir, Store, dict[str, Any]], RunnableNode]
"""Builds the node of a datadir on an open store with validated runtime settings."""


def apply_overrides(datadir: Datadir, overrides: NodeOverrides | None) -> Datadir:
    """``datadir`` with ``overrides`` applied to its configuration; :class:`DatadirError` for a wrong network."""
    if overrides is None:
        return datadir
    if overrides.network is not None and overrides.network != datadir.network.name:
        raise DatadirError(
            datadir.path, f"is a datadir of network {datadir.network.name!r}, not {overrides.network!r}"
        )
    update: dict[str, object] = {}
    if overrides.listen is not None:
        update["listen"] = overrides.listen
    if overrides.peers is not None:
        update["peers"] = overrides.peers
    return dataclasses.replace(datadir, config=datadir.config.model_copy(update=update))


def _default_factory(datadir: Datadir, store: Store, runtime: dict[str, Any]) -> RunnableNode:
    try:
        settings = RuntimeSettings.model_validate(runtime)
    except ValidationError as exc:
        raise DatadirError(datadir.path / "node.toml", describe_validation_error(exc, ("runtime",))) from None
    config = datadir.config
    return Node(
        datadir.network,
        identity=datadir.identity,
        masternode_key=datadir.masternode_key,
        store=store,
        listen=config.p2p_endpoint().as_tuple(),
        peers=[p.as_tuple() for p in config.peers],
        settings=settings,
    )


class _Service(Protocol):
    async def serve(self, *, task_status: anyio.abc.TaskStatus[int] = ...) -> None: ...


def _services(node: RunnableNode, datadir: Datadir) -> list[tuple[str, Endpoint, _Service]]:
    """The RPC and metrics servers of a real :class:`Node` (a stand-in node gets none)."""
    if not isinstance(node, Node):
        return []
    config = datadir.config
    rpc = config.rpc_endpoint()
    metrics = config.metrics_endpoint()
    where = datadir.path / "node.toml"
    try:
        rpc_server = RpcServer(
            NodeBackend(node),
            RpcServerConfig(
                host=rpc.host, port=rpc.port, allow=config.rpc.allow, datadir=datadir.path, rpcauth=config.rpc.rpcauth
            ),
            metrics=node.metrics,
        )
        metrics_server = MetricsServer(node.metrics, host=metrics.host, port=metrics.port, allow=config.metrics.allow)
    except (BindRefusedError, InvalidArgumentError) as exc:
        raise DatadirError(where, str(exc)) from None
    return [("rpc", rpc, rpc_server), ("metrics", metrics, metrics_server)]


async def _open_store(datadir: Datadir) -> SqliteStore:
    path = datadir.store_path
    try:
        return await SqliteStore.open(path, datadir.network)
    except StoreLockedError:
        raise DatadirError(path, "in use by another process (is this node already running?)") from None
    except NetworkMismatchError as exc:
        raise DatadirError(path, f"belongs to another network or genesis: {exc}") from None
    except SchemaTooNewError as exc:
        raise DatadirError(path, f"written by a newer Timecoin: {exc}") from None
    except StoreError as exc:
        raise DatadirError(path, str(exc)) from None
    except OSError as exc:
        raise DatadirError(path, f"cannot open the store: {exc.strerror or exc}") from None


def _snapshot(node: RunnableNode, genesis: str, state: str, exit_code: int | None) -> NodeStatus:
    latency = node.finality_latency((50.0, 99.0))
    return NodeStatus(
        pid=os.getpid(),
        state=state,
        genesis=genesis,
        height=node.height,
        peers=node.peer_count(),
        finality_p50=latency.get(50.0),
        finality_p99=latency.get(99.0),
        updated=time.time(),
        exit_code=exit_code,
    )


async def run_from_datadir(
    path: str | os.PathLike[str],
    overrides: NodeOverrides | None = None,
    *,
    handle_signals: bool = True,
    on_ready: Callable[[tuple[str, int]], None] | None = None,
    node_factory: NodeFactory | None = None,
    signals: Sequence[signal.Signals] = (signal.SIGINT, signal.SIGTERM),
) -> int:
    """Run the node of the datadir at ``path`` until it is stopped; the process exit code.

    0 after a graceful stop (first SIGINT/SIGTERM, or the node stopping by itself), 130
    after a second signal forced it. ``on_ready(address)`` is called once the node
    listens. Raises :class:`DatadirError` (one clear line) for anything wrong with the
    datadir, its store or its ports, before the node serves. ``handle_signals=False``
    leaves signals alone (a caller embedding the node stops it itself);
    ``node_factory`` replaces how the node is built (tests).
    """
    datadir = apply_overrides(load_datadir(path), overrides)
    factory = node_factory or _default_factory
    genesis = genesis_block(datadir.network).hash.hex()
    store = await _open_store(datadir)
    exit_code = 0
    node: RunnableNode | None = None
    try:
        node = factory(datadir, store, dict(datadir.config.runtime))
        exit_code = await _serve(node, datadir, genesis, handle_signals, on_ready, tuple(signals))
        return exit_code
    except BaseException:
        exit_code = EXIT_FAILED
        raise
    finally:
        with anyio.CancelScope(shield=True):
            await store.close()
            if node is not None:
                write_status(datadir.path, _snapshot(node, genesis, "stopped", exit_code))


async def _serve(
    node: RunnableNode,
    datadir: Datadir,
    genesis: str,
    handle_signals: bool,
    on_ready: Callable[[tuple[str, int]], None] | None,
    signals: tuple[signal.Signals, ...],
) -> int:
    exit_code = 0
    stopping = False
    services = _services(node, datadir)

    async def watch_signals(*, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        nonlocal exit_code, stopping
        with anyio.open_signal_receiver(*signals) as received:
            task_status.started()
            async for signum in received:
                if not stopping:
                    stopping = True
                    _log.info("%s: stopping (a second signal forces exit)", signal.Signals(signum).name)
                    write_status(datadir.path, _snapshot(node, genesis, "stopping", None))
                    for _, _, service in services:
                        if isinstance(service, RpcServer):
                            # New requests get -28 while the node shuts down.
                            group.start_soon(service.aclose)
                    node.stop()
                    group.start_soon(watchdog)
                else:
                    _log.warning("%s again: forced exit", signal.Signals(signum).name)
                    exit_code = EXIT_FORCED
                    group.cancel_scope.cancel()

    async def watchdog() -> None:
        nonlocal exit_code
        await anyio.sleep(SHUTDOWN_GRACE)
        _log.error("the node did not shut down within %.0f s: cancelling it", SHUTDOWN_GRACE)
        exit_code = EXIT_FAILED
        group.cancel_scope.cancel()

    async def report() -> None:
        while True:
            await anyio.sleep(STATUS_INTERVAL)
            if not stopping:
                write_status(datadir.path, _snapshot(node, genesis, "running", None))

    done = anyio.Event()

    async def run_node(*, task_status: anyio.abc.TaskStatus[tuple[str, int]]) -> None:
        try:
            await node.run(task_status=task_status)
        finally:
            done.set()

    async def end_with_node() -> None:
        # The node returning (after stop(), or on its own) ends the helpers too.
        await done.wait()
        group.cancel_scope.cancel()

    try:
        async with anyio.create_task_group() as group:
            if handle_signals:
                await group.start(watch_signals)
            try:
                address: tuple[str, int] = await group.start(run_node)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    where = datadir.config.p2p_endpoint()
                    raise DatadirError(datadir.path / "node.toml", f"listen {where}: address already in use") from None
                raise
            for name, endpoint, service in services:
                try:
                    await group.start(service.serve)
                except OSError as exc:
                    raise DatadirError(
                        datadir.path / "node.toml", f"{name}.listen {endpoint}: {exc.strerror or exc}"
                    ) from None
                _log.info("%s listening on %s", name, endpoint)
            _log.info("listening on %s:%d (datadir %s)", address[0], address[1], datadir.path)
            # status.json exists before anyone is told the node is ready.
            write_status(datadir.path, _snapshot(node, genesis, "running", None))
            if on_ready is not None:
                on_ready(address)
            group.start_soon(report)
            group.start_soon(end_with_node)
    except BaseExceptionGroup as errors:
        # anyio wraps even a single failure in a group; the caller wants the failure.
        leaves = list(_leaves(errors))
        if len(leaves) == 1:
            raise leaves[0] from None
        raise
    return exit_code


def _leaves(group: BaseExceptionGroup[BaseException]) -> Iterator[BaseException]:
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            yield from _leaves(error)
        else:
            yield error
