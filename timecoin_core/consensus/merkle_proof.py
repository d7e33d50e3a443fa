"""Merkle inclusion proofs for vote batches: a whole tree at once, and a canonical encoding.

A vote batch signs the Merkle root of its txids (:mod:`timecoin_core.merkle`'s tree:
tagged leaves and nodes, an odd node carried up unchanged). A finality certificate
then needs, for one txid, the path from its leaf to that root. Building each proof
with :func:`timecoin_core.merkle.merkle_proof` rehashes the whole list, so a node that
certifies every txid of a 1,000-txid batch would hash a million times;
:class:`MerkleTree` keeps every level and cuts each proof in O(log n).

Proofs are :class:`timecoin_core.merkle.MerkleProof` values, so they verify with
:func:`timecoin_core.merkle.verify_merkle_proof`. On the wire a proof is::

    count:varint | index:varint | sibling:32 * proof_length(index, count)

The number of siblings is not encoded: the shape of the tree (``count``) and the
position (``index``) fix it, so every proof has exactly one encoding.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..codec import Reader, Writer
from ..errors import DecodeError, InvalidArgumentError
from ..hashing import Tag, tagged_hash
from ..merkle import MerkleProof, verify_merkle_proof

__all__ = [
    "MerkleProof",
    "MerkleTree",
    "proof_length",
    "read_proof",
    "verify_merkle_proof",
    "write_proof",
]


def proof_length(index: int, count: int) -> int:
    """Number of sibling hashes in the proof of leaf ``index`` among ``count`` leaves.

    A level contributes a sibling unless the path's node is the odd one carried up.
    """
    if not 0 <= index < count:
        raise InvalidArgumentError("index", f"leaf index {index} out of range for {count} leaves")
    length = 0
    while count > 1:
        if index % 2 == 1 or index + 1 < count:
            length += 1
        index //= 2
        count = (count + 1) // 2
    return length


class MerkleTree:
    """Every level of the Merkle tree over ``hashes`` (32 bytes each, at least one).

    ``root`` equals :func:`timecoin_core.merkle.merkle_root` of the same list, and
    :meth:`proof` returns the same proof as :func:`timecoin_core.merkle.merkle_proof`,
    without rehashing the list.
    """

    __slots__ = ("_levels",)

    def __init__(self, hashes: Sequence[bytes]) -> None:
        if not hashes:
            raise InvalidArgumentError("hashes", "a Merkle tree needs at least one leaf")
        for position, h in enumerate(hashes):
            if type(h) is not bytes or len(h) != 32:
                raise InvalidArgumentError("hashes", f"merkle leaf {position} must be 32 bytes")
        level = [tagged_hash(Tag.MERKLE_LEAF, h) for h in hashes]
        levels = [level]
        while len(level) > 1:
            paired = [
                tagged_hash(Tag.MERKLE_NODE, level[i] + level[i + 1])
                for i in range(0, len(level) - 1, 2)
            ]
            if len(level) % 2:
                paired.append(level[-1])
            level = paired
            levels.append(level)
        self._levels = levels

    @property
    def root(self) -> bytes:
        """The Merkle root."""
        return self._levels[-1][0]

    @property
    def count(self) -> int:
        """Number of leaves."""
        return len(self._levels[0])

    def proof(self, index: int) -> MerkleProof:
        """The inclusion proof of leaf ``index``."""
        if not 0 <= index < self.count:
            raise IndexError(f"leaf index {index} out of range for {self.count} leaves")
        siblings = []
        position = index
        for level in self._levels[:-1]:
            neighbour = position ^ 1
            if neighbour < len(level):
                siblings.append(level[neighbour])
            position //= 2
        # The siblings are this tree's own 32-byte hashes: skip MerkleProof's checks,
        # which would cost more than the walk itself (a node cuts a proof per vote).
        proof = object.__new__(MerkleProof)
        object.__setattr__(proof, "index", index)
        object.__setattr__(proof, "count", len(self._levels[0]))
        object.__setattr__(proof, "siblings", tuple(siblings))
        return proof


def write_proof(writer: Writer, proof: MerkleProof) -> Writer:
    """Append the canonical encoding of ``proof`` to ``writer``."""
    writer.varint(proof.count).varint(proof.index)
    for sibling in proof.siblings:
        writer.raw(sibling)
    return writer


def read_proof(reader: Reader, max_count: int) -> MerkleProof:
    """Read a proof for a tree of at most ``max_count`` leaves; :class:`DecodeError` otherwise.

    The proof's length must be the one its ``(index, count)`` implies, so a decoded
    proof always has the right shape; whether it leads to a given root is
    :func:`verify_merkle_proof`'s question.
    """
    start = reader.pos
    count = reader.varint(max_count, "merkle leaf count")
    if count == 0:
        raise DecodeError("merkle proof for an empty tree", start)
    index = reader.varint(count - 1, "merkle leaf index")
    siblings = [reader.raw(32, "merkle sibling") for _ in range(proof_length(index, count))]
    return MerkleProof(index, count, siblings)
