"""Deterministic simulator: real consensus nodes, virtual time, seeded faults.

``python -m timecoin_core.sim --nodes 4 --byzantine 1 --seeds 0:100 --json``.
"""

from __future__ import annotations

from .invariants import Violation, check_liveness, check_safety
from .runner import SeedResult, Summary, SummaryReport, run_seed, run_seeds
from .world import Behaviour, SimConfig, SimConfigError, World

__all__ = [
    "Behaviour",
    "SeedResult",
    "SimConfig",
    "SimConfigError",
    "Summary",
    "SummaryReport",
    "Violation",
    "World",
    "check_liveness",
    "check_safety",
    "run_seed",
    "run_seeds",
]
