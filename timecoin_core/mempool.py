"""The transaction pool: validated transactions waiting for finality or for a block.

Theory of operation
-------------------
:class:`TxPool` holds transactions that passed full validation against its
:class:`~timecoin_core.utxo.UtxoSet`, in two classes:

*pending*
    Valid, waiting for the network's finality certificate. The pool claims their
    inputs in the UTXO set (``LOCKED``, or ``SPENT_PENDING`` after
    :meth:`TxPool.mark_accepted`), so no conflicting transaction gets in. Pending
    entries expire, are rejected, and are evicted when the pool is full.
*final*
    Certified by the network (:meth:`TxPool.mark_final`, or :meth:`TxPool.add` with
    ``final=True``). Their inputs are ``SPENT_FINALIZED`` and their outputs are added to
    the UTXO set as coins without a height, so new transactions may spend them at once:
    that is what instant finality is for. Final entries must go into a block; they are
    never evicted, never expire and cannot be rejected. They leave the pool only through
    :meth:`TxPool.remove_confirmed`.

A transaction may spend outputs of *final* pool transactions but never of pending ones
(:class:`PendingParentError`): a pending parent may still lose to a conflicting spend.
So the parents of every entry are final, pending entries have no descendants, and
evicting a pending entry never takes anything else with it.

Capacity is bounded in bytes (sum of encoded sizes) and in count. A newcomer that does
not fit evicts the lowest fee-rate pending entries only if it pays a strictly higher
fee rate than each of them; otherwise it is refused with :class:`PoolFullError`
carrying the minimum rate that would have been enough. A final newcomer evicts pending
entries whatever their rate (the network already decided); if the pool is all final it
is refused too, because the bounds are memory bounds.

Every public method either applies completely or raises and leaves the pool and the
UTXO set as they were: all checks run before the first change.

Block building (:meth:`TxPool.block_template`) takes only final entries, highest fee
rate first, a child after all its in-pool parents, within a byte cap.

Integration with blocks: the chain keeps its own UTXO set of confirmed coins; the
pool's set starts as a copy of it (``chain.utxos.copy()``) and mirrors every committed
block through :meth:`TxPool.remove_confirmed` with the block's height, which applies the
block to the pool's set and removes what it confirms or conflicts with. Both sets then
hold the same confirmed coins, so their commitments agree.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Final

from sortedcontainers import SortedList

from .errors import InvalidArgumentError, TimecoinError
from .fees import FeeRate
from .network import Network
from .transaction import OutPoint, Transaction, TxOut
from .utxo import CoinState, UtxoSet
from .validation import MissingInputError, validate_transactions
from .verify import Verifier

__all__ = [
    "DEFAULT_EXPIRY",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_COUNT",
    "AddOutcome",
    "DoubleSpendError",
    "DuplicateTransactionError",
    "FinalTransactionError",
    "PendingParentError",
    "PoolConfigError",
    "PoolEntry",
    "PoolError",
    "PoolFullError",
    "Removal",
    "TxPool",
    "UnknownTransactionError",
]

DEFAULT_MAX_BYTES: Final = 100_000_000
"""Default bound on the summed encoded size of the pool's transactions."""
DEFAULT_MAX_COUNT: Final = 500_000
"""Default bound on the number of transactions in the pool."""
DEFAULT_EXPIRY: Final = 3600.0
"""Default lifetime, in seconds, of a pending transaction."""

# The smallest transaction the codec can encode with one input and one output; once
# less room than this is left, no further entry can fit in a block template.
_MIN_TX_SIZE: Final = 4 + 1 + 36 + 1 + 28 + 4 + 1 + 96
# After this many consecutive entries that do not fit, the template stops looking.
_TEMPLATE_MAX_MISSES: Final = 1000
_SEQ_BITS: Final = 40
_SEQ_MASK: Final = (1 << _SEQ_BITS) - 1
_HELD_BY_POOL: Final = frozenset((CoinState.LOCKED, CoinState.SPENT_PENDING))
_NO_PARENTS: Final[frozenset[bytes]] = frozenset()


# -- errors ---------------------------------------------------------------------------


class PoolError(TimecoinError, ValueError):
    """The pool refused an operation; nothing changed. ``code`` is the reject reason."""

    code = "pool"


class PoolConfigError(PoolError):
    """Pool bounds that make no sense (checked when the pool is constructed)."""

    code = "config"


class DuplicateTransactionError(PoolError):
    """The transaction is already in the pool (or was already applied)."""

    code = "duplicate"

    def __init__(self, txid: bytes, message: str | None = None) -> None:
        super().__init__(message or f"transaction {txid.hex()} is already in the pool")
        self.txid = txid


class DoubleSpendError(PoolError):
    """The transaction spends a coin another transaction (``holder``) already holds."""

    code = "double-spend"

    def __init__(self, txid: bytes, outpoint: OutPoint, holder: bytes, detail: str = "") -> None:
        super().__init__(
            f"transaction {txid.hex()} spends {outpoint}, already spent by transaction "
            f"{holder.hex()}{detail}"
        )
        self.txid = txid
        self.outpoint = outpoint
        self.holder = holder


class PendingParentError(PoolError):
    """The transaction spends an output of a pool transaction that is not final yet."""

    code = "pending-parent"

    def __init__(self, txid: bytes, parent: bytes) -> None:
        super().__init__(
            f"transaction {txid.hex()} spends an output of transaction {parent.hex()}, which "
            "is not final yet; resubmit once the parent is final"
        )
        self.txid = txid
        self.parent = parent


class PoolFullError(PoolError):
    """No room for the transaction.

    ``min_rate`` is the fee rate that would have been enough to evict what is needed,
    or ``None`` when no rate is (the transaction alone exceeds the byte bound, or only
    final transactions, which are never evicted, stand in the way).
    """

    code = "pool-full"

    def __init__(self, txid: bytes, message: str, min_rate: FeeRate | None) -> None:
        super().__init__(f"transaction {txid.hex()}: {message}")
        self.txid = txid
        self.min_rate = min_rate


class UnknownTransactionError(PoolError):
    """No transaction with this txid is in the pool."""

    code = "unknown"

    def __init__(self, txid: bytes) -> None:
        super().__init__(f"transaction {txid.hex()} is not in the pool")
        self.txid = txid


class FinalTransactionError(PoolError):
    """An operation only pending transactions allow was asked of a final one."""

    code = "final"

    def __init__(self, txid: bytes, action: str) -> None:
        super().__init__(f"transaction {txid.hex()} is final: cannot {action} it")
        self.txid = txid


# -- values ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PoolEntry:
    """A transaction in the pool and what the pool knows about it.

    ``fee_rate`` is ``FeeRate.of(fee, size)``; ``sequence`` numbers admissions and breaks
    fee-rate ties (earlier first). ``parents`` are the txids of pool transactions whose
    outputs it spends (all final); a parent leaves this set when a block confirms it.
    """

    tx: Transaction
    fee: int
    size: int
    fee_rate: FeeRate
    added_at: float
    final: bool
    parents: frozenset[bytes]
    sequence: int

    @property
    def txid(self) -> bytes:
        """The transaction's txid."""
        return self.tx.txid


@dataclass(frozen=True, slots=True)
class AddOutcome:
    """What :meth:`TxPool.add_many` did with one transaction: its entry, or why not.

    ``evicted`` are the txids this admission evicted to make room (or displaced, for a
    final transaction that wins a coin from pending ones).
    """

    tx: Transaction
    entry: PoolEntry | None
    error: TimecoinError | None
    evicted: tuple[bytes, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the transaction is now in the pool."""
        return self.error is None

    def raise_for_error(self) -> PoolEntry:
        """Return the entry, or raise the error."""
        if self.error is not None:
            raise self.error
        assert self.entry is not None
        return self.entry


@dataclass(frozen=True, slots=True)
class Removal:
    """What :meth:`TxPool.remove_confirmed` removed.

    ``confirmed``: pool transactions the block includes. ``conflicted``: pool
    transactions (and their descendants) that spend a coin the block spends otherwise.
    """

    confirmed: tuple[bytes, ...]
    conflicted: tuple[bytes, ...]


_ENTRY_SLOTS = tuple(
    PoolEntry.__dict__[name].__set__
    for name in ("tx", "fee", "size", "fee_rate", "added_at", "final", "parents", "sequence")
)


def _new_entry(
    tx: Transaction,
    fee: int,
    size: int,
    fee_rate: FeeRate,
    added_at: float,
    final: bool,
    parents: frozenset[bytes],
    sequence: int,
) -> PoolEntry:
    # Writes the slots directly: a frozen dataclass's __init__ costs twice as much,
    # and this runs once per admission.
    entry: PoolEntry = object.__new__(PoolEntry)
    for set_slot, value in zip(
        _ENTRY_SLOTS, (tx, fee, size, fee_rate, added_at, final, parents, sequence), strict=True
    ):
        set_slot(entry, value)
    return entry


# -- the pool -------------------------------------------------------------------------


def _rate_key(per_kb: int, sequence: int) -> int:
    # One int per entry orders by fee rate, then by arrival with the earlier entry
    # ranking higher: the front of the list is the eviction victim (lowest rate,
    # latest arrival) and the back is the first pick for a block.
    return per_kb << _SEQ_BITS | (_SEQ_MASK - sequence)


class _DisplacingView:
    """The UTXO set as a final transaction sees it: coins held by pending claims count as unspent."""

    __slots__ = ("_utxos",)

    def __init__(self, utxos: UtxoSet) -> None:
        self._utxos = utxos

    def get_output(self, outpoint: OutPoint, /) -> TxOut | None:
        coin = self._utxos.coin(outpoint)
        if coin is None or coin.state not in _DISPLACEABLE:
            return None
        return coin.output


_DISPLACEABLE: Final = frozenset((CoinState.UNSPENT, CoinState.LOCKED, CoinState.SPENT_PENDING))


class TxPool:
    """Validated transactions awaiting finality (pending) or a block (final).

    ``utxos`` is the pool's view of the coins, normally a copy of the chain's
    confirmed set (``chain.utxos.copy()``) that :meth:`remove_confirmed` keeps in step
    with committed blocks; the pool claims, finalizes and releases coins in it, and
    its outputs of final transactions live there too. ``max_bytes`` bounds the summed encoded size of the entries,
    ``max_count`` their number, and ``expiry`` is how many seconds a pending entry may
    wait for finality before :meth:`expire` drops it. Time is always an argument
    (``now``, in seconds on any monotonic scale the caller chooses).

    Costs: lookups O(1); admission is validation plus O(inputs + log n); eviction
    O(log n) per victim; :meth:`block_template` O(k log k) for k entries considered.
    """

    __slots__ = (
        "_by_key",
        "_bytes",
        "_children",
        "_entries",
        "_expiry_heap",
        "_expiry_stale",
        "_final_count",
        "_final_keys",
        "_pending_keys",
        "_seq",
        "_spenders",
        "expiry",
        "max_bytes",
        "max_count",
        "network",
        "utxos",
    )

    def __init__(
        self,
        network: Network,
        utxos: UtxoSet,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_count: int = DEFAULT_MAX_COUNT,
        expiry: float = DEFAULT_EXPIRY,
    ) -> None:
        if not isinstance(network, Network) or not isinstance(utxos, UtxoSet):
            raise InvalidArgumentError("network" if not isinstance(network, Network) else "utxos", "TxPool takes a Network and a UtxoSet")
        if type(max_bytes) is not int or max_bytes < 1:
            raise PoolConfigError("max_bytes must be a positive int")
        if type(max_count) is not int or max_count < 1:
            raise PoolConfigError("max_count must be a positive int")
        if not isinstance(expiry, int | float) or not math.isfinite(expiry) or expiry <= 0:
            raise PoolConfigError("expiry must be a positive finite number of seconds")
        self.network = network
        self.utxos = utxos
        self.max_bytes = max_bytes
        self.max_count = max_count
        self.expiry = float(expiry)
        self._entries: dict[bytes, PoolEntry] = {}
        self._by_key: dict[int, PoolEntry] = {}
        self._pending_keys = SortedList()
        self._final_keys = SortedList()
        # (added_at, rate key) of pending entries, as a lazy heap: entries that leave or
        # become final are not searched for, their items are skipped when they surface.
        self._expiry_heap: list[tuple[float, int]] = []
        self._expiry_stale = 0
        self._spenders: dict[OutPoint, bytes] = {}
        self._children: dict[bytes, set[bytes]] = {}
        self._bytes = 0
        self._final_count = 0
        self._seq = 0

    # -- reading ----------------------------------------------------------------------

    def get(self, txid: bytes) -> PoolEntry | None:
        """The entry for ``txid``, or ``None``."""
        return self._entries.get(txid)

    def __contains__(self, txid: object) -> bool:
        return txid in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[PoolEntry]:
        """The entries, in no particular order."""
        return iter(list(self._entries.values()))

    def __repr__(self) -> str:
        return (
            f"TxPool(entries={len(self._entries)}, final={self._final_count}, "
            f"bytes={self._bytes})"
        )

    @property
    def total_bytes(self) -> int:
        """Summed encoded size of every entry."""
        return self._bytes

    @property
    def final_count(self) -> int:
        """How many entries are final."""
        return self._final_count

    @property
    def pending_count(self) -> int:
        """How many entries are pending."""
        return len(self._entries) - self._final_count

    def spender(self, outpoint: OutPoint) -> bytes | None:
        """The txid of the pool transaction spending ``outpoint``, or ``None``."""
        return self._spenders.get(outpoint)

    def children(self, txid: bytes) -> frozenset[bytes]:
        """Txids of the pool transactions that spend outputs of ``txid``."""
        return frozenset(self._children.get(txid, ()))

    # -- admission --------------------------------------------------------------------

    def add(
        self,
        tx: Transaction,
        now: float,
        verifier: Verifier | None = None,
        *,
        final: bool = False,
    ) -> PoolEntry:
        """Validate ``tx`` against the UTXO set and admit it; return its entry.

        Pending by default: its inputs are locked in the UTXO set. With ``final=True``
        (the caller holds its finality certificate) it enters final: coins pending
        transactions hold are taken from them (they are dropped), its inputs become
        ``SPENT_FINALIZED`` and its outputs spendable.

        Raises :class:`~timecoin_core.validation.TransactionError` for an invalid
        transaction and a :class:`PoolError` when the pool refuses it; either way
        nothing changed. Use :meth:`add_many` to learn which entries were evicted.
        """
        return self.add_many([tx], now, verifier, final=final)[0].raise_for_error()

    def add_many(
        self,
        txs: Sequence[Transaction],
        now: float,
        verifier: Verifier | None = None,
        *,
        final: bool = False,
    ) -> list[AddOutcome]:
        """Admit a batch, verifying every signature in one ``verify_many`` call.

        Equivalent to :meth:`add` of each transaction in order, except for the single
        signature batch: each outcome succeeds or fails on its own, and a later
        transaction may evict an earlier one. Within a final batch a transaction may
        spend outputs of an earlier one. Returns one :class:`AddOutcome` per transaction.
        """
        now = _check_now(now)
        outcomes: list[AddOutcome | None] = [None] * len(txs)
        candidates: list[int] = []
        batch_txids: set[bytes] = set()
        for position, tx in enumerate(txs):
            if not isinstance(tx, Transaction):
                raise InvalidArgumentError("txs", f"expected Transaction, not {type(tx).__name__}")
            try:
                self._check_inputs(tx, final, batch_txids)
                self._plan(tx, self._estimate_fee(tx, final), final, dry_run=True)
            except PoolError as exc:
                outcomes[position] = AddOutcome(tx, None, exc)
                continue
            batch_txids.add(tx.txid)
            candidates.append(position)
        view = _DisplacingView(self.utxos) if final else self.utxos
        verdicts = validate_transactions(
            [txs[p] for p in candidates], view, self.network, verifier
        )
        claimed: dict[OutPoint, bytes] = {}
        for position, verdict in zip(candidates, verdicts, strict=True):
            tx = txs[position]
            error: TimecoinError | None = verdict.error
            if isinstance(error, MissingInputError) and error.input_index is not None:
                outpoint = tx.inputs[error.input_index].outpoint
                if outpoint in claimed:
                    error = DoubleSpendError(
                        tx.txid, outpoint, claimed[outpoint], " earlier in the same batch"
                    )
            if error is not None:
                outcomes[position] = AddOutcome(tx, None, error)
                continue
            for txin in tx.inputs:
                claimed.setdefault(txin.outpoint, tx.txid)
            assert verdict.fee is not None
            try:
                entry, evicted = self._admit(tx, verdict.fee, now, final)
            except PoolError as exc:
                outcomes[position] = AddOutcome(tx, None, exc)
                continue
            outcomes[position] = AddOutcome(tx, entry, None, evicted)
        self._compact_expiry()
        return [o for o in outcomes if o is not None]

    def _check_inputs(
        self, tx: Transaction, final: bool, batch_txids: set[bytes] | frozenset[bytes]
    ) -> frozenset[bytes]:
        """The cheap refusals, before any signature is verified; returns the pool parents."""
        txid = tx.txid
        entries = self._entries
        if txid in entries or txid in batch_txids:
            raise DuplicateTransactionError(txid)
        coin_of = self.utxos.coin
        parents: set[bytes] | None = None
        for txin in tx.inputs:
            outpoint = txin.outpoint
            parent = outpoint.txid
            parent_entry = entries.get(parent)
            if parent_entry is not None:
                if not parent_entry.final:
                    raise PendingParentError(txid, parent)
                if parents is None:
                    parents = set()
                parents.add(parent)
            elif not final and parent in batch_txids:
                raise PendingParentError(txid, parent)
            coin = coin_of(outpoint)
            if coin is None or coin.state is CoinState.UNSPENT:
                continue
            holder = coin.spender
            assert holder is not None
            if not final or coin.state not in _HELD_BY_POOL:
                raise DoubleSpendError(txid, outpoint, holder)
        return _NO_PARENTS if parents is None else frozenset(parents)

    def _estimate_fee(self, tx: Transaction, final: bool) -> int | None:
        get = _DisplacingView(self.utxos).get_output if final else self.utxos.get_output
        total = 0
        for txin in tx.inputs:
            out = get(txin.outpoint)
            if out is None:
                return None
            total += out.amount
        fee = total - sum(o.amount for o in tx.outputs)
        return fee if fee >= 0 else None

    def _plan(
        self, tx: Transaction, fee: int | None, final: bool, dry_run: bool = False
    ) -> tuple[list[bytes], list[bytes]]:
        """Decide what admitting ``tx`` displaces and evicts, or raise :class:`PoolFullError`.

        Returns (displaced, evicted): pending holders of coins a final ``tx`` takes, and
        pending entries evicted for room. With ``fee`` unknown (a dry run before
        validation) only the fee-independent refusals are raised.
        """
        txid = tx.txid
        size = tx.size
        if size > self.max_bytes:
            raise PoolFullError(
                txid, f"{size} bytes exceeds the pool's bound of {self.max_bytes} bytes", None
            )
        displaced: list[bytes] = []
        if final:
            for txin in tx.inputs:
                coin = self.utxos.coin(txin.outpoint)
                if coin is not None and coin.state in _HELD_BY_POOL:
                    assert coin.spender is not None
                    if coin.spender in self._entries and coin.spender not in displaced:
                        displaced.append(coin.spender)
        excess_bytes = self._bytes + size - self.max_bytes
        excess_count = len(self._entries) + 1 - self.max_count
        for victim in displaced:
            excess_bytes -= self._entries[victim].size
            excess_count -= 1
        evicted: list[bytes] = []
        if excess_bytes <= 0 and excess_count <= 0:
            return displaced, evicted
        if fee is None and not final:
            if dry_run:
                return displaced, evicted
            raise AssertionError("fee needed to plan an eviction")
        per_kb = FeeRate.of(fee, size).per_kb if fee is not None else 0
        highest = -1
        for key in self._pending_keys:
            entry = self._by_key[key]
            if entry.txid in displaced:
                continue
            evicted.append(entry.txid)
            highest = max(highest, entry.fee_rate.per_kb)
            excess_bytes -= entry.size
            excess_count -= 1
            if excess_bytes <= 0 and excess_count <= 0:
                break
        else:
            raise PoolFullError(
                txid,
                "the pool is full of final transactions, which are never evicted",
                None,
            )
        if not final and per_kb <= highest:
            need = FeeRate(highest + 1)
            raise PoolFullError(
                txid,
                f"the pool is full; a fee rate of at least {need} is needed to evict enough "
                f"lower-rate transactions (this one pays {FeeRate(per_kb)})",
                need,
            )
        return displaced, evicted

    def _admit(
        self, tx: Transaction, fee: int, now: float, final: bool
    ) -> tuple[PoolEntry, tuple[bytes, ...]]:
        """Admit a validated ``tx``: every check first, then every change."""
        txid = tx.txid
        utxos = self.utxos
        # Checked again: earlier members of the same batch may have changed things.
        parents = self._check_inputs(tx, final, _NO_PARENTS)
        if final:
            for index in range(len(tx.outputs)):
                if OutPoint(txid, index) in utxos:
                    raise DuplicateTransactionError(
                        txid, f"transaction {txid.hex()}: its outputs are already in the UTXO set"
                    )
        displaced, evicted = self._plan(tx, fee, final)
        removed: list[bytes] = []
        for victim in displaced + evicted:
            removed += self._drop_with_descendants(victim)
        if final:
            for txin in tx.inputs:
                coin = utxos.coin(txin.outpoint)
                if coin is not None and coin.state in _HELD_BY_POOL and coin.spender != txid:
                    # A claim made outside this pool: the certificate overrides it too.
                    assert coin.spender is not None
                    utxos.release(txin.outpoint, coin.spender)
                utxos.finalize(txin.outpoint, txid)
            for index, out in enumerate(tx.outputs):
                utxos.add(OutPoint(txid, index), out, None)
        else:
            for txin in tx.inputs:
                utxos.lock(txin.outpoint, txid)
        entry = self._insert(tx, fee, now, final, parents)
        return entry, tuple(removed)

    def _insert(
        self, tx: Transaction, fee: int, now: float, final: bool, parents: frozenset[bytes]
    ) -> PoolEntry:
        txid = tx.txid
        size = tx.size
        rate = FeeRate(fee * 1000 // size)
        sequence = self._seq
        self._seq += 1
        entry = _new_entry(tx, fee, size, rate, now, final, parents, sequence)
        key = rate.per_kb << _SEQ_BITS | (_SEQ_MASK - sequence)
        self._entries[txid] = entry
        self._by_key[key] = entry
        if final:
            self._final_keys.add(key)
            self._final_count += 1
        else:
            self._pending_keys.add(key)
            heapq.heappush(self._expiry_heap, (now, key))
        self._bytes += size
        for txin in tx.inputs:
            self._spenders[txin.outpoint] = txid
        for parent in parents:
            self._children.setdefault(parent, set()).add(txid)
        return entry

    def _admit_validated(
        self, tx: Transaction, fee: int, now: float, final: bool = False
    ) -> PoolEntry:
        """Admit ``tx`` whose validity the caller vouches for (benchmarks only).

        Skips validation (the stateless checks, input lookup, fees and signatures) but
        runs every pool check and every change :meth:`add` runs.
        """
        return self._admit(tx, fee, _check_now(now), final)[0]

    # -- lifecycle --------------------------------------------------------------------

    def mark_accepted(self, txid: bytes) -> PoolEntry:
        """The network accepted (voted for) pending ``txid``: its coins become ``SPENT_PENDING``."""
        entry = self._require(txid)
        if entry.final:
            raise FinalTransactionError(txid, "mark accepted")
        for txin in entry.tx.inputs:
            coin = self.utxos.coin(txin.outpoint)
            if coin is not None and coin.state is CoinState.LOCKED:
                self.utxos.mark_spent_pending(txin.outpoint, txid)
        return entry

    def mark_final(self, txid: bytes) -> PoolEntry:
        """``txid`` has a finality certificate: finalize its inputs, make its outputs spendable.

        The entry becomes final: it will not expire or be evicted, and transactions
        spending its outputs are admitted from now on. Idempotent for a final entry.
        """
        entry = self._require(txid)
        if entry.final:
            return entry
        tx = entry.tx
        utxos = self.utxos
        for txin in tx.inputs:
            coin = utxos.coin(txin.outpoint)
            if coin is None or coin.spender != txid or coin.state not in _HELD_BY_POOL:
                raise PoolError(
                    f"transaction {txid.hex()}: input {txin.outpoint} is no longer held by it "
                    "in the UTXO set"
                )
        for index in range(len(tx.outputs)):
            if OutPoint(txid, index) in utxos:
                raise DuplicateTransactionError(
                    txid, f"transaction {txid.hex()}: its outputs are already in the UTXO set"
                )
        for txin in tx.inputs:
            utxos.finalize(txin.outpoint, txid)
        for index, out in enumerate(tx.outputs):
            utxos.add(OutPoint(txid, index), out, None)
        key = _rate_key(entry.fee_rate.per_kb, entry.sequence)
        self._pending_keys.remove(key)
        self._expiry_stale += 1
        self._final_keys.add(key)
        self._final_count += 1
        final_entry = replace(entry, final=True)
        self._entries[txid] = final_entry
        self._by_key[key] = final_entry
        self._compact_expiry()
        return final_entry

    def reject(self, txid: bytes) -> list[bytes]:
        """The network rejected pending ``txid``: drop it, release its coins.

        Returns the txids removed (``txid`` and its descendants, which pending entries
        never have). A final transaction cannot be rejected.
        """
        entry = self._require(txid)
        if entry.final:
            raise FinalTransactionError(txid, "reject")
        removed = self._drop_with_descendants(txid)
        self._compact_expiry()
        return removed

    def expire(self, now: float) -> list[bytes]:
        """Drop pending entries added at least ``expiry`` seconds before ``now``; return their txids."""
        now = _check_now(now)
        cutoff = now - self.expiry
        heap = self._expiry_heap
        by_key = self._by_key
        removed: list[bytes] = []
        while heap and heap[0][0] <= cutoff:
            _, key = heapq.heappop(heap)
            entry = by_key.get(key)
            if entry is None or entry.final:
                self._expiry_stale -= 1
                continue
            removed += self._drop_with_descendants(entry.txid)
            self._expiry_stale -= 1  # the item just popped was made stale by the drop
        self._compact_expiry()
        return removed

    def _compact_expiry(self) -> None:
        # Rebuilt once stale items outnumber live ones, so the heap stays O(pending)
        # and the rebuild's O(n) is paid for by the removals that made it stale.
        heap = self._expiry_heap
        if self._expiry_stale > 1024 and self._expiry_stale * 2 > len(heap):
            live = [(e.added_at, k) for k, e in self._by_key.items() if not e.final]
            heapq.heapify(live)
            self._expiry_heap = live
            self._expiry_stale = 0

    def remove_confirmed(
        self,
        txs: Iterable[Transaction],
        height: int | None = None,
        created: Iterable[tuple[OutPoint, TxOut]] = (),
    ) -> Removal:
        """Remove what a committed block with transactions ``txs`` confirms or conflicts with.

        With ``height`` (the usual setup: the chain keeps its own confirmed UTXO set and
        the pool's set mirrors it plus local claims) the pool first applies the block to
        its UTXO set: every input is ``confirm_spend``-ed, every output added at
        ``height`` (or ``confirm_created`` when a final entry already added it), and
        ``created`` (coins the block makes outside its transactions: rewards) is added.
        Without ``height`` the caller has already applied the block to this set. A block
        the set cannot apply (a spent coin it does not know) raises :class:`PoolError`
        before anything changes.

        Included transactions then leave without releasing anything; their children
        stay, now without that parent. Pool transactions spending a coin the block
        spends with another transaction are dropped with their descendants, releasing
        the coins they still hold. A final transaction can only conflict with a block
        after a consensus safety failure; it is dropped too, but its finalized inputs
        and its outputs stay in the UTXO set for an operator to examine.
        """
        block = list(txs)
        extra = list(created)
        if height is not None:
            self._apply_block(block, height, extra)
        block_txids = {tx.txid for tx in block}
        confirmed: list[bytes] = []
        for tx in block:
            if tx.txid in self._entries:
                self._remove(tx.txid, release=False)
                confirmed.append(tx.txid)
        conflicted: list[bytes] = []
        for tx in block:
            for txin in tx.inputs:
                holder = self._spenders.get(txin.outpoint)
                if holder is not None and holder not in block_txids:
                    conflicted += self._drop_with_descendants(holder)
        self._compact_expiry()
        return Removal(tuple(confirmed), tuple(conflicted))

    def _apply_block(
        self, block: list[Transaction], height: int, extra: list[tuple[OutPoint, TxOut]]
    ) -> None:
        if type(height) is not int or height < 0:
            raise InvalidArgumentError("height", "height must be a non-negative int")
        utxos = self.utxos
        # Dry run first, so that a block this set cannot apply changes nothing.
        created: set[OutPoint] = set()
        spent: set[OutPoint] = set()
        for tx in block:
            for txin in tx.inputs:
                outpoint = txin.outpoint
                coin = utxos.coin(outpoint)
                known = outpoint in created or (coin is not None and outpoint not in spent)
                if not known or outpoint in spent:
                    raise PoolError(
                        f"block at height {height} spends {outpoint}, which the pool's UTXO "
                        "set does not hold"
                    )
                if coin is not None and coin.height is not None and coin.height > height:
                    raise PoolError(f"block at height {height} spends {outpoint}, created later")
                spent.add(outpoint)
            txid = tx.txid
            for index in range(len(tx.outputs)):
                outpoint = OutPoint(txid, index)
                coin = utxos.coin(outpoint)
                if outpoint in created or (coin is not None and coin.height is not None):
                    raise PoolError(f"block at height {height} creates {outpoint} twice")
                created.add(outpoint)
        for outpoint, _ in extra:
            if outpoint in created or outpoint in utxos:
                raise PoolError(f"block at height {height} creates {outpoint} twice")
            created.add(outpoint)
        for tx in block:
            txid = tx.txid
            for txin in tx.inputs:
                coin = utxos.coin(txin.outpoint)
                if coin is not None and coin.height is None:
                    utxos.confirm_created(txin.outpoint, height)
                utxos.confirm_spend(txin.outpoint, height, txid)
            for index, out in enumerate(tx.outputs):
                outpoint = OutPoint(txid, index)
                if outpoint in utxos:
                    utxos.confirm_created(outpoint, height)
                else:
                    utxos.add(outpoint, out, height)
        for outpoint, out in extra:
            utxos.add(outpoint, out, height)

    def block_template(self, max_bytes: int) -> list[Transaction]:
        """Final transactions for a block: highest fee rate first, parents before children.

        Greedy by fee rate; a child whose parent is not placed yet waits for it and then
        competes at its own rate. Entries that do not fit are skipped, so the summed size
        never exceeds ``max_bytes``. Costs O(k log k) for the k entries considered.
        """
        if type(max_bytes) is not int or max_bytes < 0:
            raise InvalidArgumentError("max_bytes", "max_bytes must be a non-negative int")
        entries = self._entries
        by_key = self._by_key
        chosen: list[Transaction] = []
        placed: set[bytes] = set()
        waiting: dict[bytes, list[int]] = {}
        ready: list[int] = []  # negated keys of children whose awaited parent was placed
        stream = reversed(self._final_keys)
        next_key = next(stream, None)
        room = max_bytes
        misses = 0
        while room >= _MIN_TX_SIZE and misses < _TEMPLATE_MAX_MISSES:
            if ready and (next_key is None or -ready[0] > next_key):
                key = -heapq.heappop(ready)
            elif next_key is not None:
                key = next_key
                next_key = next(stream, None)
            else:
                break
            entry = by_key[key]
            if entry.parents:
                missing = next(
                    (p for p in entry.parents if p in entries and p not in placed), None
                )
                if missing is not None:
                    waiting.setdefault(missing, []).append(key)
                    continue
            if entry.size > room:
                misses += 1
                continue
            misses = 0
            chosen.append(entry.tx)
            room -= entry.size
            txid = entry.tx.txid
            placed.add(txid)
            for child_key in waiting.pop(txid, ()):
                heapq.heappush(ready, -child_key)
        return chosen

    def copy(self, utxos: UtxoSet) -> TxPool:
        """An independent copy of the pool bound to ``utxos``.

        ``utxos`` must be a copy of this pool's UTXO set taken at the same moment
        (snapshot and revert copy both together).
        """
        clone = TxPool(self.network, utxos, self.max_bytes, self.max_count, self.expiry)
        clone._entries = dict(self._entries)
        clone._by_key = dict(self._by_key)
        clone._pending_keys = SortedList(self._pending_keys)
        clone._final_keys = SortedList(self._final_keys)
        clone._expiry_heap = list(self._expiry_heap)
        clone._expiry_stale = self._expiry_stale
        clone._spenders = dict(self._spenders)
        clone._children = {p: set(c) for p, c in self._children.items()}
        clone._bytes = self._bytes
        clone._final_count = self._final_count
        clone._seq = self._seq
        return clone

    # -- internals --------------------------------------------------------------------

    def _require(self, txid: bytes) -> PoolEntry:
        entry = self._entries.get(txid)
        if entry is None:
            raise UnknownTransactionError(txid)
        return entry

    def _drop_with_descendants(self, txid: bytes) -> list[bytes]:
        """Remove ``txid`` and everything spending its outputs, children first; release coins."""
        if txid not in self._children:
            self._remove(txid, release=True)
            return [txid]
        order: list[bytes] = []
        stack = [(txid, False)]
        seen: set[bytes] = set()
        while stack:
            current, expanded = stack.pop()
            if expanded:
                order.append(current)
                continue
            if current in seen:
                continue
            seen.add(current)
            stack.append((current, True))
            stack.extend((child, False) for child in self._children.get(current, ()))
        for current in order:
            self._remove(current, release=True)
        return order

    def _remove(self, txid: bytes, release: bool) -> None:
        entry = self._entries.pop(txid)
        key = entry.fee_rate.per_kb << _SEQ_BITS | (_SEQ_MASK - entry.sequence)
        del self._by_key[key]
        if entry.final:
            self._final_keys.remove(key)
            self._final_count -= 1
        else:
            self._pending_keys.remove(key)
            self._expiry_stale += 1
        self._bytes -= entry.size
        utxos = self.utxos
        for txin in entry.tx.inputs:
            outpoint = txin.outpoint
            if self._spenders.get(outpoint) == txid:
                del self._spenders[outpoint]
            if release:
                coin = utxos.coin(outpoint)
                if coin is not None and coin.spender == txid and coin.state in _HELD_BY_POOL:
                    utxos.release(outpoint, txid)
        for parent in entry.parents:
            siblings = self._children.get(parent)
            if siblings is not None:
                siblings.discard(txid)
                if not siblings:
                    del self._children[parent]
        if txid not in self._children:
            return
        # Children left behind (the parent was confirmed) lose it as a parent.
        for child in self._children.pop(txid):
            child_entry = self._entries[child]
            updated = replace(child_entry, parents=child_entry.parents - {txid})
            self._entries[child] = updated
            self._by_key[_rate_key(updated.fee_rate.per_kb, updated.sequence)] = updated


def _check_now(now: float) -> float:
    if type(now) is not float and (type(now) is not int):
        raise InvalidArgumentError("now", "now must be a finite number of seconds")
    if not math.isfinite(now):
        raise InvalidArgumentError("now", "now must be a finite number of seconds")
    return float(now)
