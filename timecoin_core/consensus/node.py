"""One node's consensus: the ledger and both engines behind one sans-IO ``handle``.

Theory of operation
-------------------
:class:`ConsensusNode` owns a node's state — the :class:`~timecoin_core.chain.ChainState`
of committed blocks, the :class:`~timecoin_core.mempool.TxPool`, the masternode
:class:`~timecoin_core.consensus.registry.Registry`, the finality certificates of
transactions not yet in a block, and pending evidence — and drives the two engines:

* the :class:`~timecoin_core.consensus.finality.FinalityEngine` votes on transactions
  the pool admitted and reports which became final;
* the :class:`~timecoin_core.consensus.bft.BlockEngine` commits, every
  ``block_interval``, a block of final transactions proposed by a weighted,
  deterministic leader.

Like the engines, the node never does I/O and never reads a clock:
``handle(event, now, origin=peer)`` takes a message from a peer, a transaction from a
client or a fired timer, and returns actions for the shell (the simulator, LocalChain,
the network runtime; :class:`~timecoin_core.consensus.driver.Driver` keeps the timers):
:class:`~timecoin_core.consensus.sansio.Broadcast` (never back to ``origin``),
:class:`~timecoin_core.consensus.sansio.SendTo` (answers to inventory requests),
:class:`~timecoin_core.consensus.sansio.Penalize` (what only a misbehaving peer sends),
:class:`~timecoin_core.consensus.sansio.SetTimer` (keys are namespaced
``("finality", k)``, ``("bft", k)``, ``("node", name)``), the notifications
:class:`TxFinal`, :class:`TxDropped` and :class:`BlockCommitted`, and
:class:`~timecoin_core.consensus.finality.VoteRecorded`, which the shell makes durable
before it carries out any later action. :meth:`ConsensusNode.restore` resumes a node
from what a store kept; a node further behind than the engines remember catches up by
block sync (:mod:`timecoin_core.consensus.sync`): peers answer with :meth:`ConsensusNode.status`
and :meth:`ConsensusNode.blocks_page`, and :meth:`ConsensusNode.apply_commit` applies each
block with its commit certificate.

A proposal's value is a :class:`ProposalValue`: the block plus the finality
certificates of its transactions. The block itself stores only the certificates'
digests; the certificates travel with the proposal so every validator checks that
each transaction really is final before it votes for the block.

Pending transactions are re-gossiped by hash: every ``regossip_interval`` the node
broadcasts an ``Inv`` of up to 1,000 pending txids; a peer that lacks one asks the
first announcer with ``GetData`` (one request in flight per transaction, the next
announcer after ``NotFound`` or a timeout) and gets the body back by ``SendTo``.

Consensus records
-----------------
``Block.evidence`` holds typed *consensus records*, each ``kind:u8 | payload``
(the codec is :mod:`timecoin_core.consensus.records`):

==========  ==============================================================
kind        payload
==========  ==============================================================
1           :class:`~timecoin_core.consensus.bft_messages.DoubleVoteEvidence`
2           :class:`~timecoin_core.consensus.finality_messages.ConflictingVotesEvidence`
3           :class:`~timecoin_core.consensus.bft_messages.CommitCertificate` of the parent
==========  ==============================================================

Every block above height 1 carries exactly one kind-3 record, the commit certificate
of its parent: that is how participation is recorded on chain (the registry
deactivates voters absent from a whole epoch). Evidence records remove the offender
from the next epoch's voting set.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Hashable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from ..block import Block
from ..chain import BlockError, ChainState, ProposerError, check_proposer_signature
from ..errors import DecodeError, InvalidArgumentError, TimecoinError
from ..hashing import Tag, tagged_hash
from ..keys import PrivateKey
from ..mempool import DoubleSpendError, PendingParentError, PoolError, TxPool
from ..network import Network
from ..orphans import OrphanBuffer
from ..transaction import OutPoint, Transaction, TxOut, sighash
from ..validation import MissingInputError, OutputView, TransactionError, validate_transactions
from ..verify import SignatureCheck, SyncVerifier, Verifier
from ..verify.cache import CachingVerifier
from ..wire.gossip import InventoryTracker
from ..wire.messages import (
    MAX_INV_ITEMS,
    Blocks,
    GetBlocks,
    GetData,
    Inv,
    InvItem,
    InvKind,
    NotFound,
    Status,
)
from ..wire.registry import MESSAGE_SPECS, MessageType
from .bft import (
    BftTimeouts,
    BlockEngine,
    BlockVoteSigned,
    CommitReceived,
    ConsensusConfigError,
    ConsensusStateError,
    Decide,
    ProposalReceived,
    VoteReceived,
)
from .bft import EvidenceFound as BftEvidenceFound
from .bft_messages import BlockVote, Commit, CommitCertificate, DoubleVoteEvidence, Proposal
from .finality import (
    CertificateReceived,
    Checkpointed,
    Contest,
    EpochChanged,
    FinalityConfig,
    FinalityEngine,
    Finalized,
    Rejected,
    TxAdmitted,
    TxConflicted,
    TxState,
    VoteBatchReceived,
    VoteRecorded,
)
from .finality import EvidenceFound as FinalityEvidenceFound
from .finality_messages import (
    ConflictingVotesEvidence,
    FinalityCertificate,
    VoteBatch,
    verify_certificates,
)
from .locked_value import LockedValue
from .proposal import ProposalValue
from .records import (
    RECORD_COMMIT,
    RECORD_CONFLICTING_VOTES,
    RECORD_DOUBLE_VOTE,
    Evidence,
    decode_record,
    encode_record,
)
from .registry import (
    DuplicateRegistrationError,
    RegistrationError,
    Registry,
    block_rewards,
    check_registration,
    epoch_of,
    registration_claims,
)
from .sansio import Broadcast, Offence, PeerId, Penalize, SendTo, SetTimer, TimerFired
from .sync import SyncBlockError, SyncCertificateError, commit_size

__all__ = [
    "RECORD_COMMIT",
    "RECORD_CONFLICTING_VOTES",
    "RECORD_DOUBLE_VOTE",
    "BlockCommitted",
    "BlockRegistrationError",
    "ClockSkewed",
    "ConsensusNode",
    "ConsensusRecordError",
    "DropReason",
    "FinalityProofError",
    "NodeAction",
    "NodeConfig",
    "NodeEvent",
    "ProposalValue",
    "RestoredState",
    "SignatureCounts",
    "TxDropped",
    "TxFinal",
    "decode_record",
    "encode_record",
]

class ConsensusRecordError(BlockError):
    """A block whose consensus records (evidence, parent commit) are missing or invalid."""

    code = "bad-consensus-record"


class BlockRegistrationError(BlockError):
    """A block carrying an invalid masternode registration; ``error`` says why."""

    code = "bad-registration"

    def __init__(self, error: RegistrationError, block_hash: bytes | None = None) -> None:
        super().__init__(f"[{error.code}] {error}", block_hash)
        self.error = error


class FinalityProofError(BlockError):
    """A block whose transactions are not all proved final.

    A block may only carry transactions that are already final: exactly one
    certificate digest per transaction, in order, each the digest of a finality
    certificate for that transaction that verifies against the voting set of its
    epoch. The certificates themselves travel beside the block (in the proposal);
    applying a block without them is refused.
    """

    code = "bad-finality-proof"


@dataclass(frozen=True, slots=True)
class TxFinal:
    """Transaction ``txid`` is final at this node; ``certificate`` proves it."""

    txid: bytes
    certificate: FinalityCertificate


_PERMANENT = frozenset(
    {
        "no-inputs",
        "no-outputs",
        "too-large",
        "duplicate-input",
        "zero-output",
        "output-overflow",
        "wrong-key",
        "bad-signature",
        "wrong-network",
    }
)
"""Transaction rejection codes no chain state can cure: a peer that relays one is faulty."""


class DropReason(StrEnum):
    """Why the node itself dropped a transaction (beside validation and finality codes)."""

    EXPIRED = "expired"
    """It waited in the pool longer than its expiry without becoming final."""
    TOO_MANY_VARIANTS = "too-many-variants"
    """Another conflicting variant of coins that already have the most variants kept."""


@dataclass(frozen=True, slots=True)
class TxDropped:
    """This node dropped transaction ``txid``; ``reason`` is a short code."""

    txid: bytes
    reason: str


@dataclass(frozen=True, slots=True)
class ClockSkewed:
    """This node's clock disagrees with the network's block timestamps by ``seconds``.

    Positive: the local clock is behind. Emitted when the estimate (the median of
    ``block timestamp - local time`` over recently committed blocks) crosses half of
    ``NodeConfig.max_clock_drift``, and again when it falls back under; a shell logs it
    and exports the estimate (:attr:`ConsensusNode.clock_skew`) as a metric.
    """

    seconds: float


@dataclass(frozen=True, slots=True)
class BlockCommitted:
    """``block`` is committed at this node; ``certificate`` is its commit certificate.

    ``proof`` holds the finality certificates the block commits to (one per transaction,
    in order: the proposal's), which a store keeps with its transactions; empty when the
    shell applied the block without them.
    """

    block: Block
    certificate: CommitCertificate
    proof: tuple[FinalityCertificate, ...] = ()


NodeEvent = (
    Transaction
    | VoteBatch
    | FinalityCertificate
    | Proposal
    | BlockVote
    | Commit
    | DoubleVoteEvidence
    | ConflictingVotesEvidence
    | Inv
    | GetData
    | NotFound
    | TimerFired
)
"""What :meth:`ConsensusNode.handle` accepts: peer messages, client transactions, timers."""

NodeAction = (
    Broadcast
    | SendTo
    | Penalize
    | SetTimer
    | TxFinal
    | TxDropped
    | BlockCommitted
    | VoteRecorded
    | BlockVoteSigned
    | ClockSkewed
)
"""What :meth:`ConsensusNode.handle` returns.

A :class:`~timecoin_core.consensus.finality.VoteRecorded` (``Store.record_vote``) and a
:class:`~timecoin_core.consensus.bft.BlockVoteSigned` (``Store.record_signed_vote``)
must be made durable before any later action of the same call is carried out: a
restarted node that forgot either could sign a conflicting vote, and one that forgot
its block votes would also forget its lock.
"""


class RestoredState(Protocol):
    """What :meth:`ConsensusNode.restore` resumes from (``timecoin_core.store.NodeState``)."""

    @property
    def chain(self) -> ChainState:
        """The chain rebuilt from the stored blocks."""
        ...

    @property
    def registry(self) -> Registry:
        """The registry replayed from the stored blocks."""
        ...

    @property
    def voted_outpoints(self) -> dict[OutPoint, bytes]:
        """Every outpoint this masternode voted on, and for which transaction."""
        ...

    @property
    def finals(self) -> list[tuple[Transaction, FinalityCertificate]]:
        """Final transactions not yet in a block, with their certificates."""
        ...

    @property
    def evidence(self) -> list[Evidence]:
        """Evidence not yet in a block."""
        ...

    @property
    def commits(self) -> dict[int, CommitCertificate]:
        """Commit certificates of the latest heights."""
        ...

    @property
    def signed_votes(self) -> Sequence[object]:
        """Votes this masternode signed and recorded (block votes restore its BFT lock)."""
        ...

    @property
    def locked_values(self) -> Sequence[LockedValue]:
        """Values the BFT engine locked on, recorded with their precommits (the lock's value)."""
        ...


@dataclass(frozen=True)
class NodeConfig:
    """Tunables of a :class:`ConsensusNode`, validated on construction.

    ``timeouts``/``finality`` default from the network (``block_interval``,
    ``finality_timeout``). ``regossip_interval``: how often pending transactions are
    re-announced (recovers from lost messages). ``max_orphans`` / ``max_orphan_bytes``
    / ``orphan_ttl``: bounds of the buffer of unverified transactions whose parents are
    unknown (see :class:`~timecoin_core.orphans.OrphanBuffer`); ``max_final_orphan_bytes``:
    the separate buffer of certified transactions waiting for their parents.
    ``max_parked_bytes``: bodies of valid double spends and timed-out transactions kept
    for a later quorum. ``max_conflict_variants``: conflicting variants verified and
    kept per outpoint (only the first is relayed). ``max_clock_drift``: how far in the future a
    proposed block's timestamp may be.
    """

    timeouts: BftTimeouts | None = None
    finality: FinalityConfig | None = None
    regossip_interval: float = 2.0
    max_orphans: int = 1_000
    max_orphan_bytes: int = 4_000_000
    orphan_ttl: float = 600.0
    max_final_orphan_bytes: int = 32_000_000
    max_parked_bytes: int = 16_000_000
    max_conflict_variants: int = 2
    max_evidence: int = 1_000
    max_clock_drift: float = 60.0
    pool_max_bytes: int = 100_000_000
    pool_max_count: int = 500_000

    def __post_init__(self) -> None:
        # One check per field, so the error names the field that is wrong.
        for name, valid, rule in (
            ("regossip_interval", self.regossip_interval > 0, "positive"),
            ("max_clock_drift", self.max_clock_drift >= 0, "non-negative"),
            ("max_orphans", self.max_orphans >= 0, "non-negative"),
            ("max_orphan_bytes", self.max_orphan_bytes >= 0, "non-negative"),
            ("max_evidence", self.max_evidence >= 0, "non-negative"),
            ("max_conflict_variants", self.max_conflict_variants >= 1, "at least 1"),
            ("max_parked_bytes", self.max_parked_bytes >= 0, "non-negative"),
            ("orphan_ttl", self.orphan_ttl > 0, "positive"),
            ("max_final_orphan_bytes", self.max_final_orphan_bytes >= 0, "non-negative"),
        ):
            if not valid:
                raise ConsensusConfigError(f"{name} must be {rule}, got {getattr(self, name)!r}")

    def bft_timeouts(self, network: Network) -> BftTimeouts:
        """The BFT timeouts for ``network`` (explicit ones win)."""
        if self.timeouts is not None:
            return self.timeouts
        interval = network.block_interval
        return BftTimeouts(
            propose=max(1.0, interval / 2), prevote=max(0.5, interval / 6),
            precommit=max(0.5, interval / 6), delta=max(0.5, interval / 6),
        )

    def finality_config(self, network: Network) -> FinalityConfig:
        """The finality engine's configuration for ``network``."""
        if self.finality is not None:
            return self.finality
        return FinalityConfig(finality_timeout=network.finality_timeout, batch_window=network.vote_batch_window)


@dataclass
class SignatureCounts:
    """Signatures this node actually verified (cache hits excluded), by purpose."""

    transactions: int = 0
    finality_votes: int = 0
    block_votes: int = 0
    cache_hits: int = 0

    def total(self) -> int:
        """All signatures verified."""
        return self.transactions + self.finality_votes + self.block_votes


class _Checker:
    """Checks signatures through the node's cache and counts what the cache did not answer.

    Callable (the engines' ``check_signatures``) and a
    :class:`~timecoin_core.verify.Verifier` (for chain and pool validation).
    """

    def __init__(self, verifier: CachingVerifier, counts: SignatureCounts, purpose: str) -> None:
        self.verifier = verifier
        self.backend = verifier.backend
        self.counts = counts
        self.purpose = purpose

    def __call__(self, checks: Sequence[SignatureCheck]) -> list[bool]:
        before = self.verifier.misses
        verdicts = self.verifier.verify_many(checks)
        spent = self.verifier.misses - before
        setattr(self.counts, self.purpose, getattr(self.counts, self.purpose) + spent)
        self.counts.cache_hits += len(checks) - spent
        return verdicts

    verify_many = __call__

    def submit_many(self, checks: Sequence[SignatureCheck]) -> Future[list[bool]]:
        future: Future[list[bool]] = Future()
        future.set_result(self(checks))
        return future

    def close(self) -> None:
        """The node owns the wrapped verifier; closing a checker does nothing."""

    def __enter__(self) -> _Checker:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


@dataclass(frozen=True, slots=True)
class _Committed:
    """The proof a synced block is applied with: its commit certificate, already verified."""

    certificate: CommitCertificate


_MAX_PAGE_BYTES = MESSAGE_SPECS[MessageType.BLOCKS].cap - 8 - 9
"""What one ``Blocks`` page may carry beside its envelope (start:u64, count varint)."""


class ConsensusNode:
    """A node's ledger and consensus engines behind one sans-IO :meth:`handle`.

    ``key`` is the masternode's operator key (``None``: a node that follows and
    validates but never votes). ``verifier`` checks signatures (default: a
    :class:`~timecoin_core.verify.SyncVerifier`); it is wrapped in a
    :class:`~timecoin_core.verify.cache.CachingVerifier` so a signature is verified
    once however often the node meets it.
    """

    def __init__(
        self,
        network: Network,
        key: PrivateKey | None = None,
        *,
        verifier: Verifier | None = None,
        config: NodeConfig | None = None,
    ) -> None:
        self.network = network
        self.key = key
        self.config = config if config is not None else NodeConfig()
        self.verifier = CachingVerifier(verifier if verifier is not None else SyncVerifier())
        self.signatures = SignatureCounts()
        self.chain = ChainState(network, reward_rule=self._check_rewards, block_validator=self._check_records)
        self.registry = Registry(network, self.chain.genesis.reward_txid)
        self.pool = TxPool(
            network,
            self.chain.utxos.copy(),
            max_bytes=self.config.pool_max_bytes,
            max_count=self.config.pool_max_count,
        )
        self.certificates: dict[bytes, FinalityCertificate] = {}
        self.evidence: OrderedDict[bytes, Evidence] = OrderedDict()
        """Pending evidence not yet in a block, one per offender (keyed by operator key)."""
        self.commits: dict[int, CommitCertificate] = {}
        self._tx_checker = _Checker(self.verifier, self.signatures, "transactions")
        self._orphans = OrphanBuffer(
            max_count=self.config.max_orphans, max_bytes=self.config.max_orphan_bytes, ttl=self.config.orphan_ttl
        )
        # Certified transactions waiting for parents: the network decided them, so junk
        # orphans must never push them out; bounded by bytes, from one shared origin.
        self._final_orphans = OrphanBuffer(
            max_count=self.config.pool_max_count,
            max_bytes=self.config.max_final_orphan_bytes,
            origin_share=1.0,
            ttl=float("inf"),
        )
        self._registering: dict[bytes, bytes] = {}
        """Operator key -> txid of a registration in the pool (stale entries are ignored)."""
        # Bodies of valid double spends and of transactions that timed out, kept so a
        # quorum that forms later can still finalize them: bounded by count and bytes.
        self._parked = OrphanBuffer(
            max_count=self.config.max_orphans,
            max_bytes=self.config.max_parked_bytes,
            origin_share=1.0,
            ttl=float("inf"),
        )
        # Conflicting variants seen per outpoint (the pool's holder not counted).
        self._variants: OrderedDict[OutPoint, set[bytes]] = OrderedDict()
        # Announced transactions this node wants: one peer asked at a time, the next
        # announcer after a timeout or NotFound (re-gossip goes by hash).
        self._inventory = InventoryTracker(timeout=self.config.regossip_interval)
        self._validated: OrderedDict[tuple[bytes, bytes], bytes | None] = OrderedDict()
        self._restored_votes: list[BlockVote | LockedValue] = []
        self._skews: deque[float] = deque(maxlen=11)
        self._proposal_skews: dict[bytes, float] = {}
        self._skew_reported = False
        self._now = 0.0
        self._wall = 0.0
        self.finality = FinalityEngine(
            self.registry.voting_set(0),
            chain_id=network.chain_id,
            key=key,
            check_signatures=_Checker(self.verifier, self.signatures, "finality_votes"),
            config=self.config.finality_config(network),
        )
        self.bft = BlockEngine(
            network.chain_id,
            key,
            lambda height: self.registry.voting_set_for_height(height),
            self._seed_for,
            _Source(self),
            _Checker(self.verifier, self.signatures, "block_votes"),
            self.config.bft_timeouts(network),
        )

    @classmethod
    def restore(
        cls,
        network: Network,
        key: PrivateKey | None,
        state: RestoredState,
        now: float,
        *,
        verifier: Verifier | None = None,
        config: NodeConfig | None = None,
    ) -> ConsensusNode:
        """A node resuming from durable state (``await timecoin_core.store.load_node_state(store)``).

        The chain and registry come from the stored blocks; the finality engine keeps
        every outpoint this masternode already voted on (so it can never vote for a
        conflicting transaction after a restart); final transactions not yet in a block
        re-enter the pool as final with their certificates; pending evidence and recent
        commit certificates are restored, and so are this masternode's block votes of the
        next height and the value it locked on (so it neither signs a conflicting vote
        nor forgets what it must re-propose). What is not durable — pending transactions,
        other votes, the rest of the BFT round in progress — is learned again from
        peers. Call :meth:`start` next.
        """
        node = cls(network, key, verifier=verifier, config=config)
        chain = state.chain
        chain.reward_rule = node._check_rewards
        chain.block_validator = node._check_records
        node.chain = chain
        node.registry = state.registry
        node.pool = TxPool(
            network, chain.utxos.copy(), max_bytes=node.config.pool_max_bytes, max_count=node.config.pool_max_count
        )
        node._now = node._wall = now
        for outcome in node.pool.add_many([tx for tx, _ in state.finals], now, node._tx_checker, final=True):
            if outcome.error is not None:
                raise outcome.error
        node.certificates = {tx.txid: certificate for tx, certificate in state.finals}
        for evidence in state.evidence:
            node.evidence[evidence.offender] = evidence
        node.commits = dict(state.commits)
        # The BFT engine takes this node's block votes and locked values of the height it
        # resumes at (BlockEngine.start's signed=): the lock, its value and its polka.
        node._restored_votes = [
            v
            for v in (*state.signed_votes, *state.locked_values)
            if isinstance(v, BlockVote | LockedValue) and v.height > chain.height
        ]
        node.finality = FinalityEngine(
            node.registry.voting_set_for_height(chain.height + 1),
            chain_id=network.chain_id,
            key=key,
            check_signatures=_Checker(node.verifier, node.signatures, "finality_votes"),
            config=node.config.finality_config(network),
            restore=state.voted_outpoints,
        )
        return node

    # -- public surface ------------------------------------------------------------------

    @property
    def operator(self) -> bytes | None:
        """This node's operator key, or None for a non-voting node."""
        return self.key.public_key.data if self.key is not None else None

    def _tick(self, now: float, wall: float | None) -> None:
        self._now = now
        self._wall = now if wall is None else wall

    def start(self, now: float, *, wall: float | None = None) -> list[NodeAction]:
        """Start the node: the first height begins one ``block_interval`` from ``now``.

        Two clocks (every method that takes ``now`` takes ``wall`` too): ``now`` is
        monotonic seconds, for timers and expiry (it must never go back); ``wall`` is
        unix time, for block timestamps and the clock checks on proposals (default:
        ``now``, for shells whose one clock is wall time). A shell passes
        ``time.monotonic()`` and ``time.time()``; a wall clock that jumps moves no timer.
        """
        self._tick(now, wall)
        return [
            SetTimer(("node", "next-height"), now + self.network.block_interval),
            SetTimer(("node", "regossip"), now + self.config.regossip_interval),
        ]

    def submit(self, tx: Transaction, now: float, *, wall: float | None = None) -> list[NodeAction]:
        """Admit a transaction from a local client, raising if it is not acceptable.

        Raises :class:`~timecoin_core.validation.TransactionError` for an invalid
        transaction and :class:`~timecoin_core.mempool.PoolError` (for example
        :class:`~timecoin_core.mempool.DoubleSpendError`) when the pool refuses it, and
        :class:`~timecoin_core.consensus.registry.RegistrationError` (or its
        :class:`~timecoin_core.consensus.registry.DuplicateRegistrationError`) for an
        invalid masternode registration.
        """
        self._tick(now, wall)
        if tx.txid in self.pool or self.chain.transaction(tx.txid) is not None:
            return []
        self.registry.check_registrations([tx])
        self._check_pool_registrations(tx)
        self.pool.add(tx, now, self._tx_checker)
        return [Broadcast(tx), *self._finality(TxAdmitted.of(tx, registration_claims(tx)), now)]

    def contest(self, txid: bytes) -> Contest | None:
        """The conflict ``txid`` is part of (its rivals and the votes each has), or ``None``.

        A wallet or RPC reports such a transaction as conflicted, naming the rivals; a
        :attr:`~timecoin_core.consensus.finality.Contest.deadlocked` one will not become
        final unless a masternode equivocates.
        """
        return self.finality.contest(txid)

    def signature_checks(self, event: NodeEvent) -> list[SignatureCheck]:
        """The signature checks :meth:`handle` would make for ``event``, without making them.

        A shell verifies them off its event loop with the pluggable verifier, through
        this node's :attr:`verifier` (``node.verifier.submit_many(checks)``: a
        :class:`~timecoin_core.verify.cache.CachingVerifier` that remembers what it found
        valid), then calls :meth:`handle`, which answers every one of them from that
        cache instead of verifying on the caller's thread. Cheap: decoding and lookups,
        no curve arithmetic. Checks that fail stay unknown to the cache, so ``handle``
        meets them again and refuses the event exactly as it would have; what cannot be
        known yet (an orphan's inputs, a vote from a non-voter) is simply left out.
        Synchronous callers (LocalChain, the simulator, tests) just call ``handle``.
        """
        chain_id = self.network.chain_id
        if isinstance(event, Transaction):
            return self._transaction_checks([event], _LiveCoins(self.pool))
        if isinstance(event, VoteBatch):
            voting = self.finality.voting_set
            return [event.signature_check(chain_id)] if voting.epoch == event.epoch and event.voter in voting else []
        if isinstance(event, FinalityCertificate):
            try:
                voting = self.registry.voting_set(event.epoch)
            except TimecoinError:
                return []
            return event.signature_checks(chain_id) if event.check_structure(voting) else []
        if isinstance(event, BlockVote):
            return [event.signature_check(chain_id)]
        if isinstance(event, Proposal):
            return [event.signature_check(chain_id), *self._value_checks(event.value)]
        if isinstance(event, Commit):
            return [*event.certificate.signature_checks(chain_id), *self._value_checks(event.value)]
        if isinstance(event, DoubleVoteEvidence | ConflictingVotesEvidence):
            seen: list[SignatureCheck] = []

            def collect(checks: Sequence[SignatureCheck]) -> list[bool]:
                seen.extend(checks)
                return [True] * len(checks)

            event.verify(chain_id, collect)
            return seen
        return []

    def _value_checks(self, value: bytes) -> list[SignatureCheck]:
        try:
            proposal = ProposalValue.from_bytes(value, self.network.max_block_size)
        except DecodeError:
            return []
        block = proposal.block
        checks = [SignatureCheck(block.header.proposer, block.signing_message(self.network), block.signature)]
        for raw in block.evidence:
            try:
                record = decode_record(raw)
            except DecodeError:
                continue
            if isinstance(record, CommitCertificate):
                checks += record.signature_checks(self.network.chain_id)
        for certificate in proposal.certificates:
            try:
                voting = self.registry.voting_set(certificate.epoch)
            except TimecoinError:
                continue
            if certificate.check_structure(voting):
                checks += certificate.signature_checks(self.network.chain_id)
        return checks + self._transaction_checks(block.transactions, self.chain)

    def _transaction_checks(self, txs: Sequence[Transaction], view: OutputView) -> list[SignatureCheck]:
        # Outputs created earlier in the same list count as inputs for later ones (a
        # block's transactions spend each other's outputs).
        created: dict[OutPoint, TxOut] = {}
        checks: list[SignatureCheck] = []
        chain_id = self.network.chain_id
        for tx in txs:
            txid = tx.txid
            for i, txin in enumerate(tx.inputs):
                out = created.get(txin.outpoint) or view.get_output(txin.outpoint)
                if out is not None:
                    checks.append(SignatureCheck(txin.public_key, sighash(chain_id, txid, i, out), txin.signature))
            for index, out in enumerate(tx.outputs):
                created[OutPoint(txid, index)] = out
        return checks

    def handle(
        self, event: NodeEvent, now: float, *, wall: float | None = None, origin: PeerId | None = None
    ) -> list[NodeAction]:
        """Process one event at monotonic time ``now`` (wall time ``wall``, see :meth:`start`).

        ``origin`` names the peer the message came from (``None``: the local client or a
        timer). A relay of the message never goes back to it (``Broadcast.exclude``), and
        a message only a misbehaving peer sends earns it a :class:`Penalize`: a
        transaction that no chain state can make valid, a signature that does not verify
        under the key the message names, a certificate whose signatures do not verify.
        Stale, conflicting or unaffordable messages are never penalized: honest peers
        relay those. Returns the actions to carry out, in order.
        """
        actions = self._handle(event, now, wall, origin)
        if origin is None:
            return actions
        relayed = [
            Broadcast(a.message, exclude=origin) if isinstance(a, Broadcast) and a.message is event else a
            for a in actions
        ]
        offence = self._offence(event, relayed)
        if offence is not None:
            relayed.append(Penalize(origin, offence[0], offence[1]))
        return relayed

    def _offence(self, event: NodeEvent, actions: list[NodeAction]) -> tuple[Offence, str] | None:
        # Only what no honest relay can send. The checks below were all made (and the
        # valid ones cached) while handling, so asking the verifier again costs a lookup,
        # except for a signature that failed: the sender pays for that one twice.
        chain_id = self.network.chain_id
        if isinstance(event, Transaction):
            for action in actions:
                if isinstance(action, TxDropped) and action.txid == event.txid and action.reason in _PERMANENT:
                    return Offence.INVALID_TRANSACTION, action.reason
            return None
        checks: list[SignatureCheck] = []
        offence = Offence.BAD_SIGNATURE
        if isinstance(event, VoteBatch | DoubleVoteEvidence | ConflictingVotesEvidence):
            checks = self.signature_checks(event)
        elif isinstance(event, BlockVote | Proposal):
            signer = event.voter if isinstance(event, BlockVote) else event.proposer
            if event.height == self.chain.height + 1 and signer in self.registry.voting_set_for_height(event.height):
                checks = [event.signature_check(chain_id)]
        elif isinstance(event, FinalityCertificate):
            checks, offence = self.signature_checks(event), Offence.INVALID_CERTIFICATE
        elif isinstance(event, Commit) and event.height == self.chain.height + 1:
            # The engine verified this one while handling it (cache hits if it was good);
            # older or further heights it skips unverified, and so does the blame.
            voting = self.registry.voting_set_for_height(event.height)
            voters = event.certificate.voters
            if all(v in voting for v in voters) and voting.has_quorum(voters):
                checks, offence = event.certificate.signature_checks(chain_id), Offence.INVALID_CERTIFICATE
        if checks and not all(self.verifier.verify_many(checks)):
            return offence, f"{type(event).__name__} with a signature that does not verify"
        return None

    def _handle(self, event: NodeEvent, now: float, wall: float | None, origin: PeerId | None) -> list[NodeAction]:
        self._tick(now, wall)
        if isinstance(event, Transaction):
            return self._on_transaction(event, now, origin)
        if isinstance(event, VoteBatch):
            return self._finality(VoteBatchReceived(event), now)
        if isinstance(event, FinalityCertificate):
            return self._finality(CertificateReceived(event), now)
        if isinstance(event, Proposal):
            return self._bft(ProposalReceived(event), now)
        if isinstance(event, BlockVote):
            return self._bft(VoteReceived(event), now)
        if isinstance(event, Commit):
            return self._bft(CommitReceived.of(event), now)
        if isinstance(event, DoubleVoteEvidence | ConflictingVotesEvidence):
            return self._on_evidence(event)
        if isinstance(event, TimerFired):
            return self._on_timer(event.key, now)
        if isinstance(event, Inv | GetData | NotFound):
            return self._on_inventory(event, now, origin)
        raise InvalidArgumentError("event", f"unknown event {type(event).__name__}")

    # -- block sync ----------------------------------------------------------------------

    def status(self) -> Status:
        """This node's position, for a peer's sync planner (the answer to ``GetStatus``).

        ``epoch`` is the epoch of the next height; ``final_cursor`` is 0 (no log of
        finalized transactions is served yet).
        """
        height = self.chain.height
        return Status(height, self.chain.tip.hash, epoch_of(height + 1, self.network.epoch_length), 0)

    def blocks_page(self, request: GetBlocks) -> Blocks:
        """The answer to ``request``: committed heights from ``request.start``, each with its certificate.

        Each entry is a :class:`~timecoin_core.consensus.bft_messages.Commit` whose value
        is the block as a :class:`ProposalValue` without finality certificates (the
        commit certificate is the proof: 2/3 of the weight checked them). The
        certificate of height ``h`` below the tip is the parent record block ``h + 1``
        carries (so the receiver verifies each set of signatures once); the tip's is
        :attr:`commits`. The page holds at most ``request.count`` heights and stops
        before ``request.max_bytes`` (counted by
        :func:`~timecoin_core.consensus.sync.commit_size`) or the wire's cap for
        ``Blocks`` would be passed, but always holds the first height when it exists. It
        is empty when ``start`` is 0 (genesis has no certificate) or above the tip.

        This node serves from its in-memory chain, which keeps every block. A server
        whose chain is pruned (or that starts from a store without loading every block)
        answers heights it no longer holds in memory from its store, in the same form:
        ``Store.blocks(start, start + count)`` gives each block and the certificate
        recorded with it (``StoredBlock.certificate``) — for a block below the tip the
        parent record of the next stored block may be used instead, as here; a height
        neither holds ends the page there (an empty page says "I cannot serve this",
        which the planner treats as a claim not delivered, never as an offence).
        """
        if not isinstance(request, GetBlocks):
            raise InvalidArgumentError("request", f"expected GetBlocks, got {type(request).__name__}")
        start = request.start
        tip = self.chain.height
        budget = min(request.max_bytes, _MAX_PAGE_BYTES)
        commits: list[Commit] = []
        used = 0
        height = start
        while start >= 1 and height <= tip and len(commits) < request.count:
            certificate = self._certificate_of(height)
            block = self.chain.block_at(height)
            if certificate is None or block is None:
                break
            commit = Commit(ProposalValue(block, ()).to_bytes(), certificate)
            size = commit_size(commit)
            if commits and used + size > budget:
                break
            commits.append(commit)
            used += size
            height += 1
        return Blocks(start, tuple(commits))

    def _certificate_of(self, height: int) -> CommitCertificate | None:
        child = self.chain.block_at(height + 1)
        if child is None:
            return self.commits.get(height)
        for raw in child.evidence:
            if raw[:1] == bytes((RECORD_COMMIT,)):
                try:
                    record = decode_record(raw)
                except DecodeError:
                    return None
                if isinstance(record, CommitCertificate):
                    return record
        return None

    def apply_commit(self, commit: Commit, now: float, *, wall: float | None = None) -> list[NodeAction]:
        """Apply a synced ``commit`` at height ``chain.height + 1``; returns the actions of a commit.

        The commit certificate is checked against the voting set of that height (signers
        are voters, >= 2/3 of the weight, every signature valid), then the block with
        every chain rule (:meth:`~timecoin_core.chain.ChainState.apply_block`) except
        the finality certificates of its transactions: the commit certificate proves 2/3
        of the weight checked those. The node then moves on exactly as after a block it
        decided itself: :class:`BlockCommitted` (persist it), :class:`TxFinal` is not
        repeated but pending transactions the block confirmed leave the pool, the
        registry, finality engine (epoch) and evidence follow, and the next height starts
        by the ``("node", "next-height")`` timer (at once when the block is old).

        :raises InvalidArgumentError: ``commit`` is not a :class:`Commit`, or not for the
            next height (the caller's ordering, never the sender's fault).
        :raises SyncCertificateError: the certificate does not prove the value.
        :raises SyncBlockError: the value is not a valid next block.
        Either leaves the node exactly as it was; its ``offence`` names what the sender did.
        """
        self._tick(now, wall)
        if not isinstance(commit, Commit):
            raise InvalidArgumentError("commit", f"expected a Commit, got {type(commit).__name__}")
        height = self.chain.height + 1
        certificate = commit.certificate
        if certificate.height != height:
            raise InvalidArgumentError("commit", f"commit for height {certificate.height}, the chain needs {height}")
        try:
            block = ProposalValue.from_bytes(commit.value, self.network.max_block_size).block
        except DecodeError as exc:
            raise SyncBlockError(f"undecodable value at height {height}: {exc}", exc) from None
        if certificate.value_id != block.hash:
            raise SyncCertificateError(f"the certificate at height {height} is for another value")
        checker = _Checker(self.verifier, self.signatures, "block_votes")
        if not certificate.verify(self.registry.voting_set_for_height(height), self.network.chain_id, checker):
            raise SyncCertificateError(f"the certificate at height {height} does not carry a valid quorum")
        try:
            self.chain.apply_block(block, self._tx_checker, proof=_Committed(certificate))
        except BlockError as exc:
            raise SyncBlockError(f"invalid block at height {height}: [{exc.code}] {exc}", exc) from None
        return self._committed(block, certificate, now)

    # -- inventory -----------------------------------------------------------------------

    def _knows(self, txid: bytes) -> bool:
        return (
            txid in self.pool
            or txid in self._parked
            or txid in self._orphans
            or txid in self._final_orphans
            or self.chain.transaction(txid) is not None
        )

    def _on_inventory(self, event: Inv | GetData | NotFound, now: float, origin: PeerId | None) -> list[NodeAction]:
        # Only transactions go by announcement; an origin is needed to answer at all.
        if origin is None:
            return []
        txids = [item.hash for item in event.items if item.kind is InvKind.TX]
        if isinstance(event, Inv):
            return self._requests(self._inventory.announced(origin, [t for t in txids if not self._knows(t)], now))
        if isinstance(event, NotFound):
            return self._requests(self._inventory.not_found(origin, txids, now))
        out: list[NodeAction] = []
        missing: list[InvItem] = []
        for txid in txids:
            tx = self._body(txid)
            if tx is None:
                missing.append(InvItem(InvKind.TX, txid))
            else:
                out.append(SendTo(origin, tx))
        if missing:
            out.append(SendTo(origin, NotFound(tuple(missing))))
        return out

    def _body(self, txid: bytes) -> Transaction | None:
        entry = self.pool.get(txid)
        if entry is not None:
            return entry.tx
        confirmed = self.chain.transaction(txid)
        return confirmed[0] if confirmed is not None else None

    def _requests(self, requests: dict[PeerId, list[bytes]]) -> list[NodeAction]:
        return [
            SendTo(peer, GetData(tuple(InvItem(InvKind.TX, t) for t in txids[i : i + MAX_INV_ITEMS])))
            for peer, txids in requests.items()
            for i in range(0, len(txids), MAX_INV_ITEMS)
        ]

    # -- transactions --------------------------------------------------------------------

    def _on_transaction(self, tx: Transaction, now: float, origin: PeerId | None = None) -> list[NodeAction]:
        txid = tx.txid
        if origin is not None:
            self._inventory.received(origin, txid, now)
        if self._knows(txid):
            return []
        certificate = self.finality.certificate(txid)
        if certificate is not None:
            # Final already (we heard the votes or the certificate before the body).
            return self._add_final(tx, certificate, now)
        try:
            self.registry.check_registrations([tx])
        except RegistrationError as exc:
            return [TxDropped(txid, exc.code)]
        try:
            self._check_pool_registrations(tx)
        except DuplicateRegistrationError:
            # Another registration of this key waits in the pool: the two race like two
            # spends of one coin (their claims conflict in the finality votes), and a
            # quorum may still pick this one. Dropping its body would leave a later
            # certificate for it with nothing to commit (simulator seed 2105).
            return self._on_conflict(tx, now)
        try:
            self.pool.add(tx, now, self._tx_checker)
        except DoubleSpendError:
            return self._on_conflict(tx, now)
        except (PendingParentError, MissingInputError):
            # Bounded per origin: one peer's junk orphans cannot push out another's.
            self._orphans.add(tx, now, origin)
            return []
        except (TransactionError, PoolError, RegistrationError) as exc:
            return [TxDropped(txid, getattr(exc, "code", "invalid"))]
        return [Broadcast(tx), *self._finality(TxAdmitted.of(tx, registration_claims(tx)), now)]

    def _on_conflict(self, tx: Transaction, now: float) -> list[NodeAction]:
        # A double spend is only worth telling the finality engine (and peers) about
        # if it is otherwise valid: the engine uses it to refuse votes and build evidence.
        # Variants cost their sender nothing (no fee is ever paid), so at most
        # ``max_conflict_variants`` per outpoint are verified and kept, and only the
        # first is relayed: one is all peers need to refuse their votes.
        outpoints = [i.outpoint for i in tx.inputs]
        seen = [self._variants.get(o, set()) for o in outpoints]
        if any(len(v) >= self.config.max_conflict_variants for v in seen):
            return [TxDropped(tx.txid, DropReason.TOO_MANY_VARIANTS)]
        try:
            # The batch form: validate_transaction would also try other networks' chain
            # ids on a bad signature, work a peer must not be able to buy.
            validate_transactions([tx], _LiveCoins(self.pool), self.network, self._tx_checker)[0].raise_for_error()
        except TransactionError as exc:
            return [TxDropped(tx.txid, exc.code)]
        first = not any(seen)
        for outpoint in outpoints:
            self._variants.setdefault(outpoint, set()).add(tx.txid)
        while len(self._variants) > 16 * self.config.max_orphans:
            self._variants.popitem(last=False)
        self._parked.add(tx, now)
        relay: list[NodeAction] = [Broadcast(tx)] if first else []
        return [*relay, *self._finality(TxConflicted.of(tx, registration_claims(tx)), now)]

    def _check_pool_registrations(self, tx: Transaction) -> None:
        # A second registration of one key must not reach a vote while the first waits
        # in the pool: only one of them could ever go into a block.
        parsed = check_registration(tx, self.network)
        if parsed is None:
            return
        other = self._registering.get(parsed[0])
        if other is not None and other != tx.txid and other in self.pool:
            raise DuplicateRegistrationError("the operator key is already being registered", tx.txid)
        self._registering[parsed[0]] = tx.txid

    def _retry_orphans(self, now: float) -> list[NodeAction]:
        actions: list[NodeAction] = []
        has_coin = self._has_coin
        progress = True
        while progress and (self._orphans or self._final_orphans):
            progress = False
            for orphan in self._final_orphans.ready(has_coin):
                certificate = self.certificates.get(orphan.tx.txid)
                if certificate is not None:
                    before = len(self.pool)
                    actions += self._add_final(orphan.tx, certificate, now, retry=False)
                    progress = progress or len(self.pool) != before
            for orphan in self._orphans.ready(has_coin):
                before = len(self.pool)
                actions += self._on_transaction(orphan.tx, now, orphan.origin)
                progress = progress or len(self.pool) != before
        return actions

    def _has_coin(self, outpoint: OutPoint) -> bool:
        return self.pool.utxos.coin(outpoint) is not None

    # -- finality ------------------------------------------------------------------------

    def _finality(self, event: object, now: float) -> list[NodeAction]:
        out: list[NodeAction] = []
        for action in self.finality.handle(event, now):  # type: ignore[arg-type]
            if isinstance(action, Broadcast):
                out.append(action)
            elif isinstance(action, SetTimer):
                out.append(SetTimer(("finality", action.key), action.at))
            elif isinstance(action, Finalized):
                out += self._on_finalized(action.txid, action.certificate, now)
            elif isinstance(action, Rejected):
                out += self._on_rejected(action.txid, action.reason.value, now)
            elif isinstance(action, FinalityEvidenceFound):
                out += self._on_evidence(action.evidence)
            elif isinstance(action, VoteRecorded):
                out.append(action)
        return out

    def _on_finalized(self, txid: bytes, certificate: FinalityCertificate, now: float) -> list[NodeAction]:
        if self.chain.transaction(txid) is not None:
            return []
        self.certificates[txid] = certificate
        entry = self.pool.get(txid)
        if entry is not None:
            if not entry.final:
                self.pool.mark_final(txid)
        else:
            tx = self._parked.pop(txid) or self._orphans.pop(txid)
            if tx is not None:
                self._admit_final(tx, now)
        return [TxFinal(txid, certificate), *self._retry_orphans(now)]

    def _add_final(
        self, tx: Transaction, certificate: FinalityCertificate, now: float, *, retry: bool = True
    ) -> list[NodeAction]:
        self.certificates[tx.txid] = certificate
        self._admit_final(tx, now)
        return [TxFinal(tx.txid, certificate), *(self._retry_orphans(now) if retry else [])]

    def _admit_final(self, tx: Transaction, now: float) -> None:
        try:
            self.pool.add(tx, now, self._tx_checker, final=True)
        except (TransactionError, PoolError):
            # Its parents are not known here yet; retried when they arrive.
            self._final_orphans.add(tx, now)

    def _on_rejected(self, txid: bytes, reason: str, now: float) -> list[NodeAction]:
        entry = self.pool.get(txid)
        if entry is None or entry.final:
            if reason != "timeout":
                self._parked.pop(txid)
            return []
        self.pool.reject(txid)
        if reason == "timeout":
            # Locks are released, but a quorum may still form once the network heals:
            # keep the body so the transaction can enter the pool as final then.
            self._parked.add(entry.tx, now)
        return [TxDropped(txid, reason)]

    # -- evidence ------------------------------------------------------------------------

    def _on_evidence(self, evidence: Evidence) -> list[NodeAction]:
        # One proof per offender is enough to remove it; more would only fill blocks.
        offender = evidence.offender
        if offender in self.evidence or not self._evidence_admissible(evidence):
            return []
        self.evidence[offender] = evidence
        while len(self.evidence) > self.config.max_evidence:
            self.evidence.popitem(last=False)
        return [Broadcast(evidence)]

    def _evidence_admissible(self, evidence: Evidence) -> bool:
        offender = evidence.offender
        if self.registry.masternode(offender) is None or self.registry.is_banned(offender):
            return False
        checker = _Checker(self.verifier, self.signatures, "block_votes")
        return evidence.verify(self.network.chain_id, checker)

    # -- blocks --------------------------------------------------------------------------

    def _bft(self, event: object, now: float) -> list[NodeAction]:
        out: list[NodeAction] = []
        for action in self.bft.handle(event, now):  # type: ignore[arg-type]
            out += self._bft_action(action, now)
        return out

    def _bft_action(self, action: object, now: float) -> list[NodeAction]:
        if isinstance(action, Broadcast | BlockVoteSigned):
            return [action]
        if isinstance(action, SetTimer):
            return [SetTimer(("bft", action.key), action.at)]
        if isinstance(action, Decide):
            # A decision for a height block sync already applied is old news.
            return self._on_decide(action, now) if action.height == self.chain.height + 1 else []
        if isinstance(action, BftEvidenceFound):
            return self._on_evidence(action.evidence)
        return []

    def _seed_for(self, height: int) -> bytes:
        # The proposer order of a height must not depend on anything the previous
        # proposer chose: a parent hash let it grind its block (timestamp, transaction
        # set) until it or an ally led the next height. The digest of the epoch's
        # voting set was fixed when the epoch began, by registrations that took
        # collateral and finality to make; the height is mixed in by select_proposer.
        # The argument, and the lever that remains, are in docs/consensus.md.
        return self.registry.voting_set_for_height(height).digest()

    def _proposer_payload(self, operator: bytes) -> bytes:
        masternode = self.registry.masternode(operator)
        if masternode is None:
            raise ProposerError(f"proposer {operator.hex()} is not a registered masternode")
        return masternode.owner

    def build_value(self, height: int, round: int) -> tuple[bytes, bytes]:
        """The block this node proposes at ``height`` (``ValueSource.build``)."""
        if self.key is None:
            raise ConsensusStateError("a node without a key cannot propose")
        if height != self.chain.height + 1:
            raise InvalidArgumentError("height", f"cannot build height {height} on a chain at {self.chain.height}")
        budget = self.network.max_block_size - 100_000
        txs = _certified_closure(self.pool.block_template(budget), self.certificates)
        txs = self._registrable(txs)
        fees = sum(self._fee_of(tx) for tx in txs)
        rewards = self._rewards(height, fees, self.key.public_key.data)
        records = [encode_record(e) for e in self.evidence.values() if not self.registry.is_banned(e.offender)]
        if height > 1:
            # The engine's kept certificate also holds precommits that arrived after
            # the quorum: everyone who took part is recorded, not only the fastest.
            kept = self.bft.commit_for(height - 1)
            records.append(encode_record(kept.certificate if kept is not None else self.commits[height - 1]))
        certificates = tuple(self.certificates[tx.txid] for tx in txs)
        block = self.chain.build_block(
            self.key,
            txs,
            timestamp=max(int(self._wall + self._clock_correction()), self.chain.tip.header.timestamp + 1),
            rewards=list(rewards),
            certificate_digests=[c.digest() for c in certificates],
            evidence=records,
        )
        return block.hash, ProposalValue(block, certificates).to_bytes()

    def _fee_of(self, tx: Transaction) -> int:
        entry = self.pool.get(tx.txid)
        assert entry is not None
        return entry.fee

    @property
    def clock_skew(self) -> float:
        """How far this node's clock is behind the network's (seconds; negative: ahead).

        The median of ``block timestamp - local time`` over the last 11 blocks committed
        while in step with the network and the latest valid proposal of each proposer:
        a byzantine minority of proposers cannot move it far, and a node whose clock is
        so far behind that it refuses every proposal still learns its skew from them.
        """
        ordered = sorted([*self._skews, *self._proposal_skews.values()])
        if not ordered:
            return 0.0
        return ordered[len(ordered) // 2]

    def validate_decided(self, height: int, value: bytes) -> bytes | None:
        """As :meth:`validate_value` for a value 2/3 of the weight committed (``ValueSource.validate_decided``).

        The local clock bound is skipped: a commit certificate overrides this node's
        view of the time, so a node whose clock is behind still applies the chain.
        """
        return self._validate(height, value, clock=False)

    def validate_value(self, height: int, value: bytes) -> bytes | None:
        """The block hash if ``value`` is a valid proposal for ``height`` (``ValueSource.validate``).

        The proposer's own value goes through exactly the same checks. Verdicts that
        depend only on the value and the chain it extends are cached per (tip, digest of
        the whole value) — not per block hash, which does not cover the certificates
        sent beside the block; the height and clock checks are not cached, since they
        change with time.
        """
        return self._validate(height, value, clock=True)

    def _validate(self, height: int, value: bytes, *, clock: bool) -> bytes | None:
        try:
            proposal = ProposalValue.from_bytes(value, self.network.max_block_size)
        except DecodeError:
            return None
        block = proposal.block
        if block.height != height or height != self.chain.height + 1:
            return None
        key = (self.chain.tip.hash, tagged_hash(Tag.PROPOSAL, value))
        if key in self._validated:
            verdict = self._validated[key]
        else:
            try:
                self.chain.check_block(block, self._tx_checker, proof=proposal.certificates)
                verdict = block.hash
            except TimecoinError:
                verdict = None
            self._validated[key] = verdict
            while len(self._validated) > 64:
                self._validated.popitem(last=False)
        if verdict is None or not clock:
            return verdict
        # A valid proposal tells how far this clock is from its proposer's: the latest
        # offset per proposer feeds the skew estimate (a median, so a byzantine minority
        # of proposers cannot move it far).
        self._proposal_skews[block.header.proposer] = block.header.timestamp - self._wall
        # The upper bound on a proposal's time: the local clock, corrected when it has
        # been measured to run materially behind the network (never forward: a clock
        # ahead gets no licence), plus the allowed drift. The lower bound (after the
        # parent) is the chain's.
        if block.header.timestamp > self._wall + self._clock_correction() + self.config.max_clock_drift:
            return None
        return verdict

    def expected_rewards(self, transactions: Sequence[Transaction], proposer: bytes) -> tuple[TxOut, ...]:
        """The reward outputs a block of ``transactions`` on the tip proposed by ``proposer`` must carry."""
        return self._rewards(self.chain.height + 1, self.chain.fees(transactions), proposer)

    def _rewards(self, height: int, fees: int, proposer: bytes) -> tuple[TxOut, ...]:
        return block_rewards(
            self.network,
            self.registry.reward_recipients(height),
            fees,
            self._proposer_payload(proposer),
            self.chain.subsidy(),
        )

    def _registrable(self, txs: list[Transaction]) -> list[Transaction]:
        # Leave out registrations the registry would refuse (a key registered since the
        # transaction became final), with their descendants: the block must stay valid.
        chosen: list[Transaction] = []
        left_out: set[bytes] = set()
        for tx in txs:
            try:
                if any(i.outpoint.txid in left_out for i in tx.inputs):
                    raise RegistrationError("a parent was left out", tx.txid)
                self.registry.check_registrations([*(c for c in chosen if c.memo[:4] == b"TCMN"), tx])
            except RegistrationError:
                left_out.add(tx.txid)
                continue
            chosen.append(tx)
        return chosen

    def _check_finality(self, block: Block, verifier: Verifier, proof: object) -> None:
        # Cheap checks for every certificate first, then all signatures in one batch:
        # a junk certificate costs a hash, never a signature check.
        txs, digests = block.transactions, block.certificate_digests
        if not txs:
            return
        if not isinstance(proof, tuple) or not all(isinstance(c, FinalityCertificate) for c in proof):
            raise FinalityProofError("no finality certificates given for the block's transactions", block.hash)
        if len(proof) != len(txs):
            raise FinalityProofError(f"{len(proof)} certificates for {len(txs)} transactions", block.hash)
        newest = epoch_of(block.height, self.network.epoch_length)
        sets = {}
        for position, (tx, certificate, digest) in enumerate(zip(txs, proof, digests, strict=True)):
            if certificate.txid != tx.txid or certificate.digest() != digest:
                raise FinalityProofError(f"certificate {position} is not transaction {position}'s", block.hash)
            epoch = certificate.epoch
            if epoch > newest:
                raise FinalityProofError(f"certificate {position} is from a future epoch {epoch}", block.hash)
            if epoch not in sets:
                try:
                    sets[epoch] = self.registry.voting_set(epoch)
                except TimecoinError:
                    raise FinalityProofError(
                        f"certificate {position} is from epoch {epoch}, whose voting set is no longer kept", block.hash
                    ) from None
            if not certificate.check_structure(sets[epoch]):
                raise FinalityProofError(f"certificate {position} does not carry a quorum", block.hash)
        checker = _Checker(self.verifier, self.signatures, "finality_votes")
        verdicts = verify_certificates(proof, sets, self.network.chain_id, checker)
        if not all(verdicts):
            raise FinalityProofError(f"certificate {verdicts.index(False)} has an invalid signature", block.hash)

    def _check_rewards(self, block: Block, fees: int) -> None:
        expected = self._rewards(block.height, fees, block.header.proposer)
        if block.rewards != expected:
            raise ConsensusRecordError("reward outputs differ from the reward schedule", block.hash)

    def _check_records(self, block: Block, chain: ChainState, verifier: Verifier, proof: object) -> None:
        check_proposer_signature(block, chain, verifier)
        if len(block.certificate_digests) != len(block.transactions):
            raise FinalityProofError(
                f"{len(block.certificate_digests)} certificate digests for {len(block.transactions)} transactions",
                block.hash,
            )
        height = block.height
        if block.header.proposer not in self.registry.voting_set_for_height(height):
            raise ProposerError(f"proposer {block.header.proposer.hex()} is not a voter at height {height}")
        commits = 0
        offenders: set[bytes] = set()
        for raw in block.evidence:
            try:
                record = decode_record(raw)
            except DecodeError as exc:
                raise ConsensusRecordError(f"undecodable consensus record: {exc}", block.hash) from None
            if isinstance(record, CommitCertificate):
                commits += 1
                parent = chain.tip
                if (
                    record.height != height - 1
                    or record.value_id != parent.hash
                    or not record.verify(
                        self.registry.voting_set_for_height(height - 1),
                        self.network.chain_id,
                        _Checker(self.verifier, self.signatures, "block_votes"),
                    )
                ):
                    raise ConsensusRecordError("parent commit record is invalid", block.hash)
            else:
                if record.offender in offenders or not self._evidence_admissible(record):
                    raise ConsensusRecordError("evidence record is invalid or duplicated", block.hash)
                offenders.add(record.offender)
        if commits != (1 if height > 1 else 0):
            raise ConsensusRecordError("a block must carry exactly its parent's commit", block.hash)
        try:
            self.registry.check_registrations(block.transactions)
        except RegistrationError as exc:
            raise BlockRegistrationError(exc, block.hash) from None
        if not isinstance(proof, _Committed):
            # A verified commit certificate proves 2/3 of the weight checked finality.
            self._check_finality(block, verifier, proof)

    def _on_decide(self, decide: Decide, now: float) -> list[NodeAction]:
        proposal = ProposalValue.from_bytes(decide.value, self.network.max_block_size)
        block = proposal.block
        self.chain.apply_block(block, self._tx_checker, proof=proposal.certificates)
        return self._committed(block, decide.certificate, now, proposal.certificates)

    def _committed(
        self,
        block: Block,
        certificate: CommitCertificate,
        now: float,
        proof: tuple[FinalityCertificate, ...] = (),
    ) -> list[NodeAction]:
        # Everything a committed block changes beside the chain, whichever way it came
        # (decided here, or synced with its commit certificate).
        offenders: list[bytes] = []
        participants: tuple[bytes, ...] = ()
        for raw in block.evidence:
            record = decode_record(raw)
            if isinstance(record, CommitCertificate):
                participants = record.voters
            else:
                offenders.append(record.offender)
                self.evidence.pop(record.offender, None)
        old_epoch = epoch_of(block.height, self.network.epoch_length)
        self.registry.apply_block(block.height, block.transactions, offenders, participants)
        self.commits[block.height] = certificate
        self.commits.pop(block.height - 64, None)
        created = [(OutPoint(block.reward_txid, i), out) for i, out in enumerate(block.rewards)]
        self.pool.remove_confirmed(block.transactions, block.height, created)
        self._registering = {k: t for k, t in self._registering.items() if t in self.pool}
        for tx in block.transactions:
            self.certificates.pop(tx.txid, None)
            self._parked.pop(tx.txid)
            for txin in tx.inputs:
                self._variants.pop(txin.outpoint, None)
            self._orphans.pop(tx.txid)
            self._final_orphans.pop(tx.txid)
        out: list[NodeAction] = [BlockCommitted(block, certificate, proof)]
        out += self._finality(
            Checkpointed(
                block.txids,
                tuple(o for tx in block.transactions for o in (*(i.outpoint for i in tx.inputs), *registration_claims(tx))),
            ),
            now,
        )
        new_epoch = epoch_of(block.height + 1, self.network.epoch_length)
        if new_epoch != old_epoch:
            out += self._finality(EpochChanged(self.registry.voting_set(new_epoch)), now)
        interval = self.network.block_interval
        # A block more than two intervals old means the network is ahead of us (we are
        # catching up after a crash or partition): start the next height at once.
        behind = block.header.timestamp + 2 * interval < self._wall
        out.append(SetTimer(("node", "next-height"), now if behind else now + interval))
        if not behind:
            out += self._observe_skew(block.header.timestamp - self._wall)
        out += self._retry_orphans(now)
        return out

    def _clock_correction(self) -> float:
        # Only a clock measured to be materially behind is corrected (jitter and the
        # one-second steps of the parent rule are not skew), and never forward.
        # At least three observations first: a lone byzantine proposer must not be able
        # to talk a fresh node into accepting its future timestamps.
        if len(self._skews) + len(self._proposal_skews) < 3:
            return 0.0
        skew = self.clock_skew
        return skew if skew > self.config.max_clock_drift / 2 else 0.0

    def _observe_skew(self, observed: float) -> list[NodeAction]:
        self._skews.append(observed)
        skewed = abs(self.clock_skew) > self.config.max_clock_drift / 2
        if skewed == self._skew_reported:
            return []
        self._skew_reported = skewed
        return [ClockSkewed(self.clock_skew)]

    # -- timers --------------------------------------------------------------------------

    def _on_timer(self, key: Hashable, now: float) -> list[NodeAction]:
        if not isinstance(key, tuple) or len(key) != 2:
            raise InvalidArgumentError("key", f"unknown timer {key!r}")
        owner, inner = key
        if owner == "finality":
            return self._finality(TimerFired(inner), now)
        if owner == "bft":
            return self._bft(TimerFired(inner), now)
        if inner == "next-height":
            out: list[NodeAction] = []
            height = self.chain.height + 1
            signed = [v for v in self._restored_votes if v.height == height]
            self._restored_votes = [v for v in self._restored_votes if v.height > height]
            for action in self.bft.start(height, now, signed=signed):
                out += self._bft_action(action, now)
            return out
        if inner == "regossip":
            out = [SetTimer(("node", "regossip"), now + self.config.regossip_interval)]
            for txid in self.pool.expire(now):
                out.append(TxDropped(txid, DropReason.EXPIRED))
            self._orphans.expire(now)
            # Announce, do not resend: peers that lack a transaction fetch its body
            # (GetData); re-sending 256 bodies every few seconds cost every peer the
            # bandwidth of transactions it almost always had already.
            pending = [InvItem(InvKind.TX, entry.txid) for entry in self.pool if not entry.final][:MAX_INV_ITEMS]
            if pending:
                out.append(Broadcast(Inv(tuple(pending))))
            out += self._requests(self._inventory.expire(now))
            # Transactions that timed out (say, in a partition) get another chance: the
            # engine resumes voting for them and peers that never saw them get them.
            for parked in list(self._parked)[:256]:
                tx = parked.tx
                if self.finality.state(tx.txid) is TxState.TIMED_OUT and tx.txid not in self.pool:
                    self._parked.pop(tx.txid)
                    out += self._on_transaction(tx, now)
            return out
        raise InvalidArgumentError("key", f"unknown timer {key!r}")


class _Source:
    """The :class:`~timecoin_core.consensus.bft.ValueSource` of a node."""

    def __init__(self, node: ConsensusNode) -> None:
        self._node = node

    def build(self, height: int, round: int) -> tuple[bytes, bytes]:
        return self._node.build_value(height, round)

    def validate(self, height: int, value: bytes) -> bytes | None:
        return self._node.validate_value(height, value)

    def validate_decided(self, height: int, value: bytes) -> bytes | None:
        return self._node.validate_decided(height, value)


class _LiveCoins:
    """Outputs of coins that exist in the pool's set, whoever holds them."""

    def __init__(self, pool: TxPool) -> None:
        self._utxos = pool.utxos

    def get_output(self, outpoint: OutPoint, /) -> TxOut | None:
        coin = self._utxos.coin(outpoint)
        return coin.output if coin is not None else None


def _certified_closure(template: list[Transaction], certified: dict[bytes, FinalityCertificate]) -> list[Transaction]:
    # Only transactions whose certificate this node holds may go in; a child of one
    # left out must wait for it too. The template lists parents before children.
    chosen: list[Transaction] = []
    left_out: set[bytes] = set()
    for tx in template:
        if tx.txid not in certified or any(i.outpoint.txid in left_out for i in tx.inputs):
            left_out.add(tx.txid)
        else:
            chosen.append(tx)
    return chosen
