"""Peers in the node's vocabulary: relays never echo to the sender, and only what a
misbehaving peer sends earns a Penalize (with a typed Offence)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from timecoin_core import OutPoint, Transaction, TransactionBuilder, coins
from timecoin_core.consensus import (
    BlockVote,
    ConsensusNode,
    Offence,
    Penalize,
    VoteBatch,
    VoteKind,
)
from timecoin_core.consensus.sansio import Broadcast, SendTo, TimerFired
from timecoin_core.testing import LocalChain, LocalWallet
from timecoin_core.wire import GetData, Inv, InvItem, InvKind, NotFound

PEER = b"\x07" * 32


def _setup() -> tuple[LocalChain, ConsensusNode, LocalWallet, LocalWallet]:
    chain = LocalChain(4, auto_finality=False)
    alice = chain.wallet("alice", balance=coins("5"))
    bob = chain.wallet("bob")
    chain.produce_block()
    return chain, chain.nodes[1], alice, bob


def _payment(chain: LocalChain, payer: LocalWallet, payee: LocalWallet, amount: int) -> Transaction:
    coin = payer.coins()[0]
    return (
        TransactionBuilder(chain.network).spend(coin.outpoint, coin.output, payer.key).pay(payee.address, amount).build()
    )


def _penalties(actions: Sequence[object]) -> list[Penalize]:
    return [a for a in actions if isinstance(a, Penalize)]


def test_a_relayed_transaction_goes_to_everyone_but_its_sender() -> None:
    chain, node, alice, bob = _setup()
    tx = _payment(chain, alice, bob, coins("1"))
    actions = node.handle(tx, chain.clock.now(), origin=PEER)
    relays = [a for a in actions if isinstance(a, Broadcast) and a.message is tx]
    assert relays == [Broadcast(tx, exclude=PEER)]
    assert _penalties(actions) == []
    # The node's own votes are for everyone, the sender included.
    assert all(a.exclude is None for a in actions if isinstance(a, Broadcast) and a.message is not tx)


def test_a_local_submission_is_broadcast_to_all_and_never_penalized() -> None:
    chain, node, alice, bob = _setup()
    tx = _payment(chain, alice, bob, coins("1"))
    forged = tx.with_witnesses([(i.public_key, bytes(64)) for i in tx.inputs])
    assert _penalties(node.handle(forged, chain.clock.now())) == []
    actions = node.handle(tx, chain.clock.now())
    assert Broadcast(tx) in actions


def test_a_forged_transaction_is_an_offence_but_a_double_spend_is_not() -> None:
    chain, node, alice, bob = _setup()
    tx = _payment(chain, alice, bob, coins("1"))
    forged = tx.with_witnesses([(i.public_key, bytes(64)) for i in tx.inputs])
    [penalty] = _penalties(node.handle(forged, chain.clock.now(), origin=PEER))
    assert penalty.peer == PEER and penalty.offence is Offence.INVALID_TRANSACTION
    assert penalty.detail == "bad-signature"

    assert _penalties(node.handle(tx, chain.clock.now(), origin=PEER)) == []
    rival = _payment(chain, alice, alice, coins("2"))  # the same coin, another payee
    assert rival.txid != tx.txid
    assert _penalties(node.handle(rival, chain.clock.now(), origin=b"\x08" * 32)) == []
    # Nor is sending a transaction again, or one spending coins the node does not know.
    assert _penalties(node.handle(tx, chain.clock.now(), origin=PEER)) == []
    child = (
        TransactionBuilder(chain.network)
        .spend(OutPoint(b"\x01" * 32, 0), alice.coins()[0].output, alice.key)
        .pay(bob.address, coins("1"))
        .build()
    )
    assert _penalties(node.handle(child, chain.clock.now(), origin=PEER)) == []


def test_a_vote_with_a_bad_signature_from_a_voter_is_an_offence() -> None:
    chain, node, alice, bob = _setup()
    tx = _payment(chain, alice, bob, coins("1"))
    node.handle(tx, chain.clock.now(), origin=PEER)
    key = chain.masternode_keys[2]
    good = VoteBatch.create(key, chain.network.chain_id, node.finality.epoch, [tx.txid])
    bad = dataclasses.replace(good, signature=bytes(64))
    [penalty] = _penalties(node.handle(bad, chain.clock.now(), origin=PEER))
    assert penalty.offence is Offence.BAD_SIGNATURE
    assert _penalties(node.handle(good, chain.clock.now(), origin=PEER)) == []
    # A vote of another epoch or from a non-voter is stale or noise, not provably forged.
    stranger = VoteBatch.create(alice.key, chain.network.chain_id, node.finality.epoch, [tx.txid])
    assert _penalties(node.handle(dataclasses.replace(stranger, signature=bytes(64)), chain.clock.now(), origin=PEER)) == []


def test_a_forged_block_vote_is_an_offence_only_for_the_height_in_progress() -> None:
    chain, node, _, _ = _setup()
    now = chain.clock.now()
    node.handle(TimerFired(("node", "next-height")), now)
    height = node.chain.height + 1
    key = chain.masternode_keys[3]
    vote = BlockVote.create(key, chain.network.chain_id, VoteKind.PREVOTE, height, 0, None)
    forged = dataclasses.replace(vote, signature=bytes(64))
    [penalty] = _penalties(node.handle(forged, now, origin=PEER))
    assert penalty.offence is Offence.BAD_SIGNATURE and penalty.peer == PEER
    assert _penalties(node.handle(vote, now, origin=PEER)) == []
    old = dataclasses.replace(BlockVote.create(key, chain.network.chain_id, VoteKind.PREVOTE, height - 1, 0, None), signature=bytes(64))
    assert _penalties(node.handle(old, now, origin=PEER)) == []


def test_a_certificate_with_forged_signatures_is_an_offence() -> None:
    chain = LocalChain(4)
    alice = chain.wallet("alice", balance=coins("5"))
    bob = chain.wallet("bob")
    tx = alice.send(bob, coins("1"))
    certificate = chain.nodes[0].finality.certificate(tx.txid)
    assert certificate is not None
    forged = dataclasses.replace(
        certificate, entries=tuple(dataclasses.replace(e, signature=bytes(64)) for e in certificate.entries)
    )
    fresh = LocalChain(4)
    node = fresh.nodes[0]
    [penalty] = _penalties(node.handle(forged, fresh.clock.now(), origin=PEER))
    assert penalty.offence is Offence.INVALID_CERTIFICATE
    assert _penalties(node.handle(certificate, fresh.clock.now(), origin=PEER)) == []


def test_regossip_announces_hashes_and_peers_fetch_the_bodies_they_lack() -> None:
    chain, node, alice, bob = _setup()
    other = chain.nodes[2]
    now = chain.clock.now()
    tx = _payment(chain, alice, bob, coins("1"))
    node.handle(tx, now, origin=PEER)
    actions = node.handle(TimerFired(("node", "regossip")), now + 10)
    [announce] = [a for a in actions if isinstance(a, Broadcast) and isinstance(a.message, Inv)]
    assert isinstance(announce.message, Inv)
    assert [i.hash for i in announce.message.items] == [tx.txid]
    assert not any(isinstance(a, Broadcast) and isinstance(a.message, Transaction) for a in actions)

    A, B = b"\x0a" * 32, b"\x0b" * 32
    [request] = other.handle(announce.message, now, origin=A)
    assert isinstance(request, SendTo) and request.peer == A and isinstance(request.message, GetData)
    # A second announcer is not asked while the first request is in flight.
    assert other.handle(announce.message, now, origin=B) == []
    [reply] = node.handle(request.message, now, origin=b"\x0c" * 32)
    assert reply == SendTo(b"\x0c" * 32, tx)
    # The first announcer says NotFound: the second is asked.
    [retry] = other.handle(NotFound(request.message.items), now, origin=A)
    assert isinstance(retry, SendTo) and retry.peer == B
    other.handle(tx, now, origin=B)
    assert tx.txid in other.pool
    # Once known, an announcement asks for nothing.
    assert other.handle(announce.message, now, origin=A) == []


def test_get_data_for_unknown_transactions_gets_not_found_and_inventory_needs_an_origin() -> None:
    chain, node, _, _ = _setup()
    items = (InvItem(InvKind.TX, b"\x55" * 32),)
    assert node.handle(GetData(items), chain.clock.now(), origin=PEER) == [SendTo(PEER, NotFound(items))]
    assert node.handle(GetData(items), chain.clock.now()) == []
    assert node.handle(Inv(items), chain.clock.now()) == []
