"""Timecoin networking layer (anyio): connections, the node runtime and its test kit.

* :class:`Node` — one node: consensus, store, verifier and peers in one task group
  (:mod:`timecoin_net.node`);
* :class:`RuntimeSettings` — its timeouts, slots and queue sizes;
* :class:`PeerManager`, :class:`Connection` — the connection layer
  (:mod:`timecoin_net.peers`, :mod:`timecoin_net.connection`);
* :class:`Transport`, :class:`TcpTransport` — where byte streams come from;
* :mod:`timecoin_net.testing` — the in-memory network, scripted peer and waiting helpers.
"""

from __future__ import annotations

from .connection import Connection, PeerClosed, PeerEvent, SendFaults
from .node import Node, NodeError, NodeStoppingError, TransactionStatus
from .peers import PeerManager
from .settings import RuntimeSettings, SettingsError
from .transport import Link, TcpTransport, Transport, TransportError

__all__ = [
    "Connection",
    "Link",
    "Node",
    "NodeError",
    "NodeStoppingError",
    "PeerClosed",
    "PeerEvent",
    "PeerManager",
    "RuntimeSettings",
    "SendFaults",
    "SettingsError",
    "TcpTransport",
    "TransactionStatus",
    "Transport",
    "TransportError",
]
