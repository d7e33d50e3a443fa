"""The message registry: every message round-trips through its type id, caps are exact and
pinned, and nothing but a valid canonical encoding decodes.

Strategies for every message type live here; the other wire tests import them.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from timecoin_core.codec import encode_varint
from timecoin_core.consensus.bft_messages import (
    MAX_CERTIFICATE_PRECOMMITS,
    MAX_VALUE_SIZE,
    BlockVote,
    Commit,
    CommitCertificate,
    DoubleVoteEvidence,
    Proposal,
    VoteKind,
)
from timecoin_core.consensus.finality_messages import (
    AcceptVote,
    CertificateEntry,
    ConflictingVotesEvidence,
    FinalityCertificate,
    VoteBatch,
    transaction_base,
)
from timecoin_core.consensus.merkle_proof import MerkleProof, proof_length
from timecoin_core.transaction import OutPoint, Transaction, TxIn, TxOut
from timecoin_core.wire import (
    MAX_ADDR_ENTRIES,
    MAX_BLOCK_VOTE_SIZE,
    MAX_COMMIT_SIZE,
    MAX_DOUBLE_VOTE_EVIDENCE_SIZE,
    MAX_FRAME_PAYLOAD,
    MAX_INV_ITEMS,
    MAX_PROPOSAL_SIZE,
    MESSAGE_SPECS,
    Addr,
    Blame,
    Blocks,
    ErrorCode,
    FinalEntry,
    Finals,
    GetAddr,
    GetBlocks,
    GetData,
    GetFinals,
    GetStatus,
    Goodbye,
    Hello,
    Inv,
    InvItem,
    InvKind,
    Message,
    MessageType,
    NotFound,
    PeerAddress,
    Ping,
    Pong,
    ProtocolError,
    Status,
    decode_message,
    encode_message,
)
from timecoin_core.wire.testing import sample_messages

u16 = st.integers(0, 2**16 - 1)
u32 = st.integers(0, 2**32 - 1)
u64 = st.integers(0, 2**64 - 1)
h32 = st.binary(min_size=32, max_size=32)
sig64 = st.binary(min_size=64, max_size=64)
text = st.text(max_size=40)


@st.composite
def transactions(draw: st.DrawFn) -> Transaction:
    inputs = draw(
        st.lists(st.builds(TxIn, st.builds(OutPoint, h32, u32), h32, sig64), min_size=1, max_size=3)
    )
    outputs = draw(st.lists(st.builds(TxOut, st.integers(0, 10**12), st.binary(min_size=20, max_size=20)), min_size=1, max_size=3))
    return Transaction(inputs, outputs, draw(u32), draw(st.binary(max_size=10)))


@st.composite
def proofs(draw: st.DrawFn) -> MerkleProof:
    count = draw(st.integers(1, 64))
    index = draw(st.integers(0, count - 1))
    n = proof_length(index, count)
    return MerkleProof(index, count, draw(st.lists(h32, min_size=n, max_size=n)))


@st.composite
def vote_batches(draw: st.DrawFn) -> VoteBatch:
    txids = sorted(draw(st.sets(h32, min_size=1, max_size=8)))
    return VoteBatch(draw(h32), draw(u64), tuple(txids), draw(sig64))


@st.composite
def finality_certificates(draw: st.DrawFn, txid: bytes | None = None) -> FinalityCertificate:
    voters = sorted(draw(st.sets(h32, min_size=1, max_size=4)))
    entries = tuple(CertificateEntry(v, draw(h32), draw(proofs()), draw(sig64)) for v in voters)
    return FinalityCertificate(txid if txid is not None else draw(h32), draw(u64), entries)


@st.composite
def conflicting(draw: st.DrawFn) -> ConflictingVotesEvidence:
    a = draw(transactions())
    b = draw(transactions().filter(lambda t: t.txid != a.txid))
    votes = [AcceptVote(draw(u64), draw(h32), draw(proofs()), draw(sig64), transaction_base(t)) for t in (a, b)]
    return ConflictingVotesEvidence.of(draw(h32), votes[0], votes[1])


@st.composite
def proposals(draw: st.DrawFn) -> Proposal:
    round_ = draw(u32)
    pol = draw(st.integers(-1, round_ - 1))
    return Proposal(draw(u64), round_, pol, draw(h32), draw(st.binary(max_size=300)), draw(h32), draw(sig64))


block_votes = st.builds(BlockVote, st.sampled_from(VoteKind), u64, u32, st.none() | h32, h32, sig64)


@st.composite
def commit_certificates(draw: st.DrawFn, height: int | None = None) -> CommitCertificate:
    voters = sorted(draw(st.sets(h32, min_size=1, max_size=4)))
    return CommitCertificate(
        draw(u64) if height is None else height, draw(u32), draw(h32), tuple((v, draw(sig64)) for v in voters)
    )


commits = st.builds(Commit, st.binary(max_size=300), commit_certificates())


@st.composite
def double_votes(draw: st.DrawFn) -> DoubleVoteEvidence:
    a = draw(block_votes)
    other = draw((st.none() | h32).filter(lambda v: v != a.value_id))
    return DoubleVoteEvidence.of(a, BlockVote(a.kind, a.height, a.round, other, a.voter, draw(sig64)))


hellos = st.builds(
    Hello, u32, u32, h32, u64, u64, h32, st.text(max_size=60), u16, h32, sig64
)
addresses = st.builds(PeerAddress, st.binary(min_size=16, max_size=16), u16, u64, u64)
inv_items = st.builds(InvItem, st.sampled_from(InvKind), h32)
inv_lists = st.lists(inv_items, min_size=1, max_size=20).map(tuple)


@st.composite
def blocks_pages(draw: st.DrawFn) -> Blocks:
    start = draw(st.integers(0, 2**64 - 10))
    n = draw(st.integers(0, 3))
    return Blocks(
        start, tuple(Commit(draw(st.binary(max_size=100)), draw(commit_certificates(start + i))) for i in range(n))
    )


@st.composite
def finals_pages(draw: st.DrawFn) -> Finals:
    entries = []
    for _ in range(draw(st.integers(0, 2))):
        tx = draw(transactions())
        entries.append(FinalEntry(tx, draw(finality_certificates(tx.txid))))
    return Finals(draw(u64), tuple(entries))


STRATEGIES: dict[MessageType, st.SearchStrategy[Message]] = {
    MessageType.HELLO: hellos,
    MessageType.PING: st.builds(Ping, u64),
    MessageType.PONG: st.builds(Pong, u64),
    MessageType.GET_ADDR: st.just(GetAddr()),
    MessageType.ADDR: st.lists(addresses, max_size=20).map(lambda a: Addr(tuple(a))),
    MessageType.INV: inv_lists.map(Inv),
    MessageType.GET_DATA: inv_lists.map(GetData),
    MessageType.NOT_FOUND: inv_lists.map(NotFound),
    MessageType.GET_STATUS: st.just(GetStatus()),
    MessageType.STATUS: st.builds(Status, u64, h32, u64, u64),
    MessageType.GET_BLOCKS: st.builds(GetBlocks, u64, st.integers(1, 64), st.integers(1, 2**32 - 1)),
    MessageType.BLOCKS: blocks_pages(),
    MessageType.GET_FINALS: st.builds(GetFinals, u64, st.integers(1, 256)),
    MessageType.FINALS: finals_pages(),
    MessageType.GOODBYE: st.builds(Goodbye, u16, st.text(max_size=12)),
    MessageType.TX: transactions(),
    MessageType.VOTE_BATCH: vote_batches(),
    MessageType.FINALITY_CERTIFICATE: finality_certificates(),
    MessageType.CONFLICTING_VOTES_EVIDENCE: conflicting(),
    MessageType.PROPOSAL: proposals(),
    MessageType.BLOCK_VOTE: block_votes,
    MessageType.COMMIT: commits,
    MessageType.DOUBLE_VOTE_EVIDENCE: double_votes(),
}

messages = st.one_of(*STRATEGIES.values())


def test_every_type_has_a_strategy_a_sample_and_a_row() -> None:
    assert set(STRATEGIES) == set(MessageType) == set(MESSAGE_SPECS) == set(sample_messages())


@pytest.mark.parametrize("type_", list(MessageType), ids=lambda t: t.name)
def test_round_trip(type_: MessageType) -> None:
    @given(STRATEGIES[type_])
    @settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    def check(message: Message) -> None:
        type_id, payload = encode_message(message)
        assert type_id is type_
        again = decode_message(type_id, payload)
        assert again == message
        assert encode_message(again) == (type_id, payload)
        # No proper prefix and no extension decodes (canonical, no trailing bytes).
        for bad in (payload[:-1], payload + b"\x00"):
            if bad == payload:
                continue
            with pytest.raises(ProtocolError) as info:
                decode_message(type_id, bad)
            assert info.value.blame is Blame.PEER

    check()


def test_frame_cap_is_the_largest_type_cap_and_pinned() -> None:
    assert max(spec.cap for spec in MESSAGE_SPECS.values()) == MAX_FRAME_PAYLOAD
    assert MESSAGE_SPECS[MessageType.BLOCKS].cap == MAX_FRAME_PAYLOAD
    # Pinned: a change to any core ceiling shows up here, never silently.
    assert MAX_COMMIT_SIZE == 9_961_524
    assert MAX_FRAME_PAYLOAD == 9_961_538
    assert MAX_PROPOSAL_SIZE == 8_388_757
    # A page can always carry one commit of the largest size.
    assert 8 + 1 + len(encode_varint(MAX_COMMIT_SIZE)) + MAX_COMMIT_SIZE <= MAX_FRAME_PAYLOAD


def test_computed_maxima_are_exact() -> None:
    vote = BlockVote(VoteKind.PREVOTE, 2**64 - 1, 2**32 - 1, b"\x01" * 32, b"\x02" * 32, b"\x03" * 64)
    assert len(vote.to_bytes()) == MAX_BLOCK_VOTE_SIZE
    nil = BlockVote(VoteKind.PREVOTE, 2**64 - 1, 2**32 - 1, None, b"\x02" * 32, b"\x03" * 64)
    assert len(DoubleVoteEvidence.of(nil, vote).to_bytes()) <= MAX_DOUBLE_VOTE_EVIDENCE_SIZE
    assert len(DoubleVoteEvidence.of(vote, BlockVote(vote.kind, vote.height, vote.round, b"\x04" * 32, vote.voter, vote.signature)).to_bytes()) == MAX_DOUBLE_VOTE_EVIDENCE_SIZE
    value = bytes(MAX_VALUE_SIZE)
    proposal = Proposal(1, 1, 0, b"\x01" * 32, value, b"\x02" * 32, b"\x03" * 64)
    assert len(proposal.to_bytes()) == MAX_PROPOSAL_SIZE
    pairs = tuple((i.to_bytes(32, "big"), bytes(64)) for i in range(1, MAX_CERTIFICATE_PRECOMMITS + 1))
    commit = Commit(value, CommitCertificate(1, 1, b"\x01" * 32, pairs))
    encoded = commit.to_bytes()
    assert len(encoded) == MAX_COMMIT_SIZE
    assert decode_message(MessageType.COMMIT, encoded) == commit
    page = Blocks(1, (commit,))
    assert decode_message(*encode_message(page)) == page


def test_largest_addr_and_inventory_fit_their_caps() -> None:
    addr = Addr(tuple(PeerAddress(bytes(16), 1, 2**64 - 1, 2**64 - 1) for _ in range(MAX_ADDR_ENTRIES)))
    assert len(addr.to_bytes()) <= MESSAGE_SPECS[MessageType.ADDR].cap
    inv = Inv(tuple(InvItem(InvKind.TX, bytes(32)) for _ in range(MAX_INV_ITEMS)))
    assert len(inv.to_bytes()) <= MESSAGE_SPECS[MessageType.INV].cap
    hello = Hello(2**32 - 1, 2**32 - 1, bytes(32), 2**64 - 1, 2**64 - 1, bytes(32), "x" * 256, 65535, bytes(32), bytes(64))
    assert len(hello.to_bytes()) <= MESSAGE_SPECS[MessageType.HELLO].cap
    goodbye = Goodbye(65535, "x" * 48)
    assert len(goodbye.to_bytes()) <= MESSAGE_SPECS[MessageType.GOODBYE].cap
    with pytest.raises(ValueError):
        Addr(addr.entries + addr.entries[:1])
    with pytest.raises(ValueError):
        Inv(())


def test_over_cap_payload_is_refused_before_decoding() -> None:
    with pytest.raises(ProtocolError) as info:
        decode_message(MessageType.PING, bytes(17))
    assert info.value.code is ErrorCode.OVERSIZED_MESSAGE
    assert info.value.discourage


def test_unknown_type_and_local_misuse() -> None:
    with pytest.raises(ProtocolError) as info:
        decode_message(0x7777, b"")
    assert info.value.code is ErrorCode.UNKNOWN_MESSAGE_TYPE and info.value.blame is Blame.PEER
    with pytest.raises(ProtocolError) as info:
        encode_message(b"not a message")  # type: ignore[arg-type]
    assert info.value.code is ErrorCode.NOT_A_MESSAGE and info.value.blame is Blame.LOCAL
    assert not info.value.discourage
    big = Proposal(1, 1, 0, b"\x01" * 32, bytes(MAX_VALUE_SIZE + 1), b"\x02" * 32, b"\x03" * 64)
    with pytest.raises(ProtocolError) as info:
        encode_message(big)
    assert info.value.code is ErrorCode.MESSAGE_TOO_LARGE and info.value.blame is Blame.LOCAL


def test_protocol_error_is_a_timecoin_value_error_and_pickles() -> None:
    import pickle

    from timecoin_core.errors import TimecoinError

    error = ProtocolError(ErrorCode.BAD_HEADER, "x")
    assert isinstance(error, TimecoinError) and isinstance(error, ValueError)
    again = pickle.loads(pickle.dumps(error))
    assert (again.code, again.detail, again.blame) == (error.code, error.detail, error.blame)


def test_structural_rules_of_new_messages() -> None:
    samples = sample_messages()
    tx = samples[MessageType.TX]
    finals = samples[MessageType.FINALS]
    assert isinstance(tx, Transaction) and isinstance(finals, Finals)
    wrong = FinalityCertificate(b"\x00" * 32, 1, finals.entries[0].certificate.entries)
    with pytest.raises(ValueError):
        FinalEntry(tx, wrong)
    # A certificate for another transaction inside a page is malformed on the wire too.
    payload = bytearray(encode_message(finals)[1])
    cert = finals.entries[0].certificate.to_bytes()
    at = bytes(payload).index(cert)
    payload[at] ^= 1
    with pytest.raises(ProtocolError) as info:
        decode_message(MessageType.FINALS, bytes(payload))
    assert info.value.code is ErrorCode.MALFORMED_MESSAGE
    blocks = samples[MessageType.BLOCKS]
    assert isinstance(blocks, Blocks)
    with pytest.raises(ValueError):
        Blocks(blocks.start + 1, blocks.commits)
    with pytest.raises(ProtocolError):
        decode_message(MessageType.BLOCKS, (blocks.start + 1).to_bytes(8, "little") + encode_message(blocks)[1][8:])
    for bad in (b"\x00" * 8 + b"\x00\x00" + b"\x01\x00\x00\x00", b"\x00" * 8 + b"\x41\x00" + b"\x01\x00\x00\x00", b"\x00" * 8 + b"\x01\x00" + b"\x00" * 4):
        with pytest.raises(ProtocolError):
            decode_message(MessageType.GET_BLOCKS, bad)
    with pytest.raises(ProtocolError):
        decode_message(MessageType.INV, b"\x01\x09" + bytes(32))
    with pytest.raises(ProtocolError):
        decode_message(MessageType.INV, b"\x00")
    with pytest.raises(ProtocolError):
        decode_message(MessageType.GOODBYE, b"\x01\x00\x02\xff\xfe")
    assert PeerAddress.of("192.0.2.1", 1).ip.compressed == "192.0.2.1"
    assert str(PeerAddress.of("2001:db8::1", 1).ip) == "2001:db8::1"


@given(st.sampled_from(list(MessageType)), st.binary(max_size=300))
@settings(max_examples=400)
def test_random_bytes_raise_only_protocol_error(type_: MessageType, data: bytes) -> None:
    try:
        message = decode_message(type_, data)
    except ProtocolError as exc:
        assert exc.blame is Blame.PEER
    else:
        assert encode_message(message) == (type_, data)


@pytest.mark.parametrize("type_", list(MessageType), ids=lambda t: t.name)
def test_mutated_real_encodings_raise_only_protocol_error(type_: MessageType) -> None:
    payload = encode_message(sample_messages()[type_])[1]
    rng = random.Random(int(type_))
    for _ in range(300):
        data = bytearray(payload)
        for _ in range(rng.randint(1, 4)):
            op = rng.randrange(4)
            if op == 0 and data:
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
            elif op == 1 and data:
                del data[rng.randrange(len(data)) :]
            elif op == 2:
                data.insert(rng.randrange(len(data) + 1), rng.randrange(256))
            elif data:
                data[rng.randrange(len(data))] = rng.choice((0, 0xFD, 0xFE, 0xFF))
        try:
            message = decode_message(type_, bytes(data))
        except ProtocolError:
            continue
        assert encode_message(message) == (type_, bytes(data))
