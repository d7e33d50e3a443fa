"""Signed messages: prove control of an address by signing text with its key.

Format (docs/wallet.md, "Signing messages")
-------------------------------------------
The signed digest is a tagged hash, bound to one chain::

    digest = SHA-256(T || T || u32_le(chain_id) || varint(len(message)) || message)
    T      = SHA-256("timecoin/message")

``message`` is the bytes given, or the UTF-8 encoding of a string. The tag keeps a
message signature from ever being a valid signature of a transaction, vote or block
(their tags differ), and the chain id keeps a testnet signature from verifying on
mainnet, where the same key has an address with another digit.

The signature text is ``base64(0x01 || public_key || signature)``: a version byte,
the 32-byte Ed25519 public key and the 64-byte signature of ``digest``, 97 bytes in
132 characters of standard base64 with padding. The public key is included because
an address is only a hash of it. Verification checks that the key hashes to the
address's payload and that the signature is valid under the protocol's signature
policy (the same checks as a transaction input).
"""

from __future__ import annotations

import base64
import binascii
import struct
from typing import Final

from ..codec import encode_varint
from ..hashing import Tag, tagged_hash
from ..keys import PrivateKey, PublicKey
from ..network import Network
from ..verify import verify_one
from .errors import WalletArgumentError, WalletTypeError
from .payment import as_address

__all__ = [
    "MESSAGE_SIGNATURE_VERSION",
    "MESSAGE_TAG",
    "MessageSignatureError",
    "decode_message_signature",
    "message_digest",
    "sign_message",
    "verify_message",
]

MESSAGE_TAG: Final = Tag.MESSAGE.value
"""The tag of the message digest (a purpose of its own: no other hash uses it)."""

MESSAGE_SIGNATURE_VERSION: Final = 1
"""The first byte of a decoded message signature."""

_SIGNATURE_BYTES: Final = 1 + 32 + 64
_U32: Final = struct.Struct("<I")


class MessageSignatureError(WalletArgumentError):
    """A message signature text that is not the encoding of one (wrong base64, length or version).

    A well-formed signature that simply does not match is not an error:
    :func:`verify_message` returns False for it.
    """

    def __init__(self, message: str) -> None:
        super().__init__("signature", message)


def _message_bytes(message: object) -> bytes:
    if isinstance(message, str):
        return message.encode("utf-8")
    if isinstance(message, bytes | bytearray | memoryview):
        return bytes(message)
    raise WalletTypeError("message", "str or bytes", message)


def message_digest(message: str | bytes, network: Network) -> bytes:
    """The 32-byte digest a message signature signs (module docstring)."""
    data = _message_bytes(message)
    if not isinstance(network, Network):
        raise WalletTypeError("network", "a Network", network)
    return tagged_hash(Tag.MESSAGE, _U32.pack(network.chain_id) + encode_varint(len(data)) + data)


def sign_message(key: PrivateKey, message: str | bytes, network: Network) -> str:
    """The signature text proving that ``key``'s address on ``network`` signed ``message``.

    Deterministic (Ed25519): the same key, message and network give the same text.
    """
    if not isinstance(key, PrivateKey):
        raise WalletTypeError("key", "a PrivateKey", key)
    signature = key.sign(message_digest(message, network))
    blob = bytes((MESSAGE_SIGNATURE_VERSION,)) + key.public_key.data + signature
    return base64.b64encode(blob).decode("ascii")


def decode_message_signature(signature: str) -> tuple[PublicKey, bytes]:
    """The public key and the 64-byte signature in a signature text; raises :class:`MessageSignatureError`."""
    if not isinstance(signature, str):
        raise WalletTypeError("signature", "a base64 string", signature)
    if len(signature) != 4 * ((_SIGNATURE_BYTES + 2) // 3):
        raise MessageSignatureError(f"expected {4 * ((_SIGNATURE_BYTES + 2) // 3)} base64 characters, not {len(signature)}")
    try:
        blob = base64.b64decode(signature.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise MessageSignatureError("not standard base64") from None
    # One text per signature: base64 ignores the unused low bits of the last
    # character, so a second spelling would decode to the same bytes.
    if base64.b64encode(blob).decode("ascii") != signature or len(blob) != _SIGNATURE_BYTES:
        raise MessageSignatureError("not the canonical base64 of a 97-byte signature")
    if blob[0] != MESSAGE_SIGNATURE_VERSION:
        raise MessageSignatureError(f"unknown signature version {blob[0]}")
    return PublicKey(blob[1:33]), blob[33:]


def verify_message(address: object, message: str | bytes, signature: str, network: Network) -> bool:
    """True when ``signature`` proves that ``address`` (an Address or its string) signed ``message``.

    False for a well-formed signature by another key, of another message, or for
    another network. Raises :class:`MessageSignatureError` for a signature text
    that is not one, ``WalletAddressError`` for an address of another network or a
    malformed one, and ``WalletTypeError`` for arguments of the wrong type.
    """
    if not isinstance(network, Network):
        raise WalletTypeError("network", "a Network", network)
    target = as_address(address, network, "address")
    digest = message_digest(message, network)
    public_key, raw = decode_message_signature(signature)
    if public_key.payload != target.payload:
        return False
    return verify_one(public_key.data, digest, raw)
