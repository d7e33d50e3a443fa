"""Every ```python block in the README and docs/ runs, so the documentation cannot rot.

Blocks of one file run in order in one namespace, like a reader typing them in.
A block whose first line is ``# doc: no-run`` is shown, not run (used only for
programs that need a terminal or a network).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_python_blocks_run(path: Path) -> None:
    namespace: dict[str, object] = {"__name__": f"doc_{path.stem}"}
    for number, match in enumerate(BLOCK.finditer(path.read_text()), 1):
        code = match.group(1)
        if code.startswith("# doc: no-run"):
            continue
        line = path.read_text()[: match.start()].count("\n") + 2
        try:
            exec(compile(code, f"{path.name}:block{number}:line{line}", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"{path.name} block {number} (line {line}) failed: {exc!r}") from exc
