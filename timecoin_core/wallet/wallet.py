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

Spending is two steps. :meth:`Wallet.plan_transaction` selects coins
(:func:`~timecoin_core.wallet.coin_selection.select_coins`), adds change to a fresh
change address, and returns a :class:`TransactionPlan`: the unsigned transaction,
whose txid, size and fee are already final because witnesses have a fixed size.
:meth:`Wallet.sign` signs a plan. :meth:`Wallet.create_transaction` does both.

A watch-only wallet (:meth:`Wallet.watch_only`) knows addresses but no keys: it
tracks coins and plans transactions; signing raises :class:`WatchOnlyError`. An
external signer signs each of :meth:`TransactionPlan.sighashes`.

The wallet never prints a secret: ``repr`` and ``str`` show the network, the account
and counts of addresses only.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol, runtime_checkable

from ..errors import AddressError, TimecoinError
from ..fees import FeeRate
from ..keys import Address, PrivateKey, PublicKey
from ..network import MAINNET, Network
from ..transaction import MAX_MEMO, MAX_TX_INPUTS, OutPoint, Transaction, TxIn, TxOut
from ..utxo import Balance, Coin, CoinPage, CoinState, UtxoSet
from .coin_selection import DEFAULT_MAX_TRIES, Selection, select_coins
from .mnemonic import mnemonic_to_seed
from .slip10 import HARDENED_OFFSET, ExtendedKey, account_path, address_path, derive_path

__all__ = [
    "DEFAULT_GAP_LIMIT",
    "CoinSource",
    "CreatedTransaction",
    "ForeignCoinError",
    "TransactionPlan",
    "Wallet",
    "WalletError",
    "WatchOnlyError",
]

DEFAULT_GAP_LIMIT: Final = 20
"""Unused addresses watched past the last used or issued one on each chain (BIP-0044's 20)."""

_MAX_GAP_LIMIT: Final = 10_000
_PAGE: Final = 1_000


class WalletError(TimecoinError, ValueError):
    """A wallet operation that cannot be done as asked."""


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


@dataclass(frozen=True, slots=True)
class TransactionPlan:
    """A transaction ready to sign: inputs chosen, outputs and fee final.

    ``transaction`` has all-zero witnesses; signing fills them in without changing its
    txid or size. ``coins[i]`` is the coin input ``i`` spends. ``amount`` is what the
    recipient receives, ``fee`` what the transaction pays, ``change_output_index`` the
    position of the change output (None without change).
    """

    transaction: Transaction
    coins: tuple[Coin, ...]
    amount: int
    fee: int
    change_output_index: int | None
    selection: Selection
    network: Network

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
        )


@dataclass(frozen=True, slots=True)
class CreatedTransaction:
    """A signed transaction and what it spends.

    ``coins[i]`` is the coin input ``i`` spends; ``amount`` is what the recipient
    receives; ``fee`` what the transaction pays; ``change_output_index`` the position
    of the change output in ``transaction.outputs``, or None when there is none.
    """

    transaction: Transaction
    coins: tuple[Coin, ...]
    amount: int
    fee: int
    change_output_index: int | None

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
            raise TypeError(f"network must be a Network, not {type(network).__name__}")
        if type(gap_limit) is not int or not 1 <= gap_limit <= _MAX_GAP_LIMIT:
            raise WalletError(f"gap_limit must be an int in 1..{_MAX_GAP_LIMIT}, not {gap_limit!r}")
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
        payloads = [_payload_of(item, network) for item in addresses]
        if not payloads:
            raise WalletError("a watch-only wallet needs at least one address")
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
        change_to: Address | None = None,
        max_inputs: int = MAX_TX_INPUTS,
        seed: int = 0,
        include_unconfirmed: bool = False,
        include_locked: bool = False,
        memo: bytes = b"",
        max_tries: int = DEFAULT_MAX_TRIES,
    ) -> TransactionPlan:
        """Select coins and build the unsigned transaction paying ``amount`` to ``to``.

        ``utxos`` is a view (a UtxoSet, a ChainState, anything with ``coins_of``) whose
        coins paying to this wallet are the candidates, or an explicit iterable of this
        wallet's coins. ``fee_rate`` (a :class:`~timecoin_core.fees.FeeRate`) defaults
        to, and is never below, the network minimum. With
        ``subtract_fee_from_amount`` the recipient receives ``amount`` minus the fee.

        Change goes to ``change_to`` if given, else to change address ``change_index``
        (default :attr:`next_change_index`; watch-only wallets use their first
        address), at a position drawn from ``seed`` so that it does not stand out.
        Inputs are in outpoint order. ``max_inputs``, ``seed``, ``max_tries`` and the
        ``include_`` flags are :func:`~timecoin_core.wallet.coin_selection.select_coins`'s.

        Raises :class:`~timecoin_core.wallet.coin_selection.InsufficientFundsError`
        (saying what is available and what is needed), :class:`ForeignCoinError` for
        an explicit coin that is not this wallet's, and ``AddressError`` for an
        address of another network.
        """
        network = self._network
        recipient = _address_for(to, network)
        if type(memo) is not bytes or len(memo) > MAX_MEMO:
            raise WalletError(f"memo must be bytes of at most {MAX_MEMO}")
        candidates = self._candidates(utxos)
        selection = select_coins(
            candidates,
            amount,
            fee_rate,
            network,
            memo_size=len(memo),
            subtract_fee=subtract_fee_from_amount,
            include_unconfirmed=include_unconfirmed,
            include_locked=include_locked,
            max_inputs=max_inputs,
            seed=seed,
            max_tries=max_tries,
        )
        outputs = [TxOut(selection.amount, recipient.payload)]
        change_position: int | None = None
        if selection.has_change:
            change_payload = self._change_payload(change_index, change_to)
            change_position = random.Random(seed).randrange(len(outputs) + 1)
            outputs.insert(change_position, TxOut(selection.change, change_payload))
        spent = tuple(sorted(selection.coins, key=lambda c: c.outpoint))
        unsigned = Transaction([TxIn(c.outpoint) for c in spent], outputs, memo=memo)
        return TransactionPlan(
            unsigned, spent, selection.amount, selection.fee, change_position, selection, network
        )

    def sign(self, plan: TransactionPlan) -> CreatedTransaction:
        """Sign every input of ``plan`` with this wallet's keys.

        Raises :class:`WatchOnlyError` on a watch-only wallet and
        :class:`ForeignCoinError` for an input this wallet has no key for.
        """
        if self._watch_only:
            raise WatchOnlyError(
                "a watch-only wallet holds no private keys and cannot sign; sign "
                "plan.sighashes() externally and use plan.with_signatures()"
            )
        if plan.network != self._network:
            raise WalletError(f"the plan is for {plan.network.name}, this wallet for {self._network.name}")
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
        change_to: Address | None = None,
        max_inputs: int = MAX_TX_INPUTS,
        seed: int = 0,
        include_unconfirmed: bool = False,
        include_locked: bool = False,
        memo: bytes = b"",
        max_tries: int = DEFAULT_MAX_TRIES,
    ) -> CreatedTransaction:
        """Plan (see :meth:`plan_transaction`, same arguments) and sign a payment.

        Raises :class:`WatchOnlyError` on a watch-only wallet before selecting coins;
        use :meth:`plan_transaction` there.
        """
        if self._watch_only:
            raise WatchOnlyError(
                "a watch-only wallet cannot create a signed transaction; use plan_transaction() "
                "and sign its sighashes() elsewhere"
            )
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
        )
        return self.sign(plan)

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
            raise WalletError(f"address index must be an int in 0..2**31-1, not {index!r}")
        chain = self._chains[change]
        payload = self._derive(chain, index)
        if self._watch_only:
            return payload
        if index < self._horizon(chain):
            chain.issued = max(chain.issued, index + 1)
        else:
            chain.extra.add(index)
        return payload

    def _change_payload(self, change_index: int | None, change_to: Address | None) -> bytes:
        if change_to is not None:
            return _address_for(change_to, self._network).payload
        if self._watch_only:
            if change_index is not None:
                raise WatchOnlyError("a watch-only wallet has no change addresses; pass change_to")
            return self._chains[0].payloads[0]
        index = self.next_change_index if change_index is None else change_index
        return self._issue(True, index)

    def _candidates(self, utxos: View | Iterable[Coin] | None) -> Sequence[Coin]:
        if utxos is None:
            raise TypeError(
                "pass utxos: a UtxoSet, a ChainState (or anything with coins_of), "
                "or an iterable of this wallet's coins"
            )
        if isinstance(utxos, CoinSource | _HasUtxos):
            return self.coins(utxos)
        candidates = list(utxos)
        self._extend()
        for coin in candidates:
            if not isinstance(coin, Coin):
                raise TypeError(f"utxos must hold Coin values, not {type(coin).__name__}")
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
    raise TypeError(f"expected a UtxoSet, a ChainState or anything with coins_of, not {type(utxos).__name__}")


def _payload_of(item: Address | PublicKey | str | bytes, network: Network) -> bytes:
    if isinstance(item, Address):
        if item.digit != network.address_digit:
            raise AddressError(f"address {item} is not a {network.name} address")
        return item.payload
    if isinstance(item, PublicKey):
        return item.payload
    if isinstance(item, str):
        return Address.parse(item, network).payload
    if isinstance(item, bytes) and len(item) == 20:
        return item
    raise WalletError(f"expected an Address, an address string, a PublicKey or a 20-byte payload, not {item!r}")


def _address_for(to: Address | str, network: Network) -> Address:
    if isinstance(to, str):
        return Address.parse(to, network)
    if not isinstance(to, Address):
        raise TypeError(f"expected an Address or an address string, not {type(to).__name__}")
    if to.digit != network.address_digit:
        raise AddressError(f"address {to} is not a {network.name} address")
    return to
