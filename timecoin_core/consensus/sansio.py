"""The shape every consensus engine shares: events in, actions out.

An engine never does I/O. The shell (the simulator, LocalChain, the network node)
calls ``engine.handle(event, now)`` and carries out the actions it returns:
``Broadcast`` a message to every peer (but the one it came from), ``SendTo`` one peer
(replies, catch-up), ``Penalize`` a peer that sent something only a misbehaving peer
sends, ``SetTimer`` to call back with ``TimerFired(key)`` at virtual or monotonic time
``at`` (a later ``SetTimer`` with the same key replaces the earlier one), and the
engine-specific commit actions.

Peers are named by a :data:`PeerId`: any hashable the shell chooses (the network node
uses the peer's 32-byte identity key, the simulator a node index). Events from outside
carry their origin; ``None`` is the local client.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, TypeAlias

from ..codec import Writer
from ..hashing import Tag, tagged_hash
from ..keys import PrivateKey
from ..verify import SignatureCheck

__all__ = [
    "Broadcast",
    "CheckSignatures",
    "Offence",
    "Penalize",
    "SendTo",
    "SetTimer",
    "SignedMessage",
    "TimerFired",
    "sign",
    "signing_message",
]

CheckSignatures = Callable[[Sequence[SignatureCheck]], list[bool]]
"""Verifies a batch of signatures (a :class:`~timecoin_core.verify.Verifier`'s ``verify_many``)."""


class SignedMessage(Protocol):
    """A consensus message that can be put on the wire."""

    def to_bytes(self) -> bytes:
        """Canonical encoding."""
        ...


PeerId: TypeAlias = Hashable
"""Names a peer; chosen by the shell (identity key bytes on the network, an index in the
simulator). ``None`` as an origin means the local client."""


@dataclass(frozen=True, slots=True)
class Broadcast:
    """Send ``message`` to every peer except ``exclude`` (never echo to the sender)."""

    message: SignedMessage
    exclude: PeerId | None = None


@dataclass(frozen=True, slots=True)
class SendTo:
    """Send ``message`` to one peer: a reply or a catch-up request."""

    peer: PeerId
    message: SignedMessage


class Offence(StrEnum):
    """What a peer did that only a misbehaving peer does (the code of a :class:`Penalize`).

    Honest peers can relay stale or conflicting data, so being late, a double spend or a
    transaction the pool refuses for lack of room is never an offence; a signature that
    does not verify, a value no honest proposer builds, or a reply nobody asked for is.
    """

    UNDECODABLE = "undecodable"
    """A message that does not decode (the wire layer's ``MALFORMED_MESSAGE``)."""
    BAD_SIGNATURE = "bad-signature"
    """A signature that does not verify under the key the message names."""
    INVALID_TRANSACTION = "invalid-transaction"
    """A transaction that can never be valid (bad structure or signature)."""
    INVALID_BLOCK = "invalid-block"
    """A block or a proposal value that breaks a block validity rule."""
    INVALID_CERTIFICATE = "invalid-certificate"
    """A finality or commit certificate that does not prove what it claims."""
    UNSOLICITED = "unsolicited"
    """A reply to a request this node never made (for example a page of blocks)."""
    OVER_LIMIT = "over-limit"
    """More than a limit allows (items per message, requests in flight)."""


@dataclass(frozen=True, slots=True)
class Penalize:
    """``peer`` committed ``offence``: the shell scores it (discourage or disconnect)."""

    peer: PeerId
    offence: Offence
    detail: str = ""


@dataclass(frozen=True, slots=True)
class SetTimer:
    """Deliver ``TimerFired(key)`` at time ``at``; replaces a pending timer with the same key."""

    key: Hashable
    at: float


@dataclass(frozen=True, slots=True)
class TimerFired:
    """A timer set with :class:`SetTimer` expired."""

    key: Hashable


def signing_message(chain_id: int, kind: bytes, payload: bytes) -> bytes:
    """The 32-byte message a consensus signature covers.

    ``tagged_hash(VOTE, chain_id:u32 | kind:varbytes | payload)``: votes of one network
    or one kind can never be replayed as another.
    """
    return tagged_hash(Tag.VOTE, bytes(Writer().u32(chain_id).var_bytes(kind).raw(payload)))


def sign(key: PrivateKey, chain_id: int, kind: bytes, payload: bytes) -> bytes:
    """Sign ``payload`` as a consensus message of ``kind``."""
    return key.sign(signing_message(chain_id, kind, payload))
