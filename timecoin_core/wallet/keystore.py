"""Wallet keystore: a mnemonic encrypted at rest with scrypt and AES-256-GCM.

Theory of operation
-------------------
A keystore is one JSON file holding a wallet's secret — the BIP-0039 mnemonic and its
optional passphrase, from which every key derives — encrypted under a password, next
to non-secret metadata readable without it: the network name, the account, the
creation time the caller supplied, and addresses a watch-only view can track.

    key material = scrypt(password, salt, n, r, p, 64 bytes)
    encryption key = key material[:32]            (AES-256-GCM)
    check = HMAC-SHA256(key material[32:], b"timecoin keystore password check")[:16]
    ciphertext = AES-256-GCM(encryption key, nonce, padded plaintext, aad=header)

The associated data is the canonical JSON of the whole document without ``nonce``,
``ciphertext`` and ``check``, so altering the version, the KDF parameters, the
network, the account, the creation time or any address makes decryption fail. The
``check`` value tells a wrong password (check differs, decryption fails) from a
modified file (check matches but decryption fails, or decryption succeeds but the
check was altered). Changing the salt or the scrypt parameters changes the derived
key, so it is reported as a wrong password: nothing can tell the two apart without a
key.

The plaintext is padded with spaces to a multiple of 256 bytes, so the file's size
does not reveal the number of words. A watch-only keystore has no ``crypto`` section:
it holds addresses only. docs/keystore.md is the normative format specification.

Files are written atomically: a temporary file created with mode 0600 in the same
directory, written and fsynced, then moved into place (``os.replace``, or ``os.link``
when an existing file must not be replaced) and the directory fsynced. A crash
leaves either the old file or the new one, never a mix; an existing keystore is never
replaced unless the caller passes ``overwrite=True``.

Nothing secret is logged (this module does not log), shown by ``repr``/``str``, or
put in an exception message. Python cannot reliably erase strings from memory, so
secrets live in memory until garbage-collected; keep :class:`UnlockedKeystore`
objects short-lived.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import hmac
import json
import os
import re
import secrets
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, NoReturn

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from .._files import place_new, sync_directory
from ..errors import AddressError
from ..keys import Address, PublicKey
from ..network import MAINNET, NETWORKS, TESTNET, Network
from .errors import WalletTypeError
from .mnemonic import MnemonicError, mnemonic_to_entropy, mnemonic_to_seed
from .slip10 import HARDENED_OFFSET
from .wallet import DEFAULT_GAP_LIMIT, Wallet, WalletError, WatchOnlyError

__all__ = [
    "DEFAULT_SCRYPT",
    "FAST_SCRYPT",
    "KEYSTORE_FORMAT",
    "KEYSTORE_VERSION",
    "MAX_KEYSTORE_SIZE",
    "Keystore",
    "KeystoreError",
    "KeystoreExistsError",
    "KeystoreFormatError",
    "KeystorePickleError",
    "ScryptParams",
    "UnlockedKeystore",
    "WrongPasswordError",
]

KEYSTORE_FORMAT: Final = "timecoin-keystore"
"""The ``format`` field of every keystore file."""

KEYSTORE_VERSION: Final = 1
"""The format version this library writes and the newest it reads."""

MAX_KEYSTORE_SIZE: Final = 1 << 20
"""Largest keystore file read (1 MiB); a larger file is rejected before parsing."""

_MAX_ADDRESSES: Final = 10_000
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


class KeystorePickleError(KeystoreError, TypeError):
    """An :class:`UnlockedKeystore` was pickled or copied: it holds secrets.

    A ``TypeError`` as well, which is what :mod:`pickle` and :mod:`copy` raise for an
    object that refuses them.
    """


class KeystoreExistsError(KeystoreError, FileExistsError):
    """A keystore already exists at ``filename``, and ``overwrite=True`` was not passed.

    Also a :class:`FileExistsError`, with ``errno``, ``strerror`` and ``filename`` set.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """The error for the existing file at ``path``."""
        message = "a keystore already exists here; pass overwrite=True to replace it"
        super().__init__(f"{message}: {os.fspath(path)!r}")
        # ValueError precedes OSError in the MRO, so OSError's constructor never ran.
        self.errno = errno.EEXIST
        self.strerror = message
        self.filename = os.fspath(path)


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
class _Crypto:
    kdf: ScryptParams
    salt: bytes
    check: bytes
    nonce: bytes
    ciphertext: bytes


@dataclass(frozen=True, slots=True)
class _Document:
    network: str
    account: int | None
    created_at: int | None
    addresses: tuple[str, ...]
    crypto: _Crypto | None

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
        return _canonical(self.header())

    def to_bytes(self) -> bytes:
        document = self.header()
        if self.crypto is not None:
            crypto = document["crypto"]
            assert isinstance(crypto, dict)
            crypto["check"] = self.crypto.check.hex()
            crypto["nonce"] = self.crypto.nonce.hex()
            crypto["ciphertext"] = self.crypto.ciphertext.hex()
        return (json.dumps(document, indent=2, ensure_ascii=True) + "\n").encode("ascii")


class UnlockedKeystore:
    """The secrets of a keystore, decrypted: made by :meth:`Keystore.unlock`.

    The mnemonic and the passphrase are reachable only through the explicitly named
    :attr:`mnemonic`, :attr:`passphrase` and :meth:`seed`; ``repr`` and ``str`` show
    the network and the account only. Drop the object as soon as it is not needed.
    """

    __slots__ = ("_keystore", "_mnemonic", "_passphrase")

    def __init__(self, keystore: Keystore, mnemonic: str, passphrase: str) -> None:
        """Made by :meth:`Keystore.unlock`; not meant to be called directly."""
        self._keystore = keystore
        self._mnemonic = mnemonic
        self._passphrase = passphrase

    @property
    def keystore(self) -> Keystore:
        """The keystore these secrets were decrypted from."""
        return self._keystore

    @property
    def mnemonic(self) -> str:
        """The BIP-0039 mnemonic (words joined by single spaces). Secret."""
        return self._mnemonic

    @property
    def passphrase(self) -> str:
        """The BIP-0039 passphrase ("" when none was set). Secret."""
        return self._passphrase

    def seed(self) -> bytes:
        """The 64-byte BIP-0039 seed of the mnemonic and passphrase. Secret."""
        return mnemonic_to_seed(self._mnemonic, self._passphrase)

    def wallet(self, network: Network | None = None, *, gap_limit: int = DEFAULT_GAP_LIMIT) -> Wallet:
        """A signing :class:`Wallet` for the keystore's account.

        ``network`` defaults to the built-in network named in the keystore; pass it
        for a custom network (for example a devnet with its own genesis). Its name
        must match the keystore's, else :class:`KeystoreError`.
        """
        keystore = self._keystore
        account = keystore.account
        assert account is not None
        return Wallet.from_mnemonic(
            self._mnemonic,
            self._passphrase,
            keystore._resolve_network(network),
            account=account,
            gap_limit=gap_limit,
        )

    def __repr__(self) -> str:
        keystore = self._keystore
        return f"UnlockedKeystore(network={keystore.network_name!r}, account={keystore.account})"

    def __reduce__(self) -> NoReturn:
        raise KeystorePickleError("an UnlockedKeystore holds secrets and cannot be pickled")


class Keystore:
    """A keystore file: its header, readable without a password, and its sealed secrets.

    Make one with :meth:`create`, :meth:`create_watch_only` or :meth:`load`. The
    object keeps what it read or wrote; :meth:`unlock` decrypts that copy, and
    :meth:`change_password` rewrites the file and this object together.
    """

    __slots__ = ("_document", "_path", "_raw")

    def __init__(self, path: Path, document: _Document, raw: bytes) -> None:
        """Made by :meth:`create`, :meth:`create_watch_only` and :meth:`load`."""
        self._path = path
        self._document = document
        self._raw = raw

    # -- constructors -----------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        words: str,
        password: str | bytes,
        *,
        passphrase: str = "",
        network: Network = MAINNET,
        account: int = 0,
        kdf: ScryptParams = DEFAULT_SCRYPT,
        created_at: int | None = None,
        watch_addresses: int = DEFAULT_GAP_LIMIT,
        overwrite: bool = False,
    ) -> Keystore:
        """Encrypt ``words`` (and ``passphrase``) under ``password`` into a new file at ``path``.

        ``created_at`` is a Unix time in seconds supplied by the caller (core never
        reads the clock), or None. The header also records receiving and change
        addresses ``0 .. watch_addresses - 1`` in plaintext, so that
        :meth:`watch_only_wallet` can track the balance without the password; pass
        ``watch_addresses=0`` to keep the file from revealing any address. ``kdf``
        is the scrypt cost (:data:`FAST_SCRYPT` for tests only).

        Raises :class:`KeystoreExistsError` if ``path`` exists and ``overwrite`` is
        False, :class:`~timecoin_core.wallet.MnemonicError` for an invalid mnemonic
        (the message never repeats a word), :class:`KeystoreError` for an empty
        password or other invalid arguments.
        """
        target = Path(path)
        if not isinstance(network, Network):
            raise WalletTypeError("network", "a Network", network)
        if not isinstance(kdf, ScryptParams):
            raise WalletTypeError("kdf", "ScryptParams", kdf)
        if type(account) is not int or not 0 <= account < HARDENED_OFFSET:
            raise KeystoreError(f"account must be an int in 0..2**31-1, not {account!r}")
        if type(watch_addresses) is not int or not 0 <= watch_addresses <= _MAX_ADDRESSES // 2:
            raise KeystoreError(
                f"watch_addresses must be an int in 0..{_MAX_ADDRESSES // 2}, not {watch_addresses!r}"
            )
        if not isinstance(passphrase, str):
            raise WalletTypeError("passphrase", "a string", passphrase)
        _check_created_at(created_at)
        _check_network_name(network.name)
        secret = _password_bytes(password)
        mnemonic = _canonical_mnemonic(words)
        _refuse_existing(target, overwrite)
        wallet = Wallet.from_mnemonic(mnemonic, passphrase, network, account=account)
        addresses = tuple(
            [str(wallet.address(i)) for i in range(watch_addresses)]
            + [str(wallet.change_address(i)) for i in range(watch_addresses)]
        )
        plaintext = _plaintext(mnemonic, passphrase)
        document = _seal(
            _Document(network.name, account, created_at, addresses, None), plaintext, secret, kdf
        )
        raw = document.to_bytes()
        _write_atomic(target, raw, overwrite=overwrite)
        return cls(target, document, raw)

    @classmethod
    def create_watch_only(
        cls,
        path: str | os.PathLike[str],
        addresses: Iterable[Address | PublicKey | str],
        network: Network = MAINNET,
        *,
        created_at: int | None = None,
        overwrite: bool = False,
    ) -> Keystore:
        """A keystore at ``path`` that stores ``addresses`` and no secret at all.

        Items are :class:`~timecoin_core.Address` values or address strings of
        ``network``, or :class:`~timecoin_core.PublicKey` values. It has no password:
        :meth:`unlock` raises :class:`~timecoin_core.wallet.WatchOnlyError`.
        """
        target = Path(path)
        if not isinstance(network, Network):
            raise WalletTypeError("network", "a Network", network)
        _check_created_at(created_at)
        _check_network_name(network.name)
        texts: list[str] = []
        for item in addresses:
            if isinstance(item, PublicKey):
                item = Address(item.payload, network.address_digit)
            if isinstance(item, Address):
                if item.digit != network.address_digit:
                    raise AddressError(f"address {item} is not a {network.name} address")
                texts.append(str(item))
            elif isinstance(item, str):
                texts.append(str(Address.parse(item, network)))
            else:
                raise WalletTypeError("addresses", "an Address, an address string or a PublicKey", item)
        if not texts:
            raise KeystoreError("a watch-only keystore needs at least one address")
        if len(texts) > _MAX_ADDRESSES:
            raise KeystoreError(f"a keystore holds at most {_MAX_ADDRESSES} addresses")
        _refuse_existing(target, overwrite)
        document = _Document(network.name, None, created_at, tuple(texts), None)
        raw = document.to_bytes()
        _write_atomic(target, raw, overwrite=overwrite)
        return cls(target, document, raw)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Keystore:
        """Read and validate the keystore at ``path`` without decrypting anything.

        Raises :class:`KeystoreFormatError` for a file that is not a keystore of a
        supported version (including scrypt parameters out of bounds), and
        :class:`OSError` when the file cannot be read.
        """
        target = Path(path)
        raw = _read_bounded(target)
        return cls(target, _parse(raw), raw)

    # -- header -----------------------------------------------------------------------

    @property
    def path(self) -> Path:
        """Where the keystore file is."""
        return self._path

    @property
    def version(self) -> int:
        """The file format version."""
        return KEYSTORE_VERSION

    @property
    def network_name(self) -> str:
        """The name of the network the wallet is for (``"mainnet"``, ``"devnet"``, ...)."""
        return self._document.network

    @property
    def account(self) -> int | None:
        """The BIP-0044 account of the sealed wallet; None for a watch-only keystore."""
        return self._document.account

    @property
    def created_at(self) -> int | None:
        """The creation time the creator supplied (Unix seconds), or None."""
        return self._document.created_at

    @property
    def addresses(self) -> tuple[str, ...]:
        """The addresses in the header, as strings.

        In an encrypted keystore they are receiving addresses ``0..k-1`` then change
        addresses ``0..k-1``. They are authenticated only by a successful
        :meth:`unlock`: until then, anyone who could write the file could have
        replaced them, so show a user where to send money from an unlocked wallet.
        """
        return self._document.addresses

    @property
    def kdf(self) -> ScryptParams | None:
        """The scrypt parameters of the sealed secrets; None for a watch-only keystore."""
        crypto = self._document.crypto
        return None if crypto is None else crypto.kdf

    @property
    def is_watch_only(self) -> bool:
        """True when the keystore stores no secret (made by :meth:`create_watch_only`)."""
        return self._document.crypto is None

    def __repr__(self) -> str:
        kind = "watch-only" if self.is_watch_only else f"account={self.account}"
        return (
            f"Keystore({str(self._path)!r}, network={self.network_name!r}, {kind}, "
            f"addresses={len(self.addresses)})"
        )

    # -- secrets ----------------------------------------------------------------------

    def unlock(self, password: str | bytes) -> UnlockedKeystore:
        """Decrypt the secrets with ``password``.

        Raises :class:`WrongPasswordError` for a wrong password,
        :class:`KeystoreFormatError` when the file was modified or its sealed content
        is malformed, and :class:`~timecoin_core.wallet.WatchOnlyError` for a
        watch-only keystore. String passwords are NFKD-normalised and UTF-8 encoded,
        so one typed differently composed still opens the file.
        """
        mnemonic, passphrase = _open(self._document, _password_bytes(password))
        return UnlockedKeystore(self, mnemonic, passphrase)

    def change_password(
        self, old_password: str | bytes, new_password: str | bytes, *, kdf: ScryptParams | None = None
    ) -> None:
        """Re-encrypt the secrets under ``new_password`` and atomically replace the file.

        A fresh salt and nonce are drawn; ``kdf`` sets a new scrypt cost (default:
        keep the current one). The file must still be what this object loaded or
        wrote, else :class:`KeystoreError` (load it again). Until the replacement is
        complete the old file stays intact and opens with the old password.
        """
        if kdf is not None and not isinstance(kdf, ScryptParams):
            raise WalletTypeError("kdf", "ScryptParams", kdf)
        old = _password_bytes(old_password)
        new = _password_bytes(new_password)
        document = self._document
        mnemonic, passphrase = _open(document, old)
        assert document.crypto is not None
        if _read_bounded(self._path) != self._raw:
            raise KeystoreError(f"keystore {str(self._path)!r} changed on disk since it was loaded; load it again")
        resealed = _seal(document, _plaintext(mnemonic, passphrase), new, kdf or document.crypto.kdf)
        raw = resealed.to_bytes()
        _write_atomic(self._path, raw, overwrite=True)
        self._document = resealed
        self._raw = raw

    def watch_only_wallet(self, network: Network | None = None) -> Wallet:
        """A watch-only :class:`Wallet` over the header's addresses; needs no password.

        ``network`` defaults to the built-in network named in the keystore; pass it
        for a custom network. See :attr:`addresses` for what the header proves.
        """
        resolved = self._resolve_network(network)
        if not self.addresses:
            raise KeystoreError("this keystore records no addresses (created with watch_addresses=0)")
        return Wallet.watch_only(self.addresses, resolved)

    def _resolve_network(self, network: Network | None) -> Network:
        name = self._document.network
        if network is None:
            known = NETWORKS.get(name)
            if known is None:
                raise KeystoreError(
                    f"keystore is for network {name!r}, which is not built in; pass network="
                )
            return known
        if not isinstance(network, Network):
            raise WalletTypeError("network", "a Network", network)
        if network.name != name:
            raise KeystoreError(f"keystore is for network {name!r}, not {network.name!r}")
        return network


# -- sealing and opening ----------------------------------------------------------------


def _password_bytes(password: str | bytes) -> bytes:
    if isinstance(password, str):
        data = unicodedata.normalize("NFKD", password).encode("utf-8")
    elif isinstance(password, bytes | bytearray):
        data = bytes(password)
    else:
        raise WalletTypeError("password", "str or bytes", password)
    if not data:
        raise KeystoreError("password must not be empty")
    return data


def _canonical_mnemonic(words: str) -> str:
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


def _plaintext(mnemonic: str, passphrase: str) -> bytes:
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


def _seal(document: _Document, plaintext: bytes, password: bytes, kdf: ScryptParams) -> _Document:
    salt = secrets.token_bytes(_SALT_SIZE)
    nonce = secrets.token_bytes(_NONCE_SIZE)
    key, check = _derive(password, salt, kdf)
    unsealed = _Document(
        document.network,
        document.account,
        document.created_at,
        document.addresses,
        _Crypto(kdf, salt, b"", b"", b""),
    )
    ciphertext = AESGCM(key).encrypt(nonce, plaintext, unsealed.associated_data())
    return _Document(
        document.network,
        document.account,
        document.created_at,
        document.addresses,
        _Crypto(kdf, salt, check, nonce, ciphertext),
    )


def _open(document: _Document, password: bytes) -> tuple[str, str]:
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


def _fail(reason: str) -> KeystoreFormatError:
    return KeystoreFormatError(f"not a valid keystore: {reason}")


def _parse(raw: bytes) -> _Document:
    try:
        data = json.loads(
            raw.decode("utf-8"), object_pairs_hook=_unique_keys, parse_constant=_reject_constant
        )
    except (UnicodeDecodeError, ValueError, RecursionError):
        data = None
    if not isinstance(data, dict):
        raise _fail("not a JSON object")
    if data.get("format") != KEYSTORE_FORMAT:
        raise _fail(f"the format field is not {KEYSTORE_FORMAT!r}")
    version = data.get("version")
    if type(version) is not int:
        raise _fail("version must be an int")
    if version > KEYSTORE_VERSION:
        raise KeystoreFormatError(
            f"keystore format version {version} is newer than this library reads "
            f"(up to {KEYSTORE_VERSION}); upgrade timecoin"
        )
    if version != KEYSTORE_VERSION:
        raise _fail(f"unknown format version {version}")
    if set(data) != set(_TOP_KEYS):
        raise _fail(f"expected exactly the fields {', '.join(_TOP_KEYS)}")
    network = data["network"]
    if not isinstance(network, str):
        raise _fail("network must be a string")
    problem = _network_name_problem(network)
    if problem is not None:
        raise _fail(problem)
    created_at = data["created_at"]
    if created_at is not None and (type(created_at) is not int or not 0 <= created_at < 1 << 63):
        raise _fail("created_at must be null or an int in 0..2**63-1")
    addresses = _parse_addresses(data["addresses"], network)
    account = data["account"]
    crypto_data = data["crypto"]
    if crypto_data is None:
        if account is not None:
            raise _fail("a watch-only keystore has a null account")
        if not addresses:
            raise _fail("a watch-only keystore needs at least one address")
        return _Document(network, None, created_at, addresses, None)
    if type(account) is not int or not 0 <= account < HARDENED_OFFSET:
        raise _fail("account must be an int in 0..2**31-1")
    if len(addresses) % 2:
        raise _fail("an encrypted keystore records as many change as receiving addresses")
    return _Document(network, account, created_at, addresses, _parse_crypto(crypto_data))


def _parse_addresses(value: object, network: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise _fail("addresses must be a list")
    if len(value) > _MAX_ADDRESSES:
        raise _fail(f"more than {_MAX_ADDRESSES} addresses")
    known = NETWORKS.get(network)
    digits: set[int] = set()
    for text in value:
        if not isinstance(text, str) or len(text) < 6 or text[:5] not in ("TIME0", "TIME1"):
            raise _fail("addresses must be TIME0... or TIME1... strings")
        # Address.parse needs a network only for its digit; the keystore's own network
        # may be a custom one, so parse against a built-in network with that digit.
        carrier = MAINNET if text[4] == "1" else TESTNET
        try:
            Address.parse(text, carrier)
        except AddressError:
            raise _fail("an address is malformed") from None
        digits.add(int(text[4]))
    if len(digits) > 1 or (known is not None and digits - {known.address_digit}):
        raise _fail(f"addresses are not all {network} addresses")
    return tuple(value)


def _parse_crypto(value: object) -> _Crypto:
    if not isinstance(value, dict) or set(value) != set(_CRYPTO_KEYS):
        raise _fail(f"crypto must be null or an object with exactly {', '.join(_CRYPTO_KEYS)}")
    if value["cipher"] != _CIPHER:
        raise _fail(f"unsupported cipher (only {_CIPHER!r})")
    if value["kdf"] != _KDF:
        raise _fail(f"unsupported kdf (only {_KDF!r})")
    n, r, p = value["n"], value["r"], value["p"]
    problem = _scrypt_problem(n, r, p)
    if problem is not None or type(n) is not int or type(r) is not int or type(p) is not int:
        raise _fail(f"scrypt parameters {problem}")
    kdf = ScryptParams(n, r, p)
    salt = _parse_hex(value, "salt")
    check = _parse_hex(value, "check")
    nonce = _parse_hex(value, "nonce")
    ciphertext = _parse_hex(value, "ciphertext")
    if len(salt) != _SALT_SIZE:
        raise _fail(f"salt must be {_SALT_SIZE} bytes")
    if len(check) != _CHECK_SIZE:
        raise _fail(f"check must be {_CHECK_SIZE} bytes")
    if len(nonce) != _NONCE_SIZE:
        raise _fail(f"nonce must be {_NONCE_SIZE} bytes")
    body = len(ciphertext) - _TAG_SIZE
    if not _PAD <= body <= _MAX_PLAINTEXT or body % _PAD:
        raise _fail(f"ciphertext must be a multiple of {_PAD} bytes plus a {_TAG_SIZE}-byte tag")
    return _Crypto(kdf, salt, check, nonce, ciphertext)


def _parse_hex(value: dict[str, object], name: str) -> bytes:
    text = value[name]
    if not isinstance(text, str) or _HEX.fullmatch(text) is None:
        raise _fail(f"{name} must be lowercase hex")
    return bytes.fromhex(text)


def _network_name_problem(name: str) -> str | None:
    if not 1 <= len(name) <= _MAX_NETWORK_NAME or not name.isascii() or not name.isprintable():
        return f"network name must be 1..{_MAX_NETWORK_NAME} printable ASCII characters"
    return None


def _check_network_name(name: str) -> None:
    problem = _network_name_problem(name)
    if problem is not None:
        raise KeystoreError(problem)


def _check_created_at(created_at: int | None) -> None:
    if created_at is not None and (type(created_at) is not int or not 0 <= created_at < 1 << 63):
        raise KeystoreError(f"created_at must be None or Unix seconds (an int >= 0), not {created_at!r}")


# -- files -------------------------------------------------------------------------------


def _read_bounded(path: Path) -> bytes:
    with open(path, "rb") as file:
        raw = file.read(MAX_KEYSTORE_SIZE + 1)
    if len(raw) > MAX_KEYSTORE_SIZE:
        raise _fail(f"file is larger than {MAX_KEYSTORE_SIZE} bytes")
    return raw


def _refuse_existing(path: Path, overwrite: bool) -> None:
    if not overwrite and os.path.lexists(path):
        raise KeystoreExistsError(path)


_FLAGS: Final = (
    os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
)


def _write_atomic(path: Path, data: bytes, *, overwrite: bool) -> None:
    """Put ``data`` at ``path`` all at once, mode 0600, durable when this returns."""
    directory = path.parent
    temporary = directory / f".{path.name}.{secrets.token_hex(8)}.tmp"
    fd = os.open(temporary, _FLAGS, 0o600)
    try:
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, 0o600)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if overwrite:
            os.replace(temporary, path)
        elif not place_new(temporary, path):
            raise KeystoreExistsError(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    sync_directory(directory)


