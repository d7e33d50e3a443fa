"""The block-sync planner as a state machine: honest peers, liars, stalls and disconnects.

The planner never sees a real chain here: commits are stand-ins with valid structure, and a
model "node" applies a commit only if it is the honest one for its height (the real node's
checks are tested in test_sync_node.py). What is tested is the planning: order, progress,
penalties, memory, determinism.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Hashable
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timecoin_core.consensus import Commit, CommitCertificate, Offence, Penalize, SendTo
from timecoin_core.consensus.sync import (
    ApplyCommit,
    SyncAction,
    SyncConfig,
    SyncDone,
    SyncPlanner,
    SyncProgress,
    commit_size,
)
from timecoin_core.errors import InvalidArgumentError
from timecoin_core.hashing import sha256
from timecoin_core.wire.messages import MAX_BLOCKS_PER_PAGE, Blocks, GetBlocks, GetStatus, Status

HUGE = 2**63


def honest_commit(height: int, size: int = 100) -> Commit:
    value = sha256(b"honest%d" % height) * (size // 32 + 1)
    certificate = CommitCertificate(height, 0, sha256(value), ((b"\x01" * 32, b"\x02" * 64),))
    return Commit(value[:size], certificate)


def forged_commit(height: int) -> Commit:
    value = b"forged" + sha256(b"%d" % height)
    return Commit(value, CommitCertificate(height, 0, sha256(value), ((b"\x03" * 32, b"\x04" * 64),)))


def status(height: int) -> Status:
    return Status(height, bytes(32), 0, 0)


# -- unit behaviour -------------------------------------------------------------------


def test_a_new_peer_is_asked_for_its_status_and_its_claim_starts_requests() -> None:
    planner = SyncPlanner(0, 0.0)
    assert planner.add_peer("a", 0.0) == [SendTo("a", GetStatus())]
    out = planner.on_status("a", status(100), 0.0)
    requests = [a.message for a in out if isinstance(a, SendTo)]
    assert requests == [GetBlocks(1, 64, planner.config.page_bytes)]  # one now, the next after the interval
    assert any(isinstance(a, SyncProgress) and a.target == 100 for a in out)
    out = planner.poll(0.25)
    assert [a.message for a in out if isinstance(a, SendTo)] == [GetBlocks(65, 36, planner.config.page_bytes)]


def test_pages_are_handed_out_in_height_order_whatever_order_they_arrive_in() -> None:
    planner = SyncPlanner(0, 0.0)
    planner.add_peer("a", 0.0)
    planner.add_peer("b", 0.0)
    planner.on_status("a", status(128), 0.0)
    planner.on_status("b", status(128), 0.0)
    # a got 1..64, b got 65..128; b answers first.
    out = planner.on_blocks("b", Blocks(65, tuple(honest_commit(h) for h in range(65, 129))), 0.1)
    assert not any(isinstance(a, ApplyCommit) for a in out)
    assert planner.buffered == 64
    out = planner.on_blocks("a", Blocks(1, tuple(honest_commit(h) for h in range(1, 65))), 0.2)
    applies = [a for a in out if isinstance(a, ApplyCommit)]
    assert [a.height for a in applies] == [1]
    heights = []
    while applies:
        heights.append(applies[0].height)
        applies = [a for a in planner.applied(applies[0].height, 0.3) if isinstance(a, ApplyCommit)]
    assert heights == list(range(1, 129))
    assert planner.buffered == 0 and planner.buffered_bytes == 0


def test_done_is_reported_once_the_best_claim_is_reached() -> None:
    planner = SyncPlanner(0, 0.0)
    planner.on_status("a", status(3), 0.0)
    out = planner.on_blocks("a", Blocks(1, tuple(honest_commit(h) for h in (1, 2, 3))), 0.1)
    for height in (1, 2, 3):
        assert any(isinstance(a, ApplyCommit) and a.height == height for a in out)
        out = planner.applied(height, 0.1)
    assert out == [SyncDone(3)]
    assert not planner.syncing


def test_an_unsolicited_page_is_penalized_and_the_peer_dropped() -> None:
    planner = SyncPlanner(0, 0.0)
    planner.on_status("a", status(10), 0.0)
    out = planner.on_blocks("a", Blocks(5, (honest_commit(5),)), 0.1)
    assert out[0] == Penalize("a", Offence.UNSOLICITED, "no request from height 5")
    assert planner.claim("a") is None
    # Its next status does not bring it back; only add_peer does (a new connection).
    assert planner.on_status("a", status(10), 0.2) == []
    assert planner.on_blocks("a", Blocks(1, ()), 0.3) == []
    assert planner.add_peer("a", 0.4) == [SendTo("a", GetStatus())]


def test_a_page_from_a_stranger_is_unsolicited() -> None:
    planner = SyncPlanner(0, 0.0)
    out = planner.on_blocks("x", Blocks(1, (honest_commit(1),)), 0.0)
    assert isinstance(out[0], Penalize) and out[0].offence is Offence.UNSOLICITED


def test_more_heights_or_bytes_than_asked_is_over_limit() -> None:
    config = SyncConfig(page_blocks=4, page_bytes=1000, window=64, max_buffer_bytes=10_000)
    planner = SyncPlanner(0, 0.0, config)
    planner.on_status("a", status(100), 0.0)
    out = planner.on_blocks("a", Blocks(1, tuple(honest_commit(h) for h in range(1, 6))), 0.1)
    assert isinstance(out[0], Penalize) and out[0].offence is Offence.OVER_LIMIT
    planner = SyncPlanner(0, 0.0, config)
    planner.on_status("b", status(100), 0.0)
    big = tuple(honest_commit(h, size=600) for h in range(1, 3))
    out = planner.on_blocks("b", Blocks(1, big), 0.1)
    assert isinstance(out[0], Penalize) and out[0].offence is Offence.OVER_LIMIT
    # One block over the byte bound is fine: a block cannot be split.
    planner = SyncPlanner(0, 0.0, config)
    planner.on_status("c", status(100), 0.0)
    out = planner.on_blocks("c", Blocks(1, (honest_commit(1, size=5000),)), 0.1)
    assert not any(isinstance(a, Penalize) for a in out)
    assert any(isinstance(a, ApplyCommit) for a in out)


def test_a_rejected_commit_penalizes_its_sender_and_is_fetched_elsewhere() -> None:
    planner = SyncPlanner(0, 0.0)
    planner.on_status("liar", status(10), 0.0)
    planner.on_status("good", status(10), 0.0)
    out = planner.on_blocks("liar", Blocks(1, tuple(forged_commit(h) for h in range(1, 11))), 0.1)
    (apply,) = [a for a in out if isinstance(a, ApplyCommit)]
    out = planner.rejected(apply.peer, apply.height, Offence.INVALID_CERTIFICATE, 0.2)
    assert out[0] == Penalize("liar", Offence.INVALID_CERTIFICATE, "commit for height 1")
    assert planner.buffered == 0  # everything the liar sent went with it
    assert SendTo("good", GetBlocks(1, 10, planner.config.page_bytes)) in out


def test_a_huge_claim_that_is_not_delivered_loses_its_slot_without_a_penalty() -> None:
    planner = SyncPlanner(0, 0.0)
    planner.on_status("good", status(5), 0.0)
    planner.on_status("liar", status(HUGE), 0.0)
    assert planner.target == HUGE
    # good serves 1..5; liar was asked for 6.. and answers nothing it claimed.
    out = planner.on_blocks("good", Blocks(1, tuple(honest_commit(h) for h in range(1, 6))), 0.1)
    for height in range(1, 6):
        out = planner.applied(height, 0.1)
    out = planner.on_blocks("liar", Blocks(6, ()), 0.2)
    assert not any(isinstance(a, Penalize) for a in out)
    assert planner.claim("liar") == 5
    assert planner.target == 5
    assert SyncDone(5) in out
    # Its cap lasts ceiling_ttl, then it is asked again; a repeat doubles the cap's life.
    out = planner.poll(0.2 + planner.config.ceiling_ttl)
    assert planner.claim("liar") == HUGE
    planner.on_blocks("liar", Blocks(6, ()), 61.0)
    assert planner.claim("liar") == 5
    assert planner.poll(61.0 + planner.config.ceiling_ttl) is not None
    assert planner.claim("liar") == 5  # 120 s now


def test_a_stalled_request_goes_to_another_peer_and_a_late_answer_is_still_welcome() -> None:
    planner = SyncPlanner(0, 0.0, SyncConfig(requests_per_peer=1))
    planner.on_status("slow", status(64), 0.0)
    planner.on_status("fast", status(64), 0.0)
    deadline = planner.next_deadline()
    assert deadline is not None
    out = planner.poll(planner.config.request_timeout)
    assert SendTo("fast", GetBlocks(1, 64, planner.config.page_bytes)) in out
    late = planner.on_blocks("slow", Blocks(1, tuple(honest_commit(h) for h in range(1, 65))), 11.0)
    assert not any(isinstance(a, Penalize) for a in late)
    assert any(isinstance(a, ApplyCommit) and a.height == 1 for a in late)


def test_repeated_timeouts_cap_a_peer_without_penalty() -> None:
    config = SyncConfig(requests_per_peer=1, max_timeouts=2)
    planner = SyncPlanner(0, 0.0, config)
    planner.on_status("mute", status(HUGE), 0.0)
    now = 0.0
    actions: list[SyncAction] = []
    for _ in range(2):
        now += config.request_timeout
        actions += planner.poll(now)
    assert not any(isinstance(a, Penalize) for a in actions)
    assert planner.claim("mute") == 0
    assert planner.in_flight == 0


def test_a_peer_that_leaves_gives_its_ranges_to_others() -> None:
    planner = SyncPlanner(0, 0.0, SyncConfig(requests_per_peer=1, max_peers=1))
    planner.on_status("a", status(64), 0.0)
    out = planner.on_status("b", status(64), 0.0)
    assert not any(isinstance(a, SendTo) and a.peer == "b" and isinstance(a.message, GetBlocks) for a in out)
    out = planner.remove_peer("a", 0.1)
    assert SendTo("b", GetBlocks(1, 64, planner.config.page_bytes)) in out


def test_consensus_moving_the_height_drops_what_is_no_longer_needed() -> None:
    planner = SyncPlanner(0, 0.0)
    planner.on_status("a", status(64), 0.0)
    planner.on_blocks("a", Blocks(1, tuple(honest_commit(h) for h in range(1, 65))), 0.1)
    planner.set_height(60, 0.2)
    assert planner.buffered == 4
    out = planner.set_height(64, 0.3)
    assert planner.buffered == 0 and planner.buffered_bytes == 0
    assert SyncDone(64) in out


def test_the_window_and_the_byte_budget_bound_what_is_requested() -> None:
    config = SyncConfig(page_blocks=8, page_bytes=1000, window=16, max_buffer_bytes=2500, min_request_interval=0.0)
    planner = SyncPlanner(0, 0.0, config)
    asked = []
    for peer in "abcdef":
        asked += [a.message for a in planner.on_status(peer, status(1000), 0.0) if isinstance(a, SendTo)]
    asked += [a.message for a in planner.poll(0.0) if isinstance(a, SendTo)]
    # 2 x 1000 bytes reserved; a third request would pass 2500.
    assert [m for m in asked if isinstance(m, GetBlocks)] == [GetBlocks(1, 8, 1000), GetBlocks(9, 8, 1000)]
    assert planner.in_flight == 2


def test_bad_arguments_are_typed_errors() -> None:
    with pytest.raises(InvalidArgumentError):
        SyncPlanner(-1, 0.0)
    with pytest.raises(InvalidArgumentError):
        SyncConfig(page_blocks=65)
    with pytest.raises(InvalidArgumentError):
        SyncConfig(window=10)
    with pytest.raises(InvalidArgumentError):
        SyncConfig(max_buffer_bytes=1, page_bytes=2)
    with pytest.raises(InvalidArgumentError):
        SyncPlanner(0, 0.0).set_height(-2, 0.0)


def test_commit_size_is_the_encoded_size_with_its_length_prefix() -> None:
    for size in (0, 10, 300, 70_000):
        commit = honest_commit(7, size)
        page = Blocks(7, (commit,))
        assert commit_size(commit) == len(page.to_bytes()) - 8 - 1


# -- the state machine under any schedule ------------------------------------------------

KINDS = ("huge-empty", "huge-stall", "forger", "unsolicited", "over-limit", "slow", "flaky")


@dataclass
class Peer:
    name: str
    kind: str
    height: int
    online: bool = True
    connection: int = 0
    """Bumped on every reconnect: what was on the wire of an old connection never arrives."""


@dataclass
class Run:
    rng: random.Random
    tip: int
    peers: dict[str, Peer]
    config: SyncConfig
    planner: SyncPlanner = field(init=False)
    local: int = 0
    now: float = 0.0
    queue: list[tuple[float, int, str, object]] = field(default_factory=list)
    seq: int = 0
    penalized: list[Penalize] = field(default_factory=list)
    applied: list[int] = field(default_factory=list)
    trace: list[str] = field(default_factory=list)
    done: list[int] = field(default_factory=list)
    chaos_until: float = 120.0

    def __post_init__(self) -> None:
        self.planner = SyncPlanner(0, 0.0, self.config)

    def push(self, delay: float, kind: str, data: object) -> None:
        self.seq += 1
        heapq.heappush(self.queue, (self.now + delay, self.seq, kind, data))

    def delay(self, peer: Peer) -> float:
        if peer.kind == "slow" and self.rng.random() < 0.5:
            return self.config.request_timeout * self.rng.uniform(1.0, 2.0)
        return self.rng.uniform(0.01, 0.5)

    def lost(self) -> bool:
        return self.now < self.chaos_until and self.rng.random() < 0.1

    def carry_out(self, actions: list[SyncAction]) -> None:
        work = list(actions)
        while work:
            action = work.pop(0)
            self.trace.append(repr(action))
            self.check_memory()
            if isinstance(action, SendTo):
                peer = self.peers[str(action.peer)]
                if peer.online and not self.lost():
                    self.push(self.delay(peer), "request", (peer.name, peer.connection, action.message))
            elif isinstance(action, Penalize):
                self.penalized.append(action)
            elif isinstance(action, ApplyCommit):
                assert action.height == self.local + 1 == self.planner.height + 1
                if action.commit == honest_commit(action.height):
                    self.local += 1
                    self.applied.append(action.height)
                    work += self.planner.applied(self.local, self.now)
                else:
                    work += self.planner.rejected(action.peer, action.height, Offence.INVALID_BLOCK, self.now)
            elif isinstance(action, SyncDone):
                self.done.append(action.height)

    def check_memory(self) -> None:
        planner = self.planner
        assert planner.buffered <= self.config.window
        largest = commit_size(honest_commit(1))
        assert planner.buffered_bytes <= self.config.max_buffer_bytes + planner.in_flight * largest

    def answer(self, name: str, message: object) -> None:
        peer = self.peers[name]
        if isinstance(message, GetStatus):
            claim = HUGE if peer.kind.startswith("huge") else peer.height + (50 if peer.kind == "forger" else 0)
            self.push(self.delay(peer), "status", (name, peer.connection, status(claim)))
            return
        assert isinstance(message, GetBlocks)
        if peer.kind == "huge-stall" or (peer.kind == "flaky" and self.now < self.chaos_until and self.rng.random() < 0.5):
            return
        start, count = message.start, message.count
        if peer.kind == "forger":
            page = Blocks(start, tuple(forged_commit(h) for h in range(start, start + count)))
        elif peer.kind == "over-limit" and count < MAX_BLOCKS_PER_PAGE:
            page = Blocks(start, tuple(honest_commit(h) for h in range(start, start + count + 1)))
        else:
            top = min(start + count - 1, peer.height)
            if peer.kind == "huge-empty" and top < start:
                top = start - 1
            commits = tuple(honest_commit(h) for h in range(start, top + 1)) if start >= 1 else ()
            page = Blocks(start, commits)
        self.push(self.delay(peer), "blocks", (name, peer.connection, page))

    def step(self) -> None:
        at, _, kind, data = heapq.heappop(self.queue)
        self.now = max(self.now, at)
        if kind in ("request", "status", "blocks"):
            assert isinstance(data, tuple)
            name, connection, message = data
            peer = self.peers[name]
            if not peer.online or peer.connection != connection:
                return
            if kind == "request":
                self.answer(name, message)
            elif not self.lost():
                if kind == "status":
                    assert isinstance(message, Status)
                    self.carry_out(self.planner.on_status(name, message, self.now))
                else:
                    assert isinstance(message, Blocks)
                    self.carry_out(self.planner.on_blocks(name, message, self.now))
        elif kind == "poll":
            self.carry_out(self.planner.poll(self.now))
        elif kind == "consensus":
            # The engines commit a height by themselves now and then.
            if self.local < self.tip:
                self.local += 1
                self.carry_out(self.planner.set_height(self.local, self.now))
        elif kind == "unsolicited":
            name = str(data)
            if self.peers[name].online:
                start = self.rng.randint(1, max(1, self.tip))
                self.carry_out(self.planner.on_blocks(name, Blocks(start, (honest_commit(start),)), self.now))
        elif kind == "disconnect":
            peer = self.peers[str(data)]
            peer.online = False
            self.carry_out(self.planner.remove_peer(peer.name, self.now))
        elif kind == "connect":
            peer = self.peers[str(data)]
            peer.online = True
            peer.connection += 1
            self.carry_out(self.planner.add_peer(peer.name, self.now))

    def run(self, horizon: float) -> None:
        for name in self.peers:
            self.carry_out(self.planner.add_peer(name, 0.0))
        for _ in range(self.rng.randint(0, 6)):
            name = self.rng.choice(sorted(self.peers))
            down = self.rng.uniform(0, self.chaos_until)
            self.push(down, "disconnect", name)
            self.push(down + self.rng.uniform(0, 30), "connect", name)
        for _ in range(self.rng.randint(0, 20)):
            self.push(self.rng.uniform(0, self.chaos_until), "consensus", None)
        for peer in self.peers.values():
            if peer.kind == "unsolicited":
                for _ in range(3):
                    self.push(self.rng.uniform(0, self.chaos_until), "unsolicited", peer.name)
        reached: float | None = None
        while self.now < horizon:
            if self.local == self.tip and self.now >= self.chaos_until:
                # Then a minute more, so replies still in flight land and are judged.
                reached = self.now if reached is None else reached
                if self.now > reached + 60.0:
                    break
            deadline = self.planner.next_deadline()
            if deadline is not None and (not self.queue or deadline < self.queue[0][0]):
                self.push(max(0.0, deadline - self.now), "poll", None)
            if not self.queue:
                break
            self.step()


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[int, int, list[str], int]:
    tip = draw(st.integers(0, 700))
    honest = draw(st.integers(1, 3))
    liars = draw(st.lists(st.sampled_from(KINDS), max_size=4))
    seed = draw(st.integers(0, 2**32))
    return tip, honest, liars, seed


def make_run(tip: int, honest: int, liars: list[str], seed: int, config: SyncConfig | None = None) -> Run:
    rng = random.Random(seed)
    peers: dict[str, Peer] = {}
    for i in range(honest):
        # Honest peers may lag the best one: only the best has everything.
        height = tip if i == 0 else rng.randint(0, tip)
        peers[f"honest{i}"] = Peer(f"honest{i}", "honest", height)
    for i, kind in enumerate(liars):
        # "slow" and "flaky" are honest but unreliable: they hold the whole chain.
        height = tip if kind in ("slow", "flaky") else rng.randint(0, tip)
        peers[f"{kind}{i}"] = Peer(f"{kind}{i}", kind, height)
    return Run(rng, tip, peers, config or SyncConfig(window=128, max_buffer_bytes=8 * 2 * 1024 * 1024))


@settings(max_examples=60, deadline=None)
@given(scenarios())
def test_any_schedule_ends_at_the_honest_tip_in_order_with_only_liars_penalized(
    scenario: tuple[int, int, list[str], int],
) -> None:
    tip, honest, liars, seed = scenario
    run = make_run(tip, honest, liars, seed)
    run.run(horizon=20_000.0)
    assert run.local == run.tip, (run.local, run.tip, liars)
    assert run.applied == sorted(set(run.applied))  # never out of order, never twice
    honest_kinds = ("honest", "slow", "flaky", "huge-stall", "huge-empty")
    for penalty in run.penalized:
        kind = run.peers[str(penalty.peer)].kind
        assert kind not in honest_kinds, penalty  # claims and silence are never offences
        assert penalty.offence is {
            "forger": Offence.INVALID_BLOCK,
            "unsolicited": Offence.UNSOLICITED,
            "over-limit": Offence.OVER_LIMIT,
        }[kind]
    if run.applied and all(k not in ("huge-empty", "huge-stall") for k in liars):
        # Done was reported, at the tip or where the engines took over.
        assert run.done and not run.planner.syncing and run.done[-1] >= max(run.applied, default=0)


@settings(max_examples=10, deadline=None)
@given(scenarios())
def test_the_same_inputs_give_the_same_actions(scenario: tuple[int, int, list[str], int]) -> None:
    first = make_run(*scenario)
    first.run(horizon=5_000.0)
    second = make_run(*scenario)
    second.run(horizon=5_000.0)
    assert first.trace == second.trace


def test_hashable_peer_ids_of_any_kind_work() -> None:
    planner = SyncPlanner(0, 0.0)
    peers: list[Hashable] = [b"\x01" * 32, 7, ("host", 1)]
    for peer in peers:
        planner.on_status(peer, status(10), 0.0)
    assert planner.peers == 3
