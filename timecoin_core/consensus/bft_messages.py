"""Wire messages of the block-commit engine: proposals, votes, commits and evidence.

Every message has one canonical encoding (the rules of :mod:`timecoin_core.codec`):
``from_bytes(to_bytes(m)) == m`` and every other input raises
:class:`~timecoin_core.errors.DecodeError`. Integers are little-endian::

    Proposal          = height:u64 | round:u32 | pol_round+1:u32 | value_id:32
                        | value:varbytes | proposer:32 | signature:64
    BlockVote         = kind:u8 | height:u64 | round:u32 | flag:u8 [| value_id:32]
                        | voter:32 | signature:64            (flag 0 = nil, 1 = value)
    CommitCertificate = height:u64 | round:u32 | value_id:32 | n:varint
                        | n x (voter:32 | signature:64)       (voters strictly ascending)
    Commit            = CommitCertificate | value:varbytes
    DoubleVoteEvidence = BlockVote | BlockVote                 (canonical order, see below)

Signatures are :func:`timecoin_core.consensus.sansio.sign` over the encoding's signed
prefix (everything before the signer's key) with a kind per message type
(:data:`PROPOSAL_KIND`, :data:`PREVOTE_KIND`, :data:`PRECOMMIT_KIND`), so a prevote can
never pass for a precommit, nor a block vote for a finality vote, nor a vote of one
chain for another. A proposal's signature covers the value itself, not only its id: a
relay cannot swap in another value under the proposer's signature.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from ..codec import Reader, Writer, varint_size
from ..errors import DecodeError, InvalidArgumentError
from ..hashing import Tag, tagged_hash
from ..keys import PrivateKey
from ..verify import SignatureCheck
from .sansio import CheckSignatures, sign, signing_message
from .voting import VotingSet

__all__ = [
    "MAX_BLOCK_VOTE_SIZE",
    "MAX_CERTIFICATE_PRECOMMITS",
    "MAX_COMMIT_SIZE",
    "MAX_DOUBLE_VOTE_EVIDENCE_SIZE",
    "MAX_HEIGHT",
    "MAX_PROPOSAL_SIZE",
    "MAX_ROUND",
    "MAX_VALUE_SIZE",
    "PRECOMMIT_KIND",
    "PREVOTE_KIND",
    "PROPOSAL_KIND",
    "BlockVote",
    "Commit",
    "CommitCertificate",
    "DoubleVoteEvidence",
    "Proposal",
    "VoteKind",
]

MAX_HEIGHT: Final = 2**64 - 1
"""Heights are u64."""

MAX_ROUND: Final = 2**32 - 1
"""Rounds are u32."""

MAX_VALUE_SIZE: Final = 8 * 1024 * 1024
"""Default ceiling on a proposed value's size when decoding (a block is at most 4 MB)."""

MAX_CERTIFICATE_PRECOMMITS: Final = 16_384
"""Most precommits a certificate may carry (one per voter)."""

MAX_PROPOSAL_SIZE: Final = 8 + 4 + 4 + 32 + varint_size(MAX_VALUE_SIZE) + MAX_VALUE_SIZE + 32 + 64
"""Largest encoded :class:`Proposal` (its value at most :data:`MAX_VALUE_SIZE`)."""

MAX_COMMIT_SIZE: Final = (
    8 + 4 + 32 + varint_size(MAX_CERTIFICATE_PRECOMMITS) + MAX_CERTIFICATE_PRECOMMITS * (32 + 64)
    + varint_size(MAX_VALUE_SIZE) + MAX_VALUE_SIZE
)
"""Largest encoded :class:`Commit`: a certificate of every precommit and the largest value."""

MAX_BLOCK_VOTE_SIZE: Final = 1 + 8 + 4 + 1 + 32 + 32 + 64
"""Largest encoded :class:`BlockVote` (a vote for a value, not nil)."""

MAX_DOUBLE_VOTE_EVIDENCE_SIZE: Final = 2 * MAX_BLOCK_VOTE_SIZE
"""Largest encoded :class:`DoubleVoteEvidence`."""

PROPOSAL_KIND: Final = b"block-proposal"
"""Signing kind of :class:`Proposal`."""

PREVOTE_KIND: Final = b"block-prevote"
"""Signing kind of a prevote."""

PRECOMMIT_KIND: Final = b"block-precommit"
"""Signing kind of a precommit (also what every signature in a certificate covers)."""

_KEY_SIZE: Final = 32
_SIG_SIZE: Final = 64
_ID_SIZE: Final = 32


class VoteKind(IntEnum):
    """The two voting steps of a round; the value is the wire byte."""

    PREVOTE = 1
    PRECOMMIT = 2

    @property
    def signing_kind(self) -> bytes:
        """The ``kind`` string signatures of this vote kind are made under."""
        return PREVOTE_KIND if self is VoteKind.PREVOTE else PRECOMMIT_KIND


def _check_uint(value: int, maximum: int, name: str) -> None:
    if type(value) is not int or not 0 <= value <= maximum:
        raise InvalidArgumentError(name, f"{name} must be an int in 0..{maximum}")


def _check_bytes(value: bytes, size: int, name: str) -> None:
    if type(value) is not bytes or len(value) != size:
        raise InvalidArgumentError(name, f"{name} must be {size} bytes")


def _vote_payload(height: int, round: int, value_id: bytes | None) -> bytes:
    w = Writer().u64(height).u32(round)
    if value_id is None:
        w.u8(0)
    else:
        w.u8(1).raw(value_id)
    return bytes(w)


def _value_key(value_id: bytes | None) -> bytes:
    """Sort key of a vote's value: nil before every id, ids bytewise."""
    return b"" if value_id is None else b"\x01" + value_id


@dataclass(frozen=True, slots=True)
class Proposal:
    """A proposer's signed proposal of ``value`` (identified by ``value_id``) for a round.

    ``pol_round`` is the proposer's *valid round* (Algorithm 1, line 19): -1 for a fresh
    value, otherwise an earlier round of the same height in which the value gathered
    a polka (>= 2/3 of the weight prevoted for it). ``-1 <= pol_round < round``.
    """

    height: int
    round: int
    pol_round: int
    value_id: bytes
    value: bytes
    proposer: bytes
    signature: bytes

    def __post_init__(self) -> None:
        _check_uint(self.height, MAX_HEIGHT, "height")
        _check_uint(self.round, MAX_ROUND, "round")
        if type(self.pol_round) is not int or not -1 <= self.pol_round < self.round:
            raise InvalidArgumentError("pol_round", "pol_round must be -1 or an earlier round")
        _check_bytes(self.value_id, _ID_SIZE, "value_id")
        if type(self.value) is not bytes:
            raise InvalidArgumentError("value", "value must be bytes")
        _check_bytes(self.proposer, _KEY_SIZE, "proposer")
        _check_bytes(self.signature, _SIG_SIZE, "signature")

    @staticmethod
    def _payload(height: int, round: int, pol_round: int, value_id: bytes, value: bytes) -> bytes:
        w = Writer().u64(height).u32(round).u32(pol_round + 1).raw(value_id).var_bytes(value)
        return bytes(w)

    @classmethod
    def create(
        cls,
        key: PrivateKey,
        chain_id: int,
        height: int,
        round: int,
        pol_round: int,
        value_id: bytes,
        value: bytes,
    ) -> Proposal:
        """A proposal signed by ``key`` for network ``chain_id``."""
        _check_uint(height, MAX_HEIGHT, "height")
        _check_uint(round, MAX_ROUND, "round")
        if type(pol_round) is not int or not -1 <= pol_round < round:
            raise InvalidArgumentError("pol_round", "pol_round must be -1 or an earlier round")
        _check_bytes(value_id, _ID_SIZE, "value_id")
        payload = cls._payload(height, round, pol_round, value_id, value)
        signature = sign(key, chain_id, PROPOSAL_KIND, payload)
        return cls(height, round, pol_round, value_id, value, key.public_key.data, signature)

    def signing_message(self, chain_id: int) -> bytes:
        """The 32-byte message :attr:`signature` must sign."""
        payload = self._payload(self.height, self.round, self.pol_round, self.value_id, self.value)
        return signing_message(chain_id, PROPOSAL_KIND, payload)

    def signature_check(self, chain_id: int) -> SignatureCheck:
        """The check that proves :attr:`proposer` signed this proposal."""
        return SignatureCheck(self.proposer, self.signing_message(chain_id), self.signature)

    def to_bytes(self) -> bytes:
        """Canonical encoding."""
        payload = self._payload(self.height, self.round, self.pol_round, self.value_id, self.value)
        return payload + self.proposer + self.signature

    @classmethod
    def from_bytes(cls, data: bytes, *, max_value_size: int = MAX_VALUE_SIZE) -> Proposal:
        """Decode a canonical encoding; anything else raises :class:`DecodeError`."""
        r = Reader(data)
        height = r.u64("height")
        round = r.u32("round")
        pol = r.u32("pol_round") - 1
        if pol >= round:
            raise DecodeError("pol_round must be earlier than round", r.pos - 4)
        value_id = r.raw(_ID_SIZE, "value_id")
        value = r.var_bytes(max_value_size, "value")
        proposer = r.raw(_KEY_SIZE, "proposer")
        signature = r.raw(_SIG_SIZE, "signature")
        r.end()
        return cls(height, round, pol, value_id, value, proposer, signature)


@dataclass(frozen=True, slots=True)
class BlockVote:
    """A signed prevote or precommit for ``value_id`` (``None`` is a vote for nil)."""

    kind: VoteKind
    height: int
    round: int
    value_id: bytes | None
    voter: bytes
    signature: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.kind, VoteKind):
            raise InvalidArgumentError("kind", "kind must be a VoteKind")
        _check_uint(self.height, MAX_HEIGHT, "height")
        _check_uint(self.round, MAX_ROUND, "round")
        if self.value_id is not None:
            _check_bytes(self.value_id, _ID_SIZE, "value_id")
        _check_bytes(self.voter, _KEY_SIZE, "voter")
        _check_bytes(self.signature, _SIG_SIZE, "signature")

    @classmethod
    def create(
        cls,
        key: PrivateKey,
        chain_id: int,
        kind: VoteKind,
        height: int,
        round: int,
        value_id: bytes | None,
    ) -> BlockVote:
        """A vote signed by ``key`` for network ``chain_id``."""
        kind = VoteKind(kind)
        _check_uint(height, MAX_HEIGHT, "height")
        _check_uint(round, MAX_ROUND, "round")
        if value_id is not None:
            _check_bytes(value_id, _ID_SIZE, "value_id")
        signature = sign(key, chain_id, kind.signing_kind, _vote_payload(height, round, value_id))
        return cls(kind, height, round, value_id, key.public_key.data, signature)

    @property
    def is_nil(self) -> bool:
        """True for a vote for nil."""
        return self.value_id is None

    def signing_message(self, chain_id: int) -> bytes:
        """The 32-byte message :attr:`signature` must sign."""
        payload = _vote_payload(self.height, self.round, self.value_id)
        return signing_message(chain_id, self.kind.signing_kind, payload)

    def signature_check(self, chain_id: int) -> SignatureCheck:
        """The check that proves :attr:`voter` cast this vote."""
        return SignatureCheck(self.voter, self.signing_message(chain_id), self.signature)

    def _write(self, w: Writer) -> None:
        w.u8(self.kind).raw(_vote_payload(self.height, self.round, self.value_id))
        w.raw(self.voter).raw(self.signature)

    @classmethod
    def _read(cls, r: Reader) -> BlockVote:
        start = r.pos
        kind_byte = r.u8("vote kind")
        if kind_byte not in (VoteKind.PREVOTE, VoteKind.PRECOMMIT):
            raise DecodeError(f"unknown vote kind {kind_byte}", start)
        height = r.u64("height")
        round = r.u32("round")
        flag_pos = r.pos
        flag = r.u8("value flag")
        if flag == 0:
            value_id: bytes | None = None
        elif flag == 1:
            value_id = r.raw(_ID_SIZE, "value_id")
        else:
            raise DecodeError(f"value flag must be 0 or 1, not {flag}", flag_pos)
        voter = r.raw(_KEY_SIZE, "voter")
        signature = r.raw(_SIG_SIZE, "signature")
        return cls(VoteKind(kind_byte), height, round, value_id, voter, signature)

    def to_bytes(self) -> bytes:
        """Canonical encoding."""
        w = Writer()
        self._write(w)
        return bytes(w)

    @classmethod
    def from_bytes(cls, data: bytes) -> BlockVote:
        """Decode a canonical encoding; anything else raises :class:`DecodeError`."""
        r = Reader(data)
        vote = cls._read(r)
        r.end()
        return vote


def write_signed_pairs(w: Writer, pairs: Sequence[tuple[bytes, bytes]]) -> Writer:
    """``count:varint | count x (voter:32 | signature:64)``: the votes of a certificate or a polka."""
    w.varint(len(pairs))
    for voter, signature in pairs:
        w.raw(voter).raw(signature)
    return w


def read_signed_pairs(r: Reader, what: str) -> tuple[tuple[bytes, bytes], ...]:
    """What :func:`write_signed_pairs` wrote: at least one pair, voters strictly ascending
    (so distinct, and the encoding canonical); :class:`DecodeError` naming ``what`` otherwise."""
    count_pos = r.pos
    count = r.varint(MAX_CERTIFICATE_PRECOMMITS, f"{what} size")
    if count == 0:
        raise DecodeError(f"a {what} needs at least one vote", count_pos)
    pairs = []
    previous = b""
    for _ in range(count):
        pos = r.pos
        voter = r.raw(_KEY_SIZE, "voter")
        signature = r.raw(_SIG_SIZE, "signature")
        if voter <= previous:
            raise DecodeError(f"{what} voters must be strictly ascending", pos)
        previous = voter
        pairs.append((voter, signature))
    return tuple(pairs)


@dataclass(frozen=True, slots=True)
class CommitCertificate:
    """Precommits for ``value_id`` in one round carrying >= 2/3 of the voting weight.

    ``precommits`` holds ``(voter, signature)`` pairs with voters strictly ascending
    (one canonical form per set of signatures; use :meth:`from_votes` to build one).
    Each signature is a :data:`PRECOMMIT_KIND` signature of ``(height, round,
    value_id)``. Different honest nodes may hold different certificates for the same
    decision (different subsets of precommits); all of them verify.
    """

    height: int
    round: int
    value_id: bytes
    precommits: tuple[tuple[bytes, bytes], ...]

    def __post_init__(self) -> None:
        _check_uint(self.height, MAX_HEIGHT, "height")
        _check_uint(self.round, MAX_ROUND, "round")
        _check_bytes(self.value_id, _ID_SIZE, "value_id")
        if (
            type(self.precommits) is not tuple
            or not 0 < len(self.precommits) <= MAX_CERTIFICATE_PRECOMMITS
        ):
            raise InvalidArgumentError("precommits", f"a certificate holds 1..{MAX_CERTIFICATE_PRECOMMITS} precommits")
        previous = b""
        for entry in self.precommits:
            if type(entry) is not tuple or len(entry) != 2:
                raise InvalidArgumentError("precommits", "precommits are (voter, signature) pairs")
            voter, signature = entry
            _check_bytes(voter, _KEY_SIZE, "voter")
            _check_bytes(signature, _SIG_SIZE, "signature")
            if voter <= previous:
                raise InvalidArgumentError("precommits", "certificate voters must be strictly ascending")
            previous = voter

    @classmethod
    def from_votes(cls, votes: Iterable[BlockVote]) -> CommitCertificate:
        """The certificate made of ``votes``: non-nil precommits of one (height, round, value)."""
        votes = list(votes)
        if not votes:
            raise InvalidArgumentError("votes", "a certificate needs at least one precommit")
        first = votes[0]
        for vote in votes:
            if (
                vote.kind is not VoteKind.PRECOMMIT
                or vote.value_id is None
                or (vote.height, vote.round, vote.value_id)
                != (first.height, first.round, first.value_id)
            ):
                raise InvalidArgumentError(
                    "votes", "certificate votes must be precommits for one height, round and value"
                )
        assert first.value_id is not None
        pairs = tuple(sorted((v.voter, v.signature) for v in votes))
        return cls(first.height, first.round, first.value_id, pairs)

    @property
    def voters(self) -> tuple[bytes, ...]:
        """The voters whose precommits the certificate carries, ascending."""
        return tuple(voter for voter, _ in self.precommits)

    def signature_checks(self, chain_id: int) -> list[SignatureCheck]:
        """One check per precommit (all over the same message)."""
        message = signing_message(
            chain_id, PRECOMMIT_KIND, _vote_payload(self.height, self.round, self.value_id)
        )
        return [SignatureCheck(voter, message, signature) for voter, signature in self.precommits]

    def verify(
        self, voting_set: VotingSet, chain_id: int, check_signatures: CheckSignatures
    ) -> bool:
        """True when every signer is a voter of ``voting_set``, they carry a quorum and
        every signature is valid (checked in one batch, only if the weights suffice).

        ``voting_set`` must be the one of :attr:`height`; the certificate cannot say
        which epoch it belongs to.
        """
        voters = self.voters
        if any(voter not in voting_set for voter in voters) or not voting_set.has_quorum(voters):
            return False
        return all(check_signatures(self.signature_checks(chain_id)))

    def _write(self, w: Writer) -> None:
        write_signed_pairs(w.u64(self.height).u32(self.round).raw(self.value_id), self.precommits)

    @classmethod
    def _read(cls, r: Reader) -> CommitCertificate:
        height = r.u64("height")
        round = r.u32("round")
        value_id = r.raw(_ID_SIZE, "value_id")
        return cls(height, round, value_id, read_signed_pairs(r, "certificate"))

    def to_bytes(self) -> bytes:
        """Canonical encoding."""
        w = Writer()
        self._write(w)
        return bytes(w)

    @classmethod
    def from_bytes(cls, data: bytes) -> CommitCertificate:
        """Decode a canonical encoding; anything else raises :class:`DecodeError`."""
        r = Reader(data)
        certificate = cls._read(r)
        r.end()
        return certificate

    @property
    def digest(self) -> bytes:
        """``tagged_hash(COMMIT_CERTIFICATE, to_bytes())``: what a block commits to."""
        return tagged_hash(Tag.COMMIT_CERTIFICATE, self.to_bytes())


@dataclass(frozen=True, slots=True)
class Commit:
    """A decided value with its certificate: lets a node that missed the round decide.

    The engine broadcasts one when it decides, and again (rate-limited) when it hears a
    node still working on that height. A receiver decides only after it verified the
    certificate against the height's voting set and validated the value.
    """

    value: bytes
    certificate: CommitCertificate

    def __post_init__(self) -> None:
        if type(self.value) is not bytes:
            raise InvalidArgumentError("value", "value must be bytes")
        if not isinstance(self.certificate, CommitCertificate):
            raise InvalidArgumentError("certificate", "certificate must be a CommitCertificate")

    @property
    def height(self) -> int:
        """The height the certificate decides."""
        return self.certificate.height

    def to_bytes(self) -> bytes:
        """Canonical encoding."""
        w = Writer()
        self.certificate._write(w)
        w.var_bytes(self.value)
        return bytes(w)

    @classmethod
    def from_bytes(cls, data: bytes, *, max_value_size: int = MAX_VALUE_SIZE) -> Commit:
        """Decode a canonical encoding; anything else raises :class:`DecodeError`."""
        r = Reader(data)
        certificate = CommitCertificate._read(r)
        value = r.var_bytes(max_value_size, "value")
        r.end()
        return cls(value, certificate)


@dataclass(frozen=True, slots=True)
class DoubleVoteEvidence:
    """Proof that ``offender`` signed two different votes of one (kind, height, round).

    Self-verifying: the two votes and their signatures are all it takes (plus the
    height's voting set, to know the offender was a voter). The pair is stored in
    canonical order, ``vote_a``'s value before ``vote_b``'s (nil first, then ids
    bytewise), so one equivocation has one encoding and one :attr:`digest` whichever
    order a node saw the votes in; :meth:`of` puts any two votes in that order.
    """

    vote_a: BlockVote
    vote_b: BlockVote

    def __post_init__(self) -> None:
        a, b = self.vote_a, self.vote_b
        if not isinstance(a, BlockVote) or not isinstance(b, BlockVote):
            raise InvalidArgumentError("vote_a" if not isinstance(a, BlockVote) else "vote_b", "evidence is made of two BlockVotes")
        if (a.kind, a.height, a.round, a.voter) != (b.kind, b.height, b.round, b.voter):
            raise InvalidArgumentError("vote_b", "evidence votes must share voter, kind, height and round")
        if not _value_key(a.value_id) < _value_key(b.value_id):
            raise InvalidArgumentError("vote_b", "evidence votes must differ and be in canonical order")

    @classmethod
    def of(cls, first: BlockVote, second: BlockVote) -> DoubleVoteEvidence:
        """Evidence from two conflicting votes given in any order."""
        if _value_key(second.value_id) < _value_key(first.value_id):
            first, second = second, first
        return cls(first, second)

    @property
    def offender(self) -> bytes:
        """The voting key that equivocated."""
        return self.vote_a.voter

    @property
    def height(self) -> int:
        """The height of the two votes."""
        return self.vote_a.height

    def verify(self, chain_id: int, check_signatures: CheckSignatures) -> bool:
        """True when both signatures are valid (one batch of two checks).

        Whether :attr:`offender` was a voter at :attr:`height` is for the caller to
        check against that height's voting set.
        """
        checks = [self.vote_a.signature_check(chain_id), self.vote_b.signature_check(chain_id)]
        return all(check_signatures(checks))

    def to_bytes(self) -> bytes:
        """Canonical encoding."""
        w = Writer()
        self.vote_a._write(w)
        self.vote_b._write(w)
        return bytes(w)

    @classmethod
    def from_bytes(cls, data: bytes) -> DoubleVoteEvidence:
        """Decode a canonical encoding; anything else raises :class:`DecodeError`."""
        r = Reader(data)
        a = BlockVote._read(r)
        pos = r.pos
        b = BlockVote._read(r)
        r.end()
        try:
            return cls(a, b)
        except ValueError as exc:
            raise DecodeError(str(exc), pos) from None

    @property
    def digest(self) -> bytes:
        """``tagged_hash(DOUBLE_VOTE_EVIDENCE, to_bytes())``: what a block commits to."""
        return tagged_hash(Tag.DOUBLE_VOTE_EVIDENCE, self.to_bytes())
