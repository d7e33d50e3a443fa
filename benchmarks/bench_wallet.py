"""Coin selection over 10,000 candidate coins, against sorting those candidates.

Every row selects from the same 10,000 confirmed coins. The reference, measured in
the same run, is the time to sort the 10,000 candidates by amount
(``sorted(candidates, key=attrgetter("output.amount"))``): selection sorts them too,
so the ratio says how much the algorithms cost on top of one sort. Target: every
selection under 20 ms.

* *exact match*: amounts spread log-uniformly from 0.0001 to 1,000 TIME; branch and
  bound finds a change-less set quickly.
* *no exact match*: whole-TIME amounts and a target half a TIME off, so branch and
  bound runs its full ``max_tries`` before the random draw succeeds (worst case).
* *insufficient funds*: every algorithm runs and fails, then the error is built.
* *Wallet.create_transaction*: the whole path for a wallet whose 10,000 coins sit on
  40 addresses of a UtxoSet: discovery (``coins_of`` pages), selection, signing.

A second table is about money, not time: over 200 seeds, the fee the single random
draw alone would pay and the fee ``select_coins`` pays (the least waste of every
algorithm), each against the cheapest fee any algorithm found, for a wallet of many
small coins and a few large ones. Target: ``select_coins`` never pays more than the
cheapest fee plus the fee of one input (what a change output costs to spend later).

Times are CPU seconds of the calling thread, best of several calls, so other load on
the machine skews no figure.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from operator import attrgetter

from timecoin_core.amount import COIN, coins
from timecoin_core.fees import FeeRate
from timecoin_core.keys import PrivateKey
from timecoin_core.network import DEVNET
from timecoin_core.transaction import OutPoint, TxOut
from timecoin_core.utxo import Coin, CoinState, UtxoSet
from timecoin_core.wallet import (
    INPUT_SIZE,
    InsufficientFundsError,
    SelectionAlgorithm,
    Wallet,
    select_coins,
    selection_alternatives,
)

from ._table import Row, Table

CANDIDATES = 10_000
TARGET_MS = 20.0
REPEAT = 7
MNEMONIC = "abandon " * 11 + "about"


def best_time(fn: Callable[[], object], repeat: int) -> float:
    """Best CPU time (this thread) in seconds of ``repeat`` calls of ``fn``."""
    best = float("inf")
    for _ in range(repeat):
        start = time.thread_time()
        fn()
        best = min(best, time.thread_time() - start)
    return best


def _coin(rng: random.Random, n: int, amount: int, payload: bytes) -> Coin:
    return Coin(OutPoint(rng.randbytes(32), n % 4), TxOut(amount, payload), 1, CoinState.UNSPENT, None)


def _spread(seed: int, payload: bytes) -> list[Coin]:
    rng = random.Random(seed)
    return [_coin(rng, n, int(10 ** rng.uniform(4, 11)), payload) for n in range(CANDIDATES)]


def _round(seed: int, payload: bytes) -> list[Coin]:
    rng = random.Random(seed)
    return [_coin(rng, n, rng.randint(1, 100) * COIN, payload) for n in range(CANDIDATES)]


def _row(name: str, seconds: float, reference: float, target: bool = True) -> Row:
    ms = seconds * 1000
    return Row(
        name,
        ms,
        reference * 1000,
        "ms",
        f"< {TARGET_MS:g} ms" if target else "",
        ms < TARGET_MS if target else None,
    )


def run() -> list[Table]:
    """Time coin selection and wallet payments over 10,000 coins."""
    payload = bytes(20)
    spread = _spread(1, payload)
    rounded = _round(2, payload)
    sort_time = best_time(lambda: sorted(spread, key=attrgetter("output.amount")), REPEAT)

    # Every algorithm runs; the rows name the case by what branch and bound finds.
    exact = selection_alternatives(spread, coins("25.5"), None, DEVNET)
    assert any(o.algorithm is SelectionAlgorithm.BRANCH_AND_BOUND for o in exact)
    fallback = selection_alternatives(rounded, coins("50.5"), None, DEVNET)
    assert all(o.algorithm is not SelectionAlgorithm.BRANCH_AND_BOUND for o in fallback)

    def insufficient() -> None:
        try:
            select_coins(spread, 10**17, None, DEVNET)
        except InsufficientFundsError:
            return
        raise AssertionError("expected InsufficientFundsError")

    table = Table(f"Coin selection over {CANDIDATES:,} candidates (reference: sort them by amount)")
    table.add(Row("sort candidates by amount (reference)", sort_time * 1000, None, "ms"))
    table.add(
        _row(
            "select_coins, exact match exists (branch and bound finds it)",
            best_time(lambda: select_coins(spread, coins("25.5"), None, DEVNET), REPEAT),
            sort_time,
        )
    )
    table.add(
        _row(
            "select_coins, no exact match (BnB exhausted, random draw)",
            best_time(lambda: select_coins(rounded, coins("50.5"), None, DEVNET), REPEAT),
            sort_time,
        )
    )
    table.add(_row("select_coins, insufficient funds", best_time(insufficient, REPEAT), sort_time))

    wallet = Wallet.from_mnemonic(MNEMONIC, network=DEVNET)
    utxos = UtxoSet()
    rng = random.Random(3)
    for n in range(CANDIDATES):
        address = wallet.address(n % 20) if n % 2 else wallet.change_address(n % 20)
        utxos.add(OutPoint(rng.randbytes(32), n % 4), TxOut(int(10 ** rng.uniform(4, 11)), address.payload), 1)
    to = PrivateKey.from_seed(bytes([7]) * 32).address(DEVNET)
    table.add(
        _row(
            "Wallet.create_transaction (discovery, selection, signing)",
            best_time(lambda: wallet.create_transaction(to, coins("25.5"), None, utxos), REPEAT),
            sort_time,
            target=False,
        )
    )
    return [table, _fee_table(payload)]


SEEDS = 200


def _fee_table(payload: bytes) -> Table:
    rng = random.Random(11)
    pool = [_coin(rng, n, rng.randrange(coins("0.01"), coins("0.05")), payload) for n in range(60)]
    pool += [_coin(rng, 100 + n, coins("5") + n, payload) for n in range(3)]
    target = coins("0.9")
    slack = FeeRate(DEVNET.min_fee_per_kb).fee(INPUT_SIZE)
    draw_ratios: list[float] = []
    chosen_ratios: list[float] = []
    worst_excess = 0
    for seed in range(SEEDS):
        options = selection_alternatives(pool, target, None, DEVNET, seed=seed)
        cheapest = min(o.fee for o in options)
        draw = [o for o in options if o.algorithm is SelectionAlgorithm.SINGLE_RANDOM_DRAW]
        if draw:
            draw_ratios.append(draw[0].fee / cheapest)
        chosen = select_coins(pool, target, None, DEVNET, seed=seed)
        chosen_ratios.append(chosen.fee / cheapest)
        worst_excess = max(worst_excess, chosen.fee - cheapest)
    table = Table(f"Fee paid against the cheapest alternative, {SEEDS} seeds (60 small coins, 3 large)")
    table.add(Row("random draw alone: mean fee / cheapest", sum(draw_ratios) / len(draw_ratios), None, "x"))
    table.add(Row("random draw alone: worst fee / cheapest", max(draw_ratios), None, "x"))
    share = sum(r > 1.5 for r in draw_ratios) / len(draw_ratios)
    table.add(Row("random draw alone: share of seeds paying > 1.5x", 100 * share, None, "%"))
    table.add(Row("select_coins: worst fee / cheapest", max(chosen_ratios), None, "x"))
    table.add(
        Row(
            "select_coins: worst fee above the cheapest",
            float(worst_excess),
            float(slack),
            "units",
            "<= one input's fee",
            worst_excess <= slack,
        )
    )
    return table
