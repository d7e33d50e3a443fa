"""Block sync in the simulator: long outages, lying servers, every honest node at the tip."""

from __future__ import annotations

from dataclasses import replace

import pytest

from timecoin_core.sim import SimConfig, World, check_liveness, check_safety, run_seeds

FAULTY = SimConfig(nodes=4, byzantine=1, duration=20.0, settle=30.0, tx_rate=2.0, long_outage=True)
_RUNS: dict[int, World] = {}


def run(seed: int) -> World:
    """Seed ``seed`` of FAULTY, run once per test session (a run takes seconds)."""
    if seed not in _RUNS:
        world = World(seed, FAULTY)
        world.run()
        _RUNS[seed] = world
    return _RUNS[seed]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_node_down_longer_than_the_commit_history_comes_back_through_sync(seed: int) -> None:
    world = run(seed)
    assert check_safety(world) == [] and check_liveness(world) == []
    heights = [world.nodes[i].chain.height for i in world.honest]
    assert max(heights) - min(heights) <= 1
    # Someone applied commits through the planner, and some planner finished.
    assert sum(world.record.synced.values()) > 0
    assert any(world.record.sync_done[i] for i in world.honest)
    assert world.mesh is not None and world.mesh.closed == []  # sync traffic kept every session up


def test_honest_servers_are_never_penalized() -> None:
    # Liars (claims of 2**63, empty pages, forged certificates) being penalized is shown
    # deterministically in tests/test_sync_planner.py and tests/test_sync_node.py; in
    # these runs whether a byzantine node is ever asked for a page depends on the trace
    # (it was in seed 4 before the proposer order changed), so only the converse is
    # asserted: whoever an honest node penalizes is byzantine.
    for seed in (0, 1, 2, 4):
        world = run(seed)
        assert check_liveness(world) == []  # includes: no honest node penalized an honest one
        assert all(peer in world.byzantine for by, peer, _ in world.record.penalties if by in world.honest)


def test_the_same_seed_without_sync_leaves_the_restarted_node_behind() -> None:
    # The control: with the planner off, the node that was down longer than the commit
    # history ends stuck below the others (the `behind` invariant); with it (above), at the tip.
    without = World(2, replace(FAULTY, sync=False))
    without.run()
    assert "behind" in {v.invariant for v in check_liveness(without)}


def test_a_seed_with_sync_replays_exactly() -> None:
    first, second = run(1), World(1, FAULTY)
    second.run()
    assert first.record.committed == second.record.committed
    assert first.record.synced == second.record.synced
    assert first.record.penalties == second.record.penalties


@pytest.mark.slow
def test_forty_seeds_of_sixty_second_faults_at_twenty_tx_per_second() -> None:
    # issue 9: before block sync, 2 of these 40 seeds ended with an honest node stuck.
    # Seed 21 once crashed the simulator: a session closed on a rate limit and the next
    # send raised. The mesh now dials a closed link again, as a runtime does.
    config = SimConfig(nodes=4, byzantine=1, duration=60.0, settle=40.0, tx_rate=20.0, long_outage=True)
    summary = run_seeds(range(40), config, workers=2)
    report = summary.as_dict()
    assert report["safety_violations"] == []
    assert report["liveness_failures"] == []


@pytest.mark.slow
def test_seven_nodes_two_byzantine_and_two_minutes_of_faults() -> None:
    config = SimConfig(nodes=7, byzantine=2, duration=120.0, settle=60.0, tx_rate=5.0, long_outage=True)
    summary = run_seeds(range(4), config, workers=2)
    report = summary.as_dict()
    assert report["safety_violations"] == []
    assert report["liveness_failures"] == []
