from __future__ import annotations

import pytest

from timecoin_core.amount import MAX_MONEY, coins
from timecoin_core.builder import BuilderError, TransactionBuilder
from timecoin_core.errors import AddressError
from timecoin_core.keys import PrivateKey
from timecoin_core.network import DEVNET, MAINNET
from timecoin_core.transaction import OutPoint, Transaction, TxIn, TxOut
from timecoin_core.validation import (
    BadSignatureError,
    DuplicateInputError,
    FeeTooLowError,
    InputsBelowOutputsError,
    MissingInputError,
    NoInputsError,
    NoOutputsError,
    OutputSumError,
    WrongKeyError,
    ZeroOutputError,
    check_transaction,
    validate_transaction,
    validate_transactions,
)
from timecoin_core.verify import make_verifier

ALICE = PrivateKey.from_seed(b"\x01" * 32)
BOB = PrivateKey.from_seed(b"\x02" * 32)
COINS = {OutPoint(bytes([i]) * 32, 0): TxOut(coins("10"), ALICE.public_key.payload) for i in range(1, 6)}
OPS = list(COINS)


def pay(op: OutPoint, amount: int, to: PrivateKey = BOB, key: PrivateKey = ALICE) -> Transaction:
    return TransactionBuilder(DEVNET).spend(op, COINS[op], key).pay(to.address(DEVNET), amount).build()


def test_valid_transaction_returns_fee() -> None:
    assert validate_transaction(pay(OPS[0], coins("9")), COINS, DEVNET) == coins("1")


def test_stateless_errors() -> None:
    out = TxOut(1, b"\x00" * 20)
    txin = TxIn(OPS[0])
    with pytest.raises(NoInputsError):
        check_transaction(Transaction([], [out]))
    with pytest.raises(NoOutputsError):
        check_transaction(Transaction([txin], []))
    with pytest.raises(DuplicateInputError) as dup:
        check_transaction(Transaction([txin, txin], [out]))
    assert dup.value.input_index == 1
    with pytest.raises(ZeroOutputError) as zero:
        check_transaction(Transaction([txin], [out, TxOut(0, b"\x00" * 20)]))
    assert zero.value.output_index == 1
    with pytest.raises(OutputSumError):
        check_transaction(Transaction([txin], [TxOut(MAX_MONEY, b"\x00" * 20), out]))


def test_missing_input_names_the_input() -> None:
    tx = pay(OPS[0], coins("9"))
    with pytest.raises(MissingInputError) as info:
        validate_transaction(tx, {}, DEVNET)
    assert info.value.input_index == 0
    assert info.value.txid == tx.txid
    assert "input 0" in str(info.value)


def test_wrong_key_rejected() -> None:
    tx = TransactionBuilder(DEVNET).spend(OPS[0], TxOut(coins("10"), BOB.public_key.payload), BOB).pay(
        BOB.address(DEVNET), coins("9")
    ).build()
    with pytest.raises(WrongKeyError):
        validate_transaction(tx, COINS, DEVNET)


def test_outputs_above_inputs_and_low_fee() -> None:
    with pytest.raises(InputsBelowOutputsError):
        validate_transaction(pay(OPS[0], coins("11")), COINS, DEVNET)
    with pytest.raises(FeeTooLowError) as info:
        validate_transaction(pay(OPS[0], coins("10") - 1), COINS, DEVNET)
    assert info.value.fee == 1 and info.value.required > 1


def test_signature_for_another_network_is_bad() -> None:
    tx = TransactionBuilder(MAINNET).spend(OPS[0], COINS[OPS[0]], ALICE).pay(
        BOB.address(MAINNET), coins("9")
    ).build()
    with pytest.raises(BadSignatureError) as info:
        validate_transaction(tx, COINS, DEVNET)
    assert info.value.input_index == 0


def test_bad_signature_names_the_input() -> None:
    tx = (
        TransactionBuilder(DEVNET)
        .spend(OPS[0], COINS[OPS[0]], ALICE)
        .spend(OPS[1], COINS[OPS[1]], ALICE)
        .pay(BOB.address(DEVNET), coins("19"))
        .build()
    )
    witnesses = [(i.public_key, i.signature) for i in tx.inputs]
    witnesses[1] = (witnesses[1][0], witnesses[0][1])
    with pytest.raises(BadSignatureError) as info:
        validate_transaction(tx.with_witnesses(witnesses), COINS, DEVNET)
    assert info.value.input_index == 1


class CountingVerifier:
    """Wraps a real verifier and records the size of every batch it is handed."""

    def __init__(self, kind: str = "sync", workers: int | None = None) -> None:
        self.inner = make_verifier(kind, workers)  # type: ignore[arg-type]
        self.backend = self.inner.backend
        if workers is not None:
            self.workers = workers
        self.calls: list[int] = []

    def verify_many(self, checks):  # type: ignore[no-untyped-def]
        self.calls.append(len(checks))
        return self.inner.verify_many(checks)

    def submit_many(self, checks):  # type: ignore[no-untyped-def]
        self.calls.append(len(checks))
        return self.inner.submit_many(checks)

    def close(self) -> None:
        self.inner.close()

    def __enter__(self) -> CountingVerifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def test_batch_verifies_all_inputs_in_one_call_and_chains() -> None:
    first = pay(OPS[0], coins("9.9"), to=ALICE)
    child = TransactionBuilder(DEVNET).spend(first.outpoint(0), first.outputs[0], ALICE).pay(
        BOB.address(DEVNET), coins("9.8")
    ).build()
    others = [pay(op, coins("9")) for op in OPS[1:]]
    conflict = pay(OPS[0], coins("8"))
    verifier = CountingVerifier()
    verdicts = validate_transactions([first, child, *others, conflict], COINS, DEVNET, verifier)
    assert [v.ok for v in verdicts] == [True, True, True, True, True, True, False]
    assert isinstance(verdicts[-1].error, MissingInputError)
    assert verifier.calls == [6]


RICH = PrivateKey.from_seed(b"\x03" * 32)
MANY = {OutPoint(i.to_bytes(32, "big"), 1): TxOut(coins("10"), RICH.public_key.payload) for i in range(700)}


def _many() -> list[Transaction]:
    """700 payments and, after each tenth, a child spending its first output."""
    txs: list[Transaction] = []
    for op, out in MANY.items():
        tx = TransactionBuilder(DEVNET).spend(op, out, RICH).pay(RICH.address(DEVNET), coins("9.9")).build()
        txs.append(tx)
        if len(txs) % 11 == 1:
            txs.append(
                TransactionBuilder(DEVNET)
                .spend(tx.outpoint(0), tx.outputs[0], RICH)
                .pay(BOB.address(DEVNET), coins("9.8"))
                .build()
            )
    return txs


def _forge(tx: Transaction) -> Transaction:
    return tx.with_witnesses([(i.public_key, bytes(64)) for i in tx.inputs])


@pytest.mark.parametrize("kind", ["sync", "thread"])
def test_signatures_go_out_in_pieces_during_the_pass_with_one_verdict_each(kind: str) -> None:
    txs = _many()
    # Forged parents in the first and the last pieces: their children lose their coin,
    # and everything else keeps the verdict a one-batch validation gives.
    parents = [p for p, tx in enumerate(txs) if p + 1 < len(txs) and txs[p + 1].inputs[0].outpoint == tx.outpoint(0)]
    for p in (parents[0], parents[-1]):
        txs[p] = _forge(txs[p])
        txs[p + 1] = (
            TransactionBuilder(DEVNET)
            .spend(txs[p].outpoint(0), txs[p].outputs[0], RICH)
            .pay(BOB.address(DEVNET), coins("9.8"))
            .build()
        )
    with CountingVerifier(kind, workers=2) as verifier:
        verdicts = validate_transactions(txs, MANY, DEVNET, verifier)
    assert len(verifier.calls) > 2  # handed out in pieces, not one batch at the end
    # Every signature verified exactly once: the orphans' too (in the first pass their
    # parents' outputs looked spendable), and nothing again in the second pass.
    assert sum(verifier.calls) == len(txs)
    assert len(verdicts) == len(txs) and [v.tx for v in verdicts] == txs
    bad = {parents[0], parents[-1]}
    orphans = {p + 1 for p in bad}
    for position, verdict in enumerate(verdicts):
        if position in bad:
            assert isinstance(verdict.error, BadSignatureError) and verdict.error.input_index == 0
        elif position in orphans:
            assert isinstance(verdict.error, MissingInputError)
        else:
            assert verdict.ok and verdict.fee is not None


def test_a_failing_verifier_fails_the_validation_and_drops_queued_pieces() -> None:
    from concurrent.futures import Future

    from timecoin_core.errors import VerifierError

    handed: list[Future[list[bool]]] = []

    class Dying(CountingVerifier):
        def submit_many(self, checks):  # type: ignore[no-untyped-def]
            future: Future[list[bool]] = Future()
            if handed:
                future.set_exception(VerifierError("a verifier worker died"))
            handed.append(future)  # the first piece never finishes
            return future

    with Dying() as verifier, pytest.raises(VerifierError, match="worker died"):
        validate_transactions(_many(), MANY, DEVNET, verifier)
    assert len(handed) > 1 and handed[0].cancelled()


def test_bad_signature_invalidates_descendants_and_frees_the_coin() -> None:
    good = pay(OPS[0], coins("9.9"), to=ALICE)
    forged = good.with_witnesses([(good.inputs[0].public_key, bytes(64))])
    child = TransactionBuilder(DEVNET).spend(good.outpoint(0), good.outputs[0], ALICE).pay(
        BOB.address(DEVNET), coins("9.8")
    ).build()
    rival = pay(OPS[0], coins("9"))
    verdicts = validate_transactions([forged, child, rival], COINS, DEVNET)
    assert isinstance(verdicts[0].error, BadSignatureError)
    assert isinstance(verdicts[1].error, MissingInputError)
    assert verdicts[2].ok


def test_builder_errors() -> None:
    with pytest.raises(BuilderError, match="does not own"):
        TransactionBuilder(DEVNET).spend(OPS[0], COINS[OPS[0]], BOB)
    with pytest.raises(AddressError):
        TransactionBuilder(DEVNET).pay(BOB.address(MAINNET), 1)
    with pytest.raises(BuilderError):
        TransactionBuilder(DEVNET).pay(BOB.address(DEVNET), coins("1")).build()
    with pytest.raises(BuilderError):
        TransactionBuilder(DEVNET).spend(OPS[0], COINS[OPS[0]], ALICE).build()


def test_a_transaction_signed_for_another_network_says_so() -> None:
    from timecoin_core import (
        DEVNET,
        MAINNET,
        TESTNET,
        OutPoint,
        PrivateKey,
        TransactionBuilder,
        TxOut,
    )
    from timecoin_core.validation import BadSignatureError, WrongNetworkError, validate_transaction

    key = PrivateKey.from_seed(b"\x61" * 32)
    funding, coin = OutPoint(b"\x02" * 32, 0), TxOut(10_000_000, key.public_key.payload)
    tx = TransactionBuilder(TESTNET).spend(funding, coin, key).pay(key.address(TESTNET), 9_000_000).build()
    with pytest.raises(WrongNetworkError, match="signed for testnet, not devnet") as refused:
        validate_transaction(tx, {funding: coin}, DEVNET)
    assert refused.value.signed_for == "testnet" and refused.value.code == "wrong-network"
    assert isinstance(refused.value, BadSignatureError)  # callers catching the old error still do
    forged = tx.with_witnesses([(i.public_key, bytes(64)) for i in tx.inputs])
    with pytest.raises(BadSignatureError) as plain:
        validate_transaction(forged, {funding: coin}, MAINNET)
    assert type(plain.value) is BadSignatureError  # not signed for any network: a bad signature
