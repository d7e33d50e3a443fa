"""Test kit for networks of real nodes: node processes and a fault proxy.

* :class:`NodeProcess` — a ``timecoin node run`` child process: started, awaited
  until ready, stopped (SIGTERM, exit code) or killed, always cleaned up.
* :class:`FaultProxy` — a TCP relay per link with blackhole, delay and reset switches,
  for partition tests between processes.

Tests wait on conditions (a ready line, a status), never on sleeps.
"""

from __future__ import annotations

from .process import MAX_LOG_LINES, READY_PATTERN, NodeProcess, NodeProcessError
from .proxy import FaultProxy

__all__ = ["MAX_LOG_LINES", "READY_PATTERN", "FaultProxy", "NodeProcess", "NodeProcessError"]
