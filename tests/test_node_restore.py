"""A ConsensusNode resumes from a store: same chain, same votes, same final transactions."""

from __future__ import annotations

import pytest

from timecoin_core import TransactionBuilder, coins
from timecoin_core.consensus import ConsensusNode, VoteBatch
from timecoin_core.consensus.finality import VoteRecorded
from timecoin_core.consensus.sansio import Broadcast
from timecoin_core.store import MemoryStore, load_node_state
from timecoin_core.testing import LocalChain


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _persist(chain: LocalChain) -> MemoryStore:
    node = chain.node
    store = MemoryStore(chain.network)
    for height in range(1, node.chain.height + 1):
        block = node.chain.block_at(height)
        assert block is not None
        await store.commit_block(block, node.commits.get(height))
    for entry in node.pool:
        if entry.final:
            await store.record_final(entry.tx, node.certificates[entry.txid])
    by_txid: dict[bytes, list] = {}  # type: ignore[type-arg]
    for outpoint, txid in node.finality.voted_outpoints().items():
        by_txid.setdefault(txid, []).append(outpoint)
    for txid, outpoints in by_txid.items():
        await store.record_vote(txid, outpoints)
    return store


@pytest.mark.anyio
async def test_restored_node_resumes_and_never_votes_against_itself() -> None:
    chain = LocalChain()
    alice = chain.wallet("alice", balance=coins("100"))
    bob = chain.wallet("bob")
    alice.send(bob, coins("1"))
    chain.produce_block()
    carol = chain.wallet("carol", balance=coins("5"))  # one coin, at carol.address
    spent = carol.send(bob, coins("2"))  # final, not yet in a block
    node = chain.node
    state = await load_node_state(await _persist(chain))
    restored = ConsensusNode.restore(chain.network, chain.masternode_keys[0], state, chain.clock.now())

    assert restored.chain.tip.hash == node.chain.tip.hash
    assert restored.chain.utxos.commitment() == node.chain.utxos.commitment()
    assert restored.pool.final_count == node.pool.final_count
    assert spent.txid in restored.certificates
    assert restored.finality.voted_outpoints() == node.finality.voted_outpoints()

    # The restored node proposes the next block, and the original accepts it.
    value_id, value = restored.build_value(restored.chain.height + 1, 0)
    assert node.validate_value(node.chain.height + 1, value) == value_id

    # A double spend of a coin it already voted for gets no vote from the restored node.
    coin_at = spent.inputs[0].outpoint
    held = node.pool.utxos.coin(coin_at)
    assert held is not None
    coin = held.output
    rival = TransactionBuilder(chain.network).spend(coin_at, coin, carol.key).pay(carol.address, coins("1")).build()
    actions = restored.handle(rival, chain.clock.now())
    assert not any(isinstance(a, VoteRecorded) for a in actions)
    assert not any(isinstance(a, Broadcast) and isinstance(a.message, VoteBatch) for a in actions)
