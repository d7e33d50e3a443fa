"""Run benchmarks: ``python -m benchmarks`` runs all, ``python -m benchmarks verify tx`` some.

Every module ``benchmarks/bench_<name>.py`` exposes ``run() -> list[Table]``.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import benchmarks

from ._table import Table


def main(argv: list[str]) -> int:
    """Run the named benchmarks (all when none are named) and print their tables."""
    names = sorted(
        m.name.removeprefix("bench_")
        for m in pkgutil.iter_modules(benchmarks.__path__)
        if m.name.startswith("bench_")
    )
    if any(a in ("-h", "--help") for a in argv):
        print(f"usage: python -m benchmarks [NAME ...]\n\n{__doc__}\nbenchmarks: {', '.join(names)}")
        return 0
    wanted = argv or names
    unknown = [n for n in wanted if n not in names]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(names)}")
        return 2
    for name in wanted:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        tables: list[Table] = module.run()
        for table in tables:
            print(table.render())
            print(flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
