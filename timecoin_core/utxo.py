"""The UTXO set: every coin this node knows, its lifecycle state, and a set commitment.

Theory of operation
-------------------
A *coin* is an unspent-or-being-spent output, named by its :class:`OutPoint`. Besides
the output it carries the height of the block that confirmed the transaction creating
it (``None`` while that transaction is final but not yet in a block) and a lifecycle
state. The states, in the order a spend normally moves through them:

``UNSPENT``
    Nobody claims the coin; validation may spend it (it is what
    :meth:`UtxoSet.get_output` returns).
``LOCKED``
    A fully validated transaction (the *spender*) claims it locally: this node will
    accept no other transaction spending the coin. A local, revocable claim.
``SPENT_PENDING``
    The spender was accepted (voted on) and awaits finality.
``SPENT_FINALIZED``
    The spender has a finality certificate. Finality is irreversible: the coin can
    only go on to ``CONFIRMED``.
``CONFIRMED``
    The spend is in a committed block. The coin leaves the set; the state is only
    ever seen on the :class:`Coin` value the confirming call returns.

Every state change is an *event* looked up in the single table :data:`TRANSITIONS`
(``TRANSITIONS[state][event] -> new state``, in the style of h11's ``_state.py``);
anything not in the table raises :class:`IllegalTransitionError`. The table also
holds the direct jumps the network forces on a node: a finality certificate or a
block can arrive for a transaction this node never locked or voted on, so
``FINALIZE`` is legal from ``UNSPENT`` and ``LOCKED``, and ``CONFIRM_SPEND`` (a block
is authoritative) from every live state. ``RELEASE`` (the spender was rejected or
expired) returns ``LOCKED`` and ``SPENT_PENDING`` coins to ``UNSPENT``; nothing
releases a finalized coin.

Identity is checked separately from the table: ``LOCK``, ``ACCEPT``, ``FINALIZE`` and
``RELEASE`` name a txid, and a coin already held by another txid raises
:class:`CoinHeldError` naming the holder. So a conflicting transaction cannot take
over a claimed coin; the caller (the transaction pool) resolves the conflict first by
releasing the loser. ``CONFIRM_SPEND`` names no txid: a committed block overrides any
local claim.

Creating a coin is not a lifecycle event: :meth:`UtxoSet.add` makes an ``UNSPENT``
coin, and :meth:`UtxoSet.confirm_created` gives a coin created by a final transaction
the height of the block that later includes that transaction.

:meth:`UtxoSet.confirm_block` applies a whole committed block (its spends and its
creations, in order) as one all-or-nothing batch, equivalent to the single calls.

Commitment
----------
:meth:`UtxoSet.commitment` commits to exactly the coins whose creation is confirmed
(``height`` is not ``None``): the chain's UTXO set as of the last applied block. Local
claims (locks, votes, finality not yet in a block) do not change it, so two honest
nodes that applied the same blocks compare equal whatever their mempools hold.

It is an additive multiset hash (Bellare-Micciancio "AdHash") over a 4096-bit
modulus: each coin maps to ``e = SHAKE-256(tagged_hash(UTXO, outpoint | output |
height:u64))`` read as a 4096-bit little-endian integer, and the accumulator is the sum
of those ``e`` modulo ``2**4096``. Adding or removing a coin is one hash and one
addition, O(1) and independent of order; the 32-byte commitment is
``tagged_hash(UTXO, count:u64 | accumulator:512 bytes)``. The wide modulus is what
makes it a commitment rather than a checksum: Wagner's generalised-birthday attack
finds a different multiset with the same sum in about ``2**(2*sqrt(n))`` work, about
``2**128`` for ``n = 4096`` (a 256-bit sum, or XOR, would fall to ``2**32`` or to
linear algebra).
"""

from __future__ import annotations

import struct
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from itertools import chain, islice
from types import MappingProxyType
from typing import Final

from sortedcontainers import SortedList

from .commitment import ACC_BYTES as _ACC_BYTES
from .commitment import MASK as _ACC_MASK
from .commitment import PREIMAGE as _PREIMAGE
from .commitment import preimage_sum as _element_sum
from .errors import InvalidArgumentError, TimecoinError
from .hashing import Tag, tagged_hash
from .transaction import OutPoint, Transaction, TxIn, TxOut, _new_outpoint

__all__ = [
    "LIVE_STATES",
    "MAX_PAGE_SIZE",
    "TRANSITIONS",
    "Balance",
    "Coin",
    "CoinEvent",
    "CoinHeightError",
    "CoinHeldError",
    "CoinPage",
    "CoinState",
    "DuplicateCoinError",
    "IllegalTransitionError",
    "UnknownCoinError",
    "UtxoError",
    "UtxoSet",
    "next_state",
]


class CoinState(Enum):
    """Where a coin is in its lifecycle (see the module docstring)."""

    UNSPENT = "unspent"
    LOCKED = "locked"
    SPENT_PENDING = "spent-pending"
    SPENT_FINALIZED = "spent-finalized"
    CONFIRMED = "confirmed"

    # Identity hashing (members are singletons and compare by identity): Enum's own
    # __hash__ is a Python-level call, and states key the dicts of every transition.
    __hash__ = object.__hash__


class CoinEvent(Enum):
    """What can happen to a coin; each maps to one :class:`UtxoSet` method."""

    __hash__ = object.__hash__

    LOCK = "lock"
    """A validated transaction claims the coin locally (:meth:`UtxoSet.lock`)."""
    ACCEPT = "accept"
    """The claiming transaction was accepted by vote (:meth:`UtxoSet.mark_spent_pending`)."""
    FINALIZE = "finalize"
    """The spending transaction has a finality certificate (:meth:`UtxoSet.finalize`)."""
    RELEASE = "release"
    """The claiming transaction was rejected or expired (:meth:`UtxoSet.release`)."""
    CONFIRM_SPEND = "confirm-spend"
    """A committed block spends the coin (:meth:`UtxoSet.confirm_spend`)."""


_S = CoinState
_E = CoinEvent

TRANSITIONS: Final[Mapping[CoinState, Mapping[CoinEvent, CoinState]]] = MappingProxyType(
    {
        _S.UNSPENT: MappingProxyType(
            {
                _E.LOCK: _S.LOCKED,
                # A node may adopt a transaction the network already accepted, or learn
                # of its certificate or block, without ever having locked it itself.
                _E.ACCEPT: _S.SPENT_PENDING,
                _E.FINALIZE: _S.SPENT_FINALIZED,
                _E.CONFIRM_SPEND: _S.CONFIRMED,
            }
        ),
        _S.LOCKED: MappingProxyType(
            {
                _E.ACCEPT: _S.SPENT_PENDING,
                _E.FINALIZE: _S.SPENT_FINALIZED,
                _E.RELEASE: _S.UNSPENT,
                _E.CONFIRM_SPEND: _S.CONFIRMED,
            }
        ),
        _S.SPENT_PENDING: MappingProxyType(
            {
                _E.FINALIZE: _S.SPENT_FINALIZED,
                _E.RELEASE: _S.UNSPENT,
                _E.CONFIRM_SPEND: _S.CONFIRMED,
            }
        ),
        # Finality is irreversible: no RELEASE from here.
        _S.SPENT_FINALIZED: MappingProxyType({_E.CONFIRM_SPEND: _S.CONFIRMED}),
        _S.CONFIRMED: MappingProxyType({}),
    }
)
"""The whole coin lifecycle: ``TRANSITIONS[state][event]`` is the state after ``event``."""

LIVE_STATES: Final[frozenset[CoinState]] = frozenset(
    (_S.UNSPENT, _S.LOCKED, _S.SPENT_PENDING, _S.SPENT_FINALIZED)
)
"""The states a coin inside a :class:`UtxoSet` can be in (``CONFIRMED`` coins have left)."""

_LIVE_ORDER: Final = (_S.UNSPENT, _S.LOCKED, _S.SPENT_PENDING, _S.SPENT_FINALIZED)

MAX_PAGE_SIZE: Final = 10_000
"""Largest ``limit`` :meth:`UtxoSet.coins_of` accepts."""

_HELD_STATES: Final = frozenset((_S.LOCKED, _S.SPENT_PENDING, _S.SPENT_FINALIZED))


# -- errors ---------------------------------------------------------------------------


class UtxoError(TimecoinError, ValueError):
    """A UTXO-set operation that does not apply to the set as it is. Nothing changed."""


class DuplicateCoinError(UtxoError):
    """:meth:`UtxoSet.add` of an outpoint that is already in the set."""

    def __init__(self, outpoint: OutPoint) -> None:
        super().__init__(f"coin {outpoint} is already in the UTXO set")
        self.outpoint = outpoint


class UnknownCoinError(UtxoError):
    """An operation on an outpoint that is not in the set (never created, or confirmed spent)."""

    def __init__(self, outpoint: OutPoint) -> None:
        super().__init__(f"coin {outpoint} is not in the UTXO set")
        self.outpoint = outpoint


class IllegalTransitionError(UtxoError):
    """An event that :data:`TRANSITIONS` does not allow from the coin's current state."""

    def __init__(
        self, outpoint: OutPoint, state: CoinState, event: CoinEvent, message: str | None = None
    ) -> None:
        allowed = ", ".join(e.value for e in TRANSITIONS[state]) or "none"
        super().__init__(
            message
            or f"coin {outpoint} is {state.value}: cannot {event.value} (allowed: {allowed})"
        )
        self.outpoint = outpoint
        self.state = state
        self.event = event


class CoinHeldError(IllegalTransitionError):
    """A transaction other than the coin's holder tried to lock, accept, finalize or release it."""

    def __init__(
        self, outpoint: OutPoint, state: CoinState, event: CoinEvent, holder: bytes, txid: bytes
    ) -> None:
        super().__init__(
            outpoint,
            state,
            event,
            f"coin {outpoint} is {state.value} by transaction {holder.hex()}: "
            f"transaction {txid.hex()} cannot {event.value} it",
        )
        self.holder = holder
        self.txid = txid


class CoinHeightError(UtxoError):
    """A block height that contradicts the coin: already confirmed, or spent before created."""

    def __init__(self, outpoint: OutPoint, message: str) -> None:
        super().__init__(f"coin {outpoint}: {message}")
        self.outpoint = outpoint


def next_state(outpoint: OutPoint, state: CoinState, event: CoinEvent) -> CoinState:
    """The state after ``event``, or :class:`IllegalTransitionError` naming ``outpoint``."""
    new = TRANSITIONS[state].get(event)
    if new is None:
        raise IllegalTransitionError(outpoint, state, event)
    return new


# -- values ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Coin:
    """One coin and where it is in its lifecycle.

    ``height`` is the height of the block that confirmed the creating transaction, or
    ``None`` while that transaction is final but not yet in a block. ``spender`` is the
    txid holding the coin (``LOCKED``, ``SPENT_PENDING``, ``SPENT_FINALIZED``; on a
    ``CONFIRMED`` coin the spending txid if known), else ``None``. ``spent_height`` is
    set only on the ``CONFIRMED`` value :meth:`UtxoSet.confirm_spend` returns.
    """

    outpoint: OutPoint
    output: TxOut
    height: int | None
    state: CoinState
    spender: bytes | None
    spent_height: int | None = None

    def __repr__(self) -> str:
        where = "unconfirmed" if self.height is None else f"height {self.height}"
        return f"Coin({self.outpoint}, {self.output!r}, {where}, {self.state.name})"

    @property
    def amount(self) -> int:
        """The output's amount in base units."""
        return self.output.amount

    @property
    def payload(self) -> bytes:
        """The 20-byte address payload the coin pays to."""
        return self.output.payload


@dataclass(frozen=True, slots=True)
class CoinPage:
    """One page of :meth:`UtxoSet.coins_of`: coins in outpoint order and the next cursor.

    ``next_cursor`` is ``None`` on the last page; otherwise pass it as ``after`` to get
    the next page.
    """

    coins: tuple[Coin, ...]
    next_cursor: OutPoint | None


@dataclass(frozen=True, slots=True)
class Balance:
    """What one address holds, in base units, by how far its coins are settled.

    * ``confirmed``: ``UNSPENT`` coins created in a block. Spendable.
    * ``finalized``: ``UNSPENT`` coins created by a final transaction not yet in a
      block. Spendable too: finality is irreversible.
    * ``pending``: coins claimed by an outgoing spend that is not final yet
      (``LOCKED`` or ``SPENT_PENDING``). They return to ``confirmed`` or
      ``finalized`` if that spend is rejected or expires.

    Coins in ``SPENT_FINALIZED`` count nowhere: they are spent for good. Incoming
    outputs of transactions that are not final are not in the UTXO set, so they count
    nowhere either.
    """

    confirmed: int = 0
    finalized: int = 0
    pending: int = 0

    @property
    def spendable(self) -> int:
        """``confirmed + finalized``: what the address can spend now."""
        return self.confirmed + self.finalized

    @property
    def total(self) -> int:
        """``confirmed + finalized + pending``."""
        return self.confirmed + self.finalized + self.pending


# -- the set --------------------------------------------------------------------------

_U64: Final = struct.Struct("<Q")
# An address index key, payload | txid | index:u32be (see _index_key), in one call.
_KEY: Final = struct.Struct(">20s32sI")
_CONFIRMED_BUCKET: Final = 0
_FINALIZED_BUCKET: Final = 1
_PENDING_BUCKET: Final = 2
_COUNT_SLOT: Final = 3
# Per address: [confirmed, finalized, pending amounts, coin count, then coins per live
# state], so coins_of scans only the state indexes that hold some of its coins.
_STATE_SLOT: Final[dict[CoinState, int]] = {
    _S.UNSPENT: 4,
    _S.LOCKED: 5,
    _S.SPENT_PENDING: 6,
    _S.SPENT_FINALIZED: 7,
}
_UNSPENT_SLOT: Final = 4
_SLOTS: Final = 8
def _element(outpoint: OutPoint, output: TxOut, height: int) -> int:
    return _element_sum(
        (_PREIMAGE.pack(outpoint[0], outpoint[1], output.amount, output.payload, height),)
    )


def _index_key(payload: bytes, outpoint: OutPoint) -> bytes:
    # Big-endian index so that byte order is (payload, txid, index) numeric order,
    # the same order as OutPoint's own.
    return _KEY.pack(payload, outpoint[0], outpoint[1])


def _bucket(state: CoinState, height: int | None) -> int | None:
    if state is _S.UNSPENT:
        return _CONFIRMED_BUCKET if height is not None else _FINALIZED_BUCKET
    if state is _S.LOCKED or state is _S.SPENT_PENDING:
        return _PENDING_BUCKET
    return None


_SET_OUTPOINT, _SET_OUTPUT, _SET_HEIGHT, _SET_STATE, _SET_SPENDER, _SET_SPENT_HEIGHT = (
    Coin.__dict__[name].__set__
    for name in ("outpoint", "output", "height", "state", "spender", "spent_height")
)


def _new_coin(
    outpoint: OutPoint,
    output: TxOut,
    height: int | None,
    state: CoinState,
    spender: bytes | None,
    spent_height: int | None = None,
) -> Coin:
    # A frozen dataclass's __init__ goes through object.__setattr__ per field, twice
    # the cost of writing the slots directly; every lifecycle event makes a new Coin.
    coin: Coin = object.__new__(Coin)
    _SET_OUTPOINT(coin, outpoint)
    _SET_OUTPUT(coin, output)
    _SET_HEIGHT(coin, height)
    _SET_STATE(coin, state)
    _SET_SPENDER(coin, spender)
    _SET_SPENT_HEIGHT(coin, spent_height)
    return coin


# (state, creation confirmed) -> balance bucket, and the table as plain dicts: both
# are looked up on every transition.
_BUCKETS: Final[dict[tuple[CoinState, bool], int | None]] = {
    (state, confirmed): _bucket(state, 0 if confirmed else None)
    for state in CoinState
    for confirmed in (False, True)
}
_CONFIRMED_BUCKETS: Final[dict[CoinState, int | None]] = {
    state: _bucket(state, 0) for state in CoinState
}
_TABLE: Final[dict[CoinState, dict[CoinEvent, CoinState]]] = {
    state: dict(row) for state, row in TRANSITIONS.items()
}


_EMPTY_PAGE: Final = CoinPage((), None)


def _remove_keys(index: SortedList, keys: list[bytes], added: Sequence[bytes]) -> None:
    """Remove ``keys`` (all present) from ``index``, then add ``added``."""
    if len(keys) * 4 < len(index):
        for key in keys:
            index.remove(key)
        index.update(added)
        return
    # Removing a large share of the index: one pass keeping the rest (already in
    # order) and one sort with the additions beats that many single removals.
    gone = set(keys)
    kept = [key for key in index if key not in gone]
    kept += added
    index.clear()
    index.update(kept)


def _check_txid(txid: bytes) -> None:
    if type(txid) is not bytes or len(txid) != 32:
        raise InvalidArgumentError("txid", "txid must be 32 bytes")


def _check_height(height: int) -> None:
    if type(height) is not int or height < 0:
        raise InvalidArgumentError("height", "height must be a non-negative int")


class UtxoSet:
    """The coins this node knows, indexed by outpoint and by address, with a commitment.

    Pure and synchronous. Every method either applies completely or raises a
    :class:`UtxoError` and changes nothing. Implements
    :class:`~timecoin_core.validation.OutputView` through :meth:`get_output`.

    Costs: lookups O(1); lifecycle changes O(log n) (the per-address index);
    :meth:`confirm_block` O(k log n) for k coins touched, O(n + k log k) when they
    are a large share of the set; :meth:`coins_of` O(log n + page), O(1) for an
    address without coins; :meth:`balance` and :meth:`count_of` O(1);
    :meth:`commitment` O(1) plus one hash; :meth:`copy` O(n).
    """

    __slots__ = ("_acc", "_balances", "_coins", "_committed", "_index")

    def __init__(self) -> None:
        self._coins: dict[OutPoint, Coin] = {}
        # One sorted index per live state, of keys payload | txid | index:u32be, so a
        # page of one address's coins in some states is a merge of range scans.
        self._index: dict[CoinState, SortedList] = {s: SortedList() for s in LIVE_STATES}
        # payload -> [confirmed, finalized, pending, coin count, count per live state]
        self._balances: dict[bytes, list[int]] = {}
        self._acc = 0
        self._committed = 0

    # -- reading ----------------------------------------------------------------------

    def get_output(self, outpoint: OutPoint, /) -> TxOut | None:
        """The output at ``outpoint`` if the coin exists and is ``UNSPENT``, else ``None``."""
        coin = self._coins.get(outpoint)
        if coin is None or coin.state is not _S.UNSPENT:
            return None
        return coin.output

    def coin(self, outpoint: OutPoint) -> Coin | None:
        """The coin at ``outpoint`` in whatever state, or ``None`` if it is not in the set."""
        return self._coins.get(outpoint)

    def __len__(self) -> int:
        return len(self._coins)

    def __contains__(self, item: object) -> bool:
        """True for an :class:`OutPoint` in the set, or a :class:`Coin` equal to the stored one."""
        if isinstance(item, OutPoint):
            return item in self._coins
        if isinstance(item, Coin):
            return self._coins.get(item.outpoint) == item
        return False

    def __iter__(self) -> Iterator[Coin]:
        """The coins, in no particular order."""
        return iter(list(self._coins.values()))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, UtxoSet):
            return NotImplemented
        return self._coins == other._coins

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"UtxoSet(coins={len(self._coins)}, confirmed={self._committed})"

    def coins_of(
        self,
        payload: bytes,
        after: OutPoint | None = None,
        limit: int = 100,
        states: Collection[CoinState] = LIVE_STATES,
    ) -> CoinPage:
        """One page of the coins paying to ``payload`` whose state is in ``states``.

        Keyset pagination: coins come in outpoint order, starting after the cursor
        ``after``; a page holds at most ``limit`` (1..:data:`MAX_PAGE_SIZE`) coins. The
        cursor is an outpoint, not a position, so pages stay stable while the set
        changes: walking with ``next_cursor`` visits every coin that stays in the set
        (and in ``states``) exactly once, and no coin twice. O(log n + limit).
        """
        if type(payload) is not bytes or len(payload) != 20:
            raise InvalidArgumentError("payload", "payload must be 20 bytes")
        if type(limit) is not int or not 1 <= limit <= MAX_PAGE_SIZE:
            raise InvalidArgumentError("limit", f"limit must be an int in 1..{MAX_PAGE_SIZE}")
        slots = self._balances.get(payload)
        if slots is None:
            # No coin pays to it (the entry goes when its count reaches zero): the
            # common case for a wallet scanning its gap-limit window, answered in O(1).
            return _EMPTY_PAGE
        lo = payload if after is None else _index_key(payload, after)
        hi = payload + b"\xff" * 36
        stop = limit + 1
        keys: list[bytes] = []
        scanned = 0
        for state in _LIVE_ORDER:
            # Only the states holding some of this address's coins.
            if slots[_STATE_SLOT[state]] and state in states:
                # Range scans run in C; at most limit + 1 keys from each state's index.
                keys += islice(self._index[state].irange(lo, hi, inclusive=(False, True)), stop)
                scanned += 1
        if scanned > 1:
            keys.sort()  # merge the states' runs (a C sort, not a Python-level heap merge)
        del keys[stop:]
        # (txid, index) from a key finds the coin: a plain tuple hashes and compares
        # equal to the OutPoint keying it.
        get = self._coins.__getitem__
        unpack = _KEY.unpack
        coins = tuple([get(unpack(key)[1:]) for key in keys[:limit]])  # type: ignore[arg-type]
        return CoinPage(coins, coins[-1].outpoint if len(keys) > limit else None)

    def count_of(self, payload: bytes) -> int:
        """How many coins (in any live state) pay to ``payload``. O(1)."""
        slots = self._balances.get(payload)
        return 0 if slots is None else slots[_COUNT_SLOT]

    def balance(self, payload: bytes) -> Balance:
        """The :class:`Balance` of the address with ``payload``. O(1)."""
        slots = self._balances.get(payload)
        if slots is None:
            return Balance()
        return Balance(slots[_CONFIRMED_BUCKET], slots[_FINALIZED_BUCKET], slots[_PENDING_BUCKET])

    def commitment(self) -> bytes:
        """The 32-byte commitment to the coins created in blocks (see the module docstring)."""
        return tagged_hash(
            Tag.UTXO, _U64.pack(self._committed) + self._acc.to_bytes(_ACC_BYTES, "little")
        )

    def copy(self) -> UtxoSet:
        """An independent copy: changing either set never affects the other. O(n)."""
        clone = UtxoSet.__new__(UtxoSet)
        clone._coins = dict(self._coins)
        clone._index = {s: SortedList(keys) for s, keys in self._index.items()}
        clone._balances = {p: list(slots) for p, slots in self._balances.items()}
        clone._acc = self._acc
        clone._committed = self._committed
        return clone

    # -- creating ---------------------------------------------------------------------

    def add(self, outpoint: OutPoint, output: TxOut, height: int | None) -> Coin:
        """Add a new ``UNSPENT`` coin; :class:`DuplicateCoinError` if ``outpoint`` is present.

        ``height`` is the height of the block confirming the creating transaction, or
        ``None`` when that transaction is final but not yet in a block.
        """
        if not isinstance(outpoint, OutPoint) or not isinstance(output, TxOut):
            raise InvalidArgumentError("outpoint" if not isinstance(outpoint, OutPoint) else "output", "add takes an OutPoint and a TxOut")
        if height is not None:
            _check_height(height)
        if outpoint in self._coins:
            raise DuplicateCoinError(outpoint)
        coin = _new_coin(outpoint, output, height, _S.UNSPENT, None)
        self._coins[outpoint] = coin
        self._index[_S.UNSPENT].add(_index_key(output.payload, outpoint))
        slots = self._balances.get(output.payload)
        if slots is None:
            slots = self._balances[output.payload] = [0] * _SLOTS
        slots[_COUNT_SLOT] += 1
        slots[_UNSPENT_SLOT] += 1
        slots[_CONFIRMED_BUCKET if height is not None else _FINALIZED_BUCKET] += output.amount
        if height is not None:
            self._commit(coin, +1)
        return coin

    def confirm_created(self, outpoint: OutPoint, height: int) -> Coin:
        """Give a coin created by a final transaction the height of the block including it.

        Legal in any live state (a chained transaction may already spend the coin);
        :class:`CoinHeightError` if the coin already has a height.
        """
        _check_height(height)
        coin = self._get(outpoint)
        if coin.height is not None:
            raise CoinHeightError(outpoint, f"creation already confirmed at height {coin.height}")
        new = _new_coin(outpoint, coin.output, height, coin.state, coin.spender)
        self._coins[outpoint] = new
        if coin.state is _S.UNSPENT:
            slots = self._balances[coin.output.payload]
            slots[_FINALIZED_BUCKET] -= coin.output.amount
            slots[_CONFIRMED_BUCKET] += coin.output.amount
        self._commit(new, +1)
        return new

    def confirm_block(
        self,
        height: int,
        transactions: Sequence[Transaction],
        reward_txid: bytes | None = None,
        rewards: Sequence[TxOut] = (),
    ) -> tuple[Coin, ...]:
        """Apply a committed block at ``height`` to the set, all or nothing.

        The same as, for each transaction in order, :meth:`confirm_spend` of each input
        (naming the transaction's txid) and then :meth:`add` of each output at
        ``height``; then :meth:`add` of each reward output as ``OutPoint(reward_txid,
        i)``. Returns the ``CONFIRMED`` coins the inputs spent, in input order. Raises
        the error the first failing call of that sequence would raise, and then
        nothing has changed.

        Cheaper than that sequence: the whole block is checked first, then applied in
        bulk, and the commitment is updated once. A coin created and spent within the
        block never enters the set (nor the commitment, where it would cancel out).
        """
        _check_height(height)
        steps: Iterator[tuple[bytes, Sequence[TxIn], Sequence[TxOut]]] = (
            (tx.txid, tx.inputs, tx.outputs) for tx in transactions
        )
        if rewards:
            if reward_txid is None:
                raise InvalidArgumentError("reward_txid", "rewards need their reward_txid")
            _check_txid(reward_txid)
            steps = chain(steps, ((reward_txid, (), rewards),))
        coins = self._coins
        get = coins.get
        # The whole change, decided before anything is touched: outputs the block
        # creates and does not spend itself, and coins of the set it spends.
        created: dict[OutPoint, TxOut] = {}
        pop_created = created.pop
        removed: dict[OutPoint, Coin] = {}
        spent: list[Coin] = []
        confirmed = _S.CONFIRMED
        new_coin = _new_coin
        new_outpoint = _new_outpoint
        for txid, txins, outputs in steps:
            for txin in txins:
                outpoint = txin.outpoint
                output = pop_created(outpoint, None)
                if output is not None:
                    created_at: int | None = height
                else:
                    coin = get(outpoint)
                    if coin is None or outpoint in removed:
                        raise UnknownCoinError(outpoint)
                    created_at = coin.height
                    if created_at is None:
                        raise CoinHeightError(outpoint, "spent in a block before its creation was confirmed")
                    if height < created_at:
                        raise CoinHeightError(
                            outpoint, f"spent at height {height}, before its creation at height {created_at}"
                        )
                    removed[outpoint] = coin
                    output = coin.output
                spent.append(new_coin(outpoint, output, created_at, confirmed, txid, height))
            for index, output in enumerate(outputs):
                outpoint = new_outpoint(txid, index)
                if outpoint in created or (outpoint in coins and outpoint not in removed):
                    raise DuplicateCoinError(outpoint)
                created[outpoint] = output
        self._apply_change(height, created, removed)
        return tuple(spent)

    def _apply_change(self, height: int, created: dict[OutPoint, TxOut], removed: dict[OutPoint, Coin]) -> None:
        # Everything that can fail was checked by the caller; what is left is
        # bookkeeping. Should it fail anyway (a bug, MemoryError, KeyboardInterrupt),
        # the coins are restored and the indexes rebuilt from them.
        key_pack = _KEY.pack
        preimage_pack = _PREIMAGE.pack
        deltas: dict[bytes, list[int]] = {}  # payload -> changes to its slots
        removed_keys: dict[CoinState, list[bytes]] = {}
        removed_preimages: list[bytes] = []
        for (txid, index), coin in removed.items():
            output = coin.output
            payload = output.payload
            amount = output.amount
            state = coin.state
            keys = removed_keys.get(state)
            if keys is None:
                keys = removed_keys[state] = []
            keys.append(key_pack(payload, txid, index))
            delta = deltas.get(payload)
            if delta is None:
                delta = deltas[payload] = [0] * _SLOTS
            bucket = _CONFIRMED_BUCKETS[state]  # a block spends only coins with a height
            if bucket is not None:
                delta[bucket] -= amount
            delta[_COUNT_SLOT] -= 1
            delta[_STATE_SLOT[state]] -= 1
            removed_preimages.append(preimage_pack(txid, index, amount, payload, coin.height))
        new_coins: dict[OutPoint, Coin] = {}
        added_keys: list[bytes] = []
        created_preimages: list[bytes] = []
        unspent = _S.UNSPENT
        new_coin = _new_coin
        for outpoint, output in created.items():
            txid, index = outpoint
            payload = output.payload
            amount = output.amount
            new_coins[outpoint] = new_coin(outpoint, output, height, unspent, None)
            added_keys.append(key_pack(payload, txid, index))
            delta = deltas.get(payload)
            if delta is None:
                delta = deltas[payload] = [0] * _SLOTS
            delta[_CONFIRMED_BUCKET] += amount
            delta[_COUNT_SLOT] += 1
            delta[_UNSPENT_SLOT] += 1
            created_preimages.append(preimage_pack(txid, index, amount, payload, height))
        acc = (self._acc + _element_sum(created_preimages) - _element_sum(removed_preimages)) & _ACC_MASK
        committed = self._committed + len(created) - len(removed)
        coins = self._coins
        try:
            for outpoint in removed:
                del coins[outpoint]
            coins.update(new_coins)
            for state, keys in removed_keys.items():
                _remove_keys(self._index[state], keys, added_keys if state is unspent else ())
            if unspent not in removed_keys and added_keys:
                self._index[unspent].update(added_keys)
            balances = self._balances
            for payload, delta in deltas.items():
                slots = balances.get(payload)
                if slots is None:
                    slots = balances[payload] = [0] * _SLOTS
                for slot, change in enumerate(delta):
                    slots[slot] += change
                if slots[_COUNT_SLOT] == 0:
                    del balances[payload]
            self._acc, self._committed = acc, committed
        except BaseException:
            for outpoint in created:
                coins.pop(outpoint, None)
            coins.update(removed)
            self._rebuild_indexes()
            raise

    def _rebuild_indexes(self) -> None:
        index: dict[CoinState, list[bytes]] = {state: [] for state in LIVE_STATES}
        balances: dict[bytes, list[int]] = {}
        for outpoint, coin in self._coins.items():
            payload = coin.output.payload
            index[coin.state].append(_index_key(payload, outpoint))
            slots = balances.get(payload)
            if slots is None:
                slots = balances[payload] = [0] * _SLOTS
            bucket = _bucket(coin.state, coin.height)
            if bucket is not None:
                slots[bucket] += coin.output.amount
            slots[_COUNT_SLOT] += 1
            slots[_STATE_SLOT[coin.state]] += 1
        self._index = {state: SortedList(keys) for state, keys in index.items()}
        self._balances = balances

    # -- lifecycle --------------------------------------------------------------------

    def lock(self, outpoint: OutPoint, txid: bytes) -> Coin:
        """``UNSPENT -> LOCKED`` by ``txid``, a fully validated transaction spending the coin.

        :class:`CoinHeldError` (naming the holder) if another transaction holds it.
        """
        return self._transition(outpoint, _E.LOCK, txid)

    def release(self, outpoint: OutPoint, txid: bytes) -> Coin:
        """``LOCKED``/``SPENT_PENDING -> UNSPENT``: the holder ``txid`` was rejected or expired.

        Only the holder can release; a finalized coin cannot be released.
        """
        return self._transition(outpoint, _E.RELEASE, txid)

    def mark_spent_pending(self, outpoint: OutPoint, txid: bytes) -> Coin:
        """``-> SPENT_PENDING``: ``txid`` was accepted by vote and awaits finality."""
        return self._transition(outpoint, _E.ACCEPT, txid)

    def finalize(self, outpoint: OutPoint, txid: bytes) -> Coin:
        """``-> SPENT_FINALIZED``: ``txid`` has a finality certificate."""
        return self._transition(outpoint, _E.FINALIZE, txid)

    def confirm_spend(self, outpoint: OutPoint, height: int, txid: bytes | None = None) -> Coin:
        """A block at ``height`` spends the coin: it reaches ``CONFIRMED`` and leaves the set.

        Legal from every live state, whoever holds the coin: a committed block is
        authoritative. The coin's creation must be confirmed at a height no greater than
        ``height`` (apply a block's transactions in order and confirm each one's outputs
        before a later one spends them), else :class:`CoinHeightError`. Returns the
        ``CONFIRMED`` coin; its ``spender`` is ``txid`` when given, else the previous
        holder.
        """
        _check_height(height)
        if txid is not None:
            _check_txid(txid)
        coin = self._get(outpoint)
        new_state = next_state(outpoint, coin.state, _E.CONFIRM_SPEND)
        if coin.height is None:
            raise CoinHeightError(outpoint, "spent in a block before its creation was confirmed")
        if height < coin.height:
            raise CoinHeightError(
                outpoint, f"spent at height {height}, before its creation at height {coin.height}"
            )
        del self._coins[outpoint]
        payload = coin.output.payload
        self._index[coin.state].remove(_index_key(payload, outpoint))
        slots = self._balances[payload]
        bucket = _bucket(coin.state, coin.height)
        if bucket is not None:
            slots[bucket] -= coin.output.amount
        slots[_COUNT_SLOT] -= 1
        slots[_STATE_SLOT[coin.state]] -= 1
        if slots[_COUNT_SLOT] == 0:
            del self._balances[payload]
        self._commit(coin, -1)
        return _new_coin(
            outpoint,
            coin.output,
            coin.height,
            new_state,
            txid if txid is not None else coin.spender,
            height,
        )

    # -- internals --------------------------------------------------------------------

    def _get(self, outpoint: OutPoint) -> Coin:
        coin = self._coins.get(outpoint)
        if coin is None:
            raise UnknownCoinError(outpoint)
        return coin

    def _commit(self, coin: Coin, sign: int) -> None:
        assert coin.height is not None
        self._acc = (self._acc + sign * _element(coin.outpoint, coin.output, coin.height)) & _ACC_MASK
        self._committed += sign

    def _transition(self, outpoint: OutPoint, event: CoinEvent, txid: bytes) -> Coin:
        # The hot path of every pool admission: checks and lookups are inlined.
        if type(txid) is not bytes or len(txid) != 32:
            raise InvalidArgumentError("txid", "txid must be 32 bytes")
        coin = self._coins.get(outpoint)
        if coin is None:
            raise UnknownCoinError(outpoint)
        state = coin.state
        holder = coin.spender
        if holder is not None and holder != txid and state in _HELD_STATES:
            raise CoinHeldError(outpoint, state, event, holder, txid)
        new_state = _TABLE[state].get(event)
        if new_state is None:
            raise IllegalTransitionError(outpoint, state, event)
        output = coin.output
        height = coin.height
        new = _new_coin(outpoint, output, height, new_state, None if new_state is _S.UNSPENT else txid)
        self._coins[outpoint] = new
        payload = output.payload
        key = _KEY.pack(payload, outpoint[0], outpoint[1])
        self._index[state].remove(key)
        self._index[new_state].add(key)
        slots = self._balances[payload]
        slots[_STATE_SLOT[state]] -= 1
        slots[_STATE_SLOT[new_state]] += 1
        confirmed = height is not None
        old_bucket = _BUCKETS[state, confirmed]
        new_bucket = _BUCKETS[new_state, confirmed]
        if old_bucket != new_bucket:
            if old_bucket is not None:
                slots[old_bucket] -= output.amount
            if new_bucket is not None:
                slots[new_bucket] += output.amount
        return new
