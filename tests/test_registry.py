from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from timecoin_core.amount import coins
from timecoin_core.builder import TransactionBuilder
from timecoin_core.consensus.registry import (
    ABSENCE_EPOCHS,
    Masternode,
    Registry,
    RegistryError,
    block_rewards,
    cap_weights,
    epoch_of,
    parse_registration,
    registration_memo,
    tier_for,
)
from timecoin_core.keys import PrivateKey
from timecoin_core.network import DEVNET, MAINNET, GenesisMasternode, GenesisOutput, Tier
from timecoin_core.transaction import OutPoint, TxOut

GENESIS_TXID = b"\x99" * 32
OWNER = PrivateKey.from_seed(b"\x01" * 32)
OPERATORS = [PrivateKey.from_seed(bytes([10 + i]) * 32).public_key.data for i in range(4)]


def network_with(tiers: list[Tier]):  # type: ignore[no-untyped-def]
    outputs = tuple(GenesisOutput(OWNER.public_key.payload, max(t.collateral, 1)) for t in tiers)
    masternodes = tuple(GenesisMasternode(OPERATORS[i], i) for i in range(len(tiers)))
    return DEVNET.with_genesis(outputs, masternodes)


def test_tiers_by_collateral() -> None:
    assert tier_for(0) is Tier.FREE
    assert tier_for(coins("999.99999999")) is Tier.FREE
    assert tier_for(coins("1000")) is Tier.BRONZE
    assert tier_for(coins("10000")) is Tier.SILVER
    assert tier_for(coins("250000")) is Tier.GOLD


def test_epochs() -> None:
    assert [epoch_of(h, 10) for h in (0, 1, 10, 11, 20, 21)] == [0, 0, 0, 1, 1, 2]


def test_genesis_voting_set_uses_network_weights_not_declared_ones() -> None:
    net = network_with([Tier.FREE, Tier.BRONZE, Tier.SILVER, Tier.GOLD])
    registry = Registry(net, GENESIS_TXID)
    vs = registry.voting_set(0)
    assert OPERATORS[0] not in vs  # Free never votes on a built-in network
    assert [vs.weight(k) for k in OPERATORS[1:]] == [1, 10, 100]
    mainnet_like = MAINNET.with_genesis(net.genesis_outputs, net.genesis_masternodes)
    assert Registry(mainnet_like, GENESIS_TXID).voting_set(0).weight(OPERATORS[0]) == 0
    free_votes = replace(net, voting_weights={**net.voting_weights, Tier.FREE: 1})
    assert Registry(free_votes, GENESIS_TXID).voting_set(0).weight(OPERATORS[0]) == 1


def test_registration_takes_effect_at_next_epoch_and_spending_collateral_deregisters() -> None:
    net = network_with([Tier.BRONZE])
    registry = Registry(net, GENESIS_TXID)
    funding = OutPoint(b"\x05" * 32, 0)
    operator_key = PrivateKey.from_seed(b"\x77" * 32)
    new_operator = operator_key.public_key.data
    reg = (
        TransactionBuilder(net)
        .spend(funding, TxOut(coins("20000"), OWNER.public_key.payload), OWNER)
        .spend(OutPoint(b"\x06" * 32, 0), TxOut(coins("1"), operator_key.public_key.payload), operator_key)
        .pay(OWNER.address(net), coins("10000"))
        .memo(registration_memo(new_operator))
        .build()
    )
    assert parse_registration(reg) == (new_operator, reg.outputs[0])
    registry.apply_block(1, [reg], participants=[OPERATORS[0]])
    assert registry.masternode(new_operator) is not None
    assert new_operator not in registry.voting_set(0)
    for h in range(2, net.epoch_length + 1):
        registry.apply_block(h, [], participants=[OPERATORS[0]])
    assert registry.voting_set(1).weight(new_operator) == 10
    spend = (
        TransactionBuilder(net)
        .spend(OutPoint(reg.txid, 0), reg.outputs[0], OWNER)
        .pay(OWNER.address(net), coins("9999"))
        .build()
    )
    registry.apply_block(net.epoch_length + 1, [spend], participants=[OPERATORS[0], new_operator])
    assert registry.masternode(new_operator) is None
    assert new_operator in registry.voting_set(1)  # fixed for the running epoch
    for h in range(net.epoch_length + 2, 2 * net.epoch_length + 1):
        registry.apply_block(h, [], participants=[OPERATORS[0]])
    assert new_operator not in registry.voting_set(2)


def test_evidence_bans_at_once_and_absence_deactivates_only_when_sustained() -> None:
    net = network_with([Tier.BRONZE, Tier.BRONZE, Tier.BRONZE, Tier.BRONZE])
    registry = Registry(net, GENESIS_TXID)
    length = net.epoch_length
    for h in range(1, length + 1):
        offenders = [OPERATORS[0]] if h == 3 else []
        registry.apply_block(h, [], offenders=offenders, participants=OPERATORS[:3])
        assert len(registry.voting_set(0)) == 4
    vs = registry.voting_set(1)
    assert OPERATORS[0] not in vs  # banned by evidence, at the next boundary
    assert registry.is_banned(OPERATORS[0])
    assert OPERATORS[3] in vs  # one absent epoch is not enough
    # Absent again, then present once: the count starts over.
    height = length
    for participants in ([OPERATORS[1], OPERATORS[2]], OPERATORS[1:4]):
        for _ in range(length):
            height += 1
            registry.apply_block(height, [], participants=participants)
    assert OPERATORS[3] in registry.voting_set(3)
    for epoch in range(ABSENCE_EPOCHS):
        assert OPERATORS[3] in registry.voting_set(3 + epoch)
        for _ in range(length):
            height += 1
            registry.apply_block(height, [], participants=OPERATORS[1:3])
    assert OPERATORS[3] not in registry.voting_set(3 + ABSENCE_EPOCHS)  # sustained absence
    assert set(registry.voting_set(3 + ABSENCE_EPOCHS).voters) == {OPERATORS[1], OPERATORS[2]}


def test_blocks_must_be_applied_in_order_and_future_epochs_are_unknown() -> None:
    registry = Registry(network_with([Tier.BRONZE]), GENESIS_TXID)
    with pytest.raises(RegistryError):
        registry.apply_block(2, [])
    with pytest.raises(RegistryError):
        registry.voting_set(1)


# Test vectors for the reward function: tiers of masternodes 0..n-1 (operator key
# bytes([i]) * 32, owner payload bytes([i]) * 20) and fees -> expected (owner, amount)
# outputs; owner 0xee is the proposer.
REWARD_VECTORS = [
    ([Tier.BRONZE], 0, [(0, 10_000_000_000)]),
    (
        [Tier.FREE, Tier.BRONZE, Tier.SILVER, Tier.GOLD],
        0,
        [(0, 9_000_900), (1, 90_009_000), (2, 900_090_009), (3, 9_000_900_090), (0xEE, 1)],
    ),
    (
        [Tier.BRONZE, Tier.BRONZE, Tier.BRONZE],
        5_000,
        [(0, 3_333_333_333), (1, 3_333_333_333), (2, 3_333_333_333), (0xEE, 5_001)],
    ),
    ([], 7, [(0xEE, 10_000_000_007)]),
]


@pytest.mark.parametrize(("tiers", "fees", "expected"), REWARD_VECTORS)
def test_reward_vectors(tiers: list[Tier], fees: int, expected: list[tuple[int, int]]) -> None:
    masternodes = [
        Masternode(bytes([i]) * 32, OutPoint(GENESIS_TXID, i), bytes([i]) * 20, tier, 0)
        for i, tier in enumerate(tiers)
    ]
    outputs = block_rewards(DEVNET, list(reversed(masternodes)), fees, b"\xee" * 20)
    assert [(o.payload[0], o.amount) for o in outputs] == expected
    assert sum(o.amount for o in outputs) == DEVNET.block_reward + fees


def test_one_gold_node_cannot_decide_or_block_alone() -> None:
    # Gold 100 vs three Bronze at 1: uncapped, the Gold key alone is 97% of the weight.
    net = network_with([Tier.GOLD, Tier.BRONZE, Tier.BRONZE, Tier.BRONZE])
    registry = Registry(net, GENESIS_TXID)
    vs = registry.voting_set(0)
    assert all(3 * w < vs.total for w in vs.weights.values())
    assert not vs.has_quorum([OPERATORS[0]])  # no certificate with one signer
    assert not registry.concentrated(0)
    assert vs.weight(OPERATORS[0]) >= vs.weight(OPERATORS[1])  # still the heaviest


@given(st.lists(st.integers(min_value=1, max_value=10**6), min_size=1, max_size=40))
def test_capped_weights_never_give_one_voter_a_third(raw: list[int]) -> None:
    weights = {i.to_bytes(32, "big"): w for i, w in enumerate(raw)}
    capped = cap_weights(weights)
    assert set(capped) == set(weights)
    assert all(1 <= capped[k] <= weights[k] for k in weights)
    total = sum(capped.values())
    if len(weights) >= 4:
        assert all(3 * w < total for w in capped.values())
        # The cap is the largest that works: one more unit would break it (or change nothing).
        cap = max(capped.values())
        bigger = [min(w, cap + 1) for w in weights.values()]
        assert bigger == list(capped.values()) or 3 * max(bigger) >= sum(bigger)
    else:
        assert capped == weights


def test_fewer_than_four_voters_is_reported_as_concentrated() -> None:
    registry = Registry(network_with([Tier.BRONZE, Tier.BRONZE, Tier.BRONZE]), GENESIS_TXID)
    assert registry.concentrated(0)
    assert not Registry(network_with([Tier.BRONZE] * 4), GENESIS_TXID).concentrated(0)
