"""``python -m timecoin_core.sim.campaign``: the long seed campaign, resumable, with progress.

Runs the simulator over many seeds for several network sizes, each with the largest
byzantine count below one third, and prints the table docs/consensus.md quotes
(seeds, safety violations, liveness failures, finality p50/p99). Results go, one JSON
line per chunk of seeds, to ``--journal``; a campaign interrupted (or spread over
several sessions) resumes from it and skips the chunks already there.

Example (the documented campaign; about 30 CPU-hours)::

    python -m timecoin_core.sim.campaign --sizes 4,7,10 --seeds 34000 --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .runner import run_seeds
from .world import SimConfig

__all__ = ["CampaignRow", "main", "run_campaign"]


@dataclass
class CampaignRow:
    """The aggregate of one network size."""

    nodes: int
    byzantine: int
    seeds: int = 0
    safety: list[dict[str, object]] = field(default_factory=list)
    liveness: list[dict[str, object]] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    cpu_seconds: float = 0.0

    def percentile(self, p: float) -> float:
        """Finality latency percentile in ms over every seed's transactions."""
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))]

    def markdown(self) -> str:
        """One row of the docs' table."""
        failing = sorted({int(str(v["seed"])) for v in self.safety + self.liveness})
        shown = ", ".join(map(str, failing[:5])) + (" …" if len(failing) > 5 else "")
        return (
            f"| {self.nodes} nodes, {self.byzantine} byzantine | {self.seeds:,} | {len(self.safety)} | "
            f"{len(self.liveness)} | {self.percentile(0.5):.0f} / {self.percentile(0.99):.0f} ms | {shown or '-'} |"
        )


def _config(nodes: int, duration: float, settle: float) -> SimConfig:
    return SimConfig(nodes=nodes, byzantine=(nodes - 1) // 3, duration=duration, settle=settle)


def _chunks(start: int, count: int, size: int) -> Iterator[range]:
    for first in range(start, start + count, size):
        yield range(first, min(first + size, start + count))


def run_campaign(
    sizes: list[int],
    seeds: int,
    *,
    first_seed: int = 0,
    duration: float = 20.0,
    settle: float = 30.0,
    workers: int = 1,
    chunk: int = 200,
    journal: Path | None = None,
    progress: bool = True,
) -> list[CampaignRow]:
    """Run ``seeds`` seeds per size in ``sizes``; resume from (and append to) ``journal``."""
    done: dict[tuple[int, int], dict[str, object]] = {}
    if journal is not None and journal.exists():
        for line in journal.read_text().splitlines():
            entry = json.loads(line)
            done[(entry["nodes"], entry["first"])] = entry
    rows = []
    started = time.monotonic()
    total = len(sizes) * seeds
    finished = 0
    for nodes in sizes:
        config = _config(nodes, duration, settle)
        row = CampaignRow(nodes, config.byzantine)
        for seed_range in _chunks(first_seed, seeds, chunk):
            entry = done.get((nodes, seed_range.start))
            if entry is None or entry.get("count") != len(seed_range):
                summary = run_seeds(seed_range, config, workers=workers)
                report = summary.as_dict()
                entry = {
                    "nodes": nodes,
                    "first": seed_range.start,
                    "count": len(seed_range),
                    "duration": duration,
                    "settle": settle,
                    "safety": report["safety_violations"],
                    "liveness": report["liveness_failures"],
                    "latencies": [round(ms, 1) for r in summary.results for ms in r.finality_ms],
                    "cpu_seconds": report["cpu_seconds"],
                }
                if journal is not None:
                    with journal.open("a") as f:
                        f.write(json.dumps(entry) + "\n")
            row.seeds += int(str(entry["count"]))
            row.safety += list(entry["safety"])
            row.liveness += list(entry["liveness"])
            row.latencies += list(entry["latencies"])
            row.cpu_seconds += float(str(entry["cpu_seconds"]))
            finished += len(seed_range)
            if progress:
                elapsed = time.monotonic() - started
                print(
                    f"[{finished:,}/{total:,}] {nodes} nodes: seeds {seed_range.start}-{seed_range.stop - 1}, "
                    f"{len(row.safety)} safety / {len(row.liveness)} liveness so far, {elapsed:.0f} s",
                    file=sys.stderr,
                    flush=True,
                )
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the campaign, print the Markdown table; exit 1 on any violation."""
    parser = argparse.ArgumentParser(prog="python -m timecoin_core.sim.campaign", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="4,7,10", help="comma-separated masternode counts")
    parser.add_argument("--seeds", type=int, default=1_000, help="seeds per size")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--settle", type=float, default=30.0)
    parser.add_argument("--chunk", type=int, default=200, help="seeds per journal line")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--journal", type=Path, default=None, help="resume from and append to this JSONL file")
    args = parser.parse_args(argv)
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s]
    except ValueError:
        parser.error("--sizes takes comma-separated integers")
    if not sizes or any(n < 1 for n in sizes):
        parser.error("--sizes needs positive masternode counts")
    if args.seeds < 1 or args.chunk < 1 or args.workers < 1 or args.first_seed < 0:
        parser.error("--seeds, --chunk and --workers must be at least 1, --first-seed non-negative")
    rows = run_campaign(
        sizes, args.seeds, first_seed=args.first_seed, duration=args.duration, settle=args.settle,
        workers=args.workers, chunk=args.chunk, journal=args.journal,
    )
    print("| configuration | seeds | safety violations | liveness failures | finality p50 / p99 | failing seeds |")
    print("|---|---:|---:|---:|---:|---|")
    for row in rows:
        print(row.markdown())
    return 0 if not any(r.safety or r.liveness for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
