"""The store's small parts: the incremental UTXO commitment, cursors, the network codec."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timecoin_core.commitment import UtxoAccumulator
from timecoin_core.network import DEVNET, MAINNET, TESTNET
from timecoin_core.store import CorruptStoreError, InvalidCursorError
from timecoin_core.store._network import network_from_json, network_to_json
from timecoin_core.store.cursor import CursorKind, decode_cursor, encode_cursor
from timecoin_core.testing import LocalChain
from timecoin_core.transaction import OutPoint, TxOut
from timecoin_core.utxo import UtxoSet

coins = st.lists(
    st.tuples(
        st.binary(min_size=32, max_size=32),
        st.integers(0, 2**32 - 1),
        st.integers(0, 10**12),
        st.binary(min_size=20, max_size=20),
        st.integers(0, 2**40),
    ),
    max_size=12,
    unique_by=lambda c: (c[0], c[1]),
)


@settings(max_examples=60)
@given(coins, st.data())
def test_the_accumulator_commits_like_the_utxo_set(items: list[tuple[bytes, int, int, bytes, int]], data: st.DataObject) -> None:
    utxos = UtxoSet()
    accumulator = UtxoAccumulator()
    for txid, index, amount, payload, height in items:
        utxos.add(OutPoint(txid, index), TxOut(amount, payload), height)
    accumulator.update(items, ())
    assert accumulator.commitment() == utxos.commitment()
    removed = data.draw(st.lists(st.sampled_from(items), unique=True)) if items else []
    for txid, index, _, _, height in removed:
        utxos.confirm_spend(OutPoint(txid, index), height)
    accumulator.update((), removed)
    assert accumulator.commitment() == utxos.commitment()
    assert UtxoAccumulator.from_bytes(accumulator.to_bytes()).commitment() == accumulator.commitment()


positions = st.sampled_from([(CursorKind.COINS, 36), (CursorKind.HISTORY, 12), (CursorKind.BLOCKS, 8), (CursorKind.BLOCK_TRANSACTIONS, 4)])


@given(positions, st.binary(max_size=40), st.data())
def test_cursors_round_trip_and_reject_every_other_query(
    kind_size: tuple[CursorKind, int], scope: bytes, data: st.DataObject
) -> None:
    kind, size = kind_size
    position = data.draw(st.binary(min_size=size, max_size=size))
    cursor = encode_cursor(kind, scope, position)
    assert decode_cursor(cursor, kind, scope, size) == position
    other_scope = data.draw(st.binary(max_size=40).filter(lambda s: s != scope))
    with pytest.raises(InvalidCursorError):
        decode_cursor(cursor, kind, other_scope, size)
    for other in CursorKind:
        if other is not kind:
            with pytest.raises(InvalidCursorError):
                decode_cursor(cursor, other, scope, size)
    at = data.draw(st.integers(0, len(cursor) - 1))
    replacement = data.draw(st.sampled_from("AQgw-_zZ09").filter(lambda c: c != cursor[at]))
    with pytest.raises(InvalidCursorError):
        decode_cursor(cursor[:at] + replacement + cursor[at + 1 :], kind, scope, size)
    with pytest.raises(InvalidCursorError):
        decode_cursor(cursor[:at], kind, scope, size)


def test_the_network_codec_round_trips_every_network() -> None:
    for network in (MAINNET, TESTNET, DEVNET, LocalChain(3).network):
        assert network_from_json(network_to_json(network)) == network


@pytest.mark.parametrize(
    "text", ["", "[]", '{"name": "x"}', '{"unknown_parameter": 1}', '{"magic": "zz"}'], ids=str
)
def test_malformed_network_parameters_are_corruption(text: str) -> None:
    with pytest.raises(CorruptStoreError):
        network_from_json(text)
