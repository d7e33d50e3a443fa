"""``NodeBackend``: the :class:`~timecoin_net.rpc.RpcBackend` of a running :class:`~timecoin_net.Node`.

Theory of operation. Queries read the node's consensus state (chain, pool, registry,
engine) on the event loop: point lookups and short pages, never a walk of the whole
state. ``sendrawtransaction`` goes through :meth:`Node.submit`, so a transaction is
verified off the loop and admitted by the node's own task like any other. Changes
reach the backend through :meth:`Node.add_action_listener`: every committed block is
published to ``newBlocks``, every final transaction to ``finality``, and the status of
every transaction someone follows (submitted here, or subscribed to) to its
subscribers; ``waitfortxstatus`` wakes on the same notifications.

Statuses: ``confirmed`` (in a block), ``final`` (certified, not yet in a block),
``pending`` (in the pool), ``rejected`` (the node dropped it; ``reason`` says why),
``unknown``. The finality latency summary is the node's own (first sight to final).
"""

from __future__ import annotations

import time

import anyio

from timecoin_core.consensus import BlockCommitted, NodeAction, TxDropped, TxFinal
from timecoin_core.consensus.bft import Step
from timecoin_core.errors import DecodeError, InvalidArgumentError, TimecoinError
from timecoin_core.keys import Address, address_payload
from timecoin_core.transaction import Transaction

from .node import Node, NodeError, NodeStoppingError
from .rpc.backend import Deliver, SubscriptionHub, Unsubscribe
from .rpc.errors import (
    DecodeFailedError,
    InvalidAddressError,
    NotFoundError,
    ShuttingDownError,
    TransactionRejectedError,
)
from .rpc.models import (
    BalanceInfo,
    BlockHeaderInfo,
    BlockInfo,
    ConsensusInfo,
    FinalityInfo,
    GetBalanceParams,
    GetBlockHashParams,
    GetBlockParams,
    GetRawTransactionParams,
    LatencySummary,
    ListUnspentParams,
    MasternodeInfo,
    MempoolInfo,
    NodeInfo,
    PeerInfo,
    SendRawTransactionParams,
    SubscribeParams,
    TransactionInfo,
    TxidParams,
    TxStatusInfo,
    UnspentPage,
    VoterInfo,
    WaitForTxStatusParams,
)

__all__ = ["NodeBackend"]

_STEPS = {Step.PROPOSE: "propose", Step.PREVOTE: "prevote", Step.PRECOMMIT: "precommit"}
_FOLLOWED = 10_000
"""Transactions whose status changes are published at most (oldest forgotten first)."""


class NodeBackend:
    """The RPC backend of ``node`` (see the module docstring); ``version`` is what ``getinfo`` reports.

    Build it before or after the node starts; queries before start raise ``NotFoundError``
    or answer from an empty state.

    :raises InvalidArgumentError: ``node`` is not a :class:`~timecoin_net.Node`.
    """

    def __init__(self, node: Node, *, version: str = "timecoin/0.1.0") -> None:
        if not isinstance(node, Node):
            raise InvalidArgumentError("node", f"expected a Node, got {type(node).__name__}")
        self.node = node
        self.version = version
        self.hub = SubscriptionHub()
        self._followed: dict[bytes, frozenset[bytes]] = {}
        self._dropped: dict[bytes, str] = {}
        self._changed = anyio.Event()
        self._remove = node.add_action_listener(self._on_action)

    def close(self) -> None:
        """Stop listening to the node (subscriptions get nothing more)."""
        self._remove()

    # -- following the node ---------------------------------------------------------------

    def _on_action(self, action: NodeAction) -> None:
        if isinstance(action, BlockCommitted):
            self.hub.publish_block(BlockHeaderInfo.of(action.block))
            for tx in action.block.transactions:
                self._publish(tx.txid)
        elif isinstance(action, TxFinal):
            latencies = self.node.finality_latency((50.0,))
            self.hub.publish_finality(FinalityInfo.of(action.certificate, latencies.get(50.0)))
            self._publish(action.txid)
        elif isinstance(action, TxDropped):
            self._dropped[action.txid] = action.reason
            if len(self._dropped) > _FOLLOWED:
                del self._dropped[next(iter(self._dropped))]
            self._publish(action.txid)
        else:
            return
        changed, self._changed = self._changed, anyio.Event()
        changed.set()

    def _publish(self, txid: bytes) -> None:
        if txid in self._followed or self.hub.watches_txid(txid):
            info = self._status(txid)
            self.hub.publish_tx_status(info, self._followed.get(txid, ()))
            if info.status in ("confirmed", "rejected"):
                self._followed.pop(txid, None)

    def _follow(self, tx: Transaction) -> None:
        payloads = {o.payload for o in tx.outputs} | {address_payload(i.public_key) for i in tx.inputs}
        self._followed[tx.txid] = frozenset(payloads)
        if len(self._followed) > _FOLLOWED:
            del self._followed[next(iter(self._followed))]

    def _status(self, txid: bytes) -> TxStatusInfo:
        try:
            consensus = self.node.consensus
        except NodeError:
            return TxStatusInfo(txid=txid, status="unknown")
        found = consensus.chain.transaction(txid)
        if found is not None:
            height = found[1]
            return TxStatusInfo(
                txid=txid, status="confirmed", height=height, confirmations=consensus.chain.height - height + 1
            )
        certificate = consensus.certificates.get(txid)
        if certificate is not None:
            return TxStatusInfo(txid=txid, status="final", certificate=certificate.to_bytes().hex())
        if txid in consensus.pool:
            return TxStatusInfo(txid=txid, status="pending")
        reason = self._dropped.get(txid)
        if reason is not None:
            return TxStatusInfo(txid=txid, status="rejected", reason=reason)
        return TxStatusInfo(txid=txid, status="unknown")

    def _address(self, parameter: str, text: str) -> Address:
        try:
            return Address.parse(text, self.node.network)
        except TimecoinError as exc:
            raise InvalidAddressError(parameter, str(exc)) from None

    def _consensus(self) -> object:
        try:
            return self.node.consensus
        except NodeError:
            raise ShuttingDownError("the node is not running") from None

    # -- RpcBackend ------------------------------------------------------------------------

    async def getinfo(self) -> NodeInfo:
        """Network, version, height, tip, peers; ``syncing`` while a peer reports a higher height."""
        node = self.node
        statuses = node._peer_status.values()
        return NodeInfo(
            network=node.network.name,
            chain_id=node.network.chain_id,
            version=self.version,
            height=node.height,
            tip=node.tip if node.running else bytes(32),
            peers=node.peer_count(),
            syncing=any(s.height > node.height for s in statuses),
        )

    async def getblockcount(self) -> int:
        """The tip's height."""
        return self.node.height

    async def getblockhash(self, params: GetBlockHashParams) -> str:
        """The hash of the block at a height."""
        block = self.node.block(params.height)
        if block is None:
            raise NotFoundError(f"no block at height {params.height} (the tip is {self.node.height})")
        return block.hash.hex()

    async def getblock(self, params: GetBlockParams) -> BlockInfo | str:
        """A block by height or hash."""
        self._consensus()
        state = self.node.consensus.chain
        block = state.block_at(params.block) if isinstance(params.block, int) else state.block(params.block)
        if block is None:
            what = params.block if isinstance(params.block, int) else params.block.hex()
            raise NotFoundError(f"no such block {what}")
        if params.verbosity == 0:
            return block.to_bytes().hex()
        return BlockInfo.of(block, self.node.network, state.height, params.verbosity)

    async def getrawtransaction(self, params: GetRawTransactionParams) -> TransactionInfo | str:
        """A transaction of the pool or the chain."""
        self._consensus()
        consensus = self.node.consensus
        found = consensus.chain.transaction(params.txid)
        tx = found[0] if found is not None else None
        if tx is None:
            entry = consensus.pool.get(params.txid)
            tx = entry.tx if entry is not None else None
        if tx is None:
            raise NotFoundError(f"no such pool or chain transaction {params.txid.hex()}")
        return TransactionInfo.of(tx, self.node.network) if params.verbose else tx.to_bytes().hex()

    async def sendrawtransaction(self, params: SendRawTransactionParams) -> str:
        """Decode and submit a transaction to the node (verified off the loop, relayed to peers)."""
        try:
            tx = Transaction.from_bytes(bytes.fromhex(params.hexstring))
        except ValueError as exc:  # DecodeError, and bytes.fromhex's own
            detail = str(exc) if isinstance(exc, DecodeError) else "not hex"
            raise DecodeFailedError(f"transaction decode failed: {detail}") from None
        if self.node.tx_status(tx.txid).value == "confirmed":
            raise TransactionRejectedError("already-confirmed", f"{tx.txid.hex()} is in a block")
        self._follow(tx)
        try:
            await self.node.submit(tx)
        except (NodeStoppingError, NodeError) as exc:
            raise ShuttingDownError(str(exc)) from None
        except TimecoinError as exc:
            reason = getattr(exc, "code", None) or type(exc).__name__
            raise TransactionRejectedError(str(reason), str(exc)) from None
        return tx.txid.hex()

    async def gettxstatus(self, params: TxidParams) -> TxStatusInfo:
        """Where a transaction stands at this node."""
        return self._status(params.txid)

    async def waitfortxstatus(self, params: WaitForTxStatusParams) -> TxStatusInfo:
        """Wait until the status is reached (woken by the node's actions), or the timeout."""
        with anyio.move_on_after(params.timeout):
            while True:
                changed = self._changed
                info = self._status(params.txid)
                if params.reached(info.status):
                    return info
                await changed.wait()
        return self._status(params.txid)

    async def listunspent(self, params: ListUnspentParams) -> UnspentPage:
        """A page of an address's coins (the pool's view: final spends count)."""
        address = self._address("address", params.address)
        self._consensus()
        async with self.node.quiescent():
            page = self.node.consensus.pool.utxos.coins_of(address.payload, params.after(), params.limit)
            return UnspentPage.of(page.coins, page.next_cursor, self.node.network)

    async def getbalance(self, params: GetBalanceParams) -> BalanceInfo:
        """An address's balance (the pool's view)."""
        address = self._address("address", params.address)
        self._consensus()
        async with self.node.quiescent():
            return BalanceInfo.of(str(address), self.node.consensus.pool.utxos.balance(address.payload))

    async def getmempoolinfo(self) -> MempoolInfo:
        """The node's pool."""
        self._consensus()
        consensus = self.node.consensus
        pool = consensus.pool
        return MempoolInfo(
            size=len(pool),
            bytes=pool.total_bytes,
            final=pool.final_count,
            pending=pool.pending_count,
            max_bytes=consensus.config.pool_max_bytes,
            max_count=consensus.config.pool_max_count,
            min_fee_per_kb=self.node.network.min_fee_per_kb,
        )

    async def getpeerinfo(self) -> list[PeerInfo]:
        """Every ready peer (no secrets: identity keys are public)."""
        manager = self.node._manager
        if manager is None:
            return []
        now = time.monotonic()
        voting = self.node.consensus.finality.voting_set
        out = []
        for identity, connection in manager.ready.items():
            session = connection.session
            hello = session.peer_hello
            counters = session.counters
            status = self.node._peer_status.get(identity)
            out.append(
                PeerInfo(
                    id=connection.peer_id,
                    address=f"{connection.host}:{connection.port}",
                    inbound=connection.inbound,
                    operator=identity.hex() if identity in voting else None,
                    user_agent=hello.user_agent if hello is not None else "",
                    height=status.height if status is not None else None,
                    connected_seconds=max(0.0, now - connection.connected_at),
                    ping_seconds=session.ping_rtt,
                    bytes_sent=counters.get("bytes.tx", 0),
                    bytes_received=counters.get("bytes.rx", 0),
                )
            )
        return out

    async def getmasternodes(self) -> list[MasternodeInfo]:
        """The registry."""
        self._consensus()
        async with self.node.quiescent():
            return self._masternodes()

    def _masternodes(self) -> list[MasternodeInfo]:
        consensus = self.node.consensus
        registry = consensus.registry
        voting = registry.voting_set_for_height(consensus.chain.height + 1)
        active = {m.operator for m in registry.active()}
        return [
            MasternodeInfo.of(
                m,
                self.node.network,
                active=m.operator in active,
                banned=registry.is_banned(m.operator),
                weight=voting.weight(m.operator),
            )
            for m in registry.masternodes()
        ]

    async def getconsensusinfo(self) -> ConsensusInfo:
        """The block round in progress, the voting set and the finality latency."""
        self._consensus()
        async with self.node.quiescent():
            return self._consensus_info()

    def _consensus_info(self) -> ConsensusInfo:
        consensus = self.node.consensus
        bft = consensus.bft
        voting = consensus.registry.voting_set_for_height(consensus.chain.height + 1)
        total = voting.total
        height = consensus.chain.height + 1
        current = bft.height == height
        latencies = list(self.node._latencies)
        return ConsensusInfo(
            height=height,
            round=bft.round if current else 0,
            step=_STEPS[bft.step] if current else "propose",  # type: ignore[arg-type]
            epoch=voting.epoch,
            voting_set=[VoterInfo(operator=k.hex(), weight=w) for k, w in voting.weights.items()],
            total_weight=total,
            quorum_weight=(2 * total + 2) // 3,
            finality_latency=LatencySummary.of(latencies),
        )

    async def stop(self) -> None:
        """Begin the node's graceful shutdown."""
        self.node.stop()

    def subscribe(self, topic: SubscribeParams, deliver: Deliver) -> Unsubscribe:
        """Register ``deliver`` for ``topic`` (a txid subscription gets the current status at once)."""
        if topic.topic == "newBlocks":
            return self.hub.add_blocks(deliver)
        if topic.topic == "finality":
            return self.hub.add_finality(deliver)
        assert topic.filter is not None
        if topic.filter.address is not None:
            return self.hub.add_address(self._address("address", topic.filter.address).payload, deliver)
        txid = topic.filter.txid
        assert txid is not None
        remove = self.hub.add_txid(txid, deliver)
        info = self._status(txid)
        if info.status != "unknown":
            deliver(info)
        return remove



