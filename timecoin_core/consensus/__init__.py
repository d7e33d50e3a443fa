"""Consensus: masternode registry, instant-finality voting and BFT block commits (sans-IO).

* :mod:`~timecoin_core.consensus.registry` — masternodes from committed blocks, epoch
  voting sets, the reward function;
* :mod:`~timecoin_core.consensus.finality` — the instant-finality engine (vote batches,
  :class:`FinalityCertificate`);
* :mod:`~timecoin_core.consensus.bft` — the Tendermint-style block-commit engine
  (:class:`CommitCertificate`);
* :mod:`~timecoin_core.consensus.node` — :class:`ConsensusNode`, one node's ledger and
  both engines behind one ``handle(event, now) -> actions``;
* :mod:`~timecoin_core.consensus.sync` — :class:`SyncPlanner`, block sync for a node that
  fell behind further than the engines remember.

Engine-specific events and actions live in their modules (``finality``, ``bft``).
"""

from __future__ import annotations

from .bft import (
    BftTimeouts,
    BlockEngine,
    BlockVoteSigned,
    ConsensusConfigError,
    ConsensusStateError,
    ValueSource,
    select_proposer,
)
from .bft_messages import (
    BlockVote,
    Commit,
    CommitCertificate,
    DoubleVoteEvidence,
    Proposal,
    VoteKind,
)
from .driver import Driver, is_durable, persist_action
from .finality import (
    Contest,
    FinalityConfig,
    FinalityEngine,
    FinalityError,
    FinalityStats,
    RejectReason,
    TxState,
)
from .finality_messages import (
    AcceptVote,
    CertificateEntry,
    ConflictingVotesEvidence,
    FinalityCertificate,
    VoteBatch,
    verify_certificates,
)
from .locked_value import LockedValue
from .node import (
    BlockCommitted,
    BlockRegistrationError,
    ClockSkewed,
    ConsensusNode,
    ConsensusRecordError,
    DropReason,
    FinalityProofError,
    NodeAction,
    NodeConfig,
    NodeEvent,
    SignatureCounts,
    TxDropped,
    TxFinal,
)
from .proposal import ProposalValue
from .registry import (
    MAX_VOTERS,
    DuplicateRegistrationError,
    Masternode,
    RegistrationError,
    Registry,
    RegistryError,
    block_rewards,
    cap_weights,
    check_registration,
    epoch_of,
    registration_claims,
    registration_memo,
)
from .sansio import Broadcast, Offence, Penalize, SendTo, SetTimer, TimerFired
from .sync import (
    ApplyCommit,
    SyncAction,
    SyncBlockError,
    SyncCertificateError,
    SyncCommitError,
    SyncConfig,
    SyncDone,
    SyncPlanner,
    SyncProgress,
    commit_size,
)
from .voting import NotAVoterError, VotingSet, quorum_reached

__all__ = [
    "MAX_VOTERS",
    "AcceptVote",
    "ApplyCommit",
    "BftTimeouts",
    "BlockCommitted",
    "BlockEngine",
    "BlockRegistrationError",
    "BlockVote",
    "BlockVoteSigned",
    "Broadcast",
    "CertificateEntry",
    "ClockSkewed",
    "Commit",
    "CommitCertificate",
    "ConflictingVotesEvidence",
    "ConsensusConfigError",
    "ConsensusNode",
    "ConsensusRecordError",
    "ConsensusStateError",
    "Contest",
    "DoubleVoteEvidence",
    "Driver",
    "DropReason",
    "DuplicateRegistrationError",
    "FinalityCertificate",
    "FinalityConfig",
    "FinalityEngine",
    "FinalityError",
    "FinalityProofError",
    "FinalityStats",
    "LockedValue",
    "Masternode",
    "NodeAction",
    "NodeConfig",
    "NodeEvent",
    "NotAVoterError",
    "Offence",
    "Penalize",
    "Proposal",
    "ProposalValue",
    "RegistrationError",
    "Registry",
    "RegistryError",
    "RejectReason",
    "SendTo",
    "SetTimer",
    "SignatureCounts",
    "SyncAction",
    "SyncBlockError",
    "SyncCertificateError",
    "SyncCommitError",
    "SyncConfig",
    "SyncDone",
    "SyncPlanner",
    "SyncProgress",
    "TimerFired",
    "TxDropped",
    "TxFinal",
    "TxState",
    "ValueSource",
    "VoteBatch",
    "VoteKind",
    "VotingSet",
    "block_rewards",
    "cap_weights",
    "check_registration",
    "commit_size",
    "epoch_of",
    "is_durable",
    "persist_action",
    "quorum_reached",
    "registration_claims",
    "registration_memo",
    "select_proposer",
    "verify_certificates",
]
