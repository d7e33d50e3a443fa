from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from timecoin_core.codec import Reader, Writer, encode_varint, varint_size
from timecoin_core.errors import DecodeError


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_varint_round_trip_and_size(value: int) -> None:
    data = encode_varint(value)
    assert len(data) == varint_size(value)
    reader = Reader(data)
    assert reader.varint(2**64 - 1) == value
    reader.end()


@pytest.mark.parametrize(
    "data",
    [b"\xfd\xfc\x00", b"\xfe\xff\xff\x00\x00", b"\xff\xff\xff\xff\xff\x00\x00\x00\x00"],
)
def test_non_minimal_varints_are_rejected(data: bytes) -> None:
    with pytest.raises(DecodeError, match="non-minimal") as info:
        Reader(data).varint(2**64 - 1)
    assert info.value.offset == 0


def test_varint_maximum_is_checked_before_reading() -> None:
    with pytest.raises(DecodeError, match="exceeds maximum"):
        Reader(encode_varint(1_000_000)).var_bytes(100)


def test_trailing_bytes_rejected_with_offset() -> None:
    reader = Reader(b"\x01\x02")
    reader.u8()
    with pytest.raises(DecodeError) as info:
        reader.end()
    assert info.value.offset == 1
    assert "trailing" in info.value.reason


def test_truncation_reports_offset() -> None:
    with pytest.raises(DecodeError) as info:
        Reader(b"\x01\x02\x03").u64()
    assert info.value.offset == 0


@given(
    st.integers(0, 255),
    st.integers(0, 2**16 - 1),
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**64 - 1),
    st.binary(max_size=300),
)
def test_writer_reader_round_trip(a: int, b: int, c: int, d: int, blob: bytes) -> None:
    data = bytes(Writer().u8(a).u16(b).u32(c).u64(d).var_bytes(blob).raw(b"xy"))
    r = Reader(data)
    assert (r.u8(), r.u16(), r.u32(), r.u64(), r.var_bytes(300), r.raw(2)) == (a, b, c, d, blob, b"xy")
    r.end()


@given(st.binary(max_size=64))
def test_random_bytes_only_raise_decode_error(data: bytes) -> None:
    r = Reader(data)
    try:
        r.varint(1000)
        r.var_bytes(50)
        r.u32()
        r.end()
    except DecodeError:
        pass


def test_decode_error_survives_pickling() -> None:
    import pickle

    from timecoin_core.errors import DecodeError

    error = pickle.loads(pickle.dumps(DecodeError("truncated block", 3)))
    assert isinstance(error, DecodeError)
    assert (error.reason, error.offset, str(error)) == ("truncated block", 3, "truncated block at offset 3")
