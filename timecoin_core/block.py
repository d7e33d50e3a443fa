"""Blocks: signed checkpoints of transactions that are already final.

A block carries the transactions finalised since its parent, the digests of their
finality certificates, the reward outputs it mints, opaque consensus evidence, and the
proposer's signature. Encoding (docs/protocol.md, "Blocks")::

    header = version:u32 | height:u64 | prev_hash:32 | merkle_root:32 | timestamp:u64
             | proposer:32 | rewards_root:32 | certificates_root:32 | evidence_root:32
    block  = header | signature:64
             | n_tx:varint | tx * n_tx
             | n_cert:varint | digest:32 * n_cert
             | n_reward:varint | (amount:u64 | payload:20) * n_reward
             | n_evidence:varint | (len:varint | bytes) * n_evidence

The signature sits right after the fixed-size header so a peer can check who made a
block before it decodes the body.

Every hash a block needs is a ``Tag.BLOCK`` tagged hash. The header hashes as its
212-byte encoding; every other preimage starts with a purpose byte, and none of them
can be 212 bytes long, so no two purposes share a preimage:

=====  =========================================  ============================
byte   preimage                                   purpose
=====  =========================================  ============================
(none) header (212 bytes)                         block hash
0x01   0x01 | block_hash (33 bytes)               :func:`reward_txid`
0x02   0x02 | chain_id:u32 | block_hash (37)      :func:`signing_message`
0x03   0x03 | n:varint | outputs (2 + 28n, ...)   :func:`rewards_root` (n > 0)
0x04   0x04 | chain_id | magic | masternodes      :func:`genesis_proposer`
       (10 + 36m bytes, ...)
=====  =========================================  ============================
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from .amount import MAX_MONEY
from .codec import Reader, encode_varint
from .errors import DecodeError, InvalidArgumentError
from .hashing import Tag, tagged_hash
from .merkle import EMPTY_ROOT, merkle_root
from .network import Network
from .transaction import Transaction, TxOut, decode_transaction

if TYPE_CHECKING:
    from .keys import PrivateKey

__all__ = [
    "BLOCK_VERSION",
    "DEFAULT_MAX_BLOCK_SIZE",
    "HEADER_SIZE",
    "MAX_BLOCK_CERTIFICATES",
    "MAX_BLOCK_REWARDS",
    "MAX_BLOCK_TRANSACTIONS",
    "MAX_EVIDENCE_ITEMS",
    "MAX_EVIDENCE_SIZE",
    "Block",
    "BlockHeader",
    "certificates_root",
    "evidence_root",
    "genesis_block",
    "genesis_proposer",
    "reward_txid",
    "rewards_root",
    "signing_message",
    "transactions_root",
]

BLOCK_VERSION: Final = 1
"""The only block version :class:`~timecoin_core.chain.ChainState` accepts."""

HEADER_SIZE: Final = 212
SIGNATURE_SIZE: Final = 64

MAX_BLOCK_TRANSACTIONS: Final = 100_000
"""At most this many transactions per block (the size cap usually binds first)."""
MAX_BLOCK_CERTIFICATES: Final = 100_000
"""At most this many finality-certificate digests per block."""
MAX_BLOCK_REWARDS: Final = 10_000
"""At most this many reward outputs per block."""
MAX_EVIDENCE_ITEMS: Final = 256
"""At most this many evidence items per block."""
MAX_EVIDENCE_SIZE: Final = 65_536
"""At most this many bytes per evidence item."""
DEFAULT_MAX_BLOCK_SIZE: Final = 4_000_000
"""The size cap :meth:`Block.from_bytes` applies unless told otherwise (the networks' default)."""

ZERO_HASH: Final = bytes(32)

_HEADER: Final = struct.Struct("<IQ32s32sQ32s32s32s32s")
_CHAIN_ID: Final = struct.Struct("<I")
_TXOUT: Final = struct.Struct("<Q20s")
assert _HEADER.size == HEADER_SIZE

_REWARD_TXID: Final = b"\x01"
_SIGNATURE: Final = b"\x02"
_REWARDS: Final = b"\x03"
_GENESIS: Final = b"\x04"


def _check_u(value: int, bits: int, name: str) -> None:
    if type(value) is not int or not 0 <= value < 1 << bits:
        raise InvalidArgumentError(name, f"{name} must be a u{bits}")


def _check_hash(value: bytes, name: str, size: int = 32) -> None:
    if type(value) is not bytes or len(value) != size:
        raise InvalidArgumentError(name, f"{name} must be {size} bytes")


@dataclass(frozen=True, slots=True)
class BlockHeader:
    """The fixed-size part of a block; its tagged hash is the block's identity.

    ``timestamp`` is unix seconds chosen by the proposer (the library never reads a
    clock). ``proposer`` is the Ed25519 public key that signs the block; in the
    genesis block it is :func:`genesis_proposer` instead, since genesis is unsigned.
    The four roots commit to the block's body (see :class:`Block`).
    """

    version: int
    height: int
    prev_hash: bytes
    merkle_root: bytes
    timestamp: int
    proposer: bytes
    rewards_root: bytes
    certificates_root: bytes
    evidence_root: bytes
    _hash: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_u(self.version, 32, "version")
        _check_u(self.height, 64, "height")
        _check_u(self.timestamp, 64, "timestamp")
        for name in ("prev_hash", "merkle_root", "proposer", "rewards_root", "certificates_root", "evidence_root"):
            _check_hash(getattr(self, name), name)
        object.__setattr__(self, "_hash", tagged_hash(Tag.BLOCK, self.to_bytes()))

    def __repr__(self) -> str:
        return (
            f"BlockHeader(height={self.height}, hash={self.hash.hex()}, prev={self.prev_hash.hex()}, "
            f"timestamp={self.timestamp}, proposer={self.proposer.hex()})"
        )

    @property
    def hash(self) -> bytes:
        """The block hash: ``tagged_hash(BLOCK, header encoding)``."""
        return self._hash

    def to_bytes(self) -> bytes:
        """The 212-byte canonical encoding."""
        return _HEADER.pack(
            self.version,
            self.height,
            self.prev_hash,
            self.merkle_root,
            self.timestamp,
            self.proposer,
            self.rewards_root,
            self.certificates_root,
            self.evidence_root,
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> BlockHeader:
        """Decode exactly 212 bytes; anything else raises :class:`DecodeError`."""
        if len(data) != HEADER_SIZE:
            raise DecodeError(f"block header must be {HEADER_SIZE} bytes, got {len(data)}", 0)
        return cls(*_HEADER.unpack(data))


def transactions_root(transactions: Sequence[Transaction]) -> bytes:
    """The Merkle root of the transactions' txids (witnesses are not covered)."""
    return merkle_root([tx.txid for tx in transactions])


def certificates_root(digests: Sequence[bytes]) -> bytes:
    """The Merkle root of finality-certificate digests; :data:`EMPTY_ROOT` for none."""
    return merkle_root(digests)


def rewards_root(rewards: Sequence[TxOut]) -> bytes:
    """The digest of the reward outputs: ``tagged_hash(BLOCK, 0x03 | n | outputs)``.

    32 zero bytes for no outputs, like the other roots of empty lists.
    """
    if not rewards:
        return EMPTY_ROOT
    body = b"".join([_TXOUT.pack(o.amount, o.payload) for o in rewards])
    return tagged_hash(Tag.BLOCK, _REWARDS + encode_varint(len(rewards)) + body)


def evidence_root(evidence: Sequence[bytes]) -> bytes:
    """The Merkle root of ``tagged_hash(EVIDENCE, item)`` over the evidence items.

    Provisional: evidence is opaque bytes until the consensus layer defines its type;
    the root of no evidence (:data:`EMPTY_ROOT`) will not change.
    """
    return merkle_root([tagged_hash(Tag.EVIDENCE, item) for item in evidence])


def reward_txid(block_hash: bytes) -> bytes:
    """The txid under which a block's reward outputs are spendable.

    Reward output ``i`` of the block is at ``OutPoint(reward_txid(block.hash), i)``.
    The tag differs from every transaction's, so it can never equal a real txid.
    """
    _check_hash(block_hash, "block_hash")
    return tagged_hash(Tag.BLOCK, _REWARD_TXID + block_hash)


def signing_message(chain_id: int, block_hash: bytes) -> bytes:
    """The 32-byte message a proposer signs: ``tagged_hash(BLOCK, 0x02 | chain_id | hash)``.

    It binds the network, so a proposer's signature is useless on another chain.
    """
    _check_u(chain_id, 32, "chain_id")
    _check_hash(block_hash, "block_hash")
    return tagged_hash(Tag.BLOCK, _SIGNATURE + _CHAIN_ID.pack(chain_id) + block_hash)


def genesis_proposer(network: Network) -> bytes:
    """The genesis header's ``proposer`` field: the network's identity, not a key.

    ``tagged_hash(BLOCK, 0x04 | chain_id:u32 | magic:4 | m:varint | (operator:32 |
    collateral_index:u32) * m)`` over the genesis masternodes. So the genesis hash
    commits to everything genesis decides: the network (here), the genesis outputs
    (``rewards_root``) and the time (``timestamp``), and two networks that differ in
    any of them have different genesis hashes.
    """
    masternodes = network.genesis_masternodes
    parts = [_GENESIS, _CHAIN_ID.pack(network.chain_id), network.magic, encode_varint(len(masternodes))]
    parts += [mn.operator + _CHAIN_ID.pack(mn.collateral_index) for mn in masternodes]
    return tagged_hash(Tag.BLOCK, b"".join(parts))


def _check_body(
    transactions: tuple[Transaction, ...],
    certificate_digests: tuple[bytes, ...],
    rewards: tuple[TxOut, ...],
    evidence: tuple[bytes, ...],
    signature: bytes,
) -> None:
    if len(transactions) > MAX_BLOCK_TRANSACTIONS:
        raise InvalidArgumentError("transactions", f"at most {MAX_BLOCK_TRANSACTIONS} transactions per block")
    if len(certificate_digests) > MAX_BLOCK_CERTIFICATES:
        raise InvalidArgumentError("certificate_digests", f"at most {MAX_BLOCK_CERTIFICATES} certificate digests per block")
    if len(rewards) > MAX_BLOCK_REWARDS:
        raise InvalidArgumentError("rewards", f"at most {MAX_BLOCK_REWARDS} reward outputs per block")
    if len(evidence) > MAX_EVIDENCE_ITEMS:
        raise InvalidArgumentError("evidence", f"at most {MAX_EVIDENCE_ITEMS} evidence items per block")
    if not all(type(tx) is Transaction for tx in transactions):
        raise InvalidArgumentError("transactions", "Block.transactions must hold Transaction values")
    for digest in certificate_digests:
        _check_hash(digest, "certificate_digests")
    if not all(type(out) is TxOut for out in rewards):
        raise InvalidArgumentError("rewards", "Block.rewards must hold TxOut values")
    for item in evidence:
        if type(item) is not bytes or len(item) > MAX_EVIDENCE_SIZE:
            raise InvalidArgumentError("evidence", f"evidence items must be bytes of at most {MAX_EVIDENCE_SIZE}")
    _check_hash(signature, "signature", SIGNATURE_SIZE)


@dataclass(frozen=True, slots=True, eq=False)
class Block:
    """A block: header, signature and body. A frozen value with a canonical encoding.

    Build one with :meth:`create` (it computes the roots and signs) or, for genesis,
    :func:`genesis_block`. Constructing a block directly checks the types and count
    limits but not that the header's roots match the body: that is validation's job
    (:meth:`~timecoin_core.chain.ChainState.apply_block`), so tests can build bad
    blocks. Equality and hashing follow the full encoding.
    """

    header: BlockHeader
    transactions: tuple[Transaction, ...] = ()
    certificate_digests: tuple[bytes, ...] = ()
    rewards: tuple[TxOut, ...] = ()
    evidence: tuple[bytes, ...] = ()
    signature: bytes = bytes(SIGNATURE_SIZE)
    _encoded: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.header, BlockHeader):
            raise InvalidArgumentError("header", "Block.header must be a BlockHeader")
        setattr_ = object.__setattr__
        setattr_(self, "transactions", tuple(self.transactions))
        setattr_(self, "certificate_digests", tuple(self.certificate_digests))
        setattr_(self, "rewards", tuple(self.rewards))
        setattr_(self, "evidence", tuple(self.evidence))
        _check_body(self.transactions, self.certificate_digests, self.rewards, self.evidence, self.signature)
        parts = [self.header.to_bytes(), self.signature, encode_varint(len(self.transactions))]
        parts += [tx.to_bytes() for tx in self.transactions]
        parts.append(encode_varint(len(self.certificate_digests)))
        parts += self.certificate_digests
        parts.append(encode_varint(len(self.rewards)))
        parts += [_TXOUT.pack(o.amount, o.payload) for o in self.rewards]
        parts.append(encode_varint(len(self.evidence)))
        for item in self.evidence:
            parts += (encode_varint(len(item)), item)
        setattr_(self, "_encoded", b"".join(parts))

    @classmethod
    def create(
        cls,
        network: Network,
        proposer: PrivateKey,
        *,
        height: int,
        prev_hash: bytes,
        timestamp: int,
        transactions: Sequence[Transaction] = (),
        certificate_digests: Sequence[bytes] = (),
        rewards: Sequence[TxOut] = (),
        evidence: Sequence[bytes] = (),
        version: int = BLOCK_VERSION,
    ) -> Block:
        """A block with every root computed from the body, signed by ``proposer`` for ``network``.

        This checks nothing about the chain (height, parent, fees, rewards): use
        :meth:`~timecoin_core.chain.ChainState.build_block` to get those right too.
        """
        header = BlockHeader(
            version=version,
            height=height,
            prev_hash=prev_hash,
            merkle_root=transactions_root(transactions),
            timestamp=timestamp,
            proposer=proposer.public_key.data,
            rewards_root=rewards_root(rewards),
            certificates_root=certificates_root(certificate_digests),
            evidence_root=evidence_root(evidence),
        )
        signature = proposer.sign(signing_message(network.chain_id, header.hash))
        return cls(
            header,
            tuple(transactions),
            tuple(certificate_digests),
            tuple(rewards),
            tuple(evidence),
            signature,
        )

    # -- identity ---------------------------------------------------------------------

    @property
    def hash(self) -> bytes:
        """The block hash (the header's)."""
        return self.header.hash

    @property
    def height(self) -> int:
        """The header's height."""
        return self.header.height

    @property
    def size(self) -> int:
        """Size in bytes of the canonical encoding."""
        return len(self._encoded)

    @property
    def txids(self) -> tuple[bytes, ...]:
        """The txids of the transactions, in block order."""
        return tuple(tx.txid for tx in self.transactions)

    @property
    def reward_txid(self) -> bytes:
        """The txid of this block's reward outputs (see :func:`reward_txid`)."""
        return reward_txid(self.hash)

    def signing_message(self, network: Network) -> bytes:
        """The message the proposer signs on ``network`` (see :func:`signing_message`)."""
        return signing_message(network.chain_id, self.hash)

    def to_bytes(self) -> bytes:
        """The canonical encoding."""
        return self._encoded

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Block):
            return NotImplemented
        return self._encoded == other._encoded

    def __hash__(self) -> int:
        return hash(self._encoded)

    def __repr__(self) -> str:
        return (
            f"Block(height={self.height}, hash={self.hash.hex()}, "
            f"transactions={len(self.transactions)}, rewards={len(self.rewards)})"
        )

    # -- decoding ---------------------------------------------------------------------

    @classmethod
    def from_bytes(cls, data: bytes, *, max_size: int = DEFAULT_MAX_BLOCK_SIZE) -> Block:
        """Decode a canonical encoding of at most ``max_size`` bytes.

        Pass the network's ``max_block_size`` for blocks from peers. Anything that is
        not a canonical encoding raises :class:`DecodeError`, and nothing else.
        """
        if not isinstance(data, bytes):
            if isinstance(data, bytearray | memoryview):
                data = bytes(data)
            else:
                raise InvalidArgumentError("data", f"expected bytes, not {type(data).__name__}")
        if len(data) > max_size:
            raise DecodeError(f"block of {len(data)} bytes exceeds {max_size}", 0)
        reader = Reader(data)
        header = BlockHeader(*_HEADER.unpack(reader.raw(HEADER_SIZE, "block header")))
        signature = reader.raw(SIGNATURE_SIZE, "block signature")
        n_tx = reader.varint(MAX_BLOCK_TRANSACTIONS, "transaction count")
        transactions = []
        pos = reader.pos
        for _ in range(n_tx):
            tx, pos = decode_transaction(data, pos)
            transactions.append(tx)
        reader.pos = pos
        n_cert = reader.varint(MAX_BLOCK_CERTIFICATES, "certificate count")
        digests = reader.raw(32 * n_cert, "certificate digests")
        certificate_digests = tuple(digests[i : i + 32] for i in range(0, len(digests), 32))
        n_reward = reader.varint(MAX_BLOCK_REWARDS, "reward count")
        start = reader.pos
        packed = reader.raw(_TXOUT.size * n_reward, "reward outputs")
        rewards = []
        for k, (amount, payload) in enumerate(_TXOUT.iter_unpack(packed)):
            if amount > MAX_MONEY:
                raise DecodeError("reward amount exceeds MAX_MONEY", start + _TXOUT.size * k)
            rewards.append(TxOut(amount, payload))
        n_evidence = reader.varint(MAX_EVIDENCE_ITEMS, "evidence count")
        evidence = tuple(reader.var_bytes(MAX_EVIDENCE_SIZE, "evidence") for _ in range(n_evidence))
        reader.end()
        block = object.__new__(cls)
        # The decoder has checked every field; skip __post_init__ and keep the input
        # as the encoding instead of re-encoding megabytes.
        setattr_ = object.__setattr__
        setattr_(block, "header", header)
        setattr_(block, "transactions", tuple(transactions))
        setattr_(block, "certificate_digests", certificate_digests)
        setattr_(block, "rewards", tuple(rewards))
        setattr_(block, "evidence", evidence)
        setattr_(block, "signature", signature)
        setattr_(block, "_encoded", data)
        return block


def genesis_block(network: Network) -> Block:
    """The genesis block of ``network``: deterministic, unsigned, height 0.

    Its rewards are ``network.genesis_outputs`` (spendable at
    ``OutPoint(reward_txid(genesis.hash), i)``), it has no transactions, its parent
    is 32 zero bytes, its timestamp ``network.genesis_timestamp``, its proposer field
    :func:`genesis_proposer` and its signature 64 zero bytes.
    """
    rewards = tuple(TxOut(o.amount, o.payload) for o in network.genesis_outputs)
    header = BlockHeader(
        version=BLOCK_VERSION,
        height=0,
        prev_hash=ZERO_HASH,
        merkle_root=EMPTY_ROOT,
        timestamp=network.genesis_timestamp,
        proposer=genesis_proposer(network),
        rewards_root=rewards_root(rewards),
        certificates_root=EMPTY_ROOT,
        evidence_root=EMPTY_ROOT,
    )
    return Block(header, rewards=rewards)
