"""The message registry: type ids, byte caps, rates and priorities, and the envelope codec.

Theory of operation. :data:`MESSAGE_SPECS` is the one table the wire consults about a
message type: its class, its byte cap (checked on the sealed header before a payload
is read), its token buckets (NETWORK.md's rate column), its send priority, whether a
sender should try to compress it, and whether it may arrive only once per connection.
Caps of the core's messages come from the core's own constants; the ones the core
does not export yet (:data:`MAX_PROPOSAL_SIZE`, :data:`MAX_COMMIT_SIZE`,
:data:`MAX_BLOCK_VOTE_SIZE`) are computed here from the constants it does export.
``Blocks`` may carry one message of the largest other cap, so its cap is that plus its
own envelope, and the frame cap (:data:`MAX_FRAME_PAYLOAD`) is the largest cap of all.

:func:`encode_message` and :func:`decode_message` are the only ways between messages
and ``(type_id, payload)`` pairs. Decoding anything but a valid canonical encoding of
a known type within its cap raises :class:`~timecoin_core.wire.ProtocolError` with the
peer to blame; the core's ``DecodeError`` (and the ``ValueError`` of a constructor
that rejects decoded fields) never leaks.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum, IntEnum
from types import MappingProxyType
from typing import Final

from ..codec import varint_size
from ..consensus.bft_messages import (
    BlockVote,
    Commit,
    DoubleVoteEvidence,
    Proposal,
)
from ..consensus.finality_messages import (
    MAX_CERTIFICATE_SIZE,
    MAX_EVIDENCE_SIZE,
    MAX_VOTE_BATCH_SIZE,
    ConflictingVotesEvidence,
    FinalityCertificate,
    VoteBatch,
)
from ..errors import DecodeError
from ..transaction import MAX_TX_SIZE, Transaction
from .errors import ErrorCode, ProtocolError, WireConfigError, local_error
from .limits import (
    MAX_BLOCK_VOTE_SIZE,
    MAX_COMMIT_SIZE,
    MAX_DOUBLE_VOTE_EVIDENCE_SIZE,
    MAX_PROPOSAL_SIZE,
)
from .messages import (
    Addr,
    Blocks,
    Finals,
    GetAddr,
    GetBlocks,
    GetData,
    GetFinals,
    GetStatus,
    Goodbye,
    Hello,
    Inv,
    NotFound,
    Ping,
    Pong,
    Status,
)

__all__ = [
    "MAX_FRAME_PAYLOAD",
    "MESSAGE_SPECS",
    "Message",
    "MessageSpec",
    "MessageType",
    "Priority",
    "RateLimit",
    "RateUnit",
    "decode_message",
    "decode_payload",
    "encode_message",
    "spec_of",
]

Message = (
    Hello | Ping | Pong | GetAddr | Addr | Inv | GetData | NotFound | GetStatus | Status
    | GetBlocks | Blocks | GetFinals | Finals | Goodbye | Transaction | VoteBatch
    | FinalityCertificate | ConflictingVotesEvidence | Proposal | BlockVote | Commit
    | DoubleVoteEvidence
)
"""Every value :func:`encode_message` accepts and :func:`decode_message` returns."""


class MessageType(IntEnum):
    """The u16 type id of each message on the wire."""

    HELLO = 0x01
    PING = 0x02
    PONG = 0x03
    GET_ADDR = 0x04
    ADDR = 0x05
    INV = 0x06
    GET_DATA = 0x07
    NOT_FOUND = 0x08
    GET_STATUS = 0x09
    STATUS = 0x0A
    GET_BLOCKS = 0x0B
    BLOCKS = 0x0C
    GET_FINALS = 0x0D
    FINALS = 0x0E
    GOODBYE = 0x0F
    TX = 0x20
    VOTE_BATCH = 0x21
    FINALITY_CERTIFICATE = 0x22
    CONFLICTING_VOTES_EVIDENCE = 0x23
    PROPOSAL = 0x30
    BLOCK_VOTE = 0x31
    COMMIT = 0x32
    DOUBLE_VOTE_EVIDENCE = 0x33


class Priority(IntEnum):
    """Send-queue priority; lower values leave first and are shed last."""

    CONSENSUS = 0
    SYNC = 1
    BULK = 2


class RateUnit(Enum):
    """What one token of a bucket pays for."""

    MESSAGE = "message"
    ENTRY = "entry"
    BYTE = "byte"


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A per-peer token bucket: ``refill`` tokens per second up to ``burst``."""

    refill: float
    burst: float
    unit: RateUnit = RateUnit.MESSAGE

    def __post_init__(self) -> None:
        if not (self.refill > 0 and self.burst >= 1):
            raise WireConfigError("a rate needs a positive refill and a burst of at least 1")


@dataclass(frozen=True, slots=True)
class MessageSpec:
    """Everything the wire knows about one message type (one row of :data:`MESSAGE_SPECS`)."""

    type: MessageType
    cls: builtins.type
    cap: int
    rates: tuple[RateLimit, ...]
    priority: Priority
    compress: bool = False
    once: bool = False
    decode: Callable[[bytes], Message] | None = None

    def decoder(self) -> Callable[[bytes], Message]:
        """The function that decodes this type's payloads (``cls.from_bytes`` unless overridden)."""
        if self.decode is not None:
            return self.decode
        from_bytes: Callable[[bytes], Message] = self.cls.from_bytes  # type: ignore[attr-defined]
        return from_bytes


_T = MessageType
_P = Priority
_KIB: Final = 1024
_MIB: Final = 1024 * 1024


def _per_s(refill: float, burst: float, unit: RateUnit = RateUnit.MESSAGE) -> tuple[RateLimit, ...]:
    return (RateLimit(refill, burst, unit),)


_CONSENSUS_RATE: Final = _per_s(100, 500)
_EVIDENCE_RATE: Final = _per_s(1, 10)

_ROWS: Final[tuple[MessageSpec, ...]] = (
    MessageSpec(_T.HELLO, Hello, _KIB, (), _P.CONSENSUS, once=True),
    MessageSpec(_T.PING, Ping, 16, _per_s(1, 5), _P.CONSENSUS),
    MessageSpec(_T.PONG, Pong, 16, _per_s(1, 5), _P.CONSENSUS),
    MessageSpec(_T.GET_ADDR, GetAddr, 0, (), _P.BULK, once=True),
    MessageSpec(_T.ADDR, Addr, 40 * _KIB, _per_s(0.1, 1000, RateUnit.ENTRY), _P.BULK, compress=True),
    MessageSpec(_T.INV, Inv, 33 * _KIB, _per_s(10, 50), _P.BULK),
    MessageSpec(_T.GET_DATA, GetData, 33 * _KIB, _per_s(10, 50), _P.BULK),
    MessageSpec(_T.NOT_FOUND, NotFound, 33 * _KIB, _per_s(10, 50), _P.BULK),
    MessageSpec(_T.GET_STATUS, GetStatus, 0, _per_s(1, 5), _P.SYNC),
    MessageSpec(_T.STATUS, Status, 128, _per_s(1, 5), _P.SYNC),
    MessageSpec(_T.GET_BLOCKS, GetBlocks, 24, _per_s(4, 8), _P.SYNC),
    # Blocks' cap is filled in below: it depends on every other cap.
    MessageSpec(_T.BLOCKS, Blocks, 0, _per_s(4, 8), _P.SYNC, compress=True),
    MessageSpec(_T.GET_FINALS, GetFinals, 64, _per_s(1, 4), _P.SYNC),
    MessageSpec(_T.FINALS, Finals, 8 * _MIB, _per_s(1, 4), _P.SYNC, compress=True),
    MessageSpec(_T.GOODBYE, Goodbye, 64, (), _P.CONSENSUS, once=True),
    MessageSpec(
        _T.TX, Transaction, MAX_TX_SIZE,
        (RateLimit(200, 1000), RateLimit(10_000_000 / 60, 10_000_000, RateUnit.BYTE)),
        _P.BULK,
    ),
    MessageSpec(_T.VOTE_BATCH, VoteBatch, MAX_VOTE_BATCH_SIZE, _CONSENSUS_RATE, _P.CONSENSUS),
    MessageSpec(
        _T.FINALITY_CERTIFICATE, FinalityCertificate, MAX_CERTIFICATE_SIZE, _CONSENSUS_RATE,
        _P.CONSENSUS,
    ),
    MessageSpec(
        _T.CONFLICTING_VOTES_EVIDENCE, ConflictingVotesEvidence, MAX_EVIDENCE_SIZE,
        _EVIDENCE_RATE, _P.CONSENSUS,
    ),
    MessageSpec(
        _T.PROPOSAL, Proposal, MAX_PROPOSAL_SIZE, _per_s(5, 10), _P.CONSENSUS, compress=True
    ),
    MessageSpec(_T.BLOCK_VOTE, BlockVote, MAX_BLOCK_VOTE_SIZE, _per_s(50, 500), _P.CONSENSUS),
    MessageSpec(_T.COMMIT, Commit, MAX_COMMIT_SIZE, _per_s(5, 10), _P.CONSENSUS, compress=True),
    MessageSpec(
        _T.DOUBLE_VOTE_EVIDENCE, DoubleVoteEvidence, MAX_DOUBLE_VOTE_EVIDENCE_SIZE,
        _EVIDENCE_RATE, _P.CONSENSUS,
    ),
)


def _with_blocks_cap(rows: tuple[MessageSpec, ...]) -> dict[MessageType, MessageSpec]:
    largest = max(row.cap for row in rows if row.type is not _T.BLOCKS)
    # start:u64 | count:varint | one commit's length varint: a page always fits one
    # message of the largest other cap.
    blocks_cap = 8 + 1 + varint_size(largest) + largest
    table = {}
    for row in rows:
        if row.type is _T.BLOCKS:
            row = MessageSpec(
                row.type, row.cls, blocks_cap, row.rates, row.priority, row.compress, row.once
            )
        table[row.type] = row
    return table


MESSAGE_SPECS: Final[Mapping[MessageType, MessageSpec]] = MappingProxyType(_with_blocks_cap(_ROWS))
"""Every message type's row: class, cap, rates, priority, compression hint, once-only."""

MAX_FRAME_PAYLOAD: Final = max(spec.cap for spec in MESSAGE_SPECS.values())
"""The largest payload any frame may carry: the largest per-type cap."""

_BY_CLASS: Final[dict[type, MessageSpec]] = {spec.cls: spec for spec in MESSAGE_SPECS.values()}
_DECODERS: Final[dict[int, tuple[MessageSpec, Callable[[bytes], Message]]]] = {
    int(spec.type): (spec, spec.decoder()) for spec in MESSAGE_SPECS.values()
}


def spec_of(message: object) -> MessageSpec:
    """The registry row of ``message``'s type; raises a local :class:`ProtocolError` for a non-message."""
    spec = _BY_CLASS.get(type(message))
    if spec is None:
        raise local_error(ErrorCode.NOT_A_MESSAGE, f"{type(message).__name__} is not a wire message")
    return spec


def encode_message(message: Message) -> tuple[MessageType, bytes]:
    """The type id and canonical payload of ``message``.

    :raises ProtocolError: (local blame) ``message`` is not a wire message, or its
        encoding exceeds its type's cap.
    """
    spec = spec_of(message)
    payload = message.to_bytes()
    if len(payload) > spec.cap:
        raise local_error(
            ErrorCode.MESSAGE_TOO_LARGE, f"{spec.type.name} of {len(payload)} bytes exceeds {spec.cap}"
        )
    return spec.type, payload


def decode_payload(spec: MessageSpec, payload: bytes) -> Message:
    """Decode ``payload`` as ``spec``'s type (its length already checked against the cap).

    :raises ProtocolError: (peer blame) ``MALFORMED_MESSAGE``.
    """
    try:
        return _DECODERS[spec.type][1](payload)
    except (DecodeError, ValueError) as exc:
        raise ProtocolError(ErrorCode.MALFORMED_MESSAGE, f"{spec.type.name}: {exc}") from None


def decode_message(type_id: int, payload: bytes) -> Message:
    """The message a ``(type_id, payload)`` pair encodes.

    :raises ProtocolError: (peer blame) ``UNKNOWN_MESSAGE_TYPE``, ``OVERSIZED_MESSAGE``
        (payload over the type's cap) or ``MALFORMED_MESSAGE`` (not a canonical encoding).
    """
    entry = _DECODERS.get(type_id)
    if entry is None:
        raise ProtocolError(ErrorCode.UNKNOWN_MESSAGE_TYPE, f"type 0x{type_id:04x}")
    spec, decode = entry
    if len(payload) > spec.cap:
        raise ProtocolError(
            ErrorCode.OVERSIZED_MESSAGE, f"{spec.type.name} of {len(payload)} bytes exceeds {spec.cap}"
        )
    try:
        return decode(bytes(payload))
    except (DecodeError, ValueError) as exc:
        raise ProtocolError(ErrorCode.MALFORMED_MESSAGE, f"{spec.type.name}: {exc}") from None
