"""TxPool: admission, conflicts, chains off final parents, eviction, expiry, templates, blocks.

Also home of the small funded-wallet helpers the stateful pool test imports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from timecoin_core.amount import coins
from timecoin_core.builder import TransactionBuilder
from timecoin_core.errors import TimecoinError
from timecoin_core.fees import FeeRate
from timecoin_core.hashing import sha256
from timecoin_core.keys import PrivateKey
from timecoin_core.mempool import (
    DoubleSpendError,
    DuplicateTransactionError,
    FinalTransactionError,
    PendingParentError,
    PoolConfigError,
    PoolEntry,
    PoolError,
    PoolFullError,
    TxPool,
    UnknownTransactionError,
)
from timecoin_core.network import DEVNET
from timecoin_core.transaction import OutPoint, Transaction, TxIn, TxOut
from timecoin_core.utxo import CoinState, UtxoSet
from timecoin_core.validation import (
    BadSignatureError,
    FeeTooLowError,
    MissingInputError,
    TransactionError,
)
from timecoin_core.verify import SignatureCheck, SyncVerifier

NET = DEVNET
KEYS = [PrivateKey.from_seed(sha256(b"mempool-test-key" + bytes([i]))) for i in range(4)]
FUNDING = coins("10")
MIN_FEE = 10_000  # comfortably above DEVNET's minimum for a 1-in/2-out transaction


@dataclass(frozen=True)
class Spendable:
    """An output and the key that can spend it."""

    outpoint: OutPoint
    output: TxOut
    key: PrivateKey


def funded(count: int) -> list[Spendable]:
    """``count`` deterministic funding coins of 10 TIME, spread over :data:`KEYS`."""
    result = []
    for i in range(count):
        key = KEYS[i % len(KEYS)]
        outpoint = OutPoint(sha256(b"funding" + i.to_bytes(4, "little")), i % 3)
        result.append(Spendable(outpoint, TxOut(FUNDING, key.public_key.payload), key))
    return result


def spend(
    inputs: Sequence[Spendable], to: PrivateKey, fee: int = MIN_FEE, memo: bytes = b""
) -> Transaction:
    """A signed transaction spending ``inputs``: half to ``to``, the rest back to the first owner."""
    builder = TransactionBuilder(NET)
    for s in inputs:
        builder.spend(s.outpoint, s.output, s.key)
    total = sum(s.output.amount for s in inputs) - fee
    builder.pay(to.address(NET), total // 2).pay(inputs[0].key.address(NET), total - total // 2)
    return builder.memo(memo).build()


def outputs_of(tx: Transaction, owners: Sequence[PrivateKey]) -> list[Spendable]:
    """The outputs of ``tx`` as spendables; ``owners[i]`` owns output ``i``."""
    return [Spendable(tx.outpoint(i), out, owners[i]) for i, out in enumerate(tx.outputs)]


def owners(tx: Transaction) -> list[PrivateKey]:
    """The keys owning each output of ``tx`` (looked up among :data:`KEYS`)."""
    by_payload = {k.public_key.payload: k for k in KEYS}
    return [by_payload[out.payload] for out in tx.outputs]


def fresh_utxos(coins_: Sequence[Spendable], height: int = 1) -> UtxoSet:
    """A UTXO set holding ``coins_`` confirmed at ``height``."""
    utxos = UtxoSet()
    for s in coins_:
        utxos.add(s.outpoint, s.output, height)
    return utxos


class CountingVerifier(SyncVerifier):
    """A synchronous verifier that counts its batches."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []

    def verify_many(self, checks: Sequence[SignatureCheck]) -> list[bool]:
        """Record the batch size, then verify."""
        self.batches.append(len(checks))
        return super().verify_many(checks)


def corrupt(tx: Transaction) -> Transaction:
    """``tx`` with its first signature's first byte flipped (same txid, bad witness)."""
    first = tx.inputs[0]
    bad = bytes([first.signature[0] ^ 1]) + first.signature[1:]
    return Transaction(
        [TxIn(first.outpoint, first.public_key, bad), *tx.inputs[1:]],
        tx.outputs,
        tx.lock_time,
        tx.memo,
        tx.version,
    )


# -- fixtures -------------------------------------------------------------------------

COINS = funded(12)


def new_pool(**kwargs: object) -> TxPool:
    return TxPool(NET, fresh_utxos(COINS), **kwargs)  # type: ignore[arg-type]


def state_of(pool: TxPool) -> tuple[object, ...]:
    """Everything observable about a pool and its UTXO set, to compare before and after."""
    utxos = pool.utxos
    return (
        sorted((e.txid, e) for e in pool),
        pool.total_bytes,
        pool.final_count,
        utxos.copy(),
        utxos.commitment(),
        [utxos.balance(k.public_key.payload) for k in KEYS],
        {op: pool.spender(op) for e in pool for op in (i.outpoint for i in e.tx.inputs)},
    )


# -- admission ------------------------------------------------------------------------


def test_add_pending_locks_inputs_and_indexes() -> None:
    pool = new_pool()
    tx = spend([COINS[0]], KEYS[1])
    entry = pool.add(tx, 5.0)
    assert entry == pool.get(tx.txid) and tx.txid in pool and len(pool) == 1
    assert (entry.fee, entry.size, entry.added_at, entry.final) == (MIN_FEE, tx.size, 5.0, False)
    assert entry.fee_rate == FeeRate.of(MIN_FEE, tx.size) and entry.parents == frozenset()
    assert entry.txid == tx.txid
    assert pool.total_bytes == tx.size and pool.pending_count == 1 and pool.final_count == 0
    coin = pool.utxos.coin(COINS[0].outpoint)
    assert coin is not None and (coin.state, coin.spender) == (CoinState.LOCKED, tx.txid)
    assert pool.spender(COINS[0].outpoint) == tx.txid
    assert pool.utxos.balance(KEYS[0].public_key.payload).pending == FUNDING


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda: corrupt(spend([COINS[0]], KEYS[1])), BadSignatureError),
        (lambda: spend([COINS[0]], KEYS[1], fee=1), FeeTooLowError),
        (
            lambda: spend([Spendable(OutPoint(b"\x77" * 32, 0), COINS[0].output, KEYS[0])], KEYS[1]),
            MissingInputError,
        ),
    ],
)
def test_invalid_transactions_change_nothing(make: object, error: type[TransactionError]) -> None:
    pool = new_pool()
    pool.add(spend([COINS[1]], KEYS[2]), 0.0)
    before = state_of(pool)
    with pytest.raises(error):
        pool.add(make(), 1.0)  # type: ignore[operator]
    assert state_of(pool) == before


def test_duplicate_and_double_spend() -> None:
    pool = new_pool()
    first = pool.add(spend([COINS[0]], KEYS[1]), 0.0)
    before = state_of(pool)
    with pytest.raises(DuplicateTransactionError):
        pool.add(first.tx, 1.0)
    rival = spend([COINS[0], COINS[4]], KEYS[2])
    with pytest.raises(DoubleSpendError) as info:
        pool.add(rival, 1.0)
    err = info.value
    assert (err.holder, err.outpoint, err.txid) == (first.txid, COINS[0].outpoint, rival.txid)
    assert first.txid.hex() in str(err) and str(COINS[0].outpoint) in str(err)
    assert err.code == "double-spend" and isinstance(err, TimecoinError) and isinstance(err, ValueError)
    assert state_of(pool) == before


def test_chains_only_off_final_parents() -> None:
    pool = new_pool()
    parent = spend([COINS[0]], KEYS[1])
    pool.add(parent, 0.0)
    child = spend(outputs_of(parent, owners(parent))[:1], KEYS[2])
    before = state_of(pool)
    with pytest.raises(PendingParentError) as info:
        pool.add(child, 1.0)
    assert info.value.parent == parent.txid and "not final" in str(info.value)
    assert state_of(pool) == before
    final_parent = pool.mark_final(parent.txid)
    assert final_parent.final and pool.final_count == 1
    entry = pool.add(child, 2.0)
    assert entry.parents == {parent.txid} and pool.children(parent.txid) == {child.txid}


def test_mark_final_makes_outputs_spendable_and_is_idempotent() -> None:
    pool = new_pool()
    tx = spend([COINS[0]], KEYS[1])
    pool.add(tx, 0.0)
    pool.mark_accepted(tx.txid)
    assert pool.utxos.coin(COINS[0].outpoint).state is CoinState.SPENT_PENDING  # type: ignore[union-attr]
    commitment = pool.utxos.commitment()
    entry = pool.mark_final(tx.txid)
    assert entry.final and pool.mark_final(tx.txid) == entry
    coin = pool.utxos.coin(COINS[0].outpoint)
    assert coin is not None and coin.state is CoinState.SPENT_FINALIZED
    for i, out in enumerate(tx.outputs):
        created = pool.utxos.coin(tx.outpoint(i))
        assert created is not None and created.height is None and created.output == out
    assert pool.utxos.balance(KEYS[1].public_key.payload).finalized == tx.outputs[0].amount
    assert pool.utxos.commitment() == commitment  # nothing new is in a block yet
    assert pool.expire(1e9) == []  # final entries never expire
    with pytest.raises(FinalTransactionError):
        pool.reject(tx.txid)
    with pytest.raises(FinalTransactionError):
        pool.mark_accepted(tx.txid)
    with pytest.raises(UnknownTransactionError):
        pool.mark_final(b"\x00" * 32)


def test_reject_releases_coins() -> None:
    pool = new_pool()
    tx = spend([COINS[0], COINS[4]], KEYS[1])
    before = state_of(pool)
    pool.add(tx, 0.0)
    assert pool.reject(tx.txid) == [tx.txid]
    assert state_of(pool) == before
    with pytest.raises(UnknownTransactionError):
        pool.reject(tx.txid)


def test_expire() -> None:
    pool = new_pool(expiry=60.0)
    old = pool.add(spend([COINS[0]], KEYS[1]), 100.0)
    young = pool.add(spend([COINS[1]], KEYS[1]), 130.0)
    kept = pool.add(spend([COINS[2]], KEYS[1]), 100.0)
    pool.mark_final(kept.txid)
    assert pool.expire(159.9) == []
    assert pool.expire(160.0) == [old.txid]
    assert pool.utxos.get_output(COINS[0].outpoint) == COINS[0].output
    assert pool.expire(1000.0) == [young.txid]
    assert list(pool) == [pool.get(kept.txid)]


def test_bad_configuration_and_arguments() -> None:
    for kwargs in ({"max_bytes": 0}, {"max_count": 0}, {"expiry": 0.0}, {"expiry": float("inf")}):
        with pytest.raises(PoolConfigError):
            new_pool(**kwargs)
    pool = new_pool()
    with pytest.raises(TypeError):
        pool.add(spend([COINS[0]], KEYS[1]), float("nan"))
    with pytest.raises(ValueError):
        pool.block_template(-1)


# -- capacity -------------------------------------------------------------------------


def test_full_pool_refuses_low_rates_and_names_the_minimum() -> None:
    pool = new_pool(max_count=3)
    fees = [20_000, 30_000, 40_000]
    entries = [pool.add(spend([COINS[i]], KEYS[1], fee=f), 0.0) for i, f in enumerate(fees)]
    lowest = entries[0]
    cheap = spend([COINS[5]], KEYS[1], fee=20_000)
    before = state_of(pool)
    with pytest.raises(PoolFullError) as info:
        pool.add(cheap, 1.0)
    assert info.value.min_rate == FeeRate(lowest.fee_rate.per_kb + 1)
    assert str(info.value.min_rate) in str(info.value)
    assert state_of(pool) == before
    better = spend([COINS[5]], KEYS[1], fee=25_000)
    outcome = pool.add_many([better], 1.0)[0]
    assert outcome.ok and outcome.evicted == (lowest.txid,)
    assert lowest.txid not in pool and len(pool) == 3
    assert pool.utxos.get_output(COINS[0].outpoint) == COINS[0].output  # released


def test_byte_bound_evicts_as_many_as_needed() -> None:
    probe = spend([COINS[0]], KEYS[1])
    pool = new_pool(max_bytes=3 * probe.size)
    small = [pool.add(spend([COINS[i]], KEYS[1], fee=20_000 + i), 0.0) for i in range(3)]
    big = spend([COINS[6], COINS[7]], KEYS[1], fee=200_000)
    assert big.size > probe.size
    outcome = pool.add_many([big], 1.0)[0]
    assert outcome.ok and set(outcome.evicted) == {small[0].txid, small[1].txid}
    assert pool.total_bytes <= pool.max_bytes
    with pytest.raises(PoolFullError) as info:
        pool.add(spend(COINS[3:6] + COINS[8:12], KEYS[1], fee=10**6), 2.0)
    assert info.value.min_rate is None  # larger than the whole pool


def test_final_entries_are_never_evicted() -> None:
    pool = new_pool(max_count=2)
    a = pool.add(spend([COINS[0]], KEYS[1], fee=10_000), 0.0)
    b = pool.add(spend([COINS[1]], KEYS[1], fee=10_000), 0.0)
    pool.mark_final(a.txid)
    pool.mark_final(b.txid)
    with pytest.raises(PoolFullError) as info:
        pool.add(spend([COINS[2]], KEYS[1], fee=10**8), 1.0)
    assert info.value.min_rate is None and "final" in str(info.value)
    assert {e.txid for e in pool} == {a.txid, b.txid}


def test_final_newcomer_evicts_pending_whatever_their_rate() -> None:
    pool = new_pool(max_count=1)
    rich = pool.add(spend([COINS[0]], KEYS[1], fee=10**7), 0.0)
    cheap = spend([COINS[1]], KEYS[1], fee=10_000)
    with pytest.raises(PoolFullError):
        pool.add(cheap, 1.0)
    entry = pool.add(cheap, 1.0, final=True)
    assert entry.final and rich.txid not in pool


def test_final_newcomer_takes_coins_from_pending_rivals() -> None:
    pool = new_pool()
    local = pool.add(spend([COINS[0], COINS[4]], KEYS[1]), 0.0)
    certified = spend([COINS[0]], KEYS[2])
    outcome = pool.add_many([certified], 1.0, final=True)[0]
    assert outcome.ok and outcome.evicted == (local.txid,)
    assert pool.utxos.coin(COINS[0].outpoint).spender == certified.txid  # type: ignore[union-attr]
    assert pool.utxos.get_output(COINS[4].outpoint) == COINS[4].output
    # A coin held by a final transaction is lost for good to any rival.
    with pytest.raises(DoubleSpendError):
        pool.add(spend([COINS[0]], KEYS[3]), 2.0, final=True)


# -- batches --------------------------------------------------------------------------


def test_add_many_verifies_in_one_batch_and_reports_each() -> None:
    pool = new_pool()
    good = [spend([COINS[i]], KEYS[1]) for i in range(4)]
    bad = corrupt(spend([COINS[4]], KEYS[1]))
    rival = spend([COINS[0]], KEYS[2])
    verifier = CountingVerifier()
    outcomes = pool.add_many([*good, bad, rival, good[1]], 0.0, verifier)
    assert verifier.batches == [5]
    assert [o.ok for o in outcomes] == [True] * 4 + [False, False, False]
    assert isinstance(outcomes[4].error, BadSignatureError)
    assert isinstance(outcomes[5].error, DoubleSpendError) and outcomes[5].error.holder == good[0].txid
    assert isinstance(outcomes[6].error, DuplicateTransactionError)
    with pytest.raises(DoubleSpendError):
        outcomes[5].raise_for_error()
    assert outcomes[0].raise_for_error() == pool.get(good[0].txid)


def test_a_bad_signature_frees_its_coin_for_a_later_batch_member() -> None:
    pool = new_pool()
    bad = corrupt(spend([COINS[0]], KEYS[1]))
    rival = spend([COINS[0]], KEYS[2])
    outcomes = pool.add_many([bad, rival], 0.0)
    assert not outcomes[0].ok and outcomes[1].ok


def test_final_batches_may_chain_pending_batches_may_not() -> None:
    parent = spend([COINS[0]], KEYS[1])
    child = spend(outputs_of(parent, owners(parent))[:1], KEYS[2])
    pool = new_pool()
    outcomes = pool.add_many([parent, child], 0.0)
    assert outcomes[0].ok and isinstance(outcomes[1].error, PendingParentError)
    pool = new_pool()
    outcomes = pool.add_many([parent, child], 0.0, final=True)
    assert all(o.ok for o in outcomes)
    assert pool.get(child.txid).parents == {parent.txid}  # type: ignore[union-attr]


# -- templates and blocks ---------------------------------------------------------------


def finalize_all(pool: TxPool, txs: Sequence[Transaction], now: float = 0.0) -> list[PoolEntry]:
    entries = [pool.add(tx, now) for tx in txs]
    return [pool.mark_final(e.txid) for e in entries]


def test_template_takes_final_entries_by_rate_parents_first() -> None:
    pool = new_pool()
    low_parent = spend([COINS[0]], KEYS[1], fee=10_000)
    mid = spend([COINS[1]], KEYS[1], fee=50_000)
    finalize_all(pool, [low_parent, mid])
    rich_child = spend(outputs_of(low_parent, owners(low_parent))[:1], KEYS[2], fee=10**6)
    pool.add(rich_child, 1.0)
    pool.mark_final(rich_child.txid)
    pending = pool.add(spend([COINS[2]], KEYS[1], fee=10**7), 1.0)
    template = pool.block_template(10**6)
    assert pending.tx not in template
    assert template == [mid, low_parent, rich_child]
    assert pool.block_template(mid.size + low_parent.size) == [mid, low_parent]
    assert pool.block_template(low_parent.size) == [mid]
    assert pool.block_template(100) == []


def test_template_skips_what_does_not_fit_and_keeps_looking() -> None:
    pool = new_pool()
    big = spend(COINS[0:3], KEYS[1], fee=10**6)  # the best rate, but large
    small = spend([COINS[3]], KEYS[1], fee=20_000)
    finalize_all(pool, [big, small])
    assert big.size > small.size + 100
    assert pool.block_template(big.size - 1) == [small]
    assert pool.block_template(big.size + small.size) == [big, small]


def test_remove_confirmed_applies_the_block_and_drops_conflicts() -> None:
    pool = new_pool()
    parent = spend([COINS[0]], KEYS[1])
    finalize_all(pool, [parent])
    child = spend(outputs_of(parent, owners(parent))[:1], KEYS[2])
    pool.add(child, 1.0)
    loser = pool.add(spend([COINS[1], COINS[5]], KEYS[1]), 1.0)
    winner = spend([COINS[1]], KEYS[3])  # the network finalized another spend of COINS[1]
    reward = (OutPoint(b"\xee" * 32, 0), TxOut(coins("1"), KEYS[0].public_key.payload))
    removal = pool.remove_confirmed([parent, winner], height=2, created=[reward])
    assert removal.confirmed == (parent.txid,) and removal.conflicted == (loser.txid,)
    assert pool.get(child.txid).parents == frozenset()  # type: ignore[union-attr]
    utxos = pool.utxos
    assert COINS[0].outpoint not in utxos and COINS[1].outpoint not in utxos
    assert utxos.get_output(COINS[5].outpoint) == COINS[5].output  # released
    assert utxos.coin(parent.outpoint(0)).height == 2  # type: ignore[union-attr]
    assert utxos.coin(winner.outpoint(1)).height == 2  # type: ignore[union-attr]
    assert utxos.coin(reward[0]).height == 2  # type: ignore[union-attr]
    # The pool's set holds what a chain-only set holds, so the commitments agree.
    chain = fresh_utxos(COINS)
    for tx in (parent, winner):
        for txin in tx.inputs:
            chain.confirm_spend(txin.outpoint, 2)
        for i, out in enumerate(tx.outputs):
            chain.add(tx.outpoint(i), out, 2)
    chain.add(*reward, 2)
    assert utxos.commitment() == chain.commitment()


def test_remove_confirmed_refuses_a_block_it_cannot_apply() -> None:
    pool = new_pool()
    pool.add(spend([COINS[0]], KEYS[1]), 0.0)
    stranger = spend([Spendable(OutPoint(b"\x55" * 32, 0), COINS[1].output, COINS[1].key)], KEYS[1])
    before = state_of(pool)
    with pytest.raises(PoolError):
        pool.remove_confirmed([spend([COINS[2]], KEYS[1]), stranger], height=2)
    assert state_of(pool) == before


def test_copy_is_independent() -> None:
    pool = new_pool()
    tx = pool.add(spend([COINS[0]], KEYS[1]), 0.0)
    clone = pool.copy(pool.utxos.copy())
    clone.mark_final(tx.txid)
    clone.add(spend([COINS[1]], KEYS[1]), 0.0)
    assert not pool.get(tx.txid).final and len(pool) == 1  # type: ignore[union-attr]
    assert pool.utxos.coin(COINS[0].outpoint).state is CoinState.LOCKED  # type: ignore[union-attr]
    assert "entries=1" in repr(pool)


def test_expiry_heap_is_compacted_and_stays_exact() -> None:
    # Thousands of entries through the pre-validated path (no signatures needed).
    count = 3000
    payload = KEYS[0].public_key.payload
    utxos = UtxoSet()
    txs = []
    for i in range(count):
        outpoint = OutPoint(i.to_bytes(32, "little"), 0)
        utxos.add(outpoint, TxOut(FUNDING, payload), 1)
        txs.append(Transaction([TxIn(outpoint)], [TxOut(FUNDING - MIN_FEE - i, payload)]))
    pool = TxPool(NET, utxos, expiry=10.0)
    for i, tx in enumerate(txs):
        pool._admit_validated(tx, MIN_FEE + i, float(i % 100))
    for tx in txs[: count - 500]:
        pool.reject(tx.txid)
    assert len(pool._expiry_heap) < count  # rebuilt once stale items outnumbered live ones
    assert pool._expiry_stale == len(pool._expiry_heap) - pool.pending_count
    due = {tx.txid for i, tx in enumerate(txs[count - 500 :], count - 500) if i % 100 <= 50}
    assert set(pool.expire(60.0)) == due
    assert pool.pending_count == 500 - len(due)
