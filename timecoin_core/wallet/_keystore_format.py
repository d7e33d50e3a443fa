"""The keystore's pure format: bytes in, bytes out, no file system.

Everything :mod:`timecoin_core.wallet.keystore` writes to or reads from a file goes
through here: encoding a document to its canonical JSON bytes (:meth:`Document.to_bytes`),
parsing and validating bytes back (:func:`parse`), sealing secrets under a password
(:func:`seal`) and opening them (:func:`open_secrets`). The file layer only moves those
bytes, atomically, through :mod:`timecoin_core._files`. The theory of operation and the
format are in :mod:`timecoin_core.wallet.keystore` and docs/keystore.md.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import unicodedata
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from ..errors import AddressError
from ..keys import Address
from ..network import MAINNET, NETWORKS, TESTNET
from .errors import WalletTypeError
from .mnemonic import MnemonicError, mnemonic_to_entropy
from .slip10 import HARDENED_OFFSET
from .wallet import WalletError, WatchOnlyError

__all__ = [
    "DEFAULT_SCRYPT",
    "FAST_SCRYPT",
    "KEYSTORE_FORMAT",
    "KEYSTORE_VERSION",
    "MAX_ADDRESSES",
    "MAX_KEYSTORE_SIZE",
    "Document",
    "KeystoreError",
    "KeystoreFormatError",
    "ScryptParams",
    "SealedSecrets",
    "WrongPasswordError",
    "canonical_mnemonic",
    "check_created_at",
    "check_network_name",
    "format_error",
    "open_secrets",
    "padded_plaintext",
    "parse",
    "password_bytes",
    "seal",
]

KEYSTORE_FORMAT: Final = "timecoin-keystore"
"""The ``format`` field of every keystore file."""

KEYSTORE_VERSION: Final = 1
"""The format version this library writes and the newest it reads."""

MAX_KEYSTORE_SIZE: Final = 1 << 20
"""Largest keystore file read (1 MiB); a larger file is rejected before parsing."""

MAX_ADDRESSES: Final = 10_000
_MAX_NETWORK_NAME: Final = 64
_MAX_PLAINTEXT: Final = 16 * 1024
_PAD: Final = 256
_SALT_SIZE: Final = 32
_NONCE_SIZE: Final = 12
_CHECK_SIZE: Final = 16
_TAG_SIZE: Final = 16
_CHECK_MESSAGE: Final = b"timecoin keystore password check"
_CIPHER: Final = "aes-256-gcm"
_KDF: Final = "scrypt"
_MIN_N: Final = 1 << 12
_MAX_N: Final = 1 << 20
_MAX_R: Final = 32
_MAX_P: Final = 16
_MAX_MEMORY: Final = 256 << 20
_MAX_WORK: Final = 1 << 24
_HEX = re.compile(r"(?:[0-9a-f]{2})*")
_TOP_KEYS: Final = ("format", "version", "network", "account", "created_at", "addresses", "crypto")
_CRYPTO_KEYS: Final = ("cipher", "kdf", "n", "r", "p", "salt", "check", "nonce", "ciphertext")


class KeystoreError(WalletError):
    """A keystore operation that cannot be done as asked.

    Raised directly for invalid arguments (an empty password, scrypt parameters out
    of bounds, a network that does not match the keystore's) and for a file that
    changed on disk since it was loaded. Errors from the operating system (a missing
    file, a permission denied, a full disk) propagate as :class:`OSError`.
    """


class WrongPasswordError(KeystoreError):
    """The password does not open this keystore.

    A file whose salt or scrypt parameters were altered derives another key and looks
    exactly like this, since no key exists to tell the two apart.
    """


class KeystoreFormatError(KeystoreError):
    """A file that is not a valid keystore: corrupt, truncated, altered, or too new.

    Also raised when a correct password meets a header or ciphertext that was
    modified (authentication failed although the password check matched).
    """


@dataclass(frozen=True, slots=True)
class ScryptParams:
    """scrypt cost parameters, validated when constructed.

    ``n`` (CPU/memory cost) is a power of two in ``2**12 .. 2**20``, ``r`` (block
    size) in ``1 .. 32``, ``p`` (parallelism) in ``1 .. 16``; memory ``128 * n * r``
    is at most 256 MiB and work ``n * r * p`` at most ``2**24`` (16 times
    :data:`DEFAULT_SCRYPT`). The same bounds apply to files being loaded, so a
    malicious file cannot make unlocking allocate unbounded memory or spin for hours.
    Out-of-bounds values raise :class:`KeystoreError`.
    """

    n: int
    r: int
    p: int

    def __post_init__(self) -> None:
        problem = _scrypt_problem(self.n, self.r, self.p)
        if problem is not None:
            raise KeystoreError(f"scrypt parameters {problem}")

    @property
    def memory(self) -> int:
        """Bytes of memory one derivation needs (``128 * n * r``)."""
        return 128 * self.n * self.r


def _scrypt_problem(n: object, r: object, p: object) -> str | None:
    if type(n) is not int or type(r) is not int or type(p) is not int:
        return "n, r and p must be ints"
    if not _MIN_N <= n <= _MAX_N or n & (n - 1):
        return f"n={n} must be a power of two in 2**12..2**20"
    if not 1 <= r <= _MAX_R:
        return f"r={r} must be in 1..{_MAX_R}"
    if not 1 <= p <= _MAX_P:
        return f"p={p} must be in 1..{_MAX_P}"
    if 128 * n * r > _MAX_MEMORY:
        return f"n={n}, r={r} need {128 * n * r >> 20} MiB, over the 256 MiB bound"
    if n * r * p > _MAX_WORK:
        return f"n={n}, r={r}, p={p} are over the work bound n*r*p <= 2**24"
    return None


DEFAULT_SCRYPT: Final = ScryptParams(n=1 << 17, r=8, p=1)
"""Default cost: 128 MiB and about half a second per unlock on a current machine."""

FAST_SCRYPT: Final = ScryptParams(n=1 << 12, r=8, p=1)
"""The cheapest allowed cost (4 MiB, a few milliseconds): for tests and examples only."""


@dataclass(frozen=True, slots=True)
class SealedSecrets:
    """The ``crypto`` section: scrypt parameters, salt, password check, nonce, ciphertext."""

    kdf: ScryptParams
    salt: bytes
    check: bytes
    nonce: bytes
    ciphertext: bytes


@dataclass(frozen=True, slots=True)
class Document:
    """A parsed keystore: the header fields and the sealed secrets (None: watch-only)."""

    network: str
    account: int | None
    created_at: int | None
    addresses: tuple[str, ...]
    crypto: SealedSecrets | None

    def header(self) -> dict[str, object]:
        """Every field except nonce, ciphertext and check: what the AAD covers."""
        crypto: dict[str, object] | None = None
        if self.crypto is not None:
            crypto = {
                "cipher": _CIPHER,
                "kdf": _KDF,
                "n": self.crypto.kdf.n,
                "r": self.crypto.kdf.r,
                "p": self.crypto.kdf.p,
                "salt": self.crypto.salt.hex(),
            }
        return {
            "format": KEYSTORE_FORMAT,
            "version": KEYSTORE_VERSION,
            "network": self.network,
            "account": self.account,
            "created_at": self.created_at,
            "addresses": list(self.addresses),
            "crypto": crypto,
        }

    def associated_data(self) -> bytes:
        """What AES-GCM authenticates: the canonical JSON of :meth:`header`."""
        return _canonical(self.header())

    def to_bytes(self) -> bytes:
        """The file's bytes: indented JSON, ASCII, one trailing newline."""
        document = self.header()
        if self.crypto is not None:
            crypto = document["crypto"]
            assert isinstance(crypto, dict)
            crypto["check"] = self.crypto.check.hex()
            crypto["nonce"] = self.crypto.nonce.hex()
            crypto["ciphertext"] = self.crypto.ciphertext.hex()
        return (json.dumps(document, indent=2, ensure_ascii=True) + "\n").encode("ascii")


# -- sealing and opening ----------------------------------------------------------------


def password_bytes(password: str | bytes) -> bytes:
    """A password as bytes: a string NFKD-normalised and UTF-8 encoded; never empty."""
    if isinstance(password, str):
        data = unicodedata.normalize("NFKD", password).encode("utf-8")
    elif isinstance(password, bytes | bytearray):
        data = bytes(password)
    else:
        raise WalletTypeError("password", "str or bytes", password)
    if not data:
        raise KeystoreError("password must not be empty")
    return data


def canonical_mnemonic(words: str) -> str:
    """A valid English mnemonic with its words NFKD-normalised and single-spaced."""
    if not isinstance(words, str):
        raise WalletTypeError("mnemonic", "a string", words)
    valid = True
    try:
        mnemonic_to_entropy(words)
    except MnemonicError:
        valid = False
    if not valid:
        # Raised outside the handler so the original error, which quotes the
        # offending word, is not chained into tracebacks.
        raise MnemonicError(
            "mnemonic is not valid BIP-0039 English (an unknown word, a wrong word count "
            "or a bad checksum); check it with is_valid_mnemonic()"
        )
    return " ".join(unicodedata.normalize("NFKD", words).split())


def padded_plaintext(mnemonic: str, passphrase: str) -> bytes:
    """The secrets as JSON, padded with spaces to a multiple of 256 bytes."""
    body = json.dumps(
        {"mnemonic": mnemonic, "passphrase": passphrase}, ensure_ascii=True, separators=(",", ":")
    ).encode("ascii")
    size = max(_PAD, -(-len(body) // _PAD) * _PAD)
    if size > _MAX_PLAINTEXT:
        raise KeystoreError(f"passphrase too long: the sealed secrets must fit in {_MAX_PLAINTEXT} bytes")
    return body + b" " * (size - len(body))


def _derive(password: bytes, salt: bytes, kdf: ScryptParams) -> tuple[bytes, bytes]:
    material = Scrypt(salt=salt, length=64, n=kdf.n, r=kdf.r, p=kdf.p).derive(password)
    check = hmac.digest(material[32:], _CHECK_MESSAGE, hashlib.sha256)[:_CHECK_SIZE]
    return material[:32], check


def seal(document: Document, plaintext: bytes, password: bytes, kdf: ScryptParams) -> Document:
    """``document`` with ``plaintext`` sealed under ``password`` (fresh salt and nonce)."""
    salt = secrets.token_bytes(_SALT_SIZE)
    nonce = secrets.token_bytes(_NONCE_SIZE)
    key, check = _derive(password, salt, kdf)
    unsealed = Document(
        document.network,
        document.account,
        document.created_at,
        document.addresses,
        SealedSecrets(kdf, salt, b"", b"", b""),
    )
    ciphertext = AESGCM(key).encrypt(nonce, plaintext, unsealed.associated_data())
    return Document(
        document.network,
        document.account,
        document.created_at,
        document.addresses,
        SealedSecrets(kdf, salt, check, nonce, ciphertext),
    )


def open_secrets(document: Document, password: bytes) -> tuple[str, str]:
    """The (mnemonic, passphrase) sealed in ``document``; tells a wrong password from a modified file."""
    crypto = document.crypto
    if crypto is None:
        raise WatchOnlyError("a watch-only keystore stores no secrets: there is nothing to unlock")
    key, check = _derive(password, crypto.salt, crypto.kdf)
    check_matches = hmac.compare_digest(check, crypto.check)
    plaintext: bytes | None
    try:
        plaintext = AESGCM(key).decrypt(crypto.nonce, crypto.ciphertext, document.associated_data())
    except InvalidTag:
        plaintext = None
    if plaintext is None:
        if check_matches:
            raise KeystoreFormatError(
                "keystore was modified: the password is right but authentication failed "
                "(header, nonce or ciphertext altered)"
            )
        raise WrongPasswordError("wrong password for this keystore")
    if not check_matches:
        raise KeystoreFormatError("keystore was modified: its password check value was altered")
    return _unpad(plaintext)


def _unpad(plaintext: bytes) -> tuple[str, str]:
    # Authenticated content that does not parse is a writer bug, not an attack; the
    # messages still say nothing about what the content was.
    try:
        body = json.loads(plaintext.decode("ascii"), object_pairs_hook=_unique_keys)
    except (UnicodeDecodeError, ValueError, RecursionError):
        body = None
    if (
        not isinstance(body, dict)
        or set(body) != {"mnemonic", "passphrase"}
        or not isinstance(body["mnemonic"], str)
        or not isinstance(body["passphrase"], str)
    ):
        raise KeystoreFormatError("keystore secrets decrypted but are not in the expected form")
    mnemonic: str = body["mnemonic"]
    if not _is_canonical_mnemonic(mnemonic):
        raise KeystoreFormatError("keystore secrets decrypted but hold no valid mnemonic")
    return mnemonic, body["passphrase"]


def _is_canonical_mnemonic(mnemonic: str) -> bool:
    try:
        mnemonic_to_entropy(mnemonic)
    except MnemonicError:
        return False
    return " ".join(mnemonic.split()) == mnemonic


# -- parsing -----------------------------------------------------------------------------


def _canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise KeystoreFormatError("duplicate key")
        result[key] = value
    return result


def _reject_constant(name: str) -> object:
    raise KeystoreFormatError(f"{name} is not JSON")


def format_error(reason: str) -> KeystoreFormatError:
    """The error for bytes that are not a valid keystore."""
    return KeystoreFormatError(f"not a valid keystore: {reason}")


def parse(raw: bytes) -> Document:
    """Parse and validate keystore bytes (nothing is decrypted); :class:`KeystoreFormatError` otherwise."""
    try:
        data = json.loads(
            raw.decode("utf-8"), object_pairs_hook=_unique_keys, parse_constant=_reject_constant
        )
    except (UnicodeDecodeError, ValueError, RecursionError):
        data = None
    if not isinstance(data, dict):
        raise format_error("not a JSON object")
    if data.get("format") != KEYSTORE_FORMAT:
        raise format_error(f"the format field is not {KEYSTORE_FORMAT!r}")
    version = data.get("version")
    if type(version) is not int:
        raise format_error("version must be an int")
    if version > KEYSTORE_VERSION:
        raise KeystoreFormatError(
            f"keystore format version {version} is newer than this library reads "
            f"(up to {KEYSTORE_VERSION}); upgrade timecoin"
        )
    if version != KEYSTORE_VERSION:
        raise format_error(f"unknown format version {version}")
    if set(data) != set(_TOP_KEYS):
        raise format_error(f"expected exactly the fields {', '.join(_TOP_KEYS)}")
    network = data["network"]
    if not isinstance(network, str):
        raise format_error("network must be a string")
    problem = _network_name_problem(network)
    if problem is not None:
        raise format_error(problem)
    created_at = data["created_at"]
    if created_at is not None and (type(created_at) is not int or not 0 <= created_at < 1 << 63):
        raise format_error("created_at must be null or an int in 0..2**63-1")
    addresses = _parse_addresses(data["addresses"], network)
    account = data["account"]
    crypto_data = data["crypto"]
    if crypto_data is None:
        if account is not None:
            raise format_error("a watch-only keystore has a null account")
        if not addresses:
            raise format_error("a watch-only keystore needs at least one address")
        return Document(network, None, created_at, addresses, None)
    if type(account) is not int or not 0 <= account < HARDENED_OFFSET:
        raise format_error("account must be an int in 0..2**31-1")
    if len(addresses) % 2:
        raise format_error("an encrypted keystore records as many change as receiving addresses")
    return Document(network, account, created_at, addresses, _parse_crypto(crypto_data))


def _parse_addresses(value: object, network: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise format_error("addresses must be a list")
    if len(value) > MAX_ADDRESSES:
        raise format_error(f"more than {MAX_ADDRESSES} addresses")
    known = NETWORKS.get(network)
    digits: set[int] = set()
    for text in value:
        if not isinstance(text, str) or len(text) < 6 or text[:5] not in ("TIME0", "TIME1"):
            raise format_error("addresses must be TIME0... or TIME1... strings")
        # Address.parse needs a network only for its digit; the keystore's own network
        # may be a custom one, so parse against a built-in network with that digit.
        carrier = MAINNET if text[4] == "1" else TESTNET
        try:
            Address.parse(text, carrier)
        except AddressError:
            raise format_error("an address is malformed") from None
        digits.add(int(text[4]))
    if len(digits) > 1 or (known is not None and digits - {known.address_digit}):
        raise format_error(f"addresses are not all {network} addresses")
    return tuple(value)


def _parse_crypto(value: object) -> SealedSecrets:
    if not isinstance(value, dict) or set(value) != set(_CRYPTO_KEYS):
        raise format_error(f"crypto must be null or an object with exactly {', '.join(_CRYPTO_KEYS)}")
    if value["cipher"] != _CIPHER:
        raise format_error(f"unsupported cipher (only {_CIPHER!r})")
    if value["kdf"] != _KDF:
        raise format_error(f"unsupported kdf (only {_KDF!r})")
    n, r, p = value["n"], value["r"], value["p"]
    problem = _scrypt_problem(n, r, p)
    if problem is not None or type(n) is not int or type(r) is not int or type(p) is not int:
        raise format_error(f"scrypt parameters {problem}")
    kdf = ScryptParams(n, r, p)
    salt = _parse_hex(value, "salt")
    check = _parse_hex(value, "check")
    nonce = _parse_hex(value, "nonce")
    ciphertext = _parse_hex(value, "ciphertext")
    if len(salt) != _SALT_SIZE:
        raise format_error(f"salt must be {_SALT_SIZE} bytes")
    if len(check) != _CHECK_SIZE:
        raise format_error(f"check must be {_CHECK_SIZE} bytes")
    if len(nonce) != _NONCE_SIZE:
        raise format_error(f"nonce must be {_NONCE_SIZE} bytes")
    body = len(ciphertext) - _TAG_SIZE
    if not _PAD <= body <= _MAX_PLAINTEXT or body % _PAD:
        raise format_error(f"ciphertext must be a multiple of {_PAD} bytes plus a {_TAG_SIZE}-byte tag")
    return SealedSecrets(kdf, salt, check, nonce, ciphertext)


def _parse_hex(value: dict[str, object], name: str) -> bytes:
    text = value[name]
    if not isinstance(text, str) or _HEX.fullmatch(text) is None:
        raise format_error(f"{name} must be lowercase hex")
    return bytes.fromhex(text)


def _network_name_problem(name: str) -> str | None:
    if not 1 <= len(name) <= _MAX_NETWORK_NAME or not name.isascii() or not name.isprintable():
        return f"network name must be 1..{_MAX_NETWORK_NAME} printable ASCII characters"
    return None


def check_network_name(name: str) -> None:
    """Refuse a network name the format cannot record."""
    problem = _network_name_problem(name)
    if problem is not None:
        raise KeystoreError(problem)


def check_created_at(created_at: int | None) -> None:
    """Refuse a creation time that is not None or Unix seconds."""
    if created_at is not None and (type(created_at) is not int or not 0 <= created_at < 1 << 63):
        raise KeystoreError(f"created_at must be None or Unix seconds (an int >= 0), not {created_at!r}")


