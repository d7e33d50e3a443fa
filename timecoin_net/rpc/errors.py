"""JSON-RPC error codes and the typed errors a backend raises.

A backend (:class:`~timecoin_net.rpc.RpcBackend`) reports a failure by raising a
:class:`BackendError` subclass; the server turns it into a JSON-RPC error object with the
error's ``code``, ``message`` and ``data``. Codes follow bitcoind where it has one
(``-5`` not found, ``-8`` invalid parameter, ``-22`` undecodable transaction, ``-25`` /
``-26`` / ``-27`` transaction refused, ``-28`` shutting down) and the JSON-RPC 2.0
specification for protocol errors (``-32700`` .. ``-32600``). Anything else a backend
raises is a bug: the server logs it and answers ``-32603`` without its text.
"""

from __future__ import annotations

from enum import IntEnum
from typing import ClassVar

from timecoin_core.errors import InvalidArgumentError, TimecoinError

__all__ = [
    "BackendError",
    "DecodeFailedError",
    "InvalidAddressError",
    "InvalidParameterError",
    "NotFoundError",
    "RpcErrorCode",
    "ShuttingDownError",
    "TransactionRejectedError",
]


class RpcErrorCode(IntEnum):
    """The error codes a Timecoin JSON-RPC server answers with."""

    PARSE_ERROR = -32700
    """The body is not JSON."""
    INVALID_REQUEST = -32600
    """JSON, but not a JSON-RPC 2.0 request (or a batch that is empty or too long)."""
    METHOD_NOT_FOUND = -32601
    """No such method (or ``subscribe`` outside a WebSocket)."""
    INVALID_PARAMS = -32602
    """A parameter is missing, unknown or of the wrong type; ``data.parameter`` names it."""
    INTERNAL_ERROR = -32603
    """The server failed (a bug); the details are in its log, never in the answer."""
    MISC_ERROR = -1
    """bitcoind's catch-all."""
    INVALID_ADDRESS_OR_KEY = -5
    """bitcoind's code for an unknown block or transaction and for a malformed address."""
    INVALID_PARAMETER = -8
    """A well-typed parameter whose value is out of range or meaningless."""
    DESERIALIZATION_ERROR = -22
    """A transaction or block that does not decode."""
    VERIFY_ERROR = -25
    """A transaction refused because an input is missing or already spent."""
    VERIFY_REJECTED = -26
    """A transaction refused by the network's rules; ``data.reason`` says which."""
    VERIFY_ALREADY_IN_CHAIN = -27
    """A transaction already confirmed in a block."""
    SHUTTING_DOWN = -28
    """The node is shutting down and takes no new requests."""


class BackendError(TimecoinError):
    """A request the backend could not answer; the server sends ``code``, ``message``, ``data``.

    Subclasses fix the code; raise this class itself only with an explicit ``code``.
    """

    default_code: RpcErrorCode = RpcErrorCode.MISC_ERROR

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        data: dict[str, object] | None = None,
    ) -> None:
        # Exception's own __init__: a subclass may also be an InvalidArgumentError, whose
        # __init__ takes two arguments.
        Exception.__init__(self, message)
        self.code = int(self.default_code if code is None else code)
        self.message = message
        self.data = data


class NotFoundError(BackendError):
    """No such block or transaction (code ``-5``)."""

    default_code = RpcErrorCode.INVALID_ADDRESS_OR_KEY


class InvalidAddressError(BackendError, InvalidArgumentError):
    """An address that does not parse for this node's network (code ``-5``).

    ``parameter`` names the argument that held it.
    """

    default_code = RpcErrorCode.INVALID_ADDRESS_OR_KEY

    def __init__(self, parameter: str, message: str) -> None:
        BackendError.__init__(self, f"{parameter}: {message}", data={"parameter": parameter})
        self.parameter = parameter
        self.message = f"{parameter}: {message}"

    def __reduce__(self) -> tuple[type[InvalidAddressError], tuple[str, str]]:
        return (type(self), (self.parameter, self.message.partition(": ")[2]))


class InvalidParameterError(BackendError, InvalidArgumentError):
    """A parameter of the right type with a value the backend cannot use (code ``-8``).

    ``parameter`` names it; the message reads ``"<parameter>: <why>"``.
    """

    default_code = RpcErrorCode.INVALID_PARAMETER

    def __init__(self, parameter: str, message: str) -> None:
        BackendError.__init__(self, f"{parameter}: {message}", data={"parameter": parameter})
        self.parameter = parameter
        self.message = f"{parameter}: {message}"

    def __reduce__(self) -> tuple[type[InvalidParameterError], tuple[str, str]]:
        return (type(self), (self.parameter, self.message.partition(": ")[2]))


class DecodeFailedError(BackendError):
    """Bytes that are not a canonical transaction (code ``-22``)."""

    default_code = RpcErrorCode.DESERIALIZATION_ERROR


class TransactionRejectedError(BackendError):
    """A transaction the node refused; ``reason`` is the core's short code.

    The code is ``-25`` for a missing or spent input (``missing-input``,
    ``pending-parent``), ``-27`` when a block already holds it (``already-confirmed``)
    and ``-26`` for every other rule (``bad-signature``, ``double-spend``,
    ``fee-too-low``, ...). ``data`` is ``{"reason": reason}``.
    """

    default_code = RpcErrorCode.VERIFY_REJECTED

    _CODES: ClassVar[dict[str, RpcErrorCode]] = {
        "missing-input": RpcErrorCode.VERIFY_ERROR,
        "pending-parent": RpcErrorCode.VERIFY_ERROR,
        "already-confirmed": RpcErrorCode.VERIFY_ALREADY_IN_CHAIN,
    }

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, code=self._CODES.get(reason, self.default_code), data={"reason": reason})
        self.reason = reason


class ShuttingDownError(BackendError):
    """The node is shutting down (code ``-28``)."""

    default_code = RpcErrorCode.SHUTTING_DOWN

    def __init__(self, message: str = "the node is shutting down") -> None:
        super().__init__(message)
