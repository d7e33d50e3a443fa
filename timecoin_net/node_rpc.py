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
``conflicted`` (a rival spends one of its coins: the rivals, and whether the contest is
deadlocked), ``pending`` (in the pool), ``rejected`` (the node dropped it; ``reason`` says why),
``unknown``. The finality latency summary is the node's own (first sight to final).
"""

from __future__ import annotations

import time

import anyio

from timecoin_core.consensus import BlockCommitted, NodeAction, TxDropped, TxFinal, TxState
from timecoin_core.errors import InvalidArgumentError, TimecoinError
from timecoin_core.keys import Address
from timecoin_core.transaction import Transaction

from .node import Node, NodeError, NodeStoppingError
from .rpc import views
from .rpc.backend import Deliver, SubscriptionHub, Unsubscribe
from .rpc.errors import (
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
    WaitForTxStatusParams,
)

__all__ = ["NodeBackend"]

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
        self._followed[tx.txid] = views.payloads_of(tx)
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
        tracked = consensus.finality.state(txid)
        if tracked is TxState.LOST:
            return TxStatusInfo(txid=txid, status="rejected", reason="conflict-final")
        contest = consensus.contest(txid)
        if contest is not None and tracked is not None:
            return TxStatusInfo(
                txid=txid, status="conflicted", conflicts=list(contest.rivals), deadlocked=contest.deadlocked
            )
        if txid in consensus.pool:
            return TxStatusInfo(txid=txid, status="pending")
        reason = self._dropped.get(txid)
        if reason is not None:
            return TxStatusInfo(txid=txid, status="rejected", reason=reason)
        return TxStatusInfo(txid=txid, status="unknown")

    def _address(self, parameter: str, text: str) -> Address:
        return views.parse_address(self.node.network, parameter, text)

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
        return views.block(self.node.consensus, params)

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
        tx = views.decode_transaction(params.hexstring)
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
        return await views.wait_for_status(params, lambda: self._status(params.txid), lambda: self._changed)

    async def listunspent(self, params: ListUnspentParams) -> UnspentPage:
        """A page of an address's coins (the pool's view: final spends count)."""
        address = self._address("address", params.address)
        self._consensus()
        async with self.node.quiescent():
            return views.unspent(self.node.consensus, address, params)

    async def getbalance(self, params: GetBalanceParams) -> BalanceInfo:
        """An address's balance (the pool's view)."""
        address = self._address("address", params.address)
        self._consensus()
        async with self.node.quiescent():
            return views.balance(self.node.consensus, address)

    async def getmempoolinfo(self) -> MempoolInfo:
        """The node's pool."""
        self._consensus()
        return views.mempool_info(self.node.consensus)

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
            return views.masternodes(self.node.consensus)

    async def getconsensusinfo(self) -> ConsensusInfo:
        """The block round in progress, the voting set and the finality latency."""
        self._consensus()
        async with self.node.quiescent():
            return views.consensus_info(self.node.consensus, list(self.node._latencies))

    async def stop(self) -> None:
        """Begin the node's graceful shutdown."""
        self.node.stop()

    def subscribe(self, topic: SubscribeParams, deliver: Deliver) -> Unsubscribe:
        """Register ``deliver`` for ``topic`` (a txid subscription gets the current status at once)."""
        return views.subscribe(self.hub, topic, deliver, self.node.network, self._status)
