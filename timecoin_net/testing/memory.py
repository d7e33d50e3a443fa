"""``MemoryNetwork``: many nodes in one process over anyio memory streams, with seeded faults.

Theory of operation. Each node gets a :class:`MemoryTransport` bound to its own host
(an IP literal such as ``"10.0.0.1"``, so per-/16 limits and discouragement see
distinct addresses). A dial creates two one-way pipes; every chunk written is stamped
with a delivery time ``max(previous delivery, now + delay)`` drawn from the network's
seeded generator, so a link delays but never reorders bytes, as a TCP connection
would, while different links overtake each other.

A byte stream cannot lose or repeat bytes without breaking the record layer, so
loss, duplication and reordering are injected above the session, on messages, by
the :class:`~timecoin_net.connection.SendFaults` each link carries (``loss``,
``duplicate``, ``reorder`` probabilities). Replies the session matches to requests
(``Blocks``, ``Finals``) and the requests themselves are never duplicated: a second
reply would be an honest peer's offence.

:meth:`MemoryNetwork.partition` splits hosts into groups: links across groups are
cut at once (both ends see the stream end) and dials across them fail until
:meth:`MemoryNetwork.heal`. Randomness is seeded; the schedule is not (tasks run on
real time), so a seed reproduces the faults' draws, not a trace.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable
from dataclasses import dataclass

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from timecoin_core.errors import InvalidArgumentError
from timecoin_core.wire import Blocks, Finals, GetBlocks, GetFinals, Message

from ..transport import Link, LinkHandler, TransportError

__all__ = ["LinkModel", "MemoryNetwork", "MemoryStream", "MemoryTransport"]

_NEVER_REPEAT = (Blocks, Finals, GetBlocks, GetFinals)
_PIPE_CHUNKS = 64


@dataclass(frozen=True, slots=True)
class LinkModel:
    """Faults of a link: a delay drawn uniformly from ``[min_delay, max_delay]`` per chunk,
    and per-message probabilities of ``loss``, ``duplicate`` and ``reorder``."""

    min_delay: float = 0.0
    max_delay: float = 0.0
    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.min_delay <= self.max_delay:
            raise InvalidArgumentError("min_delay", "need 0 <= min_delay <= max_delay")
        for name in ("loss", "duplicate", "reorder"):
            if not 0 <= getattr(self, name) < 1:
                raise InvalidArgumentError(name, f"{name} must be in [0, 1)")


class _Faults:
    """Message faults of one direction of a link (a :class:`~timecoin_net.connection.SendFaults`)."""

    def __init__(self, model: LinkModel, rng: random.Random) -> None:
        self.model = model
        self.rng = rng
        self.held: Message | None = None
        self.lost = 0
        self.duplicated = 0
        self.reordered = 0

    def plan(self, message: Message) -> list[Message]:
        model, rng = self.model, self.rng
        out: list[Message] = []
        if model.loss and rng.random() < model.loss:
            self.lost += 1
        elif model.reorder and self.held is None and rng.random() < model.reorder:
            self.held = message
            self.reordered += 1
            return []
        else:
            out.append(message)
            if model.duplicate and not isinstance(message, _NEVER_REPEAT) and rng.random() < model.duplicate:
                self.duplicated += 1
                out.append(message)
        if self.held is not None:
            out.append(self.held)
            self.held = None
        return out


class MemoryStream(anyio.abc.ByteStream):
    """One end of an in-memory link: writes stamped with a delivery time, reads wait for it."""

    def __init__(
        self,
        outgoing: MemoryObjectSendStream[tuple[float, bytes]],
        incoming: MemoryObjectReceiveStream[tuple[float, bytes]],
        delay: tuple[float, float],
        rng: random.Random,
    ) -> None:
        self._out = outgoing
        self._in = incoming
        self._delay = delay
        self._rng = rng
        self._last = 0.0
        self._buffer = b""

    async def send(self, item: bytes) -> None:
        """Write ``item``; it is delivered after the link's delay, in order."""
        low, high = self._delay
        delay = self._rng.uniform(low, high) if high > 0 else 0.0
        self._last = max(self._last, time.monotonic() + delay)
        try:
            await self._out.send((self._last, bytes(item)))
        except anyio.EndOfStream as exc:  # pragma: no cover - the peer's receiver is gone
            raise anyio.BrokenResourceError from exc

    async def receive(self, max_bytes: int = 65536) -> bytes:
        """Read up to ``max_bytes`` once they are due; ``EndOfStream`` when the peer closed."""
        if not self._buffer:
            at, data = await self._in.receive()
            wait = at - time.monotonic()
            if wait > 0:
                await anyio.sleep(wait)
            self._buffer = data
        data, self._buffer = self._buffer[:max_bytes], self._buffer[max_bytes:]
        return data

    async def send_eof(self) -> None:
        """Close the writing direction."""
        self._out.close()

    async def aclose(self) -> None:
        """Close both directions."""
        self._out.close()
        self._in.close()

    def cut(self) -> None:
        """Break the link now (a partition): both directions close without delivering the rest."""
        self._out.close()
        self._in.close()


@dataclass(eq=False)
class _Listener:
    handler: LinkHandler
    group: anyio.abc.TaskGroup


class MemoryNetwork:
    """An in-process network of :class:`MemoryTransport` hosts (see the module docstring).

    ``model`` is every link's default; :meth:`set_link` overrides one pair of hosts.
    """

    def __init__(self, seed: int = 0, model: LinkModel | None = None) -> None:
        self.rng = random.Random(seed)
        self.model = model or LinkModel()
        self._links: dict[frozenset[str], LinkModel] = {}
        self._listeners: dict[tuple[str, int], _Listener] = {}
        self._streams: list[tuple[str, str, MemoryStream, MemoryStream]] = []
        self._groups: list[frozenset[str]] | None = None
        self._next_port = 40_000
        self.faults: list[_Faults] = []

    def transport(self, host: str) -> MemoryTransport:
        """The transport of the node at ``host`` (an IP literal)."""
        return MemoryTransport(self, host)

    def set_link(self, a: str, b: str, model: LinkModel) -> None:
        """Use ``model`` between hosts ``a`` and ``b`` (both directions, links made from now on)."""
        self._links[frozenset((a, b))] = model

    def partition(self, *groups: Iterable[str]) -> None:
        """Split the hosts into ``groups`` (a host in none is alone); cut every link across them."""
        self._groups = [frozenset(g) for g in groups]
        for a, b, left, right in list(self._streams):
            if not self.reachable(a, b):
                left.cut()
                right.cut()

    def heal(self) -> None:
        """End the partition (cut links stay cut; nodes dial again)."""
        self._groups = None

    def reachable(self, a: str, b: str) -> bool:
        """True when hosts ``a`` and ``b`` are on the same side of any partition."""
        if self._groups is None or a == b:
            return True
        return any(a in g and b in g for g in self._groups)

    def lost(self) -> int:
        """Messages dropped by link faults so far."""
        return sum(f.lost for f in self.faults)

    def _listen(self, host: str, port: int, listener: _Listener) -> tuple[str, int]:
        if port == 0:
            while (host, self._next_port) in self._listeners:
                self._next_port += 1
            port = self._next_port
            self._next_port += 1
        if (host, port) in self._listeners:
            raise TransportError(f"{host}:{port} is already in use")
        self._listeners[(host, port)] = listener
        return host, port

    def _connect(self, source: str, host: str, port: int) -> Link:
        listener = self._listeners.get((host, port))
        if listener is None:
            raise TransportError(f"connection to {host}:{port} refused")
        if not self.reachable(source, host):
            raise TransportError(f"{host}:{port} unreachable from {source} (partitioned)")
        model = self._links.get(frozenset((source, host)), self.model)
        a_out, b_in = anyio.create_memory_object_stream[tuple[float, bytes]](_PIPE_CHUNKS)
        b_out, a_in = anyio.create_memory_object_stream[tuple[float, bytes]](_PIPE_CHUNKS)
        delay = (model.min_delay, model.max_delay)
        dialer = MemoryStream(a_out, a_in, delay, random.Random(self.rng.randbytes(16)))
        accepted = MemoryStream(b_out, b_in, delay, random.Random(self.rng.randbytes(16)))
        self._streams.append((source, host, dialer, accepted))
        if len(self._streams) > 4096:
            self._streams = self._streams[-2048:]
        faulty = model.loss or model.duplicate or model.reorder
        dialer_faults = _Faults(model, random.Random(self.rng.randbytes(16))) if faulty else None
        accepted_faults = _Faults(model, random.Random(self.rng.randbytes(16))) if faulty else None
        self.faults += [f for f in (dialer_faults, accepted_faults) if f is not None]
        listener.group.start_soon(_accept, listener.handler, Link(accepted, source, 50_000, accepted_faults))
        return Link(dialer, host, port, dialer_faults)


async def _accept(handler: LinkHandler, link: Link) -> None:
    await handler(link)


class MemoryTransport:
    """One host's view of a :class:`MemoryNetwork` (a :class:`~timecoin_net.transport.Transport`)."""

    def __init__(self, network: MemoryNetwork, host: str) -> None:
        self.network = network
        self.host = host

    async def listen(
        self,
        host: str,
        port: int,
        handler: LinkHandler,
        *,
        task_status: anyio.abc.TaskStatus[tuple[str, int]] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """Accept links at ``(this host, port)`` until cancelled (``host`` is ignored: the transport's own)."""
        async with anyio.create_task_group() as group:
            bound = self.network._listen(self.host, port, _Listener(handler, group))
            try:
                task_status.started(bound)
                await anyio.sleep_forever()
            finally:
                self.network._listeners.pop(bound, None)
                group.cancel_scope.cancel()

    async def connect(self, host: str, port: int) -> Link:
        """Dial ``host:port`` on the network."""
        await anyio.lowlevel.checkpoint()
        return self.network._connect(self.host, host, port)
