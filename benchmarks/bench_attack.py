"""What a crafted message costs a node, per attacker KB, next to an honest message of its type.

For each message type a peer can send, the worst crafted message the consensus reviews
found is handed to a real :class:`~timecoin_core.consensus.ConsensusNode` (one of a
four-masternode LocalChain) many times, each a fresh variant so no cache answers it,
and the CPU the node spends is divided by the bytes the attacker sent. The reference is
an honest message of the same type measured the same way in the same run; the ratio is
crafted / honest CPU per KB. Goal: no crafted message costs more than a small constant
(here 2x) times an honest one of its size.

Thread CPU time, so other load on the machine does not skew the figures.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from timecoin_core import TransactionBuilder, coins
from timecoin_core.block import Block
from timecoin_core.consensus import (
    BlockVote,
    ConsensusNode,
    FinalityCertificate,
    ProposalValue,
    VoteBatch,
)
from timecoin_core.consensus.bft_messages import VoteKind
from timecoin_core.consensus.finality_messages import CertificateEntry
from timecoin_core.keys import PrivateKey
from timecoin_core.testing import LocalChain
from timecoin_core.transaction import OutPoint, Transaction, TxIn, TxOut

from ._table import Row, Table

TARGET = 2.0


def _cpu_per_kb(node: ConsensusNode, messages: Sequence[object], sizes: Sequence[int]) -> float:
    now = node._now
    start = time.thread_time()
    for message in messages:
        node.handle(message, now)  # type: ignore[arg-type]
    spent = time.thread_time() - start
    return spent * 1e6 / (sum(sizes) / 1024)


def _row(table: Table, name: str, crafted: float, honest: float) -> None:
    ratio = crafted / honest
    table.add(Row(name, crafted, honest, "us/KB", f"<= {TARGET:.0f}x honest", ratio <= TARGET))


def run() -> list[Table]:
    """Measure every message type; one table."""
    table = Table("CPU a node spends per attacker KB: crafted vs honest messages of the same type")
    chain = LocalChain(4, auto_finality=False)
    funded = [chain.wallet(f"w{i}", balance=coins("50")) for i in range(4)]
    chain.produce_blocks(2)
    node = chain.nodes[1]
    rich = chain.wallet("rich", balance=coins("1000"))
    chain.produce_block()

    # -- transactions -------------------------------------------------------------------
    base = rich.coins()[0]
    fan, *spends = _fan_out(chain, rich.key, base.outpoint, base.output, 300)
    chain.submit(fan)
    chain.finalize()
    chain.produce_block()  # the honest spends below have confirmed parents
    honest = _cpu_per_kb(node, spends, [t.size for t in spends])

    orphans = [_junk(i, 100_000) for i in range(40)]
    _row(table, "Tx: unsigned orphan flood (100 KB, unknown inputs)", _cpu_per_kb(node, orphans, [t.size for t in orphans]), honest)

    victim = funded[0].coins()[0]
    variants = [
        TransactionBuilder(chain.network).spend(victim.outpoint, victim.output, funded[0].key)
        .pay(funded[0].address, victim.amount - coins("0.01") - i).build()
        for i in range(300)
    ]
    node.handle(variants[0], node._now)
    _row(table, "Tx: double-spend variants of one coin", _cpu_per_kb(node, variants[1:], [t.size for t in variants[1:]]), honest)

    # -- block votes for an old height ------------------------------------------------
    voter = chain.masternode_keys[2]
    genuine = [BlockVote.create(voter, chain.network.chain_id, VoteKind.PREVOTE, 1, r, None) for r in range(300)]
    forged = [BlockVote(v.kind, v.height, v.round, v.value_id, v.voter, bytes([r % 256]) * 64) for r, v in enumerate(genuine)]
    size = len(genuine[0].to_bytes())
    honest_vote = _cpu_per_kb(node, genuine, [size] * len(genuine))
    _row(table, "BlockVote: forged votes for an old height", _cpu_per_kb(node, forged, [size] * len(forged)), honest_vote)

    # -- vote batches ------------------------------------------------------------------
    epoch = node.finality.epoch
    txids = [bytes([i % 256, i // 256]) + bytes(30) for i in range(4000)]
    honest_batches = [VoteBatch.create(chain.masternode_keys[3], chain.network.chain_id, epoch, txids[:k]) for k in range(40, 80)]
    honest_batch = _cpu_per_kb(node, honest_batches, [len(b.to_bytes()) for b in honest_batches])
    stranger = PrivateKey.from_seed(b"\x66" * 32)
    big = [VoteBatch.create(stranger, chain.network.chain_id, epoch, txids[k : k + 4000 - 40]) for k in range(20)]
    _row(table, "VoteBatch: non-voter, 128 KB", _cpu_per_kb(node, big, [len(b.to_bytes()) for b in big]), honest_batch)
    early = [VoteBatch.create(chain.masternode_keys[3], chain.network.chain_id, epoch + 1, txids[k : k + 400]) for k in range(60)]
    _row(table, "VoteBatch: next-epoch flood from one voter", _cpu_per_kb(node, early, [len(b.to_bytes()) for b in early]), honest_batch)

    # -- proposals ---------------------------------------------------------------------
    # The transactions above are final now: the next block carries 300 of them with
    # their certificates. Each value is validated afresh (the verdict cache cleared),
    # signatures already met in votes answered by the node's verifier cache, as on a
    # live node.
    for tx in spends:
        chain.submit(tx)
    chain.finalize()
    proposer = chain.masternode_keys[0]
    height = node.chain.height + 1
    _, value = chain.nodes[0].build_value(height, 0)
    honest_prop = _validate_per_kb(node, height, [value] * 20)
    parsed = ProposalValue.from_bytes(value, chain.network.max_block_size)
    block = parsed.block
    # A byzantine proposer's worst: the same block re-signed with digests of junk
    # certificates (one per transaction, so every count matches), junk beside it.
    junk = tuple(_junk_certificate(i) for i in range(len(block.transactions)))
    forged_block = Block.create(
        chain.network, proposer, height=block.height, prev_hash=block.header.prev_hash,
        timestamp=block.header.timestamp, transactions=block.transactions,
        certificate_digests=[c.digest() for c in junk], rewards=block.rewards, evidence=block.evidence,
    )
    bad = ProposalValue(forged_block, junk).to_bytes()
    _row(table, f"Proposal: {len(junk)} junk certificates, digests matching", _validate_per_kb(node, height, [bad] * 20), honest_prop)
    return [table]


def _validate_per_kb(node: ConsensusNode, height: int, values: Sequence[bytes]) -> float:
    start = time.thread_time()
    for value in values:
        node._validated.clear()
        node.validate_value(height, value)
    spent = time.thread_time() - start
    return spent * 1e6 / (sum(len(v) for v in values) / 1024)


def _fan_out(chain: LocalChain, key: PrivateKey, outpoint: OutPoint, output: TxOut, count: int) -> list[Transaction]:
    # One funding transaction with many outputs, then one spend of each: distinct,
    # valid, signed transactions of the usual shape.
    amount = (output.amount - coins("1")) // count
    builder = TransactionBuilder(chain.network).spend(outpoint, output, key)
    for _ in range(count):
        builder.pay(key.address(chain.network), amount)
    fan = builder.build()
    spends = [
        TransactionBuilder(chain.network).spend(OutPoint(fan.txid, i), fan.outputs[i], key)
        .pay(key.address(chain.network), amount - coins("0.001")).build()
        for i in range(count)
    ]
    return [fan, *spends]


def _junk(i: int, size: int) -> Transaction:
    inputs = [TxIn(OutPoint(i.to_bytes(4, "big") + bytes(28), k)) for k in range(size // 140)]
    return Transaction(inputs, [TxOut(1, bytes(20))])


def _junk_certificate(i: int) -> FinalityCertificate:
    key = PrivateKey.from_seed(i.to_bytes(32, "big"))
    batch = VoteBatch.create(key, 3, 0, [i.to_bytes(32, "big")])
    return FinalityCertificate(i.to_bytes(32, "big"), 0, (CertificateEntry.from_batch(batch, i.to_bytes(32, "big")),))

