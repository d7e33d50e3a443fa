"""The domain is pure: importing it loads no event loop, database or socket module.

Checked by importing, in a fresh interpreter, not by searching the source for strings.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import timecoin_core

IO_MODULES = ("asyncio", "aiosqlite", "sqlite3", "socket", "anyio", "trio", "selectors")

# Every module of the package except the ones whose job is I/O (the store), the test
# kit (its store stress tool drives a store) and executables.
DOMAIN = sorted(
    m.name
    for m in pkgutil.walk_packages(timecoin_core.__path__, "timecoin_core.")
    if not m.name.startswith(("timecoin_core.store", "timecoin_core.testing"))
    and not m.name.endswith("__main__")
)


def _loaded_after(statement: str) -> list[str]:
    code = (
        "import json, sys\n"
        f"{statement}\n"
        f"print(json.dumps(sorted(m for m in {IO_MODULES!r} if m in sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return list(json.loads(result.stdout))


def test_import_timecoin_core_loads_no_io_module() -> None:
    assert _loaded_after("import timecoin_core") == []


def test_every_domain_module_is_pure() -> None:
    statement = "\n".join(f"import {name}" for name in DOMAIN)
    assert len(DOMAIN) > 30
    assert _loaded_after(statement) == []


def test_the_store_still_loads_on_first_use() -> None:
    loaded = _loaded_after("import timecoin_core\ntimecoin_core.SqliteStore")
    assert "aiosqlite" in loaded and "sqlite3" in loaded  # so the checks above can fail
