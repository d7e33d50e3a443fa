"""Payments: one recipient and an amount, and the argument checks every wallet entry point shares.

Amounts in the wallet API are ``int`` base units (1 TIME = 10**8), always. A decimal
TIME string appears only in the payment URI (:mod:`~timecoin_core.wallet.uri`),
whose format says so; convert with :func:`~timecoin_core.amount.coins` elsewhere.
Address arguments take an :class:`~timecoin_core.keys.Address` or its string, which
must be for the wallet's network.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..amount import MAX_MONEY
from ..errors import AddressError
from ..keys import Address
from ..network import Network
from .errors import (
    DustOutputError,
    WalletAddressError,
    WalletAmountError,
    WalletArgumentError,
    WalletTypeError,
    format_units,
)

__all__ = ["Payment", "as_address", "as_payments", "check_amount_argument", "check_not_dust"]


@dataclass(frozen=True, slots=True)
class Payment:
    """``amount`` base units to ``address``: one payment output of a transaction."""

    address: Address
    amount: int

    def __post_init__(self) -> None:
        if not isinstance(self.address, Address):
            raise WalletTypeError("address", "an Address", self.address)
        check_amount_argument("amount", self.amount)

    def __repr__(self) -> str:
        return f"Payment({self.address}, {format_units(self.amount)} TIME)"


def check_amount_argument(parameter: str, value: object) -> int:
    """``value`` if it is an int amount in ``1..MAX_MONEY``; otherwise a typed error naming ``parameter``.

    ``bool`` is refused although it is an ``int`` subclass, and so are floats,
    decimal strings and :class:`~decimal.Decimal`: base units are exact integers.
    """
    if type(value) is not int:
        expected = "an int amount in base units (convert TIME with coins('1.5'))"
        raise WalletTypeError(parameter, expected, value)
    if not 0 < value <= MAX_MONEY:
        raise WalletAmountError(parameter, f"amount must be in 1..MAX_MONEY base units, not {value}")
    return value


def as_address(value: object, network: Network, parameter: str) -> Address:
    """``value`` (an :class:`Address` or an address string) as an Address of ``network``.

    Raises :class:`~timecoin_core.wallet.WalletAddressError` (an ``AddressError``)
    for a malformed string or an address of another network, and
    :class:`~timecoin_core.wallet.WalletTypeError` for anything else.
    """
    if isinstance(value, str):
        try:
            return Address.parse(value, network)
        except AddressError as exc:
            raise WalletAddressError(parameter, str(exc)) from None
    if not isinstance(value, Address):
        raise WalletTypeError(parameter, "an Address or an address string", value)
    if value.digit != network.address_digit:
        raise WalletAddressError(parameter, f"address {value} is not a {network.name} address")
    return value


def as_payments(
    payments: Iterable[Payment | tuple[Address | str, int]], network: Network, parameter: str = "payments"
) -> tuple[Payment, ...]:
    """Normalise ``payments`` (Payment values or ``(address, amount)`` pairs) for ``network``.

    Each payment is checked like a single one: the address for ``network``, the amount
    an int in ``1..MAX_MONEY`` and not below ``network.dust_limit``. The parameter
    named in an error is ``payments[i].address`` or ``payments[i].amount``.
    """
    if isinstance(payments, str | bytes) or not isinstance(payments, Iterable):
        raise WalletTypeError(parameter, "an iterable of Payment or (address, amount) pairs", payments)
    result = []
    for i, item in enumerate(payments):
        where = f"{parameter}[{i}]"
        raw_address: object
        amount: object
        if isinstance(item, Payment):
            raw_address, amount = item.address, item.amount
        elif isinstance(item, tuple) and len(item) == 2:
            raw_address, amount = item
        else:
            raise WalletTypeError(where, "a Payment or an (address, amount) pair", item)
        address = as_address(raw_address, network, f"{where}.address")
        units = check_amount_argument(f"{where}.amount", amount)
        check_not_dust(f"{where}.amount", units, network)
        result.append(Payment(address, units))
    if not result:
        raise WalletArgumentError(parameter, "at least one payment is needed")
    return tuple(result)


def check_not_dust(parameter: str, amount: int, network: Network) -> None:
    """Raise :class:`~timecoin_core.wallet.DustOutputError` when ``amount`` is below the dust limit."""
    if amount < max(network.dust_limit, 1):
        raise DustOutputError(parameter, amount, network.dust_limit)
