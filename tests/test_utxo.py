"""UtxoSet: the lifecycle table, holders, heights, pagination, balances and the commitment."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from timecoin_core.errors import TimecoinError
from timecoin_core.transaction import OutPoint, TxOut
from timecoin_core.utxo import (
    LIVE_STATES,
    MAX_PAGE_SIZE,
    TRANSITIONS,
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
    next_state,
)
from timecoin_core.validation import OutputView

S = CoinState
E = CoinEvent
ALICE = b"\xaa" * 20
BOB = b"\xbb" * 20
T1 = b"\x01" * 32
T2 = b"\x02" * 32
OP = OutPoint(b"\x10" * 32, 0)
OUT = TxOut(500, ALICE)

# Written out independently of the module so that a change to the table shows up here.
EXPECTED_LEGAL: dict[CoinState, dict[CoinEvent, CoinState]] = {
    S.UNSPENT: {
        E.LOCK: S.LOCKED,
        E.ACCEPT: S.SPENT_PENDING,
        E.FINALIZE: S.SPENT_FINALIZED,
        E.CONFIRM_SPEND: S.CONFIRMED,
    },
    S.LOCKED: {
        E.ACCEPT: S.SPENT_PENDING,
        E.FINALIZE: S.SPENT_FINALIZED,
        E.RELEASE: S.UNSPENT,
        E.CONFIRM_SPEND: S.CONFIRMED,
    },
    S.SPENT_PENDING: {E.FINALIZE: S.SPENT_FINALIZED, E.RELEASE: S.UNSPENT, E.CONFIRM_SPEND: S.CONFIRMED},
    S.SPENT_FINALIZED: {E.CONFIRM_SPEND: S.CONFIRMED},
    S.CONFIRMED: {},
}


def set_with_coin_in(state: CoinState, height: int | None = 3) -> UtxoSet:
    """A set holding OP in ``state``, held by T1 when held."""
    utxos = UtxoSet()
    utxos.add(OP, OUT, height)
    if state is S.LOCKED:
        utxos.lock(OP, T1)
    elif state is S.SPENT_PENDING:
        utxos.lock(OP, T1)
        utxos.mark_spent_pending(OP, T1)
    elif state is S.SPENT_FINALIZED:
        utxos.lock(OP, T1)
        utxos.mark_spent_pending(OP, T1)
        utxos.finalize(OP, T1)
    assert utxos.coin(OP) is not None and utxos.coin(OP).state is state  # type: ignore[union-attr]
    return utxos


def apply_event(utxos: UtxoSet, event: CoinEvent, txid: bytes = T1) -> Coin:
    actions: dict[CoinEvent, Callable[[], Coin]] = {
        E.LOCK: lambda: utxos.lock(OP, txid),
        E.ACCEPT: lambda: utxos.mark_spent_pending(OP, txid),
        E.FINALIZE: lambda: utxos.finalize(OP, txid),
        E.RELEASE: lambda: utxos.release(OP, txid),
        E.CONFIRM_SPEND: lambda: utxos.confirm_spend(OP, 10),
    }
    return actions[event]()


def test_table_is_the_agreed_lifecycle() -> None:
    assert {s: dict(row) for s, row in TRANSITIONS.items()} == EXPECTED_LEGAL
    assert set(TRANSITIONS) == set(CoinState)
    assert frozenset(TRANSITIONS) - {S.CONFIRMED} == LIVE_STATES


@pytest.mark.parametrize("state", [S.UNSPENT, S.LOCKED, S.SPENT_PENDING, S.SPENT_FINALIZED])
@pytest.mark.parametrize("event", list(CoinEvent))
def test_every_transition_through_the_set(state: CoinState, event: CoinEvent) -> None:
    utxos = set_with_coin_in(state)
    before = utxos.copy()
    commitment = utxos.commitment()
    expected = EXPECTED_LEGAL[state].get(event)
    if expected is None:
        with pytest.raises(IllegalTransitionError) as info:
            apply_event(utxos, event)
        err = info.value
        assert (err.outpoint, err.state, err.event) == (OP, state, event)
        assert str(OP) in str(err) and state.value in str(err) and event.value in str(err)
        assert utxos == before and utxos.commitment() == commitment
        return
    coin = apply_event(utxos, event)
    assert coin.state is expected
    if expected is S.CONFIRMED:
        assert OP not in utxos and coin.spent_height == 10
    else:
        assert utxos.coin(OP) == coin
        assert coin.spender == (None if expected is S.UNSPENT else T1)


@pytest.mark.parametrize("event", list(CoinEvent))
def test_confirmed_is_terminal(event: CoinEvent) -> None:
    with pytest.raises(IllegalTransitionError) as info:
        next_state(OP, S.CONFIRMED, event)
    assert info.value.state is S.CONFIRMED and "allowed: none" in str(info.value)


def test_errors_are_typed_value_errors() -> None:
    for cls in (IllegalTransitionError, CoinHeldError, DuplicateCoinError, UnknownCoinError, CoinHeightError):
        assert issubclass(cls, TimecoinError) and issubclass(cls, ValueError)


@pytest.mark.parametrize("state", [S.LOCKED, S.SPENT_PENDING, S.SPENT_FINALIZED])
@pytest.mark.parametrize("event", [E.LOCK, E.ACCEPT, E.FINALIZE, E.RELEASE])
def test_only_the_holder_moves_a_held_coin(state: CoinState, event: CoinEvent) -> None:
    utxos = set_with_coin_in(state)
    before = utxos.copy()
    with pytest.raises(CoinHeldError) as info:
        apply_event(utxos, event, T2)
    assert info.value.holder == T1 and info.value.txid == T2
    assert T1.hex() in str(info.value) and T2.hex() in str(info.value)
    assert utxos == before


def test_release_of_an_unspent_coin_is_illegal_not_held() -> None:
    utxos = set_with_coin_in(S.UNSPENT)
    with pytest.raises(IllegalTransitionError) as info:
        utxos.release(OP, T2)
    assert not isinstance(info.value, CoinHeldError)


def test_a_block_overrides_any_holder() -> None:
    utxos = set_with_coin_in(S.LOCKED)
    coin = utxos.confirm_spend(OP, 7, txid=T2)
    assert (coin.state, coin.spender, coin.spent_height) == (S.CONFIRMED, T2, 7)
    utxos = set_with_coin_in(S.LOCKED)
    assert utxos.confirm_spend(OP, 7).spender == T1


def test_certificate_for_a_coin_never_locked() -> None:
    utxos = set_with_coin_in(S.UNSPENT)
    assert utxos.finalize(OP, T2).state is S.SPENT_FINALIZED
    assert utxos.get_output(OP) is None


def test_unknown_and_duplicate_coins() -> None:
    utxos = UtxoSet()
    actions: list[Callable[[], Coin]] = [
        lambda: utxos.lock(OP, T1),
        lambda: utxos.confirm_spend(OP, 1),
        lambda: utxos.confirm_created(OP, 1),
    ]
    for action in actions:
        with pytest.raises(UnknownCoinError):
            action()
    utxos.add(OP, OUT, None)
    with pytest.raises(DuplicateCoinError) as info:
        utxos.add(OP, TxOut(1, BOB), 4)
    assert info.value.outpoint == OP
    assert utxos.coin(OP) == Coin(OP, OUT, None, S.UNSPENT, None)


def test_bad_arguments_are_type_errors() -> None:
    utxos = set_with_coin_in(S.UNSPENT)
    with pytest.raises(TypeError):
        utxos.lock(OP, b"short")
    with pytest.raises(TypeError):
        utxos.confirm_spend(OP, -1)
    with pytest.raises(TypeError):
        utxos.add(OutPoint(T2, 0), OUT, True)


def test_heights() -> None:
    utxos = UtxoSet()
    utxos.add(OP, OUT, None)
    utxos.lock(OP, T1)
    with pytest.raises(CoinHeightError):
        utxos.confirm_spend(OP, 5)  # spent in a block before its creation was
    assert utxos.confirm_created(OP, 5).height == 5
    assert utxos.coin(OP).state is S.LOCKED  # type: ignore[union-attr]
    with pytest.raises(CoinHeightError):
        utxos.confirm_created(OP, 6)
    with pytest.raises(CoinHeightError):
        utxos.confirm_spend(OP, 4)
    assert utxos.coin(OP).height == 5  # type: ignore[union-attr]
    assert utxos.confirm_spend(OP, 5).state is S.CONFIRMED


def test_get_output_is_an_output_view_of_unspent_coins() -> None:
    utxos = set_with_coin_in(S.UNSPENT)
    view: OutputView = utxos
    assert view.get_output(OP) == OUT
    utxos.lock(OP, T1)
    assert view.get_output(OP) is None
    assert utxos.coin(OP) is not None


def test_container_protocol_and_copy() -> None:
    utxos = set_with_coin_in(S.UNSPENT)
    other = OutPoint(T2, 1)
    utxos.add(other, TxOut(7, BOB), 2)
    assert len(utxos) == 2 and OP in utxos and OutPoint(T2, 9) not in utxos
    assert {c.outpoint for c in utxos} == {OP, other}
    assert all(c in utxos for c in utxos) and "x" not in utxos
    clone = utxos.copy()
    assert clone == utxos and clone.commitment() == utxos.commitment()
    clone.lock(OP, T1)
    clone.confirm_spend(other, 9)
    assert utxos.coin(OP).state is S.UNSPENT and other in utxos  # type: ignore[union-attr]
    assert utxos.balance(BOB) == Balance(7, 0, 0) and clone.balance(BOB) == Balance()
    assert clone != utxos and clone.commitment() != utxos.commitment()
    assert "coins=2" in repr(utxos)


def test_balance_categories() -> None:
    utxos = UtxoSet()
    ops = [OutPoint(bytes([i]) * 32, 0) for i in range(1, 7)]
    utxos.add(ops[0], TxOut(1, ALICE), 1)  # confirmed
    utxos.add(ops[1], TxOut(10, ALICE), None)  # finalized
    utxos.add(ops[2], TxOut(100, ALICE), 1)
    utxos.lock(ops[2], T1)  # pending
    utxos.add(ops[3], TxOut(1000, ALICE), None)
    utxos.mark_spent_pending(ops[3], T1)  # pending
    utxos.add(ops[4], TxOut(10_000, ALICE), 1)
    utxos.finalize(ops[4], T1)  # spent for good: nowhere
    utxos.add(ops[5], TxOut(100_000, BOB), 1)
    balance = utxos.balance(ALICE)
    assert balance == Balance(confirmed=1, finalized=10, pending=1100)
    assert balance.spendable == 11 and balance.total == 1111
    utxos.release(ops[2], T1)
    utxos.confirm_created(ops[1], 2)
    assert utxos.balance(ALICE) == Balance(confirmed=111, finalized=0, pending=1000)
    for op in ops[:5]:
        if utxos.coin(op).height is None:  # type: ignore[union-attr]
            utxos.confirm_created(op, 3)
        utxos.confirm_spend(op, 3)
    assert utxos.balance(ALICE) == Balance() and utxos.balance(BOB).confirmed == 100_000


def coins_for(payload: bytes, n: int, seed: int) -> list[tuple[OutPoint, TxOut]]:
    rng = random.Random(seed)
    return [(OutPoint(rng.randbytes(32), rng.randrange(4)), TxOut(i + 1, payload)) for i in range(n)]


def walk(utxos: UtxoSet, payload: bytes, limit: int, states: frozenset[CoinState] = LIVE_STATES) -> list[list[Coin]]:
    pages: list[list[Coin]] = []
    cursor: OutPoint | None = None
    while True:
        page = utxos.coins_of(payload, cursor, limit, states)
        pages.append(list(page.coins))
        if page.next_cursor is None:
            return pages
        assert page.next_cursor == page.coins[-1].outpoint
        cursor = page.next_cursor


@pytest.mark.parametrize("limit", [1, 7, 50, 51, 1000])
def test_pages_partition_an_address_in_outpoint_order(limit: int) -> None:
    utxos = UtxoSet()
    mine = coins_for(ALICE, 50, 1)
    for op, out in mine + coins_for(BOB, 30, 2):
        utxos.add(op, out, 1)
    for op, _ in mine[::3]:
        utxos.lock(op, T1)
    for op, _ in mine[1::6]:
        utxos.finalize(op, T2)
    pages = walk(utxos, ALICE, limit)
    flat = [c.outpoint for page in pages for c in page]
    assert flat == sorted(op for op, _ in mine)
    assert all(0 < len(p) <= limit for p in pages)
    assert len(pages) == max(1, -(-50 // limit))
    unspent = [c.outpoint for page in walk(utxos, ALICE, limit, frozenset({S.UNSPENT})) for c in page]
    assert unspent == sorted(op for op, _ in mine if utxos.coin(op).state is S.UNSPENT)  # type: ignore[union-attr]
    assert utxos.coins_of(b"\xcc" * 20) == utxos.coins_of(b"\xcc" * 20, None, 5)
    assert utxos.coins_of(b"\xcc" * 20).coins == () and utxos.coins_of(b"\xcc" * 20).next_cursor is None


def test_cursor_is_stable_while_the_set_changes() -> None:
    utxos = UtxoSet()
    mine = sorted(coins_for(ALICE, 40, 3))
    for op, out in mine:
        utxos.add(op, out, 1)
    first = utxos.coins_of(ALICE, None, 10)
    cursor = first.next_cursor
    assert cursor is not None
    # Changes behind the cursor are not seen; changes ahead of it are.
    utxos.confirm_spend(mine[2][0], 2)
    utxos.confirm_spend(mine[20][0], 2)
    early = OutPoint(b"\x00" * 32, 0)
    late = OutPoint(b"\xff" * 32, 0)
    utxos.add(early, TxOut(9, ALICE), 1)
    utxos.add(late, TxOut(9, ALICE), 1)
    rest: list[OutPoint] = []
    while cursor is not None:
        page = utxos.coins_of(ALICE, cursor, 10)
        rest += [c.outpoint for c in page.coins]
        cursor = page.next_cursor
    expected = [op for op, _ in mine[10:] if op != mine[20][0]] + [late]
    assert rest == expected


def test_page_limits() -> None:
    utxos = UtxoSet()
    for bad in (0, MAX_PAGE_SIZE + 1, -1):
        with pytest.raises(ValueError):
            utxos.coins_of(ALICE, limit=bad)
    with pytest.raises(TypeError):
        utxos.coins_of(b"short")


def test_commitment_is_order_independent() -> None:
    entries = coins_for(ALICE, 30, 4) + coins_for(BOB, 30, 5)
    heights = {op: i % 5 for i, (op, _) in enumerate(entries)}
    commitments = set()
    for seed in range(5):
        order = entries[:]
        random.Random(seed).shuffle(order)
        utxos = UtxoSet()
        for op, out in order:
            # The path a coin took does not matter, only the coin.
            if seed % 2:
                utxos.add(op, out, None)
                utxos.lock(op, T1)
                utxos.confirm_created(op, heights[op])
            else:
                utxos.add(op, out, heights[op])
        commitments.add(utxos.commitment())
    assert len(commitments) == 1
    assert len(commitments.pop()) == 32


def test_commitment_tracks_confirmed_coins_only() -> None:
    utxos = UtxoSet()
    empty = utxos.commitment()
    assert empty == UtxoSet().commitment()
    utxos.add(OP, OUT, None)
    assert utxos.commitment() == empty  # final but not in a block: local, not committed
    utxos.confirm_created(OP, 3)
    one = utxos.commitment()
    assert one != empty
    utxos.lock(OP, T1)
    utxos.mark_spent_pending(OP, T1)
    utxos.finalize(OP, T1)
    assert utxos.commitment() == one  # local claims never change it
    utxos.confirm_spend(OP, 4)
    assert utxos.commitment() == empty


@pytest.mark.parametrize(
    "other",
    [
        (OutPoint(b"\x10" * 32, 1), OUT, 3),
        (OP, TxOut(501, ALICE), 3),
        (OP, TxOut(500, BOB), 3),
        (OP, OUT, 4),
    ],
)
def test_commitment_detects_any_field_change(other: tuple[OutPoint, TxOut, int]) -> None:
    a, b = UtxoSet(), UtxoSet()
    a.add(OP, OUT, 3)
    b.add(*other)
    assert a.commitment() != b.commitment()
