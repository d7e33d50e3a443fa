"""``python -m timecoin_core.sim``: run seeds of the simulator and report invariants."""

from __future__ import annotations

import argparse
import json
import os
import sys

from .runner import run_seeds
from .world import SimConfig


def _seeds(text: str) -> range:
    start, sep, stop = text.partition(":")
    try:
        seeds = range(int(start), int(start) + 1) if not sep else range(int(start), int(stop))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not N or A:B") from None
    if seeds.start < 0 or len(seeds) == 0:
        raise argparse.ArgumentTypeError(f"{text!r} names no seeds (A:B runs A..B-1, A < B, A >= 0)")
    return seeds


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the seeds, print the summary; exit 1 on any violation."""
    parser = argparse.ArgumentParser(prog="python -m timecoin_core.sim", description=__doc__)
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--byzantine", type=int, default=1, help="byzantine masternodes (weight < 1/3)")
    parser.add_argument("--seeds", type=_seeds, default=range(0, 10), help="A:B runs seeds A..B-1; N runs seed N")
    parser.add_argument("--duration", type=float, default=30.0, help="virtual seconds of traffic and faults")
    parser.add_argument("--settle", type=float, default=40.0, help="virtual seconds of healthy network after")
    parser.add_argument("--tx-rate", type=float, default=2.0, help="client transactions per virtual second")
    parser.add_argument("--no-faults", action="store_true", help="a perfect network and no double spends")
    parser.add_argument(
        "--behaviour", action="append", default=[], dest="behaviours",
        help="restrict byzantine nodes to this behaviour (repeatable; default: all)",
    )
    parser.add_argument(
        "--no-honest-faults", action="store_true",
        help="no slow honest voter and no honest node with a clock behind",
    )
    parser.add_argument(
        "--no-wire", action="store_true", help="hand message objects over instead of bytes through peer sessions",
    )
    parser.add_argument("--workers", type=_positive, default=os.cpu_count() or 1)
    parser.add_argument("--json", action="store_true", help="print the JSON summary")
    args = parser.parse_args(argv)
    try:
        config = SimConfig(
            nodes=args.nodes, byzantine=args.byzantine, duration=args.duration, settle=args.settle,
            tx_rate=args.tx_rate, faults=not args.no_faults, behaviours=tuple(args.behaviours),
            honest_faults=not args.no_honest_faults, wire=not args.no_wire,
        )
    except ValueError as exc:
        parser.error(str(exc))
    summary = run_seeds(args.seeds, config, workers=args.workers)
    report = summary.as_dict()
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(
            f"seeds {report['seeds_run']}: {len(report['safety_violations'])} safety violations, "
            f"{len(report['liveness_failures'])} liveness failures, "
            f"{report['finalized_txs']} final txs, {report['committed_blocks']} blocks, "
            f"finality ms {report['finality_ms']}"
        )
    return 0 if summary.ok else 1


if __name__ == "__main__":
    sys.exit(main())
