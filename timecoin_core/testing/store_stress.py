"""``python -m timecoin_core.testing.store_stress PATH --blocks N --txs-per-block M``: a store writer to kill.

Appends blocks produced by a :class:`~timecoin_core.testing.LocalChain` (real votes,
finality certificates and commit certificates) to the store at ``PATH``, writing what a
masternode writes, in the order it must: its voted outpoints, its signed vote batches,
final transactions with their certificates, its signed block votes, then each
committed block with its commit certificate (and the voting set it fixes at an epoch
boundary). The crash test in ``tests/test_store_crash.py`` SIGKILLs it at random.

Determinism and resuming
------------------------
The chain is a pure function of ``--txs-per-block``, ``--seed`` and ``--masternodes``:
LocalChain is deterministic (fixed keys, a manual clock, deterministic Ed25519
signatures), and the transactions of step ``h`` come from a random generator seeded
with ``(seed, h)``. ``--blocks N`` only says where to stop. So the writer resumes by
replaying: it opens the store (start-up recovery: :func:`~timecoin_core.store.load_chain`
verifies it), re-runs the LocalChain from genesis up to the stored tip without writing,
checking that every replayed block has the stored block's hash and that the replayed
UTXO set commits to the stored commitment, and then goes on writing. Any resume point
therefore yields the same chain and the same UTXO commitment at every height. The
records of a step that was cut short (votes, finals recorded before the block) are
written again identically, which the store accepts (the writes are idempotent).

Output: ``opening`` before the store is opened, ``ready H`` once start-up is done
(H = the stored tip), then ``block h
commitment`` per committed block unless ``--quiet``; exit 0 when the store reaches
``N``, 2 for a store it cannot use, 3 for a store holding another chain.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..consensus.bft_messages import BlockVote, CommitCertificate
from ..consensus.finality_messages import FinalityCertificate, VoteBatch
from ..consensus.node import BlockCommitted, NodeAction, TxFinal
from ..consensus.sansio import Broadcast
from ..errors import TimecoinError
from ..store import SqliteStore, Store, load_chain
from ..transaction import OutPoint
from .local_chain import LocalChain, LocalWallet

__all__ = ["StressError", "StressRun", "main", "run_stress", "stress_chain"]

WALLETS = 6
WALLET_FUNDS = 1_000_000_000_000
EXIT_UNUSABLE = 2
EXIT_OTHER_CHAIN = 3


class StressError(TimecoinError):
    """The store at the path holds another chain than this run produces."""


class _RecordingChain(LocalChain):
    """A LocalChain that keeps what its first node did, for the store."""

    def __init__(self, masternodes: int) -> None:
        self.captured: list[NodeAction] = []
        super().__init__(masternodes)

    def _apply(self, index: int, actions: list[NodeAction]) -> None:
        if index == 0:
            self.captured.extend(actions)
        super()._apply(index, actions)


class _Writer:
    def __init__(self, chain: _RecordingChain, store: Store, stored_height: int, quiet: bool) -> None:
        self.chain = chain
        self.store = store
        self.stored_height = stored_height
        self.quiet = quiet
        self.me = chain.node.operator
        self.voted: dict[OutPoint, bytes] = {}

    async def flush(self, writing: bool) -> None:
        chain = self.chain
        node = chain.node
        current = node.finality.voted_outpoints()
        fresh: dict[bytes, list[OutPoint]] = {}
        for outpoint, txid in current.items():
            if self.voted.get(outpoint) != txid:
                fresh.setdefault(txid, []).append(outpoint)
        self.voted = current
        captured, chain.captured = chain.captured, []
        if not writing:
            return
        for txid, outpoints in fresh.items():
            await self.store.record_vote(txid, outpoints)
        for action in captured:
            if isinstance(action, Broadcast):
                message = action.message
                if isinstance(message, VoteBatch | BlockVote) and message.voter == self.me:
                    await self.store.record_signed_vote(message)
            elif isinstance(action, TxFinal):
                tx = chain.transaction(action.txid)
                if tx is not None:
                    await self.store.record_final(tx, action.certificate)
            elif isinstance(action, BlockCommitted):
                await self.commit(action)

    async def commit(self, action: BlockCommitted) -> None:
        block = action.block
        network = self.chain.network
        voting_set = None
        if block.height % network.epoch_length == 0:
            voting_set = self.chain.node.registry.voting_set(block.height // network.epoch_length)
        stored = await self.store.commit_block(block, action.certificate, voting_set=voting_set)
        self.stored_height = block.height
        if not self.quiet:
            print(f"block {block.height} {stored.utxo_commitment.hex()}", flush=True)


def _send_step(chain: LocalChain, wallets: list[LocalWallet], height: int, count: int, seed: int) -> None:
    rng = random.Random(f"timecoin-store-stress:{seed}:{height}")
    for _ in range(count):
        sender = rng.randrange(len(wallets))
        receiver = (sender + 1 + rng.randrange(len(wallets) - 1)) % len(wallets)
        wallets[sender].send(wallets[receiver], rng.randrange(1, 1000) * 100_000)


@dataclass
class StressRun:
    """An in-memory run of the stress workload, for tests: the chain and what it certified.

    ``commits[h]`` is the commit certificate of height ``h``, ``commitments[h]`` the
    UTXO commitment after it, ``certificates`` every finality certificate by txid
    (including those of ``pending`` final transactions sent after the last block).
    """

    chain: LocalChain
    commits: dict[int, CommitCertificate] = field(default_factory=dict)
    commitments: list[bytes] = field(default_factory=list)
    certificates: dict[bytes, FinalityCertificate] = field(default_factory=dict)
    pending: list[bytes] = field(default_factory=list)


def stress_chain(
    blocks: int, txs_per_block: int, *, masternodes: int = 1, seed: int = 0, pending: int = 0
) -> StressRun:
    """Produce the stress workload's first ``blocks`` blocks without a store, then
    ``pending`` more final transactions that no block includes yet."""
    chain = _RecordingChain(masternodes)
    run = StressRun(chain, commitments=[chain.node.chain.utxos.commitment()])
    wallets: list[LocalWallet] = []

    def collect() -> None:
        for action in chain.captured:
            if isinstance(action, TxFinal):
                run.certificates[action.txid] = action.certificate
            elif isinstance(action, BlockCommitted):
                run.commits[action.block.height] = action.certificate
        chain.captured = []

    for height in range(1, blocks + 1):
        if height == 1:
            wallets = [chain.wallet(f"stress-{i}", WALLET_FUNDS) for i in range(WALLETS)]
        _send_step(chain, wallets, height, txs_per_block, seed)
        chain.produce_block()
        collect()
        run.commitments.append(chain.node.chain.utxos.commitment())
    if pending:
        if not wallets:
            wallets = [chain.wallet(f"stress-{i}", WALLET_FUNDS) for i in range(WALLETS)]
        before = set(run.certificates)
        _send_step(chain, wallets, blocks + 1, pending, seed)
        collect()
        run.pending = [txid for txid in run.certificates if txid not in before]
    return run


async def run_stress(
    path: str,
    blocks: int,
    txs_per_block: int,
    *,
    masternodes: int = 1,
    seed: int = 0,
    quiet: bool = True,
) -> int:
    """Bring the store at ``path`` to height ``blocks`` (see the module docstring); return its height.

    Raises :class:`StressError` when the store holds another chain,
    :class:`~timecoin_core.store.StoreError` when it cannot be used.
    """
    chain = _RecordingChain(masternodes)
    print("opening", flush=True)
    async with SqliteStore.open(path, chain.network) as store:
        loaded = await load_chain(store)
        stored = loaded.height
        writer = _Writer(chain, store, stored, quiet)
        wallets: list[LocalWallet] = []
        for height in range(1, max(blocks, stored) + 1):
            writing = height > stored
            if writing and height == stored + 1:
                if chain.node.chain.utxos.commitment() != loaded.utxos.commitment():
                    raise StressError(f"replayed UTXO set at {stored} differs from the store's")
                print(f"ready {stored}", flush=True)
            if height > blocks:
                break
            if height == 1:
                wallets = [chain.wallet(f"stress-{i}", WALLET_FUNDS) for i in range(WALLETS)]
            _send_step(chain, wallets, height, txs_per_block, seed)
            await writer.flush(writing)
            block = chain.produce_block()
            await writer.flush(writing)
            if not writing:
                expected = loaded.block_at(height)
                if expected is None or expected.hash != block.hash:
                    raise StressError(f"the store's block {height} is not the one this run produces")
        if stored >= blocks:
            print(f"ready {stored}", flush=True)
        return writer.stored_height


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog="python -m timecoin_core.testing.store_stress",
        description="Append LocalChain blocks with votes and certificates to a store, resuming from what it holds.",
    )
    parser.add_argument("path")
    parser.add_argument("--blocks", type=int, required=True, help="the height to reach")
    parser.add_argument("--txs-per-block", type=int, required=True)
    parser.add_argument("--masternodes", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="print only the ready line")
    args = parser.parse_args(argv)
    if args.blocks < 0 or args.txs_per_block < 0 or args.masternodes < 1:
        parser.error("--blocks and --txs-per-block must be >= 0, --masternodes >= 1")
    try:
        height = asyncio.run(
            run_stress(
                args.path,
                args.blocks,
                args.txs_per_block,
                masternodes=args.masternodes,
                seed=args.seed,
                quiet=args.quiet,
            )
        )
    except StressError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_OTHER_CHAIN
    except TimecoinError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    print(f"done {height}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
