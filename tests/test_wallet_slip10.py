"""SLIP-0010 Ed25519 derivation: spec vectors, strict paths, Timecoin's path scheme."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import timecoin_core.wallet as wallet
from timecoin_core.errors import InvalidKeyError, TimecoinError
from timecoin_core.keys import PrivateKey
from timecoin_core.wallet import (
    COIN_TYPE,
    HARDENED_OFFSET,
    PURPOSE,
    DerivationError,
    ExtendedKey,
    account_path,
    address_path,
    derive_key,
    derive_path,
    master_node,
    mnemonic_to_seed,
    parse_path,
)

_DATA: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vectors" / "slip10_ed25519.json").read_text(encoding="utf-8")
)
NODES = [
    pytest.param(vector["seed"], node, id=f"v{n}:{node['path']}")
    for n, vector in enumerate(_DATA["vectors"], start=1)
    for node in vector["nodes"]
]
TIMECOIN = _DATA["timecoin_paths"]
SEED_1 = bytes.fromhex("000102030405060708090a0b0c0d0e0f")

seeds = st.binary(min_size=16, max_size=64)
indices = st.integers(0, HARDENED_OFFSET - 1)


# --- spec vectors ---------------------------------------------------------------


def test_vector_file_has_both_spec_vectors() -> None:
    assert [len(v["nodes"]) for v in _DATA["vectors"]] == [6, 6]


def test_vector_1_master_and_first_child_known_values() -> None:
    master = master_node(SEED_1)
    assert master.chain_code.hex() == (
        "90046a93de5380a72b5e45010748567d5ea02bbf6522f979e05c0d8d8ca9fffb"
    )
    assert master.key.hex() == "2b4be7f19ee27bbf30c667b642d5f4aa69fd169872f8fc3059c08ebae2eb19e7"
    child = master.child(HARDENED_OFFSET)
    assert child.chain_code.hex() == (
        "8b59aa11380b624e81507a27fedda59fea6d0b779a778918a2fd3590e16e9c69"
    )
    assert child.key.hex() == "68e0fe46dfb67e368c75379acec591dad19df3cde26e63b93a8e704f1dade7a3"


@pytest.mark.parametrize(("seed", "node"), NODES)
def test_spec_vector(seed: str, node: dict[str, str]) -> None:
    extended = derive_path(bytes.fromhex(seed), node["path"])
    assert extended.chain_code.hex() == node["chain_code"]
    assert extended.key.hex() == node["private_key"]
    key = derive_key(bytes.fromhex(seed), node["path"])
    assert isinstance(key, PrivateKey)
    assert key.to_seed().hex() == node["private_key"]
    assert key.public_key.data.hex() == node["public_key"]


@pytest.mark.parametrize(("seed", "node"), NODES)
def test_spec_vector_step_by_step(seed: str, node: dict[str, str]) -> None:
    extended = master_node(bytes.fromhex(seed))
    for index in parse_path(node["path"]):
        extended = extended.child(index)
    assert extended == derive_path(bytes.fromhex(seed), node["path"])


def test_h_and_apostrophe_mean_the_same() -> None:
    assert derive_path(SEED_1, "m/0h/1h/2h") == derive_path(SEED_1, "m/0'/1'/2'")
    assert derive_path(SEED_1, "m/0h/1'/2h") == derive_path(SEED_1, "m/0'/1'/2'")


# --- Timecoin paths -------------------------------------------------------------


def test_coin_type_and_path_strings() -> None:
    assert PURPOSE == 44
    assert COIN_TYPE == 1440
    assert account_path(0) == "m/44'/1440'/0'"
    assert account_path(7) == "m/44'/1440'/7'"
    assert address_path(0, False, 0) == "m/44'/1440'/0'/0'/0'"
    assert address_path(3, True, 42) == "m/44'/1440'/3'/1'/42'"
    assert address_path(0, False, HARDENED_OFFSET - 1).endswith(f"/{HARDENED_OFFSET - 1}'")


@pytest.mark.parametrize("node", TIMECOIN["nodes"], ids=lambda n: n["path"])
def test_timecoin_path_vector(node: dict[str, str]) -> None:
    seed = mnemonic_to_seed(TIMECOIN["mnemonic"], TIMECOIN["passphrase"])
    assert seed.hex() == TIMECOIN["seed"]
    key = derive_key(seed, node["path"])
    assert key.to_seed().hex() == node["private_key"]
    assert key.public_key.data.hex() == node["public_key"]


def test_address_path_children_extend_the_account_node() -> None:
    seed = bytes.fromhex(TIMECOIN["seed"])
    account = derive_path(seed, account_path(2))
    expected = account.child(HARDENED_OFFSET + 1).child(HARDENED_OFFSET + 5)
    assert derive_path(seed, address_path(2, True, 5)) == expected


@pytest.mark.parametrize("account", [-1, HARDENED_OFFSET, True, 1.0, "0", None])
def test_account_path_rejects_bad_accounts(account: Any) -> None:
    with pytest.raises(DerivationError, match="account"):
        account_path(account)
    with pytest.raises(DerivationError, match="account"):
        address_path(account, False, 0)


@pytest.mark.parametrize("index", [-1, HARDENED_OFFSET, False, 2.0, "1"])
def test_address_path_rejects_bad_indices(index: Any) -> None:
    with pytest.raises(DerivationError, match="index"):
        address_path(0, False, index)


@pytest.mark.parametrize("change", [0, 1, None, "yes"])
def test_address_path_change_must_be_bool(change: Any) -> None:
    with pytest.raises(DerivationError, match="change must be a bool"):
        address_path(0, change, 0)


# --- path parsing ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("m", ()),
        ("m/0'", (HARDENED_OFFSET,)),
        ("m/0h", (HARDENED_OFFSET,)),
        ("m/44'/1440'/0'", (HARDENED_OFFSET + 44, HARDENED_OFFSET + 1440, HARDENED_OFFSET)),
        ("m/2147483647'", (2 * HARDENED_OFFSET - 1,)),
    ],
)
def test_parse_path_accepts(path: str, expected: tuple[int, ...]) -> None:
    assert parse_path(path) == expected


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("", "must start with 'm'"),
        ("M/0'", "must start with 'm'"),
        ("/0'", "must start with 'm'"),
        ("0'", "must start with 'm'"),
        ("m/", "segment 1 ''"),
        ("m//0'", "segment 1 ''"),
        ("m/0'/", "segment 2 ''"),
        ("m/01'", "leading zero"),
        ("m/-1'", "segment 1 .*not a decimal index"),
        ("m/+1'", "segment 1"),
        ("m/ 0'", "segment 1"),
        ("m/0' ", "segment 1"),
        ("m/0H", "segment 1 '0H'"),
        ("m/0''", "segment 1"),
        ("m/0x1'", "segment 1"),
        ("m/\u0661'", "segment 1"),  # ARABIC-INDIC DIGIT ONE: int() would take it
        ("m/2147483648'", "below 2\\*\\*31"),
        ("m/4294967295h", "below 2\\*\\*31"),
        ("m/0'/1", "hardened derivation only"),
        ("m/0", "hardened derivation only"),
    ],
)
def test_parse_path_rejects(path: str, message: str) -> None:
    with pytest.raises(DerivationError, match=message):
        parse_path(path)
    with pytest.raises(DerivationError):
        derive_key(SEED_1, path)


def test_non_hardened_error_names_the_rule_and_the_fix() -> None:
    with pytest.raises(DerivationError) as info:
        parse_path("m/44'/1440'/0'/0/0'")
    text = str(info.value)
    assert "Ed25519 SLIP-0010 supports hardened derivation only" in text
    assert "segment 4" in text and "0'" in text


def test_parse_path_depth_limit() -> None:
    assert len(parse_path("m" + "/0'" * 255)) == 255
    with pytest.raises(DerivationError, match="deeper than 255"):
        parse_path("m" + "/0'" * 256)


def test_parse_path_rejects_non_strings() -> None:
    with pytest.raises(DerivationError, match="must be a string"):
        parse_path(b"m/0'")  # type: ignore[arg-type]
    with pytest.raises(DerivationError, match="must be a string"):
        parse_path([HARDENED_OFFSET])  # type: ignore[arg-type]


# --- ExtendedKey and seeds ------------------------------------------------------


def test_error_hierarchy() -> None:
    assert issubclass(DerivationError, TimecoinError)
    assert issubclass(DerivationError, ValueError)


@pytest.mark.parametrize("index", [0, 1, HARDENED_OFFSET - 1])
def test_child_rejects_non_hardened_index(index: int) -> None:
    with pytest.raises(DerivationError, match="hardened derivation only"):
        master_node(SEED_1).child(index)


@pytest.mark.parametrize("index", [-1, 2**32, True, float(HARDENED_OFFSET)])
def test_child_rejects_out_of_range_index(index: Any) -> None:
    with pytest.raises(DerivationError, match=re.escape("0..2**32-1")):
        master_node(SEED_1).child(index)


def test_child_accepts_largest_index() -> None:
    assert master_node(SEED_1).child(2**32 - 1) == derive_path(SEED_1, "m/2147483647'")


@pytest.mark.parametrize("size", [0, 15, 65, 128])
def test_seed_size_limits(size: int) -> None:
    with pytest.raises(DerivationError, match=f"16 to 64 bytes, not {size}"):
        master_node(bytes(size))


def test_seed_sizes_at_the_limits_and_bytes_likes() -> None:
    assert master_node(bytes(16)) != master_node(bytes(64))
    assert master_node(bytearray(SEED_1)) == master_node(SEED_1)  # type: ignore[arg-type]
    with pytest.raises(DerivationError, match="seed must be bytes"):
        master_node(SEED_1.hex())  # type: ignore[arg-type]


def test_extended_key_repr_hides_secrets() -> None:
    node = master_node(SEED_1)
    text = repr(node)
    assert node.key.hex() not in text and node.chain_code.hex() not in text
    assert node.private_key.public_key.data.hex() in text
    assert text.startswith("ExtendedKey(public_key=")
    assert str(node) == text


def test_extended_key_is_frozen_and_validated() -> None:
    node = master_node(SEED_1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        node.key = bytes(32)  # type: ignore[misc]
    with pytest.raises(InvalidKeyError, match="private key"):
        ExtendedKey(bytes(31), bytes(32))
    with pytest.raises(InvalidKeyError, match="chain code"):
        ExtendedKey(bytes(32), bytes(33))
    with pytest.raises(InvalidKeyError):
        ExtendedKey(bytearray(32), bytes(32))  # type: ignore[arg-type]


def test_private_key_property_matches_derive_key() -> None:
    node = derive_path(SEED_1, "m/1'/2'")
    assert node.private_key == derive_key(SEED_1, "m/1'/2'")


def test_public_surface_is_exported() -> None:
    names = {
        "COIN_TYPE",
        "HARDENED_OFFSET",
        "PURPOSE",
        "DerivationError",
        "ExtendedKey",
        "MnemonicError",
        "account_path",
        "address_path",
        "derive_key",
        "derive_path",
        "english_wordlist",
        "entropy_to_mnemonic",
        "generate_mnemonic",
        "is_valid_mnemonic",
        "master_node",
        "mnemonic_to_entropy",
        "mnemonic_to_seed",
        "parse_path",
    }
    assert names <= set(wallet.__all__)
    for name in wallet.__all__:
        assert getattr(wallet, name) is not None


# --- properties -----------------------------------------------------------------


@given(seeds, indices, st.booleans(), indices)
def test_derive_key_is_deterministic(seed: bytes, account: int, change: bool, index: int) -> None:
    path = address_path(account, change, index)
    assert derive_key(seed, path) == derive_key(seed, path)
    assert derive_key(seed, path).to_seed() == derive_path(seed, path).key


@given(
    seeds,
    st.tuples(indices, st.booleans(), indices),
    st.tuples(indices, st.booleans(), indices),
)
def test_different_paths_give_different_keys(
    seed: bytes, first: tuple[int, bool, int], second: tuple[int, bool, int]
) -> None:
    path_a, path_b = address_path(*first), address_path(*second)
    key_a, key_b = derive_key(seed, path_a), derive_key(seed, path_b)
    assert (key_a == key_b) == (path_a == path_b)
    if path_a != path_b:
        assert key_a.public_key != key_b.public_key


@given(seeds, seeds)
def test_different_seeds_give_different_keys(seed_a: bytes, seed_b: bytes) -> None:
    path = address_path(0, False, 0)
    assert (derive_key(seed_a, path) == derive_key(seed_b, path)) == (seed_a == seed_b)


@given(seeds, st.lists(indices, max_size=6))
def test_path_and_step_by_step_derivation_agree(seed: bytes, numbers: list[int]) -> None:
    path = "m" + "".join(f"/{n}'" for n in numbers)
    node = master_node(seed)
    for n in numbers:
        node = node.child(n + HARDENED_OFFSET)
    assert derive_path(seed, path) == node
    assert parse_path(path) == tuple(n + HARDENED_OFFSET for n in numbers)
