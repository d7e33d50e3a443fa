"""`make demo`: a short tour of the library.

Keys and addresses, a batch of signed transactions validated with every verifier
kind and backend, and the verifier throughput table measured on this machine.
"""

from __future__ import annotations

import time

from timecoin_core import (
    DEVNET,
    OutPoint,
    PrivateKey,
    TransactionBuilder,
    TxOut,
    available_backends,
    coins,
    format_amount,
    make_verifier,
    validate_transactions,
)
from timecoin_core.verify import SignatureCheck, VerifierKind

KINDS: tuple[VerifierKind, ...] = ("sync", "thread", "process")


def main() -> None:
    """Run the tour and print what it shows."""
    alice = PrivateKey.from_seed(b"alice".ljust(32, b"\0"))
    bob = PrivateKey.from_seed(b"bob".ljust(32, b"\0"))
    print("== keys and addresses")
    print(f"alice  {alice.address(DEVNET)}")
    print(f"bob    {bob.address(DEVNET)}")

    count = 2_000
    funding = {
        OutPoint(i.to_bytes(32, "big"), 0): TxOut(coins("10"), alice.public_key.payload)
        for i in range(count)
    }
    txs = [
        TransactionBuilder(DEVNET).spend(op, out, alice).pay(bob.address(DEVNET), coins("9.99")).build()
        for op, out in funding.items()
    ]
    print(f"\n== {count} signed 1-in/1-out transactions, {txs[0].size} bytes each")
    for backend in available_backends():
        for kind in KINDS:
            with make_verifier(kind, workers=2, backend=backend) as verifier:
                start = time.perf_counter()
                verdicts = validate_transactions(txs, funding, DEVNET, verifier)
                elapsed = time.perf_counter() - start
            fees = sum(v.fee or 0 for v in verdicts)
            valid = sum(v.ok for v in verdicts)
            print(
                f"{backend:>12} {kind:>7}: {valid}/{count} valid, fees {format_amount(fees)} TIME, "
                f"{count / elapsed:,.0f} tx/s"
            )

    print("\n== verifier throughput (checks/s, 20,000 signatures)")
    checks = [
        SignatureCheck(alice.public_key.data, m, alice.sign(m))
        for m in (i.to_bytes(8, "little") for i in range(20_000))
    ]
    print(f"| backend | {' | '.join(('sync', 'thread(2)', 'process(2)'))} |")
    print("|---|---:|---:|---:|")
    for backend in available_backends():
        rates = []
        for kind in KINDS:
            with make_verifier(kind, workers=2, backend=backend) as verifier:
                verifier.verify_many(checks[:200])
                start = time.perf_counter()
                assert all(verifier.verify_many(checks))
                rates.append(len(checks) / (time.perf_counter() - start))
        print(f"| {backend} | {' | '.join(f'{r:,.0f}' for r in rates)} |")


if __name__ == "__main__":
    main()
