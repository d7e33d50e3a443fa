"""Where verification runs: the :class:`Verifier` protocol and its three implementations.

* :class:`SyncVerifier` verifies on the calling thread. No pool, no overhead.
* :class:`ThreadVerifier` uses a thread pool. Both backends release the GIL inside the
  curve arithmetic, so threads scale across cores while each worker's Python work per
  check stays a few percent of the verify itself.
* :class:`ProcessVerifier` uses a process pool; it scales with any backend and pays
  for pickling, which chunks of a few thousand checks amortise.

Every implementation gives the verdicts of :func:`~timecoin_core.verify.verify_one`
with its backend, in input order. Pools live as long as the verifier. If a pool breaks
(a worker process was killed), the batches in flight fail with
:class:`~timecoin_core.errors.VerifierError`, never with a verdict, and the next batch
starts a fresh pool.
"""

from __future__ import annotations

import ast
import linecache
import os
import signal
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import BrokenExecutor, Executor, Future, ThreadPoolExecutor
from types import TracebackType
from typing import Literal, Protocol, Self, runtime_checkable

from ..errors import VerifierError
from ._batching import gather, plan_chunks
from .backends import DEFAULT_BACKEND, VerifyFunction, verify_function
from .check import SignatureCheck
from .errors import VerifierConfigError

__all__ = [
    "ProcessVerifier",
    "SyncVerifier",
    "ThreadVerifier",
    "UnguardedMainError",
    "Verifier",
    "VerifierKind",
    "make_verifier",
]

VerifierKind = Literal["sync", "thread", "process"]


@runtime_checkable
class Verifier(Protocol):
    """Verifies batches of signatures; the verdicts are :func:`verify_one`'s, in order.

    Use it as a context manager, or call :meth:`close` when done. After ``close`` every
    method but ``close`` raises :class:`~timecoin_core.errors.VerifierError`.
    """

    @property
    def backend(self) -> str:
        """The backend name (``"cryptography"`` or ``"pynacl"``)."""
        ...

    def verify_many(self, checks: Sequence[SignatureCheck]) -> list[bool]:
        """The verdict of every check, in order; blocks until all are done.

        :raises VerifierError: the verifier is closed or a worker died.
        """
        ...

    def submit_many(self, checks: Sequence[SignatureCheck]) -> Future[list[bool]]:
        """Start verifying ``checks``; the future resolves to :meth:`verify_many`'s result.

        An async caller awaits it without blocking its event loop, e.g. with
        ``asyncio.wrap_future``. Cancelling the future drops the chunks not yet started.
        The future fails with :class:`~timecoin_core.errors.VerifierError` if a worker
        dies or the verifier is closed before it finishes.

        :raises VerifierError: the verifier is already closed.
        """
        ...

    def close(self) -> None:
        """Release the pool (if any); waits for running chunks. Idempotent."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


def _closed_error() -> VerifierError:
    return VerifierError("the verifier is closed")


class _VerifierBase:
    """What all verifiers share: the backend, the closed flag, context management."""

    def __init__(self, backend: str) -> None:
        # Resolving the backend here makes a bad name or a missing library fail at
        # construction, not at the first batch.
        self._verify: VerifyFunction = verify_function(backend)
        self._backend = backend
        self._closed = False

    @property
    def backend(self) -> str:
        """The backend name."""
        return self._backend

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    def verify_many(self, checks: Sequence[SignatureCheck]) -> list[bool]:
        """The verdict of every check, in order; blocks until all are done.

        :raises VerifierError: the verifier is closed or a worker died.
        """
        return self.submit_many(checks).result()

    def submit_many(self, checks: Sequence[SignatureCheck]) -> Future[list[bool]]:
        """Start verifying ``checks``; the future resolves to the verdicts in order."""
        raise NotImplementedError

    def close(self) -> None:
        """Mark the verifier closed. Idempotent."""
        self._closed = True

    def __enter__(self) -> Self:
        if self._closed:
            raise _closed_error()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class SyncVerifier(_VerifierBase):
    """Verifies on the calling thread.

    :meth:`submit_many` does all the work before it returns a completed future, so it
    blocks; an event loop that must stay responsive wants a pool verifier.

    :raises UnknownBackendError: ``backend`` is not known.
    :raises BackendUnavailableError: the backend's library is not installed.
    """

    def __init__(self, backend: str = DEFAULT_BACKEND) -> None:
        super().__init__(backend)

    def verify_many(self, checks: Sequence[SignatureCheck]) -> list[bool]:
        """The verdict of every check, in order.

        :raises VerifierError: the verifier is closed.
        """
        if self._closed:
            raise _closed_error()
        verify = self._verify
        return [verify(c.public_key, c.message, c.signature) for c in checks]

    def submit_many(self, checks: Sequence[SignatureCheck]) -> Future[list[bool]]:
        """Verify ``checks`` now and return a completed future of the verdicts.

        :raises VerifierError: the verifier is closed.
        """
        if self._closed:
            raise _closed_error()
        future: Future[list[bool]] = Future()
        try:
            future.set_result(self.verify_many(checks))
        except Exception as exc:  # a caller's bad input, delivered like the pools do
            future.set_exception(exc)
        return future

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<SyncVerifier backend={self._backend!r}{state}>"


def _check_workers(workers: int | None) -> int:
    if workers is None:
        return os.cpu_count() or 1
    if isinstance(workers, bool) or not isinstance(workers, int):
        raise VerifierConfigError(f"workers must be an int or None, not {workers!r}")
    if workers < 1:
        raise VerifierConfigError(f"workers must be >= 1, got {workers}")
    return workers


def _check_chunk_size(chunk_size: int) -> int:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise VerifierConfigError(f"chunk_size must be an int >= 1, got {chunk_size!r}")
    return chunk_size


class _PoolVerifier(_VerifierBase):
    """A verifier that cuts batches into chunks and runs them on an executor."""

    _MIN_CHUNK = 1
    _CANCELS_PARTS = True

    def __init__(self, workers: int | None, backend: str, chunk_size: int) -> None:
        super().__init__(backend)
        self._workers = _check_workers(workers)
        self._chunk_size = _check_chunk_size(chunk_size)
        self._lock = threading.Lock()
        self._pool = self._new_pool()

    @property
    def workers(self) -> int:
        """The number of workers in the pool."""
        return self._workers

    @property
    def chunk_size(self) -> int:
        """The largest number of checks sent to a worker as one task."""
        return self._chunk_size

    def _new_pool(self) -> Executor:
        raise NotImplementedError

    def _submit_chunk(
        self, pool: Executor, checks: Sequence[SignatureCheck], span: range
    ) -> Future[list[bool]]:
        raise NotImplementedError

    def _submit_all(
        self, pool: Executor, checks: Sequence[SignatureCheck], spans: list[range]
    ) -> list[Future[list[bool]]]:
        parts: list[Future[list[bool]]] = []
        try:
            for span in spans:
                parts.append(self._submit_chunk(pool, checks, span))
        except BaseException:
            for part in parts:
                part.cancel()
            raise
        return parts

    def submit_many(self, checks: Sequence[SignatureCheck]) -> Future[list[bool]]:
        """Start verifying ``checks`` on the pool; the future resolves to the verdicts.

        :raises VerifierError: the verifier is closed, or its pool broke and could not
            be restarted.
        """
        spans = plan_chunks(len(checks), self._workers, self._chunk_size, self._MIN_CHUNK)
        with self._lock:
            if self._closed:
                raise _closed_error()
            try:
                parts = self._submit_all(self._pool, checks, spans)
            except BrokenExecutor:
                # A worker died since the last batch (that batch, if any, already
                # failed with VerifierError); no verdict depends on the old pool.
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = self._new_pool()
                try:
                    parts = self._submit_all(self._pool, checks, spans)
                except BrokenExecutor as exc:
                    raise VerifierError(f"the verifier's worker pool is broken: {exc}") from exc
            except RuntimeError as exc:
                # The executor refuses new work once the interpreter is shutting down.
                raise VerifierError(f"the verifier's worker pool refused work: {exc}") from exc
        return gather(parts, cancel=self._CANCELS_PARTS)

    def close(self) -> None:
        """Shut the pool down: waits for running chunks, cancels queued ones. Idempotent.

        Batches still in flight fail with :class:`~timecoin_core.errors.VerifierError`.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            pool = self._pool
        pool.shutdown(wait=True, cancel_futures=True)

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<{type(self).__name__} backend={self._backend!r} workers={self._workers}{state}>"


def _verify_span(
    verify: VerifyFunction, checks: Sequence[SignatureCheck], span: range
) -> list[bool]:
    return [verify(c.public_key, c.message, c.signature) for c in checks[span.start : span.stop]]


class ThreadVerifier(_PoolVerifier):
    """Verifies on a pool of ``workers`` threads (``None``: ``os.cpu_count()``).

    Scales with cores because both backends release the GIL while verifying.

    :raises VerifierConfigError: ``workers < 1`` or ``chunk_size < 1``.
    :raises UnknownBackendError: ``backend`` is not known.
    :raises BackendUnavailableError: the backend's library is not installed.
    """

    _MIN_CHUNK = 16

    def __init__(
        self,
        workers: int | None = None,
        backend: str = DEFAULT_BACKEND,
        *,
        chunk_size: int = 512,
    ) -> None:
        super().__init__(workers, backend, chunk_size)

    def _new_pool(self) -> Executor:
        return ThreadPoolExecutor(self._workers, thread_name_prefix="timecoin-verify")

    def _submit_chunk(
        self, pool: Executor, checks: Sequence[SignatureCheck], span: range
    ) -> Future[list[bool]]:
        return pool.submit(_verify_span, self._verify, checks, span)


def _process_worker_init(backend: str) -> None:
    # Ctrl-C reaches the whole process group; the parent decides what to do about it,
    # a worker dying of KeyboardInterrupt would only break the pool.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    verify_function(backend)


def _verify_triples(backend: str, triples: list[tuple[bytes, bytes, bytes]]) -> list[bool]:
    verify = verify_function(backend)
    return [verify(pk, msg, sig) for pk, msg, sig in triples]


def _picklable(value: object) -> object:
    # memoryview does not pickle; other bytes-likes do, and anything else must reach
    # the worker to raise the same TypeError the other verifiers raise.
    return bytes(value) if isinstance(value, memoryview) else value


def _triples(checks: Sequence[SignatureCheck], span: range) -> list[tuple[bytes, bytes, bytes]]:
    triples = []
    for c in checks[span.start : span.stop]:
        pk, msg, sig = c.public_key, c.message, c.signature
        if type(pk) is not bytes or type(msg) is not bytes or type(sig) is not bytes:
            pk, msg, sig = _picklable(pk), _picklable(msg), _picklable(sig)  # type: ignore[assignment]
        triples.append((pk, msg, sig))
    return triples


class UnguardedMainError(VerifierConfigError):
    """A process pool started from a script's top level without a ``__main__`` guard.

    With the ``spawn`` and ``forkserver`` start methods every worker re-runs the main
    script to find its functions; without ``if __name__ == "__main__":`` around the
    code that creates the verifier, each worker would start a pool of its own and die.
    ``line`` is where the script creates the verifier (``None`` if unknown).
    """

    def __init__(self, path: str, line: int | None) -> None:
        where = f"{path}, line {line}" if line is not None else path
        super().__init__(
            f"a ProcessVerifier is created at the top level of the main script ({where}) "
            "without an `if __name__ == \"__main__\":` guard; its worker processes re-run "
            "that script and would die. Put the code that creates the verifier under the "
            "guard, or pass start_method=\"fork\" where available"
        )
        self.path = path
        self.line = line


def _is_main_guard(node: ast.stmt) -> bool:
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    test = node.test
    if len(test.ops) != 1 or not isinstance(test.ops[0], ast.Eq):
        return False
    sides = [test.left, test.comparators[0]]
    names = [s for s in sides if isinstance(s, ast.Name) and s.id == "__name__"]
    texts = [s for s in sides if isinstance(s, ast.Constant) and s.value == "__main__"]
    return len(names) == 1 and len(texts) == 1


def _inside_main_guard(source: str, line: int) -> bool | None:
    """True if ``line`` of ``source`` is in the body of an ``if __name__ == "__main__":``.

    None when the source does not parse (then nobody can tell).
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_main_guard(node) and node.body:
            first, last = node.body[0].lineno, node.body[-1].end_lineno or node.body[-1].lineno
            if first <= line <= last:
                return True
    return False


def _unguarded_main_caller() -> tuple[str, int] | None:
    """Where the running main script creates a pool outside its ``__main__`` guard.

    Workers started by ``spawn`` or ``forkserver`` run the main script again as
    ``__mp_main__`` (``multiprocessing.spawn.prepare``), unless it is a package's
    ``__main__`` module or has no file (``-c``, a REPL, a notebook): only then is an
    unguarded top level harmless. A caller that is not the main script's top level
    (a test runner, a library, a function called from under the guard) is fine.
    """
    frame = sys._getframe(1)
    while frame is not None:
        module_globals = frame.f_globals
        if frame.f_code.co_name == "<module>" and module_globals.get("__name__") in (
            "__main__",
            "__mp_main__",
        ):
            break
        frame = frame.f_back  # type: ignore[assignment]
    else:
        return None
    path = module_globals.get("__file__")
    spec = module_globals.get("__spec__")
    spec_name = getattr(spec, "name", None)
    if not isinstance(path, str) or (
        isinstance(spec_name, str) and (spec_name == "__main__" or spec_name.endswith(".__main__"))
    ):
        return None
    filename, line = frame.f_code.co_filename, frame.f_lineno
    source = "".join(linecache.getlines(filename, module_globals))
    if not source or _inside_main_guard(source, line) is not False:
        return None
    return filename, line


def _start_methods() -> list[str]:
    # Imported here: verify_one's callers should not pay for multiprocessing.
    import multiprocessing

    return multiprocessing.get_all_start_methods()


def _default_start_method() -> str:
    # fork is unsafe in a process that already runs threads (an event loop's executor,
    # a ThreadVerifier); forkserver forks from a clean single-threaded server instead.
    return "forkserver" if "forkserver" in _start_methods() else "spawn"


class ProcessVerifier(_PoolVerifier):
    """Verifies on a pool of ``workers`` processes (``None``: ``os.cpu_count()``).

    Checks travel as raw ``(public_key, message, signature)`` bytes in chunks of up to
    ``chunk_size``; a batch is split into equal chunks across the workers.
    ``start_method`` is a :mod:`multiprocessing` start method (default ``"forkserver"``
    where available, else ``"spawn"``). Worker processes start with the verifier.

    :raises VerifierConfigError: ``workers < 1``, ``chunk_size < 1`` or an unknown
        ``start_method``.
    :raises UnguardedMainError: created at the top level of a script without an
        ``if __name__ == "__main__":`` guard (with any start method but ``fork``).
    :raises UnknownBackendError: ``backend`` is not known.
    :raises BackendUnavailableError: the backend's library is not installed.
    """

    _MIN_CHUNK = 64
    # See _batching.gather: cancelling queued process-pool futures is unsafe on 3.11.
    _CANCELS_PARTS = False

    def __init__(
        self,
        workers: int | None = None,
        backend: str = DEFAULT_BACKEND,
        *,
        chunk_size: int = 2048,
        start_method: str | None = None,
    ) -> None:
        method = _default_start_method() if start_method is None else start_method
        if method not in _start_methods():
            raise VerifierConfigError(
                f"unknown start method {method!r}; here: {', '.join(_start_methods())}"
            )
        if method != "fork":
            caller = _unguarded_main_caller()
            if caller is not None:
                raise UnguardedMainError(*caller)
        self._start_method = method
        super().__init__(workers, backend, chunk_size)

    @property
    def start_method(self) -> str:
        """The :mod:`multiprocessing` start method of the workers."""
        return self._start_method

    def _new_pool(self) -> Executor:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(
            self._workers,
            mp_context=multiprocessing.get_context(self._start_method),
            initializer=_process_worker_init,
            initargs=(self._backend,),
        )
        # Start the workers now rather than at the first batch, so the first batch is
        # not billed for interpreter start-up. One no-op per worker spawns them all.
        for _ in range(self._workers):
            pool.submit(os.getpid)
        return pool

    def _submit_chunk(
        self, pool: Executor, checks: Sequence[SignatureCheck], span: range
    ) -> Future[list[bool]]:
        return pool.submit(_verify_triples, self._backend, _triples(checks, span))


def make_verifier(
    kind: VerifierKind, workers: int | None = None, backend: str = DEFAULT_BACKEND
) -> Verifier:
    """A new verifier of ``kind`` (``"sync"``, ``"thread"`` or ``"process"``).

    ``workers`` sizes the pool (``None``: ``os.cpu_count()``); it is validated for every
    kind and ignored by ``"sync"``.

    :raises VerifierConfigError: unknown ``kind`` or ``workers < 1``.
    :raises UnguardedMainError: a ``"process"`` verifier created at the top level of a
        script without an ``if __name__ == "__main__":`` guard.
    :raises UnknownBackendError: ``backend`` is not known.
    :raises BackendUnavailableError: the backend's library is not installed.
    """
    if kind == "sync":
        _check_workers(workers)
        return SyncVerifier(backend)
    if kind == "thread":
        return ThreadVerifier(workers, backend)
    if kind == "process":
        return ProcessVerifier(workers, backend)
    raise VerifierConfigError(f"unknown verifier kind {kind!r}; known: sync, thread, process")
