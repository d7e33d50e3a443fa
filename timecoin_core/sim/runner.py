"""Run seeds and summarise them: ``run_seed`` for one, ``run_seeds`` for a range."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypedDict

from .invariants import Violation, check_liveness, check_safety
from .world import SimConfig, World

__all__ = ["SeedResult", "Summary", "SummaryReport", "run_seed", "run_seeds"]


class SummaryReport(TypedDict):
    """The JSON summary of a run of seeds (``python -m timecoin_core.sim --json``)."""

    seeds_run: int
    config: dict[str, object]
    safety_violations: list[dict[str, object]]
    liveness_failures: list[dict[str, object]]
    finalized_txs: int
    committed_blocks: int
    finality_ms: dict[str, float]
    cpu_seconds: float
    signatures: dict[str, int]


@dataclass(frozen=True)
class SeedResult:
    """What one seed produced."""

    seed: int
    safety_violations: tuple[Violation, ...]
    liveness_failures: tuple[Violation, ...]
    finalized_txs: int
    committed_blocks: int
    finality_ms: tuple[float, ...]
    cpu_seconds: float
    tx_signatures: int
    vote_signatures: int


def run_seed(seed: int, config: SimConfig) -> SeedResult:
    """Run one seed and check every invariant on it."""
    world = World(seed, config)
    record = world.run()
    latencies = []
    for txid, submitted in record.submitted.items():
        times = [record.final_at[i][txid] for i in world.honest if txid in record.final_at[i]]
        if times:
            latencies.append((min(times) - submitted) * 1000.0)
    finalized = {txid for i in world.honest for txid in record.final_at[i]}
    nodes = [world.nodes[i] for i in world.honest]
    return SeedResult(
        seed=seed,
        safety_violations=tuple(check_safety(world)),
        liveness_failures=tuple(check_liveness(world)),
        finalized_txs=len(finalized),
        committed_blocks=max(n.chain.height for n in nodes),
        finality_ms=tuple(latencies),
        cpu_seconds=record.cpu_seconds,
        tx_signatures=sum(n.signatures.transactions for n in nodes),
        vote_signatures=sum(n.signatures.finality_votes + n.signatures.block_votes for n in nodes),
    )


def _run(args: tuple[int, SimConfig]) -> SeedResult:
    return run_seed(*args)


@dataclass
class Summary:
    """Aggregate over many seeds; :meth:`as_dict` is the ``--json`` output."""

    config: SimConfig
    results: list[SeedResult] = field(default_factory=list)

    def as_dict(self) -> SummaryReport:
        """JSON-ready summary."""
        latencies = sorted(ms for r in self.results for ms in r.finality_ms)

        def percentile(p: float) -> float:
            if not latencies:
                return 0.0
            return latencies[min(len(latencies) - 1, int(p * len(latencies)))]

        return {
            "seeds_run": len(self.results),
            "config": {k: getattr(self.config, k) for k in self.config.__dataclass_fields__},
            "safety_violations": [v.as_dict() for r in self.results for v in r.safety_violations],
            "liveness_failures": [v.as_dict() for r in self.results for v in r.liveness_failures],
            "finalized_txs": sum(r.finalized_txs for r in self.results),
            "committed_blocks": sum(r.committed_blocks for r in self.results),
            "finality_ms": {
                "p50": percentile(0.5),
                "p99": percentile(0.99),
                "max": latencies[-1] if latencies else 0.0,
                "mean": statistics.fmean(latencies) if latencies else 0.0,
            },
            "cpu_seconds": sum(r.cpu_seconds for r in self.results),
            "signatures": {
                "transactions": sum(r.tx_signatures for r in self.results),
                "votes": sum(r.vote_signatures for r in self.results),
            },
        }

    @property
    def ok(self) -> bool:
        """True when no seed broke any invariant."""
        return not any(r.safety_violations or r.liveness_failures for r in self.results)


def run_seeds(seeds: Iterable[int], config: SimConfig, workers: int = 1) -> Summary:
    """Run ``seeds`` (in ``workers`` processes when > 1) and summarise them in seed order."""
    summary = Summary(config)
    jobs = [(seed, config) for seed in seeds]
    if workers > 1 and len(jobs) > 1:
        # Imported here: process pools bring sockets and selectors, which the pure
        # simulator itself never needs.
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(workers) as pool:
            summary.results.extend(pool.map(_run, jobs, chunksize=max(1, len(jobs) // (8 * workers))))
    else:
        summary.results.extend(_run(job) for job in jobs)
    return summary
