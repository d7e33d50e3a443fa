"""``python -m benchmarks``: help, and a clear refusal of an unknown name."""

from __future__ import annotations

import pytest

from benchmarks.__main__ import main


def test_help_lists_every_benchmark(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "usage: python -m benchmarks" in out and "attack" in out and "wire" in out


def test_an_unknown_benchmark_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["nope"]) == 2
    assert "unknown benchmark(s): nope" in capsys.readouterr().out

