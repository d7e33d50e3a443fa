"""The voting set of an epoch: who votes and with what weight.

Every honest node derives the same :class:`VotingSet` for an epoch from committed
chain state (the registry at the epoch's start), so every honest node computes the
same quorum. Nothing a voter says about itself changes its weight.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ..codec import Writer
from ..errors import InvalidArgumentError, TimecoinError
from ..hashing import Tag, tagged_hash

__all__ = ["NotAVoterError", "VotingSet", "quorum_reached"]


class NotAVoterError(TimecoinError, ValueError):
    """A vote from a key that is not in the epoch's voting set (or has weight zero)."""


def quorum_reached(weight: int, total: int) -> bool:
    """True when ``weight`` is at least two thirds of ``total`` (exact integer arithmetic)."""
    return total > 0 and 3 * weight >= 2 * total


@dataclass(frozen=True)
class VotingSet:
    """Voters of one epoch: 32-byte Ed25519 voting keys mapped to positive weights.

    Voters with weight zero are left out: they cannot move a quorum, so they do not
    vote at all.
    """

    epoch: int
    weights: Mapping[bytes, int]
    total: int = field(init=False)
    _order: tuple[bytes, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.epoch < 0:
            raise InvalidArgumentError("epoch", "epoch must be non-negative")
        clean = {k: w for k, w in self.weights.items() if w > 0}
        for key, weight in clean.items():
            if type(key) is not bytes or len(key) != 32 or type(weight) is not int:
                raise InvalidArgumentError("weights", "voting set maps 32-byte keys to int weights")
        ordered = tuple(sorted(clean))
        object.__setattr__(self, "weights", MappingProxyType({k: clean[k] for k in ordered}))
        object.__setattr__(self, "total", sum(clean.values()))
        object.__setattr__(self, "_order", ordered)

    @classmethod
    def of(cls, epoch: int, weights: Iterable[tuple[bytes, int]]) -> VotingSet:
        """Build from (key, weight) pairs."""
        return cls(epoch, dict(weights))

    def weight(self, key: bytes) -> int:
        """The weight of ``key`` (0 when it is not a voter)."""
        return self.weights.get(key, 0)

    def require_voter(self, key: bytes) -> int:
        """The weight of ``key``, or :class:`NotAVoterError`."""
        weight = self.weights.get(key, 0)
        if weight == 0:
            raise NotAVoterError(f"{key.hex()} is not a voter in epoch {self.epoch}")
        return weight

    def weight_of(self, keys: Iterable[bytes]) -> int:
        """Total weight of the distinct voters among ``keys``."""
        return sum(self.weights.get(k, 0) for k in set(keys))

    def has_quorum(self, keys: Iterable[bytes]) -> bool:
        """True when the distinct voters among ``keys`` carry >= 2/3 of the total weight."""
        return quorum_reached(self.weight_of(keys), self.total)

    @property
    def voters(self) -> tuple[bytes, ...]:
        """Voting keys in ascending byte order (the canonical order)."""
        return self._order

    def __contains__(self, key: object) -> bool:
        return key in self.weights

    def __len__(self) -> int:
        return len(self._order)

    def __reduce__(self) -> tuple[type[VotingSet], tuple[int, dict[bytes, int]]]:
        return (VotingSet, (self.epoch, dict(self.weights)))

    def __deepcopy__(self, memo: dict[int, object]) -> VotingSet:
        return self  # immutable

    def digest(self) -> bytes:
        """A commitment to (epoch, voters, weights): two nodes with equal digests agree."""
        w = Writer().u64(self.epoch).varint(len(self._order))
        for key in self._order:
            w.raw(key).u64(self.weights[key])
        return tagged_hash(Tag.REGISTRY, bytes(w))
