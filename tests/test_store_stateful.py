"""A hypothesis state machine: MemoryStore and SqliteStore side by side against a model.

The model is the domain itself: a :class:`ChainState` that validates and applies every
block, plus dicts for the votes, final transactions and locked values. After every step both stores
must describe the model exactly and agree with each other page for page, cursor for
cursor, refusal for refusal.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from timecoin_core.block import Block
from timecoin_core.builder import TransactionBuilder
from timecoin_core.chain import ChainState
from timecoin_core.consensus.bft_messages import BlockVote, VoteKind
from timecoin_core.consensus.finality_messages import FinalityCertificate, VoteBatch
from timecoin_core.consensus.locked_value import LockedValue
from timecoin_core.hashing import sha256
from timecoin_core.keys import PrivateKey
from timecoin_core.network import DEVNET, GenesisOutput
from timecoin_core.store import (
    BlockSequenceError,
    ConflictingVoteError,
    InconsistentBlockError,
    MemoryStore,
    SqliteStore,
    Store,
    load_chain,
)
from timecoin_core.transaction import OutPoint, Transaction, TxIn, TxOut

T = TypeVar("T")

KEYS = [PrivateKey.from_seed(bytes([i + 1]) * 32) for i in range(4)]
PROPOSER = PrivateKey.from_seed(b"\x42" * 32)
NETWORK = DEVNET.with_genesis(tuple(GenesisOutput(k.public_key.payload, 10**12) for k in KEYS))
OWNER = {k.public_key.payload: k for k in (*KEYS, PROPOSER)}
PAYLOADS = sorted(k.public_key.payload for k in KEYS)
TXIDS = [bytes([0xA0 + i]) * 32 for i in range(3)]
FEE = 10_000


class StoreMachine(RuleBasedStateMachine):
    """Both stores and the model, driven by the same random operations."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.directory = tempfile.mkdtemp(prefix="timecoin-store-")
        self.memory = MemoryStore(NETWORK)
        self.sqlite = self.run(SqliteStore.open(Path(self.directory) / "s.db", NETWORK))
        self.stores: list[Store] = [self.memory, self.sqlite]
        self.chain = ChainState(NETWORK)
        self.votes: dict[OutPoint, bytes] = {}
        self.finals: dict[bytes, tuple[Transaction, FinalityCertificate]] = {}
        self.precommits: dict[tuple[int, int], bytes] = {}  # (height, round) -> value id
        self.locked: dict[int, LockedValue] = {}  # height -> the lock of the highest round

    def run(self, awaitable: Awaitable[T]) -> T:
        return self.loop.run_until_complete(awaitable)

    def both(self, call: Callable[[Store], Awaitable[T]]) -> list[T]:
        return [self.run(call(store)) for store in self.stores]

    def teardown(self) -> None:
        self.run(self.sqlite.close())
        self.loop.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    # -- helpers -------------------------------------------------------------------------

    def reserved(self) -> set[OutPoint]:
        return {i.outpoint for tx, _ in self.finals.values() for i in tx.inputs}

    def live(self) -> list[tuple[OutPoint, TxOut]]:
        reserved = self.reserved()
        return sorted((c.outpoint, c.output) for c in self.chain.utxos if c.outpoint not in reserved)

    def spend(self, coins: list[tuple[OutPoint, TxOut]], payees: list[bytes]) -> Transaction:
        builder = TransactionBuilder(NETWORK)
        for outpoint, output in coins:
            builder.spend(outpoint, output, OWNER[output.payload])
        total = sum(o.amount for _, o in coins) - FEE
        shares = [total // len(payees)] * len(payees)
        shares[0] += total - sum(shares)
        for payee, amount in zip(payees, shares, strict=True):
            builder.pay(OWNER[payee].address(NETWORK), amount)
        return builder.build()

    # -- rules ---------------------------------------------------------------------------

    @rule(data=st.data())
    def commit(self, data: st.DataObject) -> None:
        blocks: list[Block] = []
        for _ in range(data.draw(st.integers(1, 2), label="blocks")):
            txs = [tx for tx, _ in self.finals.values() if data.draw(st.booleans(), label="include final")]
            included = {tx.txid for tx in txs}
            available = self.live()
            created: list[tuple[OutPoint, TxOut]] = []
            for _ in range(data.draw(st.integers(0, 3), label="transactions")):
                pool = available + created
                if not pool:
                    break
                picks = data.draw(st.lists(st.sampled_from(range(len(pool))), min_size=1, max_size=2, unique=True))
                coins = [pool[i] for i in picks]
                payees = data.draw(st.lists(st.sampled_from(PAYLOADS), min_size=1, max_size=2))
                tx = self.spend(coins, payees)
                txs.append(tx)
                available = [c for c in available if c not in coins]
                created = [c for c in created if c not in coins] + [
                    (OutPoint(tx.txid, i), out) for i, out in enumerate(tx.outputs)
                ]
            block = self.chain.build_block(PROPOSER, txs, timestamp=self.chain.tip.header.timestamp + 1)
            self.chain.apply_block(block)
            blocks.append(block)
            for txid in included:
                del self.finals[txid]
            for tx in block.transactions:
                for txin in tx.inputs:
                    self.votes.pop(txin.outpoint, None)
        if len(blocks) == 1 and data.draw(st.booleans(), label="one by one"):
            stored = self.both(lambda s: s.commit_block(blocks[0]))
            assert stored[0] == stored[1]
            assert stored[0].applied() == self.chain.applied(self.chain.height)
        else:
            assert self.both(lambda s: s.commit_blocks([(b, None) for b in blocks])) == [self.chain.height] * 2

    @rule(data=st.data())
    def refuse_bad_blocks(self, data: st.DataObject) -> None:
        tip = self.chain.tip
        ghost = Transaction([TxIn(OutPoint(b"\xee" * 32, data.draw(st.integers(0, 3))))], [TxOut(5, PAYLOADS[0])])
        block = Block.create(
            NETWORK, PROPOSER, height=tip.height + 1, prev_hash=tip.hash, timestamp=tip.header.timestamp + 1,
            transactions=[ghost],
        )
        skipped = Block.create(
            NETWORK, PROPOSER, height=tip.height + 2, prev_hash=tip.hash, timestamp=tip.header.timestamp + 1
        )
        for store in self.stores:
            with pytest.raises(InconsistentBlockError):
                self.run(store.commit_block(block))
            with pytest.raises(BlockSequenceError):
                self.run(store.commit_blocks([(skipped, None)]))

    @rule(data=st.data())
    def vote(self, data: st.DataObject) -> None:
        candidates = [op for op, _ in self.live()[:6]] + [OutPoint(b"\xee" * 32, i) for i in range(2)]
        outpoints = data.draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=2, unique=True))
        txid = data.draw(st.sampled_from(TXIDS))
        conflict = any(self.votes.get(op, txid) != txid for op in outpoints)
        for store in self.stores:
            if conflict:
                with pytest.raises(ConflictingVoteError):
                    self.run(store.record_vote(txid, outpoints))
            else:
                self.run(store.record_vote(txid, outpoints))
        if not conflict:
            self.votes.update(dict.fromkeys(outpoints, txid))

    @rule(ahead=st.integers(1, 3), round=st.integers(0, 3), value=st.sampled_from([b"block a", b"block b"]))
    def lock(self, ahead: int, round: int, value: bytes) -> None:
        # A precommit that locks, recorded with its value: both in one write, or neither.
        height = self.chain.height + ahead
        value_id = sha256(value)
        prevotes = [BlockVote.create(k, NETWORK.chain_id, VoteKind.PREVOTE, height, round, value_id) for k in KEYS]
        precommit = BlockVote.create(KEYS[0], NETWORK.chain_id, VoteKind.PRECOMMIT, height, round, value_id)
        locked = LockedValue.of(value, prevotes)
        conflict = self.precommits.get((height, round), value_id) != value_id
        for store in self.stores:
            if conflict:
                with pytest.raises(ConflictingVoteError):
                    self.run(store.record_signed_vote(precommit, locked=locked))
            else:
                self.run(store.record_signed_vote(precommit, locked=locked))
        if not conflict:
            self.precommits[(height, round)] = value_id
            kept = self.locked.get(height)
            if kept is None or kept.round <= round:
                self.locked[height] = locked

    @precondition(lambda self: len(self.finals) < 4)
    @rule(data=st.data())
    def final(self, data: st.DataObject) -> None:
        available = self.live()
        if not available:
            return
        coin = data.draw(st.sampled_from(available))
        tx = self.spend([coin], [data.draw(st.sampled_from(PAYLOADS))])
        batch = VoteBatch.create(PROPOSER, NETWORK.chain_id, 0, [tx.txid])
        certificate = FinalityCertificate(tx.txid, 0, (batch.entry(0),))
        assert self.both(lambda s: s.record_final(tx, certificate)) == [True, True]
        assert self.both(lambda s: s.record_final(tx, certificate)) == [False, False]
        self.finals[tx.txid] = (tx, certificate)

    @rule(payload=st.sampled_from([*PAYLOADS, PROPOSER.public_key.payload]), limit=st.integers(1, 4))
    def pages(self, payload: bytes, limit: int) -> None:
        for query in ("coins_of", "history_of"):
            cursor: str | None = None
            walked: list[Any] = []
            while True:
                pages = self.both(lambda s: getattr(s, query)(payload, limit=limit, cursor=cursor))  # noqa: B023
                assert pages[0] == pages[1]
                walked += pages[0].items
                cursor = pages[0].next_cursor
                if cursor is None:
                    break
            if query == "coins_of":
                assert tuple(walked) == self.chain.utxos.coins_of(payload, limit=10_000).coins

    @rule()
    def reload(self) -> None:
        for store in self.stores:
            loaded = self.run(load_chain(store))
            assert loaded.height == self.chain.height
            assert loaded.utxos.commitment() == self.chain.utxos.commitment()
            for height in range(self.chain.height + 1):
                assert loaded.applied(height) == self.chain.applied(height)

    # -- invariants ------------------------------------------------------------------------

    @invariant()
    def stores_describe_the_model(self) -> None:
        for meta in self.both(lambda s: s.metadata()):
            assert (meta.height, meta.tip_hash, meta.supply) == (
                self.chain.height,
                self.chain.tip.hash,
                self.chain.supply(),
            )
            assert (meta.utxo_commitment, meta.utxo_count) == (self.chain.utxos.commitment(), len(self.chain.utxos))
        assert self.both(lambda s: s.voted_outpoints()) == [self.votes] * 2
        assert self.both(lambda s: s.final_transactions()) == [list(self.finals.values())] * 2
        # Committing a height forgets its lock.
        pending = [self.locked[h] for h in sorted(self.locked) if h > self.chain.height]
        assert self.both(lambda s: s.locked_values()) == [pending] * 2


StoreMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
test_stores_follow_the_model = StoreMachine.TestCase
