"""LockedValue: the durable record of a BFT lock (value and polka), and its canonical encoding."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timecoin_core.codec import encode_varint
from timecoin_core.consensus import BlockVote, LockedValue, VoteKind
from timecoin_core.consensus.bft import BlockVoteSigned
from timecoin_core.errors import DecodeError, InvalidArgumentError
from timecoin_core.hashing import sha256
from timecoin_core.keys import PrivateKey
from timecoin_core.verify import SyncVerifier

CHAIN = 5
KEYS = [PrivateKey.from_seed(sha256(b"locked-value-%d" % i)) for i in range(4)]
VID = sha256(b"value")

u32 = st.integers(0, 2**32 - 1)
u64 = st.integers(0, 2**64 - 1)
h32 = st.binary(min_size=32, max_size=32)
sig64 = st.binary(min_size=64, max_size=64)


@st.composite
def locked_values(draw: st.DrawFn) -> LockedValue:
    voters = sorted(draw(st.sets(h32, min_size=1, max_size=6)))
    polka = tuple((v, draw(sig64)) for v in voters)
    return LockedValue(draw(u64), draw(u32), draw(h32), draw(st.binary(max_size=300)), polka)


def _prevotes(round: int = 2, height: int = 7, value_id: bytes = VID) -> list[BlockVote]:
    return [BlockVote.create(k, CHAIN, VoteKind.PREVOTE, height, round, value_id) for k in KEYS[:3]]


@given(locked_values())
def test_round_trip(record: LockedValue) -> None:
    assert LockedValue.from_bytes(record.to_bytes()) == record


@given(st.binary(max_size=400))
@settings(max_examples=300)
def test_random_bytes_raise_only_decode_error(data: bytes) -> None:
    try:
        record = LockedValue.from_bytes(data)
    except DecodeError:
        return
    assert record.to_bytes() == data


@given(locked_values(), st.integers(0, 10_000), st.integers(0, 255))
@settings(max_examples=200)
def test_mutated_encodings_raise_only_decode_error(record: LockedValue, position: int, byte: int) -> None:
    data = bytearray(record.to_bytes())
    data[position % len(data)] = byte
    try:
        again = LockedValue.from_bytes(bytes(data))
    except DecodeError:
        return
    assert again.to_bytes() == bytes(data)


def test_non_canonical_forms_are_refused() -> None:
    record = LockedValue.of(b"block", _prevotes())
    data = record.to_bytes()
    with pytest.raises(DecodeError):
        LockedValue.from_bytes(data + b"\x00")  # trailing bytes
    with pytest.raises(DecodeError):
        LockedValue.from_bytes(data[:-1])  # truncated
    head = data[: 8 + 4 + 32]
    pairs = data[8 + 4 + 32 + 1 : 8 + 4 + 32 + 1 + 3 * 96]
    tail = data[8 + 4 + 32 + 1 + 3 * 96 :]
    with pytest.raises(DecodeError):  # voters out of order
        LockedValue.from_bytes(head + encode_varint(3) + pairs[96:192] + pairs[:96] + pairs[192:] + tail)
    with pytest.raises(DecodeError):  # an empty polka
        LockedValue.from_bytes(head + encode_varint(0) + tail)
    with pytest.raises(DecodeError):  # a value larger than the caller allows
        LockedValue.from_bytes(data, max_value_size=2)


def test_of_sorts_the_polka_and_prevotes_rebuild_verifiable_votes() -> None:
    votes = _prevotes()
    record = LockedValue.of(b"block", reversed(votes))
    assert record.voters == tuple(sorted(v.voter for v in votes))
    assert (record.height, record.round, record.value_id, record.value) == (7, 2, VID, b"block")
    assert sorted(record.prevotes(), key=lambda v: v.voter) == sorted(votes, key=lambda v: v.voter)
    assert all(SyncVerifier().verify_many([v.signature_check(CHAIN) for v in record.prevotes()]))


@pytest.mark.parametrize(
    "prevotes",
    [
        [],  # no polka
        [BlockVote.create(KEYS[0], CHAIN, VoteKind.PRECOMMIT, 7, 2, VID)],  # not a prevote
        [BlockVote.create(KEYS[0], CHAIN, VoteKind.PREVOTE, 7, 2, None)],  # nil
        [*_prevotes()[:2], _prevotes(round=3)[2]],  # mixed rounds
        [*_prevotes()[:2], _prevotes(height=8)[2]],  # mixed heights
        [*_prevotes()[:2], _prevotes(value_id=sha256(b"other"))[2]],  # mixed values
        [*_prevotes(), _prevotes()[0]],  # one voter twice
        ["not a vote"],
    ],
)
def test_of_refuses_what_is_not_a_polka(prevotes: list[BlockVote]) -> None:
    with pytest.raises(InvalidArgumentError):
        LockedValue.of(b"block", prevotes)


@pytest.mark.parametrize(
    "fields",
    [
        {"height": -1},
        {"round": 2**32},
        {"value_id": b"short"},
        {"value": "text"},
        {"polka": ()},
        {"polka": [(bytes(32), bytes(64))]},
        {"polka": ((bytes(31), bytes(64)),)},
        {"polka": ((bytes(32), bytes(63)),)},
        {"polka": ((b"\x02" * 32, bytes(64)), (b"\x01" * 32, bytes(64)))},
    ],
)
def test_constructor_refuses_bad_fields(fields: dict[str, object]) -> None:
    good: dict[str, object] = {"height": 1, "round": 0, "value_id": VID, "value": b"v", "polka": ((bytes(32), bytes(64)),)}
    with pytest.raises(InvalidArgumentError):
        LockedValue(**{**good, **fields})  # type: ignore[arg-type]


def test_a_block_vote_signed_carries_only_the_value_its_precommit_locks() -> None:
    record = LockedValue.of(b"block", _prevotes())
    precommit = BlockVote.create(KEYS[0], CHAIN, VoteKind.PRECOMMIT, 7, 2, VID)
    assert BlockVoteSigned(precommit, record).locked == record
    assert BlockVoteSigned(precommit).locked is None
    for vote in (
        BlockVote.create(KEYS[0], CHAIN, VoteKind.PREVOTE, 7, 2, VID),  # a prevote locks nothing
        BlockVote.create(KEYS[0], CHAIN, VoteKind.PRECOMMIT, 7, 3, VID),  # another round
        BlockVote.create(KEYS[0], CHAIN, VoteKind.PRECOMMIT, 7, 2, None),  # nil
    ):
        with pytest.raises(InvalidArgumentError):
            BlockVoteSigned(vote, record)
    with pytest.raises(InvalidArgumentError):
        BlockVoteSigned(precommit, "value")  # type: ignore[arg-type]
