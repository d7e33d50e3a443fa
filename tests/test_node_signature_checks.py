"""Verification off the caller's thread: the node names an event's signature checks, the
shell verifies them through the node's verifier, and handle() verifies nothing again."""

from __future__ import annotations

from timecoin_core import TransactionBuilder, coins
from timecoin_core.consensus import ConsensusNode, NodeEvent, Proposal, VoteBatch
from timecoin_core.consensus.sansio import TimerFired
from timecoin_core.testing import LocalChain


def _verified_then_handled(node: ConsensusNode, event: NodeEvent, now: float) -> int:
    checks = node.signature_checks(event)
    assert all(node.verifier.submit_many(checks).result(timeout=30))
    misses = node.verifier.misses
    node.handle(event, now)
    return node.verifier.misses - misses


def test_handle_answers_every_signature_from_what_the_shell_verified() -> None:
    chain = LocalChain(4, auto_finality=False)
    alice = chain.wallet("alice", balance=coins("5"))
    bob = chain.wallet("bob")
    chain.produce_block()
    node = chain.nodes[1]
    now = chain.clock.now()
    coin = alice.coins()[0]
    tx = (
        TransactionBuilder(chain.network).spend(coin.outpoint, coin.output, alice.key)
        .pay(bob.address, coins("1")).build()
    )
    assert len(node.signature_checks(tx)) == 1
    assert _verified_then_handled(node, tx, now) == 0
    assert tx.txid in node.pool

    batch = VoteBatch.create(chain.masternode_keys[2], chain.network.chain_id, node.finality.epoch, [tx.txid])
    assert _verified_then_handled(node, batch, now) == 0

    height = node.chain.height + 1
    value_id, value = chain.nodes[0].build_value(height, 0)
    proposal = Proposal.create(chain.masternode_keys[0], chain.network.chain_id, height, 0, -1, value_id, value)
    node.handle(TimerFired(("node", "next-height")), now)  # the node works on that height
    checks = node.signature_checks(proposal)
    assert len(checks) >= 2  # the proposal's and the block's signatures, the parent commit's
    assert _verified_then_handled(node, proposal, now) == 0


def test_what_cannot_be_known_yet_is_left_out_and_bad_signatures_are_met_again() -> None:
    chain = LocalChain(4, auto_finality=False)
    alice = chain.wallet("alice", balance=coins("5"))
    chain.produce_block()
    node = chain.nodes[1]
    coin = alice.coins()[0]
    tx = (
        TransactionBuilder(chain.network).spend(coin.outpoint, coin.output, alice.key)
        .pay(alice.address, coins("1")).build()
    )
    forged = tx.with_witnesses([(i.public_key, bytes(64)) for i in tx.inputs])
    checks = node.signature_checks(forged)
    assert node.verifier.submit_many(checks).result(timeout=30) == [False]
    misses = node.verifier.misses
    node.handle(forged, chain.clock.now())
    assert node.verifier.misses == misses + 1  # a failed check is never remembered
    assert forged.txid not in node.pool
    stranger = VoteBatch.create(alice.key, chain.network.chain_id, node.finality.epoch, [tx.txid])
    assert node.signature_checks(stranger) == []  # a non-voter's batch costs nothing
    orphan = (
        TransactionBuilder(chain.network).spend(coin.outpoint.__class__(b"\x09" * 32, 0), coin.output, alice.key)
        .pay(alice.address, coins("1")).build()
    )
    assert node.signature_checks(orphan) == []  # its input is unknown: nothing to check yet


def test_junk_never_makes_signature_checks_or_validation_raise() -> None:
    import random

    from timecoin_core.consensus import Commit, CommitCertificate

    chain = LocalChain(4, auto_finality=False)
    chain.produce_block()
    node = chain.nodes[1]
    rng = random.Random(3)
    height = node.chain.height + 1
    _, good = chain.nodes[0].build_value(height, 0)
    for _ in range(300):
        value = bytearray(good)
        for _ in range(rng.randint(1, 8)):
            value[rng.randrange(len(value))] = rng.randrange(256)
        junk = bytes(value[: rng.randrange(1, len(value) + 1)])
        proposal = Proposal.create(chain.masternode_keys[2], chain.network.chain_id, height, 0, -1, bytes(32), junk)
        assert node.signature_checks(proposal)[0] == proposal.signature_check(chain.network.chain_id)
        assert node.validate_value(height, junk) in (None, node.validate_value(height, good))
        certificate = CommitCertificate(height, 0, bytes(32), ((chain.masternode_keys[0].public_key.data, bytes(64)),))
        node.signature_checks(Commit(junk, certificate))
    assert node.signature_checks(TimerFired(("node", "regossip"))) == []
