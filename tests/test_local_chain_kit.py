"""The test-kit features of LocalChain: accounts, receipts, faults, time, isolation."""

from __future__ import annotations

import pytest

from timecoin_core import TransactionBuilder, coins
from timecoin_core.consensus.finality_messages import ConflictingVotesEvidence
from timecoin_core.consensus.node import decode_record
from timecoin_core.mempool import DoubleSpendError
from timecoin_core.testing import (
    ACCOUNT_BALANCE,
    ACCOUNTS,
    TEST_MNEMONIC,
    AlreadyConfirmedError,
    ClockError,
    Fault,
    LocalChain,
    LocalChainError,
    LocalWallet,
    NotSettledError,
    TxStatus,
)
from timecoin_core.transaction import Transaction
from timecoin_core.validation import BadSignatureError
from timecoin_core.wallet import Wallet


def payment(chain: LocalChain, sender: LocalWallet, to: LocalWallet, amount: int, fee: int = 100_000) -> Transaction:
    """A raw payment of ``amount`` from ``sender``'s largest coin, change back to ``sender``."""
    coin = max(sender.coins(), key=lambda c: c.amount)
    builder = TransactionBuilder(chain.network).spend(coin.outpoint, coin.output, sender.key).pay(to.address, amount)
    return builder.pay(sender.address, coin.amount - amount - fee).build()


# -- accounts -----------------------------------------------------------------------------


def test_accounts_are_prefunded_and_derive_from_the_test_mnemonic(local_chain: LocalChain) -> None:
    accounts = local_chain.accounts
    assert len(accounts) == ACCOUNTS == 10
    assert all(a.balances().confirmed == ACCOUNT_BALANCE for a in accounts)
    for index in (0, 9):
        expected = Wallet.from_mnemonic(TEST_MNEMONIC, network=local_chain.network, account=index).address(0)
        assert accounts[index].address == expected
    assert len({a.address for a in accounts}) == ACCOUNTS
    assert local_chain.accounts is accounts  # the same wallets every time


def test_accounts_are_the_same_in_every_chain_and_spend_at_once() -> None:
    one, two = LocalChain(), LocalChain(3)
    assert [a.address for a in one.accounts] == [a.address for a in two.accounts]
    tx = one.accounts[0].send(one.accounts[1], coins("5"))
    assert one.tx_status(tx.txid) is TxStatus.FINAL
    assert one.accounts[1].balance() == ACCOUNT_BALANCE + coins("5")


def test_named_wallets_never_collide_with_accounts(local_chain: LocalChain) -> None:
    alice = local_chain.wallet("alice")
    assert alice.address not in {a.address for a in local_chain.accounts}


def test_accounts_fixture(accounts: tuple[LocalWallet, ...]) -> None:
    assert accounts[3].balance() == ACCOUNT_BALANCE


# -- receipts and statuses ----------------------------------------------------------------


def test_receipt_follows_a_transaction_to_its_block(local_chain: LocalChain) -> None:
    alice, bob = local_chain.accounts[:2]
    tx = payment(local_chain, alice, bob, coins("2"), fee=123_456)
    local_chain.submit(tx)
    final = local_chain.receipt(tx.txid)
    assert (final.status, final.fee, final.height, final.confirmations) == (TxStatus.FINAL, 123_456, None, 0)
    assert final.certificate is not None and final.certificate.txid == tx.txid
    block = local_chain.produce_block()
    local_chain.produce_blocks(2)
    confirmed = local_chain.receipt(tx.txid)
    assert confirmed.status is TxStatus.CONFIRMED
    assert (confirmed.height, confirmed.fee, confirmed.confirmations) == (block.height, 123_456, 3)
    assert confirmed.certificate == final.certificate
    assert "CONFIRMED" in repr(confirmed) and tx.txid.hex() in repr(confirmed)


def test_fee_of_a_transaction_spending_a_parent_in_the_same_block(local_chain: LocalChain) -> None:
    alice, bob = local_chain.accounts[:2]
    carol = local_chain.wallet("carol")
    first = payment(local_chain, alice, carol, coins("3"), fee=200_000)
    local_chain.submit(first)
    second = payment(local_chain, carol, bob, coins("1"), fee=300_000)
    local_chain.submit(second)
    local_chain.produce_block()
    assert local_chain.receipt(first.txid).fee == 200_000
    assert local_chain.receipt(second.txid).fee == 300_000


def test_refused_transaction_is_rejected_with_its_reason(local_chain: LocalChain) -> None:
    alice, bob = local_chain.accounts[:2]
    first = payment(local_chain, alice, bob, coins("1"))
    second = payment(local_chain, alice, bob, coins("2"))
    local_chain.submit(first)
    with pytest.raises(DoubleSpendError):
        local_chain.submit(second)
    receipt = local_chain.receipt(second.txid)
    assert receipt.status is TxStatus.REJECTED and receipt.reason
    assert local_chain.tx_status(second.txid) is TxStatus.REJECTED


def test_invalid_transaction_is_rejected_with_its_code(local_chain: LocalChain) -> None:
    alice, bob = local_chain.accounts[:2]
    tx = payment(local_chain, alice, bob, coins("1"))
    forged = tx.with_witnesses([(tx.inputs[0].public_key, bob.key.sign(b"not the sighash"))])
    with pytest.raises(BadSignatureError):
        local_chain.submit(forged)
    receipt = local_chain.receipt(forged.txid)
    assert receipt.status is TxStatus.REJECTED
    assert receipt.reason is not None and "sig" in receipt.reason


def test_resubmitting_a_confirmed_transaction_says_so(local_chain: LocalChain) -> None:
    alice, bob = local_chain.accounts[:2]
    tx = alice.send(bob, coins("1"))
    local_chain.submit(tx)  # still only final: resubmitting is a no-op
    block = local_chain.produce_block()
    with pytest.raises(AlreadyConfirmedError) as info:
        local_chain.submit(tx)
    assert (info.value.txid, info.value.height) == (tx.txid, block.height)
    assert "already confirmed" in str(info.value)


@pytest.mark.local_chain(auto_finality=False)
def test_timed_out_transaction_reports_timeout(local_chain: LocalChain) -> None:
    alice = local_chain.accounts[0]
    tx = alice.send(alice, coins("1"))
    local_chain.advance(local_chain.network.finality_timeout + 1)
    receipt = local_chain.receipt(tx.txid)
    assert (receipt.status, receipt.reason) == (TxStatus.REJECTED, "timeout")


# -- masternodes and faults -----------------------------------------------------------------


@pytest.mark.local_chain(4)
def test_submit_to_any_masternode(local_chain: LocalChain) -> None:
    alice, bob = local_chain.accounts[:2]
    tx = alice.send(bob, coins("1"), masternode=2)
    assert all(node.pool.get(tx.txid) is not None and node.pool.get(tx.txid).final for node in local_chain.nodes)  # type: ignore[union-attr]
    raw = payment(local_chain, bob, alice, coins("1"))
    local_chain.submit(raw, masternode=3)
    assert local_chain.tx_status(raw.txid) is TxStatus.FINAL


@pytest.mark.local_chain(4)
def test_one_silent_masternode_does_not_stop_finality_or_blocks(local_chain: LocalChain) -> None:
    alice, bob = local_chain.accounts[:2]
    local_chain.set_fault(1, Fault.SILENT)
    tx = alice.send(bob, coins("1"))
    certificate = local_chain.receipt(tx.txid).certificate
    assert certificate is not None
    silent = local_chain.masternode_keys[1].public_key.data
    assert silent not in {entry.voter for entry in certificate.entries}
    assert tx in local_chain.produce_block().transactions


@pytest.mark.local_chain(4)
def test_a_transaction_sent_only_to_a_silent_masternode_never_spreads(local_chain: LocalChain) -> None:
    alice, bob = local_chain.accounts[:2]
    local_chain.set_fault(2, Fault.SILENT)
    tx = alice.send(bob, coins("1"), masternode=2)
    assert local_chain.tx_status(tx.txid) is TxStatus.UNKNOWN
    assert local_chain.nodes[2].pool.get(tx.txid) is not None


@pytest.mark.local_chain(4)
def test_two_silent_masternodes_stop_finality_and_blocks(local_chain: LocalChain) -> None:
    alice, bob = local_chain.accounts[:2]
    local_chain.set_fault(1, Fault.SILENT)
    local_chain.set_fault(2, Fault.SILENT)
    tx = alice.send(bob, coins("1"))
    assert local_chain.tx_status(tx.txid) is TxStatus.PENDING
    with pytest.raises(LocalChainError, match="did not commit"):
        local_chain.produce_block()


@pytest.mark.local_chain(4)
def test_healing_a_fault(local_chain: LocalChain) -> None:
    local_chain.set_fault(1, Fault.SILENT)
    assert local_chain.faults == {1: Fault.SILENT}
    local_chain.set_fault(1, None)
    local_chain.set_fault(1, None)  # healing a healthy node is fine
    assert local_chain.faults == {}


@pytest.mark.local_chain(4)
def test_byzantine_masternode_votes_for_a_double_spend_and_is_caught(local_chain: LocalChain) -> None:
    alice, bob, carol = local_chain.accounts[:3]
    local_chain.set_fault(3, Fault.BYZANTINE)
    first = payment(local_chain, alice, bob, coins("1"))
    rival = payment(local_chain, alice, carol, coins("1"))
    local_chain.submit(first)
    local_chain.submit(rival, masternode=3)  # the byzantine node relays it instead of refusing
    assert local_chain.tx_status(first.txid) is TxStatus.FINAL
    rival_receipt = local_chain.receipt(rival.txid)
    assert (rival_receipt.status, rival_receipt.reason) == (TxStatus.REJECTED, "conflict-final")
    block = local_chain.produce_block()
    records = [decode_record(r) for r in block.evidence]
    offender = local_chain.masternode_keys[3].public_key.data
    assert any(isinstance(r, ConflictingVotesEvidence) and r.offender == offender for r in records)
    assert first in block.transactions and rival not in block.transactions


@pytest.mark.local_chain(4)
def test_byzantine_block_votes_are_evidence(local_chain: LocalChain) -> None:
    local_chain.set_fault(0, Fault.BYZANTINE)
    local_chain.produce_block()
    offender = local_chain.masternode_keys[0].public_key.data
    assert all(offender in node.evidence for node in local_chain.nodes[1:])
    kinds = {type(decode_record(r)).__name__ for r in local_chain.produce_block().evidence}
    assert "DoubleVoteEvidence" in kinds


@pytest.mark.local_chain(4)
def test_faults_are_restored_by_revert(local_chain: LocalChain) -> None:
    with local_chain.isolate():
        local_chain.set_fault(2, Fault.BYZANTINE)
        assert "byzantine" in repr(local_chain)
    assert local_chain.faults == {}


# -- time -------------------------------------------------------------------------------------


def test_produce_block_at_a_timestamp(local_chain: LocalChain) -> None:
    start = local_chain.node.chain.tip.header.timestamp
    block = local_chain.produce_block(timestamp=start + 3600)
    assert block.header.timestamp == start + 3600
    assert local_chain.clock.now() == start + 3600
    later = local_chain.produce_block()
    assert later.header.timestamp == start + 3601  # strictly after the tip


def test_produce_block_never_goes_back_in_time(local_chain: LocalChain) -> None:
    start = local_chain.node.chain.tip.header.timestamp
    local_chain.produce_block(timestamp=start + 100)
    height = local_chain.height
    for earlier in (start + 100, start + 50, start):
        with pytest.raises(ClockError):
            local_chain.produce_block(timestamp=earlier)
    local_chain.clock.advance(500)
    with pytest.raises(ClockError):
        local_chain.produce_block(timestamp=start + 200)  # after the tip, before the clock
    assert local_chain.height == height


@pytest.mark.local_chain(auto_finality=False)
def test_wait_until_jumps_exactly_as_far_as_needed(local_chain: LocalChain) -> None:
    alice = local_chain.accounts[0]
    tx = alice.send(alice, coins("1"))
    waited = local_chain.wait_until(lambda: local_chain.tx_status(tx.txid) is TxStatus.REJECTED)
    assert local_chain.network.finality_timeout <= waited < local_chain.network.finality_timeout + 1


def test_wait_until_gives_up_after_its_timeout(local_chain: LocalChain) -> None:
    start = local_chain.clock.now()
    with pytest.raises(NotSettledError):
        local_chain.wait_until(lambda: False, timeout=10)
    assert local_chain.clock.now() <= start + 10


def test_wait_until_returns_at_once_when_the_condition_holds(local_chain: LocalChain) -> None:
    assert local_chain.wait_until(lambda: True) == 0


@pytest.mark.local_chain(4, autojump=True)
def test_autojump_lets_a_hopeless_transaction_time_out_without_knowing_the_timeout(local_chain: LocalChain) -> None:
    alice, bob = local_chain.accounts[:2]
    local_chain.set_fault(1, Fault.SILENT)
    local_chain.set_fault(2, Fault.SILENT)
    start = local_chain.clock.now()
    tx = alice.send(bob, coins("1"))
    assert local_chain.tx_status(tx.txid) is TxStatus.REJECTED
    assert local_chain.clock.now() - start >= local_chain.network.finality_timeout
    assert alice.balance() == ACCOUNT_BALANCE


@pytest.mark.local_chain(4)
def test_without_autojump_the_clock_waits(local_chain: LocalChain) -> None:
    alice, bob = local_chain.accounts[:2]
    local_chain.set_fault(1, Fault.SILENT)
    local_chain.set_fault(2, Fault.SILENT)
    tx = alice.send(bob, coins("1"))
    assert local_chain.tx_status(tx.txid) is TxStatus.PENDING
    local_chain.autojump = True
    assert local_chain.tx_status(tx.txid) is TxStatus.REJECTED


def test_finality_follows_a_slow_network_vote_window() -> None:
    from dataclasses import replace

    from timecoin_core import DEVNET

    chain = LocalChain(network=replace(DEVNET, vote_batch_window=5.0, finality_timeout=60.0))
    tx = chain.accounts[0].send(chain.accounts[1], coins("1"))
    assert chain.tx_status(tx.txid) is TxStatus.FINAL


# -- isolation and keys -------------------------------------------------------------------------


def test_a_new_wallet_after_revert_never_reuses_a_key(local_chain: LocalChain) -> None:
    saved = local_chain.take_snapshot()
    inside = local_chain.wallet("inside", balance=coins("1"))
    local_chain.revert(saved)
    after = local_chain.wallet("after")
    assert after.address != inside.address
    assert after.key.public_key.data != inside.key.public_key.data
    assert local_chain.wallet("inside").address == inside.address  # a name keeps its keys
    assert inside.balance() == 0  # but its funding was undone


def test_isolate_undoes_everything(local_chain: LocalChain) -> None:
    alice, bob = local_chain.accounts[:2]
    before = (local_chain.height, local_chain.clock.now(), bob.balance())
    with local_chain.isolate() as saved:
        alice.send(bob, coins("3"))
        local_chain.produce_block()
        local_chain.advance(60)
    assert (local_chain.height, local_chain.clock.now(), bob.balance()) == before
    local_chain.revert(saved)  # the snapshot stays usable
    assert local_chain.height == before[0]


def test_repr_is_readable(local_chain: LocalChain) -> None:
    local_chain.accounts[0].send(local_chain.accounts[1], coins("1"))
    text = repr(local_chain)
    assert text.startswith("<LocalChain masternodes=1 height=0 ")
    assert "final=1" in text and "pending=0" in text and "faults" not in text
    assert "LocalWallet('account0', TIME0" in repr(local_chain.accounts[0])


# -- the fast path ------------------------------------------------------------------------


def test_a_masternode_never_verifies_its_own_votes_but_the_others_do() -> None:
    chain = LocalChain(masternodes=4)
    alice, bob = chain.accounts[:2]
    for _ in range(3):
        alice.send(bob, coins("1"))
    chain.produce_block()
    for index, node in enumerate(chain.nodes):
        own = chain.masternode_keys[index].public_key.data
        others = [n for n in chain.nodes if n is not node]
        # Its own batches and block votes answered from memory, every time...
        cached = node.verifier._valid  # what the cache holds is the point
        assert any(check.public_key == own for check in cached)
        # ...and verified for real by every other node (the counts are verifications).
        assert all(other.signatures.finality_votes > 0 for other in others)
        assert all(other.signatures.block_votes > 0 for other in others)
    # One masternode: it verified nothing but the wallets' signatures.
    solo = LocalChain()
    solo.accounts[0].send(solo.accounts[1], coins("1"))
    solo.produce_block()
    counts = solo.node.signatures
    assert counts.finality_votes == 0 and counts.block_votes == 0 and counts.transactions > 0


def test_a_local_wallet_keeps_its_change_on_its_address() -> None:
    chain = LocalChain()
    alice, bob = chain.accounts[:2]
    sent = [alice.send(bob, coins("1")) for _ in range(3)]
    # MiniWallet-like: one address holds everything, so no key is derived per send.
    assert {coin.output.payload for coin in alice.coins()} == {alice.address.payload}
    fees = sum(chain.receipt(tx.txid).fee or 0 for tx in sent)
    assert alice.balance() == ACCOUNT_BALANCE - 3 * coins("1") - fees


def test_the_default_verifier_is_the_fastest_installed_backend() -> None:
    from timecoin_core.verify import available_backends

    expected = "pynacl" if "pynacl" in available_backends() else "cryptography"
    assert LocalChain().node.verifier.backend == expected
