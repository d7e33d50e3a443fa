"""Errors of the store: one root, :class:`StoreError`, split by what went wrong.

Errors about a value the caller passed (a bad cursor, a block that does not extend
the stored tip, a vote that conflicts with one already recorded) also derive from
:class:`ValueError`.
"""

from __future__ import annotations

from ..errors import TimecoinError

__all__ = [
    "BlockSequenceError",
    "ConflictingVoteError",
    "CorruptStoreError",
    "InconsistentBlockError",
    "InvalidCursorError",
    "NetworkMismatchError",
    "NotAStoreError",
    "ReadOnlyStoreError",
    "SchemaTooNewError",
    "StoreClosedError",
    "StoreError",
    "StoreLockedError",
]


class StoreError(TimecoinError):
    """Root of every error a store raises on purpose."""


class NotAStoreError(StoreError):
    """The file is not a Timecoin store (another SQLite database, or not SQLite at all).

    Raised before anything is written: the file is left exactly as it was.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path} is not a Timecoin store: {reason}")
        self.path = path
        self.reason = reason


class SchemaTooNewError(StoreError):
    """The store was written by a newer Timecoin whose schema this version cannot read.

    Raised before anything is written. ``found`` is the store's schema version,
    ``supported`` the newest this code knows.
    """

    def __init__(self, path: str, found: int, supported: int) -> None:
        super().__init__(
            f"{path} has schema version {found}; this Timecoin reads versions up to {supported}: "
            "upgrade Timecoin to open it"
        )
        self.path = path
        self.found = found
        self.supported = supported


class StoreLockedError(StoreError):
    """Another writer (in this process or another) has the store open for writing."""


class ReadOnlyStoreError(StoreError):
    """A write to a store opened read-only."""


class StoreClosedError(StoreError):
    """An operation on a store that was closed."""


class CorruptStoreError(StoreError):
    """The store contradicts itself (for example its UTXO commitment does not match its coins)."""


class NetworkMismatchError(StoreError, ValueError):
    """The store belongs to another network (name, parameters or genesis block differ)."""


class InvalidCursorError(StoreError, ValueError):
    """A page cursor that this query did not produce: malformed, tampered, or for another query."""


class BlockSequenceError(StoreError, ValueError):
    """A block that does not extend the stored tip (wrong height or parent). Nothing changed."""


class InconsistentBlockError(StoreError, ValueError):
    """A block that contradicts the stored UTXO set: it spends a coin the store does not
    hold, or creates an outpoint or txid that already exists. Nothing changed."""


class ConflictingVoteError(StoreError, ValueError):
    """A vote that conflicts with one this node already recorded (it would be an equivocation).

    For accept votes: an outpoint already voted for another transaction. For block votes:
    a different vote of the same kind, height and round. Nothing changed.
    """
