"""Test kit for the network runtime: an in-memory network, a scripted peer, waiting helpers, node processes and a fault proxy.

* :class:`MemoryNetwork` — many nodes in one process over anyio memory streams, with
  seeded per-link delay, loss, duplication, reordering and partitions;
* :class:`ScriptedPeer` — a peer a test drives by hand over a real stream, with
  ``on_<message>`` hooks and a barrier (:meth:`ScriptedPeer.sync_with_ping`);
* :func:`sync_all` / :func:`wait_until` — wait on conditions, never on sleeps;
* :class:`NetworkFixture` — a devnet with N genesis masternodes and funded coins;
* :func:`running_nodes` — N nodes of a fixture in one process, fully meshed;
* :class:`NodeProcess` — a ``timecoin node run`` child process: started, awaited
  until ready, stopped (SIGTERM, exit code) or killed, always cleaned up;
* :class:`FaultProxy` — a TCP relay per link with blackhole, delay and reset switches,
  for partition tests between processes.
"""

from __future__ import annotations

from .cluster import running_nodes
from .fixture import NetworkFixture
from .memory import LinkModel, MemoryNetwork, MemoryStream, MemoryTransport
from .process import MAX_LOG_LINES, READY_PATTERN, NodeProcess, NodeProcessError, free_base_port
from .proxy import FaultProxy
from .scripted import ScriptedPeer, ScriptedPeerError
from .sync import SyncTimeoutError, sync_all, wait_until

__all__ = [
    "MAX_LOG_LINES",
    "READY_PATTERN",
    "FaultProxy",
    "LinkModel",
    "MemoryNetwork",
    "MemoryStream",
    "MemoryTransport",
    "NetworkFixture",
    "NodeProcess",
    "NodeProcessError",
    "ScriptedPeer",
    "ScriptedPeerError",
    "SyncTimeoutError",
    "free_base_port",
    "running_nodes",
    "sync_all",
    "wait_until",
]
