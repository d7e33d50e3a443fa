"""The test kit is importable without pytest or the dev extra, and cheap to import.

Each check runs in a fresh interpreter: what a module imports only shows on first import.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

BLOCK_DEV_TOOLS = """
import importlib.abc, sys

class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"pytest", "_pytest", "hypothesis", "pluggy"}:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked: no dev extra)")
        return None

sys.meta_path.insert(0, Blocker())
"""


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCK_DEV_TOOLS + textwrap.dedent(code)], capture_output=True, text=True
    )


def test_importing_the_kit_loads_no_test_runner_and_no_conformance_suite() -> None:
    done = run(
        """
        import timecoin_core
        before = set(sys.modules)
        import timecoin_core.testing
        new = set(sys.modules) - before
        heavy = {"aiosqlite", "sqlite3"} - {m.split(".")[0] for m in before}
        loaded = sorted(m for m in new if m.split(".")[0] in heavy or "conformance" in m or "store_stress" in m)
        assert not loaded, loaded
        """
    )
    assert done.returncode == 0, done.stderr


def test_the_kit_works_without_the_dev_extra() -> None:
    done = run(
        """
        from timecoin_core import coins
        from timecoin_core.testing import LocalChain, TxStatus, check_verifier
        from timecoin_core.verify import SyncVerifier

        chain = LocalChain()
        alice, bob = chain.accounts[:2]
        tx = alice.send(bob, coins("1"))
        assert chain.tx_status(tx.txid) is TxStatus.FINAL
        check_verifier(SyncVerifier)
        print("ok")
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_only_the_fixtures_need_pytest() -> None:
    done = run("import timecoin_core.testing.pytest_plugin\n")
    assert done.returncode != 0 and "blocked: no dev extra" in done.stderr


def test_lazy_names_resolve_and_unknown_names_do_not() -> None:
    import pytest

    import timecoin_core.testing as kit

    for name in kit.__all__:
        assert getattr(kit, name) is not None
    with pytest.raises(AttributeError):
        kit.no_such_name  # noqa: B018
