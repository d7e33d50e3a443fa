"""verify_one: never raises on bytes, rejects every single-bit change, matches the reference."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from test_verify_reference import reference_verify

from timecoin_core.errors import TimecoinError
from timecoin_core.verify import (
    BACKENDS,
    UnknownBackendError,
    available_backends,
    verify_one,
)
from timecoin_core.verify.policy import SMALL_ORDER_ENCODINGS

BACKEND_PARAMS = [
    pytest.param(
        b, marks=pytest.mark.skipif(b not in available_backends(), reason=f"{b} not installed")
    )
    for b in BACKENDS
]


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
@settings(deadline=None)
@given(
    public_key=st.binary(max_size=80),
    message=st.binary(max_size=80),
    signature=st.binary(max_size=130),
)
def test_random_bytes_of_any_length_never_raise(
    backend: str, public_key: bytes, message: bytes, signature: bytes
) -> None:
    assert verify_one(public_key, message, signature, backend) is False


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
@settings(max_examples=50, deadline=None)
@given(
    public_key=st.one_of(
        st.binary(min_size=32, max_size=32), st.sampled_from(sorted(SMALL_ORDER_ENCODINGS))
    ),
    r=st.one_of(
        st.binary(min_size=32, max_size=32), st.sampled_from(sorted(SMALL_ORDER_ENCODINGS))
    ),
    s=st.one_of(
        st.binary(min_size=32, max_size=32),
        st.integers(0, 2**253).map(lambda n: n.to_bytes(32, "little")),
    ),
    message=st.binary(max_size=64),
)
def test_random_well_sized_inputs_match_the_reference(
    backend: str, public_key: bytes, r: bytes, s: bytes, message: bytes
) -> None:
    signature = r + s
    assert verify_one(public_key, message, signature, backend) is reference_verify(
        public_key, message, signature
    )


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
@settings(max_examples=60, deadline=None)
@given(
    seed=st.binary(min_size=32, max_size=32),
    message=st.binary(max_size=100),
    target=st.sampled_from(["public_key", "message", "signature"]),
    data=st.data(),
)
def test_any_single_bit_flip_invalidates_a_valid_signature(
    backend: str, seed: bytes, message: bytes, target: str, data: st.DataObject
) -> None:
    key = Ed25519PrivateKey.from_private_bytes(seed)
    public_key = key.public_key().public_bytes_raw()
    signature = key.sign(message)
    assert verify_one(public_key, message, signature, backend)
    if target == "message" and not message:
        message = b"\x00"  # flipping needs a bit; the empty message was checked above
        assert not verify_one(public_key, message, signature, backend)
        return
    fields = {"public_key": public_key, "message": message, "signature": signature}
    bit = data.draw(st.integers(0, len(fields[target]) * 8 - 1), label="bit")
    fields[target] = _flip(fields[target], bit)
    assert not verify_one(fields["public_key"], fields["message"], fields["signature"], backend)


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_rfc8032_test_1(backend: str) -> None:
    pk = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    sig = bytes.fromhex(
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555"
        "fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    )
    assert verify_one(pk, b"", sig, backend) is True


def test_default_backend_is_cryptography() -> None:
    assert BACKENDS[0] == "cryptography"
    assert available_backends()[0] == "cryptography"


def test_unknown_backend_is_a_typed_value_error() -> None:
    with pytest.raises(UnknownBackendError) as info:
        verify_one(b"k" * 32, b"m", b"s" * 64, backend="openssl")
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, TimecoinError)
    assert "openssl" in str(info.value)


@pytest.mark.parametrize("value", ["text", 12, None, [1, 2]])
def test_non_bytes_like_arguments_raise_type_error(value: object) -> None:
    with pytest.raises(TypeError):
        verify_one(value, b"m", b"s" * 64)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        verify_one(b"k" * 32, value, b"s" * 64)  # type: ignore[arg-type]
