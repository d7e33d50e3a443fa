"""Transactions waiting for their parents, bounded so that a flood costs its sender, not the node.

Theory of operation
-------------------
A transaction whose inputs are not known yet (its parent has not arrived, or is not
final yet) cannot be validated: nothing about it — signatures, amounts, fee — can be
checked until the parent is there. Such *orphans* are kept in an
:class:`OrphanBuffer` and retried when coins appear. Because nothing was checked,
anyone can fill the buffer for free, so it is bounded four ways:

* by count and by total encoded bytes;
* per origin (a peer id, or ``None`` for the local client): no origin may hold more
  than ``origin_share`` of the bytes, so one flooding peer evicts only its own orphans;
* by age: an orphan older than ``ttl`` seconds is dropped by :meth:`OrphanBuffer.expire`.

When the buffer is over its bounds, the oldest orphan of the origin holding the most
bytes goes first. A transaction larger than the origin's share is refused outright.

A transaction that arrived with a valid finality certificate is not an orphan of this
kind: the network already decided it, and it must not be pushed out by unverified
junk. The node keeps such transactions in a second buffer of its own (with larger
bounds), so the two never compete for space.

Pure and synchronous; time is passed in.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass

from .errors import TimecoinError
from .transaction import OutPoint, Transaction

__all__ = ["Orphan", "OrphanBuffer", "OrphanConfigError"]


class OrphanConfigError(TimecoinError, ValueError):
    """Orphan buffer bounds that make no sense (non-positive sizes, share outside (0, 1])."""


@dataclass(frozen=True, slots=True)
class Orphan:
    """One buffered transaction, who sent it and when it arrived."""

    tx: Transaction
    origin: Hashable
    arrived: float


class OrphanBuffer:
    """Transactions waiting for their inputs, bounded by count, bytes, origin share and age."""

    def __init__(
        self,
        *,
        max_count: int = 1_000,
        max_bytes: int = 4_000_000,
        origin_share: float = 0.25,
        ttl: float = 600.0,
    ) -> None:
        if max_count < 0 or max_bytes < 0 or not ttl > 0:
            raise OrphanConfigError("max_count and max_bytes must be non-negative, ttl positive")
        if not 0 < origin_share <= 1:
            raise OrphanConfigError("origin_share must be in (0, 1]")
        self.max_count = max_count
        self.max_bytes = max_bytes
        self.origin_bytes = int(max_bytes * origin_share)
        self.ttl = ttl
        self._orphans: OrderedDict[bytes, Orphan] = OrderedDict()
        self._bytes = 0
        self._by_origin: dict[Hashable, int] = {}

    def __contains__(self, txid: object) -> bool:
        return txid in self._orphans

    def __len__(self) -> int:
        return len(self._orphans)

    def __iter__(self) -> Iterator[Orphan]:
        return iter(list(self._orphans.values()))

    def __repr__(self) -> str:
        return f"OrphanBuffer({len(self)} orphans, {self._bytes} of {self.max_bytes} bytes)"

    @property
    def total_bytes(self) -> int:
        """Encoded bytes of every buffered transaction."""
        return self._bytes

    def bytes_from(self, origin: Hashable) -> int:
        """Bytes buffered for ``origin``."""
        return self._by_origin.get(origin, 0)

    def add(self, tx: Transaction, now: float, origin: Hashable = None) -> bool:
        """Keep ``tx`` until its inputs appear; False if it is refused (too large, or already here).

        Evicts older orphans (of the origin holding the most bytes first) to stay
        within the bounds.
        """
        txid = tx.txid
        size = tx.size
        if txid in self._orphans or size > self.origin_bytes or self.max_count == 0:
            return False
        self._orphans[txid] = Orphan(tx, origin, now)
        self._bytes += size
        self._by_origin[origin] = self._by_origin.get(origin, 0) + size
        while self._by_origin[origin] > self.origin_bytes:
            self._evict_from(origin)
        while len(self._orphans) > self.max_count or self._bytes > self.max_bytes:
            self._evict_from(max(self._by_origin, key=self._by_origin.__getitem__))
        return txid in self._orphans

    def pop(self, txid: bytes) -> Transaction | None:
        """Remove and return orphan ``txid`` (None if it is not here)."""
        orphan = self._orphans.pop(txid, None)
        if orphan is None:
            return None
        self._account(orphan, -1)
        return orphan.tx

    def expire(self, now: float) -> list[bytes]:
        """Drop orphans older than ``ttl``; their txids, oldest first."""
        gone: list[bytes] = []
        while self._orphans:
            txid, orphan = next(iter(self._orphans.items()))
            if orphan.arrived + self.ttl > now:
                break
            self.pop(txid)
            gone.append(txid)
        return gone

    def ready(self, has_coin: Callable[[OutPoint], bool]) -> list[Orphan]:
        """Remove and return, oldest first, the orphans all of whose inputs ``has_coin``."""
        out = [o for o in self._orphans.values() if all(has_coin(i.outpoint) for i in o.tx.inputs)]
        for orphan in out:
            self.pop(orphan.tx.txid)
        return out

    def _evict_from(self, origin: Hashable) -> None:
        for txid, orphan in self._orphans.items():
            if orphan.origin == origin:
                self.pop(txid)
                return

    def _account(self, orphan: Orphan, sign: int) -> None:
        size = orphan.tx.size * sign
        self._bytes += size
        left = self._by_origin[orphan.origin] + size
        if left:
            self._by_origin[orphan.origin] = left
        else:
            del self._by_origin[orphan.origin]
