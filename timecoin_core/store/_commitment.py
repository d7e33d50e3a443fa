"""The UTXO set commitment, kept incrementally by the store.

The same additive multiset hash as :meth:`timecoin_core.utxo.UtxoSet.commitment`
(specified in that module's docstring): each confirmed coin maps to
``e = SHAKE-256(tagged_hash(UTXO, txid | index:u32 | amount:u64 | payload | height:u64))``
read as a 4096-bit little-endian integer; the accumulator is the sum of the ``e``
modulo ``2**4096`` and the commitment is ``tagged_hash(UTXO, count:u64 | accumulator)``.
Kept here rather than borrowed from ``utxo.py``'s internals so the store persists the
accumulator without a ``UtxoSet`` in memory; a test ties the two together.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable
from typing import Final

from ..errors import DecodeError
from ..hashing import Tag, tagged_hash

ACC_BYTES: Final = 512
_MASK: Final = (1 << (8 * ACC_BYTES)) - 1
_PREIMAGE: Final = struct.Struct("<32sIQ20sQ")
_U64: Final = struct.Struct("<Q")
_TAG: Final = hashlib.sha256(Tag.UTXO.value.encode()).digest()
_PREFIX: Final = hashlib.sha256(_TAG + _TAG)

CoinKey = tuple[bytes, int, int, bytes, int]
"""``(txid, index, amount, payload, height)`` of one confirmed coin."""


def element_sum(coins: Iterable[CoinKey]) -> int:
    """The (unreduced) sum of the elements of ``coins``."""
    copy = _PREFIX.copy
    pack = _PREIMAGE.pack
    shake = hashlib.shake_256
    from_bytes = int.from_bytes
    total = 0
    for coin in coins:
        h = copy()
        h.update(pack(*coin))
        total += from_bytes(shake(h.digest()).digest(ACC_BYTES), "little")
    return total


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
        self.value = (self.value + element_sum(added) - element_sum(removed)) & _MASK
        self.count += len(added) - len(removed)

    def add_sums(self, added: int, removed: int, count_change: int) -> None:
        """Apply element sums computed elsewhere (:func:`element_sum`) and the change in count."""
        self.value = (self.value + added - removed) & _MASK
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
