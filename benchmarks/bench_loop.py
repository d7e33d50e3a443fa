"""Event-loop responsiveness while a node validates large proposals (issue: the node's boundary).

An anyio loop runs a 1 ms heartbeat task while it hands a non-voting
:class:`~timecoin_core.consensus.ConsensusNode` (with a ``ProcessVerifier(2)``) a stream
of proposal values of 10,000 transactions each (a one-masternode network, so each
transaction's certificate has one entry and the value fits the 8 MiB cap). The figure
is the heartbeat's p99 lateness, three ways:

* *on the loop* — ``validate_value`` called on the event loop, as a shell that ignores
  ``signature_checks`` would (the verifier's pool works, but the loop waits for it);
* *signatures off the loop* — the shell asks ``node.signature_checks(event)``, awaits
  ``node.verifier.submit_many(checks)`` from a worker thread, then validates on the loop
  (every signature answered from the cache: what is left is decoding and UTXO checks);
* *all off the loop* — the same, then ``validate_value`` itself in a worker thread (the
  node task owns the node; the loop only awaits).

The reference is the same heartbeat on an idle loop, in the same run.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable

import anyio

from timecoin_core import TransactionBuilder, coins
from timecoin_core.consensus import ConsensusNode, FinalityCertificate, Proposal, VoteBatch
from timecoin_core.consensus.finality_messages import MAX_VOTE_BATCH_TXIDS, CertificateEntry
from timecoin_core.keys import PrivateKey
from timecoin_core.network import DEVNET, GenesisMasternode, GenesisOutput, Network, Tier
from timecoin_core.transaction import OutPoint, Transaction, TxOut
from timecoin_core.verify import ProcessVerifier, SignatureCheck

from ._table import Row, Table

TXS = 10_000
PROPOSALS = 3


def _setup() -> tuple[Network, PrivateKey, list[list[Transaction]]]:
    operator = PrivateKey.from_seed(b"\x01" * 32)
    client = PrivateKey.from_seed(b"\x02" * 32)
    outputs = [GenesisOutput(operator.public_key.payload, Tier.BRONZE.collateral)]
    outputs += [GenesisOutput(client.public_key.payload, coins("100")) for _ in range(PROPOSALS)]
    network = DEVNET.with_genesis(tuple(outputs), (GenesisMasternode(operator.public_key.data, 0),))
    genesis = ConsensusNode(network).chain.genesis.reward_txid
    payload = client.public_key.payload
    address = client.address(network)
    fee = 10_000
    sets = []
    for k in range(PROPOSALS):
        # A chain: each transaction spends the one before it (a block may), so one
        # genesis output feeds a whole proposal.
        outpoint, output = OutPoint(genesis, 1 + k), TxOut(coins("100"), payload)
        txs = []
        for _ in range(TXS):
            tx = TransactionBuilder(network).spend(outpoint, output, client).pay(address, output.amount - fee).build()
            txs.append(tx)
            outpoint, output = OutPoint(tx.txid, 0), tx.outputs[0]
        sets.append(txs)
    return network, operator, sets


def _value(network: Network, operator: PrivateKey, txs: list[Transaction]) -> bytes:
    builder = ConsensusNode(network, operator)
    txids = [tx.txid for tx in txs]
    for start in range(0, len(txids), MAX_VOTE_BATCH_TXIDS):
        batch = VoteBatch.create(operator, network.chain_id, 0, txids[start : start + MAX_VOTE_BATCH_TXIDS])
        for txid in batch.txids:
            builder.certificates[txid] = FinalityCertificate(txid, 0, (CertificateEntry.from_batch(batch, txid),))
    for outcome in builder.pool.add_many(txs, 0.0, builder._tx_checker, final=True):
        if outcome.error is not None:
            raise outcome.error
    _, value = builder.build_value(1, 0)
    return value


def _wait(node: ConsensusNode, checks: list[SignatureCheck]) -> list[bool]:
    # In a worker thread: the loop keeps beating while the pool verifies.
    return node.verifier.submit_many(checks).result()


async def _heartbeat(lateness: list[float], stop: anyio.Event) -> None:
    while not stop.is_set():
        due = time.perf_counter() + 0.001
        await anyio.sleep(0.001)
        lateness.append(max(0.0, time.perf_counter() - due))


async def _measure(work: Callable[[], Awaitable[None]]) -> float:
    lateness: list[float] = []
    stop = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(_heartbeat, lateness, stop)
        await anyio.sleep(0.05)  # the heartbeat is beating before the work starts
        await work()
        await anyio.sleep(0.05)  # and records the wake-up the work delayed
        stop.set()
    return statistics.quantiles(lateness, n=100)[98] * 1000


def run() -> list[Table]:
    """Measure the heartbeat's p99 lateness three ways, against an idle loop."""
    network, operator, sets = _setup()
    values = [_value(network, operator, txs) for txs in sets]
    proposals = [Proposal.create(operator, network.chain_id, 1, 0, -1, b"\x00" * 32, v) for v in values]
    table = Table(
        f"Event-loop responsiveness: 1 ms heartbeat p99 lateness while a node validates "
        f"{PROPOSALS} proposals of {TXS:,} transactions (ProcessVerifier(2))"
    )
    results: dict[str, float] = {}
    with ProcessVerifier(2) as verifier:

        def fresh() -> ConsensusNode:
            node = ConsensusNode(network, None, verifier=verifier)
            node.start(0.0, wall=float(network.genesis_timestamp + 10))  # its clock: after the block's time
            return node

        async def idle() -> None:
            await anyio.sleep(0.5)

        async def on_loop() -> None:
            node = fresh()
            for value in values:
                assert node.validate_value(1, value) is not None

        async def signatures_off() -> None:
            node = fresh()
            for proposal, value in zip(proposals, values, strict=True):
                checks = node.signature_checks(proposal)
                verdicts = await anyio.to_thread.run_sync(_wait, node, checks)
                assert all(verdicts[1:])  # the proposal's own signature is over a dummy id
                assert node.validate_value(1, value) is not None

        async def all_off() -> None:
            node = fresh()
            for proposal, value in zip(proposals, values, strict=True):
                checks = node.signature_checks(proposal)
                await anyio.to_thread.run_sync(_wait, node, checks)
                assert await anyio.to_thread.run_sync(node.validate_value, 1, value) is not None

        async def main() -> None:
            for name, work in (("idle", idle), ("on", on_loop), ("sig", signatures_off), ("all", all_off)):
                results[name] = await _measure(work)

        anyio.run(main)
    idle_ms = results["idle"]
    table.add(Row("validation on the loop", results["on"], idle_ms, "ms p99", "(today's shape)"))
    table.add(Row("signatures off the loop", results["sig"], idle_ms, "ms p99", "< 20 ms", results["sig"] < 20))
    table.add(Row("signatures and validation off the loop", results["all"], idle_ms, "ms p99", "< 20 ms", results["all"] < 20))
    return [table]
