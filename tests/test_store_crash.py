"""Kill the store writer at random and require a consistent store every time.

In the shape of Bitcoin Core's feature_dbcrash.py: the stress writer
(``python -m timecoin_core.testing.store_stress``) runs as a subprocess and is
SIGKILLed at random moments, some while it starts up (opening, verifying, replaying),
most while it writes votes, final transactions and blocks. After every kill the check
tool must find the store consistent, and its tip must be a block of the uninterrupted
reference run with the same UTXO commitment at that height. A SIGKILL does not lose
what the OS already has (that is a power failure, which this cannot simulate): it
tests atomicity, not fsync.
"""

from __future__ import annotations

import asyncio
import glob
import random
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from timecoin_core.store import SqliteStore
from timecoin_core.store.check import check_store

BLOCKS = 120
TXS_PER_BLOCK = 3
MIN_KILLS = 50
MIN_RECOVERY_KILLS = 10
MIN_WRITING_KILLS = 20
SEED = 20_260_501

pytestmark = pytest.mark.slow


def _writer(path: Path, blocks: int = BLOCKS) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "timecoin_core.testing.store_stress",
            str(path),
            "--blocks",
            str(blocks),
            "--txs-per-block",
            str(TXS_PER_BLOCK),
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _wait_for(proc: subprocess.Popen[bytes], prefix: bytes, seen: list[bytes], timeout: float) -> bool:
    """True once the writer printed a line starting with ``prefix`` (lines read go to ``seen``)."""
    assert proc.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not selector.select(timeout=deadline - time.monotonic()):
                continue
            line = proc.stdout.readline()
            if not line:
                return False
            seen.append(line)
            if line.startswith(prefix):
                return True
        return False
    finally:
        selector.unregister(proc.stdout)
        selector.close()


async def _tip(path: Path) -> tuple[int, bytes, bytes] | None:
    if not path.exists():
        return None
    async with SqliteStore.open(path, read_only=True) as store:
        meta = await store.metadata()
        return meta.height, meta.tip_hash, meta.utxo_commitment


async def _chain_of(path: Path) -> list[tuple[bytes, bytes]]:
    async with SqliteStore.open(path, read_only=True) as store:
        return [(s.hash, s.utxo_commitment) async for s in store.iter_blocks()]


def _kill(proc: subprocess.Popen[bytes]) -> bytes:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=30)
    return out + err


def test_sigkill_at_random_moments_never_leaves_an_inconsistent_store(tmp_path: Path) -> None:
    reference_path = tmp_path / "reference.db"
    reference = _writer(reference_path)
    _, err = reference.communicate(timeout=120)
    assert reference.returncode == 0, err.decode()
    chain = asyncio.run(_chain_of(reference_path))
    assert len(chain) == BLOCKS + 1

    path = tmp_path / "crashed.db"
    rng = random.Random(SEED)
    kills = {"interpreter": 0, "recovery": 0, "writing": 0}
    rounds = 0
    heights: list[int] = []
    started = time.monotonic()
    while sum(kills.values()) < MIN_KILLS or kills["recovery"] < MIN_RECOVERY_KILLS or kills["writing"] < MIN_WRITING_KILLS:
        rounds += 1
        assert rounds < 250, f"could not place enough kills: {kills}"
        proc = _writer(path)
        seen: list[bytes] = []
        try:
            mode = rng.random()
            if kills["writing"] >= MIN_WRITING_KILLS and kills["recovery"] < MIN_RECOVERY_KILLS:
                mode = 0.3
            if mode < 0.2:
                time.sleep(rng.uniform(0.0, 0.6))  # anywhere in start-up, interpreter included
            elif mode < 0.5:
                _wait_for(proc, b"opening", seen, timeout=30)  # opening, verifying, replaying
                time.sleep(rng.uniform(0.0, 0.25))
            else:
                _wait_for(proc, b"ready", seen, timeout=30)
                time.sleep(rng.uniform(0.0, 0.3))
            alive = proc.poll() is None
            output = b"".join(seen) + _kill(proc)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if alive:
            if b"ready" in output:
                kills["writing"] += 1
            elif b"opening" in output:
                kills["recovery"] += 1
            else:
                kills["interpreter"] += 1
        else:
            assert proc.returncode == 0, output.decode()
        tip = asyncio.run(_tip(path))
        if tip is None:
            continue  # killed before the store existed: no store yet, and no half-made one either
        report = asyncio.run(check_store(str(path)))
        assert report.consistent, report.to_json()
        height, tip_hash, commitment = tip
        heights.append(height)
        assert (tip_hash, commitment) == chain[height], f"round {rounds}: tip at {height} is not the reference's"

    # Finish uninterrupted; the command-line check agrees.
    final = _writer(path)
    _, err = final.communicate(timeout=120)
    assert final.returncode == 0, err.decode()
    assert asyncio.run(_tip(path)) == (BLOCKS, *chain[BLOCKS])
    checked = subprocess.run(
        [sys.executable, "-m", "timecoin_core.store.check", str(path)], capture_output=True, timeout=120
    )
    assert checked.returncode == 0, checked.stdout.decode()
    assert asyncio.run(_chain_of(path)) == chain
    assert not glob.glob(glob.escape(str(path)) + ".creating-*"), "abandoned creation files left behind"
    assert heights == sorted(heights), "a committed block was lost"
    print(
        f"{sum(kills.values())} kills {kills} in {rounds} rounds, "
        f"{time.monotonic() - started:.1f} s; heights {heights[:3]}..{heights[-3:]}"
    )
