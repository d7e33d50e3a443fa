"""Examples run as written: the demo, and the pytest plugin through its entry point."""

from __future__ import annotations

import re
import runpy
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_demo_runs(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "argv", ["demo.py", "--quick"])
    runpy.run_path(str(ROOT / "examples" / "demo.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "final transactions   40" in out
    assert "safety violations 0, liveness failures 0" in out
    assert "UTXO commitment matches" in out and "check tool           exit 0, consistent: True" in out


def test_plugin_example_from_the_docs_passes(pytester: pytest.Pytester) -> None:
    text = (ROOT / "docs" / "testing.md").read_text()
    block = re.search(r"```python\n# doc: no-run \(a test module, not a script\)\n(.*?)```", text, re.S)
    assert block is not None
    pytester.makepyfile(test_from_docs=block.group(1))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
