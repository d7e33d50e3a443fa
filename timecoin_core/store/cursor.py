"""Opaque, validated page cursors shared by every store implementation.

A cursor is a short URL-safe string. Underneath it is::

    version:u8 | kind:u8 | scope:8 | position | check:4

``kind`` names the query (coins, history, blocks, block transactions), ``scope`` is a
digest of the query's fixed arguments (the address, the block height, the range end),
``position`` the key of the last item returned, and ``check`` the first four bytes of
SHA-256 of everything before it. A cursor from another query, another address, or a
truncated or edited one is rejected with :class:`InvalidCursorError`, never silently
read as a position. The check is an integrity check, not a secret: a client that forges
a valid cursor only chooses where its own page starts.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from enum import IntEnum
from typing import Final

from .errors import InvalidCursorError

__all__ = ["CursorKind", "decode_cursor", "encode_cursor"]

_VERSION: Final = 1
_MAX_CURSOR_LENGTH: Final = 256


class CursorKind(IntEnum):
    """Which query a cursor belongs to; the value is its byte in the encoding."""

    COINS = 1
    HISTORY = 2
    BLOCKS = 3
    BLOCK_TRANSACTIONS = 4


def _scope_digest(kind: CursorKind, scope: bytes) -> bytes:
    return hashlib.sha256(b"timecoin/cursor" + bytes((kind,)) + scope).digest()[:8]


def encode_cursor(kind: CursorKind, scope: bytes, position: bytes) -> str:
    """The cursor string for ``position`` in the query ``kind`` over ``scope``."""
    body = bytes((_VERSION, kind)) + _scope_digest(kind, scope) + position
    check = hashlib.sha256(body).digest()[:4]
    return base64.urlsafe_b64encode(body + check).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: object, kind: CursorKind, scope: bytes, position_size: int) -> bytes:
    """The position in ``cursor``, checked against the query; :class:`InvalidCursorError` otherwise."""
    if not isinstance(cursor, str):
        raise InvalidCursorError(f"a cursor is a str, not {type(cursor).__name__}")
    if not cursor or len(cursor) > _MAX_CURSOR_LENGTH:
        raise InvalidCursorError("cursor is empty or too long")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raise InvalidCursorError("cursor is not valid base64url") from None
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != cursor:
        raise InvalidCursorError("cursor is not in canonical form")
    if len(raw) != 2 + 8 + position_size + 4:
        raise InvalidCursorError("cursor has the wrong length for this query")
    body, check = raw[:-4], raw[-4:]
    if hashlib.sha256(body).digest()[:4] != check:
        raise InvalidCursorError("cursor failed its integrity check")
    if body[0] != _VERSION:
        raise InvalidCursorError(f"unknown cursor version {body[0]}")
    if body[1] != kind:
        raise InvalidCursorError("cursor belongs to another kind of query")
    if body[2:10] != _scope_digest(kind, scope):
        raise InvalidCursorError("cursor belongs to another query (other address, block or range)")
    return body[10:]
