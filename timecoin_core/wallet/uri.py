"""Payment URIs: ``timecoin:<address>?amount=<decimal TIME>&label=...&message=...``.

Modelled on BIP-0021, strictly:

* the scheme is ``timecoin`` in any letter case (QR codes upper-case it); no ``//``;
* the address is a full address string for the expected network;
* ``amount`` is a decimal TIME string as :func:`~timecoin_core.amount.coins` reads it
  (``"12.5"``: digits, at most 8 decimals, no sign, exponent or separators), above
  zero. It is the one place the wallet API reads a decimal amount, because the
  format is text meant for people; :attr:`PaymentRequest.amount` is base units;
* ``label`` and ``message`` are percent-encoded UTF-8 (``%20`` for a space; ``+``
  is a plus sign, not a space);
* a parameter may appear once; a malformed percent escape, invalid UTF-8, a
  fragment, an empty key or a value-less parameter is an error; an unknown
  parameter is ignored unless its name starts with ``req-`` (BIP-0021: the payer
  must understand it), which is an error;
* at most :data:`MAX_URI_LENGTH` characters.

:meth:`PaymentRequest.format` writes the one canonical form (lower-case scheme,
parameters in the order amount, label, message, every byte outside
``A-Z a-z 0-9 - . _ ~`` percent-encoded), so ``parse(format(r)) == r``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote, unquote_to_bytes

from ..amount import coins, format_amount
from ..errors import AmountError
from ..keys import Address
from ..network import Network
from .errors import WalletArgumentError, WalletTypeError, format_units
from .payment import as_address, check_amount_argument

__all__ = ["MAX_URI_LENGTH", "URI_SCHEME", "PaymentRequest", "PaymentUriError"]

URI_SCHEME: Final = "timecoin"
MAX_URI_LENGTH: Final = 4096
"""Longest URI :meth:`PaymentRequest.parse` reads (a QR code holds about 4,000 characters)."""

_ESCAPES: Final = re.compile(r"%(?![0-9A-Fa-f]{2})")
_KEY: Final = re.compile(r"[A-Za-z0-9_.~-]+")


class PaymentUriError(WalletArgumentError):
    """A payment URI that is not one; ``parameter`` names the part at fault (``"uri"``, ``"amount"``, ...)."""


def _decode(value: str, parameter: str) -> str:
    if _ESCAPES.search(value):
        raise PaymentUriError(parameter, "malformed percent escape")
    try:
        return unquote_to_bytes(value).decode("utf-8")
    except UnicodeDecodeError:
        raise PaymentUriError(parameter, "not UTF-8 after percent-decoding") from None


def _encode(text: str) -> str:
    return quote(text, safe="", encoding="utf-8", errors="strict")


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """A request to pay: an address, and optionally an amount (base units), a label and a message."""

    address: Address
    amount: int | None = None
    label: str | None = None
    message: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.address, Address):
            raise WalletTypeError("address", "an Address", self.address)
        if self.amount is not None:
            check_amount_argument("amount", self.amount)
        for name in ("label", "message"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise WalletTypeError(name, "a str or None", value)
            if value is not None:
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:
                    raise WalletArgumentError(name, "not encodable as UTF-8 (a lone surrogate)") from None

    @classmethod
    def parse(cls, uri: str, network: Network) -> PaymentRequest:
        """Read a payment URI for ``network``; raises :class:`PaymentUriError` (module docstring)."""
        if not isinstance(uri, str):
            raise WalletTypeError("uri", "a str", uri)
        if not isinstance(network, Network):
            raise WalletTypeError("network", "a Network", network)
        if len(uri) > MAX_URI_LENGTH:
            raise PaymentUriError("uri", f"longer than {MAX_URI_LENGTH} characters")
        scheme, colon, rest = uri.partition(":")
        if not colon or scheme.lower() != URI_SCHEME:
            raise PaymentUriError("uri", f"expected a URI starting with '{URI_SCHEME}:'")
        if "#" in rest:
            raise PaymentUriError("uri", "a payment URI has no fragment")
        if rest.startswith("/"):
            raise PaymentUriError("uri", f"expected '{URI_SCHEME}:<address>', not '{URI_SCHEME}://'")
        text, question, query = rest.partition("?")
        address = as_address(text, network, "address")
        fields: dict[str, str] = {}
        if question:
            for part in query.split("&"):
                key, equals, value = part.partition("=")
                if not _KEY.fullmatch(key):
                    raise PaymentUriError("uri", f"malformed parameter {part!r}")
                if not equals:
                    raise PaymentUriError(key, "parameter without a value")
                if key in fields:
                    raise PaymentUriError(key, "parameter given twice")
                fields[key] = value
        unknown = sorted(k for k in fields if k not in ("amount", "label", "message"))
        required = [k for k in unknown if k.startswith("req-")]
        if required:
            raise PaymentUriError(required[0], "required parameter not understood")
        amount: int | None = None
        if "amount" in fields:
            try:
                amount = coins(fields["amount"])
            except AmountError as exc:
                raise PaymentUriError("amount", str(exc)) from None
            if amount == 0:
                raise PaymentUriError("amount", "amount must be above zero")
        label = _decode(fields["label"], "label") if "label" in fields else None
        message = _decode(fields["message"], "message") if "message" in fields else None
        return cls(address, amount, label, message)

    def format(self) -> str:
        """The canonical URI text (module docstring)."""
        params = []
        if self.amount is not None:
            params.append(f"amount={format_amount(self.amount)}")
        if self.label is not None:
            params.append(f"label={_encode(self.label)}")
        if self.message is not None:
            params.append(f"message={_encode(self.message)}")
        query = "?" + "&".join(params) if params else ""
        return f"{URI_SCHEME}:{self.address}{query}"

    def __str__(self) -> str:
        return self.format()

    def __repr__(self) -> str:
        parts = [str(self.address)]
        if self.amount is not None:
            parts.append(f"{format_units(self.amount)} TIME")
        if self.label is not None:
            parts.append(f"label={self.label!r}")
        if self.message is not None:
            parts.append(f"message={self.message!r}")
        return f"PaymentRequest({', '.join(parts)})"
