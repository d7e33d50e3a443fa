"""FaultProxy on 127.0.0.1: it relays, and its blackhole, delay, refuse and reset switches do what they say."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.abc
import pytest

from timecoin_core.errors import InvalidArgumentError
from timecoin_net.testing import FaultProxy

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _echo(stream: anyio.abc.SocketStream) -> None:
    async with stream:
        try:
            async for data in stream:
                await stream.send(data)
        except (anyio.BrokenResourceError, anyio.EndOfStream, OSError):
            pass


@asynccontextmanager
async def echo_server() -> AsyncIterator[tuple[str, int]]:
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    host = "127.0.0.1"
    async with anyio.create_task_group() as group:
        group.start_soon(listener.serve, _echo)
        try:
            yield (str(host), int(port))
        finally:
            group.cancel_scope.cancel()
    await listener.aclose()


async def receive_exactly(stream: anyio.abc.SocketStream, size: int) -> bytes:
    data = b""
    while len(data) < size:
        data += await stream.receive(size - len(data))
    return data


async def test_relays_both_ways_and_counts() -> None:
    async with echo_server() as target, FaultProxy(target) as proxy:
        assert proxy.address[0] == "127.0.0.1"
        with anyio.fail_after(10):
            async with await anyio.connect_tcp(*proxy.address) as stream:
                payload = bytes(range(256)) * 1000
                async with anyio.create_task_group() as group:
                    group.start_soon(stream.send, payload)
                    assert await receive_exactly(stream, len(payload)) == payload
        assert proxy.connections == 1
        assert proxy.bytes_relayed == 2 * len(payload)


async def test_blackhole_drops_bytes_until_healed() -> None:
    async with echo_server() as target, FaultProxy(target) as proxy:
        with anyio.fail_after(10):
            async with await anyio.connect_tcp(*proxy.address) as stream:
                await stream.send(b"before")
                assert await receive_exactly(stream, 6) == b"before"
                proxy.blackhole = True
                await stream.send(b"lost")
                await proxy.wait_until(lambda p: p.bytes_dropped >= 4)
                assert proxy.open_links == 1  # a partition, not a disconnect
                proxy.heal()
                await stream.send(b"after")
                # The dropped bytes never arrive: the next thing the echo returns is "after".
                assert await receive_exactly(stream, 5) == b"after"


async def test_delay_holds_every_chunk_at_least_that_long_in_order() -> None:
    async with echo_server() as target, FaultProxy(target) as proxy:
        proxy.delay = 0.2
        with anyio.fail_after(10):
            async with await anyio.connect_tcp(*proxy.address) as stream:
                start = anyio.current_time()
                for i in range(5):
                    await stream.send(bytes([i]) * 10)
                data = await receive_exactly(stream, 50)
                elapsed = anyio.current_time() - start
        assert data == b"".join(bytes([i]) * 10 for i in range(5))
        # Both directions are delayed: the echo comes back after two delays at least.
        assert elapsed >= 0.4


async def test_reset_aborts_open_connections_and_new_ones_work() -> None:
    async with echo_server() as target, FaultProxy(target) as proxy:
        with anyio.fail_after(10):
            stream = await anyio.connect_tcp(*proxy.address)
            await stream.send(b"x")
            assert await receive_exactly(stream, 1) == b"x"
            assert proxy.reset() == 1
            with pytest.raises((anyio.BrokenResourceError, anyio.EndOfStream, ConnectionResetError)):
                while True:
                    await stream.receive()
            await stream.aclose()
            async with await anyio.connect_tcp(*proxy.address) as again:
                await again.send(b"y")
                assert await receive_exactly(again, 1) == b"y"


async def test_refuse_resets_new_connections() -> None:
    async with echo_server() as target, FaultProxy(target) as proxy:
        proxy.refuse = True
        with anyio.fail_after(10):
            async with await anyio.connect_tcp(*proxy.address) as stream:
                with pytest.raises((anyio.BrokenResourceError, anyio.EndOfStream, ConnectionResetError)):
                    await stream.send(b"x")
                    while True:
                        await stream.receive()


async def test_a_dead_target_ends_the_connection() -> None:
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    await listener.aclose()  # nothing listens on this port any more
    async with FaultProxy(("127.0.0.1", port)) as proxy:
        with anyio.fail_after(10):
            async with await anyio.connect_tcp(*proxy.address) as stream:
                with pytest.raises(anyio.EndOfStream):
                    await stream.receive()
        assert proxy.refused_upstream == 1


async def test_bad_arguments_are_refused() -> None:
    with pytest.raises(InvalidArgumentError):
        FaultProxy(("127.0.0.1", 0))
    proxy = FaultProxy(("127.0.0.1", 1))
    with pytest.raises(InvalidArgumentError):
        proxy.delay = -1
    with pytest.raises(InvalidArgumentError):
        proxy.delay = float("nan")
    with pytest.raises(InvalidArgumentError):
        _ = proxy.address
