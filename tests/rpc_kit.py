"""Helpers of the RPC and metrics tests: a server on a LocalChain, raw HTTP on loopback."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import h11

from timecoin_core.testing import LocalChain
from timecoin_net.rpc import LocalChainBackend, RpcServer, RpcServerConfig, read_cookie


@asynccontextmanager
async def running(
    datadir: Path, chain: LocalChain | None = None, backend: LocalChainBackend | None = None, **config: Any
) -> AsyncIterator[RpcServer]:
    """An RpcServer on ``chain`` (default: one masternode) with its cookie in ``datadir``."""
    if backend is None:
        backend = LocalChainBackend(chain if chain is not None else LocalChain())
    async with RpcServer(backend, RpcServerConfig(datadir=datadir, **config)) as server:
        yield server


def cookie_auth(datadir: Path) -> bytes:
    """The Authorization header value of the datadir's cookie."""
    user, password = read_cookie(datadir)
    return b"Basic " + base64.b64encode(f"{user}:{password}".encode())


async def exchange(port: int, data: bytes) -> bytes:
    """Send ``data`` and read until the server closes the connection."""
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        await stream.send(data)
        received = b""
        while True:
            try:
                received += await stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                return received


def parse_response(raw: bytes) -> tuple[int, dict[bytes, bytes], bytes]:
    """Status, headers and body of the first response in ``raw``."""
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method=b"POST", target=b"/", headers=[(b"host", b"x"), (b"content-length", b"0")]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(raw)
    status, headers, body = 0, {}, b""
    while True:
        event = conn.next_event()
        if isinstance(event, h11.Response):
            status, headers = event.status_code, dict(event.headers)
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed) or event is h11.NEED_DATA:
            return status, headers, body


def request_bytes(body: bytes, auth: bytes | None, *, extra: bytes = b"", path: bytes = b"/", method: bytes = b"POST") -> bytes:
    """A complete HTTP/1.1 request."""
    lines = [method + b" " + path + b" HTTP/1.1", b"Host: 127.0.0.1", b"Content-Type: application/json"]
    if auth is not None:
        lines.append(b"Authorization: " + auth)
    lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n" + extra + b"\r\n" + body


async def post(port: int, body: bytes | object, auth: bytes | None) -> tuple[int, dict[bytes, bytes], Any]:
    """One POST on a fresh connection (closed after); the body decoded as JSON when there is one."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    status, headers, answer = parse_response(
        await exchange(port, request_bytes(raw, auth, extra=b"Connection: close\r\n"))
    )
    return status, headers, json.loads(answer) if answer else None
