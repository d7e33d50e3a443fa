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

Times are CPU seconds of the calling thread, best of several calls, so other load on
the machine skews no figure.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from operator import attrgetter

from timecoin_core.amount import COIN, coins
from timecoin_core.keys import PrivateKey
from timecoin_core.network import DEVNET
from timecoin_core.transaction import OutPoint, TxOut
from timecoin_core.utxo import Coin, CoinState, UtxoSet
from timecoin_core.wallet import (
    InsufficientFundsError,
    SelectionAlgorithm,
    Wallet,
    select_coins,
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

    exact = select_coins(spread, coins("25.5"), None, DEVNET)
    assert exact.algorithm is SelectionAlgorithm.BRANCH_AND_BOUND
    fallback = select_coins(rounded, coins("50.5"), None, DEVNET)
    assert fallback.algorithm is not SelectionAlgorithm.BRANCH_AND_BOUND

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
            "select_coins, exact match (branch and bound)",
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
    return [table]
