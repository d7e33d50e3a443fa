"""An independent, pure-Python statement of the signature policy, and the policy's tables.

``reference_verify`` is the policy written out the slow way, straight from RFC 8032
section 5.1 with curve arithmetic instead of byte tables: strict point decoding
(section 5.1.3: y < p, and no x = 0 with the sign bit set), S < L, small order tested
as ``[8]P == identity``, then the cofactorless equation ``[S]B == R + [k]A`` compared
as encodings. The fast policy in :mod:`timecoin_core.verify.policy` and every backend
must agree with it; ``test_verify_vectors`` checks that on all 1,082 vectors.
"""

from __future__ import annotations

import hashlib

import pytest

from timecoin_core.verify import policy

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)

Point = tuple[int, int, int, int]  # extended coordinates (X, Y, Z, T), x = X/Z, y = Y/Z
IDENTITY: Point = (0, 1, 1, 0)


def _add(p: Point, q: Point) -> Point:
    # RFC 8032 section 5.1.4, complete addition for a = -1.
    a = (p[1] - p[0]) * (q[1] - q[0]) % P
    b = (p[1] + p[0]) * (q[1] + q[0]) % P
    c = 2 * p[3] * q[3] * D % P
    d = 2 * p[2] * q[2] % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _double(p: Point) -> Point:
    a = p[0] * p[0] % P
    b = p[1] * p[1] % P
    c = 2 * p[2] * p[2] % P
    h = a + b
    e = h - (p[0] + p[1]) ** 2
    g = a - b
    f = c + g
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _negate(p: Point) -> Point:
    return (-p[0] % P, p[1], p[2], -p[3] % P)


def _equal(p: Point, q: Point) -> bool:
    return (p[0] * q[2] - q[0] * p[2]) % P == 0 and (p[1] * q[2] - q[1] * p[2]) % P == 0


def _recover_x(y: int, sign: int) -> int | None:
    # RFC 8032 section 5.1.3 steps 1-4.
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P:
        return None
    if x & 1 != sign:
        x = P - x
    return x


def decode_point(data: bytes) -> Point | None:
    """The point ``data`` encodes, or None if it is not a canonical encoding of a point."""
    n = int.from_bytes(data, "little")
    y, sign = n & ((1 << 255) - 1), n >> 255
    x = _recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % P)


def encode_point(p: Point) -> bytes:
    """The canonical 32-byte encoding of ``p``."""
    zinv = pow(p[2], P - 2, P)
    x, y = p[0] * zinv % P, p[1] * zinv % P
    return (y | (x & 1) << 255).to_bytes(32, "little")


BASE = decode_point((4 * pow(5, P - 2, P) % P).to_bytes(32, "little"))
assert BASE is not None


def _base_table() -> list[Point]:
    assert BASE is not None
    table = [BASE]
    for _ in range(252):
        table.append(_double(table[-1]))
    return table


_BASE_POWERS = _base_table()


def _double_scalar_mult(s: int, k: int, a: Point) -> Point:
    """``[s]B + [k]A`` with precomputed powers of B and a shared chain for A."""
    result = IDENTITY
    for i in range(s.bit_length()):
        if s >> i & 1:
            result = _add(result, _BASE_POWERS[i])
    acc = IDENTITY
    for i in reversed(range(k.bit_length())):
        acc = _double(acc)
        if k >> i & 1:
            acc = _add(acc, a)
    return _add(result, acc)


def has_small_order(p: Point) -> bool:
    """True when ``[8]p`` is the identity: ``p`` is one of the 8 small-order points."""
    return _equal(_double(_double(_double(p))), IDENTITY)


def reference_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """The protocol's verdict, computed from the curve equations (slow, for tests)."""
    if len(public_key) != 32 or len(signature) != 64:
        return False
    a = decode_point(public_key)
    r = decode_point(signature[:32])
    if a is None or r is None or has_small_order(a) or has_small_order(r):
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= L:
        return False
    k = int.from_bytes(hashlib.sha512(signature[:32] + public_key + message).digest(), "little") % L
    # -[k]A, not [L - k]A: the two differ when A has a small-order component.
    return encode_point(_double_scalar_mult(s, k, _negate(a))) == signature[:32]


def _small_order_points() -> list[Point]:
    # The torsion subgroup is cyclic of order 8; find a generator by trying small y.
    for y in range(2, 1000):
        for sign in (0, 1):
            x = _recover_x(y, sign)
            if x is None:
                continue
            p = (x, y, 1, x * y % P)
            t = _double_scalar_mult(0, L, p)  # [L]p kills the prime-order part
            if not _equal(_double(_double(t)), IDENTITY):
                points = [IDENTITY]
                for _ in range(7):
                    points.append(_add(points[-1], t))
                return points
    raise AssertionError("no point with a torsion component of order 8 found")


def test_small_order_table_is_the_8_torsion_points() -> None:
    derived = {encode_point(p) for p in _small_order_points()}
    assert len(derived) == 8
    assert derived == policy.SMALL_ORDER_ENCODINGS
    for enc in derived:
        point = decode_point(enc)
        assert point is not None and has_small_order(point)


def test_non_canonical_table_is_every_encoding_strict_decoding_refuses_by_range() -> None:
    # 2^255 - 19 <= y < 2^255 (19 values, both sign bits) and the two x = 0 points with
    # the sign bit set: exactly what RFC 8032 section 5.1.3 refuses for being out of
    # range or having no x of that sign, as opposed to having no x at all.
    expected = set()
    for y in range(P, 2**255):
        for sign in (0, 1):
            expected.add((y | sign << 255).to_bytes(32, "little"))
    for y in (1, P - 1):
        assert _recover_x(y, 0) == 0
        assert _recover_x(y, 1) is None
        expected.add((y | 1 << 255).to_bytes(32, "little"))
    assert expected == policy.NON_CANONICAL_ENCODINGS
    assert len(policy.REJECTED_POINT_ENCODINGS) == 48
    for enc in expected:
        assert decode_point(enc) is None


def test_group_order_constant() -> None:
    assert policy.GROUP_ORDER == L
    assert _equal(_double_scalar_mult(L, 0, IDENTITY), IDENTITY)


@pytest.mark.parametrize(
    ("s", "admissible"),
    [
        (0, True),
        (L - 1, True),
        (L, False),
        (L + 1, False),
        (2**252 - 1, True),
        (2**253, False),
        (2**256 - 1, False),
        (L + 2**248, False),
    ],
)
def test_s_bound(s: int, admissible: bool) -> None:
    good_point = encode_point(_BASE_POWERS[1])
    signature = good_point + s.to_bytes(32, "little")
    assert policy.admissible(good_point, signature) is admissible


def test_reference_accepts_rfc8032_test_1() -> None:
    pk = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    sig = bytes.fromhex(
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555"
        "fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    )
    assert reference_verify(pk, b"", sig)
    assert not reference_verify(pk, b"x", sig)
