"""FaultProxy: a TCP relay per link with blackhole, delay and reset switches, for process tests.

Theory of operation
-------------------
``tc netem`` does not exist on the kernels these tests run on, so faults between node
processes are injected by relaying each link through a proxy: node A dials the proxy's
address instead of B's, and the proxy dials B. Each accepted connection gets two pumps
(one per direction); a pump reads a chunk, stamps it with the time it may be delivered
(now + ``delay``) and hands it through a small bounded buffer to a writer that waits for
that time and forwards it. Order is kept, back-pressure reaches the sender through the
bounded buffer, and the switches take effect at once:

* ``blackhole = True`` drops every chunk (in flight included) in both directions while
  the connections stay open, as a partition does; a node notices only by its timeouts.
* ``delay = d`` delays every chunk read from now on by ``d`` seconds, in both directions.
* :meth:`FaultProxy.reset` aborts every open connection with a TCP reset on both sides.
* ``refuse = True`` resets new connections as soon as they are accepted.

A connection accepted while the target is down is closed (end of stream, counted in
``refused_upstream``), not reset: the relay cannot refuse it any more, and a reset is
the fault ``refuse`` and ``reset`` inject on purpose.

The proxy binds 127.0.0.1 by default and lives in the caller's task group
(``async with FaultProxy(target) as proxy:``), so it is gone when the test is.
"""

from __future__ import annotations

import contextlib
import math
import socket
import struct
from collections.abc import Callable
from types import TracebackType
from typing import Final, Self

import anyio
import anyio.abc
import anyio.streams.stapled
from anyio.abc import SocketAttribute

from timecoin_core.errors import InvalidArgumentError

__all__ = ["FaultProxy"]

_CHUNK: Final = 65536
_IN_FLIGHT: Final = 64
"""Chunks a pump may hold per direction before it stops reading (back-pressure)."""


def _abort(stream: anyio.abc.SocketStream) -> None:
    # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
    with contextlib.suppress(OSError):
        raw = stream.extra(SocketAttribute.raw_socket)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class _Link:
    """One relayed connection: the accepted client side and the dialled target side."""

    def __init__(self, client: anyio.abc.SocketStream, upstream: anyio.abc.SocketStream) -> None:
        self.client = client
        self.upstream = upstream
        self.scope = anyio.CancelScope()
        self.reset = False


class FaultProxy:
    """Relays TCP connections from :attr:`address` to ``target``; see the module docstring.

    ``listen`` is the address to bind (port 0: any free port, read it from
    :attr:`address` once entered). The switches :attr:`blackhole`, :attr:`delay` and
    :attr:`refuse` may be flipped at any time; :attr:`connections` counts accepted
    connections and :attr:`bytes_relayed` the bytes delivered.
    """

    def __init__(self, target: tuple[str, int], *, listen: tuple[str, int] = ("127.0.0.1", 0)) -> None:
        host, port = target
        if not isinstance(port, int) or not 1 <= port <= 65535:
            raise InvalidArgumentError("target", f"port must be in 1..65535, not {port!r}")
        self.target = (host, port)
        self.listen = listen
        self.blackhole = False
        self.refuse = False
        self._delay = 0.0
        self.connections = 0
        self.bytes_relayed = 0
        self.bytes_dropped = 0
        self.refused_upstream = 0
        self._links: set[_Link] = set()
        self._listener: anyio.streams.stapled.MultiListener[anyio.abc.SocketStream] | None = None
        self._group: anyio.abc.TaskGroup | None = None
        self._address: tuple[str, int] | None = None
        self._changed = anyio.Event()

    @property
    def delay(self) -> float:
        """Seconds each chunk is held before it is forwarded (0: none)."""
        return self._delay

    @delay.setter
    def delay(self, seconds: float) -> None:
        if not isinstance(seconds, int | float) or not math.isfinite(seconds) or seconds < 0:
            raise InvalidArgumentError("delay", f"must be a finite number of seconds >= 0, not {seconds!r}")
        self._delay = float(seconds)

    @property
    def address(self) -> tuple[str, int]:
        """The ``(host, port)`` peers should dial instead of the target."""
        if self._address is None:
            raise InvalidArgumentError("address", "the proxy is not serving (use: async with FaultProxy(...))")
        return self._address

    @property
    def open_links(self) -> int:
        """Connections currently relayed."""
        return len(self._links)

    async def wait_until(self, condition: Callable[[FaultProxy], bool]) -> None:
        """Return once ``condition(self)`` holds; it is checked whenever a counter changes.

        For example ``await proxy.wait_until(lambda p: p.bytes_dropped >= 4)``: a test
        waits on what the proxy did, never on a sleep.
        """
        while not condition(self):
            await self._changed.wait()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    def heal(self) -> None:
        """Turn every fault off: no blackhole, no delay, accept connections."""
        self.blackhole = False
        self.refuse = False
        self._delay = 0.0

    def reset(self) -> int:
        """Abort every open connection with a TCP reset on both sides; how many there were."""
        links = list(self._links)
        for link in links:
            link.reset = True
            _abort(link.client)
            _abort(link.upstream)
            link.scope.cancel()
        return len(links)

    async def __aenter__(self) -> Self:
        listener = await anyio.create_tcp_listener(local_host=self.listen[0], local_port=self.listen[1])
        self._listener = listener
        sockname = listener.extra(SocketAttribute.local_address)
        assert isinstance(sockname, tuple)
        self._address = (str(sockname[0]), int(sockname[1]))
        group = anyio.create_task_group()
        await group.__aenter__()
        self._group = group
        group.start_soon(listener.serve, self._handle, group)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._group is not None and self._listener is not None
        self._group.cancel_scope.cancel()
        await self._group.__aexit__(None, None, None)
        with anyio.CancelScope(shield=True):
            await self._listener.aclose()
        self._address = None

    async def _handle(self, client: anyio.abc.SocketStream) -> None:
        self.connections += 1
        self._notify()
        if self.refuse:
            _abort(client)
            await client.aclose()
            return
        try:
            upstream = await anyio.connect_tcp(*self.target)
        except OSError:
            # The target is down: the dialler's connection is closed (end of stream), the
            # nearest a relay that already accepted can come to "connection refused".
            self.refused_upstream += 1
            await client.aclose()
            return
        link = _Link(client, upstream)
        self._links.add(link)
        try:
            with link.scope:
                async with anyio.create_task_group() as pumps:
                    pumps.start_soon(self._pump, client, upstream, pumps)
                    pumps.start_soon(self._pump, upstream, client, pumps)
        finally:
            self._links.discard(link)
            with anyio.CancelScope(shield=True):
                await client.aclose()
                await upstream.aclose()

    async def _pump(
        self, source: anyio.abc.SocketStream, sink: anyio.abc.SocketStream, pumps: anyio.abc.TaskGroup
    ) -> None:
        send, receive = anyio.create_memory_object_stream[tuple[float, bytes]](_IN_FLIGHT)

        async def deliver() -> None:
            async with receive:
                async for due, data in receive:
                    wait = due - anyio.current_time()
                    if wait > 0:
                        await anyio.sleep(wait)
                    if self.blackhole:
                        self.bytes_dropped += len(data)
                        self._notify()
                        continue
                    try:
                        await sink.send(data)
                    except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                        # What one side cannot deliver ends the whole link, as a broken
                        # TCP path would.
                        pumps.cancel_scope.cancel()
                        return
                    self.bytes_relayed += len(data)
                    self._notify()

        async with anyio.create_task_group() as group:
            group.start_soon(deliver)
            async with send:
                while True:
                    try:
                        data = await source.receive(_CHUNK)
                    except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                        break
                    if self.blackhole:
                        self.bytes_dropped += len(data)
                        self._notify()
                        continue
                    await send.send((anyio.current_time() + self._delay, data))
        # The source closed: pass the end of stream on once everything before it is delivered.
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            await sink.send_eof()

    def __repr__(self) -> str:
        where = "not serving" if self._address is None else f"{self._address[0]}:{self._address[1]}"
        return (
            f"FaultProxy({where} -> {self.target[0]}:{self.target[1]}, blackhole={self.blackhole}, "
            f"delay={self._delay}, links={len(self._links)})"
        )
