"""The peer session: one connection's secure handshake, framing, liveness, rate limits and
send queues, as a pure state machine.

Theory of operation. :class:`PeerSession` does no I/O and reads no clock, like h11's
``Connection``: the caller feeds it the bytes it read with ``receive_data(data, now)``
and gets events back, writes whatever ``data_to_send()`` returns, and calls
``handle_timer(now)`` when ``timer_deadline()`` passes. ``receive_data(b"", now)``
means the stream ended.

The handshake is the first two rows of :data:`TRANSITIONS`. A session starts in
``AWAIT_KEY`` with its opening (magic and ephemeral key) already queued; the peer's
opening (``KEY``) derives the keys and queues our sealed ``Hello``; the peer's
``Hello`` (``HELLO``), once its chain, genesis, identity signature and identity are
checked, makes the session ``READY`` and yields :class:`HandshakeComplete`. Any input
the table does not allow in a state is a violation named by :data:`VIOLATIONS`;
``CLOSE`` is allowed everywhere and leads to ``CLOSED``, which accepts nothing more.

Peer input never raises: every :class:`~timecoin_core.wire.ProtocolError` it causes
closes the session (with a ``Goodbye`` carrying the code when keys exist) and comes
back as a :class:`Closed` event. Caller misuse (sending before ``READY`` or after
``CLOSED``, a value that is not a message, time going backwards) raises
``ProtocolError`` with ``Blame.LOCAL``.

In ``READY`` every frame's header is checked and charged to its type's token buckets
before its payload is decoded: a dropped frame is opened (the record counter must
advance) but never inflated or decoded. Ping and Pong are the session's own business:
it pings every ``ping_interval``, answers pings, and closes when a pong is late or the
peer falls silent; it surfaces neither. ``Blocks`` and ``Finals`` must answer an
outstanding ``GetBlocks`` or ``GetFinals``, and a ``Pong`` an outstanding ``Ping``:
anything else is an unsolicited reply.

Outgoing messages wait, encoded and compressed but not sealed, in three queues by
:class:`~timecoin_core.wire.Priority`; ``data_to_send`` seals them in priority order,
so the record counter follows the order bytes leave. The queues share a byte cap:
over it, queued frames of lower priority than the new one are shed (newest first),
then a new bulk message is itself dropped, and anything more important that still
does not fit closes the session (``SEND_QUEUE_FULL``). Every such decision, every
message in and out and every close is counted in :attr:`PeerSession.counters`.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from types import MappingProxyType
from typing import Final

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ..block import genesis_block
from ..keys import PrivateKey, PublicKey
from ..network import Network
from .errors import Blame, ErrorCode, ProtocolError, WireConfigError, local_error
from .frames import (
    HANDSHAKE_SIZE,
    MAX_RECORDS,
    SEALED_HEADER_SIZE,
    TAG_SIZE,
    FrameHeader,
    RecordCipher,
    check_header,
    compress,
    derive_keys,
    identity_message,
    inflate,
    opening,
    pack_header,
)
from .messages import MAX_GOODBYE_DETAIL, PROTOCOL_VERSION, Goodbye, Hello, Ping, Pong
from .ratelimit import RateVerdict, TokenBucket
from .registry import (
    MESSAGE_SPECS,
    Message,
    MessageSpec,
    MessageType,
    Priority,
    RateUnit,
    decode_payload,
    spec_of,
)

__all__ = [
    "TRANSITIONS",
    "VIOLATIONS",
    "Closed",
    "HandshakeComplete",
    "MessageReceived",
    "PeerSession",
    "SessionConfig",
    "SessionEvent",
    "SessionInput",
    "SessionState",
]


class SessionState(Enum):
    """Where a session is in its life."""

    AWAIT_KEY = "await_key"
    AWAIT_HELLO = "await_hello"
    READY = "ready"
    CLOSED = "closed"


class SessionInput(Enum):
    """What can happen to a session: the peer's opening, its Hello, any other message, a close."""

    KEY = "key"
    HELLO = "hello"
    MESSAGE = "message"
    CLOSE = "close"


_S = SessionState
_I = SessionInput

TRANSITIONS: Final[Mapping[SessionState, Mapping[SessionInput, SessionState]]] = MappingProxyType(
    {
        _S.AWAIT_KEY: MappingProxyType({_I.KEY: _S.AWAIT_HELLO, _I.CLOSE: _S.CLOSED}),
        _S.AWAIT_HELLO: MappingProxyType({_I.HELLO: _S.READY, _I.CLOSE: _S.CLOSED}),
        _S.READY: MappingProxyType({_I.MESSAGE: _S.READY, _I.CLOSE: _S.CLOSED}),
        _S.CLOSED: MappingProxyType({}),
    }
)
"""``TRANSITIONS[state][input]`` is the next state; a missing entry is not allowed."""

VIOLATIONS: Final[Mapping[tuple[SessionState, SessionInput], ErrorCode]] = MappingProxyType(
    {
        (_S.AWAIT_HELLO, _I.MESSAGE): ErrorCode.MESSAGE_BEFORE_HELLO,
        (_S.READY, _I.HELLO): ErrorCode.DUPLICATE_HELLO,
    }
)
"""The code a peer input the table does not allow closes the session with."""


@dataclass(frozen=True, slots=True)
class MessageReceived:
    """The peer sent ``message`` (``size`` bytes of raw payload)."""

    message: Message
    size: int


@dataclass(frozen=True, slots=True)
class HandshakeComplete:
    """The session is ``READY``: the peer proved ``identity`` over ``session_id``."""

    identity: PublicKey
    hello: Hello
    session_id: bytes


@dataclass(frozen=True, slots=True)
class Closed:
    """The session ended with ``code``; ``error`` is the peer's offence or fault, if any."""

    code: ErrorCode
    error: ProtocolError | None = None
    detail: str = ""


SessionEvent = MessageReceived | HandshakeComplete | Closed
"""What ``receive_data``, ``handle_timer``, ``send`` and ``close`` report."""


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """A session's timeouts, queue cap and what its ``Hello`` advertises (validated here)."""

    handshake_timeout: float = 10.0
    ping_interval: float = 30.0
    pong_timeout: float = 20.0
    idle_timeout: float = 90.0
    send_queue_bytes: int = 16 * 1024 * 1024
    services: int = 0
    user_agent: str = "timecoin/0.1.0"
    listen_port: int = 0
    best_height: int = 0
    best_tip: bytes = bytes(32)
    min_version: int = PROTOCOL_VERSION

    def __post_init__(self) -> None:
        for name in ("handshake_timeout", "ping_interval", "pong_timeout", "idle_timeout"):
            if not getattr(self, name) > 0:
                raise WireConfigError(f"{name} must be positive")
        if self.send_queue_bytes < 64 * 1024:
            raise WireConfigError("send_queue_bytes must be at least 64 KiB")
        # What the Hello will advertise is checked now, not when the peer's key arrives.
        Hello(PROTOCOL_VERSION, 0, bytes(32), self.services, self.best_height, self.best_tip,
              self.user_agent, self.listen_port, bytes(32), bytes(64))


def _detach(error: BaseException) -> None:
    """Drop the tracebacks of ``error`` and the exceptions chained to it.

    A ``Closed`` event outlives the parse that raised it, and a traceback keeps that
    parse's frames alive, payload buffers included: a closed session would otherwise
    hold up to a frame cap of memory until it is collected.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        current.__traceback__ = None
        current = current.__cause__ or current.__context__


@lru_cache(maxsize=16)
def _genesis_hash(network: Network) -> bytes:
    return genesis_block(network).hash


@dataclass(slots=True)
class _Outgoing:
    spec: MessageSpec
    flags: int
    body: bytes
    raw_length: int


_CONTROL: Final = frozenset({MessageType.HELLO, MessageType.GOODBYE, MessageType.PING, MessageType.PONG})
_READY: Final = SessionState.READY
_CLOSED: Final = SessionState.CLOSED
_HELLO: Final = MessageType.HELLO
_REQUESTS: Final = frozenset({MessageType.GET_BLOCKS, MessageType.GET_FINALS})
_SPEC: Final[dict[MessageType, MessageSpec]] = dict(MESSAGE_SPECS)
# Counter keys made once: formatting them per message is a measurable share of its cost.
_RX: Final = {t: f"rx.{t.name}" for t in MessageType}
_TX: Final = {t: f"tx.{t.name}" for t in MessageType}
_REPLY_TO: Final = {MessageType.BLOCKS: MessageType.GET_BLOCKS, MessageType.FINALS: MessageType.GET_FINALS}
# The last large message encoded (by any session of this process) and its frame body.
# Messages are frozen values, so the same object always encodes the same way; holding
# one keeps the memory cost to one message.
_LAST_ENCODED: list[tuple[Message, int, bytes, int] | None] = [None]
_REUSE_MIN: Final = 1024
# Records a Goodbye needs; the session closes before the send counter gets this close
# to MAX_RECORDS so it can always say why.
_RESERVED_RECORDS: Final = 2


class PeerSession:
    """One connection's protocol machine: bytes in, events and bytes out.

    ``identity_key`` signs our ``Hello`` (a masternode's operator key or the node's
    persistent key); ``initiator`` is True on the side that dialled. ``ephemeral`` is
    the 32-byte X25519 private key of this session, generated when omitted (pass one
    only for reproducible tests and vectors). ``now`` is the caller's monotonic time in
    seconds; every later ``now`` must not be smaller.
    """

    def __init__(
        self,
        network: Network,
        identity_key: PrivateKey,
        *,
        initiator: bool,
        now: float,
        config: SessionConfig | None = None,
        ephemeral: bytes | None = None,
    ) -> None:
        if not isinstance(network, Network) or not isinstance(identity_key, PrivateKey):
            raise local_error(ErrorCode.INVALID_ARGUMENT, "need a Network and a PrivateKey")
        self.network = network
        self.initiator = initiator
        self.config = config if config is not None else SessionConfig()
        self._identity = identity_key
        self._genesis = _genesis_hash(network)
        if ephemeral is None:
            self._ephemeral = X25519PrivateKey.generate()
        else:
            if type(ephemeral) is not bytes or len(ephemeral) != 32:
                raise local_error(ErrorCode.INVALID_ARGUMENT, "ephemeral key must be 32 bytes")
            self._ephemeral = X25519PrivateKey.from_private_bytes(ephemeral)
        self._opening = opening(network.magic, self._ephemeral.public_key().public_bytes_raw())
        self._state = SessionState.AWAIT_KEY
        self._now = now
        self._handshake_deadline = now + self.config.handshake_timeout
        self._last_received = now
        self._next_ping = now
        self._ping_nonce = 0
        self._ping_sent_at = 0.0
        self._pong_deadline: float | None = None
        self._rtt: float | None = None
        self._in = bytearray()
        self._header: FrameHeader | None = None
        self._drop_payload = False
        self._out: list[bytes] = [self._opening]
        self._queues: tuple[deque[_Outgoing], ...] = tuple(deque() for _ in Priority)
        self._queued_bytes = 0
        self._queued_frames = 0
        self._sender: RecordCipher | None = None
        self._receiver: RecordCipher | None = None
        self._session_id: bytes | None = None
        self._peer_hello: Hello | None = None
        self._buckets: dict[MessageType, tuple[tuple[TokenBucket, RateUnit], ...]] = {}
        self._requests: Counter[MessageType] = Counter()
        self._seen_once: set[MessageType] = set()
        self._counters: Counter[str] = Counter()
        self._closed: Closed | None = None

    # -- read-only views --------------------------------------------------------------

    @property
    def state(self) -> SessionState:
        """The current :class:`SessionState`."""
        return self._state

    @property
    def session_id(self) -> bytes | None:
        """The 32-byte session id once keys are agreed, else ``None``."""
        return self._session_id

    @property
    def peer_hello(self) -> Hello | None:
        """The peer's verified ``Hello`` once ``READY``."""
        return self._peer_hello

    @property
    def peer_identity(self) -> PublicKey | None:
        """The peer's proven identity key once ``READY``."""
        return None if self._peer_hello is None else PublicKey(self._peer_hello.identity)

    @property
    def ping_rtt(self) -> float | None:
        """Seconds between our last answered ping and its pong (eviction protects low pings)."""
        return self._rtt

    @property
    def queued_bytes(self) -> int:
        """Payload bytes waiting in the send queues."""
        return self._queued_bytes

    @property
    def closed(self) -> Closed | None:
        """How the session ended, or ``None`` while it is open."""
        return self._closed

    @property
    def counters(self) -> Mapping[str, int]:
        """Counts of every decision: ``rx.<TYPE>``, ``tx.<TYPE>``, ``drop.rate.<TYPE>``,
        ``shed.<TYPE>``, ``drop.once.<TYPE>``, ``compressed.<TYPE>``, ``bytes.rx``,
        ``bytes.tx``, ``closed.<CODE>`` and more (a snapshot)."""
        return MappingProxyType(dict(self._counters))

    # -- input ------------------------------------------------------------------------

    def receive_data(self, data: bytes, now: float) -> list[SessionEvent]:
        """Feed bytes read from the peer (``b""`` for end of stream); returns what happened."""
        self._advance(now)
        if self._state is _CLOSED:
            self._counters["rx.ignored_after_close"] += len(data)
            return []
        events: list[SessionEvent] = []
        if not data:
            pending = bool(self._in) or self._header is not None
            code = ErrorCode.TRUNCATED if pending else ErrorCode.CONNECTION_CLOSED
            self._close(events, ProtocolError(code, "end of stream"), send_goodbye=False)
            return events
        self._counters["bytes.rx"] += len(data)
        # Whole records are opened straight from the caller's bytes; only a partial
        # record's bytes are copied into the buffer to wait for the rest.
        buffered = bool(self._in)
        if buffered:
            self._in += data
        buf = self._in if buffered else data
        try:
            used = self._parse(buf, events, now)
        except ProtocolError as exc:
            self._close(events, exc)
            return events
        if self._closed is not None:
            return events
        if buffered:
            del self._in[:used]
        elif used < len(data):
            self._in = bytearray(memoryview(data)[used:])
        return events

    def handle_timer(self, now: float) -> list[SessionEvent]:
        """Act on every deadline that has passed by ``now``: timeouts close, pings go out."""
        self._advance(now)
        events: list[SessionEvent] = []
        state = self._state
        if state is _CLOSED:
            return events
        config = self.config
        if state is not _READY:
            if now >= self._handshake_deadline:
                self._close(events, ProtocolError(ErrorCode.HANDSHAKE_TIMEOUT, f"{config.handshake_timeout}s"))
            return events
        if self._pong_deadline is not None and now >= self._pong_deadline:
            self._close(events, ProtocolError(ErrorCode.PONG_TIMEOUT, f"{config.pong_timeout}s"))
        elif now >= self._last_received + config.idle_timeout:
            self._close(events, ProtocolError(ErrorCode.IDLE_TIMEOUT, f"{config.idle_timeout}s"))
        elif self._pong_deadline is None and now >= self._next_ping:
            self._ping_nonce += 1
            self._ping_sent_at = now
            self._pong_deadline = now + config.pong_timeout
            self._next_ping = now + config.ping_interval
            self._enqueue(Ping(self._ping_nonce), _SPEC[MessageType.PING], Priority.CONSENSUS, events)
        return events

    def timer_deadline(self) -> float | None:
        """When ``handle_timer`` must next be called (``None`` once closed)."""
        state = self._state
        if state is _CLOSED:
            return None
        if state is not _READY:
            return self._handshake_deadline
        idle = self._last_received + self.config.idle_timeout
        if self._pong_deadline is not None:
            return min(self._pong_deadline, idle)
        return min(self._next_ping, idle)

    # -- output -----------------------------------------------------------------------

    def send(self, message: Message, priority: Priority | None = None) -> list[SessionEvent]:
        """Queue ``message`` (at its type's default priority unless given).

        Returns ``[Closed(SEND_QUEUE_FULL)]`` when the queue cap forces a close, else
        ``[]`` (the message may have been shed; see the ``shed.*`` counters).

        :raises ProtocolError: (local) the session is not ``READY``; ``message`` is not a
            wire message, is one the session sends itself (Hello, Ping, Pong, Goodbye),
            or is over its type's cap.
        """
        if self._state is not _READY:
            raise local_error(ErrorCode.INVALID_STATE, f"cannot send in state {self._state.value}")
        spec = spec_of(message)
        if spec.type in _CONTROL:
            raise local_error(ErrorCode.INVALID_ARGUMENT, f"the session sends {spec.type.name} itself")
        if priority is None:
            priority = spec.priority
        elif not isinstance(priority, Priority):
            raise local_error(ErrorCode.INVALID_ARGUMENT, "priority must be a Priority")
        events: list[SessionEvent] = []
        self._enqueue(message, spec, priority, events)
        return events

    def data_to_send(self, max_bytes: int | None = None) -> bytes:
        """Bytes to write to the peer: pending handshake bytes, then queued messages sealed
        in priority order, stopping once ``max_bytes`` is reached (at least one frame)."""
        if self._queued_frames:
            self._drain(max_bytes)
        out = self._out
        if not out:
            return b""
        data = out[0] if len(out) == 1 else b"".join(out)
        self._out = []
        self._counters["bytes.tx"] += len(data)
        return data

    def close(self, code: ErrorCode = ErrorCode.CLOSED_BY_LOCAL, detail: str = "", *, flush: bool = False) -> list[SessionEvent]:
        """Close the session: queue a ``Goodbye`` (after the queued messages when ``flush``),
        then accept nothing more. ``data_to_send`` still returns the final bytes."""
        if not isinstance(code, ErrorCode):
            raise local_error(ErrorCode.INVALID_ARGUMENT, "code must be an ErrorCode")
        events: list[SessionEvent] = []
        if self._state is _CLOSED:
            return events
        if flush:
            self._drain(None)
        self._close(events, None, code=code, detail=detail)
        return events

    # -- internals: receiving ---------------------------------------------------------

    def _advance(self, now: float) -> None:
        if now < self._now:
            raise local_error(ErrorCode.TIME_WENT_BACKWARDS, f"{now} < {self._now}")
        self._now = now

    def _require(self, event: SessionInput) -> SessionState:
        state = self._state
        target = TRANSITIONS[state].get(event)
        if target is None:
            code = VIOLATIONS.get((state, event), ErrorCode.INVALID_STATE)
            raise ProtocolError(code, f"{event.value} in state {state.value}")
        return target

    def _transition(self, event: SessionInput) -> None:
        self._state = self._require(event)

    def _parse(self, buf: bytes | bytearray, events: list[SessionEvent], now: float) -> int:
        """Handle every complete record in ``buf``; returns how many bytes were used."""
        view = memoryview(buf)
        try:
            pos = 0
            end = len(view)
            while True:
                if self._state is SessionState.AWAIT_KEY:
                    magic = self.network.magic
                    seen = min(end - pos, len(magic))
                    if view[pos : pos + seen] != magic[:seen]:
                        raise ProtocolError(ErrorCode.BAD_MAGIC, f"got {bytes(view[pos : pos + seen]).hex()}")
                    if end - pos < HANDSHAKE_SIZE:
                        return pos
                    peer_opening = bytes(view[pos : pos + HANDSHAKE_SIZE])
                    pos += HANDSHAKE_SIZE
                    self._on_key(peer_opening)
                    continue
                receiver = self._receiver
                assert receiver is not None
                header = self._header
                if header is None:
                    if end - pos < SEALED_HEADER_SIZE:
                        return pos
                    header = check_header(receiver.open(view[pos : pos + SEALED_HEADER_SIZE]))
                    pos += SEALED_HEADER_SIZE
                    self._header = header
                    self._on_header(header, now)
                need = header.length + TAG_SIZE
                if end - pos < need:
                    return pos
                body = receiver.open(view[pos : pos + need])
                pos += need
                self._header = None
                if self._drop_payload:
                    self._drop_payload = False
                    continue
                self._on_frame(header, body, events, now)
                if self._state is _CLOSED:
                    return pos
        finally:
            view.release()

    def _on_key(self, peer_opening: bytes) -> None:
        self._transition(SessionInput.KEY)
        if self.initiator:
            transcript = self._opening + peer_opening
        else:
            transcript = peer_opening + self._opening
        keys = derive_keys(self._ephemeral, peer_opening[4:], transcript)
        if self.initiator:
            self._sender = RecordCipher(keys.initiator_to_responder)
            self._receiver = RecordCipher(keys.responder_to_initiator)
        else:
            self._sender = RecordCipher(keys.responder_to_initiator)
            self._receiver = RecordCipher(keys.initiator_to_responder)
        self._session_id = keys.session_id
        config = self.config
        hello = Hello(
            version=PROTOCOL_VERSION,
            chain_id=self.network.chain_id,
            genesis=self._genesis,
            services=config.services,
            best_height=config.best_height,
            best_tip=config.best_tip,
            user_agent=config.user_agent,
            listen_port=config.listen_port,
            identity=self._identity.public_key.data,
            signature=self._identity.sign(identity_message(self.network.chain_id, keys.session_id)),
        )
        payload = hello.to_bytes()
        self._seal(self._sender, _Outgoing(_SPEC[_HELLO], 0, payload, len(payload)))

    def _on_header(self, header: FrameHeader, now: float) -> None:
        """Checks that need only the header: handshake order, once-only types, rates."""
        spec = header.spec
        type_ = spec.type
        if self._state is not _READY or type_ is _HELLO:
            # Before READY only a Hello may come (checked in full once decoded); once
            # READY, a Hello is a violation: the table says which.
            self._require(SessionInput.HELLO if type_ is _HELLO else SessionInput.MESSAGE)
            return
        if spec.once:
            if type_ in self._seen_once:
                self._counters[f"drop.once.{type_.name}"] += 1
                self._drop_payload = True
                return
            self._seen_once.add(type_)
        buckets = self._buckets.get(type_)
        if buckets is None:
            buckets = self._buckets[type_] = tuple(
                (TokenBucket(r.refill, r.burst, now), r.unit) for r in spec.rates
            )
        for bucket, unit in buckets:
            if unit is RateUnit.MESSAGE:
                cost = 1
            elif unit is RateUnit.BYTE:
                cost = header.raw_length
            else:
                # Entry counts are known only after decoding; the raw length bounds them.
                cost = max(1, header.raw_length // 34)
            verdict = bucket.take(cost, now)
            if verdict is RateVerdict.PASS:
                continue
            if verdict is RateVerdict.DISCONNECT:
                raise ProtocolError(ErrorCode.RATE_LIMITED, f"{type_.name} debt above twice the burst")
            self._counters[f"drop.rate.{type_.name}"] += 1
            self._drop_payload = True
            return

    def _on_frame(self, header: FrameHeader, body: bytes, events: list[SessionEvent], now: float) -> None:
        spec = header.spec
        raw = inflate(body, header.raw_length) if header.flags else body
        try:
            message = decode_payload(spec, raw)
        except ProtocolError:
            raise
        except Exception as exc:
            # A decoder bug must cost one connection, not the node's peer loop (the
            # fuzzer holds decoders to ProtocolError; this is the belt to its braces).
            self._counters["internal.decoder_error"] += 1
            raise ProtocolError(ErrorCode.MALFORMED_MESSAGE, f"decoder raised {type(exc).__name__}") from exc
        type_ = spec.type
        self._counters[_RX[type_]] += 1
        self._last_received = now
        if type_ is _HELLO:
            assert isinstance(message, Hello)
            self._on_hello(message, events)
        elif type_ is MessageType.PING:
            assert isinstance(message, Ping)
            self._enqueue(Pong(message.nonce), _SPEC[MessageType.PONG], Priority.CONSENSUS, events)
        elif type_ is MessageType.PONG:
            assert isinstance(message, Pong)
            if self._pong_deadline is None or message.nonce != self._ping_nonce:
                raise ProtocolError(ErrorCode.UNSOLICITED_MESSAGE, "pong without a matching ping")
            self._pong_deadline = None
            self._rtt = now - self._ping_sent_at
        elif type_ is MessageType.GOODBYE:
            assert isinstance(message, Goodbye)
            try:
                said = ErrorCode(message.code).name
            except ValueError:
                said = str(message.code)
            self._close(events, None, code=ErrorCode.CLOSED_BY_PEER, detail=f"{said} {message.detail}".strip(), send_goodbye=False)
        else:
            request = _REPLY_TO.get(type_)
            if request is not None:
                if self._requests[request] <= 0:
                    raise ProtocolError(ErrorCode.UNSOLICITED_MESSAGE, f"{type_.name} without {request.name}")
                self._requests[request] -= 1
            events.append(MessageReceived(message, len(raw)))

    def _on_hello(self, hello: Hello, events: list[SessionEvent]) -> None:
        network = self.network
        if hello.version < self.config.min_version:
            raise ProtocolError(ErrorCode.INCOMPATIBLE_VERSION, f"version {hello.version}")
        if hello.chain_id != network.chain_id:
            raise ProtocolError(ErrorCode.WRONG_CHAIN, f"chain {hello.chain_id}")
        if hello.genesis != self._genesis:
            raise ProtocolError(ErrorCode.WRONG_GENESIS, hello.genesis.hex())
        assert self._session_id is not None
        identity = PublicKey(hello.identity)
        if not identity.verify(identity_message(network.chain_id, self._session_id), hello.signature):
            raise ProtocolError(ErrorCode.BAD_IDENTITY_SIGNATURE, hello.identity.hex())
        if hello.identity == self._identity.public_key.data:
            raise ProtocolError(ErrorCode.SELF_CONNECTION, "peer has our identity")
        self._transition(SessionInput.HELLO)
        self._peer_hello = hello
        self._next_ping = self._now + self.config.ping_interval
        events.append(HandshakeComplete(identity, hello, self._session_id))

    # -- internals: sending -----------------------------------------------------------

    def _drain(self, max_bytes: int | None) -> None:
        sender = self._sender
        if sender is None or self._state is _CLOSED:
            return
        size = sum(map(len, self._out)) if max_bytes is not None else 0
        for queue in self._queues:
            while queue:
                if max_bytes is not None and size >= max_bytes:
                    return
                frame = queue.popleft()
                self._queued_frames -= 1
                self._queued_bytes -= len(frame.body)
                self._seal(sender, frame)
                size += len(frame.body) + SEALED_HEADER_SIZE + TAG_SIZE

    def _seal(self, sender: RecordCipher, frame: _Outgoing) -> None:
        body = frame.body
        type_ = frame.spec.type
        out = self._out
        out.append(sender.seal(pack_header(type_, frame.flags, len(body), frame.raw_length)))
        out.append(sender.seal(body))
        self._counters[_TX[type_]] += 1

    def _enqueue(self, message: Message, spec: MessageSpec, priority: Priority, events: list[SessionEvent]) -> None:
        sender = self._sender
        assert sender is not None
        if sender.counter + 2 * (self._queued_frames + 1) + _RESERVED_RECORDS >= MAX_RECORDS:
            self._close(events, ProtocolError(ErrorCode.NONCE_EXHAUSTED, "send counter", blame=Blame.LOCAL))
            return
        last = _LAST_ENCODED[0]
        if last is not None and last[0] is message:
            # A broadcast hands one message object to every peer's session in turn:
            # encode and compress it once, not once per peer.
            _, flags, body, raw_length = last
        else:
            payload = message.to_bytes()
            raw_length = len(payload)
            if raw_length > spec.cap:
                raise local_error(
                    ErrorCode.MESSAGE_TOO_LARGE, f"{spec.type.name} of {raw_length} bytes exceeds {spec.cap}"
                )
            flags, body = compress(payload) if spec.compress else (0, payload)
            if raw_length >= _REUSE_MIN:
                _LAST_ENCODED[0] = (message, flags, body, raw_length)
        if flags:
            self._counters[f"compressed.{spec.type.name}"] += 1
        size = len(body)
        cap = self.config.send_queue_bytes
        if self._queued_bytes + size > cap:
            for lower in reversed(Priority):
                if lower <= priority:
                    break
                queue = self._queues[lower]
                while queue and self._queued_bytes + size > cap:
                    shed = queue.pop()
                    self._queued_frames -= 1
                    self._queued_bytes -= len(shed.body)
                    self._counters[f"shed.{shed.spec.type.name}"] += 1
                    if shed.spec.type in _REQUESTS:
                        self._requests[shed.spec.type] -= 1
            if self._queued_bytes + size > cap:
                if priority is Priority.BULK:
                    self._counters[f"shed.{spec.type.name}"] += 1
                    return
                self._close(
                    events,
                    ProtocolError(ErrorCode.SEND_QUEUE_FULL, f"{self._queued_bytes} bytes queued"),
                )
                return
        if spec.type in _REQUESTS:
            self._requests[spec.type] += 1
        self._queues[priority].append(_Outgoing(spec, flags, body, raw_length))
        self._queued_frames += 1
        self._queued_bytes += size

    def _close(
        self,
        events: list[SessionEvent],
        error: ProtocolError | None,
        *,
        code: ErrorCode | None = None,
        detail: str = "",
        send_goodbye: bool = True,
    ) -> None:
        if self._state is _CLOSED:
            return
        if error is not None:
            code = error.code
            detail = error.detail
            _detach(error)
        assert code is not None
        self._state = _CLOSED
        for queue in self._queues:
            self._counters["discarded_on_close"] += len(queue)
            queue.clear()
        self._queued_bytes = 0
        self._queued_frames = 0
        # Rebound, not cleared: the parser may still hold a view of the old buffer.
        self._in = bytearray()
        self._header = None
        sender = self._sender
        if send_goodbye and sender is not None and sender.counter + _RESERVED_RECORDS <= MAX_RECORDS:
            goodbye = Goodbye(int(code), detail.encode("utf-8")[:MAX_GOODBYE_DETAIL].decode("utf-8", "ignore"))
            payload = goodbye.to_bytes()
            self._seal(sender, _Outgoing(_SPEC[MessageType.GOODBYE], 0, payload, len(payload)))
        self._counters[f"closed.{code.name}"] += 1
        closed = Closed(code, error, detail)
        self._closed = closed
        events.append(closed)
