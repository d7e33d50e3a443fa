"""The wallet keystore: sealing, opening, tampering, file handling and secrecy."""

from __future__ import annotations

import base64
import copy
import dataclasses
import hashlib
import hmac
import itertools
import json
import logging
import os
import pickle
import stat
import tempfile
import traceback
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from timecoin_core import DEVNET, MAINNET, Address, PrivateKey, PublicKey
from timecoin_core.errors import AddressError, TimecoinError
from timecoin_core.wallet import (
    DEFAULT_GAP_LIMIT,
    DEFAULT_SCRYPT,
    FAST_SCRYPT,
    KEYSTORE_FORMAT,
    KEYSTORE_VERSION,
    MAX_KEYSTORE_SIZE,
    Keystore,
    KeystoreError,
    KeystoreExistsError,
    KeystoreFormatError,
    MnemonicError,
    ScryptParams,
    UnlockedKeystore,
    Wallet,
    WalletError,
    WatchOnlyError,
    WrongPasswordError,
    entropy_to_mnemonic,
    mnemonic_to_entropy,
    mnemonic_to_seed,
)
from timecoin_core.wallet import _keystore_format as keystore_format
from timecoin_core.wallet import keystore as keystore_module

WORDS = "legal winner thank year wave sausage worth useful legal winner thank yellow"
WORDS_24 = entropy_to_mnemonic(bytes(range(100, 132)))
PASSWORD = "correct horse battery staple"
PASSPHRASE = "TREZOR"
CREATED_AT = 1_767_225_600

# A version-1 keystore written by this library: a later version must still open it.
GOLDEN = """{
  "format": "timecoin-keystore",
  "version": 1,
  "network": "devnet",
  "account": 0,
  "created_at": 1767225600,
  "addresses": [
    "TIME0PNkn4XsAyhf7D2bx53uuNE43j8ZSvELAd",
    "TIME0DAMfMPoKqTLr7MiD7R9Ez4aEhNf4oNxmS"
  ],
  "crypto": {
    "cipher": "aes-256-gcm",
    "kdf": "scrypt",
    "n": 4096,
    "r": 8,
    "p": 1,
    "salt": "c74c1d16e63aea42a53919f562f9fc344a47b94b9b741d46b2a2b1ae17490c49",
    "check": "4cce4b74dfe3c1591b99800db98843d8",
    "nonce": "961a69e8863132668954ce28",
    "ciphertext": "5ff8637d74d4cd248ff1ac940cda13be70e0bf8fa733146e90b133abc9f449d182b4b24c8d1008eaa8d00654d945cedf26a624f959f3628e51d25eb5a68c6968cc95259210d0ae668c810eceef602297d6296ac6e74a7dd9f274c17664af88855b2b5f393f98650cca2b11029730007b96dae1c127a9c2f3e20675d626b6aaf0ebe2f9f2c8775feac650dd52a3e0e82d0e50839b9bfbd86dbe8220d99e4bc9ec13713cd05da47925bfb8ccf4a0c42b5a095e9dc60ce164ebf3df3c4867d9af824959f9eab90708f0331132a69d0061a20d4d784a2ea4eb11ca7acd3ba5f21726a288d8e46644ed898935ef86613ec526670342b97b8cf82a5c3f8f080ff1fd08fcf518b78ef82f8af5d5f4a5125bd470"
  }
}
"""


def make(path: Path, words: str = WORDS, **kwargs: Any) -> Keystore:
    kwargs.setdefault("passphrase", PASSPHRASE)
    kwargs.setdefault("network", DEVNET)
    kwargs.setdefault("kdf", FAST_SCRYPT)
    kwargs.setdefault("created_at", CREATED_AT)
    kwargs.setdefault("watch_addresses", 3)
    return Keystore.create(path, words, PASSWORD, **kwargs)


def read_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2))


def decrypt_by_spec(data: dict[str, Any], password: str) -> dict[str, Any]:
    """Open a keystore following docs/keystore.md only, without the library."""
    crypto = data["crypto"]
    header = copy.deepcopy(data)
    for name in ("check", "nonce", "ciphertext"):
        del header["crypto"][name]
    aad = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
    secret = unicodedata.normalize("NFKD", password).encode()
    kdf = Scrypt(salt=bytes.fromhex(crypto["salt"]), length=64, n=crypto["n"], r=crypto["r"], p=crypto["p"])
    material = kdf.derive(secret)
    check = hmac.digest(material[32:], b"timecoin keystore password check", hashlib.sha256)[:16]
    assert check.hex() == crypto["check"]
    plaintext = AESGCM(material[:32]).decrypt(
        bytes.fromhex(crypto["nonce"]), bytes.fromhex(crypto["ciphertext"]), aad
    )
    assert len(plaintext) % 256 == 0
    body: dict[str, Any] = json.loads(plaintext)
    return body


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "wallet.keystore"


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


# -- round trip ----------------------------------------------------------------------


def test_round_trip(path: Path) -> None:
    created = make(path)
    loaded = Keystore.load(path)
    for keystore in (created, loaded):
        assert keystore.path == path
        assert keystore.version == KEYSTORE_VERSION == 1
        assert keystore.network_name == "devnet"
        assert keystore.account == 0
        assert keystore.created_at == CREATED_AT
        assert keystore.kdf == FAST_SCRYPT
        assert not keystore.is_watch_only
        unlocked = keystore.unlock(PASSWORD)
        assert unlocked.keystore is keystore
        assert unlocked.mnemonic == WORDS
        assert unlocked.passphrase == PASSPHRASE
        assert unlocked.seed() == mnemonic_to_seed(WORDS, PASSPHRASE)
        wallet = unlocked.wallet()
        expected = Wallet.from_mnemonic(WORDS, PASSPHRASE, DEVNET)
        assert wallet.network is DEVNET and not wallet.is_watch_only
        assert [wallet.address(i) for i in range(5)] == [expected.address(i) for i in range(5)]


def test_header_addresses_are_receiving_then_change(path: Path) -> None:
    keystore = make(path, watch_addresses=3, account=7)
    wallet = Wallet.from_mnemonic(WORDS, PASSPHRASE, DEVNET, account=7)
    expected = [str(wallet.address(i)) for i in range(3)] + [str(wallet.change_address(i)) for i in range(3)]
    assert list(keystore.addresses) == expected
    assert keystore.account == 7 and keystore.unlock(PASSWORD).wallet().account == 7
    watching = Keystore.load(path).watch_only_wallet()
    assert watching.is_watch_only
    assert [str(watching.address(i)) for i in range(6)] == expected


def test_default_watch_addresses_and_none(tmp_path: Path) -> None:
    full = make(tmp_path / "a", watch_addresses=DEFAULT_GAP_LIMIT)
    assert len(full.addresses) == 2 * DEFAULT_GAP_LIMIT
    private = make(tmp_path / "b", watch_addresses=0)
    assert private.addresses == ()
    assert read_json(tmp_path / "b")["addresses"] == []
    with pytest.raises(KeystoreError, match="records no addresses"):
        private.watch_only_wallet()
    assert private.unlock(PASSWORD).wallet().address(0) == full.unlock(PASSWORD).wallet().address(0)


def test_mnemonic_is_stored_canonically(path: Path) -> None:
    keystore = make(path, words="  " + WORDS.replace(" ", "   ") + "\n")
    assert keystore.unlock(PASSWORD).mnemonic == WORDS


def test_golden_file_still_opens(path: Path) -> None:
    path.write_text(GOLDEN)
    keystore = Keystore.load(path)
    assert keystore.network_name == "devnet" and keystore.created_at == CREATED_AT
    unlocked = keystore.unlock(PASSWORD)
    assert (unlocked.mnemonic, unlocked.passphrase) == (WORDS, PASSPHRASE)
    assert str(unlocked.wallet().address(0)) == keystore.addresses[0]


def test_the_specification_opens_what_the_library_writes(path: Path) -> None:
    make(path, words=WORDS_24, passphrase="ünïcode")
    body = decrypt_by_spec(read_json(path), PASSWORD)
    assert body == {"mnemonic": WORDS_24, "passphrase": "ünïcode"}
    assert decrypt_by_spec(json.loads(GOLDEN), PASSWORD) == {"mnemonic": WORDS, "passphrase": PASSPHRASE}


def test_file_layout(path: Path) -> None:
    make(path)
    data = read_json(path)
    assert list(data) == ["format", "version", "network", "account", "created_at", "addresses", "crypto"]
    assert data["format"] == KEYSTORE_FORMAT
    crypto = data["crypto"]
    assert list(crypto) == ["cipher", "kdf", "n", "r", "p", "salt", "check", "nonce", "ciphertext"]
    assert (crypto["cipher"], crypto["kdf"]) == ("aes-256-gcm", "scrypt")
    assert (crypto["n"], crypto["r"], crypto["p"]) == (4096, 8, 1)
    assert [len(crypto[k]) for k in ("salt", "check", "nonce")] == [64, 32, 24]


def test_padding_hides_the_word_count(tmp_path: Path) -> None:
    short = make(tmp_path / "12", words=WORDS, passphrase="", watch_addresses=0)
    long = make(tmp_path / "24", words=WORDS_24, passphrase="", watch_addresses=0)
    assert len(read_json(short.path)["crypto"]["ciphertext"]) == len(read_json(long.path)["crypto"]["ciphertext"])
    assert (tmp_path / "12").stat().st_size == (tmp_path / "24").stat().st_size


def test_every_write_draws_a_fresh_salt_and_nonce(tmp_path: Path) -> None:
    one = read_json(make(tmp_path / "1").path)["crypto"]
    two = read_json(make(tmp_path / "2").path)["crypto"]
    assert one["salt"] != two["salt"] and one["nonce"] != two["nonce"]
    assert one["ciphertext"] != two["ciphertext"]


def test_default_kdf_is_strong() -> None:
    assert (DEFAULT_SCRYPT.n, DEFAULT_SCRYPT.r, DEFAULT_SCRYPT.p) == (2**17, 8, 1)
    assert DEFAULT_SCRYPT.memory == 128 * 2**20
    assert (FAST_SCRYPT.n, FAST_SCRYPT.r, FAST_SCRYPT.p) == (2**12, 8, 1)


def test_create_with_the_default_kdf(path: Path) -> None:
    keystore = Keystore.create(path, WORDS, PASSWORD, network=DEVNET, watch_addresses=1)
    assert Keystore.load(path).kdf == DEFAULT_SCRYPT
    assert keystore.unlock(PASSWORD).mnemonic == WORDS


# -- passwords -------------------------------------------------------------------------


def test_wrong_password(path: Path) -> None:
    keystore = make(path)
    for wrong in ("correct horse battery stapl", PASSWORD.upper(), b"x", PASSWORD + " "):
        with pytest.raises(WrongPasswordError) as info:
            keystore.unlock(wrong)
        assert isinstance(info.value, TimecoinError)
        assert isinstance(info.value, ValueError)
        assert isinstance(info.value, WalletError)
        assert isinstance(info.value, KeystoreError)
        assert str(info.value) == "wrong password for this keystore"


def test_password_forms(path: Path) -> None:
    composed = "pässwörd"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    keystore = Keystore.create(path, WORDS, composed, network=DEVNET, kdf=FAST_SCRYPT)
    assert keystore.unlock(decomposed).mnemonic == WORDS
    assert keystore.unlock(unicodedata.normalize("NFKD", composed).encode()).mnemonic == WORDS


def test_empty_or_mistyped_passwords_are_refused(path: Path) -> None:
    with pytest.raises(KeystoreError, match="must not be empty"):
        Keystore.create(path, WORDS, "", kdf=FAST_SCRYPT)
    with pytest.raises(KeystoreError, match="must not be empty"):
        Keystore.create(path, WORDS, b"", kdf=FAST_SCRYPT)
    with pytest.raises(TypeError):
        Keystore.create(path, WORDS, 1234, kdf=FAST_SCRYPT)  # type: ignore[arg-type]
    assert not path.exists()
    keystore = make(path)
    with pytest.raises(KeystoreError, match="must not be empty"):
        keystore.unlock("")
    with pytest.raises(KeystoreError, match="must not be empty"):
        keystore.change_password(PASSWORD, "")


# -- change_password -------------------------------------------------------------------


def test_change_password(path: Path) -> None:
    keystore = make(path)
    before = read_json(path)
    keystore.change_password(PASSWORD, "new password")
    after = read_json(path)
    assert after["crypto"]["salt"] != before["crypto"]["salt"]
    assert after["crypto"]["nonce"] != before["crypto"]["nonce"]
    assert {k: v for k, v in after.items() if k != "crypto"} == {k: v for k, v in before.items() if k != "crypto"}
    for current in (keystore, Keystore.load(path)):
        assert current.unlock("new password").mnemonic == WORDS
        with pytest.raises(WrongPasswordError):
            current.unlock(PASSWORD)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert leftovers(path.parent) == []


def test_change_password_can_change_the_kdf(path: Path) -> None:
    keystore = make(path)
    stronger = ScryptParams(n=2**13, r=8, p=2)
    keystore.change_password(PASSWORD, "new", kdf=stronger)
    assert keystore.kdf == stronger and Keystore.load(path).kdf == stronger
    assert Keystore.load(path).unlock("new").passphrase == PASSPHRASE
    keystore.change_password("new", "newer")
    assert Keystore.load(path).kdf == stronger


def test_change_password_with_a_wrong_password_changes_nothing(path: Path) -> None:
    keystore = make(path)
    before = path.read_bytes()
    with pytest.raises(WrongPasswordError):
        keystore.change_password("wrong", "new")
    assert path.read_bytes() == before


def test_change_password_refuses_a_file_changed_on_disk(path: Path) -> None:
    stale = make(path)
    Keystore.load(path).change_password(PASSWORD, "other")
    changed = path.read_bytes()
    with pytest.raises(KeystoreError, match="changed on disk"):
        stale.change_password(PASSWORD, "mine")
    assert path.read_bytes() == changed


# -- tampering -------------------------------------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _set(*keys: str | int, value: object) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        target: Any = data
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return mutate


def _flip(field: str, position: int = 0) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        raw = bytearray.fromhex(data["crypto"][field])
        raw[position] ^= 0x01
        data["crypto"][field] = raw.hex()

    return mutate


OTHER_DEVNET_ADDRESS = str(PrivateKey.from_seed(b"\x07" * 32).address(DEVNET))

TAMPERED_BUT_LOADABLE: dict[str, Mutation] = {
    "network": _set("network", value="testnet"),
    "network-custom": _set("network", value="devnet2"),
    "account": _set("account", value=1),
    "created_at": _set("created_at", value=CREATED_AT + 1),
    "created_at-null": _set("created_at", value=None),
    "address-replaced": _set("addresses", 0, value=OTHER_DEVNET_ADDRESS),
    "addresses-reordered": lambda d: d["addresses"].reverse(),
    "addresses-dropped": lambda d: d.__setitem__("addresses", d["addresses"][:2]),
    "ciphertext-first-byte": _flip("ciphertext", 0),
    "ciphertext-padding": _flip("ciphertext", 200),
    "ciphertext-tag": _flip("ciphertext", -1),
    "nonce": _flip("nonce", 5),
    "check": _flip("check", 3),
}
"""Alterations that still parse; a correct password must reveal them."""

TAMPERED_KDF: dict[str, Mutation] = {
    "salt": _flip("salt", 0),
    "n": _set("crypto", "n", value=2**13),
    "r": _set("crypto", "r", value=9),
    "p": _set("crypto", "p", value=2),
}
"""Alterations of the key derivation: another key, indistinguishable from a wrong password."""


@pytest.mark.parametrize("name", sorted(TAMPERED_BUT_LOADABLE))
def test_tampered_header_nonce_or_ciphertext_fails(path: Path, name: str) -> None:
    make(path)
    data = read_json(path)
    TAMPERED_BUT_LOADABLE[name](data)
    write_json(path, data)
    keystore = Keystore.load(path)
    with pytest.raises(KeystoreFormatError, match="modified"):
        keystore.unlock(PASSWORD)
    with pytest.raises(WrongPasswordError):
        keystore.unlock("not the password")


@pytest.mark.parametrize("name", sorted(TAMPERED_KDF))
def test_tampered_kdf_params_fail(path: Path, name: str) -> None:
    make(path)
    data = read_json(path)
    TAMPERED_KDF[name](data)
    write_json(path, data)
    with pytest.raises(WrongPasswordError):
        Keystore.load(path).unlock(PASSWORD)


def test_reformatting_is_not_tampering(path: Path) -> None:
    make(path)
    path.write_text(json.dumps(read_json(path), sort_keys=True))
    assert Keystore.load(path).unlock(PASSWORD).mnemonic == WORDS


MALFORMED: dict[str, Callable[[bytes], bytes]] = {
    "empty": lambda raw: b"",
    "truncated": lambda raw: raw[: len(raw) // 2],
    "not-utf8": lambda raw: b"\xff" + raw,
    "not-an-object": lambda raw: b"[1, 2, 3]",
    "nested": lambda raw: b"[" * 100_000 + b"]" * 100_000,
    "huge-int": lambda raw: raw.replace(b'"account": 0', b'"account": ' + b"9" * 5000),
    "nan": lambda raw: raw.replace(b'"account": 0', b'"account": NaN'),
    "duplicate-key": lambda raw: raw.replace(b'"account": 0', b'"account": 0, "account": 0'),
    "too-large": lambda raw: raw + b" " * MAX_KEYSTORE_SIZE,
    "bool-account": lambda raw: raw.replace(b'"account": 0', b'"account": false'),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_corrupt_files_are_format_errors(path: Path, name: str) -> None:
    make(path)
    path.write_bytes(MALFORMED[name](path.read_bytes()))
    with pytest.raises(KeystoreFormatError):
        Keystore.load(path)


INVALID_FIELDS: dict[str, Mutation] = {
    "format": _set("format", value="ethereum-keystore"),
    "version-0": _set("version", value=0),
    "version-string": _set("version", value="1"),
    "extra-field": _set("comment", value="hello"),
    "missing-field": lambda d: d.pop("created_at"),
    "extra-crypto-field": _set("crypto", "mac", value="00"),
    "cipher": _set("crypto", "cipher", value="aes-128-gcm"),
    "kdf": _set("crypto", "kdf", value="pbkdf2"),
    "salt-upper": lambda d: d["crypto"].__setitem__("salt", d["crypto"]["salt"].upper()),
    "salt-short": _set("crypto", "salt", value="00" * 16),
    "salt-odd": _set("crypto", "salt", value="0" * 63),
    "nonce-long": _set("crypto", "nonce", value="00" * 16),
    "check-short": _set("crypto", "check", value="00" * 8),
    "ciphertext-unpadded": lambda d: d["crypto"].__setitem__("ciphertext", d["crypto"]["ciphertext"][:-2]),
    "ciphertext-tiny": _set("crypto", "ciphertext", value="00" * 16),
    "ciphertext-number": _set("crypto", "ciphertext", value=12),
    "network-empty": _set("network", value=""),
    "network-number": _set("network", value=3),
    "network-control": _set("network", value="dev\nnet"),
    "account-negative": _set("account", value=-1),
    "account-hardened": _set("account", value=2**31),
    "account-null": _set("account", value=None),
    "created_at-negative": _set("created_at", value=-5),
    "created_at-float": _set("created_at", value=1.5),
    "addresses-not-list": _set("addresses", value="TIME0"),
    "address-garbage": _set("addresses", 0, value="TIME0notanaddress"),
    "address-checksum": lambda d: d["addresses"].__setitem__(0, d["addresses"][0][:-1] + "z"),
    "address-wrong-network": _set("addresses", 0, value=str(PrivateKey.from_seed(b"\x01" * 32).address(MAINNET))),
    "addresses-odd": lambda d: d["addresses"].pop(),
    "addresses-too-many": _set("addresses", value=[OTHER_DEVNET_ADDRESS] * 10_002),
    "crypto-list": _set("crypto", value=[]),
}


@pytest.mark.parametrize("name", sorted(INVALID_FIELDS))
def test_invalid_fields_are_format_errors(path: Path, name: str) -> None:
    make(path)
    data = read_json(path)
    INVALID_FIELDS[name](data)
    write_json(path, data)
    with pytest.raises(KeystoreFormatError, match="not a valid keystore"):
        Keystore.load(path)


def test_a_newer_version_says_so(path: Path) -> None:
    make(path)
    data = read_json(path)
    data["version"] = 2
    write_json(path, data)
    with pytest.raises(KeystoreFormatError, match="version 2 is newer"):
        Keystore.load(path)


def test_authenticated_but_malformed_secrets(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer bug (valid seal, wrong content) is a format error that reveals nothing."""
    monkeypatch.setattr(keystore_format, "padded_plaintext", lambda m, p: b'{"mnemonic": 5}'.ljust(256))
    keystore = make(path)
    monkeypatch.undo()
    with pytest.raises(KeystoreFormatError, match="not in the expected form"):
        keystore.unlock(PASSWORD)
    bad = json.dumps({"mnemonic": "abandon " * 12, "passphrase": ""}).encode().ljust(256)
    monkeypatch.setattr(keystore_format, "padded_plaintext", lambda m, p: bad)
    keystore = make(path, overwrite=True)
    monkeypatch.undo()
    with pytest.raises(KeystoreFormatError, match="no valid mnemonic"):
        keystore.unlock(PASSWORD)


# -- bounded scrypt parameters ---------------------------------------------------------

OUT_OF_BOUNDS = [
    (2**30, 8, 1),  # 128 GiB
    (2**21, 1, 1),  # n above 2**20
    (2**20, 8, 1),  # 1 GiB
    (2**18, 16, 1),  # 512 MiB
    (2**18, 8, 16),  # work 2**25
    (2**11, 8, 1),  # too cheap
    (3000, 8, 1),  # not a power of two
    (0, 8, 1),
    (4096, 0, 1),
    (4096, 33, 1),
    (4096, 8, 0),
    (4096, 8, 17),
    (4096, 2**40, 1),
]


@pytest.mark.parametrize(("n", "r", "p"), OUT_OF_BOUNDS)
def test_scrypt_params_are_bounded(n: int, r: int, p: int) -> None:
    with pytest.raises(KeystoreError, match="scrypt parameters"):
        ScryptParams(n, r, p)


@pytest.mark.parametrize("value", [True, 4096.0, "4096", None])
def test_scrypt_params_must_be_ints(value: Any) -> None:
    with pytest.raises(KeystoreError, match="must be ints"):
        ScryptParams(value, 8, 1)


def test_scrypt_bounds_at_the_edges() -> None:
    assert ScryptParams(2**18, 8, 1).memory == 256 * 2**20
    assert ScryptParams(2**17, 8, 16)
    assert ScryptParams(2**12, 32, 16)


@pytest.mark.parametrize(("n", "r", "p"), [*OUT_OF_BOUNDS, (True, 8, 1), (4096.0, 8, 1), (4096, 8, None)])
def test_out_of_bounds_files_are_rejected_before_any_derivation(
    path: Path, monkeypatch: pytest.MonkeyPatch, n: object, r: object, p: object
) -> None:
    make(path)
    data = read_json(path)
    data["crypto"].update(n=n, r=r, p=p)
    write_json(path, data)

    def no_scrypt(*args: object, **kwargs: object) -> None:
        raise AssertionError("scrypt must not run for an invalid file")

    monkeypatch.setattr(keystore_format, "Scrypt", no_scrypt)
    with pytest.raises(KeystoreFormatError, match="scrypt parameters"):
        Keystore.load(path)


# -- files -----------------------------------------------------------------------------


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
@pytest.mark.usefixtures("open_umask")
def test_file_mode_is_0600_even_with_an_open_umask(tmp_path: Path) -> None:
    encrypted = make(tmp_path / "a")
    watch = Keystore.create_watch_only(tmp_path / "b", [OTHER_DEVNET_ADDRESS], DEVNET)
    replaced = make(tmp_path / "a", overwrite=True)
    for keystore in (encrypted, watch, replaced):
        assert stat.S_IMODE(keystore.path.stat().st_mode) == 0o600
    replaced.change_password(PASSWORD, "new")
    assert stat.S_IMODE(replaced.path.stat().st_mode) == 0o600
    assert leftovers(tmp_path) == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
@pytest.mark.usefixtures("open_umask")
def test_the_temporary_file_is_never_readable_by_others(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    real_open = os.open

    def spying_open(file: Any, flags: int, mode: int = 0o777, **kwargs: Any) -> int:
        fd = real_open(file, flags, mode, **kwargs)
        if flags & os.O_CREAT:
            seen.append(stat.S_IMODE(os.fstat(fd).st_mode))
        return fd

    monkeypatch.setattr(os, "open", spying_open)
    keystore = make(path)
    keystore.change_password(PASSWORD, "new")
    assert seen and all(mode == 0o600 for mode in seen)


def test_failed_replace_leaves_the_old_file_intact(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keystore = make(path)
    before = path.read_bytes()

    def crash(src: Any, dst: Any) -> None:
        assert Path(src).read_bytes() != before  # the new file was fully written
        raise OSError("simulated crash during rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        keystore.change_password(PASSWORD, "new")
    with pytest.raises(OSError, match="simulated crash"):
        make(path, overwrite=True, words=WORDS_24)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert leftovers(path.parent) == []
    assert keystore.unlock(PASSWORD).mnemonic == WORDS
    assert Keystore.load(path).unlock(PASSWORD).mnemonic == WORDS
    keystore.change_password(PASSWORD, "new")
    assert Keystore.load(path).unlock("new").mnemonic == WORDS


def test_failed_write_leaves_nothing_behind(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space"):
        make(path)
    monkeypatch.undo()
    assert not path.exists()
    assert leftovers(path.parent) == []


def test_an_existing_keystore_is_never_replaced_unasked(path: Path) -> None:
    make(path)
    before = path.read_bytes()
    with pytest.raises(KeystoreExistsError) as info:
        make(path, words=WORDS_24)
    assert isinstance(info.value, FileExistsError) and isinstance(info.value, KeystoreError)
    assert info.value.filename == str(path)
    with pytest.raises(KeystoreExistsError):
        Keystore.create_watch_only(path, [OTHER_DEVNET_ADDRESS], DEVNET)
    assert path.read_bytes() == before
    make(path, words=WORDS_24, overwrite=True)
    assert Keystore.load(path).unlock(PASSWORD).mnemonic == WORDS_24


def test_an_existing_non_keystore_file_is_not_replaced_either(path: Path) -> None:
    path.write_text("precious")
    with pytest.raises(KeystoreExistsError):
        make(path)
    assert path.read_text() == "precious"


def test_a_keystore_appearing_during_creation_is_not_replaced(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer wins the race between the early check and the final link."""
    real_write = keystore_module._write_atomic

    def racing_write(target: Path, data: bytes, *, overwrite: bool) -> None:
        target.write_text("the other writer's keystore")
        real_write(target, data, overwrite=overwrite)

    monkeypatch.setattr(keystore_module, "_write_atomic", racing_write)
    with pytest.raises(KeystoreExistsError):
        make(path)
    assert path.read_text() == "the other writer's keystore"
    assert leftovers(path.parent) == []


def test_filesystems_without_hard_links(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_links(src: Any, dst: Any) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    keystore = make(path)
    assert keystore.unlock(PASSWORD).mnemonic == WORDS
    before = path.read_bytes()
    monkeypatch.setattr(os.path, "lexists", lambda p: False)
    with pytest.raises(KeystoreExistsError):
        make(path, words=WORDS_24)
    assert path.read_bytes() == before
    assert leftovers(path.parent) == []


def test_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        Keystore.load(tmp_path / "nope")
    with pytest.raises(FileNotFoundError):
        make(tmp_path / "no-such-dir" / "wallet.keystore")


# -- watch-only ------------------------------------------------------------------------


def test_watch_only_keystore_stores_no_secrets(path: Path) -> None:
    source = Wallet.from_mnemonic(WORDS, PASSPHRASE, DEVNET)
    key = PrivateKey.from_seed(b"\x05" * 32)
    items: list[Address | PublicKey | str] = [source.address(0), str(source.address(1)), key.public_key]
    keystore = Keystore.create_watch_only(path, items, DEVNET, created_at=CREATED_AT)
    data = read_json(path)
    assert data == {
        "format": "timecoin-keystore",
        "version": 1,
        "network": "devnet",
        "account": None,
        "created_at": CREATED_AT,
        "addresses": [str(source.address(0)), str(source.address(1)), str(key.address(DEVNET))],
        "crypto": None,
    }
    for current in (keystore, Keystore.load(path)):
        assert current.is_watch_only and current.kdf is None and current.account is None
        with pytest.raises(WatchOnlyError):
            current.unlock(PASSWORD)
        with pytest.raises(WatchOnlyError):
            current.change_password(PASSWORD, "new")
        wallet = current.watch_only_wallet()
        assert wallet.is_watch_only
        assert wallet.owns(source.address(0)) and wallet.owns(key.address(DEVNET))
    assert "watch-only" in repr(keystore)


def test_watch_only_arguments(path: Path) -> None:
    with pytest.raises(KeystoreError, match="at least one address"):
        Keystore.create_watch_only(path, [], DEVNET)
    with pytest.raises(AddressError):
        Keystore.create_watch_only(path, [PrivateKey.from_seed(b"\x01" * 32).address(MAINNET)], DEVNET)
    with pytest.raises(AddressError):
        Keystore.create_watch_only(path, ["TIME1nonsense"], DEVNET)
    with pytest.raises(TypeError):
        Keystore.create_watch_only(path, [b"\x00" * 20], DEVNET)  # type: ignore[list-item]
    assert not path.exists()


def test_watch_only_file_with_an_account_or_no_address_is_invalid(path: Path) -> None:
    Keystore.create_watch_only(path, [OTHER_DEVNET_ADDRESS], DEVNET)
    for mutation in (_set("account", value=0), _set("addresses", value=[])):
        data = read_json(path)
        mutation(data)
        write_json(path, data)
        with pytest.raises(KeystoreFormatError):
            Keystore.load(path)


# -- networks --------------------------------------------------------------------------


def test_networks(tmp_path: Path) -> None:
    custom = DEVNET.with_genesis(())
    keystore = make(tmp_path / "a", network=custom)
    assert keystore.unlock(PASSWORD).wallet(custom).network is custom
    assert keystore.watch_only_wallet(custom).network is custom
    assert keystore.unlock(PASSWORD).wallet().network is DEVNET
    with pytest.raises(KeystoreError, match="not 'mainnet'"):
        keystore.unlock(PASSWORD).wallet(MAINNET)
    with pytest.raises(KeystoreError, match="not 'mainnet'"):
        keystore.watch_only_wallet(MAINNET)

    private = dataclasses.replace(DEVNET, name="privnet")
    other = make(tmp_path / "b", network=private)
    assert Keystore.load(other.path).network_name == "privnet"
    with pytest.raises(KeystoreError, match="not built in; pass network="):
        other.unlock(PASSWORD).wallet()
    with pytest.raises(KeystoreError, match="not built in"):
        other.watch_only_wallet()
    assert other.unlock(PASSWORD).wallet(private).address(0) == keystore.unlock(PASSWORD).wallet().address(0)


def test_mainnet_is_the_default(path: Path) -> None:
    keystore = Keystore.create(path, WORDS, PASSWORD, kdf=FAST_SCRYPT, watch_addresses=1)
    assert keystore.network_name == "mainnet"
    assert keystore.addresses[0].startswith("TIME1")
    assert keystore.unlock(PASSWORD).wallet().network is MAINNET
    assert keystore.created_at is None


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"account": -1}, KeystoreError),
        ({"account": 2**31}, KeystoreError),
        ({"account": True}, KeystoreError),
        ({"created_at": -1}, KeystoreError),
        ({"created_at": 1.5}, KeystoreError),
        ({"watch_addresses": -1}, KeystoreError),
        ({"watch_addresses": 5001}, KeystoreError),
        ({"passphrase": b"x"}, TypeError),
        ({"passphrase": "x" * 20_000}, KeystoreError),
        ({"network": "devnet"}, TypeError),
        ({"kdf": (4096, 8, 1)}, TypeError),
        ({"network": dataclasses.replace(DEVNET, name="")}, KeystoreError),
    ],
)
def test_invalid_create_arguments(path: Path, kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        make(path, **kwargs)
    assert not path.exists()
    assert leftovers(path.parent) == []


def test_invalid_mnemonic_is_refused_without_repeating_it(path: Path) -> None:
    typo = WORDS.replace("sausage", "sausagf")
    with pytest.raises(MnemonicError) as info:
        make(path, words=typo)
    text = "".join(described(info.value))
    assert "sausagf" not in text and "sausage" not in text
    assert info.value.__context__ is None and info.value.__cause__ is None
    with pytest.raises(MnemonicError):
        make(path, words=WORDS.replace("yellow", "year"))  # bad checksum
    assert not path.exists()


def test_unlocked_keystore_cannot_be_pickled_or_copied(path: Path) -> None:
    unlocked = make(path).unlock(PASSWORD)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(unlocked)
    with pytest.raises(TypeError):
        copy.copy(unlocked)
    assert isinstance(unlocked, UnlockedKeystore)


# -- secrecy ---------------------------------------------------------------------------


def secret_forms(words: str, passphrase: str, password: str, *, plain: bool = True) -> list[bytes]:
    """Every spelling of a secret that must never be seen outside the ciphertext.

    ``plain=False`` leaves out the passphrase and password themselves (random short
    strings would turn up anywhere by chance).
    """
    seed = mnemonic_to_seed(words, passphrase)
    entropy = mnemonic_to_entropy(words)
    parts = words.split()
    pairs = [f"{a} {b}" for a, b in itertools.pairwise(parts)]
    forms = [words, seed.hex(), entropy.hex(), *pairs]
    if plain:
        forms += [passphrase, password]
    encoded = [form.encode() for form in forms]
    encoded += [seed, entropy, base64.b64encode(seed), base64.b64encode(entropy), seed.hex().upper().encode()]
    return [form for form in encoded if form]


def assert_no_secret(haystack: str | bytes, forms: list[bytes]) -> None:
    data = haystack.encode() if isinstance(haystack, str) else haystack
    for form in forms:
        assert form not in data, f"secret {form[:6]!r}... leaked"


def described(error: BaseException | None) -> Iterator[str]:
    """What a traceback prints about an error and everything chained to it (not source lines)."""
    while error is not None:
        yield "".join(traceback.format_exception_only(error))
        yield repr(error.args)
        error = error.__cause__ or error.__context__


def test_secrets_appear_nowhere(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    words = WORDS_24
    passphrase = "a passphrase nobody sees"
    forms = secret_forms(words, passphrase, PASSWORD)
    path = tmp_path / "wallet.keystore"
    keystore = make(path, words=words, passphrase=passphrase, watch_addresses=DEFAULT_GAP_LIMIT)
    assert_no_secret(path.read_bytes(), forms)
    keystore.change_password(PASSWORD, "second password")
    forms += secret_forms(words, passphrase, "second password")
    assert_no_secret(path.read_bytes(), forms)
    unlocked = keystore.unlock("second password")
    wallet = unlocked.wallet()
    shown: list[str] = []
    for value in (keystore, Keystore.load(path), unlocked, wallet, keystore.kdf):
        shown += [repr(value), str(value), f"{value}", f"{value!r}"]
    assert not hasattr(unlocked, "__dict__")

    errors: list[BaseException] = []
    attempts: list[Callable[[], object]] = [
        lambda: keystore.unlock(PASSWORD),
        lambda: keystore.unlock(passphrase),
        lambda: keystore.change_password(words, "x"),
        lambda: make(path, words=words, passphrase=passphrase),
        lambda: make(tmp_path / "typo", words=words.replace(words.split()[3], "zzzz"), passphrase=passphrase),
        lambda: unlocked.wallet(MAINNET),
    ]
    data = read_json(path)
    data["account"] = 5
    write_json(tmp_path / "tampered", data)
    attempts.append(lambda: Keystore.load(tmp_path / "tampered").unlock("second password"))
    for attempt in attempts:
        with pytest.raises(TimecoinError) as info:
            attempt()
        errors.append(info.value)
    assert [type(e) for e in errors] == [
        WrongPasswordError,
        WrongPasswordError,
        WrongPasswordError,
        KeystoreExistsError,
        MnemonicError,
        KeystoreError,
        KeystoreFormatError,
    ]
    for error in errors:
        shown += [str(error), repr(error), *described(error)]
    for text in shown:
        assert_no_secret(text, forms)
    for record in caplog.records:
        assert_no_secret(record.getMessage(), forms)


# -- property --------------------------------------------------------------------------

entropies = st.sampled_from([16, 20, 24, 28, 32]).flatmap(lambda n: st.binary(min_size=n, max_size=n))
passwords = st.one_of(st.text(min_size=1, max_size=40), st.binary(min_size=1, max_size=40)).filter(
    lambda p: len(unicodedata.normalize("NFKD", p) if isinstance(p, str) else p) > 0
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    entropy=entropies,
    password=passwords,
    passphrase=st.text(max_size=60),
    account=st.integers(0, 2**31 - 1),
    created_at=st.none() | st.integers(0, 2**63 - 1),
)
def test_round_trip_property(
    entropy: bytes, password: str | bytes, passphrase: str, account: int, created_at: int | None
) -> None:
    words = entropy_to_mnemonic(entropy)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "k"
        Keystore.create(
            path,
            words,
            password,
            passphrase=passphrase,
            network=DEVNET,
            account=account,
            kdf=FAST_SCRYPT,
            created_at=created_at,
            watch_addresses=1,
        )
        keystore = Keystore.load(path)
        assert (keystore.account, keystore.created_at) == (account, created_at)
        unlocked = keystore.unlock(password)
        assert (unlocked.mnemonic, unlocked.passphrase) == (words, passphrase)
        assert str(unlocked.wallet().address(0)) == keystore.addresses[0]
        assert_no_secret(path.read_bytes(), secret_forms(words, passphrase, "", plain=False))
        wrong = password + "x" if isinstance(password, str) else password + b"x"
        with pytest.raises(WrongPasswordError):
            keystore.unlock(wrong)
