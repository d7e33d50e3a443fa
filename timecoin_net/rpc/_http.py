"""HTTP/1.1 plumbing shared by the RPC and metrics servers: h11 over anyio byte streams.

Private: the bind policy, reading a request head under a deadline, and writing a
complete response.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Callable, Coroutine, Iterable, Sequence
from typing import Any

import anyio
import anyio.abc
import h11

from timecoin_core.errors import TimecoinError

__all__ = [
    "READ_SIZE",
    "BindRefusedError",
    "IPNetwork",
    "check_bind",
    "client_allowed",
    "header",
    "respond",
]

READ_SIZE = 65_536

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_STREAM_ERRORS = (anyio.BrokenResourceError, anyio.ClosedResourceError, anyio.EndOfStream, OSError)


class BindRefusedError(TimecoinError, ValueError):
    """A server asked to listen on a non-loopback address without an allow list."""


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, allow: Sequence[IPNetwork], what: str) -> str:
    """The address to bind (``localhost`` becomes ``127.0.0.1``, one socket and one port).

    :raises BindRefusedError: ``host`` is not loopback and ``allow`` is empty.
    """
    if host == "localhost":
        return "127.0.0.1"
    if not _is_loopback(host) and not allow:
        raise BindRefusedError(
            f"{what} refuses to listen on {host!r}: a non-loopback address needs an allow list "
            "of client networks (the default is 127.0.0.1 only)"
        )
    return host


def client_allowed(address: object, allow: Iterable[IPNetwork]) -> bool:
    """Whether a client at ``address`` may talk to us: loopback always, else an ``allow`` network."""
    try:
        ip = ipaddress.ip_address(str(address))
    except ValueError:
        return False
    if ip.is_loopback:
        return True
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in allow)


def header(request: h11.Request, name: bytes) -> bytes | None:
    """The value of the first header called ``name`` (lower case), or ``None``."""
    for key, value in request.headers:
        if key == name:
            return bytes(value)
    return None


async def respond(
    stream: anyio.abc.ByteStream,
    connection: h11.Connection,
    status: int,
    body: bytes = b"",
    *,
    content_type: bytes = b"application/json",
    headers: Sequence[tuple[bytes, bytes]] = (),
    close: bool = False,
) -> bool:
    """Send one complete response; False when the client is gone or h11 cannot send one now."""
    fields: list[tuple[bytes, bytes]] = [(b"server", b"timecoin")]
    if status != 204:
        fields += [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    fields += list(headers)
    if close:
        fields.append((b"connection", b"close"))
    try:
        data = connection.send(h11.Response(status_code=status, headers=fields))
        if body and status != 204:
            data += connection.send(h11.Data(data=body)) or b""
        data += connection.send(h11.EndOfMessage()) or b""
    except h11.LocalProtocolError:
        return False
    try:
        await stream.send(data or b"")
    except _STREAM_ERRORS:
        return False
    return True


async def receive(stream: anyio.abc.ByteStream) -> bytes:
    """The next bytes from ``stream``; ``b""`` when the peer closed or the stream broke."""
    try:
        return await stream.receive(READ_SIZE)
    except _STREAM_ERRORS:
        return b""


async def serve_in_background(serve: Callable[..., Coroutine[Any, Any, None]]) -> contextlib.AsyncExitStack:
    """Start ``serve`` (a server loop that reports readiness through ``task_status``) in
    a task group of its own; the returned stack's exit waits for it (cancel it first).

    Both servers' ``async with`` entry: on a start that fails nothing is left running.
    """
    stack = contextlib.AsyncExitStack()
    await stack.__aenter__()
    try:
        group = await stack.enter_async_context(anyio.create_task_group())
        await group.start(serve)
    except BaseException:
        await stack.__aexit__(None, None, None)
        raise
    return stack
