"""MemoryStore: the :class:`~timecoin_core.store.Store` protocol in process memory, for tests.

It keeps exactly what :class:`~timecoin_core.store.SqliteStore` keeps, derives it with
the same code (:func:`~timecoin_core.store._plan.plan_block`) and answers with the same
pages and cursors; nothing survives the process. Every write decides everything first
and then applies it without awaiting, so it is atomic for other tasks too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from itertools import islice
from types import TracebackType
from typing import Self, TypeVar

from sortedcontainers import SortedDict, SortedList

from ..block import Block, genesis_block
from ..consensus.bft_messages import CommitCertificate
from ..consensus.finality_messages import FinalityCertificate
from ..consensus.locked_value import LockedValue
from ..consensus.registry import Registry, epoch_of
from ..consensus.voting import VotingSet
from ..errors import InvalidArgumentError
from ..network import Network
from ..transaction import OutPoint, Transaction, TxOut
from ..utxo import Coin, CoinState
from ._codec import KIND_BLOCK_VOTE, KIND_VOTE_BATCH, signed_vote_key
from ._paging import (
    block_range,
    coins_after,
    coins_cursor,
    history_after,
    history_cursor,
    next_block_cursor,
    transactions_cursor,
    transactions_first,
)
from ._plan import (
    BlockPlan,
    check_hash,
    check_height,
    check_limit,
    check_payload,
    genesis_plan,
    key_outpoint,
    outpoint_key,
    plan_block,
)
from ._validate import (
    check_evidence,
    check_final,
    check_locked,
    check_proofs,
    check_vote,
    committed_certificate,
)
from .errors import ConflictingVoteError, StoreClosedError
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
from .schema import SCHEMA_VERSION

__all__ = ["MemoryStore"]

T = TypeVar("T")

class MemoryStore:
    """A :class:`~timecoin_core.store.Store` in memory, holding genesis of ``network`` when made."""

    def __init__(self, network: Network) -> None:
        self._network = network
        self._closed = False
        genesis = genesis_block(network)
        self._blocks: list[StoredBlock] = []
        self._by_hash: dict[bytes, int] = {}
        self._txs: dict[bytes, tuple[int, int]] = {}
        self._tx_certificates: dict[bytes, FinalityCertificate] = {}
        self._coins: dict[OutPoint, tuple[TxOut, int]] = {}
        self._by_payload: dict[bytes, SortedList] = {}
        self._history: dict[bytes, SortedDict] = {}
        self._votes: dict[OutPoint, bytes] = {}
        self._signed: dict[bytes, tuple[int, int, SignedVote]] = {}
        self._locked: dict[int, LockedValue] = {}
        self._finals: dict[bytes, tuple[Transaction, FinalityCertificate]] = {}
        self._evidence: dict[bytes, Evidence] = {}
        self._voting_sets: dict[int, VotingSet] = {
            0: Registry(network, genesis.reward_txid).voting_set(0)
        }
        self._peers: dict[str, PeerRecord] = {}
        self._bans: dict[str, BanRecord] = {}
        plan = genesis_plan(genesis)
        self._apply(plan, ())
        self._tip = plan.tip

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def network(self) -> Network:
        """The network the store belongs to."""
        return self._network

    @property
    def read_only(self) -> bool:
        """Always False: a memory store is writable."""
        return False

    async def close(self) -> None:
        """Mark the store closed (the data stays until the object is dropped)."""
        self._closed = True

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError("the store is closed")

    async def metadata(self) -> StoreMetadata:
        """Schema version, network, genesis and tip."""
        self._check_open()
        tip = self._blocks[-1]
        return StoreMetadata(
            SCHEMA_VERSION,
            self._network,
            self._blocks[0].hash,
            tip.height,
            tip.hash,
            tip.utxo_commitment,
            tip.utxo_count,
            tip.supply,
        )

    # -- writing blocks ------------------------------------------------------------------

    async def commit_block(
        self,
        block: Block,
        certificate: CommitCertificate | None = None,
        *,
        voting_set: VotingSet | None = None,
        proofs: Sequence[FinalityCertificate] | None = None,
    ) -> StoredBlock:
        """Apply ``block`` and everything it changes, atomically (see :class:`~timecoin_core.store.Store`)."""
        self._check_open()
        if voting_set is not None and not isinstance(voting_set, VotingSet):
            raise InvalidArgumentError("voting_set", "voting_set must be a VotingSet")
        proven = check_proofs(block, proofs)
        plans = self._plan([(block, certificate)])
        self._commit(plans)
        for txid, raw in proven.items():
            self._tx_certificates[txid] = FinalityCertificate.from_bytes(raw)
        if voting_set is not None:
            self._voting_sets[voting_set.epoch] = voting_set
        return plans[0].stored

    async def commit_blocks(self, blocks: Sequence[tuple[Block, CommitCertificate | None]]) -> int:
        """Commit consecutive blocks, all or nothing; return the new height."""
        self._check_open()
        self._commit(self._plan(blocks))
        return self._tip.height

    def _plan(self, blocks: Sequence[tuple[Block, CommitCertificate | None]]) -> list[BlockPlan]:
        tip = self._tip
        overlay: dict[OutPoint, tuple[TxOut, int]] = {}
        gone: set[OutPoint] = set()
        new_txids: set[bytes] = set()
        plans: list[BlockPlan] = []
        reward = self._network.block_reward
        for block, certificate in blocks:
            if not isinstance(block, Block):
                raise InvalidArgumentError("blocks", "commit takes Block values")
            lookup: dict[OutPoint, tuple[TxOut, int]] = {}
            for tx in block.transactions:
                for txin in tx.inputs:
                    op = txin.outpoint
                    found = overlay.get(op) or (None if op in gone else self._coins.get(op))
                    if found is not None:
                        lookup[op] = found
            known = [tx.txid for tx in block.transactions if tx.txid in self._txs or tx.txid in new_txids]
            plan = plan_block(block, certificate, tip, reward, lookup, known)
            for op in plan.removed:
                if overlay.pop(op, None) is None:
                    gone.add(op)
            for op, out in plan.created.items():
                overlay[op] = (out, block.height)
            new_txids.update(tx.txid for tx in block.transactions)
            plans.append(plan)
            tip = plan.tip
        return plans

    def _commit(self, plans: list[BlockPlan]) -> None:
        for plan in plans:
            self._apply(plan, plan.inputs)
        if plans:
            self._tip = plans[-1].tip

    def _apply(self, plan: BlockPlan, inputs: Sequence[OutPoint]) -> None:
        stored = plan.stored
        block = stored.block
        height = block.height
        self._blocks.append(stored)
        self._by_hash[block.hash] = height
        for position, tx in enumerate(block.transactions):
            txid = tx.txid
            self._txs[txid] = (height, position)
            final = self._finals.pop(txid, None)
            if final is not None and committed_certificate(block, position, final[1].to_bytes()) is not None:
                self._tx_certificates[txid] = final[1]
        for op, (out, _) in plan.removed.items():
            del self._coins[op]
            self._by_payload[out.payload].remove(outpoint_key(op))
        for op, out in plan.created.items():
            self._coins[op] = (out, height)
            keys = self._by_payload.get(out.payload)
            if keys is None:
                keys = self._by_payload[out.payload] = SortedList()
            keys.add(outpoint_key(op))
        for payload, h, position, txid, received, sent in plan.history:
            entries = self._history.get(payload)
            if entries is None:
                entries = self._history[payload] = SortedDict()
            entries[(h, position)] = HistoryEntry(txid, h, position, received, sent)
        for op in inputs:
            self._votes.pop(op, None)
        for offender in plan.offenders:
            self._evidence.pop(offender, None)
        next_epoch = epoch_of(height + 1, self._network.epoch_length)
        for key, (kind, at, _) in list(self._signed.items()):
            if (kind == KIND_BLOCK_VOTE and at <= height) or (kind == KIND_VOTE_BATCH and at < next_epoch):
                del self._signed[key]
        for at in [h for h in self._locked if h <= height]:
            del self._locked[at]

    # -- reading the chain ---------------------------------------------------------------

    async def block(self, height: int) -> StoredBlock | None:
        """The committed block at ``height``, or ``None``."""
        self._check_open()
        check_height(height)
        return self._blocks[height] if height < len(self._blocks) else None

    async def block_by_hash(self, block_hash: bytes) -> StoredBlock | None:
        """The committed block with ``block_hash``, or ``None``."""
        self._check_open()
        height = self._by_hash.get(check_hash(block_hash, "block_hash"))
        return None if height is None else self._blocks[height]

    async def blocks(
        self, start: int = 0, stop: int | None = None, *, limit: int = 100, cursor: str | None = None
    ) -> Page[StoredBlock]:
        """One page of the blocks with ``start <= height < stop``, ascending."""
        self._check_open()
        first, end, scope = block_range(start, stop, limit, cursor)
        end = min(end, len(self._blocks))
        items = tuple(self._blocks[first : min(end, first + limit)])
        return Page(items, next_block_cursor(items, end, scope))

    async def iter_blocks(self, start: int = 0, stop: int | None = None) -> AsyncIterator[StoredBlock]:
        """Stream the blocks with ``start <= height < stop``, ascending."""
        self._check_open()
        check_height(start, "start")
        height = start
        while True:
            end = len(self._blocks) if stop is None else min(stop, len(self._blocks))
            if height >= end:
                return
            yield self._blocks[height]
            height += 1

    async def transaction(self, txid: bytes) -> StoredTransaction | None:
        """The confirmed transaction ``txid`` and where it is, or ``None``."""
        self._check_open()
        where = self._txs.get(check_hash(txid, "txid"))
        if where is None:
            return None
        height, position = where
        tx = self._blocks[height].block.transactions[position]
        return StoredTransaction(tx, height, position, self._tx_certificates.get(txid))

    async def block_transactions(
        self, height: int, *, limit: int = 100, cursor: str | None = None
    ) -> Page[Transaction]:
        """One page of the transactions of the block at ``height``, in block order."""
        self._check_open()
        first, scope = transactions_first(height, limit, cursor)
        if height >= len(self._blocks):
            return Page((), None)
        txs = self._blocks[height].block.transactions
        items = txs[first : first + limit]
        more = first + limit < len(txs)
        return Page(items, transactions_cursor(scope, first + len(items) - 1) if more else None)

    async def coin(self, outpoint: OutPoint) -> Coin | None:
        """The confirmed unspent coin at ``outpoint``, or ``None``."""
        self._check_open()
        if not isinstance(outpoint, OutPoint):
            raise InvalidArgumentError("outpoint", "coin takes an OutPoint")
        found = self._coins.get(outpoint)
        return None if found is None else Coin(outpoint, found[0], found[1], CoinState.UNSPENT, None)

    async def coins_of(self, payload: bytes, *, limit: int = 100, cursor: str | None = None) -> Page[Coin]:
        """One page of the confirmed unspent coins paying to ``payload``, in outpoint order."""
        self._check_open()
        check_payload(payload)
        check_limit(limit)
        after = coins_after(payload, cursor)
        keys = self._by_payload.get(payload)
        if keys is None:
            return Page((), None)
        lo = after if after is not None else b""
        found = list(_islice(keys.irange(lo, None, inclusive=(after is None, False)), limit + 1))
        coins = []
        for key in found[:limit]:
            op = key_outpoint(key)
            out, height = self._coins[op]
            coins.append(Coin(op, out, height, CoinState.UNSPENT, None))
        next_cursor = coins_cursor(payload, found[limit - 1]) if len(found) > limit else None
        return Page(tuple(coins), next_cursor)

    async def iter_coins(self) -> AsyncIterator[Coin]:
        """Stream the whole confirmed UTXO set in outpoint order."""
        self._check_open()
        for op in sorted(self._coins):
            found = self._coins.get(op)
            if found is not None:
                yield Coin(op, found[0], found[1], CoinState.UNSPENT, None)

    async def history_of(
        self, payload: bytes, *, limit: int = 100, cursor: str | None = None
    ) -> Page[HistoryEntry]:
        """One page of what confirmed transactions did to ``payload``, oldest first."""
        self._check_open()
        check_payload(payload)
        check_limit(limit)
        after = history_after(payload, cursor)
        entries = self._history.get(payload)
        if entries is None:
            return Page((), None)
        keys = list(_islice(entries.irange(after, None, inclusive=(after is None, False)), limit + 1))
        items = tuple(entries[k] for k in keys[:limit])
        next_cursor = None
        if len(keys) > limit:
            last = items[-1]
            next_cursor = history_cursor(payload, last.height, last.position)
        return Page(items, next_cursor)

    async def voting_set(self, epoch: int) -> VotingSet | None:
        """The stored voting set of ``epoch``, or ``None``."""
        self._check_open()
        return self._voting_sets.get(epoch)

    # -- consensus records -----------------------------------------------------------------

    async def record_vote(self, txid: bytes, outpoints: Sequence[OutPoint]) -> None:
        """Record that this node votes for ``txid`` on ``outpoints`` (idempotent)."""
        self._check_open()
        ops = check_vote(txid, outpoints)
        for op in ops:
            held = self._votes.get(op)
            if held is not None and held != txid:
                raise ConflictingVoteError(f"outpoint {op} is already voted for {held.hex()}, not {txid.hex()}")
        for op in ops:
            self._votes[op] = txid

    async def voted_outpoints(self) -> dict[OutPoint, bytes]:
        """Every recorded outpoint -> txid vote not yet settled by a block."""
        self._check_open()
        return dict(self._votes)

    async def record_signed_vote(self, vote: SignedVote, *, locked: LockedValue | None = None) -> None:
        """Record a vote this masternode signed, and the value it locks on if given (idempotent;
        a different block vote for the slot conflicts and records nothing)."""
        self._check_open()
        key, kind, height = signed_vote_key(vote)
        locked = check_locked(vote, locked)
        held = self._signed.get(key)
        if held is not None and held[2].to_bytes() != vote.to_bytes():
            raise ConflictingVoteError("a different block vote of this kind, height and round is recorded")
        if held is None:
            self._signed[key] = (kind, height, vote)
        if locked is not None:
            kept = self._locked.get(locked.height)
            if kept is None or kept.round <= locked.round:
                self._locked[locked.height] = locked

    async def signed_votes(self) -> list[SignedVote]:
        """Recorded signed votes still relevant, in record order."""
        self._check_open()
        return [vote for _, _, vote in self._signed.values()]

    async def locked_values(self) -> list[LockedValue]:
        """Recorded locked values of heights not yet committed, by height."""
        self._check_open()
        return [self._locked[h] for h in sorted(self._locked)]

    async def record_final(self, tx: Transaction, certificate: FinalityCertificate) -> bool:
        """Record a final transaction and its certificate; False if already known."""
        self._check_open()
        check_final(tx, certificate)
        txid = tx.txid
        if txid in self._finals or txid in self._txs:
            return False
        self._finals[txid] = (tx, certificate)
        return True

    async def final_transactions(self) -> list[tuple[Transaction, FinalityCertificate]]:
        """Final transactions not yet in a block, in record order."""
        self._check_open()
        return list(self._finals.values())

    async def record_evidence(self, evidence: Evidence) -> bool:
        """Keep ``evidence`` unless evidence against its offender is held already."""
        self._check_open()
        check_evidence(evidence)
        if evidence.offender in self._evidence:
            return False
        self._evidence[evidence.offender] = evidence
        return True

    async def evidence(self) -> list[Evidence]:
        """Pending evidence, in record order."""
        self._check_open()
        return list(self._evidence.values())

    # -- the network layer -------------------------------------------------------------------

    async def put_peer(self, peer: PeerRecord) -> None:
        """Insert or replace the peer with ``peer.address``."""
        self._check_open()
        if not isinstance(peer, PeerRecord):
            raise InvalidArgumentError("peer", "put_peer takes a PeerRecord")
        self._peers[peer.address] = peer

    async def peers(self, limit: int = 1000) -> list[PeerRecord]:
        """Known peers, most recently seen first."""
        self._check_open()
        check_limit(limit)
        return sorted(self._peers.values(), key=lambda p: (-p.last_seen, p.address))[:limit]

    async def remove_peer(self, address: str) -> None:
        """Forget a peer."""
        self._check_open()
        self._peers.pop(address, None)

    async def put_ban(self, ban: BanRecord) -> None:
        """Insert or replace the ban of ``ban.host``."""
        self._check_open()
        if not isinstance(ban, BanRecord):
            raise InvalidArgumentError("ban", "put_ban takes a BanRecord")
        self._bans[ban.host] = ban

    async def bans(self, now: int) -> list[BanRecord]:
        """Bans still in force at ``now``, by host."""
        self._check_open()
        return sorted((b for b in self._bans.values() if b.until > now), key=lambda b: b.host)

    async def remove_ban(self, host: str) -> None:
        """Lift a ban."""
        self._check_open()
        self._bans.pop(host, None)


def _islice(iterator: Iterator[T], n: int) -> list[T]:
    return list(islice(iterator, n))
