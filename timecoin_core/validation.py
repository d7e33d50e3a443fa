"""Transaction validation: stateless checks, contextual checks, and batched signatures.

Every failure is its own :class:`TransactionError` subclass naming the transaction
and, where it applies, the input or output at fault. ``code`` is a short stable
string used as the reject reason on the wire.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, wait
from dataclasses import dataclass
from typing import Protocol

from .amount import MAX_MONEY
from .errors import InvalidArgumentError, TimecoinError
from .keys import PAYLOAD_SIZE
from .network import NETWORKS, Network
from .transaction import MAX_TX_SIZE, OutPoint, Transaction, TxOut, sighash
from .verify import SignatureCheck, SyncVerifier, Verifier, verify_one

_sha256 = hashlib.sha256

# Checks handed to the verifier at a time during the contextual pass (see
# _validate_in_order): the first piece is this many per worker, then pieces double up
# to _MAX_PIECE. A piece costs one submit_many; a process pool ships it as one chunk
# per worker, so the cap keeps that per-chunk cost small against the verifies.
_FIRST_PIECE = 128
_MAX_PIECE = 4096

__all__ = [
    "BadSignatureError",
    "DuplicateInputError",
    "FeeTooLowError",
    "InputsBelowOutputsError",
    "MissingInputError",
    "NoInputsError",
    "NoOutputsError",
    "OutputSumError",
    "OutputView",
    "TransactionError",
    "TxTooLargeError",
    "TxVerdict",
    "WrongKeyError",
    "WrongNetworkError",
    "ZeroOutputError",
    "check_transaction",
    "validate_transaction",
    "validate_transactions",
]


class TransactionError(TimecoinError, ValueError):
    """A transaction that is not valid. ``input_index``/``output_index`` say where."""

    code = "invalid"

    def __init__(
        self,
        message: str,
        txid: bytes | None = None,
        *,
        input_index: int | None = None,
        output_index: int | None = None,
    ) -> None:
        where = ""
        if input_index is not None:
            where = f" (input {input_index})"
        elif output_index is not None:
            where = f" (output {output_index})"
        prefix = f"transaction {txid.hex()}: " if txid is not None else ""
        super().__init__(f"{prefix}{message}{where}")
        self.txid = txid
        self.input_index = input_index
        self.output_index = output_index


class NoInputsError(TransactionError):
    """The transaction spends nothing."""

    code = "no-inputs"


class NoOutputsError(TransactionError):
    """The transaction creates nothing."""

    code = "no-outputs"


class TxTooLargeError(TransactionError):
    """The encoded transaction exceeds MAX_TX_SIZE."""

    code = "too-large"


class DuplicateInputError(TransactionError):
    """Two inputs spend the same outpoint."""

    code = "duplicate-input"


class ZeroOutputError(TransactionError):
    """An output of amount zero (it would bloat the UTXO set for nothing)."""

    code = "zero-output"


class OutputSumError(TransactionError):
    """The outputs add up to more than MAX_MONEY."""

    code = "output-overflow"


class MissingInputError(TransactionError):
    """An input spends an outpoint that is not unspent in the view."""

    code = "missing-input"


class WrongKeyError(TransactionError):
    """An input's public key does not hash to the address of the output it spends."""

    code = "wrong-key"


class InputsBelowOutputsError(TransactionError):
    """The outputs add up to more than the inputs."""

    code = "inputs-below-outputs"


class FeeTooLowError(TransactionError):
    """The fee is below the network minimum for the transaction's size."""

    code = "fee-too-low"

    def __init__(self, message: str, txid: bytes | None = None, *, fee: int, required: int) -> None:
        super().__init__(message, txid)
        self.fee = fee
        self.required = required


class BadSignatureError(TransactionError):
    """An input's signature does not verify under the signature policy."""

    code = "bad-signature"


class WrongNetworkError(BadSignatureError):
    """An input's signature is valid, but for another network (its sighash binds the chain id).

    ``signed_for`` names the built-in network the transaction was signed for. Raised by
    :func:`validate_transaction` only (a caller's single transaction): telling the two
    apart costs a verification per other network, which a node does not spend on peers.
    """

    code = "wrong-network"

    def __init__(self, message: str, txid: bytes | None = None, *, input_index: int | None = None, signed_for: str) -> None:
        super().__init__(message, txid, input_index=input_index)
        self.signed_for = signed_for


class OutputView(Protocol):
    """Read access to unspent outputs: what contextual validation needs."""

    def get_output(self, outpoint: OutPoint, /) -> TxOut | None:
        """The unspent output at ``outpoint``, or None when it does not exist or is spent."""
        ...


@dataclass(frozen=True, slots=True)
class TxVerdict:
    """The outcome of validating one transaction of a batch: its fee, or its error."""

    tx: Transaction
    fee: int | None
    error: TransactionError | None

    @property
    def ok(self) -> bool:
        """True when the transaction is valid."""
        return self.error is None

    def raise_for_error(self) -> int:
        """Return the fee, or raise the error."""
        if self.error is not None:
            raise self.error
        assert self.fee is not None
        return self.fee


_SET_TX, _SET_FEE, _SET_ERROR = (TxVerdict.__dict__[name].__set__ for name in ("tx", "fee", "error"))


def _new_verdict(tx: Transaction, fee: int | None, error: TransactionError | None) -> TxVerdict:
    # A frozen dataclass's __init__ goes through object.__setattr__ per field; one
    # verdict per transaction of every block and batch, so write the slots directly.
    verdict: TxVerdict = object.__new__(TxVerdict)
    _SET_TX(verdict, tx)
    _SET_FEE(verdict, fee)
    _SET_ERROR(verdict, error)
    return verdict


def check_transaction(tx: Transaction) -> None:
    """Stateless checks: everything that can be decided from the transaction alone."""
    _check_stateless(tx)


def _check_stateless(tx: Transaction) -> int:
    """:func:`check_transaction`, returning the sum of the outputs."""
    inputs = tx.inputs
    outputs = tx.outputs
    if not inputs:
        raise NoInputsError("no inputs", tx.txid)
    if not outputs:
        raise NoOutputsError("no outputs", tx.txid)
    if tx.size > MAX_TX_SIZE:
        raise TxTooLargeError(f"{tx.size} bytes exceeds {MAX_TX_SIZE}", tx.txid)
    if len(inputs) > 1:  # one input cannot repeat itself
        seen: set[OutPoint] = set()
        for index, txin in enumerate(inputs):
            if txin.outpoint in seen:
                raise DuplicateInputError(f"outpoint {txin.outpoint} spent twice", tx.txid, input_index=index)
            seen.add(txin.outpoint)
    total = 0
    for index, out in enumerate(outputs):
        amount = out.amount
        if amount == 0:
            raise ZeroOutputError("zero amount", tx.txid, output_index=index)
        total += amount
        if total > MAX_MONEY:
            raise OutputSumError("outputs exceed MAX_MONEY", tx.txid, output_index=index)
    return total


def _contextual(
    tx: Transaction, get: Callable[[OutPoint], TxOut | None], min_fee_per_kb: int
) -> tuple[int, list[TxOut]]:
    """Check inputs against the view's ``get``; return the fee and the spent outputs (no signatures)."""
    total_out = _check_stateless(tx)
    txid = tx.txid
    spent: list[TxOut] = []
    total_in = 0
    for index, txin in enumerate(tx.inputs):
        out = get(txin.outpoint)
        if out is None:
            raise MissingInputError(f"outpoint {txin.outpoint} is not unspent", txid, input_index=index)
        # keys.address_payload, inlined: this runs for every input of every transaction.
        if _sha256(txin.public_key).digest()[:PAYLOAD_SIZE] != out.payload:
            raise WrongKeyError("public key does not match the spent address", txid, input_index=index)
        spent.append(out)
        total_in += out.amount
    if total_in < total_out:
        raise InputsBelowOutputsError(
            f"outputs {total_out} exceed inputs {total_in}", txid
        )
    fee = total_in - total_out
    size = tx.size
    required = -(-size * min_fee_per_kb // 1000)  # FeeRate.fee, without the object
    if fee < required:
        raise FeeTooLowError(
            f"fee {fee} below the minimum {required} for {size} bytes", txid, fee=fee, required=required
        )
    return fee, spent


class _Overlay:
    """The view plus outputs created, minus outputs spent, by earlier valid transactions."""

    __slots__ = ("_get", "created", "spent")

    def __init__(self, base: Mapping[OutPoint, TxOut] | OutputView) -> None:
        self._get = base.get if isinstance(base, Mapping) else base.get_output
        self.created: dict[OutPoint, TxOut] = {}
        self.spent: set[OutPoint] = set()

    def get_output(self, outpoint: OutPoint, /) -> TxOut | None:
        if outpoint in self.spent:
            return None
        out = self.created.get(outpoint)
        return out if out is not None else self._get(outpoint)

    def apply(self, tx: Transaction) -> None:
        spent = self.spent
        for txin in tx.inputs:
            spent.add(txin.outpoint)
        txid = tx.txid
        created = self.created
        for index, out in enumerate(tx.outputs):
            # A plain (txid, index) tuple finds the same entry as OutPoint(txid, index),
            # an equal tuple with the same hash; unlike an OutPoint, the garbage
            # collector stops tracking it, and a block creates thousands.
            created[(txid, index)] = out  # type: ignore[index]


def validate_transactions(
    txs: Sequence[Transaction],
    view: Mapping[OutPoint, TxOut] | OutputView,
    network: Network,
    verifier: Verifier | None = None,
) -> list[TxVerdict]:
    """Validate a sequence of transactions, their signatures verified alongside.

    Signatures go to ``verifier`` in pieces while the remaining transactions are
    checked, so a pool verifier works in parallel with the contextual checks.

    Transactions are taken in order: one may spend outputs of an earlier valid one, and
    the second of two spending the same coin fails with :class:`MissingInputError`.
    ``view`` is not modified. Returns one :class:`TxVerdict` per transaction, in order.
    """
    if not isinstance(network, Network):
        raise InvalidArgumentError("network", f"expected a Network, not {type(network).__name__}")
    for position, tx in enumerate(txs):
        if not isinstance(tx, Transaction):
            raise InvalidArgumentError("txs", f"item {position} is a {type(tx).__name__}, not a Transaction")
    own_verifier = verifier is None
    active = verifier if verifier is not None else SyncVerifier()
    try:
        fees, errors = _validate_in_order(txs, view, network, active)
    finally:
        if own_verifier:
            active.close()
    return [
        _new_verdict(tx, None, errors[position]) if position in errors else _new_verdict(tx, fees[position], None)
        for position, tx in enumerate(txs)
    ]


def _validate_in_order(
    txs: Sequence[Transaction],
    view: Mapping[OutPoint, TxOut] | OutputView,
    network: Network,
    verifier: Verifier,
) -> tuple[list[int], dict[int, TransactionError]]:
    """:func:`validate_transactions` without the verdict objects.

    Returns each transaction's fee (0 for an invalid one) and the errors by position.
    For callers that only need totals or the first error, such as block validation.
    """
    # Signatures are verified while the contextual pass goes on: every ``piece`` checks
    # the pass hands what it has to the verifier (``submit_many``) and carries on, so a
    # pool's workers verify the first transactions while the parent checks the rest.
    # A bad signature invalidates its transaction, which can change what later ones
    # may spend, so the pass repeats until no new bad signature appears; each
    # signature is verified at most once, and every transaction gets one verdict.
    bad_sig: dict[int, int] = {}
    sig_ok: set[int] = set()
    chain_id = network.chain_id
    min_fee_per_kb = network.min_fee_per_kb
    # A pool verifier needs work soon (a small first piece) and few hand-offs after
    # that (pieces double up to a cap that still splits evenly across its workers).
    workers = getattr(verifier, "workers", 1)
    first_piece = _FIRST_PIECE * (workers if isinstance(workers, int) and workers > 0 else 1)
    while True:
        overlay = _Overlay(view)
        get = overlay.get_output
        apply = overlay.apply
        fees: list[int] = []
        errors: dict[int, TransactionError] = {}
        # Which transaction each check belongs to, across all pieces: flat lists of
        # plain values rather than a tuple and a list per transaction.
        owners: list[int] = []
        checks: list[SignatureCheck] = []
        submitted: list[Future[list[bool]]] = []
        piece = first_piece
        try:
            for position, tx in enumerate(txs):
                if position in bad_sig:
                    errors[position] = BadSignatureError("invalid signature", tx.txid, input_index=bad_sig[position])
                    fees.append(0)
                    continue
                try:
                    fee, spent = _contextual(tx, get, min_fee_per_kb)
                except TransactionError as exc:
                    errors[position] = exc
                    fees.append(0)
                    continue
                apply(tx)
                fees.append(fee)
                if position not in sig_ok:
                    txid = tx.txid
                    for i, (txin, out) in enumerate(zip(tx.inputs, spent, strict=True)):
                        checks.append(SignatureCheck(txin.public_key, sighash(chain_id, txid, i, out), txin.signature))
                        owners.append(position)
                    if len(checks) >= piece:
                        submitted.append(verifier.submit_many(checks))
                        checks = []
                        piece = min(2 * piece, _MAX_PIECE)
            if checks:
                submitted.append(verifier.submit_many(checks))
            if not submitted:
                return fees, errors
            # The first failure decides at once, even while earlier pieces still run.
            done, _ = wait(submitted, return_when=FIRST_EXCEPTION)
            for future in done:
                failure = None if future.cancelled() else future.exception()
                if failure is not None:
                    raise failure
            results = [verdict for future in submitted for verdict in future.result()]
        except BaseException:
            # Nobody will read the pieces still queued (a worker died, the caller was
            # interrupted): drop them. Cancelling a finished future is a no-op.
            for future in submitted:
                future.cancel()
            raise
        if all(results):  # the common case: nothing to map back
            sig_ok.update(owners)
            return fees, errors
        new_bad = False
        first_input = 0
        for k, position in enumerate(owners):
            if k == 0 or owners[k - 1] != position:
                first_input = k
            if not results[k] and position not in bad_sig:
                bad_sig[position] = k - first_input
                new_bad = True
        sig_ok.update(position for position in owners if position not in bad_sig)
        if not new_bad:
            return fees, errors


def validate_transaction(
    tx: Transaction,
    view: Mapping[OutPoint, TxOut] | OutputView,
    network: Network,
    verifier: Verifier | None = None,
) -> int:
    """Fully validate one transaction against ``view``; return its fee or raise."""
    if not isinstance(tx, Transaction):
        # Checked here too, so the error names this function's parameter.
        raise InvalidArgumentError("tx", f"expected a Transaction, not {type(tx).__name__}")
    verdict = validate_transactions([tx], view, network, verifier)[0]
    error = verdict.error
    if type(error) is BadSignatureError and error.input_index is not None:
        other = _signed_for(tx, view, network, error.input_index)
        if other is not None:
            raise WrongNetworkError(
                f"signed for {other.name}, not {network.name}", tx.txid, input_index=error.input_index,
                signed_for=other.name,
            ) from None
    return verdict.raise_for_error()


def _signed_for(
    tx: Transaction, view: Mapping[OutPoint, TxOut] | OutputView, network: Network, index: int
) -> Network | None:
    # Only the built-in networks can be told: the chain id is all a signature binds.
    txin = tx.inputs[index]
    out = view.get(txin.outpoint) if isinstance(view, Mapping) else view.get_output(txin.outpoint)
    if out is None:
        return None
    for other in NETWORKS.values():
        if other.chain_id != network.chain_id and verify_one(
            txin.public_key, sighash(other.chain_id, tx.txid, index, out), txin.signature
        ):
            return other
    return None
