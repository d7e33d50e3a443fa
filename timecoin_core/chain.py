"""ChainState: the chain of checkpoint blocks and the confirmed UTXO set they produce.

Theory of operation
-------------------
A :class:`ChainState` starts at its network's deterministic :func:`genesis_block`
and grows one block at a time through :meth:`ChainState.apply_block`. Blocks are
final when committed (BFT), so the chain is linear: there are no forks to choose
between, only the next block to check.

``apply_block`` is all or nothing. It first decides the block completely, without
touching any state, in order of cost so junk is rejected cheaply:

1. header against the tip: version, height, parent, timestamp;
2. size against ``network.max_block_size``; the four roots against the body;
   no zero-amount reward;
3. the ``block_validator`` hook (default: the proposer's signature), which also
   judges the ``proof`` passed to ``apply_block`` (a consensus chain requires the
   finality certificates of the block's transactions, or a commit certificate);
4. every transaction, in order, against the confirmed UTXO set plus the outputs of
   earlier transactions of the block, all signatures in one ``verify_many`` call;
5. money: the reward outputs add up to exactly the subsidy plus the fees, then the
   ``reward_rule`` hook checks how they are split.

Only then does it apply the block. Applying cannot fail on a block that passed (every
spent coin exists, every created outpoint is new), and if it ever did, the partial
changes are undone before the error propagates.

Money supply is deterministic: genesis creates ``sum(network.genesis_outputs)`` and
every later block mints exactly its *subsidy*, ``min(network.block_reward,
MAX_MONEY - supply)``, so the supply never exceeds ``MAX_MONEY`` and issuance simply
stops there. Fees move existing money from spenders to the block's reward outputs.

What a block may contain beyond that (who may propose at a height, whether each
transaction is covered by a finality certificate, how rewards are split among
masternodes) is the consensus layer's business; it plugs in through the two hooks.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from .amount import MAX_MONEY
from .block import (
    BLOCK_VERSION,
    Block,
    certificates_root,
    evidence_root,
    genesis_block,
    reward_txid,
    rewards_root,
    transactions_root,
)
from .errors import TimecoinError
from .network import Network
from .transaction import OutPoint, Transaction, TxOut
from .utxo import LIVE_STATES, Balance, Coin, CoinPage, CoinState, UtxoSet
from .validation import (
    InputsBelowOutputsError,
    MissingInputError,
    TransactionError,
    _validate_in_order,
)
from .verify import SignatureCheck, SyncVerifier, Verifier

if TYPE_CHECKING:
    from .keys import PrivateKey

__all__ = [
    "AppliedBlock",
    "BadBlockSignatureError",
    "BlockError",
    "BlockHeightError",
    "BlockSizeError",
    "BlockTransactionError",
    "BlockValidator",
    "BlockVersionError",
    "CertificatesRootError",
    "ChainSnapshot",
    "ChainState",
    "EvidenceRootError",
    "MerkleRootError",
    "PrevHashError",
    "ProposerError",
    "RewardDistributionError",
    "RewardRule",
    "RewardTotalError",
    "RewardsRootError",
    "SnapshotError",
    "TimestampError",
    "UtxoReader",
    "ZeroRewardError",
    "accept_any_split",
    "check_proposer_signature",
]


# -- errors ---------------------------------------------------------------------------


class BlockError(TimecoinError, ValueError):
    """A block that cannot be applied to the chain. Nothing changed.

    ``code`` is a short stable string (the reject reason on the wire); ``block_hash``
    names the block.
    """

    code = "invalid-block"

    def __init__(self, message: str, block_hash: bytes | None = None) -> None:
        prefix = f"block {block_hash.hex()}: " if block_hash is not None else ""
        super().__init__(f"{prefix}{message}")
        self.block_hash = block_hash


class BlockVersionError(BlockError):
    """A header version this implementation does not know."""

    code = "bad-version"


class BlockHeightError(BlockError):
    """A height other than the tip's plus one."""

    code = "bad-height"


class PrevHashError(BlockError):
    """A parent hash other than the tip's."""

    code = "bad-prev-hash"


class TimestampError(BlockError):
    """A timestamp not strictly after the parent's."""

    code = "bad-timestamp"


class BlockSizeError(BlockError):
    """An encoding larger than the network's ``max_block_size``."""

    code = "too-large"


class MerkleRootError(BlockError):
    """The header's ``merkle_root`` is not the root of the block's txids."""

    code = "bad-merkle-root"


class RewardsRootError(BlockError):
    """The header's ``rewards_root`` is not the digest of the block's reward outputs."""

    code = "bad-rewards-root"


class CertificatesRootError(BlockError):
    """The header's ``certificates_root`` is not the root of the certificate digests."""

    code = "bad-certificates-root"


class EvidenceRootError(BlockError):
    """The header's ``evidence_root`` is not the root of the block's evidence."""

    code = "bad-evidence-root"


class BadBlockSignatureError(BlockError):
    """The proposer's signature does not verify."""

    code = "bad-block-signature"


class ProposerError(BlockError):
    """The proposer may not propose this block (raised by a consensus ``block_validator``)."""

    code = "bad-proposer"


class BlockTransactionError(BlockError):
    """A transaction of the block is invalid; ``error`` says why, ``position`` which one."""

    code = "bad-transaction"

    def __init__(self, error: TransactionError, position: int, block_hash: bytes | None = None) -> None:
        super().__init__(f"transaction {position} is invalid [{error.code}]: {error}", block_hash)
        self.error = error
        self.position = position


class ZeroRewardError(BlockError):
    """A reward output of amount zero."""

    code = "zero-reward"


class RewardTotalError(BlockError):
    """The reward outputs do not add up to exactly the subsidy plus the fees."""

    code = "bad-reward-total"

    def __init__(self, message: str, block_hash: bytes | None = None, *, expected: int, actual: int) -> None:
        super().__init__(message, block_hash)
        self.expected = expected
        self.actual = actual


class RewardDistributionError(BlockError):
    """The rewards are split wrongly among masternodes (raised by a ``reward_rule``)."""

    code = "bad-reward-split"


class SnapshotError(TimecoinError, ValueError):
    """A snapshot that does not belong to this chain's history."""


# -- hooks ----------------------------------------------------------------------------

RewardRule = Callable[[Block, int], None]
"""Checks how a block's rewards are split, given the block and its total fees.

Called only for blocks whose reward total is already exact. Raises a
:class:`BlockError` (usually :class:`RewardDistributionError`) to reject the block.
"""

BlockValidator = Callable[[Block, "ChainState", Verifier, object], None]
"""Checks who made a block, what consensus data it carries and the proof that it may be applied.

Called with the block, the chain it extends (still at the parent), the verifier to
batch signature checks on, and the ``proof`` given to :meth:`ChainState.apply_block`
(opaque to the chain: the consensus layer decides what proves a block, for example
the finality certificates of its transactions, or a commit certificate). Raises a
:class:`BlockError` to reject the block.
"""


def accept_any_split(block: Block, fees: int) -> None:
    """The default :data:`RewardRule`: any split of the exact total is acceptable."""


def check_proposer_signature(block: Block, chain: ChainState, verifier: Verifier, proof: object = None) -> None:
    """The default :data:`BlockValidator`: the block is signed by ``header.proposer``.

    ``proof`` is not needed and ignored. Raises :class:`BadBlockSignatureError` otherwise.
    """
    check = SignatureCheck(block.header.proposer, block.signing_message(chain.network), block.signature)
    if not verifier.verify_many([check])[0]:
        raise BadBlockSignatureError("the proposer's signature does not verify", block.hash)


# -- values ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AppliedBlock:
    """What :meth:`ChainState.apply_block` did: the block, its fees, what it minted, what it spent.

    ``fees`` is the sum of its transactions' fees; ``subsidy`` the new money it
    created (for genesis: the genesis outputs). ``spent`` holds the ``CONFIRMED``
    coins the block's inputs consumed, in input order, so a wallet can see which of
    its coins left; it is also what :meth:`ChainState.revert` restores.
    """

    block: Block
    fees: int
    subsidy: int
    spent: tuple[Coin, ...]


@dataclass(frozen=True, slots=True)
class ChainSnapshot:
    """A point in a chain's history to :meth:`ChainState.revert` to."""

    height: int
    block_hash: bytes


class UtxoReader(Protocol):
    """Read access to the chain's confirmed coins (the read half of :class:`UtxoSet`)."""

    def get_output(self, outpoint: OutPoint, /) -> TxOut | None:
        """The unspent output at ``outpoint``, or ``None``."""
        ...

    def coin(self, outpoint: OutPoint) -> Coin | None:
        """The coin at ``outpoint``, or ``None``."""
        ...

    def coins_of(
        self,
        payload: bytes,
        after: OutPoint | None = None,
        limit: int = 100,
        states: Collection[CoinState] = LIVE_STATES,
    ) -> CoinPage:
        """One page of the coins paying to ``payload``."""
        ...

    def balance(self, payload: bytes) -> Balance:
        """What the address with ``payload`` holds."""
        ...

    def commitment(self) -> bytes:
        """The 32-byte commitment to the set."""
        ...

    def copy(self) -> UtxoSet:
        """An independent, mutable copy."""
        ...

    def __len__(self) -> int: ...

    def __contains__(self, item: object) -> bool: ...

    def __iter__(self) -> Iterator[Coin]: ...


# -- the chain ------------------------------------------------------------------------

class ChainState:
    """The committed chain of one network: its blocks, confirmed coins and indexes.

    Pure and synchronous; time is whatever the blocks say. Implements
    :class:`~timecoin_core.validation.OutputView` through :meth:`get_output`, so a
    transaction can be validated against the chain directly.

    ``reward_rule`` and ``block_validator`` are the consensus layer's hooks (see
    :data:`RewardRule`, :data:`BlockValidator`); the defaults accept any split of the
    exact reward total and require the proposer's signature.
    """

    __slots__ = (
        "_applied",
        "_by_hash",
        "_supply",
        "_tx_index",
        "_utxos",
        "block_validator",
        "network",
        "reward_rule",
    )

    def __init__(
        self,
        network: Network,
        *,
        reward_rule: RewardRule = accept_any_split,
        block_validator: BlockValidator = check_proposer_signature,
    ) -> None:
        self.network = network
        self.reward_rule = reward_rule
        self.block_validator = block_validator
        genesis = genesis_block(network)
        minted = sum(out.amount for out in genesis.rewards)
        # One record per height; the coins each block spent double as its undo data.
        self._applied: list[AppliedBlock] = [AppliedBlock(genesis, 0, minted, ())]
        self._by_hash: dict[bytes, int] = {genesis.hash: 0}
        self._tx_index: dict[bytes, tuple[int, int]] = {}
        self._utxos = UtxoSet()
        txid = genesis.reward_txid
        for index, out in enumerate(genesis.rewards):
            self._utxos.add(OutPoint(txid, index), out, 0)
        self._supply = minted

    @classmethod
    def from_parts(
        cls,
        network: Network,
        applied: Sequence[AppliedBlock],
        utxos: UtxoSet,
        *,
        reward_rule: RewardRule = accept_any_split,
        block_validator: BlockValidator = check_proposer_signature,
    ) -> ChainState:
        """A chain resumed from what was applied before (a store's blocks) and its coins.

        ``applied`` holds one record per height from genesis to the tip; ``utxos`` is
        the confirmed set at the tip (it becomes the chain's own). Checks that the
        records start at the network's genesis and link up by height and parent hash,
        and rebuilds the indexes; the coins themselves are trusted (a store checks them
        against its commitment). Raises :class:`SnapshotError` for parts that do not
        form one chain.
        """
        chain = cls(network, reward_rule=reward_rule, block_validator=block_validator)
        if not applied or applied[0].block != chain.genesis:
            raise SnapshotError("the applied blocks do not start at this network's genesis")
        by_hash: dict[bytes, int] = {}
        tx_index: dict[bytes, tuple[int, int]] = {}
        supply = 0
        previous = b""
        for height, record in enumerate(applied):
            block = record.block
            if block.height != height or (height and block.header.prev_hash != previous):
                raise SnapshotError(f"block at position {height} does not extend the one before it")
            by_hash[block.hash] = height
            for position, tx in enumerate(block.transactions):
                tx_index[tx.txid] = (height, position)
            supply += record.subsidy
            previous = block.hash
        chain._applied = list(applied)
        chain._by_hash = by_hash
        chain._tx_index = tx_index
        chain._utxos = utxos
        chain._supply = supply
        return chain

    # -- reading ----------------------------------------------------------------------

    @property
    def genesis(self) -> Block:
        """The genesis block."""
        return self._applied[0].block

    @property
    def tip(self) -> Block:
        """The last applied block."""
        return self._applied[-1].block

    @property
    def height(self) -> int:
        """The tip's height (0 for a chain holding only genesis)."""
        return len(self._applied) - 1

    @property
    def utxos(self) -> UtxoReader:
        """The confirmed coins, read-only (use ``utxos.copy()`` for a set to change)."""
        return self._utxos

    def block(self, block_hash: bytes) -> Block | None:
        """The block with ``block_hash``, or ``None``."""
        height = self._by_hash.get(block_hash)
        return None if height is None else self._applied[height].block

    def block_at(self, height: int) -> Block | None:
        """The block at ``height``, or ``None`` above the tip (or below zero)."""
        if 0 <= height < len(self._applied):
            return self._applied[height].block
        return None

    def applied(self, height: int) -> AppliedBlock | None:
        """What applying the block at ``height`` did (fees, subsidy, spent coins), or ``None``."""
        if 0 <= height < len(self._applied):
            return self._applied[height]
        return None

    def transaction(self, txid: bytes) -> tuple[Transaction, int] | None:
        """The confirmed transaction ``txid`` and the height of its block, or ``None``."""
        where = self._tx_index.get(txid)
        if where is None:
            return None
        height, position = where
        return self._applied[height].block.transactions[position], height

    def transaction_position(self, txid: bytes) -> tuple[int, int] | None:
        """``(height, position in block)`` of the confirmed transaction ``txid``, or ``None``."""
        return self._tx_index.get(txid)

    def get_output(self, outpoint: OutPoint, /) -> TxOut | None:
        """The confirmed unspent output at ``outpoint``, or ``None``."""
        return self._utxos.get_output(outpoint)

    def supply(self) -> int:
        """All money created so far: genesis outputs plus every block's subsidy."""
        return self._supply

    def subsidy(self) -> int:
        """The new money the next block must mint: ``min(block_reward, MAX_MONEY - supply)``."""
        return min(self.network.block_reward, MAX_MONEY - self._supply)

    def __repr__(self) -> str:
        return f"ChainState(network={self.network.name}, height={self.height}, tip={self.tip.hash.hex()})"

    # -- building ---------------------------------------------------------------------

    def fees(self, transactions: Sequence[Transaction]) -> int:
        """Total fees of ``transactions`` spent in order from the chain's coins.

        Only sums amounts (no signature or fee-rate checks): use it to size rewards
        for transactions that were validated already. Raises
        :class:`BlockTransactionError` for an input that does not exist or a
        transaction whose outputs exceed its inputs.
        """
        created: dict[OutPoint, TxOut] = {}
        spent: set[OutPoint] = set()
        total = 0
        for position, tx in enumerate(transactions):
            txid = tx.txid
            fee = 0
            for index, txin in enumerate(tx.inputs):
                outpoint = txin.outpoint
                out = None if outpoint in spent else created.get(outpoint) or self._utxos.get_output(outpoint)
                if out is None:
                    error: TransactionError = MissingInputError(
                        f"outpoint {outpoint} is not unspent", txid, input_index=index
                    )
                    raise BlockTransactionError(error, position)
                spent.add(outpoint)
                fee += out.amount
            for index, out in enumerate(tx.outputs):
                created[OutPoint(txid, index)] = out
                fee -= out.amount
            if fee < 0:
                error = InputsBelowOutputsError("outputs exceed inputs", txid)
                raise BlockTransactionError(error, position)
            total += fee
        return total

    def build_block(
        self,
        proposer: PrivateKey,
        transactions: Sequence[Transaction] = (),
        *,
        timestamp: int,
        rewards: Sequence[TxOut] | None = None,
        certificate_digests: Sequence[bytes] = (),
        evidence: Sequence[bytes] = (),
    ) -> Block:
        """A signed block extending the tip with ``transactions``.

        ``rewards`` defaults to one output paying the whole subsidy plus fees to the
        proposer's address (none if that is zero). The block is not applied and not
        validated: :meth:`apply_block` decides.
        """
        if rewards is None:
            total = self.subsidy() + self.fees(transactions)
            rewards = [TxOut(total, proposer.public_key.payload)] if total else []
        return Block.create(
            self.network,
            proposer,
            height=self.height + 1,
            prev_hash=self.tip.hash,
            timestamp=timestamp,
            transactions=transactions,
            certificate_digests=certificate_digests,
            rewards=rewards,
            evidence=evidence,
        )

    # -- applying ---------------------------------------------------------------------

    def check_block(self, block: Block, verifier: Verifier | None = None, *, proof: object = None) -> int:
        """Decide whether ``block`` extends the tip validly; return its total fees.

        Changes nothing. ``proof`` is handed to the ``block_validator`` hook (see
        :data:`BlockValidator`). Raises a :class:`BlockError` subclass naming the first
        problem found (see the module docstring for the order).
        """
        own = verifier is None
        active: Verifier = SyncVerifier() if verifier is None else verifier
        try:
            return self._check(block, active, proof)
        finally:
            if own:
                active.close()

    def apply_block(self, block: Block, verifier: Verifier | None = None, *, proof: object = None) -> AppliedBlock:
        """Validate ``block`` fully, then apply it: all or nothing.

        On any :class:`BlockError` the chain is exactly as before. ``verifier``
        (default: a :class:`~timecoin_core.verify.SyncVerifier`) checks every
        signature of the block's transactions in one batch. ``proof`` goes to the
        ``block_validator`` hook: a consensus chain refuses a block without one.
        """
        fees = self.check_block(block, verifier, proof=proof)
        subsidy = self.subsidy()
        applied = AppliedBlock(block, fees, subsidy, self._apply(block))
        self._applied.append(applied)
        self._by_hash[block.hash] = block.height
        self._supply += subsidy
        return applied

    def _check(self, block: Block, verifier: Verifier, proof: object) -> int:
        header = block.header
        block_hash = block.hash
        tip = self.tip.header
        if header.version != BLOCK_VERSION:
            raise BlockVersionError(f"unknown version {header.version}", block_hash)
        if header.height != tip.height + 1:
            raise BlockHeightError(f"height {header.height} does not follow the tip at {tip.height}", block_hash)
        if header.prev_hash != self.tip.hash:
            raise PrevHashError(f"parent {header.prev_hash.hex()} is not the tip", block_hash)
        if header.timestamp <= tip.timestamp:
            raise TimestampError(
                f"timestamp {header.timestamp} is not after the parent's {tip.timestamp}", block_hash
            )
        if block.size > self.network.max_block_size:
            raise BlockSizeError(f"{block.size} bytes exceeds {self.network.max_block_size}", block_hash)
        if header.merkle_root != transactions_root(block.transactions):
            raise MerkleRootError("merkle root does not match the transactions", block_hash)
        if header.rewards_root != rewards_root(block.rewards):
            raise RewardsRootError("rewards root does not match the reward outputs", block_hash)
        if header.certificates_root != certificates_root(block.certificate_digests):
            raise CertificatesRootError("certificates root does not match the digests", block_hash)
        if header.evidence_root != evidence_root(block.evidence):
            raise EvidenceRootError("evidence root does not match the evidence", block_hash)
        for index, out in enumerate(block.rewards):
            if out.amount == 0:
                raise ZeroRewardError(f"reward output {index} is zero", block_hash)
        self.block_validator(block, self, verifier, proof)
        each_fee, errors = _validate_in_order(block.transactions, self._utxos, self.network, verifier)
        if errors:
            position = min(errors)
            raise BlockTransactionError(errors[position], position, block_hash)
        fees = sum(each_fee)
        expected = self.subsidy() + fees
        actual = sum(out.amount for out in block.rewards)
        if actual != expected:
            raise RewardTotalError(
                f"rewards total {actual}, expected subsidy {self.subsidy()} + fees {fees} = {expected}",
                block_hash,
                expected=expected,
                actual=actual,
            )
        self.reward_rule(block, fees)
        return fees

    def _apply(self, block: Block) -> tuple[Coin, ...]:
        height = block.height
        # One batch for the whole block: all or nothing by itself.
        spent = self._utxos.confirm_block(height, block.transactions, reward_txid(block.hash), block.rewards)
        indexed: list[bytes] = []
        try:
            tx_index = self._tx_index
            for position, tx in enumerate(block.transactions):
                tx_index[tx.txid] = (height, position)
                indexed.append(tx.txid)
        except BaseException:
            # Unreachable for a block that passed _check; kept so that even a bug
            # cannot leave the chain half-applied.
            self._undo(spent, self._created(block), indexed, height)
            raise
        return spent

    @staticmethod
    def _created(block: Block) -> list[OutPoint]:
        added = [OutPoint(tx.txid, i) for tx in block.transactions for i in range(len(tx.outputs))]
        txid = reward_txid(block.hash)
        added += [OutPoint(txid, i) for i in range(len(block.rewards))]
        return added

    def _undo(self, spent: Sequence[Coin], added: Sequence[OutPoint], indexed: Sequence[bytes], height: int) -> None:
        # Creations and spends interleave (a transaction may spend an output created
        # earlier in the block), so first restore every spent coin, then remove every
        # created one: an outpoint both created and spent is re-added, then removed.
        utxos = self._utxos
        for coin in reversed(spent):
            utxos.add(coin.outpoint, coin.output, coin.height)
        for outpoint in reversed(added):
            utxos.confirm_spend(outpoint, height)
        for txid in indexed:
            del self._tx_index[txid]

    # -- copies and snapshots -----------------------------------------------------------

    def copy(self) -> ChainState:
        """An independent copy (same network and hooks). O(coins + transactions)."""
        clone = ChainState.__new__(ChainState)
        clone.network = self.network
        clone.reward_rule = self.reward_rule
        clone.block_validator = self.block_validator
        clone._applied = list(self._applied)
        clone._by_hash = dict(self._by_hash)
        clone._tx_index = dict(self._tx_index)
        clone._utxos = self._utxos.copy()
        clone._supply = self._supply
        return clone

    def snapshot(self) -> ChainSnapshot:
        """A cheap marker of the current tip to :meth:`revert` to later. O(1)."""
        return ChainSnapshot(self.height, self.tip.hash)

    def revert(self, snapshot: ChainSnapshot) -> None:
        """Undo every block applied after ``snapshot``. O(size of the undone blocks).

        For test chains (snapshot/revert); committed blocks of a live network are
        final and never reverted. :class:`SnapshotError` if ``snapshot`` is not a tip
        this chain passed through.
        """
        block = self.block_at(snapshot.height)
        if block is None or block.hash != snapshot.block_hash:
            raise SnapshotError(f"snapshot at height {snapshot.height} is not in this chain's history")
        while self.height > snapshot.height:
            self._disconnect_tip()

    def _disconnect_tip(self) -> None:
        applied = self._applied.pop()
        block = applied.block
        del self._by_hash[block.hash]
        self._undo(applied.spent, self._created(block), [tx.txid for tx in block.transactions], block.height)
        self._supply -= applied.subsidy
