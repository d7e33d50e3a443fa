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

The pure format (encoding, parsing, sealing, opening: bytes only) is
:mod:`timecoin_core.wallet._keystore_format`; this module is the file layer on top.
Files are written atomically through :mod:`timecoin_core._files`: a temporary file
created with mode 0600 in the same directory, written and fsynced, then moved into
place (``os.replace``, or ``os.link`` when an existing file must not be replaced) and
the directory fsynced. A crash
leaves either the old file or the new one, never a mix; an existing keystore is never
replaced unless the caller passes ``overwrite=True``.

Nothing secret is logged (this module does not log), shown by ``repr``/``str``, or
put in an exception message. Python cannot reliably erase strings from memory, so
secrets live in memory until garbage-collected; keep :class:`UnlockedKeystore`
objects short-lived.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable
from pathlib import Path
from typing import NoReturn

from .. import _files
from ..errors import AddressError
from ..keys import Address, PublicKey
from ..network import MAINNET, NETWORKS, Network
from . import _keystore_format as fmt
from ._keystore_format import (
    DEFAULT_SCRYPT,
    FAST_SCRYPT,
    KEYSTORE_FORMAT,
    KEYSTORE_VERSION,
    MAX_KEYSTORE_SIZE,
    Document,
    KeystoreError,
    KeystoreFormatError,
    ScryptParams,
    WrongPasswordError,
    format_error,
)
from .errors import WalletTypeError
from .mnemonic import mnemonic_to_seed
from .slip10 import HARDENED_OFFSET
from .wallet import DEFAULT_GAP_LIMIT, Wallet

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

    def __init__(self, path: Path, document: Document, raw: bytes) -> None:
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
        if type(watch_addresses) is not int or not 0 <= watch_addresses <= fmt.MAX_ADDRESSES // 2:
            raise KeystoreError(
                f"watch_addresses must be an int in 0..{fmt.MAX_ADDRESSES // 2}, not {watch_addresses!r}"
            )
        if not isinstance(passphrase, str):
            raise WalletTypeError("passphrase", "a string", passphrase)
        fmt.check_created_at(created_at)
        fmt.check_network_name(network.name)
        secret = fmt.password_bytes(password)
        mnemonic = fmt.canonical_mnemonic(words)
        _refuse_existing(target, overwrite)
        wallet = Wallet.from_mnemonic(mnemonic, passphrase, network, account=account)
        addresses = tuple(
            [str(wallet.address(i)) for i in range(watch_addresses)]
            + [str(wallet.change_address(i)) for i in range(watch_addresses)]
        )
        plaintext = fmt.padded_plaintext(mnemonic, passphrase)
        document = fmt.seal(
            Document(network.name, account, created_at, addresses, None), plaintext, secret, kdf
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
        fmt.check_created_at(created_at)
        fmt.check_network_name(network.name)
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
        if len(texts) > fmt.MAX_ADDRESSES:
            raise KeystoreError(f"a keystore holds at most {fmt.MAX_ADDRESSES} addresses")
        _refuse_existing(target, overwrite)
        document = Document(network.name, None, created_at, tuple(texts), None)
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
        return cls(target, fmt.parse(raw), raw)

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
        mnemonic, passphrase = fmt.open_secrets(self._document, fmt.password_bytes(password))
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
        old = fmt.password_bytes(old_password)
        new = fmt.password_bytes(new_password)
        document = self._document
        mnemonic, passphrase = fmt.open_secrets(document, old)
        assert document.crypto is not None
        if _read_bounded(self._path) != self._raw:
            raise KeystoreError(f"keystore {str(self._path)!r} changed on disk since it was loaded; load it again")
        resealed = fmt.seal(document, fmt.padded_plaintext(mnemonic, passphrase), new, kdf or document.crypto.kdf)
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


# -- files: the thin layer over the pure format --------------------------------------------


def _read_bounded(path: Path) -> bytes:
    raw = _files.read_bounded(path, MAX_KEYSTORE_SIZE)
    if raw is None:
        raise format_error(f"file is larger than {MAX_KEYSTORE_SIZE} bytes")
    return raw


def _refuse_existing(path: Path, overwrite: bool) -> None:
    if not overwrite and os.path.lexists(path):
        raise KeystoreExistsError(path)


def _write_atomic(path: Path, data: bytes, *, overwrite: bool) -> None:
    """Put ``data`` at ``path`` all at once, mode 0600, durable when this returns."""
    if not _files.write_file(path, data, replace=overwrite, mode=0o600):
        raise KeystoreExistsError(path)
