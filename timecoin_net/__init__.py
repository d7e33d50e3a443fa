"""Timecoin networking layer (anyio): a node's datadir and command line, JSON-RPC, metrics, the wallet command line, test kits.

* :func:`load_datadir`, :class:`NodeConfig`, :class:`DatadirError` — a node's datadir
  and its ``node.toml`` (docs/node.md);
* :func:`run_from_datadir` — what ``timecoin node run --datadir DIR`` does;
* ``timecoin`` (``python -m timecoin_net``) — the command line: ``node init|run``,
  ``devnet up|status|down``, ``wallet ...``;
* the RPC surface lives in :mod:`timecoin_net.rpc` (the most used names are
  re-exported below), the metrics in :mod:`timecoin_net.metrics`, and ``timecoin
  wallet`` in :mod:`timecoin_net.wallet_cli` (its names load on first use);
* :mod:`timecoin_net.testing` — node processes and a fault proxy for tests.

The node runtime adds its own names here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from .wallet_cli import WalletCliError, add_wallet_commands, run_wallet_command

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
