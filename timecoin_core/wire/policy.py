"""Connection policy as pure code: slots, netgroups, attempt limits, dial backoff, eviction,
discouragement and the stale sweep.

Theory of operation. :class:`ConnectionPolicy` owns the facts about connected peers
(:class:`PeerRecord`) and answers the questions a node's connection manager asks, with
time and randomness passed in (``now``; a seeded ``random.Random``), so a simulator
replays it exactly:

* *May this inbound connection stay?* (:meth:`ConnectionPolicy.admit_inbound`) Refused
  when the attempt bucket is empty, when the address's /16 already holds
  ``max_per_netgroup`` inbound peers, or when inbound is full and no peer can be
  evicted; a discouraged address gets only a free slot, never an eviction.
* *Whom to evict?* (:func:`select_eviction`) Protect masternodes and outbound peers,
  then 4 peers by lowest ping, 4 by most recent novel transaction, 4 by most recent
  valid consensus message (only peers that relayed one), then half the rest by uptime. Of the remaining candidates a
  discouraged one goes first, else the youngest of the largest /16.
* *What does an offence cost?* (:meth:`ConnectionPolicy.on_close`) Offences
  discourage the address for 24 h; an authenticated active masternode is never
  discouraged (a local bug must not split the validator set): it gets reconnect
  backoff instead. Faults and orderly closes cost nothing beyond the disconnect.
* *When may we dial again?* (:class:`DialBackoff`) ``1 s x 2^n`` capped at 10 min with
  +-20% jitter, reset by a successful handshake.
* *Who is stale?* (:meth:`ConnectionPolicy.stale`) peers whose handshake outlived its
  deadline or who have been silent past the idle timeout (the sweep runs every 10 s).
"""

from __future__ import annotations

import ipaddress
import random
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Any

from ..errors import InvalidArgumentError
from .errors import Consequence, ProtocolError, WireConfigError
from .ratelimit import RateVerdict, TokenBucket

__all__ = [
    "Admission",
    "CloseAction",
    "ConnectionPolicy",
    "DialBackoff",
    "PeerRecord",
    "PolicyConfig",
    "netgroup",
    "select_eviction",
]


def netgroup(ip: str) -> str:
    """The group per-netgroup limits count by: the /16 of an IPv4 address (also IPv4-mapped),
    the /32 of an IPv6 address."""
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if isinstance(address, ipaddress.IPv4Address):
        return str(ipaddress.IPv4Network(f"{address}/16", strict=False))
    return str(ipaddress.IPv6Network(f"{address}/32", strict=False))


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    """Limits of the connection policy (NETWORK.md "Connections"), validated here."""

    max_inbound: int = 64
    max_outbound: int = 8
    max_per_netgroup: int = 8
    attempts_per_second: float = 10.0
    attempt_burst: float = 20.0
    discourage_ttl: float = 24 * 3600.0
    handshake_timeout: float = 10.0
    idle_timeout: float = 90.0
    backoff_base: float = 1.0
    backoff_cap: float = 600.0
    backoff_jitter: float = 0.2
    protect_by_ping: int = 4
    protect_by_tx: int = 4
    protect_by_consensus: int = 4

    def __post_init__(self) -> None:
        if min(self.max_inbound, self.max_outbound, self.max_per_netgroup) < 1:
            raise WireConfigError("slot limits must be at least 1")
        if not 0 <= self.backoff_jitter < 1:
            raise WireConfigError("backoff_jitter must be in [0, 1)")
        if self.backoff_base <= 0 or self.backoff_cap < self.backoff_base:
            raise WireConfigError("backoff needs 0 < base <= cap")


@dataclass(slots=True)
class PeerRecord:
    """What the policy knows about one connected peer (updated by the node)."""

    peer_id: int
    ip: str
    inbound: bool
    connected_at: float
    masternode: bool = False
    ready: bool = False
    ping_rtt: float | None = None
    last_novel_tx: float | None = None
    last_consensus: float | None = None
    last_activity: float = 0.0
    discouraged: bool = False
    group: str = field(init=False)

    def __post_init__(self) -> None:
        self.group = netgroup(self.ip)
        if self.last_activity < self.connected_at:
            self.last_activity = self.connected_at


class Admission(Enum):
    """The policy's answer to an inbound connection."""

    ACCEPT = "accept"
    ACCEPT_EVICTING = "accept_evicting"
    REFUSE_RATE = "refuse_rate"
    REFUSE_NETGROUP = "refuse_netgroup"
    REFUSE_FULL = "refuse_full"


class CloseAction(Enum):
    """What follows a closed session."""

    NONE = "none"
    DISCOURAGE = "discourage"
    BACKOFF = "backoff"


def _recent(value: float | None) -> float:
    return float("-inf") if value is None else value


def select_eviction(peers: Iterable[PeerRecord], config: PolicyConfig | None = None) -> PeerRecord | None:
    """The inbound peer to evict to make room, or ``None`` when every peer is protected."""
    config = config or PolicyConfig()
    candidates = sorted((p for p in peers if p.inbound and not p.masternode), key=lambda p: p.peer_id)

    def protect(
        key: Callable[[PeerRecord], Any], count: int, reverse: bool = False,
        eligible: Callable[[PeerRecord], bool] = lambda p: True,
    ) -> None:
        nonlocal candidates
        ranked = sorted(filter(eligible, candidates), key=key, reverse=reverse)
        kept = {p.peer_id for p in ranked[:count]}
        candidates = [p for p in candidates if p.peer_id not in kept]

    protect(lambda p: (p.ping_rtt is None, p.ping_rtt or 0.0, p.peer_id), config.protect_by_ping)
    # Only peers that did relay something earn these two protections.
    protect(
        lambda p: (_recent(p.last_novel_tx), -p.peer_id), config.protect_by_tx, reverse=True,
        eligible=lambda p: p.last_novel_tx is not None,
    )
    protect(
        lambda p: (_recent(p.last_consensus), -p.peer_id), config.protect_by_consensus,
        reverse=True, eligible=lambda p: p.last_consensus is not None,
    )
    protect(lambda p: (p.connected_at, p.peer_id), len(candidates) // 2)
    if not candidates:
        return None
    discouraged = [p for p in candidates if p.discouraged]
    if discouraged:
        return max(discouraged, key=lambda p: (p.connected_at, p.peer_id))
    groups = Counter(p.group for p in candidates)
    youngest = {g: max(p.connected_at for p in candidates if p.group == g) for g in groups}
    largest = max(groups, key=lambda g: (groups[g], youngest[g], g))
    return max((p for p in candidates if p.group == largest), key=lambda p: (p.connected_at, p.peer_id))


class DialBackoff:
    """Per-address dial backoff: ``base x 2^failures`` capped, with +-jitter from ``rng``."""

    __slots__ = ("_config", "_failures", "_next", "_rng")

    def __init__(self, config: PolicyConfig, rng: random.Random) -> None:
        self._config = config
        self._rng = rng
        self._failures: dict[str, int] = {}
        self._next: dict[str, float] = {}

    def may_dial(self, address: str, now: float) -> bool:
        """True when ``address`` is not backing off at ``now``."""
        return now >= self._next.get(address, float("-inf"))

    def failed(self, address: str, now: float) -> float:
        """Record a failed dial (or a masternode's disconnect); returns the next allowed time."""
        n = self._failures.get(address, 0)
        c = self._config
        delay = min(c.backoff_cap, c.backoff_base * 2.0**n)
        delay *= 1 + self._rng.uniform(-c.backoff_jitter, c.backoff_jitter)
        self._failures[address] = n + 1
        self._next[address] = now + delay
        return now + delay

    def succeeded(self, address: str) -> None:
        """A completed handshake resets the address's backoff."""
        self._failures.pop(address, None)
        self._next.pop(address, None)


class ConnectionPolicy:
    """Slots, eviction, discouragement and sweeps for one node (see the module docstring)."""

    def __init__(self, config: PolicyConfig | None = None, *, rng: random.Random, now: float) -> None:
        self.config = config or PolicyConfig()
        self.backoff = DialBackoff(self.config, rng)
        self._attempts = TokenBucket(self.config.attempts_per_second, self.config.attempt_burst, now)
        self._peers: dict[int, PeerRecord] = {}
        self._discouraged: dict[str, float] = {}
        self._counters: Counter[str] = Counter()

    @property
    def peers(self) -> Mapping[int, PeerRecord]:
        """Connected peers by id."""
        return MappingProxyType(self._peers)

    @property
    def counters(self) -> Mapping[str, int]:
        """Counts of every decision (a snapshot)."""
        return MappingProxyType(dict(self._counters))

    def inbound_count(self) -> int:
        """Connected inbound peers."""
        return sum(p.inbound for p in self._peers.values())

    def outbound_count(self) -> int:
        """Connected outbound peers."""
        return sum(not p.inbound for p in self._peers.values())

    # -- discouragement ---------------------------------------------------------------

    def discourage(self, ip: str, now: float) -> None:
        """Discourage ``ip`` until ``now + discourage_ttl``."""
        self._discouraged[ip] = now + self.config.discourage_ttl
        for peer in self._peers.values():
            if peer.ip == ip:
                peer.discouraged = True
        self._counters["discouraged"] += 1

    def is_discouraged(self, ip: str, now: float) -> bool:
        """True while ``ip`` is discouraged."""
        until = self._discouraged.get(ip)
        if until is None:
            return False
        if now >= until:
            del self._discouraged[ip]
            return False
        return True

    def expire(self, now: float) -> int:
        """Forget discouragements that have run out; returns how many."""
        gone = [ip for ip, until in self._discouraged.items() if now >= until]
        for ip in gone:
            del self._discouraged[ip]
        return len(gone)

    # -- admission --------------------------------------------------------------------

    def admit_inbound(self, ip: str, now: float) -> tuple[Admission, PeerRecord | None]:
        """Whether an inbound connection from ``ip`` may proceed, and whom it evicts.

        Every call is an attempt charged to the attempt bucket.
        """
        if self._attempts.take(1, now) is not RateVerdict.PASS:
            return self._decide(Admission.REFUSE_RATE)
        group = netgroup(ip)
        if sum(p.inbound and p.group == group for p in self._peers.values()) >= self.config.max_per_netgroup:
            return self._decide(Admission.REFUSE_NETGROUP)
        if self.inbound_count() < self.config.max_inbound:
            return self._decide(Admission.ACCEPT)
        if self.is_discouraged(ip, now):
            return self._decide(Admission.REFUSE_FULL)
        victim = select_eviction(self._peers.values(), self.config)
        if victim is None:
            return self._decide(Admission.REFUSE_FULL)
        return self._decide(Admission.ACCEPT_EVICTING, victim)

    def _decide(self, verdict: Admission, victim: PeerRecord | None = None) -> tuple[Admission, PeerRecord | None]:
        self._counters[f"admission.{verdict.value}"] += 1
        return verdict, victim

    def may_dial(self, address: str, ip: str, now: float) -> bool:
        """True when an outbound slot is free, ``ip`` is not discouraged and ``address`` is not backing off."""
        return (
            self.outbound_count() < self.config.max_outbound
            and not self.is_discouraged(ip, now)
            and self.backoff.may_dial(address, now)
        )

    # -- lifecycle --------------------------------------------------------------------

    def connected(self, peer: PeerRecord, now: float) -> None:
        """Track a new connection (inbound after :meth:`admit_inbound`, or outbound)."""
        if peer.peer_id in self._peers:
            raise InvalidArgumentError("peer", f"peer {peer.peer_id} is already connected")
        peer.discouraged = self.is_discouraged(peer.ip, now)
        self._peers[peer.peer_id] = peer

    def touch(self, peer_id: int, now: float) -> None:
        """The peer was heard from at ``now``."""
        peer = self._peers.get(peer_id)
        if peer is not None:
            peer.last_activity = max(peer.last_activity, now)

    def on_close(self, peer_id: int, error: ProtocolError | None, now: float, *, address: str | None = None) -> CloseAction:
        """Forget the peer and say what its close costs it."""
        peer = self._peers.pop(peer_id, None)
        if peer is None or error is None or not error.discourage:
            if error is not None and error.consequence is Consequence.FAULT:
                self._counters["close.fault"] += 1
            return CloseAction.NONE
        if peer.masternode and peer.ready:
            self._counters["close.masternode_offence"] += 1
            self.backoff.failed(address or peer.ip, now)
            return CloseAction.BACKOFF
        self.discourage(peer.ip, now)
        return CloseAction.DISCOURAGE

    def stale(self, now: float) -> list[PeerRecord]:
        """Peers to drop in the sweep: handshake past its deadline, or silent past idle."""
        c = self.config
        found = [
            p for p in self._peers.values()
            if (not p.ready and now >= p.connected_at + c.handshake_timeout)
            or now >= p.last_activity + c.idle_timeout
        ]
        self._counters["stale"] += len(found)
        return sorted(found, key=lambda p: p.peer_id)
