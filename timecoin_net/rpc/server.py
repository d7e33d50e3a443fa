"""The JSON-RPC server: HTTP/1.1 (h11) and WebSocket (wsproto, path ``/ws``) on anyio.

Theory of operation
-------------------
One task per connection reads bytes, feeds h11, and acts on its events (the httpcore
shape: the protocol machine is h11's, this module only moves bytes and applies policy):

* **Before the body.** The request head must fit ``max_header_bytes`` (h11 refuses
  more: 431). The client's address must be loopback or in the allow list (403). Path
  ``/`` takes ``POST``; ``/ws`` takes a WebSocket upgrade; anything else is 404/405.
  Credentials are checked on every request (HTTP Basic, see :mod:`.auth`); a failure
  is answered 401 after ``auth_failure_delay`` and the connection closed. A declared
  ``Content-Length`` over ``max_body_bytes`` is answered 413 *before any body byte is
  read*; a chunked body is counted as it arrives and refused the same way.
* **Deadlines.** An idle keep-alive connection is closed after ``idle_timeout``; from
  the first byte of a request, its head and body must arrive within
  ``request_timeout`` (slowloris), else 408 and close.
* **The body** goes to the :class:`~.jsonrpc.Dispatcher` (strict JSON-RPC 2.0); its
  answer is sent with 200, or 204 when it was only notifications. Every refusal has a
  JSON-RPC error body, so a client never meets a bare status or a silent close.
* **WebSocket.** After the upgrade each text message is a JSON-RPC body; requests run
  concurrently (at most ``ws_concurrency`` per connection). ``subscribe`` registers a
  callback with the backend that puts notifications (Ethereum's shape) on the
  connection's bounded queue; a full queue means the subscriber is too slow: its
  connection is closed (code 1008) and its subscriptions dropped. Messages over
  ``max_body_bytes`` close the connection with 1009; binary messages with 1003.
* **Shutdown.** :meth:`RpcServer.aclose` (and the ``stop`` method) start refusing:
  every new request is answered ``-28``; the listener closes; requests in flight are
  answered (up to ``shutdown_grace`` seconds); then every connection is closed and the
  cookie removed.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
import h11
import wsproto
import wsproto.events as ws_events
from anyio.abc import SocketAttribute
from anyio.streams.memory import MemoryObjectSendStream
from pydantic import BaseModel, ConfigDict, Field
from wsproto.connection import Connection as WsConnection
from wsproto.connection import ConnectionState
from wsproto.handshake import H11Handshake
from wsproto.utilities import RemoteProtocolError as WsRemoteProtocolError

from timecoin_core.errors import InvalidArgumentError

from . import _http
from ._http import BindRefusedError, IPNetwork
from .auth import Authenticator, remove_cookie, write_cookie
from .backend import RpcBackend, Unsubscribe
from .errors import BackendError, RpcErrorCode
from .jsonrpc import Dispatcher, Method, error_body
from .models import (
    GetBalanceParams,
    GetBlockHashParams,
    GetBlockParams,
    GetRawTransactionParams,
    ListUnspentParams,
    Notification,
    SendRawTransactionParams,
    SubscribeParams,
    TxidParams,
    UnsubscribeParams,
    WaitForTxStatusParams,
)

if TYPE_CHECKING:
    from ..metrics import NodeMetrics

__all__ = ["STOP_MESSAGE", "BindRefusedError", "RpcServer", "RpcServerConfig"]

_log = logging.getLogger(__name__)

STOP_MESSAGE = "Timecoin server stopping"
"""What ``stop`` answers (bitcoind's habit, with our name)."""

# The list of subscription ids created while answering one WebSocket message (batch
# members run in child tasks, which see the same list).
_CREATED: contextvars.ContextVar[list[str]] = contextvars.ContextVar("timecoin_rpc_created")

_WS_SLOW = 1008  # policy violation: the subscriber does not keep up
_WS_TOO_BIG = 1009
_WS_UNSUPPORTED = 1003


def _busy_response() -> bytes:
    body = error_body(RpcErrorCode.INVALID_REQUEST, "too many connections, try again later")
    head = f"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\nconnection: close\r\n\r\n"
    return head.encode() + body


_BUSY = _busy_response()


class RpcServerConfig(BaseModel):
    """How the RPC server listens, authenticates and limits (validated when built).

    ``host`` defaults to 127.0.0.1; any non-loopback address needs ``allow``, the client
    networks admitted besides loopback (bitcoind's ``rpcallowip``). Auth needs
    ``datadir`` (the cookie is written there) or ``rpcauth`` entries, or both.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65_535)
    """0 picks a free port (read it from :attr:`RpcServer.port`)."""
    allow: tuple[IPNetwork, ...] = ()
    datadir: Path | None = None
    rpcauth: tuple[str, ...] = ()
    max_body_bytes: int = Field(default=1 << 20, ge=1024)
    max_header_bytes: int = Field(default=16 * 1024, ge=1024)
    max_batch: int = Field(default=100, ge=1)
    max_connections: int = Field(default=64, ge=1)
    request_timeout: float = Field(default=30.0, gt=0)
    idle_timeout: float = Field(default=60.0, gt=0)
    auth_failure_delay: float = Field(default=0.25, ge=0)
    ws_queue_size: int = Field(default=256, ge=1)
    ws_concurrency: int = Field(default=8, ge=1)
    max_subscriptions: int = Field(default=64, ge=1)
    shutdown_grace: float = Field(default=5.0, ge=0)


@dataclass
class _Subscriptions:
    """One WebSocket connection's subscriptions and outgoing queue."""

    send: MemoryObjectSendStream[bytes]
    ws: WsConnection
    active: dict[str, Unsubscribe] = field(default_factory=dict)
    held: dict[str, list[bytes]] = field(default_factory=dict)
    """Notifications of subscriptions whose id the client has not been sent yet."""
    slow: bool = False
    on_slow: Callable[[], None] = lambda: None

    def queue_message(self, text: str) -> None:
        if self.slow or self.ws.state is not ConnectionState.OPEN:
            return  # closing: nothing more goes out
        self.queue(self.ws.send(ws_events.TextMessage(data=text)))

    def queue(self, frame: bytes) -> None:
        if self.slow:
            return
        try:
            self.send.send_nowait(frame)
        except anyio.WouldBlock:
            self.slow = True
            self.on_slow()
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass

    def deliver_to(self, subscription: str) -> Callable[[Notification], None]:
        def deliver(notification: Notification) -> None:
            body = _notification(subscription, notification)
            held = self.held.get(subscription)
            if held is not None:
                held.append(body)
            elif subscription in self.active:
                self.queue_message(body.decode())

        return deliver

    def release(self, subscriptions: list[str]) -> None:
        """Send what ``subscriptions`` held: their ids have just gone out in an answer."""
        for subscription in subscriptions:
            for body in self.held.pop(subscription, ()):
                if subscription in self.active:
                    self.queue_message(body.decode())

    def close(self) -> None:
        for unsubscribe in self.active.values():
            unsubscribe()
        self.active.clear()
        self.held.clear()


def _notification(subscription: str, notification: Notification) -> bytes:
    message = {
        "jsonrpc": "2.0",
        "method": "subscription",
        "params": {"subscription": subscription, "result": notification.model_dump(mode="json")},
    }
    return json.dumps(message, separators=(",", ":")).encode()


class _Deadline:
    """A request's deadline: idle until its first byte, then ``request_timeout`` from that byte."""

    def __init__(self, scope: anyio.CancelScope) -> None:
        self.scope = scope
        self.at = scope.deadline
        self.started = False

    def start(self, seconds: float) -> None:
        # Once per request: later bytes never extend it (slowloris trickles bytes).
        if not self.started:
            self.started = True
            self.at = anyio.current_time() + seconds
            self.scope.deadline = self.at


class _Timeout(Exception):
    """A request's deadline passed (``started``: some of it had arrived)."""

    def __init__(self, started: bool) -> None:
        super().__init__("request deadline")
        self.started = started


class RpcServer:
    """A JSON-RPC 2.0 server for ``backend``; use as ``async with RpcServer(...) as server:``.

    Entering binds the port (:attr:`port`, :attr:`url`, :attr:`ws_url`), writes the
    cookie, and serves in the background; leaving shuts down gracefully (see the module
    documentation). ``await task_group.start(server.serve)`` runs it inside a caller's
    task group instead. ``metrics`` counts requests by method and code.

    :raises BindRefusedError: a non-loopback ``host`` without an ``allow`` list.
    :raises InvalidArgumentError: no auth configured (neither ``datadir`` nor ``rpcauth``),
        a malformed ``rpcauth`` entry, or ``backend`` not an :class:`RpcBackend`.
    """

    def __init__(
        self,
        backend: RpcBackend,
        config: RpcServerConfig | None = None,
        *,
        metrics: NodeMetrics | None = None,
    ) -> None:
        config = RpcServerConfig() if config is None else config
        if not isinstance(config, RpcServerConfig):
            raise InvalidArgumentError("config", f"expected an RpcServerConfig, got {type(config).__name__}")
        if not isinstance(backend, RpcBackend):
            raise InvalidArgumentError("backend", f"expected an RpcBackend, got {type(backend).__name__}")
        self._bind = _http.check_bind(config.host, config.allow, "the RPC server")
        if config.datadir is None and not config.rpcauth:
            raise InvalidArgumentError("datadir", "auth is required: give a datadir (for the cookie) or rpcauth entries")
        self.config = config
        self.backend = backend
        self.metrics = metrics
        # Malformed rpcauth entries fail here, not at the first request.
        self._auth = Authenticator(rpcauth=config.rpcauth)
        self._cookie: tuple[Path, str] | None = None
        self._port: int | None = None
        self._closing = False
        self._inflight = 0
        self._idle = anyio.Event()
        self._idle.set()
        self._connections = 0
        self._group: anyio.abc.TaskGroup | None = None
        self._listener: anyio.abc.Listener[anyio.abc.SocketStream] | None = None
        self._stack: contextlib.AsyncExitStack | None = None
        self._stopped = anyio.Event()
        self._accepting: anyio.CancelScope | None = None
        self._not_listening = anyio.Event()
        self.stop_requested = anyio.Event()
        """Set when a client called ``stop``: the host should close the server (and the node)."""
        self._dispatcher = Dispatcher(
            max_batch=config.max_batch,
            refusing=lambda: self._closing,
            observe=None if metrics is None else metrics.count_rpc_request,
        )
        self._methods = self._backend_methods()
        self._http_methods = {**self._methods, **self._ws_only()}

    # -- surface -----------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port (after start)."""
        if self._port is None:
            raise InvalidArgumentError("port", "the server has not started")
        return self._port

    @property
    def url(self) -> str:
        """``http://host:port/``."""
        return f"http://{self._host_for_url()}:{self.port}/"

    @property
    def ws_url(self) -> str:
        """``ws://host:port/ws``."""
        return f"ws://{self._host_for_url()}:{self.port}/ws"

    @property
    def cookie_path(self) -> Path | None:
        """Where the cookie is while the server runs (``None`` without a datadir)."""
        return None if self._cookie is None else self._cookie[0]

    @property
    def connections(self) -> int:
        """Open client connections."""
        return self._connections

    @property
    def closing(self) -> bool:
        """Whether the server refuses new requests (``-28``)."""
        return self._closing

    def _host_for_url(self) -> str:
        return f"[{self._bind}]" if ":" in self._bind else self._bind

    async def __aenter__(self) -> RpcServer:
        self._stack = await _http.serve_in_background(self.serve)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.aclose()
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.__aexit__(kind, value, traceback)

    async def serve(self, *, task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED) -> None:
        """Listen and serve until :meth:`aclose` (or cancellation); reports the port to ``task_status``."""
        if self._listener is not None:
            raise InvalidArgumentError("self", "an RpcServer serves once; make a new one")
        listener = await anyio.create_tcp_listener(local_host=self._bind, local_port=self.config.port)
        self._listener = listener
        try:
            self._port = int(listener.listeners[0].extra(SocketAttribute.local_port))
            if self.config.datadir is not None:
                self._cookie = write_cookie(self.config.datadir)
                self._auth = Authenticator(cookie=self._cookie[1], rpcauth=self.config.rpcauth)
            async with anyio.create_task_group() as group:
                self._group = group
                group.start_soon(self._accept, listener, group)
                task_status.started(self._port)
        finally:
            self._closing = True
            with anyio.CancelScope(shield=True):
                await listener.aclose()
            if self._cookie is not None:
                remove_cookie(*self._cookie)
            self._stopped.set()

    async def aclose(self) -> None:
        """Refuse new requests (-28), stop listening, answer those in flight, close everything."""
        self._closing = True
        if self._listener is None:
            return  # never started
        if self._accepting is not None:
            self._accepting.cancel()
        await self._not_listening.wait()
        with anyio.move_on_after(self.config.shutdown_grace, shield=True):
            await self._idle.wait()
        if self._group is not None:
            self._group.cancel_scope.cancel()
            if self._stack is None:
                await self._stopped.wait()

    async def _accept(self, listener: anyio.abc.Listener[anyio.abc.SocketStream], group: anyio.abc.TaskGroup) -> None:
        self._accepting = anyio.CancelScope()
        try:
            with self._accepting:
                await listener.serve(self._connection, task_group=group)
        finally:
            with anyio.CancelScope(shield=True):
                await listener.aclose()
            self._not_listening.set()

    # -- methods -----------------------------------------------------------------------

    def _backend_methods(self) -> dict[str, Method]:
        b = self.backend

        async def no_params(call: Callable[[], Any]) -> Any:
            return await call()

        def plain(call: Callable[[], Any]) -> Method:
            return Method(None, lambda _params: no_params(call))

        return {
            "getinfo": plain(b.getinfo),
            "getblockcount": plain(b.getblockcount),
            "getblockhash": Method(GetBlockHashParams, b.getblockhash),
            "getblock": Method(GetBlockParams, b.getblock),
            "getrawtransaction": Method(GetRawTransactionParams, b.getrawtransaction),
            "sendrawtransaction": Method(SendRawTransactionParams, b.sendrawtransaction),
            "gettxstatus": Method(TxidParams, b.gettxstatus),
            "waitfortxstatus": Method(WaitForTxStatusParams, b.waitfortxstatus),
            "listunspent": Method(ListUnspentParams, b.listunspent),
            "getbalance": Method(GetBalanceParams, b.getbalance),
            "getmempoolinfo": plain(b.getmempoolinfo),
            "getpeerinfo": plain(b.getpeerinfo),
            "getmasternodes": plain(b.getmasternodes),
            "getconsensusinfo": plain(b.getconsensusinfo),
            "stop": Method(None, self._stop),
        }

    def _ws_only(self) -> dict[str, Method]:
        async def refuse(_params: object) -> object:
            raise BackendError(
                "subscriptions need a WebSocket connection (path /ws)", code=RpcErrorCode.METHOD_NOT_FOUND
            )

        return {"subscribe": Method(SubscribeParams, refuse), "unsubscribe": Method(UnsubscribeParams, refuse)}

    async def _stop(self, _params: object) -> str:
        await self.backend.stop()
        # From now on every new request is refused; the host closes the server.
        self._closing = True
        self.stop_requested.set()
        return STOP_MESSAGE

    # -- HTTP --------------------------------------------------------------------------

    async def _connection(self, stream: anyio.abc.SocketStream) -> None:
        if self._connections >= self.config.max_connections:
            # Answered before reading anything (HTTP allows an early error response): a
            # flood of sockets costs us one write each.
            with contextlib.suppress(Exception):
                await stream.send(_BUSY)
            await stream.aclose()
            return
        self._connections += 1
        try:
            async with stream:
                await self._http(stream)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, anyio.EndOfStream, OSError):
            pass
        except Exception:
            # One connection's bug must never take the server's task group down.
            _log.exception("RPC connection failed")
        finally:
            self._connections -= 1

    async def _http(self, stream: anyio.abc.SocketStream) -> None:
        remote = stream.extra(SocketAttribute.remote_address)
        allowed = _http.client_allowed(remote[0] if isinstance(remote, tuple) else remote, self.config.allow)
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=self.config.max_header_bytes)
        while True:
            try:
                keep = await self._cycle(stream, conn, allowed)
            except _Timeout as timeout:
                if timeout.started:
                    await _http.respond(
                        stream, conn, 408, error_body(RpcErrorCode.INVALID_REQUEST, "request timeout"), close=True
                    )
                return
            except h11.RemoteProtocolError as exc:
                status = exc.error_status_hint
                message = "request header fields too large" if status == 431 else f"bad HTTP request: {exc}"
                await _http.respond(stream, conn, status, error_body(RpcErrorCode.INVALID_REQUEST, message), close=True)
                return
            if not keep or conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                return
            try:
                conn.start_next_cycle()
            except h11.LocalProtocolError:
                return

    async def _event(self, stream: anyio.abc.SocketStream, conn: h11.Connection, deadline: _Deadline) -> Any:
        """The next h11 event; the first byte of a request sets its ``request_timeout`` deadline."""
        while True:
            event = conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            data = await _http.receive(stream)
            if data:
                deadline.start(self.config.request_timeout)
            conn.receive_data(data)

    async def _cycle(self, stream: anyio.abc.SocketStream, conn: h11.Connection, allowed: bool) -> bool:
        """Serve one request; False when the connection is to be closed."""
        scope = anyio.CancelScope(deadline=anyio.current_time() + self.config.idle_timeout)
        deadline = _Deadline(scope)
        request: Any = None
        with scope:
            if conn.trailing_data[0]:
                deadline.start(self.config.request_timeout)  # a pipelined request already began
            request = await self._event(stream, conn, deadline)
        if scope.cancelled_caught:
            raise _Timeout(started=deadline.started)
        if isinstance(request, h11.ConnectionClosed) or request is h11.PAUSED:
            return False
        assert isinstance(request, h11.Request)
        if not allowed:
            await _http.respond(stream, conn, 403, error_body(RpcErrorCode.INVALID_REQUEST, "forbidden"), close=True)
            return False
        path = request.target.split(b"?", 1)[0]
        upgrade = (_http.header(request, b"upgrade") or b"").lower() == b"websocket"
        refusal: tuple[int, str, list[tuple[bytes, bytes]]] | None = None
        expected = b"GET" if path == b"/ws" else b"POST"
        if path not in (b"/", b"/ws"):
            refusal = (404, "not found: POST to / or upgrade /ws", [])
        elif path == b"/ws" and not upgrade:
            refusal = (426, "/ws needs a WebSocket upgrade", [(b"upgrade", b"websocket")])
        elif request.method != expected:
            refusal = (405, f"method not allowed: use {expected.decode()}", [(b"allow", expected)])
        if refusal is not None:
            status, message, headers = refusal
            body = error_body(RpcErrorCode.INVALID_REQUEST, message)
            await _http.respond(stream, conn, status, body, headers=headers, close=True)
            return False
        if not self._auth.check(_http.header(request, b"authorization")):
            # The delay makes guessing slow; the connection is closed so each guess costs a handshake.
            await anyio.sleep(self.config.auth_failure_delay)
            await _http.respond(
                stream, conn, 401, error_body(RpcErrorCode.INVALID_REQUEST, "unauthorized"),
                headers=[(b"www-authenticate", b'Basic realm="jsonrpc"')], close=True,
            )
            return False
        if path == b"/ws":
            await self._websocket(stream, conn, request, deadline)
            return False
        return await self._post(stream, conn, request, deadline)

    async def _post(
        self, stream: anyio.abc.SocketStream, conn: h11.Connection, request: h11.Request, deadline: _Deadline
    ) -> bool:
        limit = self.config.max_body_bytes
        length = _http.header(request, b"content-length")
        too_big = error_body(RpcErrorCode.INVALID_REQUEST, f"request body exceeds {limit} bytes")
        if length is not None and int(length) > limit:
            # Refused on the header alone: not one byte of that body is read.
            await _http.respond(stream, conn, 413, too_big, close=True)
            return False
        self._enter()
        try:
            if conn.they_are_waiting_for_100_continue:
                await stream.send(conn.send(h11.InformationalResponse(status_code=100, headers=[])) or b"")
            body = bytearray()
            scope = deadline.scope = anyio.CancelScope(deadline=deadline.at)
            with scope:
                while True:
                    event = await self._event(stream, conn, deadline)
                    if isinstance(event, h11.Data):
                        body += event.data
                        if len(body) > limit:
                            await _http.respond(stream, conn, 413, too_big, close=True)
                            return False
                    elif isinstance(event, h11.EndOfMessage):
                        break
                    else:
                        return False
            if scope.cancelled_caught:
                raise _Timeout(started=True)
            answer = await self._dispatcher.handle(bytes(body), self._http_methods)
            if answer is None:
                return await _http.respond(stream, conn, 204, close=self._closing) and not self._closing
            return await _http.respond(stream, conn, 200, answer, close=self._closing) and not self._closing
        finally:
            self._leave()

    def _enter(self) -> None:
        self._inflight += 1
        if self._idle.is_set():
            self._idle = anyio.Event()

    def _leave(self) -> None:
        self._inflight -= 1
        if self._inflight == 0:
            self._idle.set()

    # -- WebSocket ---------------------------------------------------------------------

    async def _websocket(
        self, stream: anyio.abc.SocketStream, conn: h11.Connection, request: h11.Request, deadline: _Deadline
    ) -> None:
        scope = deadline.scope = anyio.CancelScope(deadline=deadline.at)
        with scope:
            while True:
                event = await self._event(stream, conn, deadline)
                if event is h11.PAUSED or isinstance(event, h11.EndOfMessage):
                    if event is h11.PAUSED:
                        break
                    continue
                return
        if scope.cancelled_caught:
            raise _Timeout(started=True)
        handshake = H11Handshake(wsproto.ConnectionType.SERVER)
        try:
            handshake.initiate_upgrade_connection(list(request.headers), request.target)
            accepted = any(isinstance(e, ws_events.Request) for e in handshake.events())
        except WsRemoteProtocolError as exc:
            accepted = False
            detail = str(exc)
        else:
            detail = "not a WebSocket upgrade"
        if not accepted:
            # A response other than 101 denies the protocol switch h11 paused on.
            body = error_body(RpcErrorCode.INVALID_REQUEST, f"bad WebSocket handshake: {detail}")
            await _http.respond(stream, conn, 400, body, close=True)
            return
        await stream.send(handshake.send(ws_events.AcceptConnection()))
        ws = handshake.connection
        assert ws is not None
        trailing = conn.trailing_data[0]
        if trailing:
            ws.receive_data(trailing)
        await self._ws_session(stream, ws)

    async def _ws_session(self, stream: anyio.abc.SocketStream, ws: WsConnection) -> None:
        send, receive = anyio.create_memory_object_stream[bytes](self.config.ws_queue_size)
        subs = _Subscriptions(send, ws)
        slots = anyio.Semaphore(self.config.ws_concurrency)
        writer_done = anyio.Event()
        close_code: int | None = None

        async def writer() -> None:
            # The only task writing to the socket, so frames never interleave; it ends
            # after the queue is closed, sending our close frame last if we have one.
            try:
                async with receive:
                    async for frame in receive:
                        if subs.slow:
                            break  # the backlog of a slow subscriber is dropped, not sent
                        await stream.send(frame)
                if close_code is not None and ws.state is ConnectionState.OPEN:
                    await stream.send(ws.send(ws_events.CloseConnection(code=close_code)))
            finally:
                writer_done.set()

        async def answer(text: str) -> None:
            self._enter()
            created: list[str] = []
            token = _CREATED.set(created)  # the subscriptions this message creates
            try:
                body = await self._dispatcher.handle(text, methods)
                if body is not None:
                    subs.queue_message(body.decode())
                # Their notifications go out only now, after the answer carrying their ids.
                subs.release(created)
            finally:
                _CREATED.reset(token)
                self._leave()
                slots.release()

        async def subscribe(params: SubscribeParams) -> str:
            if len(subs.active) >= self.config.max_subscriptions:
                raise BackendError(
                    f"at most {self.config.max_subscriptions} subscriptions per connection",
                    code=RpcErrorCode.INVALID_PARAMETER,
                )
            subscription = "0x" + secrets.token_hex(16)
            subs.held[subscription] = []
            _CREATED.get().append(subscription)
            subs.active[subscription] = lambda: None
            try:
                subs.active[subscription] = self.backend.subscribe(params, subs.deliver_to(subscription))
            except BaseException:
                subs.active.pop(subscription, None)
                subs.held.pop(subscription, None)
                raise
            return subscription

        async def unsubscribe(params: UnsubscribeParams) -> bool:
            remove = subs.active.pop(params.subscription, None)
            subs.held.pop(params.subscription, None)
            if remove is None:
                return False
            remove()
            return True

        methods: Mapping[str, Method] = {
            **self._methods,
            "subscribe": Method(SubscribeParams, subscribe),
            "unsubscribe": Method(UnsubscribeParams, unsubscribe),
        }

        async def read(requests: anyio.abc.TaskGroup) -> int | None:
            """Read frames until the peer closes; returns our close code, if we close."""
            message: list[str] = []
            size = 0
            while True:
                data = await _http.receive(stream)
                ws.receive_data(data or None)
                for event in ws.events():
                    if isinstance(event, ws_events.TextMessage):
                        size += len(event.data)
                        if size > self.config.max_body_bytes:
                            return _WS_TOO_BIG
                        message.append(event.data)
                        if event.message_finished:
                            text, message, size = "".join(message), [], 0
                            await slots.acquire()  # backpressure: stop reading at the limit
                            requests.start_soon(answer, text)
                    elif isinstance(event, ws_events.BytesMessage):
                        return _WS_UNSUPPORTED
                    elif isinstance(event, ws_events.Ping):
                        subs.queue(ws.send(event.response()))
                    elif isinstance(event, ws_events.CloseConnection):
                        if ws.state is ConnectionState.REMOTE_CLOSING:
                            subs.queue(ws.send(event.response()))
                        return None

        try:
            async with anyio.create_task_group() as group:
                group.start_soon(writer)
                async with anyio.create_task_group() as requests:

                    def too_slow() -> None:
                        nonlocal close_code
                        close_code = _WS_SLOW
                        requests.cancel_scope.cancel()

                    subs.on_slow = too_slow
                    code = await read(requests)
                    if close_code is None:
                        close_code = code
                    requests.cancel_scope.cancel()
                # The writer sends what is queued (nothing, for a slow subscriber) and the
                # close frame; a peer that reads nothing gets a second, then the socket closes.
                send.close()
                with anyio.move_on_after(1.0):
                    await writer_done.wait()
                group.cancel_scope.cancel()
        finally:
            subs.close()
