"""Coin selection picks the least waste among its algorithms, and every error is typed and named."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timecoin_core import DEVNET, FeeRate, OutPoint, TimecoinError, TxOut, coins
from timecoin_core.utxo import Coin, CoinState
from timecoin_core.wallet import (
    INPUT_SIZE,
    CoinSelectionError,
    SelectionAlgorithm,
    WalletArgumentError,
    WalletTypeError,
    effective_fee_rate,
    select_coins,
    selection_alternatives,
)

PAYLOAD = bytes(range(20))


def make_coin(n: int, amount: int) -> Coin:
    return Coin(OutPoint(n.to_bytes(32, "big"), n % 5), TxOut(amount, PAYLOAD), 1, CoinState.UNSPENT, None)


@settings(max_examples=300, deadline=None)
@given(
    amounts=st.lists(st.integers(1, 5_000_000), min_size=1, max_size=40),
    target=st.integers(1, 20_000_000),
    fee_rate=st.sampled_from([None, FeeRate(25_000), FeeRate(100_000)]),
    subtract=st.booleans(),
    seed=st.integers(0, 2**32),
    max_inputs=st.integers(1, 40),
)
def test_chosen_waste_is_at_most_every_alternative(
    amounts: list[int], target: int, fee_rate: FeeRate | None, subtract: bool, seed: int, max_inputs: int
) -> None:
    pool = [make_coin(n, a) for n, a in enumerate(amounts)]
    kwargs = {"subtract_fee": subtract, "seed": seed, "max_inputs": max_inputs}
    try:
        alternatives = selection_alternatives(pool, target, fee_rate, DEVNET, **kwargs)  # type: ignore[arg-type]
    except CoinSelectionError:
        with pytest.raises(CoinSelectionError):
            select_coins(pool, target, fee_rate, DEVNET, **kwargs)  # type: ignore[arg-type]
        return
    chosen = select_coins(pool, target, fee_rate, DEVNET, **kwargs)  # type: ignore[arg-type]
    assert chosen in alternatives
    assert all(chosen.waste <= other.waste for other in alternatives)
    rate = effective_fee_rate(fee_rate, DEVNET)
    for selection in alternatives:
        spend_change = rate.fee(INPUT_SIZE) if selection.has_change else 0
        assert selection.waste == selection.fee + spend_change


def test_the_random_draw_no_longer_overpays() -> None:
    # Many small coins and a few large ones: a random draw often takes several small
    # coins where one large coin does, and used to pay that fee.
    rng = random.Random(3)
    pool = [make_coin(n, rng.randrange(coins("0.01"), coins("0.05"))) for n in range(60)]
    pool += [make_coin(100 + n, coins("5") + n) for n in range(3)]
    target = coins("0.9")
    cheapest = min(
        s.fee for seed in range(1) for s in selection_alternatives(pool, target, None, DEVNET, seed=seed)
    )
    overpaid = 0
    for seed in range(60):
        alternatives = selection_alternatives(pool, target, None, DEVNET, seed=seed)
        draw = [a for a in alternatives if a.algorithm is SelectionAlgorithm.SINGLE_RANDOM_DRAW]
        overpaid += bool(draw and draw[0].fee > 2 * cheapest)
        chosen = select_coins(pool, target, None, DEVNET, seed=seed)
        assert chosen.fee <= cheapest + FeeRate(DEVNET.min_fee_per_kb).fee(INPUT_SIZE)
    assert overpaid > 10  # the draw alone would have overpaid on these seeds


def test_equal_waste_keeps_the_random_draw() -> None:
    pool = [make_coin(n, coins("1")) for n in range(10)]
    chosen = select_coins(pool, coins("0.5"), None, DEVNET, seed=4)
    assert chosen.algorithm is SelectionAlgorithm.SINGLE_RANDOM_DRAW
    assert len(chosen.coins) == 1


@pytest.mark.parametrize(
    ("kwargs", "parameter", "kind"),
    [
        ({"target": 0}, "target", WalletArgumentError),
        ({"target": "5"}, "target", WalletTypeError),
        ({"target": 1.5}, "target", WalletTypeError),
        ({"target": True}, "target", WalletTypeError),
        ({"max_inputs": 0}, "max_inputs", WalletArgumentError),
        ({"max_inputs": "3"}, "max_inputs", WalletTypeError),
        ({"n_outputs": 0}, "n_outputs", WalletArgumentError),
        ({"memo_size": 81}, "memo_size", WalletArgumentError),
        ({"max_tries": -1}, "max_tries", WalletArgumentError),
        ({"seed": "x"}, "seed", WalletTypeError),
        ({"fee_rate": 5}, "fee_rate", WalletTypeError),
        ({"network": "devnet"}, "network", WalletTypeError),
        ({"candidates": [b"junk"]}, "candidates", WalletTypeError),
        ({"candidates": [make_coin(1, 10**6)] * 2}, "candidates", WalletArgumentError),
    ],
)
def test_bad_arguments_are_typed_errors_naming_the_parameter(
    kwargs: dict[str, object], parameter: str, kind: type[Exception]
) -> None:
    args: dict[str, object] = {
        "candidates": [make_coin(0, coins("1"))], "target": coins("0.5"), "fee_rate": None, "network": DEVNET,
    }
    args.update(kwargs)
    with pytest.raises(kind) as info:
        select_coins(**args)  # type: ignore[arg-type]
    assert isinstance(info.value, TimecoinError) and isinstance(info.value, ValueError)
    assert info.value.parameter == parameter  # type: ignore[attr-defined]
    assert str(info.value).startswith(parameter)
    if kind is WalletTypeError:
        assert isinstance(info.value, TypeError)
