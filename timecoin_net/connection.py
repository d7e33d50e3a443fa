"""One peer connection: a :class:`~timecoin_core.wire.PeerSession` driven over an anyio byte stream.

Theory of operation. The session is the whole protocol; a :class:`Connection` only
moves bytes and time, the way httpcore's HTTP/1.1 connection drives h11. It runs four
tasks in its own task group:

* the *reader* reads up to ``read_size`` bytes, feeds them to
  ``session.receive_data(data, now)`` and puts what the session reports
  (:class:`~timecoin_core.wire.HandshakeComplete`, :class:`~timecoin_core.wire.MessageReceived`)
  into the connection's own bounded memory stream. Decoding a frame is all the work it
  does: signatures are checked by the node, off the event loop. Pings are answered by
  the session inside ``receive_data``, so they keep flowing whatever the node is busy with;
* the *forwarder* moves events from that bounded stream into the node's inbox. A peer
  that sends faster than the node consumes fills its own stream first; the reader
  then stops reading, TCP pushes back on the peer (it is throttled), and if the
  stream stays full for ``stall_timeout`` the connection is closed (a fault, not an
  offence: the node may simply be slow). The node's memory never holds more than the
  bounded streams allow;
* the *writer* waits until there is something to send and writes
  ``session.data_to_send(write_size)`` (messages are sealed only as they leave, in
  priority order, so a consensus message overtakes a queue of transactions);
* the *timer* sleeps until ``session.timer_deadline()`` and calls ``handle_timer``
  (handshake deadline, pings, pong and idle timeouts).

Whatever closes the session (the peer's bytes, a timer, the node's :meth:`Connection.close`,
a send queue over its cap, the end of the stream), the writer flushes the final bytes
(the ``Goodbye``) for at most ``flush_timeout`` seconds, the stream is closed and
:meth:`Connection.run` returns the session's :class:`~timecoin_core.wire.Closed`.
Events still queued for the node are dropped (counted): a closed peer's messages are
not worth waiting for.

Everything runs on one event loop thread, so the session needs no lock; the node calls
:meth:`Connection.send` and :meth:`Connection.close` synchronously from its own task.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol

import anyio
import anyio.abc
import anyio.lowlevel
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from timecoin_core.wire import (
    Closed,
    ErrorCode,
    HandshakeComplete,
    Message,
    MessageReceived,
    PeerSession,
    SessionState,
)

__all__ = ["Connection", "PeerClosed", "PeerEvent", "SendFaults"]


class SendFaults(Protocol):
    """Message-level faults on one link (the in-memory test network's loss, duplication, reordering).

    A byte stream never loses, repeats or reorders bytes, so faults of that kind are
    injected above the session, on messages, before they are sealed: ``plan(message)``
    returns the messages to send now (``[]`` drops it, ``[m, m]`` repeats it, holding
    one back and returning it with the next reorders them).
    """

    def plan(self, message: Message) -> list[Message]:
        """The messages to hand the session in place of ``message``."""
        ...


@dataclass(frozen=True, slots=True)
class PeerEvent:
    """``connection`` reported ``event`` (a handshake or a message) to the node."""

    connection: Connection
    event: HandshakeComplete | MessageReceived


@dataclass(frozen=True, slots=True)
class PeerClosed:
    """``connection`` ended with ``closed`` (sent once, after its tasks have stopped)."""

    connection: Connection
    closed: Closed


class Connection:
    """One peer connection: a session, its stream, and the tasks that drive them.

    ``host``/``port`` are the remote end as seen on the socket; ``address`` is the
    ``"host:port"`` we dialled (outbound) or ``None`` (inbound). ``peer_id`` is the
    connection policy's handle for it. ``on_handshake`` is called synchronously with the
    session's :class:`~timecoin_core.wire.HandshakeComplete`, before the node hears of
    it; returning False closes the connection (a duplicate of a connected identity).
    """

    def __init__(
        self,
        stream: anyio.abc.ByteStream,
        session: PeerSession,
        *,
        peer_id: int,
        host: str,
        port: int,
        inbound: bool,
        address: str | None = None,
        queue_size: int = 64,
        stall_timeout: float = 30.0,
        flush_timeout: float = 2.0,
        read_size: int = 64 * 1024,
        write_size: int = 256 * 1024,
        faults: SendFaults | None = None,
        on_handshake: Callable[[Connection, HandshakeComplete], bool] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.session = session
        self.peer_id = peer_id
        self.host = host
        self.port = port
        self.inbound = inbound
        self.address = address
        self.identity: bytes | None = None
        """The peer's proven identity key once the handshake completed."""
        self.connected_at = clock()
        self._queue_size = queue_size
        self._stall_timeout = stall_timeout
        self._flush_timeout = flush_timeout
        self._read_size = read_size
        self._write_size = write_size
        self._faults = faults
        self._on_handshake = on_handshake
        self._clock = clock
        self._wake = anyio.Event()
        self._ended = anyio.Event()
        self._timer_wake = anyio.Event()
        self._sleeping_until = float("inf")
        self._counters: Counter[str] = Counter()
        self._started = False

    def __repr__(self) -> str:
        who = self.identity.hex()[:12] if self.identity else "?"
        direction = "in" if self.inbound else "out"
        return f"<Connection {self.peer_id} {direction} {self.host}:{self.port} {who} {self.session.state.value}>"

    # -- views ---------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """True once the handshake completed and until the session closes."""
        return self.session.state is SessionState.READY and self.identity is not None

    @property
    def counters(self) -> Mapping[str, int]:
        """The connection's own counts (``stalled``, ``dropped_on_close``, ``faults.*``) (a snapshot)."""
        return MappingProxyType(dict(self._counters))

    # -- called by the node (synchronously, on the event loop) -----------------------------

    def send(self, message: Message) -> None:
        """Queue ``message`` for the peer; a no-op unless the connection is ready."""
        if not self.ready:
            self._counters["send_not_ready"] += 1
            return
        planned = [message] if self._faults is None else self._faults.plan(message)
        if len(planned) != 1:
            self._counters["faults.planned"] += 1
        for item in planned:
            if self.session.state is not SessionState.READY:
                break
            # A Closed(SEND_QUEUE_FULL) comes back here; the writer sees the closed
            # session and ends the connection, whose run() then reports it.
            self.session.send(item)
        self._poke()

    def close(self, code: ErrorCode = ErrorCode.CLOSED_BY_LOCAL, detail: str = "", *, flush: bool = False) -> None:
        """Close the session (a ``Goodbye`` with ``code`` goes out, after the queue when ``flush``)."""
        self.session.close(code, detail, flush=flush)
        self._poke()

    def _poke(self) -> None:
        # Something may be queued, or the session may have closed: wake the writer and,
        # once closed, start the flush deadline.
        self._wake.set()
        if self.session.closed is not None:
            self._ended.set()
        # The handshake moves the timer deadline from the handshake timeout to the first
        # ping, which can be earlier: wake the timer task to sleep on the new one.
        deadline = self.session.timer_deadline()
        if deadline is None or deadline < self._sleeping_until:
            self._timer_wake.set()

    # -- the tasks ----------------------------------------------------------------------

    async def run(self, inbox: MemoryObjectSendStream[PeerEvent | PeerClosed]) -> Closed:
        """Drive the connection until its session closes; returns how it ended.

        Events go to ``inbox`` (the node's); the final :class:`PeerClosed` is *not* sent
        here (the connection manager sends it once its own bookkeeping is done).
        """
        if self._started:
            raise RuntimeError("a connection runs once")
        self._started = True
        send, receive = anyio.create_memory_object_stream[HandshakeComplete | MessageReceived](self._queue_size)
        self._poke()  # the session's opening is already queued
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._read, send)
                tg.start_soon(self._write, tg.cancel_scope)
                tg.start_soon(self._tick)
                tg.start_soon(self._watchdog, tg.cancel_scope)
                tg.start_soon(self._forward, receive, inbox)
        finally:
            self._counters["dropped_on_close"] += receive.statistics().current_buffer_used
            send.close()
            receive.close()
            with anyio.CancelScope(shield=True), anyio.move_on_after(self._flush_timeout):
                await self.stream.aclose()
        closed = self.session.closed
        if closed is None:
            # Cancelled from outside (the node is shutting down) before the session ended.
            self.session.close(ErrorCode.CLOSED_BY_LOCAL, "shutdown")
            closed = self.session.closed
        assert closed is not None
        return closed

    async def _read(self, queue: MemoryObjectSendStream[HandshakeComplete | MessageReceived]) -> None:
        session = self.session
        while session.closed is None:
            try:
                data = await self.stream.receive(self._read_size)
            except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                data = b""
            events = session.receive_data(data, self._clock())
            self._poke()
            for event in events:
                if isinstance(event, Closed):
                    continue
                if isinstance(event, HandshakeComplete):
                    self.identity = event.identity.data
                    if self._on_handshake is not None and not self._on_handshake(self, event):
                        self.close(ErrorCode.CLOSED_BY_LOCAL, "duplicate connection")
                        break
                await self._put(queue, event)
                if session.closed is not None:
                    break
        # The writer flushes the Goodbye and cancels the group; nothing more to read.

    async def _put(
        self,
        queue: MemoryObjectSendStream[HandshakeComplete | MessageReceived],
        event: HandshakeComplete | MessageReceived,
    ) -> None:
        try:
            queue.send_nowait(event)
            return
        except anyio.WouldBlock:
            self._counters["throttled"] += 1
        with anyio.move_on_after(self._stall_timeout):
            await queue.send(event)
            return
        # The node has not taken one of this peer's messages for stall_timeout: the
        # peer sends more than we can use. A fault (the node may just be slow), not an offence.
        self._counters["stalled"] += 1
        self.close(ErrorCode.RATE_LIMITED, "inbound queue stalled")

    async def _forward(
        self,
        queue: MemoryObjectReceiveStream[HandshakeComplete | MessageReceived],
        inbox: MemoryObjectSendStream[PeerEvent | PeerClosed],
    ) -> None:
        async for event in queue:
            try:
                await inbox.send(PeerEvent(self, event))
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                # The node stopped consuming (shutdown): nothing more to deliver.
                self._counters["dropped_node_gone"] += 1
                return

    async def _write(self, scope: anyio.CancelScope) -> None:
        session = self.session
        stream = self.stream
        try:
            while True:
                await self._wake.wait()
                # Let the rest of this loop iteration queue its messages too: one write
                # (one syscall) for a burst instead of one per message.
                await anyio.lowlevel.checkpoint()
                self._wake = anyio.Event()
                if session.closed is not None:
                    break
                while data := session.data_to_send(self._write_size):
                    await stream.send(data)
                if session.closed is not None:
                    break
            # The session is closed: its last bytes (the Goodbye) go out if the peer reads.
            with anyio.move_on_after(self._flush_timeout):
                while data := session.data_to_send():
                    await stream.send(data)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            if session.closed is None:
                session.receive_data(b"", self._clock())
            self._poke()
        finally:
            scope.cancel()

    async def _tick(self) -> None:
        session = self.session
        while True:
            deadline = session.timer_deadline()
            if deadline is None:
                return
            self._sleeping_until = deadline
            self._timer_wake = anyio.Event()
            with anyio.move_on_after(max(0.0, deadline - self._clock())):
                await self._timer_wake.wait()
            self._sleeping_until = float("inf")
            # Acts only on deadlines that have passed, so an early wake-up is harmless.
            session.handle_timer(self._clock())
            self._poke()

    async def _watchdog(self, scope: anyio.CancelScope) -> None:
        # A writer blocked on a peer that stopped reading would hold the connection open
        # forever: once the session is closed it has flush_timeout to finish.
        await self._ended.wait()
        await anyio.sleep(self._flush_timeout)
        self._counters["flush_timeout"] += 1
        scope.cancel()
