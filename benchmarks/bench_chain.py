"""ChainState.apply_block against its floor: verifying the block's signatures alone.

A block of 10,000 one-input, two-output transactions spending genesis coins is
applied to a fresh copy of the chain (validation, signatures, UTXO updates, indexes).
The reference is the time the same :class:`SyncVerifier` takes to verify just those
10,000 signatures, measured in the same run. Target: apply_block <= 1.3x the floor.
"""

from __future__ import annotations

import time

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
REPEAT = 3


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
        outpoint = OutPoint(txid, i)
        tx = (
            TransactionBuilder(network)
            .spend(outpoint, spent, alice)
            .pay(bob.address(network), coins("1"))
            .pay(alice.address(network), amount - coins("1") - 10_000)
            .build()
        )
        txs.append(tx)
        txin = tx.inputs[0]
        checks.append(SignatureCheck(txin.public_key, sighash(network.chain_id, tx.txid, 0, spent), txin.signature))
    block = chain.build_block(bob, txs, timestamp=network.genesis_timestamp + 1)
    return chain, block, checks


def _best(fn: object, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    return best


def measure(count: int = TRANSACTIONS, repeat: int = REPEAT) -> tuple[float, float]:
    """Best seconds for (verifying the signatures alone, applying the block)."""
    chain, block, checks = _setup(count)
    verifier = SyncVerifier()
    floor = _best(lambda: verifier.verify_many(checks), repeat)
    apply_best = float("inf")
    for _ in range(repeat):
        fresh = chain.copy()
        start = time.perf_counter()
        fresh.apply_block(block, verifier)
        apply_best = min(apply_best, time.perf_counter() - start)
    verifier.close()
    return floor, apply_best


def run() -> list[Table]:
    """Measure apply_block for a 10,000-transaction block against its signature floor."""
    floor, applied = measure()
    table = Table(f"ChainState.apply_block, {TRANSACTIONS:,} one-input transactions (SyncVerifier)")
    table.add(Row("verify signatures alone (floor)", floor * 1e3, None, "ms"))
    ratio = applied / floor
    table.add(
        Row("apply_block", applied * 1e3, floor * 1e3, "ms", target=f"<= {TARGET}x floor", met=ratio <= TARGET)
    )
    return [table]
