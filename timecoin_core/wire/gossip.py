"""Gossip bookkeeping: dedupe by hash with a TTL, push-relay targets, and inventory requests
with timeouts and re-requests from another peer.

Theory of operation. Three small owners of state, all driven by ``now`` passed in:

* :class:`SeenSet` remembers hashes for ``ttl`` seconds (NETWORK.md: two rebroadcast
  periods), so a message that comes back around is dropped and counted, not re-handled.
* :class:`RelayFilter` remembers, per hash, which peers already have it (they sent it
  to us or we sent it to them), so a consensus message is pushed only to peers that
  lack it.
* :class:`InventoryTracker` turns announcements (``Inv``) into requests (``GetData``):
  one peer at a time per hash, at most ``max_in_flight`` per peer, and a request that
  is not answered within ``timeout`` (or is answered with ``NotFound``, or whose peer
  leaves) moves to another peer that announced the hash. Each step returns the
  requests to send as ``{peer: [hash, ...]}``.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ..errors import InvalidArgumentError

__all__ = ["InventoryTracker", "RelayFilter", "SeenSet"]

Peer = Hashable


class SeenSet:
    """Hashes seen within the last ``ttl`` seconds."""

    __slots__ = ("_entries", "ttl")

    def __init__(self, ttl: float) -> None:
        if ttl <= 0:
            raise InvalidArgumentError("ttl", "ttl must be positive")
        self.ttl = ttl
        self._entries: OrderedDict[bytes, float] = OrderedDict()

    def add(self, item: bytes, now: float) -> bool:
        """Remember ``item``; True when it was not already remembered (new to us)."""
        self.expire(now)
        if item in self._entries:
            return False
        self._entries[item] = now + self.ttl
        return True

    def __contains__(self, item: object) -> bool:
        return item in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def expire(self, now: float) -> None:
        """Forget entries older than the TTL (oldest first; insertion order is time order)."""
        entries = self._entries
        while entries:
            item, until = next(iter(entries.items()))
            if until > now:
                break
            del entries[item]


class RelayFilter:
    """Per hash, the peers known to have it, for ``ttl`` seconds after we first saw it."""

    __slots__ = ("_known", "_seen")

    def __init__(self, ttl: float) -> None:
        self._seen = SeenSet(ttl)
        self._known: dict[bytes, set[Peer]] = {}

    def note(self, item: bytes, peer: Peer, now: float) -> bool:
        """``peer`` has ``item`` (it sent it to us); True when ``item`` is new to us."""
        new = self._add(item, now)
        self._known[item].add(peer)
        return new

    def targets(self, item: bytes, peers: Iterable[Peer], now: float) -> list[Peer]:
        """The peers of ``peers`` that lack ``item``; they are marked as having it now."""
        self._add(item, now)
        known = self._known[item]
        chosen = [p for p in peers if p not in known]
        known.update(chosen)
        return chosen

    def forget_peer(self, peer: Peer) -> None:
        """Drop ``peer`` from every entry (it left)."""
        for known in self._known.values():
            known.discard(peer)

    def _add(self, item: bytes, now: float) -> bool:
        new = self._seen.add(item, now)
        if len(self._known) > len(self._seen):
            for stale in [h for h in self._known if h not in self._seen]:
                del self._known[stale]
        if new:
            self._known[item] = set()
        return new


@dataclass(slots=True)
class _Wanted:
    announcers: list[Peer] = field(default_factory=list)
    tried: set[Peer] = field(default_factory=set)
    peer: Peer | None = None
    deadline: float = 0.0


class InventoryTracker:
    """Announced hashes we want, whom we asked, and whom to ask next."""

    def __init__(self, *, timeout: float = 10.0, max_in_flight: int = 1000, seen_ttl: float = 600.0) -> None:
        if timeout <= 0 or max_in_flight < 1:
            raise InvalidArgumentError("timeout" if timeout <= 0 else "max_in_flight", "timeout must be positive and max_in_flight at least 1")
        self.timeout = timeout
        self.max_in_flight = max_in_flight
        self._have = SeenSet(seen_ttl)
        self._wanted: dict[bytes, _Wanted] = {}
        self._in_flight: Counter[Peer] = Counter()
        self._counters: Counter[str] = Counter()

    @property
    def counters(self) -> Mapping[str, int]:
        """Counts of announcements, requests, re-requests, timeouts and duplicates (a snapshot)."""
        return MappingProxyType(dict(self._counters))

    def in_flight(self, peer: Peer) -> int:
        """Requests outstanding at ``peer``."""
        return self._in_flight[peer]

    def wanted(self) -> int:
        """Hashes we want and do not have yet."""
        return len(self._wanted)

    def announced(self, peer: Peer, items: Iterable[bytes], now: float) -> dict[Peer, list[bytes]]:
        """``peer`` announced ``items``; returns the requests to send now."""
        requests: dict[Peer, list[bytes]] = {}
        for item in items:
            self._counters["announced"] += 1
            if item in self._have:
                self._counters["announced_known"] += 1
                continue
            wanted = self._wanted.get(item)
            if wanted is None:
                wanted = self._wanted[item] = _Wanted()
            if peer not in wanted.announcers:
                wanted.announcers.append(peer)
            if wanted.peer is None:
                self._assign(item, wanted, now, requests)
        return requests

    def received(self, peer: Peer, item: bytes, now: float) -> bool:
        """``peer`` delivered ``item``; True when it is new (False: duplicate or unwanted)."""
        wanted = self._wanted.pop(item, None)
        if wanted is not None and wanted.peer is not None:
            self._in_flight[wanted.peer] -= 1
        new = self._have.add(item, now)
        self._counters["received" if new else "duplicate"] += 1
        return new

    def not_found(self, peer: Peer, items: Iterable[bytes], now: float) -> dict[Peer, list[bytes]]:
        """``peer`` answered ``NotFound`` for ``items``; returns the re-requests."""
        requests: dict[Peer, list[bytes]] = {}
        for item in items:
            wanted = self._wanted.get(item)
            if wanted is not None and wanted.peer == peer:
                self._release(wanted)
                self._counters["not_found"] += 1
                self._assign(item, wanted, now, requests)
        return requests

    def expire(self, now: float) -> dict[Peer, list[bytes]]:
        """Move requests unanswered by ``now`` to other announcers; returns the re-requests."""
        requests: dict[Peer, list[bytes]] = {}
        for item, wanted in list(self._wanted.items()):
            if wanted.peer is not None and now >= wanted.deadline:
                self._release(wanted)
                self._counters["timeout"] += 1
                self._assign(item, wanted, now, requests)
            elif wanted.peer is None:
                self._assign(item, wanted, now, requests)
        return requests

    def peer_gone(self, peer: Peer, now: float) -> dict[Peer, list[bytes]]:
        """``peer`` disconnected: forget its announcements and re-request what it owed."""
        requests: dict[Peer, list[bytes]] = {}
        for item, wanted in list(self._wanted.items()):
            if peer in wanted.announcers:
                wanted.announcers.remove(peer)
            if wanted.peer == peer:
                self._release(wanted)
                self._assign(item, wanted, now, requests)
            elif wanted.peer is None and not wanted.announcers:
                del self._wanted[item]
        self._in_flight.pop(peer, None)
        return requests

    def _release(self, wanted: _Wanted) -> None:
        assert wanted.peer is not None
        self._in_flight[wanted.peer] -= 1
        wanted.peer = None

    def _assign(self, item: bytes, wanted: _Wanted, now: float, requests: dict[Peer, list[bytes]]) -> None:
        for candidate in wanted.announcers:
            if candidate in wanted.tried or self._in_flight[candidate] >= self.max_in_flight:
                continue
            wanted.peer = candidate
            wanted.tried.add(candidate)
            wanted.deadline = now + self.timeout
            self._in_flight[candidate] += 1
            requests.setdefault(candidate, []).append(item)
            if len(wanted.tried) > 1:
                self._counters["re_requested"] += 1
            self._counters["requested"] += 1
            return
        if all(c in wanted.tried for c in wanted.announcers):
            # Every announcer failed us: forget the hash until someone announces it anew.
            del self._wanted[item]
            self._counters["abandoned"] += 1
