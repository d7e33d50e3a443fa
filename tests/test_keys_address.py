from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from timecoin_core.errors import AddressError, InvalidKeyError
from timecoin_core.hashing import sha256
from timecoin_core.keys import Address, PrivateKey, PublicKey
from timecoin_core.network import DEVNET, MAINNET, TESTNET, Network


def test_key_from_seed_is_deterministic_and_signs() -> None:
    key = PrivateKey.from_seed(bytes(range(32)))
    again = PrivateKey.from_seed(bytes(range(32)))
    assert key == again
    assert key.public_key == again.public_key
    sig = key.sign(b"hello")
    assert len(sig) == 64
    assert key.public_key.verify(b"hello", sig)
    assert not key.public_key.verify(b"hellp", sig)
    assert bytes(range(32)).hex() not in repr(key)


def test_bad_key_material_raises_typed_errors() -> None:
    with pytest.raises(InvalidKeyError):
        PrivateKey.from_seed(b"short")
    with pytest.raises(InvalidKeyError):
        PublicKey.from_bytes(b"\x00" * 31)


def test_address_payload_is_sha256_prefix() -> None:
    key = PrivateKey.from_seed(b"\x07" * 32)
    assert key.public_key.payload == sha256(key.public_key.data)[:20]


@pytest.mark.parametrize("network", [MAINNET, TESTNET, DEVNET])
def test_address_round_trip(network: Network) -> None:
    address = PrivateKey.from_seed(b"\x01" * 32).address(network)
    text = str(address)
    assert text.startswith(f"TIME{network.address_digit}")
    assert Address.parse(text, network) == address


def test_other_network_digit_rejected() -> None:
    text = str(PrivateKey.from_seed(b"\x01" * 32).address(MAINNET))
    with pytest.raises(AddressError, match="another network"):
        Address.parse(text, TESTNET)
    # The checksum does not cover the digit: relabelling parses, which is exactly
    # why parsing must be told the expected network.
    relabelled = Address.parse(text.replace("TIME1", "TIME0", 1), TESTNET)
    assert relabelled.payload == Address.parse(text, MAINNET).payload


@pytest.mark.parametrize("text", ["", "TIME", "BTC1abc", "TIME2abc", "TIME1", "TIME10OIl", "TIME1abc"])
def test_malformed_addresses_rejected(text: str) -> None:
    with pytest.raises(AddressError):
        Address.parse(text, MAINNET)


@given(st.binary(min_size=20, max_size=20), st.integers(0, 24), st.sampled_from("123456789abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"))
def test_single_character_change_is_detected(payload: bytes, position: int, char: str) -> None:
    text = str(Address(payload, 1))
    index = 5 + position % (len(text) - 5)
    if text[index] == char:
        return
    mutated = text[:index] + char + text[index + 1 :]
    with pytest.raises(AddressError):
        Address.parse(mutated, MAINNET)


@given(st.binary(min_size=20, max_size=20))
def test_leading_zero_payload_round_trips(tail: bytes) -> None:
    address = Address(b"\x00\x00" + tail[2:], 0)
    assert Address.parse(str(address), TESTNET) == address


def test_public_key_from_bytes_applies_the_signature_policy_to_the_key() -> None:
    from timecoin_core.errors import InvalidKeyError
    from timecoin_core.keys import PublicKey
    from timecoin_core.verify.policy import NON_CANONICAL_ENCODINGS, SMALL_ORDER_ENCODINGS

    for bad in sorted(SMALL_ORDER_ENCODINGS)[:3] + sorted(NON_CANONICAL_ENCODINGS)[:3]:
        with pytest.raises(InvalidKeyError, match="small-order"):
            PublicKey.from_bytes(bad)
    with pytest.raises(InvalidKeyError):
        PublicKey.from_bytes(b"\x01" * 31)
    with pytest.raises(InvalidKeyError, match="must be bytes"):
        PublicKey.from_bytes("ab" * 16)  # type: ignore[arg-type]
    good = PrivateKey.from_seed(b"\x05" * 32).public_key
    assert PublicKey.from_bytes(good.data) == good
