"""The proposer order: nothing the previous proposer chose can move it."""

from __future__ import annotations

from timecoin_core import coins
from timecoin_core.consensus.bft import select_proposer
from timecoin_core.testing import LocalChain


def _leaders(chain: LocalChain, heights: range) -> list[bytes]:
    node = chain.node
    return [
        select_proposer(node.registry.voting_set_for_height(h), node._seed_for(h), h, 0)  # the node's own seed
        for h in heights
    ]


def test_the_seed_is_the_voting_sets_digest_not_the_parent_hash() -> None:
    chain = LocalChain(masternodes=4)
    block = chain.produce_block()
    seed = chain.node._seed_for(2)
    assert seed == chain.node.registry.voting_set_for_height(2).digest()
    assert seed != block.hash


def test_a_proposer_cannot_pick_the_next_leader_by_what_it_puts_in_its_block() -> None:
    # Two chains from the same genesis whose first blocks differ (contents and time):
    # under the old seed (the parent hash) the leaders after them differed; now a block
    # builder has nothing to grind.
    quiet, busy = LocalChain(masternodes=4), LocalChain(masternodes=4)
    alice, bob = busy.accounts[:2]
    alice.send(bob, coins("1"))
    first = [quiet.produce_block(), busy.produce_block(timestamp=busy.node.chain.tip.header.timestamp + 7)]
    assert first[0].hash != first[1].hash
    for _ in range(5):
        quiet.produce_block()
        busy.produce_block()
    assert _leaders(quiet, range(2, 8)) == _leaders(busy, range(2, 8))
    # ...and the leaders that actually proposed are that order's round-0 choices.
    assert [quiet.block(h).header.proposer for h in range(2, 7)] == _leaders(quiet, range(2, 7))  # type: ignore[union-attr]
    assert [busy.block(h).header.proposer for h in range(2, 7)] == _leaders(busy, range(2, 7))  # type: ignore[union-attr]


def test_the_order_still_changes_from_height_to_height() -> None:
    chain = LocalChain(masternodes=7)
    leaders = _leaders(chain, range(1, chain.network.epoch_length + 1))  # epoch 0's set is known
    assert len(set(leaders)) > 1
