"""Base58 with the Bitcoin alphabet (no checksum: the address format adds its own)."""

from __future__ import annotations

from .errors import InvalidArgumentError

__all__ = ["b58decode", "b58encode"]

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_INDEX = {c: i for i, c in enumerate(ALPHABET)}


def b58encode(data: bytes) -> str:
    """Encode bytes; each leading zero byte becomes a leading ``"1"``."""
    zeros = len(data) - len(data.lstrip(b"\0"))
    n = int.from_bytes(data, "big")
    out = []
    while n:
        n, r = divmod(n, 58)
        out.append(ALPHABET[r])
    return "1" * zeros + "".join(reversed(out))


def b58decode(text: str) -> bytes:
    """Decode a Base58 string; raises ``ValueError`` on a character outside the alphabet."""
    n = 0
    for c in text:
        digit = _INDEX.get(c)
        if digit is None:
            raise InvalidArgumentError("text", f"invalid base58 character {c!r}")
        n = n * 58 + digit
    zeros = len(text) - len(text.lstrip("1"))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * zeros + body
