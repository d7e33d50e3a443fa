"""FinalityEngine, one rule at a time: voting, batching, quorum, conflicts, timeouts, evidence."""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import replace

import pytest

from timecoin_core.consensus.finality import (
    BATCH_TIMER,
    REBROADCAST_TIMER,
    TIMEOUT_TIMER,
    CertificateReceived,
    Checkpointed,
    EpochChanged,
    EvidenceFound,
    FinalityAction,
    FinalityConfig,
    FinalityEngine,
    FinalityError,
    FinalityEvent,
    Finalized,
    Rejected,
    RejectReason,
    TxAdmitted,
    TxConflicted,
    TxState,
    VoteBatchReceived,
    VoteRecorded,
)
from timecoin_core.consensus.finality_messages import (
    CertificateEntry,
    FinalityCertificate,
    VoteBatch,
    verify_certificates,
)
from timecoin_core.consensus.sansio import Broadcast, SetTimer, TimerFired
from timecoin_core.consensus.voting import VotingSet
from timecoin_core.keys import PrivateKey
from timecoin_core.transaction import OutPoint, Transaction, TxIn, TxOut
from timecoin_core.verify import SignatureCheck, verify_one

CHAIN = 11
KEYS = [PrivateKey.from_seed(bytes([i + 1]) * 32) for i in range(10)]
PUB = [k.public_key.data for k in KEYS]
FAST = FinalityConfig(batch_window=0.02, finality_timeout=5.0, rebroadcast_interval=1.0)


def op(i: int, index: int = 0) -> OutPoint:
    return OutPoint(hashlib.sha256(b"coin" + i.to_bytes(4, "little")).digest(), index)


def make_tx(*outpoints: OutPoint, memo: bytes = b"") -> Transaction:
    return Transaction([TxIn(o) for o in outpoints], [TxOut(5_000, bytes(20))], memo=memo)


class CountingCheck:
    """A check_signatures that counts the signatures it was asked about."""

    def __init__(self) -> None:
        self.checks = 0

    def __call__(self, checks: Sequence[SignatureCheck]) -> list[bool]:
        self.checks += len(checks)
        return [verify_one(c.public_key, c.message, c.signature) for c in checks]


Link = Callable[[int, int, object], bool]


class Cluster:
    """Engines joined by instant, reliable gossip (unless ``link`` says otherwise) and a
    manual clock. Every action each node returns is kept in ``log[node]``."""

    def __init__(
        self,
        weights: Sequence[int],
        *,
        config: FinalityConfig = FAST,
        observers: int = 0,
        epoch: int = 1,
    ) -> None:
        self.vs = VotingSet.of(epoch, zip(PUB, weights, strict=False))
        self.check = CountingCheck()
        self.engines = [
            FinalityEngine(
                self.vs,
                chain_id=CHAIN,
                key=KEYS[i] if i < len(weights) else None,
                check_signatures=self.check,
                config=config,
            )
            for i in range(len(weights) + observers)
        ]
        self.now = 0.0
        self.timers: dict[tuple[int, Hashable], float] = {}
        self.inbox: deque[tuple[int, FinalityEvent]] = deque()
        self.log: list[list[FinalityAction]] = [[] for _ in self.engines]
        self.link: Link = lambda src, dst, message: True

    def send(self, node: int, event: FinalityEvent) -> list[FinalityAction]:
        actions = self.engines[node].handle(event, self.now)
        self.log[node] += actions
        for action in actions:
            if isinstance(action, Broadcast):
                for dst in range(len(self.engines)):
                    if dst != node and self.link(node, dst, action.message):
                        message = action.message
                        if isinstance(message, VoteBatch):
                            self.inbox.append((dst, VoteBatchReceived(message)))
                        elif isinstance(message, FinalityCertificate):
                            self.inbox.append((dst, CertificateReceived(message)))
            elif isinstance(action, SetTimer):
                self.timers[(node, action.key)] = action.at
        return actions

    def settle(self) -> None:
        while self.inbox:
            node, event = self.inbox.popleft()
            self.send(node, event)

    def advance(self, seconds: float) -> None:
        end = self.now + seconds
        self.settle()
        while True:
            due = [(at, key) for key, at in self.timers.items() if at <= end]
            if not due:
                break
            at, (node, key) = min(due, key=lambda item: item[0])
            del self.timers[(node, key)]
            self.now = max(self.now, at)
            self.send(node, TimerFired(key))
            self.settle()
        self.now = end

    def admit(self, tx: Transaction, nodes: Sequence[int]) -> None:
        for node in nodes:
            self.send(node, TxAdmitted.of(tx))

    def conflict(self, tx: Transaction, nodes: Sequence[int]) -> None:
        for node in nodes:
            self.send(node, TxConflicted.of(tx))

    def finalized(self, node: int) -> dict[bytes, FinalityCertificate]:
        return {a.txid: a.certificate for a in self.log[node] if isinstance(a, Finalized)}

    def rejected(self, node: int) -> dict[bytes, RejectReason]:
        return {a.txid: a.reason for a in self.log[node] if isinstance(a, Rejected)}

    def of(self, node: int, kind: type) -> list[object]:
        return [a for a in self.log[node] if isinstance(a, kind)]


# -- the voting rule -------------------------------------------------------------------


def test_votes_for_at_most_one_transaction_per_outpoint_forever() -> None:
    vs = VotingSet.of(1, [(PUB[0], 1), (PUB[1], 1), (PUB[2], 1)])
    engine = FinalityEngine(vs, chain_id=CHAIN, key=KEYS[0], config=FAST)
    a = make_tx(op(1), op(2), memo=b"a")
    b = make_tx(op(2), op(3), memo=b"b")
    c = make_tx(op(3), memo=b"c")
    actions = engine.handle(TxAdmitted.of(a), 0.0)
    assert VoteRecorded(a.txid, (op(1), op(2))) in actions
    assert SetTimer(BATCH_TIMER, 0.02) in actions
    # The ledger admits b only after a's locks are gone; the engine still never votes.
    assert not any(isinstance(x, VoteRecorded) for x in engine.handle(TxAdmitted.of(b), 0.01))
    assert engine.stats.votes_withheld == 1
    # c's only outpoint is free (b was never voted for), so c gets a vote.
    assert any(isinstance(x, VoteRecorded) for x in engine.handle(TxAdmitted.of(c), 0.01))
    flushed = engine.handle(TimerFired(BATCH_TIMER), 0.02)
    [batch] = [x.message for x in flushed if isinstance(x, Broadcast)]
    assert isinstance(batch, VoteBatch)
    assert set(batch.txids) == {a.txid, c.txid}
    # Timeout: a and b are rejected; b admitted again still gets no vote.
    rejected = engine.handle(TimerFired(TIMEOUT_TIMER), 10.0)
    assert Rejected(a.txid, RejectReason.TIMEOUT) in rejected
    assert engine.state(a.txid) is TxState.TIMED_OUT
    assert not any(isinstance(x, VoteRecorded) for x in engine.handle(TxAdmitted.of(b), 11.0))
    # Not after an epoch change either.
    engine.handle(EpochChanged(VotingSet.of(2, vs.weights.items())), 12.0)
    engine.handle(TxAdmitted.of(b), 12.5)
    flushed = engine.handle(TimerFired(BATCH_TIMER), 13.0)
    assert all(
        b.txid not in x.message.txids
        for x in flushed
        if isinstance(x, Broadcast) and isinstance(x.message, VoteBatch)
    )
    assert engine.voted_outpoints() == {op(1): a.txid, op(2): a.txid, op(3): c.txid}


def test_restored_votes_survive_a_restart() -> None:
    vs = VotingSet.of(1, [(PUB[0], 1), (PUB[1], 1)])
    a = make_tx(op(1), memo=b"a")
    b = make_tx(op(1), memo=b"b")
    first = FinalityEngine(vs, chain_id=CHAIN, key=KEYS[0], config=FAST)
    first.handle(TxAdmitted.of(a), 0.0)
    saved = first.voted_outpoints()
    restarted = FinalityEngine(vs, chain_id=CHAIN, key=KEYS[0], config=FAST, restore=saved)
    assert restarted.voted_outpoints() == saved
    restarted.handle(TxAdmitted.of(b), 1.0)
    assert restarted.stats.votes_withheld == 1
    # The same transaction again is voted for (re-signing a choice is harmless), and
    # nothing new needs persisting.
    actions = restarted.handle(TxAdmitted.of(a), 1.0)
    assert not any(isinstance(x, VoteRecorded) for x in actions)
    flushed = restarted.handle(TimerFired(BATCH_TIMER), 1.1)
    assert [x.message.txids for x in flushed if isinstance(x, Broadcast)] == [(a.txid,)]  # type: ignore[attr-defined]
    with pytest.raises(FinalityError):
        FinalityEngine(vs, chain_id=CHAIN, restore={op(1): b"short"})


def test_vote_is_recorded_before_its_batch_is_broadcast() -> None:
    cluster = Cluster([1, 1, 1, 1])
    tx = make_tx(op(1))
    cluster.admit(tx, [0])
    cluster.advance(0.05)
    kinds = [type(a) for a in cluster.log[0] if isinstance(a, VoteRecorded | Broadcast)]
    assert kinds.index(VoteRecorded) < kinds.index(Broadcast)


# -- batching --------------------------------------------------------------------------


def test_one_signature_per_voter_for_a_window_of_transactions() -> None:
    cluster = Cluster([1, 1, 1, 1])
    txs = [make_tx(op(i)) for i in range(200)]
    for tx in txs:
        cluster.admit(tx, range(4))
        cluster.now += 0.0001  # all inside one 20 ms window
    cluster.advance(0.1)
    for node in range(4):
        assert cluster.engines[node].stats.batches_signed == 1
        assert set(cluster.finalized(node)) == {tx.txid for tx in txs}
    # Each node verified each other voter's batch once: 4 * 3 checks in total.
    assert cluster.check.checks == 12


def test_max_batch_flushes_early() -> None:
    config = FinalityConfig(batch_window=0.02, max_batch=16, finality_timeout=5.0)
    cluster = Cluster([1, 1, 1, 1], config=config)
    txs = [make_tx(op(i)) for i in range(50)]
    for tx in txs:
        cluster.admit(tx, [0])
    # Three full batches went out without waiting for the window; two txids wait.
    assert cluster.engines[0].stats.batches_signed == 3
    cluster.advance(0.05)
    assert cluster.engines[0].stats.batches_signed == 4
    sizes = [len(a.message.txids) for a in cluster.log[0] if isinstance(a, Broadcast)]  # type: ignore[attr-defined]
    assert sizes == [16, 16, 16, 2]


def test_signature_verified_once_per_batch() -> None:
    vs = VotingSet.of(1, [(PUB[i], 1) for i in range(4)])
    check = CountingCheck()
    observer = FinalityEngine(vs, chain_id=CHAIN, check_signatures=check, config=FAST)
    batch = VoteBatch.create(KEYS[1], CHAIN, 1, [make_tx(op(i)).txid for i in range(10)])
    for _ in range(5):
        observer.handle(VoteBatchReceived(batch), 0.0)
    assert check.checks == 1
    assert observer.stats.batches_duplicate == 4


# -- quorum ----------------------------------------------------------------------------


def feed(
    engine: FinalityEngine, voters: Sequence[int], txid: bytes, epoch: int = 1
) -> list[FinalityAction]:
    actions: list[FinalityAction] = []
    for v in voters:
        actions += engine.handle(
            VoteBatchReceived(VoteBatch.create(KEYS[v], CHAIN, epoch, [txid])), 0.0
        )
    return actions


@pytest.mark.parametrize(
    ("weights", "below", "exact"),
    [
        # total 9: exactly 2/3 is 6.
        ([3, 3, 2, 1], [0, 2], [0, 1]),
        # total 10: 2/3 is 6.67, so 6 is below and 7 is the smallest quorum.
        ([4, 3, 2, 1], [0, 2], [0, 2, 3]),
        # total 3: 2 of 3 equal voters.
        ([1, 1, 1], [0], [0, 1]),
        # total 4: 3 of 4 equal voters (2 is only half).
        ([1, 1, 1, 1], [0, 1], [0, 1, 2]),
    ],
)
def test_finality_at_exactly_two_thirds(
    weights: list[int], below: list[int], exact: list[int]
) -> None:
    vs = VotingSet.of(1, zip(PUB, weights, strict=False))
    tx = make_tx(op(1))
    engine = FinalityEngine(vs, chain_id=CHAIN, config=FAST)
    engine.handle(TxAdmitted.of(tx), 0.0)
    assert not any(isinstance(a, Finalized) for a in feed(engine, below, tx.txid))
    assert engine.state(tx.txid) is TxState.PENDING
    actions = feed(engine, [v for v in exact if v not in below], tx.txid)
    [final] = [a for a in actions if isinstance(a, Finalized)]
    assert final.certificate.verify(vs, CHAIN, CountingCheck())
    assert 3 * final.certificate.weight(vs) >= 2 * vs.total
    assert engine.state(tx.txid) is TxState.FINAL


def test_certificate_uses_the_fewest_heaviest_voters() -> None:
    vs = VotingSet.of(1, zip(PUB, [1, 1, 1, 1, 10], strict=False))
    tx = make_tx(op(1))
    engine = FinalityEngine(vs, chain_id=CHAIN, config=FAST)
    engine.handle(TxAdmitted.of(tx), 0.0)
    actions = feed(engine, [0, 1, 2, 3, 4], tx.txid)
    [final] = [a for a in actions if isinstance(a, Finalized)]
    # Total 14: the heavy voter alone (10 >= 9.33) is a quorum, so the certificate
    # carries one entry although five voters signed.
    assert final.certificate.voters == (PUB[4],)
    assert final.certificate.verify(vs, CHAIN, CountingCheck())


def test_votes_before_the_transaction_count_when_it_arrives() -> None:
    vs = VotingSet.of(1, [(PUB[i], 1) for i in range(4)])
    engine = FinalityEngine(vs, chain_id=CHAIN, config=FAST)
    tx = make_tx(op(1))
    assert feed(engine, [0, 1, 2], tx.txid) == []
    assert engine.stats.unknown_votes_buffered == 3
    actions = engine.handle(TxAdmitted.of(tx), 1.0)
    assert [a.txid for a in actions if isinstance(a, Finalized)] == [tx.txid]


def test_unknown_votes_are_bounded_per_voter() -> None:
    config = FinalityConfig(max_unknown_votes_per_voter=5, finality_timeout=5.0)
    vs = VotingSet.of(1, [(PUB[i], 1) for i in range(4)])
    engine = FinalityEngine(vs, chain_id=CHAIN, config=config)
    txids = [make_tx(op(i)).txid for i in range(20)]
    engine.handle(VoteBatchReceived(VoteBatch.create(KEYS[0], CHAIN, 1, txids)), 0.0)
    engine.handle(VoteBatchReceived(VoteBatch.create(KEYS[1], CHAIN, 1, txids[:3])), 0.0)
    assert engine.stats.unknown_votes_evicted == 15
    assert sum(len(w) for w in engine._unknown.values()) == 8


def test_bad_signatures_non_voters_and_other_epochs_are_dropped_and_counted() -> None:
    vs = VotingSet.of(1, [(PUB[i], 1) for i in range(4)])
    engine = FinalityEngine(vs, chain_id=CHAIN, config=FAST)
    tx = make_tx(op(1))
    engine.handle(TxAdmitted.of(tx), 0.0)
    good = VoteBatch.create(KEYS[0], CHAIN, 1, [tx.txid])
    forged = VoteBatch(PUB[1], 1, (tx.txid,), good.signature)
    other_chain = VoteBatch.create(KEYS[2], CHAIN + 1, 1, [tx.txid])
    outsider = VoteBatch.create(KEYS[8], CHAIN, 1, [tx.txid])
    old = VoteBatch.create(KEYS[3], CHAIN, 0, [tx.txid])
    for batch in (forged, other_chain, outsider, old):
        assert engine.handle(VoteBatchReceived(batch), 0.0) == []
    assert engine.stats.bad_signatures == 2
    assert engine.stats.non_voters == 1
    assert engine.stats.wrong_epoch == 1
    # None of them counted: three real votes are still needed.
    assert not any(isinstance(a, Finalized) for a in feed(engine, [0, 1], tx.txid))
    assert any(isinstance(a, Finalized) for a in feed(engine, [2], tx.txid))


def test_a_second_signature_on_a_known_batch_is_not_trusted() -> None:
    vs = VotingSet.of(1, [(PUB[i], 1) for i in range(4)])
    engine = FinalityEngine(vs, chain_id=CHAIN, config=FAST)
    tx = make_tx(op(1))
    engine.handle(TxAdmitted.of(tx), 0.0)
    good = VoteBatch.create(KEYS[0], CHAIN, 1, [tx.txid])
    engine.handle(VoteBatchReceived(good), 0.0)
    garbage = VoteBatch(good.voter, 1, good.txids, bytes(64))
    assert engine.handle(VoteBatchReceived(garbage), 0.0) == []
    [final] = [a for a in feed(engine, [1, 2], tx.txid) if isinstance(a, Finalized)]
    assert final.certificate.verify(vs, CHAIN, CountingCheck())


# -- conflicts -------------------------------------------------------------------------


def test_split_double_spend_finalizes_neither_and_times_out() -> None:
    cluster = Cluster([1, 1, 1, 1])
    a = make_tx(op(1), memo=b"a")
    b = make_tx(op(1), memo=b"b")
    cluster.admit(a, [0, 1])
    cluster.admit(b, [2, 3])
    cluster.conflict(b, [0, 1])
    cluster.conflict(a, [2, 3])
    cluster.advance(1.0)
    assert all(not cluster.finalized(n) for n in range(4))
    cluster.advance(10.0)
    assert cluster.rejected(0) == {a.txid: RejectReason.TIMEOUT}
    assert cluster.rejected(2) == {b.txid: RejectReason.TIMEOUT}
    # Honest voters never equivocate.
    assert all(not cluster.of(n, EvidenceFound) for n in range(4))


def test_conflicting_transaction_wins_and_the_local_one_is_rejected() -> None:
    cluster = Cluster([1, 1, 1, 1])
    a = make_tx(op(1), memo=b"a")
    b = make_tx(op(1), memo=b"b")
    cluster.admit(a, [0, 1, 2])
    cluster.admit(b, [3])
    cluster.conflict(a, [3])
    cluster.conflict(b, [0, 1, 2])
    cluster.advance(0.1)
    for node in range(4):
        assert set(cluster.finalized(node)) == {a.txid}
    # Node 3 voted for b; it learns a won although it never voted for a.
    assert cluster.rejected(3) == {b.txid: RejectReason.CONFLICT_FINAL}
    assert cluster.engines[3].state(b.txid) is TxState.LOST
    # Admitting the loser again is rejected at once.
    assert cluster.send(3, TxAdmitted.of(b)) == [Rejected(b.txid, RejectReason.CONFLICT_FINAL)]


def test_late_quorum_after_timeout_still_finalizes() -> None:
    cluster = Cluster([1, 1, 1, 1])
    tx = make_tx(op(1))
    cluster.link = lambda src, dst, message: False  # partition
    cluster.admit(tx, range(4))
    cluster.advance(6.0)
    assert all(cluster.rejected(n) == {tx.txid: RejectReason.TIMEOUT} for n in range(4))
    cluster.link = lambda src, dst, message: True
    # The rebroadcasts stopped with the timeout; a re-admission (the shell retrying)
    # puts the same votes back on the wire.
    cluster.admit(tx, range(4))
    cluster.advance(2.0)
    assert all(set(cluster.finalized(n)) == {tx.txid} for n in range(4))
    # The batches signed before the timeout were sent again, not signed again.
    assert all(e.stats.batches_signed == 1 for e in cluster.engines)


def test_votes_arriving_after_the_timeout_still_finalize() -> None:
    vs = VotingSet.of(1, [(PUB[i], 1) for i in range(4)])
    engine = FinalityEngine(vs, chain_id=CHAIN, config=FAST)
    tx = make_tx(op(1))
    engine.handle(TxAdmitted.of(tx), 0.0)
    assert engine.handle(TimerFired(TIMEOUT_TIMER), 5.0) == [
        Rejected(tx.txid, RejectReason.TIMEOUT)
    ]
    assert [a.txid for a in feed(engine, [0, 1, 2], tx.txid) if isinstance(a, Finalized)] == [
        tx.txid
    ]


def test_lost_votes_are_recovered_by_rebroadcast_and_certificates() -> None:
    cluster = Cluster([1, 1, 1, 1], observers=0)
    tx = make_tx(op(1))
    # Node 3 hears nothing at first; the others finalize among themselves.
    cluster.link = lambda src, dst, message: dst != 3
    cluster.admit(tx, range(4))
    cluster.advance(0.1)
    assert all(tx.txid in cluster.finalized(n) for n in range(3))
    assert not cluster.finalized(3)
    cluster.link = lambda src, dst, message: True
    cluster.advance(3.0)
    # Node 3's resend shows the others it is behind; they answer with the certificate.
    assert tx.txid in cluster.finalized(3)
    assert cluster.engines[3].stats.rebroadcasts >= 1
    assert sum(e.stats.certificates_sent for e in cluster.engines) >= 1
    assert cluster.engines[3].stats.certificates_received >= 1
    # Finalized is reported once per node, however many certificates arrive.
    assert all(len(cluster.of(n, Finalized)) == 1 for n in range(4))


def test_certificate_received_finalizes_an_unknown_transaction() -> None:
    vs = VotingSet.of(1, [(PUB[i], 1) for i in range(4)])
    a = make_tx(op(1), memo=b"a")
    b = make_tx(op(1), memo=b"b")
    batches = [VoteBatch.create(KEYS[v], CHAIN, 1, [b.txid]) for v in range(3)]
    certificate = FinalityCertificate(
        b.txid,
        1,
        tuple(
            sorted((CertificateEntry.from_batch(x, b.txid) for x in batches), key=lambda e: e.voter)
        ),
    )
    engine = FinalityEngine(vs, chain_id=CHAIN, key=KEYS[3], config=FAST)
    engine.handle(TxAdmitted.of(a), 0.0)
    assert engine.handle(CertificateReceived(certificate), 0.5) == [Finalized(b.txid, certificate)]
    # When the ledger shows the winner's outpoints, the local loser is rejected.
    assert engine.handle(TxConflicted.of(b), 0.6) == [Rejected(a.txid, RejectReason.CONFLICT_FINAL)]
    assert engine.handle(CertificateReceived(certificate), 0.7) == []
    # A forged certificate is counted and ignored.
    forged = FinalityCertificate(a.txid, 1, certificate.entries)
    other = FinalityEngine(vs, chain_id=CHAIN, config=FAST)
    assert other.handle(CertificateReceived(forged), 0.0) == []
    assert other.stats.certificates_invalid == 1
    stale = FinalityCertificate(b.txid, 5, certificate.entries)
    assert other.handle(CertificateReceived(stale), 0.0) == []
    assert other.stats.certificates_unknown_epoch == 1


def test_equivocation_produces_verifiable_evidence_naming_the_offender() -> None:
    vs = VotingSet.of(1, [(PUB[i], 1) for i in range(4)])
    a = make_tx(op(1), op(2), memo=b"a")
    b = make_tx(op(2), memo=b"b")
    engine = FinalityEngine(vs, chain_id=CHAIN, config=FAST)
    engine.handle(TxAdmitted.of(a), 0.0)
    engine.handle(TxConflicted.of(b), 0.0)
    engine.handle(
        VoteBatchReceived(VoteBatch.create(KEYS[2], CHAIN, 1, [a.txid, make_tx(op(7)).txid])), 0.1
    )
    actions = engine.handle(VoteBatchReceived(VoteBatch.create(KEYS[2], CHAIN, 1, [b.txid])), 0.2)
    [found] = [x for x in actions if isinstance(x, EvidenceFound)]
    evidence = found.evidence
    assert evidence.offender == PUB[2]
    assert set(evidence.txids) == {a.txid, b.txid}
    assert evidence.outpoints == (op(2),)
    assert evidence.verify(CHAIN, CountingCheck())
    # Reported once per voter and pair.
    again = engine.handle(
        VoteBatchReceived(VoteBatch.create(KEYS[2], CHAIN, 1, [b.txid, make_tx(op(8)).txid])), 0.3
    )
    assert not any(isinstance(x, EvidenceFound) for x in again)
    assert engine.stats.evidence_found == 1


def test_equivocation_seen_before_the_transactions_is_reported_when_they_arrive() -> None:
    vs = VotingSet.of(1, [(PUB[i], 1) for i in range(4)])
    a = make_tx(op(1), memo=b"a")
    b = make_tx(op(1), memo=b"b")
    engine = FinalityEngine(vs, chain_id=CHAIN, config=FAST)
    engine.handle(VoteBatchReceived(VoteBatch.create(KEYS[0], CHAIN, 1, [a.txid, b.txid])), 0.0)
    engine.handle(TxAdmitted.of(a), 0.1)
    actions = engine.handle(TxConflicted.of(b), 0.2)
    [found] = [x for x in actions if isinstance(x, EvidenceFound)]
    assert found.evidence.offender == PUB[0]
    assert found.evidence.verify(CHAIN, CountingCheck())


def test_without_transaction_bytes_equivocation_is_counted_not_proven() -> None:
    vs = VotingSet.of(1, [(PUB[i], 1) for i in range(4)])
    a = make_tx(op(1), memo=b"a")
    b = make_tx(op(1), memo=b"b")
    engine = FinalityEngine(vs, chain_id=CHAIN, config=FAST)
    engine.handle(TxAdmitted(a.txid, (op(1),)), 0.0)
    engine.handle(TxConflicted(b.txid, (op(1),)), 0.0)
    engine.handle(VoteBatchReceived(VoteBatch.create(KEYS[0], CHAIN, 1, [a.txid, b.txid])), 0.0)
    assert engine.stats.evidence_unprovable == 1


def test_conflicts_per_outpoint_are_bounded() -> None:
    config = FinalityConfig(max_conflicts_per_outpoint=3, finality_timeout=5.0)
    vs = VotingSet.of(1, [(PUB[i], 1) for i in range(4)])
    engine = FinalityEngine(vs, chain_id=CHAIN, config=config)
    engine.handle(TxAdmitted.of(make_tx(op(1))), 0.0)
    for i in range(10):
        engine.handle(TxConflicted.of(make_tx(op(1), memo=bytes([i]))), 0.0)
    assert engine.stats.conflicts_dropped == 8
    assert len(engine._spenders[op(1)]) == 3


def test_tracked_transactions_are_bounded() -> None:
    config = FinalityConfig(max_tracked_txs=10, finality_timeout=5.0)
    vs = VotingSet.of(1, [(PUB[i], 1) for i in range(4)])
    engine = FinalityEngine(vs, chain_id=CHAIN, config=config)
    for i in range(30):
        engine.handle(TxConflicted.of(make_tx(op(i))), 0.0)
    assert len(engine._records) == 10
    assert engine.stats.records_evicted == 20


# -- epochs and checkpoints ------------------------------------------------------------


def test_epoch_change_revotes_pending_and_replays_early_votes() -> None:
    cluster = Cluster([1, 1, 1, 1])
    tx = make_tx(op(1))
    cluster.link = lambda src, dst, message: False
    cluster.admit(tx, range(4))
    cluster.advance(0.1)
    cluster.link = lambda src, dst, message: True
    new = VotingSet.of(2, cluster.vs.weights.items())
    # Node 0 moves first: its new-epoch batch reaches the others while they are still
    # in epoch 1 and waits for them.
    cluster.send(0, EpochChanged(new))
    cluster.advance(0.05)
    assert cluster.engines[1].stats.future_batches_buffered == 1
    for node in (1, 2, 3):
        cluster.send(node, EpochChanged(new))
    cluster.advance(0.1)
    for node in range(4):
        [final] = cluster.of(node, Finalized)
        assert final.certificate.epoch == 2  # type: ignore[attr-defined]
    with pytest.raises(FinalityError):
        cluster.send(0, EpochChanged(new))


def test_certificate_of_the_previous_epoch_still_verifies() -> None:
    vs1 = VotingSet.of(1, [(PUB[i], 1) for i in range(4)])
    tx = make_tx(op(1))
    batches = [VoteBatch.create(KEYS[v], CHAIN, 1, [tx.txid]) for v in range(3)]
    certificate = FinalityCertificate(
        tx.txid,
        1,
        tuple(
            sorted(
                (CertificateEntry.from_batch(x, tx.txid) for x in batches), key=lambda e: e.voter
            )
        ),
    )
    engine = FinalityEngine(vs1, chain_id=CHAIN, config=FAST)
    engine.handle(EpochChanged(VotingSet.of(2, vs1.weights.items())), 1.0)
    assert engine.handle(CertificateReceived(certificate), 2.0) == [Finalized(tx.txid, certificate)]


def test_checkpoint_forgets_settled_spends() -> None:
    cluster = Cluster([1, 1, 1, 1])
    tx = make_tx(op(1))
    cluster.admit(tx, range(4))
    cluster.advance(0.1)
    engine = cluster.engines[0]
    assert engine.voted_outpoints() == {op(1): tx.txid}
    engine.handle(Checkpointed((tx.txid,)), 1.0)
    assert engine.voted_outpoints() == {}
    assert engine.state(tx.txid) is None


def test_observer_follows_finality_without_signing() -> None:
    cluster = Cluster([1, 1, 1], observers=1)
    tx = make_tx(op(1))
    cluster.admit(tx, range(4))
    cluster.advance(0.1)
    assert tx.txid in cluster.finalized(3)
    assert cluster.engines[3].stats.batches_signed == 0
    assert cluster.engines[3].voted_outpoints() == {}


def test_engine_refuses_bad_configuration_and_events() -> None:
    vs = VotingSet.of(1, [(PUB[0], 1)])
    with pytest.raises(FinalityError):
        FinalityConfig(batch_window=0)
    with pytest.raises(FinalityError):
        FinalityConfig(max_batch=0)
    with pytest.raises(FinalityError):
        FinalityConfig(batch_window=2.0, finality_timeout=1.0)
    with pytest.raises(FinalityError):
        FinalityConfig(max_batch=10**6)
    with pytest.raises(FinalityError):
        FinalityEngine(vs, chain_id=-1)
    with pytest.raises(FinalityError):
        TxAdmitted(bytes(32), ())
    tx = make_tx(op(1))
    with pytest.raises(FinalityError):
        TxAdmitted(tx.txid, (op(2),), tx)
    engine = FinalityEngine(vs, chain_id=CHAIN)
    with pytest.raises(FinalityError):
        engine.handle("nonsense", 0.0)  # type: ignore[arg-type]
    assert engine.handle(TimerFired("someone else's"), 0.0) == []


def test_single_voter_network_finalizes_on_its_own_vote() -> None:
    vs = VotingSet.of(1, [(PUB[0], 1)])
    engine = FinalityEngine(vs, chain_id=CHAIN, key=KEYS[0], config=FAST)
    tx = make_tx(op(1))
    engine.handle(TxAdmitted.of(tx), 0.0)
    actions = engine.handle(TimerFired(BATCH_TIMER), 0.02)
    assert [a.txid for a in actions if isinstance(a, Finalized)] == [tx.txid]
    # Nothing is pending, so nothing is resent.
    assert engine.handle(TimerFired(REBROADCAST_TIMER), 2.0) == []
    assert engine.stats.as_dict()["finalized"] == 1


# -- cost ------------------------------------------------------------------------------


def measure(txs: int, spacing: float) -> tuple[float, float, float]:
    """(signatures made, signatures verified by engines, checks to verify every
    certificate of the run as one block) per final transaction, 4 equal masternodes."""
    cluster = Cluster([1, 1, 1, 1])
    for i in range(txs):
        cluster.admit(make_tx(op(i)), range(4))
        cluster.advance(spacing)
    cluster.advance(1.0)
    finals = cluster.finalized(0)
    assert len(finals) == txs and all(len(cluster.finalized(n)) == txs for n in range(4))
    signed = sum(e.stats.batches_signed for e in cluster.engines)
    block = CountingCheck()
    assert all(verify_certificates(list(finals.values()), {1: cluster.vs}, CHAIN, block))
    return signed / txs, cluster.check.checks / txs, block.checks / txs


def test_cost_of_finality_in_a_four_masternode_network() -> None:
    """Without batching every final tx costs 4 signatures and 12 verifications (each
    node checks the other three). With a 20 ms window the cost falls with the rate."""
    burst = measure(400, 0.0)  # all in one window
    steady = measure(400, 0.001)  # 1,000 tx/s: about 20 per window
    trickle = measure(20, 0.1)  # 10 tx/s: nothing to share a signature with
    assert burst == (4 / 400, 12 / 400, 3 / 400)
    assert steady[0] <= 4 / 15 and steady[1] <= 12 / 15
    assert trickle[:2] == (4.0, 12.0)
    # A certificate holds 3 of the 4 signatures (3 of 4 equal weights is the smallest
    # quorum); a block verifying many at once checks each distinct batch once.
    assert steady[2] <= 3 / 15
    print(
        "\nsignatures per final tx (made, verified by engines, block check): "
        f"burst {burst}, 1000 tx/s {steady}, 10 tx/s {trickle}"
    )


def test_early_next_epoch_batches_are_bounded_per_voter_and_checked_on_arrival() -> None:
    # 9.2 MB of early batches used to be buffered unchecked, first come first served,
    # then verified in the one call that changes epoch, pushing out honest batches.
    config = replace(FAST, max_future_votes=64)
    vs = VotingSet.of(1, [(PUB[i], 1) for i in range(4)])
    counting = CountingCheck()
    engine = FinalityEngine(vs, chain_id=CHAIN, check_signatures=counting, config=config)
    stranger = PrivateKey.from_seed(b"\x55" * 32)
    for i in range(50):
        engine.handle(VoteBatchReceived(VoteBatch.create(stranger, CHAIN, 2, [bytes([i + 1]) * 32])), 0.0)
        flood = [bytes([i + 1, k + 1]) + bytes(30) for k in range(5)]
        engine.handle(VoteBatchReceived(VoteBatch.create(KEYS[1], CHAIN, 2, flood)), 0.0)
    honest = VoteBatch.create(KEYS[2], CHAIN, 2, [b"\x77" * 32])
    engine.handle(VoteBatchReceived(honest), 0.0)
    held = engine._future
    assert PUB[0] not in held and stranger.public_key.data not in held  # non-voters: nothing
    assert sum(len(b.txids) for b in held[PUB[1]]) <= 64 // 4  # the flooder keeps its share
    assert held[PUB[2]] == [honest]  # and the honest early batch is still there
    before = counting.checks
    engine.handle(EpochChanged(VotingSet.of(2, [(PUB[i], 1) for i in range(4)])), 1.0)
    assert counting.checks - before <= 8 + 1  # one signature per held batch, no more
    assert engine.stats.future_batches_dropped >= 50 + 40
