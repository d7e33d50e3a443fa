"""LocalChain: an in-memory Timecoin network for unit tests, running the real engines.

Theory of operation
-------------------
A :class:`LocalChain` runs one :class:`~timecoin_core.consensus.node.ConsensusNode`
per masternode in process. Messages are delivered instantly and in order; timers
fire only when the chain's :class:`~timecoin_core.testing.clock.ManualClock` reaches
them. Signatures are verified for real, so a wallet with a broken signer fails here,
not on mainnet.

* **Finality.** With ``auto_finality=True`` (the default) every transaction sent is
  voted on at once and is final when :meth:`LocalWallet.send` returns; the clock moves
  forward by the network's vote batching window (``vote_batch_window``, 0.25 s of virtual time on devnet). With
  ``auto_finality=False`` a sent transaction stays pending at the node that received
  it until :meth:`LocalChain.finalize`.
* **Blocks** happen only when asked: :meth:`LocalChain.produce_block` runs one full
  BFT round (proposal, prevotes, precommits) across the masternodes and returns the
  committed block. The nodes' own block timer is ignored.
* **Time** moves only forward: ``chain.clock.advance(seconds)``; due timers (vote
  rebroadcasts, finality timeouts, pool expiry) fire on the next chain operation, or
  at once with :meth:`LocalChain.advance`.
* **Snapshots**: ``with chain.snapshot(): ...`` restores chain, mempools, votes and
  clock on exit; :meth:`LocalChain.take_snapshot` / :meth:`LocalChain.revert` do the
  same in two steps.

Wallets come from the fixed :data:`TEST_MNEMONIC`: the n-th wallet created (any name)
is account n of that mnemonic, so addresses are the same in every run. Funding comes
from a faucet coin created in the genesis block.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ..amount import COIN, coins
from ..block import Block
from ..builder import TransactionBuilder
from ..consensus.node import (
    BlockCommitted,
    ConsensusNode,
    NodeAction,
    NodeConfig,
    TxDropped,
    TxFinal,
)
from ..consensus.sansio import Broadcast, SetTimer, TimerFired
from ..errors import TimecoinError
from ..fees import FeeRate
from ..hashing import Tag, tagged_hash
from ..keys import Address, PrivateKey
from ..network import DEVNET, GenesisMasternode, GenesisOutput, Network, Tier
from ..transaction import Transaction
from ..utxo import Balance, Coin
from ..verify import Verifier
from ..wallet import Wallet, address_path, derive_key, mnemonic_to_seed
from .clock import ManualClock

__all__ = ["TEST_MNEMONIC", "LocalChain", "LocalChainError", "LocalWallet", "Snapshot", "TxStatus"]

TEST_MNEMONIC = "test test test test test test test test test test test junk"
"""The mnemonic every LocalChain wallet derives from. Never use it for real money."""

FAUCET_AMOUNT = 100_000_000 * COIN
_NEXT_HEIGHT = ("node", "next-height")
_MAX_STEPS = 10_000
_SEED_CACHE: dict[str, bytes] = {}


class LocalChainError(TimecoinError):
    """LocalChain could not do what was asked (for example a block that never committed)."""


class TxStatus(Enum):
    """Where a transaction stands at the chain's first masternode."""

    UNKNOWN = "unknown"
    PENDING = "pending"
    FINAL = "final"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


@dataclass
class _State:
    """Everything a snapshot restores."""

    nodes: list[ConsensusNode]
    clock: ManualClock
    timers: dict[tuple[int, Hashable], tuple[float, int]] = field(default_factory=dict)
    """(node, key) -> (due time, sequence); a later SetTimer with the same key replaces it."""
    queue: deque[tuple[int, Any]] = field(default_factory=deque)
    held: list[tuple[int, NodeAction]] = field(default_factory=list)
    rejected: dict[bytes, str] = field(default_factory=dict)
    accounts: dict[str, int] = field(default_factory=dict)
    sequence: int = 0


@dataclass(frozen=True)
class Snapshot:
    """A saved LocalChain state (see :meth:`LocalChain.take_snapshot`)."""

    _state: _State


class LocalChain:
    """An in-memory network of ``masternodes`` real nodes with a manual clock.

    ``network`` supplies the parameters (default devnet); LocalChain adds its own
    genesis outputs (masternode collateral and the faucet) to it. ``verifier`` checks
    signatures for every node (default: a sync verifier each).
    """

    def __init__(
        self,
        masternodes: int = 1,
        *,
        auto_finality: bool = True,
        network: Network = DEVNET,
        verifier: Verifier | None = None,
    ) -> None:
        if type(masternodes) is not int or masternodes < 1:
            raise LocalChainError("a LocalChain needs at least one masternode")
        self.auto_finality = auto_finality
        self._seed = _SEED_CACHE.get(TEST_MNEMONIC) or _SEED_CACHE.setdefault(
            TEST_MNEMONIC, mnemonic_to_seed(TEST_MNEMONIC)
        )
        self.masternode_keys = [
            PrivateKey.from_seed(tagged_hash(Tag.REGISTRY, b"localchain-masternode" + bytes([i])))
            for i in range(masternodes)
        ]
        self._faucet_key = PrivateKey.from_seed(tagged_hash(Tag.REGISTRY, b"localchain-faucet"))
        outputs = [GenesisOutput(k.public_key.payload, Tier.BRONZE.collateral) for k in self.masternode_keys]
        outputs.append(GenesisOutput(self._faucet_key.public_key.payload, FAUCET_AMOUNT))
        self.network = network.with_genesis(
            tuple(outputs),
            tuple(GenesisMasternode(k.public_key.data, i) for i, k in enumerate(self.masternode_keys)),
        )
        self._verifier = verifier
        clock = ManualClock(float(self.network.genesis_timestamp))
        nodes = [
            ConsensusNode(self.network, key, verifier=verifier, config=NodeConfig())
            for key in self.masternode_keys
        ]
        self._state = _State(nodes, clock)
        for index, node in enumerate(nodes):
            self._apply(index, node.start(clock.now()))

    # -- views ---------------------------------------------------------------------------

    @property
    def clock(self) -> ManualClock:
        """The virtual clock; ``clock.advance(seconds)`` moves it forward."""
        return self._state.clock

    @property
    def nodes(self) -> list[ConsensusNode]:
        """The masternodes' nodes; ``nodes[0]`` answers every query."""
        return self._state.nodes

    @property
    def node(self) -> ConsensusNode:
        """The first masternode's node."""
        return self._state.nodes[0]

    @property
    def height(self) -> int:
        """Height of the last committed block."""
        return self.node.chain.height

    def block(self, height: int) -> Block | None:
        """The committed block at ``height``."""
        return self.node.chain.block_at(height)

    def transaction(self, txid: bytes) -> Transaction | None:
        """A transaction known to the first node (pool or chain)."""
        entry = self.node.pool.get(txid)
        if entry is not None:
            return entry.tx
        found = self.node.chain.transaction(txid)
        return found[0] if found is not None else None

    def tx_status(self, txid: bytes) -> TxStatus:
        """Where ``txid`` stands at the first masternode."""
        self._sync()
        node = self.node
        if node.chain.transaction(txid) is not None:
            return TxStatus.CONFIRMED
        entry = node.pool.get(txid)
        if entry is not None:
            return TxStatus.FINAL if entry.final else TxStatus.PENDING
        if txid in self._state.rejected:
            return TxStatus.REJECTED
        if any(txid == getattr(action, "txid", None) for _, action in self._state.held):
            return TxStatus.PENDING
        return TxStatus.UNKNOWN

    # -- wallets -------------------------------------------------------------------------

    def wallet(self, name: str, balance: int = 0) -> LocalWallet:
        """The test wallet called ``name`` (created on first use), funded with ``balance``.

        Funding is a real transaction from the faucet, finalized at once (in manual
        mode this finalizes every held transaction too).
        """
        accounts = self._state.accounts
        if name not in accounts:
            accounts[name] = len(accounts)
        account = accounts[name]
        wallet = LocalWallet(
            self,
            name,
            Wallet.from_seed(self._seed, self.network, account=account),
            derive_key(self._seed, address_path(account, False, 0)),
        )
        if balance:
            self.fund(wallet.address, balance)
        return wallet

    def fund(self, address: Address, amount: int) -> Transaction:
        """Pay ``amount`` from the faucet to ``address`` and finalize it."""
        created = self._faucet_wallet_payment(address, amount)
        self._submit(created)
        self.finalize()
        return created

    def _faucet_wallet_payment(self, address: Address, amount: int) -> Transaction:
        utxos = self.node.pool.utxos
        payload = self._faucet_key.public_key.payload
        page = utxos.coins_of(payload, limit=10)
        spendable = [c for c in page.coins if utxos.get_output(c.outpoint) is not None]
        if not spendable:
            raise LocalChainError("the faucet has no spendable coin (is a funding still pending?)")
        coin = max(spendable, key=lambda c: c.amount)
        fee = FeeRate(self.network.min_fee_per_kb).fee(250)
        if coin.amount < amount + fee:
            raise LocalChainError(f"the faucet holds {coin.amount} base units, cannot fund {amount}")
        builder = TransactionBuilder(self.network).spend(coin.outpoint, coin.output, self._faucet_key)
        builder.pay(address, amount)
        change = coin.amount - amount - fee
        if change:
            builder.pay(self._faucet_key.address(self.network), change)
        return builder.build()

    # -- transactions --------------------------------------------------------------------

    def submit(self, tx: Transaction) -> Transaction:
        """Submit a signed transaction to the first masternode.

        Raises the node's error (:class:`~timecoin_core.validation.TransactionError`,
        :class:`~timecoin_core.mempool.PoolError`) if it is refused. With auto-finality
        it is final when this returns.
        """
        self._sync()
        self._submit(tx)
        if self.auto_finality:
            self.finalize()
        return tx

    def _submit(self, tx: Transaction) -> None:
        state = self._state
        actions = state.nodes[0].submit(tx, state.clock.now())
        if self.auto_finality:
            self._apply(0, actions)
        else:
            state.held += [(0, a) for a in actions]

    def finalize(self) -> None:
        """Deliver every message and run vote batching until nothing more becomes final."""
        state = self._state
        held, state.held = state.held, []
        for index, action in held:
            self._apply(index, [action])
        self._run(lambda: False, horizon=1.0, only=_is_vote_timer)

    # -- blocks --------------------------------------------------------------------------

    def produce_block(self) -> Block:
        """Commit one block of every final transaction; return it."""
        self._sync()
        state = self._state
        target = self.height + 1
        now = state.clock.now()
        for index, node in enumerate(state.nodes):
            self._apply(index, node.handle(TimerFired(_NEXT_HEIGHT), now))
        self._run(lambda: all(n.chain.height >= target for n in state.nodes), horizon=None)
        if any(n.chain.height < target for n in state.nodes):
            raise LocalChainError(f"block {target} did not commit")
        block = self.node.chain.block_at(target)
        assert block is not None
        return block

    def produce_blocks(self, count: int) -> list[Block]:
        """Commit ``count`` blocks in a row."""
        return [self.produce_block() for _ in range(count)]

    # -- time and snapshots --------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Move the clock forward and fire every timer that became due."""
        self.clock.advance(seconds)
        self._sync()

    def take_snapshot(self) -> Snapshot:
        """Save chain, mempools, votes, clock and wallets' account numbers."""
        return Snapshot(self._copy_state(self._state))

    def revert(self, snapshot: Snapshot) -> None:
        """Return to ``snapshot`` (it stays usable: revert to it again later if you like)."""
        self._state = self._copy_state(snapshot._state)

    @contextmanager
    def snapshot(self) -> Iterator[Snapshot]:
        """``with chain.snapshot():`` everything done inside is undone on exit."""
        saved = self.take_snapshot()
        try:
            yield saved
        finally:
            self.revert(saved)

    def _copy_state(self, state: _State) -> _State:
        memo: dict[int, object] = {}
        if self._verifier is not None:
            memo[id(self._verifier)] = self._verifier
        return copy.deepcopy(state, memo)

    # -- the message loop ----------------------------------------------------------------

    def _apply(self, index: int, actions: list[NodeAction]) -> None:
        state = self._state
        for action in actions:
            if isinstance(action, Broadcast):
                state.queue.append((index, action.message))
            elif isinstance(action, SetTimer):
                if action.key == _NEXT_HEIGHT:
                    continue  # blocks happen when produce_block() is called
                state.sequence += 1
                state.timers[(index, action.key)] = (action.at, state.sequence)
            elif isinstance(action, TxDropped):
                state.rejected[action.txid] = action.reason
            elif isinstance(action, TxFinal | BlockCommitted):
                pass

    def _deliver(self) -> None:
        state = self._state
        now = state.clock.now()
        while state.queue:
            sender, message = state.queue.popleft()
            for index, node in enumerate(state.nodes):
                if index != sender:
                    self._apply(index, node.handle(message, now))

    def _run(
        self,
        done: Callable[[], bool],
        horizon: float | None,
        only: Callable[[Hashable], bool] | None = None,
    ) -> None:
        """Deliver messages and fire timers (moving the clock forward) until ``done``.

        ``horizon`` bounds how far the clock may move (None: no bound); ``only``
        restricts which timers may fire.
        """
        state = self._state
        limit = None if horizon is None else state.clock.now() + horizon
        for _ in range(_MAX_STEPS):
            self._deliver()
            if done():
                return
            timer = self._next_timer(only)
            if timer is None or (limit is not None and timer[0] > limit):
                return
            self._fire(timer)
        raise LocalChainError("the local network did not settle (a consensus loop?)")

    def _next_timer(self, only: Callable[[Hashable], bool] | None) -> tuple[float, int, int, Hashable] | None:
        candidates = [
            (at, sequence, index, key)
            for (index, key), (at, sequence) in self._state.timers.items()
            if only is None or only(key)
        ]
        return min(candidates) if candidates else None

    def _fire(self, timer: tuple[float, int, int, Hashable]) -> None:
        state = self._state
        at, _, index, key = timer
        del state.timers[(index, key)]
        now = state.clock.set(max(at, state.clock.now()))
        self._apply(index, state.nodes[index].handle(TimerFired(key), now))

    def _sync(self) -> None:
        """Fire every timer that is due at the current time."""
        state = self._state
        now = state.clock.now()
        while True:
            self._deliver()
            timer = self._next_timer(None)
            if timer is None or timer[0] > now:
                return
            self._fire(timer)


def _is_vote_timer(key: Hashable) -> bool:
    return isinstance(key, tuple) and key[0] == "finality" and key[1] == ("finality", "batch")


class LocalWallet:
    """A funded test wallet on a :class:`LocalChain` (in the spirit of Bitcoin Core's MiniWallet).

    ``address`` is its first receiving address; ``wallet`` the full
    :class:`~timecoin_core.wallet.Wallet` for anything this class does not cover.
    """

    def __init__(self, chain: LocalChain, name: str, wallet: Wallet, key: PrivateKey) -> None:
        self.chain = chain
        self.name = name
        self.wallet = wallet
        self.key = key
        """The private key of :attr:`address`."""
        self.address = wallet.address(0)

    def __repr__(self) -> str:
        return f"LocalWallet({self.name!r}, {self.address})"

    def balances(self) -> Balance:
        """Confirmed, finalized and pending amounts of this wallet at the first masternode."""
        self.chain._sync()
        return self.wallet.balance(self.chain.node.pool.utxos)

    def balance(self) -> int:
        """What the wallet can spend now: confirmed plus finalized coins."""
        return self.balances().spendable

    def coins(self) -> tuple[Coin, ...]:
        """The wallet's coins at the first masternode."""
        self.chain._sync()
        return self.wallet.coins(self.chain.node.pool.utxos)

    def send(
        self,
        to: Address | LocalWallet,
        amount: int | str,
        *,
        fee_rate: FeeRate | None = None,
        subtract_fee_from_amount: bool = False,
    ) -> Transaction:
        """Pay ``amount`` (base units, or a decimal string like ``"12.5"``) to ``to``.

        Final when it returns with auto-finality. Raises
        :class:`~timecoin_core.wallet.coin_selection.InsufficientFundsError` when the
        wallet cannot pay.
        """
        self.chain._sync()
        destination = to.address if isinstance(to, LocalWallet) else to
        units = coins(amount) if isinstance(amount, str) else amount
        created = self.wallet.create_transaction(
            destination,
            units,
            fee_rate,
            self.chain.node.pool.utxos,
            subtract_fee_from_amount=subtract_fee_from_amount,
            include_unconfirmed=True,
        )
        return self.chain.submit(created.transaction)
