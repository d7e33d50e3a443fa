"""The Verifier conformance suite: what every :class:`~timecoin_core.verify.Verifier` must do.

SyncVerifier, ThreadVerifier and ProcessVerifier pass it with every backend, and so
must any third-party implementation::

    from timecoin_core.testing import check_verifier

    check_verifier(lambda: MyVerifier())   # raises AssertionError on the first failure

The factory makes a fresh verifier each time it is called. Two families of checks:
:data:`VERIFIER_CHECKS` (name -> ``check(verifier)``) share one open verifier and
leave it open; :data:`VERIFIER_LIFECYCLE_CHECKS` (name -> ``check(factory)``) make
and close their own. A test suite can run them one by one, as
``tests/test_verify_conformance.py`` does with pytest. The verdict of every check is
:func:`~timecoin_core.verify.verify_one`'s, in input order. Failures are
``AssertionError`` (run without ``-O``). Needs no pytest.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from types import MappingProxyType
from typing import TypeVar

from ..errors import InvalidArgumentError, VerifierError
from ..keys import PrivateKey
from ..verify import SignatureCheck, Verifier, verify_one
from ._expect import raises

__all__ = [
    "LARGE_BATCH",
    "VALID",
    "VERIFIER_CHECKS",
    "VERIFIER_LIFECYCLE_CHECKS",
    "VerifierFactory",
    "check_verifier",
    "mixed_batch",
]

_T = TypeVar("_T")

VerifierFactory = Callable[[], Verifier]
"""Makes a fresh, open verifier."""

LARGE_BATCH = 517
"""The size of the batch that must cross many chunk boundaries (odd on purpose)."""


def _signed(count: int) -> list[SignatureCheck]:
    keys = [PrivateKey.from_seed(bytes([i + 1]) * 32) for i in range(4)]
    checks = []
    for i in range(count):
        key = keys[i % len(keys)]
        message = b"conformance message %d" % i
        checks.append(SignatureCheck(key.public_key.data, message, key.sign(message)))
    return checks


VALID: tuple[SignatureCheck, ...] = tuple(_signed(64))
"""64 valid checks under four keys."""


def _corrupt(check: SignatureCheck, how: int) -> SignatureCheck:
    sig = bytearray(check.signature)
    if how == 0:
        return SignatureCheck(check.public_key, check.message + b"!", check.signature)
    if how == 1:
        sig[5] ^= 0x01
        return SignatureCheck(check.public_key, check.message, bytes(sig))
    if how == 2:
        other = VALID[(VALID.index(check) + 1) % 4].public_key
        return SignatureCheck(other, check.message, check.signature)
    sig[40] ^= 0x80
    return SignatureCheck(check.public_key, check.message, bytes(sig))


def mixed_batch(size: int) -> tuple[list[SignatureCheck], list[bool]]:
    """A batch of ``size`` checks whose verdict pattern is irregular, so any reordering shows."""
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


# -- checks on a shared verifier ----------------------------------------------------------


def check_is_a_verifier(verifier: Verifier) -> None:
    """It satisfies the protocol and names its backend."""
    assert isinstance(verifier, Verifier), f"{verifier!r} does not implement Verifier"
    assert isinstance(verifier.backend, str) and verifier.backend, "backend must be a non-empty str"


def check_empty_batch(verifier: Verifier) -> None:
    """An empty batch gives an empty list, by both methods."""
    assert verifier.verify_many([]) == []
    assert verifier.submit_many([]).result(timeout=30) == []


def check_single_valid_and_invalid(verifier: Verifier) -> None:
    """One valid check is True, one corrupted check is False."""
    assert verifier.verify_many(VALID[:1]) == [True]
    assert verifier.verify_many([_corrupt(VALID[0], 1)]) == [False]


def check_mixed_batch_keeps_order(verifier: Verifier) -> None:
    """Verdicts come back in input order."""
    checks, expected = mixed_batch(137)
    assert verifier.verify_many(checks) == expected


def check_large_batch(verifier: Verifier) -> None:
    """A batch that crosses many chunk boundaries keeps its order too."""
    checks, expected = mixed_batch(LARGE_BATCH)
    assert verifier.verify_many(checks) == expected


def check_wrong_lengths_are_false_not_errors(verifier: Verifier) -> None:
    """Keys and signatures of the wrong length are verdicts (False), never errors."""
    good = VALID[0]
    for key_len, sig_len in [(0, 64), (31, 64), (33, 64), (32, 0), (32, 63), (32, 65), (64, 32), (0, 0), (1000, 1000)]:
        key = (good.public_key * 40)[:key_len]
        sig = (good.signature * 20)[:sig_len]
        verdicts = verifier.verify_many([SignatureCheck(key, good.message, sig), good])
        assert verdicts == [False, True], f"key {key_len} bytes, signature {sig_len} bytes: {verdicts}"


def check_bytes_like_fields_are_accepted(verifier: Verifier) -> None:
    """bytearray and memoryview fields verify like bytes."""
    good = VALID[3]
    check = SignatureCheck(
        bytearray(good.public_key),  # type: ignore[arg-type]
        memoryview(good.message),  # type: ignore[arg-type]
        bytearray(good.signature),  # type: ignore[arg-type]
    )
    assert verifier.verify_many([check, good]) == [True, True]


def check_non_bytes_fields_raise_type_error(verifier: Verifier) -> None:
    """A field that is not bytes-like is a TypeError (from either method); the verifier stays usable."""
    bad = SignatureCheck(VALID[0].public_key, "text", VALID[0].signature)  # type: ignore[arg-type]
    with raises(TypeError):
        verifier.verify_many([bad])
    future = verifier.submit_many([VALID[0], bad])
    with raises(TypeError):
        future.result(timeout=30)
    assert verifier.verify_many(VALID[:2]) == [True, True]


def check_submit_many_returns_a_future(verifier: Verifier) -> None:
    """submit_many returns a concurrent.futures.Future of the verdicts."""
    checks, expected = mixed_batch(300)
    future = verifier.submit_many(checks)
    assert isinstance(future, Future), f"submit_many returned {type(future).__name__}"
    assert future.result(timeout=60) == expected


def check_submit_many_can_be_awaited_from_asyncio(verifier: Verifier) -> None:
    """The future works with asyncio.wrap_future."""
    checks, expected = mixed_batch(120)

    async def main() -> list[bool]:
        return await asyncio.wrap_future(verifier.submit_many(checks))

    assert asyncio.run(main()) == expected


def check_concurrent_batches_from_many_threads(verifier: Verifier) -> None:
    """Batches from several threads at once each get their own verdicts."""
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


def check_random_batches_give_verify_one_verdicts(verifier: Verifier) -> None:
    """Seeded random batches of junk, valid and corrupted checks: verify_one's verdicts."""
    rng = random.Random(20261207)
    pool = list(VALID) + mixed_batch(40)[0]
    for _ in range(25):
        checks = []
        for _ in range(rng.randrange(0, 121)):
            if rng.random() < 0.3:
                checks.append(
                    SignatureCheck(
                        rng.randbytes(rng.randrange(71)), rng.randbytes(rng.randrange(41)), rng.randbytes(rng.randrange(71))
                    )
                )
            else:
                checks.append(rng.choice(pool))
        expected = [verify_one(c.public_key, c.message, c.signature, verifier.backend) for c in checks]
        assert verifier.verify_many(checks) == expected


# -- checks that close their own verifiers -------------------------------------------------


def check_context_manager_closes(make: VerifierFactory) -> None:
    """Leaving the with block closes it: later use raises VerifierError."""
    with make() as v:
        assert v.verify_many(VALID[:3]) == [True] * 3
    with raises(VerifierError):
        v.verify_many(VALID[:1])


def check_close_is_idempotent_and_use_after_close_raises(make: VerifierFactory) -> None:
    """close() twice is fine; every method but close raises VerifierError afterwards."""
    v = make()
    v.close()
    v.close()
    with raises(VerifierError):
        v.verify_many(VALID[:1])
    with raises(VerifierError):
        v.submit_many(VALID[:1])
    with raises(VerifierError):
        v.verify_many([])
    with raises(VerifierError), v:
        pass


def check_close_with_a_batch_in_flight(make: VerifierFactory) -> None:
    """Closing with a batch in flight gives its verdicts or VerifierError, never wrong verdicts."""
    v = make()
    checks, expected = mixed_batch(400)
    future = v.submit_many(checks)
    v.close()
    try:
        verdicts = future.result(timeout=60)
    except VerifierError:
        return
    assert verdicts == expected


VERIFIER_CHECKS: Mapping[str, Callable[[Verifier], None]] = MappingProxyType({
    "is_a_verifier": check_is_a_verifier,
    "empty_batch": check_empty_batch,
    "single_valid_and_invalid": check_single_valid_and_invalid,
    "mixed_batch_keeps_order": check_mixed_batch_keeps_order,
    "large_batch": check_large_batch,
    "wrong_lengths_are_false_not_errors": check_wrong_lengths_are_false_not_errors,
    "bytes_like_fields_are_accepted": check_bytes_like_fields_are_accepted,
    "non_bytes_fields_raise_type_error": check_non_bytes_fields_raise_type_error,
    "submit_many_returns_a_future": check_submit_many_returns_a_future,
    "submit_many_can_be_awaited_from_asyncio": check_submit_many_can_be_awaited_from_asyncio,
    "concurrent_batches_from_many_threads": check_concurrent_batches_from_many_threads,
    "random_batches_give_verify_one_verdicts": check_random_batches_give_verify_one_verdicts,
})
"""Checks on one shared open verifier, by name."""

VERIFIER_LIFECYCLE_CHECKS: Mapping[str, Callable[[VerifierFactory], None]] = MappingProxyType({
    "context_manager_closes": check_context_manager_closes,
    "close_is_idempotent_and_use_after_close_raises": check_close_is_idempotent_and_use_after_close_raises,
    "close_with_a_batch_in_flight": check_close_with_a_batch_in_flight,
})
"""Checks that make (with the factory) and close their own verifiers, by name."""


def check_verifier(make: VerifierFactory) -> None:
    """Run every check against verifiers from ``make``; closes everything it made.

    Raises the first failure as ``AssertionError``, prefixed with the check's name.
    """
    if not callable(make):
        raise InvalidArgumentError("make", f"check_verifier takes a factory of verifiers, not {type(make).__name__}")
    with make() as shared:
        for name, check in VERIFIER_CHECKS.items():
            _run(name, check, shared)
    for name, lifecycle in VERIFIER_LIFECYCLE_CHECKS.items():
        _run(name, lifecycle, make)


def _run(name: str, check: Callable[[_T], None], argument: _T) -> None:
    try:
        check(argument)
    except AssertionError as exc:
        raise AssertionError(f"verifier conformance check {name!r} failed: {exc}") from exc
