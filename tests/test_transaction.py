from __future__ import annotations

import contextlib

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from timecoin_core.amount import MAX_MONEY, coins
from timecoin_core.builder import TransactionBuilder
from timecoin_core.errors import DecodeError
from timecoin_core.keys import PrivateKey
from timecoin_core.network import DEVNET, MAINNET
from timecoin_core.transaction import (
    MAX_MEMO,
    OutPoint,
    Transaction,
    TxIn,
    TxOut,
)
from timecoin_core.validation import TransactionError, validate_transaction

outpoints = st.builds(OutPoint, st.binary(min_size=32, max_size=32), st.integers(0, 2**32 - 1))
txouts = st.builds(TxOut, st.integers(0, MAX_MONEY), st.binary(min_size=20, max_size=20))
txins = st.builds(
    TxIn, outpoints, st.binary(min_size=32, max_size=32), st.binary(min_size=64, max_size=64)
)
transactions = st.builds(
    Transaction,
    st.lists(txins, max_size=5),
    st.lists(txouts, max_size=5),
    st.integers(0, 2**32 - 1),
    st.binary(max_size=MAX_MEMO),
    st.integers(0, 2**32 - 1),
)


@given(transactions)
def test_round_trip_is_identity(tx: Transaction) -> None:
    data = tx.to_bytes()
    decoded = Transaction.from_bytes(data)
    assert decoded == tx
    assert decoded.to_bytes() == data
    assert decoded.txid == tx.txid
    assert decoded.wtxid == tx.wtxid
    assert decoded.inputs == tx.inputs and decoded.outputs == tx.outputs
    assert (decoded.version, decoded.lock_time, decoded.memo) == (tx.version, tx.lock_time, tx.memo)


@given(outpoints)
def test_outpoint_round_trip(op: OutPoint) -> None:
    assert OutPoint.from_bytes(op.to_bytes()) == op


@given(txouts)
def test_txout_round_trip(out: TxOut) -> None:
    assert TxOut.from_bytes(out.to_bytes()) == out


@given(transactions, st.binary(min_size=32, max_size=32), st.binary(min_size=64, max_size=64))
def test_txid_ignores_witnesses_wtxid_does_not(tx: Transaction, pk: bytes, sig: bytes) -> None:
    assume(tx.inputs)
    witnesses = [(pk, sig)] * len(tx.inputs)
    resigned = tx.with_witnesses(witnesses)
    assert resigned.txid == tx.txid
    if resigned.to_bytes() != tx.to_bytes():
        assert resigned.wtxid != tx.wtxid


@given(st.binary(max_size=400))
@settings(max_examples=500)
def test_random_bytes_only_raise_decode_error(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        Transaction.from_bytes(data)


@given(transactions, st.binary(min_size=1, max_size=8))
def test_trailing_bytes_rejected(tx: Transaction, extra: bytes) -> None:
    with pytest.raises(DecodeError, match="trailing"):
        Transaction.from_bytes(tx.to_bytes() + extra)


@given(transactions, st.data())
def test_truncation_rejected(tx: Transaction, data: st.DataObject) -> None:
    encoded = tx.to_bytes()
    cut = data.draw(st.integers(0, len(encoded) - 1))
    with pytest.raises(DecodeError):
        Transaction.from_bytes(encoded[:cut])


def test_amount_above_max_money_rejected_on_decode() -> None:
    tx = Transaction([TxIn(OutPoint(b"\x01" * 32, 0))], [TxOut(MAX_MONEY, b"\x02" * 20)])
    data = bytearray(tx.to_bytes())
    offset = 4 + 1 + 36 + 1
    data[offset : offset + 8] = (MAX_MONEY + 1).to_bytes(8, "little")
    with pytest.raises(DecodeError, match="MAX_MONEY"):
        Transaction.from_bytes(bytes(data))


def test_non_minimal_count_rejected() -> None:
    tx = Transaction([TxIn(OutPoint(b"\x01" * 32, 0))], [TxOut(1, b"\x02" * 20)])
    data = tx.to_bytes()
    bad = data[:4] + b"\xfd\x01\x00" + data[5:]
    with pytest.raises(DecodeError, match="non-minimal"):
        Transaction.from_bytes(bad)


def test_transaction_is_immutable_and_hashable() -> None:
    tx = Transaction([TxIn(OutPoint(b"\x01" * 32, 0))], [TxOut(1, b"\x02" * 20)])
    with pytest.raises(AttributeError):
        tx.version = 2
    assert {tx: 1}[Transaction.from_bytes(tx.to_bytes())] == 1


def test_sighash_commits_to_network_amount_and_address() -> None:
    tx = Transaction([TxIn(OutPoint(b"\x01" * 32, 0))], [TxOut(1, b"\x02" * 20)])
    spent = TxOut(coins("5"), b"\x03" * 20)
    base = tx.sighash(0, spent, DEVNET)
    assert tx.sighash(0, spent, MAINNET) != base
    assert tx.sighash(0, TxOut(coins("5") + 1, b"\x03" * 20), DEVNET) != base
    assert tx.sighash(0, TxOut(coins("5"), b"\x04" * 20), DEVNET) != base
    with pytest.raises(IndexError):
        tx.sighash(1, spent, DEVNET)


KEY = PrivateKey.from_seed(b"\x11" * 32)
FUNDING = OutPoint(b"\xaa" * 32, 1)
FUNDED = TxOut(coins("10"), KEY.public_key.payload)


def _signed() -> Transaction:
    dest = PrivateKey.from_seed(b"\x22" * 32).address(DEVNET)
    return (
        TransactionBuilder(DEVNET)
        .spend(FUNDING, FUNDED, KEY)
        .pay(dest, coins("3"))
        .pay(KEY.address(DEVNET), coins("6.99"))
        .build()
    )


def test_every_single_byte_change_breaks_a_signed_transaction() -> None:
    tx = _signed()
    view = {FUNDING: FUNDED}
    assert validate_transaction(tx, view, DEVNET) == coins("0.01")
    data = tx.to_bytes()
    for position in range(len(data)):
        for flip in (0x01, 0x80):
            mutated = bytearray(data)
            mutated[position] ^= flip
            try:
                candidate = Transaction.from_bytes(bytes(mutated))
            except DecodeError:
                continue
            with pytest.raises(TransactionError):
                validate_transaction(candidate, view, DEVNET)


def _raw(n_in: bytes, inputs: int, n_out: bytes, outputs: int, memo_len: bytes, memo: int) -> bytes:
    """A hand-made encoding with the given count and memo-length bytes."""
    return (
        b"\x01\x00\x00\x00"
        + n_in
        + b"\x01" * 36 * inputs
        + n_out
        + (b"\x01" + b"\x00" * 7 + b"\x02" * 20) * outputs
        + b"\x00\x00\x00\x00"
        + memo_len
        + b"m" * memo
        + b"\x03" * 96 * inputs
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_raw(b"\x01", 1, b"\x01", 1, b"\x51", 81), "memo length 81 exceeds maximum 80"),
        (_raw(b"\x01", 1, b"\x01", 1, b"\xfd\x05\x00", 5), "non-minimal memo length"),
        (_raw(b"\xfd\xe9\x03", 0, b"\x01", 1, b"\x00", 0), "input count 1001 exceeds maximum 1000"),
        (_raw(b"\x01", 1, b"\xfd\x01\x00", 1, b"\x00", 0), "non-minimal output count"),
        (_raw(b"\x01", 1, b"\xfe", 0, b"", 0)[:41], "truncated output count"),
        (_raw(b"\x01", 1, b"\x01", 1, b"", 0)[:74], "truncated memo length"),
        (b"\x01\x00\x00\x00", "truncated input count"),
    ],
)
def test_count_and_memo_length_errors(data: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        Transaction.from_bytes(data)


@pytest.mark.parametrize("outputs", [252, 253, 1000])
def test_counts_around_the_one_byte_varint_limit_round_trip(outputs: int) -> None:
    tx = Transaction([TxIn(OutPoint(b"\x01" * 32, 0))], [TxOut(1, b"\x02" * 20)] * outputs, memo=b"m" * 80)
    decoded = Transaction.from_bytes(tx.to_bytes())
    assert decoded == tx and decoded.txid == tx.txid and len(decoded.outputs) == outputs


def test_builder_refuses_wrong_types_with_typed_errors_and_takes_address_strings() -> None:
    from timecoin_core import (
        DEVNET,
        MAINNET,
        AddressError,
        OutPoint,
        PrivateKey,
        TransactionBuilder,
        TxOut,
    )
    from timecoin_core.builder import BuilderError

    key = PrivateKey.from_seed(b"\x21" * 32)
    builder = TransactionBuilder(DEVNET).spend(OutPoint(b"\x01" * 32, 0), TxOut(10_000_000, key.public_key.payload), key)
    with pytest.raises(BuilderError, match="address must be an Address"):
        builder.pay(b"TIME0...", 1_000)  # type: ignore[arg-type]
    with pytest.raises(BuilderError, match="amount must be an int"):
        builder.pay(key.address(DEVNET), "5")  # type: ignore[arg-type]
    with pytest.raises(BuilderError, match="amount must be an int"):
        builder.pay(key.address(DEVNET), 1.5)  # type: ignore[arg-type]
    with pytest.raises(AddressError):
        builder.pay(str(key.address(MAINNET)), 1_000)  # a mainnet address string on devnet
    with pytest.raises(BuilderError, match="memo must be bytes"):
        builder.memo("hello")  # type: ignore[arg-type]
    tx = builder.pay(str(key.address(DEVNET)), 9_000_000).build()
    assert tx.outputs[0] == TxOut(9_000_000, key.public_key.payload)


def test_value_types_read_well() -> None:
    from timecoin_core.block import genesis_block
    from timecoin_core.utxo import UtxoSet

    outpoint = OutPoint(b"\xab" * 32, 7)
    assert repr(outpoint) == f"OutPoint({'ab' * 32}:7)"
    assert repr(TxOut(coins("1.5"), b"\x02" * 20)) == f"TxOut(1.5 TIME to {'02' * 20})"
    utxos = UtxoSet()
    utxos.add(outpoint, TxOut(5, b"\x03" * 20), 2)
    assert repr(utxos.coin(outpoint)) == f"Coin({'ab' * 32}:7, TxOut(0.00000005 TIME to {'03' * 20}), height 2, UNSPENT)"
    header = genesis_block(DEVNET).header
    assert repr(header).startswith(f"BlockHeader(height=0, hash={header.hash.hex()}, prev={'00' * 32}")
