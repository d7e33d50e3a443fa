"""The RPC server over real sockets on 127.0.0.1: auth, limits, deadlines, bind policy, shutdown."""

from __future__ import annotations

import base64
import json
import random
import stat
from pathlib import Path

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rpc_kit import cookie_auth, exchange, parse_response, post, request_bytes, running

from timecoin_core.testing import LocalChain
from timecoin_net.rpc import (
    STOP_MESSAGE,
    Authenticator,
    BindRefusedError,
    LocalChainBackend,
    RpcErrorCode,
    RpcServer,
    RpcServerConfig,
    make_rpcauth,
)
from timecoin_net.rpc.models import MempoolInfo

pytestmark = pytest.mark.anyio

COUNT = {"jsonrpc": "2.0", "method": "getblockcount", "id": 1}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_the_cookie_is_private_while_running_and_gone_after(tmp_path: Path) -> None:
    async with running(tmp_path) as server:
        assert server.cookie_path == tmp_path / ".cookie"
        assert stat.S_IMODE((tmp_path / ".cookie").stat().st_mode) == 0o600
        assert (tmp_path / ".cookie").read_text().startswith("__cookie__:")
    assert not (tmp_path / ".cookie").exists()


@pytest.mark.parametrize(
    "auth",
    [None, b"Basic " + b"X19jb29raWVfXzp3cm9uZw==", b"Bearer abc", b"Basic !!!notbase64", b"Basic"],
    ids=["missing", "wrong-cookie", "other-scheme", "bad-base64", "empty"],
)
async def test_missing_or_wrong_credentials_get_401(tmp_path: Path, auth: bytes | None) -> None:
    async with running(tmp_path, auth_failure_delay=0.01) as server:
        status, headers, body = await post(server.port, COUNT, auth)
    assert status == 401
    assert headers[b"www-authenticate"] == b'Basic realm="jsonrpc"'
    assert body["error"]["code"] == RpcErrorCode.INVALID_REQUEST and "result" not in body


async def test_the_cookie_authenticates(tmp_path: Path) -> None:
    async with running(tmp_path) as server:
        status, _, body = await post(server.port, COUNT, cookie_auth(tmp_path))
    assert status == 200 and body == {"jsonrpc": "2.0", "result": 0, "id": 1}


async def test_rpcauth_hashes_authenticate_the_right_password_only(tmp_path: Path) -> None:
    entry = make_rpcauth("alice", "s3cret")
    assert "s3cret" not in entry
    backend = LocalChainBackend(LocalChain())
    config = RpcServerConfig(rpcauth=(entry,), auth_failure_delay=0.0)
    async with RpcServer(backend, config) as server:
        assert server.cookie_path is None
        good = b"Basic " + base64.b64encode(b"alice:s3cret")
        bad = b"Basic " + base64.b64encode(b"alice:s3creT")
        other = b"Basic " + base64.b64encode(b"bob:s3cret")
        assert (await post(server.port, COUNT, good))[0] == 200
        assert (await post(server.port, COUNT, bad))[0] == 401
        assert (await post(server.port, COUNT, other))[0] == 401


def test_a_server_without_auth_or_with_a_malformed_rpcauth_is_refused() -> None:
    backend = LocalChainBackend(LocalChain())
    with pytest.raises(ValueError, match="datadir"):
        RpcServer(backend, RpcServerConfig())
    with pytest.raises(ValueError, match="rpcauth"):
        RpcServer(backend, RpcServerConfig(rpcauth=("alice:nohash",)))


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10"])
def test_a_non_loopback_bind_without_an_allow_list_is_refused(host: str) -> None:
    backend = LocalChainBackend(LocalChain())
    with pytest.raises(BindRefusedError, match="allow list"):
        RpcServer(backend, RpcServerConfig(host=host, rpcauth=(make_rpcauth("a", "b"),)))
    # With an allow list the same address is accepted (constructed, not bound: tests stay on loopback).
    RpcServer(backend, RpcServerConfig(host=host, allow=("192.168.1.0/24",), rpcauth=(make_rpcauth("a", "b"),)))  # type: ignore[arg-type]


async def test_a_body_over_the_limit_is_refused_before_it_is_sent(tmp_path: Path) -> None:
    async with running(tmp_path) as server, await anyio.connect_tcp("127.0.0.1", server.port) as stream:
        head = request_bytes(b"", cookie_auth(tmp_path)).replace(b"Content-Length: 0", b"Content-Length: 2000000")
        await stream.send(head)  # the head only: the server must answer without the body
        raw = b""
        with pytest.raises(anyio.EndOfStream):
            while True:
                raw += await stream.receive()
    status, _, body = parse_response(raw)
    assert status == 413
    assert json.loads(body)["error"]["code"] == RpcErrorCode.INVALID_REQUEST


async def test_a_chunked_body_over_the_limit_is_refused(tmp_path: Path) -> None:
    async with running(tmp_path, max_body_bytes=4096) as server:
        head = (
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nAuthorization: "
            + cookie_auth(tmp_path)
            + b"\r\n\r\n"
        )
        chunk = b"1000\r\n" + b" " * 4096 + b"\r\n"
        status, _, _ = parse_response(await exchange(server.port, head + chunk * 2))
    assert status == 413


async def test_a_header_flood_is_refused_with_431(tmp_path: Path) -> None:
    async with running(tmp_path) as server:
        flood = b"".join(b"X-Junk-%d: %s\r\n" % (i, b"a" * 100) for i in range(1000))
        status, _, body = parse_response(await exchange(server.port, request_bytes(b"{}", None, extra=flood)))
    assert status == 431
    assert json.loads(body)["error"]["code"] == RpcErrorCode.INVALID_REQUEST


@pytest.mark.parametrize("part", ["head", "body"])
async def test_a_slow_request_is_cut_by_the_request_deadline(tmp_path: Path, part: str) -> None:
    async with running(tmp_path, request_timeout=0.2) as server:
        partial = b"POST / HTTP/1.1\r\nHost: x\r\n"
        if part == "body":
            partial = request_bytes(b'{"jsonrpc": "2.0"', cookie_auth(tmp_path)).replace(b"Length: 17", b"Length: 99")
        # Half a request, then nothing: the read below returns when the server gives up.
        status, _, body = parse_response(await exchange(server.port, partial))
    assert status == 408
    assert json.loads(body)["error"]["message"] == "request timeout"


async def test_bad_paths_methods_and_http_get_json_rpc_errors(tmp_path: Path) -> None:
    async with running(tmp_path) as server:
        auth = cookie_auth(tmp_path)
        cases = [
            (request_bytes(b"{}", auth, path=b"/wallet"), 404),
            (request_bytes(b"", auth, method=b"GET"), 405),
            (request_bytes(b"", auth, method=b"GET", path=b"/ws"), 426),
            (b"NOT HTTP AT ALL\r\n\r\n", 400),
        ]
        for raw, expected in cases:
            status, _, body = parse_response(await exchange(server.port, raw))
            assert status == expected, raw
            assert json.loads(body)["error"]["code"] == RpcErrorCode.INVALID_REQUEST


async def test_keep_alive_serves_several_requests_and_notifications_get_204(tmp_path: Path) -> None:
    notification = json.dumps({"jsonrpc": "2.0", "method": "getblockcount"}).encode()
    async with running(tmp_path) as server, await anyio.connect_tcp("127.0.0.1", server.port) as stream:
        auth = cookie_auth(tmp_path)
        await stream.send(request_bytes(json.dumps(COUNT).encode(), auth))
        first = await stream.receive()
        assert parse_response(first)[0] == 200
        await stream.send(request_bytes(notification, auth))
        second = await stream.receive()
        status, _headers, body = parse_response(second)
        assert status == 204 and body == b""


class _Gate(LocalChainBackend):
    """getmempoolinfo waits for the test to open the gate: a request held in flight."""

    def __init__(self) -> None:
        super().__init__(LocalChain())
        self.entered = anyio.Event()
        self.gate = anyio.Event()

    async def getmempoolinfo(self) -> MempoolInfo:
        self.entered.set()
        await self.gate.wait()
        return await super().getmempoolinfo()


async def test_close_answers_requests_in_flight_and_refuses_new_ones_with_28(tmp_path: Path) -> None:
    backend = _Gate()
    auth = cookie_auth
    server = RpcServer(backend, RpcServerConfig(datadir=tmp_path))
    answers: dict[str, object] = {}
    async with anyio.create_task_group() as group:
        await group.start(server.serve)
        headers = auth(tmp_path)
        mempool = json.dumps({"jsonrpc": "2.0", "method": "getmempoolinfo", "id": 5}).encode()
        async with await anyio.connect_tcp("127.0.0.1", server.port) as idle:
            await idle.send(request_bytes(json.dumps(COUNT).encode(), headers))
            assert parse_response(await idle.receive())[0] == 200  # a kept-alive connection

            async def in_flight() -> None:
                answers["in-flight"] = await exchange(server.port, request_bytes(mempool, headers))

            group.start_soon(in_flight)
            await backend.entered.wait()
            group.start_soon(server.aclose)
            while not server.closing:
                await anyio.sleep(0)  # a checkpoint, not a timed wait
            await idle.send(request_bytes(json.dumps(COUNT).encode(), headers))
            refused = json.loads(parse_response(await idle.receive())[2])
            assert refused["error"]["code"] == RpcErrorCode.SHUTTING_DOWN
            backend.gate.set()
    status, _, body = parse_response(answers["in-flight"])  # type: ignore[arg-type]
    assert status == 200 and json.loads(body)["result"]["size"] == 0
    assert not (tmp_path / ".cookie").exists()


async def test_stop_is_answered_then_every_request_is_refused(tmp_path: Path) -> None:
    backend = LocalChainBackend(LocalChain())
    async with running(tmp_path, backend=backend) as server:
        auth = cookie_auth(tmp_path)
        stop = {"jsonrpc": "2.0", "method": "stop", "id": "s"}
        status, _headers, body = await post(server.port, stop, auth)
        assert (status, body["result"]) == (200, STOP_MESSAGE)
        assert backend.stop_requested.is_set() and server.stop_requested.is_set()
        _, _, after = await post(server.port, COUNT, auth)
        assert after["error"]["code"] == RpcErrorCode.SHUTTING_DOWN


async def test_subscribe_over_http_says_to_use_the_websocket(tmp_path: Path) -> None:
    async with running(tmp_path) as server:
        request = {"jsonrpc": "2.0", "method": "subscribe", "params": ["newBlocks"], "id": 1}
        _, _, body = await post(server.port, request, cookie_auth(tmp_path))
    assert body["error"]["code"] == RpcErrorCode.METHOD_NOT_FOUND and "/ws" in body["error"]["message"]


async def test_too_many_connections_are_answered_503_at_once(tmp_path: Path) -> None:
    async with running(tmp_path, max_connections=1) as server, await anyio.connect_tcp("127.0.0.1", server.port) as held:
        await held.send(b"P")
        while server.connections < 1:
            await anyio.sleep(0)  # a checkpoint until the server counts it, not a timed wait
        status, _, body = parse_response(await exchange(server.port, request_bytes(b"{}", None)))
        assert status == 503 and json.loads(body)["error"]["code"] == RpcErrorCode.INVALID_REQUEST


def _junk(rng: random.Random, valid: bytes) -> bytes:
    """Random bytes, or a valid request with random bytes flipped, cut or inserted."""
    kind = rng.randrange(4)
    if kind == 0:
        return rng.randbytes(rng.randrange(1, 300))
    data = bytearray(valid)
    for _ in range(rng.randrange(1, 6)):
        at = rng.randrange(len(data))
        if kind == 1:
            data[at] = rng.randrange(256)
        elif kind == 2:
            data[at:at] = rng.randbytes(rng.randrange(1, 20))
        else:
            del data[at:]
            break
    return bytes(data) or b"x"


async def test_junk_from_a_client_always_gets_an_http_answer_and_the_server_carries_on(tmp_path: Path) -> None:
    rng = random.Random(20261207)
    async with running(tmp_path, request_timeout=0.1, idle_timeout=0.1, auth_failure_delay=0.0) as server:
        auth = cookie_auth(tmp_path)
        valid = request_bytes(json.dumps(COUNT).encode(), auth, extra=b"Connection: close\r\n")
        for _ in range(40):
            junk = _junk(rng, valid)
            raw = await exchange(server.port, junk)
            status, _, body = parse_response(raw)
            assert 200 <= status < 500, (junk, raw)
            if body:
                answer = json.loads(body)
                assert ("result" in answer) != ("error" in answer)
        status, _, body = parse_response(await exchange(server.port, valid))
        assert status == 200 and json.loads(body)["result"] == 0


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_any_authorization_header_is_checked_without_raising(header: bytes) -> None:
    checker = Authenticator(cookie="c" * 64, rpcauth=(make_rpcauth("alice", "pw"),))
    assert checker.check(header) is False
    assert checker.check(b"Basic " + base64.b64encode(b"__cookie__:" + b"c" * 64)) is True


async def test_an_upgrade_header_on_a_post_and_http_1_0_are_still_answered(tmp_path: Path) -> None:
    # A short idle timeout: exchange() reads until the server closes the kept-alive connection.
    async with running(tmp_path, idle_timeout=0.1) as server:
        auth = cookie_auth(tmp_path)
        body = json.dumps(COUNT).encode()
        h2c = request_bytes(body, auth, extra=b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n")
        status, _, answer = parse_response(await exchange(server.port, h2c))
        assert status == 200 and json.loads(answer)["result"] == 0
        old = request_bytes(body, auth).replace(b"HTTP/1.1", b"HTTP/1.0", 1)
        status, _, answer = parse_response(await exchange(server.port, old))
        assert status == 200 and json.loads(answer)["result"] == 0
