"""CachingVerifier: the verifier conformance suite, sharing between threads, asynchronous submits."""

from __future__ import annotations

import threading

import pytest

from timecoin_core.keys import PrivateKey
from timecoin_core.testing import check_verifier
from timecoin_core.verify import SignatureCheck, SyncVerifier, ThreadVerifier
from timecoin_core.verify.cache import CachingVerifier

KEY = PrivateKey.from_seed(b"\x41" * 32)


def _checks(n: int, *, bad_every: int = 0) -> list[SignatureCheck]:
    out = []
    for i in range(n):
        message = i.to_bytes(4, "big")
        signature = KEY.sign(message)
        if bad_every and i % bad_every == 0:
            signature = bytes(64)
        out.append(SignatureCheck(KEY.public_key.data, message, signature))
    return out


@pytest.mark.parametrize("inner", [SyncVerifier, lambda: ThreadVerifier(2, chunk_size=8)], ids=["sync", "thread"])
def test_caching_verifier_passes_the_verifier_conformance_suite(inner: object) -> None:
    check_verifier(lambda: CachingVerifier(inner()))  # type: ignore[operator]


def test_shared_between_threads_it_gives_every_thread_the_right_verdicts() -> None:
    checks = _checks(200, bad_every=7)
    expected = [i % 7 != 0 for i in range(200)]
    with CachingVerifier(ThreadVerifier(2, chunk_size=16)) as cache:
        failures: list[str] = []

        def worker(offset: int) -> None:
            for round_ in range(5):
                part = checks[offset:] + checks[:offset]
                want = expected[offset:] + expected[:offset]
                if cache.verify_many(part) != want:
                    failures.append(f"thread {offset} round {round_}")

        threads = [threading.Thread(target=worker, args=(k * 37,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == []
        assert cache.hits + cache.misses == 4 * 5 * 200
        assert cache.hits > 0


def test_submit_many_is_asynchronous_and_remembers_what_it_verified() -> None:
    gate = threading.Event()
    inner = ThreadVerifier(1, chunk_size=64)
    with CachingVerifier(inner) as cache:
        inner._pool.submit(gate.wait, 30)  # occupy the only worker
        checks = _checks(10, bad_every=3)
        future = cache.submit_many(checks)
        assert not future.done()  # it returned without verifying on this thread
        gate.set()
        assert future.result(timeout=30) == [i % 3 != 0 for i in range(10)]
        misses = cache.misses
        assert cache.verify_many([c for i, c in enumerate(checks) if i % 3 != 0]) == [True] * 6
        assert cache.misses == misses  # answered from memory
        assert cache.verify_many([checks[0]]) == [False] and cache.misses == misses + 1  # invalid: never cached


class _Refusing(SyncVerifier):
    """Counts what reaches it and finds nothing valid."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = 0

    def verify_many(self, checks):  # type: ignore[no-untyped-def]
        self.seen += len(checks)
        return [False] * len(checks)


def test_remembered_checks_are_answered_without_the_inner_verifier() -> None:
    own = _checks(3)
    inner = _Refusing()
    cache = CachingVerifier(inner)
    cache.remember(own[:2])
    assert cache.verify_many(own) == [True, True, False]
    assert inner.seen == 1 and cache.hits == 2
    cache.close()
    from timecoin_core.errors import VerifierError

    with pytest.raises(VerifierError):
        cache.remember(own)


def test_remember_respects_the_capacity() -> None:
    cache = CachingVerifier(_Refusing(), capacity=2)
    cache.remember(_checks(3))
    assert cache.verify_many(_checks(3)) == [False, True, True]  # the oldest was forgotten
