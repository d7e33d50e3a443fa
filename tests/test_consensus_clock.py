"""Clocks: a node whose clock is behind still follows the chain, and measures how far behind it is."""

from __future__ import annotations

import pytest

from timecoin_core.consensus import ClockSkewed, ConsensusNode, ProposalValue
from timecoin_core.consensus.bft_messages import Commit
from timecoin_core.consensus.sansio import SetTimer, TimerFired
from timecoin_core.testing import LocalChain

NEXT_HEIGHT = TimerFired(("node", "next-height"))


@pytest.fixture(scope="module")
def committed() -> tuple[LocalChain, list[Commit]]:
    chain = LocalChain(4)
    commits = []
    for _ in range(8):
        chain.clock.advance(1.0)
        block = chain.produce_block()
        commit = chain.nodes[0].bft.commit_for(block.height)
        assert commit is not None
        commits.append(commit)
    return chain, commits


def _follow(chain: LocalChain, commits: list[Commit], behind: float) -> tuple[ConsensusNode, list[object]]:
    node = ConsensusNode(chain.network)
    actions: list[object] = []
    for commit in commits:
        block = ProposalValue.from_bytes(commit.value, chain.network.max_block_size).block
        now = block.header.timestamp - behind
        actions += node.handle(NEXT_HEIGHT, now)
        actions += node.handle(commit, now)
    return node, actions


def test_a_node_two_minutes_slow_applies_committed_blocks(committed: tuple[LocalChain, list[Commit]]) -> None:
    chain, commits = committed
    node, _ = _follow(chain, commits, behind=120.0)
    assert node.chain.height == len(commits)
    assert node.chain.tip.hash == chain.node.chain.tip.hash


def test_the_skew_is_measured_reported_and_corrected(committed: tuple[LocalChain, list[Commit]]) -> None:
    chain, commits = committed
    node, actions = _follow(chain, commits[:-1], behind=120.0)
    reports = [a for a in actions if isinstance(a, ClockSkewed)]
    assert len(reports) == 1 and reports[0].seconds == pytest.approx(120.0, abs=2.0)
    assert node.clock_skew == pytest.approx(120.0, abs=2.0)
    # The next proposal carries the network's time, 2 minutes ahead of this clock: it is
    # accepted because the node knows its clock is behind.
    last = ProposalValue.from_bytes(commits[-1].value, chain.network.max_block_size).block
    assert node.validate_value(last.height, commits[-1].value) == last.hash


def test_a_node_in_step_reports_nothing_and_a_clock_ahead_gets_no_licence(
    committed: tuple[LocalChain, list[Commit]],
) -> None:
    chain, commits = committed
    node, actions = _follow(chain, commits[:-1], behind=0.0)
    assert not any(isinstance(a, ClockSkewed) for a in actions)
    assert node.clock_skew == pytest.approx(0.0, abs=2.0)
    last = ProposalValue.from_bytes(commits[-1].value, chain.network.max_block_size).block
    # Seen from a clock far behind that never measured its skew, the same proposal is
    # "from the future" and refused, while the commit of it is still applied.
    fresh, _ = _follow(chain, commits[:-1], behind=0.0)
    too_early = last.header.timestamp - node.config.max_clock_drift - 30
    fresh._now = fresh._wall = too_early
    assert fresh.validate_value(last.height, commits[-1].value) is None
    fresh.handle(NEXT_HEIGHT, too_early)
    fresh.handle(commits[-1], too_early)
    assert fresh.chain.height == last.height


def test_a_node_that_refuses_every_proposal_still_learns_its_skew_from_them() -> None:
    # Nothing commits without this node's vote: it must learn its skew from the
    # proposals it refuses, or the network stalls for good; one proposer alone (maybe a
    # byzantine one) is not enough to move it.
    chain = LocalChain(4)
    commits = []
    for _ in range(3):
        chain.clock.advance(1.0)
        commits.append(chain.nodes[0].bft.commit_for(chain.produce_block().height))
    node, _ = _follow(chain, commits, behind=0.0)  # type: ignore[arg-type]
    node._skews.clear()
    chain.clock.advance(1.0)
    height = node.chain.height + 1
    values = [chain.nodes[i].build_value(height, 0) for i in range(3)]
    node._now = node._wall = chain.clock.now() - 120.0
    verdicts = [node.validate_value(height, value) for _, value in values]
    assert verdicts[:2] == [None, None]  # from the future for this clock, too few witnesses
    assert verdicts[2] == values[2][0]  # three proposers agree: the clock is 2 minutes behind
    assert node.clock_skew == pytest.approx(120.0, abs=2.0)
    assert [node.validate_value(height, value) for _, value in values] == [v for v, _ in values]


def test_timers_run_on_the_monotonic_clock_and_timestamps_on_wall_time() -> None:
    chain = LocalChain(1)
    chain.produce_block()
    node = chain.node
    tip = node.chain.tip.header.timestamp
    # The monotonic clock says 5,000 s since boot; the wall clock says 30 s after the tip.
    actions = node.handle(TimerFired(("node", "regossip")), 5_000.0, wall=tip + 30.0)
    timers = [a for a in actions if isinstance(a, SetTimer)]
    assert timers and all(5_000.0 < t.at < 5_000.0 + 60 for t in timers)  # monotonic
    _, value = node.build_value(node.chain.height + 1, 0)
    block = ProposalValue.from_bytes(value, chain.network.max_block_size).block
    assert block.header.timestamp == int(tip + 30)  # wall time
    # A wall clock that jumps back an hour moves no timer.
    actions = node.handle(TimerFired(("node", "regossip")), 5_010.0, wall=tip - 3_600.0)
    assert all(t.at > 5_010.0 for t in actions if isinstance(t, SetTimer))
