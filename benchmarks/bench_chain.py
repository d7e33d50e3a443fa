"""ChainState.apply_block against its floor: verifying the block's signatures alone.

A block of 10,000 one-input, two-output transactions spending genesis coins is
applied to a fresh copy of the chain (validation, signatures, Merkle root, UTXO
updates, indexes). The reference is the time the same :class:`SyncVerifier` takes to
verify just those 10,000 signatures, measured in the same run. Target: apply_block
<= 1.3x the floor.

The overhead rows say where the rest goes: the same calls with a verifier that
skips the curve check (every verdict True), so only Python work remains.
``check_block`` is validation alone; the difference to ``apply_block`` is applying
the block to the UTXO set and the indexes.

Times are CPU seconds of the calling thread (everything runs on it with a
SyncVerifier), best of a few rounds measured alternately, so other load on the
machine skews no figure.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from timecoin_core.amount import coins
from timecoin_core.block import Block
from timecoin_core.builder import TransactionBuilder
from timecoin_core.chain import ChainState
from timecoin_core.keys import PrivateKey
from timecoin_core.network import DEVNET, GenesisOutput, Network
from timecoin_core.transaction import OutPoint, Transaction, TxOut, sighash
from timecoin_core.verify import SignatureCheck, SyncVerifier

from ._table import Row, Table

TRANSACTIONS = 10_000
TARGET = 1.3
REPEAT = 5


class _NoCurveVerifier(SyncVerifier):
    """Every verdict True without verifying: isolates the Python work around signatures."""

    def verify_many(self, checks: Sequence[SignatureCheck]) -> list[bool]:
        return [True] * len(checks)


def _setup(count: int) -> tuple[ChainState, Block, list[SignatureCheck]]:
    alice = PrivateKey.from_seed(b"\x01" * 32)
    bob = PrivateKey.from_seed(b"\x02" * 32)
    amount = coins("10")
    network: Network = DEVNET.with_genesis(
        tuple(GenesisOutput(alice.public_key.payload, amount) for _ in range(count))
    )
    chain = ChainState(network)
    txid = chain.genesis.reward_txid
    spent = TxOut(amount, alice.public_key.payload)
    txs: list[Transaction] = []
    checks: list[SignatureCheck] = []
    for i in range(count):
        tx = (
            TransactionBuilder(network)
            .spend(OutPoint(txid, i), spent, alice)
            .pay(bob.address(network), coins("1"))
            .pay(alice.address(network), amount - coins("1") - 10_000)
            .build()
        )
        txs.append(tx)
        txin = tx.inputs[0]
        message = sighash(network.chain_id, tx.txid, 0, spent)
        checks.append(SignatureCheck(txin.public_key, message, txin.signature))
    block = chain.build_block(bob, txs, timestamp=network.genesis_timestamp + 1)
    return chain, block, checks


def _cpu(fn: Callable[[], object]) -> float:
    start = time.thread_time()
    fn()
    return time.thread_time() - start


def measure(count: int = TRANSACTIONS, repeat: int = REPEAT) -> dict[str, float]:
    """Best CPU seconds of: the signatures alone, apply_block, and the two overheads."""
    chain, block, checks = _setup(count)
    best = dict.fromkeys(("floor", "apply", "apply_overhead", "check_overhead"), float("inf"))

    def apply_to_copy(verifier: SyncVerifier) -> float:
        fresh = chain.copy()  # made outside the timed call, dropped after it
        return _cpu(lambda: fresh.apply_block(block, verifier))

    with SyncVerifier() as verifier, _NoCurveVerifier() as no_curve:
        for _ in range(repeat):
            rounds: dict[str, Callable[[], float]] = {
                "floor": lambda: _cpu(lambda: verifier.verify_many(checks)),
                "apply": lambda: apply_to_copy(verifier),
                "apply_overhead": lambda: apply_to_copy(no_curve),
                "check_overhead": lambda: _cpu(lambda: chain.check_block(block, no_curve)),
            }
            for name, timed in rounds.items():
                best[name] = min(best[name], timed())
    return best


def run() -> list[Table]:
    """Measure apply_block for a 10,000-transaction block against its signature floor."""
    best = measure()
    floor_ms = best["floor"] * 1e3
    ratio = best["apply"] / best["floor"]
    table = Table(f"ChainState.apply_block, {TRANSACTIONS:,} one-input transactions (SyncVerifier, CPU time)")
    table.add(Row("verify the signatures alone (floor)", floor_ms, None, "ms"))
    table.add(
        Row("apply_block", best["apply"] * 1e3, floor_ms, "ms", target=f"<= {TARGET}x floor", met=ratio <= TARGET)
    )
    table.add(Row("overhead: apply_block without curve checks", best["apply_overhead"] * 1e3, floor_ms, "ms"))
    table.add(Row("  of which validation (check_block)", best["check_overhead"] * 1e3, floor_ms, "ms"))
    applying = best["apply_overhead"] - best["check_overhead"]
    table.add(Row("  of which UTXO set and indexes", applying * 1e3, floor_ms, "ms"))
    return [table]
