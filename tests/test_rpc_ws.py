"""WebSocket subscriptions against LocalChainBackend: txStatus, newBlocks, finality, slow subscribers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from rpc_kit import running

from timecoin_core import coins
from timecoin_core.testing import LocalChain
from timecoin_core.transaction import Transaction
from timecoin_net.rpc import AsyncRpcClient, LocalChainBackend, RpcAuthError, RpcError, RpcErrorCode

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _payment(chain: LocalChain, amount: int = coins("1")) -> Transaction:
    """A signed payment from account 0 to account 1, not submitted."""
    sender, receiver = chain.accounts[0], chain.accounts[1]
    created = sender.wallet.create_transaction(
        receiver.address, amount, None, chain.node.pool.utxos, include_unconfirmed=True
    )
    return created.transaction


async def _next(updates: Any) -> dict[str, Any]:
    async for update in updates:
        return dict(update)
    raise AssertionError("the subscription ended")


async def test_a_transaction_sent_over_rpc_is_seen_final_through_tx_status(tmp_path: Path) -> None:
    chain = LocalChain(masternodes=4)
    backend = LocalChainBackend(chain)
    tx = _payment(chain)
    receiver = str(chain.accounts[1].address)
    async with (
        running(tmp_path, backend=backend) as server,
        AsyncRpcClient(server.url, datadir=tmp_path) as client,
        client.subscribe("txStatus", address=receiver) as updates,
    ):
        txid = await client.call("sendrawtransaction", tx.to_bytes().hex())
        assert txid == tx.txid.hex()
        final = await _next(updates)
        assert final["txid"] == txid and final["status"] == "final"
        assert final["certificate"] is not None
        backend.produce_block()
        confirmed = await _next(updates)
        assert confirmed["status"] == "confirmed" and confirmed["height"] == 1
        status = await client.call("waitfortxstatus", txid, "confirmed", 5)
        assert status["status"] == "confirmed" and status["confirmations"] == 1


async def test_a_txid_subscription_gets_the_current_status_first(tmp_path: Path) -> None:
    chain = LocalChain()
    backend = LocalChainBackend(chain)
    tx = chain.submit(_payment(chain))
    async with (
        running(tmp_path, backend=backend) as server,
        AsyncRpcClient(server.url, datadir=tmp_path) as client,
        client.subscribe("txStatus", txid=tx.txid) as updates,
    ):
        assert (await _next(updates))["status"] == "final"


async def test_manual_finality_goes_pending_then_final_and_wait_returns_on_it(tmp_path: Path) -> None:
    chain = LocalChain(masternodes=4, auto_finality=False)
    backend = LocalChainBackend(chain)
    tx = _payment(chain)
    async with (
        running(tmp_path, backend=backend) as server,
        AsyncRpcClient(server.url, datadir=tmp_path) as client,
        client.websocket() as ws,
    ):
        subscription = await ws.subscribe("txStatus", txid=tx.txid)
        updates = ws.notifications(subscription)
        await client.call("sendrawtransaction", tx.to_bytes().hex())
        assert (await _next(updates))["status"] == "pending"
        result: dict[str, Any] = {}

        async def wait() -> None:
            result.update(await ws.call("waitfortxstatus", tx.txid.hex(), "final", 30))

        async with anyio.create_task_group() as group:
            group.start_soon(wait)
            assert (await client.call("gettxstatus", tx.txid.hex()))["status"] == "pending"
            backend.finalize()
            assert (await _next(updates))["status"] == "final"
        assert result["status"] == "final"
        consensus = await client.call("getconsensusinfo")
        assert consensus["finality_latency"]["count"] == 1


async def test_new_blocks_and_finality_topics(tmp_path: Path) -> None:
    chain = LocalChain()
    backend = LocalChainBackend(chain)
    tx = _payment(chain)
    async with (
        running(tmp_path, backend=backend) as server,
        AsyncRpcClient(server.url, datadir=tmp_path) as client,
        client.websocket() as ws,
    ):
        blocks = await ws.subscribe("newBlocks")
        finality = await ws.subscribe("finality")
        await ws.call("sendrawtransaction", tx.to_bytes().hex())
        final = await _next(ws.notifications(finality))
        assert final["txid"] == tx.txid.hex() and final["voters"] == 1
        backend.produce_block()
        block = await _next(ws.notifications(blocks))
        assert block["height"] == 1 and block["tx_count"] == 1
        assert await ws.unsubscribe(blocks) is True
        assert await ws.unsubscribe(blocks) is False


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"topic": "newHeads"}, "topic"),
        ({"topic": "txStatus"}, "filter"),
        ({"topic": "newBlocks", "filter": {"txid": "ab" * 32}}, "filter"),
        ({"topic": "txStatus", "filter": {"txid": "ab" * 32, "address": "TIME0"}}, "filter"),
    ],
)
async def test_bad_subscriptions_are_invalid_params(tmp_path: Path, params: dict[str, Any], parameter: str) -> None:
    async with (
        running(tmp_path) as server,
        AsyncRpcClient(server.url, datadir=tmp_path) as client,
        client.websocket() as ws,
    ):
        with pytest.raises(RpcError) as info:
            await ws.call("subscribe", **params)
    assert info.value.code == RpcErrorCode.INVALID_PARAMS
    assert info.value.data == {"parameter": parameter}


async def test_an_address_of_another_network_is_refused(tmp_path: Path) -> None:
    async with (
        running(tmp_path) as server,
        AsyncRpcClient(server.url, datadir=tmp_path) as client,
        client.websocket() as ws,
    ):
        with pytest.raises(RpcError) as info:
            await ws.subscribe("txStatus", address="TIME1" + "1" * 30)
    assert info.value.code == RpcErrorCode.INVALID_ADDRESS_OR_KEY


async def test_a_slow_subscriber_is_closed(tmp_path: Path) -> None:
    chain = LocalChain()
    backend = LocalChainBackend(chain)
    async with (
        running(tmp_path, backend=backend, ws_queue_size=2) as server,
        AsyncRpcClient(server.url, datadir=tmp_path) as client,
        client.websocket() as ws,
    ):
        await ws.subscribe("newBlocks")
        # Five blocks published in one go, without a checkpoint: more than the queue holds.
        chain.produce_blocks(5)
        backend.refresh()
        received = [note async for note in ws.notifications()]
        assert ws.close_code == 1008
        assert len(received) <= 2
        assert len(backend.hub) == 0  # its subscription is gone with it
        # The server itself carries on.
        assert await client.call("getblockcount") == 5


async def test_the_websocket_needs_credentials(tmp_path: Path) -> None:
    async with running(tmp_path, auth_failure_delay=0.0) as server:
        client = AsyncRpcClient(server.url, user="__cookie__", password="wrong")
        with pytest.raises(RpcAuthError):
            async with client.websocket():
                pass


async def test_requests_over_the_websocket_and_a_binary_message_closes_it(tmp_path: Path) -> None:
    import wsproto.events as ws_events

    async with (
        running(tmp_path) as server,
        AsyncRpcClient(server.url, datadir=tmp_path) as client,
        client.websocket() as ws,
    ):
        assert await ws.call("getblockcount") == 0
        with pytest.raises(RpcError) as info:
            await ws.call("getblockhash", 3)
        assert info.value.code == RpcErrorCode.INVALID_ADDRESS_OR_KEY
        await ws._send(ws._ws.send(ws_events.BytesMessage(data=b"\x00")))
        assert [n async for n in ws.notifications()] == []
        assert ws.close_code == 1003


async def test_a_notification_never_precedes_the_answer_with_its_id(tmp_path: Path) -> None:
    import json

    import wsproto
    import wsproto.events as ws_events
    from rpc_kit import cookie_auth

    chain = LocalChain()
    backend = LocalChainBackend(chain)
    tx = chain.submit(_payment(chain))  # known and final: subscribing delivers at once
    batch = [
        {"jsonrpc": "2.0", "method": "subscribe", "params": ["txStatus", {"txid": tx.txid.hex()}], "id": 1},
        {"jsonrpc": "2.0", "method": "waitfortxstatus", "params": [tx.txid.hex(), "final", 5], "id": 2},
    ]
    async with running(tmp_path, backend=backend) as server, await anyio.connect_tcp("127.0.0.1", server.port) as stream:
        ws = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
        headers = [(b"authorization", cookie_auth(tmp_path))]
        await stream.send(ws.send(ws_events.Request(host="127.0.0.1", target="/ws", extra_headers=headers)))
        messages: list[object] = []
        sent = False
        while len(messages) < 2:
            ws.receive_data(await stream.receive())
            for event in ws.events():
                if isinstance(event, ws_events.AcceptConnection) and not sent:
                    await stream.send(ws.send(ws_events.TextMessage(data=json.dumps(batch))))
                    sent = True
                elif isinstance(event, ws_events.TextMessage):
                    messages.append(json.loads(event.data))
    answer, notification = messages
    assert isinstance(answer, list) and [a["id"] for a in answer] == [1, 2]
    assert isinstance(notification, dict) and notification["method"] == "subscription"
    assert notification["params"]["subscription"] == answer[0]["result"]
    assert notification["params"]["result"]["status"] == "final"


async def test_a_client_that_reads_too_slowly_is_told_not_silently_dropped(tmp_path: Path) -> None:
    from timecoin_net.rpc import RpcConnectionError

    chain = LocalChain()
    backend = LocalChainBackend(chain)
    async with (
        running(tmp_path, backend=backend) as server,
        AsyncRpcClient(server.url, datadir=tmp_path) as client,
        client.websocket(queue_size=2) as ws,
    ):
        await ws.subscribe("newBlocks")
        chain.produce_blocks(5)
        backend.refresh()
        # The answer comes after the five notifications; the client ends the session at
        # the third (nobody read the first two), so the call fails rather than waits.
        with pytest.raises(RpcConnectionError):
            await ws.call("getblockcount")
        received = []
        with pytest.raises(RpcConnectionError, match="overflowed"):
            async for note in ws.notifications():
                received.append(note)
        assert len(received) == 2


async def test_a_message_over_the_limit_closes_with_1009_and_subscriptions_are_capped(tmp_path: Path) -> None:
    import wsproto.events as ws_events

    async with (
        running(tmp_path, max_body_bytes=4096, max_subscriptions=2) as server,
        AsyncRpcClient(server.url, datadir=tmp_path) as client,
    ):
        async with client.websocket() as ws:
            await ws.subscribe("newBlocks")
            await ws.subscribe("finality")
            with pytest.raises(RpcError) as info:
                await ws.subscribe("newBlocks")
            assert info.value.code == RpcErrorCode.INVALID_PARAMETER
        async with client.websocket() as ws:
            # Sent in fragments: the server counts the message as it arrives.
            for _ in range(3):
                await ws._send(ws._ws.send(ws_events.TextMessage(data="x" * 2000, message_finished=False)))
            assert [n async for n in ws.notifications()] == []
            assert ws.close_code == 1009
