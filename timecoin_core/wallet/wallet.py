"""Wallet: addresses from one mnemonic, the coins they hold, and transactions spending them.

Theory of operation
-------------------
A :class:`Wallet` made from a mnemonic (or a seed) holds the SLIP-0010 node of one
account, ``m/44'/1440'/account'``, and derives two chains of addresses below it:
receiving addresses ``.../0'/index'`` (:meth:`Wallet.address`) and change addresses
``.../1'/index'`` (:meth:`Wallet.change_address`).

A wallet has no coins of its own: it reads them from a UTXO view (a
:class:`~timecoin_core.utxo.UtxoSet`, a :class:`~timecoin_core.chain.ChainState`, or
anything with the UtxoSet's ``coins_of`` pagination). To recognise its coins it
*watches* every address on each chain up to ``gap_limit`` past the last one that is
*used* (holds a coin in the view) or *issued* (was handed out by :meth:`Wallet.address`
or as change). :meth:`Wallet.coins` walks the watched addresses in order and widens
the window whenever it finds a coin, so a wallet restored from its mnemonic finds every
coin as long as no run of ``gap_limit`` consecutive empty addresses separates them.
An address issued far beyond the window is watched on its own, without widening it.
The view holds unspent coins only, so addresses whose coins were all spent count as
empty: a wallet that skips addresses should restore with a larger ``gap_limit``.

Spending is two steps. :meth:`Wallet.plan_transaction` (one recipient) or
:meth:`Wallet.plan_payments` (several) checks the arguments (``int`` amounts in base
units, none below the dust limit; addresses of this network), selects coins
(:func:`~timecoin_core.wallet.coin_selection.select_coins`), refuses a fee above
``max_fee`` (:func:`default_max_fee` unless given), adds change to a fresh change
address, and returns a :class:`TransactionPlan`: the unsigned transaction, whose
txid, size and fee are already final because witnesses have a fixed size.
:meth:`Wallet.sign` signs a plan; :meth:`Wallet.create_transaction` and
:meth:`Wallet.create_payments` do both. :meth:`TransactionPlan.to_psbt` exports a
plan for another signer and :meth:`Wallet.sign_psbt` signs such a one.

A watch-only wallet (:meth:`Wallet.watch_only`) knows addresses but no keys: it
tracks coins and plans transactions; signing raises :class:`WatchOnlyError`. An
external signer signs each of :meth:`TransactionPlan.sighashes`.

The wallet never prints a secret: ``repr`` and ``str`` show the network, the account
and counts of addresses only.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol, runtime_checkable

from ..amount import COIN, MAX_MONEY
from ..fees import FeeRate
from ..keys import Address, PrivateKey, PublicKey
from ..network import MAINNET, Network
from ..transaction import (
    MAX_MEMO,
    MAX_TX_INPUTS,
    MAX_TX_OUTPUTS,
    OutPoint,
    Transaction,
    TxIn,
    TxOut,
)
from ..utxo import Balance, Coin, CoinPage, CoinState, UtxoSet
from .coin_selection import DEFAULT_MAX_TRIES, Selection, select_coins
from .errors import (
    FeeTooHighError,
    WalletAmountError,
    WalletArgumentError,
    WalletError,
    WalletTypeError,
    format_units,
)
from .history import BlockSource, PoolSource, WalletTransaction, paid_payloads, wallet_history
from .message import sign_message
from .mnemonic import mnemonic_to_seed
from .payment import Payment, as_address, as_payments, check_amount_argument, check_not_dust
from .psbt import PartiallySignedTransaction
from .slip10 import HARDENED_OFFSET, ExtendedKey, account_path, address_path, derive_path

__all__ = [
    "DEFAULT_GAP_LIMIT",
    "DEFAULT_MAX_FEE_FLOOR",
    "CoinSource",
    "CreatedTransaction",
    "ForeignCoinError",
    "TransactionPlan",
    "Wallet",
    "WalletError",
    "WatchOnlyError",
    "default_max_fee",
]

DEFAULT_GAP_LIMIT: Final = 20
"""Unused addresses watched past the last used or issued one on each chain (BIP-0044's 20)."""

DEFAULT_MAX_FEE_FLOOR: Final = COIN // 10
"""The default fee guard never refuses a fee up to 0.1 TIME (:func:`default_max_fee`)."""

_MAX_GAP_LIMIT: Final = 10_000
_PAGE: Final = 1_000


def default_max_fee(amount: int) -> int:
    """The largest fee a wallet pays without being told otherwise, for payments totalling ``amount``.

    ``max(0.1 TIME, amount // 100)``: a fee above 1% of the payment and above 0.1
    TIME is almost always a mistake, typically a fee rate off by a factor of 1,000
    (given per byte where per 1,000 bytes was meant). At the minimum rate 0.1 TIME
    pays for about 10 MB, far more than any transaction (a 1,000-input one is 132
    kB), so ordinary payments never meet it.
    """
    check_amount_argument("amount", amount)
    return max(DEFAULT_MAX_FEE_FLOOR, amount // 100)


def _subtract_fee(payments: tuple[Payment, ...], fee: int, network: Network) -> tuple[Payment, ...]:
    """The payments with ``fee`` split evenly among them (the first pays the remainder)."""
    share, remainder = divmod(fee, len(payments))
    result = []
    for i, payment in enumerate(payments):
        amount = payment.amount - share - (remainder if i == 0 else 0)
        where = "amount" if len(payments) == 1 else f"payments[{i}].amount"
        if amount <= 0:
            raise WalletAmountError(where, f"{format_units(payment.amount)} TIME does not cover its share of the fee")
        check_not_dust(where, amount, network)
        result.append(Payment(payment.address, amount))
    return tuple(result)


class WatchOnlyError(WalletError):
    """A watch-only wallet was asked for something that needs a private key."""


class ForeignCoinError(WalletError):
    """A coin that does not pay to any address this wallet watches."""

    def __init__(self, outpoint: OutPoint) -> None:
        super().__init__(f"coin {outpoint} does not pay to an address of this wallet")
        self.outpoint = outpoint


@runtime_checkable
class CoinSource(Protocol):
    """Per-address pagination over coins: what a wallet reads (a UtxoSet has it)."""

    def coins_of(self, payload: bytes, after: OutPoint | None = None, limit: int = 100) -> CoinPage:
        """One page of the coins paying to ``payload``, after the cursor ``after``."""
        ...


@runtime_checkable
class _HasUtxos(Protocol):
    @property
    def utxos(self) -> CoinSource: ...


View = CoinSource | _HasUtxos


@dataclass(frozen=True, slots=True, repr=False)
class TransactionPlan:
    """A transaction ready to sign: inputs chosen, outputs and fee final.

    ``transaction`` has all-zero witnesses; signing fills them in without changing its
    txid or size. ``coins[i]`` is the coin input ``i`` spends. ``payments`` are the
    payment outputs (what each recipient receives), ``amount`` their total, ``fee``
    what the transaction pays, ``change_output_index`` the position of the change
    output (None without change).
    """

    transaction: Transaction
    coins: tuple[Coin, ...]
    amount: int
    fee: int
    change_output_index: int | None
    selection: Selection
    network: Network
    payments: tuple[Payment, ...] = ()

    def sighashes(self) -> tuple[bytes, ...]:
        """The message each input's key must sign, in input order."""
        tx = self.transaction
        return tuple(tx.sighash(i, coin.output, self.network) for i, coin in enumerate(self.coins))

    def with_signatures(self, witnesses: Sequence[tuple[bytes, bytes]]) -> CreatedTransaction:
        """The signed result for externally made ``(public_key, signature)`` witnesses."""
        return CreatedTransaction(
            self.transaction.with_witnesses(witnesses),
            self.coins,
            self.amount,
            self.fee,
            self.change_output_index,
            self.payments,
        )

    def to_psbt(self) -> PartiallySignedTransaction:
        """This plan as an unsigned :class:`~timecoin_core.wallet.PartiallySignedTransaction`."""
        return PartiallySignedTransaction.from_plan(self)

    def __repr__(self) -> str:
        return (
            f"TransactionPlan({self.network.name}, txid={self.transaction.txid.hex()}, "
            f"{len(self.coins)} inputs, payments={list(self.payments)!r}, "
            f"fee={format_units(self.fee)} TIME, change_output_index={self.change_output_index})"
        )


@dataclass(frozen=True, slots=True, repr=False)
class CreatedTransaction:
    """A signed transaction and what it spends.

    ``coins[i]`` is the coin input ``i`` spends; ``payments`` what each recipient
    receives and ``amount`` their total; ``fee`` what the transaction pays;
    ``change_output_index`` the position of the change output in
    ``transaction.outputs``, or None when there is none.
    """

    transaction: Transaction
    coins: tuple[Coin, ...]
    amount: int
    fee: int
    change_output_index: int | None
    payments: tuple[Payment, ...] = ()

    @property
    def txid(self) -> bytes:
        """The transaction's id."""
        return self.transaction.txid

    @property
    def change(self) -> TxOut | None:
        """The change output, or None."""
        if self.change_output_index is None:
            return None
        return self.transaction.outputs[self.change_output_index]

    def __repr__(self) -> str:
        change = self.change
        return (
            f"CreatedTransaction(txid={self.txid.hex()}, {len(self.coins)} inputs, "
            f"payments={list(self.payments)!r}, fee={format_units(self.fee)} TIME, "
            f"change={'none' if change is None else format_units(change.amount) + ' TIME'})"
        )


class _Chain:
    """One chain of addresses (receiving or change): derived payloads and their keys.

    The watched window is ``0 .. max(used, issued) + gap_limit``; ``extra`` holds
    addresses issued beyond it, watched one by one.
    """

    __slots__ = ("extra", "issued", "keys", "node", "payloads", "used")

    def __init__(self, node: ExtendedKey | None) -> None:
        self.node = node
        self.payloads: dict[int, bytes] = {}
        self.keys: dict[int, PrivateKey] = {}
        self.used = 0
        self.issued = 0
        self.extra: set[int] = set()


class Wallet:
    """Addresses of one account, their coins, and transactions spending them.

    Make one with :meth:`from_mnemonic`, :meth:`from_seed` or :meth:`watch_only`. See
    the module docstring for how addresses are watched and coins found.
    """

    __slots__ = ("_account", "_by_payload", "_chains", "_gap_limit", "_network", "_watch_only")

    def __init__(
        self,
        network: Network,
        account_node: ExtendedKey | None,
        *,
        account: int = 0,
        gap_limit: int = DEFAULT_GAP_LIMIT,
        watched: Sequence[bytes] = (),
    ) -> None:
        """Prefer the ``from_*`` and ``watch_only`` constructors."""
        if not isinstance(network, Network):
            raise WalletTypeError("network", "a Network", network)
        if type(gap_limit) is not int:
            raise WalletTypeError("gap_limit", "an int", gap_limit)
        if not 1 <= gap_limit <= _MAX_GAP_LIMIT:
            raise WalletArgumentError("gap_limit", f"must be in 1..{_MAX_GAP_LIMIT}, not {gap_limit}")
        self._network = network
        self._account = account
        self._gap_limit = gap_limit
        self._watch_only = account_node is None
        self._by_payload: dict[bytes, tuple[bool, int]] = {}
        if account_node is None:
            receive = _Chain(None)
            for payload in watched:
                if payload not in self._by_payload:
                    self._by_payload[payload] = (False, len(receive.payloads))
                    receive.payloads[len(receive.payloads)] = payload
            self._chains = (receive, _Chain(None))
        else:
            self._chains = (
                _Chain(account_node.child(HARDENED_OFFSET)),
                _Chain(account_node.child(HARDENED_OFFSET + 1)),
            )

    # -- constructors -----------------------------------------------------------------

    @classmethod
    def from_mnemonic(
        cls,
        words: str,
        passphrase: str = "",
        network: Network = MAINNET,
        *,
        account: int = 0,
        gap_limit: int = DEFAULT_GAP_LIMIT,
    ) -> Wallet:
        """The wallet of a BIP-0039 mnemonic (and optional passphrase) on ``network``.

        The same words always give the same addresses: this is how a wallet is restored.
        Raises :class:`~timecoin_core.wallet.MnemonicError` for an invalid mnemonic.
        """
        return cls.from_seed(mnemonic_to_seed(words, passphrase), network, account=account, gap_limit=gap_limit)

    @classmethod
    def from_seed(
        cls,
        seed: bytes,
        network: Network = MAINNET,
        *,
        account: int = 0,
        gap_limit: int = DEFAULT_GAP_LIMIT,
    ) -> Wallet:
        """The wallet of a 16- to 64-byte seed (a BIP-0039 seed is 64 bytes)."""
        node = derive_path(seed, account_path(account))
        return cls(network, node, account=account, gap_limit=gap_limit)

    @classmethod
    def watch_only(
        cls, addresses: Iterable[Address | PublicKey | str | bytes], network: Network = MAINNET
    ) -> Wallet:
        """A wallet that watches ``addresses`` and holds no key.

        Each item is an :class:`Address`, an address string for ``network``, a
        :class:`PublicKey`, or a 20-byte address payload. Such a wallet reports coins
        and balances and plans unsigned transactions; signing raises
        :class:`WatchOnlyError`. Ed25519 has no public derivation, so it cannot
        derive further addresses: it watches exactly the ones given.
        """
        if not isinstance(network, Network):
            raise WalletTypeError("network", "a Network", network)
        if isinstance(addresses, str | bytes) or not isinstance(addresses, Iterable):
            raise WalletTypeError("addresses", "an iterable of addresses", addresses)
        payloads = [_payload_of(item, network, "addresses") for item in addresses]
        if not payloads:
            raise WalletArgumentError("addresses", "a watch-only wallet needs at least one address")
        return cls(network, None, watched=payloads)

    # -- identity ---------------------------------------------------------------------

    @property
    def network(self) -> Network:
        """The network this wallet's addresses and signatures are for."""
        return self._network

    @property
    def account(self) -> int:
        """The BIP-0044 account number (``account'`` in the derivation path)."""
        return self._account

    @property
    def gap_limit(self) -> int:
        """How many unused addresses are watched past the last used or issued one."""
        return self._gap_limit

    @property
    def is_watch_only(self) -> bool:
        """True when the wallet holds no keys."""
        return self._watch_only

    def __repr__(self) -> str:
        receive, change = self._chains
        kind = "watch-only" if self._watch_only else f"account={self._account}"
        return (
            f"Wallet({self._network.name}, {kind}, receive_used={receive.used}, "
            f"change_used={change.used}, gap_limit={self._gap_limit})"
        )

    # -- addresses --------------------------------------------------------------------

    def address(self, index: int = 0) -> Address:
        """Receiving address ``index`` (path ``m/44'/1440'/account'/0'/index'``).

        The address counts as issued: the wallet watches it from now on (one issued
        inside the watched window widens the window to ``gap_limit`` past it; one
        issued beyond is watched on its own). On a watch-only wallet, the
        ``index``-th address it was given.
        """
        return Address(self._issue(False, index), self._network.address_digit)

    def change_address(self, index: int) -> Address:
        """Change address ``index`` (path ``m/44'/1440'/account'/1'/index'``), issued like :meth:`address`."""
        if self._watch_only:
            raise WatchOnlyError("a watch-only wallet has no change addresses; pass change_to")
        return Address(self._issue(True, index), self._network.address_digit)

    def next_address(self) -> Address:
        """The first receiving address that is neither used nor issued, now issued."""
        receive = self._chains[0]
        if self._watch_only:
            return self.address(min(receive.used, len(receive.payloads) - 1))
        return self.address(max(receive.used, receive.issued))

    @property
    def next_change_index(self) -> int:
        """The change index the next transaction uses by default (neither used nor issued)."""
        change = self._chains[1]
        return max(change.used, change.issued)

    def path(self, address: Address | bytes) -> str | None:
        """The derivation path of a watched or issued address, else None.

        Watch-only wallets know no paths and return None.
        """
        self._extend()
        where = self._by_payload.get(_payload_of(address, self._network))
        if where is None or self._watch_only:
            return None
        return address_path(self._account, where[0], where[1])

    def owns(self, address: Address | bytes) -> bool:
        """True when ``address`` (or a 20-byte payload) is one of the watched addresses."""
        self._extend()
        return _payload_of(address, self._network) in self._by_payload

    def watched_payloads(self) -> tuple[bytes, ...]:
        """The payloads of every watched address: receiving first, then change."""
        return tuple(
            chain.payloads[index] for chain in self._chains for index in self._watched_indices(chain)
        )

    # -- coins ------------------------------------------------------------------------

    def coins(self, utxos: View) -> tuple[Coin, ...]:
        """Every coin of ``utxos`` paying to this wallet, in any live state.

        Walks the watched addresses of each chain in order, reading each with the
        view's ``coins_of`` pagination, and widens the watched window past every
        address found holding a coin (see the module docstring).
        """
        source = _source(utxos)
        # A UtxoSet says in O(1) whether an address holds any coin, so the empty ones
        # (most of the window) cost a lookup instead of a page each. Exact type: a
        # subclass may have changed what coins_of returns.
        count_of = source.count_of if type(source) is UtxoSet else None
        found: list[Coin] = []
        for chain in self._chains:
            payloads = chain.payloads
            horizon = self._horizon(chain)
            index = 0
            while index < horizon:
                payload = payloads.get(index)
                if payload is None:
                    payload = self._derive(chain, index)
                holds = (count_of is None or count_of(payload) > 0) and _read_all(source, payload, found)
                if holds and index >= chain.used:
                    chain.used = index + 1
                    horizon = self._horizon(chain)
                index += 1
            for index in sorted(chain.extra):
                if index >= horizon:
                    _read_all(source, payloads[index], found)
        return tuple(found)

    def balance(self, utxos: View) -> Balance:
        """What the wallet holds in ``utxos``, summed over :meth:`coins`.

        ``confirmed`` and ``finalized`` are spendable (``UNSPENT`` coins created in a
        block, or by a final transaction not yet in one); ``pending`` is claimed by an
        outgoing spend that is not final (``LOCKED``, ``SPENT_PENDING``).
        """
        confirmed = finalized = pending = 0
        for coin in self.coins(utxos):
            if coin.state is CoinState.UNSPENT:
                if coin.height is None:
                    finalized += coin.amount
                else:
                    confirmed += coin.amount
            elif coin.state is CoinState.LOCKED or coin.state is CoinState.SPENT_PENDING:
                pending += coin.amount
        return Balance(confirmed, finalized, pending)

    # -- spending ---------------------------------------------------------------------

    def plan_transaction(
        self,
        to: Address | str,
        amount: int,
        fee_rate: FeeRate | None = None,
        utxos: View | Iterable[Coin] | None = None,
        *,
        subtract_fee_from_amount: bool = False,
        change_index: int | None = None,
        change_to: Address | str | None = None,
        max_inputs: int = MAX_TX_INPUTS,
        seed: int = 0,
        include_unconfirmed: bool = False,
        include_locked: bool = False,
        memo: bytes = b"",
        max_tries: int = DEFAULT_MAX_TRIES,
        max_fee: int | None = None,
    ) -> TransactionPlan:
        """Select coins and build the unsigned transaction paying ``amount`` base units to ``to``.

        The same as :meth:`plan_payments` with the one payment ``(to, amount)``;
        errors name ``to`` and ``amount``.
        """
        network = self._network
        recipient = as_address(to, network, "to")
        check_amount_argument("amount", amount)
        check_not_dust("amount", amount, network)
        return self._plan(
            (Payment(recipient, amount),),
            fee_rate,
            utxos,
            subtract_fee_from_amount=subtract_fee_from_amount,
            change_index=change_index,
            change_to=change_to,
            max_inputs=max_inputs,
            seed=seed,
            include_unconfirmed=include_unconfirmed,
            include_locked=include_locked,
            memo=memo,
            max_tries=max_tries,
            max_fee=max_fee,
        )

    def plan_payments(
        self,
        payments: Iterable[Payment | tuple[Address | str, int]],
        fee_rate: FeeRate | None = None,
        utxos: View | Iterable[Coin] | None = None,
        *,
        subtract_fee_from_amount: bool = False,
        change_index: int | None = None,
        change_to: Address | str | None = None,
        max_inputs: int = MAX_TX_INPUTS,
        seed: int = 0,
        include_unconfirmed: bool = False,
        include_locked: bool = False,
        memo: bytes = b"",
        max_tries: int = DEFAULT_MAX_TRIES,
        max_fee: int | None = None,
    ) -> TransactionPlan:
        """Select coins and build one unsigned transaction paying every one of ``payments``.

        ``payments`` are :class:`~timecoin_core.wallet.Payment` values or
        ``(address, amount)`` pairs: an address (or its string) for this wallet's
        network and an ``int`` amount in base units, at least ``network.dust_limit``.
        Their outputs come in the order given.

        ``utxos`` is a view (a UtxoSet, a ChainState, anything with ``coins_of``) whose
        coins paying to this wallet are the candidates, or an explicit iterable of this
        wallet's coins. ``fee_rate`` (a :class:`~timecoin_core.fees.FeeRate`) defaults
        to, and is never below, the network minimum. With
        ``subtract_fee_from_amount`` the recipients pay the fee: it is split evenly
        among the payments (the first pays any remainder).

        ``max_fee`` guards against paying too much, like Bitcoin Core's ``maxtxfee``:
        a fee above it raises :class:`~timecoin_core.wallet.FeeTooHighError`. None
        (the default) means :func:`default_max_fee` of the payments' total: 0.1 TIME
        or 1% of it, whichever is larger. Pass ``max_fee=MAX_MONEY`` to turn it off.

        Change goes to ``change_to`` if given, else to change address ``change_index``
        (default :attr:`next_change_index`; watch-only wallets use their first
        address), at a position drawn from ``seed`` so that it does not stand out.
        Inputs are in outpoint order. ``max_inputs``, ``seed``, ``max_tries`` and the
        ``include_`` flags are :func:`~timecoin_core.wallet.coin_selection.select_coins`'s.

        Raises :class:`~timecoin_core.wallet.coin_selection.InsufficientFundsError`
        (saying what is available and what is needed), :class:`ForeignCoinError` for
        an explicit coin that is not this wallet's, :class:`~timecoin_core.wallet.DustOutputError`
        for a payment below the dust limit, ``WalletAddressError`` (an ``AddressError``)
        for an address of another network, and :class:`~timecoin_core.wallet.WalletTypeError`
        for an argument of the wrong type; each names the parameter.
        """
        return self._plan(
            as_payments(payments, self._network),
            fee_rate,
            utxos,
            subtract_fee_from_amount=subtract_fee_from_amount,
            change_index=change_index,
            change_to=change_to,
            max_inputs=max_inputs,
            seed=seed,
            include_unconfirmed=include_unconfirmed,
            include_locked=include_locked,
            memo=memo,
            max_tries=max_tries,
            max_fee=max_fee,
        )

    def _plan(
        self,
        payments: tuple[Payment, ...],
        fee_rate: FeeRate | None,
        utxos: View | Iterable[Coin] | None,
        *,
        subtract_fee_from_amount: bool,
        change_index: int | None,
        change_to: Address | str | None,
        max_inputs: int,
        seed: int,
        include_unconfirmed: bool,
        include_locked: bool,
        memo: bytes,
        max_tries: int,
        max_fee: int | None,
    ) -> TransactionPlan:
        network = self._network
        if type(memo) is not bytes:
            raise WalletTypeError("memo", "bytes", memo)
        if len(memo) > MAX_MEMO:
            raise WalletArgumentError("memo", f"must be at most {MAX_MEMO} bytes, not {len(memo)}")
        for name, flag in (
            ("subtract_fee_from_amount", subtract_fee_from_amount),
            ("include_unconfirmed", include_unconfirmed),
            ("include_locked", include_locked),
        ):
            if type(flag) is not bool:
                raise WalletTypeError(name, "a bool", flag)
        if change_index is not None and type(change_index) is not int:
            raise WalletTypeError("change_index", "an int or None", change_index)
        if len(payments) >= MAX_TX_OUTPUTS:
            raise WalletArgumentError("payments", f"at most {MAX_TX_OUTPUTS - 1} payments fit one transaction")
        total = sum(p.amount for p in payments)
        if total > MAX_MONEY:
            raise WalletAmountError("payments", "the payments together exceed MAX_MONEY")
        if max_fee is None:
            maximum = default_max_fee(total)
        else:
            if type(max_fee) is not int:
                raise WalletTypeError("max_fee", "an int (base units) or None", max_fee)
            if not 0 <= max_fee <= MAX_MONEY:
                raise WalletAmountError("max_fee", f"must be in 0..MAX_MONEY, not {max_fee}")
            maximum = max_fee
        candidates = self._candidates(utxos)
        change_payload = None if change_to is None else as_address(change_to, network, "change_to").payload
        selection = select_coins(
            candidates,
            total,
            fee_rate,
            network,
            n_outputs=len(payments),
            memo_size=len(memo),
            subtract_fee=subtract_fee_from_amount,
            include_unconfirmed=include_unconfirmed,
            include_locked=include_locked,
            max_inputs=max_inputs,
            seed=seed,
            max_tries=max_tries,
        )
        if selection.fee > maximum:
            raise FeeTooHighError(selection.fee, maximum)
        if subtract_fee_from_amount:
            # The recipients pay the fee of the transaction's size; an excess too small
            # for change goes to the fee on top, paid by the wallet.
            payments = _subtract_fee(payments, total - selection.amount, network)
        outputs = [TxOut(p.amount, p.address.payload) for p in payments]
        change_position: int | None = None
        if selection.has_change:
            if change_payload is None:
                change_payload = self._change_payload(change_index)
            change_position = random.Random(seed).randrange(len(outputs) + 1)
            outputs.insert(change_position, TxOut(selection.change, change_payload))
        spent = tuple(sorted(selection.coins, key=lambda c: c.outpoint))
        unsigned = Transaction([TxIn(c.outpoint) for c in spent], outputs, memo=memo)
        return TransactionPlan(
            unsigned, spent, selection.amount, selection.fee, change_position, selection, network, payments
        )

    def sign(self, plan: TransactionPlan) -> CreatedTransaction:
        """Sign every input of ``plan`` with this wallet's keys.

        Raises :class:`WatchOnlyError` on a watch-only wallet and
        :class:`ForeignCoinError` for an input this wallet has no key for.
        """
        if not isinstance(plan, TransactionPlan):
            raise WalletTypeError("plan", "a TransactionPlan", plan)
        if self._watch_only:
            raise WatchOnlyError(
                "a watch-only wallet holds no private keys and cannot sign; sign "
                "plan.sighashes() externally and use plan.with_signatures()"
            )
        if plan.network != self._network:
            raise WalletArgumentError(
                "plan", f"the plan is for {plan.network.name}, this wallet for {self._network.name}"
            )
        witnesses = []
        for coin, message in zip(plan.coins, plan.sighashes(), strict=True):
            key = self._key_for(coin)
            witnesses.append((key.public_key.data, key.sign(message)))
        return plan.with_signatures(witnesses)

    def create_transaction(
        self,
        to: Address | str,
        amount: int,
        fee_rate: FeeRate | None = None,
        utxos: View | Iterable[Coin] | None = None,
        *,
        subtract_fee_from_amount: bool = False,
        change_index: int | None = None,
        change_to: Address | str | None = None,
        max_inputs: int = MAX_TX_INPUTS,
        seed: int = 0,
        include_unconfirmed: bool = False,
        include_locked: bool = False,
        memo: bytes = b"",
        max_tries: int = DEFAULT_MAX_TRIES,
        max_fee: int | None = None,
    ) -> CreatedTransaction:
        """Plan (see :meth:`plan_transaction`, same arguments) and sign a payment.

        Raises :class:`WatchOnlyError` on a watch-only wallet before selecting coins;
        use :meth:`plan_transaction` there.
        """
        self._refuse_watch_only()
        plan = self.plan_transaction(
            to,
            amount,
            fee_rate,
            utxos,
            subtract_fee_from_amount=subtract_fee_from_amount,
            change_index=change_index,
            change_to=change_to,
            max_inputs=max_inputs,
            seed=seed,
            include_unconfirmed=include_unconfirmed,
            include_locked=include_locked,
            memo=memo,
            max_tries=max_tries,
            max_fee=max_fee,
        )
        return self.sign(plan)

    def create_payments(
        self,
        payments: Iterable[Payment | tuple[Address | str, int]],
        fee_rate: FeeRate | None = None,
        utxos: View | Iterable[Coin] | None = None,
        *,
        subtract_fee_from_amount: bool = False,
        change_index: int | None = None,
        change_to: Address | str | None = None,
        max_inputs: int = MAX_TX_INPUTS,
        seed: int = 0,
        include_unconfirmed: bool = False,
        include_locked: bool = False,
        memo: bytes = b"",
        max_tries: int = DEFAULT_MAX_TRIES,
        max_fee: int | None = None,
    ) -> CreatedTransaction:
        """Plan (see :meth:`plan_payments`, same arguments) and sign one transaction paying several recipients."""
        self._refuse_watch_only()
        plan = self.plan_payments(
            payments,
            fee_rate,
            utxos,
            subtract_fee_from_amount=subtract_fee_from_amount,
            change_index=change_index,
            change_to=change_to,
            max_inputs=max_inputs,
            seed=seed,
            include_unconfirmed=include_unconfirmed,
            include_locked=include_locked,
            memo=memo,
            max_tries=max_tries,
            max_fee=max_fee,
        )
        return self.sign(plan)

    def sign_psbt(self, psbt: PartiallySignedTransaction) -> PartiallySignedTransaction:
        """A copy of ``psbt`` with every unsigned input this wallet holds the key for signed.

        Inputs of other wallets are left as they are (see
        :meth:`PartiallySignedTransaction.combine`). Raises :class:`WatchOnlyError`
        on a watch-only wallet and ``WalletArgumentError`` for a PST of another network.
        """
        if not isinstance(psbt, PartiallySignedTransaction):
            raise WalletTypeError("psbt", "a PartiallySignedTransaction", psbt)
        self._refuse_watch_only()
        if psbt.network != self._network:
            raise WalletArgumentError("psbt", f"it is for {psbt.network.name}, this wallet for {self._network.name}")
        self._extend()
        return psbt.sign_where(self._key_for_payload)

    # -- messages ---------------------------------------------------------------------

    def sign_message(self, address: Address | str, message: str | bytes) -> str:
        """Sign ``message`` with the key of ``address`` (one of this wallet's); see :func:`~timecoin_core.wallet.sign_message`.

        Raises :class:`WatchOnlyError` on a watch-only wallet and
        ``WalletArgumentError`` for an address this wallet does not watch.
        """
        target = as_address(address, self._network, "address")
        if not isinstance(message, str | bytes):
            raise WalletTypeError("message", "str or bytes", message)
        self._refuse_watch_only()
        self._extend()
        key = self._key_for_payload(target.payload)
        if key is None:
            raise WalletArgumentError("address", f"{target} is not an address of this wallet")
        return sign_message(key, message, self._network)

    # -- history ----------------------------------------------------------------------

    def history(
        self, chain: BlockSource, pool: PoolSource | None = None, *, start_height: int = 0
    ) -> tuple[WalletTransaction, ...]:
        """What each transaction touching this wallet did: received, sent, fee, status and height.

        ``chain`` is a :class:`~timecoin_core.wallet.BlockSource` (a ChainState);
        ``pool`` an optional :class:`~timecoin_core.wallet.PoolSource` (a TxPool) for
        transactions not in a block yet. See
        :func:`~timecoin_core.wallet.wallet_history`. Unlike :meth:`coins`, which sees
        unspent coins only, it first reads every address the chain (and the pool) ever
        paid and widens the gap window past each watched one, so an address whose
        coins were all spent still counts as used.
        """
        paid = paid_payloads(chain, pool, start_height=start_height)
        self._widen(paid.__contains__)
        owned = frozenset(self._by_payload)
        return wallet_history(owned.__contains__, chain, pool, start_height=start_height)

    def _refuse_watch_only(self) -> None:
        if self._watch_only:
            raise WatchOnlyError(
                "a watch-only wallet holds no private keys; plan here (plan_transaction, "
                "plan_payments, to_psbt) and sign elsewhere"
            )

    def _widen(self, used: Callable[[bytes], bool]) -> None:
        """Mark every watched address ``used`` accepts as used, widening the window as :meth:`coins` does."""
        for chain in self._chains:
            horizon = self._horizon(chain)
            index = 0
            while index < horizon:
                payload = self._derive(chain, index)
                if index >= chain.used and used(payload):
                    chain.used = index + 1
                    horizon = self._horizon(chain)
                index += 1
        self._extend()

    def _key_for_payload(self, payload: bytes) -> PrivateKey | None:
        where = self._by_payload.get(payload)
        if where is None:
            return None
        return self._chains[where[0]].keys.get(where[1])

    # -- internals --------------------------------------------------------------------

    def _horizon(self, chain: _Chain) -> int:
        if self._watch_only:
            return len(chain.payloads)
        return max(chain.used, chain.issued) + self._gap_limit

    def _watched_indices(self, chain: _Chain) -> list[int]:
        horizon = self._horizon(chain)
        indices = [*range(horizon), *sorted(i for i in chain.extra if i >= horizon)]
        for index in indices:
            self._derive(chain, index)
        return indices

    def _extend(self) -> None:
        for chain in self._chains:
            self._watched_indices(chain)

    def _derive(self, chain: _Chain, index: int) -> bytes:
        payload = chain.payloads.get(index)
        if payload is not None:
            return payload
        if chain.node is None:
            raise WatchOnlyError(
                f"this watch-only wallet has {len(chain.payloads)} addresses; "
                f"it cannot derive address {index}"
            )
        key = chain.node.child(HARDENED_OFFSET + index).private_key
        payload = key.public_key.payload
        chain.payloads[index] = payload
        chain.keys[index] = key
        self._by_payload[payload] = (chain is self._chains[1], index)
        return payload

    def _issue(self, change: bool, index: int) -> bytes:
        if type(index) is not int or not 0 <= index < HARDENED_OFFSET:
            raise WalletArgumentError("index", f"address index must be an int in 0..2**31-1, not {index!r}")
        chain = self._chains[change]
        payload = self._derive(chain, index)
        if self._watch_only:
            return payload
        if index < self._horizon(chain):
            chain.issued = max(chain.issued, index + 1)
        else:
            chain.extra.add(index)
        return payload

    def _change_payload(self, change_index: int | None) -> bytes:
        if self._watch_only:
            if change_index is not None:
                raise WatchOnlyError("a watch-only wallet has no change addresses; pass change_to")
            return self._chains[0].payloads[0]
        index = self.next_change_index if change_index is None else change_index
        return self._issue(True, index)

    def _candidates(self, utxos: View | Iterable[Coin] | None) -> Sequence[Coin]:
        if utxos is None:
            raise WalletTypeError(
                "utxos", "a UtxoSet, a ChainState (or anything with coins_of), or an iterable of this wallet's coins",
                utxos,
            )
        if isinstance(utxos, CoinSource | _HasUtxos):
            return self.coins(utxos)
        if isinstance(utxos, str | bytes) or not isinstance(utxos, Iterable):
            raise WalletTypeError("utxos", "a view with coins_of or an iterable of Coin values", utxos)
        candidates = list(utxos)
        self._extend()
        for coin in candidates:
            if not isinstance(coin, Coin):
                raise WalletTypeError("utxos", "Coin values", coin)
            if coin.output.payload not in self._by_payload:
                raise ForeignCoinError(coin.outpoint)
        return candidates

    def _key_for(self, coin: Coin) -> PrivateKey:
        where = self._by_payload.get(coin.output.payload)
        if where is None:
            raise ForeignCoinError(coin.outpoint)
        return self._chains[where[0]].keys[where[1]]


def _read_all(source: CoinSource, payload: bytes, found: list[Coin]) -> bool:
    """Append every coin paying to ``payload``, page by page; True if there was one."""
    after: OutPoint | None = None
    start = len(found)
    while True:
        page = source.coins_of(payload, after, _PAGE)
        found.extend(page.coins)
        if page.next_cursor is None:
            return len(found) > start
        after = page.next_cursor


def _source(utxos: View) -> CoinSource:
    if isinstance(utxos, CoinSource):
        return utxos
    if isinstance(utxos, _HasUtxos):
        return utxos.utxos
    raise WalletTypeError("utxos", "a UtxoSet, a ChainState or anything with coins_of", utxos)


def _payload_of(item: Address | PublicKey | str | bytes, network: Network, parameter: str = "address") -> bytes:
    if isinstance(item, Address | str):
        return as_address(item, network, parameter).payload
    if isinstance(item, PublicKey):
        return item.payload
    if isinstance(item, bytes) and len(item) == 20:
        return item
    raise WalletTypeError(parameter, "an Address, an address string, a PublicKey or a 20-byte payload", item)
