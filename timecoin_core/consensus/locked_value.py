"""The durable record of a BFT lock: the locked value's bytes and the polka behind it.

Theory of operation
-------------------
A node running :class:`~timecoin_core.consensus.bft.BlockEngine` *locks* on a value
when it sees a polka (prevotes for the value carrying >= 2/3 of the weight) in its
current round and precommits it (Algorithm 1, L36-41). The precommit itself is durable
(:class:`~timecoin_core.consensus.bft.BlockVoteSigned`), which restores the lock's
round and value *id* after a restart; that keeps the node safe, but not useful: as
the round's proposer it must re-propose the value it is locked on (it is its
``validValue``, L15-16) together with the polka that lets the others prevote it
(L28-29), and neither can be rebuilt from an id. :class:`LockedValue` is what is
recorded with the locking precommit, in the same durable write, so a restarted node
has everything it had: the value, its id, the round, and the polka's prevotes.

The encoding is canonical (``from_bytes(to_bytes(r)) == r``, anything else raises
:class:`~timecoin_core.errors.DecodeError`); integers are little-endian::

    LockedValue = height:u64 | round:u32 | value_id:32 | n:varint
                  | n x (voter:32 | signature:64)   (voters strictly ascending, n >= 1)
                  | value:varbytes

Each pair is a prevote for ``value_id`` at ``(height, round)``: the votes share
everything but voter and signature, so only those are stored (as in a
:class:`~timecoin_core.consensus.bft_messages.CommitCertificate`).
:meth:`LockedValue.prevotes` rebuilds them; their signatures are checked again by the
engine when it restores them, so a corrupted record cannot forge a polka.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..codec import Reader, Writer
from ..errors import InvalidArgumentError
from .bft_messages import (
    MAX_CERTIFICATE_PRECOMMITS,
    MAX_HEIGHT,
    MAX_ROUND,
    MAX_VALUE_SIZE,
    BlockVote,
    VoteKind,
    read_signed_pairs,
    write_signed_pairs,
)

__all__ = ["LockedValue"]

_KEY_SIZE = 32
_SIG_SIZE = 64
_ID_SIZE = 32


@dataclass(frozen=True, slots=True)
class LockedValue:
    """The value a node locked on at ``(height, round)``, with the polka that justified it.

    ``polka`` holds the ``(voter, signature)`` pairs of the prevotes for ``value_id``
    in ``round`` the node saw, voters strictly ascending (build one with :meth:`of`).
    Recorded by the shell with the precommit that locks it
    (``Store.record_signed_vote(vote, locked=...)``) and handed back to
    :meth:`~timecoin_core.consensus.bft.BlockEngine.start` after a restart.

    :raises InvalidArgumentError: a field out of range, an empty or unordered polka.
    """

    height: int
    round: int
    value_id: bytes
    value: bytes
    polka: tuple[tuple[bytes, bytes], ...]

    def __post_init__(self) -> None:
        if type(self.height) is not int or not 0 <= self.height <= MAX_HEIGHT:
            raise InvalidArgumentError("height", "height must be a u64")
        if type(self.round) is not int or not 0 <= self.round <= MAX_ROUND:
            raise InvalidArgumentError("round", "round must be a u32")
        if type(self.value_id) is not bytes or len(self.value_id) != _ID_SIZE:
            raise InvalidArgumentError("value_id", "value_id must be 32 bytes")
        if type(self.value) is not bytes or len(self.value) > MAX_VALUE_SIZE:
            raise InvalidArgumentError("value", f"value must be bytes of at most {MAX_VALUE_SIZE}")
        if type(self.polka) is not tuple or not 0 < len(self.polka) <= MAX_CERTIFICATE_PRECOMMITS:
            raise InvalidArgumentError("polka", f"a polka is a tuple of 1..{MAX_CERTIFICATE_PRECOMMITS} prevotes")
        previous = b""
        for pair in self.polka:
            if (
                type(pair) is not tuple
                or len(pair) != 2
                or type(pair[0]) is not bytes
                or len(pair[0]) != _KEY_SIZE
                or type(pair[1]) is not bytes
                or len(pair[1]) != _SIG_SIZE
            ):
                raise InvalidArgumentError("polka", "polka entries are (voter:32 bytes, signature:64 bytes)")
            if pair[0] <= previous:
                raise InvalidArgumentError("polka", "polka voters must be strictly ascending")
            previous = pair[0]

    @classmethod
    def of(cls, value: bytes, prevotes: Iterable[BlockVote]) -> LockedValue:
        """The record of ``value`` locked on by the polka ``prevotes`` (any order).

        :raises InvalidArgumentError: no prevotes, a vote that is not a prevote, votes
            of different heights, rounds or values, or a nil vote, or two votes of one voter.
        """
        votes = list(prevotes)
        if not votes:
            raise InvalidArgumentError("prevotes", "a polka has at least one prevote")
        if not all(isinstance(v, BlockVote) and v.kind is VoteKind.PREVOTE for v in votes):
            raise InvalidArgumentError("prevotes", "a polka is made of prevotes")
        first = votes[0]
        if first.value_id is None:
            raise InvalidArgumentError("prevotes", "a polka is for a value, not nil")
        if any((v.height, v.round, v.value_id) != (first.height, first.round, first.value_id) for v in votes):
            raise InvalidArgumentError("prevotes", "a polka's prevotes share height, round and value")
        votes.sort(key=lambda v: v.voter)  # the constructor refuses a voter listed twice
        return cls(first.height, first.round, first.value_id, value, tuple((v.voter, v.signature) for v in votes))

    @property
    def voters(self) -> tuple[bytes, ...]:
        """The keys whose prevotes form the polka, ascending."""
        return tuple(voter for voter, _ in self.polka)

    def prevotes(self) -> tuple[BlockVote, ...]:
        """The polka's prevotes, rebuilt (their signatures are not checked here)."""
        return tuple(
            BlockVote(VoteKind.PREVOTE, self.height, self.round, self.value_id, voter, signature)
            for voter, signature in self.polka
        )

    def to_bytes(self) -> bytes:
        """Canonical encoding (see the module docstring)."""
        w = write_signed_pairs(Writer().u64(self.height).u32(self.round).raw(self.value_id), self.polka)
        w.var_bytes(self.value)
        return bytes(w)

    @classmethod
    def from_bytes(cls, data: bytes, *, max_value_size: int = MAX_VALUE_SIZE) -> LockedValue:
        """Decode a canonical encoding; anything else raises :class:`~timecoin_core.errors.DecodeError`."""
        r = Reader(data)
        height = r.u64("height")
        round = r.u32("round")
        value_id = r.raw(_ID_SIZE, "value_id")
        pairs = read_signed_pairs(r, "polka")
        value = r.var_bytes(min(max_value_size, MAX_VALUE_SIZE), "value")
        r.end()
        return cls(height, round, value_id, value, pairs)
