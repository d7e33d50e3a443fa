"""`make demo`: a short tour of the library on its embedded defaults.

1. Keys and addresses.
2. A batch of signed transactions validated with every verifier kind and backend,
   and the verifier throughput table measured on this machine.
3. A LocalChain with four masternodes running the real consensus engines: funded
   wallets, a few hundred transfers, several blocks, and a summary.
4. Storage: the LocalChain's blocks persisted to a SQLite store in a temporary
   folder, the store reopened and the chain rebuilt from it, then checked with
   ``python -m timecoin_core.store.check``.
5. The deterministic simulator: a few seeds of a faulty network with a byzantine
   masternode, and the invariants it checked.

``python examples/demo.py --quick`` runs a smaller version (used by the test suite).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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
from timecoin_core.sim import SimConfig, run_seeds
from timecoin_core.store import SqliteStore, load_chain
from timecoin_core.testing import LocalChain, TxStatus
from timecoin_core.verify import SignatureCheck, VerifierKind

KINDS: tuple[VerifierKind, ...] = ("sync", "thread", "process")


def tour_keys() -> None:
    """Keys and their addresses on each network."""
    print("== keys and addresses")
    for name in ("alice", "bob"):
        key = PrivateKey.from_seed(name.encode().ljust(32, b"\0"))
        print(f"{name:>6}  devnet {key.address(DEVNET)}  public key {key.public_key.data.hex()[:16]}...")


def tour_verifiers(count: int, checks_count: int) -> None:
    """Validate a batch with every verifier; print the throughput table."""
    alice = PrivateKey.from_seed(b"alice".ljust(32, b"\0"))
    bob = PrivateKey.from_seed(b"bob".ljust(32, b"\0"))
    funding = {
        OutPoint(i.to_bytes(32, "big"), 0): TxOut(coins("10"), alice.public_key.payload) for i in range(count)
    }
    txs = [
        TransactionBuilder(DEVNET).spend(op, out, alice).pay(bob.address(DEVNET), coins("9.99")).build()
        for op, out in funding.items()
    ]
    print(f"\n== {count} signed 1-in/1-out transactions ({txs[0].size} bytes each), every verifier")
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
    print(f"\n== verifier throughput (signatures/s, batches of {checks_count:,})")
    checks = [
        SignatureCheck(alice.public_key.data, m, alice.sign(m))
        for m in (i.to_bytes(8, "little") for i in range(checks_count))
    ]
    print("| backend | sync | thread(2) | process(2) |")
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


def tour_local_chain(transfers: int, blocks: int) -> LocalChain:
    """Four masternodes, funded wallets, transfers, blocks; print a summary."""
    print(f"\n== LocalChain: 4 masternodes, {transfers} transfers, {blocks} blocks")
    chain = LocalChain(masternodes=4)
    wallets = [chain.wallet(name, balance=coins("1000")) for name in ("alice", "bob", "carol", "dave")]
    latencies = []
    cpu_start = time.process_time()
    per_block = max(1, transfers // blocks)
    sent = 0
    for height in range(blocks):
        for k in range(per_block if height < blocks - 1 else transfers - sent):
            sender, receiver = wallets[k % 4], wallets[(k + 1 + height) % 4]
            before = chain.clock.now()
            tx = sender.send(receiver, coins("0.5"))
            assert chain.tx_status(tx.txid) is TxStatus.FINAL
            latencies.append((chain.clock.now() - before) * 1000)
            sent += 1
        chain.produce_block()
    cpu = time.process_time() - cpu_start
    chain_state = chain.node.chain
    confirmed = sum(len(b.transactions) for h in range(1, chain.height + 1) if (b := chain_state.block_at(h)))
    latencies.sort()
    signatures = chain.node.signatures
    print(f"final transactions   {sent}")
    print(f"blocks               {chain.height} ({confirmed} transactions confirmed, funding included)")
    print(
        f"finality latency     p50 {statistics.median(latencies):.1f} ms, "
        f"p99 {latencies[int(0.99 * (len(latencies) - 1))]:.1f} ms, max {latencies[-1]:.1f} ms (virtual time)"
    )
    print(f"CPU per transaction  {cpu / sent * 1000:.2f} ms (4 nodes in one process, everything verified)")
    print(
        f"node 0 verified      {signatures.transactions} transaction, {signatures.finality_votes} finality-vote "
        f"and {signatures.block_votes} block-vote signatures"
    )
    print("balances             " + ", ".join(f"{w.name} {format_amount(w.balance())}" for w in wallets))
    print(f"supply               {format_amount(chain.node.chain.supply())} TIME, utxo commitment {chain.node.chain.utxos.commitment().hex()[:16]}...")
    return chain


def tour_storage(chain: LocalChain) -> None:
    """Persist the chain to SQLite, reopen it, rebuild the chain state, run the check tool."""
    node = chain.node
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "node.sqlite"
        print(f"\n== storage: {chain.height} blocks to {path.name} (SQLite, WAL)")

        async def persist_and_reload() -> None:
            async with SqliteStore.open(path, chain.network) as store:
                for height in range(1, chain.height + 1):
                    block = node.chain.block_at(height)
                    assert block is not None
                    await store.commit_block(block, node.commits.get(height))
            async with SqliteStore.open(path, chain.network, read_only=True) as store:
                restored = await load_chain(store, chain.network)
            same = restored.utxos.commitment() == node.chain.utxos.commitment()
            print(f"reopened             height {restored.height}, tip {restored.tip.hash.hex()[:16]}..., "
                  f"UTXO commitment {'matches' if same else 'DIFFERS'}")

        asyncio.run(persist_and_reload())
        check = subprocess.run(
            [sys.executable, "-m", "timecoin_core.store.check", str(path)], capture_output=True, text=True
        )
        report = json.loads(check.stdout)
        print(f"check tool           exit {check.returncode}, consistent: {report.get('consistent')}, "
              f"{report.get('height')} blocks, {report.get('coins')} coins")


def tour_simulator(seeds: int) -> None:
    """A few seeds of the faulty simulator."""
    config = SimConfig(nodes=4, byzantine=1, duration=20.0, settle=30.0)
    print(f"\n== simulator: {seeds} seeds, 4 masternodes (1 byzantine), loss, partitions, a crash, double spends")
    report = run_seeds(range(seeds), config, workers=2).as_dict()
    finality = report["finality_ms"]
    print(
        f"safety violations {len(report['safety_violations'])}, liveness failures "
        f"{len(report['liveness_failures'])}, final txs {report['finalized_txs']}, blocks {report['committed_blocks']}"
    )
    print(f"finality (virtual) p50 {finality['p50']:.0f} ms, p99 {finality['p99']:.0f} ms, max {finality['max']:.0f} ms")


def main(argv: list[str] | None = None) -> None:
    """Run the tour."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smaller tour (for tests)")
    args = parser.parse_args(argv)
    quick = args.quick
    tour_keys()
    tour_verifiers(200 if quick else 2_000, 2_000 if quick else 20_000)
    chain = tour_local_chain(40 if quick else 300, 3 if quick else 6)
    tour_storage(chain)
    tour_simulator(2 if quick else 6)


if __name__ == "__main__":
    main()
