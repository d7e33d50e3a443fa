"""A tiny table printer shared by every benchmark.

Each row is one measured figure next to the reference it is compared with in the
same run, the ratio, and the target it must reach.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Row", "Table", "best_time", "rate"]


@dataclass(frozen=True)
class Row:
    """One benchmark figure: ``measured`` compared with ``reference`` (same unit)."""

    name: str
    measured: float
    reference: float | None
    unit: str
    target: str = ""
    met: bool | None = None

    @property
    def ratio(self) -> float | None:
        """``measured / reference`` when a reference exists."""
        if self.reference in (None, 0):
            return None
        return self.measured / self.reference


@dataclass
class Table:
    """A titled list of rows that prints as a Markdown table."""

    title: str
    rows: list[Row] = field(default_factory=list)

    def add(self, row: Row) -> None:
        """Append a row and print it immediately (long benchmarks show progress)."""
        self.rows.append(row)

    def render(self) -> str:
        """The table as Markdown."""
        lines = [
            f"### {self.title}",
            "",
            "| figure | measured | reference | ratio | target | met |",
            "|---|---:|---:|---:|---|---|",
        ]
        for r in self.rows:
            ref = "" if r.reference is None else f"{r.reference:,.1f}"
            ratio = "" if r.ratio is None else f"{r.ratio:.3f}"
            met = "" if r.met is None else ("yes" if r.met else "NO")
            lines.append(
                f"| {r.name} | {r.measured:,.1f} {r.unit} | {ref} | {ratio} | {r.target} | {met} |"
            )
        return "\n".join(lines)


def best_time(fn: Callable[[], object], repeat: int = 3, *, cpu: bool = False) -> float:
    """Best time in seconds of ``repeat`` calls of ``fn``: wall time, or process CPU time.

    CPU time suits single-threaded work on a shared machine (other load does not
    inflate it); wall time is the only honest measure of work spread over workers.
    """
    clock = time.process_time if cpu else time.perf_counter
    best = float("inf")
    for _ in range(repeat):
        start = clock()
        fn()
        best = min(best, clock() - start)
    return best


def rate(count: int, fn: Callable[[], object], repeat: int = 3, *, cpu: bool = False) -> float:
    """Operations per second: ``count`` operations done by one call of ``fn``, best of ``repeat``."""
    return count / best_time(fn, repeat, cpu=cpu)
