"""The peer-to-peer messages that are not consensus values: handshake, liveness, addresses,
inventory, status and sync.

Theory of operation. Each message is a frozen dataclass validated when constructed,
with one canonical encoding under the rules of :mod:`timecoin_core.codec`
(little-endian integers, minimal varints, every count bounded, no trailing bytes):
``from_bytes(to_bytes(m)) == m`` and any other input raises
:class:`~timecoin_core.errors.DecodeError`. The consensus messages and transactions
keep their own codecs in the core; :mod:`timecoin_core.wire.registry` gives every
message, old and new, a type id, a byte cap and a rate. Encodings::

    Hello     = version:u32 | chain_id:u32 | genesis:32 | services:u64 | best_height:u64
                | best_tip:32 | user_agent:varbytes(<=256, UTF-8) | listen_port:u16
                | identity:32 | signature:64
    Ping/Pong = nonce:u64
    GetAddr   = (empty)
    Addr      = n:varint(<=1000) | n x (host:16 | port:u16 | services:u64 | last_seen:u64)
    Inv, GetData, NotFound = n:varint(1..1000) | n x (kind:u8 | hash:32)
    GetStatus = (empty)
    Status    = height:u64 | tip:32 | epoch:u64 | final_cursor:u64
    GetBlocks = start:u64 | count:u16(1..64) | max_bytes:u32(>=1)
    Blocks    = start:u64 | n:varint(<=64) | n x commit:varbytes   (heights start, start+1, ...)
    GetFinals = cursor:u64 | limit:u16(1..256)
    Finals    = next_cursor:u64 | n:varint(<=256) | n x (tx:varbytes | certificate:varbytes)
    Goodbye   = code:u16 | detail:varbytes(<=48, UTF-8)
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, Final, Self

from ..codec import Reader, Writer
from ..consensus.bft_messages import Commit
from ..consensus.finality_messages import MAX_CERTIFICATE_SIZE, FinalityCertificate
from ..errors import DecodeError, InvalidArgumentError
from ..transaction import MAX_TX_SIZE, Transaction
from .limits import MAX_COMMIT_SIZE

__all__ = [
    "MAX_ADDR_ENTRIES",
    "MAX_BLOCKS_PER_PAGE",
    "MAX_FINALS_PER_PAGE",
    "MAX_GOODBYE_DETAIL",
    "MAX_INV_ITEMS",
    "MAX_USER_AGENT",
    "PROTOCOL_VERSION",
    "Addr",
    "Blocks",
    "FinalEntry",
    "Finals",
    "GetAddr",
    "GetBlocks",
    "GetData",
    "GetFinals",
    "GetStatus",
    "Goodbye",
    "Hello",
    "Inv",
    "InvItem",
    "InvKind",
    "NotFound",
    "PeerAddress",
    "Ping",
    "Pong",
    "Status",
]

PROTOCOL_VERSION: Final = 1
"""The wire protocol version this implementation speaks (sent in ``Hello``)."""

MAX_USER_AGENT: Final = 256
"""Longest user agent in bytes (UTF-8)."""

MAX_ADDR_ENTRIES: Final = 1_000
"""Most addresses one ``Addr`` carries."""

MAX_INV_ITEMS: Final = 1_000
"""Most (kind, hash) items one ``Inv``, ``GetData`` or ``NotFound`` carries."""

MAX_BLOCKS_PER_PAGE: Final = 64
"""Most blocks one ``GetBlocks`` asks for and one ``Blocks`` carries."""

MAX_FINALS_PER_PAGE: Final = 256
"""Most final transactions one ``GetFinals`` asks for and one ``Finals`` carries."""

MAX_GOODBYE_DETAIL: Final = 48
"""Longest ``Goodbye`` detail in bytes (UTF-8)."""

_U16: Final = 0xFFFF
_U32: Final = 0xFFFFFFFF
_U64: Final = 2**64 - 1


def _uint(value: object, maximum: int, name: str) -> None:
    if type(value) is not int or not 0 <= value <= maximum:
        raise InvalidArgumentError(name, f"{name} must be an int in 0..{maximum}")


def _fixed(value: object, size: int, name: str) -> None:
    if type(value) is not bytes or len(value) != size:
        raise InvalidArgumentError(name, f"{name} must be {size} bytes")


def _text(value: object, maximum: int, name: str) -> bytes:
    if type(value) is not str:
        raise InvalidArgumentError(name, f"{name} must be a str")
    encoded = value.encode("utf-8", "strict")
    if len(encoded) > maximum:
        raise InvalidArgumentError(name, f"{name} longer than {maximum} bytes")
    return encoded


def _read_text(r: Reader, maximum: int, name: str) -> str:
    start = r.pos
    raw = r.var_bytes(maximum, name)
    try:
        return raw.decode("utf-8", "strict")
    except UnicodeDecodeError:
        raise DecodeError(f"{name} is not UTF-8", start) from None


class _Codec:
    """``to_bytes``/``from_bytes`` around a ``_write``/``_read`` pair."""

    __slots__ = ()

    def _write(self, w: Writer) -> None:
        raise NotImplementedError

    @classmethod
    def _read(cls, r: Reader) -> Self:
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        """The canonical encoding."""
        w = Writer()
        self._write(w)
        return bytes(w)

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        """Decode a canonical encoding; anything else raises :class:`DecodeError`."""
        r = Reader(data)
        value = cls._read(r)
        r.end()
        return value


# -- handshake and liveness --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hello(_Codec):
    """The first sealed message of each side: who it is and what chain it follows.

    ``best_height`` and ``best_tip`` are hints only. ``identity`` is the sender's
    Ed25519 public key (a masternode's registered operator key, or a persistent node
    key) and ``signature`` its signature over the session id (see
    :func:`timecoin_core.wire.handshake.identity_message`): the proof that whoever holds
    the identity key is the other end of *this* encrypted session.
    """

    version: int
    chain_id: int
    genesis: bytes
    services: int
    best_height: int
    best_tip: bytes
    user_agent: str
    listen_port: int
    identity: bytes
    signature: bytes

    def __post_init__(self) -> None:
        _uint(self.version, _U32, "version")
        _uint(self.chain_id, _U32, "chain_id")
        _fixed(self.genesis, 32, "genesis")
        _uint(self.services, _U64, "services")
        _uint(self.best_height, _U64, "best_height")
        _fixed(self.best_tip, 32, "best_tip")
        _text(self.user_agent, MAX_USER_AGENT, "user_agent")
        _uint(self.listen_port, _U16, "listen_port")
        _fixed(self.identity, 32, "identity")
        _fixed(self.signature, 64, "signature")

    def _write(self, w: Writer) -> None:
        w.u32(self.version).u32(self.chain_id).raw(self.genesis).u64(self.services)
        w.u64(self.best_height).raw(self.best_tip)
        w.var_bytes(self.user_agent.encode("utf-8")).u16(self.listen_port)
        w.raw(self.identity).raw(self.signature)

    @classmethod
    def _read(cls, r: Reader) -> Hello:
        return cls(
            r.u32("version"),
            r.u32("chain_id"),
            r.raw(32, "genesis"),
            r.u64("services"),
            r.u64("best_height"),
            r.raw(32, "best_tip"),
            _read_text(r, MAX_USER_AGENT, "user_agent"),
            r.u16("listen_port"),
            r.raw(32, "identity"),
            r.raw(64, "signature"),
        )


@dataclass(frozen=True, slots=True)
class _Nonce(_Codec):
    nonce: int

    def __post_init__(self) -> None:
        _uint(self.nonce, _U64, "nonce")

    def _write(self, w: Writer) -> None:
        w.u64(self.nonce)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        return cls(r.u64("nonce"))


@dataclass(frozen=True, slots=True)
class Ping(_Nonce):
    """A liveness probe; the peer answers with a :class:`Pong` of the same nonce."""


@dataclass(frozen=True, slots=True)
class Pong(_Nonce):
    """The answer to the :class:`Ping` with the same nonce."""


@dataclass(frozen=True, slots=True)
class Goodbye(_Codec):
    """Sent before closing: the :class:`~timecoin_core.wire.ErrorCode` value and a short detail."""

    code: int
    detail: str = ""

    def __post_init__(self) -> None:
        _uint(self.code, _U16, "code")
        _text(self.detail, MAX_GOODBYE_DETAIL, "detail")

    def _write(self, w: Writer) -> None:
        w.u16(self.code).var_bytes(self.detail.encode("utf-8"))

    @classmethod
    def _read(cls, r: Reader) -> Goodbye:
        return cls(r.u16("code"), _read_text(r, MAX_GOODBYE_DETAIL, "detail"))


# -- addresses ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GetAddr(_Codec):
    """A request for known peer addresses (answered at most once per connection)."""

    def _write(self, w: Writer) -> None:
        pass

    @classmethod
    def _read(cls, r: Reader) -> GetAddr:
        return cls()


@dataclass(frozen=True, slots=True)
class PeerAddress:
    """A listening peer: 16-byte IPv6 (IPv4 as ``::ffff:a.b.c.d``), port, services, last seen (s)."""

    host: bytes
    port: int
    services: int = 0
    last_seen: int = 0

    SIZE: ClassVar[int] = 16 + 2 + 8 + 8

    def __post_init__(self) -> None:
        _fixed(self.host, 16, "host")
        _uint(self.port, _U16, "port")
        _uint(self.services, _U64, "services")
        _uint(self.last_seen, _U64, "last_seen")

    @classmethod
    def of(cls, ip: str, port: int, services: int = 0, last_seen: int = 0) -> PeerAddress:
        """The address of ``ip`` (an IPv4 or IPv6 literal) and ``port``."""
        parsed = ipaddress.ip_address(ip)
        if isinstance(parsed, ipaddress.IPv4Address):
            parsed = ipaddress.IPv6Address(b"\x00" * 10 + b"\xff\xff" + parsed.packed)
        return cls(parsed.packed, port, services, last_seen)

    @property
    def ip(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        """The IP address (IPv4 for an IPv4-mapped host)."""
        v6 = ipaddress.IPv6Address(self.host)
        return v6.ipv4_mapped or v6


@dataclass(frozen=True, slots=True)
class Addr(_Codec):
    """Known peer addresses, at most :data:`MAX_ADDR_ENTRIES`."""

    entries: tuple[PeerAddress, ...]

    def __post_init__(self) -> None:
        if type(self.entries) is not tuple or len(self.entries) > MAX_ADDR_ENTRIES:
            raise InvalidArgumentError("entries", f"entries must be a tuple of at most {MAX_ADDR_ENTRIES}")
        if not all(isinstance(e, PeerAddress) for e in self.entries):
            raise InvalidArgumentError("entries", "entries must be PeerAddress values")

    def _write(self, w: Writer) -> None:
        w.varint(len(self.entries))
        for e in self.entries:
            w.raw(e.host).u16(e.port).u64(e.services).u64(e.last_seen)

    @classmethod
    def _read(cls, r: Reader) -> Addr:
        n = r.varint(MAX_ADDR_ENTRIES, "address count")
        return cls(
            tuple(
                PeerAddress(r.raw(16, "host"), r.u16("port"), r.u64("services"), r.u64("last_seen"))
                for _ in range(n)
            )
        )


# -- inventory ---------------------------------------------------------------------------


class InvKind(IntEnum):
    """What an inventory hash names; the value is the wire byte."""

    TX = 1
    VOTE_BATCH = 2
    CERTIFICATE = 3
    BLOCK = 4
    EVIDENCE = 5


@dataclass(frozen=True, slots=True)
class InvItem:
    """One inventory entry: a kind and the 32-byte hash of the object."""

    kind: InvKind
    hash: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.kind, InvKind):
            raise InvalidArgumentError("kind", "kind must be an InvKind")
        _fixed(self.hash, 32, "hash")


@dataclass(frozen=True, slots=True)
class _Inventory(_Codec):
    items: tuple[InvItem, ...]

    def __post_init__(self) -> None:
        if type(self.items) is not tuple or not 1 <= len(self.items) <= MAX_INV_ITEMS:
            raise InvalidArgumentError("items", f"items must be a tuple of 1..{MAX_INV_ITEMS}")
        if not all(isinstance(i, InvItem) for i in self.items):
            raise InvalidArgumentError("items", "items must be InvItem values")

    def _write(self, w: Writer) -> None:
        w.varint(len(self.items))
        for item in self.items:
            w.u8(item.kind).raw(item.hash)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        start = r.pos
        n = r.varint(MAX_INV_ITEMS, "item count")
        if n == 0:
            raise DecodeError("empty inventory", start)
        items = []
        for _ in range(n):
            at = r.pos
            kind = r.u8("kind")
            if kind not in _INV_KINDS:
                raise DecodeError(f"unknown inventory kind {kind}", at)
            items.append(InvItem(InvKind(kind), r.raw(32, "hash")))
        return cls(tuple(items))


_INV_KINDS: Final = frozenset(int(k) for k in InvKind)


@dataclass(frozen=True, slots=True)
class Inv(_Inventory):
    """An announcement: the sender has these objects (transactions go by Inv/GetData)."""


@dataclass(frozen=True, slots=True)
class GetData(_Inventory):
    """A request for the bodies of announced objects."""


@dataclass(frozen=True, slots=True)
class NotFound(_Inventory):
    """The answer for requested objects the sender no longer has."""


# -- status and sync ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GetStatus(_Codec):
    """A request for the peer's :class:`Status`."""

    def _write(self, w: Writer) -> None:
        pass

    @classmethod
    def _read(cls, r: Reader) -> GetStatus:
        return cls()


@dataclass(frozen=True, slots=True)
class Status(_Codec):
    """The sender's chain position: a hint for the sync planner, never trusted as such."""

    height: int
    tip: bytes
    epoch: int
    final_cursor: int

    def __post_init__(self) -> None:
        _uint(self.height, _U64, "height")
        _fixed(self.tip, 32, "tip")
        _uint(self.epoch, _U64, "epoch")
        _uint(self.final_cursor, _U64, "final_cursor")

    def _write(self, w: Writer) -> None:
        w.u64(self.height).raw(self.tip).u64(self.epoch).u64(self.final_cursor)

    @classmethod
    def _read(cls, r: Reader) -> Status:
        return cls(r.u64("height"), r.raw(32, "tip"), r.u64("epoch"), r.u64("final_cursor"))


@dataclass(frozen=True, slots=True)
class GetBlocks(_Codec):
    """A request for up to ``count`` committed blocks from height ``start``, at most ``max_bytes``."""

    start: int
    count: int
    max_bytes: int

    def __post_init__(self) -> None:
        _uint(self.start, _U64, "start")
        if type(self.count) is not int or not 1 <= self.count <= MAX_BLOCKS_PER_PAGE:
            raise InvalidArgumentError("count", f"count must be in 1..{MAX_BLOCKS_PER_PAGE}")
        if type(self.max_bytes) is not int or not 1 <= self.max_bytes <= _U32:
            raise InvalidArgumentError("max_bytes", "max_bytes must be in 1..2**32-1")

    def _write(self, w: Writer) -> None:
        w.u64(self.start).u16(self.count).u32(self.max_bytes)

    @classmethod
    def _read(cls, r: Reader) -> GetBlocks:
        start = r.u64("start")
        at = r.pos
        count = r.u16("count")
        if not 1 <= count <= MAX_BLOCKS_PER_PAGE:
            raise DecodeError(f"block count {count} not in 1..{MAX_BLOCKS_PER_PAGE}", at)
        at = r.pos
        max_bytes = r.u32("max_bytes")
        if max_bytes == 0:
            raise DecodeError("max_bytes must be positive", at)
        return cls(start, count, max_bytes)


@dataclass(frozen=True, slots=True)
class Blocks(_Codec):
    """A page of committed heights ``start, start + 1, ...``: each a :class:`Commit`
    (the decided value and its commit certificate), which the receiver verifies against
    that height's voting set before applying it."""

    start: int
    commits: tuple[Commit, ...]

    def __post_init__(self) -> None:
        _uint(self.start, _U64, "start")
        if type(self.commits) is not tuple or len(self.commits) > MAX_BLOCKS_PER_PAGE:
            raise InvalidArgumentError("commits", f"commits must be a tuple of at most {MAX_BLOCKS_PER_PAGE}")
        for offset, commit in enumerate(self.commits):
            if not isinstance(commit, Commit):
                raise InvalidArgumentError("commits", "commits must be Commit values")
            if commit.height != self.start + offset:
                raise InvalidArgumentError("commits", "commits must be for consecutive heights from start")

    def _write(self, w: Writer) -> None:
        w.u64(self.start).varint(len(self.commits))
        for commit in self.commits:
            w.var_bytes(commit.to_bytes())

    @classmethod
    def _read(cls, r: Reader) -> Blocks:
        start = r.u64("start")
        n = r.varint(MAX_BLOCKS_PER_PAGE, "block count")
        commits = []
        for offset in range(n):
            at = r.pos
            commit = Commit.from_bytes(r.var_bytes(MAX_COMMIT_SIZE, "commit"))
            if commit.height != start + offset:
                raise DecodeError("commit height out of sequence", at)
            commits.append(commit)
        return cls(start, tuple(commits))


@dataclass(frozen=True, slots=True)
class GetFinals(_Codec):
    """A request for up to ``limit`` final transactions after position ``cursor`` of the
    peer's log of finalized transactions."""

    cursor: int
    limit: int

    def __post_init__(self) -> None:
        _uint(self.cursor, _U64, "cursor")
        if type(self.limit) is not int or not 1 <= self.limit <= MAX_FINALS_PER_PAGE:
            raise InvalidArgumentError("limit", f"limit must be in 1..{MAX_FINALS_PER_PAGE}")

    def _write(self, w: Writer) -> None:
        w.u64(self.cursor).u16(self.limit)

    @classmethod
    def _read(cls, r: Reader) -> GetFinals:
        cursor = r.u64("cursor")
        at = r.pos
        limit = r.u16("limit")
        if not 1 <= limit <= MAX_FINALS_PER_PAGE:
            raise DecodeError(f"limit {limit} not in 1..{MAX_FINALS_PER_PAGE}", at)
        return cls(cursor, limit)


@dataclass(frozen=True, slots=True)
class FinalEntry:
    """A final transaction and the certificate proving it (``certificate.txid == tx.txid``)."""

    tx: Transaction
    certificate: FinalityCertificate

    def __post_init__(self) -> None:
        if not isinstance(self.tx, Transaction):
            raise InvalidArgumentError("tx", "tx must be a Transaction")
        if not isinstance(self.certificate, FinalityCertificate):
            raise InvalidArgumentError("certificate", "certificate must be a FinalityCertificate")
        if self.certificate.txid != self.tx.txid:
            raise InvalidArgumentError("certificate", "certificate is for another transaction")


@dataclass(frozen=True, slots=True)
class Finals(_Codec):
    """A page of final transactions; ``next_cursor`` is where the next request starts."""

    next_cursor: int
    entries: tuple[FinalEntry, ...]

    def __post_init__(self) -> None:
        _uint(self.next_cursor, _U64, "next_cursor")
        if type(self.entries) is not tuple or len(self.entries) > MAX_FINALS_PER_PAGE:
            raise InvalidArgumentError("entries", f"entries must be a tuple of at most {MAX_FINALS_PER_PAGE}")
        if not all(isinstance(e, FinalEntry) for e in self.entries):
            raise InvalidArgumentError("entries", "entries must be FinalEntry values")

    def _write(self, w: Writer) -> None:
        w.u64(self.next_cursor).varint(len(self.entries))
        for e in self.entries:
            w.var_bytes(e.tx.to_bytes()).var_bytes(e.certificate.to_bytes())

    @classmethod
    def _read(cls, r: Reader) -> Finals:
        cursor = r.u64("next_cursor")
        n = r.varint(MAX_FINALS_PER_PAGE, "entry count")
        entries = []
        for _ in range(n):
            at = r.pos
            tx = Transaction.from_bytes(r.var_bytes(MAX_TX_SIZE, "transaction"))
            certificate = FinalityCertificate.from_bytes(
                r.var_bytes(MAX_CERTIFICATE_SIZE, "certificate")
            )
            if certificate.txid != tx.txid:
                raise DecodeError("certificate is for another transaction", at)
            entries.append(FinalEntry(tx, certificate))
        return cls(cursor, tuple(entries))
