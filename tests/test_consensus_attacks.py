"""The five attacks of the consensus-safety review, each performed and refused with a typed error.

1. a byzantine proposer commits a non-final double spend of a final transaction;
2. Free masternodes drain rewards and push the reward rule past any block;
3. anyone registers someone else's operator key (front-running);
4. a fee-free, unsigned orphan flood;
5. the chain halts when the supply reaches MAX_MONEY.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from timecoin_core import DEVNET, MAX_MONEY, TransactionBuilder, coins
from timecoin_core.block import MAX_BLOCK_REWARDS, Block
from timecoin_core.consensus import (
    MAX_VOTERS,
    BlockRegistrationError,
    Broadcast,
    DropReason,
    DuplicateRegistrationError,
    FinalityCertificate,
    FinalityProofError,
    ProposalValue,
    RegistrationError,
    Registry,
    TxDropped,
    VoteBatch,
    block_rewards,
    check_registration,
    registration_memo,
)
from timecoin_core.consensus.finality_messages import CertificateEntry
from timecoin_core.consensus.node import encode_record
from timecoin_core.keys import PrivateKey
from timecoin_core.network import GenesisMasternode, GenesisOutput, Network, Tier
from timecoin_core.orphans import OrphanBuffer
from timecoin_core.testing import LocalChain
from timecoin_core.transaction import OutPoint, Transaction, TxIn, TxOut

# -- 1. a non-final double spend of a final transaction ----------------------------------


def _attack_block(
    chain: LocalChain, proposer: int, txs: list[Transaction], digests: list[bytes]
) -> Block:
    node = chain.nodes[proposer]
    key = chain.masternode_keys[proposer]
    tip = node.chain.tip
    height = tip.height + 1
    evidence = [encode_record(node.commits[height - 1])] if height > 1 else []
    return Block.create(
        chain.network,
        key,
        height=height,
        prev_hash=tip.hash,
        timestamp=tip.header.timestamp + 1,
        transactions=txs,
        certificate_digests=digests,
        rewards=node.expected_rewards(txs, key.public_key.data),
        evidence=evidence,
    )


@pytest.fixture
def final_and_rival() -> tuple[LocalChain, Transaction, Transaction]:
    """Four masternodes; A is final at every node; B spends A's coin and nobody voted for it."""
    chain = LocalChain(4)
    alice = chain.wallet("alice", balance=coins("5"))
    bob = chain.wallet("bob")
    chain.produce_block()
    a = alice.send(bob, coins("2"))
    assert all(a.txid in node.certificates for node in chain.nodes)
    held = chain.node.pool.utxos.coin(a.inputs[0].outpoint)
    assert held is not None
    b = (
        TransactionBuilder(chain.network)
        .spend(a.inputs[0].outpoint, held.output, alice.key)
        .pay(alice.address, held.output.amount - coins("0.01"))
        .build()
    )
    return chain, a, b


def test_attack_1_double_spend_without_digests_is_refused(
    final_and_rival: tuple[LocalChain, Transaction, Transaction],
) -> None:
    chain, a, b = final_and_rival
    honest = chain.nodes[0]
    certificate_a = honest.certificates[a.txid]
    # The review's exact attack: B in the block, no digests, A's certificate as "the" certificate.
    block = _attack_block(chain, 1, [b], [])
    value = ProposalValue(block, (certificate_a,)).to_bytes()
    assert honest.validate_value(block.height, value) is None
    with pytest.raises(FinalityProofError, match="0 certificate digests for 1 transactions"):
        honest.chain.check_block(block, proof=(certificate_a,))
    with pytest.raises(FinalityProofError):
        honest.chain.apply_block(block, proof=(certificate_a,))
    assert honest.chain.height == 1 and a.txid in honest.certificates  # nothing changed


@pytest.mark.parametrize("shape", ["digest-of-a", "no-proof", "empty-proof", "two-certificates"])
def test_attack_1_variants_are_refused(
    final_and_rival: tuple[LocalChain, Transaction, Transaction], shape: str
) -> None:
    chain, a, b = final_and_rival
    honest = chain.nodes[0]
    certificate_a = honest.certificates[a.txid]
    digests = [certificate_a.digest()] if shape != "no-proof" else []
    block = _attack_block(chain, 1, [b], digests)
    proof: object = {
        "digest-of-a": (certificate_a,),
        "no-proof": None,
        "empty-proof": (),
        "two-certificates": (certificate_a, certificate_a),
    }[shape]
    with pytest.raises(FinalityProofError):
        honest.chain.apply_block(block, proof=proof)
    if isinstance(proof, tuple):
        assert honest.validate_value(block.height, ProposalValue(block, proof).to_bytes()) is None


def test_the_honest_block_with_a_is_accepted(
    final_and_rival: tuple[LocalChain, Transaction, Transaction],
) -> None:
    # The same construction with A and its certificate passes: the refusals above are
    # about the proof, not about how the test builds blocks.
    chain, a, _ = final_and_rival
    honest = chain.nodes[0]
    certificate_a = honest.certificates[a.txid]
    block = _attack_block(chain, 1, [a], [certificate_a.digest()])
    assert honest.validate_value(block.height, ProposalValue(block, (certificate_a,)).to_bytes()) == block.hash
    honest.chain.check_block(block, proof=(certificate_a,))


def test_a_certificate_below_quorum_or_for_another_chain_is_refused(
    final_and_rival: tuple[LocalChain, Transaction, Transaction],
) -> None:
    chain, a, _ = final_and_rival
    honest = chain.nodes[0]
    certificate_a = honest.certificates[a.txid]
    thin = FinalityCertificate(a.txid, certificate_a.epoch, certificate_a.entries[:1])
    batch = VoteBatch.create(chain.masternode_keys[1], chain.network.chain_id + 1, certificate_a.epoch, [a.txid])
    forged = FinalityCertificate(a.txid, certificate_a.epoch, (CertificateEntry.from_batch(batch, a.txid),))
    for bad in (thin, forged):
        block = _attack_block(chain, 1, [a], [bad.digest()])
        with pytest.raises(FinalityProofError):
            honest.chain.check_block(block, proof=(bad,))


def test_a_proposer_validates_its_own_value(
    final_and_rival: tuple[LocalChain, Transaction, Transaction],
) -> None:
    chain, a, _ = final_and_rival
    node = chain.nodes[0]
    # The proposer's own certificate store is corrupted: its value must fail its own check.
    certificate = node.certificates[a.txid]
    node.certificates[a.txid] = FinalityCertificate(a.txid, certificate.epoch, certificate.entries[:1])
    value_id, value = node.build_value(node.chain.height + 1, 0)
    assert node.validate_value(node.chain.height + 1, value) is None
    node.certificates[a.txid] = certificate
    value_id, value = node.build_value(node.chain.height + 1, 0)
    assert node.validate_value(node.chain.height + 1, value) == value_id


def test_a_verdict_is_not_reused_for_the_same_block_with_other_certificates(
    final_and_rival: tuple[LocalChain, Transaction, Transaction],
) -> None:
    chain, a, _ = final_and_rival
    honest = chain.nodes[0]
    certificate_a = honest.certificates[a.txid]
    block = _attack_block(chain, 1, [a], [certificate_a.digest()])
    thin = FinalityCertificate(a.txid, certificate_a.epoch, certificate_a.entries[:1])
    # A relay tampers with the certificates beside the block: "invalid" must not stick to the block.
    assert honest.validate_value(block.height, ProposalValue(block, (thin,)).to_bytes()) is None
    assert honest.validate_value(block.height, ProposalValue(block, (certificate_a,)).to_bytes()) == block.hash


# -- 2. Free masternodes, rewards and the output bound ----------------------------------

OWNER = PrivateKey.from_seed(b"\x02" * 32)


def _network(tiers: list[Tier], **changes: object) -> Network:
    keys = [PrivateKey.from_seed(i.to_bytes(4, "big") + bytes(28)) for i in range(len(tiers))]
    outputs = tuple(GenesisOutput(bytes([i % 251]) * 20, max(t.collateral, DEVNET.min_collateral)) for i, t in enumerate(tiers))
    masternodes = tuple(GenesisMasternode(k.public_key.data, i) for i, k in enumerate(keys))
    return replace(DEVNET, **changes).with_genesis(outputs, masternodes)  # type: ignore[arg-type]


def test_attack_2_free_registrations_earn_nothing_and_do_not_vote() -> None:
    network = _network([Tier.GOLD] + [Tier.FREE] * 300)
    registry = Registry(network, b"\x99" * 32)
    recipients = registry.reward_recipients(1)
    assert [mn.tier for mn in recipients] == [Tier.GOLD]
    rewards = block_rewards(network, recipients, 0, b"\xee" * 20, network.block_reward)
    assert rewards == (TxOut(network.block_reward, recipients[0].owner),)


def test_attack_2_a_registration_below_the_minimum_collateral_is_refused() -> None:
    operator = PrivateKey.from_seed(b"\x03" * 32)
    tx = (
        TransactionBuilder(DEVNET)
        .spend(OutPoint(b"\x05" * 32, 0), TxOut(coins("1"), operator.public_key.payload), operator)
        .pay(operator.address(DEVNET), 1)
        .memo(registration_memo(operator.public_key.data))
        .build()
    )
    with pytest.raises(RegistrationError, match="below the minimum"):
        check_registration(tx, DEVNET)


def test_attack_2_the_reward_rule_is_bounded_whatever_the_registry_holds() -> None:
    # More voters than MAX_VOTERS (Free votes on this network): the set is capped, and a
    # block paying every recipient stays within the reward bound.
    network = _network([Tier.BRONZE] * 5 + [Tier.FREE] * (MAX_VOTERS + 20), voting_weights={
        Tier.FREE: 1, Tier.BRONZE: 1, Tier.SILVER: 10, Tier.GOLD: 100,
    })
    registry = Registry(network, b"\x99" * 32)
    voting = registry.voting_set(0)
    assert len(voting) == MAX_VOTERS
    bronze = {mn.operator for mn in registry.masternodes() if mn.tier is Tier.BRONZE}
    assert bronze <= set(voting.voters)  # heavier and earlier first
    recipients = registry.reward_recipients(1)
    rewards = block_rewards(network, recipients, 12_345, b"\xee" * 20, network.block_reward)
    assert len(rewards) == MAX_VOTERS + 1 <= MAX_BLOCK_REWARDS
    assert sum(o.amount for o in rewards) == network.block_reward + 12_345


# -- 3. registering someone else's operator key ------------------------------------------


def _registration(payer: PrivateKey, operator: bytes, *, signer: PrivateKey | None, amount: int) -> Transaction:
    builder = TransactionBuilder(DEVNET).spend(
        OutPoint(payer.public_key.data[:32], 1), TxOut(amount + coins("10"), payer.public_key.payload), payer
    )
    if signer is not None:
        builder.spend(OutPoint(signer.public_key.data[:32], 2), TxOut(coins("1"), signer.public_key.payload), signer)
    return builder.pay(payer.address(DEVNET), amount).memo(registration_memo(operator)).build()


def test_attack_3_front_running_without_the_operator_key_is_refused() -> None:
    victim = PrivateKey.from_seed(b"\x04" * 32)
    attacker = PrivateKey.from_seed(b"\x05" * 32)
    stolen = _registration(attacker, victim.public_key.data, signer=None, amount=DEVNET.min_collateral)
    with pytest.raises(RegistrationError, match="proof of possession"):
        check_registration(stolen, DEVNET)
    # The attacker cannot borrow a proof either: its own key signing proves nothing.
    borrowed = _registration(attacker, victim.public_key.data, signer=attacker, amount=DEVNET.min_collateral)
    with pytest.raises(RegistrationError):
        check_registration(borrowed, DEVNET)
    genuine = _registration(victim, victim.public_key.data, signer=victim, amount=Tier.SILVER.collateral)
    assert check_registration(genuine, DEVNET) == (victim.public_key.data, genuine.outputs[0])


def test_attack_3_malformed_registration_memo_is_refused() -> None:
    victim = PrivateKey.from_seed(b"\x04" * 32)
    tx = (
        TransactionBuilder(DEVNET)
        .spend(OutPoint(b"\x07" * 32, 0), TxOut(coins("200"), victim.public_key.payload), victim)
        .pay(victim.address(DEVNET), coins("150"))
        .memo(b"TCMN\x09" + victim.public_key.data)
        .build()
    )
    with pytest.raises(RegistrationError, match="malformed"):
        check_registration(tx, DEVNET)


def test_attack_3_second_registration_of_a_live_key_is_refused_and_deactivated_nodes_return() -> None:
    chain = LocalChain(1)
    operator = PrivateKey.from_seed(b"\x08" * 32)
    funder = PrivateKey.from_seed(b"\x09" * 32)
    for amount in (coins("1500"), coins("10500")):
        chain.fund(funder.address(chain.network), amount)
        chain.fund(operator.address(chain.network), coins("5"))
    chain.produce_block()
    node = chain.node

    def register(amount: int) -> Transaction:
        mine = node.pool.utxos.coins_of(funder.public_key.payload, limit=10).coins
        spend = min((c for c in mine if c.amount >= amount + coins("1")), key=lambda c: c.amount)
        op_coin = node.pool.utxos.coins_of(operator.public_key.payload, limit=10).coins[0]
        return (
            TransactionBuilder(chain.network)
            .spend(spend.outpoint, spend.output, funder)
            .spend(op_coin.outpoint, op_coin.output, operator)
            .pay(funder.address(chain.network), amount)
            .pay(funder.address(chain.network), spend.amount + op_coin.amount - amount - coins("0.01"))
            .memo(registration_memo(operator.public_key.data))
            .build()
        )

    first = register(Tier.BRONZE.collateral)
    chain.submit(first)
    chain.produce_block()
    assert node.registry.is_live(operator.public_key.data)
    assert node.registry.masternode(operator.public_key.data).collateral == OutPoint(first.txid, 0)  # type: ignore[union-attr]
    second = register(Tier.SILVER.collateral)
    with pytest.raises(DuplicateRegistrationError):
        chain.submit(second)
    # A block carrying it anyway is invalid, whatever proof comes with it.
    tip = node.chain.tip
    block = Block.create(
        chain.network, chain.masternode_keys[0], height=tip.height + 1, prev_hash=tip.hash,
        timestamp=tip.header.timestamp + 1, transactions=[second], certificate_digests=[bytes(32)],
        rewards=node.expected_rewards([second], chain.masternode_keys[0].public_key.data),
        evidence=[encode_record(node.commits[tip.height])],
    )
    with pytest.raises(BlockRegistrationError) as refused:
        node.chain.check_block(block, proof=None)
    assert isinstance(refused.value.error, DuplicateRegistrationError)
    # Deactivated (absent for an epoch): registering again with new collateral brings it back.
    node.registry._inactive.add(operator.public_key.data)
    assert not node.registry.is_live(operator.public_key.data)
    node.registry.check_registrations([second])
    chain.submit(second)
    chain.produce_block()
    masternode = node.registry.masternode(operator.public_key.data)
    assert masternode is not None and masternode.collateral == OutPoint(second.txid, 0)
    assert masternode.tier is Tier.SILVER and node.registry.is_live(operator.public_key.data)


# -- 4. orphan floods ---------------------------------------------------------------------


def _junk_orphan(i: int, size: int) -> Transaction:
    # Unknown inputs, no signatures, no fee: nothing about it can be checked.
    inputs = [TxIn(OutPoint(i.to_bytes(4, "big") + bytes(28), k)) for k in range(size // 140)]
    return Transaction(inputs, [TxOut(1, bytes(20))])


def test_attack_4_an_orphan_flood_is_bounded_by_bytes() -> None:
    chain = LocalChain(1)
    node = chain.node
    for i in range(300):  # 30 MB of junk
        node.handle(_junk_orphan(i, 100_000), chain.clock.now())
    buffered = node._orphans
    assert buffered.total_bytes <= node.config.max_orphan_bytes
    assert len(buffered) <= node.config.max_orphans
    assert buffered.total_bytes > 0  # it does keep orphans, within bounds


def test_attack_4_one_origin_cannot_push_out_another() -> None:
    buffer = OrphanBuffer(max_count=100, max_bytes=100_000, origin_share=0.25, ttl=60.0)
    honest = _junk_orphan(0, 3_000)
    assert buffer.add(honest, 0.0, origin="honest")
    for i in range(1, 500):
        buffer.add(_junk_orphan(i, 3_000), 1.0, origin="flooder")
    assert honest.txid in buffer
    assert buffer.bytes_from("flooder") <= 25_000
    assert buffer.total_bytes <= 100_000
    assert buffer.expire(60.5) == [honest.txid]  # orphans expire


def test_attack_4_a_flood_never_pushes_out_a_certified_transaction_waiting_for_its_parent() -> None:
    chain = LocalChain(1)
    node = chain.node
    key = chain.masternode_keys[0]
    alice = chain.wallet("alice", balance=coins("5"))
    bob = chain.wallet("bob")
    chain.produce_block()
    coin = alice.coins()[0]
    # The parent and its child, both certified; the node hears the child first.
    parent = (
        TransactionBuilder(chain.network).spend(coin.outpoint, coin.output, alice.key)
        .pay(bob.address, coins("4")).build()
    )
    child = (
        TransactionBuilder(chain.network).spend(OutPoint(parent.txid, 0), parent.outputs[0], bob.key)
        .pay(alice.address, coins("3")).build()
    )
    epoch = node.finality.epoch

    def certify(tx: Transaction) -> FinalityCertificate:
        batch = VoteBatch.create(key, chain.network.chain_id, epoch, [tx.txid])
        return FinalityCertificate(tx.txid, epoch, (CertificateEntry.from_batch(batch, tx.txid),))

    now = chain.clock.now()
    node.handle(certify(child), now)
    node.handle(child, now)
    assert child.txid in node._final_orphans
    for i in range(300):  # 15 MB of junk
        node.handle(_junk_orphan(i, 50_000), now)
    assert child.txid in node._final_orphans
    node.handle(certify(parent), now)
    node.handle(parent, now)
    entry = node.pool.get(child.txid)
    assert entry is not None and entry.final


# -- 5. the supply cap --------------------------------------------------------------------


def test_attack_5_the_chain_keeps_going_at_max_money() -> None:
    network = replace(DEVNET, block_reward=MAX_MONEY // 3)
    chain = LocalChain(2, network=network)
    supplies = []
    for _ in range(5):
        chain.produce_block()
        supplies.append(chain.node.chain.supply())
    assert supplies[-1] == supplies[-2] == MAX_MONEY
    assert chain.height == 5
    tip = chain.node.chain.tip
    assert sum(o.amount for o in tip.rewards) == 0 or chain.node.chain.applied(5).subsidy == 0  # type: ignore[union-attr]
    held = sum(c.amount for c in chain.node.chain.utxos)
    assert held == MAX_MONEY


# -- double-spend variants (consensus under pressure, item 8) ------------------------------


def test_double_spend_variants_are_verified_kept_and_relayed_a_bounded_number_of_times() -> None:
    chain = LocalChain(4, auto_finality=False)
    alice = chain.wallet("alice", balance=coins("5"))
    chain.produce_block()
    node = chain.nodes[1]
    coin = alice.coins()[0]
    now = chain.clock.now()

    def variant(i: int) -> Transaction:
        return (
            TransactionBuilder(chain.network).spend(coin.outpoint, coin.output, alice.key)
            .pay(alice.address, coin.amount - coins("0.01") - i).build()
        )

    node.handle(variant(0), now)  # the pool's holder
    before = node.signatures.transactions
    relayed, dropped = 0, []
    for i in range(1, 40):
        for action in node.handle(variant(i), now):
            if isinstance(action, Broadcast):
                relayed += 1
            if isinstance(action, TxDropped):
                dropped.append(action.reason)
    assert node.signatures.transactions - before == node.config.max_conflict_variants  # the rest cost no signature
    assert relayed == 1  # only the first variant goes on
    assert dropped == [DropReason.TOO_MANY_VARIANTS] * (39 - node.config.max_conflict_variants)
    assert len(node._parked) == node.config.max_conflict_variants


def test_a_peer_cannot_buy_the_other_network_guess_with_a_conflicting_variant() -> None:
    # validate_transaction tries other networks' chain ids on a bad signature (for a
    # caller's message); the node's conflict path must not spend that on a peer's junk.
    from timecoin_core.network import TESTNET

    chain = LocalChain(4, auto_finality=False)
    alice = chain.wallet("alice", balance=coins("5"))
    chain.produce_block()
    node = chain.nodes[1]
    coin = alice.coins()[0]
    holder = TransactionBuilder(chain.network).spend(coin.outpoint, coin.output, alice.key).pay(alice.address, coins("1")).build()
    node.handle(holder, chain.clock.now())
    other_chain = TransactionBuilder(TESTNET).spend(coin.outpoint, coin.output, alice.key).pay(alice.address, coins("2")).build()
    before = node.signatures.transactions
    actions = node.handle(other_chain, chain.clock.now())
    assert [a.reason for a in actions if isinstance(a, TxDropped)] == ["bad-signature"]
    assert node.signatures.transactions - before == 1
