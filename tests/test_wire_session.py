"""PeerSession: the secure handshake, framing at every byte boundary, every handshake
failure with its own reason, tampering, caps before payloads, bombs, rate limits, send
queues, liveness, and caller misuse."""

from __future__ import annotations

import dataclasses
import os
import struct
import tracemalloc
import zlib
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from timecoin_core.keys import PrivateKey
from timecoin_core.network import DEVNET, TESTNET, GenesisOutput, Network
from timecoin_core.wire import (
    HANDSHAKE_SIZE,
    MAX_RECORDS,
    MESSAGE_SPECS,
    PROTOCOL_VERSION,
    SEALED_HEADER_SIZE,
    TRANSITIONS,
    VIOLATIONS,
    Blame,
    Blocks,
    Closed,
    ErrorCode,
    GetBlocks,
    GetStatus,
    HandshakeComplete,
    Hello,
    Inv,
    InvItem,
    InvKind,
    Message,
    MessageReceived,
    MessageType,
    PeerSession,
    Ping,
    Pong,
    Priority,
    ProtocolError,
    RecordCipher,
    SessionConfig,
    SessionEvent,
    SessionPair,
    SessionState,
    Status,
    derive_keys,
    encode_message,
    identity_message,
)
from timecoin_core.wire.frames import COMPRESSED, pack_header
from timecoin_core.wire.session import _genesis_hash
from timecoin_core.wire.testing import sample_messages

KEY_A = PrivateKey.from_seed(b"\x01" * 32)
KEY_B = PrivateKey.from_seed(b"\x02" * 32)
EPHEMERALS = (b"\x11" * 32, b"\x22" * 32)
SAMPLES = sample_messages(DEVNET.chain_id)


class ScriptedPeer:
    """A hand-driven peer: it does the key exchange by the spec and seals any header and
    payload it is told to, valid or not, so tests can send what PeerSession never would."""

    def __init__(self, network: Network = DEVNET, key: PrivateKey = KEY_B, *, initiator: bool = False,
                 magic: bytes | None = None, ephemeral: bytes | None = None) -> None:
        self.network = network
        self.key = key
        self.initiator = initiator
        self._eph = X25519PrivateKey.from_private_bytes(ephemeral or os.urandom(32))
        self.opening = (magic or network.magic) + self._eph.public_key().public_bytes_raw()

    def connect(self, their_opening: bytes) -> None:
        transcript = self.opening + their_opening if self.initiator else their_opening + self.opening
        keys = derive_keys(self._eph, their_opening[4:36], transcript)
        mine, theirs = (
            (keys.initiator_to_responder, keys.responder_to_initiator)
            if self.initiator
            else (keys.responder_to_initiator, keys.initiator_to_responder)
        )
        self.sender, self.receiver = RecordCipher(mine), RecordCipher(theirs)
        self.session_id = keys.session_id

    def frame(self, type_id: int, payload: bytes, *, flags: int = 0, length: int | None = None,
              raw_length: int | None = None) -> bytes:
        length = len(payload) if length is None else length
        raw_length = length if raw_length is None else raw_length
        return self.sender.seal(pack_header(type_id, flags, length, raw_length)) + self.sender.seal(payload)

    def message(self, message: Message) -> bytes:
        return self.frame(*encode_message(message))

    def hello(self, **changes: object) -> Hello:
        hello = Hello(
            PROTOCOL_VERSION, self.network.chain_id, _genesis_hash(self.network), 0, 0, bytes(32),
            "scripted", 0, self.key.public_key.data,
            self.key.sign(identity_message(self.network.chain_id, self.session_id)),
        )
        return dataclasses.replace(hello, **changes)  # type: ignore[arg-type]

    def read(self, data: bytes) -> list[tuple[int, bytes]]:
        frames = []
        while data:
            type_id, _, _, length, _ = struct.unpack("<HBBII", self.receiver.open(data[:SEALED_HEADER_SIZE]))
            data = data[SEALED_HEADER_SIZE:]
            frames.append((type_id, self.receiver.open(data[: length + 16])))
            data = data[length + 16 :]
        return frames


def recorder(sent: list[bytes]) -> Callable[[int, bytes], bytes]:
    """A SessionPair tamper hook that records what the initiator sends, unchanged."""

    def record(index: int, data: bytes) -> bytes:
        if index == 0:
            sent.append(data)
        return data

    return record


def connect(target: PeerSession, peer: ScriptedPeer, now: float = 0.0) -> list[SessionEvent]:
    """Key exchange between ``target`` and ``peer``; returns target's events (none expected)."""
    peer.connect(target.data_to_send()[:HANDSHAKE_SIZE])
    return target.receive_data(peer.opening, now)


def ready(config: SessionConfig | None = None) -> tuple[PeerSession, ScriptedPeer]:
    target = PeerSession(DEVNET, KEY_A, initiator=True, now=0.0, config=config)
    peer = ScriptedPeer()
    assert connect(target, peer) == []
    peer.read(target.data_to_send())
    events = target.receive_data(peer.message(peer.hello()), 0.0)
    assert isinstance(events[0], HandshakeComplete)
    return target, peer


def closed_with(events: list[SessionEvent]) -> ErrorCode:
    assert events and isinstance(events[-1], Closed), events
    return events[-1].code


def last_close(pair: SessionPair, side: int) -> Closed:
    closes = [e for e in pair.events[side] if isinstance(e, Closed)]
    assert closes, pair.events
    return closes[-1]


# -- the happy path --------------------------------------------------------------------


def test_handshake_proves_both_identities_over_one_session_id() -> None:
    pair = SessionPair.create(DEVNET, KEY_A, KEY_B)
    a, b = pair.handshake()
    assert a.identity == KEY_B.public_key and b.identity == KEY_A.public_key
    assert a.session_id == b.session_id and len(a.session_id) == 32
    assert pair.initiator.state is pair.responder.state is SessionState.READY
    assert a.hello.chain_id == DEVNET.chain_id and a.hello.genesis == _genesis_hash(DEVNET)
    # Fresh ephemerals give a fresh session id.
    again = SessionPair.create(DEVNET, KEY_A, KEY_B)
    assert again.handshake()[0].session_id != a.session_id


def test_every_sample_message_crosses_the_session() -> None:
    pair = SessionPair.create(DEVNET, KEY_A, KEY_B)
    pair.handshake()
    pair.take_events()
    sendable = [m for t, m in SAMPLES.items() if t not in {MessageType.HELLO, MessageType.PING,
                                                          MessageType.PONG, MessageType.GOODBYE}]
    for message in sendable:
        if isinstance(message, Blocks):
            assert pair.responder.send(GetBlocks(message.start, 1, 10**6)) == []
        elif type(message).__name__ == "Finals":
            from timecoin_core.wire import GetFinals

            assert pair.responder.send(GetFinals(0, 1)) == []
        assert pair.initiator.send(message) == []
    pair.pump()
    got = [e.message for e in pair.events[1] if isinstance(e, MessageReceived)]
    # Priorities reorder across types, never within one.
    def by_type(ms: list[Message]) -> list[Message]:
        return sorted(ms, key=lambda m: type(m).__name__)

    assert by_type(got) == by_type(sendable)
    assert pair.initiator.counters["compressed.PROPOSAL"] == 1
    assert pair.initiator.counters.get("compressed.TX", 0) == 0


def test_a_stream_split_at_every_boundary_yields_the_same_events() -> None:
    sent: list[bytes] = []
    pair = SessionPair.create(DEVNET, KEY_A, KEY_B, ephemerals=EPHEMERALS)
    pair.tamper = recorder(sent)
    pair.handshake()
    for message in (SAMPLES[MessageType.TX], SAMPLES[MessageType.BLOCK_VOTE], SAMPLES[MessageType.PROPOSAL], GetStatus()):
        pair.initiator.send(message)
    pair.pump()
    stream = b"".join(sent)

    def run(chunks: list[bytes]) -> list[object]:
        responder = PeerSession(DEVNET, KEY_B, initiator=False, now=0.0, ephemeral=EPHEMERALS[1])
        events: list[SessionEvent] = []
        for chunk in chunks:
            events += responder.receive_data(chunk, 0.0)
        return [e.message if isinstance(e, MessageReceived) else e for e in events]

    reference = run([stream])
    assert len([e for e in reference if not isinstance(e, HandshakeComplete)]) == 4
    for cut in range(1, len(stream)):
        assert run([stream[:cut], stream[cut:]]) == reference, cut
    assert run([stream[i : i + 1] for i in range(len(stream))]) == reference


@given(st.lists(st.integers(1, 400), min_size=1, max_size=30))
@settings(max_examples=40, deadline=None)
def test_a_stream_in_random_chunks_yields_the_same_events(sizes: list[int]) -> None:
    pair = SessionPair.create(DEVNET, KEY_A, KEY_B)
    pair.chunk = sizes[0]
    pair.handshake()
    pair.take_events()
    for size in sizes:
        pair.chunk = size
        pair.initiator.send(SAMPLES[MessageType.TX])
        pair.responder.send(SAMPLES[MessageType.BLOCK_VOTE])
        pair.pump()
    a, b = pair.take_events()
    assert [e.message for e in b if isinstance(e, MessageReceived)] == [SAMPLES[MessageType.TX]] * len(sizes)
    assert [e.message for e in a if isinstance(e, MessageReceived)] == [SAMPLES[MessageType.BLOCK_VOTE]] * len(sizes)


# -- handshake failures: each with its own reason ----------------------------------------


def test_wrong_magic_closes_at_once() -> None:
    session = PeerSession(DEVNET, KEY_A, initiator=True, now=0.0)
    assert closed_with(session.receive_data(b"TIX", 0.0)) is ErrorCode.BAD_MAGIC
    assert session.state is SessionState.CLOSED
    # No keys yet: nothing more is sent, not even a Goodbye.
    assert session.data_to_send()[HANDSHAKE_SIZE:] == b""
    pair = SessionPair.create(DEVNET, responder_network=TESTNET)
    pair.pump()
    assert last_close(pair, 0).code is ErrorCode.BAD_MAGIC
    assert last_close(pair, 1).code is ErrorCode.BAD_MAGIC
    assert not last_close(pair, 0).error.discourage  # type: ignore[union-attr]


def test_wrong_chain() -> None:
    other = dataclasses.replace(DEVNET, chain_id=99)
    pair = SessionPair.create(DEVNET, responder_network=other)
    pair.pump()
    assert last_close(pair, 0).code is ErrorCode.WRONG_CHAIN
    assert last_close(pair, 1).code is ErrorCode.WRONG_CHAIN


def test_wrong_genesis() -> None:
    other = DEVNET.with_genesis((GenesisOutput(bytes(20), 1),))
    pair = SessionPair.create(DEVNET, responder_network=other)
    pair.pump()
    assert last_close(pair, 0).code is ErrorCode.WRONG_GENESIS
    assert last_close(pair, 1).code is ErrorCode.WRONG_GENESIS


def test_bad_identity_signature_is_an_offence() -> None:
    target = PeerSession(DEVNET, KEY_A, initiator=True, now=0.0)
    peer = ScriptedPeer()
    connect(target, peer)
    forged = peer.hello(signature=KEY_B.sign(identity_message(DEVNET.chain_id, bytes(32))))
    events = target.receive_data(peer.message(forged), 0.0)
    assert closed_with(events) is ErrorCode.BAD_IDENTITY_SIGNATURE
    error = events[-1].error  # type: ignore[union-attr]
    assert error is not None and error.discourage and error.blame is Blame.PEER
    # Claiming someone else's identity with our own signature fails the same way.
    target = PeerSession(DEVNET, KEY_A, initiator=True, now=0.0)
    peer = ScriptedPeer()
    connect(target, peer)
    stolen = peer.hello(identity=PrivateKey.from_seed(b"\x09" * 32).public_key.data)
    assert closed_with(target.receive_data(peer.message(stolen), 0.0)) is ErrorCode.BAD_IDENTITY_SIGNATURE


def test_self_connection() -> None:
    pair = SessionPair.create(DEVNET, KEY_A, KEY_A)
    pair.pump()
    assert last_close(pair, 0).code is ErrorCode.SELF_CONNECTION
    assert last_close(pair, 1).code is ErrorCode.SELF_CONNECTION


def test_incompatible_version() -> None:
    target = PeerSession(DEVNET, KEY_A, initiator=True, now=0.0)
    peer = ScriptedPeer()
    connect(target, peer)
    events = target.receive_data(peer.message(peer.hello(version=0)), 0.0)
    assert closed_with(events) is ErrorCode.INCOMPATIBLE_VERSION


def test_a_message_before_hello_is_refused_on_its_header() -> None:
    target = PeerSession(DEVNET, KEY_A, initiator=True, now=0.0)
    peer = ScriptedPeer()
    connect(target, peer)
    frame = peer.message(Ping(1))
    events = target.receive_data(frame[:SEALED_HEADER_SIZE], 0.0)
    assert closed_with(events) is ErrorCode.MESSAGE_BEFORE_HELLO
    assert events[-1].error.discourage  # type: ignore[union-attr]
    # The target told the peer why, sealed.
    frames = peer.read(target.data_to_send())
    assert frames[-1][0] == MessageType.GOODBYE
    assert struct.unpack("<H", frames[-1][1][:2])[0] == ErrorCode.MESSAGE_BEFORE_HELLO


def test_duplicate_hello() -> None:
    target, peer = ready()
    assert closed_with(target.receive_data(peer.message(peer.hello()), 1.0)) is ErrorCode.DUPLICATE_HELLO


def test_low_order_ephemeral_key() -> None:
    target = PeerSession(DEVNET, KEY_A, initiator=False, now=0.0)
    events = target.receive_data(DEVNET.magic + bytes(32), 0.0)
    assert closed_with(events) is ErrorCode.BAD_EPHEMERAL_KEY


def test_handshake_timeout() -> None:
    session = PeerSession(DEVNET, KEY_A, initiator=True, now=100.0)
    assert session.timer_deadline() == 110.0
    assert session.handle_timer(109.9) == []
    assert closed_with(session.handle_timer(110.0)) is ErrorCode.HANDSHAKE_TIMEOUT
    assert session.timer_deadline() is None


@pytest.mark.parametrize("where", ["header", "payload", "tag"])
def test_tampered_ciphertext(where: str) -> None:
    target, peer = ready()
    frame = bytearray(peer.message(SAMPLES[MessageType.TX]))
    index = {"header": 3, "payload": SEALED_HEADER_SIZE + 10, "tag": len(frame) - 1}[where]
    frame[index] ^= 0x40
    events = target.receive_data(bytes(frame), 1.0)
    assert closed_with(events) is ErrorCode.DECRYPT_FAILED
    assert not events[-1].error.discourage  # type: ignore[union-attr]


def test_replayed_record() -> None:
    target, peer = ready()
    frame = peer.message(GetStatus())
    assert isinstance(target.receive_data(frame, 1.0)[0], MessageReceived)
    assert closed_with(target.receive_data(frame, 1.0)) is ErrorCode.DECRYPT_FAILED


def test_reordered_records() -> None:
    target, peer = ready()
    first, second = peer.message(GetStatus()), peer.message(GetStatus())
    assert closed_with(target.receive_data(second + first, 1.0)) is ErrorCode.DECRYPT_FAILED


def test_truncated_record_then_end_of_stream() -> None:
    target, peer = ready()
    frame = peer.message(SAMPLES[MessageType.TX])
    assert target.receive_data(frame[:-5], 1.0) == []
    assert closed_with(target.receive_data(b"", 1.0)) is ErrorCode.TRUNCATED
    target, peer = ready()
    assert closed_with(target.receive_data(b"", 1.0)) is ErrorCode.CONNECTION_CLOSED


def test_the_transition_table_is_closed_and_violations_are_not_transitions() -> None:
    assert set(TRANSITIONS) == set(SessionState)
    assert TRANSITIONS[SessionState.CLOSED] == {}
    for (state, event), code in VIOLATIONS.items():
        assert event not in TRANSITIONS[state]
        assert code.name in {"MESSAGE_BEFORE_HELLO", "DUPLICATE_HELLO"}


# -- caps before payloads, compression bombs -------------------------------------------


def test_a_header_over_its_types_cap_closes_before_the_payload() -> None:
    target, peer = ready()
    header = peer.sender.seal(pack_header(MessageType.PING, 0, 17, 17))
    events = target.receive_data(header, 1.0)
    assert closed_with(events) is ErrorCode.OVERSIZED_MESSAGE
    assert events[-1].error.discourage  # type: ignore[union-attr]


def test_over_cap_header_memory_stays_small() -> None:
    target, peer = ready()
    cap = MESSAGE_SPECS[MessageType.PROPOSAL].cap
    header = peer.sender.seal(pack_header(MessageType.PROPOSAL, 0, cap + 1, cap + 1))
    junk = bytes(64 * 1024)
    tracemalloc.start()
    try:
        events = target.receive_data(header + junk, 1.0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert closed_with(events) is ErrorCode.OVERSIZED_MESSAGE
    assert peak < 4 * len(junk) + 64 * 1024


@pytest.mark.parametrize("declared", ["small", "cap"])
def test_a_compression_bomb_is_refused_with_memory_bounded_by_the_cap(declared: str) -> None:
    target, peer = ready()
    cap = MESSAGE_SPECS[MessageType.PROPOSAL].cap
    packer = zlib.compressobj(9)
    chunk = bytes(1 << 20)
    mib = 3 if declared == "small" else 64
    bomb = b"".join(packer.compress(chunk) for _ in range(mib)) + packer.flush()  # zeros
    raw_length = 4096 if declared == "small" else cap
    assert len(bomb) * 10 <= raw_length * 9
    frame = peer.frame(MessageType.PROPOSAL, bomb, flags=COMPRESSED, raw_length=raw_length)
    tracemalloc.start()
    try:
        events = target.receive_data(frame, 1.0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert closed_with(events) is ErrorCode.BAD_COMPRESSION
    # CPython's zlib joins its output blocks into one bytes object at the end, so
    # inflating holds up to twice the declared length: bounded by the cap, never by
    # what the bomb would inflate to (here 8x to 1,000x more).
    assert peak < 2 * raw_length + 4 * len(frame) + (1 << 20)
    assert peak < 2 * cap + (2 << 20)


def test_compression_must_follow_the_rule() -> None:
    target, peer = ready()
    payload = encode_message(GetStatus())[1]
    frame = peer.frame(MessageType.STATUS, zlib.compress(bytes(56)), flags=COMPRESSED, raw_length=56)
    assert closed_with(target.receive_data(frame, 1.0)) is ErrorCode.BAD_HEADER
    target, peer = ready()
    frame = peer.frame(MessageType.GET_STATUS, payload, flags=0x02)
    assert closed_with(target.receive_data(frame, 1.0)) is ErrorCode.BAD_HEADER
    target, peer = ready()
    assert closed_with(target.receive_data(peer.frame(0x7F, b""), 1.0)) is ErrorCode.UNKNOWN_MESSAGE_TYPE
    # Inflating to fewer bytes than declared is refused too.
    target, peer = ready()
    value = SAMPLES[MessageType.PROPOSAL]
    raw = encode_message(value)[1]
    packed = zlib.compress(raw)
    frame = peer.frame(MessageType.PROPOSAL, packed, flags=COMPRESSED, raw_length=len(raw) + 1)
    assert closed_with(target.receive_data(frame, 1.0)) is ErrorCode.BAD_COMPRESSION
    # A valid compressed frame from a third-party sender is accepted.
    target, peer = ready()
    frame = peer.frame(MessageType.PROPOSAL, packed, flags=COMPRESSED, raw_length=len(raw))
    assert target.receive_data(frame, 1.0) == [MessageReceived(value, len(raw))]


def test_malformed_payload_of_a_known_type_is_an_offence() -> None:
    target, peer = ready()
    events = target.receive_data(peer.frame(MessageType.STATUS, bytes(55)), 1.0)
    assert closed_with(events) is ErrorCode.MALFORMED_MESSAGE
    assert events[-1].error.discourage  # type: ignore[union-attr]


# -- replies, rates and queues ---------------------------------------------------------


def test_unsolicited_replies() -> None:
    target, peer = ready()
    assert closed_with(target.receive_data(peer.message(SAMPLES[MessageType.BLOCKS]), 1.0)) is ErrorCode.UNSOLICITED_MESSAGE
    target, peer = ready()
    assert closed_with(target.receive_data(peer.message(Pong(1)), 1.0)) is ErrorCode.UNSOLICITED_MESSAGE
    target, peer = ready()
    assert target.send(GetBlocks(7, 1, 10**6)) == []
    events = target.receive_data(peer.message(SAMPLES[MessageType.BLOCKS]), 1.0)
    assert isinstance(events[0], MessageReceived)
    assert closed_with(target.receive_data(peer.message(SAMPLES[MessageType.BLOCKS]), 1.0)) is ErrorCode.UNSOLICITED_MESSAGE


def test_rate_overflow_drops_then_a_debt_over_twice_the_burst_disconnects() -> None:
    target, peer = ready()
    burst = 5
    events = target.receive_data(b"".join(peer.message(Ping(i)) for i in range(burst)), 1.0)
    assert events == []
    pongs = [f for f in peer.read(target.data_to_send()) if f[0] == MessageType.PONG]
    assert len(pongs) == burst
    events = target.receive_data(b"".join(peer.message(Ping(i)) for i in range(2 * burst)), 1.0)
    assert events == [] and target.counters["drop.rate.PING"] == 2 * burst
    events = target.receive_data(peer.message(Ping(99)), 1.0)
    assert closed_with(events) is ErrorCode.RATE_LIMITED
    assert not events[-1].error.discourage  # type: ignore[union-attr]


def test_the_bucket_refills_with_time() -> None:
    target, peer = ready()
    for second in range(1, 30):
        target.receive_data(peer.message(Status(1, bytes(32), 1, 1)), float(second))
    assert target.state is SessionState.READY and target.counters.get("drop.rate.STATUS", 0) == 0


def test_once_only_messages_after_the_first_are_dropped() -> None:
    from timecoin_core.wire import GetAddr

    target, peer = ready()
    assert len(target.receive_data(peer.message(GetAddr()), 1.0)) == 1
    assert target.receive_data(peer.message(GetAddr()), 1.0) == []
    assert target.counters["drop.once.GET_ADDR"] == 1


def test_send_queue_sheds_low_priority_first_then_closes() -> None:
    config = SessionConfig(send_queue_bytes=64 * 1024)
    target, _ = ready(config)
    tx = SAMPLES[MessageType.TX]
    for _ in range(400):
        target.send(tx)
    assert target.queued_bytes <= 64 * 1024
    assert target.counters["shed.TX"] > 0
    shed_before = target.counters["shed.TX"]
    vote = SAMPLES[MessageType.BLOCK_VOTE]
    assert target.send(vote) == []
    assert target.counters["shed.TX"] == shed_before + 1  # one queued tx made room
    # Consensus messages shed every transaction, then close the session.
    events: list[SessionEvent] = []
    for _ in range(1000):
        events = target.send(vote)
        if events:
            break
    assert closed_with(events) is ErrorCode.SEND_QUEUE_FULL
    assert target.queued_bytes == 0


def test_data_to_send_seals_in_priority_order_and_respects_max_bytes() -> None:
    target, peer = ready()
    target.send(SAMPLES[MessageType.TX])
    target.send(GetStatus())
    target.send(SAMPLES[MessageType.BLOCK_VOTE])
    first = target.data_to_send(max_bytes=1)
    assert [f[0] for f in peer.read(first)] == [MessageType.BLOCK_VOTE]
    rest = target.data_to_send()
    assert [f[0] for f in peer.read(rest)] == [MessageType.GET_STATUS, MessageType.TX]
    target.send(SAMPLES[MessageType.TX], Priority.CONSENSUS)
    target.send(SAMPLES[MessageType.BLOCK_VOTE], Priority.BULK)
    assert [f[0] for f in peer.read(target.data_to_send())] == [MessageType.TX, MessageType.BLOCK_VOTE]


# -- liveness --------------------------------------------------------------------------


def test_ping_pong_and_round_trip_time() -> None:
    pair = SessionPair.create(DEVNET)
    pair.handshake()
    assert pair.initiator.timer_deadline() == 30.0
    pair.now = 30.0
    pair.initiator.handle_timer(30.0)
    pair.now = 30.25
    pair.pump()
    assert pair.initiator.ping_rtt == 0.25
    assert pair.initiator.counters["rx.PONG"] == 1
    assert pair.initiator.timer_deadline() == 60.0


def test_pong_timeout() -> None:
    target, peer = ready()
    assert target.handle_timer(30.0) == []
    assert [f[0] for f in peer.read(target.data_to_send())] == [MessageType.PING]
    assert target.timer_deadline() == 50.0
    assert closed_with(target.handle_timer(50.0)) is ErrorCode.PONG_TIMEOUT


def test_idle_timeout() -> None:
    target, peer = ready(SessionConfig(ping_interval=1000.0))
    assert target.timer_deadline() == 90.0
    target.receive_data(peer.message(GetStatus()), 50.0)
    assert target.timer_deadline() == 140.0
    assert closed_with(target.handle_timer(140.0)) is ErrorCode.IDLE_TIMEOUT


def test_goodbye_closes_both_sides_with_the_reason() -> None:
    pair = SessionPair.create(DEVNET)
    pair.handshake()
    pair.initiator.send(GetStatus())
    events = pair.initiator.close(flush=True)
    assert events == [Closed(ErrorCode.CLOSED_BY_LOCAL)]
    pair.pump()
    got = pair.events[1]
    assert isinstance(got[-2], MessageReceived)  # the flushed message arrived first
    assert got[-1] == Closed(ErrorCode.CLOSED_BY_PEER, None, "CLOSED_BY_LOCAL")
    assert pair.initiator.close() == []
    assert pair.initiator.receive_data(b"late", 1.0) == []


# -- caller misuse raises, with local blame --------------------------------------------


def test_caller_misuse_raises_local_protocol_errors() -> None:
    session = PeerSession(DEVNET, KEY_A, initiator=True, now=5.0)
    with pytest.raises(ProtocolError) as info:
        session.send(GetStatus())
    assert info.value.code is ErrorCode.INVALID_STATE and info.value.blame is Blame.LOCAL
    with pytest.raises(ProtocolError) as info:
        session.receive_data(b"", 4.0)
    assert info.value.code is ErrorCode.TIME_WENT_BACKWARDS
    target, _ = ready()
    for bad, code in ((Ping(1), ErrorCode.INVALID_ARGUMENT), (b"junk", ErrorCode.NOT_A_MESSAGE)):
        with pytest.raises(ProtocolError) as info:
            target.send(bad)  # type: ignore[arg-type]
        assert info.value.code is code and info.value.blame is Blame.LOCAL
    with pytest.raises(ProtocolError):
        PeerSession(DEVNET, KEY_A, initiator=True, now=0.0, ephemeral=b"short")
    with pytest.raises(ValueError):
        SessionConfig(handshake_timeout=0)
    with pytest.raises(ValueError):
        SessionConfig(user_agent="x" * 257)
    with pytest.raises(ValueError):
        SessionConfig(listen_port=70_000)


def test_the_session_closes_before_a_nonce_could_repeat() -> None:
    target, _ = ready()
    assert target._sender is not None
    target._sender.counter = MAX_RECORDS - 5
    assert target.send(GetStatus()) == []
    target.data_to_send()
    events = target.send(GetStatus())
    assert closed_with(events) is ErrorCode.NONCE_EXHAUSTED
    cipher = RecordCipher(bytes(32), MAX_RECORDS)
    with pytest.raises(ProtocolError) as info:
        cipher.seal(b"x")
    assert info.value.code is ErrorCode.NONCE_EXHAUSTED


# -- hostile input never raises --------------------------------------------------------


@given(st.binary(max_size=600), st.booleans())
@settings(max_examples=300, deadline=None)
def test_random_bytes_into_a_session_only_close_it(data: bytes, after_opening: bool) -> None:
    session = PeerSession(DEVNET, KEY_A, initiator=False, now=0.0, ephemeral=EPHEMERALS[1])
    prefix = DEVNET.magic + X25519PrivateKey.from_private_bytes(EPHEMERALS[0]).public_key().public_bytes_raw()
    events = session.receive_data((prefix if after_opening else b"") + data, 0.0)
    assert all(isinstance(e, Closed) for e in events)
    assert session.receive_data(b"", 0.0) == [] or session.state is SessionState.CLOSED


def _recorded_stream() -> bytes:
    sent: list[bytes] = []
    pair = SessionPair.create(DEVNET, KEY_A, KEY_B, ephemerals=EPHEMERALS)
    pair.tamper = recorder(sent)
    pair.handshake()
    pair.initiator.send(SAMPLES[MessageType.TX])
    pair.initiator.send(Inv((InvItem(InvKind.TX, bytes(32)),)))
    pair.pump()
    return b"".join(sent)


STREAM = _recorded_stream()


@given(st.lists(st.tuples(st.integers(0, len(STREAM) - 1), st.integers(0, 255)), min_size=1, max_size=4))
@settings(max_examples=200, deadline=None)
def test_mutated_streams_only_close_the_session(mutations: list[tuple[int, int]]) -> None:
    data = bytearray(STREAM)
    for index, value in mutations:
        data[index] = value
    session = PeerSession(DEVNET, KEY_B, initiator=False, now=0.0, ephemeral=EPHEMERALS[1])
    events = session.receive_data(bytes(data), 0.0)
    if bytes(data) != STREAM:
        assert any(isinstance(e, Closed) for e in events) or session.state is not SessionState.READY or events


def test_a_decoder_bug_costs_one_connection_not_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    import timecoin_core.wire.session as session_module

    def broken(spec: object, payload: bytes) -> Message:
        raise IndexError("bug")

    target, peer = ready()
    monkeypatch.setattr(session_module, "decode_payload", broken)
    events = target.receive_data(peer.message(GetStatus()), 1.0)
    assert closed_with(events) is ErrorCode.MALFORMED_MESSAGE
    assert target.counters["internal.decoder_error"] == 1
    assert target.closed == events[-1]


def test_eighty_max_size_junk_frames_cost_memory_bounded_by_one_cap() -> None:
    # The memory half of NETWORK.md's exhaustion test, sans IO: junk transactions of the
    # largest size a header may name, each from a fresh connection (each one closes its
    # session); meanwhile an honest session keeps answering pings.
    cap = MESSAGE_SPECS[MessageType.TX].cap
    junk = bytes(cap)
    honest = SessionPair.create(DEVNET)
    honest.handshake()
    frames = []
    for _ in range(80):
        target, peer = ready()
        frames.append((target, peer.frame(MessageType.TX, junk)))
    tracemalloc.start()
    try:
        for i, (target, frame) in enumerate(frames):
            assert closed_with(target.receive_data(frame, 1.0)) is ErrorCode.MALFORMED_MESSAGE
            if i % 4 == 0:
                honest.advance(30.0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * cap
    assert honest.initiator.counters["rx.PONG"] == 20
    assert honest.initiator.state is SessionState.READY
