"""``WireMesh``: every pair of N nodes joined by two peer sessions, in memory, for simulators.

Theory of operation. A simulator that hands message objects from node to node tests
the consensus, never the wire. A mesh gives each ordered pair ``(i, j)`` the session
node ``i`` holds for peer ``j``, all handshaken when the mesh is built (ephemeral keys
derived from a seed, so a seeded run replays byte for byte). Sending is then
``send(i, j, message) -> bytes`` and delivering ``deliver(i, j, data, now) ->
(messages, reply)``: the bytes cross the real codec, record layer, header checks and
token buckets, and ``reply`` is whatever the receiving session wants to send back
(pongs) on the reverse link.

The caller owns time and the network model. Byte streams are ordered, so a link's
chunks must be delivered in the order they were produced (a FIFO per ordered pair);
loss, duplication and partitions belong *above* the mesh (drop or repeat messages
before ``send``), as a TCP connection would never lose a byte in the middle. A node
that is down still has its link bytes delivered (its sessions stay in step); the
caller discards the messages. ``tick(now)`` runs every session's timers (pings) and
returns the bytes to route; :attr:`WireMesh.closed` lists any session that ended,
which in an honest simulation is a bug to report.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..hashing import sha256
from ..keys import PrivateKey
from ..network import Network
from .errors import WireConfigError
from .registry import Message
from .session import Closed, MessageReceived, PeerSession, SessionConfig, SessionState

__all__ = ["WireMesh"]


class WireMesh:
    """A full mesh of ready sessions between ``len(keys)`` nodes (see the module docstring)."""

    def __init__(
        self,
        network: Network,
        keys: Sequence[PrivateKey],
        *,
        now: float,
        config: SessionConfig | None = None,
        seed: bytes = b"",
    ) -> None:
        self.size = len(keys)
        self.closed: list[tuple[int, int, Closed]] = []
        self.reconnects = 0
        """Links re-established after a session closed (see :meth:`send`)."""
        self._network = network
        self._keys = list(keys)
        self._config = config
        self._seed = seed
        self._sessions: dict[tuple[int, int], PeerSession] = {}
        self._generations: dict[tuple[int, int], int] = {}
        for i in range(self.size):
            for j in range(i + 1, self.size):
                self._connect(i, j, now)

    def _connect(self, i: int, j: int, now: float) -> None:
        generation = self._generations.get((i, j), -1) + 1
        tag = b"" if generation == 0 else b"/%d" % generation  # generation 0: the original bytes
        a = PeerSession(
            self._network, self._keys[i], initiator=True, now=now, config=self._config,
            ephemeral=sha256(b"wire-mesh/%d/%d/" % (i, j) + self._seed + tag),
        )
        b = PeerSession(
            self._network, self._keys[j], initiator=False, now=now, config=self._config,
            ephemeral=sha256(b"wire-mesh/%d/%d/" % (j, i) + self._seed + tag),
        )
        closed = len(self.closed)
        for _ in range(3):
            # Empty reads would mean end of stream: feed only what was written.
            if data := b.data_to_send():
                self._note(i, j, a.receive_data(data, now))
            if data := a.data_to_send():
                self._note(j, i, b.receive_data(data, now))
        if a.peer_hello is None or b.peer_hello is None or len(self.closed) > closed:
            raise WireConfigError(f"nodes {i} and {j} could not complete a handshake")
        self._sessions[(i, j)] = a
        self._sessions[(j, i)] = b
        self._generations[(i, j)] = generation

    def reconnect(self, a: int, b: int, now: float) -> None:
        """Replace the link between ``a`` and ``b`` by a fresh connection (a node restarted:
        its old connections died with it, and their bytes in flight are dropped)."""
        self._connect(min(a, b), max(a, b), now)
        self.reconnects += 1

    def generation(self, a: int, b: int) -> int:
        """How many times the link between ``a`` and ``b`` was re-established."""
        return self._generations[(min(a, b), max(a, b))]

    def session(self, node: int, peer: int) -> PeerSession:
        """The session ``node`` holds for ``peer``."""
        return self._sessions[(node, peer)]

    def send(self, sender: int, target: int, message: Message, now: float | None = None) -> bytes:
        """Queue ``message`` on the link ``sender -> target`` and return the bytes to deliver.

        A link whose session closed (say, a peer tripped a rate limit) is dialled again
        first, as a node's runtime would after its backoff, when ``now`` is given; its
        :meth:`generation` goes up, and bytes of the old connection still in flight are
        dropped by :meth:`deliver`.
        """
        session = self._sessions[(sender, target)]
        if now is not None and (
            session.state is SessionState.CLOSED or self._sessions[(target, sender)].state is SessionState.CLOSED
        ):
            self._connect(min(sender, target), max(sender, target), now)
            self.reconnects += 1
            session = self._sessions[(sender, target)]
        self._note(sender, target, session.send(message))
        return session.data_to_send()

    def deliver(
        self, sender: int, target: int, data: bytes, now: float, generation: int | None = None
    ) -> tuple[list[Message], bytes]:
        """Feed bytes from ``sender`` to ``target``'s session: the messages it yields and the
        bytes it sends back (to deliver on the link ``target -> sender``). Bytes sent on an
        earlier ``generation`` of the link are dropped: that connection is gone."""
        if generation is not None and generation != self.generation(sender, target):
            return [], b""
        session = self._sessions[(target, sender)]
        events = session.receive_data(data, now)
        self._note(target, sender, events)
        messages = [e.message for e in events if isinstance(e, MessageReceived)]
        return messages, session.data_to_send()

    def tick(self, now: float) -> list[tuple[int, int, bytes]]:
        """Run every session whose deadline has passed; returns ``(sender, target, bytes)`` to route."""
        out = []
        for (node, peer), session in self._sessions.items():
            deadline = session.timer_deadline()
            if deadline is not None and deadline <= now:
                self._note(node, peer, session.handle_timer(now))
            data = session.data_to_send()
            if data:
                out.append((node, peer, data))
        return out

    def next_deadline(self) -> float | None:
        """The earliest timer deadline of any session (``None`` when all are closed)."""
        deadlines = [d for s in self._sessions.values() if (d := s.timer_deadline()) is not None]
        return min(deadlines, default=None)

    def counters(self) -> dict[str, int]:
        """Every session's counters, summed."""
        total: dict[str, int] = {}
        for session in self._sessions.values():
            for key, value in session.counters.items():
                total[key] = total.get(key, 0) + value
        return total

    def _note(self, node: int, peer: int, events: Sequence[object]) -> None:
        for event in events:
            if isinstance(event, Closed):
                self.closed.append((node, peer, event))
