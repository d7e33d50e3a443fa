"""The public surface of ``timecoin_core.wire``: exactly what its ``__init__`` exports,
documented, and pure (no I/O modules imported, no clock read)."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import random
import re
import time
from pathlib import Path

import pytest

import timecoin_core
import timecoin_core.wire as wire

SUBMODULES = sorted(m.name for m in pkgutil.iter_modules(wire.__path__) if not m.name.startswith("_"))


def test_package_exports_exactly_the_union_of_its_modules_exports() -> None:
    union: set[str] = set()
    for name in SUBMODULES:
        module = importlib.import_module(f"timecoin_core.wire.{name}")
        assert module.__doc__ and "Theory of operation" in module.__doc__, name
        union |= set(module.__all__)
    assert set(wire.__all__) == union
    assert len(wire.__all__) == len(set(wire.__all__))
    for name in wire.__all__:
        assert hasattr(wire, name), name


def test_every_public_class_function_and_member_is_documented() -> None:
    for name in wire.__all__:
        value = getattr(wire, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__doc__, name
            if inspect.isclass(value):
                for attr, member in vars(value).items():
                    if attr.startswith("_") or not (inspect.isfunction(member) or isinstance(member, property)):
                        continue
                    assert member.__doc__, f"{name}.{attr}"


def test_wire_is_not_re_exported_from_the_top_level() -> None:
    assert not set(wire.__all__) & set(timecoin_core.__all__) - {"Network", "PrivateKey", "PublicKey"}


ALLOWED_IMPORTS = {
    "__future__", "builtins", "collections", "collections.abc", "dataclasses", "enum",
    "functools", "ipaddress", "random", "struct", "types", "typing", "zlib",
    "cryptography.exceptions", "cryptography.hazmat.primitives",
    "cryptography.hazmat.primitives.asymmetric.x25519",
    "cryptography.hazmat.primitives.ciphers.aead", "cryptography.hazmat.primitives.kdf.hkdf",
}


@pytest.mark.parametrize("name", SUBMODULES)
def test_wire_modules_import_nothing_that_does_io_or_reads_a_clock(name: str) -> None:
    # timecoin_core itself still pulls in the store's aiosqlite on import, so purity is
    # checked on what each wire module imports: the standard library's pure parts,
    # cryptography, and the core (relative imports).
    source = Path(importlib.import_module(f"timecoin_core.wire.{name}").__file__ or "").read_text()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            modules = [node.module or ""]
        else:
            continue
        for module in modules:
            assert module in ALLOWED_IMPORTS, f"timecoin_core.wire.{name} imports {module}"


def test_a_whole_session_life_never_reads_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    from timecoin_core.network import DEVNET

    samples = wire.sample_messages(DEVNET.chain_id)
    policy = wire.ConnectionPolicy(rng=random.Random(1), now=0.0)

    def no_clock() -> float:
        raise AssertionError("the wire read a clock")

    for clock in ("time", "monotonic", "perf_counter", "time_ns", "monotonic_ns"):
        monkeypatch.setattr(time, clock, no_clock)
    pair = wire.SessionPair.create(DEVNET)
    pair.handshake()
    pair.initiator.send(samples[wire.MessageType.PROPOSAL])
    pair.advance(30.0)
    pair.advance(100.0)
    policy.admit_inbound("10.0.0.1", 1.0)
    assert pair.initiator.state is wire.SessionState.CLOSED


def test_the_specification_tables_match_the_code() -> None:
    text = (Path(__file__).resolve().parent.parent / "docs" / "network.md").read_text()
    rows = re.findall(r"^\| 0x([0-9a-f]{2}) \| (\w+) \| ([\d,]+) \|", text, re.M)
    assert {(int(i, 16), name, int(cap.replace(",", ""))) for i, name, cap in rows} == {
        (int(t), t.name, spec.cap) for t, spec in wire.MESSAGE_SPECS.items()
    }
    codes = re.findall(r"^\| (\d+) \| ([A-Z_]+) \| (\w+)", text, re.M)
    assert {(int(v), name, consequence) for v, name, consequence in codes} == {
        (int(c), c.name, wire.CONSEQUENCES[c].value) for c in wire.ErrorCode
    }
    assert f"{wire.MAX_FRAME_PAYLOAD:,}" in text
