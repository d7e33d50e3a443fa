"""TxPool: insert, evict and block_template at 100,000 and 1,000,000 entries.

What is measured, and against what (all in the same run):

* **Signature floor.** ``SyncVerifier.verify_many`` over real signatures: the cost
  every admission pays once, and the unit DESIGN.md measures everything against.
* **Full ``add``.** ``TxPool.add_many`` of real signed transactions (validation,
  sighashes, one signature batch, pool bookkeeping), against the floor.
* **Pool insert, pre-validated.** Signing and verifying a million transactions would
  measure Ed25519, not the pool, so these rows insert well-formed *unsigned*
  transactions through ``TxPool._admit_validated``: the internal path that skips
  validation (stateless checks, input lookup, fee, signatures) and runs everything
  else ``add`` runs (duplicate, pending-parent and conflict checks, capacity planning,
  locking the inputs in the UtxoSet, every pool index). The reference is a plain
  ``dict`` insert of the same transactions. Target: the pool's bookkeeping costs at
  most a fifth of one signature verification (rate >= 5x the floor).
* **Evict.** The pool is full (``max_count`` = N) of pending transactions; each
  insert of a higher-rate newcomer evicts the lowest-rate entry (release its coin,
  drop it from every index) and admits the newcomer: a removal plus an insert, so
  the target is >= 2.5x the floor.
* **Memory per entry.** Growth while inserting, divided by N: ``tracemalloc`` (exact
  Python allocations, in a separate pass because tracing slows everything down) up to
  100,000, and the process RSS for every size. It covers the pool's indexes and the
  UTXO-set changes, not the transaction objects, which exist before the pool sees
  them; their own size is reported separately.
* **block_template.** 10,000 transactions (by size cap) out of 100,000 final entries,
  10% of them children of other entries. Target: < 50 ms.

Times are CPU seconds of the calling thread (``time.thread_time``), with the garbage
collector paused inside timed sections (as ``timeit`` does), so other processes skew
them little (they still compete for caches and a shared core).
"""

from __future__ import annotations

import gc
import os
import random
import struct
import time
import tracemalloc
from collections.abc import Callable

from timecoin_core.amount import coins
from timecoin_core.builder import TransactionBuilder
from timecoin_core.keys import PrivateKey
from timecoin_core.mempool import TxPool
from timecoin_core.network import DEVNET
from timecoin_core.transaction import OutPoint, Transaction, TxOut, sighash
from timecoin_core.utxo import UtxoSet
from timecoin_core.verify import SignatureCheck, SyncVerifier

from ._table import Row, Table

SIZES = (100_000, 1_000_000)
EVICTIONS = 20_000
TEMPLATE_POOL = 100_000
TEMPLATE_TXS = 10_000
TEMPLATE_TARGET_MS = 50.0
SIGNED = 2_000
INSERT_MULTIPLE = 5.0
EVICT_MULTIPLE = 2.5
TRACED_UP_TO = 100_000
FUNDING = coins("10")
PAYLOADS = [bytes([i % 256, i // 256]) * 10 for i in range(1_000)]

_OUTPOINT = struct.Struct("<32sI")
_TXOUT = struct.Struct("<Q20s")
_WITNESS = bytes(96)


def _funding_outpoint(i: int) -> OutPoint:
    return OutPoint(i.to_bytes(32, "little"), 0)


def _synthetic(spent: OutPoint, fee: int, payload: bytes) -> Transaction:
    """A well-formed unsigned 1-input, 2-output transaction (199 bytes) paying ``fee``."""
    change = FUNDING - coins("1") - fee
    raw = b"".join(
        (
            b"\x01\x00\x00\x00\x01",
            _OUTPOINT.pack(spent.txid, spent.index),
            b"\x02",
            _TXOUT.pack(coins("1"), payload),
            _TXOUT.pack(change, payload),
            b"\x00\x00\x00\x00\x00",
            _WITNESS,
        )
    )
    return Transaction.from_bytes(raw)


def _fees(count: int, seed: int, low: int = 2_000, high: int = 20_000) -> list[int]:
    rng = random.Random(seed)
    return [rng.randrange(low, high) for _ in range(count)]


def _funded_set(count: int) -> UtxoSet:
    utxos = UtxoSet()
    for i in range(count):
        utxos.add(_funding_outpoint(i), TxOut(FUNDING, PAYLOADS[i % len(PAYLOADS)]), 1)
    return utxos


def _cpu(fn: Callable[[], object]) -> float:
    gc.collect()
    gc.disable()
    try:
        start = time.thread_time()
        fn()
        return time.thread_time() - start
    finally:
        gc.enable()


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# -- the signature floor and full add -------------------------------------------------


def _signed_case(count: int) -> tuple[UtxoSet, list[Transaction], list[SignatureCheck]]:
    key = PrivateKey.from_seed(b"\x07" * 32)
    owner = key.public_key.payload
    utxos = UtxoSet()
    txs: list[Transaction] = []
    checks: list[SignatureCheck] = []
    for i in range(count):
        outpoint = OutPoint(i.to_bytes(32, "big"), 1)
        spent = TxOut(FUNDING, owner)
        utxos.add(outpoint, spent, 1)
        tx = (
            TransactionBuilder(DEVNET)
            .spend(outpoint, spent, key)
            .pay(key.address(DEVNET), coins("1"))
            .pay(key.address(DEVNET), FUNDING - coins("1") - 10_000 - i)
            .build()
        )
        txs.append(tx)
        txin = tx.inputs[0]
        checks.append(
            SignatureCheck(txin.public_key, sighash(DEVNET.chain_id, tx.txid, 0, spent), txin.signature)
        )
    return utxos, txs, checks


def _floor_and_full_add() -> tuple[float, float]:
    utxos, txs, checks = _signed_case(SIGNED)
    floor = add = float("inf")
    with SyncVerifier() as verifier:
        for _ in range(3):
            floor = min(floor, _cpu(lambda: verifier.verify_many(checks)))
            pool = TxPool(DEVNET, utxos.copy())
            add = min(add, _cpu(lambda: pool.add_many(txs, 0.0, verifier)))  # noqa: B023
            assert len(pool) == SIGNED
    return SIGNED / floor, SIGNED / add


# -- insert and evict -----------------------------------------------------------------


def _setup(count: int) -> tuple[TxPool, list[Transaction], list[int], list[Transaction]]:
    utxos = _funded_set(count + EVICTIONS)
    fees = _fees(count, seed=count)
    txs = [_synthetic(_funding_outpoint(i), fees[i], PAYLOADS[i % len(PAYLOADS)]) for i in range(count)]
    newcomers = [
        _synthetic(_funding_outpoint(count + i), 50_000 + i, PAYLOADS[i % len(PAYLOADS)])
        for i in range(EVICTIONS)
    ]
    return TxPool(DEVNET, utxos, max_bytes=10**12, max_count=count), txs, fees, newcomers


def _insert_all(pool: TxPool, txs: list[Transaction], fees: list[int]) -> None:
    admit = pool._admit_validated
    for tx, fee in zip(txs, fees, strict=True):
        admit(tx, fee, 0.0)


def _insert_and_evict(count: int) -> dict[str, float]:
    pool, txs, fees, newcomers = _setup(count)
    reference: dict[bytes, Transaction] = {}

    def dict_insert() -> None:
        for tx in txs:
            reference[tx.txid] = tx

    dict_seconds = _cpu(dict_insert)
    reference.clear()
    gc.collect()
    before = _rss()
    insert_seconds = _cpu(lambda: _insert_all(pool, txs, fees))
    gc.collect()
    grown = _rss() - before
    assert len(pool) == count

    def evict() -> None:
        admit = pool._admit_validated
        for i, tx in enumerate(newcomers):
            admit(tx, 50_000 + i, 1.0)

    evict_seconds = _cpu(evict)
    assert len(pool) == count and pool.get(newcomers[-1].txid) is not None
    return {
        "dict": count / dict_seconds,
        "insert": count / insert_seconds,
        "evict": EVICTIONS / evict_seconds,
        "rss": grown / count,
    }


def _traced_bytes_per_entry(count: int) -> float:
    """Python allocations per inserted entry, in a pass of its own (tracemalloc is slow)."""
    pool, txs, fees, _ = _setup(count)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    _insert_all(pool, txs, fees)
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return grown / count


def _transaction_bytes(sample: int = 10_000) -> float:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = [_synthetic(_funding_outpoint(i), 5_000, PAYLOADS[0]) for i in range(sample)]
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert len(kept) == sample
    return grown / sample


# -- block template -------------------------------------------------------------------


def _template_ms() -> tuple[float, int]:
    parents = TEMPLATE_POOL * 9 // 10
    utxos = _funded_set(parents)
    pool = TxPool(DEVNET, utxos, max_bytes=10**12, max_count=TEMPLATE_POOL)
    fees = _fees(TEMPLATE_POOL, seed=7)
    admitted: list[Transaction] = []
    for i in range(parents):
        tx = _synthetic(_funding_outpoint(i), fees[i], PAYLOADS[i % len(PAYLOADS)])
        pool._admit_validated(tx, fees[i], 0.0, final=True)
        admitted.append(tx)
    rng = random.Random(11)
    for i, parent in enumerate(rng.sample(admitted, TEMPLATE_POOL - parents)):
        fee = fees[parents + i]
        child = _synthetic_child(parent, fee)
        pool._admit_validated(child, fee, 0.0, final=True)
    cap = TEMPLATE_TXS * admitted[0].size
    best = float("inf")
    chosen: list[Transaction] = []
    for _ in range(5):
        start = time.thread_time()
        chosen = pool.block_template(cap)
        best = min(best, time.thread_time() - start)
    return best * 1e3, len(chosen)


def _synthetic_child(parent: Transaction, fee: int) -> Transaction:
    out = parent.outputs[0]
    raw = b"".join(
        (
            b"\x01\x00\x00\x00\x01",
            _OUTPOINT.pack(parent.txid, 0),
            b"\x01",
            _TXOUT.pack(out.amount - fee, out.payload),
            b"\x00\x00\x00\x00\x00",
            _WITNESS,
        )
    )
    return Transaction.from_bytes(raw)


# -- report ---------------------------------------------------------------------------


def run() -> list[Table]:
    """Measure the pool against the signature floor and a plain dict."""
    verify_rate, add_rate = _floor_and_full_add()
    floor = Table("TxPool against the signature floor (SyncVerifier, one core)")
    floor.add(Row("Ed25519 verify_many (floor)", verify_rate, None, "sig/s"))
    floor.add(Row(f"TxPool.add_many, {SIGNED:,} signed txs, full validation", add_rate, verify_rate, "tx/s"))
    tables = [floor]
    tx_bytes = _transaction_bytes()
    for count in SIZES:
        figures = _insert_and_evict(count)
        table = Table(f"TxPool, {count:,} pending transactions (pre-validated insert: no signatures)")
        table.add(Row("Ed25519 verify_many (floor, from above)", verify_rate, None, "sig/s"))
        table.add(Row("dict insert of the same txs (reference)", figures["dict"], None, "op/s"))
        for name, key, multiple in (
            (f"pool insert, pre-validated ({figures['dict'] / figures['insert']:.0f}x a dict insert)", "insert", INSERT_MULTIPLE),
            (f"insert evicting the lowest rate, {EVICTIONS:,} newcomers", "evict", EVICT_MULTIPLE),
        ):
            table.add(
                Row(
                    name,
                    figures[key],
                    verify_rate,
                    "op/s",
                    target=f">= {multiple:g}x floor",
                    met=figures[key] >= multiple * verify_rate,
                )
            )
        if count <= TRACED_UP_TO:
            traced = _traced_bytes_per_entry(count)
            table.add(Row("memory per entry, pool + UTXO changes (tracemalloc)", traced, None, "B"))
        table.add(Row("memory per entry, pool + UTXO changes (RSS growth)", figures["rss"], None, "B"))
        table.add(Row("memory per transaction object (not included above)", tx_bytes, None, "B"))
        tables.append(table)
    ms, chosen = _template_ms()
    template = Table(
        f"TxPool.block_template: {chosen:,} of {TEMPLATE_POOL:,} final entries (10% children)"
    )
    template.add(
        Row(
            "block_template",
            ms,
            None,
            "ms",
            target=f"< {TEMPLATE_TARGET_MS:g} ms",
            met=ms < TEMPLATE_TARGET_MS,
        )
    )
    tables.append(template)
    return tables
