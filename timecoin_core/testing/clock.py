"""A manual clock: time moves only when a test says so, and never backwards."""

from __future__ import annotations

from ..errors import TimecoinError

__all__ = ["ClockError", "ManualClock"]


class ClockError(TimecoinError, ValueError):
    """An attempt to move a manual clock backwards."""


class ManualClock:
    """Virtual seconds since an arbitrary origin.

    ``advance(seconds)`` and ``set(time)`` move it forward; any attempt to move it
    backwards raises :class:`ClockError`. ``now()`` reads it.
    """

    __slots__ = ("_now",)

    def __init__(self, start: float = 0.0) -> None:
        if start < 0:
            raise ClockError("a clock starts at a non-negative time")
        self._now = float(start)

    def now(self) -> float:
        """The current virtual time in seconds."""
        return self._now

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (>= 0) and return the new time."""
        if seconds < 0:
            raise ClockError(f"cannot advance by {seconds}: time never goes backwards")
        self._now += seconds
        return self._now

    def set(self, time: float) -> float:
        """Move forward to ``time`` (>= now) and return it."""
        if time < self._now:
            raise ClockError(f"cannot set the clock back from {self._now} to {time}")
        self._now = float(time)
        return self._now

    def __repr__(self) -> str:
        return f"ManualClock(now={self._now})"
