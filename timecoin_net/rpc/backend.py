"""What the RPC server needs from a node: the :class:`RpcBackend` protocol.

Theory of operation
-------------------
The server knows nothing of peers, stores or engines: it validates a request into a
parameter model (:mod:`timecoin_net.rpc.models`), awaits the backend's method of the
same name, and serializes the result. A backend reports failures with the typed
:class:`~timecoin_net.rpc.errors.BackendError` family; the server maps them to JSON-RPC
codes. ``timecoin_net.Node`` implements this protocol for a running node;
:class:`~timecoin_net.rpc.LocalChainBackend` implements it over the in-memory
:class:`~timecoin_core.testing.LocalChain`.

Subscriptions are a callback registry: :meth:`RpcBackend.subscribe` registers a
``deliver`` callback for a topic and returns the function that removes it. ``deliver``
is synchronous, called on the event loop, and never blocks (the server puts the
notification on the connection's bounded queue, and closes a connection whose queue is
full). :class:`SubscriptionHub` does the bookkeeping for a backend: register, and call
``publish_*`` when a block commits or a transaction changes status.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Protocol, runtime_checkable

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
    Notification,
    PeerInfo,
    SendRawTransactionParams,
    SubscribeParams,
    TransactionInfo,
    TxidParams,
    TxStatusInfo,
    UnspentPage,
    WaitForTxStatusParams,
)

__all__ = ["Deliver", "RpcBackend", "SubscriptionHub", "Unsubscribe"]

_log = logging.getLogger(__name__)

Deliver = Callable[[Notification], None]
"""A subscriber's callback: synchronous, non-blocking, called on the event loop."""

Unsubscribe = Callable[[], None]
"""Removes one subscription; calling it twice is harmless."""


@runtime_checkable
class RpcBackend(Protocol):
    """The node as the RPC server sees it: one async method per JSON-RPC method.

    Methods with parameters take the validated parameter model; results are result
    models, or JSON scalars where bitcoind answers with one (a count, a hash, a hex
    string). Raise :class:`~timecoin_net.rpc.errors.BackendError` subclasses for
    failures: :class:`~timecoin_net.rpc.errors.NotFoundError`,
    :class:`~timecoin_net.rpc.errors.InvalidAddressError`,
    :class:`~timecoin_net.rpc.errors.InvalidParameterError`,
    :class:`~timecoin_net.rpc.errors.DecodeFailedError`,
    :class:`~timecoin_net.rpc.errors.TransactionRejectedError`,
    :class:`~timecoin_net.rpc.errors.ShuttingDownError`.
    """

    async def getinfo(self) -> NodeInfo:
        """Network, version, height, tip, peer count, whether the node is syncing."""
        ...

    async def getblockcount(self) -> int:
        """The height of the last committed block."""
        ...

    async def getblockhash(self, params: GetBlockHashParams) -> str:
        """The hex hash of the committed block at ``params.height`` (``NotFoundError`` above the tip)."""
        ...

    async def getblock(self, params: GetBlockParams) -> BlockInfo | str:
        """A committed block by height or hash: hex for verbosity 0, else :class:`BlockInfo`."""
        ...

    async def getrawtransaction(self, params: GetRawTransactionParams) -> TransactionInfo | str:
        """A transaction of the pool or the chain: hex, or :class:`TransactionInfo` if verbose."""
        ...

    async def sendrawtransaction(self, params: SendRawTransactionParams) -> str:
        """Submit a hex transaction; returns its txid. Refusals are typed (-22, -25, -26, -27)."""
        ...

    async def gettxstatus(self, params: TxidParams) -> TxStatusInfo:
        """Where a transaction stands: pending, final, confirmed, rejected or unknown."""
        ...

    async def waitfortxstatus(self, params: WaitForTxStatusParams) -> TxStatusInfo:
        """Wait until the transaction reaches ``params.status`` (see the model), then answer its status."""
        ...

    async def listunspent(self, params: ListUnspentParams) -> UnspentPage:
        """One page of an address's live coins."""
        ...

    async def getbalance(self, params: GetBalanceParams) -> BalanceInfo:
        """An address's confirmed, finalized and pending amounts."""
        ...

    async def getmempoolinfo(self) -> MempoolInfo:
        """The transaction pool's size and limits."""
        ...

    async def getpeerinfo(self) -> list[PeerInfo]:
        """The connected peers."""
        ...

    async def getmasternodes(self) -> list[MasternodeInfo]:
        """The registered masternodes."""
        ...

    async def getconsensusinfo(self) -> ConsensusInfo:
        """The block round in progress, the voting set and finality latency percentiles."""
        ...

    async def stop(self) -> None:
        """Ask the node to shut down, and return at once.

        It must not wait for the shutdown: the server answers this very request first,
        and the node's shutdown closes the server, which waits for that answer.
        """
        ...

    def subscribe(self, topic: SubscribeParams, deliver: Deliver) -> Unsubscribe:
        """Call ``deliver`` with every notification of ``topic`` until the result is called.

        A ``txStatus`` subscription to one txid delivers that transaction's current
        status at once when it is known, so subscribing after submitting misses nothing.
        Raises :class:`~timecoin_net.rpc.errors.InvalidAddressError` for an address of
        another network.
        """
        ...


class SubscriptionHub:
    """The subscriber lists of a backend, by topic, txid and address payload.

    A backend registers subscribers with :meth:`add_blocks`, :meth:`add_finality`,
    :meth:`add_txid` and :meth:`add_address`, and publishes with the ``publish_*``
    methods. A callback that raises is logged and removed (it is a bug in the
    subscriber, and must not stop delivery to the others).
    """

    def __init__(self) -> None:
        self._blocks: dict[int, Deliver] = {}
        self._finality: dict[int, Deliver] = {}
        self._txids: dict[bytes, dict[int, Deliver]] = {}
        self._addresses: dict[bytes, dict[int, Deliver]] = {}
        self._next = 0

    def __len__(self) -> int:
        return (
            len(self._blocks)
            + len(self._finality)
            + sum(map(len, self._txids.values()))
            + sum(map(len, self._addresses.values()))
        )

    def _add(self, table: dict[int, Deliver], deliver: Deliver, on_empty: Callable[[], None] | None = None) -> Unsubscribe:
        self._next += 1
        key = self._next
        table[key] = deliver

        def remove() -> None:
            table.pop(key, None)
            if not table and on_empty is not None:
                on_empty()

        return remove

    def _add_keyed(self, index: dict[bytes, dict[int, Deliver]], key: bytes, deliver: Deliver) -> Unsubscribe:
        table = index.setdefault(key, {})

        def drop() -> None:
            if index.get(key) is table:
                del index[key]

        return self._add(table, deliver, drop)

    def add_blocks(self, deliver: Deliver) -> Unsubscribe:
        """Subscribe ``deliver`` to every committed block."""
        return self._add(self._blocks, deliver)

    def add_finality(self, deliver: Deliver) -> Unsubscribe:
        """Subscribe ``deliver`` to every transaction that becomes final."""
        return self._add(self._finality, deliver)

    def add_txid(self, txid: bytes, deliver: Deliver) -> Unsubscribe:
        """Subscribe ``deliver`` to status changes of ``txid``."""
        return self._add_keyed(self._txids, txid, deliver)

    def add_address(self, payload: bytes, deliver: Deliver) -> Unsubscribe:
        """Subscribe ``deliver`` to status changes of transactions paying to or spending from ``payload``."""
        return self._add_keyed(self._addresses, payload, deliver)

    def watches_txid(self, txid: bytes) -> bool:
        """Whether someone follows ``txid`` by its id."""
        return txid in self._txids

    def watches_address(self, payload: bytes) -> bool:
        """Whether someone follows the address ``payload``."""
        return payload in self._addresses

    def publish_block(self, header: BlockHeaderInfo) -> None:
        """Deliver a committed block to the ``newBlocks`` subscribers."""
        self._deliver(self._blocks, header)

    def publish_finality(self, info: FinalityInfo) -> None:
        """Deliver a newly final transaction to the ``finality`` subscribers."""
        self._deliver(self._finality, info)

    def publish_tx_status(self, info: TxStatusInfo, payloads: Iterable[bytes] = ()) -> None:
        """Deliver a status change to the subscribers of its txid and of every address in ``payloads``."""
        table = self._txids.get(info.txid)
        if table is not None:
            self._deliver(table, info)
        for payload in set(payloads):
            table = self._addresses.get(payload)
            if table is not None:
                self._deliver(table, info)

    def _deliver(self, table: dict[int, Deliver], notification: Notification) -> None:
        for key, deliver in list(table.items()):
            try:
                deliver(notification)
            except Exception:
                _log.exception("a subscriber's callback failed; it is removed")
                table.pop(key, None)
