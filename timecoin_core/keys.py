"""Ed25519 keys and TIME0/TIME1 addresses."""

from __future__ import annotations

import os
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .base58 import b58decode, b58encode
from .errors import AddressError, InvalidArgumentError, InvalidKeyError
from .hashing import sha256, sha256d
from .network import Network
from .verify import verify_one
from .verify.policy import REJECTED_POINT_ENCODINGS

__all__ = ["Address", "PrivateKey", "PublicKey", "address_payload"]

PAYLOAD_SIZE = 20


def address_payload(public_key: bytes) -> bytes:
    """The 20-byte payload an output pays to: ``SHA-256(public_key)[:20]``."""
    return sha256(public_key)[:PAYLOAD_SIZE]


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A 32-byte Ed25519 public key."""

    data: bytes

    def __post_init__(self) -> None:
        if type(self.data) is not bytes or len(self.data) != 32:
            raise InvalidKeyError("public key must be 32 bytes")

    @classmethod
    def from_bytes(cls, data: bytes) -> PublicKey:
        """The key encoded by ``data`` (32 bytes), checked like the signature policy checks keys.

        Raises :class:`InvalidKeyError` for anything but 32 bytes, and for a
        non-canonical encoding or a point of small order: the policy refuses every
        signature under such a key, so it could never sign anything.
        """
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InvalidKeyError(f"public key must be bytes, not {type(data).__name__}")
        raw = bytes(data)
        if len(raw) == 32 and raw in REJECTED_POINT_ENCODINGS:
            raise InvalidKeyError("public key is a non-canonical or small-order point; no signature verifies under it")
        return cls(raw)

    def __bytes__(self) -> bytes:
        return self.data

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True when ``signature`` is valid for ``message`` under the protocol's signature policy."""
        return verify_one(self.data, message, signature)

    @property
    def payload(self) -> bytes:
        """The 20-byte address payload of this key."""
        return address_payload(self.data)

    def address(self, network: Network) -> Address:
        """This key's address on ``network``."""
        return Address(self.payload, network.address_digit)

    def __repr__(self) -> str:
        return f"PublicKey({self.data.hex()})"


class PrivateKey:
    """An Ed25519 signing key, made from a 32-byte seed (RFC 8032 "private key").

    The seed never appears in ``repr`` or ``str``.
    """

    __slots__ = ("_key", "_seed", "public_key")

    def __init__(self, seed: bytes) -> None:
        if type(seed) is not bytes or len(seed) != 32:
            raise InvalidKeyError("private key seed must be 32 bytes")
        self._seed = seed
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self.public_key = PublicKey(self._key.public_key().public_bytes_raw())

    @classmethod
    def generate(cls) -> PrivateKey:
        """A fresh key from the operating system's random source."""
        return cls(os.urandom(32))

    @classmethod
    def from_seed(cls, seed: bytes) -> PrivateKey:
        """The key for a 32-byte seed (deterministic)."""
        # bytes(32) would be an all-zero seed and bytes("x") an encoding error: only
        # bytes-like values are seeds.
        if not isinstance(seed, bytes | bytearray | memoryview):
            raise InvalidArgumentError("seed", f"expected 32 bytes, not {type(seed).__name__}")
        return cls(bytes(seed))

    def to_seed(self) -> bytes:
        """The 32-byte seed. Treat it as the secret it is."""
        return self._seed

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message``."""
        return self._key.sign(message)

    def address(self, network: Network) -> Address:
        """The address of this key's public key on ``network``."""
        return self.public_key.address(network)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PrivateKey) and other._seed == self._seed

    def __hash__(self) -> int:
        return hash(self.public_key)

    def __repr__(self) -> str:
        return f"PrivateKey(public_key={self.public_key.data.hex()})"


@dataclass(frozen=True, slots=True)
class Address:
    """An address: a 20-byte payload and the network digit of its string form.

    ``str(address)`` is ``"TIME" + digit + base58(payload || SHA-256d(payload)[:4])``.
    The checksum does not cover the digit, so :meth:`parse` takes the expected network
    and rejects the other digit.
    """

    payload: bytes
    digit: int

    def __post_init__(self) -> None:
        if type(self.payload) is not bytes or len(self.payload) != PAYLOAD_SIZE:
            raise AddressError("address payload must be 20 bytes")
        if self.digit not in (0, 1):
            raise AddressError("address digit must be 0 or 1")

    @classmethod
    def parse(cls, text: str, network: Network) -> Address:
        """Parse an address string for ``network``; raises :class:`AddressError`."""
        if not isinstance(text, str):
            raise AddressError(f"address must be a string, not {type(text).__name__}")
        if len(text) < 6 or not text.startswith("TIME") or text[4] not in "01":
            raise AddressError(f"malformed address {text!r}: expected 'TIME0...' or 'TIME1...'")
        digit = int(text[4])
        if digit != network.address_digit:
            raise AddressError(
                f"address {text!r} is for another network: {network.name} addresses start "
                f"with 'TIME{network.address_digit}'"
            )
        try:
            raw = b58decode(text[5:])
        except ValueError as exc:
            raise AddressError(f"malformed address {text!r}: {exc}") from None
        if len(raw) != PAYLOAD_SIZE + 4:
            raise AddressError(f"malformed address {text!r}: wrong length")
        payload, checksum = raw[:PAYLOAD_SIZE], raw[PAYLOAD_SIZE:]
        if sha256d(payload)[:4] != checksum:
            raise AddressError(f"address {text!r} has a bad checksum")
        address = cls(payload, digit)
        if str(address) != text:
            raise AddressError(f"address {text!r} is not in canonical form")
        return address

    @classmethod
    def is_valid(cls, text: object, network: Network) -> bool:
        """True when ``text`` is an address string :meth:`parse` accepts for ``network``.

        Never raises for any ``text`` (a non-string is simply not an address);
        ``network`` must be a :class:`~timecoin_core.network.Network`.
        """
        if not isinstance(network, Network):
            raise AddressError(f"network must be a Network, not {type(network).__name__}")
        # Every address string is 37 to 39 characters; longer junk is refused before
        # base58 decoding, which is quadratic in the length.
        if not isinstance(text, str) or len(text) > 64:
            return False
        try:
            cls.parse(text, network)
        except AddressError:
            return False
        return True

    def __str__(self) -> str:
        return f"TIME{self.digit}{b58encode(self.payload + sha256d(self.payload)[:4])}"

    def __repr__(self) -> str:
        return f"Address({str(self)!r})"
