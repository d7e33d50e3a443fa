"""The shape every consensus engine shares: events in, actions out.

An engine never does I/O. The shell (the simulator, LocalChain, the network node)
calls ``engine.handle(event, now)`` and carries out the actions it returns:
``Broadcast`` a message to every peer, ``SetTimer`` to call back with
``TimerFired(key)`` at virtual or wall time ``at`` (a later ``SetTimer`` with the same
key replaces the earlier one), and the engine-specific commit actions.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..codec import Writer
from ..hashing import Tag, tagged_hash
from ..keys import PrivateKey
from ..verify import SignatureCheck

__all__ = [
    "Broadcast",
    "CheckSignatures",
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


@dataclass(frozen=True, slots=True)
class Broadcast:
    """Send ``message`` to every peer (gossip)."""

    message: SignedMessage


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
