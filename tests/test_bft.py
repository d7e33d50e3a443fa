"""Unit tests of BlockEngine: one test (or a few) per rule of Algorithm 1, plus the
engine's own rules (bounded buffers, commit gossip, evidence, batching).

Comments cite the rule's line in Buchman, Kwon and Milosevic (2018), Algorithm 1.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Callable, Sequence

import pytest

from timecoin_core.consensus.bft import (
    MAX_FUTURE_ROUNDS,
    BftAction,
    BftTimeouts,
    BftTimer,
    BlockEngine,
    BlockVoteSigned,
    CommitReceived,
    Decide,
    EvidenceFound,
    ProposalReceived,
    Step,
    TimeoutKind,
    VoteReceived,
    select_proposer,
)
from timecoin_core.consensus.bft_messages import (
    BlockVote,
    Commit,
    CommitCertificate,
    Proposal,
    VoteKind,
)
from timecoin_core.consensus.locked_value import LockedValue
from timecoin_core.consensus.sansio import Broadcast, SetTimer, TimerFired
from timecoin_core.consensus.voting import VotingSet
from timecoin_core.errors import InvalidArgumentError
from timecoin_core.hashing import Tag, sha256, tagged_hash
from timecoin_core.keys import PrivateKey
from timecoin_core.verify import SignatureCheck, SyncVerifier

CHAIN = 3
KEYS = [PrivateKey.from_seed(sha256(b"bft-unit-%d" % i)) for i in range(8)]
PUB = [k.public_key.data for k in KEYS]
TIMEOUTS = BftTimeouts(propose=3.0, prevote=1.0, precommit=1.0, delta=0.5)
VERIFIER = SyncVerifier()
PREVOTE, PRECOMMIT = VoteKind.PREVOTE, VoteKind.PRECOMMIT


def value(tag: str, height: int = 1) -> tuple[bytes, bytes]:
    raw = f"v|{height}|{tag}".encode()
    return sha256(raw), raw


class Source:
    """Values ``v|height|tag``; tags starting with ``bad`` are invalid."""

    def __init__(self) -> None:
        self.built: list[tuple[int, int]] = []
        self.validated = 0

    def build(self, height: int, round: int) -> tuple[bytes, bytes]:
        self.built.append((height, round))
        return value(f"built-{round}", height)

    def validate_decided(self, height: int, raw: bytes) -> bytes | None:
        # Tags starting with "future" fail only the clock rule (validate), not this one.
        verdict = self.validate(height, raw.replace(b"|future", b"|", 1))
        return sha256(raw) if verdict is not None else None

    def validate(self, height: int, raw: bytes) -> bytes | None:
        self.validated += 1
        parts = raw.split(b"|")
        if len(parts) != 3 or parts[0] != b"v" or parts[1] != str(height).encode():
            return None
        if parts[2].startswith(b"bad") or parts[2].startswith(b"future"):
            return None
        return sha256(raw)


class CountingChecker:
    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, checks: Sequence[SignatureCheck]) -> list[bool]:
        self.calls.append(len(checks))
        return VERIFIER.verify_many(checks)


def find_seed(ok: Callable[[bytes], bool], vs: VotingSet) -> bytes:
    """A previous-block hash whose proposer schedule satisfies ``ok`` (deterministic)."""
    for i in range(10_000):
        seed = sha256(b"seed-%d" % i)
        if ok(seed):
            return seed
    raise AssertionError("no seed")  # pragma: no cover


class Rig:
    """One engine (voter 0 unless ``me`` says otherwise) and helpers to feed it."""

    def __init__(
        self,
        weights: Sequence[int] = (1, 1, 1, 1),
        me: int | None = 0,
        proposers: dict[int, int] | None = None,
        height: int = 1,
    ) -> None:
        self.vs = VotingSet.of(0, [(PUB[i], w) for i, w in enumerate(weights)])
        wanted = proposers if proposers is not None else {0: 1}

        def ok(seed: bytes) -> bool:
            return all(
                select_proposer(self.vs, seed, height, r) == PUB[p] for r, p in wanted.items()
            )

        self.seed = find_seed(ok, self.vs)
        self.source = Source()
        self.checker = CountingChecker()
        self.engine = BlockEngine(
            CHAIN,
            KEYS[me] if me is not None else None,
            lambda _h: self.vs,
            lambda _h: self.seed,
            self.source,
            self.checker,
            TIMEOUTS,
        )
        self.now = 0.0
        self.actions = self.engine.start(height, self.now)
        self.height = height

    def feed(self, *events: object) -> list[BftAction]:
        out: list[BftAction] = []
        for event in events:
            out += self.engine.handle(event, self.now)  # type: ignore[arg-type]
        self.actions = out
        return out

    def timer(self, kind: TimeoutKind, round: int) -> list[BftAction]:
        return self.feed(TimerFired(BftTimer(kind, self.height, round)))

    def proposal(self, i: int, round: int, tag: str, pol: int = -1) -> ProposalReceived:
        vid, raw = value(tag, self.height)
        return ProposalReceived(Proposal.create(KEYS[i], CHAIN, self.height, round, pol, vid, raw))

    def vote(self, i: int, kind: VoteKind, round: int, tag: str | None) -> VoteReceived:
        vid = None if tag is None else value(tag, self.height)[0]
        return VoteReceived(BlockVote.create(KEYS[i], CHAIN, kind, self.height, round, vid))

    def votes(
        self, voters: Sequence[int], kind: VoteKind, round: int, tag: str | None
    ) -> list[VoteReceived]:
        return [self.vote(i, kind, round, tag) for i in voters]


def sent(actions: Sequence[BftAction]) -> list[object]:
    return [a.message for a in actions if isinstance(a, Broadcast)]


def own_votes(
    actions: Sequence[BftAction], kind: VoteKind, round: int | None = None
) -> list[bytes | None]:
    """Value ids of the votes of ``kind`` (of ``round``, if given) that voter 0 sent."""
    return [
        m.value_id
        for m in sent(actions)
        if isinstance(m, BlockVote)
        and m.kind is kind
        and m.voter == PUB[0]
        and (round is None or m.round == round)
    ]


def timers(actions: Sequence[BftAction]) -> dict[BftTimer, float]:
    return {a.key: a.at for a in actions if isinstance(a, SetTimer) and isinstance(a.key, BftTimer)}


def decisions(actions: Sequence[BftAction]) -> list[Decide]:
    return [a for a in actions if isinstance(a, Decide)]


def vid(tag: str, height: int = 1) -> bytes:
    return value(tag, height)[0]


# -- proposer selection and timeouts -----------------------------------------------------


def _documented_order(vs: VotingSet, seed: bytes, height: int) -> list[bytes]:
    remaining = list(vs.voters)
    order = []
    for position in range(len(vs)):
        data = seed + height.to_bytes(8, "little") + position.to_bytes(4, "little")
        total = sum(vs.weights[v] for v in remaining)
        point = int.from_bytes(tagged_hash(Tag.PROPOSAL, data), "big") % total
        cumulative = 0
        for voter in remaining:
            cumulative += vs.weights[voter]
            if point < cumulative:
                break
        order.append(voter)
        remaining.remove(voter)
    return order


def test_select_proposer_follows_the_documented_formula() -> None:
    vs = VotingSet.of(0, [(PUB[i], w) for i, w in enumerate((5, 1, 3))])
    seed = sha256(b"prev")
    for height, round in ((1, 0), (7, 3), (2**40, 2**31)):
        order = _documented_order(vs, seed, height)
        assert select_proposer(vs, seed, height, round) == order[round % len(order)]


def test_rounds_of_a_height_go_through_every_voter_before_repeating() -> None:
    vs = VotingSet.of(0, [(PUB[i], w) for i, w in enumerate((1, 2, 3, 10))])
    for height in range(1, 50):
        first = [select_proposer(vs, b"\x07" * 32, height, r) for r in range(len(vs))]
        assert sorted(first) == sorted(vs.voters)
        assert select_proposer(vs, b"\x07" * 32, height, len(vs) + 1) == first[1]


def test_select_proposer_frequencies_follow_weights() -> None:
    weights = (1, 2, 3, 10)
    vs = VotingSet.of(0, [(PUB[i], w) for i, w in enumerate(weights)])
    heights = 16_000
    # Round 0 of each height is a draw with probability weight / total.
    counts = collections.Counter(select_proposer(vs, b"\x05" * 32, h, 0) for h in range(heights))
    assert set(counts) == set(vs.voters)
    for i, w in enumerate(weights):
        expected = heights * w / vs.total
        # Binomial standard deviation; 5 sigma keeps this deterministic test far from flaky.
        sigma = math.sqrt(heights * (w / vs.total) * (1 - w / vs.total))
        assert abs(counts[PUB[i]] - expected) < 5 * sigma


def test_select_proposer_rejects_bad_input() -> None:
    vs = VotingSet.of(0, [(PUB[0], 1)])
    with pytest.raises(ValueError):
        select_proposer(VotingSet.of(0, []), b"\x00" * 32, 1, 0)
    with pytest.raises(ValueError):
        select_proposer(vs, b"short", 1, 0)
    with pytest.raises(ValueError):
        select_proposer(vs, b"\x00" * 32, -1, 0)
    with pytest.raises(ValueError):
        select_proposer(vs, b"\x00" * 32, 1, 2**32)
    assert select_proposer(vs, b"\x00" * 32, 1, 0) == PUB[0]


def test_timeouts_grow_with_the_round_and_are_validated() -> None:
    t = BftTimeouts(propose=2, prevote=1.0, precommit=0.5, delta=0.25)
    assert (t.propose_timeout(0), t.propose_timeout(4)) == (2, 3.0)
    assert (t.prevote_timeout(2), t.precommit_timeout(2)) == (1.5, 1.0)
    for bad in (
        {"propose": 0.0},
        {"prevote": -1.0},
        {"delta": -0.1},
        {"precommit": math.inf},
        {"propose": math.nan},
        {"delta": True},
    ):
        with pytest.raises(ValueError):
            BftTimeouts(**bad)


# -- StartRound and the propose step ------------------------------------------------------


def test_start_as_non_proposer_schedules_the_propose_timeout() -> None:
    rig = Rig(proposers={0: 1})
    t = timers(rig.actions)
    assert t[BftTimer(TimeoutKind.PROPOSE, 1, 0)] == 3.0  # L21
    assert BftTimer(TimeoutKind.REBROADCAST, 1, 0) in t
    assert sent(rig.actions) == []
    assert (rig.engine.height, rig.engine.round, rig.engine.step) == (1, 0, Step.PROPOSE)


def test_start_as_proposer_proposes_a_fresh_value_and_prevotes_it() -> None:
    rig = Rig(proposers={0: 0})
    proposals = [m for m in sent(rig.actions) if isinstance(m, Proposal)]
    assert len(proposals) == 1  # L14-19
    p = proposals[0]
    assert (p.height, p.round, p.pol_round, p.proposer) == (1, 0, -1, PUB[0])
    assert p.value_id == vid("built-0")
    assert rig.source.built == [(1, 0)]
    assert own_votes(rig.actions, PREVOTE) == [p.value_id]  # L22-24 on its own proposal
    assert rig.engine.step is Step.PREVOTE
    assert BftTimer(TimeoutKind.PROPOSE, 1, 0) not in timers(rig.actions)


def test_valid_proposal_gets_a_prevote_for_it() -> None:
    rig = Rig(proposers={0: 1})
    out = rig.feed(rig.proposal(1, 0, "a"))
    assert own_votes(out, PREVOTE) == [vid("a")]  # L22-24
    assert rig.engine.step is Step.PREVOTE


def test_invalid_proposal_gets_a_nil_prevote() -> None:
    rig = Rig(proposers={0: 1})
    out = rig.feed(rig.proposal(1, 0, "bad-value"))
    assert own_votes(out, PREVOTE) == [None]  # L26


def test_proposal_whose_value_does_not_match_its_id_gets_a_nil_prevote() -> None:
    rig = Rig(proposers={0: 1})
    _, raw = value("a")
    forged = Proposal.create(KEYS[1], CHAIN, 1, 0, -1, vid("b"), raw)
    assert own_votes(rig.feed(ProposalReceived(forged)), PREVOTE) == [None]


def test_proposal_from_anyone_but_the_proposer_is_ignored() -> None:
    rig = Rig(proposers={0: 1})
    assert rig.feed(rig.proposal(2, 0, "a")) == []
    assert rig.engine.step is Step.PROPOSE


def test_proposal_with_a_bad_signature_is_ignored() -> None:
    rig = Rig(proposers={0: 1})
    good = rig.proposal(1, 0, "a").proposal
    bad = Proposal(good.height, good.round, -1, good.value_id, good.value, good.proposer, bytes(64))
    assert rig.feed(ProposalReceived(bad)) == []
    # The genuine proposal still counts afterwards.
    assert own_votes(rig.feed(ProposalReceived(good)), PREVOTE) == [vid("a")]


def test_propose_timeout_prevotes_nil() -> None:
    rig = Rig(proposers={0: 1})
    out = rig.timer(TimeoutKind.PROPOSE, 0)
    assert own_votes(out, PREVOTE) == [None]  # L57-60
    assert rig.engine.step is Step.PREVOTE
    # A late proposal no longer triggers a prevote (L22 requires step = propose).
    assert own_votes(rig.feed(rig.proposal(1, 0, "a")), PREVOTE) == []


def test_timeouts_of_other_rounds_or_steps_do_nothing() -> None:
    rig = Rig(proposers={0: 1})
    assert rig.timer(TimeoutKind.PROPOSE, 1) == []  # L58: round must match
    assert rig.timer(TimeoutKind.PREVOTE, 0) == []  # L62: step must be prevote
    assert rig.feed(TimerFired("not ours")) == []
    assert rig.feed(TimerFired(BftTimer(TimeoutKind.PROPOSE, 2, 0))) == []  # another height


# -- prevote step -------------------------------------------------------------------------


def test_quorum_of_mixed_prevotes_schedules_the_prevote_timeout_once() -> None:
    rig = Rig(proposers={0: 1})
    rig.feed(rig.proposal(1, 0, "a"))
    out = rig.feed(rig.vote(1, PREVOTE, 0, "b"), rig.vote(2, PREVOTE, 0, None))
    assert timers(out) == {BftTimer(TimeoutKind.PREVOTE, 1, 0): 1.0}  # L34-35
    assert timers(rig.feed(rig.vote(3, PREVOTE, 0, None))) == {}  # "for the first time"
    out = rig.timer(TimeoutKind.PREVOTE, 0)
    assert own_votes(out, PRECOMMIT) == [None]  # L61-64
    assert rig.engine.step is Step.PRECOMMIT


def test_polka_locks_and_precommits_the_value() -> None:
    rig = Rig(proposers={0: 1})
    rig.feed(rig.proposal(1, 0, "a"))
    out = rig.feed(*rig.votes([1, 2], PREVOTE, 0, "a"))
    assert own_votes(out, PRECOMMIT) == [vid("a")]  # L36-41
    e = rig.engine
    assert (e.locked_round, e.locked_value_id) == (0, vid("a"))
    assert (e.valid_round, e.valid_value_id) == (0, vid("a"))  # L42-43
    assert e.step is Step.PRECOMMIT


def test_polka_before_the_proposal_waits_for_the_value() -> None:
    rig = Rig(proposers={0: 1})
    rig.timer(TimeoutKind.PROPOSE, 0)  # prevoted nil
    out = rig.feed(*rig.votes([1, 2, 3], PREVOTE, 0, "a"))
    assert own_votes(out, PRECOMMIT) == []  # polka, but no valid value yet
    out = rig.feed(rig.proposal(1, 0, "a"))
    assert own_votes(out, PRECOMMIT) == [vid("a")]  # L36: the proposal completes it
    assert rig.engine.locked_round == 0


def test_polka_in_precommit_step_updates_valid_value_only() -> None:
    rig = Rig(proposers={0: 1})
    rig.feed(rig.proposal(1, 0, "a"))  # we prevote a
    rig.feed(rig.vote(1, PREVOTE, 0, None), rig.vote(2, PREVOTE, 0, "a"))  # 3 of 4, mixed
    rig.timer(TimeoutKind.PREVOTE, 0)  # L61-64: precommit nil
    assert rig.engine.step is Step.PRECOMMIT and rig.engine.locked_round == -1
    out = rig.feed(rig.vote(3, PREVOTE, 0, "a"))  # now a polka for a: 0, 2, 3
    assert own_votes(out, PRECOMMIT) == []  # L37: no lock outside the prevote step
    assert rig.engine.locked_round == -1
    assert (rig.engine.valid_round, rig.engine.valid_value_id) == (0, vid("a"))  # L42-43


def test_quorum_of_nil_prevotes_precommits_nil() -> None:
    rig = Rig(proposers={0: 1})
    rig.timer(TimeoutKind.PROPOSE, 0)
    out = rig.feed(*rig.votes([1, 2], PREVOTE, 0, None))
    assert own_votes(out, PRECOMMIT) == [None]  # L44-46
    assert rig.engine.step is Step.PRECOMMIT


# -- precommit step, rounds, decisions ------------------------------------------------------


def test_quorum_of_mixed_precommits_schedules_the_timeout_that_starts_the_next_round() -> None:
    rig = Rig(proposers={0: 1, 1: 2})
    rig.timer(TimeoutKind.PROPOSE, 0)
    out = rig.feed(rig.vote(1, PRECOMMIT, 0, "a"), rig.vote(2, PRECOMMIT, 0, None))
    assert timers(out) == {}  # two of four
    out = rig.feed(rig.vote(3, PRECOMMIT, 0, None))
    assert timers(out) == {BftTimer(TimeoutKind.PRECOMMIT, 1, 0): 1.0}  # L47-48, any step
    out = rig.timer(TimeoutKind.PRECOMMIT, 0)  # L65-67
    assert rig.engine.round == 1 and rig.engine.step is Step.PROPOSE
    assert timers(out)[BftTimer(TimeoutKind.PROPOSE, 1, 1)] == 3.5  # grows with the round


def test_quorum_of_nil_precommits_starts_the_next_round_at_once() -> None:
    rig = Rig(proposers={0: 1, 1: 2})
    rig.timer(TimeoutKind.PROPOSE, 0)
    rig.feed(*rig.votes([1, 2], PRECOMMIT, 0, None))
    assert rig.engine.round == 0
    out = rig.feed(rig.vote(3, PRECOMMIT, 0, None))
    # No value can be decided in round 0 any more: no timeoutPrecommit wait.
    assert rig.engine.round == 1
    assert BftTimer(TimeoutKind.PRECOMMIT, 1, 0) not in timers(out)


def test_quorum_of_precommits_decides_with_a_certificate() -> None:
    rig = Rig(proposers={0: 1})
    rig.feed(rig.proposal(1, 0, "a"))
    out = rig.feed(*rig.votes([1, 2], PRECOMMIT, 0, "a"))
    assert decisions(out) == []
    out = rig.feed(rig.vote(3, PRECOMMIT, 0, "a"))
    (decide,) = decisions(out)  # L49-51
    assert (decide.height, decide.round, decide.value_id, decide.value) == (
        1,
        0,
        vid("a"),
        value("a")[1],
    )
    assert decide.certificate.voters == tuple(sorted(PUB[1:4]))
    assert decide.certificate.verify(rig.vs, CHAIN, VERIFIER.verify_many)
    commits = [m for m in sent(out) if isinstance(m, Commit)]
    assert commits == [Commit(decide.value, decide.certificate)]
    assert rig.engine.decided
    assert rig.feed(rig.vote(0, PRECOMMIT, 0, "a")) == []  # decided: nothing more


def test_quorum_is_two_thirds_of_the_weight_not_of_the_voters() -> None:
    # Weights 3, 2, 1, 1, 2 (total 9): a quorum is 6, wherever the voters are.
    rig = Rig(weights=(3, 2, 1, 1, 2), proposers={0: 1})
    rig.feed(rig.proposal(1, 0, "a"))
    assert decisions(rig.feed(*rig.votes([2, 3, 4], PRECOMMIT, 0, "a"))) == []  # 1+1+2 = 4
    assert decisions(rig.feed(rig.vote(1, PRECOMMIT, 0, "a"))) != []  # +2 = 6 = exactly 2/3
    rig = Rig(weights=(1,) * 7, proposers={0: 1})
    rig.feed(rig.proposal(1, 0, "a"))
    assert decisions(rig.feed(*rig.votes([1, 2, 3, 4], PRECOMMIT, 0, "a"))) == []  # 4/7 > 1/2
    assert decisions(rig.feed(rig.vote(5, PRECOMMIT, 0, "a"))) != []  # 5/7 >= 2/3


def test_decides_on_precommits_of_a_later_round_while_still_in_round_zero() -> None:
    rig = Rig(proposers={0: 1, 3: 2})
    rig.feed(rig.proposal(2, 3, "late"))
    out = rig.feed(*rig.votes([1, 2, 3], PRECOMMIT, 3, "late"))
    (decide,) = decisions(out)  # L49 holds for any round r
    assert decide.round == 3 and decide.value_id == vid("late")


def test_decides_when_the_value_arrives_after_the_precommits() -> None:
    rig = Rig(proposers={0: 1, 2: 3})
    out = rig.feed(*rig.votes([1, 2, 3], PRECOMMIT, 2, "a"))
    assert decisions(out) == []
    (decide,) = decisions(rig.feed(rig.proposal(3, 2, "a")))
    assert decide.round == 2


def test_an_invalid_value_is_never_decided() -> None:
    rig = Rig(proposers={0: 1})
    rig.feed(rig.proposal(1, 0, "bad-x"))
    assert decisions(rig.feed(*rig.votes([1, 2, 3], PRECOMMIT, 0, "bad-x"))) == []


# -- locking --------------------------------------------------------------------------------


def lock_on_a_in_round_0(proposers: dict[int, int]) -> Rig:
    rig = Rig(proposers=proposers)
    rig.feed(rig.proposal(1, 0, "a"))
    rig.feed(*rig.votes([1, 2], PREVOTE, 0, "a"))
    assert (rig.engine.locked_round, rig.engine.locked_value_id) == (0, vid("a"))
    rig.feed(*rig.votes([1, 2], PRECOMMIT, 0, None))  # no decision; timeout to round 1
    rig.timer(TimeoutKind.PRECOMMIT, 0)
    assert rig.engine.round == 1
    return rig


def test_locked_node_prevotes_nil_for_a_fresh_other_value() -> None:
    rig = lock_on_a_in_round_0({0: 1, 1: 2})
    out = rig.feed(rig.proposal(2, 1, "b"))
    assert own_votes(out, PREVOTE) == [None]  # L23: lockedRound != -1 and lockedValue != b


def test_locked_node_prevotes_its_locked_value_again() -> None:
    rig = lock_on_a_in_round_0({0: 1, 1: 2})
    out = rig.feed(rig.proposal(2, 1, "a"))
    assert own_votes(out, PREVOTE) == [vid("a")]  # L23: lockedValue = v


def test_lock_survives_an_older_polka_and_yields_to_a_later_one() -> None:
    rig = Rig(proposers={0: 1, 1: 2, 2: 3, 4: 1})  # round 3 is ours (rotation)
    rig.feed(rig.proposal(1, 0, "b"))  # round 0: we prevote b, see no polka in time
    rig.feed(*rig.votes([1, 2, 3], PRECOMMIT, 0, None))
    rig.timer(TimeoutKind.PRECOMMIT, 0)
    rig.feed(rig.proposal(2, 1, "a"))  # round 1: we lock on a
    rig.feed(*rig.votes([2, 3], PREVOTE, 1, "a"))
    assert (rig.engine.locked_round, rig.engine.locked_value_id) == (1, vid("a"))
    rig.feed(*rig.votes([1, 2, 3], PRECOMMIT, 1, None))
    rig.timer(TimeoutKind.PRECOMMIT, 1)
    # Round 2: b again, citing the round-0 polka that reaches us only now. That
    # polka is older than our lock: prevote nil (L29: lockedRound 1 > vr 0, a != b).
    rig.feed(*rig.votes([1, 2], PREVOTE, 0, "b"))
    out = rig.feed(rig.proposal(3, 2, "b", pol=0))
    assert rig.engine.round == 2
    assert own_votes(out, PREVOTE) == [None]
    rig.feed(*rig.votes([1, 2, 3], PRECOMMIT, 2, None))
    rig.timer(TimeoutKind.PRECOMMIT, 2)
    # Round 3 is ours and gathers nothing; round 4: b citing a polka of round 2, later
    # than our lock: prevote b (L29).
    rig.feed(*rig.votes([1, 2, 3], PRECOMMIT, 3, None))
    rig.timer(TimeoutKind.PRECOMMIT, 3)
    rig.feed(*rig.votes([1, 2, 3], PREVOTE, 2, "b"))
    out = rig.feed(rig.proposal(1, 4, "b", pol=2))
    assert rig.engine.round == 4
    assert own_votes(out, PREVOTE) == [vid("b")]
    assert rig.engine.locked_value_id == vid("a")  # the lock itself moves only on a polka


def test_proposal_citing_a_polka_of_the_lock_round_itself_is_accepted() -> None:
    # lockedRound <= vr is inclusive (L29). Two polkas in one round need equivocators;
    # voters 1 and 2 prevote both a and b in round 0.
    rig = lock_on_a_in_round_0({0: 1, 1: 2})
    out = rig.feed(rig.proposal(2, 1, "b", pol=0))
    assert own_votes(out, PREVOTE) == []  # waits for the polka of b in round 0 (L28)
    out = rig.feed(*rig.votes([1, 2, 3], PREVOTE, 0, "b"))
    assert own_votes(out, PREVOTE, round=1) == [vid("b")]


def test_proposal_with_pol_round_waits_for_its_polka() -> None:
    rig = Rig(proposers={0: 1, 1: 2})
    rig.timer(TimeoutKind.PROPOSE, 0)
    rig.feed(*rig.votes([1, 2, 3], PRECOMMIT, 0, None))
    rig.timer(TimeoutKind.PRECOMMIT, 0)
    out = rig.feed(rig.proposal(2, 1, "a", pol=0))
    assert own_votes(out, PREVOTE) == []  # L28 needs 2f+1 prevotes of round 0 for a
    rig.feed(*rig.votes([1, 2], PREVOTE, 0, "a"))
    out = rig.feed(rig.vote(3, PREVOTE, 0, "a"))
    assert own_votes(out, PREVOTE) == [vid("a")]  # L28-30


def test_proposer_reproposes_its_valid_value_with_its_polka() -> None:
    rig = lock_on_a_in_round_0({0: 1, 1: 0})
    proposals = [m for m in sent(rig.actions) if isinstance(m, Proposal)]
    assert len(proposals) == 1  # L15-16, L19
    p = proposals[0]
    assert (p.round, p.pol_round, p.value_id) == (1, 0, vid("a"))
    polka = {m.voter for m in sent(rig.actions) if isinstance(m, BlockVote) and m.round == 0}
    assert polka == {PUB[0], PUB[1], PUB[2]}  # the prevotes behind pol_round go along
    assert rig.source.built == []  # nothing fresh was built
    assert own_votes(rig.actions, PREVOTE, round=1) == [vid("a")]  # L28-30 on its own proposal


# -- round skipping -------------------------------------------------------------------------


def test_messages_of_a_later_round_from_over_a_third_skip_there() -> None:
    rig = Rig(proposers={0: 1, 5: 2})
    out = rig.feed(rig.vote(1, PREVOTE, 5, None))
    assert rig.engine.round == 0  # 1 of 4 is not more than 1/3
    out = rig.feed(rig.vote(3, PRECOMMIT, 7, None))
    assert rig.engine.round == 5  # L55-56: voters 1 and 3 were heard in round >= 5
    assert BftTimer(TimeoutKind.PROPOSE, 1, 5) in timers(out)


def test_exactly_a_third_of_the_weight_does_not_skip() -> None:
    rig = Rig(weights=(1, 1, 1), proposers={0: 1})
    rig.feed(rig.vote(1, PREVOTE, 4, None))
    assert rig.engine.round == 0
    rig.feed(rig.vote(2, PREVOTE, 4, None))
    assert rig.engine.round == 4


def test_a_proposal_counts_for_round_skipping() -> None:
    rig = Rig(weights=(1, 1, 1), proposers={0: 1, 3: 1})
    rig.feed(rig.proposal(1, 3, "a"))
    rig.feed(rig.vote(2, PRECOMMIT, 3, None))
    assert rig.engine.round == 3
    assert own_votes(rig.actions, PREVOTE) == [vid("a")]  # the buffered proposal is used


# -- evidence, duplicates, non-voters, old and next heights ----------------------------------


def test_conflicting_votes_produce_evidence_once() -> None:
    rig = Rig(proposers={0: 1})
    assert rig.feed(rig.vote(2, PREVOTE, 0, "a")) == []
    assert rig.feed(rig.vote(2, PREVOTE, 0, "a")) == []  # a duplicate is not evidence
    out = rig.feed(rig.vote(2, PREVOTE, 0, None))
    (found,) = [a for a in out if isinstance(a, EvidenceFound)]
    assert found.evidence.offender == PUB[2]
    assert found.evidence.verify(CHAIN, VERIFIER.verify_many)
    assert found.evidence.vote_a.value_id is None  # canonical order: nil first
    assert [a for a in rig.feed(rig.vote(2, PREVOTE, 0, "c")) if isinstance(a, EvidenceFound)] == []
    # A precommit conflict of the same voter is separate evidence.
    rig.feed(rig.vote(2, PRECOMMIT, 0, "a"))
    out = rig.feed(rig.vote(2, PRECOMMIT, 0, "b"))
    assert len([a for a in out if isinstance(a, EvidenceFound)]) == 1


def test_an_equivocator_counts_for_every_relevant_value() -> None:
    # Voter 3 prevotes nil to us and a to others; the others lock on a. Its prevote for
    # a must still count when the polka reaches us, or we could never follow.
    rig = Rig(proposers={0: 1})
    rig.timer(TimeoutKind.PROPOSE, 0)  # we prevote nil
    rig.feed(rig.vote(3, PREVOTE, 0, None))
    rig.feed(rig.proposal(1, 0, "a"))
    rig.feed(*rig.votes([1, 2], PREVOTE, 0, "a"))
    assert rig.engine.valid_value_id is None  # 1, 2 for a: not yet a quorum
    out = rig.feed(rig.vote(3, PREVOTE, 0, "a"))
    assert [a for a in out if isinstance(a, EvidenceFound)]
    assert rig.engine.valid_value_id == vid("a")  # polka 1, 2, 3 (L36, L42)


def test_votes_for_values_nobody_proposed_are_evidence_only() -> None:
    rig = Rig(proposers={0: 1})
    rig.feed(rig.vote(3, PREVOTE, 0, "x"))
    held = rig.engine.held_messages
    for i in range(20):
        out = rig.feed(rig.vote(3, PREVOTE, 0, f"junk{i}"))
        assert len([a for a in out if isinstance(a, EvidenceFound)]) == (i == 0)
    assert rig.engine.held_messages == held


def test_votes_from_non_voters_and_bad_signatures_are_dropped() -> None:
    rig = Rig(weights=(1, 1, 1, 1, 0), proposers={0: 1})
    assert rig.feed(rig.vote(4, PREVOTE, 0, None), rig.vote(6, PREVOTE, 0, None)) == []
    good = rig.vote(1, PREVOTE, 0, None).vote
    forged = BlockVote(good.kind, good.height, good.round, vid("a"), good.voter, good.signature)
    assert rig.feed(VoteReceived(forged)) == []
    assert rig.engine.held_messages == 0


def test_messages_for_old_heights_are_dropped() -> None:
    rig = Rig(proposers={0: 1}, height=5)
    old = BlockVote.create(KEYS[1], CHAIN, PREVOTE, 4, 0, None)
    assert rig.feed(VoteReceived(old)) == []
    assert rig.engine.held_messages == 0


def test_messages_for_the_next_height_are_replayed_after_start() -> None:
    rig = Rig(proposers={0: 1})
    nxt = [VoteReceived(BlockVote.create(KEYS[i], CHAIN, PRECOMMIT, 2, 0, None)) for i in (1, 2, 3)]
    assert rig.feed(*nxt) == []
    assert rig.engine.held_messages == 3
    rig.feed(rig.proposal(1, 0, "a"), *rig.votes([1, 2, 3], PRECOMMIT, 0, "a"))
    assert rig.engine.decided
    checks_before = len(rig.checker.calls)
    out = rig.engine.start(2, 10.0)
    # Three nil precommits of round 0 at height 2: round 0 is over before it began.
    assert rig.engine.round == 1 and out
    assert len(rig.checker.calls) == checks_before  # verified once, when buffered


def test_start_only_moves_forward() -> None:
    rig = Rig(proposers={0: 1})
    with pytest.raises(ValueError):
        rig.engine.start(1, 1.0)
    with pytest.raises(ValueError):
        rig.engine.start(0, 1.0)
    rig.engine.start(9, 1.0)  # after block sync, heights may jump
    assert rig.engine.height == 9 and rig.engine.round == 0


def test_events_before_start_are_dropped() -> None:
    engine = BlockEngine(
        CHAIN,
        KEYS[0],
        lambda _h: VotingSet.of(0, [(PUB[0], 1)]),
        lambda _h: bytes(32),
        Source(),
        VERIFIER.verify_many,
    )
    assert engine.handle(TimerFired("x"), 0.0) == []
    assert not engine.started


# -- bounded memory -------------------------------------------------------------------------


def test_future_rounds_are_bounded_per_voter() -> None:
    rig = Rig(weights=(1, 1, 1, 1, 1, 1, 1), proposers={0: 1})
    for round in range(1, 200):
        for kind in (PREVOTE, PRECOMMIT):
            rig.feed(rig.vote(6, kind, round, None))
    assert rig.engine.round == 0  # 1/7 of the weight cannot move us
    assert rig.engine.held_messages == 2 * MAX_FUTURE_ROUNDS
    # An honest voter's future messages are still stored.
    rig.feed(rig.vote(5, PREVOTE, 1, None))
    assert rig.engine.held_messages == 2 * MAX_FUTURE_ROUNDS + 1


def test_next_height_buffer_is_bounded() -> None:
    rig = Rig(proposers={0: 1})
    for round in range(100):
        rig.feed(VoteReceived(BlockVote.create(KEYS[1], CHAIN, PREVOTE, 2, round, None)))
    assert rig.engine.held_messages == MAX_FUTURE_ROUNDS


# -- commit gossip ---------------------------------------------------------------------------


def certificate(rig: Rig, voters: Sequence[int], tag: str, round: int = 0) -> CommitCertificate:
    return CommitCertificate.from_votes(rig.vote(i, PRECOMMIT, round, tag).vote for i in voters)


def test_commit_lets_a_lagging_node_decide() -> None:
    rig = Rig(proposers={0: 1})
    cert = certificate(rig, [1, 2, 3], "a", round=4)
    (decide,) = decisions(rig.feed(CommitReceived(value("a")[1], cert)))
    assert (decide.round, decide.value_id, decide.certificate) == (4, vid("a"), cert)


def test_commit_needs_a_quorum_valid_signatures_and_the_right_valid_value() -> None:
    rig = Rig(proposers={0: 1})
    _, raw = value("a")
    weak = certificate(rig, [1, 2], "a")
    assert rig.feed(CommitReceived(raw, weak)) == []
    good = certificate(rig, [1, 2, 3], "a")
    forged = CommitCertificate(1, 0, vid("a"), tuple((v, bytes(64)) for v, _ in good.precommits))
    assert rig.feed(CommitReceived(raw, forged)) == []
    assert rig.feed(CommitReceived(value("b")[1], good)) == []  # value does not match the id
    bad = certificate(rig, [1, 2, 3], "bad-z")
    assert rig.feed(CommitReceived(value("bad-z")[1], bad)) == []  # invalid value
    other_height = CommitCertificate.from_votes(
        BlockVote.create(KEYS[i], CHAIN, PRECOMMIT, 2, 0, vid("a", 2)) for i in (1, 2, 3)
    )
    assert rig.feed(CommitReceived(value("a", 2)[1], other_height)) == []
    assert not rig.engine.decided
    assert decisions(rig.feed(CommitReceived(raw, good)))


def test_decided_node_answers_a_lagging_voter_with_its_commit_rate_limited() -> None:
    rig = Rig(proposers={0: 1})
    rig.feed(rig.proposal(1, 0, "a"), *rig.votes([1, 2, 3], PRECOMMIT, 0, "a"))
    commit = rig.engine.commit_for(1)
    assert commit is not None
    rig.engine.start(2, 0.5)
    rig.now = 1.0
    assert sent(rig.feed(rig.vote(3, PREVOTE, 1, None))) == []  # just sent on deciding
    rig.now = 10.0
    assert sent(rig.feed(rig.vote(3, PREVOTE, 1, None))) == [commit]
    rig.now = 11.0
    assert sent(rig.feed(rig.vote(2, PREVOTE, 1, None))) == []  # once per propose timeout


def test_precommits_after_the_quorum_join_the_kept_commit() -> None:
    # Participation comes from the commit a block records: a slower honest voter whose
    # precommit arrives after the quorum must be in it, or it is deactivated as absent.
    rig = Rig(weights=(1, 1, 1, 1, 1), proposers={0: 1})
    rig.feed(rig.proposal(1, 0, "a"), *rig.votes([0, 1, 2, 3], PREVOTE, 0, "a"))
    rig.feed(*rig.votes([1, 2, 3], PRECOMMIT, 0, "a"))
    commit = rig.engine.commit_for(1)
    assert commit is not None and PUB[4] not in commit.certificate.voters
    late = rig.vote(4, PRECOMMIT, 0, "a").vote
    forged = BlockVote(late.kind, late.height, late.round, late.value_id, PUB[4], bytes(64))
    other = rig.vote(4, PRECOMMIT, 0, "b")
    rig.feed(VoteReceived(forged), other)
    assert PUB[4] not in rig.engine.commit_for(1).certificate.voters  # type: ignore[union-attr]
    rig.feed(VoteReceived(late))
    kept = rig.engine.commit_for(1)
    assert kept is not None and PUB[4] in kept.certificate.voters
    assert kept.certificate.verify(rig.vs, CHAIN, VERIFIER.verify_many)
    assert kept.value == commit.value


def test_a_polka_overrides_a_value_refused_only_by_the_local_clock() -> None:
    # A node whose clock is behind refuses a proposal "from the future" and prevotes
    # nil; once 2/3 prevoted the value, only clock-free validity is left to check, so it
    # precommits with the others instead of stalling a quorum that needs it.
    rig = Rig(proposers={0: 1})
    out = rig.feed(rig.proposal(1, 0, "future-a"))
    mine = [m for m in sent(out) if isinstance(m, BlockVote)]
    assert [m.value_id for m in mine] == [None]  # refused by its clock
    out = rig.feed(*rig.votes([1, 2, 3], PREVOTE, 0, "future-a"))
    precommits = [m for m in sent(out) if isinstance(m, BlockVote) and m.kind is PRECOMMIT]
    assert [m.value_id for m in precommits] == [value("future-a")[0]]
    assert decisions(rig.feed(*rig.votes([1, 2], PRECOMMIT, 0, "future-a")))
    # A value invalid by rules other than the clock stays refused, polka or not.
    rig2 = Rig(proposers={0: 1})
    rig2.feed(rig2.proposal(1, 0, "bad-a"))
    out = rig2.feed(*rig2.votes([1, 2, 3], PREVOTE, 0, "bad-a"))
    assert not [m for m in sent(out) if isinstance(m, BlockVote) and m.kind is PRECOMMIT and m.value_id]


def test_a_restarted_engine_keeps_its_votes_and_its_lock() -> None:
    # Before: a restart forgot the lock, so a node locked on "a" could prevote "b" in a
    # later round, and with byzantine help two blocks could commit at one height.
    rig = Rig(proposers={0: 1, 1: 2})
    out = rig.feed(rig.proposal(1, 0, "a"), *rig.votes([1, 2], PREVOTE, 0, "a"))
    signed = [a.vote for a in out if isinstance(a, BlockVoteSigned)]
    assert [(v.kind, v.value_id) for v in signed] == [(PREVOTE, value("a")[0]), (PRECOMMIT, value("a")[0])]
    assert rig.engine.locked_value_id == value("a")[0]
    # The process restarts: a fresh engine, given only what the shell recorded.
    again = Rig(proposers={0: 1, 1: 2})
    engine = BlockEngine(CHAIN, KEYS[0], lambda _h: again.vs, lambda _h: rig.seed, again.source, again.checker, TIMEOUTS)
    out = engine.start(1, 0.0, signed=signed)
    assert engine.locked_round == 0 and engine.locked_value_id == value("a")[0]
    assert not [a for a in out if isinstance(a, BlockVoteSigned)]
    # Round 0 again: nothing new is signed for the slots it already voted in.
    out = engine.handle(rig.proposal(1, 0, "a"), 0.1)
    assert not [a for a in out if isinstance(a, BlockVoteSigned)]
    # Round 1 brings a fresh proposal for "b": locked on "a", it prevotes nil (an
    # engine started without the recorded votes would prevote "b").
    out = engine.handle(TimerFired(BftTimer(TimeoutKind.PRECOMMIT, 1, 0)), 5.0)
    assert engine.round == 1
    vid_b, raw_b = value("b")
    out = engine.handle(ProposalReceived(Proposal.create(KEYS[2], CHAIN, 1, 1, -1, vid_b, raw_b)), 5.1)
    prevotes = [a.vote for a in out if isinstance(a, BlockVoteSigned) and a.vote.kind is PREVOTE]
    assert [v.value_id for v in prevotes] == [None]


def test_forged_votes_for_an_old_height_never_buy_a_commit() -> None:
    # 16 forged 110-byte votes used to produce 16 whole blocks to every peer.
    rig = Rig(proposers={0: 1})
    rig.feed(rig.proposal(1, 0, "a"), *rig.votes([1, 2, 3], PRECOMMIT, 0, "a"))
    commit = rig.engine.commit_for(1)
    rig.engine.start(2, 0.5)
    for i in range(16):
        rig.now = 10.0 + 10 * i
        genuine = rig.vote(3, PREVOTE, 1, None).vote
        forged = BlockVote(genuine.kind, genuine.height, genuine.round, genuine.value_id, genuine.voter, bytes([i]) * 64)
        assert sent(rig.feed(VoteReceived(forged))) == []
    assert sent(rig.feed(rig.vote(3, PREVOTE, 1, None))) == [commit]  # a real one still is answered


# -- liveness helpers beyond Algorithm 1 ------------------------------------------------------


def test_rebroadcast_resends_what_the_round_holds() -> None:
    rig = Rig(proposers={0: 1})
    rig.feed(rig.proposal(1, 0, "a"), rig.vote(2, PREVOTE, 0, "a"))
    rig.now = 3.0
    out = rig.timer(TimeoutKind.REBROADCAST, 0)
    messages = sent(out)
    assert any(isinstance(m, Proposal) for m in messages)
    assert {m.voter for m in messages if isinstance(m, BlockVote)} == {PUB[0], PUB[2]}
    assert timers(out) == {BftTimer(TimeoutKind.REBROADCAST, 1, 0): 6.0}


def test_a_voter_left_behind_in_a_round_gets_that_round_again() -> None:
    rig = Rig(proposers={0: 1})
    rig.timer(TimeoutKind.PROPOSE, 0)
    rig.feed(*rig.votes([1, 2], PRECOMMIT, 0, None), rig.vote(3, PREVOTE, 0, None))
    rig.timer(TimeoutKind.PRECOMMIT, 0)
    assert rig.engine.round == 1
    out = rig.feed(rig.vote(3, PREVOTE, 0, None))  # voter 3 is still in round 0
    resent = {(m.voter, m.kind) for m in sent(out) if isinstance(m, BlockVote)}
    assert (PUB[1], PRECOMMIT) in resent and (PUB[0], PREVOTE) in resent


# -- observers, batching, determinism --------------------------------------------------------


def test_observer_never_signs_but_decides() -> None:
    rig = Rig(me=None, proposers={0: 1})
    assert not rig.engine.is_voter
    out = rig.feed(rig.proposal(1, 0, "a"), *rig.votes([1, 2, 3], PREVOTE, 0, "a"))
    assert [m for m in sent(out) if isinstance(m, (BlockVote, Proposal))] == []
    assert decisions(rig.feed(*rig.votes([1, 2, 3], PRECOMMIT, 0, "a")))


def test_handle_many_batches_signature_checks_and_matches_handle() -> None:
    rig = Rig(proposers={0: 1})
    events = [
        rig.proposal(1, 0, "a"),
        *rig.votes([1, 2, 3], PREVOTE, 0, "a"),
        *rig.votes([1, 2], PRECOMMIT, 0, "a"),
    ]
    one_by_one = rig.feed(*events)
    other = Rig(proposers={0: 1})
    calls_before = len(other.checker.calls)
    batched = other.engine.handle_many(events, 0.0)  # type: ignore[arg-type]
    assert batched == one_by_one
    assert other.checker.calls[calls_before:] == [len(events)]


def test_identical_inputs_give_identical_outputs() -> None:
    def run() -> list[BftAction]:
        rig = Rig(proposers={0: 1, 1: 2})
        out = list(rig.actions)
        out += rig.feed(
            rig.proposal(1, 0, "a"), *rig.votes([3], PREVOTE, 0, "a"), rig.vote(2, PREVOTE, 0, None)
        )
        out += rig.timer(TimeoutKind.PREVOTE, 0)
        out += rig.feed(*rig.votes([1, 2, 3], PRECOMMIT, 0, None))
        out += rig.timer(TimeoutKind.PRECOMMIT, 0)
        return out

    assert run() == run()


def test_engine_rejects_bad_configuration() -> None:
    vs = VotingSet.of(0, [(PUB[0], 1)])
    with pytest.raises(ValueError):
        BlockEngine(-1, None, lambda _h: vs, lambda _h: bytes(32), Source(), VERIFIER.verify_many)
    with pytest.raises(ValueError):
        BlockEngine(
            1,
            None,
            lambda _h: vs,
            lambda _h: bytes(32),
            Source(),
            VERIFIER.verify_many,
            commit_history=0,
        )
    engine = BlockEngine(
        1,
        None,
        lambda _h: VotingSet.of(0, []),
        lambda _h: bytes(32),
        Source(),
        VERIFIER.verify_many,
    )
    with pytest.raises(ValueError):
        engine.start(1, 0.0)
    engine = BlockEngine(
        1, None, lambda _h: vs, lambda _h: b"short", Source(), VERIFIER.verify_many
    )
    with pytest.raises(ValueError):
        engine.start(1, 0.0)


def test_without_the_recorded_votes_a_restarted_engine_would_prevote_the_other_value() -> None:
    # The control for the test above: the lock really is what the recorded votes bring.
    rig = Rig(proposers={0: 1, 1: 2})
    engine = BlockEngine(CHAIN, KEYS[0], lambda _h: rig.vs, lambda _h: rig.seed, rig.source, rig.checker, TIMEOUTS)
    engine.start(1, 0.0)
    engine.handle(TimerFired(BftTimer(TimeoutKind.PROPOSE, 1, 0)), 3.0)
    engine.handle(TimerFired(BftTimer(TimeoutKind.PRECOMMIT, 1, 0)), 5.0)
    vid_b, raw_b = value("b")
    out = engine.handle(ProposalReceived(Proposal.create(KEYS[2], CHAIN, 1, 1, -1, vid_b, raw_b)), 5.1)
    prevotes = [a.vote for a in out if isinstance(a, BlockVoteSigned) and a.vote.kind is PREVOTE]
    assert [v.value_id for v in prevotes] == [vid_b]


def test_a_restart_resumes_at_the_last_round_it_voted_in_and_keeps_every_vote() -> None:
    # Votes four rounds ahead of round 0 used to fall outside the future-round bound on
    # restore, be forgotten, and be signed again differently: an honest equivocation.
    rig = Rig(proposers={3: 1})
    signed = [BlockVote.create(KEYS[0], CHAIN, PREVOTE, 1, r, None) for r in range(4)]
    engine = BlockEngine(CHAIN, KEYS[0], lambda _h: rig.vs, lambda _h: rig.seed, rig.source, rig.checker, TIMEOUTS)
    engine.start(1, 0.0, signed=signed)
    assert engine.round == 3
    vid, raw = value("a")
    out = engine.handle(ProposalReceived(Proposal.create(KEYS[1], CHAIN, 1, 3, -1, vid, raw)), 0.1)
    assert not [a for a in out if isinstance(a, BlockVoteSigned)]  # round 3's prevote stands
    assert [m.value_id for m in sent(out) if isinstance(m, BlockVote) and m.round == 3] == [None]


# -- the locked value survives a restart ------------------------------------------------------


def _restarted(rig: Rig, signed: Sequence[BlockVote | LockedValue], height: int = 1) -> tuple[BlockEngine, list[BftAction]]:
    """A fresh engine with voter 0's key, started from what the shell recorded."""
    engine = BlockEngine(CHAIN, KEYS[0], lambda _h: rig.vs, lambda _h: rig.seed, rig.source, rig.checker, TIMEOUTS)
    return engine, engine.start(height, 0.0, signed=signed)


def _recorded(actions: Sequence[BftAction]) -> list[BlockVote | LockedValue]:
    """What a shell records from ``actions``: every signed vote and every locked value."""
    out: list[BlockVote | LockedValue] = []
    for action in actions:
        if isinstance(action, BlockVoteSigned):
            out.append(action.vote)
            if action.locked is not None:
                out.append(action.locked)
    return out


def _locked_in_round_0(proposers: dict[int, int]) -> tuple[Rig, list[BlockVote | LockedValue]]:
    # Voter 0 prevotes voter 1's "a" in round 0, sees the polka (1, 2 and itself) and
    # locks: its precommit comes with the value and the polka.
    rig = Rig(proposers=proposers)
    out = rig.feed(rig.proposal(1, 0, "a"), *rig.votes([1, 2], PREVOTE, 0, "a"))
    assert rig.engine.locked_value_id == vid("a")
    return rig, _recorded(out)


def test_the_locking_precommit_carries_the_value_and_its_polka() -> None:
    rig = Rig(proposers={0: 1})
    out = rig.feed(rig.proposal(1, 0, "a"), *rig.votes([1, 2], PREVOTE, 0, "a"))
    signed = [a for a in out if isinstance(a, BlockVoteSigned)]
    assert [(a.vote.kind, a.locked is not None) for a in signed] == [(PREVOTE, False), (PRECOMMIT, True)]
    locked = signed[1].locked
    assert locked is not None
    assert (locked.height, locked.round, locked.value_id, locked.value) == (1, 0, vid("a"), value("a")[1])
    assert set(locked.voters) == {PUB[0], PUB[1], PUB[2]}
    # A nil precommit (L44, L61) locks nothing and carries nothing.
    rig = Rig(proposers={0: 1})
    rig.timer(TimeoutKind.PROPOSE, 0)
    out = rig.feed(*rig.votes([1, 2], PREVOTE, 0, None))
    assert [(a.vote.kind, a.vote.value_id, a.locked) for a in out if isinstance(a, BlockVoteSigned)] == [
        (PRECOMMIT, None, None)
    ]


def test_a_node_restarted_while_locked_re_proposes_the_locked_value_with_its_polka() -> None:
    # Before: the restarted node kept the lock's id but not the value, so as the
    # proposer of round 1 it proposed a fresh block it then refused itself (prevote
    # nil), and the height needed a new polka (simulator seeds 2324 and 2549).
    rig, signed = _locked_in_round_0({0: 1, 1: 0})
    engine, _ = _restarted(rig, signed)
    assert (engine.locked_round, engine.locked_value_id) == (0, vid("a"))
    assert (engine.valid_round, engine.valid_value_id) == (0, vid("a"))
    built = len(rig.source.built)
    out = engine.handle(TimerFired(BftTimer(TimeoutKind.PRECOMMIT, 1, 0)), 5.0)
    assert engine.round == 1
    proposals = [m for m in sent(out) if isinstance(m, Proposal)]
    assert [(p.round, p.pol_round, p.value_id, p.value) for p in proposals] == [(1, 0, vid("a"), value("a")[1])]
    assert len(rig.source.built) == built  # nothing fresh was built
    polka = {m.voter for m in sent(out) if isinstance(m, BlockVote) and m.kind is PREVOTE and m.round == 0}
    assert polka == {PUB[0], PUB[1], PUB[2]}  # sent with the proposal (L28 needs it)
    assert own_votes(out, PREVOTE, 1) == [vid("a")]
    # A peer that missed round 0 entirely is convinced by what it was sent (L28-29).
    peer = Rig(me=3, proposers={0: 1, 1: 0})
    peer.seed = rig.seed
    peer.timer(TimeoutKind.PROPOSE, 0)
    peer.feed(*rig.votes([1, 2], PRECOMMIT, 0, None))
    peer.timer(TimeoutKind.PRECOMMIT, 0)
    assert peer.engine.round == 1
    out = peer.feed(*[ProposalReceived(m) if isinstance(m, Proposal) else VoteReceived(m) for m in sent(out)])  # type: ignore[arg-type]
    assert [m.value_id for m in sent(out) if isinstance(m, BlockVote) and m.voter == PUB[3] and m.round == 1] == [vid("a")]


def test_without_the_locked_value_the_restarted_proposer_stalls_its_round() -> None:
    # The control for the test above (a store from before values were recorded): the
    # lock alone makes the proposer propose a fresh value and refuse it itself.
    rig, signed = _locked_in_round_0({0: 1, 1: 0})
    engine, _ = _restarted(rig, [v for v in signed if isinstance(v, BlockVote)])
    assert engine.locked_value_id == vid("a")
    out = engine.handle(TimerFired(BftTimer(TimeoutKind.PRECOMMIT, 1, 0)), 5.0)
    proposals = [m for m in sent(out) if isinstance(m, Proposal)]
    assert [(p.pol_round, p.value_id) for p in proposals] == [(-1, vid("built-1"))]
    assert own_votes(out, PREVOTE, 1) == [None]


def test_a_node_restarted_in_the_round_it_locked_in_proposes_that_value_again() -> None:
    # Its own round-0 proposal got the polka; after the restart it is round 0's
    # proposer again and proposes the same value (pol_round -1, as the first time:
    # a polka of the round it proposes in cannot be cited), never a different one.
    rig = Rig(proposers={0: 0})
    first = [m for m in sent(rig.actions) if isinstance(m, Proposal)]
    assert [p.value_id for p in first] == [vid("built-0")]
    out = rig.feed(*rig.votes([1, 2], PREVOTE, 0, "built-0"))
    engine, out = _restarted(rig, _recorded(out))
    assert (engine.round, engine.locked_value_id) == (0, vid("built-0"))
    proposals = [m for m in sent(out) if isinstance(m, Proposal)]
    assert [(p.round, p.pol_round, p.value_id) for p in proposals] == [(0, -1, vid("built-0"))]
    assert rig.source.built == [(1, 0)]  # built once, before the restart
    assert not [a for a in out if isinstance(a, BlockVoteSigned)]  # its votes of round 0 stand


def test_a_restarted_locked_node_never_signs_a_conflicting_vote() -> None:
    rig, signed = _locked_in_round_0({0: 1, 1: 2})
    engine, out = _restarted(rig, signed)
    assert not [a for a in out if isinstance(a, BlockVoteSigned)]
    # Equivocators make a polka for "b" in round 0: the recorded precommit for "a" is
    # re-sent, nothing is signed.
    vid_b, raw_b = value("b")
    out = engine.handle(ProposalReceived(Proposal.create(KEYS[1], CHAIN, 1, 0, -1, vid_b, raw_b)), 0.1)
    out += engine.handle_many(rig.votes([1, 2, 3], PREVOTE, 0, "b"), 0.2)
    assert not [a for a in out if isinstance(a, BlockVoteSigned)]
    assert {m.value_id for m in sent(out) if isinstance(m, BlockVote) and m.voter == PUB[0]} <= {vid("a")}
    # Round 1 brings a fresh "b": locked on "a", it prevotes nil and stays locked.
    engine.handle(TimerFired(BftTimer(TimeoutKind.PRECOMMIT, 1, 0)), 5.0)
    out = engine.handle(ProposalReceived(Proposal.create(KEYS[2], CHAIN, 1, 1, -1, vid_b, raw_b)), 5.1)
    assert [a.vote.value_id for a in out if isinstance(a, BlockVoteSigned)] == [None]
    assert (engine.locked_round, engine.locked_value_id) == (0, vid("a"))


def test_stale_or_broken_locked_values_are_ignored() -> None:
    rig, signed = _locked_in_round_0({0: 1, 1: 0})
    votes = [v for v in signed if isinstance(v, BlockVote)]
    (locked,) = [v for v in signed if isinstance(v, LockedValue)]

    def proposes_fresh(records: Sequence[BlockVote | LockedValue], height: int = 1) -> bool:
        engine, _ = _restarted(rig, records, height)
        out = engine.handle(TimerFired(BftTimer(TimeoutKind.PRECOMMIT, height, engine.round)), 5.0)
        (proposal,) = [m for m in sent(out) if isinstance(m, Proposal)]
        return proposal.pol_round == -1 and proposal.value_id == vid(f"built-{engine.round}", height)

    assert not proposes_fresh(signed)  # the control: this record is used
    # A record of a lower height (a height decided before the crash) is not this lock's.
    lower = [BlockVote.create(KEYS[0], CHAIN, v.kind, 2, v.round, v.value_id) for v in votes]
    assert proposes_fresh([*lower, locked], height=2)
    # A record of an earlier lock of the height (round 0) is not the lock of round 1
    # (whose own record is missing): voter 0, proposer of round 2, proposes fresh.
    later, later_signed = _locked_in_round_0({0: 1, 2: 0})
    relocked = BlockVote.create(KEYS[0], CHAIN, PRECOMMIT, 1, 1, vid("a"))
    engine, _ = _restarted(later, [*later_signed, relocked])
    assert (engine.locked_round, engine.valid_round, engine.round) == (1, 1, 1)
    out = engine.handle(TimerFired(BftTimer(TimeoutKind.PRECOMMIT, 1, 1)), 5.0)
    assert [(m.round, m.value_id) for m in sent(out) if isinstance(m, Proposal)] == [(2, vid("built-2"))]
    # A record whose value no longer validates is not proposed.
    bad_id, bad_raw = value("bad-a")
    prevotes = [BlockVote.create(KEYS[i], CHAIN, PREVOTE, 1, 0, bad_id) for i in range(3)]
    bad_lock = BlockVote.create(KEYS[0], CHAIN, PRECOMMIT, 1, 0, bad_id)
    assert proposes_fresh([bad_lock, LockedValue.of(bad_raw, prevotes)])
    # A record with forged polka signatures brings the value, but no polka.
    forged = LockedValue(1, 0, vid("a"), value("a")[1], tuple((voter, bytes(64)) for voter, _ in locked.polka))
    engine, _ = _restarted(rig, [*votes, forged])
    out = engine.handle(TimerFired(BftTimer(TimeoutKind.PRECOMMIT, 1, 0)), 5.0)
    assert [m.voter for m in sent(out) if isinstance(m, BlockVote) and m.round == 0 and m.kind is PREVOTE] == [PUB[0]]


def test_start_refuses_records_that_are_neither_votes_nor_locked_values() -> None:
    rig = Rig(proposers={0: 1})
    engine = BlockEngine(CHAIN, KEYS[0], lambda _h: rig.vs, lambda _h: rig.seed, rig.source, rig.checker, TIMEOUTS)
    with pytest.raises(InvalidArgumentError):
        engine.start(1, 0.0, signed=["a vote"])  # type: ignore[list-item]
    assert not engine.started
