"""Consensus records: the typed entries of ``Block.evidence``, ``kind:u8 | payload``.

==========  ==============================================================
kind        payload
==========  ==============================================================
1           :class:`~timecoin_core.consensus.bft_messages.DoubleVoteEvidence`
2           :class:`~timecoin_core.consensus.finality_messages.ConflictingVotesEvidence`
3           :class:`~timecoin_core.consensus.bft_messages.CommitCertificate` of the parent
==========  ==============================================================

A codec only (the rules about which records a block must carry live with the
consensus node's block validator), so the store can read blocks without importing
the node.
"""

from __future__ import annotations

from typing import Final

from ..errors import DecodeError
from .bft_messages import CommitCertificate, DoubleVoteEvidence
from .finality_messages import ConflictingVotesEvidence

__all__ = [
    "RECORD_COMMIT",
    "RECORD_CONFLICTING_VOTES",
    "RECORD_DOUBLE_VOTE",
    "Evidence",
    "decode_record",
    "encode_record",
]

RECORD_DOUBLE_VOTE: Final = 1
RECORD_CONFLICTING_VOTES: Final = 2
RECORD_COMMIT: Final = 3

Evidence = DoubleVoteEvidence | ConflictingVotesEvidence
"""What an evidence record holds."""


def encode_record(record: Evidence | CommitCertificate) -> bytes:
    """The ``kind:u8 | payload`` encoding of a consensus record."""
    if isinstance(record, DoubleVoteEvidence):
        kind = RECORD_DOUBLE_VOTE
    elif isinstance(record, ConflictingVotesEvidence):
        kind = RECORD_CONFLICTING_VOTES
    else:
        kind = RECORD_COMMIT
    return bytes((kind,)) + record.to_bytes()


def decode_record(data: bytes) -> Evidence | CommitCertificate:
    """Decode a consensus record; :class:`DecodeError` for anything else."""
    if not data:
        raise DecodeError("empty consensus record", 0)
    kind, payload = data[0], data[1:]
    if kind == RECORD_DOUBLE_VOTE:
        return DoubleVoteEvidence.from_bytes(payload)
    if kind == RECORD_CONFLICTING_VOTES:
        return ConflictingVotesEvidence.from_bytes(payload)
    if kind == RECORD_COMMIT:
        return CommitCertificate.from_bytes(payload)
    raise DecodeError(f"unknown consensus record kind {kind}", 0)
