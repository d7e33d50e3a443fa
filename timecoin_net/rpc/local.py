"""LocalChainBackend: the RPC backend over an in-memory :class:`~timecoin_core.testing.LocalChain`.

For tests and for anyone who wants a JSON-RPC endpoint on a test chain::

    chain = LocalChain(masternodes=4)
    backend = LocalChainBackend(chain)
    async with RpcServer(backend, RpcServerConfig(datadir=tmp)) as server:
        ...

Every query answers from the chain's first masternode. LocalChain is synchronous and
has no hooks, so the backend notices changes by looking after each operation it runs
(:meth:`LocalChainBackend.refresh`): new blocks, and status changes of the transactions
it follows (those submitted through it, those a subscriber asked about, and every
transaction in the pool). A test that drives the chain directly calls
:meth:`~LocalChainBackend.refresh` (or uses :meth:`~LocalChainBackend.produce_block`,
:meth:`~LocalChainBackend.finalize`, :meth:`~LocalChainBackend.advance`, which do).

LocalChain is synchronous: each method runs the chain on the event loop (a
transaction's finality round trip among four masternodes takes milliseconds of CPU),
which suits tests and demos, not a busy server.

Finality latency is measured on the chain's virtual clock, from submission through this
backend to the first look that finds the transaction final.
"""

from __future__ import annotations

from collections import deque

import anyio

from timecoin_core.errors import InvalidArgumentError
from timecoin_core.keys import Address
from timecoin_core.mempool import PoolError
from timecoin_core.testing import AlreadyConfirmedError, LocalChain, Receipt
from timecoin_core.transaction import Transaction
from timecoin_core.validation import TransactionError

from . import views
from .backend import Deliver, SubscriptionHub, Unsubscribe
from .errors import NotFoundError, TransactionRejectedError
from .models import (
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
    TxStatusName,
    UnspentPage,
    WaitForTxStatusParams,
)

__all__ = ["LocalChainBackend"]

_TERMINAL = frozenset({"confirmed", "rejected"})
_NAMES: dict[str, TxStatusName] = {
    "unknown": "unknown",
    "pending": "pending",
    # Contested by a rival spend: not final, maybe never (see ``deadlocked``).
    "conflicted": "conflicted",
    "final": "final",
    "confirmed": "confirmed",
    "rejected": "rejected",
}


def _status_name(receipt: Receipt) -> TxStatusName:
    """The RPC status of a LocalChain receipt (a status the RPC does not know reads as pending)."""
    return _NAMES.get(str(receipt.status.value), "pending")


class LocalChainBackend:
    """An :class:`~timecoin_net.rpc.RpcBackend` answering from ``chain`` (see the module docs).

    ``version`` is what ``getinfo`` reports. :attr:`stop_requested` is set by the ``stop``
    method.

    :raises InvalidArgumentError: ``chain`` is not a LocalChain.
    """

    def __init__(self, chain: LocalChain, *, version: str = "timecoin-localchain") -> None:
        if not isinstance(chain, LocalChain):
            raise InvalidArgumentError("chain", f"expected a LocalChain, got {type(chain).__name__}")
        self.chain = chain
        self.version = version
        self.hub = SubscriptionHub()
        self.stop_requested = anyio.Event()
        """Set when a client called ``stop``."""
        self._height = chain.height
        self._known: dict[bytes, TxStatusName] = {}
        self._payloads: dict[bytes, frozenset[bytes]] = {}
        self._submitted: dict[bytes, float] = {}
        self._latencies: deque[float] = deque(maxlen=1_000)
        self._changed = anyio.Event()

    # -- following the chain ---------------------------------------------------------------

    def refresh(self) -> None:
        """Look at the chain and publish what changed since the last look."""
        chain = self.chain
        node = chain.node
        for entry in node.pool:
            if entry.txid not in self._known:
                self._follow(entry.tx)
        while self._height < chain.height:
            self._height += 1
            block = chain.block(self._height)
            assert block is not None
            self.hub.publish_block(BlockHeaderInfo.of(block))
        for txid in list(self._known):
            receipt = chain.receipt(txid)
            status = _status_name(receipt)
            before = self._known[txid]
            if status == before:
                continue
            info = self._status_info(receipt)
            if status in ("final", "confirmed") and before not in ("final", "confirmed"):
                self._on_final(txid, receipt)
            self.hub.publish_tx_status(info, self._payloads.get(txid, ()))
            if status in _TERMINAL:
                # Nothing more can happen to it: stop following (bounded memory).
                del self._known[txid]
                self._payloads.pop(txid, None)
                self._submitted.pop(txid, None)
            else:
                self._known[txid] = status
        changed, self._changed = self._changed, anyio.Event()
        changed.set()

    def _follow(self, tx: Transaction) -> None:
        self._known.setdefault(tx.txid, "unknown")
        self._payloads[tx.txid] = views.payloads_of(tx)

    def _on_final(self, txid: bytes, receipt: Receipt) -> None:
        submitted = self._submitted.pop(txid, None)
        latency = None if submitted is None else max(0.0, self.chain.clock.now() - submitted)
        if latency is not None:
            self._latencies.append(latency)
        if receipt.certificate is not None:
            self.hub.publish_finality(FinalityInfo.of(receipt.certificate, latency))

    def _status_info(self, receipt: Receipt) -> TxStatusInfo:
        certificate = receipt.certificate
        return TxStatusInfo(
            txid=receipt.txid,
            status=_status_name(receipt),
            height=receipt.height,
            confirmations=receipt.confirmations,
            certificate=None if certificate is None else certificate.to_bytes().hex(),
            reason=receipt.reason,
            conflicts=list(receipt.conflicts),
            deadlocked=receipt.deadlocked,
        )

    def produce_block(self) -> None:
        """Commit a block on the chain and publish what it changed."""
        self.chain.produce_block()
        self.refresh()

    def finalize(self) -> None:
        """Finalize held transactions (manual-finality chains) and publish what changed."""
        self.chain.finalize()
        self.refresh()

    def advance(self, seconds: float) -> None:
        """Move the chain's clock forward (firing due timers) and publish what changed."""
        self.chain.advance(seconds)
        self.refresh()

    # -- helpers ---------------------------------------------------------------------------

    def _address(self, parameter: str, text: str) -> Address:
        return views.parse_address(self.chain.network, parameter, text)

    def _transaction(self, txid: bytes) -> Transaction:
        tx = self.chain.transaction(txid)
        if tx is None:
            raise NotFoundError(f"no such pool or chain transaction {txid.hex()}")
        return tx

    # -- RpcBackend ------------------------------------------------------------------------

    async def getinfo(self) -> NodeInfo:
        """Network, version, height, tip; the other masternodes count as peers."""
        chain = self.chain
        return NodeInfo(
            network=chain.network.name,
            chain_id=chain.network.chain_id,
            version=self.version,
            height=chain.height,
            tip=chain.node.chain.tip.hash,
            peers=len(chain.nodes) - 1,
            syncing=False,
        )

    async def getblockcount(self) -> int:
        """The tip's height."""
        return self.chain.height

    async def getblockhash(self, params: GetBlockHashParams) -> str:
        """The hash of the block at a height."""
        block = self.chain.block(params.height)
        if block is None:
            raise NotFoundError(f"no block at height {params.height} (the tip is {self.chain.height})")
        return block.hash.hex()

    async def getblock(self, params: GetBlockParams) -> BlockInfo | str:
        """A block by height or hash."""
        return views.block(self.chain.node, params)

    async def getrawtransaction(self, params: GetRawTransactionParams) -> TransactionInfo | str:
        """A transaction of the pool or the chain."""
        tx = self._transaction(params.txid)
        return TransactionInfo.of(tx, self.chain.network) if params.verbose else tx.to_bytes().hex()

    async def sendrawtransaction(self, params: SendRawTransactionParams) -> str:
        """Decode and submit a transaction to the first masternode."""
        tx = views.decode_transaction(params.hexstring)
        chain = self.chain
        self._follow(tx)
        self._submitted.setdefault(tx.txid, chain.clock.now())
        try:
            chain.submit(tx)
        except AlreadyConfirmedError as exc:
            raise TransactionRejectedError("already-confirmed", str(exc)) from None
        except (TransactionError, PoolError) as exc:
            reason = getattr(exc, "code", None) or type(exc).__name__
            raise TransactionRejectedError(str(reason), str(exc)) from None
        finally:
            self.refresh()
        return tx.txid.hex()

    async def gettxstatus(self, params: TxidParams) -> TxStatusInfo:
        """Where a transaction stands at the first masternode."""
        return self._status_info(self.chain.receipt(params.txid))

    async def waitfortxstatus(self, params: WaitForTxStatusParams) -> TxStatusInfo:
        """Wait (real time) until the status is reached; changes come from operations on the chain."""
        return await views.wait_for_status(
            params, lambda: self._status_info(self.chain.receipt(params.txid)), lambda: self._changed
        )

    async def listunspent(self, params: ListUnspentParams) -> UnspentPage:
        """A page of an address's coins at the first masternode."""
        return views.unspent(self.chain.node, self._address("address", params.address), params)

    async def getbalance(self, params: GetBalanceParams) -> BalanceInfo:
        """An address's balance at the first masternode."""
        return views.balance(self.chain.node, self._address("address", params.address))

    async def getmempoolinfo(self) -> MempoolInfo:
        """The first masternode's pool."""
        return views.mempool_info(self.chain.node)

    async def getpeerinfo(self) -> list[PeerInfo]:
        """The other in-process masternodes, as peers of the first."""
        return [
            PeerInfo(
                id=index,
                address=f"localchain:{index}",
                inbound=False,
                operator=node.operator.hex() if node.operator is not None else None,
                user_agent=self.version,
                height=node.chain.height,
            )
            for index, node in enumerate(self.chain.nodes)
            if index > 0
        ]

    async def getmasternodes(self) -> list[MasternodeInfo]:
        """The registry of the first masternode."""
        return views.masternodes(self.chain.node)

    async def getconsensusinfo(self) -> ConsensusInfo:
        """The first masternode's block round and voting set."""
        return views.consensus_info(self.chain.node, self._latencies)

    async def stop(self) -> None:
        """Set :attr:`stop_requested`; the host decides what stopping means."""
        self.stop_requested.set()

    def subscribe(self, topic: SubscribeParams, deliver: Deliver) -> Unsubscribe:
        """Register ``deliver`` for ``topic`` (a txid subscription gets the current status at once)."""
        return views.subscribe(self.hub, topic, deliver, self.chain.network, self._watch)

    def _watch(self, txid: bytes) -> TxStatusInfo:
        # A subscriber's transaction is followed from now on, until it settles for good.
        receipt = self.chain.receipt(txid)
        status = _status_name(receipt)
        if status not in _TERMINAL and status != "unknown":
            tx = self.chain.transaction(txid)
            if tx is not None:
                self._follow(tx)
            self._known[txid] = status
        return self._status_info(receipt)
