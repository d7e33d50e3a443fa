"""Wallet history from a ChainState and a TxPool: received, sent, fee, status and height."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timecoin_core import DEVNET, GenesisOutput, PrivateKey, TxPool, coins
from timecoin_core.chain import ChainState
from timecoin_core.wallet import (
    InsufficientFundsError,
    TxStatus,
    Wallet,
    WalletTransaction,
    WalletTypeError,
    wallet_history,
)

WORDS = "abandon " * 11 + "about"
BOB_KEY = PrivateKey.from_seed(bytes([7]) * 32)
PROPOSER = PrivateKey.from_seed(bytes([3]) * 32)


def setup() -> tuple[Wallet, ChainState]:
    wallet = Wallet.from_mnemonic(WORDS, network=DEVNET)
    network = DEVNET.with_genesis(
        (
            GenesisOutput(wallet.address(0).payload, coins("10")),
            GenesisOutput(BOB_KEY.public_key.payload, coins("50")),
        )
    )
    return Wallet.from_mnemonic(WORDS, network=network), ChainState(network)


def test_history_of_confirmed_and_pool_transactions() -> None:
    wallet, chain = setup()
    network = chain.network
    bob = BOB_KEY.address(network)
    t0 = network.genesis_timestamp
    pay = wallet.create_transaction(bob, coins("3"), None, chain)
    chain.apply_block(chain.build_block(PROPOSER, [pay.transaction], timestamp=t0 + 1))

    # Bob pays the wallet's address 15, which a restored wallet watches within its gap.
    bob_wallet_coins = [c for c in chain.utxos.coins_of(BOB_KEY.public_key.payload).coins]
    from timecoin_core import TransactionBuilder

    builder = TransactionBuilder(network)
    coin = bob_wallet_coins[0]
    builder.spend(coin.outpoint, coin.output, BOB_KEY)
    builder.pay(wallet.address(15), coins("2"))
    builder.pay(bob, coin.amount - coins("2") - 10_000)
    incoming = builder.build()
    chain.apply_block(chain.build_block(PROPOSER, [incoming], timestamp=t0 + 2))

    pool = TxPool(network, chain.utxos.copy())
    pending = wallet.create_transaction(bob, coins("1"), None, chain, seed=1)
    pool.add(pending.transaction, now=0.0)

    restored = Wallet.from_mnemonic(WORDS, network=network)
    history = restored.history(chain, pool)
    assert [h.status for h in history] == [TxStatus.CONFIRMED] * 3 + [TxStatus.PENDING]
    genesis, sent, received, waiting = history
    assert genesis.height == 0 and genesis.received == coins("10") and genesis.is_reward and genesis.fee is None
    assert sent.txid == pay.txid and sent.height == 1
    assert sent.sent == coins("10") and sent.net == -(coins("3") + pay.fee) and sent.fee == pay.fee
    assert received.txid == incoming.txid and received.height == 2
    assert received.received == coins("2") and received.sent == 0 and received.fee is None
    assert waiting.txid == pending.txid and waiting.height is None and waiting.fee == pending.fee
    assert waiting.net == -(coins("1") + pending.fee)
    assert "pending" in repr(waiting) and "TIME" in repr(waiting)

    pool.mark_final(pending.txid)
    assert restored.history(chain, pool)[-1].status is TxStatus.FINAL
    assert restored.history(chain, start_height=2) == (received,)


def test_history_sees_addresses_whose_coins_are_all_spent() -> None:
    wallet, chain = setup()
    network = chain.network
    # Move everything to address 18, then from 18 to address 30: coins() alone
    # (unspent coins only) would not find 30 behind the spent 18.
    first = wallet.create_transaction(
        wallet.address(18), coins("10"), None, chain, subtract_fee_from_amount=True
    )
    chain.apply_block(chain.build_block(PROPOSER, [first.transaction], timestamp=network.genesis_timestamp + 1))
    second = wallet.create_transaction(
        wallet.address(30), first.amount, None, chain, subtract_fee_from_amount=True
    )
    chain.apply_block(chain.build_block(PROPOSER, [second.transaction], timestamp=network.genesis_timestamp + 2))
    restored = Wallet.from_mnemonic(WORDS, network=network)
    history = restored.history(chain)
    assert [h.txid for h in history][1:] == [first.txid, second.txid]
    assert history[-1].net == -second.fee  # a move between own addresses costs only the fee
    assert restored.balance(chain).confirmed == second.amount


def test_a_source_is_a_protocol() -> None:
    wallet, chain = setup()

    class Blocks:
        height = chain.height

        def applied(self, height: int):  # type: ignore[no-untyped-def]
            return chain.applied(height)

    payloads = {wallet.address(0).payload}
    history = wallet_history(payloads.__contains__, Blocks())
    assert history == (
        WalletTransaction(chain.genesis.reward_txid, TxStatus.CONFIRMED, 0, coins("10"), 0, None, True),
    )
    with pytest.raises(WalletTypeError):
        wallet_history(5, chain)  # type: ignore[arg-type]
    with pytest.raises(WalletTypeError):
        wallet.history(chain, start_height="0")  # type: ignore[arg-type]


@settings(max_examples=15, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.booleans(), st.integers(1_000, coins("3")), st.integers(0, 40)), min_size=1, max_size=6
    )
)
def test_history_nets_sum_to_the_balance(steps: list[tuple[bool, int, int]]) -> None:
    wallet, chain = setup()
    network = chain.network
    bob = BOB_KEY.address(network)
    from timecoin_core import TransactionBuilder

    for height, (outgoing, amount, index) in enumerate(steps, start=1):
        if outgoing:
            try:
                tx = wallet.create_transaction(bob, amount, None, chain, seed=height).transaction
            except InsufficientFundsError:
                continue
        else:
            coin = max(chain.utxos.coins_of(BOB_KEY.public_key.payload).coins, key=lambda c: c.amount)
            builder = TransactionBuilder(network)
            builder.spend(coin.outpoint, coin.output, BOB_KEY)
            builder.pay(wallet.address(index), amount)
            builder.pay(bob, coin.amount - amount - 10_000)
            tx = builder.build()
        chain.apply_block(chain.build_block(PROPOSER, [tx], timestamp=network.genesis_timestamp + height))
    restored = Wallet.from_mnemonic(WORDS, network=network)
    history = restored.history(chain)
    assert sum(item.net for item in history) == restored.balance(chain).total
    assert all(item.status is TxStatus.CONFIRMED and item.height is not None for item in history)
    heights = [item.height for item in history if item.height is not None]
    assert len(heights) == len(history) and heights == sorted(heights)


def test_an_address_that_enters_the_gap_window_later_is_in_the_history_from_the_start() -> None:
    # Address 21 is paid first, address 1 second: only the second payment puts 21 in
    # the gap window, yet the history must list the first payment at its height.
    wallet, chain = setup()
    network = chain.network
    from timecoin_core import TransactionBuilder

    txids = []
    for height, index in enumerate((21, 1), start=1):
        coin = max(chain.utxos.coins_of(BOB_KEY.public_key.payload).coins, key=lambda c: c.amount)
        builder = TransactionBuilder(network)
        builder.spend(coin.outpoint, coin.output, BOB_KEY)
        builder.pay(wallet.address(index), coins("1"))
        builder.pay(BOB_KEY.address(network), coin.amount - coins("1") - 10_000)
        tx = builder.build()
        txids.append(tx.txid)
        chain.apply_block(chain.build_block(PROPOSER, [tx], timestamp=network.genesis_timestamp + height))
    restored = Wallet.from_mnemonic(WORDS, network=network)
    assert [h.txid for h in restored.history(chain)][1:] == txids
