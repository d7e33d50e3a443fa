"""A manual clock: time moves only when a test says so, and never backwards."""

from __future__ import annotations

import math

from ..errors import TimecoinError

__all__ = ["ClockError", "ManualClock"]


class ClockError(TimecoinError, ValueError):
    """An attempt to move a manual clock backwards, or by something that is not a time."""


def _seconds(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ClockError(f"{name} must be a number of seconds, not {type(value).__name__}")
    if not math.isfinite(value):
        raise ClockError(f"{name} must be finite, got {value}")
    return float(value)


class ManualClock:
    """Virtual seconds since an arbitrary origin.

    ``advance(seconds)`` and ``set(time)`` move it forward; any attempt to move it
    backwards (or by NaN, infinity or a non-number) raises :class:`ClockError`.
    ``now()`` reads it.
    """

    __slots__ = ("_now",)

    def __init__(self, start: float = 0.0) -> None:
        start = _seconds("start", start)
        if start < 0:
            raise ClockError("a clock starts at a non-negative time")
        self._now = start

    def now(self) -> float:
        """The current virtual time in seconds."""
        return self._now

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (>= 0) and return the new time."""
        seconds = _seconds("seconds", seconds)
        if seconds < 0:
            raise ClockError(f"cannot advance by {seconds}: time never goes backwards")
        self._now += seconds
        return self._now

    def set(self, time: float) -> float:
        """Move forward to ``time`` (>= now) and return it."""
        time = _seconds("time", time)
        if time < self._now:
            raise ClockError(f"cannot set the clock back from {self._now} to {time}")
        self._now = time
        return self._now

    def __repr__(self) -> str:
        return f"ManualClock(now={self._now})"
