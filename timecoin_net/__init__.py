"""Timecoin networking layer (anyio): JSON-RPC server and clients, metrics.

The node runtime adds its own names here; the RPC surface lives in
:mod:`timecoin_net.rpc` (the most used names are re-exported below) and the metrics in
:mod:`timecoin_net.metrics`.
"""

from __future__ import annotations

from .metrics import MetricsServer, NodeMetrics
from .rpc import (
    AsyncRpcClient,
    LocalChainBackend,
    RpcAuthError,
    RpcBackend,
    RpcClient,
    RpcClientError,
    RpcConnectionError,
    RpcError,
    RpcErrorCode,
    RpcServer,
    RpcServerConfig,
)

__all__ = [
    "AsyncRpcClient",
    "LocalChainBackend",
    "MetricsServer",
    "NodeMetrics",
    "RpcAuthError",
    "RpcBackend",
    "RpcClient",
    "RpcClientError",
    "RpcConnectionError",
    "RpcError",
    "RpcErrorCode",
    "RpcServer",
    "RpcServerConfig",
]
