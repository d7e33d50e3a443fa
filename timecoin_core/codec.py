"""The canonical binary codec.

Rules every encoded value follows (docs/protocol.md, "Encoding"):

* fixed-width integers are little-endian (``u8``, ``u16``, ``u32``, ``u64``);
* lengths and counts are *CompactSize* varints that must be minimal: a value below
  0xfd is one byte, below 2**16 is ``0xfd`` + u16, below 2**32 is ``0xfe`` + u32,
  otherwise ``0xff`` + u64; a longer form than needed is rejected;
* every length has an explicit maximum, checked before anything is read or allocated;
* a decoder consumes the whole input: trailing bytes are rejected.

So each value has exactly one encoding and ``decode(encode(v)) == v``.
"""

from __future__ import annotations

import struct
from typing import Final

from .errors import DecodeError, InvalidArgumentError

__all__ = ["Reader", "Writer", "encode_varint", "varint_size"]

_U16: Final = struct.Struct("<H")
_U32: Final = struct.Struct("<I")
_U64: Final = struct.Struct("<Q")


def encode_varint(value: int) -> bytes:
    """The minimal CompactSize encoding of ``value`` (0 <= value < 2**64)."""
    if value < 0xFD:
        if value < 0:
            raise InvalidArgumentError("value", "varint must be non-negative")
        return bytes((value,))
    if value <= 0xFFFF:
        return b"\xfd" + _U16.pack(value)
    if value <= 0xFFFFFFFF:
        return b"\xfe" + _U32.pack(value)
    return b"\xff" + _U64.pack(value)


def varint_size(value: int) -> int:
    """Number of bytes :func:`encode_varint` uses for ``value``."""
    if value < 0xFD:
        return 1
    if value <= 0xFFFF:
        return 3
    if value <= 0xFFFFFFFF:
        return 5
    return 9


class Writer:
    """Appends canonical encodings to a growing buffer; ``bytes(writer)`` is the result."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    def __bytes__(self) -> bytes:
        return bytes(self._buf)

    def u8(self, value: int) -> Writer:
        """Append one byte."""
        self._buf.append(value)
        return self

    def u16(self, value: int) -> Writer:
        """Append a little-endian u16."""
        self._buf += _U16.pack(value)
        return self

    def u32(self, value: int) -> Writer:
        """Append a little-endian u32."""
        self._buf += _U32.pack(value)
        return self

    def u64(self, value: int) -> Writer:
        """Append a little-endian u64."""
        self._buf += _U64.pack(value)
        return self

    def varint(self, value: int) -> Writer:
        """Append a minimal CompactSize varint."""
        self._buf += encode_varint(value)
        return self

    def raw(self, data: bytes) -> Writer:
        """Append bytes as they are (fixed-size fields)."""
        self._buf += data
        return self

    def var_bytes(self, data: bytes) -> Writer:
        """Append a varint length followed by the bytes."""
        self._buf += encode_varint(len(data))
        self._buf += data
        return self


class Reader:
    """Reads canonical encodings from ``data``; every failure is a :class:`DecodeError`."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InvalidArgumentError("data", f"expected bytes, not {type(data).__name__}")
        self.data = bytes(data)
        self.pos = pos

    def _take(self, n: int, what: str) -> int:
        start = self.pos
        end = start + n
        if end > len(self.data):
            raise DecodeError(f"truncated {what}: need {n} bytes, have {len(self.data) - start}", start)
        self.pos = end
        return start

    def u8(self, what: str = "u8") -> int:
        """Read one byte."""
        return self.data[self._take(1, what)]

    def u16(self, what: str = "u16") -> int:
        """Read a little-endian u16."""
        return int(_U16.unpack_from(self.data, self._take(2, what))[0])

    def u32(self, what: str = "u32") -> int:
        """Read a little-endian u32."""
        return int(_U32.unpack_from(self.data, self._take(4, what))[0])

    def u64(self, what: str = "u64") -> int:
        """Read a little-endian u64."""
        return int(_U64.unpack_from(self.data, self._take(8, what))[0])

    def raw(self, n: int, what: str = "bytes") -> bytes:
        """Read exactly ``n`` bytes."""
        start = self._take(n, what)
        return self.data[start : start + n]

    def varint(self, maximum: int, what: str = "varint") -> int:
        """Read a minimal CompactSize varint no greater than ``maximum``."""
        start = self.pos
        first = self.u8(what)
        if first < 0xFD:
            value = first
        elif first == 0xFD:
            value = self.u16(what)
            if value < 0xFD:
                raise DecodeError(f"non-minimal {what}", start)
        elif first == 0xFE:
            value = self.u32(what)
            if value <= 0xFFFF:
                raise DecodeError(f"non-minimal {what}", start)
        else:
            value = self.u64(what)
            if value <= 0xFFFFFFFF:
                raise DecodeError(f"non-minimal {what}", start)
        if value > maximum:
            raise DecodeError(f"{what} {value} exceeds maximum {maximum}", start)
        return value

    def var_bytes(self, maximum: int, what: str = "bytes") -> bytes:
        """Read a varint length (at most ``maximum``) and that many bytes."""
        n = self.varint(maximum, f"{what} length")
        return self.raw(n, what)

    def remaining(self) -> int:
        """Bytes not yet consumed."""
        return len(self.data) - self.pos

    def end(self) -> None:
        """Require that every byte was consumed."""
        if self.pos != len(self.data):
            raise DecodeError(f"{len(self.data) - self.pos} trailing bytes", self.pos)
