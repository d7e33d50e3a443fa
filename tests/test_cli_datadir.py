"""The ``timecoin`` command line in a subprocess: help, clear one-line errors, exit codes, never a traceback."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from timecoin_core.keys import PrivateKey
from timecoin_net import NodeConfig, init_datadir, load_datadir
from timecoin_net.cli import main


def timecoin(*args: str | os.PathLike[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "timecoin_net", *map(str, args)],
        capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
    )


def in_process(capsys: pytest.CaptureFixture[str], *args: str) -> subprocess.CompletedProcess[str]:
    """``timecoin ARGS`` through :func:`timecoin_net.cli.main` in this process (help and usage paths)."""
    try:
        code = main(list(args))
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, captured.out, captured.err)


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int, *fragments: str) -> None:
    assert result.returncode == code, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.mark.parametrize(
    "command",
    [(), ("node",), ("node", "init"), ("node", "run"), ("devnet",), ("devnet", "up"), ("devnet", "status"), ("devnet", "down"),
     ("wallet",), ("wallet", "send")],
)
def test_every_command_has_help_with_an_example(command: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    result = in_process(capsys, *command, "--help")
    assert result.returncode == 0
    assert "example:" in result.stdout
    assert "timecoin" in result.stdout.split("example:")[1]


def test_help_shows_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    assert "(default: 24300)" in in_process(capsys, "devnet", "up", "--help").stdout
    assert "(default: mainnet)" in in_process(capsys, "node", "init", "--help").stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ((), "the following arguments are required"),
        (("node", "run"), "--datadir"),
        (("node", "run", "--datadir", "x", "--peer", "nohostport"), "is not HOST:PORT"),
        (("node", "run", "--datadir", "x", "--listen", "1.2.3.4:99999"), "0..65535"),
        (("node", "init", "--datadir", "x", "--network", "regtest"), "invalid choice"),
        (("devnet", "up", "--dir", "x", "--nodes", "zero"), "not a whole number"),
        (("devnet", "down", "--dir", "x", "--timeout", "-1"), "between 0 and 86400"),
        (("wallets",), "invalid choice"),
        (("wallet",), "the following arguments are required"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(args: tuple[str, ...], fragment: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert_one_line_error(in_process(capsys, *args), 2, fragment)


def test_node_init_creates_a_datadir_with_private_keys(tmp_path: Path) -> None:
    result = timecoin("node", "init", "--datadir", tmp_path / "n", "--network", "testnet", "--peer", "127.0.0.1:24200")
    assert result.returncode == 0, result.stderr
    assert "timecoin node run --datadir" in result.stdout
    datadir = load_datadir(tmp_path / "n")
    assert datadir.network.name == "testnet"
    assert [str(p) for p in datadir.config.peers] == ["127.0.0.1:24200"]
    assert datadir.masternode_key is None
    assert stat.S_IMODE((tmp_path / "n" / "node.key").stat().st_mode) == 0o600
    again = timecoin("node", "init", "--datadir", tmp_path / "n")
    assert_one_line_error(again, 1, "node.toml: already exists")


def _datadir(tmp_path: Path) -> Path:
    init_datadir(tmp_path / "d", NodeConfig(network="devnet"), masternode_key=PrivateKey.generate())
    return tmp_path / "d"


@pytest.mark.parametrize(
    ("breakage", "fragments"),
    [
        (lambda d: None, ()),  # placeholder replaced below for the missing datadir
        (lambda d: (d / "node.toml").write_text("network = \n"), ("node.toml: not valid TOML",)),
        (lambda d: (d / "node.toml").write_text('network = "devnet"\nlistn = "127.0.0.1:1"\n'), ("listn: unknown key",)),
        (lambda d: (d / "node.toml").write_text('network = "devnet"\nlisten = "127.0.0.1:70000"\n'), ("listen:", "0..65535")),
        (lambda d: (d / "node.toml").unlink(), ("node.toml: missing",)),
        (lambda d: (d / "node.key").chmod(0o644), ("node.key: permissions 0644 are too open", "chmod 600")),
        (lambda d: (d / "masternode.key").chmod(0o640), ("masternode.key: permissions 0640 are too open",)),
        (lambda d: (d / "node.key").write_text("not a key\n"), ("node.key: malformed key file",)),
        (lambda d: (d / "node.key").unlink(), ("node.key: key file missing",)),
        (lambda d: (d / "chain.sqlite").write_bytes(b"not sqlite at all" * 10), ("chain.sqlite",)),
    ],
    ids=["missing-datadir", "bad-toml", "unknown-key", "bad-port", "no-config", "world-readable-key",
         "group-readable-masternode-key", "malformed-key", "missing-key", "not-a-store"],
)
def test_node_run_datadir_errors_exit_1_with_one_clear_line(tmp_path: Path, breakage: object, fragments: tuple[str, ...]) -> None:
    if not fragments:
        result = timecoin("node", "run", "--datadir", tmp_path / "absent")
        assert_one_line_error(result, 1, "no such datadir", "timecoin node init --datadir")
        return
    d = _datadir(tmp_path)
    breakage(d)  # type: ignore[operator]
    assert_one_line_error(timecoin("node", "run", "--datadir", d), 1, "timecoin: error:", *fragments)


def test_node_run_refuses_a_datadir_of_another_network(tmp_path: Path) -> None:
    d = _datadir(tmp_path)
    result = timecoin("node", "run", "--datadir", d, "--network", "mainnet")
    assert_one_line_error(result, 1, "network 'devnet', not 'mainnet'")


def test_devnet_commands_without_a_devnet(tmp_path: Path) -> None:
    for command in ("status", "down"):
        assert_one_line_error(timecoin("devnet", command, "--dir", tmp_path), 1, "no devnet here")
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "file").write_text("x")
    assert_one_line_error(timecoin("devnet", "up", "--dir", tmp_path / "used", "--nodes", "2"), 1, "not an empty directory")
    assert_one_line_error(timecoin("devnet", "up", "--dir", tmp_path / "new", "--nodes", "40"), 1, "--nodes must be in 1..32")


def test_the_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "timecoin"
    assert script.exists()
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "devnet" in result.stdout and "wallet" in result.stdout


def test_the_wallet_commands_run_under_timecoin(tmp_path: Path) -> None:
    password = tmp_path / "pw"
    password.write_text("correct horse")
    created = timecoin("wallet", "create", "--wallet", tmp_path / "w.json", "--password-file", password,
                       "--fast-kdf", "--network", "devnet", "--words", "12", "--json")
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip().startswith("{")
    again = timecoin("wallet", "create", "--wallet", tmp_path / "w.json", "--password-file", password,
                     "--fast-kdf", "--network", "devnet")
    assert again.returncode == 1 and "Traceback" not in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
