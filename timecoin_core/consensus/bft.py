"""The block-commit engine: Tendermint consensus with weighted votes, as a sans-IO machine.

Theory of operation
-------------------
:class:`BlockEngine` runs Algorithm 1 of Buchman, Kwon and Milosevic, "The latest
gossip on BFT consensus" (2018), one height at a time. Comments cite its line
numbers as ``L22`` etc. Votes are weighted: "2f+1 messages" is a quorum, >= 2/3 of
the height's total voting weight (:func:`~timecoin_core.consensus.voting.quorum_reached`),
and "f+1 messages" is more than 1/3 of it. With byzantine weight below 1/3 two
quorums always share honest weight, which is all the safety argument needs
(docs/consensus-bft.md).

A round is propose -> prevote -> precommit. The round's proposer (:func:`select_proposer`,
weighted and deterministic) proposes its *valid value* if it has one, otherwise a
fresh value from the shell's :class:`ValueSource`. A node *locks* on a value when it
sees a polka (a quorum of prevotes for it) in its current round and precommits it;
it prevotes another value later only if that value's proposal cites a polka at least
as recent as the lock. A quorum of precommits for a value in any round decides it.

The engine is pure: :meth:`BlockEngine.handle` takes an event and the current time and
returns actions (:class:`~timecoin_core.consensus.sansio.Broadcast`,
:class:`~timecoin_core.consensus.sansio.SetTimer`, :class:`Decide`,
:class:`EvidenceFound`). No clock, no randomness; every output is a function of the
inputs and their order, so a simulator replays any schedule exactly.

Algorithm 1 assumes that every message sent is eventually delivered. Gossip may lose
messages, so the engine also re-sends (none of this changes what it votes):

* every ``propose_timeout(round)`` it re-broadcasts every message it holds for its
  current round (others' votes too: a quorum that moved it on may include byzantine
  votes nobody else will send again);
* when it hears a voter whose latest message is from a round it has left, it sends
  that round's messages (at most once per ``timeouts.propose`` per round);
* a proposal with ``pol_round >= 0`` goes out together with the prevotes of its polka;
* when it hears a voter still working on a height it has decided, it answers with
  that height's :class:`Commit` (at most once per ``timeouts.propose`` per height).

Crash recovery is the shell's: every vote the engine signs comes first as a
:class:`BlockVoteSigned` action, to be made durable before anything after it; the
precommit that locks a value carries the value and its polka
(:class:`~timecoin_core.consensus.locked_value.LockedValue`). :meth:`BlockEngine.start`
takes them back after a restart, so a restarted node neither signs a conflicting
vote nor loses its lock, and as the proposer it re-proposes the value it is locked on.

One shortcut: a quorum of nil precommits in the current round starts the next round
at once instead of after ``timeoutPrecommit`` (no value can be decided in that round
any more); in the network simulator it cut the time lost to silent proposers enough
to commit about 8% more blocks.

Two readings of Algorithm 1 that the paper leaves open: a value is known by its id,
so L36 and L49 accept the value from any proposal of the height (or a commit) that
validated with that id, not only from the round's own proposal; and an equivocating
voter's vote counts for every value it signed that matters in that round (nil, the
round's proposals, values cited by a ``pol_round``), because the paper counts
messages, and two quorums still share honest weight.

Memory is bounded however byzantine voters behave: per (voter, kind, round) the first
vote plus votes for nil and the round's relevant values; at most
:data:`MAX_PROPOSALS_PER_ROUND` proposals per round, all from the round's proposer;
messages for rounds above the current one from at most :data:`MAX_FUTURE_ROUNDS`
distinct rounds per voter. The next height's messages are buffered under similar caps
(:data:`MAX_BUFFERED_NEXT_PROPOSALS`); older heights are never stored.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import Final, Protocol

from ..codec import Writer
from ..errors import InvalidArgumentError, TimecoinError
from ..hashing import Tag, tagged_hash
from ..keys import PrivateKey
from ..verify import SignatureCheck
from .bft_messages import (
    MAX_HEIGHT,
    MAX_ROUND,
    BlockVote,
    Commit,
    CommitCertificate,
    DoubleVoteEvidence,
    Proposal,
    VoteKind,
)
from .locked_value import LockedValue
from .sansio import Broadcast, CheckSignatures, SetTimer, TimerFired
from .voting import VotingSet, quorum_reached

__all__ = [
    "MAX_BUFFERED_NEXT_PROPOSALS",
    "MAX_FUTURE_ROUNDS",
    "MAX_PROPOSALS_PER_ROUND",
    "BftAction",
    "BftEvent",
    "BftTimeouts",
    "BftTimer",
    "BlockEngine",
    "BlockVoteSigned",
    "CommitReceived",
    "ConsensusConfigError",
    "ConsensusStateError",
    "Decide",
    "EvidenceFound",
    "ProposalReceived",
    "Step",
    "TimeoutKind",
    "ValueSource",
    "VoteReceived",
    "select_proposer",
]

MAX_PROPOSALS_PER_ROUND: Final = 2
"""Proposals kept per round. An honest proposer sends one; a second shows equivocation.

A value missed because of this cap can only delay a node (it will not lock on it);
a decision on it still reaches the node through :class:`Commit`.
"""

MAX_FUTURE_ROUNDS: Final = 2
"""Distinct rounds above the current one for which one voter's messages are stored.

Messages beyond the cap still count for round skipping (L55), which needs only each
voter's highest round, but their content is dropped (re-broadcasting restores it).
"""

MAX_BUFFERED_NEXT_PROPOSALS: Final = 4
"""Proposals for the next height kept while the current one is undecided.

The next height's proposer is not known yet (it depends on the block being decided),
so this cap is global rather than per proposer.
"""


# -- configuration and the value source ---------------------------------------------


class ConsensusConfigError(TimecoinError, ValueError):
    """A consensus configuration (:class:`BftTimeouts`, a node's config) refused when built.

    The message names the field. Also a ``ValueError``, as it was before it was typed.
    """


class ConsensusStateError(TimecoinError, ValueError):
    """A consensus object asked for what its state cannot give yet.

    For example the proposer of an engine that has not started, or a block from a
    node that has no key to sign it.
    """


@dataclass(frozen=True, slots=True)
class BftTimeouts:
    """Timeouts in seconds; each grows with the round: ``base + round * delta``.

    Growing timeouts are what makes the algorithm live under partial synchrony: after
    the network stabilises, some round's timeouts exceed the actual message delays.
    """

    propose: float = 3.0
    prevote: float = 1.0
    precommit: float = 1.0
    delta: float = 0.5

    def __post_init__(self) -> None:
        for name in ("propose", "prevote", "precommit", "delta"):
            value = getattr(self, name)
            if type(value) not in (int, float) or not math.isfinite(value):
                raise ConsensusConfigError(f"timeout {name} must be a finite number")
        if min(self.propose, self.prevote, self.precommit) <= 0:
            raise ConsensusConfigError("base timeouts must be positive")
        if self.delta < 0:
            raise ConsensusConfigError("timeout delta must not be negative")

    def propose_timeout(self, round: int) -> float:
        """How long to wait for the round's proposal (L21); also the re-broadcast period."""
        return self.propose + round * self.delta

    def prevote_timeout(self, round: int) -> float:
        """How long to wait after a quorum of mixed prevotes (L35)."""
        return self.prevote + round * self.delta

    def precommit_timeout(self, round: int) -> float:
        """How long to wait after a quorum of mixed precommits (L48)."""
        return self.precommit + round * self.delta


class ValueSource(Protocol):
    """The shell's side of the engine: makes and checks values (blocks).

    Both callbacks must be deterministic and must not call back into the engine.
    """

    def build(self, height: int, round: int) -> tuple[bytes, bytes]:
        """A fresh ``(value_id, value)`` to propose at ``height`` (value_id is 32 bytes)."""
        ...

    def validate(self, height: int, value: bytes) -> bytes | None:
        """The value_id of ``value`` when it is a valid value for ``height``, else None."""
        ...

    def validate_decided(self, height: int, value: bytes) -> bytes | None:
        """As :meth:`validate`, for a value a commit certificate proves 2/3 of the weight
        accepted: rules that depend on this node's clock are skipped (a node whose clock
        is behind must still apply what the network committed)."""
        ...


def select_proposer(voting_set: VotingSet, seed: bytes, height: int, round: int) -> bytes:
    """The proposer of ``(height, round)``: position ``round mod n`` of the height's order.

    Each height has a *proposer order*, a weighted random permutation of its ``n``
    voters: position ``j`` is drawn among the voters not yet placed, with
    ``r_j = int.from_bytes(tagged_hash(PROPOSAL, seed | height:u64 | j:u32), "big")
    mod (their total weight)``, as the first of them, in ``voting_set.voters`` order,
    whose cumulative weight exceeds ``r_j``. Round 0's proposer is drawn with
    probability weight/total; later rounds of the same height go through every voter
    before any repeats, so a silent or byzantine leader costs at most one round in
    ``n``. A node seeds it with the digest of the height's voting set (see
    docs/consensus.md, "Proposer order"), which no proposer of the epoch chooses.

    :raises ValueError: an empty voting set, a seed that is not 32 bytes, or a height
        or round out of range.
    """
    if voting_set.total <= 0:
        raise InvalidArgumentError("voting_set", "the voting set has no weight")
    if type(seed) is not bytes or len(seed) != 32:
        raise InvalidArgumentError("seed", "seed must be 32 bytes")
    if not 0 <= height <= MAX_HEIGHT or not 0 <= round <= MAX_ROUND:
        raise InvalidArgumentError("height" if not 0 <= height <= MAX_HEIGHT else "round", "height or round out of range")
    voters = voting_set.voters
    order = _proposer_order(voters, tuple(voting_set.weights[v] for v in voters), seed, height)
    return order[round % len(order)]


@functools.lru_cache(maxsize=64)
def _proposer_order(
    voters: tuple[bytes, ...], weights: tuple[int, ...], seed: bytes, height: int
) -> tuple[bytes, ...]:
    remaining = list(zip(voters, weights, strict=True))
    total = sum(weights)
    order = []
    for position in range(len(voters)):
        data = bytes(Writer().raw(seed).u64(height).u32(position))
        point = int.from_bytes(tagged_hash(Tag.PROPOSAL, data), "big") % total
        cumulative = 0
        chosen = 0
        for chosen, (_, weight) in enumerate(remaining):  # noqa: B007 - used after the loop
            cumulative += weight
            if point < cumulative:
                break
        voter, weight = remaining.pop(chosen)
        order.append(voter)
        total -= weight
    return tuple(order)


# -- events, actions, timers ----------------------------------------------------------


class Step(IntEnum):
    """The step of the current round (ordered: ``step >= PREVOTE`` is meaningful, L36)."""

    PROPOSE = 0
    PREVOTE = 1
    PRECOMMIT = 2


class TimeoutKind(Enum):
    """What a :class:`BftTimer` is for."""

    PROPOSE = "propose"
    PREVOTE = "prevote"
    PRECOMMIT = "precommit"
    REBROADCAST = "rebroadcast"


@dataclass(frozen=True, slots=True)
class BftTimer:
    """The key of every timer the engine sets; stale ones are ignored when they fire."""

    kind: TimeoutKind
    height: int
    round: int


@dataclass(frozen=True, slots=True)
class ProposalReceived:
    """A :class:`Proposal` arrived from the network."""

    proposal: Proposal


@dataclass(frozen=True, slots=True)
class VoteReceived:
    """A :class:`BlockVote` arrived from the network."""

    vote: BlockVote


@dataclass(frozen=True, slots=True)
class CommitReceived:
    """A :class:`Commit` (a decided value and its certificate) arrived from the network."""

    value: bytes
    certificate: CommitCertificate

    @classmethod
    def of(cls, commit: Commit) -> CommitReceived:
        """The event for a decoded :class:`Commit` message."""
        return cls(commit.value, commit.certificate)


@dataclass(frozen=True, slots=True)
class Decide:
    """``value`` is decided at ``height``; apply it, then call :meth:`BlockEngine.start`.

    ``certificate`` proves it: precommits for ``value_id`` in ``round`` carrying
    >= 2/3 of the height's voting weight.
    """

    height: int
    round: int
    value_id: bytes
    value: bytes
    certificate: CommitCertificate


@dataclass(frozen=True, slots=True)
class EvidenceFound:
    """A voter signed two conflicting votes; ``evidence`` proves it to anyone."""

    evidence: DoubleVoteEvidence


BftEvent = ProposalReceived | VoteReceived | CommitReceived | TimerFired
"""What :meth:`BlockEngine.handle` accepts."""

@dataclass(frozen=True, slots=True)
class BlockVoteSigned:
    """This node just signed ``vote``: make it durable before any later action is carried out.

    The shell records it (``Store.record_signed_vote(vote, locked=locked)``, one durable
    write) and, after a restart, hands this height's recorded votes and locked values
    back to :meth:`BlockEngine.start`: a restarted node then never signs a conflicting
    vote, and its lock — the round and value of its last non-nil precommit — survives,
    so a restart cannot let two blocks commit at a height.

    ``locked`` is set on the precommit that locks a value (L36-41): the value's bytes
    and the polka behind it, so that the restarted node can also re-propose the value
    it is locked on when it is the proposer (L15-16) instead of stalling the height.

    :raises InvalidArgumentError: ``locked`` is not for the precommit's height, round and value.
    """

    vote: BlockVote
    locked: LockedValue | None = None

    def __post_init__(self) -> None:
        if self.locked is not None:
            vote, locked = self.vote, self.locked
            if not isinstance(locked, LockedValue) or (
                vote.kind is not VoteKind.PRECOMMIT
                or (vote.height, vote.round, vote.value_id) != (locked.height, locked.round, locked.value_id)
            ):
                raise InvalidArgumentError("locked", "a locked value goes with the precommit of its height, round and value")


BftAction = Broadcast | SetTimer | Decide | EvidenceFound | BlockVoteSigned
"""What :meth:`BlockEngine.handle` returns."""


# -- per-height bookkeeping -----------------------------------------------------------


@dataclass(slots=True)
class _ProposalRecord:
    proposal: Proposal
    valid: bool


class _RoundLog:
    """Everything heard in one round of the current height."""

    __slots__ = (
        "by_value",
        "conflicted",
        "polka_handled",
        "precommit_timer_set",
        "prevote_timer_set",
        "proposals",
        "relevant",
        "tally",
        "total",
        "votes",
    )

    def __init__(self) -> None:
        self.proposals: list[_ProposalRecord] = []
        # Tuples are indexed by VoteKind: [unused, PREVOTE, PRECOMMIT]. Dicts keep
        # arrival order, which keeps every iteration (so every output) deterministic.
        # votes: each voter's first vote; total: the weight of those voters.
        self.votes: tuple[dict[bytes, BlockVote], ...] = ({}, {}, {})
        self.total = [0, 0, 0]
        # by_value/tally: who voted for what, counting an equivocator for every
        # relevant value it signed (see _take_vote).
        self.by_value: tuple[dict[bytes | None, dict[bytes, BlockVote]], ...] = ({}, {}, {})
        self.tally: tuple[dict[bytes | None, int], ...] = ({}, {}, {})
        # Value ids proposed in this round, or cited with this round as pol_round.
        self.relevant: set[bytes] = set()
        self.conflicted: set[tuple[VoteKind, bytes]] = set()
        self.prevote_timer_set = False  # L34 "for the first time"
        self.precommit_timer_set = False  # L47 "for the first time"
        self.polka_handled = False  # L36 "for the first time"


_Message = Proposal | BlockVote


def _sender(message: _Message) -> bytes:
    return message.proposer if isinstance(message, Proposal) else message.voter


def _slot(message: _Message) -> tuple[bytes, int, int]:
    kind = 0 if isinstance(message, Proposal) else int(message.kind)
    return (_sender(message), kind, message.round)


class BlockEngine:
    """Tendermint (Algorithm 1) for one chain, one height at a time, with weighted votes.

    :param chain_id: network id every signature is bound to.
    :param key: this node's voting key, or None for an observer that follows and
        decides but never signs. A key without weight at a height also only observes.
    :param voting_set_for: the fixed voting set of a height's epoch.
    :param seed_for: the 32-byte seed of a height's proposer order (a node passes
        the digest of the height's voting set).
    :param source: builds and validates values.
    :param check_signatures: verifies a batch of signatures.
    :param timeouts: round timeouts.
    :param commit_history: how many of its latest decisions the engine keeps to answer
        nodes still working on them; older heights are for block sync.

    Call :meth:`start` for the first height, feed events to :meth:`handle` (or
    :meth:`handle_many`) and carry out the returned actions in order. After a
    :class:`Decide`, apply the value and call :meth:`start` with the next height.
    Broadcasts go to peers only: the engine has already counted its own messages, and
    getting them back is harmless.
    """

    def __init__(
        self,
        chain_id: int,
        key: PrivateKey | None,
        voting_set_for: Callable[[int], VotingSet],
        seed_for: Callable[[int], bytes],
        source: ValueSource,
        check_signatures: CheckSignatures,
        timeouts: BftTimeouts | None = None,
        *,
        commit_history: int = 16,
    ) -> None:
        if type(chain_id) is not int or not 0 <= chain_id < 2**32:
            raise InvalidArgumentError("chain_id", "chain_id must be a u32")
        if key is not None and not isinstance(key, PrivateKey):
            raise InvalidArgumentError("key", "key must be a PrivateKey or None")
        if type(commit_history) is not int or commit_history < 1:
            raise InvalidArgumentError("commit_history", "commit_history must be a positive int")
        self._chain_id = chain_id
        self._key = key
        self._me: bytes | None = key.public_key.data if key is not None else None
        self._voting_set_for = voting_set_for
        self._seed_for = seed_for
        self._source = source
        self._check_signatures = check_signatures
        self._timeouts = timeouts if timeouts is not None else BftTimeouts()
        if not isinstance(self._timeouts, BftTimeouts):
            raise InvalidArgumentError("timeouts", "timeouts must be BftTimeouts")
        self._commit_history = commit_history
        self._commits: dict[int, Commit] = {}
        self._commit_sent_at: dict[int, float] = {}
        self._verdicts: dict[SignatureCheck, bool] = {}
        self._now = 0.0
        self._started = False
        self._reset_height(0, None, b"\x00" * 32)

    # -- public state -------------------------------------------------------------------

    @property
    def chain_id(self) -> int:
        """The network id signatures are bound to."""
        return self._chain_id

    @property
    def height(self) -> int:
        """The height being decided (or just decided, until the next :meth:`start`)."""
        return self._height

    @property
    def round(self) -> int:
        """The current round of :attr:`height`."""
        return self._round

    @property
    def step(self) -> Step:
        """The step of the current round."""
        return self._step

    @property
    def decided(self) -> bool:
        """True once :attr:`height` is decided (until the next :meth:`start`)."""
        return self._decided

    @property
    def started(self) -> bool:
        """True once :meth:`start` was called."""
        return self._started

    @property
    def locked_round(self) -> int:
        """``lockedRound`` (-1 when not locked)."""
        return self._locked_round

    @property
    def locked_value_id(self) -> bytes | None:
        """The id of ``lockedValue`` (None when not locked)."""
        return self._locked_id

    @property
    def valid_round(self) -> int:
        """``validRound`` (-1 when there is no valid value)."""
        return self._valid_round

    @property
    def valid_value_id(self) -> bytes | None:
        """The id of ``validValue`` (None when there is none)."""
        return self._valid_id

    @property
    def voting_set(self) -> VotingSet | None:
        """The voting set of :attr:`height` (None before :meth:`start`)."""
        return self._vs

    @property
    def is_voter(self) -> bool:
        """True when this node signs at :attr:`height` (it has a key with weight)."""
        return self._voter

    @property
    def held_messages(self) -> int:
        """Proposals and votes held for this height and the next (bounded; see module doc)."""
        held = len(self._next)
        for log in self._rounds.values():
            held += len(log.proposals)
            held += sum(len(voters) for kind in log.by_value for voters in kind.values())
        return held

    def proposer(self, round: int) -> bytes:
        """The proposer of ``round`` at :attr:`height`.

        :raises ValueError: before :meth:`start`.
        """
        if self._vs is None:
            raise ConsensusStateError("the engine has not started")
        found = self._proposers.get(round)
        if found is None:
            found = select_proposer(self._vs, self._seed, self._height, round)
            if round <= self._round + MAX_FUTURE_ROUNDS:
                self._proposers[round] = found
        return found

    def commit_for(self, height: int) -> Commit | None:
        """The :class:`Commit` of a recent decision of this engine, if still kept."""
        return self._commits.get(height)

    # -- driving ----------------------------------------------------------------------

    def start(
        self, height: int, now: float, *, signed: Sequence[BlockVote | LockedValue] = ()
    ) -> list[BftAction]:
        """Start deciding ``height`` (L10): call once at first, then after each decision.

        Heights only go up; skipping ahead (after block sync) is allowed. Messages for
        ``height`` buffered while the previous height was running are replayed.
        ``signed`` is what :class:`BlockVoteSigned` asked the shell to record before a
        restart: the votes this node's key signed and the values it locked on. Those of
        ``height`` are used, the rest ignored. The votes stand instead of new ones; the
        lock is restored from the last non-nil precommit among them, and the value
        recorded with that precommit (same round and id, and still valid) becomes the
        valid value again, with its polka: the node re-proposes it when it proposes.

        :raises ValueError: ``height`` is not above the current one, its voting set is
            empty, or ``signed`` holds something that is neither a vote nor a locked value.
        """
        if type(height) is not int or not 0 <= height <= MAX_HEIGHT:
            raise InvalidArgumentError("height", "height must be a u64")
        if not all(isinstance(record, BlockVote | LockedValue) for record in signed):
            raise InvalidArgumentError("signed", "signed holds BlockVote and LockedValue records only")
        if self._started and height <= self._height:
            raise InvalidArgumentError("height", f"height {height} is not above the current height {self._height}")
        follows = self._started and height == self._height + 1
        buffered = list(self._next.values()) if follows else []
        next_max = dict(self._next_max_round) if follows else {}
        vs = self._voting_set_for(height)
        if not isinstance(vs, VotingSet) or vs.total <= 0:
            raise InvalidArgumentError("voting_set_for", f"the voting set of height {height} has no weight")
        seed = self._seed_for(height)
        if type(seed) is not bytes or len(seed) != 32:
            raise InvalidArgumentError("seed_for", "seed_for must return 32 bytes")
        self._started = True
        self._now = now
        self._reset_height(height, vs, seed)
        out: list[BftAction] = []
        self._start_round(self._restore_signed(height, signed, out), out)
        for message in buffered:
            # Signatures were verified when buffered; membership is checked now.
            if isinstance(message, Proposal):
                self._take_proposal(message, out, verified=True)
            else:
                self._take_vote(message, out, verified=True)
        for sender, round in next_max.items():
            if sender in vs:
                self._note_round(sender, round)
        self._progress(out)
        return out

    def handle(self, event: BftEvent, now: float) -> list[BftAction]:
        """Process one event at time ``now``; returns the actions to carry out, in order.

        Events before the first :meth:`start` are dropped.
        """
        out: list[BftAction] = []
        if self._started:
            self._now = now
            self._dispatch(event, out)
            self._progress(out)
        return out

    def handle_many(self, events: Iterable[BftEvent], now: float) -> list[BftAction]:
        """Like :meth:`handle` for each event in order, with the signatures of all the
        proposals and votes among them checked in one batch first."""
        events = list(events)
        out: list[BftAction] = []
        if not self._started:
            return out
        checks: dict[SignatureCheck, None] = {}
        for event in events:
            message: _Message | None = None
            if isinstance(event, ProposalReceived):
                message = event.proposal
            elif isinstance(event, VoteReceived):
                message = event.vote
            if message is not None and self._is_news(message):
                checks[message.signature_check(self._chain_id)] = None
        batch = list(checks)
        if batch:
            self._verdicts = dict(zip(batch, self._check_signatures(batch), strict=True))
        try:
            self._now = now
            for event in events:
                self._dispatch(event, out)
                self._progress(out)
        finally:
            self._verdicts = {}
        return out

    def _is_news(self, message: _Message) -> bool:
        """A cheap guess whether ``message`` will need its signature checked."""
        if self._vs is None or _sender(message) not in self._vs:
            return False
        if message.height == self._height + 1:
            return self._next.get(_slot(message)) != message
        if message.height != self._height or self._decided:
            return False
        log = self._rounds.get(message.round)
        if log is None:
            return True
        if isinstance(message, Proposal):
            return all(rec.proposal != message for rec in log.proposals)
        return message.voter not in log.by_value[message.kind].get(message.value_id, ())

    # -- state ------------------------------------------------------------------------

    def _reset_height(self, height: int, vs: VotingSet | None, seed: bytes) -> None:
        self._height = height
        self._vs = vs
        self._seed = seed
        self._voter = vs is not None and self._me is not None and vs.weight(self._me) > 0
        self._round = 0
        self._step = Step.PROPOSE
        self._decided = False
        self._locked_round = -1  # L7
        self._locked_id: bytes | None = None  # L6
        self._valid_round = -1  # L9
        self._valid_id: bytes | None = None  # L8
        self._valid_value: bytes | None = None
        self._rounds: dict[int, _RoundLog] = {}
        self._values: dict[bytes, bytes] = {}  # value_id -> a validated value
        self._proposers: dict[int, bytes] = {}
        self._max_round: dict[bytes, int] = {}  # highest round each voter was heard in
        self._future: dict[bytes, set[int]] = {}  # rounds > current with stored messages
        self._skip_dirty = False
        self._committable: list[tuple[int, bytes]] = []  # (round, value_id) with precommit quorum
        self._own_proposals: dict[int, Proposal] = {}
        self._round_answered_at: dict[int, float] = {}
        self._next: dict[tuple[bytes, int, int], _Message] = {}
        self._next_rounds: dict[bytes, set[int]] = {}
        self._next_max_round: dict[bytes, int] = {}
        self._next_conflicted: set[tuple[bytes, int, int]] = set()
        self._next_proposals = 0

    def _restore_signed(
        self, height: int, signed: Sequence[BlockVote | LockedValue], out: list[BftAction]
    ) -> int:
        # Returns the round to start in: the last one this key voted in (it had reached
        # it; skipping rounds forward is always safe), so every recorded vote is at or
        # below the current round and kept whatever the future-round bounds say.
        mine = [v for v in signed if isinstance(v, BlockVote) and v.height == height and v.voter == self._me]
        if not mine:
            return 0
        self._round = max(v.round for v in mine)
        for vote in mine:
            self._take_vote(vote, out, verified=True)
        # L36-41 locks exactly when it precommits a value: the last non-nil precommit is
        # the lock (and a polka was seen for it, so it is the valid value's id too).
        locks = [v for v in mine if v.kind is VoteKind.PRECOMMIT and v.value_id is not None]
        if locks:
            last = max(locks, key=lambda v: v.round)
            self._locked_round, self._locked_id = last.round, last.value_id
            self._valid_round, self._valid_id = last.round, last.value_id
            records = [r for r in signed if isinstance(r, LockedValue) and r.height == height]
            self._restore_locked_value(last, records, out)
        return self._round

    def _restore_locked_value(self, lock: BlockVote, records: Sequence[LockedValue], out: list[BftAction]) -> None:
        # Only the record written with the locking precommit itself (same round and id)
        # is the lock's value; a record of an earlier lock of the height is stale, and a
        # store from before values were recorded has none (the node then stays locked
        # without the value, as it did: safe, only slower).
        record = next((r for r in records if (r.round, r.value_id) == (lock.round, lock.value_id)), None)
        if record is None:
            return
        # Checked like a decided value: a polka means 2/3 of the weight accepted it, and
        # the clock has moved on since (as in _polka_value). A value that no longer
        # validates (a corrupted record) is not proposed.
        if not self._is_valid_value(record.value_id, record.value, decided=True):
            return
        self._valid_value = record.value
        # The polka goes out with the re-proposal (L28 needs it at every receiver, and
        # the voters who sent it may be gone). Signatures are checked again: the store
        # is trusted with this node's own votes, but a forged polka would unlock others.
        for vote in record.prevotes():
            self._take_vote(vote, out, verified=False)

    def _log(self, round: int) -> _RoundLog:
        log = self._rounds.get(round)
        if log is None:
            log = self._rounds[round] = _RoundLog()
        return log

    def _quorum(self, weight: int) -> bool:
        assert self._vs is not None
        return quorum_reached(weight, self._vs.total)

    def _verify(self, message: _Message) -> bool:
        check = message.signature_check(self._chain_id)
        verdict = self._verdicts.get(check)
        if verdict is None:
            verdict = bool(self._check_signatures([check])[0])
        return verdict

    # -- dispatch ---------------------------------------------------------------------

    def _dispatch(self, event: BftEvent, out: list[BftAction]) -> None:
        if isinstance(event, VoteReceived):
            self._on_message(event.vote, out)
        elif isinstance(event, ProposalReceived):
            self._on_message(event.proposal, out)
        elif isinstance(event, CommitReceived):
            self._on_commit(event.value, event.certificate, out)
        elif isinstance(event, TimerFired):
            self._on_timer(event.key, out)
        else:
            raise InvalidArgumentError("event", f"not a BFT event: {type(event).__name__}")

    def _on_message(self, message: _Message, out: list[BftAction]) -> None:
        height = message.height
        if height == self._height and not self._decided:
            if isinstance(message, Proposal):
                self._take_proposal(message, out, verified=False)
            else:
                self._take_vote(message, out, verified=False)
            round, sender = message.round, _sender(message)
            if round < self._round and self._max_round.get(sender) == round:
                # The sender is still in a round we left: send it that round's messages.
                self._answer_round_laggard(round, out)
        elif height == self._height + 1:
            self._buffer_next(message, out)
        elif height <= self._height:
            if isinstance(message, BlockVote) and message.kind is VoteKind.PRECOMMIT:
                self._record_late_precommit(message)
            self._answer_laggard(height, message, out)

    def _on_commit(
        self, value: bytes, certificate: CommitCertificate, out: list[BftAction]
    ) -> None:
        # A lagging node decides from a certificate: >= 2/3 precommits for the value in
        # one round is exactly L49's condition, whoever collected them.
        if certificate.height != self._height or self._decided:
            return
        assert self._vs is not None
        if not certificate.verify(self._vs, self._chain_id, self._check_signatures):
            return
        if not self._is_valid_value(certificate.value_id, value, decided=True):
            return
        self._decide(certificate.round, certificate.value_id, value, certificate, out)

    def _on_timer(self, key: Hashable, out: list[BftAction]) -> None:
        if not isinstance(key, BftTimer) or self._decided:
            return
        if key.height != self._height or key.round != self._round:
            return  # L58, L62, L66: a timeout of another height or round does nothing
        if key.kind is TimeoutKind.PROPOSE:
            if self._step is Step.PROPOSE:  # L57-60
                self._cast(VoteKind.PREVOTE, None, out)
                self._step = Step.PREVOTE
        elif key.kind is TimeoutKind.PREVOTE:
            if self._step is Step.PREVOTE:  # L61-64
                self._cast(VoteKind.PRECOMMIT, None, out)
                self._step = Step.PRECOMMIT
        elif key.kind is TimeoutKind.PRECOMMIT:  # L65-67
            if self._round < MAX_ROUND:
                self._start_round(self._round + 1, out)
        else:
            self._rebroadcast(out)

    # -- intake -----------------------------------------------------------------------

    def _may_store(self, sender: bytes, round: int) -> bool:
        if round <= self._round:
            return True
        rounds = self._future.get(sender)
        return rounds is None or round in rounds or len(rounds) < MAX_FUTURE_ROUNDS

    def _note_round(self, sender: bytes, round: int) -> None:
        if round > self._max_round.get(sender, -1):
            self._max_round[sender] = round
            if round > self._round:
                self._skip_dirty = True

    def _note_stored(self, sender: bytes, round: int) -> None:
        if round > self._round:
            self._future.setdefault(sender, set()).add(round)

    def _take_vote(self, vote: BlockVote, out: list[BftAction], *, verified: bool) -> None:
        assert self._vs is not None
        voter, round, kind, value_id = vote.voter, vote.round, vote.kind, vote.value_id
        weight = self._vs.weight(voter)
        if weight == 0:
            return
        log = self._rounds.get(round)
        first = None
        if log is not None:
            if voter in log.by_value[kind].get(value_id, ()):
                return  # a duplicate: nothing new, not even worth a signature check
            first = log.votes[kind].get(voter)
        if first is not None:
            # An equivocation. Algorithm 1 counts *messages*: a polka or commit may
            # include this voter's vote for v even though it also voted for w (two
            # quorums still share honest weight, so safety stands). Dropping the second
            # vote could leave an honest node unable to ever see a polka that others
            # locked on. To bound memory we count it only for nil or a value proposed
            # in the round or cited by a proposal's pol_round; other values are
            # evidence only.
            assert log is not None
            relevant = value_id is None or value_id in log.relevant
            evidence_due = (kind, voter) not in log.conflicted
            if not (relevant or evidence_due) or not (verified or self._verify(vote)):
                return
            self._note_round(voter, round)
            if evidence_due:
                log.conflicted.add((kind, voter))
                out.append(EvidenceFound(DoubleVoteEvidence.of(first, vote)))
            if relevant:
                self._count(log, vote, weight)
            return
        storable = self._may_store(voter, round)
        if not storable and round <= self._max_round.get(voter, -1):
            return
        if not (verified or self._verify(vote)):
            return
        self._note_round(voter, round)
        if not storable:
            return
        log = self._log(round)
        log.votes[kind][voter] = vote
        log.total[kind] += weight
        self._count(log, vote, weight)
        self._note_stored(voter, round)

    def _count(self, log: _RoundLog, vote: BlockVote, weight: int) -> None:
        kind, value_id = vote.kind, vote.value_id
        log.by_value[kind].setdefault(value_id, {})[vote.voter] = vote
        tally = log.tally[kind]
        tally[value_id] = tally.get(value_id, 0) + weight
        if (
            kind is VoteKind.PRECOMMIT
            and value_id is not None
            and self._quorum(tally[value_id])
            and (vote.round, value_id) not in self._committable
        ):
            self._committable.append((vote.round, value_id))

    def _take_proposal(self, proposal: Proposal, out: list[BftAction], *, verified: bool) -> None:
        round, sender = proposal.round, proposal.proposer
        if sender != self.proposer(round):
            return  # L22, L28, L36, L49 only ever consider the round's proposer
        log = self._rounds.get(round)
        if log is not None and any(rec.proposal == proposal for rec in log.proposals):
            return
        storable = (
            log is None or len(log.proposals) < MAX_PROPOSALS_PER_ROUND
        ) and self._may_store(sender, round)
        if not storable and round <= self._max_round.get(sender, -1):
            return
        if not (verified or self._verify(proposal)):
            return
        self._note_round(sender, round)
        if not storable:
            return
        valid = self._is_valid_value(proposal.value_id, proposal.value)
        log = self._log(round)
        log.proposals.append(_ProposalRecord(proposal, valid))
        log.relevant.add(proposal.value_id)
        if proposal.pol_round >= 0:
            self._log(proposal.pol_round).relevant.add(proposal.value_id)
        self._note_stored(sender, round)

    def _is_valid_value(self, value_id: bytes, value: bytes, *, decided: bool = False) -> bool:
        known = self._values.get(value_id)
        if known is not None and known == value:
            return True
        validate = self._source.validate_decided if decided else self._source.validate
        if validate(self._height, value) != value_id:
            return False
        self._values.setdefault(value_id, value)
        return True

    def _buffer_next(self, message: _Message, out: list[BftAction]) -> None:
        # The next height's voting set may depend on the block being decided, so the
        # current set stands in for it; start() checks membership again.
        assert self._vs is not None
        sender = _sender(message)
        if sender not in self._vs:
            return
        slot = _slot(message)
        existing = self._next.get(slot)
        if existing is not None:
            if (
                existing == message
                or isinstance(existing, Proposal)
                or slot in self._next_conflicted
            ):
                return
            assert isinstance(existing, BlockVote) and isinstance(message, BlockVote)
            if existing.value_id == message.value_id or not self._verify(message):
                return
            self._next_conflicted.add(slot)
            out.append(EvidenceFound(DoubleVoteEvidence.of(existing, message)))
            return
        rounds = self._next_rounds.setdefault(sender, set())
        storable = message.round in rounds or len(rounds) < MAX_FUTURE_ROUNDS
        if isinstance(message, Proposal) and self._next_proposals >= MAX_BUFFERED_NEXT_PROPOSALS:
            storable = False
        if not storable and message.round <= self._next_max_round.get(sender, -1):
            return
        if not self._verify(message):
            return
        if message.round > self._next_max_round.get(sender, -1):
            self._next_max_round[sender] = message.round
        if storable:
            rounds.add(message.round)
            self._next[slot] = message
            if isinstance(message, Proposal):
                self._next_proposals += 1

    def _record_late_precommit(self, vote: BlockVote) -> None:
        # Participation is read from the parent's commit a block records: a voter whose
        # precommit arrived after the quorum formed still took part, and is added to the
        # kept certificate (so a consistently slower honest voter is never "absent").
        commit = self._commits.get(vote.height)
        if commit is None:
            return
        certificate = commit.certificate
        if (vote.round, vote.value_id) != (certificate.round, certificate.value_id):
            return
        if vote.voter in certificate.voters:
            return
        try:
            voters = self._voting_set_for(vote.height)
        except ValueError:
            return
        if vote.voter not in voters or not self._verify(vote):
            return
        pairs = tuple(sorted((*certificate.precommits, (vote.voter, vote.signature))))
        self._commits[vote.height] = Commit(
            commit.value, CommitCertificate(certificate.height, certificate.round, certificate.value_id, pairs)
        )

    def _answer_laggard(self, height: int, message: _Message, out: list[BftAction]) -> None:
        commit = self._commits.get(height)
        if commit is None:
            return
        sender = _sender(message)
        # Answer whoever was a voter at the height it asks about, even if it is no voter
        # now: a node that fell behind may have been deactivated for absence meanwhile,
        # and without the commit it could never catch up. Anyone else gets nothing, so
        # strangers cannot make us broadcast.
        try:
            voters = self._voting_set_for(height)
        except ValueError:
            return
        if sender not in voters:
            return
        last = self._commit_sent_at.get(height)
        if last is not None and self._now - last < self._timeouts.propose:
            return
        # A whole block answers a 110-byte vote: check the vote is real first, or
        # forged votes for old heights buy a broadcast of every block (one signature
        # check, cached, per distinct vote).
        if not self._verify(message):
            return
        self._commit_sent_at[height] = self._now
        out.append(Broadcast(commit))

    # -- Algorithm 1 ------------------------------------------------------------------

    def _start_round(self, round: int, out: list[BftAction]) -> None:
        """StartRound (L11-21)."""
        self._round = round
        self._step = Step.PROPOSE
        for rounds in self._future.values():
            rounds.difference_update([r for r in rounds if r <= round])
        self._skip_dirty = True
        now, timeouts = self._now, self._timeouts
        out.append(
            SetTimer(
                BftTimer(TimeoutKind.REBROADCAST, self._height, round),
                now + timeouts.propose_timeout(round),
            )
        )
        if self._voter and self.proposer(round) == self._me:
            proposal = self._own_proposals.get(round)
            if proposal is None:
                proposal = self._make_proposal(round)
            out.append(Broadcast(proposal))
            self._broadcast_pol(proposal, out)
            self._take_proposal(proposal, out, verified=True)
        else:
            out.append(
                SetTimer(
                    BftTimer(TimeoutKind.PROPOSE, self._height, round),
                    now + timeouts.propose_timeout(round),
                )
            )

    def _make_proposal(self, round: int) -> Proposal:
        assert self._key is not None
        log = self._rounds.get(round)
        for rec in log.proposals if log is not None else ():
            if rec.proposal.proposer == self._me:
                # Signed by an earlier run of this key: re-send it rather than equivocate.
                self._own_proposals[round] = rec.proposal
                return rec.proposal
        if self._valid_id is not None and self._valid_value is not None:  # L15-16
            value_id, value, pol_round = self._valid_id, self._valid_value, self._valid_round
            if pol_round >= round:
                # Only a node restarted in the round it locked in gets here (Algorithm 1
                # proposes before it can see the round's polka): the polka was for the
                # value it proposed then, so it proposes that value again, as then.
                pol_round = -1
        else:  # L18
            # Not marked valid here: the proposer's own value is validated exactly as a
            # peer's would be when its proposal is processed.
            value_id, value = self._source.build(self._height, round)
            pol_round = -1
        proposal = Proposal.create(
            self._key, self._chain_id, self._height, round, pol_round, value_id, value
        )
        self._own_proposals[round] = proposal
        return proposal

    def _broadcast_pol(self, proposal: Proposal, out: list[BftAction]) -> None:
        # Algorithm 1 assumes the polka behind pol_round reached everyone; over lossy
        # gossip the proposer sends it along (L28 needs it at every receiver).
        if proposal.pol_round < 0:
            return
        log = self._rounds.get(proposal.pol_round)
        if log is None:
            return
        for vote in log.by_value[VoteKind.PREVOTE].get(proposal.value_id, {}).values():
            out.append(Broadcast(vote))

    def _cast(
        self, kind: VoteKind, value_id: bytes | None, out: list[BftAction], *, lock: bytes | None = None
    ) -> None:
        # ``lock``: the value this precommit locks on (L36-41), recorded with it.
        if not self._voter:
            return
        assert self._key is not None and self._me is not None
        log = self._log(self._round)
        vote = log.votes[kind].get(self._me)
        if vote is None:
            vote = BlockVote.create(
                self._key, self._chain_id, kind, self._height, self._round, value_id
            )
            locked = None
            if lock is not None and value_id is not None:
                locked = LockedValue.of(lock, log.by_value[VoteKind.PREVOTE][value_id].values())
            out.append(BlockVoteSigned(vote, locked))  # durable before it is sent
            self._take_vote(vote, out, verified=True)
        # else: a vote this key signed earlier (a previous run) stands; never sign twice.
        out.append(Broadcast(vote))

    def _send_round(self, round: int, out: list[BftAction]) -> None:
        """Broadcast every message held for ``round``: the proposals and all the votes.

        Others' votes are sent too: the quorum that moved this node on may include
        byzantine votes that nobody else will ever send again.
        """
        log = self._rounds.get(round)
        if log is None:
            return
        own = self._own_proposals.get(round)
        for rec in log.proposals:
            out.append(Broadcast(rec.proposal))
            if rec.proposal is own:
                self._broadcast_pol(own, out)
        for kind in (VoteKind.PREVOTE, VoteKind.PRECOMMIT):
            for voters in log.by_value[kind].values():
                out.extend(Broadcast(vote) for vote in voters.values())

    def _rebroadcast(self, out: list[BftAction]) -> None:
        # Algorithm 1 assumes every message is eventually delivered; over lossy gossip
        # a round stuck for a whole propose timeout re-sends what it holds.
        self._send_round(self._round, out)
        at = self._now + self._timeouts.propose_timeout(self._round)
        out.append(SetTimer(BftTimer(TimeoutKind.REBROADCAST, self._height, self._round), at))

    def _answer_round_laggard(self, round: int, out: list[BftAction]) -> None:
        last = self._round_answered_at.get(round)
        if last is not None and self._now - last < self._timeouts.propose:
            return
        self._round_answered_at[round] = self._now
        self._send_round(round, out)

    def _progress(self, out: list[BftAction]) -> None:
        """Apply every rule of Algorithm 1 whose condition now holds, until none does."""
        while not self._decided:
            if self._try_decide(out) or self._try_skip(out):
                continue
            if self._step is Step.PROPOSE and self._try_prevote(out):
                continue
            log = self._log(self._round)
            if self._step >= Step.PREVOTE and not log.polka_handled and self._try_polka(log, out):
                continue
            if self._step is Step.PREVOTE:
                if not log.prevote_timer_set and self._quorum(
                    log.total[VoteKind.PREVOTE]
                ):  # L34-35
                    log.prevote_timer_set = True
                    at = self._now + self._timeouts.prevote_timeout(self._round)
                    out.append(
                        SetTimer(BftTimer(TimeoutKind.PREVOTE, self._height, self._round), at)
                    )
                if self._quorum(log.tally[VoteKind.PREVOTE].get(None, 0)):  # L44-46
                    self._cast(VoteKind.PRECOMMIT, None, out)
                    self._step = Step.PRECOMMIT
                    continue
            if self._quorum(log.tally[VoteKind.PRECOMMIT].get(None, 0)) and self._round < MAX_ROUND:
                # Not in Algorithm 1: a quorum of nil precommits means no value can be
                # decided in this round (that would take an honest voter precommitting
                # twice), so waiting out timeoutPrecommit (L47, L65) would only delay.
                self._start_round(self._round + 1, out)
                continue
            if not log.precommit_timer_set and self._quorum(
                log.total[VoteKind.PRECOMMIT]
            ):  # L47-48
                log.precommit_timer_set = True
                at = self._now + self._timeouts.precommit_timeout(self._round)
                out.append(SetTimer(BftTimer(TimeoutKind.PRECOMMIT, self._height, self._round), at))
            return

    def _try_prevote(self, out: list[BftAction]) -> bool:
        """L22-33: prevote on the first proposal of the round that can be judged."""
        log = self._rounds.get(self._round)
        if log is None:
            return False
        for rec in log.proposals:
            proposal = rec.proposal
            if proposal.pol_round == -1:  # L22-23
                ok = rec.valid and (
                    self._locked_round == -1 or self._locked_id == proposal.value_id
                )
            elif self._has_polka(proposal.pol_round, proposal.value_id):  # L28-29
                valid = rec.valid or self._is_valid_value(proposal.value_id, proposal.value, decided=True)
                ok = valid and (
                    self._locked_round <= proposal.pol_round or self._locked_id == proposal.value_id
                )
            else:
                continue  # L28 waits for the polka of pol_round (or the propose timeout)
            self._cast(VoteKind.PREVOTE, proposal.value_id if ok else None, out)
            self._step = Step.PREVOTE
            return True
        return False

    def _polka_value(self, value_id: bytes) -> bytes | None:
        # Called only once 2/3 of the weight prevoted (or precommitted) value_id: then at
        # least one honest voter found it valid by its own clock, and only the rules
        # that do not depend on this node's clock are left to check here (a node whose
        # clock is behind joins the quorum instead of stalling it). Every other rule,
        # the ones safety rests on, still applies.
        value = self._values.get(value_id)
        if value is not None:
            return value
        for log in self._rounds.values():
            for rec in log.proposals:
                proposal = rec.proposal
                if proposal.value_id == value_id and self._is_valid_value(value_id, proposal.value, decided=True):
                    return proposal.value
        return None

    def _has_polka(self, round: int, value_id: bytes) -> bool:
        log = self._rounds.get(round)
        return log is not None and self._quorum(log.tally[VoteKind.PREVOTE].get(value_id, 0))

    def _try_polka(self, log: _RoundLog, out: list[BftAction]) -> bool:
        """L36-43: a polka for a valid value in the current round locks (in prevote step)
        and always makes it the valid value.

        The paper asks for the round's proposal of v; any validated value with id(v)
        is the same value, so one from another round's proposal serves too.
        """
        for value_id, weight in log.tally[VoteKind.PREVOTE].items():
            if value_id is None or not self._quorum(weight):
                continue
            value = self._polka_value(value_id)
            if value is None:
                return False  # wait until a proposal brings the value
            log.polka_handled = True
            if self._step is Step.PREVOTE:  # L37-41
                self._locked_id, self._locked_round = value_id, self._round
                self._cast(VoteKind.PRECOMMIT, value_id, out, lock=value)
                self._step = Step.PRECOMMIT
            self._valid_id, self._valid_value, self._valid_round = (
                value_id,
                value,
                self._round,
            )  # L42-43
            return True
        return False

    def _try_decide(self, out: list[BftAction]) -> bool:
        """L49-54: a quorum of precommits for a valid value in any round decides it."""
        for round, value_id in self._committable:
            value = self._polka_value(value_id)
            if value is None:
                continue
            votes = self._rounds[round].by_value[VoteKind.PRECOMMIT][value_id].values()
            self._decide(round, value_id, value, CommitCertificate.from_votes(votes), out)
            return True
        return False

    def _try_skip(self, out: list[BftAction]) -> bool:
        """L55-56: messages of later rounds from more than 1/3 of the weight move us there.

        We skip to the highest round ``r`` such that voters heard in round ``r`` or later
        carry more than 1/3 of the weight: at least one of them is honest, so an honest
        node has reached ``r``, which is what L55's f+1 messages of round ``r`` guarantee.
        """
        if not self._skip_dirty:
            return False
        self._skip_dirty = False
        assert self._vs is not None
        total = self._vs.total
        heard = sorted(
            (
                (round, self._vs.weight(voter))
                for voter, round in self._max_round.items()
                if round > self._round
            ),
            reverse=True,
        )
        weight = 0
        for round, w in heard:
            weight += w
            if 3 * weight > total:
                self._start_round(round, out)
                return True
        return False

    def _decide(
        self,
        round: int,
        value_id: bytes,
        value: bytes,
        certificate: CommitCertificate,
        out: list[BftAction],
    ) -> None:
        height = self._height
        self._decided = True
        commit = Commit(value, certificate)
        self._commits[height] = commit
        for old in [h for h in self._commits if h <= height - self._commit_history]:
            del self._commits[old]
            self._commit_sent_at.pop(old, None)
        self._commit_sent_at[height] = self._now
        # The height's messages are no longer needed; the next height's buffer stays.
        self._rounds = {}
        self._values = {}
        self._future = {}
        self._own_proposals = {}
        self._round_answered_at = {}
        self._committable = []
        out.append(Decide(height, round, value_id, value, certificate))
        out.append(Broadcast(commit))
