"""The Verifier conformance suite: every executor kind with every backend passes it.

Pools are module-scoped so each pool starts once. Tests that close a verifier make
their own.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from timecoin_core.errors import VerifierError
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


def _signed(count: int) -> list[SignatureCheck]:
    keys = [Ed25519PrivateKey.from_private_bytes(bytes([i + 1]) * 32) for i in range(4)]
    checks = []
    for i in range(count):
        key = keys[i % len(keys)]
        message = b"conformance message %d" % i
        checks.append(
            SignatureCheck(key.public_key().public_bytes_raw(), message, key.sign(message))
        )
    return checks


VALID = _signed(64)


def _corrupt(check: SignatureCheck, how: int) -> SignatureCheck:
    sig = bytearray(check.signature)
    if how == 0:
        return SignatureCheck(check.public_key, check.message + b"!", check.signature)
    if how == 1:
        sig[5] ^= 0x01
        return SignatureCheck(check.public_key, check.message, bytes(sig))
    if how == 2:
        return SignatureCheck(
            VALID[(VALID.index(check) + 1) % 4].public_key, check.message, check.signature
        )
    sig[40] ^= 0x80
    return SignatureCheck(check.public_key, check.message, bytes(sig))


def mixed_batch(size: int) -> tuple[list[SignatureCheck], list[bool]]:
    """A batch whose verdict pattern is irregular, so any reordering shows."""
    checks, expected = [], []
    for i in range(size):
        base = VALID[(i * 7) % len(VALID)]
        if (i * i + 3 * i) % 5 < 2:
            checks.append(_corrupt(base, i % 4))
            expected.append(False)
        else:
            checks.append(base)
            expected.append(True)
    return checks, expected


def test_is_a_verifier_of_its_backend(verifier: Verifier, backend: str) -> None:
    assert isinstance(verifier, Verifier)
    assert verifier.backend == backend


def test_empty_batch(verifier: Verifier) -> None:
    assert verifier.verify_many([]) == []
    assert verifier.submit_many([]).result(timeout=30) == []


def test_single_valid_and_invalid(verifier: Verifier) -> None:
    assert verifier.verify_many(VALID[:1]) == [True]
    assert verifier.verify_many([_corrupt(VALID[0], 1)]) == [False]


def test_mixed_batch_keeps_order(verifier: Verifier) -> None:
    checks, expected = mixed_batch(137)
    assert verifier.verify_many(checks) == expected


def test_large_batch_split_across_chunks(verifier: Verifier) -> None:
    checks, expected = mixed_batch(CHUNK * 2 * 5 + 17)
    assert verifier.verify_many(checks) == expected


@pytest.mark.parametrize(
    ("key_len", "sig_len"),
    [(0, 64), (31, 64), (33, 64), (32, 0), (32, 63), (32, 65), (64, 32), (0, 0), (1000, 1000)],
)
def test_wrong_lengths_are_false_not_errors(verifier: Verifier, key_len: int, sig_len: int) -> None:
    good = VALID[0]
    key = (good.public_key * 40)[:key_len]
    sig = (good.signature * 20)[:sig_len]
    checks = [SignatureCheck(key, good.message, sig), good]
    assert verifier.verify_many(checks) == [False, True]


def test_bytes_like_fields_are_accepted(verifier: Verifier) -> None:
    good = VALID[3]
    check = SignatureCheck(
        bytearray(good.public_key),  # type: ignore[arg-type]
        memoryview(good.message),  # type: ignore[arg-type]
        bytearray(good.signature),  # type: ignore[arg-type]
    )
    assert verifier.verify_many([check, good]) == [True, True]


def test_non_bytes_fields_raise_type_error(verifier: Verifier) -> None:
    bad = SignatureCheck(VALID[0].public_key, "text", VALID[0].signature)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        verifier.verify_many([bad])
    future = verifier.submit_many([VALID[0], bad])
    with pytest.raises(TypeError):
        future.result(timeout=30)
    assert verifier.verify_many(VALID[:2]) == [True, True]  # still usable


def test_submit_many_returns_a_future_of_the_verdicts(verifier: Verifier) -> None:
    checks, expected = mixed_batch(300)
    future = verifier.submit_many(checks)
    assert isinstance(future, Future)
    assert future.result(timeout=60) == expected


def test_submit_many_can_be_awaited_from_asyncio(verifier: Verifier) -> None:
    checks, expected = mixed_batch(120)

    async def main() -> list[bool]:
        return await asyncio.wrap_future(verifier.submit_many(checks))

    assert asyncio.run(main()) == expected


def test_concurrent_batches_from_many_threads(verifier: Verifier) -> None:
    batches = [mixed_batch(40 + 23 * i) for i in range(6)]
    results: list[list[bool] | None] = [None] * len(batches)

    def run(i: int) -> None:
        results[i] = verifier.verify_many(batches[i][0])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(batches))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert results == [expected for _, expected in batches]


def test_context_manager_closes(fresh: Callable[[], Verifier]) -> None:
    with fresh() as v:
        assert v.verify_many(VALID[:3]) == [True] * 3
    with pytest.raises(VerifierError):
        v.verify_many(VALID[:1])


def test_close_is_idempotent_and_use_after_close_raises(fresh: Callable[[], Verifier]) -> None:
    v = fresh()
    v.close()
    v.close()
    with pytest.raises(VerifierError):
        v.verify_many(VALID[:1])
    with pytest.raises(VerifierError):
        v.submit_many(VALID[:1])
    with pytest.raises(VerifierError):
        v.verify_many([])
    with pytest.raises(VerifierError), v:
        pass


def test_close_with_a_batch_in_flight_never_gives_wrong_verdicts(
    fresh: Callable[[], Verifier],
) -> None:
    v = fresh()
    checks, expected = mixed_batch(CHUNK * 8)
    future = v.submit_many(checks)
    v.close()
    try:
        verdicts = future.result(timeout=60)
    except VerifierError:
        return
    assert verdicts == expected


def test_make_verifier_builds_each_kind(kind: str, backend: str) -> None:
    with make_verifier(kind, 1, backend) as v:  # type: ignore[arg-type]
        assert v.backend == backend
        checks, expected = mixed_batch(30)
        assert v.verify_many(checks) == expected


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
