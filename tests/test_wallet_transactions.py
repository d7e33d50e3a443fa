"""Wallet transactions: they validate against a UtxoSet and a ChainState, fees, change, errors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timecoin_core import (
    DEVNET,
    MAINNET,
    AddressError,
    FeeRate,
    GenesisOutput,
    OutPoint,
    PrivateKey,
    TxOut,
    coins,
    validate_transaction,
)
from timecoin_core.chain import ChainState
from timecoin_core.utxo import Balance, UtxoSet
from timecoin_core.wallet import (
    CreatedTransaction,
    InsufficientFundsError,
    SelectionAlgorithm,
    Wallet,
    address_path,
    derive_key,
    mnemonic_to_seed,
    transaction_size,
)

MNEMONIC = "abandon " * 11 + "about"
BOB = PrivateKey.from_seed(bytes([7]) * 32).address(DEVNET)
MIN_RATE = FeeRate(DEVNET.min_fee_per_kb)


def funded(amounts: list[int], height: int | None = 1) -> tuple[Wallet, UtxoSet]:
    """A fresh wallet and a UtxoSet with one coin per amount, spread over its addresses."""
    wallet = Wallet.from_mnemonic(MNEMONIC, network=DEVNET)
    utxos = UtxoSet()
    for n, amount in enumerate(amounts):
        address = wallet.address(n % 5) if n % 3 else wallet.change_address(n % 4)
        utxos.add(OutPoint(n.to_bytes(32, "big"), n % 3), TxOut(amount, address.payload), height)
    return Wallet.from_mnemonic(MNEMONIC, network=DEVNET), utxos


def check(created: CreatedTransaction, utxos: UtxoSet, wallet: Wallet) -> int:
    tx = created.transaction
    fee = validate_transaction(tx, utxos, DEVNET)
    assert fee == created.fee
    assert fee >= MIN_RATE.fee(tx.size)
    assert tx.size == transaction_size(len(tx.inputs), len(tx.outputs), len(tx.memo))
    assert [i.outpoint for i in tx.inputs] == [c.outpoint for c in created.coins]
    assert [i.outpoint for i in tx.inputs] == sorted(i.outpoint for i in tx.inputs)
    if created.change is not None:
        assert created.change.amount >= DEVNET.dust_limit
        path = wallet.path(created.change.payload)
        assert path is not None and "/1'/" in path
    return fee


def test_created_transaction_validates_against_a_utxo_set() -> None:
    wallet, utxos = funded([coins("1"), coins("2.5"), coins("0.3"), coins("7")])
    created = wallet.create_transaction(BOB, coins("3"), None, utxos)
    check(created, utxos, wallet)
    paid = [o for o in created.transaction.outputs if o.payload == BOB.payload]
    assert [o.amount for o in paid] == [coins("3")] == [created.amount]
    spent = sum(c.amount for c in created.coins)
    change = created.change.amount if created.change else 0
    assert spent == coins("3") + created.fee + change


def test_created_transaction_validates_against_a_chain_state_and_applies() -> None:
    restored = Wallet.from_mnemonic(MNEMONIC, network=DEVNET)
    network = DEVNET.with_genesis(
        (
            GenesisOutput(restored.address(0).payload, coins("10")),
            GenesisOutput(restored.address(7).payload, coins("5")),
            GenesisOutput(restored.change_address(2).payload, coins("1")),
        )
    )
    chain = ChainState(network)
    wallet = Wallet.from_mnemonic(MNEMONIC, network=network)
    assert wallet.balance(chain) == Balance(confirmed=coins("16"))
    bob = BOB.payload
    created = wallet.create_transaction(PrivateKey.from_seed(bytes([7]) * 32).address(network), coins("12"), FeeRate(25_000), chain)
    assert validate_transaction(created.transaction, chain, network) == created.fee
    assert created.fee >= FeeRate(25_000).fee(created.transaction.size)
    proposer = PrivateKey.from_seed(bytes([9]) * 32)
    block = chain.build_block(proposer, [created.transaction], timestamp=network.genesis_timestamp + 1)
    chain.apply_block(block)
    assert wallet.balance(chain).confirmed == coins("16") - coins("12") - created.fee
    assert chain.utxos.balance(bob).confirmed == coins("12")


def test_amount_includes_fee() -> None:
    wallet, utxos = funded([coins("1"), coins("2")])
    created = wallet.create_transaction(BOB, coins("2.5"), None, utxos, subtract_fee_from_amount=True)
    check(created, utxos, wallet)
    paid = next(o for o in created.transaction.outputs if o.payload == BOB.payload)
    assert paid.amount == coins("2.5") - created.fee == created.amount
    change = created.change.amount if created.change else 0
    assert sum(c.amount for c in created.coins) - change == coins("2.5")


def test_sweep_everything_with_amount_including_fee() -> None:
    wallet, utxos = funded([coins("1"), coins("2"), coins("0.25")])
    balance = wallet.balance(utxos).spendable
    created = wallet.create_transaction(BOB, balance, None, utxos, subtract_fee_from_amount=True)
    check(created, utxos, wallet)
    assert created.change is None and len(created.coins) == 3
    assert created.amount == balance - created.fee
    assert created.fee == MIN_RATE.fee(transaction_size(3, 1))


def test_insufficient_funds_says_what_is_available_and_needed() -> None:
    wallet, utxos = funded([coins("1"), coins("2"), coins("4")])
    locked = next(c for c in wallet.coins(utxos) if c.amount == coins("4"))
    utxos.lock(locked.outpoint, b"\x02" * 32)
    with pytest.raises(InsufficientFundsError) as info:
        wallet.create_transaction(BOB, coins("5"), None, utxos)
    exc = info.value
    assert exc.available == coins("3") and exc.locked == coins("4")
    assert exc.needed == coins("5") + MIN_RATE.fee(transaction_size(2, 1))
    message = str(exc)
    assert "need 5.0000" in message and "spendable 3 TIME in 2 coins" in message
    assert "4 TIME locked or pending" in message
    assert isinstance(exc, ValueError)
    created = wallet.create_transaction(BOB, coins("2.5"), None, utxos)
    assert locked.outpoint not in {c.outpoint for c in created.coins}
    check(created, utxos, wallet)


def test_unconfirmed_final_coins_only_when_asked() -> None:
    wallet, utxos = funded([coins("1"), coins("2")], height=None)
    assert wallet.balance(utxos) == Balance(finalized=coins("3"))
    with pytest.raises(InsufficientFundsError, match="include_unconfirmed=True"):
        wallet.create_transaction(BOB, coins("1.5"), None, utxos)
    created = wallet.create_transaction(BOB, coins("1.5"), None, utxos, include_unconfirmed=True)
    check(created, utxos, wallet)


def test_max_inputs_seed_and_change_position() -> None:
    wallet, utxos = funded([coins("0.1")] * 30)
    created = wallet.create_transaction(BOB, coins("0.5"), None, utxos, max_inputs=8)
    assert len(created.coins) <= 8
    check(created, utxos, wallet)
    with pytest.raises(InsufficientFundsError, match="at most 4 inputs"):
        wallet.create_transaction(BOB, coins("0.5"), None, utxos, max_inputs=4)
    again = Wallet.from_mnemonic(MNEMONIC, network=DEVNET)
    assert again.create_transaction(BOB, coins("0.5"), None, utxos, max_inputs=8) == created
    positions = {
        wallet.create_transaction(BOB, coins("0.55"), None, utxos, seed=seed, change_index=0).change_output_index
        for seed in range(16)
    }
    assert positions == {0, 1}


def test_change_goes_to_a_fresh_change_address_or_where_asked() -> None:
    wallet, utxos = funded([coins("5")])
    wallet.coins(utxos)
    first = wallet.next_change_index
    created = wallet.create_transaction(BOB, coins("1"), None, utxos)
    assert created.change is not None
    assert created.change.payload == wallet.change_address(first).payload
    assert wallet.next_change_index == first + 1
    chosen = wallet.create_transaction(BOB, coins("1"), None, utxos, change_index=7)
    assert chosen.change is not None and chosen.change.payload == wallet.change_address(7).payload
    elsewhere = wallet.create_transaction(BOB, coins("1"), None, utxos, change_to=BOB)
    assert elsewhere.change is not None and elsewhere.change.payload == BOB.payload


def test_memo_explicit_coins_and_exact_match() -> None:
    wallet, utxos = funded([coins("1"), coins("2"), coins("3")])
    own = wallet.coins(utxos)
    created = wallet.create_transaction(BOB, coins("2.2"), FeeRate(30_000), list(own), memo=b"invoice 42")
    assert created.transaction.memo == b"invoice 42"
    check(created, utxos, wallet)
    exact = coins("3") - MIN_RATE.fee(transaction_size(1, 1))
    plan = wallet.plan_transaction(BOB, exact, None, utxos)
    assert plan.selection.algorithm is SelectionAlgorithm.BRANCH_AND_BOUND
    assert plan.change_output_index is None and plan.fee == MIN_RATE.fee(transaction_size(1, 1))


def test_watch_only_plan_signed_externally_validates() -> None:
    full, utxos = funded([coins("1"), coins("2")])
    full.coins(utxos)
    watch = Wallet.watch_only([full.address(n) for n in range(5)] + [full.change_address(n) for n in range(4)], DEVNET)
    plan = watch.plan_transaction(BOB, coins("2.5"), None, utxos)
    assert plan.transaction.size == transaction_size(len(plan.coins), len(plan.transaction.outputs))
    seed = mnemonic_to_seed(MNEMONIC)
    keys = {
        key.public_key.payload: key
        for key in (derive_key(seed, address_path(0, change, n)) for change in (False, True) for n in range(5))
    }
    witnesses = []
    for coin, message in zip(plan.coins, plan.sighashes(), strict=True):
        key = keys[coin.payload]
        witnesses.append((key.public_key.data, key.sign(message)))
    created = plan.with_signatures(witnesses)
    assert created.txid == plan.transaction.txid
    assert validate_transaction(created.transaction, utxos, DEVNET) == plan.fee
    assert full.sign(plan) == created


def test_bad_arguments() -> None:
    wallet, utxos = funded([coins("1")])
    with pytest.raises(AddressError):
        wallet.create_transaction(PrivateKey.from_seed(bytes(32)).address(MAINNET), coins("0.5"), None, utxos)
    with pytest.raises(AddressError):
        wallet.create_transaction(str(PrivateKey.from_seed(bytes(32)).address(MAINNET)), coins("0.5"), None, utxos)
    with pytest.raises(TypeError, match="utxos"):
        wallet.create_transaction(BOB, coins("0.5"))
    with pytest.raises(ValueError):
        wallet.create_transaction(BOB, 0, None, utxos)
    assert wallet.create_transaction(str(BOB), coins("0.5"), None, utxos).amount == coins("0.5")


@settings(max_examples=25, deadline=None)
@given(
    amounts=st.lists(st.integers(2_000, coins("3")), min_size=1, max_size=12),
    share=st.floats(0.01, 1.0),
    subtract=st.booleans(),
    seed=st.integers(0, 2**32),
    fee_rate=st.sampled_from([None, FeeRate(15_000), FeeRate(123_456)]),
)
def test_every_created_transaction_validates(
    amounts: list[int], share: float, subtract: bool, seed: int, fee_rate: FeeRate | None
) -> None:
    wallet, utxos = funded(amounts)
    amount = max(1, int(sum(amounts) * share))
    try:
        created = wallet.create_transaction(
            BOB, amount, fee_rate, utxos, subtract_fee_from_amount=subtract, seed=seed
        )
    except ValueError:
        return
    check(created, utxos, wallet)
    change = created.change.amount if created.change else 0
    outflow = sum(c.amount for c in created.coins) - change
    if subtract:
        assert created.amount < amount <= outflow
        assert created.amount == amount - (fee_rate or MIN_RATE).fee(created.transaction.size) or (
            fee_rate is not None and fee_rate < MIN_RATE
        )
    else:
        assert created.amount == amount and outflow == amount + created.fee
