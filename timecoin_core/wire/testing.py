"""``SessionPair``: two peer sessions wired back to back, for tests and transport authors.

Theory of operation. Like h11's ``ConnectionPair``, the pair owns an initiator and a
responder and a shared manual clock. :meth:`SessionPair.pump` moves every pending byte
from each side to the other until neither has anything to send, collecting the events
each side reported, so a test reads as "send, pump, look at the events". Bytes can be
intercepted on their way (:attr:`SessionPair.tamper`) to test what a hostile path does,
and delivered in chunks of any size to test framing at every boundary.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..keys import PrivateKey
from ..network import Network
from .session import HandshakeComplete, PeerSession, SessionConfig, SessionEvent

__all__ = ["SessionPair"]


@dataclass
class SessionPair:
    """An initiator and a responder connected in memory, with a manual clock ``now``.

    ``events[0]`` collects the initiator's events, ``events[1]`` the responder's.
    ``tamper``, when set, is called with ``(sender_index, data)`` for every chunk in
    flight and returns the bytes to deliver instead. ``chunk`` splits deliveries into
    pieces of that many bytes (``None``: whole).
    """

    initiator: PeerSession
    responder: PeerSession
    now: float = 0.0
    events: tuple[list[SessionEvent], list[SessionEvent]] = field(default_factory=lambda: ([], []))
    tamper: Callable[[int, bytes], bytes] | None = None
    chunk: int | None = None

    @classmethod
    def create(
        cls,
        network: Network,
        initiator_key: PrivateKey | None = None,
        responder_key: PrivateKey | None = None,
        *,
        responder_network: Network | None = None,
        config: SessionConfig | None = None,
        now: float = 0.0,
        ephemerals: tuple[bytes, bytes] | None = None,
    ) -> SessionPair:
        """A fresh pair; keys default to fixed test keys (seeds 0x01.. and 0x02..)."""
        a_key = initiator_key or PrivateKey.from_seed(b"\x01" * 32)
        b_key = responder_key or PrivateKey.from_seed(b"\x02" * 32)
        a = PeerSession(
            network, a_key, initiator=True, now=now, config=config,
            ephemeral=None if ephemerals is None else ephemerals[0],
        )
        b = PeerSession(
            responder_network or network, b_key, initiator=False, now=now, config=config,
            ephemeral=None if ephemerals is None else ephemerals[1],
        )
        return cls(a, b, now)

    @property
    def sessions(self) -> tuple[PeerSession, PeerSession]:
        """``(initiator, responder)``."""
        return self.initiator, self.responder

    def pump(self, limit: int = 1000) -> bool:
        """Deliver bytes both ways until both sides are quiet; True if anything moved."""
        moved = False
        for _ in range(limit):
            progressed = False
            for index, (source, target) in enumerate(
                ((self.initiator, self.responder), (self.responder, self.initiator))
            ):
                data = source.data_to_send()
                if not data:
                    continue
                progressed = moved = True
                if self.tamper is not None:
                    data = self.tamper(index, data)
                step = self.chunk or len(data) or 1
                for start in range(0, len(data), step):
                    self.events[1 - index].extend(target.receive_data(data[start : start + step], self.now))
            if not progressed:
                return moved
        raise RuntimeError("sessions kept talking past the pump limit")

    def handshake(self) -> tuple[HandshakeComplete, HandshakeComplete]:
        """Pump until both sides are ready; returns both ``HandshakeComplete`` events."""
        self.pump()
        done = [
            next((e for e in side if isinstance(e, HandshakeComplete)), None) for side in self.events
        ]
        if done[0] is None or done[1] is None:
            raise AssertionError(f"handshake did not complete: {self.events}")
        return done[0], done[1]

    def advance(self, seconds: float) -> None:
        """Move the clock forward and run both sessions' timers, then pump."""
        self.now += seconds
        for index, session in enumerate(self.sessions):
            deadline = session.timer_deadline()
            if deadline is not None and deadline <= self.now:
                self.events[index].extend(session.handle_timer(self.now))
        self.pump()

    def take_events(self) -> tuple[list[SessionEvent], list[SessionEvent]]:
        """The events collected so far (cleared)."""
        taken = (list(self.events[0]), list(self.events[1]))
        self.events[0].clear()
        self.events[1].clear()
        return taken
