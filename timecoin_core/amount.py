"""Amounts: integer base units, decimal strings only at the edges.

1 TIME is ``COIN`` = 10**8 base units. Every amount is an ``int`` in
``0..MAX_MONEY``; sums are checked, never wrapped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .errors import AmountError

__all__ = [
    "COIN",
    "DECIMALS",
    "MAX_MONEY",
    "check_amount",
    "checked_add",
    "checked_sub",
    "checked_sum",
    "coins",
    "format_amount",
]

DECIMALS = 8
COIN: int = 100_000_000  # 10**DECIMALS
MAX_MONEY = 1_000_000_000 * COIN
"""Largest amount any output, sum or balance may hold: one billion TIME."""

_DECIMAL = re.compile(r"(0|[1-9][0-9]*)(?:\.([0-9]{1,8}))?")


def coins(text: str | int) -> int:
    """Parse a decimal TIME amount into base units: ``coins("12.5") == 1_250_000_000``.

    Accepts at most 8 fractional digits, no sign, no exponent, no separators.
    An ``int`` is taken as whole TIME. Raises :class:`AmountError` otherwise.
    """
    if isinstance(text, bool):
        raise AmountError("amount must be a decimal string or int, not bool")
    if isinstance(text, int):
        return check_amount(text * COIN)
    if not isinstance(text, str):
        raise AmountError(f"amount must be a decimal string, not {type(text).__name__}")
    match = _DECIMAL.fullmatch(text)
    if match is None:
        raise AmountError(f"malformed amount {text!r}: expected digits with at most 8 decimals")
    whole, frac = match.group(1), match.group(2) or ""
    return check_amount(int(whole) * COIN + int(frac.ljust(DECIMALS, "0")))


def format_amount(units: int) -> str:
    """Format base units as the shortest exact decimal string: ``1_250_000_000 -> "12.5"``."""
    check_amount(units)
    whole, frac = divmod(units, COIN)
    if frac == 0:
        return str(whole)
    return f"{whole}.{frac:08d}".rstrip("0")


def check_amount(units: int) -> int:
    """Return ``units`` if it is an int in ``0..MAX_MONEY``, else raise :class:`AmountError`."""
    if type(units) is not int:
        raise AmountError(f"amount must be an int, not {type(units).__name__}")
    if units < 0:
        raise AmountError(f"amount {units} is negative")
    if units > MAX_MONEY:
        raise AmountError(f"amount {units} exceeds MAX_MONEY ({MAX_MONEY})")
    return units


def checked_add(a: int, b: int) -> int:
    """``a + b``, raising :class:`AmountError` if the result exceeds MAX_MONEY."""
    return check_amount(check_amount(a) + check_amount(b))


def checked_sub(a: int, b: int) -> int:
    """``a - b``, raising :class:`AmountError` if the result would be negative."""
    return check_amount(check_amount(a) - check_amount(b))


def checked_sum(amounts: Iterable[int]) -> int:
    """Sum amounts, raising :class:`AmountError` as soon as a partial sum leaves range."""
    total = 0
    for value in amounts:
        total = check_amount(total + check_amount(value))
    return total
