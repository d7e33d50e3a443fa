"""Signature verification against its floor: the backend's own verify call on one core.

For each installed backend the floor is measured in this run: the library's verify
call in a bare loop over valid signatures, no policy, no wrapper. Then:

* ``verify_one`` and ``SyncVerifier`` (policy + backend on the calling thread) must
  reach 0.95x the floor: the policy's pre-check is a few integer and set operations.
  These figures, and the floor, are per CPU second of the calling thread
  (``time.thread_time``), so they hold on a shared machine; a wall-clock floor is
  printed next to them (equal when the machine is otherwise idle);
* ``ThreadVerifier(2)`` and ``ProcessVerifier(2)`` must reach 0.85x of two floors,
  in wall-clock time.

Two "machine check" rows run the bare library loop on two threads and on two
processes: what the cores delivered during this run. On a shared or busy machine they
fall below two floors too, and the pool rows should be read against them. Figures
that are compared are measured in alternation, so background load hits both.

Batches are 20,000 distinct signatures over 32-byte messages (a sighash) by 256 keys.
Other benchmarks can reuse :func:`raw_verify_rate` for their own floor.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from timecoin_core.verify import (
    ProcessVerifier,
    SignatureCheck,
    SyncVerifier,
    ThreadVerifier,
    available_backends,
    verify_one,
)

from ._table import Row, Table

__all__ = ["BATCH", "make_checks", "raw_verify_loop", "raw_verify_rate", "run"]

BATCH = 20_000
WORKERS = 2
REPEAT = 5

_checks_cache: dict[int, list[SignatureCheck]] = {}


def make_checks(count: int) -> list[SignatureCheck]:
    """``count`` valid, distinct checks: 32-byte messages signed by 256 fixed keys."""
    cached = _checks_cache.get(count)
    if cached is not None:
        return cached
    keys = [Ed25519PrivateKey.from_private_bytes(i.to_bytes(32, "little")) for i in range(1, 257)]
    publics = [k.public_key().public_bytes_raw() for k in keys]
    checks = []
    for i in range(count):
        message = i.to_bytes(32, "little")
        checks.append(SignatureCheck(publics[i % 256], message, keys[i % 256].sign(message)))
    _checks_cache[count] = checks
    return checks


def raw_verify_loop(backend: str) -> Callable[[Sequence[tuple[bytes, bytes, bytes]]], None]:
    """A loop that verifies ``(public_key, message, signature)`` triples with the
    backend's own call and nothing else (no policy, no verdict list).

    The triples must all be valid: an invalid one raises the library's exception.
    """
    if backend == "cryptography":
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        load = Ed25519PublicKey.from_public_bytes

        def loop_cryptography(triples: Sequence[tuple[bytes, bytes, bytes]]) -> None:
            for pk, msg, sig in triples:
                load(pk).verify(sig, msg)

        return loop_cryptography
    if backend == "pynacl":
        from nacl.bindings import crypto_sign_open

        def loop_pynacl(triples: Sequence[tuple[bytes, bytes, bytes]]) -> None:
            for pk, msg, sig in triples:
                crypto_sign_open(sig + msg, pk)

        return loop_pynacl
    raise ValueError(f"no raw loop for backend {backend!r}")


def raw_verify_rate(
    backend: str = "cryptography", n: int = 5000, repeat: int = REPEAT, *, cpu_time: bool = False
) -> float:
    """Verifies per second of ``backend``'s own verify call on one core (the floor).

    Best of ``repeat`` passes over ``n`` valid signatures, in wall-clock time, or with
    ``cpu_time`` in CPU time of the calling thread (steady on a busy machine).
    """
    triples = [(c.public_key, c.message, c.signature) for c in make_checks(n)]
    loop = raw_verify_loop(backend)
    clock = time.thread_time if cpu_time else time.perf_counter
    (seconds,) = _interleaved_best([lambda: loop(triples)], repeat, clock)
    return n / seconds


def _interleaved_best(
    fns: list[Callable[[], object]], repeat: int, clock: Callable[[], float] = time.perf_counter
) -> list[float]:
    # Alternating the candidates spreads any background load over all of them, so a
    # busy second hits the floor as likely as the figure compared with it.
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            start = clock()
            fn()
            best[i] = min(best[i], clock() - start)
    return best


def _raw_chunk(backend: str, triples: Sequence[tuple[bytes, bytes, bytes]]) -> None:
    raw_verify_loop(backend)(triples)


def _raw_in_threads(backend: str, halves: list[list[tuple[bytes, bytes, bytes]]]) -> None:
    loop = raw_verify_loop(backend)
    threads = [threading.Thread(target=loop, args=(half,)) for half in halves]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _backend_table(backend: str) -> Table:
    checks = make_checks(BATCH)
    triples = [(c.public_key, c.message, c.signature) for c in checks]
    halves = [triples[i::WORKERS] for i in range(WORKERS)]
    loop = raw_verify_loop(backend)
    sync = SyncVerifier(backend)

    def one_by_one() -> None:
        for c in checks:
            verify_one(c.public_key, c.message, c.signature, backend)

    table = Table(
        f"verify [{backend}]: {BATCH:,} signatures, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.2f} at start"
    )
    (wall_floor_s,) = _interleaved_best([lambda: loop(triples)], REPEAT)
    # Single-thread figures in CPU seconds of this thread: on a shared machine another
    # process's burst would otherwise decide the ratio, not the policy's cost.
    floor_s, sync_s, one_s = _interleaved_best(
        [lambda: loop(triples), lambda: sync.verify_many(checks), one_by_one],
        REPEAT,
        time.thread_time,
    )
    floor = BATCH / floor_s
    table.add(Row(f"{backend} raw verify, 1 core (floor, CPU time)", floor, None, "verifies/s"))
    table.add(
        Row(f"{backend} raw verify, 1 core (wall clock)", BATCH / wall_floor_s, floor, "verifies/s")
    )
    for name, seconds in (
        ("SyncVerifier.verify_many (CPU time)", sync_s),
        ("verify_one loop (CPU time)", one_s),
    ):
        measured = BATCH / seconds
        table.add(
            Row(name, measured, floor, "verifies/s", ">= 0.95 x floor", measured >= 0.95 * floor)
        )

    with (
        ThreadVerifier(WORKERS, backend) as threads,
        ProcessVerifier(WORKERS, backend) as processes,
        ProcessPoolExecutor(
            WORKERS, mp_context=multiprocessing.get_context("forkserver")
        ) as raw_pool,
    ):
        for warm in (threads, processes):
            warm.verify_many(checks[:1000])
        list(raw_pool.map(_raw_chunk, [backend] * WORKERS, [t[:10] for t in halves]))
        raw_threads_s, threads_s, raw_procs_s, procs_s = _interleaved_best(
            [
                lambda: _raw_in_threads(backend, halves),
                lambda: threads.verify_many(checks),
                lambda: list(raw_pool.map(_raw_chunk, [backend] * WORKERS, halves)),
                lambda: processes.verify_many(checks),
            ],
            REPEAT,
        )
    both = WORKERS * floor
    target = f">= 0.85 x {WORKERS} x floor"
    for name, seconds, is_target in (
        (f"ThreadVerifier({WORKERS}).verify_many", threads_s, True),
        (f"ProcessVerifier({WORKERS}).verify_many", procs_s, True),
        (f"machine check: raw verify in {WORKERS} threads", raw_threads_s, False),
        (f"machine check: raw verify in {WORKERS} processes", raw_procs_s, False),
    ):
        measured = BATCH / seconds
        if is_target:
            table.add(Row(name, measured, both, "verifies/s", target, measured >= 0.85 * both))
        else:
            table.add(Row(name, measured, both, "verifies/s", "what the cores gave"))
    table.title += f", {os.getloadavg()[0]:.2f} at end"
    return table


def run() -> list[Table]:
    """One table per installed backend."""
    return [_backend_table(backend) for backend in available_backends()]
