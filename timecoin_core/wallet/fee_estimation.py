"""Fee estimation from the fee rates that recently became final.

Theory of operation
-------------------
A :class:`FeeEstimator` is fed observations: ``(fee rate, time)`` pairs, one per
transaction the network finalised (:meth:`FeeEstimator.observe`, or
:meth:`FeeEstimator.observe_final` with pool entries). It does no I/O and reads no
clock: every time is an argument, so it is deterministic and easy to test.

:meth:`FeeEstimator.estimate` answers with the ``quantile`` of the rates observed in
the last ``window`` seconds before ``now`` (nearest rank; 0.5 is the median: half
the recent final transactions paid at most that), raised to the network minimum.
With fewer than ``min_observations`` recent rates it falls back to the network
minimum: with instant finality a transaction at the minimum is final within
seconds unless the pool is full, so the minimum is the right guess on a quiet
network, and a few outliers must not set the price on a busy one.

The estimator keeps at most ``max_observations`` observations (the newest by
arrival), so its memory is bounded whatever it is fed.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Iterable
from typing import Final, Protocol

from ..fees import FeeRate
from ..network import Network
from .errors import WalletArgumentError, WalletTypeError

__all__ = ["DEFAULT_FEE_WINDOW", "FeeEstimator", "FinalFeeSample"]

DEFAULT_FEE_WINDOW: Final = 3_600.0
"""Seconds of history an estimate looks at by default (one hour)."""


class FinalFeeSample(Protocol):
    """A transaction and the rate it paid (:class:`~timecoin_core.mempool.PoolEntry` is one)."""

    @property
    def txid(self) -> bytes:
        """The transaction's id (observations are counted once per txid)."""
        ...

    @property
    def fee_rate(self) -> FeeRate:
        """The fee rate it paid."""
        ...

    @property
    def final(self) -> bool:
        """True once final (only final transactions are observed)."""
        ...


def _check_time(parameter: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WalletTypeError(parameter, "a number of seconds", value)
    if not math.isfinite(value):
        raise WalletArgumentError(parameter, f"must be finite, not {value}")
    return float(value)


class FeeEstimator:
    """Recent final fee rates in, a :class:`~timecoin_core.fees.FeeRate` to pay out (module docstring)."""

    __slots__ = ("_max", "_min_count", "_network", "_samples", "_seen", "_window")

    def __init__(
        self,
        network: Network,
        *,
        window: float = DEFAULT_FEE_WINDOW,
        min_observations: int = 5,
        max_observations: int = 10_000,
    ) -> None:
        """Validated here: a positive finite ``window``, ``1 <= min_observations <= max_observations``."""
        if not isinstance(network, Network):
            raise WalletTypeError("network", "a Network", network)
        window = _check_time("window", window)
        if window <= 0:
            raise WalletArgumentError("window", f"must be positive, not {window}")
        for name, value in (("min_observations", min_observations), ("max_observations", max_observations)):
            if type(value) is not int:
                raise WalletTypeError(name, "an int", value)
        if not 1 <= min_observations <= max_observations:
            raise WalletArgumentError(
                "min_observations", f"must be in 1..max_observations ({max_observations}), not {min_observations}"
            )
        self._network = network
        self._window = window
        self._min_count = min_observations
        self._max = max_observations
        self._samples: deque[tuple[float, int]] = deque(maxlen=max_observations)
        self._seen: OrderedDict[bytes, None] = OrderedDict()

    @property
    def floor(self) -> FeeRate:
        """The network minimum: the fallback and the lowest estimate."""
        return FeeRate(self._network.min_fee_per_kb)

    def __len__(self) -> int:
        return len(self._samples)

    def __repr__(self) -> str:
        return (
            f"FeeEstimator({self._network.name}, observations={len(self._samples)}, "
            f"window={self._window:g}s, min_observations={self._min_count})"
        )

    def observe(self, rate: FeeRate, at: float) -> None:
        """Record that a transaction paying ``rate`` became final at time ``at`` (seconds)."""
        if not isinstance(rate, FeeRate):
            raise WalletTypeError("rate", "a FeeRate", rate)
        self._samples.append((_check_time("at", at), rate.per_kb))

    def observe_final(self, entries: Iterable[FinalFeeSample], at: float) -> int:
        """Observe every final entry not observed before (by txid) at time ``at``; returns how many were new.

        Feed it the pool (``estimator.observe_final(pool, now)``) each time
        transactions become final: pending entries are skipped, and an entry seen in
        an earlier call is not counted twice.
        """
        when = _check_time("at", at)
        added = 0
        for entry in entries:
            if not entry.final or entry.txid in self._seen:
                continue
            self._seen[entry.txid] = None
            if len(self._seen) > self._max:
                self._seen.popitem(last=False)
            self.observe(entry.fee_rate, when)
            added += 1
        return added

    def estimate(self, now: float, *, quantile: float = 0.5) -> FeeRate:
        """The ``quantile`` of the rates observed in ``(now - window, now]``, at least the network minimum.

        Falls back to the network minimum with fewer than ``min_observations`` of
        them. ``quantile`` is in ``(0, 1]``: higher is more conservative.
        """
        current = _check_time("now", now)
        q = _check_time("quantile", quantile)
        if not 0 < q <= 1:
            raise WalletArgumentError("quantile", f"must be in (0, 1], not {quantile}")
        start = current - self._window
        rates = sorted(rate for at, rate in self._samples if start < at <= current)
        if len(rates) < self._min_count:
            return self.floor
        rank = max(math.ceil(q * len(rates)), 1)
        return max(FeeRate(rates[rank - 1]), self.floor)
