"""The UTXO set commitment: one additive multiset hash, used by the UTXO set and the store.

Each confirmed coin maps to
``e = SHAKE-256(tagged_hash(UTXO, txid | index:u32 | amount:u64 | payload | height:u64))``
read as a 4096-bit little-endian integer; the accumulator is the sum of the ``e``
modulo ``2**4096`` and the commitment is ``tagged_hash(UTXO, count:u64 | accumulator)``.
Adding and removing coins is an addition and a subtraction, in any order, so the
UTXO set keeps it incrementally and the store persists the accumulator without a
set in memory — both through the functions here, so they cannot drift apart.
"""
from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable
from typing import Final

from .errors import DecodeError
from .hashing import Tag, tagged_hash

__all__ = ["ACC_BYTES", "MASK", "PREIMAGE", "CoinKey", "UtxoAccumulator", "element_sum", "preimage_sum"]

ACC_BYTES: Final = 512
"""Bytes of the accumulator (a 4096-bit integer)."""
MASK: Final = (1 << (8 * ACC_BYTES)) - 1
"""``2**4096 - 1``: accumulator arithmetic is modulo ``2**4096``."""
PREIMAGE: Final = struct.Struct("<32sIQ20sQ")
"""An element's preimage, ``txid | index:u32 | amount:u64 | payload:20 | height:u64``."""
_U64: Final = struct.Struct("<Q")
_TAG: Final = hashlib.sha256(Tag.UTXO.value.encode()).digest()
# tagged_hash(UTXO, data) is this prefix state (already fed the 64-byte tag prefix)
# copied and fed data: the same bytes as hashing.tagged_hash, without a call per element.
_PREFIX: Final = hashlib.sha256(_TAG + _TAG)

CoinKey = tuple[bytes, int, int, bytes, int]
"""``(txid, index, amount, payload, height)`` of one confirmed coin."""


def preimage_sum(preimages: Iterable[bytes]) -> int:
    """The (unreduced) sum of the elements of the given :data:`PREIMAGE` encodings."""
    copy = _PREFIX.copy
    shake = hashlib.shake_256
    from_bytes = int.from_bytes
    total = 0
    for preimage in preimages:
        h = copy()
        h.update(preimage)
        total += from_bytes(shake(h.digest()).digest(ACC_BYTES), "little")
    return total


def element_sum(coins: Iterable[CoinKey]) -> int:
    """The (unreduced) sum of the elements of ``coins``."""
    pack = PREIMAGE.pack
    return preimage_sum(pack(*coin) for coin in coins)


class UtxoAccumulator:
    """The accumulator and coin count behind a UTXO commitment. Mutable, cheap to copy."""

    __slots__ = ("count", "value")

    def __init__(self, value: int = 0, count: int = 0) -> None:
        self.value = value
        self.count = count

    def copy(self) -> UtxoAccumulator:
        """An independent copy."""
        return UtxoAccumulator(self.value, self.count)

    def update(self, added: Iterable[CoinKey], removed: Iterable[CoinKey]) -> None:
        """Add the coins ``added`` and remove the coins ``removed``."""
        added = list(added)
        removed = list(removed)
        self.value = (self.value + element_sum(added) - element_sum(removed)) & MASK
        self.count += len(added) - len(removed)

    def add_sums(self, added: int, removed: int, count_change: int) -> None:
        """Apply element sums computed elsewhere (:func:`element_sum`) and the change in count."""
        self.value = (self.value + added - removed) & MASK
        self.count += count_change

    def commitment(self) -> bytes:
        """The 32-byte commitment, equal to ``UtxoSet.commitment()`` of the same coins."""
        return tagged_hash(Tag.UTXO, _U64.pack(self.count) + self.value.to_bytes(ACC_BYTES, "little"))

    def to_bytes(self) -> bytes:
        """``count:u64 | accumulator:512``."""
        return _U64.pack(self.count) + self.value.to_bytes(ACC_BYTES, "little")

    @classmethod
    def from_bytes(cls, data: bytes) -> UtxoAccumulator:
        """Decode :meth:`to_bytes`."""
        if len(data) != 8 + ACC_BYTES:
            raise DecodeError(f"accumulator must be {8 + ACC_BYTES} bytes, got {len(data)}", 0)
        (count,) = _U64.unpack_from(data)
        return cls(int.from_bytes(data[8:], "little"), count)
