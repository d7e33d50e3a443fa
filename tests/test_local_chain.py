from __future__ import annotations

from collections.abc import Callable

import pytest

from timecoin_core import DEVNET, TransactionBuilder, coins
from timecoin_core.errors import TimecoinError
from timecoin_core.keys import PrivateKey
from timecoin_core.mempool import DoubleSpendError
from timecoin_core.testing import ClockError, LocalChain, LocalWallet, TxStatus
from timecoin_core.validation import BadSignatureError
from timecoin_core.wallet.coin_selection import InsufficientFundsError


def test_quickstart_flow(local_chain: LocalChain) -> None:
    alice = local_chain.wallet("alice", balance=coins("1000"))
    bob = local_chain.wallet("bob")
    tx = alice.send(bob.address, coins("12.5"))
    assert local_chain.tx_status(tx.txid) is TxStatus.FINAL
    assert bob.balances().finalized == coins("12.5")
    block = local_chain.produce_block()
    assert tx in block.transactions
    assert local_chain.tx_status(tx.txid) is TxStatus.CONFIRMED
    assert bob.balance() == coins("12.5")
    assert bob.balances().confirmed == coins("12.5")


def test_wallets_are_deterministic() -> None:
    one, two = LocalChain(), LocalChain()
    assert one.wallet("a").address == two.wallet("x").address
    assert one.wallet("b").address == two.wallet("y").address
    assert one.wallet("a").address != one.wallet("b").address
    assert one.wallet("a").address == one.wallet("a").address


def test_spend_final_change_before_any_block(funded_wallet: LocalWallet, local_chain: LocalChain) -> None:
    bob = local_chain.wallet("bob")
    for _ in range(5):
        funded_wallet.send(bob, coins("1"))
    assert bob.balance() == coins("5")
    bob.send(funded_wallet, coins("4"))
    block = local_chain.produce_block()
    assert len(block.transactions) == 7  # funding + 5 + 1
    assert bob.balance() < coins("1")


@pytest.mark.local_chain(masternodes=4)
def test_four_masternodes_agree(local_chain: LocalChain, funded_wallet: LocalWallet) -> None:
    bob = local_chain.wallet("bob")
    txs = [funded_wallet.send(bob, coins("2")) for _ in range(10)]
    blocks = local_chain.produce_blocks(3)
    assert [b.height for b in blocks] == [1, 2, 3]
    hashes = {n.chain.tip.hash for n in local_chain.nodes}
    assert len(hashes) == 1
    assert all(n.chain.transaction(tx.txid) is not None for n in local_chain.nodes for tx in txs)
    commitments = {n.chain.utxos.commitment() for n in local_chain.nodes}
    assert len(commitments) == 1


@pytest.mark.local_chain(auto_finality=False)
def test_manual_mode(local_chain: LocalChain) -> None:
    alice = local_chain.wallet("alice", balance=coins("10"))
    bob = local_chain.wallet("bob")
    tx = alice.send(bob, coins("1"))
    assert local_chain.tx_status(tx.txid) is TxStatus.PENDING
    assert tx not in local_chain.produce_block().transactions  # pending transactions wait
    local_chain.finalize()
    assert local_chain.tx_status(tx.txid) is TxStatus.FINAL
    assert tx in local_chain.produce_block().transactions


@pytest.mark.local_chain(auto_finality=False)
def test_pending_transaction_times_out_and_releases_its_coins(local_chain: LocalChain) -> None:
    alice = local_chain.wallet("alice", balance=coins("10"))
    tx = alice.send(alice, coins("1"))
    assert alice.balances().pending == coins("10")
    local_chain.advance(local_chain.network.finality_timeout + 1)
    assert local_chain.tx_status(tx.txid) is TxStatus.REJECTED
    assert alice.balance() == coins("10")


def test_double_spend_is_refused(funded_wallet: LocalWallet, local_chain: LocalChain) -> None:
    bob = local_chain.wallet("bob")
    coin = funded_wallet.coins()[0]
    first = TransactionBuilder(local_chain.network).spend(coin.outpoint, coin.output, funded_wallet.key).pay(
        bob.address, coins("1")
    ).build()
    second = TransactionBuilder(local_chain.network).spend(coin.outpoint, coin.output, funded_wallet.key).pay(
        bob.address, coins("2")
    ).build()
    local_chain.submit(first)
    with pytest.raises(DoubleSpendError) as info:
        local_chain.submit(second)
    assert info.value.holder == first.txid


def test_bad_signer_fails_here_not_on_mainnet(funded_wallet: LocalWallet, local_chain: LocalChain) -> None:
    coin = funded_wallet.coins()[0]
    tx = TransactionBuilder(local_chain.network).spend(coin.outpoint, coin.output, funded_wallet.key).pay(
        funded_wallet.address, coins("1")
    ).build()
    forged = tx.with_witnesses([(tx.inputs[0].public_key, PrivateKey.generate().sign(b"wrong"))])
    with pytest.raises(BadSignatureError):
        local_chain.submit(forged)
    wrong_network = TransactionBuilder(DEVNET.with_genesis((), ())).spend(
        coin.outpoint, coin.output, funded_wallet.key
    ).pay(funded_wallet.address, coins("1")).build()
    assert wrong_network.txid == tx.txid  # same body: only the signature's chain binding differs


def test_insufficient_funds_says_how_much(local_chain: LocalChain) -> None:
    poor = local_chain.wallet("poor", balance=coins("1"))
    with pytest.raises(InsufficientFundsError) as info:
        poor.send(poor, coins("5"))
    assert "need 5" in str(info.value) and "spendable 1 TIME" in str(info.value)


def test_snapshot_restores_chain_pool_and_clock(local_chain: LocalChain, funded_wallet: LocalWallet) -> None:
    bob = local_chain.wallet("bob")
    before = (local_chain.height, local_chain.clock.now(), bob.balance())
    with local_chain.snapshot():
        bob_tx = funded_wallet.send(bob, coins("3"))
        local_chain.produce_block()
        local_chain.clock.advance(3600)
        assert bob.balance() == coins("3")
    assert (local_chain.height, local_chain.clock.now(), bob.balance()) == before
    assert local_chain.tx_status(bob_tx.txid) is TxStatus.UNKNOWN
    again = funded_wallet.send(bob, coins("3"))
    assert local_chain.produce_block().transactions[-1] == again


def test_revert_can_be_reused(local_chain: LocalChain, funded_wallet: LocalWallet) -> None:
    saved = local_chain.take_snapshot()
    for _ in range(2):
        funded_wallet.send(funded_wallet, coins("1"))
        local_chain.produce_block()
        assert local_chain.height == 1
        local_chain.revert(saved)
        assert local_chain.height == 0


def test_clock_never_goes_backwards(local_chain: LocalChain) -> None:
    with pytest.raises(ClockError):
        local_chain.clock.advance(-1)
    with pytest.raises(ClockError):
        local_chain.clock.set(local_chain.clock.now() - 1)
    assert issubclass(ClockError, TimecoinError)


def test_block_timestamps_follow_the_clock(local_chain: LocalChain) -> None:
    first = local_chain.produce_block()
    local_chain.clock.advance(600)
    second = local_chain.produce_block()
    assert second.header.timestamp == int(local_chain.clock.now()) > first.header.timestamp + 598


def test_wallet_factory_fixture(wallet_factory: Callable[..., LocalWallet]) -> None:
    carol = wallet_factory("carol", balance=coins("7"))
    assert carol.balance() == coins("7")
