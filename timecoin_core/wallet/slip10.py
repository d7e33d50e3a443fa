"""SLIP-0010 hierarchical deterministic Ed25519 keys, and Timecoin's derivation path.

SLIP-0010 is BIP-0032 generalised to other curves. For Ed25519 every 32-byte string is
a valid private key (it is an RFC 8032 seed, hashed before use), so there is no retry
loop; the price is that only hardened derivation exists. Public (non-hardened)
derivation would need the child to be computable from the parent's public key, which
Ed25519's hashed-seed keys do not allow. Every path segment is therefore hardened:
written ``0'`` or ``0h``, it stands for index ``0 + 2**31``.

    master:  I = HMAC-SHA512(key=b"ed25519 seed", data=seed)
    child i: I = HMAC-SHA512(key=chain_code, data=b"\\x00" || key || ser32(i)), i >= 2**31
    key = I[:32], chain_code = I[32:]
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field

from ..errors import InvalidKeyError, TimecoinError
from ..keys import PrivateKey

__all__ = [
    "COIN_TYPE",
    "HARDENED_OFFSET",
    "PURPOSE",
    "DerivationError",
    "ExtendedKey",
    "account_path",
    "address_path",
    "derive_key",
    "derive_path",
    "master_node",
    "parse_path",
]

HARDENED_OFFSET = 0x8000_0000
"""Added to an index to make it hardened: segment ``n'`` is child ``n + HARDENED_OFFSET``."""

PURPOSE = 44
"""BIP-0044 purpose: the first segment of every Timecoin path."""

COIN_TYPE = 1440
"""Timecoin's coin type, the second path segment (1440 = minutes in a day).

Chosen because it is not assigned to any coin in the SLIP-0044 registry as last
checked. It is part of the protocol: changing it changes every wallet's addresses.
"""

_MASTER_HMAC_KEY = b"ed25519 seed"
_MIN_SEED = 16
_MAX_SEED = 64
# BIP-0032 serialises depth in one byte; longer paths could not be exported anywhere.
_MAX_DEPTH = 255
_SEGMENT = re.compile(r"(0|[1-9][0-9]*)(['h]?)")
_LEADING_ZERO = re.compile(r"0[0-9]+['h]?")


class DerivationError(TimecoinError, ValueError):
    """A malformed derivation path, a non-hardened index, or a seed of the wrong size."""


@dataclass(frozen=True, slots=True)
class ExtendedKey:
    """A node of the SLIP-0010 Ed25519 tree: a 32-byte private key and its chain code.

    Together the two derive every descendant key, so neither appears in ``repr``; the
    public key does.
    """

    key: bytes = field(repr=False)
    chain_code: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if type(self.key) is not bytes or len(self.key) != 32:
            raise InvalidKeyError("extended key: private key must be 32 bytes")
        if type(self.chain_code) is not bytes or len(self.chain_code) != 32:
            raise InvalidKeyError("extended key: chain code must be 32 bytes")

    def child(self, index: int) -> ExtendedKey:
        """The hardened child at ``index`` (``HARDENED_OFFSET <= index < 2**32``).

        ``index`` is the full 32-bit child number, as in BIP-0032: child ``n'`` is
        ``child(n + HARDENED_OFFSET)``. A non-hardened index raises
        :class:`DerivationError`.
        """
        if type(index) is not int or not 0 <= index < 2 * HARDENED_OFFSET:
            raise DerivationError(f"child index must be an int in 0..2**32-1, not {index!r}")
        if index < HARDENED_OFFSET:
            raise DerivationError(
                f"Ed25519 SLIP-0010 supports hardened derivation only: child index {index} "
                f"is not hardened (use {index} + HARDENED_OFFSET)"
            )
        data = b"\x00" + self.key + index.to_bytes(4, "big")
        digest = hmac.digest(self.chain_code, data, hashlib.sha512)
        return ExtendedKey(digest[:32], digest[32:])

    @property
    def private_key(self) -> PrivateKey:
        """This node's key as a signing key."""
        return PrivateKey.from_seed(self.key)

    def __repr__(self) -> str:
        return f"ExtendedKey(public_key={self.private_key.public_key.data.hex()})"


def master_node(seed: bytes) -> ExtendedKey:
    """The root of the tree for ``seed`` (16 to 64 bytes; a BIP-0039 seed is 64)."""
    if not isinstance(seed, bytes | bytearray | memoryview):
        raise DerivationError(f"seed must be bytes, not {type(seed).__name__}")
    seed = bytes(seed)
    if not _MIN_SEED <= len(seed) <= _MAX_SEED:
        raise DerivationError(f"seed must be 16 to 64 bytes, not {len(seed)}")
    digest = hmac.digest(_MASTER_HMAC_KEY, seed, hashlib.sha512)
    return ExtendedKey(digest[:32], digest[32:])


def parse_path(path: str) -> tuple[int, ...]:
    """The child indices of a path such as ``"m/44'/1440'/0'"`` (hardened, so >= 2**31).

    The grammar is strict so that one path has one spelling: ``m``, then zero or more
    ``/n'`` or ``/nh`` segments with ``n`` a decimal below 2**31 without leading zeros.
    No whitespace, no empty segments, no trailing slash.
    """
    if not isinstance(path, str):
        raise DerivationError(f"derivation path must be a string, not {type(path).__name__}")
    segments = path.split("/")
    if segments[0] != "m":
        raise DerivationError(f"derivation path {path!r} must start with 'm'")
    if len(segments) - 1 > _MAX_DEPTH:
        raise DerivationError(f"derivation path {path!r} is deeper than {_MAX_DEPTH} levels")
    indices = []
    for position, segment in enumerate(segments[1:], start=1):
        match = _SEGMENT.fullmatch(segment)
        if match is None:
            if _LEADING_ZERO.fullmatch(segment):
                raise DerivationError(
                    f"derivation path {path!r}: segment {position} {segment!r} has a leading "
                    "zero; write each index in one canonical form"
                )
            raise DerivationError(
                f"derivation path {path!r}: segment {position} {segment!r} is not a "
                "decimal index followed by ' or h"
            )
        number, marker = int(match[1]), match[2]
        if number >= HARDENED_OFFSET:
            raise DerivationError(
                f"derivation path {path!r}: segment {position} index {number} must be below 2**31"
            )
        if not marker:
            raise DerivationError(
                f"derivation path {path!r}: segment {position} {segment!r} is not "
                f"hardened; Ed25519 SLIP-0010 supports hardened derivation only "
                f"(write {number}')"
            )
        indices.append(number + HARDENED_OFFSET)
    return tuple(indices)


def derive_path(seed: bytes, path: str) -> ExtendedKey:
    """The node at ``path`` (see :func:`parse_path`) in the tree of ``seed``."""
    indices = parse_path(path)
    node = master_node(seed)
    for index in indices:
        node = node.child(index)
    return node


def derive_key(seed: bytes, path: str) -> PrivateKey:
    """The signing key at ``path`` in the tree of ``seed``.

    ``seed`` is usually :func:`~timecoin_core.wallet.mnemonic_to_seed`'s output and
    ``path`` usually :func:`address_path`'s.
    """
    return derive_path(seed, path).private_key


def _check_index(name: str, value: int) -> None:
    if type(value) is not int or not 0 <= value < HARDENED_OFFSET:
        raise DerivationError(f"{name} must be an int in 0..2**31-1, not {value!r}")


def account_path(account: int) -> str:
    """The path of account ``account``: ``"m/44'/1440'/account'"``."""
    _check_index("account", account)
    return f"m/{PURPOSE}'/{COIN_TYPE}'/{account}'"


def address_path(account: int, change: bool, index: int) -> str:
    """The path of an address key: ``"m/44'/1440'/account'/change'/index'"``.

    ``change`` is False for receiving addresses (segment ``0'``) and True for change
    addresses (segment ``1'``). Every segment is hardened because Ed25519 has no other
    kind; BIP-0044's unhardened change and index levels do not exist here.
    """
    if type(change) is not bool:
        raise DerivationError(f"change must be a bool, not {change!r}")
    _check_index("index", index)
    return f"{account_path(account)}/{int(change)}'/{index}'"
