"""Item 4 of the consensus-under-pressure review: a co-signed swap raced by a double spend.

The attacker co-signs a swap with the victim, then sends a conflicting spend of its own
coin to the other half of the masternodes. Neither side reaches two thirds. No protocol
of one-phase accept votes can release the victim's coin safely (docs/consensus-finality.md,
"Conflicts that never reach a quorum"); what the node owes its callers is the truth:
the swap, and any later spend of the victim's coin, are CONFLICTED with named rivals and
reported deadlocked, and nothing conflicting is ever final, however long it runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import anyio

from timecoin_core import Transaction, TransactionBuilder, coins
from timecoin_core.consensus import ConsensusNode, Contest, NodeAction, TxState
from timecoin_core.consensus.sansio import Broadcast, TimerFired
from timecoin_core.testing import LocalChain, TxStatus
from timecoin_net.rpc import LocalChainBackend
from timecoin_net.rpc.models import TxidParams

BATCH = ("finality", ("finality", "batch"))


def _deliver(nodes: Sequence[ConsensusNode], outbox: list[tuple[int, NodeAction]], now: float) -> None:
    while outbox:
        sender, action = outbox.pop(0)
        if isinstance(action, Broadcast) and not isinstance(action.message, Transaction):
            for j, node in enumerate(nodes):
                if j != sender:
                    outbox += [(j, a) for a in node.handle(action.message, now, origin=sender)]  # type: ignore[arg-type]


def _race(chain: LocalChain) -> tuple[Transaction, Transaction, Transaction]:
    attacker, victim = chain.accounts[0], chain.accounts[1]
    a, v = attacker.coins()[0], victim.coins()[0]
    swap = (
        TransactionBuilder(chain.network)
        .spend(a.outpoint, a.output, attacker.key)
        .spend(v.outpoint, v.output, victim.key)
        .pay(victim.address, a.amount - coins("1"))
        .pay(attacker.address, v.amount)
        .build()
    )
    rival = (
        TransactionBuilder(chain.network)
        .spend(a.outpoint, a.output, attacker.key)
        .pay(attacker.address, a.amount - coins("1"))
        .build()
    )
    rescue = (
        TransactionBuilder(chain.network)
        .spend(v.outpoint, v.output, victim.key)
        .pay(victim.address, v.amount - coins("1"))
        .build()
    )
    return swap, rival, rescue


def test_a_raced_swap_is_reported_conflicted_and_deadlocked_never_final_twice() -> None:
    chain = LocalChain(4, auto_finality=False)
    swap, rival, rescue = _race(chain)
    nodes = chain.nodes
    now = chain.clock.now()
    outbox: list[tuple[int, NodeAction]] = []
    # Two masternodes see the swap first, two the rival: each side gets 2/4 < 2/3.
    for i, tx in enumerate([swap, swap, rival, rival]):
        outbox += [(i, a) for a in nodes[i].handle(tx, now, origin="client")]
    for i, tx in enumerate([rival, rival, swap, swap]):
        outbox += [(i, a) for a in nodes[i].handle(tx, now, origin="attacker")]
    for _ in range(6):  # vote batches, rebroadcasts, timeouts: nothing changes
        now += 5.0
        for i, node in enumerate(nodes):
            outbox += [(i, a) for a in node.handle(TimerFired(BATCH), now)]
            outbox += [(i, a) for a in node.handle(TimerFired(("finality", ("finality", "timeout"))), now)]
        _deliver(nodes, outbox, now)
    for node in nodes:
        contest = node.contest(swap.txid)
        assert isinstance(contest, Contest)
        assert contest.rivals == (rival.txid,)
        assert dict(contest.seen) == {swap.txid: 2, rival.txid: 2}
        assert contest.silent == 0 and contest.deadlocked
        assert node.finality.state(swap.txid) is not TxState.FINAL
        assert node.finality.state(rival.txid) is not TxState.FINAL

    # The victim's own later spend of its coin conflicts with the swap, at every node.
    for i, node in enumerate(nodes):
        outbox += [(i, a) for a in node.handle(rescue, now, origin="victim")]
    _deliver(nodes, outbox, now)
    assert all(n.finality.state(rescue.txid) is not TxState.FINAL for n in nodes)
    assert nodes[0].contest(rescue.txid) is not None

    receipt = chain.receipt(swap.txid)
    assert receipt.status is TxStatus.CONFLICTED
    assert set(receipt.conflicts) == {rival.txid, rescue.txid} and receipt.deadlocked
    assert "deadlocked=True" in repr(receipt)

    # The node's RPC says the same: conflicted, the rivals named, deadlocked.
    backend = LocalChainBackend(chain)
    info = anyio.run(backend.gettxstatus, TxidParams(txid=swap.txid))
    assert info.status == "conflicted" and info.deadlocked
    assert set(info.conflicts) == {rival.txid, rescue.txid}
    assert info.model_dump(mode="json")["conflicts"] == [t.hex() for t in info.conflicts]


def test_a_contest_with_silent_weight_is_not_deadlocked() -> None:
    chain = LocalChain(4, auto_finality=False)
    swap, rival, _ = _race(chain)
    node = chain.nodes[0]
    now = chain.clock.now()
    node.handle(swap, now, origin="client")
    node.handle(rival, now, origin="attacker")
    node.handle(TimerFired(BATCH), now + 1)
    contest = node.contest(swap.txid)
    assert contest is not None
    assert dict(contest.seen) == {swap.txid: 1, rival.txid: 0}
    assert contest.silent == 3 and not contest.deadlocked  # 1 + 3 silent could still reach 3/4
    assert contest.leader == swap.txid
    # A transaction with no rival has no contest.
    assert node.contest(b"\x00" * 32) is None
    assert chain.receipt(swap.txid).status is TxStatus.CONFLICTED
