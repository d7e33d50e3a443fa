"""Every mutation of the simulator's adversary yields a proposal honest nodes refuse
(except the equivocation, whose two blocks are each valid)."""

from __future__ import annotations

import random

import pytest

from timecoin_core import TransactionBuilder, coins
from timecoin_core.consensus import BlockVote, Proposal, ProposalValue
from timecoin_core.consensus.bft_messages import VoteKind
from timecoin_core.sim.adversary import _MUTATIONS, Adversary, Mutation
from timecoin_core.testing import LocalChain


@pytest.fixture(scope="module")
def scene() -> tuple[LocalChain, Adversary, bytes, int]:
    chain = LocalChain(4, auto_finality=False)
    alice = chain.wallet("alice", balance=coins("50"))
    bob = chain.wallet("bob", balance=coins("50"))
    carol = chain.wallet("carol", balance=coins("5"))
    chain.produce_block()
    alice.send(bob, coins("2"))
    bob.send(alice, coins("3"))
    chain.finalize()  # two final transactions, not yet in a block
    byzantine = chain.nodes[1]
    coin = carol.coins()[0]
    pending = TransactionBuilder(chain.network).spend(coin.outpoint, coin.output, carol.key).pay(bob.address, coins("1")).build()
    byzantine.handle(pending, chain.clock.now())  # pending at the byzantine node only
    assert pending.txid in byzantine.pool and not byzantine.pool.get(pending.txid).final  # type: ignore[union-attr]
    adversary = Adversary(random.Random(7), chain.network.chain_id, {w.key.public_key.payload: w.key for w in (alice, bob)})
    height = byzantine.chain.height + 1
    for certificate in byzantine.certificates.values():
        adversary.observe(certificate)
    adversary.observe(BlockVote.create(chain.masternode_keys[0], chain.network.chain_id, VoteKind.PREVOTE, height - 1, 0, b"\x01" * 32))
    _, value = byzantine.build_value(height, 0)
    return chain, adversary, value, height


@pytest.mark.parametrize("mutation", list(Mutation), ids=[m.value for m in Mutation])
def test_each_mutation_is_refused_by_an_honest_node(
    scene: tuple[LocalChain, Adversary, bytes, int], mutation: Mutation
) -> None:
    chain, adversary, value, height = scene
    byzantine, honest = chain.nodes[1], chain.nodes[0]
    parsed = ProposalValue.from_bytes(value, chain.network.max_block_size)
    assert parsed.block.transactions  # the honest value carries final transactions
    result = _MUTATIONS[mutation](adversary, byzantine, chain.masternode_keys[1], parsed)
    assert result is not None, f"{mutation} found nothing to mutate"
    raw = result if isinstance(result, bytes) else result.to_bytes()
    assert raw != value
    verdict = honest.validate_value(height, raw)
    if mutation is Mutation.EQUIVOCATE_VALID:
        assert verdict is not None  # a second valid block: equivocation, not invalidity
    else:
        assert verdict is None, f"{mutation} was accepted"


def test_the_adversary_rewrites_only_its_own_proposals(scene: tuple[LocalChain, Adversary, bytes, int]) -> None:
    chain, adversary, value, height = scene
    relayed = Proposal.create(chain.masternode_keys[0], chain.network.chain_id, height, 0, -1, bytes(32), value)
    assert adversary.mutate(chain.nodes[1], chain.masternode_keys[1], relayed, [0, 2, 3]) == [([0, 2, 3], relayed)]


def test_raced_swaps_happen_and_an_unreported_conflict_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    from timecoin_core.consensus import ConsensusNode
    from timecoin_core.sim.invariants import check_liveness, check_safety
    from timecoin_core.sim.world import SimConfig, World

    world = World(4, SimConfig(nodes=4, byzantine=1, duration=20, settle=30))
    world.run()
    assert world.record.swaps, "the adversary raced no swap"
    assert check_safety(world) == [] and check_liveness(world) == []
    stuck = [
        swap for swap, rival in world.record.swaps
        if not any(t in world.record.final_at[i] for i in world.honest for t in (swap, rival))
    ]
    assert stuck, "every raced swap got resolved: the scenario does not exercise frozen coins"
    # A node that forgot to report the conflict is caught by the invariant.
    monkeypatch.setattr(ConsensusNode, "contest", lambda self, txid: None)
    assert "conflict-unreported" in [v.invariant for v in check_liveness(world)]
