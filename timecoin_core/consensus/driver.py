"""The one scheduler every shell drives a :class:`~timecoin_core.consensus.node.ConsensusNode` with.

Theory of operation
-------------------
A :class:`ConsensusNode` returns actions; three of them need the same care in every
shell, and getting any of them subtly wrong is a consensus bug, so they live here once:

* **Timers.** ``SetTimer(key, at)`` replaces any pending timer with the same key. The
  :class:`Driver` keeps the table and never returns a ``SetTimer``: the shell asks
  :meth:`Driver.next_deadline` when to wake up and calls :meth:`Driver.fire_due`, which
  fires every due timer in deadline order (ties in the order they were set), including
  timers that firing sets for a time already past.
* **Order.** Everything else is returned in the order the node produced it, and must be
  carried out in that order.
* **Durability.** :func:`is_durable` says which actions must reach the store before any
  later action is carried out (``await persist_action(store, action, node)`` in an async shell; a shell with no store, like LocalChain, has nothing to wait
  for): a finality vote, a signed block vote (and with it the BFT lock), a committed
  block, a final transaction. :func:`persist_action` writes one to a
  :class:`~timecoin_core.store.Store` (it lives here, not in the store package, so the
  store never imports the orchestrator). A restarted node that forgot one of the first two could sign
  a conflicting vote.

The shells: :class:`~timecoin_core.testing.LocalChain`, the simulator
(:mod:`timecoin_core.sim`) and the network node (``timecoin_net.Node``) each own one
``Driver`` per node; only the clock differs (virtual time, or ``time.monotonic()`` with
``time.time()`` as wall time).
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable
from typing import TYPE_CHECKING

from ..transaction import Transaction
from .bft import BlockVoteSigned
from .finality import VoteRecorded
from .node import BlockCommitted, ConsensusNode, NodeAction, NodeEvent, TxFinal
from .sansio import PeerId, SetTimer, TimerFired

if TYPE_CHECKING:  # the store does I/O; the domain only names its protocol
    from ..store import Store

__all__ = ["Driver", "is_durable", "persist_action"]

_DURABLE = (VoteRecorded, BlockVoteSigned, BlockCommitted, TxFinal)


def is_durable(action: NodeAction) -> bool:
    """True when ``action`` must be persisted before any later action is carried out."""
    return isinstance(action, _DURABLE)


async def persist_action(store: Store, action: NodeAction, node: ConsensusNode) -> bool:
    """Persist ``action`` to ``store`` if it is durable; True when it was.

    ``node`` is the node that produced it, in its state right after the call that did:
    a :class:`~timecoin_core.consensus.node.TxFinal` names a transaction whose body is
    in the node's pool (if the same call already committed it, the block that follows
    stores it), and a block that closes an epoch is stored with the voting set it fixes.
    """
    if isinstance(action, VoteRecorded):
        await store.record_vote(action.txid, action.outpoints)
    elif isinstance(action, BlockVoteSigned):
        await store.record_signed_vote(action.vote)
    elif isinstance(action, BlockCommitted):
        block = action.block
        length = node.network.epoch_length
        voting_set = node.registry.voting_set(block.height // length) if block.height % length == 0 else None
        await store.commit_block(block, action.certificate, voting_set=voting_set)
    elif isinstance(action, TxFinal):
        entry = node.pool.get(action.txid)
        if entry is not None:
            await store.record_final(entry.tx, action.certificate)
    else:
        return False
    return True


class Driver:
    """One node's timer table and the single entry point a shell feeds it through.

    Every method that takes ``now`` (monotonic seconds: timers) also takes ``wall``
    (unix seconds: block timestamps; default ``now``) and returns the node's actions
    minus its timers, in order. ``now`` must never go back.
    """

    __slots__ = ("_heap", "_seq", "_timers", "node")

    def __init__(self, node: ConsensusNode) -> None:
        self.node = node
        self._timers: dict[Hashable, tuple[float, int]] = {}
        self._heap: list[tuple[float, int, Hashable]] = []
        self._seq = 0

    def __repr__(self) -> str:
        return f"Driver(height={self.node.chain.height}, timers={len(self._timers)})"

    # -- feeding the node ----------------------------------------------------------------

    def start(self, now: float, *, wall: float | None = None) -> list[NodeAction]:
        """Start the node (:meth:`ConsensusNode.start`)."""
        return self._absorb(self.node.start(now, wall=wall))

    def handle(
        self, event: NodeEvent, now: float, *, wall: float | None = None, origin: PeerId | None = None
    ) -> list[NodeAction]:
        """Hand the node one event from ``origin`` (:meth:`ConsensusNode.handle`)."""
        return self._absorb(self.node.handle(event, now, wall=wall, origin=origin))

    def submit(self, tx: Transaction, now: float, *, wall: float | None = None) -> list[NodeAction]:
        """Submit a local client's transaction; raises as :meth:`ConsensusNode.submit` does."""
        return self._absorb(self.node.submit(tx, now, wall=wall))

    def restart(self, node: ConsensusNode, now: float, *, wall: float | None = None) -> list[NodeAction]:
        """Replace the node by ``node`` (restored from durable state) and start it.

        The old node's timers are forgotten: they belonged to state that did not survive.
        """
        self.node = node
        self._timers.clear()
        self._heap.clear()
        return self.start(now, wall=wall)

    # -- timers --------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """The earliest pending timer's time, or ``None`` when no timer is pending."""
        heap = self._heap
        while heap and self._timers.get(heap[0][2]) != heap[0][:2]:
            heapq.heappop(heap)  # replaced or fired: stale
        return heap[0][0] if heap else None

    def pending(self) -> list[tuple[float, int, Hashable]]:
        """Pending timers as ``(due time, order set, key)``, earliest first."""
        return sorted((at, seq, key) for key, (at, seq) in self._timers.items())

    def schedule(self, timer: SetTimer) -> None:
        """Set ``timer`` (replacing a pending one with the same key).

        The driver does this itself for every ``SetTimer`` the node returns through it;
        a shell that holds some of a node's actions back (LocalChain's manual finality)
        schedules the timers among them when it releases them.
        """
        self._seq += 1
        entry = (timer.at, self._seq)
        self._timers[timer.key] = entry
        heapq.heappush(self._heap, (*entry, timer.key))

    def cancel(self, key: Hashable) -> bool:
        """Forget the pending timer ``key``; True if there was one."""
        return self._timers.pop(key, None) is not None

    def fire(self, key: Hashable, now: float, *, wall: float | None = None) -> list[NodeAction]:
        """Fire the pending timer ``key`` now, whatever its deadline; ``[]`` if none is pending.

        For shells that choose which timer runs next themselves (LocalChain runs vote
        timers before block timers); others call :meth:`fire_due`.
        """
        if self._timers.pop(key, None) is None:
            return []
        return self._absorb(self.node.handle(TimerFired(key), now, wall=wall))

    def fire_due(self, now: float, *, wall: float | None = None) -> list[NodeAction]:
        """Fire every timer due at ``now``, earliest first, until none is due."""
        out: list[NodeAction] = []
        while True:
            deadline = self.next_deadline()
            if deadline is None or deadline > now:
                return out
            _, _, key = heapq.heappop(self._heap)
            del self._timers[key]
            out += self._absorb(self.node.handle(TimerFired(key), now, wall=wall))

    def _absorb(self, actions: list[NodeAction]) -> list[NodeAction]:
        out: list[NodeAction] = []
        for action in actions:
            if isinstance(action, SetTimer):
                self.schedule(action)
            else:
                out.append(action)
        return out
