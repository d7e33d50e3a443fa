"""Seeded simulations: honest engines, byzantine voters and a hostile network.

Each seed builds 4-7 masternodes with random weights, picks byzantine voters with
< 1/3 of the weight, and runs a workload of ordinary transactions plus double spends
whose sides go to disjoint halves of the honest nodes. The byzantine voters sign
*both* sides, each side to the half that has it, and add junk (forged signatures,
wrong epochs, votes for transactions nobody has). Until ``heal`` the network delays,
drops, duplicates and reorders messages (sometimes partitioning the halves); after
it, delivery is reliable with small delays. Some seeds also change the epoch mid-run.

Asserted for every seed:

* safety: no two conflicting transactions are final, at any node or across nodes;
  every certificate verifies; ``Finalized`` is reported at most once per node and txid;
  evidence always verifies and only ever names byzantine voters;
* liveness: every ordinary transaction is final at every honest node by the end.
"""

from __future__ import annotations

import hashlib
import heapq
import random
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import pytest

from timecoin_core.consensus.finality import (
    CertificateReceived,
    EpochChanged,
    EvidenceFound,
    FinalityAction,
    FinalityConfig,
    FinalityEngine,
    FinalityEvent,
    Finalized,
    Rejected,
    RejectReason,
    TxAdmitted,
    TxConflicted,
    VoteBatchReceived,
)
from timecoin_core.consensus.finality_messages import (
    ConflictingVotesEvidence,
    FinalityCertificate,
    VoteBatch,
    verify_certificates,
)
from timecoin_core.consensus.sansio import Broadcast, SetTimer, TimerFired
from timecoin_core.consensus.voting import VotingSet
from timecoin_core.keys import PrivateKey
from timecoin_core.transaction import OutPoint, Transaction, TxIn, TxOut
from timecoin_core.verify import SignatureCheck, verify_one

CHAIN = 3
KEYS = [PrivateKey.from_seed(hashlib.sha256(bytes([i])).digest()) for i in range(8)]
PUB = [k.public_key.data for k in KEYS]
CONFIG = FinalityConfig(batch_window=0.02, finality_timeout=8.0, rebroadcast_interval=0.5)
SEEDS = range(300)

_verdicts: dict[SignatureCheck, bool] = {}


def check_signatures(checks: Sequence[SignatureCheck]) -> list[bool]:
    # Real Ed25519 verification. Each engine still verifies every batch itself (its
    # stats count that); the memo only spares the test suite identical work across
    # nodes and seeds (keys and batches repeat between seeds).
    out = []
    for check in checks:
        verdict = _verdicts.get(check)
        if verdict is None:
            verdict = _verdicts[check] = verify_one(
                check.public_key, check.message, check.signature
            )
        out.append(verdict)
    return out


def coin(seed: int, i: int) -> OutPoint:
    return OutPoint(hashlib.sha256(f"{seed}/{i}".encode()).digest(), i % 3)


def make_tx(outpoints: Sequence[OutPoint], memo: bytes) -> Transaction:
    return Transaction([TxIn(o) for o in outpoints], [TxOut(1_000, bytes(20))], memo=memo)


def conflicting(a: Transaction, b: Transaction) -> bool:
    return a.txid != b.txid and bool(
        {i.outpoint for i in a.inputs} & {i.outpoint for i in b.inputs}
    )


@dataclass
class Ledger:
    """The shell's view: outpoint locks of admitted transactions."""

    locks: dict[OutPoint, bytes] = field(default_factory=dict)
    seen: set[bytes] = field(default_factory=set)

    def offer(self, tx: Transaction) -> FinalityEvent | None:
        if tx.txid in self.seen:
            return None
        self.seen.add(tx.txid)
        outpoints = [i.outpoint for i in tx.inputs]
        if all(self.locks.get(o, tx.txid) == tx.txid for o in outpoints):
            for o in outpoints:
                self.locks[o] = tx.txid
            return TxAdmitted.of(tx)
        return TxConflicted.of(tx)

    def release(self, txid: bytes) -> None:
        for o in [o for o, t in self.locks.items() if t == txid]:
            del self.locks[o]


class Sim:
    """One seeded run."""

    def __init__(self, seed: int) -> None:
        rng = self.rng = random.Random(seed)
        self.seed = seed
        n = rng.randint(4, 7)
        self.weights = [rng.randint(1, 10) for _ in range(n)]
        total = sum(self.weights)
        self.byzantine: set[int] = set()
        byz_weight = 0
        for i in rng.sample(range(n), n):
            if 3 * (byz_weight + self.weights[i]) < total and rng.random() < 0.8:
                self.byzantine.add(i)
                byz_weight += self.weights[i]
        self.honest = [i for i in range(n) if i not in self.byzantine]
        self.vs = VotingSet.of(1, zip(PUB, self.weights, strict=False))
        self.engines = {
            i: FinalityEngine(
                self.vs,
                chain_id=CHAIN,
                key=KEYS[i],
                check_signatures=check_signatures,
                config=CONFIG,
            )
            for i in self.honest
        }
        self.ledgers = {i: Ledger() for i in self.honest}
        shuffled = rng.sample(self.honest, len(self.honest))
        half = rng.randint(1, len(shuffled) - 1)
        self.halves = (set(shuffled[:half]), set(shuffled[half:]))
        self.heal = rng.uniform(0.3, 2.5)
        self.loss = rng.uniform(0.0, 0.6)
        self.partitioned = rng.random() < 0.3
        self.epoch_change = rng.uniform(0.2, 3.0) if rng.random() < 0.3 else None
        self.epoch = 1
        self.queue: list[tuple[float, int, int, object]] = []
        self.seq = 0
        self.timers: dict[tuple[int, Hashable], float] = {}
        self.finalized: dict[int, list[bytes]] = {i: [] for i in self.honest}
        self.certificates: list[FinalityCertificate] = []
        self.rejected: dict[int, dict[bytes, RejectReason]] = {i: {} for i in self.honest}
        self.evidence: list[ConflictingVotesEvidence] = []
        self.txs: dict[bytes, Transaction] = {}
        self.ordinary: list[Transaction] = []
        self.double_spends: list[list[Transaction]] = []
        self.byz_votes: dict[int, list[tuple[bytes, set[int]]]] = {i: [] for i in self.byzantine}

    # -- plumbing ----------------------------------------------------------------------

    def push(self, at: float, node: int, item: object) -> None:
        self.seq += 1
        heapq.heappush(self.queue, (at, self.seq, node, item))

    def send(self, src: int, dst: int, message: object, now: float) -> None:
        rng = self.rng
        if now < self.heal:
            if self.partitioned and (src in self.halves[0]) != (dst in self.halves[0]):
                return
            if rng.random() < self.loss:
                return
            delay = rng.uniform(0.0, 0.3)
        else:
            delay = rng.uniform(0.0, 0.05)
        self.push(now + delay, dst, message)
        if rng.random() < 0.1:
            self.push(now + rng.uniform(0.0, 0.3), dst, message)

    def deliver(self, node: int, event: FinalityEvent, now: float) -> None:
        actions = self.engines[node].handle(event, now)
        self.apply(node, actions, now)

    def apply(self, node: int, actions: list[FinalityAction], now: float) -> None:
        for action in actions:
            if isinstance(action, Broadcast):
                for dst in range(len(self.weights)):
                    if dst != node:
                        self.send(node, dst, action.message, now)
            elif isinstance(action, SetTimer):
                self.timers[(node, action.key)] = action.at
                self.push(action.at, node, ("timer", action.key, action.at))
            elif isinstance(action, Finalized):
                self.finalized[node].append(action.txid)
                self.certificates.append(action.certificate)
            elif isinstance(action, Rejected):
                self.rejected[node][action.txid] = action.reason
                self.ledgers[node].release(action.txid)
            elif isinstance(action, EvidenceFound):
                self.evidence.append(action.evidence)

    # -- workload ----------------------------------------------------------------------

    def schedule_workload(self) -> None:
        rng = self.rng
        counter = 0
        for k in range(rng.randint(4, 12)):
            inputs = [coin(self.seed, counter + j) for j in range(rng.randint(1, 3))]
            counter += len(inputs)
            tx = make_tx(inputs, b"ok%d" % k)
            self.ordinary.append(tx)
            start = rng.uniform(0.0, 2.0)
            for node in self.honest:
                self.push(start + rng.uniform(0.0, 0.3), node, tx)
            self.byzantine_vote(tx, set(self.honest), start)
        for k in range(rng.randint(1, 4)):
            shared = coin(self.seed, counter)
            counter += 1
            sides = []
            for s in range(rng.choice((2, 2, 3))):
                extra = [coin(self.seed, counter)] if rng.random() < 0.5 else []
                counter += len(extra)
                sides.append(make_tx([shared, *extra], b"ds%d/%d" % (k, s)))
            self.double_spends.append(sides)
            start = rng.uniform(0.0, 2.0)
            # Side 0 reaches half 0 first, side 1 half 1; the rest trickle in later.
            for s, tx in enumerate(sides):
                target = self.halves[s % 2]
                for node in self.honest:
                    first = node in target
                    delay = rng.uniform(0.0, 0.2) if first else rng.uniform(0.3, 1.5)
                    if s == 2 or rng.random() < 0.9:
                        self.push(start + delay, node, tx)
                self.byzantine_vote(tx, target, start)
        for tx in [*self.ordinary, *(t for sides in self.double_spends for t in sides)]:
            self.txs[tx.txid] = tx

    def byzantine_vote(self, tx: Transaction, audience: set[int], at: float) -> None:
        for b in self.byzantine:
            if self.rng.random() < 0.85:
                self.push(at + self.rng.uniform(0.0, 0.1), b, ("byz", tx.txid, frozenset(audience)))

    def byzantine_act(self, node: int, txid: bytes, audience: frozenset[int], now: float) -> None:
        rng = self.rng
        key = KEYS[node]
        epoch = self.epoch
        txids = [txid]
        if rng.random() < 0.3:
            # Votes for transactions nobody has: they must stay bounded.
            txids += [hashlib.sha256(rng.randbytes(8)).digest() for _ in range(rng.randint(1, 20))]
        batch = VoteBatch.create(key, CHAIN, epoch, txids)
        for dst in audience:
            self.send(node, dst, batch, now)
        roll = rng.random()
        junk: VoteBatch | None = None
        if roll < 0.1:
            junk = VoteBatch(PUB[node], epoch, batch.txids, bytes(64))
        elif roll < 0.2:
            junk = VoteBatch.create(key, CHAIN, epoch + 5, txids)
        elif roll < 0.3:
            junk = VoteBatch.create(key, CHAIN + 1, epoch, txids)
        if junk is not None:
            for dst in self.honest:
                self.send(node, dst, junk, now)
        # Byzantine voters resend after the heal too, so their votes can matter late.
        if now < self.heal + 2.0 and rng.random() < 0.5:
            self.push(now + rng.uniform(0.3, 1.5), node, ("byz", txid, audience))

    # -- run ---------------------------------------------------------------------------

    def run(self) -> None:
        self.schedule_workload()
        if self.epoch_change is not None:
            for node in self.honest:
                self.push(self.epoch_change + self.rng.uniform(0.0, 0.4), node, ("epoch",))
        end = 40.0
        while self.queue:
            now, _, node, item = heapq.heappop(self.queue)
            if now > end:
                break
            if node in self.byzantine:
                if isinstance(item, tuple) and item[0] == "byz":
                    if self.epoch_change is not None and now >= self.epoch_change:
                        self.epoch = 2
                    self.byzantine_act(node, item[1], item[2], now)
                continue
            if isinstance(item, Transaction):
                event = self.ledgers[node].offer(item)
                if event is not None:
                    self.deliver(node, event, now)
            elif isinstance(item, VoteBatch):
                self.deliver(node, VoteBatchReceived(item), now)
            elif isinstance(item, FinalityCertificate):
                self.deliver(node, CertificateReceived(item), now)
            elif isinstance(item, tuple) and item[0] == "timer":
                if self.timers.get((node, item[1])) == item[2]:
                    del self.timers[(node, item[1])]
                    self.deliver(node, TimerFired(item[1]), now)
            elif isinstance(item, tuple) and item[0] == "epoch":
                self.deliver(node, EpochChanged(VotingSet.of(2, self.vs.weights.items())), now)

    # -- properties --------------------------------------------------------------------

    def check(self) -> None:
        all_final = {t for txids in self.finalized.values() for t in txids}
        final_txs = [self.txs[t] for t in all_final if t in self.txs]
        assert len(final_txs) == len(all_final), "a transaction nobody sent became final"
        for i, a in enumerate(final_txs):
            for b in final_txs[i + 1 :]:
                assert not conflicting(a, b), f"seed {self.seed}: conflicting transactions final"
        for node, txids in self.finalized.items():
            assert len(txids) == len(set(txids)), f"seed {self.seed}: Finalized twice at {node}"
            for txid in txids:
                assert self.rejected[node].get(txid) != RejectReason.CONFLICT_FINAL
        sets = {1: self.vs, 2: VotingSet.of(2, self.vs.weights.items())}
        assert all(verify_certificates(self.certificates, sets, CHAIN, check_signatures))
        for evidence in self.evidence:
            assert evidence.verify(CHAIN, check_signatures)
            assert evidence.offender in {PUB[b] for b in self.byzantine}, "an honest voter accused"
        for tx in self.ordinary:
            for node in self.honest:
                assert tx.txid in self.finalized[node], (
                    f"seed {self.seed}: ordinary tx not final at node {node}"
                )
        for node, engine in self.engines.items():
            assert engine.stats.conflicting_quorums == 0
            # Honest engines never hold more unknown votes than the cap allows.
            assert all(
                len(o) <= CONFIG.max_unknown_votes_per_voter for o in engine._unknown_order.values()
            )
            for sides in self.double_spends:
                if any(t.txid in all_final for t in sides):
                    winner = next(t for t in sides if t.txid in all_final)
                    for t in sides:
                        if t is not winner and t.txid in self.ledgers[node].seen:
                            assert engine.state(t.txid) is not None


@pytest.mark.parametrize("chunk", range(6))
def test_seeded_schedules_are_safe_and_live(chunk: int) -> None:
    stats = {"final_double_spends": 0, "frozen_double_spends": 0, "evidence": 0}
    for seed in SEEDS[chunk::6]:
        sim = Sim(seed)
        sim.run()
        sim.check()
        all_final = {t for txids in sim.finalized.values() for t in txids}
        for sides in sim.double_spends:
            if any(t.txid in all_final for t in sides):
                stats["final_double_spends"] += 1
            else:
                stats["frozen_double_spends"] += 1
        stats["evidence"] += len(sim.evidence)
    # The schedules exercise both outcomes of a double spend, and equivocation.
    assert stats["final_double_spends"] > 0
    assert stats["frozen_double_spends"] > 0
    assert stats["evidence"] > 0


def test_simulation_is_deterministic() -> None:
    first, second = Sim(17), Sim(17)
    first.run()
    second.run()
    assert first.finalized == second.finalized
    assert [e.to_bytes() for e in first.evidence] == [e.to_bytes() for e in second.evidence]
