"""Partially signed transactions: vectors, the codec's round trip, sign part / combine / finalize, tampering."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timecoin_core import (
    DEVNET,
    MAINNET,
    TESTNET,
    DecodeError,
    OutPoint,
    PrivateKey,
    TimecoinError,
    Transaction,
    TxIn,
    TxOut,
    coins,
    validate_transaction,
)
from timecoin_core.utxo import UtxoSet
from timecoin_core.wallet import (
    PartiallySignedTransaction,
    PartialSignatureError,
    PsbtError,
    PsbtIncompleteError,
    PsbtMismatchError,
    PsbtNetworkError,
    Wallet,
    WalletArgumentError,
    WalletTypeError,
    WatchOnlyError,
)

VECTORS = json.loads((Path(__file__).parent / "vectors" / "partially_signed.json").read_text())
ALICE = PrivateKey.from_seed(bytes([0xA1]) * 32)
BOB = PrivateKey.from_seed(bytes([0xB0]) * 32)
CAROL = PrivateKey.from_seed(bytes([0xC0]) * 32)
KEYS = [ALICE, BOB, CAROL]
ERRORS = {"DecodeError": DecodeError, "PsbtNetworkError": PsbtNetworkError, "PartialSignatureError": PartialSignatureError}


def vector_psbt() -> PartiallySignedTransaction:
    spent = [TxOut(coins("1.5"), ALICE.public_key.payload), TxOut(coins("2"), BOB.public_key.payload)]
    tx = Transaction(
        [TxIn(OutPoint(bytes([0x11]) * 32, 0)), TxIn(OutPoint(bytes([0x22]) * 32, 1))],
        [TxOut(coins("3"), CAROL.public_key.payload), TxOut(coins("0.4999"), ALICE.public_key.payload)],
        memo=b"invoice 42",
    )
    return PartiallySignedTransaction.create(tx, spent, MAINNET)


# -- vectors ----------------------------------------------------------------------------


def test_vectors() -> None:
    unsigned = vector_psbt()
    assert unsigned.transaction.to_bytes().hex() == VECTORS["unsigned_transaction"]
    assert unsigned.txid.hex() == VECTORS["txid"] and unsigned.fee == VECTORS["fee"] == coins("0.0001")
    assert unsigned.to_bytes().hex() == VECTORS["unsigned"]
    by_alice, by_bob = unsigned.sign(ALICE), unsigned.sign(BOB)
    assert by_alice.to_bytes().hex() == VECTORS["signed_by_alice"]
    assert by_bob.to_bytes().hex() == VECTORS["signed_by_bob"]
    combined = PartiallySignedTransaction.combine(by_alice, by_bob)
    assert combined.to_bytes().hex() == VECTORS["combined"]
    assert combined.to_base64() == VECTORS["combined_base64"]
    assert combined.finalize().to_bytes().hex() == VECTORS["final_transaction"]
    for name in ("unsigned", "signed_by_alice", "signed_by_bob", "combined"):
        data = bytes.fromhex(VECTORS[name])
        assert PartiallySignedTransaction.from_bytes(data, MAINNET).to_bytes() == data
    assert PartiallySignedTransaction.from_base64(VECTORS["combined_base64"], MAINNET) == combined


@pytest.mark.parametrize("case", VECTORS["invalid"], ids=lambda c: c["why"])
def test_invalid_vectors(case: dict[str, str]) -> None:
    with pytest.raises(ERRORS[case["error"]]):
        PartiallySignedTransaction.from_bytes(bytes.fromhex(case["hex"]), MAINNET)


# -- the codec ----------------------------------------------------------------------------


@st.composite
def psbts(draw: st.DrawFn) -> PartiallySignedTransaction:
    n_in = draw(st.integers(1, 4))
    owners = [draw(st.sampled_from(KEYS)) for _ in range(n_in)]
    amounts = [draw(st.integers(1, coins("5"))) for _ in range(n_in)]
    spent = [TxOut(a, k.public_key.payload) for a, k in zip(amounts, owners, strict=True)]
    budget = sum(amounts)
    outputs = []
    for _ in range(draw(st.integers(0, 3))):
        if budget == 0:
            break
        amount = draw(st.integers(0, budget))
        budget -= amount
        outputs.append(TxOut(amount, draw(st.binary(min_size=20, max_size=20))))
    inputs = [TxIn(OutPoint(draw(st.binary(min_size=32, max_size=32)), draw(st.integers(0, 3)))) for _ in range(n_in)]
    tx = Transaction(inputs, outputs, memo=draw(st.binary(max_size=80)))
    network = draw(st.sampled_from([MAINNET, TESTNET, DEVNET]))
    psbt = PartiallySignedTransaction.create(tx, spent, network)
    signers = draw(st.lists(st.sampled_from(KEYS), unique_by=lambda k: k.public_key.data))
    return psbt.sign_where({k.public_key.payload: k for k in signers}.get)


@settings(max_examples=80, deadline=None)
@given(psbt=psbts())
def test_round_trip(psbt: PartiallySignedTransaction) -> None:
    data = psbt.to_bytes()
    assert PartiallySignedTransaction.from_bytes(data, psbt.network) == psbt
    assert PartiallySignedTransaction.from_base64(psbt.to_base64(), psbt.network) == psbt
    assert psbt.fee == sum(o.amount for o in psbt.spent) - sum(o.amount for o in psbt.transaction.outputs)
    assert [a.payload for a, _ in psbt.recipients()] == [o.payload for o in psbt.transaction.outputs]
    for other in (MAINNET, TESTNET, DEVNET):
        if other.chain_id != psbt.network.chain_id:
            with pytest.raises(PsbtNetworkError):
                PartiallySignedTransaction.from_bytes(data, other)


@settings(max_examples=40, deadline=None)
@given(psbt=psbts(), data=st.data())
def test_truncated_or_tampered_bytes_raise_typed_errors(psbt: PartiallySignedTransaction, data: st.DataObject) -> None:
    encoded = psbt.to_bytes()
    cut = data.draw(st.integers(0, len(encoded) - 1))
    with pytest.raises(DecodeError):
        PartiallySignedTransaction.from_bytes(encoded[:cut], psbt.network)
    flip = data.draw(st.integers(0, len(encoded) - 1))
    bit = data.draw(st.integers(0, 7))
    tampered = bytearray(encoded)
    tampered[flip] ^= 1 << bit
    try:
        decoded = PartiallySignedTransaction.from_bytes(bytes(tampered), psbt.network)
    except (DecodeError, PsbtError) as exc:
        assert isinstance(exc, TimecoinError)
    else:
        # A flip that still decodes (an amount, a payload, the memo) is a different
        # PST, and every signature it carries still verifies for it.
        assert decoded != psbt
        assert decoded.to_bytes() == bytes(tampered)


@given(junk=st.binary(max_size=300))
def test_junk_raises_decode_error(junk: bytes) -> None:
    with pytest.raises((DecodeError, PsbtNetworkError)):
        PartiallySignedTransaction.from_bytes(junk, MAINNET)


def test_base64_must_be_canonical() -> None:
    text = VECTORS["combined_base64"]
    for bad in (text + "=", text[:-1], " " + text, text + "AA", text + "AAAA", text + "\n"):
        with pytest.raises(DecodeError):
            PartiallySignedTransaction.from_base64(bad, MAINNET)
    with pytest.raises(WalletTypeError):
        PartiallySignedTransaction.from_base64(text.encode(), MAINNET)
    with pytest.raises(WalletTypeError):
        PartiallySignedTransaction.from_bytes("00", MAINNET)  # type: ignore[arg-type]


# -- sign part, combine, finalize --------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(psbt=psbts(), data=st.data())
def test_combine_is_order_independent_and_finalizes_when_complete(
    psbt: PartiallySignedTransaction, data: st.DataObject
) -> None:
    unsigned = PartiallySignedTransaction.create(psbt.transaction, psbt.spent, psbt.network)
    parts = [unsigned.sign_where({k.public_key.payload: k}.get) for k in KEYS]
    order = data.draw(st.permutations(parts))
    combined = PartiallySignedTransaction.combine(*order)
    assert combined == PartiallySignedTransaction.combine(*parts)
    assert combined.is_complete and combined.missing == ()
    tx = combined.finalize()
    assert tx.txid == psbt.txid
    assert PartiallySignedTransaction.combine(psbt, combined).is_complete


def test_finalize_validates_against_the_chain_state() -> None:
    unsigned = vector_psbt()
    utxos = UtxoSet()
    for txin, out in zip(unsigned.transaction.inputs, unsigned.spent, strict=True):
        utxos.add(txin.outpoint, out, 1)
    with pytest.raises(PsbtIncompleteError) as info:
        unsigned.sign(ALICE).finalize()
    assert info.value.missing == (1,)
    tx = unsigned.sign(ALICE).sign(BOB).finalize()
    assert validate_transaction(tx, utxos, MAINNET) == coins("0.0001")


def test_mismatches_are_typed() -> None:
    unsigned = vector_psbt()
    other_tx = Transaction(unsigned.transaction.inputs, unsigned.transaction.outputs, memo=b"other")
    with pytest.raises(PsbtMismatchError):
        PartiallySignedTransaction.combine(unsigned, PartiallySignedTransaction.create(other_tx, unsigned.spent, MAINNET))
    with pytest.raises(PsbtMismatchError):
        PartiallySignedTransaction.combine(
            unsigned, PartiallySignedTransaction.create(unsigned.transaction, unsigned.spent, TESTNET)
        )
    richer = (TxOut(coins("1.6"), ALICE.public_key.payload), unsigned.spent[1])
    with pytest.raises(PsbtMismatchError):
        PartiallySignedTransaction.combine(unsigned, PartiallySignedTransaction.create(unsigned.transaction, richer, MAINNET))
    with pytest.raises(WalletArgumentError, match="owns none"):
        unsigned.sign(CAROL)
    # Bob's signature placed on Alice's input: wrong key for the spent output.
    bob_sig = unsigned.sign(BOB).witnesses[1]
    assert bob_sig is not None
    with pytest.raises(PartialSignatureError, match="does not own"):
        unsigned.add_signature(0, *bob_sig)
    alice_key = ALICE.public_key.data
    with pytest.raises(PartialSignatureError, match="does not verify"):
        unsigned.add_signature(0, alice_key, bytes(64))
    with pytest.raises(WalletArgumentError):
        unsigned.add_signature(2, alice_key, bytes(64))
    with pytest.raises(WalletTypeError):
        unsigned.add_signature(0, alice_key, "sig")  # type: ignore[arg-type]
    with pytest.raises(WalletTypeError):
        PartiallySignedTransaction.combine(unsigned, "x")  # type: ignore[arg-type]
    signed_tx = unsigned.sign(ALICE).sign(BOB).finalize()
    with pytest.raises(WalletArgumentError, match="unsigned"):
        PartiallySignedTransaction.create(signed_tx, unsigned.spent, MAINNET)
    with pytest.raises(WalletArgumentError, match="one spent output"):
        PartiallySignedTransaction.create(unsigned.transaction, unsigned.spent[:1], MAINNET)
    with pytest.raises(WalletArgumentError, match="more than the inputs"):
        PartiallySignedTransaction.create(unsigned.transaction, (TxOut(1, ALICE.public_key.payload),) * 2, MAINNET)


def test_wallets_sign_their_own_inputs_of_a_shared_transaction() -> None:
    words_a = "abandon " * 11 + "about"
    words_b = "legal winner thank year wave sausage worth useful legal winner thank yellow"
    a, b = Wallet.from_mnemonic(words_a, network=DEVNET), Wallet.from_mnemonic(words_b, network=DEVNET)
    utxos = UtxoSet()
    utxos.add(OutPoint(b"\x01" * 32, 0), TxOut(coins("1"), a.address(0).payload), 1)
    utxos.add(OutPoint(b"\x02" * 32, 0), TxOut(coins("1"), b.address(2).payload), 1)
    coins_ = sorted(utxos, key=lambda c: c.outpoint)
    tx = Transaction([TxIn(c.outpoint) for c in coins_], [TxOut(coins("1.9999"), CAROL.public_key.payload)])
    psbt = PartiallySignedTransaction.create(tx, [c.output for c in coins_], DEVNET)
    part_a = Wallet.from_mnemonic(words_a, network=DEVNET).sign_psbt(psbt)
    part_b = Wallet.from_mnemonic(words_b, network=DEVNET).sign_psbt(psbt)
    assert part_a.missing == (1,) and part_b.missing == (0,)
    final = PartiallySignedTransaction.combine(part_a, part_b).finalize()
    assert validate_transaction(final, utxos, DEVNET) == coins("0.0001")
    with pytest.raises(WatchOnlyError):
        Wallet.watch_only([a.address(0)], DEVNET).sign_psbt(psbt)
    with pytest.raises(WalletArgumentError):
        Wallet.from_mnemonic(words_a, network=TESTNET).sign_psbt(psbt)


def test_a_watch_only_plan_goes_to_an_offline_signer_and_back() -> None:
    words = "abandon " * 11 + "about"
    online = Wallet.watch_only([Wallet.from_mnemonic(words, network=DEVNET).address(0)], DEVNET)
    utxos = UtxoSet()
    utxos.add(OutPoint(b"\x05" * 32, 1), TxOut(coins("3"), online.address(0).payload), 1)
    plan = online.plan_transaction(CAROL.address(DEVNET), coins("1"), None, utxos)
    text = plan.to_psbt().to_base64()
    # Offline: decode, show what is paid, sign.
    offline = PartiallySignedTransaction.from_base64(text, DEVNET)
    assert (CAROL.address(DEVNET), coins("1")) in offline.recipients() and offline.fee == plan.fee
    signed = Wallet.from_mnemonic(words, network=DEVNET).sign_psbt(offline).to_base64()
    tx = PartiallySignedTransaction.from_base64(signed, DEVNET).finalize()
    assert validate_transaction(tx, utxos, DEVNET) == plan.fee
    assert "fee=" in repr(offline) and "TIME" in repr(offline)
