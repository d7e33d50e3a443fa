"""The wallet's errors: one base, :class:`WalletError`, under :class:`~timecoin_core.errors.TimecoinError`.

Every error a wallet function raises on purpose is a :class:`WalletError` (and so a
``TimecoinError`` and a ``ValueError``), except the codec-level ones shared with the
rest of the package (``AddressError``, ``AmountError``, ``DecodeError``). Errors about
one argument carry its name in ``parameter``, so a caller can point at the field a
user got wrong.
"""

from __future__ import annotations

from ..amount import COIN
from ..errors import AddressError, AmountError, TimecoinError

__all__ = [
    "DustOutputError",
    "FeeTooHighError",
    "WalletAddressError",
    "WalletAmountError",
    "WalletArgumentError",
    "WalletError",
    "WalletTypeError",
]


def format_units(units: int) -> str:
    """Base units as a TIME decimal string, for messages (no range check: sums may exceed MAX_MONEY)."""
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), COIN)
    return sign + (str(whole) if frac == 0 else f"{whole}.{frac:08d}".rstrip("0"))


class WalletError(TimecoinError, ValueError):
    """A wallet operation that cannot be done as asked."""


class WalletArgumentError(WalletError):
    """An argument with a value the wallet refuses; ``parameter`` names it."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter


class WalletTypeError(WalletArgumentError, TypeError):
    """An argument of the wrong type; ``parameter`` names it.

    Also a ``TypeError``, so code that catches the built-in keeps working.
    """

    def __init__(self, parameter: str, expected: str, value: object) -> None:
        super().__init__(parameter, f"expected {expected}, not {type(value).__name__}")
        self.expected = expected


class WalletAddressError(WalletArgumentError, AddressError):
    """An address argument that is malformed or for another network; also an :class:`AddressError`."""


class WalletAmountError(WalletArgumentError, AmountError):
    """An amount argument outside ``1..MAX_MONEY`` or not allowed here; also an :class:`AmountError`."""


class DustOutputError(WalletAmountError):
    """A payment output below the network's dust limit (it could never be spent economically)."""

    def __init__(self, parameter: str, amount: int, dust_limit: int) -> None:
        super().__init__(
            parameter,
            f"{amount} units ({format_units(amount)} TIME) is below the dust limit of "
            f"{dust_limit} units: such an output costs more to spend than it holds",
        )
        self.amount = amount
        self.dust_limit = dust_limit


class FeeTooHighError(WalletArgumentError):
    """The fee exceeds the maximum the caller allowed (``max_fee``), like Bitcoin Core's ``maxtxfee``."""

    def __init__(self, fee: int, maximum: int) -> None:
        super().__init__(
            "max_fee",
            f"the fee {format_units(fee)} TIME exceeds the maximum {format_units(maximum)} TIME; "
            "pass a larger max_fee to pay it anyway",
        )
        self.fee = fee
        self.maximum = maximum
