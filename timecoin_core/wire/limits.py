"""Size ceilings of core messages that the core does not export yet, computed from its constants.

Theory of operation. The wire must cap every message type on its header, so it needs
the largest valid encoding of each. The core exports some (``MAX_TX_SIZE``,
``MAX_VOTE_BATCH_SIZE``, ``MAX_CERTIFICATE_SIZE``, ``MAX_EVIDENCE_SIZE``); the ones
it does not are derived here from the encodings in
:mod:`timecoin_core.consensus.bft_messages` and pinned by tests against real
maximal messages. They belong in the core next to those encodings.
"""

from __future__ import annotations

from typing import Final

from ..codec import varint_size
from ..consensus.bft_messages import MAX_CERTIFICATE_PRECOMMITS, MAX_VALUE_SIZE

__all__ = [
    "MAX_BLOCK_VOTE_SIZE",
    "MAX_COMMIT_SIZE",
    "MAX_DOUBLE_VOTE_EVIDENCE_SIZE",
    "MAX_PROPOSAL_SIZE",
]

MAX_PROPOSAL_SIZE: Final = (
    8 + 4 + 4 + 32 + varint_size(MAX_VALUE_SIZE) + MAX_VALUE_SIZE + 32 + 64
)
"""Largest encoded ``Proposal`` the core decodes (its value at most ``MAX_VALUE_SIZE``)."""

MAX_COMMIT_SIZE: Final = (
    8 + 4 + 32 + varint_size(MAX_CERTIFICATE_PRECOMMITS) + MAX_CERTIFICATE_PRECOMMITS * (32 + 64)
    + varint_size(MAX_VALUE_SIZE) + MAX_VALUE_SIZE
)
"""Largest encoded ``Commit``: a certificate of every precommit and the largest value."""

MAX_BLOCK_VOTE_SIZE: Final = 1 + 8 + 4 + 1 + 32 + 32 + 64
"""Largest encoded ``BlockVote`` (a vote for a value, not nil)."""

MAX_DOUBLE_VOTE_EVIDENCE_SIZE: Final = 2 * MAX_BLOCK_VOTE_SIZE
"""Largest encoded ``DoubleVoteEvidence``."""
