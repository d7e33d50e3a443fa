from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from timecoin_core.hashing import Tag, tagged_hash
from timecoin_core.merkle import (
    EMPTY_ROOT,
    MerkleProof,
    merkle_proof,
    merkle_root,
    verify_merkle_proof,
)

H = [bytes([i]) * 32 for i in range(1, 20)]
hashes = st.lists(st.binary(min_size=32, max_size=32), max_size=40)


def leaf(h: bytes) -> bytes:
    return tagged_hash(Tag.MERKLE_LEAF, h)


def node(left: bytes, right: bytes) -> bytes:
    return tagged_hash(Tag.MERKLE_NODE, left + right)


def test_empty_root_is_zero() -> None:
    assert merkle_root([]) == EMPTY_ROOT == bytes(32)


def test_single_hash_is_its_leaf_not_itself() -> None:
    assert merkle_root([H[0]]) == leaf(H[0]) != H[0]


def test_shapes_by_hand() -> None:
    a, b, c, d, e = H[:5]
    assert merkle_root([a, b]) == node(leaf(a), leaf(b))
    # An odd node is carried up unchanged, never paired with itself.
    assert merkle_root([a, b, c]) == node(node(leaf(a), leaf(b)), leaf(c))
    assert merkle_root([a, b, c, d, e]) == node(node(node(leaf(a), leaf(b)), node(leaf(c), leaf(d))), leaf(e))


def test_no_duplication_attack() -> None:
    a, b, c = H[:3]
    assert merkle_root([a, b, c]) != merkle_root([a, b, c, c])
    assert merkle_root([a, b, c, d := H[3], d]) != merkle_root([a, b, c, d])
    six = H[:6]
    assert merkle_root(six) != merkle_root([*six, *six[4:]])


def test_inner_node_cannot_pose_as_leaves() -> None:
    a, b = H[:2]
    # With one tag for both, the 64-byte concatenation of two leaves could be replayed
    # as a tree one level shorter.
    assert merkle_root([leaf(a), leaf(b)]) != merkle_root([a, b])


@given(hashes, hashes)
def test_different_lists_have_different_roots(xs: list[bytes], ys: list[bytes]) -> None:
    if xs != ys:
        assert merkle_root(xs) != merkle_root(ys)


def test_rejects_items_that_are_not_32_bytes() -> None:
    with pytest.raises(ValueError):
        merkle_root([b"\x00" * 31])
    with pytest.raises(ValueError):
        merkle_root([H[0], bytearray(32)])  # type: ignore[list-item]


@given(st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=40), st.data())
def test_proofs_verify_for_every_leaf(items: list[bytes], data: st.DataObject) -> None:
    root = merkle_root(items)
    index = data.draw(st.integers(0, len(items) - 1))
    proof = merkle_proof(items, index)
    assert proof.root(items[index]) == root
    assert verify_merkle_proof(items[index], proof, root)
    assert not verify_merkle_proof(b"\xff" * 32, proof, root) or items[index] == b"\xff" * 32


def test_every_proof_of_small_trees() -> None:
    for n in range(1, 18):
        items = H[:n]
        root = merkle_root(items)
        for i in range(n):
            proof = merkle_proof(items, i)
            assert verify_merkle_proof(items[i], proof, root)
            # The proof pins the position: the same leaf elsewhere does not verify.
            for j in range(n):
                if j != i:
                    moved = MerkleProof(j, n, proof.siblings)
                    assert not verify_merkle_proof(items[i], moved, root)


def test_malformed_proofs_are_false_not_errors() -> None:
    items = H[:5]
    root = merkle_root(items)
    proof = merkle_proof(items, 2)
    assert not verify_merkle_proof(items[2], MerkleProof(2, 5, proof.siblings[:-1]), root)
    assert not verify_merkle_proof(items[2], MerkleProof(2, 5, (*proof.siblings, H[9])), root)
    assert not verify_merkle_proof(items[2], MerkleProof(2, 3, proof.siblings), root)
    assert not verify_merkle_proof(b"short", proof, root)


def test_proof_value_semantics() -> None:
    proof = merkle_proof(H[:3], 0)
    assert proof == merkle_proof(H[:3], 0)
    assert hash(proof) == hash(merkle_proof(H[:3], 0))
    assert "index=0" in repr(proof)
    with pytest.raises(AttributeError):
        proof.index = 1
    with pytest.raises(ValueError):
        MerkleProof(3, 3, ())
    with pytest.raises(IndexError):
        merkle_proof(H[:3], 3)
