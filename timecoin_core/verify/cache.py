"""A verifier that remembers signatures it has already found valid.

A node meets the same signature several times: when a transaction enters its pool,
when a block proposal carries it, when the block is applied. ``CachingVerifier``
answers repeats from memory and sends only new checks to the verifier it wraps.
Only ``True`` verdicts are cached (an invalid signature costs the attacker nothing to
resend, so caching it would only let them fill memory); the cache is bounded.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future
from types import TracebackType

from .check import SignatureCheck
from .executors import Verifier

__all__ = ["CachingVerifier"]


class CachingVerifier:
    """Wraps a :class:`~timecoin_core.verify.Verifier`; same verdicts, fewer verifications.

    ``capacity`` bounds the number of remembered valid checks (oldest forgotten
    first). ``hits`` and ``misses`` count answers from the cache and checks sent on.
    Closing the wrapper closes the wrapped verifier; using it afterwards raises the
    wrapped verifier's :class:`~timecoin_core.errors.VerifierError`.

    Not thread-safe: one instance belongs to one thread (a node's event loop, say).
    ``submit_many`` answers synchronously, so it blocks for the checks the cache does
    not know; wrap the inner verifier's ``submit_many`` directly where that matters.
    """

    def __init__(self, inner: Verifier, capacity: int = 200_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be positive")
        self.inner = inner
        self.backend = inner.backend
        self.capacity = capacity
        self.hits = 0
        self.misses = 0
        self._valid: OrderedDict[SignatureCheck, None] = OrderedDict()

    def verify_many(self, checks: Sequence[SignatureCheck]) -> list[bool]:
        """Verdicts for ``checks``, in order; only unseen checks reach the inner verifier."""
        valid = self._valid
        results = [check in valid for check in checks]
        todo = [i for i, known in enumerate(results) if not known]
        self.hits += len(results) - len(todo)
        if todo:
            self.misses += len(todo)
            verdicts = self.inner.verify_many([checks[i] for i in todo])
            for i, verdict in zip(todo, verdicts, strict=True):
                if verdict:
                    results[i] = True
                    valid[checks[i]] = None
            while len(valid) > self.capacity:
                valid.popitem(last=False)
        return results

    def submit_many(self, checks: Sequence[SignatureCheck]) -> Future[list[bool]]:
        """Like :meth:`verify_many` but returns a completed future (the cache is synchronous)."""
        future: Future[list[bool]] = Future()
        try:
            future.set_result(self.verify_many(checks))
        except Exception as exc:
            future.set_exception(exc)
        return future

    def close(self) -> None:
        """Close the wrapped verifier."""
        self.inner.close()

    def __enter__(self) -> CachingVerifier:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
