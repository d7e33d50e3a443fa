"""Timecoin networking layer (anyio): the node runtime, its datadir and command line, and test kits.

* :func:`load_datadir`, :class:`NodeConfig`, :class:`DatadirError` — a node's datadir
  and its ``node.toml`` (docs/node.md).
* :func:`run_from_datadir` — what ``timecoin node run --datadir DIR`` does.
* ``timecoin`` (``python -m timecoin_net``) — the command line: ``node init|run``,
  ``devnet up|status|down``.
* :mod:`timecoin_net.testing` — node processes and a fault proxy for tests.
"""

from __future__ import annotations

from .config import Datadir, DatadirError, Endpoint, NodeConfig, init_datadir, load_datadir
from .devnet import DevnetError, DevnetInfo, devnet_genesis
from .runner import NodeOverrides, run_from_datadir

__all__ = [
    "Datadir",
    "DatadirError",
    "DevnetError",
    "DevnetInfo",
    "Endpoint",
    "NodeConfig",
    "NodeOverrides",
    "devnet_genesis",
    "init_datadir",
    "load_datadir",
    "run_from_datadir",
]
