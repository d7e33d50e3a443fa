"""The values a store returns: stored blocks and transactions, history entries, pages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from ..block import Block
from ..chain import AppliedBlock
from ..consensus.bft_messages import BlockVote, CommitCertificate, DoubleVoteEvidence
from ..consensus.finality_messages import ConflictingVotesEvidence, FinalityCertificate, VoteBatch
from ..errors import InvalidArgumentError
from ..network import Network
from ..transaction import Transaction
from ..utxo import Coin

__all__ = [
    "BanRecord",
    "Evidence",
    "HistoryEntry",
    "Page",
    "PeerRecord",
    "SignedVote",
    "StoreMetadata",
    "StoredBlock",
    "StoredTransaction",
]

T = TypeVar("T")

Evidence = DoubleVoteEvidence | ConflictingVotesEvidence
"""Proof of misbehaviour a node keeps until a block carries it."""

SignedVote = VoteBatch | BlockVote
"""A vote this masternode signed: a finality vote batch or a block prevote/precommit."""


@dataclass(frozen=True, slots=True)
class StoreMetadata:
    """What a store says about itself and its tip.

    ``height``/``tip_hash`` name the last committed block; ``utxo_commitment`` and
    ``utxo_count`` describe the confirmed UTXO set after it; ``supply`` is all money
    created so far.
    """

    schema_version: int
    network: Network
    genesis_hash: bytes
    height: int
    tip_hash: bytes
    utxo_commitment: bytes
    utxo_count: int
    supply: int


@dataclass(frozen=True, slots=True, eq=False)
class StoredBlock:
    """A committed block with what committing it did.

    ``certificate`` is its commit certificate (``None`` for genesis and for chains
    committed without consensus). ``fees``/``subsidy`` as in
    :class:`~timecoin_core.chain.AppliedBlock`, ``supply`` the money supply after it,
    ``spent`` the ``CONFIRMED`` coins its inputs consumed in input order (the undo
    data), ``utxo_count``/``utxo_commitment`` the confirmed UTXO set after it.
    """

    block: Block
    certificate: CommitCertificate | None
    fees: int
    subsidy: int
    supply: int
    spent: tuple[Coin, ...]
    utxo_count: int
    utxo_commitment: bytes

    @property
    def height(self) -> int:
        """The block's height."""
        return self.block.height

    @property
    def hash(self) -> bytes:
        """The block's hash."""
        return self.block.hash

    def applied(self) -> AppliedBlock:
        """The :class:`~timecoin_core.chain.AppliedBlock` that applying the block produced."""
        return AppliedBlock(self.block, self.fees, self.subsidy, self.spent)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StoredBlock):
            return NotImplemented
        return (
            self.block == other.block
            and self.certificate == other.certificate
            and (self.fees, self.subsidy, self.supply, self.spent) == (other.fees, other.subsidy, other.supply, other.spent)
            and (self.utxo_count, self.utxo_commitment) == (other.utxo_count, other.utxo_commitment)
        )

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class StoredTransaction:
    """A confirmed transaction, where it is, and its finality certificate if the store had it."""

    tx: Transaction
    height: int
    position: int
    certificate: FinalityCertificate | None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """What one transaction (or one block's rewards) did to one address.

    ``received`` sums the outputs paying the address, ``sent`` the coins of the address
    it spent. ``position`` is the transaction's index in the block; a block's reward
    outputs come after its transactions (``position == len(block.transactions)``,
    ``txid == block.reward_txid``).
    """

    txid: bytes
    height: int
    position: int
    received: int
    sent: int

    @property
    def net(self) -> int:
        """``received - sent``: how the address's balance changed."""
        return self.received - self.sent


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a keyset-paginated query.

    ``next_cursor`` is ``None`` on the last page; otherwise pass it back as ``cursor=``
    to the same query for the next page. Pages stay correct while the store changes:
    a cursor names the last item seen, not a position.
    """

    items: tuple[T, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class PeerRecord:
    """A peer address the network layer knows (``address`` is ``"host:port"``)."""

    address: str
    last_seen: int
    services: int = 0
    failures: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.address, str) or not self.address or len(self.address) > 255:
            raise InvalidArgumentError("address", "peer address must be a non-empty str of at most 255 characters")
        for name in ("last_seen", "services", "failures"):
            value = getattr(self, name)
            if type(value) is not int or not 0 <= value < 2**63:
                raise InvalidArgumentError(name, f"{name} must be a non-negative int")


@dataclass(frozen=True, slots=True)
class BanRecord:
    """A banned host: refused until unix time ``until``, for ``reason``."""

    host: str
    until: int
    reason: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.host, str) or not self.host or len(self.host) > 255:
            raise InvalidArgumentError("host", "banned host must be a non-empty str of at most 255 characters")
        if type(self.until) is not int or not 0 <= self.until < 2**63:
            raise InvalidArgumentError("until", "until must be a non-negative int")
        if not isinstance(self.reason, str) or len(self.reason) > 1000:
            raise InvalidArgumentError("reason", "reason must be a str of at most 1000 characters")
