"""Every error the package raises is a TimecoinError; a wrong argument names its parameter."""

from __future__ import annotations

import ast
import dataclasses
import pickle
from collections.abc import Callable
from pathlib import Path

import pytest

import timecoin_core
import timecoin_net
from timecoin_core import (
    DEVNET,
    BuilderArgumentError,
    BuilderError,
    InvalidArgumentError,
    OutPoint,
    PrivateKey,
    TimecoinError,
    TransactionBuilder,
    TxOut,
    TxPool,
    UtxoSet,
    validate_transaction,
)
from timecoin_core.codec import encode_varint
from timecoin_core.consensus.node import NodeConfig
from timecoin_core.testing import LocalChainArgumentError, LocalChainError
from timecoin_core.verify import SyncVerifier
from timecoin_core.verify.cache import CachingVerifier
from timecoin_core.wire import SessionConfig

BUILTINS = {"ValueError", "TypeError"}
PACKAGES = [Path(timecoin_core.__file__).parent, Path(timecoin_net.__file__).parent]


def _bare_builtin_raises(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if not isinstance(node, ast.Raise) or node.exc is None:
            continue
        exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        if isinstance(exc, ast.Name) and exc.id in BUILTINS:
            found.append(f"{path}:{node.lineno}: raise {exc.id}")
    return found


def test_the_package_raises_no_bare_value_or_type_error() -> None:
    modules = [path for package in PACKAGES for path in sorted(package.rglob("*.py"))]
    assert len(modules) > 50  # the walk found the package, not an empty folder
    found = [hit for path in modules for hit in _bare_builtin_raises(path)]
    assert not found, "raise a TimecoinError subclass instead:\n" + "\n".join(found)


def test_the_scan_sees_a_bare_raise(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    raise ValueError('x')\n\ndef g():\n    raise TypeError\n")
    assert len(_bare_builtin_raises(module)) == 2


def _key() -> PrivateKey:
    return PrivateKey.from_seed(bytes(range(32)))


CASES: list[tuple[str, Callable[[], object], str, type[Exception]]] = [
    ("PrivateKey.from_seed(str)", lambda: PrivateKey.from_seed("x"), "seed", TypeError),  # type: ignore[arg-type]
    ("PrivateKey.from_seed(int)", lambda: PrivateKey.from_seed(32), "seed", TypeError),  # type: ignore[arg-type]
    ("validate_transaction(bytes)", lambda: validate_transaction(b"..", {}, DEVNET), "tx", TypeError),  # type: ignore[arg-type]
    (
        "TransactionBuilder.spend(str)",
        lambda: TransactionBuilder(DEVNET).spend("x", TxOut(1, bytes(20)), _key()),  # type: ignore[arg-type]
        "outpoint",
        TypeError,
    ),
    ("TransactionBuilder(str)", lambda: TransactionBuilder("devnet"), "network", TypeError),  # type: ignore[arg-type]
    ("NodeConfig(regossip_interval=-1)", lambda: NodeConfig(regossip_interval=-1), "regossip_interval", ValueError),
    ("NodeConfig(max_parked_bytes=-1)", lambda: NodeConfig(max_parked_bytes=-1), "max_parked_bytes", ValueError),
    ("Network(magic=3 bytes)", lambda: dataclasses.replace(DEVNET, magic=b"abc"), "magic", ValueError),
    ("Network(chain_id=-1)", lambda: dataclasses.replace(DEVNET, chain_id=-1), "chain_id", ValueError),
    ("OutPoint(short txid)", lambda: OutPoint(b"short", 0), "txid", ValueError),
    ("OutPoint(index=-1)", lambda: OutPoint(bytes(32), -1), "index", ValueError),
    ("TxOut(-1)", lambda: TxOut(-1, bytes(20)), "amount", ValueError),
    ("TxOut(short payload)", lambda: TxOut(1, b"short"), "payload", ValueError),
    ("TxPool(str)", lambda: TxPool("devnet", UtxoSet()), "network", TypeError),  # type: ignore[arg-type]
    ("encode_varint(-1)", lambda: encode_varint(-1), "value", ValueError),
    ("CachingVerifier(capacity=0)", lambda: CachingVerifier(SyncVerifier(), capacity=0), "capacity", ValueError),
    ("SessionConfig(ping_interval=0)", lambda: SessionConfig(ping_interval=0), "ping_interval", ValueError),
]


@pytest.mark.parametrize(("call", "parameter", "builtin"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_wrong_argument_is_a_timecoin_error_naming_the_parameter(
    call: Callable[[], object], parameter: str, builtin: type[Exception]
) -> None:
    with pytest.raises(TimecoinError) as info:
        call()
    exc = info.value
    assert isinstance(exc, builtin), f"{type(exc).__name__} no longer derives from {builtin.__name__}"
    assert str(exc).startswith(parameter), str(exc)
    if isinstance(exc, InvalidArgumentError):
        assert exc.parameter == parameter
        assert str(exc).startswith(f"{parameter}: ")


def test_invalid_argument_error_is_both_builtins_and_crosses_processes() -> None:
    error = InvalidArgumentError("seed", "expected 32 bytes, not str")
    assert isinstance(error, TimecoinError) and isinstance(error, TypeError) and isinstance(error, ValueError)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is InvalidArgumentError
    assert (copy.parameter, str(copy)) == ("seed", "seed: expected 32 bytes, not str")


def test_module_families_still_catch_their_argument_errors() -> None:
    # The argument errors of a module with its own family are caught by either handler.
    assert issubclass(BuilderArgumentError, BuilderError) and issubclass(BuilderArgumentError, InvalidArgumentError)
    assert issubclass(LocalChainArgumentError, LocalChainError)
    assert issubclass(LocalChainArgumentError, InvalidArgumentError)
    import timecoin_core.testing

    assert timecoin_core.testing.InvalidArgumentError is InvalidArgumentError
