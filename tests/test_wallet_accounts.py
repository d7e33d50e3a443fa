"""Wallet accounts: restore from a mnemonic, gap-limit discovery, balances, watch-only."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timecoin_core import DEVNET, MAINNET, AddressError, OutPoint, PublicKey, TxOut, coins
from timecoin_core.errors import TimecoinError
from timecoin_core.keys import address_payload
from timecoin_core.utxo import Balance, CoinPage, CoinState, UtxoSet
from timecoin_core.wallet import (
    DEFAULT_GAP_LIMIT,
    ForeignCoinError,
    MnemonicError,
    Wallet,
    WalletError,
    WatchOnlyError,
    address_path,
    derive_key,
    mnemonic_to_seed,
    parse_path,
)

_VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vectors" / "slip10_ed25519.json").read_text(encoding="utf-8")
)["timecoin_paths"]
MNEMONIC: str = _VECTORS["mnemonic"]
RECIPIENT = bytes(range(20))


def fund(utxos: UtxoSet, payload: bytes, amount: int, n: int, height: int | None = 1) -> OutPoint:
    outpoint = OutPoint(n.to_bytes(32, "big"), 0)
    utxos.add(outpoint, TxOut(amount, payload), height)
    return outpoint


@pytest.mark.parametrize("node", [n for n in _VECTORS["nodes"] if n["path"].count("/") == 5], ids=lambda n: n["path"])
def test_restore_from_mnemonic_gives_the_vector_addresses(node: dict[str, str]) -> None:
    _purpose, _coin_type, account, change, index = (i - 2**31 for i in parse_path(node["path"]))
    wallet = Wallet.from_mnemonic(MNEMONIC, network=MAINNET, account=account)
    address = wallet.change_address(index) if change else wallet.address(index)
    assert address.payload == address_payload(bytes.fromhex(node["public_key"]))
    assert address.digit == 1
    assert wallet.path(address) == node["path"]


def test_first_mainnet_address_of_the_abandon_mnemonic() -> None:
    wallet = Wallet.from_mnemonic(MNEMONIC)
    assert wallet.network is MAINNET
    assert str(wallet.address(0)) == "TIME15dUyt6P3jZPxGMheBEtNzrDZC8Bei8BWj"
    assert str(Wallet.from_mnemonic(MNEMONIC, network=DEVNET).address(0)).startswith("TIME0")


def test_two_restores_agree_and_the_passphrase_matters() -> None:
    first = Wallet.from_mnemonic(MNEMONIC, network=DEVNET)
    second = Wallet.from_mnemonic("  ".join(MNEMONIC.split()), network=DEVNET)
    third = Wallet.from_seed(mnemonic_to_seed(MNEMONIC), DEVNET)
    other = Wallet.from_mnemonic(MNEMONIC, "TREZOR", network=DEVNET)
    for index in range(25):
        assert first.address(index) == second.address(index) == third.address(index)
        assert first.change_address(index) == second.change_address(index)
        assert first.address(index) != other.address(index)
        assert first.address(index) != first.change_address(index)


@settings(max_examples=25, deadline=None)
@given(account=st.integers(0, 2**31 - 1), change=st.booleans(), index=st.integers(0, 2**31 - 1))
def test_addresses_follow_the_documented_path(account: int, change: bool, index: int) -> None:
    seed = mnemonic_to_seed(MNEMONIC)
    wallet = Wallet.from_seed(seed, DEVNET, account=account)
    address = wallet.change_address(index) if change else wallet.address(index)
    assert address == derive_key(seed, address_path(account, change, index)).address(DEVNET)


def test_invalid_mnemonic_and_arguments() -> None:
    with pytest.raises(MnemonicError):
        Wallet.from_mnemonic("abandon " * 12)
    with pytest.raises(WalletError):
        Wallet.from_mnemonic(MNEMONIC, gap_limit=0)
    wallet = Wallet.from_mnemonic(MNEMONIC, network=DEVNET)
    with pytest.raises(WalletError):
        wallet.address(-1)
    with pytest.raises(WalletError):
        wallet.address(2**31)


def test_no_secret_in_repr_or_str() -> None:
    seed = mnemonic_to_seed(MNEMONIC)
    wallet = Wallet.from_seed(seed, DEVNET)
    key = derive_key(seed, address_path(0, False, 0))
    account_key = next(n["private_key"] for n in _VECTORS["nodes"] if n["path"] == "m/44'/1440'/0'")
    for text in (repr(wallet), str(wallet), f"{wallet}"):
        assert "abandon" not in text
        for secret in (seed.hex(), key.to_seed().hex(), account_key):
            assert secret not in text
            assert secret[:16] not in text
    assert "devnet" in repr(wallet) and "account=0" in repr(wallet)
    assert not hasattr(wallet, "__dict__")


def test_coins_beyond_the_gap_are_found_through_used_addresses() -> None:
    wallet = Wallet.from_mnemonic(MNEMONIC, network=DEVNET)
    funder = Wallet.from_mnemonic(MNEMONIC, network=DEVNET)
    utxos = UtxoSet()
    fund(utxos, funder.address(15).payload, coins("1"), 1)
    fund(utxos, funder.address(34).payload, coins("2"), 2)
    fund(utxos, funder.change_address(19).payload, coins("4"), 3)
    fund(utxos, funder.change_address(38).payload, coins("8"), 4)
    assert wallet.balance(utxos) == Balance(confirmed=coins("15"))
    assert wallet.next_change_index == 39
    assert wallet.next_address() == wallet.address(35)


def test_a_gap_wider_than_the_limit_hides_coins_until_the_limit_grows() -> None:
    far = Wallet.from_mnemonic(MNEMONIC, network=DEVNET).address(DEFAULT_GAP_LIMIT + 5)
    utxos = UtxoSet()
    fund(utxos, far.payload, coins("3"), 1)
    assert Wallet.from_mnemonic(MNEMONIC, network=DEVNET).coins(utxos) == ()
    assert len(Wallet.from_mnemonic(MNEMONIC, network=DEVNET, gap_limit=30).coins(utxos)) == 1
    issued = Wallet.from_mnemonic(MNEMONIC, network=DEVNET)
    assert issued.address(DEFAULT_GAP_LIMIT + 5) == far
    assert issued.owns(far)
    assert issued.balance(utxos).confirmed == coins("3")


def test_coins_walk_every_page_of_an_address() -> None:
    wallet = Wallet.from_mnemonic(MNEMONIC, network=DEVNET)
    utxos = UtxoSet()
    payload = wallet.address(0).payload
    for n in range(2_345):
        fund(utxos, payload, 1_000 + n, n)
    found = wallet.coins(utxos)
    assert len(found) == len({c.outpoint for c in found}) == 2_345
    assert wallet.balance(utxos).confirmed == sum(1_000 + n for n in range(2_345))


def test_balance_by_state() -> None:
    wallet = Wallet.from_mnemonic(MNEMONIC, network=DEVNET)
    utxos = UtxoSet()
    payload = wallet.address(0).payload
    points = [fund(utxos, payload, coins(k + 1), k, height=None if k == 1 else 1) for k in range(5)]
    fund(utxos, RECIPIENT, coins("100"), 99)
    spender = b"\x01" * 32
    utxos.lock(points[2], spender)
    utxos.mark_spent_pending(points[3], spender)
    utxos.finalize(points[4], spender)
    balance = wallet.balance(utxos)
    assert balance == Balance(confirmed=coins("1"), finalized=coins("2"), pending=coins("7"))
    assert balance == utxos.balance(payload)
    assert {c.state for c in wallet.coins(utxos)} == {
        CoinState.UNSPENT, CoinState.LOCKED, CoinState.SPENT_PENDING, CoinState.SPENT_FINALIZED
    }


def test_watch_only_tracks_the_same_coins_but_cannot_sign() -> None:
    full = Wallet.from_mnemonic(MNEMONIC, network=DEVNET)
    utxos = UtxoSet()
    fund(utxos, full.address(0).payload, coins("1"), 1)
    fund(utxos, full.address(1).payload, coins("2"), 2)
    fund(utxos, full.address(2).payload, coins("4"), 3)
    seed = mnemonic_to_seed(MNEMONIC)
    watch = Wallet.watch_only(
        [
            full.address(0),
            str(full.address(1)),
            derive_key(seed, address_path(0, False, 2)).public_key,
            full.address(3).payload,
        ],
        DEVNET,
    )
    assert watch.is_watch_only and not full.is_watch_only
    assert "watch-only" in repr(watch)
    assert watch.balance(utxos) == full.balance(utxos) == Balance(confirmed=coins("7"))
    assert watch.address(1) == full.address(1)
    assert watch.path(full.address(1)) is None
    with pytest.raises(WatchOnlyError) as info:
        watch.create_transaction(full.address(0), coins("1"), None, utxos)
    assert isinstance(info.value, WalletError) and isinstance(info.value, TimecoinError)
    assert "watch-only" in str(info.value)
    with pytest.raises(WatchOnlyError):
        watch.change_address(0)
    with pytest.raises(WatchOnlyError):
        watch.address(4)
    plan = watch.plan_transaction(RECIPIENT_ADDRESS, coins("5"), None, utxos)
    with pytest.raises(WatchOnlyError):
        watch.sign(plan)
    assert plan.transaction.outputs[plan.change_output_index or 0].payload in {
        full.address(0).payload, RECIPIENT
    }


def test_watch_only_rejects_bad_addresses() -> None:
    mainnet_address = Wallet.from_mnemonic(MNEMONIC, network=MAINNET).address(0)
    with pytest.raises(AddressError):
        Wallet.watch_only([mainnet_address], DEVNET)
    with pytest.raises(AddressError):
        Wallet.watch_only([str(mainnet_address)], DEVNET)
    with pytest.raises(WalletError):
        Wallet.watch_only([b"short"], DEVNET)
    with pytest.raises(WalletError):
        Wallet.watch_only([], DEVNET)
    assert Wallet.watch_only([PublicKey(bytes(32))], DEVNET).owns(address_payload(bytes(32)))


def test_explicit_coins_must_be_the_wallets() -> None:
    wallet = Wallet.from_mnemonic(MNEMONIC, network=DEVNET)
    utxos = UtxoSet()
    fund(utxos, RECIPIENT, coins("1"), 1)
    with pytest.raises(ForeignCoinError):
        wallet.plan_transaction(RECIPIENT_ADDRESS, coins("0.5"), None, list(utxos))


RECIPIENT_ADDRESS = Wallet.watch_only([RECIPIENT], DEVNET).address(0)


def test_an_address_issued_far_beyond_the_window_is_watched_alone() -> None:
    wallet = Wallet.from_mnemonic(MNEMONIC, network=DEVNET)
    far = wallet.address(2**31 - 1)
    utxos = UtxoSet()
    fund(utxos, far.payload, coins("1"), 1)
    assert wallet.balance(utxos).confirmed == coins("1")
    assert wallet.next_address() == wallet.address(0)
    assert len(wallet.watched_payloads()) == (1 + DEFAULT_GAP_LIMIT) + DEFAULT_GAP_LIMIT + 1
    assert wallet.path(far) == "m/44'/1440'/0'/0'/2147483647'"


class _PagingOnly:
    """A coin source that only pages: the wallet cannot take a UtxoSet's shortcuts."""

    def __init__(self, utxos: UtxoSet) -> None:
        self.utxos = utxos
        self.calls = 0

    def coins_of(self, payload: bytes, after: OutPoint | None = None, limit: int = 100) -> CoinPage:
        self.calls += 1
        return self.utxos.coins_of(payload, after, limit)


@pytest.mark.parametrize("seed", range(5))
def test_a_utxo_set_and_a_paging_source_find_the_same_coins(seed: int) -> None:
    # The wallet skips a UtxoSet's empty addresses by count; the plain walk must agree.
    rng = random.Random(seed)
    funder = Wallet.from_mnemonic(MNEMONIC, network=DEVNET)
    utxos = UtxoSet()
    for n in range(12):
        index = rng.randrange(0, 70)
        address = funder.change_address(index) if rng.random() < 0.5 else funder.address(index)
        outpoint = fund(utxos, address.payload, 1_000 + n, n, rng.choice([1, None]))
        if rng.random() < 0.3:
            utxos.lock(outpoint, bytes(32))
    gap_limit = rng.randrange(3, 25)
    fast = Wallet.from_mnemonic(MNEMONIC, network=DEVNET, gap_limit=gap_limit)
    plain = Wallet.from_mnemonic(MNEMONIC, network=DEVNET, gap_limit=gap_limit)
    for wallet in (fast, plain):
        wallet.address(90)  # watched alone, beyond the window
    source = _PagingOnly(utxos)
    assert fast.coins(utxos) == plain.coins(source)
    assert source.calls == len(plain.watched_payloads())
    assert fast.watched_payloads() == plain.watched_payloads()
    assert (fast.next_change_index, fast.next_address()) == (plain.next_change_index, plain.next_address())
