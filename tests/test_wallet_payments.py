"""Payments: several recipients, amounts in base units only, dust, the fee guard, typed errors, reprs."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timecoin_core import (
    COIN,
    DEVNET,
    MAINNET,
    MAX_MONEY,
    Address,
    AddressError,
    AmountError,
    FeeRate,
    OutPoint,
    PrivateKey,
    TimecoinError,
    TxOut,
    coins,
    validate_transaction,
)
from timecoin_core.chain import ChainState
from timecoin_core.utxo import UtxoSet
from timecoin_core.wallet import (
    DEFAULT_MAX_FEE_FLOOR,
    DustOutputError,
    FeeExceedsAmountError,
    FeeTooHighError,
    Payment,
    Wallet,
    WalletAddressError,
    WalletAmountError,
    WalletArgumentError,
    WalletTypeError,
    WatchOnlyError,
    change_window,
    default_max_fee,
    effective_fee_rate,
    is_selectable,
    select_coins,
    transaction_size,
)

MNEMONIC = "abandon " * 11 + "about"
BOB = PrivateKey.from_seed(bytes([7]) * 32).address(DEVNET)
CAROL = PrivateKey.from_seed(bytes([8]) * 32).address(DEVNET)
DAVE = PrivateKey.from_seed(bytes([9]) * 32).address(DEVNET)


def funded(amounts: list[int]) -> tuple[Wallet, UtxoSet]:
    wallet = Wallet.from_mnemonic(MNEMONIC, network=DEVNET)
    utxos = UtxoSet()
    for n, amount in enumerate(amounts):
        utxos.add(OutPoint(n.to_bytes(32, "big"), 0), TxOut(amount, wallet.address(n % 4).payload), 1)
    return Wallet.from_mnemonic(MNEMONIC, network=DEVNET), utxos


# -- several recipients ---------------------------------------------------------------


def test_one_transaction_pays_several_recipients_in_order() -> None:
    wallet, utxos = funded([coins("3"), coins("2")])
    payments: list[Payment | tuple[Address | str, int]] = [
        (BOB, coins("1")),
        (str(CAROL), coins("0.5")),
        Payment(DAVE, coins("2.25")),
    ]
    created = wallet.create_payments(payments, FeeRate(20_000), utxos, seed=3)
    tx = created.transaction
    assert validate_transaction(tx, utxos, DEVNET) == created.fee
    paid = [o for i, o in enumerate(tx.outputs) if i != created.change_output_index]
    assert [(o.payload, o.amount) for o in paid] == [
        (BOB.payload, coins("1")),
        (CAROL.payload, coins("0.5")),
        (DAVE.payload, coins("2.25")),
    ]
    assert created.payments == (Payment(BOB, coins("1")), Payment(CAROL, coins("0.5")), Payment(DAVE, coins("2.25")))
    assert created.amount == coins("3.75")
    assert created.change is not None
    assert sum(c.amount for c in created.coins) == coins("3.75") + created.fee + created.change.amount


@settings(max_examples=60, deadline=None)
@given(
    amounts=st.lists(st.integers(1_000, coins("2")), min_size=1, max_size=6),
    seed=st.integers(0, 1000),
    subtract=st.booleans(),
)
def test_several_payments_always_validate(amounts: list[int], seed: int, subtract: bool) -> None:
    wallet, utxos = funded([coins("3"), coins("4"), coins("5")])
    recipients = [BOB, CAROL, DAVE]
    payments = [(recipients[i % 3], a) for i, a in enumerate(amounts)]
    try:
        created = wallet.create_payments(payments, None, utxos, seed=seed, subtract_fee_from_amount=subtract)
    except (DustOutputError, WalletAmountError, FeeExceedsAmountError):
        assert subtract  # only a subtracted fee share can push an output under the dust limit
        return
    assert validate_transaction(created.transaction, utxos, DEVNET) == created.fee
    received = sum(p.amount for p in created.payments)
    if subtract:
        assert received + created.fee == sum(amounts)
        assert all(p.amount >= DEVNET.dust_limit for p in created.payments)
    else:
        assert received == sum(amounts)


def test_subtracted_fee_is_split_among_the_payments() -> None:
    wallet, utxos = funded([coins("1")])
    plan = wallet.plan_payments([(BOB, coins("0.5")), (CAROL, coins("0.5"))], None, utxos, subtract_fee_from_amount=True)
    first, second = plan.payments
    assert first.amount + second.amount + plan.fee == coins("1")
    assert 0 <= second.amount - first.amount <= 1  # the first pays the remainder
    assert plan.change_output_index is None


# -- amounts: int base units, dust ------------------------------------------------------


@pytest.mark.parametrize("amount", ["5", "0.5", 5.0, Decimal("5"), True, None, b"5"])
def test_amounts_are_int_base_units_only(amount: object) -> None:
    wallet, utxos = funded([coins("10")])
    with pytest.raises(WalletTypeError) as info:
        wallet.plan_transaction(BOB, amount, None, utxos)  # type: ignore[arg-type]
    assert info.value.parameter == "amount"
    assert isinstance(info.value, TimecoinError) and isinstance(info.value, TypeError)
    assert "coins(" in str(info.value)  # says how to convert TIME


@pytest.mark.parametrize("amount", [0, -1, MAX_MONEY + 1])
def test_amount_out_of_range(amount: int) -> None:
    wallet, utxos = funded([coins("10")])
    with pytest.raises(WalletAmountError) as info:
        wallet.plan_transaction(BOB, amount, None, utxos)
    assert info.value.parameter == "amount" and isinstance(info.value, AmountError)


def test_a_payment_below_the_dust_limit_is_refused() -> None:
    wallet, utxos = funded([coins("10")])
    for amount in (1, DEVNET.dust_limit - 1):
        with pytest.raises(DustOutputError) as info:
            wallet.create_transaction(BOB, amount, None, utxos)
        assert info.value.parameter == "amount" and info.value.dust_limit == DEVNET.dust_limit
        assert isinstance(info.value, TimecoinError)
    created = wallet.create_transaction(BOB, DEVNET.dust_limit, None, utxos)
    assert validate_transaction(created.transaction, utxos, DEVNET) == created.fee
    with pytest.raises(DustOutputError) as info:
        wallet.plan_payments([(BOB, coins("1")), (CAROL, 999)], None, utxos)
    assert info.value.parameter == "payments[1].amount"


def test_subtracting_the_fee_below_dust_is_refused() -> None:
    wallet, utxos = funded([coins("10")])
    fee = wallet.plan_transaction(BOB, coins("1"), None, utxos).fee
    with pytest.raises(DustOutputError):
        wallet.plan_transaction(BOB, fee + 500, None, utxos, subtract_fee_from_amount=True)


# -- the fee guard -----------------------------------------------------------------------


def test_default_max_fee_is_a_tenth_of_a_time_or_one_percent() -> None:
    assert DEFAULT_MAX_FEE_FLOOR == COIN // 10
    assert default_max_fee(1) == COIN // 10
    assert default_max_fee(coins("10")) == COIN // 10
    assert default_max_fee(coins("100")) == coins("1")
    with pytest.raises(WalletArgumentError):
        default_max_fee(0)


def test_a_fee_above_the_maximum_is_refused_unless_allowed() -> None:
    wallet, utxos = funded([coins("100")])
    absurd = FeeRate(coins("1"))  # 1 TIME per 1,000 bytes: a per-byte rate given per kB
    with pytest.raises(FeeTooHighError) as info:
        wallet.create_transaction(BOB, coins("1"), absurd, utxos)
    assert info.value.parameter == "max_fee"
    assert info.value.maximum == default_max_fee(coins("1")) and info.value.fee > info.value.maximum
    assert "max_fee" in str(info.value)
    created = wallet.create_transaction(BOB, coins("1"), absurd, utxos, max_fee=coins("1"))
    assert created.fee == info.value.fee
    with pytest.raises(FeeTooHighError):
        wallet.create_transaction(BOB, coins("1"), None, utxos, max_fee=100)


@pytest.mark.parametrize(("max_fee", "kind"), [("1", WalletTypeError), (-1, WalletAmountError), (1.0, WalletTypeError)])
def test_bad_max_fee(max_fee: object, kind: type[Exception]) -> None:
    wallet, utxos = funded([coins("10")])
    with pytest.raises(kind) as info:
        wallet.plan_transaction(BOB, coins("1"), None, utxos, max_fee=max_fee)  # type: ignore[arg-type]
    assert info.value.parameter == "max_fee"  # type: ignore[attr-defined]


# -- addresses and types -----------------------------------------------------------------


def test_address_strings_are_accepted_for_the_right_network_only() -> None:
    wallet, utxos = funded([coins("10")])
    plan = wallet.plan_transaction(str(BOB), coins("1"), None, utxos, change_to=str(CAROL))
    assert plan.transaction.outputs[1 - plan.change_output_index].payload == BOB.payload  # type: ignore[operator]
    mainnet_bob = PrivateKey.from_seed(bytes([7]) * 32).address(MAINNET)
    for bad in (mainnet_bob, str(mainnet_bob), "TIME0junk", ""):
        with pytest.raises(WalletAddressError) as info:
            wallet.plan_transaction(bad, coins("1"), None, utxos)
        assert info.value.parameter == "to" and isinstance(info.value, AddressError)
    with pytest.raises(WalletAddressError) as info:
        wallet.plan_transaction(BOB, coins("1"), None, utxos, change_to=str(mainnet_bob))
    assert info.value.parameter == "change_to"
    with pytest.raises(WalletAddressError) as info:
        wallet.plan_payments([(BOB, coins("1")), ("TIME0nope", coins("1"))], None, utxos)
    assert info.value.parameter == "payments[1].address"


@pytest.mark.parametrize(
    ("call", "parameter"),
    [
        (lambda w, u: w.plan_transaction(b"\x00" * 20, 1000, None, u), "to"),
        (lambda w, u: w.plan_transaction(BOB, 1000, 5, u), "fee_rate"),
        (lambda w, u: w.plan_transaction(BOB, 1000, None, None), "utxos"),
        (lambda w, u: w.plan_transaction(BOB, 1000, None, 42), "utxos"),
        (lambda w, u: w.plan_transaction(BOB, 1000, None, [b"coin"]), "utxos"),
        (lambda w, u: w.plan_transaction(BOB, 1000, None, u, memo="hi"), "memo"),
        (lambda w, u: w.plan_transaction(BOB, 1000, None, u, seed="1"), "seed"),
        (lambda w, u: w.plan_transaction(BOB, 1000, None, u, max_inputs=None), "max_inputs"),
        (lambda w, u: w.plan_transaction(BOB, 1000, None, u, subtract_fee_from_amount=1), "subtract_fee_from_amount"),
        (lambda w, u: w.plan_transaction(BOB, 1000, None, u, change_to=7), "change_to"),
        (lambda w, u: w.plan_payments("bob", None, u), "payments"),
        (lambda w, u: w.plan_payments([BOB], None, u), "payments[0]"),
        (lambda w, u: w.plan_payments([(BOB, 1, 2)], None, u), "payments[0]"),
        (lambda w, u: w.sign("plan"), "plan"),
        (lambda w, u: w.sign_psbt(b"psbt"), "psbt"),
        (lambda w, u: w.sign_message(w.address(0), 12), "message"),
        (lambda w, u: Wallet(DEVNET, None, gap_limit="20"), "gap_limit"),  # type: ignore[arg-type]
        (lambda w, u: Wallet("devnet", None), "network"),  # type: ignore[arg-type]
    ],
)
def test_wrong_types_are_typed_errors_naming_the_parameter(call: object, parameter: str) -> None:
    wallet, utxos = funded([coins("10")])
    with pytest.raises(WalletTypeError) as info:
        call(wallet, utxos)  # type: ignore[operator]
    assert info.value.parameter == parameter
    assert isinstance(info.value, TimecoinError) and isinstance(info.value, TypeError)


def test_wallet_errors_are_caught_by_the_root() -> None:
    wallet, utxos = funded([coins("1")])
    for call in (
        lambda: wallet.create_transaction(BOB, coins("100"), None, utxos),
        lambda: wallet.create_transaction(BOB, 1, None, utxos),
        lambda: wallet.create_transaction(BOB, "1", None, utxos),  # type: ignore[arg-type]
        lambda: wallet.plan_payments([], None, utxos),
        lambda: wallet.plan_payments([(BOB, 1000)] * 1000, None, utxos),
    ):
        with pytest.raises(TimecoinError):
            call()


def test_watch_only_wallet_plans_several_payments_but_cannot_sign_them() -> None:
    wallet, utxos = funded([coins("3")])
    watch = Wallet.watch_only([wallet.address(i) for i in range(4)], DEVNET)
    plan = watch.plan_payments([(BOB, coins("1")), (CAROL, coins("1"))], None, utxos)
    assert len(plan.payments) == 2
    with pytest.raises(WatchOnlyError):
        watch.create_payments([(BOB, coins("1"))], None, utxos)


# -- Address.is_valid --------------------------------------------------------------------


def test_address_is_valid() -> None:
    assert Address.is_valid(str(BOB), DEVNET)
    assert not Address.is_valid(str(BOB), MAINNET)  # the other network's digit
    text = str(BOB)
    tampered = text[:-1] + ("2" if text[-1] != "2" else "3")
    for junk in (tampered, "", "TIME0", text + "x", text.lower(), " " + text, None, 5, b"TIME0", "T" * 10_000):
        assert not Address.is_valid(junk, DEVNET)
    with pytest.raises(AddressError):
        Address.is_valid(text, "devnet")  # type: ignore[arg-type]


@given(st.text(max_size=60))
def test_address_is_valid_never_raises(text: str) -> None:
    assert Address.is_valid(text, DEVNET) in (True, False)


# -- readable reprs ---------------------------------------------------------------------


def test_reprs_show_amounts_in_time_and_no_secret() -> None:
    wallet, utxos = funded([coins("3")])
    payment = Payment(BOB, coins("1.5"))
    assert repr(payment) == f"Payment({BOB}, 1.5 TIME)"
    plan = wallet.plan_payments([payment], None, utxos)
    text = repr(plan)
    assert "1.5 TIME" in text and plan.transaction.txid.hex() in text and "fee=" in text
    created = wallet.sign(plan)
    text = repr(created)
    assert created.txid.hex() in text and "change=" in text and "TIME" in text
    assert "algorithm=" in repr(plan.selection) and "TIME" in repr(plan.selection)
    seed_hex = wallet.address(0).payload.hex()
    assert seed_hex not in repr(wallet)
    with pytest.raises(WalletTypeError):
        Payment(str(BOB), 1)  # type: ignore[arg-type]
    with pytest.raises(WalletAmountError):
        Payment(BOB, 0)


@pytest.mark.parametrize(
    ("call", "parameter"),
    [
        (lambda w: Wallet.watch_only([w.address(0)], "devnet"), "network"),  # type: ignore[arg-type]
        (lambda w: Wallet.watch_only(5, DEVNET), "addresses"),  # type: ignore[arg-type]
        (lambda w: Wallet.watch_only([1], DEVNET), "addresses"),  # type: ignore[list-item]
        (lambda w: w.history(5), "chain"),
        (lambda w: w.history(ChainState(DEVNET), 5), "pool"),
        (lambda w: w.plan_transaction(BOB, 5000, None, [], change_index="1"), "change_index"),
        (lambda w: select_coins(None, 5000, None, DEVNET), "candidates"),  # type: ignore[arg-type]
        (lambda w: select_coins(5, 5000, None, DEVNET), "candidates"),  # type: ignore[arg-type]
        (lambda w: transaction_size("1", 1), "n_inputs"),  # type: ignore[arg-type]
        (lambda w: is_selectable(5), "coin"),  # type: ignore[arg-type]
        (lambda w: effective_fee_rate(None, "devnet"), "network"),  # type: ignore[arg-type]
        (lambda w: change_window(5, DEVNET), "rate"),  # type: ignore[arg-type]
    ],
)
def test_more_wrong_types(call: object, parameter: str) -> None:
    wallet = Wallet.from_mnemonic(MNEMONIC, network=DEVNET)
    with pytest.raises(WalletTypeError) as info:
        call(wallet)  # type: ignore[operator]
    assert info.value.parameter == parameter
