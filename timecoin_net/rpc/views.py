"""What every RPC backend answers the same way: views of one :class:`~timecoin_core.consensus.ConsensusNode`.

A backend (:class:`~timecoin_net.rpc.LocalChainBackend` over a LocalChain's first
masternode, :class:`~timecoin_net.NodeBackend` over a running node) differs in where its
node lives, how it learns of changes and how it submits; reading the node's chain,
pool, registry and engines into result models, parsing addresses and raw transactions,
waiting for a status and routing a subscription are the same, and live here once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import anyio

from timecoin_core.consensus import ConsensusNode
from timecoin_core.consensus.bft import Step
from timecoin_core.errors import DecodeError, TimecoinError
from timecoin_core.keys import Address, address_payload
from timecoin_core.network import Network
from timecoin_core.transaction import Transaction

from .backend import Deliver, SubscriptionHub, Unsubscribe
from .errors import DecodeFailedError, InvalidAddressError, NotFoundError
from .models import (
    BalanceInfo,
    BlockInfo,
    ConsensusInfo,
    GetBlockParams,
    LatencySummary,
    ListUnspentParams,
    MasternodeInfo,
    MempoolInfo,
    SubscribeParams,
    TxStatusInfo,
    UnspentPage,
    VoterInfo,
    WaitForTxStatusParams,
)

__all__ = [
    "balance",
    "block",
    "consensus_info",
    "decode_transaction",
    "masternodes",
    "mempool_info",
    "parse_address",
    "payloads_of",
    "subscribe",
    "unspent",
    "wait_for_status",
]

_STEPS: dict[Step, Literal["propose", "prevote", "precommit"]] = {
    Step.PROPOSE: "propose",
    Step.PREVOTE: "prevote",
    Step.PRECOMMIT: "precommit",
}


def parse_address(network: Network, parameter: str, text: str) -> Address:
    """``text`` as an address of ``network``, or :class:`InvalidAddressError` naming ``parameter``."""
    try:
        return Address.parse(text, network)
    except TimecoinError as exc:
        raise InvalidAddressError(parameter, str(exc)) from None


def decode_transaction(hexstring: str) -> Transaction:
    """The transaction ``hexstring`` encodes, or :class:`DecodeFailedError`."""
    try:
        return Transaction.from_bytes(bytes.fromhex(hexstring))
    except ValueError as exc:  # DecodeError, and bytes.fromhex's own
        detail = str(exc) if isinstance(exc, DecodeError) else "not hex"
        raise DecodeFailedError(f"transaction decode failed: {detail}") from None


def payloads_of(tx: Transaction) -> frozenset[bytes]:
    """The address payloads a transaction touches (its outputs' and its inputs' keys):
    who an address subscription tells about it."""
    return frozenset({o.payload for o in tx.outputs} | {address_payload(i.public_key) for i in tx.inputs})


def block(node: ConsensusNode, params: GetBlockParams) -> BlockInfo | str:
    """``getblock``: a block by height or hash, hex at verbosity 0."""
    state = node.chain
    found = state.block_at(params.block) if isinstance(params.block, int) else state.block(params.block)
    if found is None:
        what = params.block if isinstance(params.block, int) else params.block.hex()
        raise NotFoundError(f"no such block {what}")
    if params.verbosity == 0:
        return found.to_bytes().hex()
    return BlockInfo.of(found, node.network, state.height, params.verbosity)


def unspent(node: ConsensusNode, address: Address, params: ListUnspentParams) -> UnspentPage:
    """``listunspent``: a page of an address's coins in the pool's view (final spends count)."""
    page = node.pool.utxos.coins_of(address.payload, params.after(), params.limit)
    return UnspentPage.of(page.coins, page.next_cursor, node.network)


def balance(node: ConsensusNode, address: Address) -> BalanceInfo:
    """``getbalance``: an address's balance in the pool's view."""
    return BalanceInfo.of(str(address), node.pool.utxos.balance(address.payload))


def mempool_info(node: ConsensusNode) -> MempoolInfo:
    """``getmempoolinfo``: the node's pool and its limits."""
    pool = node.pool
    return MempoolInfo(
        size=len(pool),
        bytes=pool.total_bytes,
        final=pool.final_count,
        pending=pool.pending_count,
        max_bytes=node.config.pool_max_bytes,
        max_count=node.config.pool_max_count,
        min_fee_per_kb=node.network.min_fee_per_kb,
    )


def masternodes(node: ConsensusNode) -> list[MasternodeInfo]:
    """``getmasternodes``: the registry, with each masternode's weight at the next height."""
    registry = node.registry
    voting = registry.voting_set_for_height(node.chain.height + 1)
    active = {m.operator for m in registry.active()}
    return [
        MasternodeInfo.of(
            m,
            node.network,
            active=m.operator in active,
            banned=registry.is_banned(m.operator),
            weight=voting.weight(m.operator),
        )
        for m in registry.masternodes()
    ]


def consensus_info(node: ConsensusNode, latencies: Sequence[float]) -> ConsensusInfo:
    """``getconsensusinfo``: the height being decided, its round and step, the voting set.

    An engine not yet started on the next height (LocalChain starts it only when a block
    is asked for) reads as round 0, propose.
    """
    bft = node.bft
    voting = node.registry.voting_set_for_height(node.chain.height + 1)
    total = voting.total
    height = node.chain.height + 1
    current = bft.height == height
    return ConsensusInfo(
        height=height,
        round=bft.round if current else 0,
        step=_STEPS[bft.step] if current else "propose",
        epoch=voting.epoch,
        voting_set=[VoterInfo(operator=k.hex(), weight=w) for k, w in voting.weights.items()],
        total_weight=total,
        quorum_weight=(2 * total + 2) // 3,
        finality_latency=LatencySummary.of(list(latencies)),
    )


async def wait_for_status(
    params: WaitForTxStatusParams, status: Callable[[], TxStatusInfo], changed: Callable[[], anyio.Event]
) -> TxStatusInfo:
    """``waitfortxstatus``: ``status()`` once it reaches ``params.status``, or at the timeout.

    ``changed()`` is the backend's current change event (set, then replaced, whenever
    something it follows changes): taken before each look, so no change is missed.
    """
    with anyio.move_on_after(params.timeout):
        while True:
            event = changed()
            info = status()
            if params.reached(info.status):
                return info
            await event.wait()
    return status()


def subscribe(
    hub: SubscriptionHub,
    topic: SubscribeParams,
    deliver: Deliver,
    network: Network,
    status: Callable[[bytes], TxStatusInfo],
) -> Unsubscribe:
    """Register ``deliver`` for ``topic`` on ``hub``; a txid subscription gets its current
    status at once (unless unknown)."""
    if topic.topic == "newBlocks":
        return hub.add_blocks(deliver)
    if topic.topic == "finality":
        return hub.add_finality(deliver)
    assert topic.filter is not None
    if topic.filter.address is not None:
        return hub.add_address(parse_address(network, "address", topic.filter.address).payload, deliver)
    txid = topic.filter.txid
    assert txid is not None
    remove = hub.add_txid(txid, deliver)
    info = status(txid)
    if info.status != "unknown":
        deliver(info)
    return remove
