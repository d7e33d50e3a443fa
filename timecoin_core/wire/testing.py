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

from ..consensus.bft_messages import (
    BlockVote,
    Commit,
    CommitCertificate,
    DoubleVoteEvidence,
    Proposal,
    VoteKind,
)
from ..consensus.finality_messages import (
    AcceptVote,
    CertificateEntry,
    ConflictingVotesEvidence,
    FinalityCertificate,
    VoteBatch,
)
from ..hashing import sha256
from ..keys import PrivateKey
from ..network import Network
from ..transaction import OutPoint, Transaction, TxIn, TxOut
from .messages import (
    PROTOCOL_VERSION,
    Addr,
    Blocks,
    FinalEntry,
    Finals,
    GetAddr,
    GetBlocks,
    GetData,
    GetFinals,
    GetStatus,
    Goodbye,
    Hello,
    Inv,
    InvItem,
    InvKind,
    NotFound,
    PeerAddress,
    Ping,
    Pong,
    Status,
)
from .registry import Message, MessageType, encode_message
from .session import HandshakeComplete, PeerSession, SessionConfig, SessionEvent

__all__ = ["SessionPair", "sample_messages"]


def sample_messages(chain_id: int = 3) -> dict[MessageType, Message]:
    """One valid, deterministic message of every type (real signatures where they are cheap).

    For tests, fuzzers (as seeds) and benchmarks: the transaction is a 303-byte
    two-input spend and the block vote 142 bytes.
    """
    keys = [PrivateKey.from_seed(bytes([0x40 + i]) * 32) for i in range(3)]
    prev = [OutPoint(sha256(b"sample-prev-%d" % i), i) for i in range(4)]
    tx = Transaction(
        [TxIn(prev[0], keys[0].public_key.data, bytes(64)), TxIn(prev[1], keys[0].public_key.data, bytes(64))],
        [TxOut(50_000, keys[1].public_key.payload)],
        memo=b"",
    )
    tx = tx.with_witnesses([(keys[0].public_key.data, keys[0].sign(tx.txid))] * 2)
    other = Transaction([TxIn(prev[0])], [TxOut(7_000, keys[2].public_key.payload)], memo=b"other")
    batches = sorted(
        (VoteBatch.create(k, chain_id, 5, [tx.txid, other.txid]) for k in keys), key=lambda b: b.voter
    )
    certificate = FinalityCertificate(
        tx.txid, 5, tuple(CertificateEntry.from_batch(b, tx.txid) for b in batches)
    )
    conflict = ConflictingVotesEvidence.of(
        batches[0].voter, AcceptVote.from_batch(batches[0], tx), AcceptVote.from_batch(batches[0], other)
    )
    value_id = sha256(b"sample-value")
    value = bytes(range(256)) * 8
    proposal = Proposal.create(keys[0], chain_id, 7, 1, 0, value_id, value)
    vote = BlockVote.create(keys[1], chain_id, VoteKind.PRECOMMIT, 7, 1, value_id)
    votes = [BlockVote.create(k, chain_id, VoteKind.PRECOMMIT, 7, 1, value_id) for k in keys]
    commit = Commit(value, CommitCertificate.from_votes(votes))
    nil_vote = BlockVote.create(keys[1], chain_id, VoteKind.PRECOMMIT, 7, 1, None)
    item = InvItem(InvKind.TX, tx.txid)
    samples: list[Message] = [
        Hello(PROTOCOL_VERSION, chain_id, sha256(b"genesis"), 1, 7, sha256(b"tip"), "timecoin/0.1.0",
              24_100, keys[0].public_key.data, keys[0].sign(sha256(b"session"))),
        Ping(0x0102030405060708),
        Pong(0x0102030405060708),
        GetAddr(),
        Addr((PeerAddress.of("192.0.2.1", 24_100, 1, 1_767_225_600), PeerAddress.of("2001:db8::1", 24_101))),
        Inv((item, InvItem(InvKind.VOTE_BATCH, batches[0].root))),
        GetData((item,)),
        NotFound((item,)),
        GetStatus(),
        Status(7, sha256(b"tip"), 5, 42),
        GetBlocks(7, 64, 4_000_000),
        Blocks(7, (commit,)),
        GetFinals(40, 256),
        Finals(41, (FinalEntry(tx, certificate),)),
        Goodbye(2, "shutting down"),
        tx,
        batches[0],
        certificate,
        conflict,
        proposal,
        vote,
        commit,
        DoubleVoteEvidence.of(vote, nil_vote),
    ]
    return {encode_message(m)[0]: m for m in samples}


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
