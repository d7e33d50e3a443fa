"""Block-commit messages: canonical encodings, signatures, certificates and evidence."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timecoin_core.codec import encode_varint
from timecoin_core.consensus.bft_messages import (
    MAX_CERTIFICATE_PRECOMMITS,
    PRECOMMIT_KIND,
    PREVOTE_KIND,
    PROPOSAL_KIND,
    BlockVote,
    Commit,
    CommitCertificate,
    DoubleVoteEvidence,
    Proposal,
    VoteKind,
)
from timecoin_core.consensus.sansio import signing_message
from timecoin_core.consensus.voting import VotingSet
from timecoin_core.errors import DecodeError
from timecoin_core.hashing import Tag, sha256, tagged_hash
from timecoin_core.keys import PrivateKey
from timecoin_core.verify import SignatureCheck, SyncVerifier

CHAIN = 11
KEYS = [PrivateKey.from_seed(sha256(b"bft-msg-%d" % i)) for i in range(5)]
PUB = [k.public_key.data for k in KEYS]
VERIFIER = SyncVerifier()

u32 = st.integers(0, 2**32 - 1)
u64 = st.integers(0, 2**64 - 1)
h32 = st.binary(min_size=32, max_size=32)
sig64 = st.binary(min_size=64, max_size=64)
kinds = st.sampled_from(VoteKind)


@st.composite
def proposals(draw: st.DrawFn) -> Proposal:
    round = draw(st.integers(0, 2**32 - 1))
    pol = draw(st.integers(-1, min(round - 1, 2**31)))
    return Proposal(
        draw(u64), round, pol, draw(h32), draw(st.binary(max_size=200)), draw(h32), draw(sig64)
    )


votes = st.builds(BlockVote, kinds, u64, u32, st.none() | h32, h32, sig64)


@st.composite
def certificates(draw: st.DrawFn) -> CommitCertificate:
    voters = sorted(draw(st.sets(h32, min_size=1, max_size=6)))
    pairs = tuple((v, draw(sig64)) for v in voters)
    return CommitCertificate(draw(u64), draw(u32), draw(h32), pairs)


commits = st.builds(Commit, st.binary(max_size=200), certificates())


@st.composite
def evidences(draw: st.DrawFn) -> DoubleVoteEvidence:
    a = draw(votes)
    other = draw((st.none() | h32).filter(lambda v: v != a.value_id))
    b = BlockVote(a.kind, a.height, a.round, other, a.voter, draw(sig64))
    return DoubleVoteEvidence.of(a, b)


CODECS: list[tuple[str, st.SearchStrategy[object], Callable[[bytes], object]]] = [
    ("proposal", proposals(), Proposal.from_bytes),
    ("vote", votes, BlockVote.from_bytes),
    ("certificate", certificates(), CommitCertificate.from_bytes),
    ("commit", commits, Commit.from_bytes),
    ("evidence", evidences(), DoubleVoteEvidence.from_bytes),
]


@pytest.mark.parametrize(("name", "strategy", "decode"), CODECS, ids=[c[0] for c in CODECS])
def test_round_trip_is_identity(
    name: str, strategy: st.SearchStrategy[object], decode: Callable[[bytes], object]
) -> None:
    @given(strategy)
    @settings(max_examples=150)
    def check(message: object) -> None:
        data = message.to_bytes()  # type: ignore[attr-defined]
        again = decode(data)
        assert again == message
        assert again.to_bytes() == data  # type: ignore[attr-defined]
        # Every proper prefix and every extension is rejected (no trailing bytes).
        with pytest.raises(DecodeError):
            decode(data[:-1])
        with pytest.raises(DecodeError):
            decode(data + b"\x00")

    check()


@pytest.mark.parametrize(("name", "strategy", "decode"), CODECS, ids=[c[0] for c in CODECS])
def test_random_bytes_raise_only_decode_error(
    name: str, strategy: st.SearchStrategy[object], decode: Callable[[bytes], object]
) -> None:
    @given(st.binary(max_size=400))
    @settings(max_examples=300)
    def check(data: bytes) -> None:
        try:
            message = decode(data)
        except DecodeError:
            return
        assert message.to_bytes() == data  # type: ignore[attr-defined]

    check()


@pytest.mark.parametrize(("name", "strategy", "decode"), CODECS, ids=[c[0] for c in CODECS])
def test_mutated_encodings_raise_only_decode_error(
    name: str, strategy: st.SearchStrategy[object], decode: Callable[[bytes], object]
) -> None:
    @given(strategy, st.integers(0, 10_000), st.integers(0, 255))
    @settings(max_examples=150)
    def check(message: object, position: int, byte: int) -> None:
        data = bytearray(message.to_bytes())  # type: ignore[attr-defined]
        data[position % len(data)] = byte
        try:
            again = decode(bytes(data))
        except DecodeError:
            return
        assert again.to_bytes() == bytes(data)  # type: ignore[attr-defined]

    check()


# -- specific non-canonical encodings ----------------------------------------------------


def test_proposal_pol_round_must_precede_round() -> None:
    p = Proposal.create(KEYS[0], CHAIN, 5, 3, 2, b"\x01" * 32, b"v")
    data = bytearray(p.to_bytes())
    data[12:16] = (4).to_bytes(4, "little")  # pol_round + 1 = 4, i.e. pol_round = round
    with pytest.raises(DecodeError, match="pol_round"):
        Proposal.from_bytes(bytes(data))
    with pytest.raises(ValueError):
        Proposal(5, 3, 3, b"\x01" * 32, b"v", PUB[0], bytes(64))
    with pytest.raises(ValueError):
        Proposal(5, 0, -2, b"\x01" * 32, b"v", PUB[0], bytes(64))


def test_proposal_value_size_is_bounded_when_decoding() -> None:
    p = Proposal.create(KEYS[0], CHAIN, 1, 0, -1, b"\x01" * 32, b"x" * 100)
    assert Proposal.from_bytes(p.to_bytes(), max_value_size=100) == p
    with pytest.raises(DecodeError, match="exceeds maximum"):
        Proposal.from_bytes(p.to_bytes(), max_value_size=99)


def test_vote_rejects_unknown_kind_and_flag() -> None:
    vote = BlockVote.create(KEYS[0], CHAIN, VoteKind.PREVOTE, 1, 0, None)
    data = bytearray(vote.to_bytes())
    data[0] = 3
    with pytest.raises(DecodeError, match="vote kind"):
        BlockVote.from_bytes(bytes(data))
    data = bytearray(vote.to_bytes())
    data[13] = 2
    with pytest.raises(DecodeError, match="flag"):
        BlockVote.from_bytes(bytes(data))


def test_certificate_must_be_non_empty_sorted_and_distinct() -> None:
    head = (1).to_bytes(8, "little") + (0).to_bytes(4, "little") + b"\x07" * 32
    entry_a = PUB[0] + bytes(64)
    entry_b = PUB[1] + bytes(64)
    low, high = sorted([entry_a, entry_b])
    assert CommitCertificate.from_bytes(head + encode_varint(2) + low + high).voters == tuple(
        sorted(PUB[:2])
    )
    with pytest.raises(DecodeError, match="at least one"):
        CommitCertificate.from_bytes(head + encode_varint(0))
    with pytest.raises(DecodeError, match="ascending"):
        CommitCertificate.from_bytes(head + encode_varint(2) + high + low)
    with pytest.raises(DecodeError, match="ascending"):
        CommitCertificate.from_bytes(head + encode_varint(2) + low + low)
    with pytest.raises(DecodeError, match="exceeds maximum"):
        CommitCertificate.from_bytes(head + encode_varint(MAX_CERTIFICATE_PRECOMMITS + 1))
    with pytest.raises(ValueError):
        CommitCertificate(1, 0, b"\x07" * 32, ())
    with pytest.raises(ValueError):
        CommitCertificate(1, 0, b"\x07" * 32, ((PUB[1], bytes(64)), (PUB[1], bytes(64))))


def test_evidence_must_be_in_canonical_order_and_conflicting() -> None:
    a = BlockVote.create(KEYS[0], CHAIN, VoteKind.PRECOMMIT, 4, 2, None)
    b = BlockVote.create(KEYS[0], CHAIN, VoteKind.PRECOMMIT, 4, 2, b"\x09" * 32)
    assert DoubleVoteEvidence.of(b, a) == DoubleVoteEvidence.of(a, b) == DoubleVoteEvidence(a, b)
    with pytest.raises(DecodeError):
        DoubleVoteEvidence.from_bytes(b.to_bytes() + a.to_bytes())
    with pytest.raises(ValueError):
        DoubleVoteEvidence(b, a)
    with pytest.raises(ValueError):
        DoubleVoteEvidence(a, a)
    for other in (
        BlockVote.create(KEYS[1], CHAIN, VoteKind.PRECOMMIT, 4, 2, b"\x09" * 32),  # another voter
        BlockVote.create(KEYS[0], CHAIN, VoteKind.PREVOTE, 4, 2, b"\x09" * 32),  # another kind
        BlockVote.create(KEYS[0], CHAIN, VoteKind.PRECOMMIT, 4, 3, b"\x09" * 32),  # another round
        BlockVote.create(KEYS[0], CHAIN, VoteKind.PRECOMMIT, 5, 2, b"\x09" * 32),  # another height
    ):
        with pytest.raises(ValueError):
            DoubleVoteEvidence.of(a, other)


# -- signatures ------------------------------------------------------------------------------


def test_signatures_cover_the_documented_messages() -> None:
    vid = b"\x05" * 32
    p = Proposal.create(KEYS[0], CHAIN, 7, 2, 1, vid, b"block")
    payload = p.to_bytes()[: -(32 + 64)]
    assert p.signing_message(CHAIN) == signing_message(CHAIN, PROPOSAL_KIND, payload)
    assert KEYS[0].public_key.verify(p.signing_message(CHAIN), p.signature)
    for kind, tag in ((VoteKind.PREVOTE, PREVOTE_KIND), (VoteKind.PRECOMMIT, PRECOMMIT_KIND)):
        v = BlockVote.create(KEYS[1], CHAIN, kind, 7, 2, vid)
        assert v.signing_message(CHAIN) == signing_message(CHAIN, tag, v.to_bytes()[1 : -(32 + 64)])
        assert KEYS[1].public_key.verify(v.signing_message(CHAIN), v.signature)


def test_signatures_do_not_transfer_between_kinds_chains_or_values() -> None:
    vid = b"\x05" * 32
    prevote = BlockVote.create(KEYS[1], CHAIN, VoteKind.PREVOTE, 7, 2, vid)
    as_precommit = BlockVote(VoteKind.PRECOMMIT, 7, 2, vid, PUB[1], prevote.signature)
    as_nil = BlockVote(VoteKind.PREVOTE, 7, 2, None, PUB[1], prevote.signature)
    checks = [
        prevote.signature_check(CHAIN),
        as_precommit.signature_check(CHAIN),
        as_nil.signature_check(CHAIN),
        prevote.signature_check(CHAIN + 1),
    ]
    assert VERIFIER.verify_many(checks) == [True, False, False, False]
    p = Proposal.create(KEYS[0], CHAIN, 7, 2, -1, vid, b"block")
    swapped = Proposal(7, 2, -1, vid, b"other", PUB[0], p.signature)  # a relay swaps the value
    assert VERIFIER.verify_many([p.signature_check(CHAIN), swapped.signature_check(CHAIN)]) == [
        True,
        False,
    ]


# -- certificates and evidence ----------------------------------------------------------------


class Counting:
    def __init__(self) -> None:
        self.batches: list[int] = []

    def __call__(self, checks: Sequence[SignatureCheck]) -> list[bool]:
        self.batches.append(len(checks))
        return VERIFIER.verify_many(checks)


def precommits(
    voters: Sequence[int], vid: bytes = b"\x05" * 32, height: int = 3, round: int = 1
) -> list[BlockVote]:
    return [
        BlockVote.create(KEYS[i], CHAIN, VoteKind.PRECOMMIT, height, round, vid) for i in voters
    ]


def test_certificate_verifies_with_a_weighted_quorum_in_one_batch() -> None:
    vs = VotingSet.of(0, [(PUB[0], 4), (PUB[1], 1), (PUB[2], 1), (PUB[3], 3)])  # total 9, quorum 6
    counting = Counting()
    assert CommitCertificate.from_votes(precommits([0, 1, 2])).verify(vs, CHAIN, counting)  # 6
    assert counting.batches == [3]
    assert not CommitCertificate.from_votes(precommits([0, 1])).verify(vs, CHAIN, counting)  # 5
    assert counting.batches == [3]  # too little weight: no signature is even checked
    assert not CommitCertificate.from_votes(precommits([0, 1, 4])).verify(
        vs, CHAIN, counting
    )  # non-voter
    assert not CommitCertificate.from_votes(precommits([0, 1, 2])).verify(vs, CHAIN + 1, counting)
    cert = CommitCertificate.from_votes(precommits([0, 1, 2]))
    pairs = (*cert.precommits[:2], (cert.precommits[2][0], bytes(64)))
    bad = CommitCertificate(cert.height, cert.round, cert.value_id, pairs)
    assert not bad.verify(vs, CHAIN, counting)


def test_certificate_from_votes_checks_they_agree() -> None:
    with pytest.raises(ValueError):
        CommitCertificate.from_votes([])
    with pytest.raises(ValueError):
        CommitCertificate.from_votes(precommits([0]) + precommits([1], vid=b"\x06" * 32))
    with pytest.raises(ValueError):
        CommitCertificate.from_votes(precommits([0], round=1) + precommits([1], round=2))
    with pytest.raises(ValueError):  # a nil precommit
        CommitCertificate.from_votes(
            [BlockVote.create(KEYS[0], CHAIN, VoteKind.PRECOMMIT, 3, 1, None)]
        )
    with pytest.raises(ValueError):
        CommitCertificate.from_votes(
            [BlockVote.create(KEYS[0], CHAIN, VoteKind.PREVOTE, 3, 1, b"\x05" * 32)]
        )


def test_digests_are_tagged_hashes_of_the_encoding() -> None:
    cert = CommitCertificate.from_votes(precommits([2, 0, 1]))
    assert cert.voters == tuple(sorted(PUB[:3]))
    assert cert.digest == tagged_hash(Tag.COMMIT_CERTIFICATE, cert.to_bytes())
    a, b = precommits([0]) + precommits([0], vid=b"\x06" * 32)
    evidence = DoubleVoteEvidence.of(a, b)
    assert evidence.digest == tagged_hash(Tag.DOUBLE_VOTE_EVIDENCE, evidence.to_bytes())
    assert evidence.offender == PUB[0] and evidence.height == 3
    assert evidence.verify(CHAIN, VERIFIER.verify_many)
    forged = DoubleVoteEvidence.of(
        a, BlockVote(b.kind, b.height, b.round, b.value_id, b.voter, bytes(64))
    )
    assert not forged.verify(CHAIN, VERIFIER.verify_many)
    commit = Commit(b"value", cert)
    assert commit.height == 3 and Commit.from_bytes(commit.to_bytes()) == commit
