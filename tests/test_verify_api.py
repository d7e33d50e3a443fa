"""The verify package's surface: exports, construction-time validation, typed errors."""

from __future__ import annotations

import pickle
import subprocess
import sys
from collections.abc import Iterator

import pytest

import timecoin_core.verify as verify_pkg
from timecoin_core.errors import TimecoinError
from timecoin_core.verify import (
    BackendUnavailableError,
    ProcessVerifier,
    SignatureCheck,
    SyncVerifier,
    ThreadVerifier,
    UnknownBackendError,
    VerifierConfigError,
    available_backends,
    make_verifier,
    verify_one,
)
from timecoin_core.verify import backends as backends_module

EXPECTED_EXPORTS = {
    "BACKENDS",
    "DEFAULT_BACKEND",
    "BackendUnavailableError",
    "ProcessVerifier",
    "SignatureCheck",
    "SyncVerifier",
    "ThreadVerifier",
    "UnguardedMainError",
    "UnknownBackendError",
    "Verifier",
    "VerifierConfigError",
    "VerifierKind",
    "available_backends",
    "make_verifier",
    "verify_one",
}


def test_exports() -> None:
    assert set(verify_pkg.__all__) == EXPECTED_EXPORTS
    for name in EXPECTED_EXPORTS:
        assert getattr(verify_pkg, name) is not None


def test_error_hierarchy() -> None:
    for cls in (VerifierConfigError, UnknownBackendError, BackendUnavailableError):
        assert issubclass(cls, TimecoinError)
        assert issubclass(cls, ValueError)
        assert issubclass(cls, VerifierConfigError)


def test_signature_check_is_a_frozen_picklable_value() -> None:
    check = SignatureCheck(b"k" * 32, b"message", b"s" * 64)
    assert pickle.loads(pickle.dumps(check)) == check
    assert hash(check) == hash(SignatureCheck(b"k" * 32, b"message", b"s" * 64))
    with pytest.raises(AttributeError):
        check.message = b"other"  # type: ignore[misc]
    assert not hasattr(check, "__dict__")


@pytest.mark.parametrize("kind", ["sync", "thread", "process"])
@pytest.mark.parametrize("workers", [0, -1, True, 1.5, "2"])
def test_bad_workers_rejected_at_construction(kind: str, workers: object) -> None:
    with pytest.raises(VerifierConfigError):
        make_verifier(kind, workers)  # type: ignore[arg-type]


def test_bad_kind_rejected() -> None:
    with pytest.raises(VerifierConfigError, match="kind"):
        make_verifier("fiber")  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["sync", "thread", "process"])
def test_unknown_backend_rejected_at_construction(kind: str) -> None:
    with pytest.raises(UnknownBackendError):
        make_verifier(kind, 1, "libsodium")  # type: ignore[arg-type]


@pytest.mark.parametrize("chunk_size", [0, -5, True])
def test_bad_chunk_size_rejected(chunk_size: int) -> None:
    with pytest.raises(VerifierConfigError):
        ThreadVerifier(1, chunk_size=chunk_size)
    with pytest.raises(VerifierConfigError):
        ProcessVerifier(1, chunk_size=chunk_size)


def test_bad_start_method_rejected() -> None:
    with pytest.raises(VerifierConfigError, match="start method"):
        ProcessVerifier(1, start_method="teleport")


def test_workers_default_to_cpu_count() -> None:
    import os

    with ThreadVerifier() as v:
        assert v.workers == (os.cpu_count() or 1)


def test_reprs_name_backend_and_state() -> None:
    v = SyncVerifier()
    assert "cryptography" in repr(v)
    v.close()
    assert "closed" in repr(v)
    with ThreadVerifier(2) as t:
        assert "workers=2" in repr(t)


@pytest.fixture
def without_pynacl(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """PyNaCl made unimportable and the backend caches emptied, as on a plain install."""
    for name in list(sys.modules):
        if name == "nacl" or name.startswith("nacl."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "nacl", None)
    monkeypatch.setattr(backends_module, "_RAW", {})
    monkeypatch.setattr(backends_module, "_CHECKED", {})
    yield


@pytest.mark.usefixtures("without_pynacl")
def test_missing_pynacl_is_a_clear_typed_error() -> None:
    assert available_backends() == ("cryptography",)
    with pytest.raises(BackendUnavailableError, match=r"timecoin\[nacl\]"):
        verify_one(b"k" * 32, b"m", b"s" * 64, "pynacl")
    with pytest.raises(BackendUnavailableError):
        make_verifier("thread", 1, "pynacl")
    with pytest.raises(BackendUnavailableError):
        SyncVerifier("pynacl")


def test_import_is_light() -> None:
    # verify_one sits under PublicKey.verify: importing the package and verifying with
    # the default backend must not import PyNaCl or the process-pool machinery.
    code = (
        "import sys\n"
        "from timecoin_core.verify import verify_one\n"
        "verify_one(b'k' * 32, b'm', b's' * 64)\n"
        "heavy = [m for m in ('nacl', 'concurrent.futures.process')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == ""
