"""Encodings of the consensus records a store keeps (votes, evidence, voting sets)."""

from __future__ import annotations

import hashlib
import struct
from typing import Final

from ..codec import Reader, Writer
from ..consensus.bft_messages import BlockVote, CommitCertificate
from ..consensus.finality_messages import VoteBatch
from ..consensus.records import decode_record, encode_record
from ..consensus.voting import VotingSet
from ..errors import DecodeError, InvalidArgumentError
from .records import Evidence, SignedVote

KIND_VOTE_BATCH: Final = 1
KIND_BLOCK_VOTE: Final = 2

_BLOCK_VOTE_KEY: Final = struct.Struct(">BBQI")


def signed_vote_key(vote: SignedVote) -> tuple[bytes, int, int]:
    """``(key, kind, height)``: block votes are keyed by (kind, height, round), so a
    second, different vote for the same slot is a conflict; vote batches by content
    (their ``height`` is their epoch)."""
    if isinstance(vote, VoteBatch):
        return b"\x01" + hashlib.sha256(vote.to_bytes()).digest(), KIND_VOTE_BATCH, vote.epoch
    if isinstance(vote, BlockVote):
        return _BLOCK_VOTE_KEY.pack(2, vote.kind, vote.height, vote.round), KIND_BLOCK_VOTE, vote.height
    raise InvalidArgumentError("vote", f"a signed vote is a VoteBatch or a BlockVote, not {type(vote).__name__}")


def decode_signed_vote(kind: int, raw: bytes) -> SignedVote:
    """The vote stored as ``raw`` under ``kind``."""
    if kind == KIND_VOTE_BATCH:
        return VoteBatch.from_bytes(raw)
    if kind == KIND_BLOCK_VOTE:
        return BlockVote.from_bytes(raw)
    raise DecodeError(f"unknown signed vote kind {kind}", 0)


def encode_evidence(evidence: Evidence) -> bytes:
    """The consensus-record encoding (``kind:u8 | payload``) of ``evidence``."""
    return encode_record(evidence)


def decode_evidence(raw: bytes) -> Evidence:
    """Evidence from its consensus-record encoding."""
    record = decode_record(raw)
    if isinstance(record, CommitCertificate):
        raise DecodeError("a commit certificate is not evidence", 0)
    return record


def encode_voting_set(voting_set: VotingSet) -> bytes:
    """``epoch:u64 | n:varint | (key:32 | weight:u64) * n`` in key order."""
    w = Writer().u64(voting_set.epoch).varint(len(voting_set))
    for key in voting_set.voters:
        w.raw(key).u64(voting_set.weights[key])
    return bytes(w)


def decode_voting_set(raw: bytes) -> VotingSet:
    """The voting set :func:`encode_voting_set` encoded."""
    r = Reader(raw)
    epoch = r.u64("epoch")
    n = r.varint(1_000_000, "voter count")
    weights = {}
    for _ in range(n):
        key = r.raw(32, "voter key")
        weights[key] = r.u64("weight")
    r.end()
    return VotingSet(epoch, weights)
