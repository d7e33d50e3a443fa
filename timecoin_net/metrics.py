"""Prometheus metrics of one node: :class:`NodeMetrics`, its ``/metrics`` server and the loop-lag monitor.

Every :class:`NodeMetrics` owns its own ``CollectorRegistry``, never prometheus_client's
global one, so several nodes in one process (tests, the in-process network) keep
separate numbers. Names are ``timecoin_<subsystem>_<name>_<unit>``; no label ever names
a peer (that would grow without bound). Labels whose values come from the runtime
(disconnect reasons, offences, RPC methods) are capped at :data:`MAX_LABEL_VALUES`
distinct values each; later ones are counted as ``"other"``.

The runtime calls the ``observe_*``/``set_*``/``count_*`` methods; :class:`MetricsServer`
serves ``GET /metrics`` (h11 on anyio, 127.0.0.1 by default, no auth, its own port);
:meth:`NodeMetrics.monitor_event_loop_lag` is a task feeding the loop-lag histogram.
docs/metrics.md describes every metric.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from enum import Enum
from types import TracebackType

import anyio
import anyio.abc
import h11
from anyio.abc import SocketAttribute
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from timecoin_core.errors import InvalidArgumentError

from .rpc import _http
from .rpc._http import IPNetwork

__all__ = ["CONTENT_TYPE", "MAX_LABEL_VALUES", "MetricsServer", "NodeMetrics"]

_log = logging.getLogger(__name__)

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"
"""The Prometheus text exposition format."""

MAX_LABEL_VALUES = 64
"""Distinct values a runtime-fed label may take; further values are counted as ``other``."""

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0)
_ROUND_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0)
_LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class _Labels:
    """A bounded set of label values: the first :data:`MAX_LABEL_VALUES`, then ``other``."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def __call__(self, value: str | Enum) -> str:
        text = str(value.value if isinstance(value, Enum) else value)[:64]
        if text in self._seen:
            return text
        if len(self._seen) >= MAX_LABEL_VALUES:
            return "other"
        self._seen.add(text)
        return text


class NodeMetrics:
    """Every metric of one node, in a registry of its own (:attr:`registry`).

    :meth:`exposition` renders it in the Prometheus text format.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        """This node's registry (pass it to prometheus_client's tools)."""
        r = self.registry
        self.finality_latency = Histogram(
            "timecoin_finality_latency_seconds",
            "Time from a transaction's submission or admission at this node to its finality",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.consensus_height = Gauge("timecoin_consensus_height", "Height of the last committed block", registry=r)
        self.round_duration = Histogram(
            "timecoin_consensus_round_duration_seconds",
            "Time from the start of a height to its block's commit",
            buckets=_ROUND_BUCKETS,
            registry=r,
        )
        self.peers = Gauge("timecoin_p2p_peers", "Connected peers by direction", ["direction"], registry=r)
        self.disconnects = Counter(
            "timecoin_p2p_disconnects_total", "Peer disconnections by reason", ["reason"], registry=r
        )
        self.offences = Counter(
            "timecoin_p2p_offences_total", "Protocol offences by peers, by kind", ["offence"], registry=r
        )
        self.throttled = Counter(
            "timecoin_p2p_throttled_total", "Messages dropped by a per-peer rate limit", registry=r
        )
        self.send_queue_bytes = Gauge(
            "timecoin_p2p_send_queue_bytes", "Bytes waiting in every peer's send queue together", registry=r
        )
        self.mempool_size = Gauge("timecoin_mempool_size", "Transactions in the pool", registry=r)
        self.mempool_bytes = Gauge("timecoin_mempool_bytes", "Bytes of the transactions in the pool", registry=r)
        self.sync_blocks_applied = Counter(
            "timecoin_sync_blocks_applied_total", "Blocks applied by block sync", registry=r
        )
        self.verify_queue_depth = Gauge(
            "timecoin_verify_queue_depth", "Signature checks submitted to the verifier and not yet answered", registry=r
        )
        self.event_loop_lag = Histogram(
            "timecoin_event_loop_lag_seconds",
            "How late the event loop woke a sleeping task (time it spent blocked)",
            buckets=_LAG_BUCKETS,
            registry=r,
        )
        self.rpc_requests = Counter(
            "timecoin_rpc_requests_total", "JSON-RPC requests by method and answer code (0: success)",
            ["method", "code"], registry=r,
        )
        self._reasons = _Labels()
        self._offences = _Labels()
        self._methods = _Labels()

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)

    # -- observations (called by the runtime) -------------------------------------------

    def observe_finality_latency(self, seconds: float) -> None:
        """A transaction became final ``seconds`` after it was submitted or admitted here."""
        self.finality_latency.observe(max(0.0, seconds))

    def set_height(self, height: int) -> None:
        """A block committed at ``height``."""
        self.consensus_height.set(height)

    def observe_round_duration(self, seconds: float) -> None:
        """A height took ``seconds`` from its start to its commit."""
        self.round_duration.observe(max(0.0, seconds))

    def set_peers(self, inbound: int, outbound: int) -> None:
        """The connected peer counts."""
        self.peers.labels(direction="inbound").set(inbound)
        self.peers.labels(direction="outbound").set(outbound)

    def count_disconnect(self, reason: str | Enum) -> None:
        """A peer was disconnected for ``reason`` (a short code such as ``ping-timeout``)."""
        self.disconnects.labels(reason=self._reasons(reason)).inc()

    def count_offence(self, offence: str | Enum) -> None:
        """A peer committed ``offence``."""
        self.offences.labels(offence=self._offences(offence)).inc()

    def count_throttled(self, messages: int = 1) -> None:
        """``messages`` were dropped by a rate limit."""
        self.throttled.inc(messages)

    def set_send_queue_bytes(self, size: int) -> None:
        """Bytes queued for sending, over all peers."""
        self.send_queue_bytes.set(size)

    def set_mempool(self, size: int, size_bytes: int = 0) -> None:
        """The pool holds ``size`` transactions of ``size_bytes`` bytes."""
        self.mempool_size.set(size)
        self.mempool_bytes.set(size_bytes)

    def count_sync_blocks(self, blocks: int = 1) -> None:
        """Block sync applied ``blocks`` blocks."""
        self.sync_blocks_applied.inc(blocks)

    def set_verify_queue_depth(self, depth: int) -> None:
        """Signature checks in flight at the verifier."""
        self.verify_queue_depth.set(depth)

    def observe_event_loop_lag(self, seconds: float) -> None:
        """The loop woke a task ``seconds`` late."""
        self.event_loop_lag.observe(max(0.0, seconds))

    def count_rpc_request(self, method: str, code: int) -> None:
        """An RPC request for ``method`` was answered with ``code`` (0: success)."""
        self.rpc_requests.labels(method=self._methods(method), code=str(int(code))).inc()

    async def monitor_event_loop_lag(
        self,
        interval: float = 0.5,
        *,
        clock: Callable[[], float] = anyio.current_time,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """Forever: sleep ``interval`` seconds and record how much later than asked it woke.

        Run it in the node's task group (``await group.start(metrics.monitor_event_loop_lag)``);
        cancel the group to stop it. A loop blocked by CPU work (a slow handler, a
        synchronous signature check) shows up here.

        :raises InvalidArgumentError: ``interval`` is negative.
        """
        if not interval >= 0:
            raise InvalidArgumentError("interval", f"expected a non-negative number of seconds, got {interval!r}")
        task_status.started()
        while True:
            start = clock()
            await sleep(interval)
            self.observe_event_loop_lag(clock() - start - interval)


class MetricsServer:
    """Serves ``GET /metrics`` of a :class:`NodeMetrics` over HTTP/1.1 (h11 on anyio).

    ``async with MetricsServer(metrics) as server:`` binds ``host`` (127.0.0.1) on
    ``port`` (0: a free one, read :attr:`port`). A non-loopback ``host`` needs ``allow``,
    the client networks admitted besides loopback. No auth (like CometBFT's): the
    numbers are not secret, and the default bind is loopback.

    :raises ~timecoin_net.rpc.BindRefusedError: a non-loopback ``host`` without ``allow``.
    :raises InvalidArgumentError: ``metrics`` is not a NodeMetrics.
    """

    def __init__(
        self,
        metrics: NodeMetrics,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        allow: Sequence[IPNetwork] = (),
        request_timeout: float = 10.0,
    ) -> None:
        if not isinstance(metrics, NodeMetrics):
            raise InvalidArgumentError("metrics", f"expected a NodeMetrics, got {type(metrics).__name__}")
        self.metrics = metrics
        self._host = _http.check_bind(host, allow, "the metrics server")
        self._port_wanted = port
        self._allow = tuple(allow)
        self._timeout = request_timeout
        self._port: int | None = None
        self._stack: contextlib.AsyncExitStack | None = None
        self._group: anyio.abc.TaskGroup | None = None

    @property
    def port(self) -> int:
        """The TCP port (after start)."""
        if self._port is None:
            raise InvalidArgumentError("port", "the server has not started")
        return self._port

    @property
    def url(self) -> str:
        """``http://host:port/metrics``."""
        return f"http://{self._host}:{self.port}/metrics"

    async def __aenter__(self) -> MetricsServer:
        self._stack = await _http.serve_in_background(self.serve)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._group is not None:
            self._group.cancel_scope.cancel()
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.__aexit__(kind, value, traceback)

    async def serve(self, *, task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED) -> None:
        """Listen and serve until cancelled; reports the port to ``task_status``."""
        listener = await anyio.create_tcp_listener(local_host=self._host, local_port=self._port_wanted)
        async with listener, anyio.create_task_group() as group:
            self._group = group
            self._port = int(listener.listeners[0].extra(SocketAttribute.local_port))
            task_status.started(self._port)
            await listener.serve(self._connection, task_group=group)

    async def _connection(self, stream: anyio.abc.SocketStream) -> None:
        try:
            async with stream:
                await self._serve(stream)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, anyio.EndOfStream, OSError):
            pass
        except Exception:
            _log.exception("metrics connection failed")

    async def _serve(self, stream: anyio.abc.SocketStream) -> None:
        remote = stream.extra(SocketAttribute.remote_address)
        allowed = _http.client_allowed(remote[0] if isinstance(remote, tuple) else remote, self._allow)
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=16 * 1024)
        while True:
            request: h11.Request | None = None
            event: object = None
            with anyio.move_on_after(self._timeout):
                try:
                    while True:
                        event = conn.next_event()
                        if event is h11.NEED_DATA:
                            conn.receive_data(await _http.receive(stream))
                        elif isinstance(event, h11.Request):
                            request = event
                        elif not isinstance(event, h11.Data):  # a body is read and ignored
                            break
                except h11.RemoteProtocolError as exc:
                    body = b"bad request\n"
                    await _http.respond(stream, conn, exc.error_status_hint, body, content_type=b"text/plain", close=True)
                    return
            if request is None or not isinstance(event, h11.EndOfMessage):
                return
            path = request.target.split(b"?", 1)[0]
            if not allowed:
                await _http.respond(stream, conn, 403, b"forbidden\n", content_type=b"text/plain", close=True)
                return
            if path != b"/metrics":
                ok = await _http.respond(stream, conn, 404, b"not found: GET /metrics\n", content_type=b"text/plain")
            elif request.method not in (b"GET", b"HEAD"):
                ok = await _http.respond(
                    stream, conn, 405, b"use GET\n", content_type=b"text/plain", headers=[(b"allow", b"GET, HEAD")]
                )
            else:
                body = self.metrics.exposition()
                ok = await _http.respond(stream, conn, 200, b"" if request.method == b"HEAD" else body, content_type=CONTENT_TYPE)
            if not ok or conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                return
            conn.start_next_cycle()
