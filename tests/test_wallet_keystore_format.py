"""The keystore's pure format: bytes in, bytes out, and never a file."""

from __future__ import annotations

import ast
import contextlib
import inspect
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timecoin_core import _files
from timecoin_core.network import DEVNET, MAINNET
from timecoin_core.wallet import Keystore, KeystoreFormatError, WrongPasswordError
from timecoin_core.wallet import _keystore_format as fmt
from timecoin_core.wallet.wallet import Wallet

WORDS = "abandon " * 11 + "about"


def test_the_format_module_touches_no_file() -> None:
    tree = ast.parse(inspect.getsource(fmt))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not imported & {"os", "pathlib", "io", "shutil", "tempfile", "_files", ".._files"}
    called = {node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    assert "open" not in called


addresses = st.lists(st.integers(0, 50), max_size=6).map(
    lambda indices: tuple(str(Wallet.from_mnemonic(WORDS, network=MAINNET).address(i)) for i in indices)
)


@settings(max_examples=25, deadline=None)
@given(
    account=st.integers(0, 2**31 - 1),
    created_at=st.none() | st.integers(0, 2**63 - 1),
    receiving=addresses,
)
def test_sealed_documents_round_trip_through_bytes(account: int, created_at: int | None, receiving: tuple[str, ...]) -> None:
    header = fmt.Document("mainnet", account, created_at, receiving + receiving, None)
    sealed = fmt.seal(header, fmt.padded_plaintext(WORDS, "pass"), b"password", fmt.FAST_SCRYPT)
    raw = sealed.to_bytes()
    parsed = fmt.parse(raw)
    assert parsed == sealed and parsed.to_bytes() == raw
    assert fmt.open_secrets(parsed, b"password") == (WORDS, "pass")
    with pytest.raises(WrongPasswordError):
        fmt.open_secrets(parsed, b"not the password")


_VALID = fmt.Document("devnet", None, None, (str(Wallet.from_mnemonic(WORDS, network=DEVNET).address(0)),), None).to_bytes()


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(_VALID) - 1), st.integers(0, 255), st.binary(max_size=40))
def test_damaged_bytes_parse_or_fail_with_the_format_error(at: int, byte: int, tail: bytes) -> None:
    raw = _VALID[:at] + bytes([byte]) + _VALID[at + 1 :] + tail
    with contextlib.suppress(KeystoreFormatError):  # anything else is a bug
        fmt.parse(raw)


def test_a_file_holds_exactly_the_format_bytes(tmp_path: Path) -> None:
    keystore = Keystore.create(tmp_path / "k.json", WORDS, "pw", network=DEVNET, kdf=fmt.FAST_SCRYPT, watch_addresses=1)
    raw = (tmp_path / "k.json").read_bytes()
    assert fmt.parse(raw).to_bytes() == raw
    assert fmt.open_secrets(fmt.parse(raw), b"pw") == (keystore.unlock("pw").mnemonic, "")


def test_write_file_replaces_or_refuses_and_is_private(tmp_path: Path) -> None:
    target = tmp_path / "f"
    assert _files.write_file(target, b"one", replace=False) is True
    assert _files.write_file(target, b"two", replace=False) is False
    assert target.read_bytes() == b"one"
    assert _files.write_file(target, b"three", replace=True) is True
    assert target.read_bytes() == b"three"
    if os.name == "posix":
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]  # no temporary file left


def test_read_bounded_refuses_what_is_over_the_limit(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"x" * 10)
    assert _files.read_bounded(target, 10) == b"x" * 10
    assert _files.read_bounded(target, 9) is None
