"""Merkle roots and inclusion proofs over 32-byte hashes (txids, certificate digests).

Construction (docs/protocol.md, "Merkle roots")::

    leaf(h)    = tagged_hash(MERKLE_LEAF, h)
    node(l, r) = tagged_hash(MERKLE_NODE, l || r)

Each level pairs neighbours left to right; when a level has an odd number of nodes the
last one is *carried up unchanged*. Bitcoin instead pairs it with itself, which makes
``[a, b, c]`` and ``[a, b, c, c]`` share a root (CVE-2012-2459) and lets a peer get a
valid block rejected by appending a duplicate. With carrying, every list has its own
root, and the distinct leaf and node tags keep a 64-byte leaf from posing as a node.

The root of the empty list is 32 zero bytes (:data:`EMPTY_ROOT`). No non-empty list has
that root, since it would be a SHA-256 preimage of zero.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Final

from .errors import InvalidArgumentError
from .hashing import Tag, tagged_hash

__all__ = ["EMPTY_ROOT", "MerkleProof", "merkle_proof", "merkle_root", "verify_merkle_proof"]

EMPTY_ROOT: Final = bytes(32)
"""The root of an empty list."""

HASH_SIZE: Final = 32


def _check_hashes(hashes: Sequence[bytes]) -> None:
    for index, h in enumerate(hashes):
        if type(h) is not bytes or len(h) != HASH_SIZE:
            raise InvalidArgumentError("hashes", f"merkle leaf {index} must be 32 bytes")


def _next_level(level: list[bytes]) -> list[bytes]:
    node = Tag.MERKLE_NODE
    paired = [tagged_hash(node, level[i] + level[i + 1]) for i in range(0, len(level) - 1, 2)]
    if len(level) % 2:
        paired.append(level[-1])
    return paired


def merkle_root(hashes: Sequence[bytes]) -> bytes:
    """The Merkle root of ``hashes`` (each 32 bytes): a block's txids or certificate digests.

    ``merkle_root([]) == EMPTY_ROOT``; a single hash ``h`` has root ``leaf(h)``, never
    ``h`` itself. Raises :class:`ValueError` for an item that is not 32 bytes.
    """
    if not hashes:
        return EMPTY_ROOT
    _check_hashes(hashes)
    leaf = Tag.MERKLE_LEAF
    level = [tagged_hash(leaf, h) for h in hashes]
    while len(level) > 1:
        level = _next_level(level)
    return level[0]


class MerkleProof:
    """The sibling hashes that connect leaf ``index`` of ``count`` leaves to the root.

    A frozen value. ``siblings`` holds one hash per level where the path has a
    neighbour; levels where the path's node is carried up contribute nothing, which
    is why verification needs ``count`` to know the shape of the tree.
    """

    __slots__ = ("count", "index", "siblings")

    index: int
    count: int
    siblings: tuple[bytes, ...]

    def __init__(self, index: int, count: int, siblings: Sequence[bytes]) -> None:
        if not 0 <= index < count:
            raise InvalidArgumentError("index", f"leaf index {index} out of range for {count} leaves")
        _check_hashes(siblings)
        object.__setattr__(self, "index", index)
        object.__setattr__(self, "count", count)
        object.__setattr__(self, "siblings", tuple(siblings))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("MerkleProof is immutable")

    def __reduce__(self) -> tuple[type[MerkleProof], tuple[int, int, tuple[bytes, ...]]]:
        return (MerkleProof, (self.index, self.count, self.siblings))

    def __deepcopy__(self, memo: dict[int, object]) -> MerkleProof:
        return self  # immutable

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MerkleProof):
            return NotImplemented
        return (self.index, self.count, self.siblings) == (other.index, other.count, other.siblings)

    def __hash__(self) -> int:
        return hash((self.index, self.count, self.siblings))

    def __repr__(self) -> str:
        return f"MerkleProof(index={self.index}, count={self.count}, siblings={len(self.siblings)})"

    def root(self, leaf_hash: bytes) -> bytes:
        """The root this proof yields for ``leaf_hash`` (the txid or digest, not its leaf hash)."""
        if type(leaf_hash) is not bytes or len(leaf_hash) != HASH_SIZE:
            raise InvalidArgumentError("leaf_hash", "merkle leaf must be 32 bytes")
        node = tagged_hash(Tag.MERKLE_LEAF, leaf_hash)
        index, width = self.index, self.count
        siblings = iter(self.siblings)
        while width > 1:
            if index % 2 == 1:
                node = tagged_hash(Tag.MERKLE_NODE, _next(siblings) + node)
            elif index + 1 < width:
                node = tagged_hash(Tag.MERKLE_NODE, node + _next(siblings))
            index //= 2
            width = (width + 1) // 2
        if next(siblings, None) is not None:
            raise InvalidArgumentError("siblings", "merkle proof has more siblings than its tree has levels")
        return node


def _next(siblings: Iterator[bytes]) -> bytes:
    value = next(siblings, None)
    if value is None:
        raise InvalidArgumentError("siblings", "merkle proof has too few siblings")
    return value


def merkle_proof(hashes: Sequence[bytes], index: int) -> MerkleProof:
    """The inclusion proof of ``hashes[index]`` in ``merkle_root(hashes)``."""
    if not 0 <= index < len(hashes):
        raise IndexError(f"leaf index {index} out of range for {len(hashes)} leaves")
    _check_hashes(hashes)
    level = [tagged_hash(Tag.MERKLE_LEAF, h) for h in hashes]
    siblings: list[bytes] = []
    position = index
    while len(level) > 1:
        neighbour = position ^ 1
        if neighbour < len(level):
            siblings.append(level[neighbour])
        level = _next_level(level)
        position //= 2
    return MerkleProof(index, len(hashes), siblings)


def verify_merkle_proof(leaf_hash: bytes, proof: MerkleProof, root: bytes) -> bool:
    """True when ``proof`` shows that ``leaf_hash`` is leaf ``proof.index`` under ``root``.

    Never raises for a malformed proof: a proof of the wrong length is simply false.
    """
    try:
        return proof.root(leaf_hash) == root
    except ValueError:
        return False
