"""Token buckets whose overflow first drops, then disconnects.

Theory of operation. A bucket holds up to ``burst`` tokens and regains ``refill`` per
second of the time passed in (never read from a clock). A message costs tokens
(one, its entry count, or its bytes, per the registry's :class:`RateUnit`). When the
bucket holds enough, the message passes. When it does not, the message is dropped
but still charged, so the level goes negative: that *debt* is what a flooding peer
accumulates and an honest burst does not. A debt above ``2 x burst`` ends the session
(NETWORK.md: "a rate-limit overflow first drops the message (counted); a debt above
2 x burst disconnects without discouraging").
"""

from __future__ import annotations

from enum import Enum

from ..errors import InvalidArgumentError

__all__ = ["RateVerdict", "TokenBucket"]


class RateVerdict(Enum):
    """What a bucket says about one message."""

    PASS = "pass"
    DROP = "drop"
    DISCONNECT = "disconnect"


class TokenBucket:
    """A token bucket with debt: ``take(cost, now)`` says pass, drop or disconnect."""

    __slots__ = ("burst", "level", "refill", "updated")

    def __init__(self, refill: float, burst: float, now: float) -> None:
        if not (refill > 0 and burst > 0):
            raise InvalidArgumentError("refill" if not refill > 0 else "burst", "refill and burst must be positive")
        self.refill = refill
        self.burst = burst
        self.level = float(burst)
        self.updated = now

    def take(self, cost: float, now: float) -> RateVerdict:
        """Charge ``cost`` tokens at time ``now`` and say what to do with the message."""
        if now > self.updated:
            self.level = min(self.burst, self.level + (now - self.updated) * self.refill)
            self.updated = now
        self.level -= cost
        if self.level >= 0:
            return RateVerdict.PASS
        if -self.level > 2 * self.burst:
            return RateVerdict.DISCONNECT
        return RateVerdict.DROP
