"""TxPool over random sequences of valid and invalid operations with real signed transactions.

A catalog of transactions is signed once at import: conflicting spends of a few funding
coins at different fee rates, children and grandchildren of those spends, two-parent
children, and invalid variants. Each example starts a fresh pool with tight bounds, so
eviction, refusal, expiry, finality, templates and blocks all happen often.
"""

from __future__ import annotations

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from test_mempool import (
    KEYS,
    NET,
    Spendable,
    corrupt,
    fresh_utxos,
    funded,
    outputs_of,
    owners,
    spend,
    state_of,
)

from timecoin_core.mempool import (
    FinalTransactionError,
    PoolEntry,
    PoolFullError,
    TxPool,
    UnknownTransactionError,
)
from timecoin_core.transaction import OutPoint, Transaction
from timecoin_core.utxo import CoinState

FUNDS = funded(8)
FEES = (10_000, 30_000, 90_000)


def _catalog() -> tuple[list[Transaction], list[Transaction]]:
    valid: list[Transaction] = []
    top: list[Transaction] = []  # spends of funding coins only
    for i, coin in enumerate(FUNDS):
        for v, fee in enumerate(FEES):
            tx = spend([coin], KEYS[(i + v + 1) % 4], fee=fee)
            top.append(tx)
            valid.append(tx)
            outs = outputs_of(tx, owners(tx))
            for k, out in enumerate(outs):
                child = spend([out], KEYS[(i + k) % 4], fee=FEES[(v + k + 1) % 3])
                valid.append(child)
                if v == 0 and k == 0:
                    valid.append(spend(outputs_of(child, owners(child))[:1], KEYS[0], fee=200_000))
    for i in range(0, len(FUNDS) - 1, 2):
        a, b = top[3 * i], top[3 * (i + 1)]
        pair: list[Spendable] = [outputs_of(a, owners(a))[0], outputs_of(b, owners(b))[0]]
        valid.append(spend(pair, KEYS[1], fee=150_000))
    invalid = [corrupt(top[0]), corrupt(top[4]), spend([FUNDS[2]], KEYS[3], fee=1)]
    return valid, invalid


VALID, INVALID = _catalog()
CATALOG = VALID + INVALID
TOP = [tx for tx in VALID if all(i.outpoint in {f.outpoint for f in FUNDS} for i in tx.inputs)]
MAX_COUNT = 5
MAX_BYTES = 4 * TOP[0].size + 100
EXPIRY = 50.0


class PoolMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.pool = TxPool(NET, fresh_utxos(FUNDS), max_bytes=MAX_BYTES, max_count=MAX_COUNT, expiry=EXPIRY)
        self.now = 0.0
        self.height = 1
        self.finals: set[bytes] = set()

    def entries(self, final: bool | None = None) -> list[PoolEntry]:
        return sorted(
            (e for e in self.pool if final is None or e.final == final), key=lambda e: e.sequence
        )

    @rule(tx=st.sampled_from(CATALOG), final=st.booleans(), dt=st.floats(0, 20))
    def add(self, tx: Transaction, final: bool, dt: float) -> None:
        self.now += dt
        before = state_of(self.pool)
        entries_before = {e.txid: e for e in self.pool}
        outcome = self.pool.add_many([tx], self.now, final=final)[0]
        if isinstance(outcome.error, PoolFullError) and outcome.error.min_rate is not None:
            assert not final
        if not outcome.ok:
            event(f"refused: {type(outcome.error).__name__}")
            assert state_of(self.pool) == before
            return
        entry = outcome.entry
        assert entry is not None and entry.tx == tx and tx not in INVALID
        assert self.pool.get(tx.txid) == entry and entry.final == final
        event(f"added {'final' if final else 'pending'}, evicted {len(outcome.evicted)}")
        for txid in outcome.evicted:
            victim = entries_before[txid]
            assert not victim.final, "a final entry was evicted"
            assert txid not in self.pool
            if not final:
                assert victim.fee_rate < entry.fee_rate, "evicted a rate not strictly lower"
        if final:
            self.finals.add(tx.txid)

    @rule(data=st.data(), final=st.booleans(), dt=st.floats(0, 20))
    def add_ready(self, data: st.DataObject, final: bool, dt: float) -> None:
        """Add a transaction whose inputs exist (spendable or held) or are a pool entry's outputs."""
        utxos = self.pool.utxos
        ready = [
            tx
            for tx in VALID
            if all(i.outpoint in utxos or i.outpoint.txid in self.pool for i in tx.inputs)
        ]
        self.add(data.draw(st.sampled_from(ready)), final, dt)

    @rule(txs=st.lists(st.sampled_from(CATALOG), min_size=1, max_size=4), final=st.booleans())
    def add_many(self, txs: list[Transaction], final: bool) -> None:
        outcomes = self.pool.add_many(txs, self.now, final=final)
        assert len(outcomes) == len(txs)
        evicted = {t for o in outcomes for t in o.evicted}
        if evicted:
            event("add_many evicted")
        for outcome in outcomes:
            if outcome.ok and outcome.tx.txid not in evicted:
                assert self.pool.get(outcome.tx.txid) == outcome.entry
                if final:
                    self.finals.add(outcome.tx.txid)

    @precondition(lambda self: self.pool.pending_count > 0)
    @rule(data=st.data())
    def mark_final(self, data: st.DataObject) -> None:
        entry = data.draw(st.sampled_from(self.entries(final=False)))
        assert self.pool.mark_final(entry.txid).final
        self.finals.add(entry.txid)

    @precondition(lambda self: self.pool.pending_count > 0)
    @rule(data=st.data())
    def mark_accepted(self, data: st.DataObject) -> None:
        entry = data.draw(st.sampled_from(self.entries(final=False)))
        self.pool.mark_accepted(entry.txid)
        for txin in entry.tx.inputs:
            assert self.pool.utxos.coin(txin.outpoint).state is CoinState.SPENT_PENDING  # type: ignore[union-attr]

    @rule(tx=st.sampled_from(CATALOG))
    def reject(self, tx: Transaction) -> None:
        entry = self.pool.get(tx.txid)
        before = state_of(self.pool)
        if entry is None or entry.final:
            error = UnknownTransactionError if entry is None else FinalTransactionError
            try:
                self.pool.reject(tx.txid)
            except error:
                assert state_of(self.pool) == before
            else:
                raise AssertionError("reject should have failed")
            return
        assert self.pool.reject(tx.txid) == [tx.txid]
        for txin in tx.inputs:
            assert self.pool.utxos.coin(txin.outpoint).state is CoinState.UNSPENT  # type: ignore[union-attr]

    @rule(dt=st.floats(0, 60))
    def expire(self, dt: float) -> None:
        self.now += dt
        due = {e.txid for e in self.entries(final=False) if e.added_at + EXPIRY <= self.now}
        assert set(self.pool.expire(self.now)) == due

    @rule(cap=st.sampled_from([0, 200, 250, 380, 450, 530, 700, 2_000, 10**6]), commit=st.booleans())
    def block(self, cap: int, commit: bool) -> None:
        template = self.pool.block_template(cap)
        assert sum(tx.size for tx in template) <= cap
        placed: set[bytes] = set()
        for tx in template:
            entry = self.pool.get(tx.txid)
            assert entry is not None and entry.final and tx.txid not in placed
            assert all(p in placed for p in entry.parents)
            placed.add(tx.txid)
        if cap == 10**6:
            assert placed == self.finals  # room for everything: every final entry is offered
        if commit:
            self.height += 1
            removal = self.pool.remove_confirmed(template, self.height)
            assert set(removal.confirmed) == placed and removal.conflicted == ()
            event(f"committed a block of {min(len(placed), 3)}+ transactions")
            self.finals -= placed

    @rule(tx=st.sampled_from(TOP))
    def foreign_block(self, tx: Transaction) -> None:
        """A block confirms a spend of a funding coin this pool may hold a rival of."""
        coin = self.pool.utxos.coin(tx.inputs[0].outpoint)
        if coin is None or coin.state is CoinState.SPENT_FINALIZED or tx.txid in self.pool:
            return  # already spent, or only a safety failure could produce this block
        rival = self.pool.spender(tx.inputs[0].outpoint)
        self.height += 1
        removal = self.pool.remove_confirmed([tx], self.height)
        assert removal.confirmed == ()
        assert (rival is None and removal.conflicted == ()) or removal.conflicted == (rival,)
        event(f"foreign block, rival={'yes' if rival else 'no'}")
        assert self.pool.utxos.coin(tx.outpoint(0)).height == self.height  # type: ignore[union-attr]

    # -- invariants --------------------------------------------------------------------

    @invariant()
    def bounds(self) -> None:
        entries = self.entries()
        assert len(entries) <= MAX_COUNT
        assert self.pool.total_bytes == sum(e.size for e in entries) <= MAX_BYTES
        assert self.pool.final_count == sum(e.final for e in entries)
        assert self.pool._expiry_stale == len(self.pool._expiry_heap) - self.pool.pending_count

    @invariant()
    def final_entries_are_never_lost(self) -> None:
        assert self.finals == {e.txid for e in self.entries(final=True)}

    @invariant()
    def conflict_index_matches_entries(self) -> None:
        claimed: dict[OutPoint, bytes] = {}
        for entry in self.entries():
            for txin in entry.tx.inputs:
                assert txin.outpoint not in claimed, "two entries spend one coin"
                claimed[txin.outpoint] = entry.txid
        assert self.pool._spenders == claimed

    @invariant()
    def utxo_states_match_entries(self) -> None:
        utxos = self.pool.utxos
        held: dict[OutPoint, bytes] = {}
        for entry in self.entries():
            for txin in entry.tx.inputs:
                coin = utxos.coin(txin.outpoint)
                assert coin is not None and coin.spender == entry.txid
                if entry.final:
                    assert coin.state is CoinState.SPENT_FINALIZED
                else:
                    assert coin.state in (CoinState.LOCKED, CoinState.SPENT_PENDING)
                held[txin.outpoint] = entry.txid
            if entry.final:
                for i in range(len(entry.tx.outputs)):
                    created = utxos.coin(entry.tx.outpoint(i))
                    assert created is not None and created.height is None
        for coin in utxos:
            assert (coin.state is CoinState.UNSPENT) == (coin.outpoint not in held)

    @invariant()
    def parents_are_final_pool_entries(self) -> None:
        for entry in self.entries():
            for parent in entry.parents:
                parent_entry = self.pool.get(parent)
                assert parent_entry is not None and parent_entry.final
                assert entry.txid in self.pool.children(parent)
            if not entry.final:
                assert self.pool.children(entry.txid) == frozenset()


TestPoolMachine = PoolMachine.TestCase
TestPoolMachine.settings = settings(
    max_examples=250,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
