"""Vote-batch Merkle proofs agree with timecoin_core.merkle's tree, and encode canonically."""

from __future__ import annotations

import contextlib
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from timecoin_core.codec import Reader, Writer
from timecoin_core.consensus.merkle_proof import (
    MerkleProof,
    MerkleTree,
    proof_length,
    read_proof,
    verify_merkle_proof,
    write_proof,
)
from timecoin_core.errors import DecodeError
from timecoin_core.merkle import merkle_proof, merkle_root


def leaves(n: int) -> list[bytes]:
    return [hashlib.sha256(i.to_bytes(4, "little")).digest() for i in range(n)]


@pytest.mark.parametrize("n", range(1, 65))
def test_tree_matches_merkle_py_for_every_size_and_index(n: int) -> None:
    hashes = leaves(n)
    tree = MerkleTree(hashes)
    root = merkle_root(hashes)
    assert tree.root == root
    assert tree.count == n
    for index in range(n):
        proof = tree.proof(index)
        assert proof == merkle_proof(hashes, index)
        assert len(proof.siblings) == proof_length(index, n)
        assert verify_merkle_proof(hashes[index], proof, root)
        # Any other leaf, or the same leaf against another root, fails.
        assert not verify_merkle_proof(hashes[(index + 1) % n], proof, root) or n == 1
        assert not verify_merkle_proof(hashes[index], proof, merkle_root(leaves(n + 1)))
        encoded = bytes(write_proof(Writer(), proof))
        reader = Reader(encoded)
        assert read_proof(reader, 64) == proof
        reader.end()


@pytest.mark.parametrize("n", [2, 3, 5, 7, 12, 33])
def test_tampered_proofs_fail(n: int) -> None:
    hashes = leaves(n)
    root = merkle_root(hashes)
    for index in range(n):
        proof = MerkleTree(hashes).proof(index)
        for k in range(len(proof.siblings)):
            bad = list(proof.siblings)
            bad[k] = bytes(32)
            assert not verify_merkle_proof(hashes[index], MerkleProof(index, n, bad), root)
        # Dropping or adding a sibling is a malformed proof: false, never an exception.
        assert not verify_merkle_proof(
            hashes[index], MerkleProof(index, n, proof.siblings[:-1]), root
        )
        assert not verify_merkle_proof(
            hashes[index], MerkleProof(index, n, (*proof.siblings, bytes(32))), root
        )


def test_a_leaf_cannot_pose_as_an_inner_node() -> None:
    # The odd node carried up is an inner node; claiming it as a leaf of a smaller
    # tree must fail because leaf and node hashes carry different tags.
    hashes = leaves(4)
    tree = MerkleTree(hashes)
    inner = tree.proof(0).siblings[-1]  # node(leaf(c), leaf(d))
    assert not verify_merkle_proof(inner, MerkleProof(1, 2, [tree.proof(0).siblings[0]]), tree.root)


def test_empty_tree_and_bad_leaves_are_rejected() -> None:
    with pytest.raises(ValueError):
        MerkleTree([])
    with pytest.raises(ValueError):
        MerkleTree([b"short"])
    with pytest.raises(IndexError):
        MerkleTree(leaves(3)).proof(3)
    with pytest.raises(ValueError):
        proof_length(3, 3)


def test_proof_length_is_logarithmic() -> None:
    assert proof_length(0, 1) == 0
    assert proof_length(0, 2) == 1
    assert proof_length(2, 3) == 1  # carried up once, paired once
    assert proof_length(4, 5) == 1
    assert max(proof_length(i, 4096) for i in range(4096)) == 12


def test_read_proof_rejects_noncanonical_input() -> None:
    with pytest.raises(DecodeError):
        read_proof(Reader(b"\x00"), 64)  # empty tree
    with pytest.raises(DecodeError):
        read_proof(Reader(b"\x41\x00"), 64)  # 65 leaves > maximum
    with pytest.raises(DecodeError):
        read_proof(Reader(b"\x02\x02"), 64)  # index out of range
    with pytest.raises(DecodeError):
        read_proof(Reader(b"\x02\x00" + bytes(31)), 64)  # truncated sibling
    with pytest.raises(DecodeError):
        read_proof(Reader(b"\xfd\x02\x00\x00"), 64)  # non-minimal varint


@given(st.integers(1, 300).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1))))
def test_proof_encoding_round_trips(shape: tuple[int, int]) -> None:
    n, index = shape
    proof = MerkleTree(leaves(n)).proof(index)
    encoded = bytes(write_proof(Writer(), proof))
    reader = Reader(encoded)
    assert read_proof(reader, 4096) == proof
    assert reader.remaining() == 0


@given(st.binary(max_size=200))
def test_random_bytes_only_raise_decode_error(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        read_proof(Reader(data), 4096)
