"""The public surface of ``timecoin_net``: exports, docstrings, argument and settings validation,
and the node's life-cycle errors."""

from __future__ import annotations

import importlib
import inspect

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import timecoin_net
import timecoin_net.testing
from timecoin_core.errors import InvalidArgumentError, TimecoinError
from timecoin_core.store import MemoryStore
from timecoin_core.verify import SyncVerifier
from timecoin_core.wire import Ping
from timecoin_net import Node, NodeError, NodeStoppingError, RuntimeSettings
from timecoin_net.testing import LinkModel, MemoryNetwork, NetworkFixture

MODULES = [
    "timecoin_net",
    "timecoin_net.connection",
    "timecoin_net.node",
    "timecoin_net.node_rpc",
    "timecoin_net.peers",
    "timecoin_net.settings",
    "timecoin_net.transport",
    "timecoin_net.testing",
    "timecoin_net.testing.cluster",
    "timecoin_net.testing.fixture",
    "timecoin_net.testing.memory",
    "timecoin_net.testing.scripted",
    "timecoin_net.testing.sync",
]


@pytest.mark.parametrize("module_name", MODULES)
def test_public_names_exist_and_are_documented(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert module.__doc__, module_name
    for name in module.__all__:
        value = getattr(module, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__doc__, f"{module_name}.{name}"
            if inspect.isclass(value):
                for attr, member in vars(value).items():
                    if attr.startswith("_") or not (inspect.isfunction(member) or isinstance(member, property)):
                        continue
                    assert member.__doc__, f"{module_name}.{name}.{attr}"


def test_package_exports_what_it_defines() -> None:
    for package in (timecoin_net, timecoin_net.testing):
        public = {n for n, v in vars(package).items() if not n.startswith("_") and not inspect.ismodule(v)}
        lazy = set(getattr(package, "_WALLET_CLI", ()))  # loaded on first use
        assert (public | lazy) - {"annotations", "TYPE_CHECKING"} == set(package.__all__)
        for name in package.__all__:
            assert getattr(package, name) is not None


def _node(**overrides: object) -> Node:
    fixture = NetworkFixture.create(1, coins=0)
    arguments: dict[str, object] = {
        "identity": fixture.node_keys[0],
        "masternode_key": fixture.masternode_keys[0],
        "store": MemoryStore(fixture.network),
        "verifier": SyncVerifier(),
    }
    arguments.update(overrides)
    return Node(fixture.network, **arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("identity", b"key"),
        ("masternode_key", "key"),
        ("listen", ("127.0.0.1", 70000)),
        ("listen", "127.0.0.1:0"),
        ("peers", [("127.0.0.1",)]),
        ("settings", {"max_inbound": 3}),
    ],
)
def test_wrong_arguments_name_the_parameter(parameter: str, value: object) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        _node(**{parameter: value})
    assert caught.value.parameter == parameter


@pytest.mark.parametrize(
    "fields",
    [{"max_inbound": 0}, {"ping_interval": 0}, {"send_queue_bytes": 1024}, {"backoff_base": 5, "backoff_cap": 1},
     {"unknown": 1}, {"catch_up_commits": 11}],
)
def test_settings_are_validated_when_built(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        RuntimeSettings(**fields)  # type: ignore[arg-type]


def test_settings_build_the_wire_configurations() -> None:
    settings = RuntimeSettings(ping_interval=5.0, max_inbound=3)
    assert settings.session_config(listen_port=9).ping_interval == 5.0
    assert settings.policy_config().max_inbound == 3


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_life_cycle_errors(anyio_backend: str) -> None:
    node = _node()
    with pytest.raises(NodeError):
        await node.submit(NetworkFixture.create(1, coins=1).payment(0))
    with pytest.raises(InvalidArgumentError):
        await node.submit(Ping(1))  # type: ignore[arg-type]
    async with anyio.create_task_group() as tg:
        await tg.start(node.run)
        assert node.running and node.address is not None
        with pytest.raises(NodeError):
            await node.run()
        node.stop()
        node.stop()  # idempotent
    assert not node.running
    with pytest.raises(NodeStoppingError) as caught:
        await node.submit(NetworkFixture.create(1, coins=1).payment(0))
    assert caught.value.code == -28
    assert isinstance(caught.value, TimecoinError)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@settings(max_examples=25, deadline=None)
@given(
    chunks=st.lists(st.binary(min_size=1, max_size=300), min_size=1, max_size=30),
    read_size=st.integers(min_value=1, max_value=400),
    seed=st.integers(min_value=0, max_value=2**32),
)
async def test_memory_links_keep_bytes_in_order(
    anyio_backend: str, chunks: list[bytes], read_size: int, seed: int
) -> None:
    network = MemoryNetwork(seed, LinkModel(min_delay=0.0, max_delay=0.002))
    received = bytearray()

    async def echo(link: timecoin_net.Link) -> None:
        async with link.stream:
            while True:
                try:
                    received.extend(await link.stream.receive(read_size))
                except anyio.EndOfStream:
                    return

    async with anyio.create_task_group() as tg:
        await tg.start(network.transport("10.0.0.2").listen, "10.0.0.2", 1, echo)
        link = await network.transport("10.0.0.1").connect("10.0.0.2", 1)
        for chunk in chunks:
            await link.stream.send(chunk)
        await link.stream.send_eof()
        with anyio.fail_after(10):
            while len(received) < sum(map(len, chunks)):
                await anyio.sleep(0.001)
        tg.cancel_scope.cancel()
    assert bytes(received) == b"".join(chunks)


def test_link_model_is_validated() -> None:
    with pytest.raises(InvalidArgumentError):
        LinkModel(loss=1.0)
    with pytest.raises(InvalidArgumentError):
        LinkModel(min_delay=0.5, max_delay=0.1)
