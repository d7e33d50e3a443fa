"""Property tests for ChainState: money is conserved, and no corruption of a block passes."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from timecoin_core.amount import coins
from timecoin_core.block import Block
from timecoin_core.builder import TransactionBuilder
from timecoin_core.chain import BlockError, ChainState
from timecoin_core.errors import DecodeError
from timecoin_core.keys import PrivateKey
from timecoin_core.network import DEVNET, GenesisOutput
from timecoin_core.transaction import OutPoint, Transaction, TxOut
from timecoin_core.utxo import UtxoSet

KEYS = [PrivateKey.from_seed(bytes([i]) * 32) for i in (11, 12, 13)]
BY_PAYLOAD = {k.public_key.payload: k for k in KEYS}
FEE = 10_000
GENESIS = tuple(GenesisOutput(KEYS[i % 3].public_key.payload, coins(str(5 + i))) for i in range(4))
NET = DEVNET.with_genesis(GENESIS)
GENESIS_SUPPLY = sum(o.amount for o in GENESIS)


def spend(outpoint: OutPoint, out: TxOut, amounts: list[int], payees: list[PrivateKey]) -> Transaction:
    builder = TransactionBuilder(NET).spend(outpoint, out, BY_PAYLOAD[out.payload])
    for amount, payee in zip(amounts, payees, strict=True):
        builder.pay(payee.address(NET), amount)
    return builder.build()


def split(data: st.DataObject, total: int, parts: int) -> list[int]:
    """``parts`` positive amounts adding up to ``total``."""
    cuts = sorted(data.draw(st.lists(st.integers(1, total - 1), min_size=parts - 1, max_size=parts - 1, unique=True)))
    bounds = [0, *cuts, total]
    return [b - a for a, b in pairwise(bounds)]


def utxo_total(chain: ChainState) -> int:
    return sum(coin.amount for coin in chain.utxos)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_every_applied_block_conserves_money(data: st.DataObject) -> None:
    chain = ChainState(NET)
    minted = GENESIS_SUPPLY
    for height in range(1, data.draw(st.integers(1, 4), label="blocks") + 1):
        # Coins available to this block: the chain's, plus outputs of earlier
        # transactions of the same block (chained spends).
        available = {c.outpoint: c.output for c in chain.utxos}
        txs: list[Transaction] = []
        for _ in range(data.draw(st.integers(0, 3), label="transactions")):
            spendable = sorted(op for op, out in available.items() if out.amount > FEE + 3)
            if not spendable:
                break
            outpoint = data.draw(st.sampled_from(spendable))
            out = available.pop(outpoint)
            parts = data.draw(st.integers(1, 3))
            amounts = split(data, out.amount - FEE, parts)
            payees = [data.draw(st.sampled_from(KEYS)) for _ in amounts]
            tx = spend(outpoint, out, amounts, payees)
            txs.append(tx)
            available.update({tx.outpoint(i): o for i, o in enumerate(tx.outputs)})
        reward_total = chain.subsidy() + FEE * len(txs)
        reward_parts = split(data, reward_total, data.draw(st.integers(1, 3)))
        rewards = [TxOut(a, data.draw(st.sampled_from(KEYS)).public_key.payload) for a in reward_parts]
        proposer = data.draw(st.sampled_from(KEYS))
        block = chain.build_block(proposer, txs, timestamp=NET.genesis_timestamp + height, rewards=rewards)
        if data.draw(st.booleans(), label="through bytes"):
            block = Block.from_bytes(block.to_bytes())
        applied = chain.apply_block(block)
        minted += applied.subsidy
        assert applied.fees == FEE * len(txs)
        assert applied.subsidy == NET.block_reward
        assert chain.supply() == minted == GENESIS_SUPPLY + height * NET.block_reward
        assert utxo_total(chain) == chain.supply()
    # The incremental commitment equals one computed from scratch over the same coins.
    fresh = UtxoSet()
    for coin in chain.utxos:
        fresh.add(coin.outpoint, coin.output, coin.height)
    assert fresh.commitment() == chain.utxos.commitment()


@pytest.fixture(scope="module")
def small_block() -> tuple[ChainState, Block]:
    chain = ChainState(NET)
    outpoint = OutPoint(chain.genesis.reward_txid, 0)
    out = chain.get_output(outpoint)
    assert out is not None
    first = spend(outpoint, out, [coins("1"), out.amount - coins("1") - FEE], [KEYS[1], KEYS[0]])
    second = spend(first.outpoint(0), first.outputs[0], [coins("1") - FEE], [KEYS[2]])
    block = chain.build_block(
        KEYS[2],
        [first, second],
        timestamp=NET.genesis_timestamp + 60,
        certificate_digests=[b"\x0c" * 32],
        evidence=[b"evidence"],
    )
    chain.check_block(block)
    return chain, block


def test_every_single_byte_change_is_undecodable_or_rejected(small_block: tuple[ChainState, Block]) -> None:
    chain, block = small_block
    data = block.to_bytes()
    commitment = chain.utxos.commitment()
    outcomes = {"decode": 0, "reject": 0}
    for position in range(len(data)):
        for flip in (0x01, 0x80):
            mutated = bytearray(data)
            mutated[position] ^= flip
            try:
                candidate = Block.from_bytes(bytes(mutated))
            except DecodeError:
                outcomes["decode"] += 1
                continue
            with pytest.raises(BlockError):
                chain.check_block(candidate)
            outcomes["reject"] += 1
    assert chain.utxos.commitment() == commitment and chain.height == 0
    assert outcomes["decode"] > 0 and outcomes["reject"] > 0


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_truncations_and_extensions_are_undecodable(data: st.DataObject) -> None:
    chain = ChainState(NET)
    encoded = chain.build_block(KEYS[0], timestamp=NET.genesis_timestamp + 1, evidence=[b"x" * 40]).to_bytes()
    cut = data.draw(st.integers(0, len(encoded) - 1))
    with pytest.raises(DecodeError):
        Block.from_bytes(encoded[:cut])
    with pytest.raises(DecodeError):
        Block.from_bytes(encoded + data.draw(st.binary(min_size=1, max_size=8)))
