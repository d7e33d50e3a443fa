"""Two sessions back to back under random sends, deliveries in random chunk sizes and
clock advances: every message arrives exactly once, in order within its type, and
neither side ever closes."""

from __future__ import annotations

from collections import defaultdict

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from timecoin_core.keys import PrivateKey
from timecoin_core.network import DEVNET
from timecoin_core.wire import (
    Closed,
    Message,
    MessageReceived,
    MessageType,
    SessionPair,
    SessionState,
    sample_messages,
)

SAMPLES = sample_messages(DEVNET.chain_id)
# Types whose burst no run of this machine can exceed, so nothing is rate-dropped.
SENDABLE = [
    SAMPLES[t]
    for t in (MessageType.TX, MessageType.BLOCK_VOTE, MessageType.VOTE_BATCH,
              MessageType.FINALITY_CERTIFICATE, MessageType.INV, MessageType.GET_DATA)
]


class TwoSessions(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.pair = SessionPair.create(DEVNET, PrivateKey.from_seed(b"\x05" * 32), PrivateKey.from_seed(b"\x06" * 32))
        self.pair.handshake()
        self.pair.take_events()
        self.sent: tuple[dict[type, list[Message]], dict[type, list[Message]]] = (defaultdict(list), defaultdict(list))
        self.received: tuple[dict[type, list[Message]], dict[type, list[Message]]] = (defaultdict(list), defaultdict(list))

    def _collect(self) -> None:
        for side, events in enumerate(self.pair.take_events()):
            for event in events:
                assert not isinstance(event, Closed), event
                if isinstance(event, MessageReceived):
                    self.received[side][type(event.message)].append(event.message)

    @rule(side=st.integers(0, 1), message=st.sampled_from(SENDABLE))
    def send(self, side: int, message: Message) -> None:
        assert self.pair.sessions[side].send(message) == []
        self.sent[side][type(message)].append(message)

    @rule(chunk=st.none() | st.integers(1, 700))
    def pump(self, chunk: int | None) -> None:
        self.pair.chunk = chunk
        self.pair.pump()
        self._collect()

    @rule(seconds=st.floats(0.0, 19.0))
    def advance(self, seconds: float) -> None:
        self.pair.advance(seconds)
        self._collect()

    @invariant()
    def both_ready_and_nothing_lost_or_reordered(self) -> None:
        # Delivering whatever is in flight must complete every message sent so far.
        self.pair.chunk = None
        self.pair.pump()
        self._collect()
        for session in self.pair.sessions:
            assert session.state is SessionState.READY
        for side in (0, 1):
            assert dict(self.received[1 - side]) == dict(self.sent[side])


TwoSessions.TestCase.settings = settings(max_examples=40, stateful_step_count=40, deadline=None)
test_two_sessions = TwoSessions.TestCase
