"""``Node``: one Timecoin node on anyio — consensus, store, verifier, peers and timers in one task group.

Theory of operation
-------------------
A :class:`Node` composes the sans-IO pieces and adds only I/O and time:

* one **consensus task** owns the :class:`~timecoin_core.consensus.ConsensusNode`
  through its :class:`~timecoin_core.consensus.driver.Driver`. It takes one item at a
  time from the node's bounded inbox (peer events, client transactions) or, when the
  driver's next deadline passes, fires due timers. For a consensus message it first
  gets the message's signature checks (``ConsensusNode.signature_checks``) verified off
  the event loop, in a worker thread that waits on the pluggable verifier
  (``node.verifier.submit_many``: the default :class:`~timecoin_core.verify.ProcessVerifier`
  verifies in other processes), then calls ``handle``, which answers them from the
  verifier's cache. Timers run on ``time.monotonic()``, block timestamps on ``time.time()``;
* it carries out the actions **in order**: a durable one (a finality vote, a signed
  block vote, a committed block, a final transaction) is written to the store
  (:func:`~timecoin_core.consensus.driver.persist_action`, in a shielded scope: a store
  write is never cancelled) before any later action goes out; ``Broadcast`` goes to
  every ready peer but ``exclude`` through the gossip layer (consensus messages pushed
  to peers that neither sent nor were sent them; transactions announced by ``Inv`` and
  fetched with ``GetData``); ``SendTo`` to one peer; ``Penalize`` disconnects and
  discourages;
* the **connection manager** (:class:`~timecoin_net.peers.PeerManager`) runs the
  listener, the dialers and per-connection reader, writer, timer and forwarder tasks
  (:mod:`timecoin_net.connection`). Each peer's decoded messages wait in that peer's
  bounded stream, then in the node's bounded inbox: a flood fills the flooder's own
  stream and stalls its reader, never the node's memory, and pings are answered by the
  sessions whatever the consensus task is doing.

Restart is :func:`~timecoin_core.store.load_node_state` and
:meth:`ConsensusNode.restore`: every run starts from the store, so a node stopped or
killed resumes with the votes it signed and cannot sign conflicting ones.

Shutdown (:meth:`Node.stop`, in NETWORK.md's order): close the listener and stop
dialling; refuse new transactions (:class:`NodeStoppingError`, RPC code -28); stop
feeding the consensus task (it finishes the event in hand, its actions and store
writes shielded, within ``shutdown_timeout``); close every session with a ``Goodbye``
after its queued messages (``flush_timeout``); persist the address book and bans;
close the store (the node owns it) and, if the node made it, the verifier.
``run()`` then returns. A caller that cancels ``run()`` instead gets the same store
writes (shielded) without the flush.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from types import MappingProxyType

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from timecoin_core.block import Block
from timecoin_core.consensus import (
    BlockCommitted,
    ConsensusNode,
    NodeAction,
    NodeConfig,
    NodeEvent,
    TxDropped,
    TxFinal,
)
from timecoin_core.consensus.bft_messages import BlockVote, Commit, DoubleVoteEvidence, Proposal
from timecoin_core.consensus.driver import Driver, is_durable, persist_action
from timecoin_core.consensus.finality_messages import (
    ConflictingVotesEvidence,
    FinalityCertificate,
    VoteBatch,
)
from timecoin_core.consensus.sansio import Broadcast, Penalize, SendTo
from timecoin_core.errors import InvalidArgumentError, TimecoinError
from timecoin_core.hashing import sha256
from timecoin_core.keys import PrivateKey
from timecoin_core.network import Network
from timecoin_core.store import BanRecord, PeerRecord, Store, load_node_state
from timecoin_core.transaction import Transaction
from timecoin_core.verify import ProcessVerifier, SignatureCheck, ThreadVerifier, Verifier
from timecoin_core.wire import (
    Addr,
    Blocks,
    Finals,
    GetAddr,
    GetBlocks,
    GetData,
    GetFinals,
    GetStatus,
    HandshakeComplete,
    Inv,
    InventoryTracker,
    InvItem,
    InvKind,
    Message,
    MessageReceived,
    NotFound,
    PeerAddress,
    RelayFilter,
    SessionConfig,
    Status,
    encode_message,
)

from .connection import Connection, PeerClosed, PeerEvent
from .metrics import NodeMetrics
from .peers import PeerManager
from .settings import RuntimeSettings
from .transport import TcpTransport, Transport

__all__ = ["Node", "NodeError", "NodeStoppingError", "RuntimeSettings", "TransactionStatus"]

log = logging.getLogger("timecoin_net.node")

_CONSENSUS_TYPES = (
    Transaction,
    VoteBatch,
    FinalityCertificate,
    Proposal,
    BlockVote,
    Commit,
    DoubleVoteEvidence,
    ConflictingVotesEvidence,
)
_BLOCK_MESSAGES = (Proposal, BlockVote, Commit)
"""Messages that can decide a height (apply a block): always handled in a worker thread."""
_LATENCY_SAMPLES = 10_000


class NodeError(TimecoinError):
    """A node used wrongly (run twice, asked before it started)."""


class NodeStoppingError(NodeError):
    """The node is shutting down and refuses new work; ``code`` is the RPC error code (-28)."""

    code = -28


class TransactionStatus(StrEnum):
    """What a node knows of a transaction."""

    UNKNOWN = "unknown"
    """Never seen, or dropped."""
    PENDING = "pending"
    """In the pool, not final yet."""
    FINAL = "final"
    """Final (a finality certificate exists), not yet in a block."""
    CONFIRMED = "confirmed"
    """In a committed block."""


@dataclass(slots=True)
class _Submission:
    tx: Transaction
    done: anyio.Event = field(default_factory=anyio.Event)
    error: BaseException | None = None


_Item = PeerEvent | PeerClosed | _Submission


class Node:
    """A Timecoin node: consensus, store, verifier and peers on one anyio task group.

    ``identity`` is the node's persistent key. A masternode's wire identity is its
    operator key ``masternode_key`` (NETWORK.md: peers recognise masternodes by it);
    other nodes present ``identity``. The node takes ownership of ``store`` and closes
    it when :meth:`run` returns. ``listen=None`` makes an outbound-only node; ``peers``
    are dialled and kept connected. ``verifier`` defaults to a
    :class:`~timecoin_core.verify.ProcessVerifier` the node makes and closes.
    ``transport`` defaults to TCP (tests pass :class:`timecoin_net.testing.MemoryNetwork`'s).
    ``metrics`` defaults to a fresh :class:`~timecoin_net.NodeMetrics` (:attr:`metrics`).

    :raises InvalidArgumentError: an argument of the wrong type.
    """

    def __init__(
        self,
        network: Network,
        *,
        identity: PrivateKey,
        masternode_key: PrivateKey | None,
        store: Store,
        listen: tuple[str, int] | None = ("127.0.0.1", 0),
        peers: Sequence[tuple[str, int]] = (),
        verifier: Verifier | None = None,
        settings: RuntimeSettings | None = None,
        transport: Transport | None = None,
        consensus_config: NodeConfig | None = None,
        metrics: NodeMetrics | None = None,
    ) -> None:
        if not isinstance(network, Network):
            raise InvalidArgumentError("network", "expected a Network")
        if not isinstance(identity, PrivateKey):
            raise InvalidArgumentError("identity", "expected a PrivateKey")
        if masternode_key is not None and not isinstance(masternode_key, PrivateKey):
            raise InvalidArgumentError("masternode_key", "expected a PrivateKey or None")
        if settings is not None and not isinstance(settings, RuntimeSettings):
            raise InvalidArgumentError("settings", "expected RuntimeSettings or None")
        if listen is not None and not _is_address(listen):
            raise InvalidArgumentError("listen", "expected (host, port) or None")
        peers = tuple(peers)
        for peer in peers:
            if not _is_address(peer):
                raise InvalidArgumentError("peers", f"expected (host, port) pairs, got {peer!r}")
        self.network = network
        self.identity = identity
        self.masternode_key = masternode_key
        self.store = store
        self.listen = listen
        self.peers = peers
        self.settings = settings if settings is not None else RuntimeSettings()
        # Built now so that a bad setting fails here, not when the first peer connects.
        self.settings.session_config()
        self.settings.policy_config()
        self._wire_key = masternode_key if masternode_key is not None else identity
        self._verifier = verifier
        self._own_verifier = verifier is None
        self._transport: Transport = transport if transport is not None else TcpTransport()
        self._consensus_config = consensus_config
        self.metrics = metrics if metrics is not None else NodeMetrics()
        """The node's Prometheus metrics (its own registry; serve them with :class:`~timecoin_net.MetricsServer`)."""
        self._started = False
        self._stopping = False
        self._stop_event: anyio.Event | None = None
        self._bound: tuple[str, int] | None = None
        self._driver: Driver | None = None
        self._manager: PeerManager | None = None
        self._inbox: MemoryObjectSendStream[_Item] | None = None
        self._counters: Counter[str] = Counter()
        self._first_seen: OrderedDict[bytes, float] = OrderedDict()
        self._latencies: deque[float] = deque(maxlen=_LATENCY_SAMPLES)
        self._final: OrderedDict[bytes, None] = OrderedDict()
        self._tx_bodies: OrderedDict[bytes, Transaction] = OrderedDict()
        self._pending_inv: dict[bytes, list[InvItem]] = {}
        self._next_inv_flush = 0.0
        self._peer_status: dict[bytes, Status] = {}
        self._status_sent: dict[bytes, float] = {}
        self._next_status = 0.0
        self._next_expiry = 0.0
        self._relay = RelayFilter(self.settings.relay_ttl)
        self._inventory = InventoryTracker(timeout=self.settings.inventory_timeout)
        self._stopped = False
        self._listeners: dict[int, Callable[[NodeAction], None]] = {}
        self._state_lock_: anyio.Lock | None = None
        self._next_listener = 0

    @property
    def _state_lock(self) -> anyio.Lock:
        # Made on first use: an anyio.Lock belongs to the running event loop.
        if self._state_lock_ is None:
            self._state_lock_ = anyio.Lock()
        return self._state_lock_

    # -- read-only views (tests, RPC, devnet status) ------------------------------------------

    @property
    def consensus(self) -> ConsensusNode:
        """The running :class:`ConsensusNode` (read it, never feed it: the node's task does).

        :raises NodeError: the node has not started.
        """
        if self._driver is None:
            raise NodeError("the node has not started")
        return self._driver.node

    @property
    def address(self) -> tuple[str, int] | None:
        """The bound p2p address once listening, else ``None``."""
        return self._bound

    @property
    def running(self) -> bool:
        """True from start-up until shutdown begins."""
        return self._started and not self._stopping and not self._stopped

    @property
    def height(self) -> int:
        """Height of the committed chain (0 before start)."""
        return 0 if self._driver is None else self._driver.node.chain.height

    @property
    def tip(self) -> bytes:
        """Hash of the committed tip (the genesis hash before blocks)."""
        return self.consensus.chain.tip.hash

    @property
    def utxo_commitment(self) -> bytes:
        """The UTXO-set commitment at the tip (equal on nodes that agree)."""
        return self.consensus.chain.utxos.commitment()

    @property
    def wire_identity(self) -> bytes:
        """The identity key this node presents to peers (its ``PeerId`` at them)."""
        return self._wire_key.public_key.data

    def peer_count(self) -> int:
        """Peers with a completed handshake."""
        return 0 if self._manager is None else self._manager.peer_count()

    def peer_identities(self) -> list[bytes]:
        """Identity keys of the ready peers."""
        return [] if self._manager is None else list(self._manager.ready)

    def block(self, height: int) -> Block | None:
        """The committed block at ``height``, if any."""
        return None if self._driver is None else self._driver.node.chain.block_at(height)

    def tx_status(self, txid: bytes) -> TransactionStatus:
        """What this node knows of ``txid``."""
        if self._driver is None:
            return TransactionStatus.UNKNOWN
        node = self._driver.node
        if node.chain.transaction(txid) is not None:
            return TransactionStatus.CONFIRMED
        if txid in self._final or txid in node.certificates:
            return TransactionStatus.FINAL
        if txid in node.pool:
            return TransactionStatus.PENDING
        return TransactionStatus.UNKNOWN

    def finality_latency(self, percentiles: Sequence[float] = (50.0, 90.0, 99.0)) -> dict[float, float]:
        """Seconds from first sight (submission or first relay) to final, by percentile.

        Over the last 10,000 transactions that became final here; empty before any.
        """
        samples = sorted(self._latencies)
        if not samples:
            return {}
        out: dict[float, float] = {}
        for p in percentiles:
            if not 0 <= p <= 100:
                raise InvalidArgumentError("percentiles", "each percentile must be in 0..100")
            index = min(len(samples) - 1, max(0, round(p / 100 * (len(samples) - 1))))
            out[p] = samples[index]
        return out

    @property
    def counters(self) -> Mapping[str, int]:
        """The node's counters, the connection manager's and the sessions' summed (a snapshot)."""
        merged: Counter[str] = Counter(self._counters)
        if self._manager is not None:
            for key, value in self._manager.counters.items():
                merged[f"peers.{key}"] += value
            for connection in self._manager.connections.values():
                for key, value in connection.session.counters.items():
                    merged[f"wire.{key}"] += value
                for key, value in connection.counters.items():
                    merged[f"connection.{key}"] += value
        for key, value in self._inventory.counters.items():
            merged[f"inventory.{key}"] += value
        return MappingProxyType(dict(merged))

    @asynccontextmanager
    async def quiescent(self) -> AsyncIterator[None]:
        """While held, no worker thread is changing the consensus state.

        The node's task changes it on the loop, except for a large message it hands to a
        worker thread (``offload_bytes``). Synchronous code that walks the state (a
        registry listing, a page of coins) holds this so that walk never meets a change.
        """
        async with self._state_lock:
            yield

    def add_action_listener(self, listener: Callable[[NodeAction], None]) -> Callable[[], None]:
        """Call ``listener`` with every action the node carries out, after it is carried out.

        For observers (the RPC backend's subscriptions, tests): called synchronously on the
        event loop, in order, and must not block; an exception it raises is logged and
        ignored. Returns the function that removes it (calling it twice is harmless).
        """
        key = self._next_listener
        self._next_listener += 1
        self._listeners[key] = listener

        def remove() -> None:
            self._listeners.pop(key, None)

        return remove

    # -- control ---------------------------------------------------------------------------

    def stop(self) -> None:
        """Begin a graceful shutdown (idempotent); :meth:`run` returns once it is done."""
        self._stopping = True
        if self._stop_event is not None:
            self._stop_event.set()

    async def submit(self, tx: Transaction) -> None:
        """Submit a client's transaction; returns once the node admitted and relayed it.

        :raises NodeStoppingError: the node is shutting down.
        :raises NodeError: the node is not running.
        :raises TimecoinError: the node refused it, as :meth:`ConsensusNode.submit` does
            (``TransactionError``, ``PoolError``, ``RegistrationError``).
        """
        if not isinstance(tx, Transaction):
            raise InvalidArgumentError("tx", "expected a Transaction")
        if self._stopping or self._stopped:
            raise NodeStoppingError("the node is shutting down")
        if self._inbox is None:
            raise NodeError("the node is not running")
        submission = _Submission(tx)
        try:
            await self._inbox.send(submission)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            raise NodeStoppingError("the node is shutting down") from None
        await submission.done.wait()
        if submission.error is not None:
            raise submission.error

    async def run(self, *, task_status: anyio.abc.TaskStatus[tuple[str, int]] = anyio.TASK_STATUS_IGNORED) -> None:
        """Serve until :meth:`stop`; ``task_status.started`` with the bound p2p address once listening.

        An outbound-only node (``listen=None``) reports ``("", 0)``.

        :raises NodeError: the node already ran.
        :raises TransportError: the listen address cannot be bound (``errno`` kept).
        :raises TimecoinError: what stopped the node (a store that refused a write).
        """
        if self._started:
            raise NodeError("a Node runs once; build a new one to restart")
        self._started = True
        self._stop_event = anyio.Event()
        if self._stopping:
            self._stop_event.set()
        try:
            await self._serve(task_status)
        except BaseExceptionGroup as group:
            # Task groups wrap even a lone failure (a listen address in use, a store that
            # refused a vote); the caller gets that error itself.
            leaves = list(_leaves(group))
            if len(leaves) == 1 and isinstance(leaves[0], Exception):
                raise leaves[0] from None
            raise
        finally:
            self._stopped = True
            with anyio.CancelScope(shield=True):
                await self._close_resources()

    # -- the body of run() -----------------------------------------------------------------

    async def _serve(self, task_status: anyio.abc.TaskStatus[tuple[str, int]]) -> None:
        network = self.network
        state = await load_node_state(self.store, network)
        if self._verifier is None:
            self._verifier = ProcessVerifier()
        consensus = ConsensusNode.restore(
            network, self.masternode_key, state, time.monotonic(),
            verifier=self._verifier, config=self._consensus_config,
        )
        driver = self._driver = Driver(consensus)
        inbox, outbox = anyio.create_memory_object_stream[_Item](self.settings.node_queue_size)
        self._inbox = inbox
        manager = self._manager = PeerManager(
            network,
            self._wire_key,
            transport=self._transport,
            settings=self.settings,
            inbox=inbox,
            session_config=self._session_config,
            is_masternode=self._is_masternode,
        )
        await self._load_peers(manager)
        known = [a for a in map(_split, manager.addresses) if a is not None and a not in self.peers]
        targets = list(self.peers) + known[: max(0, self.settings.max_outbound - len(self.peers))]
        stop = self._stop_event
        assert stop is not None
        with inbox, outbox:
            await self._run_tasks(manager, driver, outbox, targets, task_status, stop)

    async def _run_tasks(
        self,
        manager: PeerManager,
        driver: Driver,
        outbox: MemoryObjectReceiveStream[_Item],
        targets: list[tuple[str, int]],
        task_status: anyio.abc.TaskStatus[tuple[str, int]],
        stop: anyio.Event,
    ) -> None:
        async with anyio.create_task_group() as tg:
            self._bound = await tg.start(manager.run, self.listen, targets)
            consensus_done = anyio.Event()
            consensus_scope = anyio.CancelScope()
            tg.start_soon(self._consensus_task, driver, outbox, consensus_scope, consensus_done)
            tg.start_soon(self.metrics.monitor_event_loop_lag)
            self.metrics.set_height(driver.node.chain.height)
            task_status.started(self._bound or ("", 0))
            await stop.wait()
            await self._shutdown(manager, consensus_scope, consensus_done)
            tg.cancel_scope.cancel()

    async def _shutdown(self, manager: PeerManager, consensus_scope: anyio.CancelScope, consensus_done: anyio.Event) -> None:
        log.info("shutting down")
        with anyio.CancelScope(shield=True):
            # 1. No new peers; 2. no new transactions (self._stopping, set by stop()).
            manager.stop_listening()
            manager.stop_dialing()
            # 3. Stop feeding the node: the event in hand finishes, its actions and store
            # writes shielded.
            consensus_scope.cancel()
            with anyio.move_on_after(self.settings.shutdown_timeout):
                await consensus_done.wait()
            # 4. Flush every send queue behind a Goodbye.
            manager.close_all(detail="shutting down", flush=True)
            with anyio.move_on_after(self.settings.flush_timeout + 0.5):
                await manager.wait_closed()
            # 5. The address book and bans (the store is closed by run()'s finally).
            await self._save_peers(manager)

    async def _close_resources(self) -> None:
        try:
            await self.store.close()
        except TimecoinError as exc:
            log.warning("closing the store: %s", exc)
        if self._own_verifier and self._verifier is not None:
            verifier = self._verifier
            await anyio.to_thread.run_sync(verifier.close)

    async def _load_peers(self, manager: PeerManager) -> None:
        now = int(time.time())
        for record in await self.store.peers(self.settings.address_book_size):
            manager.addresses[record.address] = record.last_seen
            manager.addresses.move_to_end(record.address, last=False)
        for ban in await self.store.bans(now):
            manager.bans[ban.host] = float(ban.until)

    async def _save_peers(self, manager: PeerManager) -> None:
        try:
            for address, seen in manager.addresses.items():
                await self.store.put_peer(PeerRecord(address, seen))
            for host, until in manager.bans.items():
                await self.store.put_ban(BanRecord(host, int(until), "manual"))
        except TimecoinError as exc:
            log.warning("saving the address book: %s", exc)

    def _session_config(self) -> SessionConfig:
        node = self._driver.node if self._driver is not None else None
        return self.settings.session_config(
            listen_port=self._bound[1] if self._bound else 0,
            best_height=node.chain.height if node else 0,
            best_tip=node.chain.tip.hash if node else bytes(32),
        )

    def _is_masternode(self, identity: bytes) -> bool:
        if self._driver is None:
            return False
        return identity in self._driver.node.finality.voting_set

    # -- the consensus task --------------------------------------------------------------------

    async def _consensus_task(
        self,
        driver: Driver,
        outbox: MemoryObjectReceiveStream[_Item],
        scope: anyio.CancelScope,
        done: anyio.Event,
    ) -> None:
        try:
            with scope:
                await self._carry_out(driver.start(time.monotonic(), wall=time.time()))
                while True:
                    now = time.monotonic()
                    deadline = driver.next_deadline()
                    if deadline is not None and deadline <= now:
                        # Timers build proposals, re-gossip the pool and close vote
                        # batches: work that grows with the pool, so off the loop too.
                        wall = time.time()
                        async with self._state_lock:
                            actions = await anyio.to_thread.run_sync(partial(driver.fire_due, now, wall=wall))
                        await self._carry_out(actions)
                        continue
                    self._maintain_gossip(now)
                    wake = min(d for d in (deadline, self._gossip_deadline()) if d is not None) if (
                        deadline is not None or self._gossip_deadline() is not None
                    ) else None
                    item: _Item | None = None
                    if wake is None:
                        item = await outbox.receive()
                    else:
                        with anyio.move_on_after(max(0.0, wake - now)):
                            item = await outbox.receive()
                    if item is not None:
                        await self._dispatch(item)
        finally:
            # Submissions still queued get their answer: the node is stopping.
            while True:
                try:
                    item = outbox.receive_nowait()
                except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
                    break
                if isinstance(item, _Submission):
                    item.error = NodeStoppingError("the node is shutting down")
                    item.done.set()
            outbox.close()
            done.set()

    async def _dispatch(self, item: _Item) -> None:
        if isinstance(item, _Submission):
            await self._submit(item)
        elif isinstance(item, PeerEvent):
            event = item.event
            identity = item.connection.identity
            if identity is None:
                return
            if isinstance(event, HandshakeComplete):
                self._on_ready(identity)
            elif item.connection.ready:
                await self._on_message(identity, event)
        else:
            self._on_closed(item)

    async def _submit(self, submission: _Submission) -> None:
        driver = self._driver
        assert driver is not None
        tx = submission.tx
        actions: list[NodeAction] | None = None
        try:
            await self._verify(driver.node.signature_checks(tx))
            now = time.monotonic()
            actions = driver.submit(tx, now, wall=time.time())
            self._first_seen.setdefault(tx.txid, now)
        except TimecoinError as exc:
            submission.error = exc
        finally:
            if actions is None and submission.error is None:
                # Cancelled while verifying: shutdown took it.
                submission.error = NodeStoppingError("the node is shutting down")
            submission.done.set()
        if actions is None:
            return
        await self._carry_out(actions)

    async def _verify(self, checks: list[SignatureCheck]) -> None:
        """Verify ``checks`` off the event loop; the node's cache remembers the valid ones."""
        if not checks:
            return
        verifier = self.consensus.verifier
        self._counters["verify.batches"] += 1
        self._counters["verify.checks"] += len(checks)
        self.metrics.set_verify_queue_depth(len(checks))
        if isinstance(verifier.inner, ThreadVerifier | ProcessVerifier):
            # A pool verifier's submit_many only looks the checks up in the cache and
            # hands the rest to its workers: safe on the loop, and an event whose
            # signatures are all known needs no thread at all.
            future = verifier.submit_many(checks)
            if future.done():
                self._counters["verify.cached"] += 1
                future.result()
                return
            await anyio.to_thread.run_sync(future.result, abandon_on_cancel=True)
            return

        def verify() -> list[bool]:
            # Any other verifier may verify inside submit_many (a SyncVerifier does):
            # call it from a worker thread, never on the loop.
            return verifier.submit_many(checks).result()

        await anyio.to_thread.run_sync(verify, abandon_on_cancel=True)

    async def _handle(self, message: NodeEvent, origin: bytes, size: int = 0) -> None:
        driver = self._driver
        assert driver is not None
        node = driver.node
        try:
            if size < self.settings.offload_bytes and not isinstance(message, _BLOCK_MESSAGES):
                await self._verify(node.signature_checks(message))
                actions = driver.handle(message, time.monotonic(), wall=time.time(), origin=origin)
            else:
                # A block message can decide a height (validate and apply a whole block:
                # up to hundreds of milliseconds for a big one), and a large message costs
                # milliseconds of decoding per kilobyte: both are done in a worker thread,
                # so the loop keeps serving peers. Only this task touches the node, and it
                # waits; a cancelled wait still lets the thread finish (state must not be
                # left half-changed).
                self._counters["offloaded"] += 1
                checks = await anyio.to_thread.run_sync(node.signature_checks, message)
                await self._verify(checks)
                now, wall = time.monotonic(), time.time()
                async with self._state_lock:
                    actions = await anyio.to_thread.run_sync(
                        lambda: driver.handle(message, now, wall=wall, origin=origin)
                    )
        except TimecoinError as exc:
            # ConsensusNode.handle answers a peer's bad input with Penalize, not an
            # exception; one escaping is a bug to count and log, not a reason to stop.
            self._counters["consensus.handle_error"] += 1
            log.exception("handling %s from %s: %s", type(message).__name__, origin.hex()[:16], exc)
            return
        await self._carry_out(actions)

    async def _carry_out(self, actions: list[NodeAction]) -> None:
        """Carry out ``actions`` in order; a durable one reaches the store before the next goes out."""
        if not actions:
            return
        driver = self._driver
        assert driver is not None
        # Shielded: the actions of an event that was handled are carried out whole, and a
        # store write is never cancelled half-way (shutdown waits for it).
        with anyio.CancelScope(shield=True):
            for action in actions:
                if is_durable(action):
                    await persist_action(self.store, action, driver.node)
                    self._counters["persisted"] += 1
                if isinstance(action, Broadcast):
                    self._broadcast(action.message, action.exclude)  # type: ignore[arg-type]
                elif isinstance(action, SendTo):
                    self._send_to(action.peer, action.message)  # type: ignore[arg-type]
                elif isinstance(action, Penalize):
                    self._penalize(action)
                elif isinstance(action, TxFinal):
                    self._on_final(action.txid)
                elif isinstance(action, BlockCommitted):
                    self._counters["blocks.committed"] += 1
                    self.metrics.set_height(action.block.height)
                    self.metrics.set_mempool(len(driver.node.pool))
                    for tx in action.block.transactions:
                        self._on_final(tx.txid)
                elif isinstance(action, TxDropped):
                    self._counters["tx.dropped"] += 1
                    self._first_seen.pop(action.txid, None)
                for listener in list(self._listeners.values()):
                    try:
                        listener(action)
                    except Exception:
                        self._counters["listener.error"] += 1
                        log.exception("action listener failed")
            self._flush_inv(time.monotonic(), force=False)

    # -- peers and gossip -----------------------------------------------------------------

    def _set_peer_gauges(self) -> None:
        manager = self._manager
        if manager is not None:
            inbound = sum(c.inbound for c in manager.ready.values())
            self.metrics.set_peers(inbound, len(manager.ready) - inbound)

    def _on_ready(self, identity: bytes) -> None:
        self._counters["peers.ready"] += 1
        self._set_peer_gauges()
        self._status_sent.pop(identity, None)
        self._send_status(identity, time.monotonic())

    def _on_closed(self, item: PeerClosed) -> None:
        closed = item.closed
        self.metrics.count_disconnect(closed.code.name.lower())
        if closed.error is not None and closed.error.discourage:
            self.metrics.count_offence(closed.code.name.lower())
        throttled = item.connection.counters.get("throttled", 0)
        if throttled:
            self.metrics.count_throttled(throttled)
        self._set_peer_gauges()
        identity = item.connection.identity
        if identity is None or self._connection(identity) is not None:
            return  # never ready, or a duplicate that was replaced: the peer is still here
        self._relay.forget_peer(identity)
        self._pending_inv.pop(identity, None)
        self._peer_status.pop(identity, None)
        self._status_sent.pop(identity, None)
        self._request(self._inventory.peer_gone(identity, time.monotonic()))

    def _connection(self, identity: object) -> Connection | None:
        manager = self._manager
        if manager is None or not isinstance(identity, bytes):
            return None
        return manager.ready.get(identity)

    def _status(self) -> Status:
        node = self.consensus
        return Status(node.chain.height, node.chain.tip.hash, node.finality.epoch, 0)

    async def _on_message(self, identity: bytes, event: MessageReceived) -> None:
        message = event.message
        now = time.monotonic()
        self._counters[f"rx.{type(message).__name__}"] += 1
        if self._manager is not None:
            self._manager.note_relay(identity)
        if isinstance(message, Transaction):
            txid = message.txid
            novel = self._inventory.received(identity, txid, now)
            self._relay.note(txid, identity, now)
            self._first_seen.setdefault(txid, now)
            if novel and self._manager is not None:
                self._manager.note_relay(identity, novel_tx=True)
            await self._handle(message, identity, event.size)
        elif isinstance(message, _CONSENSUS_TYPES):
            if event.size < self.settings.offload_bytes:
                key = _message_hash(message)
            else:
                key = await anyio.to_thread.run_sync(_message_hash, message)
            if self._relay.note(key, identity, now) and self._manager is not None:
                self._manager.note_relay(identity, consensus=True)
            await self._handle(message, identity, event.size)
        elif isinstance(message, Inv):
            wanted = [item.hash for item in message.items if item.kind is InvKind.TX]
            for txid in wanted:
                self._relay.note(txid, identity, now)
            fresh = [txid for txid in wanted if self.tx_status(txid) is TransactionStatus.UNKNOWN]
            self._request(self._inventory.announced(identity, fresh, now))
        elif isinstance(message, GetData):
            self._serve_data(identity, message)
        elif isinstance(message, NotFound):
            self._request(self._inventory.not_found(identity, [i.hash for i in message.items], now))
        elif isinstance(message, GetStatus):
            self._reply(identity, self._status())
        elif isinstance(message, Status):
            self._on_status(identity, message, now)
        elif isinstance(message, GetAddr):
            self._reply(identity, self._addr())
        elif isinstance(message, Addr):
            self._counters["addr.received"] += len(message.entries)
        elif isinstance(message, GetBlocks):
            # Block sync is not served by this runtime yet: an empty page answers the
            # request (the peer's session expects a reply) and tells it to ask elsewhere.
            self._reply(identity, Blocks(message.start, ()))
        elif isinstance(message, GetFinals):
            self._reply(identity, Finals(message.cursor, ()))
        else:
            self._counters["rx.ignored"] += 1

    def _on_status(self, identity: bytes, status: Status, now: float) -> None:
        """A peer's Status: push it the recent commits it lacks, or ask for ours if it is ahead.

        The catch-up of the consensus engine itself (answering a laggard's vote with one
        commit per propose timeout) is slower than a devnet makes blocks; this moves a
        restarted node forward by up to ``catch_up_commits`` heights per Status, which
        each side sends a peer at most once a second while one of them is behind. Heights
        older than the engine's commit history need block sync (not in this runtime).
        """
        self._peer_status[identity] = status
        node = self.consensus
        ours = node.chain.height
        connection = self._connection(identity)
        if connection is None:
            return
        if status.height < ours:
            pushed = 0
            for height in range(status.height + 1, min(ours, status.height + self.settings.catch_up_commits) + 1):
                commit = node.bft.commit_for(height)
                if commit is not None:
                    connection.send(commit)
                    pushed += 1
            self._counters["catch_up.commits_pushed"] += pushed
            self._send_status(identity, now)
        elif status.height > ours:
            self._send_status(identity, now)

    def _send_status(self, identity: bytes, now: float) -> None:
        # Status is limited to 1/s (burst 5) at the receiver: never send faster.
        if now - self._status_sent.get(identity, float("-inf")) < 1.0:
            return
        connection = self._connection(identity)
        if connection is not None:
            self._status_sent[identity] = now
            connection.send(self._status())

    def _reply(self, identity: bytes, message: Message) -> None:
        connection = self._connection(identity)
        if connection is not None:
            connection.send(message)

    def _addr(self) -> Addr:
        manager = self._manager
        entries: list[PeerAddress] = []
        if manager is not None:
            for address, seen in reversed(manager.addresses.items()):
                split = _split(address)
                if split is None:
                    continue
                host, port = split
                try:
                    entries.append(PeerAddress.of(host, port, 0, seen))
                except (ValueError, TimecoinError):
                    continue
                if len(entries) >= 1000:
                    break
        return Addr(tuple(entries))

    def _serve_data(self, identity: bytes, request: GetData) -> None:
        connection = self._connection(identity)
        if connection is None:
            return
        node = self.consensus
        missing: list[InvItem] = []
        for item in request.items:
            tx: Transaction | None = None
            if item.kind is InvKind.TX:
                tx = self._tx_bodies.get(item.hash)
                if tx is None:
                    entry = node.pool.get(item.hash)
                    tx = entry.tx if entry is not None else None
            if tx is None:
                missing.append(item)
            else:
                connection.send(tx)
        if missing:
            connection.send(NotFound(tuple(missing)))

    def _request(self, requests: Mapping[object, list[bytes]]) -> None:
        for peer, hashes in requests.items():
            connection = self._connection(peer)
            if connection is None:
                continue
            for start in range(0, len(hashes), 1000):
                chunk = hashes[start : start + 1000]
                connection.send(GetData(tuple(InvItem(InvKind.TX, h) for h in chunk)))

    def _broadcast(self, message: Message, exclude: object) -> None:
        manager = self._manager
        if manager is None:
            return
        now = time.monotonic()
        peers = [p for p in manager.ready if p != exclude]
        if isinstance(message, Transaction):
            txid = message.txid
            self._remember_body(message)
            for peer in self._relay.targets(txid, peers, now):
                if isinstance(peer, bytes):
                    self._pending_inv.setdefault(peer, []).append(InvItem(InvKind.TX, txid))
            self._flush_inv(now, force=False)
            return
        targets = self._relay.targets(_message_hash(message), peers, now)
        self._counters["gossip.pushed"] += len(targets)
        self._counters["gossip.suppressed"] += len(peers) - len(targets)
        for peer in targets:
            connection = self._connection(peer)
            if connection is not None:
                connection.send(message)

    def _send_to(self, peer: object, message: Message) -> None:
        connection = self._connection(peer)
        if connection is None:
            self._counters["send_to.not_connected"] += 1
            return
        connection.send(message)

    def _penalize(self, action: Penalize) -> None:
        self._counters[f"penalize.{action.offence.value}"] += 1
        self.metrics.count_offence(action.offence)
        if self._manager is not None and isinstance(action.peer, bytes):
            self._manager.penalize(action.peer, f"{action.offence.value} {action.detail}".strip())

    def _on_final(self, txid: bytes) -> None:
        if txid in self._final:
            return
        self._final[txid] = None
        if len(self._final) > 100_000:
            self._final.popitem(last=False)
        seen = self._first_seen.pop(txid, None)
        if seen is not None:
            latency = time.monotonic() - seen
            self._latencies.append(latency)
            self.metrics.observe_finality_latency(latency)
        self._counters["tx.final"] += 1

    def _remember_body(self, tx: Transaction) -> None:
        bodies = self._tx_bodies
        bodies[tx.txid] = tx
        while len(bodies) > self.settings.tx_cache_size:
            bodies.popitem(last=False)

    def _gossip_deadline(self) -> float | None:
        deadlines = [self._next_status]
        if self._inventory.wanted():
            deadlines.append(self._next_expiry)
        if self._pending_inv:
            deadlines.append(self._next_inv_flush)
        if any(status.height > self.height for status in self._peer_status.values()):
            deadlines.append(min(self._status_sent.values(), default=0.0) + 1.0)
        return min(deadlines)

    def _flush_inv(self, now: float, *, force: bool) -> None:
        if not self._pending_inv or (not force and now < self._next_inv_flush):
            return
        # One Inv per peer per inv_interval: the Inv token bucket (10/s) never overflows.
        self._next_inv_flush = now + self.settings.inv_interval
        pending, self._pending_inv = self._pending_inv, {}
        for peer, items in pending.items():
            connection = self._connection(peer)
            if connection is None:
                continue
            for start in range(0, len(items), 1000):
                connection.send(Inv(tuple(items[start : start + 1000])))
            self._counters["gossip.inv_items"] += len(items)

    def _maintain_gossip(self, now: float) -> None:
        self._flush_inv(now, force=False)
        if now >= self._next_expiry:
            # Walks every wanted hash: twice a second is often enough for 10 s timeouts.
            self._next_expiry = now + 0.5
            self._request(self._inventory.expire(now))
        if now >= self._next_status and self._manager is not None:
            self._next_status = now + self.settings.status_interval
            self.metrics.set_send_queue_bytes(sum(c.session.queued_bytes for c in self._manager.connections.values()))
            self.metrics.set_mempool(len(self.consensus.pool))
            for identity in list(self._manager.ready):
                self._send_status(identity, now)
        else:
            # Still behind a peer after applying what it pushed: ask again (1/s per peer).
            ours = self.height
            for identity, status in self._peer_status.items():
                if status.height > ours:
                    self._send_status(identity, now)
        # Forget first-sight times of transactions that will never be final here.
        while len(self._first_seen) > 200_000:
            self._first_seen.popitem(last=False)


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    out: list[BaseException] = []
    for error in group.exceptions:
        out += _leaves(error) if isinstance(error, BaseExceptionGroup) else [error]
    return out


def _message_hash(message: Message) -> bytes:
    type_id, payload = encode_message(message)
    return sha256(bytes([type_id & 0xFF, type_id >> 8]) + payload)


def _is_address(value: object) -> bool:
    return (
        isinstance(value, tuple)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], int)
        and 0 <= value[1] < 65536
    )


def _split(address: str) -> tuple[str, int] | None:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        return None
    return host.strip("[]"), int(port)

