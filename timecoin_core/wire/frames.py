"""Frames and the secure session's cryptography: key agreement, sealed records, headers,
compression.

Theory of operation. A connection opens with each side sending ``magic:4 |
ephemeral:32`` (a fresh X25519 public key). Both compute the X25519 shared secret and
run HKDF-SHA256 with the *transcript* (the initiator's 36 bytes, then the
responder's) as salt and :data:`HKDF_INFO` as info, giving 96 bytes: the
initiator-to-responder key, the responder-to-initiator key and the 32-byte session id.
Binding the transcript means a relay that swaps either opening gets different keys on
each side, and the first record fails to open.

After that every byte is a ChaCha20-Poly1305 *record*: ``ciphertext | tag:16`` under
the direction's key, with the nonce ``counter:u64 | 0:u32`` (little-endian) and no
associated data. Each direction's counter starts at 0 and goes up by one per record,
so a replayed, reordered, dropped or tampered record fails to open: the receiver
expects exactly the next counter. A session closes before a counter could wrap
(:data:`MAX_RECORDS`), so no (key, nonce) pair is ever used twice.

A message is two records: a sealed 12-byte header ``type:u16 | flags:u8 |
reserved:u8 | length:u32 | raw_length:u32`` and the sealed payload of ``length``
bytes. The receiver opens the 28-byte header record first and checks it against the
type's cap (:func:`check_header`) before it reads the payload, so a peer can make it
buffer no more than the cap of the type it named. Flag bit 0 means the payload is
zlib (RFC 1950); it is allowed only when ``raw_length >= 1024`` and ``length <= 0.9 x
raw_length`` (:func:`compress` applies the same rule), and :func:`inflate` never
produces more than ``raw_length`` bytes and requires exactly that many.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Final, NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..consensus.sansio import signing_message
from .errors import ErrorCode, ProtocolError
from .registry import MESSAGE_SPECS, MessageSpec

__all__ = [
    "COMPRESSED",
    "COMPRESSION_MIN_SIZE",
    "HANDSHAKE_SIZE",
    "HEADER_SIZE",
    "HELLO_KIND",
    "HKDF_INFO",
    "MAX_RECORDS",
    "SEALED_HEADER_SIZE",
    "TAG_SIZE",
    "FrameHeader",
    "RecordCipher",
    "SessionKeys",
    "check_header",
    "compress",
    "derive_keys",
    "identity_message",
    "inflate",
    "opening",
    "pack_header",
]

HANDSHAKE_SIZE: Final = 4 + 32
"""Bytes each side sends first: network magic and an X25519 public key."""

TAG_SIZE: Final = 16
"""Poly1305 tag appended to every record."""

HEADER_SIZE: Final = 12
"""Plaintext frame header: type u16, flags u8, reserved u8, length u32, raw length u32."""

SEALED_HEADER_SIZE: Final = HEADER_SIZE + TAG_SIZE
"""The header record on the wire."""

HKDF_INFO: Final = b"timecoin/wire/v1"
"""HKDF ``info`` of the key schedule."""

HELLO_KIND: Final = b"wire-hello"
"""Signing kind of the identity signature in ``Hello`` (see :func:`identity_message`)."""

COMPRESSED: Final = 0x01
"""Header flag: the payload is zlib-compressed."""

COMPRESSION_MIN_SIZE: Final = 1024
"""Smallest raw payload a frame may carry compressed."""

MAX_RECORDS: Final = 2**64 - 1
"""Records one direction may seal; the counter never reaches this value."""

_HEADER: Final = struct.Struct("<HBBII")
_SPECS: Final[dict[int, MessageSpec]] = {int(t): spec for t, spec in MESSAGE_SPECS.items()}
# Payloads at least this long are compressed only if a fast probe of their first
# _PROBE_SIZE bytes shrinks by _PROBE_GAIN: zlib runs at ~40 MB/s, far slower than the
# record layer, and block-like payloads that barely pass the 10% rule are not worth it.
_PROBE_SIZE: Final = 64 * 1024
_PROBE_GAIN: Final = 0.85
# Level 1: on simulator blocks it gives 25.7% of the raw size against level 6's 25.1%,
# in half the time.
_LEVEL: Final = 1
_NONCE: Final = struct.Struct("<QI")


@dataclass(frozen=True, slots=True)
class SessionKeys:
    """The key schedule's output: one AEAD key per direction and the session id."""

    initiator_to_responder: bytes
    responder_to_initiator: bytes
    session_id: bytes


def opening(magic: bytes, ephemeral_public: bytes) -> bytes:
    """The 36 bytes a side sends first: ``magic | ephemeral public key``."""
    return magic + ephemeral_public


def derive_keys(
    ephemeral: X25519PrivateKey, peer_ephemeral: bytes, transcript: bytes
) -> SessionKeys:
    """The session keys from our ephemeral key, the peer's public key and the transcript.

    ``transcript`` is the initiator's opening followed by the responder's.

    :raises ProtocolError: ``BAD_EPHEMERAL_KEY`` when the peer's key is of low order
        (the shared secret would be all zeros, known to anyone).
    """
    try:
        shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(peer_ephemeral))
    except ValueError:
        raise ProtocolError(ErrorCode.BAD_EPHEMERAL_KEY, "low-order X25519 key") from None
    okm = HKDF(algorithm=hashes.SHA256(), length=96, salt=transcript, info=HKDF_INFO).derive(shared)
    return SessionKeys(okm[:32], okm[32:64], okm[64:])


def identity_message(chain_id: int, session_id: bytes) -> bytes:
    """The 32-byte message a ``Hello``'s identity signature covers.

    The consensus signing message (``tagged_hash(VOTE, chain_id | kind | payload)``)
    with kind :data:`HELLO_KIND` and the session id as payload: a masternode's
    operator key signs it, and no consensus message can ever share that kind.
    """
    return signing_message(chain_id, HELLO_KIND, session_id)


class RecordCipher:
    """One direction of the record layer: a ChaCha20-Poly1305 key and its counter."""

    __slots__ = ("_aead", "counter")

    def __init__(self, key: bytes, counter: int = 0) -> None:
        self._aead = ChaCha20Poly1305(key)
        self.counter = counter

    def seal(self, plaintext: bytes) -> bytes:
        """The record for ``plaintext`` under the next nonce."""
        counter = self.counter
        if counter >= MAX_RECORDS:
            raise ProtocolError(ErrorCode.NONCE_EXHAUSTED, "send counter exhausted")
        self.counter = counter + 1
        return self._aead.encrypt(_NONCE.pack(counter, 0), plaintext, None)

    def open(self, record: bytes | bytearray | memoryview) -> bytes:
        """The plaintext of the next record.

        :raises ProtocolError: ``DECRYPT_FAILED`` for a record that is not the next one
            sealed under this key, unaltered.
        """
        counter = self.counter
        if counter >= MAX_RECORDS:
            raise ProtocolError(ErrorCode.NONCE_EXHAUSTED, "receive counter exhausted")
        try:
            plaintext = self._aead.decrypt(_NONCE.pack(counter, 0), record, None)
        except InvalidTag:
            raise ProtocolError(ErrorCode.DECRYPT_FAILED, f"record {counter}") from None
        self.counter = counter + 1
        return plaintext


class FrameHeader(NamedTuple):
    """A checked frame header: the type's registry row, flags and lengths."""

    spec: MessageSpec
    flags: int
    length: int
    raw_length: int

    @property
    def compressed(self) -> bool:
        """True when the payload is zlib-compressed."""
        return bool(self.flags & COMPRESSED)

    def to_bytes(self) -> bytes:
        """The 12-byte plaintext header."""
        return _HEADER.pack(self.spec.type, self.flags, 0, self.length, self.raw_length)


def pack_header(type_id: int, flags: int, length: int, raw_length: int) -> bytes:
    """The 12-byte plaintext header (no checks: for tests and vectors)."""
    return _HEADER.pack(type_id, flags, 0, length, raw_length)


def check_header(header: bytes) -> FrameHeader:
    """Parse and check a 12-byte plaintext header against the registry.

    :raises ProtocolError: ``UNKNOWN_MESSAGE_TYPE``; ``OVERSIZED_MESSAGE`` when either
        length exceeds the type's cap; ``BAD_HEADER`` for unknown flags, a non-zero
        reserved byte, unequal lengths without compression, or compression where the
        rule forbids it.
    """
    type_id, flags, reserved, length, raw_length = _HEADER.unpack(header)
    spec = _SPECS.get(type_id)
    if spec is None:
        raise ProtocolError(ErrorCode.UNKNOWN_MESSAGE_TYPE, f"type 0x{type_id:04x}")
    if reserved or flags & ~COMPRESSED:
        raise ProtocolError(ErrorCode.BAD_HEADER, "reserved bits set")
    if length > spec.cap or raw_length > spec.cap:
        raise ProtocolError(
            ErrorCode.OVERSIZED_MESSAGE,
            f"{spec.type.name} header names {max(length, raw_length)} bytes, cap {spec.cap}",
        )
    if flags & COMPRESSED:
        if raw_length < COMPRESSION_MIN_SIZE or length * 10 > raw_length * 9:
            raise ProtocolError(ErrorCode.BAD_HEADER, "compression where the rule forbids it")
    elif raw_length != length:
        raise ProtocolError(ErrorCode.BAD_HEADER, "raw length differs without compression")
    return FrameHeader(spec, flags, length, raw_length)


def compress(payload: bytes) -> tuple[int, bytes]:
    """``(flags, body)`` for ``payload``: zlib (level 1) when it is >= 1 KiB and shrinks by >= 10%.

    Payloads over 64 KiB are first probed (their first 64 KiB at zlib level 1) and sent
    raw unless the probe shrinks by 15%: a sender's choice, not a receiver's rule.
    """
    size = len(payload)
    if size < COMPRESSION_MIN_SIZE:
        return 0, payload
    if size > _PROBE_SIZE and len(zlib.compress(payload[:_PROBE_SIZE], 1)) > _PROBE_GAIN * _PROBE_SIZE:
        return 0, payload
    packed = zlib.compress(payload, _LEVEL)
    if len(packed) * 10 <= size * 9:
        return COMPRESSED, packed
    return 0, payload


def inflate(body: bytes, raw_length: int) -> bytes:
    """The ``raw_length`` bytes ``body`` inflates to, never allocating more.

    :raises ProtocolError: ``BAD_COMPRESSION`` when ``body`` is not one complete zlib
        stream of exactly ``raw_length`` bytes.
    """
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(body, raw_length)
        # Exactly raw_length bytes may fill the output limit before zlib reads the
        # stream's end; one more byte of room either finds the end or proves the stream
        # longer than declared (never concatenated: that would copy the data).
        if (
            not inflater.eof
            and len(data) == raw_length
            and inflater.decompress(inflater.unconsumed_tail, 1)
        ):
            raise ProtocolError(ErrorCode.BAD_COMPRESSION, f"inflates past {raw_length} bytes")
    except zlib.error as exc:
        raise ProtocolError(ErrorCode.BAD_COMPRESSION, str(exc)) from None
    if not inflater.eof or inflater.unused_data or inflater.unconsumed_tail:
        raise ProtocolError(ErrorCode.BAD_COMPRESSION, "incomplete stream or trailing data")
    if len(data) != raw_length:
        raise ProtocolError(
            ErrorCode.BAD_COMPRESSION, f"inflated to {len(data)} bytes, header says {raw_length}"
        )
    return data
