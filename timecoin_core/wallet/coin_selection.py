"""Coin selection: pure functions from candidate coins to the inputs of one transaction.

Theory of operation
-------------------
:func:`select_coins` takes an explicit list of candidate :class:`~timecoin_core.utxo.Coin`
values, the amount to pay and a fee rate, and returns a :class:`Selection`: the coins
to spend, the exact fee, and the change (0 when there is no change output). It does
no I/O and keeps no state: the same arguments always give the same selection, in
whatever order the candidates come.

Which coins may be spent (:func:`is_selectable`)::

    state            height   selected when
    UNSPENT          int      always (created in a block)
    UNSPENT          None     include_unconfirmed=True (created by a final
                              transaction not yet in a block; instant finality
                              makes it irreversible, so it is safe to spend)
    LOCKED           any      include_locked=True (and include_unconfirmed=True
    SPENT_PENDING    any      if its height is None): another transaction claims it
    SPENT_FINALIZED  -        never: spent for good
    CONFIRMED        -        never: gone from the set

Size and fee are exact before signing. Every input encodes to 132 bytes (a 36-byte
outpoint and a 96-byte witness, public key and signature, whose size never depends
on the key), every output to 28, so :func:`transaction_size` is the exact size of
the signed transaction. The fee is ``rate.fee(size)`` with ``rate`` the larger of the
requested rate and the network minimum (``network.min_fee_per_kb``), so validation's
minimum-fee check always passes.

Dust: an output below ``network.dust_limit`` (and never one of zero) is *dust*. A
change output is only created when the change is not dust; otherwise the change is
left to the fee.

Algorithms, in order:

1. **Branch and bound** (:attr:`SelectionAlgorithm.BRANCH_AND_BOUND`), after Bitcoin
   Core's (Erhardt, "An evaluation of coin selection strategies", 2016). It works on
   *effective values* (a coin's amount minus the fee its input costs) and searches
   depth-first, largest coins first, for a set whose effective value covers the
   amount plus the fee of a change-less transaction with an excess no larger than
   the *cost of change* (:func:`change_window`: what a change output costs now plus
   what spending it later costs, and never less than what would be dust). Such a
   set needs no change output; the excess goes to the fee. It returns the first such
   set it meets (largest coins first, so few inputs: a better match could save at
   most the cost of change), gives up after ``max_tries`` steps, and considers at
   most 252 inputs (the input count is then one byte, so sizes are linear in the
   input count).
2. **Single random draw** (:attr:`SelectionAlgorithm.SINGLE_RANDOM_DRAW`): coins in an
   order drawn with ``random.Random(seed)`` are added until the change would not be
   dust; when ``max_inputs`` is exceeded the smallest coin drawn so far is dropped.
   Random draws keep the wallet's coin sizes from converging, and the seed keeps it
   reproducible.
3. **Largest first** (:attr:`SelectionAlgorithm.LARGEST_FIRST`): coins by effective
   value, largest first, until the amount and fee are covered. It succeeds whenever
   any set of at most ``max_inputs`` selectable coins does, so when it fails
   :class:`InsufficientFundsError` is the truth.

All three run, and :func:`select_coins` returns the result with the least *waste*
(:attr:`Selection.waste`: the fee plus, with change, the fee of spending the change
later), the earlier algorithm on a tie. The random draw alone pays up to a few
times the fee of the cheapest choice when it happens to draw many small coins;
comparing keeps its variety only where it costs nothing.
:func:`selection_alternatives` returns every algorithm's result.

Coins whose effective value is not positive cost more to spend than they hold; no
algorithm selects them.

With ``subtract_fee=True`` ("the amount includes the fee") the payment outputs
receive ``target - fee`` and the wallet spends exactly ``target`` (plus any change):
inputs then cost the recipient, not the wallet, so effective values are the amounts.
"""

from __future__ import annotations

import heapq
import random
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from itertools import accumulate
from operator import attrgetter
from typing import Final, NoReturn

from ..amount import COIN, MAX_MONEY
from ..codec import varint_size
from ..fees import FeeRate
from ..network import Network
from ..transaction import MAX_MEMO, MAX_TX_INPUTS, MAX_TX_OUTPUTS
from ..utxo import Coin, CoinState
from .errors import WalletArgumentError, WalletError, WalletTypeError

__all__ = [
    "DEFAULT_MAX_TRIES",
    "INPUT_SIZE",
    "OUTPUT_SIZE",
    "CoinSelectionError",
    "FeeExceedsAmountError",
    "InsufficientFundsError",
    "Selection",
    "SelectionAlgorithm",
    "change_window",
    "effective_fee_rate",
    "is_selectable",
    "select_coins",
    "selection_alternatives",
    "transaction_size",
]

INPUT_SIZE: Final = 36 + 96
"""Encoded bytes per input: a 36-byte outpoint and a 96-byte witness (key and signature)."""

OUTPUT_SIZE: Final = 28
"""Encoded bytes per output: an 8-byte amount and a 20-byte address payload."""

DEFAULT_MAX_TRIES: Final = 10_000
"""Branch-and-bound steps before giving up on an exact match (a few milliseconds)."""

_BNB_MAX_INPUTS: Final = 252
_AMOUNT: Final = attrgetter("output.amount")
_HELD: Final = frozenset((CoinState.LOCKED, CoinState.SPENT_PENDING))
_SPENDABLE: Final = frozenset((CoinState.UNSPENT,))
_SPENDABLE_WITH_LOCKED: Final = _SPENDABLE | _HELD
_OUTPOINT_KEY: Final = attrgetter("outpoint.txid", "outpoint.index")
_WASTE: Final = attrgetter("waste")


class CoinSelectionError(WalletError):
    """No selection can pay what was asked."""


class InsufficientFundsError(CoinSelectionError):
    """The selectable coins cannot cover the amount plus the fee.

    ``needed`` is the amount plus the fee of a transaction spending the coins that
    came closest (without change; with ``subtract_fee`` it is the amount alone).
    ``available`` is the total of the selectable coins, ``reachable`` what at most
    ``max_inputs`` of them hold, ``uneconomic`` what the selectable coins too small to
    pay for their own input hold (no algorithm spends those). ``locked``
    (``LOCKED`` or ``SPENT_PENDING``) and ``unconfirmed`` (``UNSPENT`` without a
    height) count coins the flags left out.
    """

    def __init__(
        self,
        *,
        needed: int,
        available: int,
        reachable: int,
        coin_count: int,
        max_inputs: int,
        locked: int,
        unconfirmed: int,
        fee: int,
        uneconomic: int = 0,
    ) -> None:
        need = f"need {_fmt(needed)} TIME"
        need += f" ({_fmt(needed - fee)} + fee {_fmt(fee)})" if fee else " (fee included)"
        parts = [
            f"insufficient funds: {need}",
            f"spendable {_fmt(available)} TIME in {coin_count} coin"
            + ("" if coin_count == 1 else "s"),
        ]
        if reachable < available:
            parts.append(f"at most {max_inputs} inputs hold {_fmt(reachable)} TIME")
        if uneconomic:
            parts.append(f"{_fmt(uneconomic)} TIME of it in coins worth less than the fee to spend them")
        if locked:
            parts.append(
                f"{_fmt(locked)} TIME locked or pending not counted "
                "(include_locked=True to spend it)"
            )
        if unconfirmed:
            parts.append(
                f"{_fmt(unconfirmed)} TIME final but not yet in a block not counted "
                "(include_unconfirmed=True to spend it)"
            )
        super().__init__("; ".join(parts))
        self.needed = needed
        self.available = available
        self.reachable = reachable
        self.max_inputs = max_inputs
        self.locked = locked
        self.unconfirmed = unconfirmed
        self.fee = fee
        self.uneconomic = uneconomic


class FeeExceedsAmountError(CoinSelectionError):
    """With the fee subtracted from the amount, nothing would be left to pay."""

    def __init__(self, amount: int, fee: int) -> None:
        super().__init__(
            f"amount {_fmt(amount)} TIME does not cover its own fee "
            f"{_fmt(fee)} TIME (subtract_fee_from_amount)"
        )
        self.amount = amount
        self.fee = fee


class SelectionAlgorithm(Enum):
    """Which algorithm produced a :class:`Selection` (see the module docstring)."""

    BRANCH_AND_BOUND = "branch-and-bound"
    SINGLE_RANDOM_DRAW = "single-random-draw"
    LARGEST_FIRST = "largest-first"


@dataclass(frozen=True, slots=True)
class Selection:
    """The inputs of one transaction and where their value goes.

    ``total == amount + fee + change`` always holds. ``amount`` is what the payment
    outputs receive together (the target, or the target minus the fee when the fee
    is subtracted from it). ``change`` is 0 when there is no change output, else at
    least the dust limit. ``size`` is the exact encoded size of the signed
    transaction and ``fee`` at least ``size`` times the effective fee rate.

    ``waste`` is what the selection costs beyond the payment, in base units: the fee
    (which includes any excess left to it), plus, with change, the fee of spending
    the change output later at the same rate. :func:`select_coins` minimises it.
    It is Bitcoin Core's waste metric with a long-term fee rate of zero: an input is
    never cheaper to spend later, so fewer inputs and no change win.
    """

    coins: tuple[Coin, ...]
    total: int
    amount: int
    fee: int
    change: int
    size: int
    algorithm: SelectionAlgorithm
    waste: int = 0

    @property
    def has_change(self) -> bool:
        """True when the transaction gets a change output."""
        return self.change > 0

    def __repr__(self) -> str:
        return (
            f"Selection({len(self.coins)} coin{'' if len(self.coins) == 1 else 's'}, total={_fmt(self.total)} TIME, "
            f"amount={_fmt(self.amount)} TIME, fee={_fmt(self.fee)} TIME, "
            f"change={_fmt(self.change)} TIME, size={self.size}, "
            f"algorithm={self.algorithm.value}, waste={self.waste})"
        )


def transaction_size(n_inputs: int, n_outputs: int, memo_size: int = 0) -> int:
    """The exact encoded size of a signed transaction of this shape, in bytes."""
    for name, value in (("n_inputs", n_inputs), ("n_outputs", n_outputs), ("memo_size", memo_size)):
        if type(value) is not int:
            raise WalletTypeError(name, "an int", value)
    if n_inputs < 0 or n_outputs < 0 or not 0 <= memo_size <= MAX_MEMO:
        raise WalletArgumentError(
            "n_inputs, n_outputs, memo_size", "counts must be non-negative and the memo at most MAX_MEMO bytes"
        )
    return (
        4
        + varint_size(n_inputs)
        + INPUT_SIZE * n_inputs
        + varint_size(n_outputs)
        + OUTPUT_SIZE * n_outputs
        + 4
        + varint_size(memo_size)
        + memo_size
    )


def effective_fee_rate(fee_rate: FeeRate | None, network: Network) -> FeeRate:
    """``fee_rate``, raised to the network minimum; the minimum when ``fee_rate`` is None."""
    if not isinstance(network, Network):
        raise WalletTypeError("network", "a Network", network)
    floor = FeeRate(network.min_fee_per_kb)
    if fee_rate is None:
        return floor
    if not isinstance(fee_rate, FeeRate):
        raise WalletTypeError("fee_rate", "a FeeRate or None", fee_rate)
    return max(fee_rate, floor)


def change_window(rate: FeeRate, network: Network) -> int:
    """The largest excess branch and bound leaves to the fee instead of making change.

    The cost of change: the fee of a change output now plus the fee of spending it
    later, at ``rate``; and never less than the excess below which change would be
    dust anyway.
    """
    if not isinstance(rate, FeeRate):
        raise WalletTypeError("rate", "a FeeRate", rate)
    if not isinstance(network, Network):
        raise WalletTypeError("network", "a Network", network)
    output_fee = rate.fee(OUTPUT_SIZE)
    return max(output_fee + rate.fee(INPUT_SIZE), output_fee + _dust(network) - 1)


def is_selectable(coin: Coin, *, include_unconfirmed: bool = False, include_locked: bool = False) -> bool:
    """Whether :func:`select_coins` may spend ``coin`` under these flags (module table)."""
    if not isinstance(coin, Coin):
        raise WalletTypeError("coin", "a Coin", coin)
    state = coin.state
    if state is CoinState.UNSPENT:
        pass
    elif state is CoinState.LOCKED or state is CoinState.SPENT_PENDING:
        if not include_locked:
            return False
    else:
        return False
    return coin.height is not None or include_unconfirmed


def _fmt(units: int) -> str:
    # format_amount refuses sums above MAX_MONEY, which "needed" can be.
    whole, frac = divmod(units, COIN)
    return str(whole) if frac == 0 else f"{whole}.{frac:08d}".rstrip("0")


def _check_int(parameter: str, value: object, low: int, high: int) -> None:
    if type(value) is not int:
        raise WalletTypeError(parameter, "an int", value)
    if not low <= value <= high:
        raise WalletArgumentError(parameter, f"must be in {low}..{high}, not {value}")


def _dust(network: Network) -> int:
    return max(network.dust_limit, 1)


class _Problem:
    """One selection problem, with every number precomputed for the algorithms."""

    __slots__ = (
        "dust",
        "max_inputs",
        "memo_size",
        "n_outputs",
        "rate",
        "subtract",
        "target",
    )

    def __init__(
        self,
        target: int,
        rate: FeeRate,
        dust: int,
        n_outputs: int,
        memo_size: int,
        max_inputs: int,
        subtract: bool,
    ) -> None:
        self.target = target
        self.rate = rate
        self.dust = dust
        self.n_outputs = n_outputs
        self.memo_size = memo_size
        self.max_inputs = max_inputs
        self.subtract = subtract

    def fee(self, n_inputs: int, change: bool) -> int:
        return self.rate.fee(transaction_size(n_inputs, self.n_outputs + change, self.memo_size))

    def covers(self, n_inputs: int, total: int) -> bool:
        """Whether ``n_inputs`` coins worth ``total`` pay for a change-less transaction."""
        if self.subtract:
            return total >= self.target
        return total - self.target >= self.fee(n_inputs, False)

    def covers_with_change(self, n_inputs: int, total: int) -> bool:
        """Whether the coins pay for the transaction and leave change that is not dust."""
        fee = 0 if self.subtract else self.fee(n_inputs, True)
        return total - self.target - fee >= self.dust

    def finish(self, coins: Sequence[Coin], algorithm: SelectionAlgorithm, allow_change: bool) -> Selection:
        n = len(coins)
        total = sum(c.amount for c in coins)
        target = self.target
        change_cost = self.rate.fee(INPUT_SIZE)
        if self.subtract:
            if allow_change and total - target >= self.dust:
                fee = self.fee(n, True)
                # Without change the whole excess would go to the fee: refuse rather
                # than burn it when the amount cannot pay for a change output.
                if target - fee <= 0:
                    raise FeeExceedsAmountError(target, fee)
                size = transaction_size(n, self.n_outputs + 1, self.memo_size)
                return Selection(
                    tuple(coins), total, target - fee, fee, total - target, size, algorithm, fee + change_cost
                )
            fee = self.fee(n, False)
            if target - fee <= 0:
                raise FeeExceedsAmountError(target, fee)
            size = transaction_size(n, self.n_outputs, self.memo_size)
            excess_fee = total - target + fee
            return Selection(tuple(coins), total, target - fee, excess_fee, 0, size, algorithm, excess_fee)
        if allow_change:
            fee = self.fee(n, True)
            change = total - target - fee
            if change >= self.dust:
                size = transaction_size(n, self.n_outputs + 1, self.memo_size)
                return Selection(tuple(coins), total, target, fee, change, size, algorithm, fee + change_cost)
        size = transaction_size(n, self.n_outputs, self.memo_size)
        assert total - target >= self.rate.fee(size)
        return Selection(tuple(coins), total, target, total - target, 0, size, algorithm, total - target)


def select_coins(
    candidates: Iterable[Coin],
    target: int,
    fee_rate: FeeRate | None,
    network: Network,
    *,
    n_outputs: int = 1,
    memo_size: int = 0,
    subtract_fee: bool = False,
    include_unconfirmed: bool = False,
    include_locked: bool = False,
    max_inputs: int = MAX_TX_INPUTS,
    seed: int = 0,
    max_tries: int = DEFAULT_MAX_TRIES,
) -> Selection:
    """Choose which of ``candidates`` pay ``target`` base units plus the fee.

    ``target`` is the total of the ``n_outputs`` payment outputs (a change output
    comes on top). ``fee_rate`` is raised to the network minimum (None means the
    minimum). ``memo_size`` is the length of the memo the transaction will carry.
    With ``subtract_fee`` the fee comes out of ``target`` instead. Only selectable
    coins are considered (:func:`is_selectable` with the two ``include_`` flags); at
    most ``max_inputs`` are chosen. ``seed`` drives the random draw; ``max_tries``
    bounds branch and bound. See the module docstring for the algorithms.

    Every algorithm runs (:func:`selection_alternatives`) and the result with the
    least :attr:`Selection.waste` wins; on a tie, the earlier algorithm in the
    module docstring's order.

    Raises :class:`InsufficientFundsError` when no selection exists,
    :class:`FeeExceedsAmountError` when the subtracted fee leaves nothing to pay, and
    :class:`~timecoin_core.wallet.WalletArgumentError` (naming the parameter) for a
    value out of range or of the wrong type.
    """
    alternatives = selection_alternatives(
        candidates,
        target,
        fee_rate,
        network,
        n_outputs=n_outputs,
        memo_size=memo_size,
        subtract_fee=subtract_fee,
        include_unconfirmed=include_unconfirmed,
        include_locked=include_locked,
        max_inputs=max_inputs,
        seed=seed,
        max_tries=max_tries,
    )
    # min() keeps the first of equal wastes: branch and bound (no change output),
    # then the random draw (whose variety keeps a wallet's coins from converging).
    return min(alternatives, key=_WASTE)


def selection_alternatives(
    candidates: Iterable[Coin],
    target: int,
    fee_rate: FeeRate | None,
    network: Network,
    *,
    n_outputs: int = 1,
    memo_size: int = 0,
    subtract_fee: bool = False,
    include_unconfirmed: bool = False,
    include_locked: bool = False,
    max_inputs: int = MAX_TX_INPUTS,
    seed: int = 0,
    max_tries: int = DEFAULT_MAX_TRIES,
) -> tuple[Selection, ...]:
    """Every algorithm's selection for these arguments (the same as :func:`select_coins`'s), in order.

    At least one; algorithms that found nothing are left out. :func:`select_coins`
    returns the one with the least waste. Raises what :func:`select_coins` raises.
    """
    _check_int("target", target, 1, MAX_MONEY)
    _check_int("max_inputs", max_inputs, 1, MAX_TX_INPUTS)
    _check_int("n_outputs", n_outputs, 1, MAX_TX_OUTPUTS - 1)
    _check_int("memo_size", memo_size, 0, MAX_MEMO)
    _check_int("max_tries", max_tries, 0, 2**63)
    _check_int("seed", seed, -(2**256), 2**256)
    if not isinstance(network, Network):
        raise WalletTypeError("network", "a Network", network)
    rate = effective_fee_rate(fee_rate, network)
    problem = _Problem(target, rate, _dust(network), n_outputs, memo_size, max_inputs, subtract_fee)

    if isinstance(candidates, str | bytes) or not isinstance(candidates, Iterable):
        raise WalletTypeError("candidates", "an iterable of Coin values", candidates)
    candidates = candidates if isinstance(candidates, list | tuple) else list(candidates)
    pool, amounts = _candidate_pool(candidates, include_unconfirmed, include_locked)
    # Effective values are scaled by 1000 so they stay exact integers: with rate r per
    # 1000 bytes, 1000 * (total - target) >= r * size is exactly
    # total - target >= ceil(r * size / 1000), the rounded-up fee.
    per_input = 0 if subtract_fee else rate.per_kb * INPUT_SIZE
    economic = bisect_left([-a for a in amounts], -(per_input // 1000))
    useful, values = pool[:economic], [1000 * a - per_input for a in amounts[:economic]]
    # What at most max_inputs coins can hold bounds every algorithm: when even that
    # falls short, skip straight to the error.
    reachable = sum(amounts[: min(economic, max_inputs)])
    if reachable < target:
        return _insufficient(problem, candidates, pool, amounts, economic, include_unconfirmed, include_locked)
    window = change_window(rate, network)
    attempts: tuple[tuple[SelectionAlgorithm, bool, Callable[[], list[Coin] | None]], ...] = (
        (
            SelectionAlgorithm.BRANCH_AND_BOUND,
            False,
            lambda: _branch_and_bound(useful, values, problem, window, max_tries),
        ),
        (
            SelectionAlgorithm.SINGLE_RANDOM_DRAW,
            True,
            # The draw keeps at most max_inputs coins, so it cannot do better than the
            # largest ones with the smallest fee any change-making transaction pays.
            lambda: (
                _single_random_draw(useful, problem, seed)
                if problem.covers_with_change(1, reachable)
                else None
            ),
        ),
        (SelectionAlgorithm.LARGEST_FIRST, True, lambda: _largest_first(useful, problem)),
    )
    fee_error: FeeExceedsAmountError | None = None
    results: list[Selection] = []
    for algorithm, allow_change, attempt in attempts:
        chosen = attempt()
        if chosen is None:
            continue
        if len(set(map(_OUTPOINT_KEY, chosen))) != len(chosen):
            raise WalletArgumentError("candidates", "a coin appears twice among the candidates")
        try:
            results.append(problem.finish(chosen, algorithm, allow_change))
        except FeeExceedsAmountError as exc:
            # Only possible with subtract_fee: another, smaller selection may still fit.
            fee_error = exc
    if results:
        return tuple(results)
    if fee_error is not None:
        raise fee_error
    return _insufficient(problem, candidates, pool, amounts, economic, include_unconfirmed, include_locked)


def _insufficient(
    problem: _Problem,
    candidates: Sequence[Coin],
    pool: Sequence[Coin],
    amounts: Sequence[int],
    economic: int,
    include_unconfirmed: bool,
    include_locked: bool,
) -> NoReturn:
    max_inputs = problem.max_inputs
    fee = 0 if problem.subtract else problem.fee(max(min(economic, max_inputs), 1), False)
    locked, unconfirmed = _left_out(candidates, include_unconfirmed, include_locked)
    raise InsufficientFundsError(
        needed=problem.target + fee,
        available=sum(amounts),
        reachable=sum(amounts[:max_inputs]),
        coin_count=len(pool),
        max_inputs=max_inputs,
        locked=locked,
        unconfirmed=unconfirmed,
        fee=fee,
        uneconomic=sum(amounts[economic:]),
    )


def _candidate_pool(
    candidates: Sequence[Coin], include_unconfirmed: bool, include_locked: bool
) -> tuple[list[Coin], list[int]]:
    """The selectable coins and their amounts, largest first, equal amounts in outpoint order."""
    for coin in candidates:
        if not isinstance(coin, Coin):
            raise WalletTypeError("candidates", "Coin values", coin)
    unspent = CoinState.UNSPENT
    if include_locked:
        locked, pending = CoinState.LOCKED, CoinState.SPENT_PENDING
        pool = [c for c in candidates if c.state is unspent or c.state is locked or c.state is pending]
    else:
        pool = [c for c in candidates if c.state is unspent]
    if not include_unconfirmed:
        pool = [c for c in pool if c.height is not None]
    pool.sort(key=_AMOUNT, reverse=True)
    amounts = list(map(_AMOUNT, pool))
    counts = Counter(amounts)
    if len(counts) != len(amounts):
        # Order equal amounts by outpoint so the result never depends on the order
        # of the candidates.
        negated = [-a for a in amounts]
        for amount, count in counts.items():
            if count > 1:
                start = bisect_left(negated, -amount)
                group = sorted(pool[start : start + count], key=_OUTPOINT_KEY)
                if len(set(map(_OUTPOINT_KEY, group))) != count:
                    raise WalletArgumentError(
                        "candidates", f"a coin of {amount} units appears twice among the candidates"
                    )
                pool[start : start + count] = group
    return pool, amounts


def _left_out(candidates: Sequence[Coin], include_unconfirmed: bool, include_locked: bool) -> tuple[int, int]:
    """Amounts the flags left out: locked or pending, and unconfirmed."""
    locked = unconfirmed = 0
    for coin in candidates:
        if coin.state in _HELD and not include_locked:
            locked += coin.amount
        elif coin.state in _SPENDABLE_WITH_LOCKED and coin.height is None and not include_unconfirmed:
            unconfirmed += coin.amount
    return locked, unconfirmed


def _branch_and_bound(
    coins: Sequence[Coin], values: Sequence[int], problem: _Problem, window: int, max_tries: int
) -> list[Coin] | None:
    """Depth-first search for a change-less set within ``window`` of the target.

    ``values`` are the coins' effective values times 1000, positive and descending.
    """
    rate = problem.rate.per_kb
    base = transaction_size(0, problem.n_outputs, problem.memo_size)
    low = 1000 * problem.target + (0 if problem.subtract else rate * base)
    high = low + 1000 * window
    limit = min(problem.max_inputs, _BNB_MAX_INPUTS)
    # Values above the upper bound can never be part of a match.
    negated = [-v for v in values]
    start = bisect_left(negated, -high)
    values = values[start:]
    negated = negated[start:]
    n = len(values)
    suffix = list(accumulate(reversed(values), initial=0))
    suffix.reverse()
    if suffix[0] < low:
        return None

    selected: list[int] = []
    push, pop = selected.append, selected.pop
    count = value = i = 0
    for _ in range(max_tries):
        if value >= low:
            return [coins[start + k] for k in selected]
        if i >= n or value + suffix[i] < low or count >= limit:
            if not count:
                return None
            j = pop()
            count -= 1
            vj = values[j]
            value -= vj
            # Having explored every set with coin j, a set that leaves j out but takes
            # an equal coin after it would repeat one of them: skip the equals too.
            i = bisect_right(negated, -vj, j + 1)
        elif values[i] > high - value:
            i = bisect_left(negated, value - high, i)
        else:
            push(i)
            count += 1
            value += values[i]
            i += 1
    return None


def _single_random_draw(coins: Sequence[Coin], problem: _Problem, seed: int) -> list[Coin] | None:
    """Coins in a seeded random order until the change is not dust; evict the smallest past max_inputs."""
    rng = random.Random(seed)
    order = list(range(len(coins)))
    heap: list[tuple[int, int]] = []
    total = 0
    max_inputs = problem.max_inputs
    for k in range(len(order)):
        # A lazy Fisher-Yates shuffle: draw only as many coins as needed.
        j = rng.randrange(k, len(order))
        order[k], order[j] = order[j], order[k]
        index = order[k]
        amount = coins[index].output.amount
        heapq.heappush(heap, (amount, index))
        total += amount
        if len(heap) > max_inputs:
            total -= heapq.heappop(heap)[0]
        if problem.covers_with_change(len(heap), total):
            return [coins[i] for i in sorted(i for _, i in heap)]
    return None


def _largest_first(coins: Sequence[Coin], problem: _Problem) -> list[Coin] | None:
    """The largest coins, fewest first, until they cover the amount and the fee."""
    total = 0
    for n, coin in enumerate(coins[: problem.max_inputs], start=1):
        total += coin.output.amount
        if problem.covers(n, total):
            return list(coins[:n])
    return None
