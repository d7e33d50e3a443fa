from __future__ import annotations

import contextlib
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timecoin_core.amount import MAX_MONEY
from timecoin_core.block import (
    BLOCK_VERSION,
    HEADER_SIZE,
    MAX_BLOCK_REWARDS,
    MAX_EVIDENCE_SIZE,
    Block,
    BlockHeader,
    certificates_root,
    evidence_root,
    genesis_block,
    genesis_proposer,
    reward_txid,
    rewards_root,
    signing_message,
    transactions_root,
)
from timecoin_core.codec import encode_varint
from timecoin_core.errors import DecodeError
from timecoin_core.hashing import Tag, tagged_hash
from timecoin_core.keys import PrivateKey
from timecoin_core.merkle import EMPTY_ROOT, merkle_root
from timecoin_core.network import (
    DEVNET,
    MAINNET,
    NETWORKS,
    TESTNET,
    GenesisMasternode,
    GenesisOutput,
)
from timecoin_core.transaction import OutPoint, Transaction, TxIn, TxOut

KEY = PrivateKey.from_seed(b"\x07" * 32)

u32 = st.integers(0, 2**32 - 1)
u64 = st.integers(0, 2**64 - 1)
h32 = st.binary(min_size=32, max_size=32)
payloads = st.binary(min_size=20, max_size=20)
txouts = st.builds(TxOut, st.integers(0, MAX_MONEY), payloads)
txins = st.builds(
    TxIn,
    st.builds(OutPoint, h32, u32),
    h32,
    st.binary(min_size=64, max_size=64),
)
transactions = st.builds(
    Transaction,
    st.lists(txins, max_size=3),
    st.lists(txouts, max_size=3),
    u32,
    st.binary(max_size=80),
    u32,
)
headers = st.builds(BlockHeader, u32, u64, h32, h32, u64, h32, h32, h32, h32)
blocks = st.builds(
    Block,
    headers,
    st.lists(transactions, max_size=4).map(tuple),
    st.lists(h32, max_size=4).map(tuple),
    st.lists(txouts, max_size=4).map(tuple),
    st.lists(st.binary(max_size=100), max_size=3).map(tuple),
    st.binary(min_size=64, max_size=64),
)


@given(headers)
def test_header_round_trip(header: BlockHeader) -> None:
    data = header.to_bytes()
    assert len(data) == HEADER_SIZE
    again = BlockHeader.from_bytes(data)
    assert again == header
    assert again.hash == header.hash == tagged_hash(Tag.BLOCK, data)


@given(blocks)
def test_block_round_trip(block: Block) -> None:
    data = block.to_bytes()
    again = Block.from_bytes(data)
    assert again == block
    assert again.to_bytes() == data
    assert again.header == block.header
    assert again.transactions == block.transactions
    assert again.certificate_digests == block.certificate_digests
    assert again.rewards == block.rewards
    assert again.evidence == block.evidence
    assert again.signature == block.signature
    assert again.size == len(data)
    assert hash(again) == hash(block)
    assert pickle.loads(pickle.dumps(block)) == block


PREFIX = genesis_block(DEVNET).to_bytes()[: HEADER_SIZE + 64]


@settings(max_examples=400)
@given(st.one_of(st.binary(max_size=600), st.binary(max_size=600).map(lambda b: PREFIX + b)))
def test_random_bytes_only_raise_decode_error(data: bytes) -> None:
    # Half the inputs get a valid header and signature so the body decoder is exercised.
    with contextlib.suppress(DecodeError):
        Block.from_bytes(data)


@settings(max_examples=200)
@given(blocks, st.data())
def test_mutated_encodings_only_raise_decode_error(block: Block, data: st.DataObject) -> None:
    raw = bytearray(block.to_bytes())
    position = data.draw(st.integers(0, len(raw) - 1))
    raw[position] ^= data.draw(st.integers(1, 255))
    cut = data.draw(st.integers(0, len(raw)))
    for candidate in (bytes(raw), bytes(raw[:cut]), bytes(raw) + b"\x00"):
        try:
            decoded = Block.from_bytes(candidate)
        except DecodeError:
            continue
        assert decoded != block


def test_header_hash_covers_every_field() -> None:
    base = BlockHeader(1, 2, b"\x01" * 32, b"\x02" * 32, 3, b"\x03" * 32, b"\x04" * 32, b"\x05" * 32, b"\x06" * 32)
    data = base.to_bytes()
    seen = {base.hash}
    for i in range(len(data)):
        mutated = bytearray(data)
        mutated[i] ^= 1
        seen.add(BlockHeader.from_bytes(bytes(mutated)).hash)
    assert len(seen) == len(data) + 1


def test_header_rejects_bad_fields() -> None:
    good = dict(
        version=1, height=0, prev_hash=bytes(32), merkle_root=bytes(32), timestamp=0,
        proposer=bytes(32), rewards_root=bytes(32), certificates_root=bytes(32), evidence_root=bytes(32),
    )
    BlockHeader(**good)  # type: ignore[arg-type]
    for name, value in [("version", 2**32), ("height", -1), ("timestamp", 2**64), ("prev_hash", bytes(31)),
                        ("proposer", bytearray(32)), ("evidence_root", "x" * 32)]:
        with pytest.raises(ValueError):
            BlockHeader(**{**good, name: value})  # type: ignore[arg-type]
    with pytest.raises(DecodeError):
        BlockHeader.from_bytes(bytes(HEADER_SIZE - 1))


def test_block_rejects_bad_bodies() -> None:
    header = genesis_block(DEVNET).header
    with pytest.raises(TypeError):
        Block(header, (b"not a tx",))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Block(header, certificate_digests=(bytes(31),))
    with pytest.raises(TypeError):
        Block(header, rewards=((1, bytes(20)),))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Block(header, rewards=(TxOut(1, bytes(20)),) * (MAX_BLOCK_REWARDS + 1))
    with pytest.raises(ValueError):
        Block(header, evidence=(bytes(MAX_EVIDENCE_SIZE + 1),))
    with pytest.raises(ValueError):
        Block(header, signature=bytes(63))
    with pytest.raises(TypeError):
        Block("header")  # type: ignore[arg-type]
    # Lists are accepted and stored as tuples.
    block = Block(header, rewards=[TxOut(1, bytes(20))])  # type: ignore[arg-type]
    assert block.rewards == (TxOut(1, bytes(20)),)


def test_decode_limits() -> None:
    block = genesis_block(DEVNET)
    data = block.to_bytes()
    with pytest.raises(DecodeError, match="exceeds"):
        Block.from_bytes(data, max_size=len(data) - 1)
    assert Block.from_bytes(bytearray(data), max_size=len(data)) == block  # type: ignore[arg-type]
    with pytest.raises(DecodeError, match="trailing"):
        Block.from_bytes(data + b"\x00")
    with pytest.raises(TypeError):
        Block.from_bytes("text")  # type: ignore[arg-type]
    head = data[: HEADER_SIZE + 64]
    # A count above its maximum is rejected before anything is read for it.
    with pytest.raises(DecodeError, match="transaction count"):
        Block.from_bytes(head + encode_varint(100_001))
    with pytest.raises(DecodeError, match="reward count"):
        Block.from_bytes(head + b"\x00\x00" + encode_varint(MAX_BLOCK_REWARDS + 1))
    with pytest.raises(DecodeError, match="evidence length"):
        Block.from_bytes(head + b"\x00\x00\x00\x01" + encode_varint(MAX_EVIDENCE_SIZE + 1))
    with pytest.raises(DecodeError, match="non-minimal"):
        Block.from_bytes(head + b"\xfd\x00\x00")
    over = head + b"\x00\x00\x01" + (MAX_MONEY + 1).to_bytes(8, "little") + bytes(20) + b"\x00"
    with pytest.raises(DecodeError, match="MAX_MONEY"):
        Block.from_bytes(over)


def test_roots() -> None:
    tx = Transaction([TxIn(OutPoint(b"\x01" * 32, 0))], [TxOut(5, bytes(20))])
    assert transactions_root([]) == certificates_root([]) == evidence_root([]) == rewards_root([]) == EMPTY_ROOT
    assert transactions_root([tx]) == merkle_root([tx.txid])
    assert certificates_root([b"\x09" * 32]) == merkle_root([b"\x09" * 32])
    assert evidence_root([b"x"]) == merkle_root([tagged_hash(Tag.EVIDENCE, b"x")])
    out = TxOut(5, bytes(20))
    assert rewards_root([out]) == tagged_hash(Tag.BLOCK, b"\x03\x01" + out.to_bytes())
    assert rewards_root([out]) != rewards_root([out, out])


def test_tag_block_purposes_are_separated() -> None:
    block_hash = b"\x05" * 32
    assert reward_txid(block_hash) == tagged_hash(Tag.BLOCK, b"\x01" + block_hash)
    assert signing_message(3, block_hash) == tagged_hash(Tag.BLOCK, b"\x02\x03\x00\x00\x00" + block_hash)
    assert signing_message(1, block_hash) != signing_message(2, block_hash)
    assert genesis_proposer(DEVNET) == tagged_hash(Tag.BLOCK, b"\x04\x03\x00\x00\x00TIMD\x00")
    with pytest.raises(ValueError):
        reward_txid(b"short")
    with pytest.raises(ValueError):
        signing_message(2**32, block_hash)


def test_genesis_is_deterministic_and_distinct_per_network() -> None:
    hashes = {genesis_block(n).hash for n in NETWORKS.values()}
    assert len(hashes) == len(NETWORKS)
    assert genesis_block(MAINNET) == genesis_block(MAINNET)
    g = genesis_block(TESTNET)
    assert g.height == 0 and g.header.prev_hash == bytes(32) and g.signature == bytes(64)
    assert g.header.timestamp == TESTNET.genesis_timestamp
    assert g.header.version == BLOCK_VERSION


def test_genesis_outputs_become_rewards() -> None:
    outputs = (GenesisOutput(b"\x01" * 20, 500), GenesisOutput(b"\x02" * 20, 700))
    net = DEVNET.with_genesis(outputs)
    g = genesis_block(net)
    assert g.rewards == (TxOut(500, b"\x01" * 20), TxOut(700, b"\x02" * 20))
    assert g.header.rewards_root == rewards_root(g.rewards)
    assert g.hash != genesis_block(DEVNET).hash


def test_genesis_commits_to_masternodes() -> None:
    outputs = (GenesisOutput(b"\x01" * 20, 1_000), GenesisOutput(b"\x02" * 20, 2_000))
    net = DEVNET.with_genesis(outputs)
    one = DEVNET.with_genesis(outputs, (GenesisMasternode(b"\x0a" * 32, 0),))
    other = DEVNET.with_genesis(outputs, (GenesisMasternode(b"\x0a" * 32, 1),))
    assert len({genesis_block(n).hash for n in (net, one, other)}) == 3
    expected = b"\x04\x03\x00\x00\x00TIMD\x01" + b"\x0a" * 32 + b"\x01\x00\x00\x00"
    assert genesis_proposer(other) == tagged_hash(Tag.BLOCK, expected)


def test_create_signs_and_computes_roots() -> None:
    tx = Transaction([TxIn(OutPoint(b"\x01" * 32, 0))], [TxOut(5, bytes(20))])
    block = Block.create(
        DEVNET, KEY, height=1, prev_hash=b"\x0a" * 32, timestamp=99,
        transactions=[tx], certificate_digests=[b"\x0c" * 32], rewards=[TxOut(7, bytes(20))],
        evidence=[b"proof"],
    )
    h = block.header
    assert h.merkle_root == transactions_root([tx])
    assert h.certificates_root == certificates_root([b"\x0c" * 32])
    assert h.rewards_root == rewards_root([TxOut(7, bytes(20))])
    assert h.evidence_root == evidence_root([b"proof"])
    assert h.proposer == KEY.public_key.data
    assert KEY.public_key.verify(block.signing_message(DEVNET), block.signature)
    assert not KEY.public_key.verify(block.signing_message(TESTNET), block.signature)
    assert block.txids == (tx.txid,)
    assert block.reward_txid == reward_txid(block.hash)
    assert "height=1" in repr(block)
    assert block != genesis_block(DEVNET)
    assert block.__eq__(object()) is NotImplemented
    with pytest.raises(AttributeError):
        block.signature = bytes(64)  # type: ignore[misc]
