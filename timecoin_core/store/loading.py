"""Start-up: rebuild a :class:`~timecoin_core.chain.ChainState` and a node's consensus state from a store.

Theory of operation
-------------------
There is no half-done work to finish. Every store write is one transaction, so after
a crash the store is exactly as it was after its last committed write (SQLite replays
or discards the write-ahead log when the file is opened). What start-up does is read
and verify:

* the blocks, streamed from genesis to the tip: heights contiguous, each block's parent
  the previous block, the money supply adding up;
* the confirmed coins, streamed into a :class:`~timecoin_core.utxo.UtxoSet`, whose
  commitment must equal the one stored with the tip block;
* for a node, the registry replayed from the blocks (it is derived state), and the
  records a node must not lose: its voted outpoints, its signed votes and locked values, final
  transactions with their certificates not yet in a block, pending evidence, and the
  last commit certificates (a proposer needs its parent's).

Loading pauses Python's cyclic garbage collector (and restores it): it creates
millions of long-lived objects and no cycles. Any contradiction raises
:class:`~timecoin_core.store.errors.CorruptStoreError`; run
``python -m timecoin_core.store.check`` for a full report. Call these while nothing
writes to the store (at start-up): streams are not snapshots.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field

from ..block import genesis_block
from ..chain import (
    AppliedBlock,
    BlockValidator,
    ChainState,
    RewardRule,
    SnapshotError,
    accept_any_split,
    check_proposer_signature,
)
from ..consensus.bft_messages import CommitCertificate
from ..consensus.finality_messages import FinalityCertificate
from ..consensus.locked_value import LockedValue
from ..consensus.records import decode_record
from ..consensus.registry import Registry
from ..errors import DecodeError
from ..network import Network
from ..transaction import OutPoint, Transaction
from ..utxo import UtxoSet
from .errors import CorruptStoreError, NetworkMismatchError
from .protocol import Store
from .records import Evidence, SignedVote, StoredBlock

__all__ = ["RECENT_COMMITS", "NodeState", "load_chain", "load_node_state", "load_registry"]

RECENT_COMMITS = 64
"""How many of the latest commit certificates :func:`load_node_state` returns."""


@dataclass(frozen=True, eq=False)
class NodeState:
    """Everything a :class:`~timecoin_core.consensus.node.ConsensusNode` needs to resume.

    ``chain`` and ``registry`` are rebuilt from the blocks; ``voted_outpoints`` is the
    finality engine's ``restore=``; ``finals`` re-enter the pool as final with their
    certificates; ``commits`` maps the latest heights to their commit certificates;
    ``signed_votes`` and ``locked_values`` (the values the BFT engine locked on, with
    their polkas) restore what the node signed and what it must re-propose.
    """

    chain: ChainState
    registry: Registry
    voted_outpoints: dict[OutPoint, bytes]
    finals: list[tuple[Transaction, FinalityCertificate]]
    evidence: list[Evidence]
    signed_votes: list[SignedVote]
    commits: dict[int, CommitCertificate]
    locked_values: list[LockedValue] = field(default_factory=list)


async def load_chain(
    store: Store,
    network: Network | None = None,
    *,
    reward_rule: RewardRule = accept_any_split,
    block_validator: BlockValidator = check_proposer_signature,
) -> ChainState:
    """The :class:`~timecoin_core.chain.ChainState` the store holds, verified (see the module docstring).

    ``network`` (default: the store's) must be the store's network
    (:class:`~timecoin_core.store.errors.NetworkMismatchError`). ``reward_rule`` and
    ``block_validator`` become the chain's hooks for the blocks applied after loading.
    """
    chain, _, _ = await _load(store, network, reward_rule, block_validator, registry=False)
    return chain


async def load_registry(store: Store, network: Network | None = None) -> Registry:
    """The masternode registry, replayed from the stored blocks."""
    _, registry, _ = await _load(store, network, accept_any_split, check_proposer_signature, registry=True)
    assert registry is not None
    return registry


async def load_node_state(
    store: Store,
    network: Network | None = None,
    *,
    reward_rule: RewardRule = accept_any_split,
    block_validator: BlockValidator = check_proposer_signature,
) -> NodeState:
    """The chain, registry and consensus records a node resumes from (see :class:`NodeState`)."""
    chain, registry, commits = await _load(store, network, reward_rule, block_validator, registry=True)
    assert registry is not None
    return NodeState(
        chain,
        registry,
        await store.voted_outpoints(),
        await store.final_transactions(),
        await store.evidence(),
        await store.signed_votes(),
        commits,
        await store.locked_values(),
    )


def _participants_and_offenders(stored: StoredBlock) -> tuple[tuple[bytes, ...], list[bytes]]:
    participants: tuple[bytes, ...] = ()
    offenders: list[bytes] = []
    for raw in stored.block.evidence:
        try:
            record = decode_record(raw)
        except DecodeError:
            continue  # blocks of chains without consensus may carry opaque evidence
        if isinstance(record, CommitCertificate):
            participants = record.voters
        else:
            offenders.append(record.offender)
    return participants, offenders


async def _load(
    store: Store,
    network: Network | None,
    reward_rule: RewardRule,
    block_validator: BlockValidator,
    *,
    registry: bool,
) -> tuple[ChainState, Registry | None, dict[int, CommitCertificate]]:
    # Loading allocates millions of long-lived objects; the cyclic collector would scan
    # them over and over (a third of the time at 100,000 blocks) and can find no cycles.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return await _load_all(store, network, reward_rule, block_validator, registry=registry)
    finally:
        if collecting:
            gc.enable()


async def _load_all(
    store: Store,
    network: Network | None,
    reward_rule: RewardRule,
    block_validator: BlockValidator,
    *,
    registry: bool,
) -> tuple[ChainState, Registry | None, dict[int, CommitCertificate]]:
    meta = await store.metadata()
    if network is None:
        network = meta.network
    elif network != meta.network or genesis_block(network).hash != meta.genesis_hash:
        raise NetworkMismatchError(f"the store belongs to network {meta.network.name!r}, not {network.name!r}")
    genesis = genesis_block(network)
    replay = Registry(network, genesis.reward_txid) if registry else None
    applied: list[AppliedBlock] = []
    commits: dict[int, CommitCertificate] = {}
    supply = 0
    previous = b""
    async for stored in store.iter_blocks(0, meta.height + 1):
        block = stored.block
        height = block.height
        if height != len(applied):
            raise CorruptStoreError(f"block heights jump from {len(applied) - 1} to {height}")
        if height == 0:
            if block != genesis:
                raise CorruptStoreError("the stored genesis block is not the network's")
        elif block.header.prev_hash != previous:
            raise CorruptStoreError(f"block {height} does not extend block {height - 1}")
        supply += stored.subsidy
        if supply != stored.supply:
            raise CorruptStoreError(f"block {height}: stored supply {stored.supply}, blocks add up to {supply}")
        applied.append(stored.applied())
        if stored.certificate is not None and height > meta.height - RECENT_COMMITS:
            commits[height] = stored.certificate
        if replay is not None and height > 0:
            participants, offenders = _participants_and_offenders(stored)
            replay.apply_block(height, block.transactions, offenders, participants)
        previous = block.hash
    if len(applied) != meta.height + 1 or previous != meta.tip_hash:
        raise CorruptStoreError(f"the blocks end at {len(applied) - 1}, the store's tip is {meta.height}")
    utxos = UtxoSet()
    async for coin in store.iter_coins():
        if coin.height is None or coin.height > meta.height:
            raise CorruptStoreError(f"coin {coin.outpoint} has creation height {coin.height}")
        utxos.add(coin.outpoint, coin.output, coin.height)
    tip = applied[-1]
    commitment = utxos.commitment()
    if commitment != meta.utxo_commitment or len(utxos) != meta.utxo_count:
        raise CorruptStoreError(
            f"the stored coins commit to {commitment.hex()} ({len(utxos)} coins); the tip at {meta.height} "
            f"says {meta.utxo_commitment.hex()} ({meta.utxo_count} coins)"
        )
    try:
        chain = ChainState.from_parts(
            network, applied, utxos, reward_rule=reward_rule, block_validator=block_validator
        )
    except SnapshotError as exc:
        raise CorruptStoreError(str(exc)) from None
    assert chain.tip == tip.block and chain.supply() == supply
    return chain, replay, commits

