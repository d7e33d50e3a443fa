"""Transactions: decode + txid, and full validation against the signature floor.

* decode + txid of a 1-input/2-output transaction, one core (target >= 100,000/s);
* full validation (decode, contextual checks, signatures) of 1-input/2-output
  transactions with a 2-worker verifier, in transactions per second, against twice
  the raw single-core verify rate measured in the same run (target >= 0.6x).
"""

from __future__ import annotations

import time

from timecoin_core import (
    DEVNET,
    OutPoint,
    PrivateKey,
    Transaction,
    TransactionBuilder,
    TxOut,
    coins,
)
from timecoin_core.validation import validate_transactions
from timecoin_core.verify import make_verifier

from ._table import Row, Table, rate
from .bench_verify import raw_verify_rate

COUNT = 20_000


def _transactions(count: int) -> tuple[list[bytes], dict[OutPoint, TxOut]]:
    key = PrivateKey.from_seed(b"\x05" * 32)
    other = PrivateKey.from_seed(b"\x06" * 32).address(DEVNET)
    view: dict[OutPoint, TxOut] = {}
    encoded = []
    for i in range(count):
        outpoint = OutPoint(i.to_bytes(32, "big"), i % 3)
        spent = TxOut(coins("10"), key.public_key.payload)
        view[outpoint] = spent
        tx = (
            TransactionBuilder(DEVNET)
            .spend(outpoint, spent, key)
            .pay(other, coins("4"))
            .pay(key.address(DEVNET), coins("5.99"))
            .build()
        )
        encoded.append(tx.to_bytes())
    return encoded, view


def run() -> list[Table]:
    """Decode rate and full-validation rate against the floor."""
    encoded, view = _transactions(COUNT)
    table = Table("Transactions (1 input, 2 outputs)")

    def decode_all() -> None:
        for data in encoded:
            _ = Transaction.from_bytes(data).txid

    decode_rate = rate(len(encoded), decode_all, cpu=True)
    table.add(Row("decode + txid, one core (CPU time)", decode_rate, None, "tx/s", ">= 100,000/s", decode_rate >= 100_000))
    for backend in ("cryptography", "pynacl"):
        floor = raw_verify_rate(backend)
        with make_verifier("process", workers=2, backend=backend) as verifier:
            verifier.verify_many([])

            def validate_all() -> None:
                txs = [Transaction.from_bytes(data) for data in encoded]
                verdicts = validate_transactions(txs, view, DEVNET, verifier)
                assert all(v.ok for v in verdicts)

            start = time.perf_counter()
            validate_all()
            measured = len(encoded) / (time.perf_counter() - start)
        table.add(Row(f"{backend}: raw verify, one core (floor)", floor, None, "sig/s"))
        table.add(
            Row(
                f"{backend}: full validation, ProcessVerifier(2)",
                measured,
                2 * floor,
                "tx/s",
                ">= 0.6 x 2 x floor",
                measured >= 0.6 * 2 * floor,
            )
        )
    return [table]
