"""Timecoin networking layer (anyio): the node runtime, JSON-RPC server and clients, metrics,
the wallet command line.

* :class:`Node` — one node: consensus, store, verifier and peers in one task group
  (:mod:`timecoin_net.node`); :class:`RuntimeSettings` — its timeouts, slots and queues;
* :class:`PeerManager`, :class:`Connection` — the connection layer
  (:mod:`timecoin_net.peers`, :mod:`timecoin_net.connection`);
* :class:`Transport`, :class:`TcpTransport` — where byte streams come from;
* :class:`NodeBackend` — the RPC backend of a running node (:mod:`timecoin_net.node_rpc`);
* :mod:`timecoin_net.testing` — the in-memory network, scripted peer and waiting helpers;
* the RPC surface in :mod:`timecoin_net.rpc` (the most used names are re-exported
  below), the metrics in :mod:`timecoin_net.metrics`, and ``timecoin wallet`` in
  :mod:`timecoin_net.wallet_cli` (its names load on first use).
* :func:`load_datadir`, :class:`NodeConfig`, :class:`DatadirError` — a node's datadir
  and its ``node.toml`` (docs/node.md); :func:`run_from_datadir` — what ``timecoin node
  run --datadir DIR`` does; ``timecoin`` (``python -m timecoin_net``) — the command line:
  ``node init|run``, ``devnet up|status|down``, ``wallet ...``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .config import Datadir, DatadirError, Endpoint, NodeConfig, init_datadir, load_datadir
from .connection import Connection, PeerClosed, PeerEvent, SendFaults
from .devnet import DevnetError, DevnetInfo, devnet_genesis
from .metrics import MetricsServer, NodeMetrics
from .node import Node, NodeError, NodeStoppingError, TransactionStatus
from .node_rpc import NodeBackend
from .peers import PeerManager
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
from .settings import RuntimeSettings, SettingsError
from .transport import Link, TcpTransport, Transport, TransportError

if TYPE_CHECKING:
    from .wallet_cli import WalletCliError, add_wallet_commands, run_wallet_command

__all__ = [
    "AsyncRpcClient",
    "Connection",
    "Datadir",
    "DatadirError",
    "DevnetError",
    "DevnetInfo",
    "Endpoint",
    "Link",
    "LocalChainBackend",
    "MetricsServer",
    "Node",
    "NodeBackend",
    "NodeConfig",
    "NodeError",
    "NodeMetrics",
    "NodeOverrides",
    "NodeStoppingError",
    "PeerClosed",
    "PeerEvent",
    "PeerManager",
    "RpcAuthError",
    "RpcBackend",
    "RpcClient",
    "RpcClientError",
    "RpcConnectionError",
    "RpcError",
    "RpcErrorCode",
    "RpcServer",
    "RpcServerConfig",
    "RuntimeSettings",
    "SendFaults",
    "SettingsError",
    "TcpTransport",
    "TransactionStatus",
    "Transport",
    "TransportError",
    "WalletCliError",
    "add_wallet_commands",
    "devnet_genesis",
    "init_datadir",
    "load_datadir",
    "run_from_datadir",
    "run_wallet_command",
]

_WALLET_CLI = frozenset({"WalletCliError", "add_wallet_commands", "run_wallet_command"})


def __getattr__(name: str) -> object:
    # The wallet command line loads on first use, so `python -m timecoin_net.wallet_cli`
    # runs a module nobody imported yet (runpy warns otherwise).
    if name in _WALLET_CLI:
        from . import wallet_cli

        return getattr(wallet_cli, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
