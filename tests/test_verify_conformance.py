"""The Verifier conformance suite (timecoin_core.testing.conformance_verify) on our verifiers.

Every executor kind with every backend runs every check. Pools are module-scoped so
each pool starts once; the lifecycle checks make (and close) their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from timecoin_core.testing import VERIFIER_CHECKS, VERIFIER_LIFECYCLE_CHECKS, check_verifier
from timecoin_core.testing.conformance_verify import VALID, mixed_batch
from timecoin_core.verify import (
    BACKENDS,
    ProcessVerifier,
    SignatureCheck,
    SyncVerifier,
    ThreadVerifier,
    Verifier,
    available_backends,
    make_verifier,
    verify_one,
)

KINDS = ("sync", "thread", "process")
# Small chunks so that modest batches still cross many chunk boundaries.
CHUNK = 50

BACKEND_PARAMS = [
    pytest.param(
        b, marks=pytest.mark.skipif(b not in available_backends(), reason=f"{b} not installed")
    )
    for b in BACKENDS
]


def new_verifier(kind: str, backend: str) -> Verifier:
    """A verifier of ``kind`` with two workers and small chunks."""
    if kind == "sync":
        return SyncVerifier(backend)
    if kind == "thread":
        return ThreadVerifier(2, backend, chunk_size=CHUNK)
    return ProcessVerifier(2, backend, chunk_size=CHUNK)


@pytest.fixture(scope="module", params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture(scope="module", params=BACKEND_PARAMS)
def backend(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture(scope="module")
def verifier(kind: str, backend: str) -> Iterator[Verifier]:
    with new_verifier(kind, backend) as v:
        yield v


@pytest.fixture
def fresh(kind: str, backend: str) -> Iterator[Callable[[], Verifier]]:
    """Makes verifiers that a test may close; closes any the test left open."""
    made: list[Verifier] = []

    def make() -> Verifier:
        v = new_verifier(kind, backend)
        made.append(v)
        return v

    yield make
    for v in made:
        v.close()


@pytest.mark.parametrize("check", list(VERIFIER_CHECKS.values()), ids=list(VERIFIER_CHECKS))
def test_verifier_conformance(verifier: Verifier, check: Callable[[Verifier], None]) -> None:
    check(verifier)


@pytest.mark.parametrize(
    "check", list(VERIFIER_LIFECYCLE_CHECKS.values()), ids=list(VERIFIER_LIFECYCLE_CHECKS)
)
def test_verifier_lifecycle_conformance(
    fresh: Callable[[], Verifier], check: Callable[[Callable[[], Verifier]], None]
) -> None:
    check(fresh)


def test_is_a_verifier_of_its_backend(verifier: Verifier, backend: str) -> None:
    assert verifier.backend == backend


def test_make_verifier_builds_each_kind(kind: str, backend: str) -> None:
    with make_verifier(kind, 1, backend) as v:  # type: ignore[arg-type]
        assert v.backend == backend
        checks, expected = mixed_batch(30)
        assert v.verify_many(checks) == expected


def test_check_verifier_passes_ours_and_names_what_a_broken_one_fails() -> None:
    check_verifier(SyncVerifier)

    class Reversed(SyncVerifier):
        def verify_many(self, checks: object) -> list[bool]:
            return list(reversed(super().verify_many(checks)))  # type: ignore[arg-type]

    with pytest.raises(AssertionError, match="'mixed_batch_keeps_order' failed"):
        check_verifier(Reversed)
    with pytest.raises(TypeError):
        check_verifier(SyncVerifier())  # type: ignore[arg-type]


triples = st.tuples(st.binary(max_size=70), st.binary(max_size=40), st.binary(max_size=70)).map(
    lambda t: SignatureCheck(*t)
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(triples, st.sampled_from(VALID), st.sampled_from(mixed_batch(40)[0])),
        max_size=120,
    )
)
def test_any_batch_gives_verify_one_verdicts(
    verifier: Verifier, checks: list[SignatureCheck]
) -> None:
    expected = [verify_one(c.public_key, c.message, c.signature) for c in checks]
    assert verifier.verify_many(checks) == expected
