"""The fast lane skips what is marked slow; the hypothesis profiles exist."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent


def collected(*args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return [line for line in done.stdout.splitlines() if "::" in line]


def test_fast_lane_skips_the_slow_tests() -> None:
    files = ("tests/test_sim.py", "tests/test_store_crash.py")
    everything = collected(*files)
    fast = collected("-m", "not slow", *files)
    slow = set(everything) - set(fast)
    assert "tests/test_sim.py::test_two_hundred_faulty_seeds_keep_every_invariant" in slow
    assert any("test_sigkill" in name for name in slow)
    assert "tests/test_sim.py::test_a_seed_replays_exactly" in fast


def test_make_test_fast_uses_the_marker_and_the_dev_profile() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\ntest-fast:", 1)[1].split("\n\n", 1)[0]
    assert '-m "not slow"' in recipe and "HYPOTHESIS_PROFILE=dev" in recipe


def test_hypothesis_profiles_are_registered() -> None:
    assert settings.get_profile("dev").max_examples == 20
    ci = settings.get_profile("ci")
    assert ci.derandomize and ci.deadline is None
