"""The Store conformance suite: what every :class:`~timecoin_core.store.Store` must do.

MemoryStore and SqliteStore pass it, and so must any third-party implementation::

    from timecoin_core.testing import check_store

    async def make_store(network):          # a fresh, empty store for ``network``
        return MyStore(network)

    await check_store(make_store)           # raises AssertionError on the first failure

The reference is the domain: a LocalChain run (:func:`store_workload`, the stress
workload) whose ChainState, UtxoSet pages and commitments every store must reproduce
exactly. Each check is also available on its own in :data:`STORE_CHECKS` (name ->
``check(make_store, workload)``), so a test suite can report them one by one, as
``tests/test_store_conformance.py`` does with pytest. Stores a check opens are left
open for the factory's owner to close (except in ``closed_stores_refuse_work``).
Failures are ``AssertionError`` (run without ``-O``). Needs no pytest.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from types import MappingProxyType

from ..block import Block
from ..chain import ChainState
from ..consensus.bft_messages import BlockVote, DoubleVoteEvidence, VoteKind
from ..consensus.finality_messages import VoteBatch
from ..consensus.locked_value import LockedValue
from ..consensus.records import encode_record
from ..consensus.registry import epoch_of
from ..errors import InvalidArgumentError
from ..hashing import sha256
from ..keys import PrivateKey
from ..network import Network
from ..store import (
    BanRecord,
    BlockSequenceError,
    ConflictingVoteError,
    HistoryEntry,
    InconsistentBlockError,
    InvalidCursorError,
    PeerRecord,
    Store,
    StoreClosedError,
    load_chain,
    load_node_state,
)
from ..transaction import OutPoint, Transaction, TxIn, TxOut
from ..utxo import Coin, CoinState
from ._expect import raises
from .store_stress import StressRun, stress_chain

__all__ = ["STORE_CHECKS", "StoreCheck", "StoreFactory", "check_store", "store_workload"]

StoreFactory = Callable[[Network], Awaitable[Store]]
"""Makes a fresh, empty store for a network (async: opening a store may do I/O)."""

StoreCheck = Callable[[StoreFactory, StressRun], Awaitable[None]]
"""One conformance check: ``await check(make_store, workload)``."""

MakeStore = StoreFactory
WORKLOAD_BLOCKS = 24


def store_workload(blocks: int = WORKLOAD_BLOCKS, masternodes: int = 4) -> StressRun:
    """The reference run the checks compare stores with: ``blocks`` blocks of a LocalChain.

    Costly (a few seconds for the default); make it once and pass it to every check.
    ``blocks`` must be at least 12 (the checks look at an epoch boundary and beyond).
    """
    if type(blocks) is not int or blocks < 12:
        raise InvalidArgumentError("blocks", f"a store workload needs at least 12 blocks, got {blocks!r}")
    return stress_chain(blocks, masternodes, pending=3)


def _blocks(run: StressRun) -> int:
    return run.chain.height


async def _filled(make_store: MakeStore, run: StressRun, upto: int | None = None) -> Store:
    upto = _blocks(run) if upto is None else upto
    store = await make_store(run.chain.network)
    chain = run.chain.node.chain
    for height in range(1, upto + 1):
        block = chain.block_at(height)
        assert block is not None
        stored = await store.commit_block(block, run.commits[height])
        assert stored.utxo_commitment == run.commitments[height]
    return store


def _chain(run: StressRun) -> ChainState:
    return run.chain.node.chain


def _payloads(run: StressRun) -> list[bytes]:
    return sorted({coin.payload for coin in _chain(run).utxos})


def _expected_history(chain: ChainState, payload: bytes) -> list[HistoryEntry]:
    entries = []
    for height in range(chain.height + 1):
        applied = chain.applied(height)
        assert applied is not None
        block = applied.block
        spent = iter(applied.spent)
        for position, tx in enumerate(block.transactions):
            sent = sum(coin.amount for coin in (next(spent) for _ in tx.inputs) if coin.payload == payload)
            received = sum(o.amount for o in tx.outputs if o.payload == payload)
            if sent or received or any(o.payload == payload for o in tx.outputs):
                entries.append(HistoryEntry(tx.txid, height, position, received, sent))
        received = sum(o.amount for o in block.rewards if o.payload == payload)
        if any(o.payload == payload for o in block.rewards):
            entries.append(HistoryEntry(block.reward_txid, height, len(block.transactions), received, 0))
    return entries


# -- the chain -------------------------------------------------------------------------


async def check_a_new_store_holds_genesis(make_store: MakeStore, run: StressRun) -> None:
    store = await make_store(run.chain.network)
    meta = await store.metadata()
    fresh = ChainState(run.chain.network)
    assert (meta.height, meta.tip_hash, meta.genesis_hash) == (0, fresh.genesis.hash, fresh.genesis.hash)
    assert meta.utxo_commitment == fresh.utxos.commitment()
    assert meta.utxo_count == len(fresh.utxos)
    assert meta.supply == fresh.supply()
    assert meta.network == run.chain.network
    genesis = await store.block(0)
    assert genesis is not None and genesis.block == fresh.genesis and genesis.certificate is None
    assert await store.voting_set(0) == run.chain.node.registry.voting_set(0)


async def check_committed_blocks_reproduce_the_chain(make_store: MakeStore, run: StressRun) -> None:
    store = await _filled(make_store, run)
    chain = _chain(run)
    meta = await store.metadata()
    assert (meta.height, meta.tip_hash) == (chain.height, chain.tip.hash)
    assert (meta.utxo_commitment, meta.utxo_count, meta.supply) == (
        chain.utxos.commitment(),
        len(chain.utxos),
        chain.supply(),
    )
    for height in range(chain.height + 1):
        stored = await store.block(height)
        assert stored is not None
        assert stored.applied() == chain.applied(height)
        assert stored.certificate == run.commits.get(height)
        assert stored.utxo_commitment == run.commitments[height]
        assert await store.block_by_hash(stored.hash) == stored
    assert await store.block(chain.height + 1) is None
    assert await store.block_by_hash(bytes(32)) is None


async def check_transactions_are_indexed(make_store: MakeStore, run: StressRun) -> None:
    store = await _filled(make_store, run)
    chain = _chain(run)
    for height in (1, 7, _blocks(run)):
        block = chain.block_at(height)
        assert block is not None
        for position, tx in enumerate(block.transactions):
            found = await store.transaction(tx.txid)
            assert found is not None
            assert (found.tx, found.height, found.position) == (tx, height, position)
            assert found.certificate is None  # never recorded as final here
    assert await store.transaction(bytes(32)) is None
    with raises(ValueError):
        await store.transaction(b"short")


async def check_streams_equal_the_chain(make_store: MakeStore, run: StressRun) -> None:
    store = await _filled(make_store, run)
    chain = _chain(run)
    streamed = [stored.applied() async for stored in store.iter_blocks()]
    assert streamed == [chain.applied(h) for h in range(chain.height + 1)]
    assert [s.height async for s in store.iter_blocks(5, 9)] == [5, 6, 7, 8]
    assert [s.height async for s in store.iter_blocks(_blocks(run) + 5)] == []
    coins = [coin async for coin in store.iter_coins()]
    assert [c.outpoint for c in coins] == sorted(c.outpoint for c in chain.utxos)
    for coin in coins:
        assert chain.utxos.coin(coin.outpoint) == coin


# -- pages -----------------------------------------------------------------------------


async def check_coin_pages_walk_every_coin_once(make_store: MakeStore, run: StressRun) -> None:
    store = await _filled(make_store, run)
    utxos = _chain(run).utxos
    for limit, payload in ((limit, p) for limit in (1, 3, 100) for p in _payloads(run)):
        seen: list[Coin] = []
        cursor = None
        while True:
            page = await store.coins_of(payload, limit=limit, cursor=cursor)
            assert len(page.items) <= limit
            seen += page.items
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        expected = utxos.coins_of(payload, limit=10_000).coins
        assert tuple(seen) == expected
        for coin in seen:
            assert await store.coin(coin.outpoint) == coin
            assert coin.state is CoinState.UNSPENT
    empty = await store.coins_of(bytes(20))
    assert empty.items == () and empty.next_cursor is None
    assert await store.coin(OutPoint(bytes(32), 0)) is None


async def check_history_pages(make_store: MakeStore, run: StressRun) -> None:
    store = await _filled(make_store, run)
    chain = _chain(run)
    for payload in _payloads(run)[:4]:
        seen: list[HistoryEntry] = []
        cursor = None
        while True:
            page = await store.history_of(payload, limit=2, cursor=cursor)
            seen += page.items
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == _expected_history(chain, payload)


async def check_block_range_pages(make_store: MakeStore, run: StressRun) -> None:
    store = await _filled(make_store, run)
    heights = []
    cursor = None
    while True:
        page = await store.blocks(2, 20, limit=4, cursor=cursor)
        heights += [s.height for s in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert heights == list(range(2, 20))
    to_tip = await store.blocks(_blocks(run) - 2)
    assert [s.height for s in to_tip.items] == [_blocks(run) - 2, _blocks(run) - 1, _blocks(run)] and to_tip.next_cursor is None
    assert (await store.blocks(_blocks(run) + 1)).items == ()
    first = await store.blocks(2, 20, limit=4)
    assert first.next_cursor is not None
    with raises(InvalidCursorError):
        await store.blocks(3, 20, limit=4, cursor=first.next_cursor)


async def check_block_transaction_pages(make_store: MakeStore, run: StressRun) -> None:
    store = await _filled(make_store, run)
    block = _chain(run).block_at(1)
    assert block is not None and len(block.transactions) > 3
    txs: list[Transaction] = []
    cursor = None
    while True:
        page = await store.block_transactions(1, limit=2, cursor=cursor)
        txs += page.items
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert tuple(txs) == block.transactions
    assert (await store.block_transactions(0)).items == ()
    assert (await store.block_transactions(_blocks(run) + 3)).items == ()
    page = await store.block_transactions(1, limit=1)
    assert page.next_cursor is not None
    with raises(InvalidCursorError):
        await store.block_transactions(2, limit=1, cursor=page.next_cursor)


async def check_bad_cursors_are_typed_errors(make_store: MakeStore, run: StressRun) -> None:
    store = await _filled(make_store, run)
    payloads = _payloads(run)
    rich = max(payloads, key=lambda p: len(_chain(run).utxos.coins_of(p, limit=10_000).coins))
    page = await store.coins_of(rich, limit=1)
    cursor = page.next_cursor
    assert cursor is not None
    tampered = cursor[:-2] + ("A" if cursor[-2] != "A" else "B") + cursor[-1]
    other = next(p for p in payloads if p != rich)
    for bad in ("", "!!!", "AAAA", tampered, cursor + "A", cursor[:-1]):
        with raises(InvalidCursorError):
            await store.coins_of(rich, cursor=bad)
    with raises(InvalidCursorError):
        await store.coins_of(other, cursor=cursor)  # another address
    with raises(InvalidCursorError):
        await store.history_of(rich, cursor=cursor)  # another kind of query
    with raises(InvalidCursorError):
        await store.coins_of(rich, cursor=b"bytes")  # type: ignore[arg-type]
    with raises(ValueError):
        await store.coins_of(rich, limit=0)
    with raises(ValueError):
        await store.coins_of(b"x" * 19)


# -- writes that must be refused ------------------------------------------------------------


def _block_on(meta_height: int, tip: bytes, txs: list[Transaction], timestamp: int, network: Network) -> Block:
    key = PrivateKey.from_seed(bytes(32))
    return Block.create(
        network, key, height=meta_height + 1, prev_hash=tip, timestamp=timestamp, transactions=txs
    )


async def check_blocks_that_do_not_extend_the_tip_are_refused(make_store: MakeStore, run: StressRun) -> None:
    store = await _filled(make_store, run, upto=5)
    chain = _chain(run)
    before = await store.metadata()
    for height in (3, 5, 7):
        block = chain.block_at(height)
        assert block is not None
        with raises(BlockSequenceError):
            await store.commit_block(block, run.commits[height])
    orphan = _block_on(5, bytes(32), [], chain.tip.header.timestamp, run.chain.network)
    with raises(BlockSequenceError):
        await store.commit_block(orphan)
    wrong_certificate = chain.block_at(6)
    assert wrong_certificate is not None
    with raises(ValueError):
        await store.commit_block(wrong_certificate, run.commits[5])
    assert await store.metadata() == before


async def check_blocks_contradicting_the_utxo_set_change_nothing(make_store: MakeStore, run: StressRun) -> None:
    store = await _filled(make_store, run, upto=5)
    chain = _chain(run)
    before = await store.metadata()
    coins_before = [c async for c in store.iter_coins()]
    payload = bytes(range(20))
    good = next(iter(chain.utxos))
    missing = Transaction([TxIn(OutPoint(bytes(31) + b"\x01", 0))], [TxOut(1, payload)])
    spends_good = Transaction([TxIn(good.outpoint)], [TxOut(1, payload)])
    existing = chain.block_at(2)
    assert existing is not None
    for txs in ([spends_good, missing], [existing.transactions[0]], [spends_good, spends_good]):
        block = _block_on(before.height, before.tip_hash, txs, 2_000_000_000, run.chain.network)
        with raises(InconsistentBlockError):
            await store.commit_block(block)
        with raises(InconsistentBlockError):
            await store.commit_blocks([(block, None)])
    assert await store.metadata() == before
    assert [c async for c in store.iter_coins()] == coins_before
    assert (await store.history_of(payload)).items == ()


async def check_commit_blocks_equals_one_by_one(make_store: MakeStore, run: StressRun) -> None:
    one = await _filled(make_store, run)
    bulk = await make_store(run.chain.network)
    chain = _chain(run)
    blocks = [(chain.block_at(h), run.commits[h]) for h in range(1, _blocks(run) + 1)]
    assert await bulk.commit_blocks(blocks[:10]) == 10  # type: ignore[arg-type]
    assert await bulk.commit_blocks(blocks[10:]) == _blocks(run)  # type: ignore[arg-type]
    assert await bulk.metadata() == await one.metadata()
    assert [s async for s in bulk.iter_blocks()] == [s async for s in one.iter_blocks()]
    for payload in _payloads(run):
        assert await bulk.history_of(payload, limit=1000) == await one.history_of(payload, limit=1000)
    assert await bulk.commit_blocks([]) == _blocks(run)


# -- consensus records ---------------------------------------------------------------------


async def check_votes_are_idempotent_refuse_conflicts_and_leave_with_their_block(
    make_store: MakeStore, run: StressRun
) -> None:
    store = await _filled(make_store, run, upto=_blocks(run) - 1)
    block = _chain(run).block_at(_blocks(run))
    assert block is not None
    tx = block.transactions[0]
    outpoints = [i.outpoint for i in tx.inputs]
    unrelated = OutPoint(bytes(32), 7)
    await store.record_vote(tx.txid, outpoints)
    await store.record_vote(tx.txid, outpoints)
    await store.record_vote(b"\x05" * 32, [unrelated])
    with raises(ConflictingVoteError):
        await store.record_vote(b"\x06" * 32, [unrelated, outpoints[0]])
    with raises(ConflictingVoteError):
        await store.record_vote(b"\x06" * 32, [OutPoint(bytes(32), 8), unrelated])
    assert await store.voted_outpoints() == {**dict.fromkeys(outpoints, tx.txid), unrelated: b"\x05" * 32}
    await store.commit_block(block, run.commits[_blocks(run)])
    assert await store.voted_outpoints() == {unrelated: b"\x05" * 32}
    with raises(ValueError):
        await store.record_vote(b"short", outpoints)
    with raises(ValueError):
        await store.record_vote(tx.txid, [])


async def check_signed_votes_refuse_double_signing_and_are_pruned(make_store: MakeStore, run: StressRun) -> None:
    store = await _filled(make_store, run, upto=_blocks(run) - 1)
    network = run.chain.network
    key = run.chain.masternode_keys[0]
    height = _blocks(run)
    prevote = BlockVote.create(key, network.chain_id, VoteKind.PREVOTE, height, 0, b"\x01" * 32)
    other = BlockVote.create(key, network.chain_id, VoteKind.PREVOTE, height, 0, b"\x02" * 32)
    precommit = BlockVote.create(key, network.chain_id, VoteKind.PRECOMMIT, height, 0, b"\x01" * 32)
    later = BlockVote.create(key, network.chain_id, VoteKind.PREVOTE, height + 1, 0, None)
    epoch = epoch_of(height, network.epoch_length)
    batch = VoteBatch.create(key, network.chain_id, epoch, [b"\x03" * 32])
    old_batch = VoteBatch.create(key, network.chain_id, epoch - 1, [b"\x04" * 32])
    for vote in (prevote, precommit, later, batch, old_batch, prevote, batch):
        await store.record_signed_vote(vote)
    with raises(ConflictingVoteError):
        await store.record_signed_vote(other)
    assert await store.signed_votes() == [prevote, precommit, later, batch, old_batch]
    block = _chain(run).block_at(height)
    assert block is not None
    await store.commit_block(block, run.commits[height])
    kept = await store.signed_votes()
    assert later in kept and prevote not in kept and precommit not in kept
    assert (batch in kept) == (epoch_of(height + 1, network.epoch_length) <= epoch)
    assert old_batch not in kept


async def check_locked_values_are_recorded_with_their_precommit_and_pruned(
    make_store: MakeStore, run: StressRun
) -> None:
    store = await _filled(make_store, run, upto=_blocks(run) - 1)
    network = run.chain.network
    keys = run.chain.masternode_keys
    height = _blocks(run)

    def lock(at: int, round: int, value: bytes) -> tuple[BlockVote, LockedValue]:
        value_id = sha256(value)
        prevotes = [BlockVote.create(k, network.chain_id, VoteKind.PREVOTE, at, round, value_id) for k in keys]
        precommit = BlockVote.create(keys[0], network.chain_id, VoteKind.PRECOMMIT, at, round, value_id)
        return precommit, LockedValue.of(value, prevotes)

    precommit, locked = lock(height, 0, b"block a")
    assert await store.locked_values() == []
    await store.record_signed_vote(precommit, locked=locked)
    await store.record_signed_vote(precommit, locked=locked)  # idempotent
    assert await store.locked_values() == [locked]
    assert await store.signed_votes() == [precommit]
    # Refused whole: a value that is not this precommit's, or a conflicting precommit.
    prevote = BlockVote.create(keys[0], network.chain_id, VoteKind.PREVOTE, height, 0, locked.value_id)
    _, elsewhere = lock(height, 1, b"block a")
    for vote, record in ((prevote, locked), (precommit, elsewhere)):
        with raises(InvalidArgumentError):
            await store.record_signed_vote(vote, locked=record)
    with raises(InvalidArgumentError):
        await store.record_signed_vote(precommit, locked=b"block a")  # type: ignore[arg-type]
    rival, rival_locked = lock(height, 0, b"block b")
    with raises(ConflictingVoteError):
        await store.record_signed_vote(rival, locked=rival_locked)
    assert await store.locked_values() == [locked]
    assert await store.signed_votes() == [precommit]
    # A later lock of the height replaces it; an earlier one recorded late does not.
    relock, relocked = lock(height, 2, b"block b")
    await store.record_signed_vote(relock, locked=relocked)
    late, late_locked = lock(height, 1, b"block c")
    await store.record_signed_vote(late, locked=late_locked)
    nxt, next_locked = lock(height + 1, 0, b"block d")
    await store.record_signed_vote(nxt, locked=next_locked)
    assert await store.locked_values() == [relocked, next_locked]
    state = await load_node_state(store)
    assert state.locked_values == [relocked, next_locked]
    assert state.locked_values[0].value == b"block b" and state.locked_values[0].prevotes() == relocked.prevotes()
    # The committed height's lock is gone with its block.
    block = _chain(run).block_at(height)
    assert block is not None
    await store.commit_block(block, run.commits[height])
    assert await store.locked_values() == [next_locked]


async def check_final_transactions_wait_for_their_block(make_store: MakeStore, run: StressRun) -> None:
    store = await _filled(make_store, run, upto=_blocks(run) - 1)
    block = _chain(run).block_at(_blocks(run))
    assert block is not None
    finals = [(tx, run.certificates[tx.txid]) for tx in block.transactions]
    for tx, certificate in finals:
        assert await store.record_final(tx, certificate)
        assert not await store.record_final(tx, certificate)
    pending = [tx for tx in map(run.chain.transaction, run.pending) if tx is not None]
    assert len(pending) == len(run.pending)
    for pending_tx in pending:
        assert await store.record_final(pending_tx, run.certificates[pending_tx.txid])
    assert await store.final_transactions() == finals + [(t, run.certificates[t.txid]) for t in pending]
    with raises(ValueError):
        await store.record_final(finals[0][0], finals[1][1])
    await store.commit_block(block, run.commits[_blocks(run)])
    assert [tx for tx, _ in await store.final_transactions()] == pending
    confirmed = await store.transaction(finals[0][0].txid)
    assert confirmed is not None and confirmed.certificate == finals[0][1]
    assert not await store.record_final(*finals[0])  # already in a block


async def check_confirmed_transactions_keep_the_certificate_their_block_names(make_store: MakeStore, run: StressRun) -> None:
    height = _blocks(run)
    block = _chain(run).block_at(height)
    assert block is not None and block.transactions
    proofs = [run.certificates[tx.txid] for tx in block.transactions]
    first = block.transactions[0]
    # This node's own certificate of the first transaction: valid votes, but not the
    # set the block commits to (here: another epoch's, so another digest).
    own = replace(proofs[0], epoch=proofs[0].epoch + 1)
    assert own.digest() != block.certificate_digests[0]

    store = await _filled(make_store, run, upto=height - 1)
    assert await store.record_final(first, own)
    await store.commit_block(block, run.commits[height])
    confirmed = await store.transaction(first.txid)
    assert confirmed is not None and confirmed.certificate is None  # never a certificate the block does not name
    assert await store.final_transactions() == []

    store = await _filled(make_store, run, upto=height - 1)
    assert await store.record_final(first, own)
    for bad in ([*proofs[:-1], own], proofs[1:], [own, *proofs[1:]], "junk"):
        with raises(ValueError):
            await store.commit_block(block, run.commits[height], proofs=bad)  # type: ignore[arg-type]
        assert (await store.metadata()).height == height - 1  # refused before anything was written
    await store.commit_block(block, run.commits[height], proofs=proofs)
    for tx, certificate in zip(block.transactions, proofs, strict=True):
        stored = await store.transaction(tx.txid)
        assert stored is not None and stored.certificate == certificate


async def check_evidence_is_kept_until_a_block_carries_it(make_store: MakeStore, run: StressRun) -> None:
    store = await _filled(make_store, run)
    network = run.chain.network
    offender = PrivateKey.from_seed(b"\x09" * 32)
    a = BlockVote.create(offender, network.chain_id, VoteKind.PREVOTE, 3, 0, b"\x01" * 32)
    b = BlockVote.create(offender, network.chain_id, VoteKind.PREVOTE, 3, 0, b"\x02" * 32)
    evidence = DoubleVoteEvidence.of(a, b)
    again = DoubleVoteEvidence.of(a, BlockVote.create(offender, network.chain_id, VoteKind.PREVOTE, 3, 0, None))
    assert await store.record_evidence(evidence)
    assert not await store.record_evidence(again)
    assert await store.evidence() == [evidence]
    chain = await load_chain(store)
    block = chain.build_block(
        run.chain.masternode_keys[0], timestamp=chain.tip.header.timestamp + 1, evidence=[encode_record(evidence)]
    )
    await store.commit_block(block)
    assert await store.evidence() == []


async def check_voting_sets_are_stored_with_their_block(make_store: MakeStore, run: StressRun) -> None:
    store = await _filled(make_store, run, upto=9)
    block = _chain(run).block_at(10)
    assert block is not None
    voting_set = run.chain.node.registry.voting_set(1)
    await store.commit_block(block, run.commits[10], voting_set=voting_set)
    assert await store.voting_set(1) == voting_set
    assert await store.voting_set(5) is None


async def check_peers_and_bans(make_store: MakeStore, run: StressRun) -> None:
    store = await make_store(run.chain.network)
    await store.put_peer(PeerRecord("10.0.0.1:24100", last_seen=100))
    await store.put_peer(PeerRecord("10.0.0.2:24100", last_seen=300, services=1))
    await store.put_peer(PeerRecord("10.0.0.1:24100", last_seen=200, failures=2))
    assert await store.peers() == [
        PeerRecord("10.0.0.2:24100", 300, 1, 0),
        PeerRecord("10.0.0.1:24100", 200, 0, 2),
    ]
    assert len(await store.peers(limit=1)) == 1
    await store.remove_peer("10.0.0.2:24100")
    await store.remove_peer("never-seen:1")
    assert [p.address for p in await store.peers()] == ["10.0.0.1:24100"]
    await store.put_ban(BanRecord("10.0.0.9", until=500, reason="bad-block"))
    await store.put_ban(BanRecord("10.0.0.8", until=50))
    assert await store.bans(now=100) == [BanRecord("10.0.0.9", 500, "bad-block")]
    await store.remove_ban("10.0.0.9")
    assert await store.bans(now=0) == [BanRecord("10.0.0.8", 50, "")]
    with raises(ValueError):
        PeerRecord("", 0)


# -- start-up ----------------------------------------------------------------------------------


async def check_load_chain_rebuilds_the_chain_state(make_store: MakeStore, run: StressRun) -> None:
    store = await _filled(make_store, run, upto=_blocks(run) - 1)
    chain = _chain(run)
    loaded = await load_chain(store)
    assert loaded.height == _blocks(run) - 1
    assert loaded.utxos.commitment() == run.commitments[_blocks(run) - 1]
    last = chain.applied(_blocks(run))
    assert last is not None and loaded.supply() + last.subsidy == chain.supply()
    for height in range(_blocks(run)):
        assert loaded.applied(height) == chain.applied(height)
        block = chain.block_at(height)
        assert block is not None and loaded.block(block.hash) == block
        for tx in block.transactions:
            assert loaded.transaction_position(tx.txid) == chain.transaction_position(tx.txid)
    # The loaded chain carries on: the next block applies and lands where the original did.
    nxt = chain.block_at(_blocks(run))
    assert nxt is not None
    loaded.apply_block(nxt)
    assert loaded.utxos.commitment() == chain.utxos.commitment()
    assert loaded.supply() == chain.supply()
    snapshot = loaded.snapshot()
    loaded.revert(snapshot)


async def check_load_node_state(make_store: MakeStore, run: StressRun) -> None:
    store = await _filled(make_store, run)
    node = run.chain.node
    tx = run.chain.transaction(run.pending[0])
    assert tx is not None
    await store.record_final(tx, run.certificates[tx.txid])
    await store.record_vote(tx.txid, [i.outpoint for i in tx.inputs])
    state = await load_node_state(store)
    assert state.chain.utxos.commitment() == node.chain.utxos.commitment()
    for epoch in (1, 2):
        assert state.registry.voting_set(epoch) == node.registry.voting_set(epoch)
    assert state.registry.masternodes() == node.registry.masternodes()
    assert state.commits == {h: run.commits[h] for h in range(1, _blocks(run) + 1)}
    assert state.finals == [(tx, run.certificates[tx.txid])]
    assert state.voted_outpoints == dict.fromkeys((i.outpoint for i in tx.inputs), tx.txid)
    assert state.evidence == [] and state.signed_votes == [] and state.locked_values == []


async def check_closed_stores_refuse_work(make_store: MakeStore, run: StressRun) -> None:
    store = await make_store(run.chain.network)
    await store.close()
    await store.close()
    with raises(StoreClosedError):
        await store.metadata()
    with raises(StoreClosedError):
        await store.coins_of(bytes(20))


STORE_CHECKS: Mapping[str, StoreCheck] = MappingProxyType({
    "a_new_store_holds_genesis": check_a_new_store_holds_genesis,
    "committed_blocks_reproduce_the_chain": check_committed_blocks_reproduce_the_chain,
    "transactions_are_indexed": check_transactions_are_indexed,
    "streams_equal_the_chain": check_streams_equal_the_chain,
    "coin_pages_walk_every_coin_once": check_coin_pages_walk_every_coin_once,
    "history_pages": check_history_pages,
    "block_range_pages": check_block_range_pages,
    "block_transaction_pages": check_block_transaction_pages,
    "bad_cursors_are_typed_errors": check_bad_cursors_are_typed_errors,
    "blocks_that_do_not_extend_the_tip_are_refused": check_blocks_that_do_not_extend_the_tip_are_refused,
    "blocks_contradicting_the_utxo_set_change_nothing": check_blocks_contradicting_the_utxo_set_change_nothing,
    "commit_blocks_equals_one_by_one": check_commit_blocks_equals_one_by_one,
    "votes_are_idempotent_refuse_conflicts_and_leave_with_their_block": check_votes_are_idempotent_refuse_conflicts_and_leave_with_their_block,
    "signed_votes_refuse_double_signing_and_are_pruned": check_signed_votes_refuse_double_signing_and_are_pruned,
    "locked_values_are_recorded_with_their_precommit_and_pruned": (
        check_locked_values_are_recorded_with_their_precommit_and_pruned
    ),
    "final_transactions_wait_for_their_block": check_final_transactions_wait_for_their_block,
    "confirmed_transactions_keep_the_certificate_their_block_names": (
        check_confirmed_transactions_keep_the_certificate_their_block_names
    ),
    "evidence_is_kept_until_a_block_carries_it": check_evidence_is_kept_until_a_block_carries_it,
    "voting_sets_are_stored_with_their_block": check_voting_sets_are_stored_with_their_block,
    "peers_and_bans": check_peers_and_bans,
    "load_chain_rebuilds_the_chain_state": check_load_chain_rebuilds_the_chain_state,
    "load_node_state": check_load_node_state,
    "closed_stores_refuse_work": check_closed_stores_refuse_work,
})
"""Every check by name, in the order :func:`check_store` runs them."""


async def check_store(make_store: StoreFactory, workload: StressRun | None = None) -> None:
    """Run every check of :data:`STORE_CHECKS` against stores from ``make_store``.

    ``workload`` defaults to a fresh :func:`store_workload`. Raises the first failure
    as ``AssertionError``, its message prefixed with the check's name.
    """
    run = workload if workload is not None else store_workload()
    for name, check in STORE_CHECKS.items():
        try:
            await check(make_store, run)
        except AssertionError as exc:
            raise AssertionError(f"store conformance check {name!r} failed: {exc}") from exc
