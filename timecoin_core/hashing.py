"""Tagged SHA-256: ``H(H(tag) || H(tag) || data)``, one tag per purpose.

Domain separation makes a hash computed for one purpose (say a txid) useless as a
hash for another (say a block id), whatever the data.
"""

from __future__ import annotations

import hashlib
from enum import Enum

__all__ = ["Tag", "sha256", "sha256d", "tagged_hash"]


class Tag(Enum):
    """The hash tags of the protocol; the value is the tag string hashed into the prefix."""

    TXID = "timecoin/txid"
    WTXID = "timecoin/wtxid"
    SIGHASH = "timecoin/sighash"
    BLOCK = "timecoin/block"
    MERKLE_LEAF = "timecoin/merkle-leaf"
    MERKLE_NODE = "timecoin/merkle-node"
    VOTE = "timecoin/vote"
    UTXO = "timecoin/utxo"
    # One tag per purpose: a finality certificate's digest can never equal a commit
    # certificate's, nor one kind of evidence's digest another's, whatever the bytes.
    FINALITY_CERTIFICATE = "timecoin/finality-certificate"
    COMMIT_CERTIFICATE = "timecoin/commit-certificate"
    CONFLICTING_VOTES_EVIDENCE = "timecoin/conflicting-votes-evidence"
    DOUBLE_VOTE_EVIDENCE = "timecoin/double-vote-evidence"
    EVIDENCE = "timecoin/evidence"
    """Evidence items (encoded records of any kind) as leaves of a block's ``evidence_root``."""
    PROPOSAL = "timecoin/proposal"
    REGISTRY = "timecoin/registry"
    MESSAGE = "timecoin/message"


def _prefix(tag: str) -> hashlib._Hash:
    tag_hash = hashlib.sha256(tag.encode()).digest()
    return hashlib.sha256(tag_hash + tag_hash)


_PREFIXES = {tag: _prefix(tag.value) for tag in Tag}


def tagged_hash(tag: Tag, data: bytes) -> bytes:
    """The 32-byte tagged hash of ``data`` under ``tag``."""
    h = _PREFIXES[tag].copy()
    h.update(data)
    return h.digest()


def sha256(data: bytes) -> bytes:
    """Plain SHA-256 (used where a format fixes it: address payloads and checksums)."""
    return hashlib.sha256(data).digest()


def sha256d(data: bytes) -> bytes:
    """SHA-256 applied twice (the address checksum)."""
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()
