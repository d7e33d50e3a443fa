"""A wallet's transaction history: what each transaction did to the wallet.

Theory of operation
-------------------
History is read from two sources, each a small :class:`typing.Protocol` so that any
implementation fits:

* a :class:`BlockSource`, the committed chain: ``height`` and ``applied(height)``
  (an :class:`~timecoin_core.chain.AppliedBlock`, whose ``spent`` coins give every
  input's amount). :class:`~timecoin_core.chain.ChainState` is one.
* optionally a :class:`PoolSource`, transactions not in a block yet: iterating gives
  :class:`~timecoin_core.mempool.PoolEntry`-like values (``tx``, ``fee``, ``final``)
  and ``utxos.coin(outpoint)`` finds the coins they spend (the pool's set keeps them
  as ``LOCKED`` / ``SPENT_*`` coins). :class:`~timecoin_core.mempool.TxPool` is one.

:func:`wallet_history` walks the blocks in order, then the pool, and keeps each
transaction (and each block's rewards) that pays to or spends from an address the
``owns`` predicate accepts, as a :class:`WalletTransaction`: ``received`` (outputs
paying the wallet), ``sent`` (the wallet's coins it spent), ``fee`` (what the
transaction paid, when the wallet paid into it) and ``status``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from ..chain import AppliedBlock
from ..transaction import OutPoint, Transaction, TxOut
from ..utxo import Coin
from .errors import WalletTypeError, format_units

__all__ = [
    "BlockSource",
    "PoolSource",
    "PoolTransaction",
    "TxStatus",
    "WalletTransaction",
    "paid_payloads",
    "wallet_history",
]


class TxStatus(Enum):
    """Where a transaction stands."""

    PENDING = "pending"
    """In the pool, not final yet: it may still lose to a conflicting spend."""
    FINAL = "final"
    """Certified final by the masternodes, not in a block yet: irreversible."""
    CONFIRMED = "confirmed"
    """In a committed block."""


@dataclass(frozen=True, slots=True)
class WalletTransaction:
    """What one transaction (or one block's rewards) did to a wallet.

    ``received`` sums its outputs paying the wallet, ``sent`` the wallet's coins it
    spent (change comes back in ``received``). ``fee`` is what the transaction paid
    when the wallet spent into it, else None (someone else paid). ``height`` is the
    block's height for a confirmed transaction, else None. A block's rewards appear
    with ``txid == block.reward_txid`` and ``is_reward`` True.
    """

    txid: bytes
    status: TxStatus
    height: int | None
    received: int
    sent: int
    fee: int | None
    is_reward: bool = False

    @property
    def net(self) -> int:
        """``received - sent``: how the wallet's balance changed (negative for a payment out)."""
        return self.received - self.sent

    def __repr__(self) -> str:
        where = f"height={self.height}" if self.height is not None else "unconfirmed"
        fee = "" if self.fee is None else f", fee={format_units(self.fee)} TIME"
        reward = ", reward" if self.is_reward else ""
        return (
            f"WalletTransaction({self.txid.hex()}, {self.status.value}, {where}, "
            f"net={format_units(self.net)} TIME, received={format_units(self.received)} TIME, "
            f"sent={format_units(self.sent)} TIME{fee}{reward})"
        )


class BlockSource(Protocol):
    """The committed chain, block by block (:class:`~timecoin_core.chain.ChainState` is one)."""

    @property
    def height(self) -> int:
        """The tip's height."""
        ...

    def applied(self, height: int) -> AppliedBlock | None:
        """The block at ``height`` and the coins its inputs spent, or None."""
        ...


class PoolTransaction(Protocol):
    """A transaction in the pool (:class:`~timecoin_core.mempool.PoolEntry` is one)."""

    @property
    def tx(self) -> Transaction:
        """The transaction."""
        ...

    @property
    def fee(self) -> int:
        """The fee it pays."""
        ...

    @property
    def final(self) -> bool:
        """True once certified final."""
        ...


class _CoinLookup(Protocol):
    def coin(self, outpoint: OutPoint) -> Coin | None: ...


class PoolSource(Protocol):
    """Transactions waiting for a block (:class:`~timecoin_core.mempool.TxPool` is one)."""

    @property
    def utxos(self) -> _CoinLookup:
        """The pool's view of coins, including the ones its transactions spend."""
        ...

    def __iter__(self) -> Iterator[PoolTransaction]:
        """The transactions, in any order."""
        ...


def _entry(
    txid: bytes,
    status: TxStatus,
    height: int | None,
    outputs: Iterable[TxOut],
    spent: Iterable[TxOut | None],
    fee: int | None,
    owns: Callable[[bytes], bool],
    is_reward: bool = False,
) -> WalletTransaction | None:
    received = sum(out.amount for out in outputs if owns(out.payload))
    sent = sum(out.amount for out in spent if out is not None and owns(out.payload))
    if not received and not sent:
        return None
    return WalletTransaction(txid, status, height, received, sent, fee if sent else None, is_reward)


def paid_payloads(chain: BlockSource, pool: PoolSource | None = None, *, start_height: int = 0) -> set[bytes]:
    """Every address payload an output of ``chain`` (from ``start_height``) or ``pool`` pays to."""
    _check_sources(chain, pool, start_height)
    paid: set[bytes] = set()
    for height in range(max(start_height, 0), chain.height + 1):
        applied = chain.applied(height)
        if applied is None:
            break
        block = applied.block
        for tx in block.transactions:
            paid.update(out.payload for out in tx.outputs)
        paid.update(out.payload for out in block.rewards)
    if pool is not None:
        for entry in pool:
            paid.update(out.payload for out in entry.tx.outputs)
    return paid


def _check_sources(chain: object, pool: object, start_height: object) -> None:
    if type(start_height) is not int:
        raise WalletTypeError("start_height", "an int", start_height)
    if not (hasattr(chain, "height") and hasattr(chain, "applied")):
        raise WalletTypeError("chain", "a BlockSource (a ChainState)", chain)
    if pool is not None and not (hasattr(pool, "utxos") and isinstance(pool, Iterable)):
        raise WalletTypeError("pool", "a PoolSource (a TxPool) or None", pool)


def wallet_history(
    owns: Callable[[bytes], bool],
    chain: BlockSource,
    pool: PoolSource | None = None,
    *,
    start_height: int = 0,
) -> tuple[WalletTransaction, ...]:
    """Every transaction touching an address ``owns`` accepts: blocks from ``start_height`` in order, then the pool.

    Confirmed entries come in chain order (a block's rewards after its
    transactions); pool entries follow, final ones first, each group by txid.
    ``owns`` is called with 20-byte payloads. A wallet that finds its addresses by a
    gap limit should first widen its window with :func:`paid_payloads` (as
    :meth:`Wallet.history <timecoin_core.wallet.Wallet.history>` does): blocks come
    in time order, but a gap window grows in address order.
    """
    if not callable(owns):
        raise WalletTypeError("owns", "a callable taking a payload", owns)
    _check_sources(chain, pool, start_height)
    history: list[WalletTransaction] = []
    for height in range(max(start_height, 0), chain.height + 1):
        applied = chain.applied(height)
        if applied is None:
            break
        block = applied.block
        # A transaction may spend an output created earlier in its own block.
        known: dict[OutPoint, TxOut] = {coin.outpoint: coin.output for coin in applied.spent}
        for tx in block.transactions:
            txid = tx.txid
            for index, out in enumerate(tx.outputs):
                known.setdefault(OutPoint(txid, index), out)
        for tx in block.transactions:
            spent = [known.get(i.outpoint) for i in tx.inputs]
            fee = None
            if all(out is not None for out in spent):
                fee = sum(out.amount for out in spent if out is not None) - tx.output_total()
            item = _entry(tx.txid, TxStatus.CONFIRMED, height, tx.outputs, spent, fee, owns)
            if item is not None:
                history.append(item)
        reward = _entry(block.reward_txid, TxStatus.CONFIRMED, height, block.rewards, (), None, owns, True)
        if reward is not None:
            history.append(reward)
    if pool is not None:
        coin_of = pool.utxos.coin
        waiting = sorted(pool, key=lambda e: (not e.final, e.tx.txid))
        for pool_entry in waiting:
            tx = pool_entry.tx
            spent_coins = [coin_of(i.outpoint) for i in tx.inputs]
            spent = [c.output if c is not None else None for c in spent_coins]
            status = TxStatus.FINAL if pool_entry.final else TxStatus.PENDING
            item = _entry(tx.txid, status, None, tx.outputs, spent, pool_entry.fee, owns)
            if item is not None:
                history.append(item)
    return tuple(history)
