"""Timecoin networking layer (anyio): a node's datadir and command line, JSON-RPC, metrics, test kits.

* :func:`load_datadir`, :class:`NodeConfig`, :class:`DatadirError` — a node's datadir
  and its ``node.toml`` (docs/node.md);
* :func:`run_from_datadir` — what ``timecoin node run --datadir DIR`` does;
* ``timecoin`` (``python -m timecoin_net``) — the command line: ``node init|run``,
  ``devnet up|status|down``;
* the RPC surface lives in :mod:`timecoin_net.rpc` (the most used names are
  re-exported below) and the metrics in :mod:`timecoin_net.metrics`;
* :mod:`timecoin_net.testing` — node processes and a fault proxy for tests.

The node runtime adds its own names here.
"""

from __future__ import annotations

from .config import Datadir, DatadirError, Endpoint, NodeConfig, init_datadir, load_datadir
from .devnet import DevnetError, DevnetInfo, devnet_genesis
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
from .runner import NodeOverrides, run_from_datadir

__all__ = [
    "AsyncRpcClient",
    "Datadir",
    "DatadirError",
    "DevnetError",
    "DevnetInfo",
    "Endpoint",
    "LocalChainBackend",
    "MetricsServer",
    "NodeConfig",
    "NodeMetrics",
    "NodeOverrides",
    "RpcAuthError",
    "RpcBackend",
    "RpcClient",
    "RpcClientError",
    "RpcConnectionError",
    "RpcError",
    "RpcErrorCode",
    "RpcServer",
    "RpcServerConfig",
    "devnet_genesis",
    "init_datadir",
    "load_datadir",
    "run_from_datadir",
]
