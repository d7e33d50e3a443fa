"""Why a session ended: one error type with a code, a blame and a consequence.

Theory of operation. Everything that can end a peer session, or that a caller can do
wrong, is one :class:`ProtocolError` carrying an :class:`ErrorCode`. The code is what
travels in a ``Goodbye`` and what a node counts; :data:`CONSEQUENCES` maps every code
to what the connection layer does about it (NETWORK.md, "Offences, bans, rate limits"):

* ``OFFENCE``: a protocol violation only a misbehaving peer commits (an undecodable
  message of a known type, a header over its type's cap, a bad identity signature, an
  unsolicited reply). Disconnect and discourage the address for 24 h.
* ``FAULT``: a transport fault an honest peer can cause (bad magic, a timeout, a rate
  overflow, a tampered record that a third party on the path could have tampered with).
  Disconnect only.
* ``ORDERLY``: an ordinary end (the peer said goodbye, the stream ended on a boundary,
  we closed). Nothing to hold against anyone.
* ``MISUSE``: the local caller broke the session's contract; raised, never sent.

``blame`` splits the same way h11 splits ``LocalProtocolError`` from
``RemoteProtocolError``: only ``Blame.PEER`` errors may feed a penalty.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum, IntEnum
from types import MappingProxyType
from typing import Final

from ..errors import TimecoinError

__all__ = ["CONSEQUENCES", "Blame", "Consequence", "ErrorCode", "ProtocolError", "WireConfigError"]


class Blame(Enum):
    """Who broke the protocol: the remote peer or the local caller."""

    PEER = "peer"
    LOCAL = "local"


class Consequence(Enum):
    """What the connection layer does when a session ends with a code."""

    OFFENCE = "offence"
    FAULT = "fault"
    ORDERLY = "orderly"
    MISUSE = "misuse"


class ErrorCode(IntEnum):
    """Reasons a session ends; the value is the u16 sent in ``Goodbye``."""

    # orderly ends
    CLOSED_BY_LOCAL = 1
    CLOSED_BY_PEER = 2
    CONNECTION_CLOSED = 3
    # transport faults
    BAD_MAGIC = 16
    HANDSHAKE_TIMEOUT = 17
    PONG_TIMEOUT = 18
    IDLE_TIMEOUT = 19
    TRUNCATED = 20
    DECRYPT_FAILED = 21
    RATE_LIMITED = 22
    SEND_QUEUE_FULL = 23
    NONCE_EXHAUSTED = 24
    WRONG_CHAIN = 25
    WRONG_GENESIS = 26
    INCOMPATIBLE_VERSION = 27
    SELF_CONNECTION = 28
    # offences
    BAD_EPHEMERAL_KEY = 48
    BAD_IDENTITY_SIGNATURE = 49
    MESSAGE_BEFORE_HELLO = 50
    DUPLICATE_HELLO = 51
    UNKNOWN_MESSAGE_TYPE = 52
    OVERSIZED_MESSAGE = 53
    BAD_HEADER = 54
    BAD_COMPRESSION = 55
    MALFORMED_MESSAGE = 56
    UNSOLICITED_MESSAGE = 57
    # local misuse (raised to the caller, never on the wire)
    INVALID_STATE = 96
    NOT_A_MESSAGE = 97
    MESSAGE_TOO_LARGE = 98
    TIME_WENT_BACKWARDS = 99
    INVALID_ARGUMENT = 100


_C = Consequence
_E = ErrorCode

CONSEQUENCES: Final[Mapping[ErrorCode, Consequence]] = MappingProxyType(
    {
        _E.CLOSED_BY_LOCAL: _C.ORDERLY,
        _E.CLOSED_BY_PEER: _C.ORDERLY,
        _E.CONNECTION_CLOSED: _C.ORDERLY,
        _E.BAD_MAGIC: _C.FAULT,
        _E.HANDSHAKE_TIMEOUT: _C.FAULT,
        _E.PONG_TIMEOUT: _C.FAULT,
        _E.IDLE_TIMEOUT: _C.FAULT,
        _E.TRUNCATED: _C.FAULT,
        # A third party on the path can flip ciphertext bits; discouraging the address
        # for that would let it get honest peers banned.
        _E.DECRYPT_FAILED: _C.FAULT,
        _E.RATE_LIMITED: _C.FAULT,
        _E.SEND_QUEUE_FULL: _C.FAULT,
        _E.NONCE_EXHAUSTED: _C.FAULT,
        # A peer of another chain or version is misconfigured, not hostile.
        _E.WRONG_CHAIN: _C.FAULT,
        _E.WRONG_GENESIS: _C.FAULT,
        _E.INCOMPATIBLE_VERSION: _C.FAULT,
        _E.SELF_CONNECTION: _C.FAULT,
        _E.BAD_EPHEMERAL_KEY: _C.OFFENCE,
        _E.BAD_IDENTITY_SIGNATURE: _C.OFFENCE,
        _E.MESSAGE_BEFORE_HELLO: _C.OFFENCE,
        _E.DUPLICATE_HELLO: _C.OFFENCE,
        _E.UNKNOWN_MESSAGE_TYPE: _C.OFFENCE,
        _E.OVERSIZED_MESSAGE: _C.OFFENCE,
        _E.BAD_HEADER: _C.OFFENCE,
        _E.BAD_COMPRESSION: _C.OFFENCE,
        _E.MALFORMED_MESSAGE: _C.OFFENCE,
        _E.UNSOLICITED_MESSAGE: _C.OFFENCE,
        _E.INVALID_STATE: _C.MISUSE,
        _E.NOT_A_MESSAGE: _C.MISUSE,
        _E.MESSAGE_TOO_LARGE: _C.MISUSE,
        _E.TIME_WENT_BACKWARDS: _C.MISUSE,
        _E.INVALID_ARGUMENT: _C.MISUSE,
    }
)


class ProtocolError(TimecoinError, ValueError):
    """A broken wire contract: ``code`` says what, ``blame`` says whose fault.

    Decoders raise it with ``Blame.PEER`` for anything but a valid canonical encoding;
    :class:`~timecoin_core.wire.PeerSession` raises it with ``Blame.LOCAL`` when its
    caller misuses it, and reports peer errors in a ``Closed`` event instead of raising.
    """

    def __init__(self, code: ErrorCode, detail: str = "", *, blame: Blame = Blame.PEER) -> None:
        super().__init__(f"{code.name.lower()}: {detail}" if detail else code.name.lower())
        self.code = code
        self.detail = detail
        self.blame = blame

    @property
    def consequence(self) -> Consequence:
        """What the connection layer does about this error."""
        return CONSEQUENCES[self.code]

    @property
    def discourage(self) -> bool:
        """True when the peer's address should be discouraged (an offence by the peer)."""
        return self.blame is Blame.PEER and CONSEQUENCES[self.code] is Consequence.OFFENCE

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (self.code, self.detail, self.blame))


def _rebuild(code: ErrorCode, detail: str, blame: Blame) -> ProtocolError:
    return ProtocolError(code, detail, blame=blame)


def local_error(code: ErrorCode, detail: str) -> ProtocolError:
    """A :class:`ProtocolError` blaming the local caller."""
    return ProtocolError(code, detail, blame=Blame.LOCAL)


class WireConfigError(TimecoinError, ValueError):
    """A wire-layer configuration refused when built (a session's timeouts, a peer policy, a rate).

    Local, never the peer's fault: it carries no :class:`ErrorCode`. Also a ``ValueError``,
    as it was before it was typed.
    """
