"""Block sync's apply path against ChainState.apply_block of the same blocks.

A chain of 10,000 committed blocks is built once (4 masternodes; every block carries
its parent's commit certificate, every tenth block also two one-input, two-output
transactions with their finality certificates), then applied to fresh nodes three ways, alternately,
best of a few rounds:

* **reference**: ``ChainState.apply_block`` of a fresh node's chain (the consensus
  validator: proposer, parent commit record, finality certificates of the
  transactions, every transaction signature) — applying a decided block — plus the
  registry update without which the next block's voting set is unknown, nothing else;
* **apply_commit**: ``ConsensusNode.apply_commit`` of each served commit (block plus
  commit certificate, checked against the height's voting set, without the finality
  certificates) and everything a commit changes in the node (pool, registry, engines);
* **sync path**: the same, with the pages ``ConsensusNode.blocks_page`` served (once, up
  front: they arrive from the network) fed through a
  :class:`~timecoin_core.consensus.sync.SyncPlanner` — all the syncing node does, minus
  the network. Serving the pages is timed on its own row (the serving peer's cost).

Both sides start from bytes: the reference decodes each stored block, the sync path
each commit's value.

Each node has its own signature cache, so every signature is verified once per node
(the commit certificate of height ``h`` and the parent record of block ``h + 1`` are the
same signatures). Target: the sync path at >= 0.8x the reference's blocks per second.
Times are CPU seconds of the calling thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from timecoin_core.amount import coins
from timecoin_core.block import Block
from timecoin_core.builder import TransactionBuilder
from timecoin_core.consensus import (
    Commit,
    ConsensusNode,
    ProposalValue,
    SendTo,
    VoteBatch,
    VoteKind,
)
from timecoin_core.consensus.bft_messages import BlockVote, CommitCertificate
from timecoin_core.consensus.finality_messages import FinalityCertificate
from timecoin_core.consensus.records import decode_record
from timecoin_core.consensus.sync import ApplyCommit, SyncPlanner
from timecoin_core.keys import PrivateKey
from timecoin_core.network import DEVNET, GenesisMasternode, GenesisOutput, Network, Tier
from timecoin_core.transaction import OutPoint, TxOut
from timecoin_core.wire.messages import Blocks, GetBlocks, GetStatus

from ._table import Row, Table

BLOCKS = 10_000
TXS_PER_BLOCK = 2
TX_EVERY = 10
MASTERNODES = 4
TARGET = 0.8
REPEAT = 2


def build_chain(
    blocks: int = BLOCKS, txs_per_block: int = TXS_PER_BLOCK, every: int = TX_EVERY
) -> tuple[ConsensusNode, list[ProposalValue]]:
    """A node holding ``blocks`` committed blocks (``txs_per_block`` transactions in every
    ``every``-th), and each block's proposal value."""
    keys = [PrivateKey.from_seed(bytes([7, i]) * 16) for i in range(MASTERNODES)]
    payer = PrivateKey.from_seed(b"\x09" * 32)
    amount = coins("10")
    count = (blocks // every + 1) * txs_per_block
    outputs = [GenesisOutput(k.public_key.payload, Tier.BRONZE.collateral) for k in keys]
    outputs += [GenesisOutput(payer.public_key.payload, amount) for _ in range(count)]
    network: Network = DEVNET.with_genesis(
        tuple(outputs), tuple(GenesisMasternode(k.public_key.data, i) for i, k in enumerate(keys))
    )
    node = ConsensusNode(network, keys[0])
    cid = network.chain_id
    genesis = node.chain.genesis.reward_txid
    now = float(network.genesis_timestamp)
    values: list[ProposalValue] = []
    coin = len(keys)
    for height in range(1, blocks + 1):
        now += 1.0
        txs = []
        for _ in range(txs_per_block if height % every == 0 else 0):
            tx = (
                TransactionBuilder(network)
                .spend(OutPoint(genesis, coin), TxOut(amount, payer.public_key.payload), payer)
                .pay(keys[1].address(network), coins("1"))
                .pay(payer.address(network), amount - coins("1") - 10_000)
                .build()
            )
            coin += 1
            node.handle(tx, now)
            txs.append(tx)
        if txs:
            epoch = node.finality.epoch
            for key in keys:
                node.handle(VoteBatch.create(key, cid, epoch, [t.txid for t in txs]), now)
        value_id, raw = node.build_value(height, 0)
        value = ProposalValue.from_bytes(raw, network.max_block_size)
        assert len(value.block.transactions) == len(txs), "transactions were not final"
        votes = [BlockVote.create(k, cid, VoteKind.PRECOMMIT, height, 0, value_id) for k in keys]
        node.apply_commit(Commit(raw, CommitCertificate.from_votes(votes)), now, wall=now + 100)
        values.append(value)
    return node, values


def _cpu(fn: Callable[[], object]) -> float:
    start = time.thread_time()
    fn()
    return time.thread_time() - start


def _reference(server: ConsensusNode, blocks: list[bytes], proofs: list[tuple[FinalityCertificate, ...]]) -> Callable[[], object]:
    def run() -> None:
        node = ConsensusNode(server.network, None)
        limit = server.network.max_block_size
        for raw, proof in zip(blocks, proofs, strict=True):
            # Stored blocks are bytes: decoding is part of applying them, as for a commit.
            block = Block.from_bytes(raw, max_size=limit)
            node.chain.apply_block(block, node.verifier, proof=proof)
            # The next block is checked against the voting set the registry keeps.
            records = [decode_record(r) for r in block.evidence]
            voters = next((r.voters for r in records if isinstance(r, CommitCertificate)), ())
            node.registry.apply_block(block.height, block.transactions, [], voters)
        assert node.chain.tip.hash == server.chain.tip.hash

    return run


def _apply_commit(server: ConsensusNode, commits: list[Commit], now: float) -> Callable[[], object]:
    def run() -> None:
        node = ConsensusNode(server.network, None)
        for commit in commits:
            node.apply_commit(commit, now)
        assert node.chain.tip.hash == server.chain.tip.hash

    return run


def _sync_path(server: ConsensusNode, pages: dict[int, Blocks], now: float) -> Callable[[], object]:
    def run() -> None:
        node = ConsensusNode(server.network, None)
        clock = now
        planner = SyncPlanner(0, clock)
        work = list(planner.add_peer("server", clock))
        while work:
            action = work.pop(0)
            if isinstance(action, SendTo):
                if isinstance(action.message, GetStatus):
                    work += planner.on_status("server", server.status(), clock)
                elif isinstance(action.message, GetBlocks):
                    work += planner.on_blocks("server", pages[action.message.start], clock)
            elif isinstance(action, ApplyCommit):
                node.apply_commit(action.commit, clock)
                work += planner.applied(node.chain.height, clock)
            if not work and node.chain.height < server.chain.height:
                # The planner paces its requests to one peer; time passes between them.
                clock += planner.config.min_request_interval
                work += planner.poll(clock)
        assert node.chain.tip.hash == server.chain.tip.hash

    return run


def _serve(server: ConsensusNode, blocks: int) -> Callable[[], object]:
    def run() -> None:
        for start in range(1, blocks + 1, 64):
            server.blocks_page(GetBlocks(start, 64, 2**32 - 1))

    return run


def run(blocks: int = BLOCKS, repeat: int = REPEAT) -> list[Table]:
    """Build the chain, then time the ways of applying it."""
    server, values = build_chain(blocks)
    now = float(server.chain.tip.header.timestamp)
    # The planner asks for 64-height pages from height 1 on: serve them once, up front
    # (what arrives from the network), so the sync path times the syncing node alone.
    pages = {h: server.blocks_page(GetBlocks(h, 64, 2**32 - 1)) for h in range(1, blocks + 1, 64)}
    commits = [c for page in pages.values() for c in page.commits]
    timed = {
        "reference": _reference(server, [v.block.to_bytes() for v in values], [v.certificates for v in values]),
        "apply_commit": _apply_commit(server, commits, now),
        "sync path": _sync_path(server, pages, now),
        "serving": _serve(server, blocks),
    }
    best = dict.fromkeys(timed, float("inf"))
    for _ in range(repeat):
        for name, fn in timed.items():
            best[name] = min(best[name], _cpu(fn))
    table = Table(
        f"Block sync: {blocks:,} blocks ({TXS_PER_BLOCK} transactions in every {TX_EVERY}th), "
        f"{MASTERNODES} masternodes"
    )
    reference = blocks / best["reference"]
    for name, label in (("apply_commit", "apply_commit"), ("sync path", "planner + apply_commit")):
        rate = blocks / best[name]
        table.add(
            Row(f"{label} (ref: ChainState.apply_block)", rate, reference, "blocks/s", f">= {TARGET}x",
                rate / reference >= TARGET)
        )
    table.add(Row("serving: blocks_page (64 per page)", blocks / best["serving"], None, "blocks/s"))
    return [table]


if __name__ == "__main__":
    for t in run():
        print(t.render())
