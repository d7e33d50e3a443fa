"""Timecoin networking layer (anyio): JSON-RPC server and clients, metrics, the wallet command line.

The node runtime adds its own names here; the RPC surface lives in
:mod:`timecoin_net.rpc` (the most used names are re-exported below), the metrics in
:mod:`timecoin_net.metrics`, and ``timecoin wallet`` in :mod:`timecoin_net.wallet_cli`
(its names load on first use).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from .wallet_cli import WalletCliError, add_wallet_commands, run_wallet_command

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
    "WalletCliError",
    "add_wallet_commands",
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
