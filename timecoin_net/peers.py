"""The connection manager: listener, dialers, slots, eviction, discouragement, the address book.

Theory of operation. :class:`PeerManager` owns every :class:`~timecoin_net.connection.Connection`
of a node and asks the sans-IO :class:`~timecoin_core.wire.ConnectionPolicy` every
question of policy (NETWORK.md "Connections"):

* *inbound*: a banned host is refused at once; otherwise ``admit_inbound`` answers
  (attempt bucket, per-/16 limit, free slot, or a peer to evict: that peer is closed
  and the newcomer accepted);
* *outbound*: one dial loop per configured address keeps a connection to it, waiting
  out :class:`~timecoin_core.wire.DialBackoff` after each failure (1 s x 2^n, capped,
  jittered; a handshake resets it) and idle while the identity it reached is
  connected some other way;
* *duplicates*: two nodes that dial each other end up with two connections; when the
  second handshake completes both sides keep the one dialled by the smaller identity
  key, so they agree without a word;
* *offences*: a session that ends with an offence, and a consensus
  :class:`~timecoin_core.consensus.Penalize`, disconnect and discourage the address for
  ``discourage_ttl`` (an active masternode is only disconnected, with reconnect
  backoff, so a local bug cannot split the validator set; loopback addresses are
  not discouraged unless ``discourage_loopback``: every local peer shares them).

Peers are known to the node by identity key (the consensus ``PeerId``) once ready:
:attr:`PeerManager.ready`. Connections report to the node's inbox; when one ends the
manager does its bookkeeping first, then sends :class:`~timecoin_net.connection.PeerClosed`.
"""

from __future__ import annotations

import ipaddress
import itertools
import logging
import random
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectSendStream

from timecoin_core.keys import PrivateKey
from timecoin_core.network import Network
from timecoin_core.wire import (
    Admission,
    CloseAction,
    Closed,
    ConnectionPolicy,
    ErrorCode,
    HandshakeComplete,
    PeerRecord,
    PeerSession,
    SessionConfig,
)

from .connection import Connection, PeerClosed, PeerEvent
from .settings import RuntimeSettings
from .transport import Link, Transport, TransportError

__all__ = ["PeerManager", "is_loopback"]

log = logging.getLogger("timecoin_net.peers")

_REFUSED = frozenset({Admission.REFUSE_RATE, Admission.REFUSE_NETGROUP, Admission.REFUSE_FULL})


def is_loopback(host: str) -> bool:
    """True for a loopback address (127/8, ::1, IPv4-mapped loopback)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


class PeerManager:
    """Every connection of one node, and the policy that admits, dials, evicts and punishes.

    ``session_config`` is called for each new session (it carries the current tip as
    the Hello's hint); ``is_masternode(identity)`` says whether an identity is an active
    masternode (protected from eviction and from discouragement).
    """

    def __init__(
        self,
        network: Network,
        identity_key: PrivateKey,
        *,
        transport: Transport,
        settings: RuntimeSettings,
        inbox: MemoryObjectSendStream[PeerEvent | PeerClosed],
        session_config: Callable[[], SessionConfig],
        is_masternode: Callable[[bytes], bool],
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.network = network
        self.settings = settings
        self._key = identity_key
        self._me = identity_key.public_key.data
        self._transport = transport
        self._inbox = inbox
        self._session_config = session_config
        self._is_masternode = is_masternode
        self._clock = clock
        self._wall = wall
        self.policy = ConnectionPolicy(settings.policy_config(), rng=rng or random.Random(), now=clock())
        self.connections: dict[int, Connection] = {}
        """Every live connection by policy peer id (handshaking or ready)."""
        self.ready: dict[bytes, Connection] = {}
        """Ready connections by the peer's identity key (the consensus ``PeerId``)."""
        self.addresses: OrderedDict[str, int] = OrderedDict()
        """The address book: ``"host:port"`` of listening peers -> last seen (unix seconds), newest last."""
        self.bans: dict[str, float] = {}
        """Manual bans: host -> until (unix seconds); persisted by the node."""
        self._ids = itertools.count(1)
        self._identity_of: dict[str, bytes] = {}
        self._next_dial: dict[str, float] = {}
        self._changed = anyio.Event()
        self._counters: Counter[str] = Counter()
        self._accepting = True
        self._dial_scope = anyio.CancelScope()
        self._listen_scope = anyio.CancelScope()
        self._group: anyio.abc.TaskGroup | None = None

    # -- views ---------------------------------------------------------------------------

    @property
    def counters(self) -> Mapping[str, int]:
        """Counts of every decision: admissions, refusals, evictions, dials, closes by code (a snapshot)."""
        merged = Counter(self._counters)
        for key, value in self.policy.counters.items():
            merged[f"policy.{key}"] += value
        return MappingProxyType(dict(merged))

    def peer_count(self) -> int:
        """Ready peers."""
        return len(self.ready)

    def note_relay(self, identity: bytes, *, novel_tx: bool = False, consensus: bool = False) -> None:
        """``identity`` relayed something new to us (eviction protects such peers)."""
        connection = self.ready.get(identity)
        if connection is None:
            return
        record = self.policy.peers.get(connection.peer_id)
        if record is None:
            return
        now = self._clock()
        if novel_tx:
            record.last_novel_tx = now
        if consensus:
            record.last_consensus = now
        record.ping_rtt = connection.session.ping_rtt
        self.policy.touch(connection.peer_id, now)

    # -- listening and dialling --------------------------------------------------------------

    async def run(
        self,
        listen: tuple[str, int] | None,
        targets: Iterable[tuple[str, int]],
        *,
        task_status: anyio.abc.TaskStatus[tuple[str, int] | None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """Listen on ``listen`` (if given) and keep a connection to each of ``targets``.

        ``task_status.started`` with the bound address (``None`` without a listener).
        Connections live in this task group: closing the listener (:meth:`stop_listening`)
        or the dialers (:meth:`stop_dialing`) leaves them running; cancel the caller to
        end them.
        """
        async with anyio.create_task_group() as group:
            self._group = group
            bound: tuple[str, int] | None = None
            if listen is not None:
                bound = await group.start(self._serve, listen[0], listen[1])
            group.start_soon(self._maintain, list(targets))
            task_status.started(bound)

    async def _serve(
        self, host: str, port: int, *, task_status: anyio.abc.TaskStatus[tuple[str, int]] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        with self._listen_scope:
            await self._transport.listen(host, port, self._accept, task_status=task_status)

    def stop_listening(self) -> None:
        """Close the listener and refuse links still being accepted (shutdown, step one)."""
        self._accepting = False
        self._listen_scope.cancel()

    async def _maintain(self, targets: list[tuple[str, int]]) -> None:
        with self._dial_scope:
            async with anyio.create_task_group() as tg:
                for host, port in dict.fromkeys(targets):
                    tg.start_soon(self._dial_loop, host, port)

    def stop_dialing(self) -> None:
        """Stop every dial loop (connections already made stay)."""
        self._dial_scope.cancel()

    def close_all(self, code: ErrorCode = ErrorCode.CLOSED_BY_LOCAL, detail: str = "", *, flush: bool = True) -> None:
        """Close every connection (after its queued messages when ``flush``)."""
        for connection in list(self.connections.values()):
            connection.close(code, detail, flush=flush)

    async def wait_closed(self) -> None:
        """Return once every connection has ended."""
        while self.connections:
            await self._wait_change()

    # -- punishment ----------------------------------------------------------------------

    def penalize(self, identity: bytes, reason: str) -> bool:
        """Disconnect the peer ``identity`` for an offence found above the wire; discourage its address.

        Returns False when no such peer is connected.
        """
        connection = self.ready.get(identity)
        if connection is None:
            self._counters["penalize.not_connected"] += 1
            return False
        now = self._clock()
        record = self.policy.peers.get(connection.peer_id)
        if record is not None and record.masternode:
            self._counters["penalize.masternode"] += 1
            self.policy.backoff.failed(connection.address or connection.host, now)
        elif is_loopback(connection.host) and not self.settings.discourage_loopback:
            self._counters["penalize.loopback"] += 1
        else:
            self._counters["penalize.discouraged"] += 1
            self.policy.discourage(connection.host, now)
        log.info("penalized %s (%s): %s", identity.hex()[:16], connection.host, reason)
        connection.close(ErrorCode.CLOSED_BY_LOCAL, f"offence {reason}"[:48])
        return True

    def ban(self, host: str, until: float) -> None:
        """Refuse ``host`` until unix time ``until`` and drop its connections (persisted by the node)."""
        self.bans[host] = until
        for connection in list(self.connections.values()):
            if connection.host == host:
                connection.close(ErrorCode.CLOSED_BY_LOCAL, "banned")

    def _banned(self, host: str) -> bool:
        until = self.bans.get(host)
        if until is None:
            return False
        if self._wall() >= until:
            del self.bans[host]
            return False
        return True

    # -- internals ----------------------------------------------------------------------------

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def _wait_change(self) -> None:
        await self._changed.wait()

    async def _accept(self, link: Link) -> None:
        if not self._accepting or self._banned(link.host):
            self._counters["inbound.refused_banned" if self._accepting else "inbound.refused_closing"] += 1
            await _discard(link)
            return
        verdict, victim = self.policy.admit_inbound(link.host, self._clock())
        if verdict in _REFUSED:
            self._counters[f"inbound.{verdict.value}"] += 1
            await _discard(link)
            return
        if victim is not None:
            evicted = self.connections.get(victim.peer_id)
            if evicted is not None:
                self._counters["inbound.evicted"] += 1
                evicted.close(ErrorCode.CLOSED_BY_LOCAL, "evicted")
                # The victim leaves the policy's table now, so the slot is the newcomer's.
                self.policy.on_close(victim.peer_id, None, self._clock())
        self._counters["inbound.accepted"] += 1
        # The connection belongs to the manager's group, not the listener's: closing the
        # listener at shutdown must not cut connections that are about to say goodbye.
        assert self._group is not None
        self._group.start_soon(self._run_inbound, link)

    async def _run_inbound(self, link: Link) -> None:
        await self._run(link, inbound=True, address=None)

    async def _dial_loop(self, host: str, port: int) -> None:
        address = f"{host}:{port}"
        backoff = self.policy.backoff
        while True:
            identity = self._identity_of.get(address)
            if identity is not None and identity in self.ready:
                await self._wait_change()
                continue
            now = self._clock()
            if not self.policy.may_dial(address, host, now):
                # Backing off, discouraged or no free slot: look again when something
                # changes, when the backoff ends, or in a second at the latest.
                wait = min(1.0, max(0.0, self._next_dial.get(address, now) - now)) or 1.0
                with anyio.move_on_after(wait):
                    await self._wait_change()
                continue
            self._counters["dial.attempt"] += 1
            try:
                with anyio.fail_after(self.settings.connect_timeout):
                    link = await self._transport.connect(host, port)
            except (TransportError, TimeoutError, OSError) as exc:
                self._counters["dial.failed"] += 1
                log.debug("dial %s failed: %s", address, exc)
                self._next_dial[address] = backoff.failed(address, now)
                continue
            connection = await self._run(link, inbound=False, address=address)
            if connection.identity is None or connection.session.peer_hello is None:
                self._next_dial[address] = backoff.failed(address, self._clock())

    async def _run(self, link: Link, *, inbound: bool, address: str | None) -> Connection:
        settings = self.settings
        now = self._clock()
        peer_id = next(self._ids)
        session = PeerSession(self.network, self._key, initiator=not inbound, now=now, config=self._session_config())
        connection = Connection(
            link.stream,
            session,
            peer_id=peer_id,
            host=link.host,
            port=link.port,
            inbound=inbound,
            address=address,
            queue_size=settings.peer_queue_size,
            stall_timeout=settings.stall_timeout,
            flush_timeout=settings.flush_timeout,
            faults=link.faults,
            on_handshake=self._on_handshake,
            clock=self._clock,
        )
        self.policy.connected(PeerRecord(peer_id, link.host, inbound, now), now)
        self.connections[peer_id] = connection
        self._notify()
        closed: Closed | None = None
        try:
            closed = await connection.run(self._inbox)
        finally:
            self._forget(connection, closed)
        assert closed is not None
        try:
            self._inbox.send_nowait(PeerClosed(connection, closed))
        except anyio.WouldBlock:
            await self._inbox.send(PeerClosed(connection, closed))
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass
        return connection

    def _forget(self, connection: Connection, closed: Closed | None) -> None:
        self.connections.pop(connection.peer_id, None)
        if connection.identity is not None and self.ready.get(connection.identity) is connection:
            del self.ready[connection.identity]
        error = None if closed is None else closed.error
        if error is not None and is_loopback(connection.host) and not self.settings.discourage_loopback and error.discourage:
            self._counters["offence.loopback_not_discouraged"] += 1
            error = None
        action = self.policy.on_close(connection.peer_id, error, self._clock(), address=connection.address)
        if action is not CloseAction.NONE:
            self._counters[f"close.{action.value}"] += 1
        if closed is not None:
            self._counters[f"closed.{closed.code.name}"] += 1
        self._notify()

    def _on_handshake(self, connection: Connection, done: HandshakeComplete) -> bool:
        identity = done.identity.data
        if connection.address is not None:
            self._identity_of[connection.address] = identity
            self.policy.backoff.succeeded(connection.address)
        existing = self.ready.get(identity)
        if existing is not None and existing is not connection:
            if existing.inbound == connection.inbound or self._initiator(connection, identity) != min(self._me, identity):
                self._counters["duplicate.refused"] += 1
                return False
            self._counters["duplicate.replaced"] += 1
            del self.ready[identity]
            existing.close(ErrorCode.CLOSED_BY_LOCAL, "duplicate connection")
        record = self.policy.peers.get(connection.peer_id)
        if record is not None:
            record.ready = True
            record.masternode = self._is_masternode(identity)
            self.policy.touch(connection.peer_id, self._clock())
        self.ready[identity] = connection
        if connection.inbound and done.hello.listen_port:
            self._remember(f"{connection.host}:{done.hello.listen_port}")
        elif connection.address is not None:
            self._remember(connection.address)
        self._notify()
        return True

    def _initiator(self, connection: Connection, identity: bytes) -> bytes:
        return identity if connection.inbound else self._me

    def _remember(self, address: str) -> None:
        book = self.addresses
        book[address] = int(self._wall())
        book.move_to_end(address)
        while len(book) > self.settings.address_book_size:
            book.popitem(last=False)


async def _discard(link: Link) -> None:
    with anyio.CancelScope(shield=True), anyio.move_on_after(1.0):
        await link.stream.aclose()
