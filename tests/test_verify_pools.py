"""Pool behaviour: chunk planning, a killed worker process, cancellation."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from concurrent.futures import BrokenExecutor, Future
from concurrent.futures.process import BrokenProcessPool

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from timecoin_core.errors import VerifierError
from timecoin_core.verify import ProcessVerifier, SignatureCheck, ThreadVerifier
from timecoin_core.verify._batching import gather, plan_chunks


def _batch(count: int) -> list[SignatureCheck]:
    key = Ed25519PrivateKey.from_private_bytes(b"\x07" * 32)
    pk = key.public_key().public_bytes_raw()
    distinct = [SignatureCheck(pk, b"%d" % i, key.sign(b"%d" % i)) for i in range(32)]
    return [distinct[i % 32] for i in range(count)]


@settings(deadline=None)
@given(
    count=st.integers(0, 50_000),
    workers=st.integers(1, 16),
    max_chunk=st.integers(1, 5000),
    min_chunk=st.integers(1, 500),
)
def test_chunk_plan_covers_the_batch_evenly(
    count: int, workers: int, max_chunk: int, min_chunk: int
) -> None:
    spans = plan_chunks(count, workers, max_chunk, min_chunk)
    assert [i for span in spans for i in span] == list(range(count))
    if not spans:
        assert count == 0
        return
    sizes = [len(span) for span in spans]
    assert max(sizes) <= max_chunk
    assert max(sizes) - min(sizes) <= 1
    # Every worker gets the same share, unless the batch is too small to cut that fine.
    if len(spans) % workers:
        next_multiple = -(-len(spans) // workers) * workers
        assert count // next_multiple < min(min_chunk, max_chunk)


def test_big_batches_go_to_every_worker_in_equal_chunks() -> None:
    assert [len(s) for s in plan_chunks(20_000, 2, 2048, 64)] == [2000] * 10
    assert [len(s) for s in plan_chunks(100, 2, 2048, 64)] == [100]
    assert [len(s) for s in plan_chunks(200, 2, 2048, 64)] == [100, 100]


def _failed(exc: BaseException) -> Future[list[bool]]:
    f: Future[list[bool]] = Future()
    f.set_exception(exc)
    return f


def test_gather_translates_a_broken_pool_into_verifier_error() -> None:
    ok: Future[list[bool]] = Future()
    joined = gather([ok, _failed(BrokenProcessPool("worker died"))], cancel=True)
    with pytest.raises(VerifierError) as info:
        joined.result(timeout=5)
    assert isinstance(info.value.__cause__, BrokenExecutor)
    assert ok.cancelled()


def test_gather_passes_other_errors_through() -> None:
    joined = gather([_failed(TypeError("str is not bytes"))], cancel=False)
    with pytest.raises(TypeError):
        joined.result(timeout=5)


def test_cancelling_a_thread_batch_cancels_its_queued_chunks() -> None:
    gate = threading.Event()
    with ThreadVerifier(1, chunk_size=16) as v:
        v._pool.submit(gate.wait, 30)  # occupy the only worker
        future = v.submit_many(_batch(160))
        assert future.cancel()
        gate.set()
        assert v.verify_many(_batch(3)) == [True, True, True]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_killed_worker_process_is_a_verifier_error_then_the_pool_recovers() -> None:
    with ProcessVerifier(2, chunk_size=64) as v:
        batch = _batch(6000)
        future = v.submit_many(batch)
        # Pools with a spawn or forkserver start method bring workers up on demand: wait
        # (bounded) until the batch has both of them running before killing one.
        processes = v._pool._processes  # type: ignore[attr-defined]
        deadline = time.monotonic() + 60
        while len(processes) < 2 and not future.done() and time.monotonic() < deadline:
            time.sleep(0.005)
        workers = list(processes)
        assert len(workers) == 2
        pid = workers[0]
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(VerifierError):
            future.result(timeout=120)
        # No verdict came from the broken pool; the next batch runs on a fresh one.
        assert v.verify_many(batch[:200]) == [True] * 200
