"""Fee estimation: quantiles of recent final fee rates, the network minimum as floor and fallback."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from timecoin_core import (
    DEVNET,
    FeeRate,
    OutPoint,
    PrivateKey,
    Transaction,
    TxIn,
    TxOut,
    TxPool,
    coins,
)
from timecoin_core.utxo import UtxoSet
from timecoin_core.wallet import FeeEstimator, WalletArgumentError, WalletTypeError

FLOOR = FeeRate(DEVNET.min_fee_per_kb)


def test_falls_back_to_the_network_minimum() -> None:
    estimator = FeeEstimator(DEVNET, min_observations=3)
    assert estimator.estimate(now=100.0) == FLOOR
    estimator.observe(FeeRate(50_000), at=10.0)
    estimator.observe(FeeRate(60_000), at=11.0)
    assert estimator.estimate(now=100.0) == FLOOR  # two are too few
    estimator.observe(FeeRate(70_000), at=12.0)
    assert estimator.estimate(now=100.0) == FeeRate(60_000)  # the median
    assert estimator.estimate(now=100.0, quantile=1.0) == FeeRate(70_000)
    assert estimator.estimate(now=100.0, quantile=0.01) == FeeRate(50_000)
    assert estimator.estimate(now=12.0 + 3_600.0) == FLOOR  # the first left the hour
    assert estimator.estimate(now=5.0) == FLOOR  # nothing observed yet at that time
    assert "observations=3" in repr(estimator)


def test_never_below_the_minimum() -> None:
    estimator = FeeEstimator(DEVNET, min_observations=1)
    estimator.observe(FeeRate(1), at=0)
    assert estimator.estimate(now=1) == FLOOR


@given(
    rates=st.lists(st.tuples(st.integers(0, 10**6), st.floats(0, 10_000)), max_size=60),
    now=st.floats(0, 20_000),
    quantile=st.floats(0.01, 1.0),
)
def test_estimate_is_the_nearest_rank_quantile(rates: list[tuple[int, float]], now: float, quantile: float) -> None:
    estimator = FeeEstimator(DEVNET, window=600.0, min_observations=4)
    for rate, at in rates:
        estimator.observe(FeeRate(rate), at)
    recent = sorted(r for r, at in rates if now - 600.0 < at <= now)
    expected = FLOOR
    if len(recent) >= 4:
        expected = max(FeeRate(recent[math.ceil(quantile * len(recent)) - 1]), FLOOR)
    assert estimator.estimate(now, quantile=quantile) == expected
    assert estimator.estimate(now, quantile=quantile) <= estimator.estimate(now, quantile=1.0)


def test_memory_is_bounded() -> None:
    estimator = FeeEstimator(DEVNET, min_observations=1, max_observations=10)
    for n in range(100):
        estimator.observe(FeeRate(20_000 + n), at=float(n))
    assert len(estimator) == 10
    assert estimator.estimate(now=99.0, quantile=0.01) == FeeRate(20_090)


def test_observes_final_pool_entries_once() -> None:
    key = PrivateKey.from_seed(bytes([5]) * 32)
    utxos = UtxoSet()
    pool = TxPool(DEVNET, utxos)
    txs = []
    for n, fee in enumerate((2_000, 4_000, 8_000)):
        outpoint = OutPoint(bytes([n + 1]) * 32, 0)
        spent = TxOut(coins("1"), key.public_key.payload)
        utxos.add(outpoint, spent, 1)
        tx = Transaction([TxIn(outpoint)], [TxOut(coins("1") - fee, key.public_key.payload)])
        tx = tx.with_witnesses([(key.public_key.data, key.sign(tx.sighash(0, spent, DEVNET)))])
        txs.append(tx)
    pool.add(txs[0], now=0.0, final=True)
    pool.add(txs[1], now=0.0, final=True)
    pool.add(txs[2], now=0.0)  # pending: not observed
    estimator = FeeEstimator(DEVNET, min_observations=2)
    assert estimator.observe_final(pool, at=1.0) == 2
    assert estimator.observe_final(pool, at=2.0) == 0  # the same entries again
    pool.mark_final(txs[2].txid)
    assert estimator.observe_final(pool, at=3.0) == 1
    assert estimator.estimate(now=3.0, quantile=1.0) == pool.get(txs[2].txid).fee_rate  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("kwargs", "parameter", "kind"),
    [
        ({"network": "devnet"}, "network", WalletTypeError),
        ({"window": 0}, "window", WalletArgumentError),
        ({"window": math.inf}, "window", WalletArgumentError),
        ({"window": "1"}, "window", WalletTypeError),
        ({"min_observations": 0}, "min_observations", WalletArgumentError),
        ({"min_observations": 11, "max_observations": 10}, "min_observations", WalletArgumentError),
        ({"max_observations": 1.5}, "max_observations", WalletTypeError),
    ],
)
def test_configuration_is_validated_when_constructed(
    kwargs: dict[str, object], parameter: str, kind: type[WalletArgumentError]
) -> None:
    args: dict[str, object] = {"network": DEVNET}
    args.update(kwargs)
    network = args.pop("network")
    with pytest.raises(kind) as info:
        FeeEstimator(network, **args)  # type: ignore[arg-type]
    assert info.value.parameter == parameter


def test_bad_observations_and_queries() -> None:
    estimator = FeeEstimator(DEVNET)
    with pytest.raises(WalletTypeError):
        estimator.observe(10_000, at=0)  # type: ignore[arg-type]
    with pytest.raises(WalletArgumentError):
        estimator.observe(FLOOR, at=math.nan)
    with pytest.raises(WalletTypeError):
        estimator.observe(FLOOR, at=True)
    with pytest.raises(WalletArgumentError):
        estimator.estimate(0, quantile=0)
    with pytest.raises(WalletArgumentError):
        estimator.estimate(0, quantile=1.5)
