"""UtxoSet against an independent model, over random sequences of valid and invalid operations."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from test_utxo import EXPECTED_LEGAL

from timecoin_core.errors import TimecoinError
from timecoin_core.transaction import OutPoint, TxOut
from timecoin_core.utxo import (
    LIVE_STATES,
    Balance,
    Coin,
    CoinEvent,
    CoinHeightError,
    CoinHeldError,
    CoinState,
    DuplicateCoinError,
    IllegalTransitionError,
    UnknownCoinError,
    UtxoSet,
)

S = CoinState
OUTPOINTS = [OutPoint(bytes([t]) * 32, i) for t in (1, 2, 0xF0) for i in (0, 1, 7)]
TXIDS = [bytes([0xA0 + k]) * 32 for k in range(3)]
PAYLOADS = [bytes([0xC0 + k]) * 20 for k in range(3)]
HELD = {S.LOCKED, S.SPENT_PENDING, S.SPENT_FINALIZED}
STATE_SETS = [LIVE_STATES, frozenset({S.UNSPENT}), frozenset({S.LOCKED, S.SPENT_FINALIZED})]


@dataclass(frozen=True)
class ModelCoin:
    output: TxOut
    height: int | None
    state: CoinState
    spender: bytes | None


def expected_event(model: dict[OutPoint, ModelCoin], op: OutPoint, event: CoinEvent, txid: bytes) -> type[TimecoinError] | ModelCoin:
    """What the set must do, derived from the rules as stated rather than from the module."""
    coin = model.get(op)
    if coin is None:
        return UnknownCoinError
    if coin.state in HELD and coin.spender != txid:
        return CoinHeldError
    new = EXPECTED_LEGAL[coin.state].get(event)
    if new is None:
        return IllegalTransitionError
    return ModelCoin(coin.output, coin.height, new, None if new is S.UNSPENT else txid)


class UtxoMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.utxos = UtxoSet()
        self.model: dict[OutPoint, ModelCoin] = {}
        self.saved: tuple[UtxoSet, dict[OutPoint, ModelCoin]] | None = None

    def expect_failure(self, error: type[TimecoinError], action: object) -> None:
        before = self.utxos.copy()
        commitment = self.utxos.commitment()
        try:
            action()  # type: ignore[operator]
        except TimecoinError as exc:
            assert type(exc) is error, (exc, error)
        else:
            raise AssertionError(f"expected {error.__name__}")
        assert self.utxos == before and self.utxos.commitment() == commitment

    @rule(
        op=st.sampled_from(OUTPOINTS),
        payload=st.sampled_from(PAYLOADS),
        amount=st.integers(0, 10**9),
        height=st.none() | st.integers(0, 5),
    )
    def add(self, op: OutPoint, payload: bytes, amount: int, height: int | None) -> None:
        out = TxOut(amount, payload)
        if op in self.model:
            self.expect_failure(DuplicateCoinError, lambda: self.utxos.add(op, out, height))
            return
        coin = self.utxos.add(op, out, height)
        assert coin == Coin(op, out, height, S.UNSPENT, None)
        self.model[op] = ModelCoin(out, height, S.UNSPENT, None)

    @rule(
        op=st.sampled_from(OUTPOINTS),
        event=st.sampled_from([CoinEvent.LOCK, CoinEvent.ACCEPT, CoinEvent.FINALIZE, CoinEvent.RELEASE]),
        txid=st.sampled_from(TXIDS),
    )
    def lifecycle(self, op: OutPoint, event: CoinEvent, txid: bytes) -> None:
        method = {
            CoinEvent.LOCK: self.utxos.lock,
            CoinEvent.ACCEPT: self.utxos.mark_spent_pending,
            CoinEvent.FINALIZE: self.utxos.finalize,
            CoinEvent.RELEASE: self.utxos.release,
        }[event]
        expected = expected_event(self.model, op, event, txid)
        if isinstance(expected, type):
            self.expect_failure(expected, lambda: method(op, txid))
            return
        coin = method(op, txid)
        assert (coin.state, coin.spender) == (expected.state, expected.spender)
        self.model[op] = expected

    @rule(op=st.sampled_from(OUTPOINTS), height=st.integers(0, 8))
    def confirm_spend(self, op: OutPoint, height: int) -> None:
        coin = self.model.get(op)
        if coin is None:
            self.expect_failure(UnknownCoinError, lambda: self.utxos.confirm_spend(op, height))
        elif coin.height is None or height < coin.height:
            self.expect_failure(CoinHeightError, lambda: self.utxos.confirm_spend(op, height))
        else:
            done = self.utxos.confirm_spend(op, height)
            assert (done.state, done.spent_height, done.spender) == (S.CONFIRMED, height, coin.spender)
            del self.model[op]

    @rule(op=st.sampled_from(OUTPOINTS), height=st.integers(0, 5))
    def confirm_created(self, op: OutPoint, height: int) -> None:
        coin = self.model.get(op)
        if coin is None:
            self.expect_failure(UnknownCoinError, lambda: self.utxos.confirm_created(op, height))
        elif coin.height is not None:
            self.expect_failure(CoinHeightError, lambda: self.utxos.confirm_created(op, height))
        else:
            assert self.utxos.confirm_created(op, height).height == height
            self.model[op] = ModelCoin(coin.output, height, coin.state, coin.spender)

    @rule()
    def snapshot(self) -> None:
        self.saved = (self.utxos.copy(), dict(self.model))

    @precondition(lambda self: self.saved is not None)
    @rule()
    def revert(self) -> None:
        assert self.saved is not None
        self.utxos, model = self.saved
        self.model = dict(model)
        self.saved = (self.utxos.copy(), model)

    # -- invariants --------------------------------------------------------------------

    @invariant()
    def matches_model(self) -> None:
        assert len(self.utxos) == len(self.model)
        for coin in self.utxos:
            m = self.model[coin.outpoint]
            assert (coin.output, coin.height, coin.state, coin.spender) == (m.output, m.height, m.state, m.spender)
            assert self.utxos.get_output(coin.outpoint) == (coin.output if coin.state is S.UNSPENT else None)

    @invariant()
    def balances_add_up(self) -> None:
        for payload in PAYLOADS:
            confirmed = finalized = pending = 0
            for m in self.model.values():
                if m.output.payload != payload:
                    continue
                if m.state is S.UNSPENT and m.height is not None:
                    confirmed += m.output.amount
                elif m.state is S.UNSPENT:
                    finalized += m.output.amount
                elif m.state in (S.LOCKED, S.SPENT_PENDING):
                    pending += m.output.amount
            assert self.utxos.balance(payload) == Balance(confirmed, finalized, pending)

    @invariant()
    def pages_partition_each_address(self) -> None:
        for payload in PAYLOADS:
            for states in STATE_SETS:
                seen: list[OutPoint] = []
                cursor: OutPoint | None = None
                while True:
                    page = self.utxos.coins_of(payload, cursor, 2, states)
                    seen += [c.outpoint for c in page.coins]
                    if page.next_cursor is None:
                        break
                    cursor = page.next_cursor
                expected = sorted(
                    op for op, m in self.model.items() if m.output.payload == payload and m.state in states
                )
                assert seen == expected

    @invariant()
    def commitment_is_a_function_of_the_confirmed_coins(self) -> None:
        rebuilt = UtxoSet()
        for op in sorted(self.model, reverse=True):
            m = self.model[op]
            if m.height is not None:
                rebuilt.add(op, m.output, m.height)
        assert rebuilt.commitment() == self.utxos.commitment()


TestUtxoMachine = UtxoMachine.TestCase
TestUtxoMachine.settings = settings(
    max_examples=100,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
