"""Timecoin's JSON-RPC 2.0 surface: server, backend protocol, models, clients.

* :class:`RpcServer` serves an :class:`RpcBackend` over HTTP/1.1 (h11) and WebSocket
  (wsproto, ``/ws``) on anyio, with cookie or ``rpcauth`` authentication.
* :class:`RpcBackend` is what a node implements; :class:`LocalChainBackend` implements
  it over the in-memory :class:`~timecoin_core.testing.LocalChain`.
* :class:`RpcClient` (blocking) and :class:`AsyncRpcClient` (anyio, with subscriptions)
  call it from Python.

docs/rpc.md lists every method with an example.
"""

from __future__ import annotations

from ._http import BindRefusedError
from .auth import COOKIE_FILE, COOKIE_USER, Authenticator, CookieError, make_rpcauth, read_cookie
from .backend import Deliver, RpcBackend, SubscriptionHub, Unsubscribe
from .client import (
    AsyncRpcClient,
    RpcAuthError,
    RpcClient,
    RpcClientError,
    RpcConnectionError,
    RpcError,
    RpcWebSocket,
)
from .errors import (
    BackendError,
    DecodeFailedError,
    InvalidAddressError,
    InvalidParameterError,
    NotFoundError,
    RpcErrorCode,
    ShuttingDownError,
    TransactionRejectedError,
)
from .jsonrpc import Dispatcher, Method
from .local import LocalChainBackend
from .server import STOP_MESSAGE, RpcServer, RpcServerConfig

__all__ = [
    "COOKIE_FILE",
    "COOKIE_USER",
    "STOP_MESSAGE",
    "AsyncRpcClient",
    "Authenticator",
    "BackendError",
    "BindRefusedError",
    "CookieError",
    "DecodeFailedError",
    "Deliver",
    "Dispatcher",
    "InvalidAddressError",
    "InvalidParameterError",
    "LocalChainBackend",
    "Method",
    "NotFoundError",
    "RpcAuthError",
    "RpcBackend",
    "RpcClient",
    "RpcClientError",
    "RpcConnectionError",
    "RpcError",
    "RpcErrorCode",
    "RpcServer",
    "RpcServerConfig",
    "RpcWebSocket",
    "ShuttingDownError",
    "SubscriptionHub",
    "TransactionRejectedError",
    "Unsubscribe",
    "make_rpcauth",
    "read_cookie",
]
