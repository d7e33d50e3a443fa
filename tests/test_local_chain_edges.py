"""Every input a LocalChain caller controls: junk, wrong types, out of range, out of order."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from timecoin_core import MAINNET, coins
from timecoin_core.amount import MAX_MONEY
from timecoin_core.errors import TimecoinError
from timecoin_core.testing import (
    ClockError,
    InvalidArgumentError,
    LocalChain,
    LocalChainError,
    ManualClock,
    TxStatus,
)

JUNK: list[Any] = [None, b"x", 1.5, "5", True, object(), [1]]


def assert_names(info: pytest.ExceptionInfo[InvalidArgumentError], parameter: str) -> None:
    error = info.value
    assert error.parameter == parameter
    assert str(error).startswith(f"{parameter}:")
    assert isinstance(error, TimecoinError) and isinstance(error, LocalChainError)
    assert isinstance(error, TypeError) and isinstance(error, ValueError)


@pytest.mark.parametrize("masternodes", [0, -1, 256, "4", 4.0, True, None])
def test_masternodes_must_be_a_positive_int(masternodes: Any) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        LocalChain(masternodes)
    assert_names(info, "masternodes")


@pytest.mark.parametrize("option", ["auto_finality", "autojump"])
@pytest.mark.parametrize("value", ["yes", 1, None, 0.0])
def test_flags_must_be_bools(option: str, value: Any) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        LocalChain(**{option: value})
    assert_names(info, option)


def test_subtract_fee_from_amount_must_be_a_bool(local_chain: LocalChain) -> None:
    alice, bob = local_chain.accounts[:2]
    with pytest.raises(InvalidArgumentError) as info:
        alice.send(bob, coins("1"), subtract_fee_from_amount="yes")  # type: ignore[arg-type]
    assert_names(info, "subtract_fee_from_amount")
    alice.send(bob, coins("1"), subtract_fee_from_amount=True)
    assert bob.balance() < 1_000_000 * coins("1") + coins("1")


def test_network_must_be_a_network() -> None:
    with pytest.raises(InvalidArgumentError) as info:
        LocalChain(network="devnet")  # type: ignore[arg-type]
    assert_names(info, "network")


@pytest.mark.parametrize("balance", ["5", "12.5", 5.0, True, None, b"5", -1, MAX_MONEY + 1])
def test_wallet_balance_is_int_base_units(local_chain: LocalChain, balance: Any) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        local_chain.wallet("alice", balance=balance)
    assert_names(info, "balance")


def test_a_string_balance_points_to_coins(local_chain: LocalChain) -> None:
    with pytest.raises(InvalidArgumentError, match=r"coins\('5'\)"):
        local_chain.wallet("alice", balance="5")  # type: ignore[arg-type]


def test_wallet_and_send_agree_on_what_an_amount_means(local_chain: LocalChain) -> None:
    alice = local_chain.wallet("alice", balance=coins("10"))
    bob = local_chain.wallet("bob", balance=10)
    assert alice.balance() == coins("10") and bob.balance() == 10
    alice.send(bob, 10_000)
    assert bob.balance() == 10 + 10_000


@pytest.mark.parametrize("name", [None, 5, b"alice", ("a",)])
def test_wallet_name_is_a_string(local_chain: LocalChain, name: Any) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        local_chain.wallet(name)
    assert_names(info, "name")


@pytest.mark.parametrize("amount", ["1", "0.5", 1.0, True, None, -5, MAX_MONEY + 1])
def test_send_amount_is_int_base_units(local_chain: LocalChain, amount: Any) -> None:
    alice, bob = local_chain.accounts[:2]
    with pytest.raises(InvalidArgumentError) as info:
        alice.send(bob, amount)
    assert_names(info, "amount")
    assert len(local_chain.node.pool) == 0


@pytest.mark.parametrize("to", [None, 5, b"\x00" * 20, "not an address", object()])
def test_send_to_junk(local_chain: LocalChain, to: Any) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        local_chain.accounts[0].send(to, 1000)
    assert_names(info, "to")


def test_send_to_an_address_string(local_chain: LocalChain) -> None:
    alice, bob = local_chain.accounts[:2]
    alice.send(str(bob.address), coins("1"))
    assert bob.balances().finalized == coins("1")


def test_send_to_an_address_of_another_network(local_chain: LocalChain) -> None:
    alice, bob = local_chain.accounts[:2]
    mainnet = str(bob.key.public_key.address(MAINNET))
    with pytest.raises(InvalidArgumentError) as info:
        alice.send(mainnet, coins("1"))
    assert_names(info, "to")


@pytest.mark.parametrize("masternode", [-1, 1, 4, True, "0", None, 0.0])
def test_masternode_index_is_checked(local_chain: LocalChain, masternode: Any) -> None:
    alice, bob = local_chain.accounts[:2]
    with pytest.raises(InvalidArgumentError) as info:
        alice.send(bob, coins("1"), masternode=masternode)
    assert_names(info, "masternode")
    tx = alice.send(bob, coins("1"))
    local_chain.produce_block()
    with pytest.raises(InvalidArgumentError):
        local_chain.submit(tx, masternode=masternode)
    with pytest.raises(InvalidArgumentError):
        local_chain.set_fault(masternode, None)


def test_fee_rate_must_be_a_fee_rate(local_chain: LocalChain) -> None:
    alice, bob = local_chain.accounts[:2]
    with pytest.raises(InvalidArgumentError) as info:
        alice.send(bob, coins("1"), fee_rate=1000)  # type: ignore[arg-type]
    assert_names(info, "fee_rate")


@pytest.mark.parametrize("tx", [b"\x00" * 100, None, "tx", 5])
def test_submit_refuses_what_is_not_a_transaction(local_chain: LocalChain, tx: Any) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        local_chain.submit(tx)
    assert_names(info, "tx")


@pytest.mark.parametrize("txid", [b"", b"\x00" * 31, b"\x00" * 33, "00" * 32, None, 5, [0] * 32])
def test_txid_must_be_32_bytes(local_chain: LocalChain, txid: Any) -> None:
    for query in (local_chain.tx_status, local_chain.receipt, local_chain.transaction):
        with pytest.raises(InvalidArgumentError) as info:
            query(txid)
        assert_names(info, "txid")


def test_a_bytearray_txid_is_fine(local_chain: LocalChain) -> None:
    tx = local_chain.accounts[0].send(local_chain.accounts[1], coins("1"))
    assert local_chain.tx_status(bytearray(tx.txid)) is TxStatus.FINAL  # type: ignore[arg-type]
    assert local_chain.tx_status(bytes(32)) is TxStatus.UNKNOWN


@pytest.mark.parametrize("count", [-1, "2", 2.0, None, True])
def test_produce_blocks_count(local_chain: LocalChain, count: Any) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        local_chain.produce_blocks(count)
    assert_names(info, "count")
    assert local_chain.produce_blocks(0) == []


@pytest.mark.parametrize("timestamp", ["1767230000", 1767230000.0, True, -1, b"t"])
def test_produce_block_timestamp_type(local_chain: LocalChain, timestamp: Any) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        local_chain.produce_block(timestamp=timestamp)
    assert_names(info, "timestamp")
    assert local_chain.height == 0


@pytest.mark.parametrize("height", [-1, "1", None, 1.0])
def test_block_height(local_chain: LocalChain, height: Any) -> None:
    with pytest.raises(InvalidArgumentError):
        local_chain.block(height)
    assert local_chain.block(5) is None


def test_revert_and_faults_refuse_junk(local_chain: LocalChain) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        local_chain.revert("snapshot")  # type: ignore[arg-type]
    assert_names(info, "snapshot")
    with pytest.raises(InvalidArgumentError) as info:
        local_chain.set_fault(0, "silent")  # type: ignore[arg-type]
    assert_names(info, "fault")


@pytest.mark.parametrize("timeout", [-1, "1", None, math.nan, True])
def test_wait_until_arguments(local_chain: LocalChain, timeout: Any) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        local_chain.wait_until(lambda: True, timeout=timeout)
    assert_names(info, "timeout")
    with pytest.raises(InvalidArgumentError) as info:
        local_chain.wait_until(True)  # type: ignore[arg-type]
    assert_names(info, "condition")


@pytest.mark.parametrize("seconds", [-1, -0.001, math.nan, math.inf, "1", None, True])
def test_time_never_goes_backwards_or_sideways(local_chain: LocalChain, seconds: Any) -> None:
    before = local_chain.clock.now()
    with pytest.raises(ClockError):
        local_chain.advance(seconds)
    with pytest.raises(ClockError):
        local_chain.clock.set(seconds if seconds != -1 else before - 1)
    assert local_chain.clock.now() == before


@pytest.mark.parametrize("start", [-1, math.nan, "0", None])
def test_manual_clock_start(start: Any) -> None:
    with pytest.raises(ClockError):
        ManualClock(start)
    assert ManualClock(5).now() == 5.0


def test_fund_arguments(local_chain: LocalChain) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        local_chain.fund(b"\x00" * 20, 100)  # type: ignore[arg-type]
    assert_names(info, "address")
    with pytest.raises(InvalidArgumentError) as info:
        local_chain.fund(local_chain.accounts[0].address, "100")  # type: ignore[arg-type]
    assert_names(info, "amount")


@pytest.mark.parametrize("junk", JUNK)
def test_nothing_leaks_a_bare_python_error(local_chain: LocalChain, junk: Any) -> None:
    alice = local_chain.accounts[0]
    calls: list[Callable[[], object]] = [
        lambda: local_chain.submit(junk),
        lambda: local_chain.tx_status(junk),
        lambda: local_chain.wallet("x", balance=junk),
        lambda: alice.send(junk, 1000),
        lambda: alice.send(alice, junk),
    ]
    if junk is not None:
        calls.append(lambda: local_chain.produce_block(timestamp=junk))
    if not isinstance(junk, float):
        calls.append(lambda: local_chain.advance(junk))
    for call in calls:
        with pytest.raises(TimecoinError):
            call()
