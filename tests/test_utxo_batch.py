"""UtxoSet.confirm_block: the same as its sequence of single calls, all or nothing, and cheap."""

from __future__ import annotations

import hashlib
import random
import struct
from collections.abc import Sequence

import pytest

from timecoin_core import utxo as utxo_module
from timecoin_core.hashing import Tag, tagged_hash
from timecoin_core.transaction import OutPoint, Transaction, TxIn, TxOut
from timecoin_core.utxo import (
    LIVE_STATES,
    MAX_PAGE_SIZE,
    Coin,
    CoinHeightError,
    CoinState,
    DuplicateCoinError,
    UnknownCoinError,
    UtxoError,
    UtxoSet,
)

S = CoinState
PAYLOADS = [bytes([0xC0 + k]) * 20 for k in range(4)]
HOLDER = b"\xee" * 32
REWARD_TXID = b"\x77" * 32


def sequential(
    utxos: UtxoSet, height: int, txs: Sequence[Transaction], reward_txid: bytes | None, rewards: Sequence[TxOut]
) -> tuple[Coin, ...]:
    """What confirm_block is specified to be equivalent to."""
    spent = []
    for tx in txs:
        for txin in tx.inputs:
            spent.append(utxos.confirm_spend(txin.outpoint, height, tx.txid))
        for index, out in enumerate(tx.outputs):
            utxos.add(OutPoint(tx.txid, index), out, height)
    for index, out in enumerate(rewards):
        assert reward_txid is not None
        utxos.add(OutPoint(reward_txid, index), out, height)
    return tuple(spent)


def full_state(utxos: UtxoSet) -> tuple[object, ...]:
    """Everything observable through the public API: coins, indexes, balances, commitment."""
    payloads = sorted({c.payload for c in utxos} | set(PAYLOADS))
    state_sets = [LIVE_STATES, *(frozenset({s}) for s in LIVE_STATES)]
    return (
        sorted((c.outpoint, c.output, c.height, c.state.value, c.spender) for c in utxos),
        len(utxos),
        utxos.commitment(),
        repr(utxos),
        [
            (
                p,
                utxos.balance(p),
                utxos.count_of(p),
                [utxos.coins_of(p, None, MAX_PAGE_SIZE, states) for states in state_sets],
            )
            for p in payloads
        ],
    )


def random_set(rng: random.Random, size: int, height: int) -> UtxoSet:
    """Coins in every live state, most confirmed at or below ``height``, some without a height."""
    utxos = UtxoSet()
    for _ in range(size):
        op = OutPoint(rng.randbytes(32), rng.randrange(3))
        created = None if rng.random() < 0.1 else rng.randrange(height + 1)
        utxos.add(op, TxOut(rng.randrange(1, 10**9), rng.choice(PAYLOADS)), created)
        kind = rng.random()
        if kind < 0.1:
            utxos.lock(op, HOLDER)
        elif kind < 0.15:
            utxos.mark_spent_pending(op, HOLDER)
        elif kind < 0.2:
            utxos.finalize(op, HOLDER)
    return utxos


def random_block(
    rng: random.Random, utxos: UtxoSet, height: int, count: int
) -> tuple[list[Transaction], list[TxOut]]:
    """Valid for the set: spends confirmed coins and outputs of earlier transactions."""
    spendable = [c.outpoint for c in utxos if c.height is not None and c.height <= height]
    rng.shuffle(spendable)
    txs: list[Transaction] = []
    for n in range(count):
        inputs = [TxIn(spendable.pop()) for _ in range(min(len(spendable), rng.randrange(0, 4)))]
        outputs = [TxOut(rng.randrange(1, 10**9), rng.choice(PAYLOADS)) for _ in range(rng.randrange(1, 4))]
        tx = Transaction(inputs, outputs, memo=n.to_bytes(4, "little"))
        txs.append(tx)
        # Later transactions may spend these, so some coins never reach the set.
        created = [OutPoint(tx.txid, i) for i in range(len(outputs))]
        spendable[rng.randrange(len(spendable) + 1) :] += created
    rewards = [TxOut(rng.randrange(1, 10**9), rng.choice(PAYLOADS)) for _ in range(rng.randrange(0, 3))]
    return txs, rewards


@pytest.mark.parametrize(("set_size", "block_size"), [(0, 5), (10, 40), (400, 3), (300, 60), (2000, 30)])
@pytest.mark.parametrize("seed", range(4))
def test_confirm_block_equals_the_sequence_of_single_calls(set_size: int, block_size: int, seed: int) -> None:
    rng = random.Random(seed * 1000 + set_size + block_size)
    height = 50
    utxos = random_set(rng, set_size, height)
    txs, rewards = random_block(rng, utxos, height, block_size)
    reference = utxos.copy()
    expected = sequential(reference, height, txs, REWARD_TXID, rewards)
    spent = utxos.confirm_block(height, txs, REWARD_TXID, rewards)
    assert spent == expected
    assert all(c.state is S.CONFIRMED and c.spent_height == height for c in spent)
    assert utxos == reference
    assert full_state(utxos) == full_state(reference)
    # The incremental commitment equals one computed from scratch.
    fresh = UtxoSet()
    for coin in utxos:
        fresh.add(coin.outpoint, coin.output, coin.height)
    assert fresh.commitment() == utxos.commitment()


def test_an_empty_block_and_rewards_only() -> None:
    utxos = random_set(random.Random(1), 20, 5)
    before = full_state(utxos)
    assert utxos.confirm_block(6, []) == ()
    assert full_state(utxos) == before
    reward = TxOut(5, PAYLOADS[0])
    assert utxos.confirm_block(6, [], REWARD_TXID, [reward]) == ()
    assert utxos.coin(OutPoint(REWARD_TXID, 0)) == Coin(OutPoint(REWARD_TXID, 0), reward, 6, S.UNSPENT, None)


def _tx(inputs: Sequence[OutPoint], outputs: Sequence[TxOut], memo: bytes = b"") -> Transaction:
    return Transaction([TxIn(op) for op in inputs], outputs, memo=memo)


def _error_cases() -> list[tuple[str, UtxoSet, int, list[Transaction], bytes | None, list[TxOut]]]:
    out = TxOut(9, PAYLOADS[1])
    base = UtxoSet()
    confirmed = OutPoint(b"\x01" * 32, 0)
    late = OutPoint(b"\x02" * 32, 0)
    unconfirmed = OutPoint(b"\x03" * 32, 0)
    base.add(confirmed, out, 3)
    base.add(late, out, 9)
    base.add(unconfirmed, out, None)
    ok = _tx([confirmed], [out])
    chained = _tx([OutPoint(ok.txid, 0)], [out])
    no_inputs = _tx([], [out], b"same")
    existing = Transaction([], [out])
    clash = base.copy()
    clash.add(OutPoint(existing.txid, 0), out, 1)
    return [
        ("unknown", base, 5, [ok, _tx([OutPoint(b"\x09" * 32, 1)], [out])], None, []),
        ("double spend", base, 5, [ok, _tx([confirmed], [out], b"again")], None, []),
        ("spent twice in the block", base, 5, [ok, chained, _tx([OutPoint(ok.txid, 0)], [out], b"2")], None, []),
        ("spent before created", base, 5, [ok, _tx([late], [out])], None, []),
        ("never confirmed", base, 5, [ok, _tx([unconfirmed], [out])], None, []),
        ("created twice", base, 5, [no_inputs, no_inputs], None, []),
        ("created over an existing coin", clash, 5, [ok, existing], None, []),
        ("reward over a created coin", base, 5, [ok], ok.txid, [out]),
    ]


@pytest.mark.parametrize("case", range(len(_error_cases())))
def test_errors_match_the_sequence_and_change_nothing(case: int) -> None:
    name, utxos, height, txs, reward_txid, rewards = _error_cases()[case]
    reference = utxos.copy()
    with pytest.raises(UtxoError) as expected:
        sequential(reference, height, txs, reward_txid, rewards)
    before = full_state(utxos)
    with pytest.raises(UtxoError) as info:
        utxos.confirm_block(height, txs, reward_txid, rewards)
    assert type(info.value) is type(expected.value), name
    assert str(info.value) == str(expected.value), name
    assert full_state(utxos) == before, name
    assert isinstance(info.value, UnknownCoinError | CoinHeightError | DuplicateCoinError)


def test_bad_arguments() -> None:
    utxos = UtxoSet()
    with pytest.raises(TypeError):
        utxos.confirm_block(-1, [])
    with pytest.raises(TypeError):
        utxos.confirm_block(1, [], None, [TxOut(1, PAYLOADS[0])])
    with pytest.raises(TypeError):
        utxos.confirm_block(1, [], b"short", [TxOut(1, PAYLOADS[0])])


class _Boom(Exception):
    pass


@pytest.mark.parametrize("where", ["elements", "index", "balances"])
@pytest.mark.parametrize(("set_size", "block_size"), [(30, 30), (2000, 10)])
def test_a_failure_while_applying_changes_nothing(
    where: str, set_size: int, block_size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Cannot happen once the block is checked; simulate a bug at each stage anyway.
    rng = random.Random(where)
    utxos = random_set(rng, set_size, 10)
    txs, rewards = random_block(rng, utxos, 10, block_size)
    before = full_state(utxos)
    if where == "elements":
        def fail(*args: object) -> int:
            raise _Boom

        monkeypatch.setattr(utxo_module, "_element_sum", fail)
    elif where == "index":
        real = utxo_module._remove_keys

        def fail_after(*args: object) -> None:
            real(*args)  # type: ignore[arg-type]
            raise _Boom

        monkeypatch.setattr(utxo_module, "_remove_keys", fail_after)
    else:
        class FlakyDict(dict[bytes, list[int]]):
            calls = 0

            def get(self, key: bytes, default: object = None) -> list[int] | None:  # type: ignore[override]
                self.calls += 1
                if self.calls == 2:  # after the first payload's balance changed
                    raise _Boom
                return super().get(key)

        # Not through monkeypatch: undoing would bring back the old dict, whose slot
        # lists the failed call shares; the set's own recovery replaces it.
        utxos._balances = FlakyDict(utxos._balances)
    with pytest.raises(_Boom):
        utxos.confirm_block(11, txs, REWARD_TXID, rewards)
    monkeypatch.undo()
    assert full_state(utxos) == before
    reference = utxos.copy()
    sequential(reference, 11, txs, REWARD_TXID, rewards)
    utxos.confirm_block(11, txs, REWARD_TXID, rewards)
    assert full_state(utxos) == full_state(reference)


def test_commitment_matches_its_definition() -> None:
    """The commitment as docs/ledger.md defines it, computed here independently."""
    rng = random.Random(7)
    utxos = random_set(rng, 40, 10)
    txs, rewards = random_block(rng, utxos, 10, 10)
    utxos.confirm_block(11, txs, REWARD_TXID, rewards)
    acc = 0
    count = 0
    for coin in utxos:
        if coin.height is None:
            continue
        preimage = coin.outpoint.to_bytes() + coin.output.to_bytes() + struct.pack("<Q", coin.height)
        element = hashlib.shake_256(tagged_hash(Tag.UTXO, preimage)).digest(512)
        acc = (acc + int.from_bytes(element, "little")) % 2**4096
        count += 1
    expected = tagged_hash(Tag.UTXO, struct.pack("<Q", count) + acc.to_bytes(512, "little"))
    assert utxos.commitment() == expected


def test_count_of_and_empty_pages() -> None:
    utxos = UtxoSet()
    empty = utxos.coins_of(PAYLOADS[0])
    assert empty.coins == () and empty.next_cursor is None and utxos.count_of(PAYLOADS[0]) == 0
    ops = [OutPoint(bytes([i]) * 32, 0) for i in range(1, 4)]
    for op in ops:
        utxos.add(op, TxOut(5, PAYLOADS[0]), 1)
    utxos.finalize(ops[0], HOLDER)  # still counted: it is in the set until a block spends it
    assert utxos.count_of(PAYLOADS[0]) == 3 and utxos.count_of(PAYLOADS[1]) == 0
    for op in ops:
        utxos.confirm_spend(op, 2)
    assert utxos.count_of(PAYLOADS[0]) == 0
    assert utxos.coins_of(PAYLOADS[0], ops[0], 3) == empty
