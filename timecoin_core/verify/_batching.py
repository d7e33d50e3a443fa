"""Splitting a batch into chunks for a pool, and joining the chunks' futures.

Chunks amortise the per-task cost of a pool (a queue hand-off for threads; pickling and
a pipe round trip for processes) over many checks, and a batch is cut into a multiple
of the worker count of near-equal chunks so that every worker finishes at about the
same time: every check costs the same, so equal counts are equal work.
"""

from __future__ import annotations

import threading
from concurrent.futures import BrokenExecutor, Future, InvalidStateError
from functools import partial

from ..errors import VerifierError

__all__ = ["gather", "plan_chunks"]


def plan_chunks(count: int, workers: int, max_chunk: int, min_chunk: int) -> list[range]:
    """Cut ``range(count)`` into consecutive chunks for ``workers`` workers.

    Chunks hold at most ``max_chunk`` items and differ in size by at most one. Their
    number is a multiple of ``workers`` unless that would make chunks smaller than
    ``min_chunk`` (small batches use fewer, fuller chunks); ``max_chunk`` wins over
    ``min_chunk``.
    """
    if count <= 0:
        return []
    min_chunk = min(min_chunk, max_chunk)
    fewest = -(-count // max_chunk)
    balanced = -(-fewest // workers) * workers
    chunks = max(fewest, min(balanced, count // min_chunk), 1)
    size, extra = divmod(count, chunks)
    spans = []
    start = 0
    for i in range(chunks):
        stop = start + size + (i < extra)
        spans.append(range(start, stop))
        start = stop
    return spans


def _translate(exc: BaseException) -> BaseException:
    if isinstance(exc, BrokenExecutor):
        error = VerifierError(f"a verifier worker died before finishing its chunk: {exc}")
        error.__cause__ = exc
        return error
    return exc


def _settle(future: Future[list[bool]], result: list[bool] | BaseException) -> None:
    # The consumer may cancel ``future`` at any moment, so setting it can lose the race.
    try:
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)
    except InvalidStateError:
        pass


def gather(parts: list[Future[list[bool]]], *, cancel: bool) -> Future[list[bool]]:
    """One future for the concatenated results of ``parts``, in order.

    It fails with the first part's exception, translating a dead pool
    (:class:`~concurrent.futures.BrokenExecutor`) or a cancelled part (the verifier was
    closed) into :class:`VerifierError`; any other exception is a bug in the caller's
    input (for example a ``str`` where bytes belong) and passes through.

    With ``cancel``, cancelling the returned future or a failing part cancels the parts
    that have not started. Process pools must not use it: CPython 3.11's
    ProcessPoolExecutor crashes its manager thread (and hangs interpreter exit) when
    the pool breaks while a future it still queues was cancelled by its owner.
    """
    joined: Future[list[bool]] = Future()
    if not parts:
        joined.set_result([])
        return joined
    results: list[list[bool]] = [[] for _ in parts]
    pending = [len(parts)]
    lock = threading.Lock()

    def cancel_parts() -> None:
        for part in parts:
            part.cancel()

    def part_done(index: int, part: Future[list[bool]]) -> None:
        with lock:
            if joined.done():
                return
            if part.cancelled():
                failure: BaseException | None = VerifierError(
                    "the verifier was closed before the batch finished"
                )
            else:
                failure = part.exception()
            if failure is None:
                results[index] = part.result()
                pending[0] -= 1
                if not pending[0]:
                    _settle(joined, [verdict for chunk in results for verdict in chunk])
                return
            _settle(joined, _translate(failure))
        # Outside ``lock``: each cancelled part runs ``part_done`` again at once.
        if cancel:
            cancel_parts()

    for index, part in enumerate(parts):
        part.add_done_callback(partial(part_done, index))
    if cancel:
        joined.add_done_callback(lambda fut: cancel_parts() if fut.cancelled() else None)
    return joined
