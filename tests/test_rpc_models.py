"""The RPC models: cursors round-trip, percentiles are ordered, hashes parse strictly."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from timecoin_core.network import DEVNET
from timecoin_core.transaction import OutPoint
from timecoin_net.rpc.models import LatencySummary, ListUnspentParams, TxidParams, UnspentPage


@given(st.binary(min_size=32, max_size=32), st.integers(0, 0xFFFFFFFF))
def test_the_next_cursor_of_a_page_is_the_outpoint_it_names(txid: bytes, index: int) -> None:
    page = UnspentPage.of([], OutPoint(txid, index), DEVNET)
    assert page.next_cursor is not None
    params = ListUnspentParams.model_validate({"address": "TIME0x", "cursor": page.next_cursor})
    assert params.after() == OutPoint(txid, index)


@given(st.lists(st.floats(0, 1e6, allow_nan=False), max_size=200))
def test_latency_percentiles_are_samples_in_order(samples: list[float]) -> None:
    summary = LatencySummary.of(samples)
    assert summary.count == len(samples)
    if not samples:
        assert summary.p50 is None and summary.max is None
        return
    assert summary.p50 is not None and summary.p90 is not None and summary.p99 is not None and summary.max is not None
    assert summary.p50 <= summary.p90 <= summary.p99 <= summary.max == max(samples)
    assert {summary.p50, summary.p90, summary.p99} <= set(samples)


@given(st.text(max_size=80))
def test_a_txid_is_exactly_64_hex_digits(text: str) -> None:
    try:
        bytes.fromhex(text)
        valid = len(text) == 64
    except ValueError:
        valid = False
    if valid:
        assert TxidParams.model_validate({"txid": text}).txid == bytes.fromhex(text)
    else:
        with pytest.raises(ValidationError):
            TxidParams.model_validate({"txid": text})
