"""All 1,082 public Ed25519 vectors: every backend under every executor, one verdict.

The vectors (``tests/vectors/ed25519``, copied from the project's shared set) are
RFC 8032 section 7.1, Project Wycheproof, ed25519-speccheck and C2SP CCTV. The raw
libraries disagree on many of them; with the policy in front they must not, and they
must also match the pure-Python reference in ``test_verify_reference``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from test_verify_reference import reference_verify

from timecoin_core.verify import (
    BACKENDS,
    ProcessVerifier,
    SignatureCheck,
    SyncVerifier,
    ThreadVerifier,
    Verifier,
    available_backends,
    verify_one,
)
from timecoin_core.verify.backends import raw_verify_function
from timecoin_core.verify.policy import admissible

VECTORS = Path(__file__).parent / "vectors" / "ed25519"


@dataclass(frozen=True)
class Case:
    """One vector: where it came from, the triple, and the verdict its source expects."""

    source: str
    name: str
    public_key: bytes
    message: bytes
    signature: bytes
    expected: bool | None  # None: the source states no verdict (speccheck, CCTV)

    def check(self) -> SignatureCheck:
        return SignatureCheck(self.public_key, self.message, self.signature)


def _read(name: str) -> Any:
    return json.loads((VECTORS / name).read_text())


@cache
def load_cases() -> tuple[Case, ...]:
    """Every vector in a fixed order: RFC 8032, Wycheproof, speccheck, CCTV."""
    cases: list[Case] = []
    for v in _read("rfc8032_ed25519.json")["vectors"]:
        cases.append(
            Case(
                "rfc8032",
                v["name"],
                bytes.fromhex(v["public_key"]),
                bytes.fromhex(v["message"]),
                bytes.fromhex(v["signature"]),
                True,
            )
        )
    for group in _read("wycheproof_ed25519_test.json")["testGroups"]:
        public_key = bytes.fromhex(group["publicKey"]["pk"])
        for t in group["tests"]:
            cases.append(
                Case(
                    "wycheproof",
                    f"tcId {t['tcId']}",
                    public_key,
                    bytes.fromhex(t["msg"]),
                    bytes.fromhex(t["sig"]),
                    t["result"] == "valid",
                )
            )
    for i, t in enumerate(_read("speccheck_cases.json")):
        cases.append(
            Case(
                "speccheck",
                f"case {i}",
                bytes.fromhex(t["pub_key"]),
                bytes.fromhex(t["message"]),
                bytes.fromhex(t["signature"]),
                None,
            )
        )
    for t in _read("cctv_ed25519vectors.json"):
        cases.append(
            Case(
                "cctv",
                f"number {t['number']}",
                bytes.fromhex(t["key"]),
                t["msg"].encode(),
                bytes.fromhex(t["sig"]),
                None,
            )
        )
    return tuple(cases)


@cache
def reference_verdicts() -> tuple[bool, ...]:
    """The pure-Python reference's verdict on every case (about a second, computed once)."""
    return tuple(reference_verify(c.public_key, c.message, c.signature) for c in load_cases())


def test_all_vectors_are_present() -> None:
    counts: dict[str, int] = {}
    for case in load_cases():
        counts[case.source] = counts.get(case.source, 0) + 1
    assert counts == {"rfc8032": 5, "wycheproof": 151, "speccheck": 12, "cctv": 914}


def test_reference_meets_every_stated_expectation() -> None:
    for case, verdict in zip(load_cases(), reference_verdicts(), strict=True):
        if case.expected is not None:
            assert verdict is case.expected, (case.source, case.name)


# SHA-256 of the 1,082 verdicts as bytes 0/1, in load_cases() order.
PINNED_VERDICTS_SHA256 = "6023944268cb0a5e7e37b4e987668bbe6e48db5ef73084131841d6e914173212"


def test_verdicts_are_pinned() -> None:
    # Consensus: if a library upgrade or a policy edit changes any verdict, this fails.
    verdicts = reference_verdicts()
    assert sum(verdicts) == 137
    digest = hashlib.sha256(bytes(verdicts)).hexdigest()
    assert digest == PINNED_VERDICTS_SHA256


def _usable(backend: str) -> bool:
    return backend in available_backends()


BACKEND_PARAMS = [
    pytest.param(b, marks=pytest.mark.skipif(not _usable(b), reason=f"{b} not installed"))
    for b in BACKENDS
]


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_verify_one_matches_reference_and_sources(backend: str) -> None:
    for case, expected in zip(load_cases(), reference_verdicts(), strict=True):
        verdict = verify_one(case.public_key, case.message, case.signature, backend)
        assert verdict is expected, (backend, case.source, case.name)
        if case.expected is not None:
            assert verdict is case.expected, (backend, case.source, case.name)


@pytest.fixture(scope="module", params=["sync", "thread", "process"])
def kind(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture(scope="module", params=BACKEND_PARAMS)
def verifier(kind: str, request: pytest.FixtureRequest) -> Iterator[Verifier]:
    backend: str = request.param
    v: Verifier
    if kind == "sync":
        v = SyncVerifier(backend)
    elif kind == "thread":
        v = ThreadVerifier(2, backend, chunk_size=100)
    else:
        v = ProcessVerifier(2, backend, chunk_size=100)
    with v:
        yield v


def test_every_executor_and_backend_gives_the_reference_verdicts(verifier: Verifier) -> None:
    verdicts = verifier.verify_many([c.check() for c in load_cases()])
    assert verdicts == list(reference_verdicts())


@pytest.mark.skipif(not _usable("pynacl"), reason="pynacl not installed")
def test_raw_backends_disagree_and_the_policy_is_what_reconciles_them() -> None:
    openssl = raw_verify_function("cryptography")
    sodium = raw_verify_function("pynacl")
    split = [
        c
        for c in load_cases()
        if openssl(c.public_key, c.message, c.signature)
        != sodium(c.public_key, c.message, c.signature)
    ]
    # 169 with cryptography 50 (OpenSSL 3) and PyNaCl 1.6 (libsodium 1.0.20).
    assert split, (
        "the raw backends agree on every vector: this test no longer shows why the policy exists"
    )
    for c in split:
        assert not admissible(c.public_key, c.signature), (c.source, c.name)


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_raw_backend_agrees_with_the_reference_on_what_the_policy_admits(backend: str) -> None:
    # The policy only takes verdicts away; it never overrides the curve check.
    raw = raw_verify_function(backend)
    for case, expected in zip(load_cases(), reference_verdicts(), strict=True):
        if admissible(case.public_key, case.signature):
            assert raw(case.public_key, case.message, case.signature) is expected, case.name
