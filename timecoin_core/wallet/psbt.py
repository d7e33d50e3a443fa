"""Partially signed transactions: what an offline or co-signer needs, and nothing secret.

Theory of operation
-------------------
A :class:`PartiallySignedTransaction` (PST) is an unsigned transaction plus, for every
input, the output it spends (amount and address payload) and that input's witness
once someone has signed it. A signer that holds only keys can therefore show what it
is asked to approve (each recipient, each amount, the fee) before signing: the
sighash commits to the spent amount and payload, so a PST that lies about them only
yields signatures the network rejects.

Life cycle: :meth:`PartiallySignedTransaction.from_plan` (or :meth:`create`) makes
one with no signatures; :meth:`sign` (or :meth:`Wallet.sign_psbt
<timecoin_core.wallet.Wallet.sign_psbt>`) adds the signatures one key can make;
:meth:`combine` merges PSTs of the same transaction signed by different parties;
:meth:`finalize` returns the signed :class:`~timecoin_core.transaction.Transaction`
once every input is signed. Every signature is checked when it is added or decoded,
so a PST never holds a signature that does not verify.

Encoding (canonical codec, docs/wallet.md "Partially signed transactions")::

    magic         4 bytes   b"TPST"
    version       u8        1
    chain_id      u32
    transaction   varint length + the transaction's encoding, every witness zero
    per input, in input order:
      amount      u64       the spent output's amount
      payload     20 bytes  the spent output's address payload
      signed      u8        0 (no witness) or 1 (witness follows)
      public_key  32 bytes  } only when signed = 1
      signature   64 bytes  }

Decoding consumes every byte and raises :class:`~timecoin_core.errors.DecodeError`
for anything that is not this encoding; a PST for another chain raises
:class:`PsbtNetworkError`, an invalid signature :class:`PartialSignatureError`.
:meth:`to_base64` wraps the bytes in standard base64 for copy and paste.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from ..amount import MAX_MONEY, format_amount
from ..codec import Reader, Writer
from ..errors import DecodeError, TimecoinError
from ..keys import Address, PrivateKey, address_payload
from ..network import Network
from ..transaction import EMPTY_PUBKEY, EMPTY_SIGNATURE, MAX_TX_SIZE, Transaction, TxOut
from ..verify import verify_one
from .errors import WalletArgumentError, WalletError, WalletTypeError, format_units

if TYPE_CHECKING:
    from .wallet import TransactionPlan

__all__ = [
    "PSBT_MAGIC",
    "PSBT_VERSION",
    "PartialSignatureError",
    "PartiallySignedTransaction",
    "PsbtError",
    "PsbtIncompleteError",
    "PsbtMismatchError",
    "PsbtNetworkError",
]

PSBT_MAGIC: Final = b"TPST"
PSBT_VERSION: Final = 1

Witness = tuple[bytes, bytes]
_KeyLookup = Callable[[bytes], "PrivateKey | None"]


class PsbtError(WalletError):
    """Something a partially signed transaction cannot do as asked."""


class PsbtNetworkError(PsbtError):
    """A partially signed transaction for another chain than the one expected."""


class PsbtMismatchError(PsbtError):
    """Partially signed transactions to combine are not of the same transaction and spent outputs."""


class PsbtIncompleteError(PsbtError):
    """:meth:`PartiallySignedTransaction.finalize` with inputs still unsigned; ``missing`` lists them."""

    def __init__(self, missing: Sequence[int]) -> None:
        super().__init__(f"inputs {', '.join(map(str, missing))} are not signed yet")
        self.missing = tuple(missing)


class PartialSignatureError(PsbtError):
    """A signature that does not verify for its input, or a key that does not own the spent output."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(f"input {index}: {reason}")
        self.index = index


def _check_witness(tx: Transaction, spent: TxOut, index: int, witness: Witness, network: Network) -> None:
    public_key, signature = witness
    if address_payload(public_key) != spent.payload:
        raise PartialSignatureError(index, "the public key does not own the spent output")
    if not verify_one(public_key, tx.sighash(index, spent, network), signature):
        raise PartialSignatureError(index, "the signature does not verify")


@dataclass(frozen=True, slots=True, repr=False)
class PartiallySignedTransaction:
    """An unsigned transaction, the outputs its inputs spend, and the witnesses made so far.

    ``spent[i]`` is the output input ``i`` spends; ``witnesses[i]`` is its
    ``(public_key, signature)`` or None. Construction checks all of it (module
    docstring); use :meth:`create` or :meth:`from_plan` rather than the constructor.
    """

    network: Network
    transaction: Transaction
    spent: tuple[TxOut, ...]
    witnesses: tuple[Witness | None, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.network, Network):
            raise WalletTypeError("network", "a Network", self.network)
        tx = self.transaction
        if not isinstance(tx, Transaction):
            raise WalletTypeError("transaction", "a Transaction", tx)
        if any(i.public_key != EMPTY_PUBKEY or i.signature != EMPTY_SIGNATURE for i in tx.inputs):
            raise WalletArgumentError("transaction", "must be unsigned (every witness zero)")
        if not tx.inputs:
            raise WalletArgumentError("transaction", "has no inputs")
        object.__setattr__(self, "spent", tuple(self.spent))
        object.__setattr__(self, "witnesses", tuple(self.witnesses))
        if len(self.spent) != len(tx.inputs) or len(self.witnesses) != len(tx.inputs):
            raise WalletArgumentError("spent", f"need one spent output and one witness slot per input ({len(tx.inputs)})")
        for out in self.spent:
            if not isinstance(out, TxOut):
                raise WalletTypeError("spent", "TxOut values", out)
        total_in = sum(out.amount for out in self.spent)
        if total_in > MAX_MONEY:
            raise WalletArgumentError("spent", "the spent outputs exceed MAX_MONEY")
        if tx.output_total() > total_in:
            raise WalletArgumentError("spent", "the outputs spend more than the inputs hold")
        for index, witness in enumerate(self.witnesses):
            if witness is None:
                continue
            if (
                not isinstance(witness, tuple)
                or len(witness) != 2
                or type(witness[0]) is not bytes
                or type(witness[1]) is not bytes
                or len(witness[0]) != 32
                or len(witness[1]) != 64
            ):
                raise WalletTypeError(f"witnesses[{index}]", "None or (32-byte public key, 64-byte signature)", witness)
            _check_witness(tx, self.spent[index], index, witness, self.network)

    # -- making one ---------------------------------------------------------------------

    @classmethod
    def create(cls, transaction: Transaction, spent: Iterable[TxOut], network: Network) -> PartiallySignedTransaction:
        """An unsigned PST of ``transaction`` (witnesses zero), whose input ``i`` spends ``spent[i]``."""
        spent = tuple(spent)
        return cls(network, transaction, spent, (None,) * len(spent))

    @classmethod
    def from_plan(cls, plan: TransactionPlan) -> PartiallySignedTransaction:
        """The unsigned PST of a :class:`~timecoin_core.wallet.TransactionPlan`."""
        return cls.create(plan.transaction, (coin.output for coin in plan.coins), plan.network)

    # -- what it does -------------------------------------------------------------------

    @property
    def txid(self) -> bytes:
        """The txid the signed transaction will have (signing never changes it)."""
        return self.transaction.txid

    @property
    def input_total(self) -> int:
        """What the inputs spend together."""
        return sum(out.amount for out in self.spent)

    @property
    def fee(self) -> int:
        """What the transaction pays: the inputs minus the outputs."""
        return self.input_total - self.transaction.output_total()

    def recipients(self) -> tuple[tuple[Address, int], ...]:
        """Every output as ``(address, amount)`` on this PST's network, in output order."""
        digit = self.network.address_digit
        return tuple((Address(out.payload, digit), out.amount) for out in self.transaction.outputs)

    def sighash(self, index: int) -> bytes:
        """The message input ``index``'s key signs."""
        return self.transaction.sighash(index, self.spent[index], self.network)

    @property
    def missing(self) -> tuple[int, ...]:
        """The indices of the inputs not signed yet."""
        return tuple(i for i, w in enumerate(self.witnesses) if w is None)

    @property
    def is_complete(self) -> bool:
        """True when every input is signed."""
        return all(w is not None for w in self.witnesses)

    # -- signing ------------------------------------------------------------------------

    def add_signature(self, index: int, public_key: bytes, signature: bytes) -> PartiallySignedTransaction:
        """A copy with input ``index`` signed by ``(public_key, signature)``; checked like every witness."""
        if type(index) is not int:
            raise WalletTypeError("index", "an int", index)
        if not 0 <= index < len(self.witnesses):
            raise WalletArgumentError("index", f"must be in 0..{len(self.witnesses) - 1}, not {index}")
        witnesses = list(self.witnesses)
        witnesses[index] = (public_key, signature)
        return PartiallySignedTransaction(self.network, self.transaction, self.spent, tuple(witnesses))

    def sign(self, *keys: PrivateKey) -> PartiallySignedTransaction:
        """A copy with every input that one of ``keys`` owns signed; raises if a key owns none."""
        by_payload: dict[bytes, PrivateKey] = {}
        for key in keys:
            if not isinstance(key, PrivateKey):
                raise WalletTypeError("keys", "PrivateKey values", key)
            by_payload[key.public_key.payload] = key
        owned = {out.payload for out in self.spent}
        for payload, key in by_payload.items():
            if payload not in owned:
                raise WalletArgumentError("keys", f"key {key.public_key.data.hex()} owns none of the inputs")
        return self.sign_where(by_payload.get)

    def sign_where(self, key_for: _KeyLookup) -> PartiallySignedTransaction:
        """A copy with every unsigned input signed whose spent payload ``key_for`` maps to a key."""
        witnesses = list(self.witnesses)
        for index, out in enumerate(self.spent):
            if witnesses[index] is not None:
                continue
            key = key_for(out.payload)
            if key is not None:
                witnesses[index] = (key.public_key.data, key.sign(self.sighash(index)))
        return PartiallySignedTransaction(self.network, self.transaction, self.spent, tuple(witnesses))

    @classmethod
    def combine(cls, first: PartiallySignedTransaction, *others: PartiallySignedTransaction) -> PartiallySignedTransaction:
        """One PST with every signature any of the given PSTs holds.

        They must be of the same network, transaction and spent outputs
        (:class:`PsbtMismatchError` otherwise). Where two hold different valid
        signatures for one input, the smaller (as bytes) is kept, so the result does
        not depend on the order of the arguments.
        """
        for part in (first, *others):
            if not isinstance(part, PartiallySignedTransaction):
                raise WalletTypeError("parts", "PartiallySignedTransaction values", part)
        witnesses = list(first.witnesses)
        for other in others:
            if other.network != first.network:
                raise PsbtMismatchError(f"one is for {first.network.name}, another for {other.network.name}")
            if other.transaction != first.transaction:
                raise PsbtMismatchError(
                    f"different transactions: {first.txid.hex()} and {other.txid.hex()}"
                )
            if other.spent != first.spent:
                raise PsbtMismatchError("same transaction, different spent outputs")
            for index, witness in enumerate(other.witnesses):
                mine = witnesses[index]
                if witness is not None and (mine is None or witness < mine):
                    witnesses[index] = witness
        return cls(first.network, first.transaction, first.spent, tuple(witnesses))

    def finalize(self) -> Transaction:
        """The signed transaction; :class:`PsbtIncompleteError` while an input is unsigned."""
        missing = self.missing
        if missing:
            raise PsbtIncompleteError(missing)
        witnesses = [w for w in self.witnesses if w is not None]
        return self.transaction.with_witnesses(witnesses)

    # -- encoding -----------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """The canonical encoding (module docstring)."""
        w = Writer().raw(PSBT_MAGIC).u8(PSBT_VERSION).u32(self.network.chain_id)
        w.var_bytes(self.transaction.to_bytes())
        for out, witness in zip(self.spent, self.witnesses, strict=True):
            w.u64(out.amount).raw(out.payload)
            if witness is None:
                w.u8(0)
            else:
                w.u8(1).raw(witness[0]).raw(witness[1])
        return bytes(w)

    @classmethod
    def from_bytes(cls, data: bytes, network: Network) -> PartiallySignedTransaction:
        """Decode :meth:`to_bytes`'s encoding of a PST for ``network`` (module docstring for errors)."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise WalletTypeError("data", "bytes", data)
        if not isinstance(network, Network):
            raise WalletTypeError("network", "a Network", network)
        r = Reader(bytes(data))
        if r.raw(4, "magic") != PSBT_MAGIC:
            raise DecodeError("not a partially signed transaction (bad magic)", 0)
        version = r.u8("version")
        if version != PSBT_VERSION:
            raise DecodeError(f"unknown version {version}", 4)
        chain_id = r.u32("chain id")
        if chain_id != network.chain_id:
            raise PsbtNetworkError(f"this is for chain {chain_id}, not {network.name} (chain {network.chain_id})")
        start = r.pos
        tx = Transaction.from_bytes(r.var_bytes(MAX_TX_SIZE, "transaction"))
        if any(i.public_key != EMPTY_PUBKEY or i.signature != EMPTY_SIGNATURE for i in tx.inputs):
            raise DecodeError("the transaction must carry zero witnesses", start)
        if not tx.inputs:
            raise DecodeError("the transaction has no inputs", start)
        spent: list[TxOut] = []
        witnesses: list[Witness | None] = []
        for _ in tx.inputs:
            at = r.pos
            amount = r.u64("amount")
            if amount > MAX_MONEY:
                raise DecodeError(f"spent amount {amount} exceeds MAX_MONEY", at)
            spent.append(TxOut(amount, r.raw(20, "payload")))
            at = r.pos
            flag = r.u8("signed flag")
            if flag == 0:
                witnesses.append(None)
            elif flag == 1:
                witnesses.append((r.raw(32, "public key"), r.raw(64, "signature")))
            else:
                raise DecodeError(f"signed flag must be 0 or 1, not {flag}", at)
        r.end()
        try:
            return cls(network, tx, tuple(spent), tuple(witnesses))
        except PsbtError:
            raise
        except TimecoinError as exc:
            # A consistent encoding of an inconsistent PST (outputs above inputs, say).
            raise DecodeError(str(exc), start) from None

    def to_base64(self) -> str:
        """The encoding in standard base64."""
        return base64.b64encode(self.to_bytes()).decode("ascii")

    @classmethod
    def from_base64(cls, text: str, network: Network) -> PartiallySignedTransaction:
        """Decode :meth:`to_base64`'s text; malformed base64 raises :class:`~timecoin_core.errors.DecodeError`."""
        if not isinstance(text, str):
            raise WalletTypeError("text", "a base64 string", text)
        try:
            data = base64.b64decode(text.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            raise DecodeError("not standard base64", 0) from None
        if base64.b64encode(data).decode("ascii") != text:
            raise DecodeError("not canonical base64", 0)
        return cls.from_bytes(data, network)

    def __repr__(self) -> str:
        signed = len(self.witnesses) - len(self.missing)
        outputs = ", ".join(f"{address}: {format_units(amount)}" for address, amount in self.recipients())
        return (
            f"PartiallySignedTransaction({self.network.name}, txid={self.txid.hex()}, "
            f"inputs={len(self.spent)} ({signed} signed), in={format_amount(self.input_total)} TIME, "
            f"outputs=[{outputs}] TIME, fee={format_units(self.fee)} TIME)"
        )
