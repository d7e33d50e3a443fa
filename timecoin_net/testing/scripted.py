"""``ScriptedPeer``: a peer a test scripts by hand, speaking the wire protocol over a real stream.

Modelled on Bitcoin Core's ``P2PInterface``: the peer completes the real handshake
(its own :class:`~timecoin_core.wire.PeerSession`), records every message it receives
(:attr:`ScriptedPeer.received`) and calls ``on_<message>`` hooks (``on_not_found``,
``on_status``, ``on_inv``, ...; subclass to override), sends what the test says
(:meth:`ScriptedPeer.send`), and offers a barrier instead of sleeps:
:meth:`ScriptedPeer.sync_with_ping` sends a ``GetData`` for a hash nobody has and waits
for the node's ``NotFound``. The node answers it from its consensus task, in order
after everything this peer sent before, so once it returns the node has handled all
of it. (A wire ``Ping`` would not do: sessions answer pings themselves, before the
node sees the messages ahead of them.)

For adversarial tests it can also put bytes on the stream that no honest session
would: :meth:`ScriptedPeer.send_frame` seals an arbitrary frame (any type, any payload,
valid record counters) and :meth:`ScriptedPeer.send_raw` writes raw bytes.
"""

from __future__ import annotations

import inspect
import os
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
import anyio.abc

from timecoin_core.errors import TimecoinError
from timecoin_core.keys import PrivateKey
from timecoin_core.network import Network
from timecoin_core.wire import (
    Closed,
    GetData,
    HandshakeComplete,
    InvItem,
    InvKind,
    Message,
    MessageReceived,
    NotFound,
    PeerSession,
    SessionConfig,
    pack_header,
)

from ..transport import TcpTransport, Transport

__all__ = ["ScriptedPeer", "ScriptedPeerError"]


class ScriptedPeerError(TimecoinError):
    """The scripted peer could not do what the test asked (not connected, closed, timed out)."""


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class ScriptedPeer:
    """A hand-driven peer (see the module docstring). Use :meth:`connect`."""

    def __init__(self, network: Network, key: PrivateKey | None = None, *, config: SessionConfig | None = None) -> None:
        self.network = network
        self.key = key or PrivateKey.from_seed(os.urandom(32))
        self.config = config or SessionConfig()
        self.received: list[Message] = []
        """Every message received, in order."""
        self.hello: HandshakeComplete | None = None
        self.closed: Closed | None = None
        self.session: PeerSession | None = None
        self._stream: anyio.abc.ByteStream | None = None
        self._changed = anyio.Event()
        self._send_lock = anyio.Lock()

    @classmethod
    @asynccontextmanager
    async def connect(
        cls,
        network: Network,
        address: tuple[str, int],
        *,
        key: PrivateKey | None = None,
        transport: Transport | None = None,
        config: SessionConfig | None = None,
        handshake: bool = True,
        timeout: float = 10.0,
    ) -> AsyncIterator[ScriptedPeer]:
        """Dial ``address`` and (unless ``handshake=False``) wait for the handshake; closes on exit."""
        peer = cls(network, key, config=config)
        failed: str | None = None
        async with peer._running(transport or TcpTransport(), address):
            if handshake:
                with anyio.move_on_after(timeout):
                    while peer.hello is None and peer.closed is None:
                        await peer._changed.wait()
                if peer.hello is None:
                    failed = f"handshake failed: {peer.closed or 'timed out'}"
            if failed is None:
                yield peer
        # Raised here, outside the peer's task group, so callers see this error itself.
        if failed is not None:
            raise ScriptedPeerError(failed)

    @asynccontextmanager
    async def _running(self, transport: Transport, address: tuple[str, int]) -> AsyncIterator[None]:
        link = await transport.connect(*address)
        self._stream = link.stream
        self.session = PeerSession(self.network, self.key, initiator=True, now=time.monotonic(), config=self.config)
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._read)
            tg.start_soon(self._tick)
            await self._flush()
            try:
                yield
            finally:
                tg.cancel_scope.cancel()
                with anyio.CancelScope(shield=True), anyio.move_on_after(1.0):
                    await link.stream.aclose()

    # -- waiting ----------------------------------------------------------------------------

    async def wait_for(self, predicate: Callable[[], bool], *, timeout: float = 10.0) -> None:
        """Wait until ``predicate()`` holds (re-checked whenever the peer hears something).

        :raises ScriptedPeerError: not within ``timeout`` seconds.
        """
        with anyio.move_on_after(timeout):
            while not predicate():
                changed = self._changed
                await changed.wait()
            return
        raise ScriptedPeerError(f"condition not met within {timeout} s")

    async def wait_for_message(self, kind: type[Message], *, timeout: float = 10.0) -> Message:
        """Wait for the next message of type ``kind`` received from now on."""
        start = len(self.received)
        await self.wait_for(lambda: any(isinstance(m, kind) for m in self.received[start:]), timeout=timeout)
        return next(m for m in self.received[start:] if isinstance(m, kind))

    async def wait_closed(self, *, timeout: float = 10.0) -> Closed:
        """Wait until the node ends the session; returns how it ended."""
        await self.wait_for(lambda: self.closed is not None, timeout=timeout)
        assert self.closed is not None
        return self.closed

    async def sync_with_ping(self, *, timeout: float = 10.0) -> float:
        """The barrier: returns once the node has handled everything sent before; the round trip in seconds."""
        nonce = os.urandom(32)
        started = time.monotonic()
        self.send(GetData((InvItem(InvKind.TX, nonce),)))
        await self.flush()

        def answered() -> bool:
            if self.closed is not None:
                raise ScriptedPeerError(f"session closed: {self.closed}")
            return any(isinstance(m, NotFound) and any(i.hash == nonce for i in m.items) for m in self.received[-64:])

        await self.wait_for(answered, timeout=timeout)
        return time.monotonic() - started

    # -- sending ------------------------------------------------------------------------------

    def send(self, message: Message) -> None:
        """Queue ``message`` (call :meth:`flush`, or let the next await write it)."""
        session = self._require()
        session.send(message)

    async def send_now(self, message: Message) -> None:
        """Queue ``message`` and write it."""
        self.send(message)
        await self.flush()

    async def send_frame(self, type_id: int, payload: bytes, *, flags: int = 0, raw_length: int | None = None) -> None:
        """Seal and write a frame no honest session would send (any type, flags, lengths, payload)."""
        session = self._require()
        await self.flush()
        # The wire layer offers no way to send an invalid frame on purpose; the test kit
        # reaches for the session's sending cipher so the record counters stay in step.
        sender = session._sender
        if sender is None:
            raise ScriptedPeerError("no keys yet")
        header = pack_header(type_id, flags, len(payload), len(payload) if raw_length is None else raw_length)
        await self.send_raw(sender.seal(header) + sender.seal(payload))

    async def send_raw(self, data: bytes) -> None:
        """Write ``data`` to the stream as is."""
        if self._stream is None:
            raise ScriptedPeerError("not connected")
        async with self._send_lock:
            await self._stream.send(data)

    async def flush(self) -> None:
        """Write whatever the session has queued."""
        await self._flush()

    async def _flush(self) -> None:
        session = self.session
        stream = self._stream
        if session is None or stream is None:
            return
        async with self._send_lock:
            while data := session.data_to_send():
                try:
                    await stream.send(data)
                except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                    return

    def _require(self) -> PeerSession:
        if self.session is None:
            raise ScriptedPeerError("not connected")
        if self.closed is not None:
            raise ScriptedPeerError(f"session closed: {self.closed}")
        return self.session

    # -- receiving ------------------------------------------------------------------------

    async def _read(self) -> None:
        session = self.session
        stream = self._stream
        assert session is not None and stream is not None
        while self.closed is None:
            try:
                data = await stream.receive(256 * 1024)
            except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                data = b""
            for event in session.receive_data(data, time.monotonic()):
                if isinstance(event, HandshakeComplete):
                    self.hello = event
                elif isinstance(event, MessageReceived):
                    self.received.append(event.message)
                    await self._hook(event.message)
                else:
                    self.closed = event
            await self._flush()
            self._notify()
        self._notify()

    async def _hook(self, message: Message) -> None:
        hook = getattr(self, f"on_{_snake(type(message).__name__)}", None)
        if hook is None:
            return
        result = hook(message)
        if inspect.isawaitable(result):
            await result

    async def _tick(self) -> None:
        session = self.session
        assert session is not None
        while True:
            deadline = session.timer_deadline()
            if deadline is None:
                return
            # Re-read the deadline whenever the peer hears something (the handshake moves it).
            with anyio.move_on_after(max(0.0, deadline - time.monotonic())):
                await self._changed.wait()
            for event in session.handle_timer(time.monotonic()):
                if isinstance(event, Closed):
                    self.closed = event
            await self._flush()
            self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()
