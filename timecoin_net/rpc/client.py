"""Python clients of the JSON-RPC server: :class:`RpcClient` (blocking) and :class:`AsyncRpcClient` (anyio).

Both speak HTTP/1.1 through h11 over one keep-alive connection (re-opened when the
server closed it), authenticate with the datadir's cookie or a user and password, and
raise :class:`RpcError` (``code``, ``message``, ``data``) for a JSON-RPC error.
:meth:`AsyncRpcClient.subscribe` and :meth:`AsyncRpcClient.websocket` talk WebSocket
(wsproto) to ``/ws``::

    async with AsyncRpcClient(url, datadir=datadir) as client:
        async with client.subscribe("txStatus", txid=txid) as updates:
            async for update in updates:
                if update["status"] == "final":
                    break

Only ``http://`` URLs: the server listens on loopback (or a network you allow); put a
TLS proxy in front of it for anything else.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import threading
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import anyio
import anyio.abc
import h11
import wsproto
import wsproto.events as ws_events

from timecoin_core.errors import InvalidArgumentError, TimecoinError

from .auth import basic_authorization, read_cookie

__all__ = [
    "AsyncRpcClient",
    "RpcAuthError",
    "RpcClient",
    "RpcClientError",
    "RpcConnectionError",
    "RpcError",
    "RpcWebSocket",
]

_READ = 65_536


class RpcClientError(TimecoinError):
    """Root of the RPC clients' errors."""


class RpcError(RpcClientError):
    """The server answered with a JSON-RPC error: ``code``, ``message`` and ``data``.

    ``code`` is one of :class:`~timecoin_net.rpc.RpcErrorCode` (a plain int compares
    equal); ``status`` is the HTTP status it came with (200 for a method's error).
    """

    def __init__(self, code: int, message: str, data: object = None, *, status: int = 200) -> None:
        super().__init__(f"{message} (code {code})")
        self.code = code
        self.message = message
        self.data = data
        self.status = status

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_rpc_error, (self.code, self.message, self.data, self.status))


def _rebuild_rpc_error(code: int, message: str, data: object, status: int) -> RpcError:
    return RpcError(code, message, data, status=status)


class RpcAuthError(RpcClientError):
    """The server refused the credentials (HTTP 401)."""


class RpcConnectionError(RpcClientError):
    """The server could not be reached, or closed the connection mid-answer."""


@dataclass(frozen=True)
class _Endpoint:
    host: str
    port: int
    path: str
    authorization: bytes | None

    @property
    def host_header(self) -> bytes:
        return f"{self.host}:{self.port}".encode()


def _endpoint(url: str, user: str | None, password: str | None, datadir: str | Path | None) -> _Endpoint:
    if not isinstance(url, str):
        raise InvalidArgumentError("url", f"expected a str, got {type(url).__name__}")
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise InvalidArgumentError("url", f"expected http://host:port/, got {url!r}")
    if datadir is not None and (user is not None or password is not None):
        raise InvalidArgumentError("datadir", "give a datadir (cookie) or a user and password, not both")
    if datadir is not None:
        user, password = read_cookie(datadir)
    if (user is None) != (password is None):
        raise InvalidArgumentError("password" if password is None else "user", "give both user and password")
    authorization = None if user is None or password is None else basic_authorization(user, password)
    return _Endpoint(parts.hostname, parts.port or 80, parts.path or "/", authorization)


class _Calls:
    """Request ids and the JSON of calls and batches (shared by both clients)."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    def request(self, method: str, params: Sequence[object] | dict[str, object]) -> tuple[int, dict[str, object]]:
        if not isinstance(method, str):
            raise InvalidArgumentError("method", f"expected a str, got {type(method).__name__}")
        rid = next(self._ids)
        return rid, {"jsonrpc": "2.0", "method": method, "params": params if isinstance(params, dict) else list(params), "id": rid}

    @staticmethod
    def params(args: tuple[object, ...], kwargs: dict[str, object]) -> Sequence[object] | dict[str, object]:
        if args and kwargs:
            raise InvalidArgumentError("params", "pass parameters by position or by name, not both")
        return kwargs if kwargs else args


def _result(answer: object, rid: int, status: int) -> Any:
    if not isinstance(answer, dict) or answer.get("jsonrpc") != "2.0":
        raise RpcConnectionError(f"not a JSON-RPC 2.0 answer (HTTP {status})")
    error = answer.get("error")
    if error is not None:
        if not isinstance(error, dict):
            raise RpcConnectionError("malformed JSON-RPC error object")
        raise RpcError(int(error.get("code", -32603)), str(error.get("message", "")), error.get("data"), status=status)
    if answer.get("id") != rid:
        raise RpcConnectionError(f"answer id {answer.get('id')!r} does not match request id {rid}")
    return answer.get("result")


def _decode(status: int, body: bytes) -> object:
    if status == 401:
        raise RpcAuthError("the server refused the credentials (HTTP 401)")
    try:
        return json.loads(body)
    except ValueError:
        raise RpcConnectionError(f"HTTP {status} without a JSON body") from None


def _batch_results(answer: object, ids: list[int], status: int) -> list[Any]:
    if isinstance(answer, dict):
        _result(answer, -1, status)  # a whole-batch error (too long, shutting down): raises
    if not isinstance(answer, list):
        raise RpcConnectionError("a batch answer is not an array")
    by_id = {a.get("id"): a for a in answer if isinstance(a, dict)}
    out: list[Any] = []
    for rid in ids:
        try:
            out.append(_result(by_id.get(rid), rid, status))
        except RpcError as exc:
            out.append(exc)
    return out


class _Exchange:
    """One HTTP request and its response through an h11 client machine (no I/O)."""

    def __init__(self, conn: h11.Connection, endpoint: _Endpoint, body: bytes) -> None:
        self.conn = conn
        headers = [
            (b"host", endpoint.host_header),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"user-agent", b"timecoin-rpc-client"),
        ]
        if endpoint.authorization is not None:
            headers.append((b"authorization", endpoint.authorization))
        self.outgoing = (
            (conn.send(h11.Request(method=b"POST", target=endpoint.path.encode(), headers=headers)) or b"")
            + (conn.send(h11.Data(data=body)) or b"")
            + (conn.send(h11.EndOfMessage()) or b"")
        )
        self.status = 0
        self.body = bytearray()
        self.started = False

    def feed(self, data: bytes) -> bool:
        """Give received bytes; True when the response is complete."""
        if data:
            self.started = True
        self.conn.receive_data(data)
        while True:
            try:
                event = self.conn.next_event()
            except h11.RemoteProtocolError as exc:
                raise RpcConnectionError(f"bad HTTP from the server: {exc}") from None
            if event is h11.NEED_DATA:
                return False
            if isinstance(event, h11.Response):
                self.status = event.status_code
            elif isinstance(event, h11.Data):
                self.body += event.data
            elif isinstance(event, h11.EndOfMessage):
                return True
            elif isinstance(event, h11.ConnectionClosed):
                raise RpcConnectionError("the server closed the connection before answering")

    def reusable(self) -> bool:
        if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
            self.conn.start_next_cycle()
            return True
        return False


class RpcClient:
    """A blocking JSON-RPC client; thread-safe (one request at a time per client).

    Credentials: ``datadir`` (reads ``<datadir>/.cookie``) or ``user`` and ``password``.
    ``timeout`` bounds each network operation in seconds.

    :raises InvalidArgumentError: a malformed ``url`` or conflicting credentials.
    :raises ~timecoin_net.rpc.auth.CookieError: the datadir has no readable cookie.
    """

    def __init__(
        self,
        url: str,
        *,
        datadir: str | Path | None = None,
        user: str | None = None,
        password: str | None = None,
        timeout: float = 60.0,
    ) -> None:
        self._endpoint = _endpoint(url, user, password, datadir)
        self._timeout = timeout
        self._calls = _Calls()
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._conn: h11.Connection | None = None

    def __enter__(self) -> RpcClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (the next call opens a new one)."""
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
        self._sock = self._conn = None

    def call(self, method: str, *args: object, **kwargs: object) -> Any:
        """Call ``method`` with positional or named parameters; return its result.

        :raises RpcError: the server answered with an error.
        :raises RpcAuthError: the credentials were refused.
        :raises RpcConnectionError: no answer.
        """
        rid, request = self._calls.request(method, _Calls.params(args, kwargs))
        status, body = self._post(json.dumps(request).encode())
        return _result(_decode(status, body), rid, status)

    def batch(self, calls: Sequence[tuple[str, Sequence[object] | dict[str, object]]]) -> list[Any]:
        """Send ``(method, params)`` pairs as one batch; results in order, an :class:`RpcError` in place of a failed call."""
        built = [self._calls.request(method, params) for method, params in calls]
        status, body = self._post(json.dumps([r for _, r in built]).encode())
        return _batch_results(_decode(status, body), [rid for rid, _ in built], status)

    def _post(self, body: bytes) -> tuple[int, bytes]:
        with self._lock:
            for attempt in range(2):
                reused = self._sock is not None
                try:
                    if self._sock is None or self._conn is None:
                        self._sock = socket.create_connection((self._endpoint.host, self._endpoint.port), self._timeout)
                        self._conn = h11.Connection(h11.CLIENT)
                    exchange = _Exchange(self._conn, self._endpoint, body)
                    self._sock.sendall(exchange.outgoing)
                    while not exchange.feed(self._sock.recv(_READ)):
                        pass
                except (OSError, RpcConnectionError, h11.LocalProtocolError) as exc:
                    self._drop()
                    started = "exchange" in locals() and exchange.started
                    # A kept-alive connection the server closed while idle: one fresh try.
                    if reused and attempt == 0 and not started:
                        continue
                    raise RpcConnectionError(f"RPC request failed: {exc}") from exc
                if not exchange.reusable():
                    self._drop()
                return exchange.status, bytes(exchange.body)
        raise RpcConnectionError("unreachable")  # pragma: no cover


class AsyncRpcClient:
    """An anyio JSON-RPC client (one request at a time per client; open several for parallel calls).

    Use ``async with AsyncRpcClient(...) as client`` (or call :meth:`aclose`).
    Credentials and errors as :class:`RpcClient`.
    """

    def __init__(
        self,
        url: str,
        *,
        datadir: str | Path | None = None,
        user: str | None = None,
        password: str | None = None,
        timeout: float = 60.0,
    ) -> None:
        self._endpoint = _endpoint(url, user, password, datadir)
        self._timeout = timeout
        self._calls = _Calls()
        self._lock = anyio.Lock()
        self._stream: anyio.abc.ByteStream | None = None
        self._conn: h11.Connection | None = None

    async def __aenter__(self) -> AsyncRpcClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connection."""
        await self._drop()

    async def _drop(self) -> None:
        stream, self._stream, self._conn = self._stream, None, None
        if stream is not None:
            with contextlib.suppress(Exception):
                await stream.aclose()

    async def call(self, method: str, *args: object, **kwargs: object) -> Any:
        """Call ``method``; see :meth:`RpcClient.call`."""
        rid, request = self._calls.request(method, _Calls.params(args, kwargs))
        status, body = await self._post(json.dumps(request).encode())
        return _result(_decode(status, body), rid, status)

    async def batch(self, calls: Sequence[tuple[str, Sequence[object] | dict[str, object]]]) -> list[Any]:
        """One batch; see :meth:`RpcClient.batch`."""
        built = [self._calls.request(method, params) for method, params in calls]
        status, body = await self._post(json.dumps([r for _, r in built]).encode())
        return _batch_results(_decode(status, body), [rid for rid, _ in built], status)

    async def _post(self, body: bytes) -> tuple[int, bytes]:
        async with self._lock:
            for attempt in range(2):
                reused = self._stream is not None
                exchange: _Exchange | None = None
                try:
                    with anyio.fail_after(self._timeout):
                        if self._stream is None or self._conn is None:
                            self._stream = await anyio.connect_tcp(self._endpoint.host, self._endpoint.port)
                            self._conn = h11.Connection(h11.CLIENT)
                        exchange = _Exchange(self._conn, self._endpoint, body)
                        await self._stream.send(exchange.outgoing)
                        while True:
                            try:
                                data = await self._stream.receive(_READ)
                            except anyio.EndOfStream:
                                data = b""
                            if exchange.feed(data):
                                break
                except (
                    OSError,
                    TimeoutError,
                    RpcConnectionError,
                    anyio.BrokenResourceError,
                    anyio.ClosedResourceError,
                    h11.LocalProtocolError,
                ) as exc:
                    await self._drop()
                    if reused and attempt == 0 and (exchange is None or not exchange.started):
                        continue
                    raise RpcConnectionError(f"RPC request failed: {exc}") from exc
                if not exchange.reusable():
                    await self._drop()
                return exchange.status, bytes(exchange.body)
        raise RpcConnectionError("unreachable")  # pragma: no cover

    def websocket(self, *, queue_size: int = 1_024) -> RpcWebSocket:
        """A WebSocket session to ``/ws``: ``async with client.websocket() as ws:``.

        ``queue_size`` notifications wait for the reader; one more closes the session.
        """
        return RpcWebSocket(self._endpoint, self._timeout, queue_size)

    @contextlib.asynccontextmanager
    async def subscribe(
        self, topic: str, *, txid: str | bytes | None = None, address: str | None = None
    ) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        """Subscribe to ``topic`` on a WebSocket of its own; yields an iterator of results.

        ``txStatus`` takes ``txid`` (hex or bytes) or ``address``. The iteration ends when
        the server closes the connection (see :attr:`RpcWebSocket.close_code`).
        """
        async with self.websocket() as ws:
            subscription = await ws.subscribe(topic, txid=txid, address=address)
            yield ws.notifications(subscription)


class RpcWebSocket:
    """A WebSocket JSON-RPC session: calls, subscriptions and their notifications.

    Made by :meth:`AsyncRpcClient.websocket`. Notifications wait in a bounded queue: a
    caller that stops reading them makes the server close the connection as a slow
    subscriber, by design.
    """

    def __init__(self, endpoint: _Endpoint, timeout: float, queue_size: int = 1_024) -> None:
        self._endpoint = endpoint
        self._timeout = timeout
        self._calls = _Calls()
        self._pending: dict[int, tuple[anyio.Event, list[object]]] = {}
        self._send_lock = anyio.Lock()
        self._notes_send, self._notes = anyio.create_memory_object_stream[tuple[str, dict[str, Any]]](queue_size)
        self._stream: anyio.abc.ByteStream | None = None
        self._ws = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
        self._group: anyio.abc.TaskGroup | None = None
        self._stack = contextlib.AsyncExitStack()
        self._overflowed = False
        self.close_code: int | None = None
        """The close code the server sent (1008: too slow), or 1006 if the connection dropped."""

    async def __aenter__(self) -> RpcWebSocket:
        await self._stack.__aenter__()
        try:
            with anyio.fail_after(self._timeout):
                stream = await anyio.connect_tcp(self._endpoint.host, self._endpoint.port)
                self._stream = stream
                self._stack.push_async_callback(stream.aclose)
                headers = [] if self._endpoint.authorization is None else [(b"authorization", self._endpoint.authorization)]
                await stream.send(
                    self._ws.send(ws_events.Request(host=self._endpoint.host_header.decode(), target="/ws", extra_headers=headers))
                )
                await self._handshake(stream)
            self._group = await self._stack.enter_async_context(anyio.create_task_group())
            self._group.start_soon(self._reader, stream)
        except BaseException:
            await self._stack.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._group is not None:
            self._group.cancel_scope.cancel()
        with contextlib.suppress(Exception):
            if self._stream is not None and self._ws.state is wsproto.connection.ConnectionState.OPEN:
                with anyio.move_on_after(1.0, shield=True):
                    await self._stream.send(self._ws.send(ws_events.CloseConnection(code=1000)))
        await self._stack.__aexit__(kind, value, traceback)

    async def _handshake(self, stream: anyio.abc.ByteStream) -> None:
        rejected: int | None = None
        while True:
            try:
                data = await stream.receive(_READ)
            except anyio.EndOfStream:
                raise RpcConnectionError("the server closed the connection during the WebSocket handshake") from None
            self._ws.receive_data(data)
            for event in self._ws.events():
                if isinstance(event, ws_events.AcceptConnection):
                    return
                if isinstance(event, ws_events.RejectConnection):
                    rejected = event.status_code
                    if rejected == 401:
                        raise RpcAuthError("the server refused the credentials (HTTP 401)")
                    if not event.has_body:
                        raise RpcConnectionError(f"WebSocket handshake refused (HTTP {rejected})")
                if isinstance(event, ws_events.RejectData) and event.body_finished:
                    raise RpcConnectionError(f"WebSocket handshake refused (HTTP {rejected})")

    async def _reader(self, stream: anyio.abc.ByteStream) -> None:
        # This task lives in a task group entered by the caller's task: an exception here
        # would cancel the caller's code, so every failure just ends the session.
        try:
            await self._read(stream)
        except Exception:
            self.close_code = self.close_code or 1006

    async def _read(self, stream: anyio.abc.ByteStream) -> None:
        parts: list[str] = []
        try:
            while True:
                try:
                    data: bytes | None = await stream.receive(_READ)
                except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                    data = None
                self._ws.receive_data(data)
                for event in self._ws.events():
                    if isinstance(event, ws_events.TextMessage):
                        parts.append(event.data)
                        if event.message_finished:
                            self._dispatch("".join(parts))
                            parts = []
                            if self._overflowed:
                                return
                    elif isinstance(event, ws_events.Ping):
                        await self._send(self._ws.send(event.response()))
                    elif isinstance(event, ws_events.CloseConnection):
                        self.close_code = event.code
                        if self._ws.state is wsproto.connection.ConnectionState.REMOTE_CLOSING:
                            with contextlib.suppress(Exception):
                                await self._send(self._ws.send(event.response()))
                        return
                if data is None:
                    return
        finally:
            if self.close_code is None:
                self.close_code = 1006
            self._notes_send.close()
            for waiter, slot in self._pending.values():
                slot.append(RpcConnectionError(f"the WebSocket closed (code {self.close_code})"))
                waiter.set()

    def _dispatch(self, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            return
        answers = message if isinstance(message, list) else [message]
        for answer in answers:
            if not isinstance(answer, dict):
                continue
            if answer.get("method") == "subscription":
                params = answer.get("params") or {}
                result = params.get("result") if isinstance(params, dict) else None
                if not isinstance(params, dict) or not isinstance(result, dict):
                    continue
                try:
                    self._notes_send.send_nowait((str(params.get("subscription")), result))
                except anyio.WouldBlock:
                    # Dropping one silently would lie to the reader: the reader task ends
                    # the session instead (see _reader).
                    self._overflowed = True
                except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                    pass
                continue
            waiter = self._pending.pop(answer.get("id"), None)  # type: ignore[arg-type]
            if waiter is not None:
                waiter[1].append(answer)
                waiter[0].set()

    async def _send(self, data: bytes) -> None:
        assert self._stream is not None
        async with self._send_lock:
            await self._stream.send(data)

    async def call(self, method: str, *args: object, **kwargs: object) -> Any:
        """Call ``method`` over the WebSocket; see :meth:`RpcClient.call`."""
        rid, request = self._calls.request(method, _Calls.params(args, kwargs))
        event = anyio.Event()
        slot: list[object] = []
        self._pending[rid] = (event, slot)
        try:
            await self._send(self._ws.send(ws_events.TextMessage(data=json.dumps(request))))
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError, wsproto.utilities.LocalProtocolError) as exc:
            self._pending.pop(rid, None)
            raise RpcConnectionError(f"the WebSocket is closed: {exc}") from exc
        with anyio.fail_after(self._timeout):
            await event.wait()
        answer = slot[0]
        if isinstance(answer, RpcClientError):
            raise answer
        return _result(answer, rid, 200)

    async def subscribe(self, topic: str, *, txid: str | bytes | None = None, address: str | None = None) -> str:
        """Subscribe to ``topic``; returns the subscription id."""
        if isinstance(txid, bytes):
            txid = txid.hex()
        params: dict[str, object] = {"topic": topic}
        if txid is not None or address is not None:
            params["filter"] = {"txid": txid} if txid is not None else {"address": address}
        return str(await self.call("subscribe", **params))

    async def unsubscribe(self, subscription: str) -> bool:
        """End a subscription; False if the server did not know it."""
        return bool(await self.call("unsubscribe", subscription))

    async def notifications(self, subscription: str | None = None) -> AsyncIterator[dict[str, Any]]:
        """The results of notifications (of ``subscription`` only, if given), until the connection closes.

        :raises RpcConnectionError: this client's own queue overflowed (the caller read
            too slowly); the session is closed rather than a notification lost.
        """
        async for sub, result in self._notes:
            if subscription is None or sub == subscription:
                yield result
        if self._overflowed:
            raise RpcConnectionError("the client's notification queue overflowed; the WebSocket was closed")
