"""The :class:`Store` protocol: everything a node and a wallet must not lose, behind one async API.

Every implementation (:class:`~timecoin_core.store.MemoryStore`,
:class:`~timecoin_core.store.SqliteStore`) passes one conformance suite
(``tests/test_store_conformance.py``).

Writes come from one writer. :meth:`Store.commit_block` applies a block and
everything it changes atomically; the consensus-critical writes
(:meth:`Store.record_vote`, :meth:`Store.record_signed_vote` with its locked value,
:meth:`Store.record_final`) are durable when they return, so the caller may only then
send the vote or announce the certificate. docs/storage.md lists which writes are
durable and which may be lost on power failure.

Reads page with opaque cursors (:class:`~timecoin_core.store.records.Page`) or stream
in constant memory (``iter_*``). Streams are not snapshots: they read in chunks, and a
chunk sees what was committed before it was read. Committed blocks never change, so
:meth:`Store.iter_blocks` over committed heights is exact.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import Protocol, Self

from ..block import Block
from ..consensus.bft_messages import CommitCertificate
from ..consensus.finality_messages import FinalityCertificate
from ..consensus.locked_value import LockedValue
from ..consensus.voting import VotingSet
from ..network import Network
from ..transaction import OutPoint, Transaction
from ..utxo import Coin
from .records import (
    BanRecord,
    Evidence,
    HistoryEntry,
    Page,
    PeerRecord,
    SignedVote,
    StoredBlock,
    StoredTransaction,
    StoreMetadata,
)

__all__ = ["Store"]


class Store(Protocol):
    """Persistent state of one node or wallet (see the module docstring)."""

    @property
    def network(self) -> Network:
        """The network the store belongs to."""
        ...

    @property
    def read_only(self) -> bool:
        """True when every write raises :class:`~timecoin_core.store.errors.ReadOnlyStoreError`."""
        ...

    async def close(self) -> None:
        """Release the store; further calls raise :class:`~timecoin_core.store.errors.StoreClosedError`."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    async def metadata(self) -> StoreMetadata:
        """Schema version, network, genesis and tip."""
        ...

    # -- the chain -------------------------------------------------------------------

    async def commit_block(
        self,
        block: Block,
        certificate: CommitCertificate | None = None,
        *,
        voting_set: VotingSet | None = None,
        proofs: Sequence[FinalityCertificate] | None = None,
    ) -> StoredBlock:
        """Apply ``block`` (which extends the stored tip) and everything it changes, atomically.

        Spends and creates coins, indexes its transactions and the addresses they
        touch, records its commit ``certificate``, moves the finality certificates of
        its transactions out of the pending finals, forgets the voted outpoints it
        spends and the evidence it carries, and stores ``voting_set`` (the voting set
        of the epoch this block fixes, if it closes one). ``proofs``, when given, are the
        finality certificates the block commits to (the proposal's, one per transaction,
        in order; :class:`~timecoin_core.errors.InvalidArgumentError` otherwise): they
        are stored with its transactions. Without them a transaction keeps its pending
        final certificate only if that is the one the block names (a node's own
        certificate can differ from the proposer's). The store does not validate
        consensus rules (a :class:`~timecoin_core.chain.ChainState` does); it refuses
        only blocks that contradict it: :class:`~timecoin_core.store.errors.BlockSequenceError`,
        :class:`~timecoin_core.store.errors.InconsistentBlockError`. Not durable on
        return (see docs/storage.md); every later durable write makes it durable.
        """
        ...

    async def commit_blocks(self, blocks: Sequence[tuple[Block, CommitCertificate | None]]) -> int:
        """The bulk path: commit consecutive blocks in one transaction; return the new height.

        The same as :meth:`commit_block` for each, all or nothing, much faster for
        many small blocks (sync, import).
        """
        ...

    async def block(self, height: int) -> StoredBlock | None:
        """The committed block at ``height``, or ``None``."""
        ...

    async def block_by_hash(self, block_hash: bytes) -> StoredBlock | None:
        """The committed block with ``block_hash``, or ``None``."""
        ...

    async def blocks(
        self, start: int = 0, stop: int | None = None, *, limit: int = 100, cursor: str | None = None
    ) -> Page[StoredBlock]:
        """One page of the blocks with ``start <= height < stop`` (``stop=None``: to the tip), ascending."""
        ...

    def iter_blocks(self, start: int = 0, stop: int | None = None) -> AsyncIterator[StoredBlock]:
        """Stream the blocks with ``start <= height < stop`` in constant memory, ascending."""
        ...

    async def transaction(self, txid: bytes) -> StoredTransaction | None:
        """The confirmed transaction ``txid`` and where it is, or ``None``."""
        ...

    async def block_transactions(
        self, height: int, *, limit: int = 100, cursor: str | None = None
    ) -> Page[Transaction]:
        """One page of the transactions of the block at ``height``, in block order."""
        ...

    async def coin(self, outpoint: OutPoint) -> Coin | None:
        """The confirmed unspent coin at ``outpoint``, or ``None``."""
        ...

    async def coins_of(self, payload: bytes, *, limit: int = 100, cursor: str | None = None) -> Page[Coin]:
        """One page of the confirmed unspent coins paying to ``payload``, in outpoint order."""
        ...

    def iter_coins(self) -> AsyncIterator[Coin]:
        """Stream the whole confirmed UTXO set in outpoint order, in constant memory."""
        ...

    async def history_of(
        self, payload: bytes, *, limit: int = 100, cursor: str | None = None
    ) -> Page[HistoryEntry]:
        """One page of what confirmed transactions did to ``payload``, oldest first."""
        ...

    async def voting_set(self, epoch: int) -> VotingSet | None:
        """The stored voting set of ``epoch``, or ``None``."""
        ...

    # -- consensus records -------------------------------------------------------------

    async def record_vote(self, txid: bytes, outpoints: Sequence[OutPoint]) -> None:
        """Durably record that this node votes for ``txid`` on ``outpoints`` (a ``VoteRecorded``).

        Idempotent; :class:`~timecoin_core.store.errors.ConflictingVoteError` if an
        outpoint is already recorded for another txid.
        """
        ...

    async def voted_outpoints(self) -> dict[OutPoint, bytes]:
        """Every recorded outpoint -> txid vote not yet settled by a block (``restore=`` of the engine)."""
        ...

    async def record_signed_vote(self, vote: SignedVote, *, locked: LockedValue | None = None) -> None:
        """Durably record a vote this masternode signed, before it is sent.

        ``locked`` is the value a precommit locks on (a ``BlockVoteSigned``'s
        ``locked``): it is recorded in the same write, so a recorded lock always has
        its value. Per height the locked value of the highest round recorded is kept.

        Idempotent; :class:`~timecoin_core.store.errors.ConflictingVoteError` for a
        block vote that differs from the recorded one of the same kind, height and round
        (then nothing is recorded); :class:`~timecoin_core.errors.InvalidArgumentError`
        for a ``locked`` that is not for this precommit's height, round and value.
        """
        ...

    async def signed_votes(self) -> list[SignedVote]:
        """This masternode's recorded signed votes that are still relevant, in record order."""
        ...

    async def locked_values(self) -> list[LockedValue]:
        """The recorded locked values of heights not yet committed, by height (one per height)."""
        ...

    async def record_final(self, tx: Transaction, certificate: FinalityCertificate) -> bool:
        """Durably record a final transaction and its certificate; False if already known.

        Kept until a committed block includes the transaction.
        """
        ...

    async def final_transactions(self) -> list[tuple[Transaction, FinalityCertificate]]:
        """Final transactions not yet in a block, with their certificates, in record order."""
        ...

    async def record_evidence(self, evidence: Evidence) -> bool:
        """Keep evidence against its offender until a block carries some; False if one is held already."""
        ...

    async def evidence(self) -> list[Evidence]:
        """Pending evidence, in record order."""
        ...

    # -- the network layer ------------------------------------------------------------

    async def put_peer(self, peer: PeerRecord) -> None:
        """Insert or replace the peer with ``peer.address``."""
        ...

    async def peers(self, limit: int = 1000) -> list[PeerRecord]:
        """Known peers, most recently seen first."""
        ...

    async def remove_peer(self, address: str) -> None:
        """Forget a peer (no error if unknown)."""
        ...

    async def put_ban(self, ban: BanRecord) -> None:
        """Insert or replace the ban of ``ban.host``."""
        ...

    async def bans(self, now: int) -> list[BanRecord]:
        """Bans still in force at unix time ``now``, by host."""
        ...

    async def remove_ban(self, host: str) -> None:
        """Lift a ban (no error if there is none)."""
        ...
