"""The RPC clients against a server on a LocalChain: typed errors, batches, the blocking client,
every method of the backend, and the public surface of timecoin_net."""

from __future__ import annotations

import importlib
import inspect
import pickle
from pathlib import Path

import anyio
import anyio.to_thread
import pytest
from rpc_kit import running

import timecoin_net
import timecoin_net.rpc
from timecoin_core import coins
from timecoin_core.testing import LocalChain
from timecoin_net.rpc import (
    AsyncRpcClient,
    CookieError,
    LocalChainBackend,
    RpcAuthError,
    RpcBackend,
    RpcClient,
    RpcConnectionError,
    RpcError,
    RpcErrorCode,
    TransactionRejectedError,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_errors_are_typed_with_code_message_and_data(tmp_path: Path) -> None:
    async with running(tmp_path) as server, AsyncRpcClient(server.url, datadir=tmp_path) as client:
        with pytest.raises(RpcError) as info:
            await client.call("getblockhash", 5)
        assert info.value.code == RpcErrorCode.INVALID_ADDRESS_OR_KEY
        with pytest.raises(RpcError) as info:
            await client.call("getblockhash", height="five")
        assert (info.value.code, info.value.data) == (RpcErrorCode.INVALID_PARAMS, {"parameter": "height"})
        with pytest.raises(RpcError) as info:
            await client.call("getbalance", "not-an-address")
        assert info.value.code == RpcErrorCode.INVALID_ADDRESS_OR_KEY
        with pytest.raises(RpcError) as info:
            await client.call("sendrawtransaction", "zz")
        assert info.value.code == RpcErrorCode.DESERIALIZATION_ERROR
        copy = pickle.loads(pickle.dumps(info.value))
        assert (copy.code, copy.message, copy.data) == (info.value.code, info.value.message, info.value.data)


async def test_wrong_credentials_and_no_server_are_their_own_errors(tmp_path: Path) -> None:
    async with running(tmp_path, auth_failure_delay=0.0) as server:
        url = server.url
        async with AsyncRpcClient(url, user="__cookie__", password="nope") as client:
            with pytest.raises(RpcAuthError):
                await client.call("getblockcount")
    with pytest.raises(RpcConnectionError):
        await AsyncRpcClient(url, user="a", password="b").call("getblockcount")
    with pytest.raises(CookieError):
        AsyncRpcClient(url, datadir=tmp_path)  # the cookie went with the server


async def test_rejections_carry_bitcoind_codes_and_the_reason(tmp_path: Path) -> None:
    chain = LocalChain()
    backend = LocalChainBackend(chain)
    sender, receiver = chain.accounts[0], chain.accounts[1]
    first = sender.wallet.create_transaction(receiver.address, coins("1"), None, chain.node.pool.utxos).transaction
    rival = sender.wallet.create_transaction(receiver.address, coins("2"), None, chain.node.pool.utxos).transaction
    assert {i.outpoint for i in first.inputs} & {i.outpoint for i in rival.inputs}
    async with running(tmp_path, backend=backend) as server, AsyncRpcClient(server.url, datadir=tmp_path) as client:
        await client.call("sendrawtransaction", first.to_bytes().hex())
        with pytest.raises(RpcError) as info:
            await client.call("sendrawtransaction", rival.to_bytes().hex())
        assert info.value.code == RpcErrorCode.VERIFY_REJECTED
        assert info.value.data == {"reason": "double-spend"}
        assert (await client.call("gettxstatus", rival.txid.hex()))["status"] == "rejected"
        backend.produce_block()
        with pytest.raises(RpcError) as info:
            await client.call("sendrawtransaction", first.to_bytes().hex())
        assert info.value.code == RpcErrorCode.VERIFY_ALREADY_IN_CHAIN


def test_rejection_codes_follow_the_reason() -> None:
    assert TransactionRejectedError("missing-input", "x").code == RpcErrorCode.VERIFY_ERROR
    assert TransactionRejectedError("bad-signature", "x").code == RpcErrorCode.VERIFY_REJECTED
    assert TransactionRejectedError("already-confirmed", "x").code == RpcErrorCode.VERIFY_ALREADY_IN_CHAIN


async def test_the_blocking_client_calls_and_batches(tmp_path: Path) -> None:
    async with running(tmp_path) as server:

        def work() -> tuple[object, list[object]]:
            with RpcClient(server.url, datadir=tmp_path) as client:
                count = client.call("getblockcount")
                return count, client.batch([("getblockhash", [0]), ("getblockhash", [9]), ("getblockcount", [])])

        count, results = await anyio.to_thread.run_sync(work)
    assert count == 0
    assert isinstance(results[0], str) and len(results[0]) == 64
    assert isinstance(results[1], RpcError) and results[1].code == RpcErrorCode.INVALID_ADDRESS_OR_KEY
    assert results[2] == 0


async def test_the_client_reconnects_after_the_server_closed_its_idle_connection(tmp_path: Path) -> None:
    async with (
        running(tmp_path, idle_timeout=0.05) as server,
        AsyncRpcClient(server.url, datadir=tmp_path) as client,
    ):
        assert await client.call("getblockcount") == 0
        while server.connections:
            await anyio.sleep(0)  # a checkpoint until the server closed the idle connection
        assert await client.call("getblockcount") == 0

        def blocking() -> list[object]:
            with RpcClient(server.url, datadir=tmp_path) as sync:
                first = sync.call("getblockcount")
                while server.connections:
                    pass  # the server closes the idle connection on its own loop
                return [first, sync.call("getblockcount")]

        assert await anyio.to_thread.run_sync(blocking) == [0, 0]


async def test_every_method_answers_on_a_local_chain(tmp_path: Path) -> None:
    chain = LocalChain(masternodes=4)
    backend = LocalChainBackend(chain)
    assert isinstance(backend, RpcBackend)
    receiver = chain.wallet("bob")
    chain.accounts[0].send(receiver, coins("3"))
    backend.produce_block()
    address = str(receiver.address)
    async with running(tmp_path, backend=backend) as server, AsyncRpcClient(server.url, datadir=tmp_path) as client:
        info = await client.call("getinfo")
        assert (info["network"], info["height"], info["peers"], info["syncing"]) == ("devnet", 1, 3, False)
        assert await client.call("getblockcount") == 1
        tip = await client.call("getblockhash", 1)
        assert info["tip"] == tip
        block = await client.call("getblock", tip)
        assert block == await client.call("getblock", 1)
        assert block["confirmations"] == 1 and len(block["tx"]) == 1
        verbose = await client.call("getblock", 1, 2)
        assert verbose["tx"][0]["txid"] == block["tx"][0]
        raw = await client.call("getblock", 1, 0)
        assert raw == chain.block(1).to_bytes().hex()  # type: ignore[union-attr]
        txid = block["tx"][0]
        assert await client.call("getrawtransaction", txid) == chain.transaction(bytes.fromhex(txid)).to_bytes().hex()  # type: ignore[union-attr]
        decoded = await client.call("getrawtransaction", txid, True)
        assert any(o["address"] == address and o["amount"] == coins("3") for o in decoded["outputs"])
        assert (await client.call("gettxstatus", txid))["status"] == "confirmed"
        assert (await client.call("gettxstatus", "00" * 32))["status"] == "unknown"
        balance = await client.call("getbalance", address)
        assert balance["confirmed"] == coins("3") and balance["spendable"] == coins("3")
        page = await client.call("listunspent", address, 1)
        assert [c["amount"] for c in page["coins"]] == [coins("3")] and page["next_cursor"] is None
        mempool = await client.call("getmempoolinfo")
        assert mempool["size"] == 0 and mempool["min_fee_per_kb"] == chain.network.min_fee_per_kb
        peers = await client.call("getpeerinfo")
        assert [p["address"] for p in peers] == ["localchain:1", "localchain:2", "localchain:3"]
        masternodes = await client.call("getmasternodes")
        assert len(masternodes) == 4 and all(m["active"] and m["weight"] > 0 for m in masternodes)
        consensus = await client.call("getconsensusinfo")
        assert consensus["height"] == 2 and consensus["total_weight"] == 4 and consensus["quorum_weight"] == 3


async def test_listunspent_pages_with_the_cursor(tmp_path: Path) -> None:
    chain = LocalChain()
    backend = LocalChainBackend(chain)
    receiver = chain.wallet("carol")
    for _ in range(3):
        chain.accounts[0].send(receiver, coins("1"))
    async with running(tmp_path, backend=backend) as server, AsyncRpcClient(server.url, datadir=tmp_path) as client:
        seen, cursor = [], None
        while True:
            page = await client.call("listunspent", str(receiver.address), 2, cursor)
            seen += [(c["txid"], c["index"]) for c in page["coins"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
    assert len(seen) == len(set(seen)) == 3


def test_the_package_exports_what_it_documents() -> None:
    for package in (timecoin_net, timecoin_net.rpc, importlib.import_module("timecoin_net.metrics")):
        assert package.__doc__
        for name in package.__all__:
            value = getattr(package, name)
            if inspect.isclass(value) or inspect.isfunction(value):
                assert value.__doc__, f"{package.__name__}.{name} has no docstring"
                if inspect.isclass(value):
                    for attr, member in vars(value).items():
                        if attr.startswith("_") or not (inspect.isfunction(member) or isinstance(member, property)):
                            continue
                        assert member.__doc__, f"{package.__name__}.{name}.{attr} has no docstring"
    for module in ("models", "errors", "backend", "server", "client", "auth", "jsonrpc", "local"):
        mod = importlib.import_module(f"timecoin_net.rpc.{module}")
        assert mod.__doc__
        for name in mod.__all__:
            value = getattr(mod, name)
            if inspect.isclass(value) or inspect.isfunction(value):
                assert value.__doc__, f"timecoin_net.rpc.{module}.{name} has no docstring"
