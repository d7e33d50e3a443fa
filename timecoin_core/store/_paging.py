"""Page arithmetic shared by the stores: ranges, cursor positions, next cursors."""

from __future__ import annotations

from typing import Final

from ._plan import check_height, check_limit
from .cursor import CursorKind, decode_cursor, encode_cursor
from .errors import InvalidCursorError
from .records import StoredBlock

HISTORY_POSITION_SIZE: Final = 12
NO_STOP: Final = 2**46


def history_position(height: int, position: int) -> bytes:
    """The cursor position of a history entry: ``height:u64be | position:u32be``."""
    return height.to_bytes(8, "big") + position.to_bytes(4, "big")


def history_after(payload: bytes, cursor: str | None) -> tuple[int, int] | None:
    """``(height, position)`` of the last entry a history cursor saw, or ``None``."""
    if cursor is None:
        return None
    raw = decode_cursor(cursor, CursorKind.HISTORY, payload, HISTORY_POSITION_SIZE)
    return int.from_bytes(raw[:8], "big"), int.from_bytes(raw[8:], "big")


def history_cursor(payload: bytes, height: int, position: int) -> str:
    """The cursor after the history entry at ``(height, position)``."""
    return encode_cursor(CursorKind.HISTORY, payload, history_position(height, position))


def coins_after(payload: bytes, cursor: str | None) -> bytes | None:
    """The outpoint key of the last coin a coins cursor saw, or ``None``."""
    if cursor is None:
        return None
    return decode_cursor(cursor, CursorKind.COINS, payload, 36)


def coins_cursor(payload: bytes, key: bytes) -> str:
    """The cursor after the coin with outpoint key ``key``."""
    return encode_cursor(CursorKind.COINS, payload, key)


def transactions_first(height: int, limit: int, cursor: str | None) -> tuple[int, bytes]:
    """``(first position, scope)`` of a block-transactions query."""
    check_height(height)
    check_limit(limit)
    scope = height.to_bytes(8, "big")
    if cursor is None:
        return 0, scope
    return int.from_bytes(decode_cursor(cursor, CursorKind.BLOCK_TRANSACTIONS, scope, 4), "big") + 1, scope


def transactions_cursor(scope: bytes, last_position: int) -> str:
    """The cursor after the transaction at ``last_position``."""
    return encode_cursor(CursorKind.BLOCK_TRANSACTIONS, scope, last_position.to_bytes(4, "big"))


def block_range(start: int, stop: int | None, limit: int, cursor: str | None) -> tuple[int, int, bytes]:
    """``(first height, end height, cursor scope)`` of a block-range query."""
    check_height(start, "start")
    if stop is not None:
        check_height(stop, "stop")
    check_limit(limit)
    end = NO_STOP if stop is None else stop
    scope = start.to_bytes(8, "big") + end.to_bytes(8, "big")
    first = start
    if cursor is not None:
        first = int.from_bytes(decode_cursor(cursor, CursorKind.BLOCKS, scope, 8), "big") + 1
        if not start < first <= end:
            raise InvalidCursorError("cursor lies outside the requested range")
    return first, end, scope


def next_block_cursor(items: tuple[StoredBlock, ...], end: int, scope: bytes) -> str | None:
    """The cursor after the last block of a page, ``None`` when the range (as it stands) is done."""
    if not items or items[-1].height + 1 >= end:
        return None
    return encode_cursor(CursorKind.BLOCKS, scope, items[-1].height.to_bytes(8, "big"))
