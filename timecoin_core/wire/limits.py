"""Size ceilings of the core's consensus messages, as the wire caps them.

Theory of operation. The wire caps every message type on its header, so it needs the
largest valid encoding of each. Those ceilings live in
:mod:`timecoin_core.consensus.bft_messages`, next to the encodings they
bound (pinned there by tests against real maximal messages); re-exported here for the
wire's message table.
"""

from __future__ import annotations

from ..consensus.bft_messages import (
    MAX_BLOCK_VOTE_SIZE,
    MAX_COMMIT_SIZE,
    MAX_DOUBLE_VOTE_EVIDENCE_SIZE,
    MAX_PROPOSAL_SIZE,
)

__all__ = [
    "MAX_BLOCK_VOTE_SIZE",
    "MAX_COMMIT_SIZE",
    "MAX_DOUBLE_VOTE_EVIDENCE_SIZE",
    "MAX_PROPOSAL_SIZE",
]
