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
  forward by the network's vote batching window (``vote_batch_window``, 0.25 s of
  virtual time on devnet). With ``auto_finality=False`` a sent transaction stays
  pending at the node that received it until :meth:`LocalChain.finalize`.
* **Blocks** happen only when asked: :meth:`LocalChain.produce_block` runs one full
  BFT round (proposal, prevotes, precommits) across the masternodes and returns the
  committed block. The nodes' own block timer is ignored.
* **Time** moves only forward: ``chain.clock.advance(seconds)``; due timers (vote
  rebroadcasts, finality timeouts, pool expiry) fire on the next chain operation, or
  at once with :meth:`LocalChain.advance`. With ``autojump=True`` the clock also jumps
  by itself, like trio's autojump clock: whenever a chain operation finds finality
  work waiting on a timer (a vote batch, a rebroadcast, the timeout of a transaction
  that cannot gather a quorum), the clock moves straight to that timer.
  :meth:`LocalChain.wait_until` jumps from timer to timer until a condition holds.
* **Snapshots**: ``with chain.isolate(): ...`` (or ``chain.snapshot()``) restores
  chain, mempools, votes, faults and clock on exit; :meth:`LocalChain.take_snapshot`
  / :meth:`LocalChain.revert` do the same in two steps. Wallet keys are never
  reverted: a wallet created after a revert never reuses a key handed out before it.
* **Faults**: :meth:`LocalChain.set_fault` makes a masternode :attr:`Fault.SILENT`
  (it sends nothing) or :attr:`Fault.BYZANTINE` (it signs conflicting votes).

Keys come from the fixed :data:`TEST_MNEMONIC`. Accounts ``0..ACCOUNTS-1`` are the
prefunded :attr:`LocalChain.accounts` (genesis outputs of
:data:`ACCOUNT_BALANCE` each); named wallets take the next accounts in the order they
are first asked for, so addresses are the same in every run. Funding a named wallet
is a real transaction from a faucet coin of the genesis block.

Every amount is an ``int`` of base units (1 TIME = ``COIN`` = 10**8); write
``coins("12.5")`` for a decimal amount of TIME.
"""

from __future__ import annotations

import copy
import hashlib
import math
from collections import deque
from collections.abc import Callable, Hashable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ..amount import COIN, check_amount
from ..block import Block
from ..builder import TransactionBuilder
from ..consensus.bft_messages import BlockVote
from ..consensus.driver import Driver
from ..consensus.finality import TxState
from ..consensus.finality_messages import FinalityCertificate, VoteBatch
from ..consensus.node import (
    BlockCommitted,
    ConsensusNode,
    NodeAction,
    NodeConfig,
    TxDropped,
    TxFinal,
)
from ..consensus.sansio import Broadcast, SetTimer, TimerFired
from ..errors import AmountError, InvalidArgumentError, TimecoinError
from ..fees import FeeRate
from ..hashing import Tag, tagged_hash
from ..keys import Address, PrivateKey
from ..mempool import DoubleSpendError, PoolError
from ..network import DEVNET, GenesisMasternode, GenesisOutput, Network, Tier
from ..transaction import OutPoint, Transaction
from ..utxo import Balance, Coin
from ..validation import TransactionError
from ..verify import Verifier
from ..wallet import Wallet, address_path, derive_key, mnemonic_to_seed
from .clock import ClockError, ManualClock

__all__ = [
    "ACCOUNTS",
    "ACCOUNT_BALANCE",
    "TEST_MNEMONIC",
    "AlreadyConfirmedError",
    "Fault",
    "InvalidArgumentError",
    "LocalChain",
    "LocalChainArgumentError",
    "LocalChainError",
    "LocalWallet",
    "NotSettledError",
    "Receipt",
    "Snapshot",
    "TxStatus",
]

TEST_MNEMONIC = "test test test test test test test test test test test junk"
"""The mnemonic every LocalChain key derives from. Never use it for real money."""

ACCOUNTS = 10
"""How many prefunded accounts (:attr:`LocalChain.accounts`) a LocalChain has."""

ACCOUNT_BALANCE = 1_000_000 * COIN
"""What each prefunded account holds at genesis: one million TIME."""

FAUCET_AMOUNT = 100_000_000 * COIN
_NEXT_HEIGHT = ("node", "next-height")
_MAX_STEPS = 10_000
_SEED_CACHE: dict[str, bytes] = {}
_ACCOUNT_KEYS: dict[tuple[bytes, int], PrivateKey] = {}


class LocalChainError(TimecoinError):
    """LocalChain could not do what was asked (for example a block that never committed)."""


class LocalChainArgumentError(LocalChainError, InvalidArgumentError):
    """A LocalChain method got a value of the wrong type or out of range.

    ``parameter`` names the argument. It is the shared
    :class:`~timecoin_core.InvalidArgumentError` and a :class:`LocalChainError`, so
    either handler catches it.
    """


class AlreadyConfirmedError(LocalChainError):
    """A transaction submitted again after a block confirmed it (``txid``, ``height``)."""

    def __init__(self, txid: bytes, height: int) -> None:
        super().__init__(f"transaction {txid.hex()} is already confirmed in block {height}")
        self.txid = txid
        self.height = height


class NotSettledError(LocalChainError):
    """:meth:`LocalChain.wait_until` ran out of virtual time before its condition held."""


class TxStatus(Enum):
    """Where a transaction stands at the chain's first masternode."""

    UNKNOWN = "unknown"
    PENDING = "pending"
    CONFLICTED = "conflicted"
    """Not final, and another transaction spends one of its coins (:attr:`Receipt.conflicts`)."""
    FINAL = "final"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


class Fault(Enum):
    """How a faulty masternode misbehaves (:meth:`LocalChain.set_fault`)."""

    SILENT = "silent"
    """It receives everything and sends nothing: no relays, no votes, no proposals."""
    BYZANTINE = "byzantine"
    """It signs conflicting votes: an accept vote for every transaction it sees, double
    spends included, and with every block vote a second one for another value."""


@dataclass(frozen=True)
class Receipt:
    """What the first masternode knows about a transaction (:meth:`LocalChain.receipt`).

    ``height`` and ``confirmations`` (blocks from its block to the tip, counting its
    own; 0 until confirmed) are set once a block holds it; ``fee`` once the node has
    accepted it; ``certificate`` is its finality certificate when the node saw it
    become final; ``reason`` is why it was rejected (a short code such as
    ``"bad-signature"``, ``"double-spend"`` or ``"timeout"``). For a ``CONFLICTED``
    transaction, ``conflicts`` are the rival txids and ``deadlocked`` says that no side
    can reach a quorum any more unless a masternode equivocates: its coins stay frozen
    (docs/consensus-finality.md, "Conflicts that never reach a quorum").
    """

    txid: bytes
    status: TxStatus
    height: int | None = None
    fee: int | None = None
    confirmations: int = 0
    certificate: FinalityCertificate | None = None
    reason: str | None = None
    conflicts: tuple[bytes, ...] = ()
    deadlocked: bool = False

    def __repr__(self) -> str:
        parts = [f"txid={self.txid.hex()}", f"status={self.status.name}"]
        if self.height is not None:
            parts += [f"height={self.height}", f"confirmations={self.confirmations}"]
        if self.fee is not None:
            parts.append(f"fee={self.fee}")
        if self.certificate is not None:
            parts.append(f"certificate=<{len(self.certificate.entries)} votes>")
        if self.reason is not None:
            parts.append(f"reason={self.reason!r}")
        if self.conflicts:
            parts.append(f"conflicts=[{', '.join(t.hex()[:16] for t in self.conflicts)}]")
            parts.append(f"deadlocked={self.deadlocked}")
        return f"Receipt({', '.join(parts)})"


@dataclass
class _State:
    """Everything a snapshot restores."""

    drivers: list[Driver]
    """One per masternode: the node and its timer table."""
    clock: ManualClock
    queue: deque[tuple[int, Any, tuple[int, ...] | None]] = field(default_factory=deque)
    """(sender, message, recipients or None for every other node)."""
    held: list[tuple[int, NodeAction]] = field(default_factory=list)
    rejected: dict[bytes, str] = field(default_factory=dict)
    certificates: dict[bytes, FinalityCertificate] = field(default_factory=dict)
    faults: dict[int, Fault] = field(default_factory=dict)

    @property
    def nodes(self) -> list[ConsensusNode]:
        return [driver.node for driver in self.drivers]


@dataclass(frozen=True)
class Snapshot:
    """A saved LocalChain state (see :meth:`LocalChain.take_snapshot`)."""

    _state: _State


def _account_key(seed: bytes, account: int) -> PrivateKey:
    key = _ACCOUNT_KEYS.get((seed, account))
    if key is None:
        key = _ACCOUNT_KEYS[(seed, account)] = derive_key(seed, address_path(account, False, 0))
    return key


def _check_int(parameter: str, value: object, low: int, high: int | None = None) -> int:
    if type(value) is not int:
        raise LocalChainArgumentError(parameter, f"expected an int, got {type(value).__name__}")
    if value < low or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"in {low}..{high}"
        raise LocalChainArgumentError(parameter, f"{value} is not {bounds}")
    return value


def _check_amount(parameter: str, value: object) -> int:
    if type(value) is not int:
        hint = f" (coins({value!r}) is that many TIME)" if isinstance(value, str) else ""
        raise LocalChainArgumentError(
            parameter, f"an amount is an int of base units, not {type(value).__name__}{hint}"
        )
    try:
        return check_amount(value)
    except AmountError as exc:
        raise LocalChainArgumentError(parameter, str(exc)) from exc


def _check_txid(value: object) -> bytes:
    if not isinstance(value, bytes | bytearray):
        raise LocalChainArgumentError("txid", f"expected 32 bytes, got {type(value).__name__}")
    if len(value) != 32:
        raise LocalChainArgumentError("txid", f"expected 32 bytes, got {len(value)}")
    return bytes(value)


class LocalChain:
    """An in-memory network of ``masternodes`` real nodes with a manual clock.

    ``network`` supplies the parameters (default devnet); LocalChain adds its own
    genesis outputs (masternode collateral, the prefunded accounts and the faucet) to
    it. ``verifier`` checks signatures for every node (default: a sync verifier each).
    ``autojump`` lets the clock jump to pending finality timers by itself (see the
    module documentation).

    :raises InvalidArgumentError: ``masternodes`` is not an int in 1..255, a flag is not a
        bool, or ``network`` is not a :class:`~timecoin_core.network.Network`.
    """

    def __init__(
        self,
        masternodes: int = 1,
        *,
        auto_finality: bool = True,
        autojump: bool = False,
        network: Network = DEVNET,
        verifier: Verifier | None = None,
    ) -> None:
        # Masternode keys are derived from a one-byte index.
        _check_int("masternodes", masternodes, 1, 255)
        if not isinstance(network, Network):
            raise LocalChainArgumentError("network", f"expected a Network, got {type(network).__name__}")
        for parameter, flag in (("auto_finality", auto_finality), ("autojump", autojump)):
            if not isinstance(flag, bool):
                raise LocalChainArgumentError(parameter, f"expected a bool, got {type(flag).__name__}")
        self.auto_finality = auto_finality
        self.autojump = autojump
        """Whether the clock jumps to pending finality timers by itself."""
        self._seed = _SEED_CACHE.get(TEST_MNEMONIC) or _SEED_CACHE.setdefault(
            TEST_MNEMONIC, mnemonic_to_seed(TEST_MNEMONIC)
        )
        self.masternode_keys = [
            PrivateKey.from_seed(tagged_hash(Tag.REGISTRY, b"localchain-masternode" + bytes([i])))
            for i in range(masternodes)
        ]
        self._faucet_key = PrivateKey.from_seed(tagged_hash(Tag.REGISTRY, b"localchain-faucet"))
        outputs = [GenesisOutput(k.public_key.payload, Tier.BRONZE.collateral) for k in self.masternode_keys]
        outputs += [
            GenesisOutput(_account_key(self._seed, i).public_key.payload, ACCOUNT_BALANCE)
            for i in range(ACCOUNTS)
        ]
        outputs.append(GenesisOutput(self._faucet_key.public_key.payload, FAUCET_AMOUNT))
        self.network = network.with_genesis(
            tuple(outputs),
            tuple(GenesisMasternode(k.public_key.data, i) for i, k in enumerate(self.masternode_keys)),
        )
        self._verifier = verifier
        # Wallet names and the account counter live outside the snapshot state on
        # purpose: a revert must not hand a key that a test already holds to a new name.
        self._names: dict[str, int] = {}
        self._next_account = ACCOUNTS
        self._accounts: tuple[LocalWallet, ...] | None = None
        clock = ManualClock(float(self.network.genesis_timestamp))
        nodes = [
            ConsensusNode(self.network, key, verifier=verifier, config=NodeConfig())
            for key in self.masternode_keys
        ]
        self._state = _State([Driver(node) for node in nodes], clock)
        for index, node in enumerate(nodes):
            self._apply(index, node.start(clock.now()))

    def __repr__(self) -> str:
        state = self._state
        pool = self.node.pool
        final = sum(1 for entry in pool if entry.final)
        faults = {i: f.value for i, f in sorted(state.faults.items())}
        return (
            f"<LocalChain masternodes={len(state.nodes)} height={self.height} "
            f"time={state.clock.now():.2f} pending={len(pool) - final} final={final} "
            f"auto_finality={self.auto_finality} autojump={self.autojump}"
            + (f" faults={faults}" if faults else "")
            + ">"
        )

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
        """The committed block at ``height`` (``None`` above the tip)."""
        _check_int("height", height, 0)
        return self.node.chain.block_at(height)

    def transaction(self, txid: bytes) -> Transaction | None:
        """A transaction known to the first node (pool or chain).

        :raises InvalidArgumentError: ``txid`` is not 32 bytes.
        """
        txid = _check_txid(txid)
        entry = self.node.pool.get(txid)
        if entry is not None:
            return entry.tx
        found = self.node.chain.transaction(txid)
        return found[0] if found is not None else None

    def tx_status(self, txid: bytes) -> TxStatus:
        """Where ``txid`` stands at the first masternode.

        ``REJECTED`` covers a transaction the node refused when it was submitted and
        one it dropped later (a finality timeout); :meth:`receipt` says why.

        :raises InvalidArgumentError: ``txid`` is not 32 bytes.
        """
        return self.receipt(txid).status

    def receipt(self, txid: bytes) -> Receipt:
        """What the first masternode knows about ``txid``: status, block, fee, certificate.

        :raises InvalidArgumentError: ``txid`` is not 32 bytes.
        """
        txid = _check_txid(txid)
        self._sync()
        state = self._state
        node = self.node
        found = node.chain.transaction(txid)
        certificate = state.certificates.get(txid) or node.finality.certificate(txid)
        if found is not None:
            tx, height = found
            return Receipt(
                txid,
                TxStatus.CONFIRMED,
                height=height,
                fee=self._confirmed_fee(tx, height),
                confirmations=self.height - height + 1,
                certificate=certificate,
            )
        entry = node.pool.get(txid)
        contest = node.finality.contest(txid)
        if entry is not None:
            if entry.final:
                return Receipt(txid, TxStatus.FINAL, fee=entry.fee, certificate=certificate)
            if contest is not None:
                return Receipt(
                    txid, TxStatus.CONFLICTED, fee=entry.fee, conflicts=contest.rivals, deadlocked=contest.deadlocked
                )
            return Receipt(txid, TxStatus.PENDING, fee=entry.fee)
        reason = state.rejected.get(txid)
        if reason is not None:
            return Receipt(txid, TxStatus.REJECTED, reason=reason)
        if any(txid == getattr(action, "txid", None) for _, action in state.held):
            return Receipt(txid, TxStatus.PENDING)
        tracked = node.finality.state(txid)
        if tracked is TxState.LOST:
            # A conflicting transaction is final: this one can never be.
            return Receipt(txid, TxStatus.REJECTED, reason="conflict-final")
        if tracked in (TxState.CONFLICTED, TxState.PENDING, TxState.TIMED_OUT) and contest is not None:
            # Outside the pool (the node voted for a rival, or it timed out), yet a
            # quorum may still pick it: conflicted, not rejected.
            return Receipt(txid, TxStatus.CONFLICTED, conflicts=contest.rivals, deadlocked=contest.deadlocked)
        return Receipt(txid, TxStatus.UNKNOWN)

    def _confirmed_fee(self, tx: Transaction, height: int) -> int:
        applied = self.node.chain.applied(height)
        assert applied is not None
        amounts = {coin.outpoint: coin.amount for coin in applied.spent}
        for other in applied.block.transactions:
            for index, output in enumerate(other.outputs):
                amounts[OutPoint(other.txid, index)] = output.amount
        spent = sum(amounts[i.outpoint] for i in tx.inputs)
        return spent - sum(o.amount for o in tx.outputs)

    # -- wallets -------------------------------------------------------------------------

    @property
    def accounts(self) -> tuple[LocalWallet, ...]:
        """The :data:`ACCOUNTS` prefunded wallets: account ``i`` of :data:`TEST_MNEMONIC`.

        Each held :data:`ACCOUNT_BALANCE` in a genesis output, confirmed from the start.
        """
        if self._accounts is None:
            self._accounts = tuple(self._make_wallet(f"account{i}", i) for i in range(ACCOUNTS))
        return self._accounts

    def wallet(self, name: str, balance: int = 0) -> LocalWallet:
        """The test wallet called ``name`` (created on first use), funded with ``balance``.

        ``balance`` is in base units (``coins("5")`` for 5 TIME). Funding is a real
        transaction from the faucet, finalized at once (in manual mode this finalizes
        every held transaction too). The same name gives the same keys for the life
        of the chain, reverts included.

        :raises InvalidArgumentError: ``name`` is not a string or ``balance`` not an
            int amount.
        """
        if not isinstance(name, str):
            raise LocalChainArgumentError("name", f"expected a str, got {type(name).__name__}")
        balance = _check_amount("balance", balance)
        account = self._names.get(name)
        if account is None:
            account = self._names[name] = self._next_account
            self._next_account += 1
        wallet = self._make_wallet(name, account)
        if balance:
            self.fund(wallet.address, balance)
        return wallet

    def _make_wallet(self, name: str, account: int) -> LocalWallet:
        return LocalWallet(
            self,
            name,
            Wallet.from_seed(self._seed, self.network, account=account),
            _account_key(self._seed, account),
        )

    def fund(self, address: Address | str, amount: int) -> Transaction:
        """Pay ``amount`` base units from the faucet to ``address`` and finalize it.

        :raises InvalidArgumentError: ``address`` or ``amount`` has the wrong type.
        """
        destination = self._address("address", address)
        amount = _check_amount("amount", amount)
        created = self._faucet_wallet_payment(destination, amount)
        self._submit(created, 0)
        self.finalize()
        return created

    def _address(self, parameter: str, value: object) -> Address:
        if isinstance(value, LocalWallet):
            return value.address
        if isinstance(value, Address):
            return value
        if isinstance(value, str):
            try:
                return Address.parse(value, self.network)
            except TimecoinError as exc:
                raise LocalChainArgumentError(parameter, str(exc)) from exc
        raise LocalChainArgumentError(
            parameter, f"expected an Address, an address string or a LocalWallet, got {type(value).__name__}"
        )

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

    def submit(self, tx: Transaction, *, masternode: int = 0) -> Transaction:
        """Submit a signed transaction to masternode ``masternode`` (default the first).

        Raises the node's error (:class:`~timecoin_core.validation.TransactionError`,
        :class:`~timecoin_core.mempool.PoolError`) if it is refused; the transaction's
        status is then ``REJECTED`` with the error's code as the reason. Submitting a
        transaction the node already holds is a no-op. With auto-finality it is final
        when this returns (if a quorum of masternodes is willing).

        A :attr:`Fault.BYZANTINE` masternode refuses nothing it can validate: it relays
        a double spend and votes for it.

        :raises InvalidArgumentError: ``tx`` is not a Transaction or ``masternode`` is
            not the index of one.
        :raises AlreadyConfirmedError: a block already holds ``tx``.
        """
        if not isinstance(tx, Transaction):
            raise LocalChainArgumentError("tx", f"expected a Transaction, got {type(tx).__name__}")
        _check_int("masternode", masternode, 0, len(self._state.nodes) - 1)
        self._sync()
        found = self._state.nodes[masternode].chain.transaction(tx.txid)
        if found is not None:
            raise AlreadyConfirmedError(tx.txid, found[1])
        self._submit(tx, masternode)
        if self.auto_finality:
            self.finalize()
        return tx

    def _submit(self, tx: Transaction, index: int) -> None:
        state = self._state
        try:
            actions = state.nodes[index].submit(tx, state.clock.now())
        except DoubleSpendError:
            if state.faults.get(index) is not Fault.BYZANTINE:
                state.rejected[tx.txid] = "double-spend"
                raise
            actions = [Broadcast(tx), self._equivocating_vote(index, tx.txid)]
        except (TransactionError, PoolError) as exc:
            state.rejected[tx.txid] = getattr(exc, "code", None) or type(exc).__name__
            raise
        state.rejected.pop(tx.txid, None)
        if self.auto_finality:
            self._apply(index, actions)
            return
        # Manual mode holds what would spread the transaction or its votes; the node's
        # own finality timeout still runs on the clock, so an unfinalized one expires.
        self._apply(index, [a for a in actions if _is_timeout_timer(a)])
        state.held += [(index, a) for a in actions if not _is_timeout_timer(a)]

    def finalize(self) -> None:
        """Deliver every message and run vote batching until nothing more becomes final."""
        state = self._state
        held, state.held = state.held, []
        for index, action in held:
            self._apply(index, [action])
        horizon = max(1.0, 2 * self.network.vote_batch_window)
        self._run(lambda: False, horizon=horizon, only=_is_vote_timer)

    # -- faults --------------------------------------------------------------------------

    def set_fault(self, masternode: int, fault: Fault | None) -> None:
        """Make masternode ``masternode`` misbehave as ``fault`` from now on (``None``: heal it).

        Faults are part of the state a snapshot restores.

        :raises InvalidArgumentError: no such masternode, or ``fault`` is not a
            :class:`Fault` or ``None``.
        """
        _check_int("masternode", masternode, 0, len(self._state.nodes) - 1)
        if fault is None:
            self._state.faults.pop(masternode, None)
            return
        if not isinstance(fault, Fault):
            raise LocalChainArgumentError("fault", f"expected a Fault or None, got {type(fault).__name__}")
        self._state.faults[masternode] = fault

    @property
    def faults(self) -> dict[int, Fault]:
        """The faulty masternodes and their faults (a copy)."""
        return dict(self._state.faults)

    def _equivocating_vote(self, index: int, txid: bytes) -> Broadcast:
        node = self._state.nodes[index]
        key = self.masternode_keys[index]
        return Broadcast(VoteBatch.create(key, self.network.chain_id, node.finality.epoch, [txid]))

    def _twin(self, index: int, vote: BlockVote) -> BlockVote:
        other = hashlib.sha256(b"localchain-equivocation" + (vote.value_id or b"")).digest()
        key = self.masternode_keys[index]
        return BlockVote.create(key, self.network.chain_id, vote.kind, vote.height, vote.round, other)

    # -- blocks --------------------------------------------------------------------------

    def produce_block(self, timestamp: int | None = None) -> Block:
        """Commit one block of every final transaction; return it.

        ``timestamp`` (Unix seconds) moves the clock there first and becomes the
        block's timestamp; it must be later than the tip's and not before the clock.

        :raises ClockError: ``timestamp`` would move time backwards.
        :raises InvalidArgumentError: ``timestamp`` is not an int.
        :raises LocalChainError: the block did not commit (too many faulty masternodes).
        """
        if timestamp is not None:
            _check_int("timestamp", timestamp, 0)
            tip = self.node.chain.tip.header.timestamp
            if timestamp <= tip:
                raise ClockError(f"block timestamp {timestamp} is not after the tip's ({tip})")
            if timestamp < math.floor(self.clock.now()):
                raise ClockError(f"cannot set the clock back from {self.clock.now()} to {timestamp}")
            self.clock.set(max(float(timestamp), self.clock.now()))
        self._sync()
        state = self._state
        target = self.height + 1
        now = state.clock.now()
        for index, node in enumerate(state.nodes):
            self._apply(index, node.handle(TimerFired(_NEXT_HEIGHT), now))
        # Without a quorum the rounds go on for ever; the step limit ends them.
        with suppress(LocalChainError):
            self._run(lambda: all(n.chain.height >= target for n in state.nodes), horizon=None)
        if any(n.chain.height < target for n in state.nodes):
            raise LocalChainError(f"block {target} did not commit (fewer than 2/3 of the voting weight took part)")
        block = self.node.chain.block_at(target)
        assert block is not None
        return block

    def produce_blocks(self, count: int) -> list[Block]:
        """Commit ``count`` blocks in a row.

        :raises InvalidArgumentError: ``count`` is not an int >= 0.
        """
        _check_int("count", count, 0)
        return [self.produce_block() for _ in range(count)]

    # -- time and snapshots --------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Move the clock forward and fire every timer that became due.

        :raises ClockError: ``seconds`` is negative or not a finite number.
        """
        self.clock.advance(seconds)
        self._sync()

    def wait_until(self, condition: Callable[[], bool], *, timeout: float = 3600.0) -> float:
        """Run the network, jumping the clock from timer to timer, until ``condition()``.

        Returns the virtual seconds that passed. Nothing needs to know the network's
        vote window or finality timeout: the clock goes exactly as far as needed.

        :raises NotSettledError: ``condition()`` is still false after ``timeout``
            virtual seconds.
        :raises InvalidArgumentError: ``condition`` is not callable or ``timeout`` not
            a non-negative number.
        """
        if not callable(condition):
            raise LocalChainArgumentError("condition", f"expected a callable, got {type(condition).__name__}")
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout >= 0:
            raise LocalChainArgumentError("timeout", f"expected a non-negative number, got {timeout!r}")
        start = self.clock.now()
        self._sync()
        # A network that never settles is just a condition that never holds here.
        with suppress(LocalChainError):
            self._run(condition, horizon=float(timeout))
        if not condition():
            raise NotSettledError(f"condition still false after {self.clock.now() - start:g} virtual seconds")
        return self.clock.now() - start

    def take_snapshot(self) -> Snapshot:
        """Save chain, mempools, votes, faults and clock (not wallet keys: never reused)."""
        return Snapshot(self._copy_state(self._state))

    def revert(self, snapshot: Snapshot) -> None:
        """Return to ``snapshot`` (it stays usable: revert to it again later if you like).

        :raises InvalidArgumentError: ``snapshot`` is not a :class:`Snapshot`.
        """
        if not isinstance(snapshot, Snapshot):
            raise LocalChainArgumentError("snapshot", f"expected a Snapshot, got {type(snapshot).__name__}")
        self._state = self._copy_state(snapshot._state)

    @contextmanager
    def snapshot(self) -> Iterator[Snapshot]:
        """``with chain.snapshot():`` everything done inside is undone on exit."""
        saved = self.take_snapshot()
        try:
            yield saved
        finally:
            self.revert(saved)

    def isolate(self) -> AbstractContextManager[Snapshot]:
        """``with chain.isolate():`` the same as :meth:`snapshot` (ape's name for it)."""
        return self.snapshot()

    def _copy_state(self, state: _State) -> _State:
        memo: dict[int, object] = {}
        if self._verifier is not None:
            memo[id(self._verifier)] = self._verifier
        return copy.deepcopy(state, memo)

    # -- the message loop ----------------------------------------------------------------

    def _apply(self, index: int, actions: list[NodeAction]) -> None:
        state = self._state
        fault = state.faults.get(index) if state.faults else None
        for action in actions:
            if isinstance(action, Broadcast):
                if fault is Fault.SILENT:
                    continue
                state.queue.append((index, action.message, None))
                if fault is Fault.BYZANTINE and isinstance(action.message, BlockVote):
                    state.queue.append((index, self._twin(index, action.message), None))
            elif isinstance(action, SetTimer):
                if action.key == _NEXT_HEIGHT:
                    continue  # blocks happen when produce_block() is called
                state.drivers[index].schedule(action)
            elif isinstance(action, TxDropped):
                if index == 0:
                    state.rejected[action.txid] = action.reason
            elif isinstance(action, TxFinal):
                if index == 0:
                    state.certificates[action.txid] = action.certificate
            elif isinstance(action, BlockCommitted):
                pass

    def _deliver(self) -> None:
        state = self._state
        now = state.clock.now()
        while state.queue:
            sender, message, recipients = state.queue.popleft()
            for index, node in enumerate(state.nodes):
                if index == sender or (recipients is not None and index not in recipients):
                    continue
                actions = node.handle(message, now)
                if (
                    state.faults.get(index) is Fault.BYZANTINE
                    and isinstance(message, Transaction)
                    and message.txid not in node.pool
                ):
                    actions.append(self._equivocating_vote(index, message.txid))
                self._apply(index, actions)

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
            for index, driver in enumerate(self._state.drivers)
            for at, sequence, key in driver.pending()
            if only is None or only(key)
        ]
        return min(candidates) if candidates else None

    def _fire(self, timer: tuple[float, int, int, Hashable]) -> None:
        state = self._state
        at, _, index, key = timer
        now = state.clock.set(max(at, state.clock.now()))
        # Through the raw node, not Driver.fire: this shell's _apply decides which of
        # the new timers to keep (block timers wait for produce_block).
        driver = state.drivers[index]
        driver.cancel(key)
        self._apply(index, driver.node.handle(TimerFired(key), now))

    def _sync(self) -> None:
        """Fire every timer that is due at the current time (and, with autojump, finality's)."""
        state = self._state
        now = state.clock.now()
        while True:
            self._deliver()
            timer = self._next_timer(None)
            if timer is None or timer[0] > now:
                break
            self._fire(timer)
        if self.autojump:
            self._run(lambda: False, horizon=None, only=_is_finality_timer)


def _is_vote_timer(key: Hashable) -> bool:
    return isinstance(key, tuple) and key[0] == "finality" and key[1] == ("finality", "batch")


def _is_timeout_timer(action: NodeAction) -> bool:
    return isinstance(action, SetTimer) and action.key == ("finality", ("finality", "timeout"))


def _is_finality_timer(key: Hashable) -> bool:
    return isinstance(key, tuple) and key[0] == "finality"


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
        """What the wallet can spend now, in base units: confirmed plus finalized coins."""
        return self.balances().spendable

    def coins(self) -> tuple[Coin, ...]:
        """The wallet's coins at the first masternode."""
        self.chain._sync()
        return self.wallet.coins(self.chain.node.pool.utxos)

    def send(
        self,
        to: Address | str | LocalWallet,
        amount: int,
        *,
        fee_rate: FeeRate | None = None,
        subtract_fee_from_amount: bool = False,
        masternode: int = 0,
    ) -> Transaction:
        """Pay ``amount`` base units to ``to`` (``coins("12.5")`` for 12.5 TIME).

        ``to`` is an :class:`~timecoin_core.keys.Address`, an address string of the
        chain's network or another :class:`LocalWallet`. The transaction goes to
        masternode ``masternode``; it is final when this returns with auto-finality.

        :raises InvalidArgumentError: ``to``, ``amount`` or ``masternode`` has the
            wrong type or value.
        :raises ~timecoin_core.wallet.coin_selection.InsufficientFundsError: the
            wallet cannot pay.
        """
        destination = self.chain._address("to", to)
        units = _check_amount("amount", amount)
        _check_int("masternode", masternode, 0, len(self.chain.nodes) - 1)
        if not isinstance(subtract_fee_from_amount, bool):
            raise LocalChainArgumentError(
                "subtract_fee_from_amount", f"expected a bool, got {type(subtract_fee_from_amount).__name__}"
            )
        if fee_rate is not None and not isinstance(fee_rate, FeeRate):
            raise LocalChainArgumentError("fee_rate", f"expected a FeeRate, got {type(fee_rate).__name__}")
        self.chain._sync()
        created = self.wallet.create_transaction(
            destination,
            units,
            fee_rate,
            self.chain.nodes[masternode].pool.utxos,
            subtract_fee_from_amount=subtract_fee_from_amount,
            include_unconfirmed=True,
        )
        return self.chain.submit(created.transaction, masternode=masternode)
