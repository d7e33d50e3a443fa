"""The wire protocol, sans-IO: messages, the secure session, the peer machine and the
connection and gossip policies, all bytes in and bytes out.

Theory of operation. Nothing here does I/O, starts a task or reads a clock; time and
randomness are passed in, so the simulator and tests drive it exactly and the anyio
shell (``timecoin_net``) only moves bytes. The layers, bottom up:

* :mod:`~timecoin_core.wire.errors` — :class:`ProtocolError` with an :class:`ErrorCode`
  and a :class:`Blame`; :data:`CONSEQUENCES` says which codes are offences;
* :mod:`~timecoin_core.wire.messages` and :mod:`~timecoin_core.wire.registry` — every
  message with its type id, byte cap, rate and priority; :func:`encode_message` and
  :func:`decode_message`;
* :mod:`~timecoin_core.wire.frames` — X25519 + HKDF key schedule, ChaCha20-Poly1305
  records with counter nonces, the sealed 12-byte header, bounded zlib;
* :mod:`~timecoin_core.wire.session` — :class:`PeerSession`, the per-connection
  machine (handshake table, liveness, token buckets, priority send queues, counters);
* :mod:`~timecoin_core.wire.policy` and :mod:`~timecoin_core.wire.gossip` — slots,
  eviction, discouragement, dial backoff; dedupe, relay targets, inventory requests;
* :mod:`~timecoin_core.wire.testing` and :mod:`~timecoin_core.wire.mesh` — :class:`SessionPair`,
  two sessions back to back, and :class:`WireMesh`, N nodes fully meshed, for simulators.

docs/network.md is the normative specification.
"""

from __future__ import annotations

from .errors import CONSEQUENCES, Blame, Consequence, ErrorCode, ProtocolError, WireConfigError
from .frames import (
    COMPRESSED,
    COMPRESSION_MIN_SIZE,
    HANDSHAKE_SIZE,
    HEADER_SIZE,
    HELLO_KIND,
    HKDF_INFO,
    MAX_RECORDS,
    SEALED_HEADER_SIZE,
    TAG_SIZE,
    FrameHeader,
    RecordCipher,
    SessionKeys,
    check_header,
    compress,
    derive_keys,
    identity_message,
    inflate,
    opening,
    pack_header,
)
from .gossip import InventoryTracker, RelayFilter, SeenSet
from .limits import (
    MAX_BLOCK_VOTE_SIZE,
    MAX_COMMIT_SIZE,
    MAX_DOUBLE_VOTE_EVIDENCE_SIZE,
    MAX_PROPOSAL_SIZE,
)
from .mesh import WireMesh
from .messages import (
    MAX_ADDR_ENTRIES,
    MAX_BLOCKS_PER_PAGE,
    MAX_FINALS_PER_PAGE,
    MAX_GOODBYE_DETAIL,
    MAX_INV_ITEMS,
    MAX_USER_AGENT,
    PROTOCOL_VERSION,
    Addr,
    Blocks,
    FinalEntry,
    Finals,
    GetAddr,
    GetBlocks,
    GetData,
    GetFinals,
    GetStatus,
    Goodbye,
    Hello,
    Inv,
    InvItem,
    InvKind,
    NotFound,
    PeerAddress,
    Ping,
    Pong,
    Status,
)
from .policy import (
    Admission,
    CloseAction,
    ConnectionPolicy,
    DialBackoff,
    PeerRecord,
    PolicyConfig,
    netgroup,
    select_eviction,
)
from .ratelimit import RateVerdict, TokenBucket
from .registry import (
    MAX_FRAME_PAYLOAD,
    MESSAGE_SPECS,
    Message,
    MessageSpec,
    MessageType,
    Priority,
    RateLimit,
    RateUnit,
    decode_message,
    decode_payload,
    encode_message,
    spec_of,
)
from .session import (
    TRANSITIONS,
    VIOLATIONS,
    Closed,
    HandshakeComplete,
    MessageReceived,
    PeerSession,
    SessionConfig,
    SessionEvent,
    SessionInput,
    SessionState,
)
from .testing import SessionPair, sample_messages

__all__ = [
    "COMPRESSED",
    "COMPRESSION_MIN_SIZE",
    "CONSEQUENCES",
    "HANDSHAKE_SIZE",
    "HEADER_SIZE",
    "HELLO_KIND",
    "HKDF_INFO",
    "MAX_ADDR_ENTRIES",
    "MAX_BLOCKS_PER_PAGE",
    "MAX_BLOCK_VOTE_SIZE",
    "MAX_COMMIT_SIZE",
    "MAX_DOUBLE_VOTE_EVIDENCE_SIZE",
    "MAX_FINALS_PER_PAGE",
    "MAX_FRAME_PAYLOAD",
    "MAX_GOODBYE_DETAIL",
    "MAX_INV_ITEMS",
    "MAX_PROPOSAL_SIZE",
    "MAX_RECORDS",
    "MAX_USER_AGENT",
    "MESSAGE_SPECS",
    "PROTOCOL_VERSION",
    "SEALED_HEADER_SIZE",
    "TAG_SIZE",
    "TRANSITIONS",
    "VIOLATIONS",
    "Addr",
    "Admission",
    "Blame",
    "Blocks",
    "CloseAction",
    "Closed",
    "ConnectionPolicy",
    "Consequence",
    "DialBackoff",
    "ErrorCode",
    "FinalEntry",
    "Finals",
    "FrameHeader",
    "GetAddr",
    "GetBlocks",
    "GetData",
    "GetFinals",
    "GetStatus",
    "Goodbye",
    "HandshakeComplete",
    "Hello",
    "Inv",
    "InvItem",
    "InvKind",
    "InventoryTracker",
    "Message",
    "MessageReceived",
    "MessageSpec",
    "MessageType",
    "NotFound",
    "PeerAddress",
    "PeerRecord",
    "PeerSession",
    "Ping",
    "PolicyConfig",
    "Pong",
    "Priority",
    "ProtocolError",
    "RateLimit",
    "RateUnit",
    "RateVerdict",
    "RecordCipher",
    "RelayFilter",
    "SeenSet",
    "SessionConfig",
    "SessionEvent",
    "SessionInput",
    "SessionKeys",
    "SessionPair",
    "SessionState",
    "Status",
    "TokenBucket",
    "WireConfigError",
    "WireMesh",
    "check_header",
    "compress",
    "decode_message",
    "decode_payload",
    "derive_keys",
    "encode_message",
    "identity_message",
    "inflate",
    "netgroup",
    "opening",
    "pack_header",
    "sample_messages",
    "select_eviction",
    "spec_of",
]
