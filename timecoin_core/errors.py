"""The exception hierarchy: one root, split by what went wrong.

Every error raised by Timecoin derives from :class:`TimecoinError`. Errors about bad
values a caller or peer supplied also derive from :class:`ValueError`, so generic
handlers keep working.
"""

from __future__ import annotations

__all__ = [
    "AddressError",
    "AmountError",
    "DecodeError",
    "InvalidArgumentError",
    "InvalidKeyError",
    "TimecoinError",
    "VerifierError",
]


class TimecoinError(Exception):
    """Root of every exception Timecoin raises on purpose."""


class DecodeError(TimecoinError, ValueError):
    """Bytes that are not the canonical encoding of the expected value.

    ``offset`` is the position in the input where decoding failed and ``reason``
    says why, for example ``"non-minimal varint"`` or ``"trailing bytes"``.
    """

    def __init__(self, reason: str, offset: int) -> None:
        super().__init__(f"{reason} at offset {offset}")
        self.reason = reason
        self.offset = offset

    def __reduce__(self) -> tuple[type[DecodeError], tuple[str, int]]:
        # Crosses process boundaries intact (a process pool re-raises it in the parent).
        return (type(self), (self.reason, self.offset))


class InvalidArgumentError(TimecoinError, TypeError, ValueError):
    """An argument of the wrong type or out of range; ``parameter`` names it.

    The message is ``"<parameter>: <message>"``. It is a ``TypeError`` and a
    ``ValueError`` too, so code written against the built-ins keeps working.
    """

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter
        self.message = message

    def __reduce__(self) -> tuple[type[InvalidArgumentError], tuple[str, str]]:
        # Crosses process boundaries intact (the default would call __init__ with one argument).
        return (type(self), (self.parameter, self.message))


class AmountError(TimecoinError, ValueError):
    """An amount outside 0..MAX_MONEY, a malformed decimal string, or an overflow."""


class AddressError(TimecoinError, ValueError):
    """A malformed address string, a bad checksum, or an address of another network."""


class InvalidKeyError(TimecoinError, ValueError):
    """Bytes that are not a valid Ed25519 key of the expected length."""


class VerifierError(TimecoinError):
    """A signature verifier could not produce verdicts (closed pool, crashed worker).

    Never raised for an invalid signature: those are verdicts (``False``), not errors.
    """
