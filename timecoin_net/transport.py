"""How a node gets byte streams: TCP over anyio, or anything else that speaks the same protocol.

Theory of operation. The connection manager needs two things from the outside world:
a listener that hands it each accepted stream with the remote address, and a dialer.
:class:`Transport` is that pair; :class:`TcpTransport` is the real one (anyio TCP).
The in-memory test network (:class:`timecoin_net.testing.MemoryNetwork`) implements
the same protocol, so one node runtime serves both, and every test exercises the same
code the daemon runs. A transport may attach :class:`~timecoin_net.connection.SendFaults`
to a link (the in-memory network's message loss and duplication); TCP never does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import anyio
import anyio.abc
from anyio.abc import SocketAttribute

from timecoin_core.errors import TimecoinError

from .connection import SendFaults

__all__ = ["Link", "LinkHandler", "TcpTransport", "Transport", "TransportError"]


class TransportError(TimecoinError, OSError):
    """A dial or listen that failed (refused, unreachable, partitioned); also an ``OSError``.

    Built as ``TransportError(errno, message)`` it keeps the socket error's ``errno``
    (``EADDRINUSE`` for a listen address in use), as the ``OSError`` it replaces did.
    """


@dataclass(frozen=True, slots=True)
class Link:
    """A connected byte stream and what the transport knows about its remote end."""

    stream: anyio.abc.ByteStream
    host: str
    port: int
    faults: SendFaults | None = None


LinkHandler = Callable[[Link], Awaitable[None]]
"""Called (in its own task) with every accepted link; the link is the handler's to close."""


class Transport(Protocol):
    """Listens and dials on behalf of one node."""

    async def listen(
        self,
        host: str,
        port: int,
        handler: LinkHandler,
        *,
        task_status: anyio.abc.TaskStatus[tuple[str, int]] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """Accept links until cancelled; ``task_status.started`` with the bound ``(host, port)``.

        :raises TransportError: the address cannot be bound.
        """
        ...

    async def connect(self, host: str, port: int) -> Link:
        """Dial ``host:port``.

        :raises TransportError: the dial failed.
        """
        ...


class TcpTransport:
    """TCP through anyio (IPv4 and IPv6, TCP_NODELAY as anyio sets it)."""

    async def listen(
        self,
        host: str,
        port: int,
        handler: LinkHandler,
        *,
        task_status: anyio.abc.TaskStatus[tuple[str, int]] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """Accept TCP connections on ``host:port`` until cancelled (see :class:`Transport`)."""
        try:
            listener = await anyio.create_tcp_listener(local_host=host, local_port=port, reuse_port=False)
        except OSError as exc:
            raise _error(exc, f"cannot listen on {host}:{port}") from exc
        async with listener:
            bound = listener.extra(SocketAttribute.local_address)
            task_status.started((str(bound[0]), int(bound[1])))

            async def accepted(stream: anyio.abc.SocketStream) -> None:
                # A peer may reset the connection before we ask who it is: that is its
                # loss, never the listener's (20 connect-then-reset dials once took a
                # node down).
                remote = _remote(stream)
                if remote is None:
                    await stream.aclose()
                    return
                await handler(Link(stream, *remote))

            await listener.serve(accepted)

    async def connect(self, host: str, port: int) -> Link:
        """Dial ``host:port`` over TCP (see :class:`Transport`)."""
        try:
            stream = await anyio.connect_tcp(host, port)
        except OSError as exc:
            raise _error(exc, f"cannot connect to {host}:{port}") from exc
        remote = _remote(stream)
        if remote is None:
            await stream.aclose()
            raise TransportError(f"cannot connect to {host}:{port}: the connection was reset at once")
        return Link(stream, *remote)


def _remote(stream: anyio.abc.SocketStream) -> tuple[str, int] | None:
    """The peer's (host, port), or ``None`` when the socket is already gone."""
    try:
        remote = stream.extra(SocketAttribute.remote_address)
    except (anyio.TypedAttributeLookupError, OSError):
        return None
    if not isinstance(remote, tuple):
        return None
    return str(remote[0]), int(remote[1])


def _error(exc: OSError, what: str) -> TransportError:
    if exc.errno is None:
        return TransportError(f"{what}: {exc}")
    return TransportError(exc.errno, f"{what}: {exc.strerror or exc}")
