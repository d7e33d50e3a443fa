"""JSON-RPC throughput: calls per CPU second through HTTP and WebSocket, against the dispatcher alone.

The reference is the same call answered by the JSON-RPC dispatcher without any I/O (parse,
validate, call the backend, serialize), so the ratio is what h11, wsproto, anyio and the
sockets cost on top. Client and server share one process (and so its CPU seconds): the
figures are the whole round trip on one core, best of a few rounds.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import anyio

from timecoin_core.testing import LocalChain
from timecoin_net.rpc import (
    AsyncRpcClient,
    Dispatcher,
    LocalChainBackend,
    RpcServer,
    RpcServerConfig,
)

from ._table import Row, Table

CALLS = 2_000
CLIENTS = 8
REPEAT = 3


async def _dispatcher_rate(backend: LocalChainBackend) -> float:
    server = RpcServer(backend, RpcServerConfig(rpcauth=("u:s$" + "0" * 64,)))
    methods = server._methods
    dispatcher = Dispatcher()
    body = json.dumps({"jsonrpc": "2.0", "method": "getblockcount", "id": 1}).encode()
    start = time.process_time()
    for _ in range(CALLS):
        await dispatcher.handle(body, methods)
    return CALLS / (time.process_time() - start)


async def _http_rate(url: str, datadir: str, clients: int) -> float:
    connections = [AsyncRpcClient(url, datadir=datadir) for _ in range(clients)]
    for client in connections:
        await client.call("getblockcount")  # connect outside the measurement

    async def work(client: AsyncRpcClient, calls: int) -> None:
        for _ in range(calls):
            await client.call("getblockcount")

    start = time.process_time()
    async with anyio.create_task_group() as group:
        for client in connections:
            group.start_soon(work, client, CALLS // clients)
    elapsed = time.process_time() - start
    for client in connections:
        await client.aclose()
    return (CALLS // clients) * clients / elapsed


async def _ws_rate(url: str, datadir: str) -> float:
    async with AsyncRpcClient(url, datadir=datadir).websocket() as ws:
        await ws.call("getblockcount")
        start = time.process_time()
        for _ in range(CALLS):
            await ws.call("getblockcount")
        return CALLS / (time.process_time() - start)


async def _measure() -> dict[str, float]:
    backend = LocalChainBackend(LocalChain())
    best: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as datadir:
        async with RpcServer(backend, RpcServerConfig(datadir=Path(datadir))) as server:
            for _ in range(REPEAT):
                for name, rate in (
                    ("dispatcher", await _dispatcher_rate(backend)),
                    ("http1", await _http_rate(server.url, datadir, 1)),
                    ("http8", await _http_rate(server.url, datadir, CLIENTS)),
                    ("ws", await _ws_rate(server.url, datadir)),
                ):
                    best[name] = max(best.get(name, 0.0), rate)
    return best


def run() -> list[Table]:
    """The RPC throughput table."""
    best = anyio.run(_measure)
    reference = best["dispatcher"]
    table = Table("JSON-RPC getblockcount, calls per CPU second (client and server in one process)")
    table.add(Row("dispatcher alone (no I/O)", reference, reference, "calls/s"))
    table.add(Row("HTTP/1.1 keep-alive, 1 client", best["http1"], reference, "calls/s", ">= 1,000/s", best["http1"] >= 1_000))
    table.add(Row(f"HTTP/1.1 keep-alive, {CLIENTS} clients", best["http8"], reference, "calls/s", ">= 1,000/s", best["http8"] >= 1_000))
    table.add(Row("WebSocket, 1 client", best["ws"], reference, "calls/s", ">= 1,000/s", best["ws"] >= 1_000))
    return [table]
