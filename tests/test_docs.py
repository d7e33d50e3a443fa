"""Every ```python block in the README and docs/ runs, so the documentation cannot rot.

Blocks of one file run in order in one namespace, like a reader typing them in, and
they run twice: in this process (exact block numbers on failure) and as one script
``python <file>.py`` in a fresh interpreter, as a reader who pastes the page into a
file would. Only the second run shows what a script meets and an ``exec`` does not:
``__main__`` re-imported by process-pool workers, a module-level guard that never runs.
A block whose first line is ``# doc: no-run`` is shown, not run (used only for
programs that need a terminal or a network, or test modules).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def runnable_blocks(text: str) -> list[tuple[int, int, str]]:
    """``(block number, first line in the page, code)`` of every block that runs."""
    found = []
    for number, match in enumerate(BLOCK.finditer(text), 1):
        code = match.group(1)
        if code.startswith("# doc: no-run"):
            continue
        found.append((number, text[: match.start()].count("\n") + 2, code))
    return found


def as_script(blocks: list[tuple[int, int, str]]) -> tuple[str, list[tuple[int, int, int]]]:
    """The blocks joined into one script, and ``(first script line, block, page line)``."""
    lines: list[str] = []
    starts = []
    for number, page_line, code in blocks:
        lines.append(f"# --- block {number} (line {page_line})")
        starts.append((len(lines) + 1, number, page_line))
        lines.extend(code.splitlines())
    return "\n".join(lines) + "\n", starts


def failing_block(stderr: str, script: Path, starts: list[tuple[int, int, int]]) -> str:
    """Which block the deepest traceback line in ``script`` belongs to."""
    hits = re.findall(rf'File "{re.escape(str(script))}", line (\d+)', stderr)
    if not hits:
        return "before any block"
    line = int(hits[-1])
    block = max((s for s in starts if s[0] <= line), default=None)
    return "before any block" if block is None else f"block {block[1]} (line {block[2]})"


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_python_blocks_run(path: Path) -> None:
    text = path.read_text()
    namespace: dict[str, object] = {"__name__": "__main__"}
    for number, line, code in runnable_blocks(text):
        try:
            exec(compile(code, f"{path.name}:block{number}:line{line}", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"{path.name} block {number} (line {line}) failed: {exc!r}") from exc


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_python_blocks_run_as_a_script(path: Path, tmp_path: Path) -> None:
    blocks = runnable_blocks(path.read_text())
    if not blocks:
        pytest.skip("no runnable blocks")
    source, starts = as_script(blocks)
    script = tmp_path / f"{path.stem.replace('-', '_')}_doc.py"
    script.write_text(source)
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        where = failing_block(done.stderr, script, starts)
        raise AssertionError(f"{path.name} as a script failed in {where}:\n{done.stderr[-3000:]}")


def test_as_script_maps_failures_to_blocks(tmp_path: Path) -> None:
    page = "intro\n```python\nx = 1\n```\ntext\n```python\n# doc: no-run\nboom\n```\n```python\ny = x\nraise SystemExit(3)\n```\n"
    blocks = runnable_blocks(page)
    assert [(n, line) for n, line, _ in blocks] == [(1, 3), (3, 11)]
    source, starts = as_script(blocks)
    script = tmp_path / "page.py"
    stderr = f'Traceback:\n  File "{script}", line 4, in <module>\n'
    assert failing_block(stderr, script, starts) == "block 3 (line 11)"
    assert failing_block("no traceback", script, starts) == "before any block"
    assert source.splitlines()[starts[1][0] - 1] == "y = x"
