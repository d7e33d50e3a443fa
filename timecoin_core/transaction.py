"""Transactions: outpoints, inputs with witnesses, outputs, and their canonical encoding.

Encoding (docs/protocol.md, "Transactions")::

    base    = version:u32 | n_in:varint | (txid:32 | index:u32) * n_in
              | n_out:varint | (amount:u64 | payload:20) * n_out
              | lock_time:u32 | memo:varbytes(<= MAX_MEMO)
    witness = (public_key:32 | signature:64) * n_in
    tx      = base | witness

``txid = tagged_hash(TXID, base)``: it never covers witnesses, so re-signing cannot
change a txid. ``wtxid = tagged_hash(WTXID, tx)`` covers everything.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple

from .amount import MAX_MONEY, check_amount, format_amount
from .codec import encode_varint
from .errors import DecodeError, InvalidArgumentError
from .hashing import _PREFIXES, Tag, tagged_hash
from .network import Network

__all__ = [
    "MAX_MEMO",
    "MAX_TX_INPUTS",
    "MAX_TX_OUTPUTS",
    "MAX_TX_SIZE",
    "OutPoint",
    "Transaction",
    "TxIn",
    "TxOut",
]

MAX_TX_INPUTS: Final = 1_000
MAX_TX_OUTPUTS: Final = 1_000
MAX_MEMO: Final = 80
MAX_TX_SIZE: Final = 1_000_000
TX_VERSION: Final = 1

EMPTY_PUBKEY: Final = bytes(32)
EMPTY_SIGNATURE: Final = bytes(64)

_OUTPOINT = struct.Struct("<32sI")
_TXOUT = struct.Struct("<Q20s")
_WITNESS = struct.Struct("<32s64s")
_U32 = struct.Struct("<I")
_SIGHASH = struct.Struct("<I32sIQ20s")
# tagged_hash(tag, data) is the tag's prefix state, copied and fed ``data``. Holding
# the states here skips a call and a lookup keyed by an Enum, whose hash is a Python
# call, on every txid and sighash: the same bytes.
_TXID_PREFIX: Final = _PREFIXES[Tag.TXID]
_SIGHASH_PREFIX: Final = _PREFIXES[Tag.SIGHASH]


class _OutPointFields(NamedTuple):
    txid: bytes
    index: int  # type: ignore[assignment]  # shadows tuple.index, as the field must be named


class OutPoint(_OutPointFields):
    """A reference to output ``index`` of transaction ``txid``. Orders by (txid, index).

    A frozen value: an immutable pair, validated when constructed.
    """

    # A tuple underneath (not a dataclass) because outpoints key every UTXO and pool
    # dict: tuple hashing, equality and ordering run in C, where a dataclass's
    # generated __hash__/__eq__ are Python calls, several per admitted transaction.
    # Ordering by (txid, index) is exactly tuple ordering.
    __slots__ = ()

    def __new__(cls, txid: bytes, index: int) -> OutPoint:
        if type(txid) is not bytes or len(txid) != 32:
            raise InvalidArgumentError("txid", "OutPoint.txid must be 32 bytes")
        if type(index) is not int or not 0 <= index <= 0xFFFFFFFF:
            raise InvalidArgumentError("index", "OutPoint.index must be a u32")
        return _tuple_new(cls, (txid, index))

    def to_bytes(self) -> bytes:
        """The 36-byte encoding: txid | index:u32."""
        return _OUTPOINT.pack(self[0], self[1])

    @classmethod
    def from_bytes(cls, data: bytes) -> OutPoint:
        """Decode exactly 36 bytes."""
        if len(data) != _OUTPOINT.size:
            raise DecodeError(f"outpoint must be {_OUTPOINT.size} bytes, got {len(data)}", 0)
        txid, index = _OUTPOINT.unpack(data)
        return cls(txid, index)

    def __str__(self) -> str:
        return f"{self[0].hex()}:{self[1]}"

    def __repr__(self) -> str:
        return f"OutPoint({self[0].hex()}:{self[1]})"

    # Immutable all the way down (bytes and int): a copy is the value itself, which
    # keeps deep copies of pools and chains (LocalChain snapshots) cheap.
    def __copy__(self) -> OutPoint:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> OutPoint:
        return self


_tuple_new = tuple.__new__


@dataclass(frozen=True, slots=True)
class TxOut:
    """An output: ``amount`` base units payable to the key whose payload is ``payload``."""

    amount: int
    payload: bytes

    def __repr__(self) -> str:
        return f"TxOut({format_amount(self.amount)} TIME to {self.payload.hex()})"

    def __post_init__(self) -> None:
        check_amount(self.amount)
        if type(self.payload) is not bytes or len(self.payload) != 20:
            raise InvalidArgumentError("payload", "TxOut.payload must be 20 bytes")

    def to_bytes(self) -> bytes:
        """The 28-byte encoding: amount:u64 | payload."""
        return _TXOUT.pack(self.amount, self.payload)

    @classmethod
    def from_bytes(cls, data: bytes) -> TxOut:
        """Decode exactly 28 bytes."""
        if len(data) != _TXOUT.size:
            raise DecodeError(f"output must be {_TXOUT.size} bytes, got {len(data)}", 0)
        amount, payload = _TXOUT.unpack(data)
        if amount > MAX_MONEY:
            raise DecodeError("amount exceeds MAX_MONEY", 0)
        return cls(amount, payload)


@dataclass(frozen=True, slots=True)
class TxIn:
    """An input: the outpoint it spends and its witness (public key and signature)."""

    outpoint: OutPoint
    public_key: bytes = EMPTY_PUBKEY
    signature: bytes = EMPTY_SIGNATURE

    def __post_init__(self) -> None:
        if type(self.public_key) is not bytes or len(self.public_key) != 32:
            raise InvalidArgumentError("public_key", "TxIn.public_key must be 32 bytes")
        if type(self.signature) is not bytes or len(self.signature) != 64:
            raise InvalidArgumentError("signature", "TxIn.signature must be 64 bytes")


# The slots' own setters: a frozen dataclass's __setattr__ refuses, and going around it
# with object.__setattr__ per field costs twice as much on every decoded value.
_SET_OUTPOINT, _SET_PUBLIC_KEY, _SET_SIGNATURE = (
    TxIn.__dict__[name].__set__ for name in ("outpoint", "public_key", "signature")
)
_SET_AMOUNT, _SET_PAYLOAD = (TxOut.__dict__[name].__set__ for name in ("amount", "payload"))


def _new_txin(outpoint: OutPoint, public_key: bytes, signature: bytes) -> TxIn:
    # Decoded fields are already checked by the decoder; skip __post_init__.
    txin: TxIn = object.__new__(TxIn)
    _SET_OUTPOINT(txin, outpoint)
    _SET_PUBLIC_KEY(txin, public_key)
    _SET_SIGNATURE(txin, signature)
    return txin


def _new_outpoint(txid: bytes, index: int) -> OutPoint:
    # For fields already checked (decoded, or a txid and an index known to be valid).
    return _tuple_new(OutPoint, (txid, index))


def _new_txout(amount: int, payload: bytes) -> TxOut:
    txout: TxOut = object.__new__(TxOut)
    _SET_AMOUNT(txout, amount)
    _SET_PAYLOAD(txout, payload)
    return txout


class Transaction:
    """A transaction: a frozen value with a canonical encoding.

    Construct with :class:`~timecoin_core.builder.TransactionBuilder` to get it signed,
    or directly for tests. Equality and hashing follow the full encoding (``wtxid``).
    """

    __slots__ = ("_base_size", "_encoded", "_txid", "inputs", "lock_time", "memo", "outputs", "version")

    version: int
    inputs: tuple[TxIn, ...]
    outputs: tuple[TxOut, ...]
    lock_time: int
    memo: bytes
    _encoded: bytes
    _base_size: int
    _txid: bytes

    def __init__(
        self,
        inputs: Sequence[TxIn],
        outputs: Sequence[TxOut],
        lock_time: int = 0,
        memo: bytes = b"",
        version: int = TX_VERSION,
    ) -> None:
        if not 0 <= version <= 0xFFFFFFFF or not 0 <= lock_time <= 0xFFFFFFFF:
            raise InvalidArgumentError("version" if not 0 <= version <= 0xFFFFFFFF else "lock_time", "version and lock_time must be u32")
        if type(memo) is not bytes or len(memo) > MAX_MEMO:
            raise InvalidArgumentError("memo", f"memo must be bytes of at most {MAX_MEMO}")
        if len(inputs) > MAX_TX_INPUTS or len(outputs) > MAX_TX_OUTPUTS:
            raise InvalidArgumentError("inputs" if len(inputs) > MAX_TX_INPUTS else "outputs", f"at most {MAX_TX_INPUTS} inputs and {MAX_TX_OUTPUTS} outputs")
        if not all(isinstance(i, TxIn) for i in inputs) or not all(isinstance(o, TxOut) for o in outputs):
            raise InvalidArgumentError("inputs" if not all(isinstance(i, TxIn) for i in inputs) else "outputs", "inputs must be TxIn and outputs TxOut")
        parts = [_U32.pack(version), encode_varint(len(inputs))]
        parts += [_OUTPOINT.pack(i.outpoint.txid, i.outpoint.index) for i in inputs]
        parts.append(encode_varint(len(outputs)))
        parts += [_TXOUT.pack(o.amount, o.payload) for o in outputs]
        parts += [_U32.pack(lock_time), encode_varint(len(memo)), memo]
        base = b"".join(parts)
        encoded = base + b"".join(i.public_key + i.signature for i in inputs)
        self._init(version, tuple(inputs), tuple(outputs), lock_time, memo, encoded, len(base))

    def _init(
        self,
        version: int,
        inputs: tuple[TxIn, ...],
        outputs: tuple[TxOut, ...],
        lock_time: int,
        memo: bytes,
        encoded: bytes,
        base_size: int,
    ) -> None:
        # Straight to the slots (__setattr__ refuses): this runs for every decoded tx.
        _SET_TX_VERSION(self, version)
        _SET_TX_INPUTS(self, inputs)
        _SET_TX_OUTPUTS(self, outputs)
        _SET_TX_LOCK_TIME(self, lock_time)
        _SET_TX_MEMO(self, memo)
        _SET_TX_ENCODED(self, encoded)
        _SET_TX_BASE_SIZE(self, base_size)
        h = _TXID_PREFIX.copy()
        h.update(encoded[:base_size])
        _SET_TX_TXID(self, h.digest())

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Transaction is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Transaction is immutable")

    # -- identity -------------------------------------------------------------------------

    @property
    def txid(self) -> bytes:
        """Tagged hash of the encoding without witnesses."""
        return self._txid

    @property
    def wtxid(self) -> bytes:
        """Tagged hash of the full encoding, witnesses included."""
        return tagged_hash(Tag.WTXID, self._encoded)

    @property
    def size(self) -> int:
        """Size in bytes of the full encoding (what fees are charged on)."""
        return len(self._encoded)

    @property
    def base_size(self) -> int:
        """Size in bytes of the encoding without witnesses."""
        return self._base_size

    def to_bytes(self) -> bytes:
        """The canonical encoding."""
        return self._encoded

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Transaction):
            return NotImplemented
        return self._encoded == other._encoded

    def __hash__(self) -> int:
        return hash(self._encoded)

    def __repr__(self) -> str:
        return f"Transaction(txid={self.txid.hex()}, inputs={len(self.inputs)}, outputs={len(self.outputs)})"

    def __reduce__(self) -> tuple[object, tuple[bytes]]:
        return (Transaction.from_bytes, (self._encoded,))

    def outpoint(self, index: int) -> OutPoint:
        """The outpoint of this transaction's output ``index``."""
        if not 0 <= index < len(self.outputs):
            raise IndexError(f"transaction has {len(self.outputs)} outputs, not {index + 1}")
        return OutPoint(self.txid, index)

    def output_total(self) -> int:
        """Sum of the outputs (checked: a decoded transaction can still overflow MAX_MONEY)."""
        total = sum(o.amount for o in self.outputs)
        return check_amount(total)

    # -- signing --------------------------------------------------------------------------

    def sighash(self, index: int, spent_output: TxOut, network: Network) -> bytes:
        """The message input ``index`` signs.

        ``tagged_hash(SIGHASH, chain_id:u32 | txid | index:u32 | amount:u64 | payload)``:
        it commits to the network, the whole transaction (through the txid) and the
        output being spent, so a signer knows exactly what it is spending.
        """
        if not 0 <= index < len(self.inputs):
            raise IndexError(f"transaction has {len(self.inputs)} inputs, not {index + 1}")
        return sighash(network.chain_id, self.txid, index, spent_output)

    def with_witnesses(self, witnesses: Sequence[tuple[bytes, bytes]]) -> Transaction:
        """A copy with input ``i``'s (public_key, signature) replaced by ``witnesses[i]``."""
        if len(witnesses) != len(self.inputs):
            raise InvalidArgumentError("witnesses", f"need {len(self.inputs)} witnesses, got {len(witnesses)}")
        inputs = [TxIn(i.outpoint, pk, sig) for i, (pk, sig) in zip(self.inputs, witnesses, strict=True)]
        return Transaction(inputs, self.outputs, self.lock_time, self.memo, self.version)

    # -- decoding -------------------------------------------------------------------------

    @classmethod
    def from_bytes(cls, data: bytes) -> Transaction:
        """Decode a canonical encoding; anything else raises :class:`DecodeError`."""
        if not isinstance(data, bytes):
            if isinstance(data, bytearray | memoryview):
                data = bytes(data)
            else:
                raise InvalidArgumentError("data", f"expected bytes, not {type(data).__name__}")
        tx, end = decode_transaction(data, 0)
        if end != len(data):
            raise DecodeError(f"{len(data) - end} trailing bytes", end)
        return tx


(
    _SET_TX_VERSION,
    _SET_TX_INPUTS,
    _SET_TX_OUTPUTS,
    _SET_TX_LOCK_TIME,
    _SET_TX_MEMO,
    _SET_TX_ENCODED,
    _SET_TX_BASE_SIZE,
    _SET_TX_TXID,
) = (
    Transaction.__dict__[name].__set__
    for name in ("version", "inputs", "outputs", "lock_time", "memo", "_encoded", "_base_size", "_txid")
)

# prefix byte -> (width of the value that follows, smallest value that needs this form)
_VARINT_FORMS: Final = {0xFD: (2, 0xFD), 0xFE: (4, 0x10000), 0xFF: (8, 0x100000000)}


def _read_varint(data: bytes, pos: int, maximum: int, what: str) -> tuple[int, int]:
    n = len(data)
    if pos >= n:
        raise DecodeError(f"truncated {what}", pos)
    first = data[pos]
    if first < 0xFD:
        value, end = first, pos + 1
    else:
        width, smallest = _VARINT_FORMS[first]
        end = pos + 1 + width
        if end > n:
            raise DecodeError(f"truncated {what}", pos)
        value = int.from_bytes(data[pos + 1 : end], "little")
        if value < smallest:
            raise DecodeError(f"non-minimal {what}", pos)
    if value > maximum:
        raise DecodeError(f"{what} {value} exceeds maximum {maximum}", pos)
    return value, end


def decode_transaction(data: bytes, pos: int) -> tuple[Transaction, int]:
    """Decode one transaction starting at ``pos``; return it and the offset after it.

    Used by containers (blocks, wire messages) that embed transactions.
    """
    start = pos
    n = len(data)
    if pos + 4 > n:
        raise DecodeError("truncated transaction version", pos)
    (version,) = _U32.unpack_from(data, pos)
    pos += 4
    # Counts and memo lengths are almost always one varint byte, within every maximum
    # (252 < MAX_TX_INPUTS, MAX_TX_OUTPUTS): read those inline, anything else (longer
    # forms, errors) through _read_varint.
    if pos < n and data[pos] < 0xFD:
        n_in = data[pos]
        pos += 1
    else:
        n_in, pos = _read_varint(data, pos, MAX_TX_INPUTS, "input count")
    end = pos + 36 * n_in
    if end > n:
        raise DecodeError("truncated inputs", pos)
    # Decoded fields are in range by construction: no validation needed.
    outpoints = [_tuple_new(OutPoint, pair) for pair in _unpack_outpoints(data, pos, n_in)]
    pos = end
    if pos < n and data[pos] < 0xFD:
        n_out = data[pos]
        pos += 1
    else:
        n_out, pos = _read_varint(data, pos, MAX_TX_OUTPUTS, "output count")
    end = pos + 28 * n_out
    if end > n:
        raise DecodeError("truncated outputs", pos)
    outputs = []
    for k in range(n_out):
        amount, payload = _TXOUT.unpack_from(data, pos + 28 * k)
        if amount > MAX_MONEY:
            raise DecodeError("output amount exceeds MAX_MONEY", pos + 28 * k)
        outputs.append(_new_txout(amount, payload))
    pos = end
    if pos + 4 > n:
        raise DecodeError("truncated lock_time", pos)
    (lock_time,) = _U32.unpack_from(data, pos)
    pos += 4
    if pos < n and data[pos] <= MAX_MEMO:
        memo_len = data[pos]
        pos += 1
    else:
        memo_len, pos = _read_varint(data, pos, MAX_MEMO, "memo length")
    if pos + memo_len > n:
        raise DecodeError("truncated memo", pos)
    memo = data[pos : pos + memo_len]
    pos += memo_len
    base_end = pos
    end = pos + 96 * n_in
    if end > n:
        raise DecodeError("truncated witnesses", pos)
    inputs = tuple(
        _new_txin(op, *_WITNESS.unpack_from(data, pos + 96 * k)) for k, op in enumerate(outpoints)
    )
    if end - start > MAX_TX_SIZE:
        raise DecodeError(f"transaction larger than {MAX_TX_SIZE} bytes", start)
    tx = object.__new__(Transaction)
    encoded = data if start == 0 and end == n else data[start:end]
    tx._init(version, inputs, tuple(outputs), lock_time, memo, encoded, base_end - start)
    return tx, end


def _unpack_outpoints(data: bytes, pos: int, count: int) -> list[tuple[bytes, int]]:
    unpack = _OUTPOINT.unpack_from
    return [unpack(data, pos + 36 * k) for k in range(count)]


def sighash(chain_id: int, txid: bytes, index: int, spent_output: TxOut) -> bytes:
    """The signature hash of input ``index`` of transaction ``txid`` (see :meth:`Transaction.sighash`)."""
    h = _SIGHASH_PREFIX.copy()
    h.update(_SIGHASH.pack(chain_id, txid, index, spent_output.amount, spent_output.payload))
    return h.digest()
