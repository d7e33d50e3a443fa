"""The one driver: its timer table, the order of actions, and what it makes durable."""

from __future__ import annotations

from collections.abc import Hashable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from timecoin_core import TransactionBuilder, coins
from timecoin_core.consensus import (
    BlockCommitted,
    BlockVoteSigned,
    ConsensusNode,
    Driver,
    NodeAction,
    NodeEvent,
    TxFinal,
    is_durable,
    persist_action,
)
from timecoin_core.consensus.finality import VoteRecorded
from timecoin_core.consensus.sansio import Broadcast, SetTimer, TimerFired
from timecoin_core.store import MemoryStore, load_node_state
from timecoin_core.testing import LocalChain


class _Recorder(ConsensusNode):
    """A node whose handle records the timers it is fired with and sets scripted timers."""

    def __init__(self, script: dict[Hashable, list[SetTimer]]) -> None:
        self.fired: list[tuple[Hashable, float]] = []
        self.script = script

    def handle(self, event: NodeEvent, now: float, *, wall: float | None = None, origin: object = None) -> list[NodeAction]:
        assert isinstance(event, TimerFired)
        self.fired.append((event.key, now))
        return list(self.script.pop(event.key, []))

    def start(self, now: float, *, wall: float | None = None) -> list[NodeAction]:
        return []


def _driver(script: dict[Hashable, list[SetTimer]] | None = None) -> tuple[Driver, _Recorder]:
    node = _Recorder(script or {})
    return Driver(node), node


def test_a_later_timer_with_the_same_key_replaces_the_earlier() -> None:
    driver, node = _driver()
    driver.schedule(SetTimer("a", 5.0))
    driver.schedule(SetTimer("a", 9.0))
    assert driver.next_deadline() == 9.0
    assert driver.fire_due(8.0) == [] and node.fired == []
    driver.fire_due(9.0)
    assert node.fired == [("a", 9.0)]
    assert driver.next_deadline() is None


def test_due_timers_fire_earliest_first_ties_in_the_order_set_and_chains_run() -> None:
    # "b" sets "c" in the past: it must fire in the same call.
    driver, node = _driver({"b": [SetTimer("c", 1.0)]})
    driver.schedule(SetTimer("b", 3.0))
    driver.schedule(SetTimer("x", 2.0))
    driver.schedule(SetTimer("a", 2.0))
    driver.schedule(SetTimer("later", 50.0))
    driver.fire_due(10.0)
    assert [key for key, _ in node.fired] == ["x", "a", "b", "c"]
    assert driver.next_deadline() == 50.0
    assert [key for _, _, key in driver.pending()] == ["later"]


def test_fire_and_cancel_a_chosen_timer() -> None:
    driver, node = _driver()
    driver.schedule(SetTimer("a", 5.0))
    assert driver.fire("missing", 1.0) == []
    driver.fire("a", 1.0)
    assert node.fired == [("a", 1.0)]
    driver.schedule(SetTimer("b", 5.0))
    assert driver.cancel("b") and not driver.cancel("b")
    assert driver.next_deadline() is None


@given(st.lists(st.tuples(st.sampled_from("abcde"), st.floats(0, 100)), max_size=40), st.floats(0, 100))
def test_fire_due_matches_a_reference_table(timers: list[tuple[str, float]], now: float) -> None:
    driver, node = _driver()
    table: dict[str, tuple[float, int]] = {}
    for order, (key, at) in enumerate(timers):
        driver.schedule(SetTimer(key, at))
        table[key] = (at, order)
    expected = sorted((at, order, key) for key, (at, order) in table.items() if at <= now)
    driver.fire_due(now)
    assert [key for key, _ in node.fired] == [key for _, _, key in expected]
    remaining = [at for at, _ in table.values() if at > now]
    assert driver.next_deadline() == (min(remaining) if remaining else None)


class _Net:
    """Four real nodes, each behind a Driver, in virtual time; node 0 persists to a store."""

    def __init__(self, chain: LocalChain) -> None:
        self.network = chain.network
        self.now = chain.clock.now()
        self.drivers = [Driver(ConsensusNode(chain.network, key)) for key in chain.masternode_keys]
        self.store = MemoryStore(chain.network)
        self.durable: list[NodeAction] = []
        self.queue: list[tuple[int, object, object]] = []

    async def carry(self, index: int, actions: list[NodeAction]) -> None:
        for action in actions:
            if is_durable(action) and index == 0:
                self.durable.append(action)
                assert await persist_action(self.store, action, self.drivers[0].node)
            elif isinstance(action, Broadcast):
                self.queue.append((index, action.message, action.exclude))

    async def start(self) -> None:
        for i, driver in enumerate(self.drivers):
            await self.carry(i, driver.start(self.now))

    async def run_until(self, done: object) -> None:
        for _ in range(100_000):
            while self.queue:
                sender, message, exclude = self.queue.pop(0)
                for j, driver in enumerate(self.drivers):
                    if j not in (sender, exclude):
                        await self.carry(j, driver.handle(message, self.now, origin=sender))  # type: ignore[arg-type]
            if done():  # type: ignore[operator]
                return
            self.now = min(d for d in (driver.next_deadline() for driver in self.drivers) if d is not None)
            for i, driver in enumerate(self.drivers):
                await self.carry(i, driver.fire_due(self.now))
        raise AssertionError("the network did not get there")


@pytest.mark.anyio
async def test_a_node_persisted_through_the_driver_restores_with_its_votes_and_chain() -> None:
    chain = LocalChain(4)
    account = chain.accounts[0]
    payee = chain.accounts[1]
    net = _Net(chain)
    await net.start()
    sent = []
    for coin in account.coins()[:1]:
        tx = (
            TransactionBuilder(chain.network).spend(coin.outpoint, coin.output, account.key)
            .pay(payee.address, coins("1")).pay(account.address, coin.amount - coins("1") - 100_000).build()
        )
        sent.append(tx)
        await net.carry(0, net.drivers[0].submit(tx, net.now))
    node = net.drivers[0].node
    await net.run_until(lambda: all(d.node.chain.height >= 3 for d in net.drivers))
    assert all(node.chain.transaction(tx.txid) is not None for tx in sent)
    kinds = {type(a) for a in net.durable}
    assert {VoteRecorded, BlockVoteSigned, BlockCommitted, TxFinal} <= kinds

    state = await load_node_state(net.store)
    restored = ConsensusNode.restore(chain.network, chain.masternode_keys[0], state, net.now)
    assert restored.chain.tip.hash == node.chain.tip.hash
    assert restored.chain.utxos.commitment() == node.chain.utxos.commitment()
    assert restored.finality.voted_outpoints() == node.finality.voted_outpoints()


def test_the_driver_absorbs_timers_and_keeps_the_order_of_everything_else() -> None:
    chain = LocalChain(4)
    node = ConsensusNode(chain.network, chain.masternode_keys[0])
    driver = Driver(node)
    assert driver.start(chain.clock.now()) == []
    assert driver.next_deadline() == chain.clock.now() + chain.network.block_interval
    account = chain.accounts[0]
    coin = account.coins()[0]
    tx = (
        TransactionBuilder(chain.network).spend(coin.outpoint, coin.output, account.key)
        .pay(chain.accounts[1].address, coins("1")).build()
    )
    out = driver.handle(tx, chain.clock.now(), origin=b"\x01" * 32)
    assert not any(isinstance(a, SetTimer) for a in out)
    assert out[0] == Broadcast(tx, exclude=b"\x01" * 32)
    # The vote is recorded (durable) now; its batch goes out later, on a timer.
    assert any(isinstance(a, VoteRecorded) for a in out)
    assert driver.next_deadline() is not None


def test_which_actions_are_durable() -> None:
    chain = LocalChain(4)
    alice = chain.wallet("alice", balance=coins("5"))
    tx = alice.send(chain.wallet("bob"), coins("1"))
    certificate = chain.nodes[0].finality.certificate(tx.txid)
    assert certificate is not None
    assert is_durable(VoteRecorded(tx.txid, ()))
    assert is_durable(TxFinal(tx.txid, certificate))
    assert not is_durable(Broadcast(tx))
    assert not is_durable(SetTimer("k", 1.0))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
