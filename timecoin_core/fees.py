"""Fee rates: a type of its own, so a rate is never mistaken for an amount."""

from __future__ import annotations

from dataclasses import dataclass
from functools import total_ordering

from .amount import check_amount
from .errors import AmountError, InvalidArgumentError

__all__ = ["FeeRate"]


@total_ordering
@dataclass(frozen=True, slots=True)
class FeeRate:
    """Base units per 1,000 bytes of encoded transaction.

    ``FeeRate(10_000).fee(250) == 2_500``; fees round up, so a rate is always met.
    """

    per_kb: int

    def __post_init__(self) -> None:
        if type(self.per_kb) is not int or self.per_kb < 0:
            raise AmountError("fee rate must be a non-negative int (base units per 1000 bytes)")

    @classmethod
    def per_byte(cls, units: int) -> FeeRate:
        """A rate of ``units`` base units per byte."""
        return cls(units * 1000)

    @classmethod
    def of(cls, fee: int, size: int) -> FeeRate:
        """The rate a transaction of ``size`` bytes paying ``fee`` achieves (rounded down)."""
        if size <= 0:
            raise InvalidArgumentError("size", "size must be positive")
        return cls(check_amount(fee) * 1000 // size)

    def fee(self, size: int) -> int:
        """The fee for ``size`` bytes at this rate, rounded up."""
        if size < 0:
            raise InvalidArgumentError("size", "size must be non-negative")
        return check_amount(-(-size * self.per_kb // 1000))

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, FeeRate):
            return NotImplemented
        return self.per_kb < other.per_kb

    def __str__(self) -> str:
        return f"{self.per_kb / 1000:g} units/byte"
