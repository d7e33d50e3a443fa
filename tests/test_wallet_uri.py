"""Payment URIs: the canonical form round-trips, parsing is strict, every error is typed and named."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from timecoin_core import DEVNET, MAINNET, MAX_MONEY, PrivateKey, TimecoinError, coins
from timecoin_core.wallet import (
    MAX_URI_LENGTH,
    PaymentRequest,
    PaymentUriError,
    WalletAddressError,
    WalletArgumentError,
    WalletTypeError,
)

ADDRESS = PrivateKey.from_seed(bytes([3]) * 32).address(MAINNET)
A = str(ADDRESS)


def test_parse_and_format() -> None:
    request = PaymentRequest.parse(f"timecoin:{A}?amount=12.5&label=Bob%27s%20shop&message=Order%20%2342", MAINNET)
    assert request == PaymentRequest(ADDRESS, coins("12.5"), "Bob's shop", "Order #42")
    assert request.amount == 1_250_000_000  # base units
    assert str(request) == f"timecoin:{A}?amount=12.5&label=Bob%27s%20shop&message=Order%20%2342"
    assert PaymentRequest.parse(f"timecoin:{A}", MAINNET) == PaymentRequest(ADDRESS)
    assert PaymentRequest.parse(f"TIMECOIN:{A}?amount=1", MAINNET).amount == coins("1")  # QR codes upper-case
    assert PaymentRequest.parse(f"timecoin:{A}?label=a+b", MAINNET).label == "a+b"  # + is a plus sign
    assert PaymentRequest.parse(f"timecoin:{A}?foo=bar&amount=2", MAINNET).amount == coins("2")  # unknown: ignored
    assert repr(request) == f"PaymentRequest({A}, 12.5 TIME, label=\"Bob's shop\", message='Order #42')"


@given(
    amount=st.one_of(st.none(), st.integers(1, MAX_MONEY)),
    label=st.one_of(st.none(), st.text(max_size=40)),
    message=st.one_of(st.none(), st.text(max_size=80)),
)
def test_round_trip(amount: int | None, label: str | None, message: str | None) -> None:
    try:
        request = PaymentRequest(ADDRESS, amount, label, message)
    except WalletArgumentError:
        assert any(s is not None and any(0xD800 <= ord(c) <= 0xDFFF for c in s) for s in (label, message))
        return
    text = request.format()
    assert PaymentRequest.parse(text, MAINNET) == request
    assert PaymentRequest.parse(text.replace("timecoin:", "TimeCoin:", 1), MAINNET) == request
    assert text.isascii() and " " not in text


@pytest.mark.parametrize(
    ("uri", "parameter"),
    [
        ("", "uri"),
        (A, "uri"),
        (f"bitcoin:{A}", "uri"),
        (f"timecoin://{A}", "uri"),
        (f"timecoin:{A}#frag", "uri"),
        (f"timecoin:{A}?amount=1&amount=2", "amount"),
        (f"timecoin:{A}?amount=", "amount"),
        (f"timecoin:{A}?amount", "amount"),
        (f"timecoin:{A}?amount=0", "amount"),
        (f"timecoin:{A}?amount=-1", "amount"),
        (f"timecoin:{A}?amount=1e3", "amount"),
        (f"timecoin:{A}?amount=1.123456789", "amount"),
        (f"timecoin:{A}?amount=01", "amount"),
        (f"timecoin:{A}?amount=1,5", "amount"),
        (f"timecoin:{A}?amount=10000000001", "amount"),
        (f"timecoin:{A}?label=%zz", "label"),
        (f"timecoin:{A}?label=%4", "label"),
        (f"timecoin:{A}?message=%ff", "message"),
        (f"timecoin:{A}?req-expires=5", "req-expires"),
        (f"timecoin:{A}?&amount=1", "uri"),
        (f"timecoin:{A}?=1", "uri"),
        (f"timecoin:{A}?amount=1&", "uri"),
        ("timecoin:" + "x" * (MAX_URI_LENGTH + 1), "uri"),
    ],
)
def test_strict_parsing(uri: str, parameter: str) -> None:
    with pytest.raises(PaymentUriError) as info:
        PaymentRequest.parse(uri, MAINNET)
    assert info.value.parameter == parameter
    assert isinstance(info.value, TimecoinError) and isinstance(info.value, ValueError)


def test_address_errors() -> None:
    for uri in ("timecoin:", "timecoin:TIME1junk", f"timecoin:{A[:-1]}?amount=1", f"timecoin: {A}"):
        with pytest.raises(WalletAddressError) as info:
            PaymentRequest.parse(uri, MAINNET)
        assert info.value.parameter == "address"
    with pytest.raises(WalletAddressError):
        PaymentRequest.parse(f"timecoin:{A}", DEVNET)  # a mainnet address on devnet


@given(junk=st.text(max_size=120))
def test_junk_raises_only_typed_errors(junk: str) -> None:
    for text in (junk, "timecoin:" + junk, f"timecoin:{A}?" + junk):
        with contextlib.suppress(WalletArgumentError):
            PaymentRequest.parse(text, MAINNET)


def test_wrong_types() -> None:
    with pytest.raises(WalletTypeError):
        PaymentRequest.parse(b"timecoin:x", MAINNET)  # type: ignore[arg-type]
    with pytest.raises(WalletTypeError):
        PaymentRequest.parse(f"timecoin:{A}", "mainnet")  # type: ignore[arg-type]
    with pytest.raises(WalletTypeError):
        PaymentRequest(A, 1)  # type: ignore[arg-type]
    with pytest.raises(WalletTypeError):
        PaymentRequest(ADDRESS, "1")  # type: ignore[arg-type]
    with pytest.raises(WalletTypeError):
        PaymentRequest(ADDRESS, 1, label=5)  # type: ignore[arg-type]
    with pytest.raises(WalletArgumentError):
        PaymentRequest(ADDRESS, 0)
