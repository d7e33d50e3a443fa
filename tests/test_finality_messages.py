"""Vote batches, finality certificates and equivocation evidence: validity and encodings."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Sequence
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timecoin_core.consensus.finality_messages import (
    MAX_VOTE_BATCH_TXIDS,
    AcceptVote,
    CertificateEntry,
    ConflictingVotesEvidence,
    FinalityCertificate,
    VoteBatch,
    parse_tx_base,
    transaction_base,
    verify_certificates,
)
from timecoin_core.consensus.merkle_proof import MerkleProof, MerkleTree
from timecoin_core.consensus.voting import VotingSet
from timecoin_core.errors import DecodeError
from timecoin_core.hashing import Tag, tagged_hash
from timecoin_core.keys import PrivateKey
from timecoin_core.transaction import OutPoint, Transaction, TxIn, TxOut
from timecoin_core.verify import SignatureCheck, verify_one

CHAIN = 7
KEYS = [PrivateKey.from_seed(bytes([i + 1]) * 32) for i in range(8)]
PUB = [k.public_key.data for k in KEYS]


class Counter:
    """A check_signatures that counts calls and checks."""

    def __init__(self) -> None:
        self.calls = 0
        self.checks = 0

    def __call__(self, checks: Sequence[SignatureCheck]) -> list[bool]:
        self.calls += 1
        self.checks += len(checks)
        return [verify_one(c.public_key, c.message, c.signature) for c in checks]


def txid(i: int) -> bytes:
    return hashlib.sha256(b"tx" + i.to_bytes(4, "little")).digest()


def make_tx(*outpoints: OutPoint, memo: bytes = b"") -> Transaction:
    return Transaction([TxIn(o) for o in outpoints], [TxOut(1_000, bytes(20))], memo=memo)


def op(i: int, index: int = 0) -> OutPoint:
    return OutPoint(hashlib.sha256(b"prev" + i.to_bytes(4, "little")).digest(), index)


def weights_set(weights: Sequence[int], epoch: int = 1) -> VotingSet:
    return VotingSet.of(epoch, zip(PUB, weights, strict=False))


def certificate_from(
    batches: Sequence[VoteBatch], tx: bytes, epoch: int = 1
) -> FinalityCertificate:
    entries = sorted((CertificateEntry.from_batch(b, tx) for b in batches), key=lambda e: e.voter)
    return FinalityCertificate(tx, epoch, tuple(entries))


# -- vote batches ----------------------------------------------------------------------


def test_batch_signature_covers_epoch_and_root() -> None:
    txids = [txid(i) for i in range(10)]
    batch = VoteBatch.create(KEYS[0], CHAIN, 3, reversed(txids))
    assert batch.txids == tuple(sorted(txids))
    assert batch.root == MerkleTree(batch.txids).root
    check = batch.signature_check(CHAIN)
    assert verify_one(check.public_key, check.message, check.signature)
    # Another chain, epoch or root: another message.
    assert not verify_one(check.public_key, batch.signing_message(CHAIN + 1), batch.signature)
    other_epoch = VoteBatch(batch.voter, 4, batch.txids, batch.signature)
    assert not verify_one(batch.voter, other_epoch.signing_message(CHAIN), batch.signature)
    fewer = VoteBatch(batch.voter, 3, batch.txids[1:], batch.signature)
    assert not verify_one(batch.voter, fewer.signing_message(CHAIN), batch.signature)
    assert batch.index_of(txids[4]) == batch.txids.index(txids[4])
    assert batch.index_of(bytes(32)) is None


def test_batch_shape_rules() -> None:
    good = VoteBatch.create(KEYS[0], CHAIN, 1, [txid(1), txid(2)])
    with pytest.raises(ValueError):
        VoteBatch(good.voter, 1, (), good.signature)
    with pytest.raises(ValueError):
        VoteBatch(good.voter, 1, (good.txids[1], good.txids[0]), good.signature)
    with pytest.raises(ValueError):
        VoteBatch(good.voter, 1, (good.txids[0], good.txids[0]), good.signature)
    with pytest.raises(ValueError):
        VoteBatch(good.voter, -1, good.txids, good.signature)
    with pytest.raises(ValueError):
        VoteBatch(good.voter[:31], 1, good.txids, good.signature)
    with pytest.raises(ValueError):
        VoteBatch(good.voter, 1, good.txids, good.signature[:63])
    with pytest.raises(ValueError):
        VoteBatch.create(KEYS[0], CHAIN, 1, [])
    big = tuple(sorted(txid(i) for i in range(MAX_VOTE_BATCH_TXIDS + 1)))
    with pytest.raises(ValueError):
        VoteBatch(good.voter, 1, big, good.signature)


def test_batch_decoding_rejects_noncanonical_bytes() -> None:
    batch = VoteBatch.create(KEYS[0], CHAIN, 1, [txid(1), txid(2)])
    data = batch.to_bytes()
    assert VoteBatch.from_bytes(data) == batch
    with pytest.raises(DecodeError):
        VoteBatch.from_bytes(data + b"\x00")
    with pytest.raises(DecodeError):
        VoteBatch.from_bytes(data[:-1])
    swapped = data[:41] + batch.txids[1] + batch.txids[0] + batch.signature
    with pytest.raises(DecodeError):
        VoteBatch.from_bytes(swapped)
    empty = data[:40] + b"\x00" + batch.signature
    with pytest.raises(DecodeError):
        VoteBatch.from_bytes(empty)


# -- certificates ----------------------------------------------------------------------


@pytest.fixture
def four() -> tuple[VotingSet, list[VoteBatch], bytes]:
    """Four equal voters, each with a batch of 20 txids that includes the target."""
    vs = weights_set([1, 1, 1, 1])
    target = txid(5)
    batches = [
        VoteBatch.create(KEYS[v], CHAIN, 1, [txid(i + v) for i in range(20)]) for v in range(4)
    ]
    assert all(b.index_of(target) is not None for b in batches)
    return vs, batches, target


def test_certificate_verifies_in_one_signature_call(
    four: tuple[VotingSet, list[VoteBatch], bytes],
) -> None:
    vs, batches, target = four
    certificate = certificate_from(batches[:3], target)
    counter = Counter()
    assert certificate.verify(vs, CHAIN, counter)
    assert (counter.calls, counter.checks) == (1, 3)
    assert certificate.weight(vs) == 3
    assert FinalityCertificate.from_bytes(certificate.to_bytes()) == certificate
    assert certificate.digest() == tagged_hash(Tag.FINALITY_CERTIFICATE, certificate.to_bytes())


def test_certificate_false_cases(four: tuple[VotingSet, list[VoteBatch], bytes]) -> None:
    vs, batches, target = four
    good = certificate_from(batches[:3], target)
    counter = Counter()
    # Insufficient weight: 2 of 4 equal voters is 1/2 < 2/3.
    assert not certificate_from(batches[:2], target).verify(vs, CHAIN, counter)
    # Duplicated voter: the same entry twice does not add weight and breaks the order.
    e = good.entries
    assert not FinalityCertificate(target, 1, (e[0], e[0], e[1])).verify(vs, CHAIN, counter)
    # Entries out of order are not canonical.
    assert not FinalityCertificate(target, 1, (e[1], e[0], e[2])).verify(vs, CHAIN, counter)
    # A non-voter's entry.
    outsider = VoteBatch.create(KEYS[7], CHAIN, 1, [target])
    assert not certificate_from([*batches[:2], outsider], target).verify(vs, CHAIN, counter)
    # The wrong epoch's voting set (same voters, other epoch), or a certificate that
    # claims another epoch.
    assert not good.verify(weights_set([1, 1, 1, 1], epoch=2), CHAIN, counter)
    assert not replace(good, epoch=2).verify(weights_set([1, 1, 1, 1], epoch=2), CHAIN, counter)
    # Another chain.
    assert not good.verify(vs, CHAIN + 1, counter)
    # Tampered proof: a flipped sibling, or the proof of another leaf.
    proof = e[0].proof
    bad_sibling = MerkleProof(proof.index, proof.count, (bytes(32), *proof.siblings[1:]))
    tampered = (replace(e[0], proof=bad_sibling), e[1], e[2])
    assert not FinalityCertificate(target, 1, tampered).verify(vs, CHAIN, counter)
    other_leaf = MerkleTree(batches[0].txids).proof((proof.index + 1) % proof.count)
    assert not FinalityCertificate(target, 1, (replace(e[0], proof=other_leaf), e[1], e[2])).verify(
        vs, CHAIN, counter
    )
    # Another txid with the same entries.
    assert not replace(good, txid=txid(999)).verify(vs, CHAIN, counter)
    # A bad signature (checked last, after the cheap structural checks).
    bad_sig = bytes([e[1].signature[0] ^ 1]) + e[1].signature[1:]
    assert not FinalityCertificate(
        target, 1, (e[0], replace(e[1], signature=bad_sig), e[2])
    ).verify(vs, CHAIN, counter)
    # A signature from one batch with another batch's root.
    swapped = replace(e[1], root=e[2].root, proof=e[2].proof)
    assert not FinalityCertificate(target, 1, (e[0], swapped, e[2])).verify(vs, CHAIN, counter)
    assert good.verify(vs, CHAIN, counter)


def test_quorum_at_the_integer_boundary() -> None:
    # total 10: 2/3 is 6.67, so 7 is a quorum and 6 is not.
    vs = weights_set([4, 3, 2, 1])
    target = txid(1)
    batches = [VoteBatch.create(KEYS[v], CHAIN, 1, [target]) for v in range(4)]
    assert not certificate_from([batches[0], batches[2]], target).verify(vs, CHAIN, Counter())  # 6
    assert certificate_from([batches[0], batches[1]], target).verify(vs, CHAIN, Counter())  # 7
    assert certificate_from([batches[0], batches[2], batches[3]], target).verify(
        vs, CHAIN, Counter()
    )
    # total 9: exactly 2/3 (6) is a quorum; 5 is not.
    vs9 = weights_set([3, 3, 2, 1])
    assert certificate_from([batches[0], batches[1]], target).verify(vs9, CHAIN, Counter())  # 6
    assert not certificate_from([batches[0], batches[2]], target).verify(vs9, CHAIN, Counter())  # 5
    assert certificate_from([batches[1], batches[2], batches[3]], target).verify(
        vs9, CHAIN, Counter()
    )


def test_certificates_of_a_block_share_signature_checks() -> None:
    vs = weights_set([1, 1, 1, 1])
    txids = [txid(i) for i in range(500)]
    batches = [VoteBatch.create(KEYS[v], CHAIN, 1, txids) for v in range(4)]
    certificates = [certificate_from(batches[:3], t) for t in txids]
    counter = Counter()
    assert verify_certificates(certificates, {1: vs}, CHAIN, counter) == [True] * 500
    assert (counter.calls, counter.checks) == (1, 3)
    bad = replace(certificates[7], epoch=9)
    assert verify_certificates([certificates[0], bad], {1: vs}, CHAIN, counter) == [True, False]


def test_certificate_decoding_rejects_unordered_or_empty() -> None:
    batches = [VoteBatch.create(KEYS[v], CHAIN, 1, [txid(1)]) for v in range(3)]
    good = certificate_from(batches, txid(1))
    e = good.entries
    with pytest.raises(DecodeError):
        FinalityCertificate.from_bytes(
            FinalityCertificate(txid(1), 1, (e[1], e[0], e[2])).to_bytes()
        )
    with pytest.raises(DecodeError):
        FinalityCertificate.from_bytes(FinalityCertificate(txid(1), 1, (e[0], e[0])).to_bytes())
    with pytest.raises(DecodeError):
        FinalityCertificate.from_bytes(txid(1) + bytes(8) + b"\x00")
    with pytest.raises(DecodeError):
        FinalityCertificate.from_bytes(good.to_bytes() + b"\x00")
    with pytest.raises(ValueError):
        FinalityCertificate(txid(1), 1, ())


# -- evidence --------------------------------------------------------------------------


def equivocation() -> tuple[ConflictingVotesEvidence, Transaction, Transaction]:
    a = make_tx(op(1), op(2), memo=b"a")
    b = make_tx(op(2), op(3), memo=b"b")
    batch_a = VoteBatch.create(KEYS[3], CHAIN, 1, [a.txid, txid(10), txid(11)])
    batch_b = VoteBatch.create(KEYS[3], CHAIN, 2, [b.txid, txid(12)])
    evidence = ConflictingVotesEvidence.of(
        PUB[3], AcceptVote.from_batch(batch_b, b), AcceptVote.from_batch(batch_a, a)
    )
    return evidence, a, b


def test_evidence_verifies_from_its_own_bytes_and_names_the_offender() -> None:
    evidence, a, b = equivocation()
    decoded = ConflictingVotesEvidence.from_bytes(evidence.to_bytes())
    assert decoded == evidence
    assert decoded.offender == PUB[3]
    assert set(decoded.txids) == {a.txid, b.txid}
    assert decoded.outpoints == (op(2),)
    counter = Counter()
    assert decoded.verify(CHAIN, counter)
    assert (counter.calls, counter.checks) == (1, 2)
    assert decoded.digest() == tagged_hash(Tag.CONFLICTING_VOTES_EVIDENCE, decoded.to_bytes())
    assert not decoded.verify(CHAIN + 1, counter)


def test_evidence_false_cases() -> None:
    evidence, a, _b = equivocation()
    counter = Counter()
    # Someone else's key.
    assert not replace(evidence, offender=PUB[4]).verify(CHAIN, counter)
    # Two transactions that do not conflict.
    c = make_tx(op(9), memo=b"c")
    batch_c = VoteBatch.create(KEYS[3], CHAIN, 1, [c.txid])
    batch_a = VoteBatch.create(KEYS[3], CHAIN, 1, [a.txid])
    independent = ConflictingVotesEvidence.of(
        PUB[3], AcceptVote.from_batch(batch_a, a), AcceptVote.from_batch(batch_c, c)
    )
    assert not independent.verify(CHAIN, counter)
    # A tampered proof.
    first = evidence.first
    bad = MerkleProof(first.proof.index, first.proof.count, (bytes(32), *first.proof.siblings[1:]))
    if first.proof.siblings:
        assert not replace(evidence, first=replace(first, proof=bad)).verify(CHAIN, counter)
    # A signature of another batch.
    other = VoteBatch.create(KEYS[3], CHAIN, 1, [txid(50)])
    assert not replace(evidence, first=replace(first, signature=other.signature)).verify(
        CHAIN, counter
    )


def test_one_batch_voting_for_both_sides_is_evidence_too() -> None:
    a = make_tx(op(1), memo=b"a")
    b = make_tx(op(1), memo=b"b")
    batch = VoteBatch.create(KEYS[2], CHAIN, 1, [a.txid, b.txid])
    evidence = ConflictingVotesEvidence.of(
        PUB[2], AcceptVote.from_batch(batch, a), AcceptVote.from_batch(batch, b)
    )
    counter = Counter()
    assert evidence.verify(CHAIN, counter)
    assert counter.checks == 1  # the same signed message once


def test_evidence_shape_rules() -> None:
    evidence, a, _ = equivocation()
    with pytest.raises(ValueError):
        ConflictingVotesEvidence(PUB[3], evidence.second, evidence.first)
    with pytest.raises(ValueError):
        ConflictingVotesEvidence(PUB[3], evidence.first, evidence.first)
    data = bytearray(evidence.to_bytes())
    with pytest.raises(DecodeError):
        ConflictingVotesEvidence.from_bytes(bytes(data) + b"\x00")
    swapped = ConflictingVotesEvidence.__new__(ConflictingVotesEvidence)
    object.__setattr__(swapped, "offender", PUB[3])
    object.__setattr__(swapped, "first", evidence.second)
    object.__setattr__(swapped, "second", evidence.first)
    with pytest.raises(DecodeError):
        ConflictingVotesEvidence.from_bytes(swapped.to_bytes())
    assert parse_tx_base(transaction_base(a)) == (a.txid, (op(1), op(2)))
    with pytest.raises(DecodeError):
        parse_tx_base(transaction_base(a) + b"\x00")
    with pytest.raises(DecodeError):
        parse_tx_base(a.to_bytes())  # witnesses are not part of the base
    with pytest.raises(DecodeError):
        replace(evidence.first, tx_base=b"\x01\x00")


# -- property tests --------------------------------------------------------------------

hashes32 = st.binary(min_size=32, max_size=32)
signatures = st.binary(min_size=64, max_size=64)
epochs = st.integers(0, 2**64 - 1)


@st.composite
def batches(draw: st.DrawFn) -> VoteBatch:
    txids = draw(st.lists(hashes32, min_size=1, max_size=40, unique=True))
    return VoteBatch(draw(hashes32), draw(epochs), tuple(sorted(txids)), draw(signatures))


@st.composite
def proofs(draw: st.DrawFn) -> MerkleProof:
    count = draw(st.integers(1, MAX_VOTE_BATCH_TXIDS))
    index = draw(st.integers(0, count - 1))
    from timecoin_core.consensus.merkle_proof import proof_length

    siblings = draw(
        st.lists(hashes32, min_size=proof_length(index, count), max_size=proof_length(index, count))
    )
    return MerkleProof(index, count, siblings)


@st.composite
def certificates(draw: st.DrawFn) -> FinalityCertificate:
    voters = sorted(draw(st.lists(hashes32, min_size=1, max_size=6, unique=True)))
    entries = tuple(
        CertificateEntry(v, draw(hashes32), draw(proofs()), draw(signatures)) for v in voters
    )
    return FinalityCertificate(draw(hashes32), draw(epochs), entries)


@st.composite
def transactions(draw: st.DrawFn) -> Transaction:
    outpoints = draw(
        st.lists(st.builds(OutPoint, hashes32, st.integers(0, 2**32 - 1)), min_size=1, max_size=4)
    )
    memo = draw(st.binary(max_size=8))
    return make_tx(*outpoints, memo=memo)


@st.composite
def evidences(draw: st.DrawFn) -> ConflictingVotesEvidence:
    a, b = draw(transactions()), draw(transactions())
    if a.txid == b.txid:
        b = make_tx(*(i.outpoint for i in b.inputs), memo=b.memo + b"!")
    votes = [
        AcceptVote(
            draw(epochs), draw(hashes32), draw(proofs()), draw(signatures), transaction_base(t)
        )
        for t in (a, b)
    ]
    return ConflictingVotesEvidence.of(draw(hashes32), votes[0], votes[1])


@given(batches())
def test_batch_round_trip(batch: VoteBatch) -> None:
    assert VoteBatch.from_bytes(batch.to_bytes()) == batch


@given(certificates())
def test_certificate_round_trip(certificate: FinalityCertificate) -> None:
    decoded = FinalityCertificate.from_bytes(certificate.to_bytes())
    assert decoded == certificate
    assert decoded.digest() == certificate.digest()


@settings(max_examples=50)
@given(evidences())
def test_evidence_round_trip(evidence: ConflictingVotesEvidence) -> None:
    decoded = ConflictingVotesEvidence.from_bytes(evidence.to_bytes())
    assert decoded == evidence
    assert decoded.digest() == evidence.digest()


@given(st.binary(max_size=400))
def test_random_bytes_only_raise_decode_error(data: bytes) -> None:
    for decode in (
        VoteBatch.from_bytes,
        FinalityCertificate.from_bytes,
        ConflictingVotesEvidence.from_bytes,
    ):
        with contextlib.suppress(DecodeError):
            decode(data)


@given(batches(), st.data())
def test_mutated_encodings_only_raise_decode_error(batch: VoteBatch, data: st.DataObject) -> None:
    encoded = bytearray(batch.to_bytes())
    position = data.draw(st.integers(0, len(encoded) - 1))
    encoded[position] ^= data.draw(st.integers(1, 255))
    cut = data.draw(st.integers(0, len(encoded)))
    for candidate in (bytes(encoded), bytes(encoded[:cut])):
        with contextlib.suppress(DecodeError):
            VoteBatch.from_bytes(candidate)


def _real_encodings() -> list[tuple[object, bytes]]:
    vs_batches = [
        VoteBatch.create(KEYS[v], CHAIN, 1, [txid(i + v) for i in range(9)]) for v in range(3)
    ]
    certificate = certificate_from(vs_batches, txid(4))
    evidence, _, _ = equivocation()
    return [
        (VoteBatch.from_bytes, vs_batches[0].to_bytes()),
        (FinalityCertificate.from_bytes, certificate.to_bytes()),
        (ConflictingVotesEvidence.from_bytes, evidence.to_bytes()),
    ]


REAL = _real_encodings()


@given(st.sampled_from(range(len(REAL))), st.data())
def test_mutated_real_encodings_only_raise_decode_error(which: int, data: st.DataObject) -> None:
    decode, encoded = REAL[which]
    assert callable(decode)
    mutated = bytearray(encoded)
    for _ in range(data.draw(st.integers(1, 3))):
        position = data.draw(st.integers(0, len(mutated) - 1))
        mutated[position] ^= data.draw(st.integers(1, 255))
    cut = data.draw(st.integers(0, len(encoded)))
    for candidate in (
        bytes(mutated),
        encoded[:cut],
        encoded + data.draw(st.binary(min_size=1, max_size=4)),
    ):
        with contextlib.suppress(DecodeError):
            decode(candidate)


def test_size_maxima_are_exact() -> None:
    from timecoin_core.consensus.finality_messages import (
        MAX_CERTIFICATE_ENTRIES,
        MAX_CERTIFICATE_SIZE,
        MAX_VOTE_BATCH_SIZE,
    )
    from timecoin_core.consensus.merkle_proof import proof_length

    txids = tuple(sorted(txid(i) for i in range(MAX_VOTE_BATCH_TXIDS)))
    assert len(VoteBatch(PUB[0], 2**64 - 1, txids, bytes(64)).to_bytes()) == MAX_VOTE_BATCH_SIZE
    index = MAX_VOTE_BATCH_TXIDS - 1
    proof = MerkleProof(
        index, MAX_VOTE_BATCH_TXIDS, [bytes(32)] * proof_length(index, MAX_VOTE_BATCH_TXIDS)
    )
    entries = tuple(
        CertificateEntry(i.to_bytes(32, "big"), bytes(32), proof, bytes(64))
        for i in range(MAX_CERTIFICATE_ENTRIES)
    )
    assert len(FinalityCertificate(bytes(32), 0, entries).to_bytes()) == MAX_CERTIFICATE_SIZE


def test_a_decoded_batch_hashes_nothing_until_its_root_is_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    # A non-voter's 131 KB batch used to cost a whole Merkle tree before the 2 us
    # membership check; decoding must not hash the txids.
    key = PrivateKey.from_seed(b"\x31" * 32)
    batch = VoteBatch.create(key, 3, 0, [bytes([i]) * 32 for i in range(1, 200)])
    data, root = batch.to_bytes(), batch.root
    built: list[int] = []
    class Counting(MerkleTree):
        def __init__(self, leaves: Sequence[bytes]) -> None:
            built.append(1)
            super().__init__(leaves)

    monkeypatch.setattr("timecoin_core.consensus.finality_messages.MerkleTree", Counting)
    decoded = VoteBatch.from_bytes(data)
    assert (decoded.voter, decoded.epoch) == (batch.voter, batch.epoch) and built == []
    assert decoded.root == root and built == [1]
    decoded.entry(5)
    assert built == [1]  # built once, kept
