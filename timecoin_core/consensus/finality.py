"""The instant-finality engine: a pure, deterministic state machine (sans-IO).

Theory of operation
-------------------
The shell (simulator, LocalChain, network node) feeds :class:`FinalityEngine` events
with the current time and carries out the actions it returns::

    actions = engine.handle(TxAdmitted.of(tx), now)

*The voting rule.* A masternode signs accept votes for at most one transaction per
outpoint: the first valid one its ledger admitted. The choice is recorded in an
outpoint -> txid map that never forgets a conflict: not after a timeout, not across
epochs, not across restarts (the shell persists :class:`VoteRecorded` actions and
passes :meth:`FinalityEngine.voted_outpoints` back as ``restore=``). Only when the
spend is committed in a checkpoint block (:class:`Checkpointed`) is an entry dropped,
because from then on the ledger itself rejects every conflict. The price: a coin
whose owner double-spent so that neither side reaches a quorum stays frozen until a
block settles it.

*Finality.* A transaction is final when accept votes from distinct voters of the
epoch's :class:`~timecoin_core.consensus.voting.VotingSet` carry >= 2/3 of its total
weight. Two quorums of >= 2/3 overlap in > 1/3 of the weight, more than the < 1/3 a
byzantine minority holds, so some honest voter would have voted for both of two
conflicting transactions, which the rule forbids (docs/consensus-finality.md argues
this in full, also across epochs). The engine forms a certificate as soon as a quorum
exists, whether or not this node voted for that transaction; when a conflicting
local transaction thereby lost, it reports :class:`Rejected`.

*Batching.* Votes for transactions admitted within ``batch_window`` seconds (or until
``max_batch`` are queued) are signed together as one :class:`VoteBatch`. Each received
batch signature is verified once, cached by (voter, epoch, root).

*Recovery.* Messages may be lost. A voter resends its own batches (the same signed
bytes) every ``rebroadcast_interval`` while they hold a pending transaction; a node
where that transaction is already settled answers a resend with the certificate. A
node that does not vote has nothing to resend, so its shell must fetch certificates.

Per-transaction states (``TxState``), as a transition table (``_ON_ADMIT``) plus
the quorum and timeout rules::

    event \\ state      (new)     CONFLICTED  PENDING  TIMED_OUT  FINAL  LOST
    TxAdmitted         PENDING   PENDING     PENDING  PENDING    FINAL  LOST (Rejected)
    TxConflicted       CONFLICTED*  --         --        --        --     --
    quorum/certificate FINAL     FINAL       FINAL    FINAL      --     (violation)
    conflict final     --        LOST        LOST     LOST       --     --
    timeout            --        --          TIMED_OUT --        --     --

(* LOST at once when a conflicting transaction is already final.)
``Rejected`` (timeout) is local and revocable: a later quorum still makes the
transaction final and is reported. ``Finalized`` is reported exactly once per txid.

Memory is bounded under adversarial input: unknown-txid votes are capped per voter,
received-signature cache, tracked transactions, conflicts per outpoint and
next-epoch batches all have maxima in :class:`FinalityConfig`; what is dropped is
counted in :class:`FinalityStats`.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from enum import Enum
from types import MappingProxyType
from typing import Final, Self

from ..errors import TimecoinError
from ..keys import PrivateKey
from ..transaction import OutPoint, Transaction
from ..verify import SignatureCheck, verify_one
from .finality_messages import (
    MAX_VOTE_BATCH_TXIDS,
    AcceptVote,
    CertificateEntry,
    ConflictingVotesEvidence,
    FinalityCertificate,
    VoteBatch,
    transaction_base,
)
from .sansio import Broadcast, CheckSignatures, SetTimer, TimerFired
from .voting import VotingSet, quorum_reached

__all__ = [
    "BATCH_TIMER",
    "REBROADCAST_TIMER",
    "TIMEOUT_TIMER",
    "CertificateReceived",
    "Checkpointed",
    "Contest",
    "EpochChanged",
    "EvidenceFound",
    "FinalityAction",
    "FinalityConfig",
    "FinalityEngine",
    "FinalityError",
    "FinalityEvent",
    "FinalityStats",
    "Finalized",
    "RejectReason",
    "Rejected",
    "TxAdmitted",
    "TxConflicted",
    "TxState",
    "VoteBatchReceived",
    "VoteRecorded",
    "verify_all",
]

BATCH_TIMER: Final = ("finality", "batch")
"""Timer key: flush the queued votes as one batch."""
TIMEOUT_TIMER: Final = ("finality", "timeout")
"""Timer key: reject transactions whose finality deadline passed."""
REBROADCAST_TIMER: Final = ("finality", "rebroadcast")
"""Timer key: resend this voter's batches that still hold pending transactions."""


class FinalityError(TimecoinError, ValueError):
    """The caller broke the engine's contract (bad configuration, inconsistent event)."""


def verify_all(checks: Sequence[SignatureCheck]) -> list[bool]:
    """Verify on the calling thread with the protocol's policy (the engine's default)."""
    return [verify_one(c.public_key, c.message, c.signature) for c in checks]


# -- configuration and metrics ---------------------------------------------------------


_FUTURE_BATCHES_PER_VOTER = 8
"""Early next-epoch batches kept per voter (each checked with one signature at the switch)."""

@dataclass(frozen=True, slots=True)
class FinalityConfig:
    """Tunables of :class:`FinalityEngine`, validated on construction.

    ``batch_window``: seconds votes wait to share a signature. ``max_batch``: txids
    that flush a batch at once. ``finality_timeout``: seconds an admitted transaction
    may stay without a quorum before :class:`Rejected`. ``rebroadcast_interval``:
    how often a voter resends its batches that still hold pending transactions, and
    how often at most a certificate is sent in reply to such a resend (this is how
    votes and certificates lost in a partition are recovered).
    The ``max_*`` fields bound memory under adversarial input.
    """

    batch_window: float = 0.02
    max_batch: int = 1024
    finality_timeout: float = 30.0
    rebroadcast_interval: float = 2.0
    max_unknown_votes_per_voter: int = 4096
    max_tracked_txs: int = 100_000
    max_conflicts_per_outpoint: int = 8
    max_signature_cache: int = 65_536
    max_future_votes: int = 65_536
    retained_epochs: int = 2

    def __post_init__(self) -> None:
        for name in ("batch_window", "finality_timeout", "rebroadcast_interval"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or not value > 0:
                raise FinalityError(f"{name} must be a positive number, got {value!r}")
        if not self.finality_timeout > self.batch_window:
            raise FinalityError("finality_timeout must exceed batch_window")
        for name in (
            "max_batch",
            "max_unknown_votes_per_voter",
            "max_tracked_txs",
            "max_conflicts_per_outpoint",
            "max_signature_cache",
            "max_future_votes",
            "retained_epochs",
        ):
            value = getattr(self, name)
            if type(value) is not int or value < 1:
                raise FinalityError(f"{name} must be an int >= 1, got {value!r}")
        if self.max_batch > MAX_VOTE_BATCH_TXIDS:
            raise FinalityError(f"max_batch must be at most {MAX_VOTE_BATCH_TXIDS}")
        if self.max_conflicts_per_outpoint < 2:
            raise FinalityError("max_conflicts_per_outpoint must be >= 2 to see a conflict")


@dataclass
class FinalityStats:
    """Counters for metrics. Only ever incremented."""

    batches_signed: int = 0
    batches_received: int = 0
    batches_duplicate: int = 0
    signatures_checked: int = 0
    bad_signatures: int = 0
    non_voters: int = 0
    wrong_epoch: int = 0
    future_batches_buffered: int = 0
    future_batches_dropped: int = 0
    unknown_votes_buffered: int = 0
    unknown_votes_evicted: int = 0
    votes_counted: int = 0
    votes_withheld: int = 0
    finalized: int = 0
    rejected_timeout: int = 0
    rejected_conflict: int = 0
    certificates_received: int = 0
    certificates_invalid: int = 0
    certificates_unknown_epoch: int = 0
    certificates_sent: int = 0
    rebroadcasts: int = 0
    evidence_found: int = 0
    evidence_unprovable: int = 0
    conflicting_quorums: int = 0
    conflicts_dropped: int = 0
    records_evicted: int = 0
    signature_cache_evicted: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters by name."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


# -- events ----------------------------------------------------------------------------


def _check_tx_event(txid: bytes, outpoints: tuple[OutPoint, ...], tx: Transaction | None) -> None:
    if type(txid) is not bytes or len(txid) != 32:
        raise FinalityError("txid must be 32 bytes")
    if type(outpoints) is not tuple or not outpoints:
        raise FinalityError("outpoints must be a non-empty tuple")
    if not all(isinstance(o, OutPoint) for o in outpoints):
        raise FinalityError("outpoints must be OutPoint values")
    if tx is not None and (tx.txid != txid or tuple(i.outpoint for i in tx.inputs) != outpoints[: len(tx.inputs)]):
        raise FinalityError("tx does not match txid and outpoints")


@dataclass(frozen=True, slots=True)
class _TxEvent:
    """A transaction the ledger decided about: its txid, the outpoints it spends, the body."""

    txid: bytes
    outpoints: tuple[OutPoint, ...]
    tx: Transaction | None = None

    def __post_init__(self) -> None:
        _check_tx_event(self.txid, self.outpoints, self.tx)

    @classmethod
    def of(cls, tx: Transaction, claims: tuple[OutPoint, ...] = ()) -> Self:
        """The event for ``tx``.

        ``claims`` are extra outpoints the transaction exclusively claims beyond its
        inputs (a masternode registration claims its operator key): the engine treats
        them like spent outpoints, so at most one claimant can become final.
        """
        return cls(tx.txid, tuple(i.outpoint for i in tx.inputs) + claims, tx)


@dataclass(frozen=True, slots=True)
class TxAdmitted(_TxEvent):
    """The ledger fully validated ``txid`` (signatures included) and locked its outpoints.

    ``tx`` is optional; without it the engine cannot build evidence about the
    transaction (it needs the bytes that fix the txid's outpoints).
    """


@dataclass(frozen=True, slots=True)
class TxConflicted(_TxEvent):
    """The ledger saw a valid ``txid`` that conflicts with a transaction it holds.

    The engine never votes for it, but counts votes for it: if it reaches a quorum it
    is final (and the local one lost).
    """


@dataclass(frozen=True, slots=True)
class VoteBatchReceived:
    """A vote batch arrived from the network (already decoded)."""

    batch: VoteBatch


@dataclass(frozen=True, slots=True)
class CertificateReceived:
    """A finality certificate arrived from the network (already decoded)."""

    certificate: FinalityCertificate


@dataclass(frozen=True, slots=True)
class EpochChanged:
    """A committed block started a new epoch with ``voting_set`` (epochs only increase)."""

    voting_set: VotingSet


@dataclass(frozen=True, slots=True)
class Checkpointed:
    """A committed block holds ``txids``, spending ``outpoints``: forget them.

    From now on the ledger rejects every conflicting spend, so the voting rule no
    longer needs its record of these outpoints.
    """

    txids: tuple[bytes, ...]
    outpoints: tuple[OutPoint, ...] = ()


FinalityEvent = (
    TxAdmitted
    | TxConflicted
    | VoteBatchReceived
    | CertificateReceived
    | EpochChanged
    | Checkpointed
    | TimerFired
)
"""Everything :meth:`FinalityEngine.handle` accepts."""


# -- actions ---------------------------------------------------------------------------


class RejectReason(Enum):
    """Why a transaction was rejected."""

    TIMEOUT = "timeout"
    """No quorum within ``finality_timeout``; a later quorum can still finalize it."""
    CONFLICT_FINAL = "conflict-final"
    """A conflicting transaction is final; this one never will be."""


@dataclass(frozen=True, slots=True)
class Finalized:
    """``txid`` is final; ``certificate`` proves it to anyone. Reported once per txid.

    The transaction may be one the ledger only knew as conflicting (or not at all):
    the shell must apply it and drop what it conflicts with.
    """

    txid: bytes
    certificate: FinalityCertificate


@dataclass(frozen=True, slots=True)
class Rejected:
    """The admitted transaction ``txid`` is not final: the shell releases its locks."""

    txid: bytes
    reason: RejectReason


@dataclass(frozen=True, slots=True)
class EvidenceFound:
    """A voter signed accept votes for two conflicting transactions."""

    evidence: ConflictingVotesEvidence


@dataclass(frozen=True, slots=True)
class VoteRecorded:
    """This node committed to vote for ``txid`` on ``outpoints``.

    The shell must persist it (see :meth:`FinalityEngine.voted_outpoints`) before it
    carries out any later action: a restarted node that forgot it could sign a
    conflicting vote.
    """

    txid: bytes
    outpoints: tuple[OutPoint, ...]


FinalityAction = Broadcast | SetTimer | Finalized | Rejected | EvidenceFound | VoteRecorded
"""Everything :meth:`FinalityEngine.handle` returns."""


# -- state -----------------------------------------------------------------------------


class TxState(Enum):
    """Where a tracked transaction stands at this node."""

    CONFLICTED = "conflicted"
    PENDING = "pending"
    TIMED_OUT = "timed-out"
    FINAL = "final"
    LOST = "lost"


# The state a TxAdmitted moves a record to.
_ON_ADMIT: Final[dict[TxState, TxState]] = {
    TxState.CONFLICTED: TxState.PENDING,
    TxState.PENDING: TxState.PENDING,
    TxState.TIMED_OUT: TxState.PENDING,
    TxState.FINAL: TxState.FINAL,
    TxState.LOST: TxState.LOST,
}
_UNDECIDED: Final = frozenset({TxState.CONFLICTED, TxState.PENDING, TxState.TIMED_OUT})


@dataclass(frozen=True, slots=True)
class Contest:
    """A conflict as one node sees it: a transaction and its rivals, and the accept votes so far.

    ``seen`` maps each txid of the conflict (``txid`` and every ``rivals`` entry) to the
    accept weight this node has counted for it in the current epoch; ``silent`` is the
    weight of voters counted for none of them; ``total`` the epoch's total weight.

    A contest is :attr:`deadlocked` when no side can reach two thirds even if every
    silent voter joined it: from then on a side becomes final only if voters that
    already accepted a rival sign again, which is equivocation (evidence, a ban). The
    coins the conflict spends stay frozen: no protocol of one-phase accept votes can
    safely release them (docs/consensus-finality.md, "Conflicts that never reach a
    quorum"), so this is a status to report, not a state the node leaves.
    """

    txid: bytes
    rivals: tuple[bytes, ...]
    seen: Mapping[bytes, int]
    silent: int
    total: int

    @property
    def deadlocked(self) -> bool:
        """True when no side can reach a quorum without a voter signing two of them."""
        return not any(quorum_reached(weight + self.silent, self.total) for weight in self.seen.values())

    @property
    def leader(self) -> bytes:
        """The txid with the most accept weight seen (ties: the smallest txid)."""
        return min(self.seen, key=lambda t: (-self.seen[t], t))


class _Record:
    __slots__ = (
        "certificate",
        "contested",
        "deadline",
        "evidence_voters",
        "last_reply",
        "outpoints",
        "state",
        "tx",
        "txid",
        "votes",
        "weight",
        "winner",
    )

    def __init__(self, txid: bytes, state: TxState) -> None:
        self.txid = txid
        self.state = state
        self.outpoints: tuple[OutPoint, ...] | None = None
        self.contested = False  # another tracked transaction spends one of its outpoints
        self.tx: Transaction | None = None
        # voter -> its first vote for txid in the current epoch, as a certificate entry:
        # root, proof and signature, never the whole batch, so one huge batch cannot
        # pin megabytes through every record it touches.
        self.votes: dict[bytes, CertificateEntry] = {}
        self.weight = 0
        self.deadline: float | None = None
        self.certificate: FinalityCertificate | None = None
        self.winner: bytes | None = None  # LOST: the final conflicting txid
        self.evidence_voters: set[bytes] = set()
        self.last_reply = float("-inf")


class FinalityEngine:
    """Instant finality for one node: sans-IO, deterministic given its inputs.

    ``voting_set``: the current epoch's voters. ``chain_id``: the network's, bound
    into every signature. ``key``: this masternode's voting key (``None``, or a key
    outside the voting set: the node only observes). ``check_signatures``: a batch
    verifier (a :class:`~timecoin_core.verify.Verifier`'s ``verify_many``; default
    :func:`verify_all`). ``restore``: the :meth:`voted_outpoints` of a previous run.
    """

    def __init__(
        self,
        voting_set: VotingSet,
        *,
        chain_id: int,
        key: PrivateKey | None = None,
        check_signatures: CheckSignatures | None = None,
        config: FinalityConfig | None = None,
        restore: Mapping[OutPoint, bytes] | None = None,
    ) -> None:
        if not isinstance(voting_set, VotingSet):
            raise FinalityError("voting_set must be a VotingSet")
        if type(chain_id) is not int or not 0 <= chain_id <= 0xFFFFFFFF:
            raise FinalityError("chain_id must be a u32")
        self.config = config if config is not None else FinalityConfig()
        self.chain_id = chain_id
        self.stats = FinalityStats()
        self._key = key
        self._me = key.public_key.data if key is not None else None
        self._check: CheckSignatures = (
            check_signatures if check_signatures is not None else verify_all
        )
        self._vs = voting_set
        self._sets: OrderedDict[int, VotingSet] = OrderedDict({voting_set.epoch: voting_set})
        self._voted: dict[OutPoint, bytes] = {}
        for outpoint, txid in (restore or {}).items():
            if not isinstance(outpoint, OutPoint) or type(txid) is not bytes or len(txid) != 32:
                raise FinalityError("restore maps OutPoint to 32-byte txids")
            self._voted[outpoint] = txid
        self._records: OrderedDict[bytes, _Record] = OrderedDict()
        self._spenders: dict[OutPoint, list[bytes]] = {}
        self._unknown: dict[bytes, dict[bytes, CertificateEntry]] = {}
        self._unknown_order: dict[bytes, OrderedDict[bytes, None]] = {}
        self._sig_cache: OrderedDict[tuple[bytes, int, bytes], bytes] = OrderedDict()
        self._queue: dict[bytes, None] = {}
        self._batch_timer = False
        self._deadlines: list[tuple[float, bytes]] = []
        self._timeout_at: float | None = None
        self._own_batches: list[VoteBatch] = []
        self._rebroadcast_timer = False
        self._future: dict[bytes, list[VoteBatch]] = {}
        self._future_votes = 0

    # -- public surface ----------------------------------------------------------------

    @property
    def voting_set(self) -> VotingSet:
        """The current epoch's voting set."""
        return self._vs

    @property
    def epoch(self) -> int:
        """The current epoch."""
        return self._vs.epoch

    @property
    def voter(self) -> bytes | None:
        """This node's voting key when it votes in the current epoch, else ``None``."""
        me = self._me
        return me if me is not None and me in self._vs else None

    def voted_outpoints(self) -> dict[OutPoint, bytes]:
        """A copy of this voter's outpoint -> txid choices: persist it, pass it as ``restore=``."""
        return dict(self._voted)

    def state(self, txid: bytes) -> TxState | None:
        """The state of ``txid`` at this node, ``None`` when it is not tracked."""
        record = self._records.get(txid)
        return None if record is None else record.state

    def contest(self, txid: bytes) -> Contest | None:
        """The conflict ``txid`` is part of at this node, or ``None`` when it has no known rival."""
        record = self._records.get(txid)
        if record is None:
            return None
        rivals = self._conflicts(record)
        if not rivals:
            return None
        sides = [record, *rivals]
        voters = self.voting_set
        counted: set[bytes] = set()
        for side in sides:
            counted.update(side.votes)
        return Contest(
            txid,
            tuple(sorted(r.txid for r in rivals)),
            MappingProxyType({side.txid: side.weight for side in sides}),
            voters.total - voters.weight_of(counted),
            voters.total,
        )

    def certificate(self, txid: bytes) -> FinalityCertificate | None:
        """The certificate of a final ``txid`` (``None`` if not final here)."""
        record = self._records.get(txid)
        return None if record is None else record.certificate

    def set_voting_set(self, voting_set: VotingSet, now: float) -> list[FinalityAction]:
        """Same as ``handle(EpochChanged(voting_set), now)``."""
        return self.handle(EpochChanged(voting_set), now)

    def handle(self, event: FinalityEvent, now: float) -> list[FinalityAction]:
        """Process ``event`` at time ``now``; return the actions for the shell, in order.

        :raises FinalityError: an event the engine does not know, or an epoch that
            does not increase.
        """
        if isinstance(event, VoteBatchReceived):
            return self._on_batch(event, now)
        if isinstance(event, TxAdmitted):
            return self._on_admitted(event, now)
        if isinstance(event, TxConflicted):
            return self._on_conflicted(event, now)
        if isinstance(event, TimerFired):
            return self._on_timer(event, now)
        if isinstance(event, CertificateReceived):
            return self._on_certificate(event, now)
        if isinstance(event, EpochChanged):
            return self._on_epoch(event, now)
        if isinstance(event, Checkpointed):
            return self._on_checkpointed(event, now)
        raise FinalityError(f"unknown finality event {type(event).__name__}")

    # -- transactions ------------------------------------------------------------------

    def _learn(
        self,
        txid: bytes,
        outpoints: tuple[OutPoint, ...],
        tx: Transaction | None,
        actions: list[FinalityAction],
        *,
        capped: bool,
    ) -> _Record | None:
        """Track ``txid`` with its outpoints; ``None`` when a conflict cap refuses it.

        Only conflicting transactions are capped: admitted ones are bounded by the
        shell's pool, and one per outpoint is what the pool admits.
        """
        record = self._records.get(txid)
        if record is None:
            if capped and any(
                len(self._spenders.get(o, ())) >= self.config.max_conflicts_per_outpoint
                for o in outpoints
            ):
                self.stats.conflicts_dropped += 1
                return None
            record = self._new_record(txid)
        elif record.outpoints is not None and record.outpoints != outpoints:
            raise FinalityError("txid seen again with other outpoints")
        if tx is not None and record.tx is None:
            record.tx = tx
        if record.outpoints is None:
            record.outpoints = outpoints
            for outpoint in outpoints:
                spenders = self._spenders.setdefault(outpoint, [])
                spenders.append(txid)
                if len(spenders) > 1:
                    for other in spenders:
                        self._records[other].contested = True
            if record.state is TxState.FINAL:
                # Final through a certificate before its outpoints were known.
                self._settle_conflicts(record, actions)
            # Votes that arrived before the transaction count now.
            waiting = self._unknown.pop(txid, None)
            if waiting:
                for voter, entry in waiting.items():
                    self._unknown_order[voter].pop(txid, None)
                    self._count(record, voter, entry, actions)
        return record

    def _on_admitted(self, event: TxAdmitted, now: float) -> list[FinalityAction]:
        actions: list[FinalityAction] = []
        record = self._learn(event.txid, event.outpoints, event.tx, actions, capped=False)
        assert record is not None
        if record.state in _UNDECIDED:
            winner = self._final_conflict(record)
            if winner is not None:
                record.state, record.winner = TxState.LOST, winner
        target = _ON_ADMIT[record.state]
        if target is TxState.LOST:
            self.stats.rejected_conflict += 1
            actions.append(Rejected(record.txid, RejectReason.CONFLICT_FINAL))
        elif target is TxState.PENDING:
            if record.state is not TxState.PENDING:
                record.state = TxState.PENDING
                record.deadline = now + self.config.finality_timeout
                heapq.heappush(self._deadlines, (record.deadline, record.txid))
                if self._timeout_at is None or record.deadline < self._timeout_at:
                    self._timeout_at = record.deadline
                    actions.append(SetTimer(TIMEOUT_TIMER, record.deadline))
            self._vote(record, now, actions)
        return actions

    def _on_conflicted(self, event: TxConflicted, now: float) -> list[FinalityAction]:
        actions: list[FinalityAction] = []
        record = self._learn(event.txid, event.outpoints, event.tx, actions, capped=True)
        if record is not None and record.state is TxState.CONFLICTED:
            winner = self._final_conflict(record)
            if winner is not None:
                record.state, record.winner = TxState.LOST, winner
        return actions

    def _final_conflict(self, record: _Record) -> bytes | None:
        for other in self._conflicts(record):
            if other.state is TxState.FINAL:
                return other.txid
        return None

    def _conflicts(self, record: _Record) -> list[_Record]:
        if not record.contested or record.outpoints is None:
            return []  # the common case: nothing else spends these outpoints
        spenders = self._spenders
        seen: dict[bytes, _Record] = {}
        for outpoint in record.outpoints:
            for txid in spenders[outpoint]:
                if txid != record.txid and txid not in seen:
                    seen[txid] = self._records[txid]
        return list(seen.values())

    def _vote(self, record: _Record, now: float, actions: list[FinalityAction]) -> None:
        me = self.voter
        if me is None or record.outpoints is None or record.txid in self._queue:
            return
        if me in record.votes:
            # Signed already in this epoch (the transaction timed out and came back):
            # put that batch back on the wire rather than sign again.
            for batch in self._own_batches:
                if batch.index_of(record.txid) is not None:
                    actions.append(Broadcast(batch))
                    self._arm_rebroadcast(now, actions)
                    return
        txid = record.txid
        if any(self._voted.get(o, txid) != txid for o in record.outpoints):
            # This voter already accepted a conflicting transaction: never again.
            self.stats.votes_withheld += 1
            return
        if any(o not in self._voted for o in record.outpoints):
            for outpoint in record.outpoints:
                self._voted[outpoint] = txid
            actions.append(VoteRecorded(txid, record.outpoints))
        self._queue[txid] = None
        if len(self._queue) >= self.config.max_batch:
            self._flush(now, actions)
        elif not self._batch_timer:
            self._batch_timer = True
            actions.append(SetTimer(BATCH_TIMER, now + self.config.batch_window))

    def _flush(self, now: float, actions: list[FinalityAction]) -> None:
        queued = sorted(self._queue)
        self._queue.clear()
        if self.voter is None or self._key is None:
            return  # the epoch changed and this node no longer votes
        for start in range(0, len(queued), self.config.max_batch):
            chunk = queued[start : start + self.config.max_batch]
            batch = VoteBatch.create(self._key, self.chain_id, self._vs.epoch, chunk)
            self.stats.batches_signed += 1
            self._cache_signature(batch)
            actions.append(Broadcast(batch))
            self._own_batches.append(batch)
            self._apply_batch(batch, now, actions)
        self._arm_rebroadcast(now, actions)

    def _arm_rebroadcast(self, now: float, actions: list[FinalityAction]) -> None:
        if self._own_batches and not self._rebroadcast_timer:
            self._rebroadcast_timer = True
            actions.append(SetTimer(REBROADCAST_TIMER, now + self.config.rebroadcast_interval))

    # -- votes -------------------------------------------------------------------------

    def _on_batch(self, event: VoteBatchReceived, now: float) -> list[FinalityAction]:
        batch = event.batch
        self.stats.batches_received += 1
        if batch.epoch != self._vs.epoch:
            if batch.epoch == self._vs.epoch + 1:
                self._buffer_future(batch)
            else:
                self.stats.wrong_epoch += 1
            return []
        if batch.voter not in self._vs:
            self.stats.non_voters += 1
            return []
        key = (batch.voter, batch.epoch, batch.root)
        cached = self._sig_cache.get(key)
        if cached is not None:
            self.stats.batches_duplicate += 1
            if cached != batch.signature:
                # Another valid-looking signature on the same message proves nothing
                # new; the batch we already hold is the one certificates use.
                return []
        else:
            self.stats.signatures_checked += 1
            if not self._check([batch.signature_check(self.chain_id)])[0]:
                self.stats.bad_signatures += 1
                return []
            self._cache_signature(batch)
        actions: list[FinalityAction] = []
        self._apply_batch(batch, now, actions)
        return actions

    def _cache_signature(self, batch: VoteBatch) -> None:
        self._sig_cache[(batch.voter, batch.epoch, batch.root)] = batch.signature
        if len(self._sig_cache) > self.config.max_signature_cache:
            self._sig_cache.popitem(last=False)
            self.stats.signature_cache_evicted += 1

    def _apply_batch(self, batch: VoteBatch, now: float, actions: list[FinalityAction]) -> None:
        """Count an authentic batch's votes. Idempotent, so duplicates recover lost state."""
        voter = batch.voter
        me = self.voter
        replies: dict[bytes, FinalityCertificate] = {}
        for index, txid in enumerate(batch.txids):
            record = self._records.get(txid)
            if record is None or record.outpoints is None:
                if record is None:
                    self._buffer_unknown(voter, txid, batch, index)
                elif record.certificate is not None:
                    self._maybe_reply(record, record.certificate, now, replies)
                continue
            if voter not in record.votes:
                self._count(record, voter, batch.entry(index), actions)
            elif voter != me:
                # A resend: the voter has not seen this settled; tell it.
                if record.state is TxState.FINAL and record.certificate is not None:
                    self._maybe_reply(record, record.certificate, now, replies)
                elif record.state is TxState.LOST and record.winner is not None:
                    winner = self._records.get(record.winner)
                    if winner is not None and winner.certificate is not None:
                        self._maybe_reply(record, winner.certificate, now, replies)
        for certificate in replies.values():
            self.stats.certificates_sent += 1
            actions.append(Broadcast(certificate))

    def _maybe_reply(
        self,
        record: _Record,
        certificate: FinalityCertificate,
        now: float,
        replies: dict[bytes, FinalityCertificate],
    ) -> None:
        if now - record.last_reply >= self.config.rebroadcast_interval:
            record.last_reply = now
            replies[certificate.txid] = certificate

    def _buffer_unknown(self, voter: bytes, txid: bytes, batch: VoteBatch, index: int) -> None:
        waiting = self._unknown.setdefault(txid, {})
        if voter in waiting:
            return
        order = self._unknown_order.setdefault(voter, OrderedDict())
        if len(order) >= self.config.max_unknown_votes_per_voter:
            old, _ = order.popitem(last=False)
            old_waiting = self._unknown.get(old)
            if old_waiting is not None:
                old_waiting.pop(voter, None)
                if not old_waiting:
                    del self._unknown[old]
            self.stats.unknown_votes_evicted += 1
        waiting[voter] = batch.entry(index)
        order[txid] = None
        self.stats.unknown_votes_buffered += 1

    def _count(
        self, record: _Record, voter: bytes, entry: CertificateEntry, actions: list[FinalityAction]
    ) -> None:
        if voter in record.votes:
            return
        record.votes[voter] = entry
        record.weight += self._vs.weight(voter)
        self.stats.votes_counted += 1
        for other in self._conflicts(record):
            if voter in other.votes and voter not in record.evidence_voters:
                self._report_equivocation(voter, record, other, actions)
        if record.state in _UNDECIDED and quorum_reached(record.weight, self._vs.total):
            self._finalize(record, None, actions)

    def _report_equivocation(
        self, voter: bytes, a: _Record, b: _Record, actions: list[FinalityAction]
    ) -> None:
        a.evidence_voters.add(voter)
        b.evidence_voters.add(voter)
        if a.tx is None or b.tx is None:
            self.stats.evidence_unprovable += 1
            return
        epoch = self._vs.epoch
        evidence = ConflictingVotesEvidence.of(
            voter,
            _accept_vote(epoch, a.votes[voter], a.tx),
            _accept_vote(epoch, b.votes[voter], b.tx),
        )
        self.stats.evidence_found += 1
        actions.append(EvidenceFound(evidence))

    # -- finality ----------------------------------------------------------------------

    def _build_certificate(self, record: _Record) -> FinalityCertificate:
        # The smallest certificate: heaviest voters first until the quorum holds.
        vs = self._vs
        chosen: list[bytes] = []
        weight = 0
        for voter in sorted(record.votes, key=lambda k: (-vs.weight(k), k)):
            chosen.append(voter)
            weight += vs.weight(voter)
            if quorum_reached(weight, vs.total):
                break
        entries = tuple(record.votes[v] for v in sorted(chosen))
        return FinalityCertificate(record.txid, vs.epoch, entries)

    def _finalize(
        self,
        record: _Record,
        certificate: FinalityCertificate | None,
        actions: list[FinalityAction],
    ) -> None:
        if self._final_conflict(record) is not None:
            # Two conflicting quorums: > 1/3 of the weight equivocated. Keep the first.
            self.stats.conflicting_quorums += 1
            return
        if certificate is None:
            certificate = self._build_certificate(record)
        record.state = TxState.FINAL
        record.certificate = certificate
        self.stats.finalized += 1
        actions.append(Finalized(record.txid, certificate))
        self._settle_conflicts(record, actions)

    def _settle_conflicts(self, record: _Record, actions: list[FinalityAction]) -> None:
        for other in self._conflicts(record):
            if other.state is TxState.PENDING:
                self.stats.rejected_conflict += 1
                actions.append(Rejected(other.txid, RejectReason.CONFLICT_FINAL))
            if other.state in _UNDECIDED:
                other.state = TxState.LOST
                other.winner = record.txid
            elif other.state is TxState.FINAL:
                self.stats.conflicting_quorums += 1

    def _on_certificate(self, event: CertificateReceived, now: float) -> list[FinalityAction]:
        certificate = event.certificate
        self.stats.certificates_received += 1
        record = self._records.get(certificate.txid)
        if record is not None and record.state is TxState.FINAL:
            return []
        voting_set = self._sets.get(certificate.epoch)
        if voting_set is None:
            self.stats.certificates_unknown_epoch += 1
            return []
        if not certificate.check_structure(voting_set):
            self.stats.certificates_invalid += 1
            return []
        # Signatures this node already verified (as vote batches) are not checked again.
        checks = [
            check
            for entry, check in zip(
                certificate.entries, certificate.signature_checks(self.chain_id), strict=True
            )
            if self._sig_cache.get((entry.voter, certificate.epoch, entry.root)) != entry.signature
        ]
        if checks:
            self.stats.signatures_checked += len(checks)
            if not all(self._check(checks)):
                self.stats.certificates_invalid += 1
                return []
        actions: list[FinalityAction] = []
        if record is None:
            record = self._new_record(certificate.txid)
        if record.state is TxState.LOST:
            self.stats.conflicting_quorums += 1
            return actions
        self._finalize(record, certificate, actions)
        return actions

    # -- time --------------------------------------------------------------------------

    def _on_timer(self, event: TimerFired, now: float) -> list[FinalityAction]:
        actions: list[FinalityAction] = []
        if event.key == BATCH_TIMER:
            self._batch_timer = False
            if self._queue:
                self._flush(now, actions)
        elif event.key == TIMEOUT_TIMER:
            self._timeout_at = None
            while self._deadlines and self._deadlines[0][0] <= now:
                deadline, txid = heapq.heappop(self._deadlines)
                record = self._records.get(txid)
                if (
                    record is not None
                    and record.state is TxState.PENDING
                    and record.deadline == deadline
                ):
                    record.state = TxState.TIMED_OUT
                    self.stats.rejected_timeout += 1
                    actions.append(Rejected(txid, RejectReason.TIMEOUT))
            if self._deadlines:
                self._timeout_at = self._deadlines[0][0]
                actions.append(SetTimer(TIMEOUT_TIMER, self._timeout_at))
        elif event.key == REBROADCAST_TIMER:
            self._rebroadcast_timer = False
            # Batches are kept while any of their transactions is undecided (a timed
            # out one may be admitted again) and sent while any is pending.
            keep = []
            pending = False
            for batch in self._own_batches:
                states = {self._state_of(t) for t in batch.txids}
                if TxState.PENDING in states:
                    pending = True
                    self.stats.rebroadcasts += 1
                    actions.append(Broadcast(batch))
                if states & {TxState.PENDING, TxState.TIMED_OUT}:
                    keep.append(batch)
            self._own_batches = keep
            if pending:
                self._rebroadcast_timer = True
                actions.append(SetTimer(REBROADCAST_TIMER, now + self.config.rebroadcast_interval))
        return actions

    def _state_of(self, txid: bytes) -> TxState | None:
        record = self._records.get(txid)
        return None if record is None else record.state

    # -- epochs and checkpoints --------------------------------------------------------

    def _on_epoch(self, event: EpochChanged, now: float) -> list[FinalityAction]:
        voting_set = event.voting_set
        if not isinstance(voting_set, VotingSet) or voting_set.epoch <= self._vs.epoch:
            raise FinalityError("epochs must increase")
        self._vs = voting_set
        self._sets[voting_set.epoch] = voting_set
        while len(self._sets) > self.config.retained_epochs:
            self._sets.popitem(last=False)
        # Votes of the old epoch count for nothing in the new one; every voter signs
        # its still-pending choices again (the same txids, so the rule still holds).
        for record in self._records.values():
            record.votes.clear()
            record.weight = 0
        self._unknown.clear()
        self._unknown_order.clear()
        self._sig_cache.clear()
        self._own_batches.clear()
        actions: list[FinalityAction] = []
        for record in list(self._records.values()):
            if record.state is TxState.PENDING:
                self._vote(record, now, actions)
        future, self._future, self._future_votes = self._future, {}, 0
        for voter, batches in future.items():
            if voter not in self._vs:
                self.stats.future_batches_dropped += len(batches)
                continue
            for batch in batches:
                actions += self._on_batch(VoteBatchReceived(batch), now)
        return actions

    def _buffer_future(self, batch: VoteBatch) -> None:
        # Early votes of the next epoch (a peer switched first). The next voting set is
        # not known until this node commits the epoch's last block, so membership is
        # checked against the current one (voting sets change little between epochs; a
        # newcomer's early batch is dropped and it re-sends), and every voter gets an
        # equal share of the buffer: nobody can fill it and push out honest batches.
        # They are verified one by one when the epoch changes, after the new set has
        # been checked again, so the switch costs at most a share per voter.
        voter = batch.voter
        share = max(1, self.config.max_future_votes // max(1, len(self._vs)))
        held = self._future.setdefault(voter, []) if voter in self._vs else None
        used = sum(len(b.txids) for b in held) if held is not None else 0
        if held is None or used + len(batch.txids) > share or len(held) >= _FUTURE_BATCHES_PER_VOTER:
            self.stats.future_batches_dropped += 1
            return
        held.append(batch)
        self._future_votes += len(batch.txids)
        self.stats.future_batches_buffered += 1

    def _on_checkpointed(self, event: Checkpointed, now: float) -> list[FinalityAction]:
        spent = set(event.outpoints)
        for txid in event.txids:
            record = self._records.get(txid)
            if record is not None and record.outpoints is not None:
                spent.update(record.outpoints)
            self._forget(txid)
        for outpoint in spent:
            self._voted.pop(outpoint, None)
            for txid in list(self._spenders.get(outpoint, ())):
                self._forget(txid)
        return []

    def _forget(self, txid: bytes) -> None:
        record = self._records.pop(txid, None)
        self._queue.pop(txid, None)
        waiting = self._unknown.pop(txid, None)
        for voter in waiting or ():
            self._unknown_order[voter].pop(txid, None)
        if record is None or record.outpoints is None:
            return
        for outpoint in record.outpoints:
            spenders = self._spenders.get(outpoint)
            if spenders is not None and txid in spenders:
                spenders.remove(txid)
                if not spenders:
                    del self._spenders[outpoint]

    def _new_record(self, txid: bytes) -> _Record:
        # Make room first, so the new record itself is never the victim. Settled
        # records go first, oldest first; pending ones are bounded by the shell's pool
        # and are the ones that still need this engine.
        excess = len(self._records) + 1 - self.config.max_tracked_txs
        if excess > 0:
            victims = []
            for old, record in self._records.items():
                if record.state is not TxState.PENDING:
                    victims.append(old)
                    if len(victims) == excess:
                        break
            for old in victims:
                self._forget(old)
                self.stats.records_evicted += 1
        record = self._records[txid] = _Record(txid, TxState.CONFLICTED)
        return record


def _accept_vote(epoch: int, entry: CertificateEntry, tx: Transaction) -> AcceptVote:
    return AcceptVote(epoch, entry.root, entry.proof, entry.signature, transaction_base(tx))
