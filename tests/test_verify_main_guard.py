"""A ProcessVerifier created by an unguarded script says so instead of killing its workers.

The scripts run in a fresh interpreter, as a user runs them: the failure only exists
when ``__main__`` is a file that ``spawn``/``forkserver`` workers re-import.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from timecoin_core.errors import TimecoinError
from timecoin_core.verify import ProcessVerifier, UnguardedMainError, VerifierConfigError
from timecoin_core.verify.executors import _inside_main_guard

PREAMBLE = """\
from timecoin_core import DEVNET, OutPoint, PrivateKey, TransactionBuilder, TxOut, coins
from timecoin_core import make_verifier, validate_transactions

alice = PrivateKey.from_seed(bytes(32))
funding = OutPoint(b"\\x01" * 32, 0)
coin = TxOut(coins("10"), alice.public_key.payload)
tx = TransactionBuilder(DEVNET).spend(funding, coin, alice).pay(alice.address(DEVNET), coins("9")).build()
"""

CHECK = """\
with make_verifier("process", workers=2) as verifier:
    assert validate_transactions([tx], {funding: coin}, DEVNET, verifier)[0].ok
print("verified")
"""


def run(tmp_path: Path, body: str, *args: str, name: str = "script.py") -> subprocess.CompletedProcess[str]:
    script = tmp_path / name
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(PREAMBLE + textwrap.dedent(body))
    return subprocess.run(
        [sys.executable, *args] if args else [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )


def test_unguarded_script_gets_a_typed_error_naming_the_line(tmp_path: Path) -> None:
    done = run(tmp_path, CHECK)
    assert done.returncode != 0
    assert "UnguardedMainError" in done.stderr
    assert 'if __name__ == "__main__":' in done.stderr
    assert f"script.py, line {PREAMBLE.count(chr(10)) + 1}" in done.stderr
    assert "worker died" not in done.stderr


def test_guarded_script_verifies(tmp_path: Path) -> None:
    body = "def main() -> None:\n" + textwrap.indent(CHECK, "    ") + '\nif __name__ == "__main__":\n    main()\n'
    done = run(tmp_path, body)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("verified")


def test_function_called_from_an_unguarded_top_level_is_caught(tmp_path: Path) -> None:
    body = "def main() -> None:\n" + textwrap.indent(CHECK, "    ") + "\nmain()\n"
    done = run(tmp_path, body)
    assert "UnguardedMainError" in done.stderr


def test_unguarded_module_run_with_dash_m_is_caught(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    done = run(tmp_path, CHECK, "-m", "pkg.job", name="pkg/job.py")
    assert "UnguardedMainError" in done.stderr


def test_code_that_workers_never_rerun_is_left_alone(tmp_path: Path) -> None:
    # A package's __main__ module and `python -c` are not re-imported by workers.
    (tmp_path / "tool").mkdir()
    (tmp_path / "tool" / "__init__.py").write_text("")
    done = run(tmp_path, CHECK, "-m", "tool", name="tool/__main__.py")
    assert done.returncode == 0, done.stderr
    done = subprocess.run(
        [sys.executable, "-c", PREAMBLE + CHECK], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_fork_start_method_needs_no_guard(tmp_path: Path) -> None:
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork here")
    body = CHECK.replace('make_verifier("process", workers=2)', 'ProcessVerifier(2, start_method="fork")')
    done = run(tmp_path, "from timecoin_core.verify import ProcessVerifier\n" + body)
    assert done.returncode == 0, done.stderr


def test_the_error_is_a_configuration_error() -> None:
    error = UnguardedMainError("/x/job.py", 7)
    assert isinstance(error, VerifierConfigError) and isinstance(error, TimecoinError)
    assert isinstance(error, ValueError)
    assert (error.path, error.line) == ("/x/job.py", 7)
    assert "job.py, line 7" in str(error)
    assert "job.py" in str(UnguardedMainError("/x/job.py", None))


def test_a_verifier_made_from_a_test_is_fine() -> None:
    with ProcessVerifier(1) as verifier:
        assert verifier.verify_many([]) == []


@pytest.mark.parametrize(
    ("source", "line", "expected"),
    [
        ('if __name__ == "__main__":\n    go()\n', 2, True),
        ('if "__main__" == __name__:\n    go()\n', 2, True),
        ("if __name__ == '__main__':\n    x = 1\n    go()\n", 3, True),
        ('go()\nif __name__ == "__main__":\n    pass\n', 1, False),
        ('if __name__ == "__main__":\n    pass\nelse:\n    go()\n', 4, False),
        ('if __name__ != "__main__":\n    go()\n', 2, False),
        ('if __name__ == "__mp_main__":\n    go()\n', 2, False),
        ('if __name__ == "__main__" == x:\n    go()\n', 2, False),
        ("if True:\n    go()\n", 2, False),
        ('def f():\n    if __name__ == "__main__":\n        go()\n', 3, True),
        ("this is not python(\n", 1, None),
        ("x = '\0'\n", 1, None),
    ],
)
def test_guard_detection(source: str, line: int, expected: bool | None) -> None:
    assert _inside_main_guard(source, line) is expected
