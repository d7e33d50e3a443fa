"""A verifier that remembers signatures it has already found valid.

A node meets the same signature several times: when a transaction enters its pool,
when a block proposal carries it, when the block is applied. ``CachingVerifier``
answers repeats from memory and sends only new checks to the verifier it wraps.
Only ``True`` verdicts are cached (an invalid signature costs the attacker nothing to
resend, so caching it would only let them fill memory); the cache is bounded.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future
from types import TracebackType

from ..errors import VerifierError
from .check import SignatureCheck
from .errors import VerifierConfigError
from .executors import Verifier

__all__ = ["CachingVerifier"]


class CachingVerifier:
    """Wraps a :class:`~timecoin_core.verify.Verifier`; same verdicts, fewer verifications.

    ``capacity`` bounds the number of remembered valid checks (oldest forgotten
    first). ``hits`` and ``misses`` count answers from the cache and checks sent on.
    Closing the wrapper closes the wrapped verifier; using it afterwards raises the
    wrapped verifier's :class:`~timecoin_core.errors.VerifierError`.

    Safe to share between threads: the cache is guarded by a lock that is never held
    while the wrapped verifier works. ``submit_many`` is as asynchronous as the wrapped
    verifier's: it returns at once with a future that completes when the unknown checks
    are verified (and remembered), so a shell can verify an event's signatures off its
    event loop and then let the node answer them from the cache. Cancelling that future
    does not cancel the wrapped verifier's work.
    """

    def __init__(self, inner: Verifier, capacity: int = 200_000) -> None:
        if capacity < 1:
            raise VerifierConfigError("capacity must be positive")
        self.inner = inner
        self.backend = inner.backend
        self.capacity = capacity
        self.hits = 0
        self.misses = 0
        self._valid: OrderedDict[SignatureCheck, None] = OrderedDict()
        self._lock = threading.Lock()
        self._closed = False

    def __getstate__(self) -> dict[str, object]:
        # Copies (LocalChain snapshots deep-copy whole nodes) get a lock of their own.
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _lookup(self, checks: Sequence[SignatureCheck]) -> tuple[list[SignatureCheck], list[bool], list[int]]:
        if self._closed:
            raise VerifierError("the verifier is closed")
        keys = _hashable(checks)
        with self._lock:
            valid = self._valid
            results = [key in valid for key in keys]
            todo = [i for i, known in enumerate(results) if not known]
            self.hits += len(results) - len(todo)
            self.misses += len(todo)
        return keys, results, todo

    def _remember(
        self, keys: list[SignatureCheck], results: list[bool], todo: list[int], verdicts: Sequence[bool]
    ) -> list[bool]:
        with self._lock:
            valid = self._valid
            for i, verdict in zip(todo, verdicts, strict=True):
                if verdict:
                    results[i] = True
                    valid[keys[i]] = None
            while len(valid) > self.capacity:
                valid.popitem(last=False)
        return results

    def remember(self, checks: Sequence[SignatureCheck]) -> None:
        """Record ``checks`` as valid without verifying them.

        Only for signatures this process made itself (a node's own votes and
        proposals, which it signed a moment ago): a node never needs to verify those,
        and its own certificates then cost it no verification when a block carries
        them. Never for anything a peer sent.

        :raises VerifierError: the verifier is closed.
        """
        keys = _hashable(checks)
        with self._lock:
            if self._closed:
                raise VerifierError("the verifier is closed")
            valid = self._valid
            for key in keys:
                valid[key] = None
            while len(valid) > self.capacity:
                valid.popitem(last=False)

    def verify_many(self, checks: Sequence[SignatureCheck]) -> list[bool]:
        """Verdicts for ``checks``, in order; only unseen checks reach the inner verifier."""
        keys, results, todo = self._lookup(checks)
        if not todo:
            return results
        verdicts = self.inner.verify_many([checks[i] for i in todo])
        return self._remember(keys, results, todo, verdicts)

    def submit_many(self, checks: Sequence[SignatureCheck]) -> Future[list[bool]]:
        """Like :meth:`verify_many`, on the wrapped verifier's executor (see the class docstring)."""
        if self._closed:
            raise VerifierError("the verifier is closed")
        outer: Future[list[bool]] = Future()
        try:
            keys, results, todo = self._lookup(checks)
            if not todo:
                outer.set_result(results)
                return outer
            inner = self.inner.submit_many([checks[i] for i in todo])
        except Exception as exc:
            outer.set_exception(exc)
            return outer

        def finish(done: Future[list[bool]]) -> None:
            try:
                verdicts = done.result()
            except Exception as exc:  # cancellation included: the caller must hear of it
                outer.set_exception(exc)
                return
            outer.set_result(self._remember(keys, results, todo, verdicts))

        inner.add_done_callback(finish)
        return outer

    def close(self) -> None:
        """Close the wrapped verifier; every later use raises :class:`~timecoin_core.errors.VerifierError`."""
        self._closed = True
        self.inner.close()

    def __enter__(self) -> CachingVerifier:
        if self._closed:
            raise VerifierError("the verifier is closed")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _hashable(checks: Sequence[SignatureCheck]) -> list[SignatureCheck]:
    # Verifiers accept bytearray and memoryview fields; the cache needs hashable keys.
    # The common case (bytes everywhere) costs one pass of hashing, done anyway.
    try:
        for check in checks:
            hash(check)
    except TypeError:
        return [
            check
            if all(type(f) is bytes for f in (check.public_key, check.message, check.signature))
            else SignatureCheck(bytes(check.public_key), bytes(check.message), bytes(check.signature))
            for check in checks
        ]
    return list(checks)
