from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from timecoin_core.amount import (
    COIN,
    MAX_MONEY,
    check_amount,
    checked_add,
    checked_sub,
    checked_sum,
    coins,
    format_amount,
)
from timecoin_core.errors import AmountError, TimecoinError


def test_coins_parses_decimal_strings() -> None:
    assert coins("12.5") == 1_250_000_000
    assert coins("0.00000001") == 1
    assert coins("1") == COIN
    assert coins(3) == 3 * COIN
    assert coins("1000000000") == MAX_MONEY


@pytest.mark.parametrize(
    "text", ["", "-1", "1.", ".5", "01", "1e3", "1.000000001", " 1", "1_000", "+1", "1000000000.00000001", "NaN"]
)
def test_coins_rejects_malformed_or_out_of_range(text: str) -> None:
    with pytest.raises(AmountError):
        coins(text)


def test_amount_error_is_value_error_and_timecoin_error() -> None:
    with pytest.raises(ValueError):
        coins("x")
    assert issubclass(AmountError, TimecoinError)


def test_format_amount() -> None:
    assert format_amount(1_250_000_000) == "12.5"
    assert format_amount(0) == "0"
    assert format_amount(1) == "0.00000001"
    assert format_amount(MAX_MONEY) == "1000000000"


@given(st.integers(min_value=0, max_value=MAX_MONEY))
def test_format_then_parse_is_identity(units: int) -> None:
    assert coins(format_amount(units)) == units


def test_checked_arithmetic_never_wraps_or_goes_negative() -> None:
    assert checked_add(1, 2) == 3
    with pytest.raises(AmountError):
        checked_add(MAX_MONEY, 1)
    with pytest.raises(AmountError):
        checked_sub(1, 2)
    assert checked_sum([1, 2, 3]) == 6
    with pytest.raises(AmountError):
        checked_sum([MAX_MONEY, 1])
    with pytest.raises(AmountError):
        check_amount(-1)
    with pytest.raises(AmountError):
        check_amount(True)
    with pytest.raises(AmountError):
        check_amount(1.0)  # type: ignore[arg-type]
