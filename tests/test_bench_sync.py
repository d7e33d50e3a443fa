"""The sync benchmark runs (on a short chain): its three timed paths end at the same tip."""

from __future__ import annotations

from benchmarks import bench_sync


def test_the_sync_benchmark_runs_on_a_short_chain() -> None:
    (table,) = bench_sync.run(blocks=25, repeat=1)
    names = [row.name for row in table.rows]
    assert len(names) == 3 and names[0].startswith("apply_commit")
    assert all(row.measured > 0 for row in table.rows)
