"""Signed messages: the vectors, round trips for any message, and every way a signature can be bad."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from timecoin_core import DEVNET, MAINNET, NETWORKS, TESTNET, Network, PrivateKey, TimecoinError
from timecoin_core.hashing import tagged_hash
from timecoin_core.wallet import (
    MESSAGE_TAG,
    MessageSignatureError,
    Wallet,
    WalletAddressError,
    WalletArgumentError,
    WalletTypeError,
    WatchOnlyError,
    decode_message_signature,
    message_digest,
    sign_message,
    verify_message,
)

VECTORS = json.loads((Path(__file__).parent / "vectors" / "message_signing.json").read_text())
KEY = PrivateKey.from_seed(bytes([1]) * 32)


@pytest.mark.parametrize("case", VECTORS["valid"], ids=lambda c: f"{c['network']}-{len(c['message_hex']) // 2}B")
def test_valid_vectors(case: dict[str, str]) -> None:
    network = NETWORKS[case["network"]]
    message = bytes.fromhex(case["message_hex"])
    assert message_digest(message, network).hex() == case["digest"]
    if "private_key_seed" in case:
        key = PrivateKey.from_seed(bytes.fromhex(case["private_key_seed"]))
        assert key.public_key.data.hex() == case["public_key"]
        assert str(key.address(network)) == case["address"]
        assert sign_message(key, message, network) == case["signature"]
    else:
        wallet = Wallet.from_mnemonic(case["mnemonic"], network=network)
        assert str(wallet.address(0)) == case["address"]
        assert wallet.sign_message(case["address"], message) == case["signature"]
    assert verify_message(case["address"], message, case["signature"], network)
    for other in NETWORKS.values():
        if other.chain_id != network.chain_id and other.address_digit == network.address_digit:
            assert not verify_message(case["address"], message, case["signature"], other)


@pytest.mark.parametrize("case", VECTORS["invalid"], ids=lambda c: c["why"])
def test_invalid_vectors(case: dict[str, object]) -> None:
    network = NETWORKS[str(case["network"])]
    args = (str(case["address"]), bytes.fromhex(str(case["message_hex"])), str(case["signature"]), network)
    if case["result"] == "error":
        with pytest.raises(MessageSignatureError) as info:
            verify_message(*args)
        assert info.value.parameter == "signature"
    else:
        assert verify_message(*args) is False


def test_the_digest_is_the_documented_tagged_hash() -> None:
    import hashlib

    tag = hashlib.sha256(MESSAGE_TAG.encode()).digest()
    data = (7).to_bytes(4, "little") + bytes([5]) + b"hello"
    network = Network(name="x", magic=b"XXXX", chain_id=7, address_digit=0, block_interval=1.0)
    assert message_digest(b"hello", network) == hashlib.sha256(tag + tag + data).digest()
    # A message digest is never a hash of any other purpose.
    from timecoin_core.hashing import Tag

    assert tagged_hash(Tag.MESSAGE, data) == message_digest(b"hello", network)
    assert all(tagged_hash(t, data) != message_digest(b"hello", network) for t in Tag if t is not Tag.MESSAGE)
    assert message_digest("héllo", MAINNET) == message_digest("héllo".encode(), MAINNET)


@given(message=st.one_of(st.binary(max_size=2_000), st.text(max_size=500)), seed=st.binary(min_size=32, max_size=32))
def test_round_trip_for_any_message(message: bytes | str, seed: bytes) -> None:
    key = PrivateKey.from_seed(seed)
    signature = sign_message(key, message, TESTNET)
    assert len(signature) == 132
    public_key, raw = decode_message_signature(signature)
    assert public_key == key.public_key and len(raw) == 64
    assert verify_message(key.address(TESTNET), message, signature, TESTNET)
    assert not verify_message(key.address(DEVNET), message, signature, DEVNET)  # same digit, other chain
    other: bytes | str = message + b"!" if isinstance(message, bytes) else message + "!"
    assert not verify_message(key.address(TESTNET), other, signature, TESTNET)


@given(flip=st.integers(0, 96 * 8 - 1))
def test_any_flipped_bit_fails(flip: int) -> None:
    signature = sign_message(KEY, b"pay bob", MAINNET)
    raw = bytearray(base64.b64decode(signature))
    raw[1 + flip // 8] ^= 1 << (flip % 8)
    tampered = base64.b64encode(bytes(raw)).decode()
    assert not verify_message(KEY.address(MAINNET), b"pay bob", tampered, MAINNET)


@given(junk=st.text(max_size=200))
def test_junk_signatures_are_refused_or_false(junk: str) -> None:
    try:
        result = verify_message(KEY.address(MAINNET), b"m", junk, MAINNET)
    except MessageSignatureError as exc:
        assert isinstance(exc, TimecoinError) and exc.parameter == "signature"
    else:
        assert result is False


def test_small_order_key_never_verifies() -> None:
    # The identity point with an all-zero signature "verifies" under a lax backend.
    identity = bytes([1]) + bytes(31)
    blob = bytes([1]) + identity + bytes([1]) + bytes(63)
    from timecoin_core.keys import PublicKey

    address = PublicKey(identity).address(MAINNET)
    assert not verify_message(address, b"anything", base64.b64encode(blob).decode(), MAINNET)


@pytest.mark.parametrize(
    ("call", "parameter", "kind"),
    [
        (lambda: sign_message(b"key", b"m", MAINNET), "key", WalletTypeError),  # type: ignore[arg-type]
        (lambda: sign_message(KEY, 5, MAINNET), "message", WalletTypeError),  # type: ignore[arg-type]
        (lambda: sign_message(KEY, b"m", "mainnet"), "network", WalletTypeError),  # type: ignore[arg-type]
        (lambda: verify_message(KEY.address(MAINNET), b"m", b"sig", MAINNET), "signature", WalletTypeError),  # type: ignore[arg-type]
        (lambda: verify_message(5, b"m", "x", MAINNET), "address", WalletTypeError),
        (lambda: verify_message(str(KEY.address(TESTNET)), b"m", "x", MAINNET), "address", WalletAddressError),
        (lambda: verify_message(KEY.address(MAINNET), None, "x", MAINNET), "message", WalletTypeError),  # type: ignore[arg-type]
        (lambda: verify_message(KEY.address(MAINNET), b"m", "x", None), "network", WalletTypeError),  # type: ignore[arg-type]
    ],
)
def test_bad_arguments(call: object, parameter: str, kind: type[WalletArgumentError]) -> None:
    with pytest.raises(kind) as info:
        call()  # type: ignore[operator]
    assert info.value.parameter == parameter


def test_wallet_signs_only_for_its_own_addresses() -> None:
    wallet = Wallet.from_mnemonic("abandon " * 11 + "about", network=DEVNET)
    signature = wallet.sign_message(wallet.change_address(3), "hi")
    assert verify_message(wallet.change_address(3), "hi", signature, DEVNET)
    with pytest.raises(WalletArgumentError, match="not an address of this wallet"):
        wallet.sign_message(KEY.address(DEVNET), "hi")
    watch = Wallet.watch_only([wallet.address(0)], DEVNET)
    with pytest.raises(WatchOnlyError):
        watch.sign_message(wallet.address(0), "hi")
