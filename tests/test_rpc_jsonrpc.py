"""Strict JSON-RPC 2.0 conformance of the dispatcher (bytes in, bytes out, no sockets)."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timecoin_net.rpc import BackendError, Dispatcher, Method, NotFoundError, RpcErrorCode
from timecoin_net.rpc.models import (
    GetBlockHashParams,
    GetBlockParams,
    ListUnspentParams,
    WaitForTxStatusParams,
)


async def _height(params: GetBlockHashParams) -> str:
    if params.height > 10:
        raise NotFoundError(f"no block at height {params.height}")
    return f"hash{params.height}"


async def _boom(_params: object) -> object:
    raise RuntimeError("secret detail")


async def _count(_params: object) -> int:
    return 7


async def _echo(params: Any) -> object:
    return params.model_dump(mode="json")


METHODS = {
    "getblockcount": Method(None, _count),
    "getblockhash": Method(GetBlockHashParams, _height),
    "getblock": Method(GetBlockParams, _echo),
    "listunspent": Method(ListUnspentParams, _echo),
    "waitfortxstatus": Method(WaitForTxStatusParams, _echo),
    "boom": Method(None, _boom),
}


def handle(body: bytes | str, *, refusing: bool = False, max_batch: int = 100) -> Any:
    dispatcher = Dispatcher(max_batch=max_batch, refusing=lambda: refusing)
    answer = anyio.run(dispatcher.handle, body, METHODS)
    return None if answer is None else json.loads(answer)


def call(method: str, params: object = None, rid: object = 1) -> dict[str, Any]:
    request: dict[str, object] = {"jsonrpc": "2.0", "method": method, "id": rid}
    if params is not None:
        request["params"] = params
    answer = handle(json.dumps(request))
    assert isinstance(answer, dict)
    return answer


def assert_response(answer: dict[str, Any]) -> None:
    assert answer["jsonrpc"] == "2.0"
    assert ("result" in answer) != ("error" in answer)
    assert "id" in answer
    assert set(answer) <= {"jsonrpc", "result", "error", "id"}
    if "error" in answer:
        assert isinstance(answer["error"]["code"], int) and isinstance(answer["error"]["message"], str)


@pytest.mark.parametrize("rid", [1, 0, -5, "abc", "", None])
def test_the_id_is_echoed_and_result_excludes_error(rid: object) -> None:
    answer = call("getblockcount", rid=rid)
    assert answer == {"jsonrpc": "2.0", "result": 7, "id": rid}


def test_positional_and_named_params_bind_the_same() -> None:
    assert call("getblockhash", [3])["result"] == "hash3"
    assert call("getblockhash", {"height": 3})["result"] == "hash3"


def test_a_notification_gets_no_answer_even_when_it_fails() -> None:
    assert handle(json.dumps({"jsonrpc": "2.0", "method": "getblockcount"})) is None
    assert handle(json.dumps({"jsonrpc": "2.0", "method": "getblockhash", "params": ["x"]})) is None
    assert handle(json.dumps({"jsonrpc": "2.0", "method": "nope"})) is None


def test_a_batch_answers_in_order_and_skips_notifications() -> None:
    batch = [
        {"jsonrpc": "2.0", "method": "getblockhash", "params": [1], "id": "a"},
        {"jsonrpc": "2.0", "method": "getblockcount"},
        {"jsonrpc": "2.0", "method": "getblockhash", "params": [99], "id": "b"},
        {"jsonrpc": "2.0", "method": "nope", "id": "c"},
        5,
    ]
    answer = handle(json.dumps(batch))
    assert [a["id"] for a in answer] == ["a", "b", "c", None]
    assert answer[0]["result"] == "hash1"
    assert answer[1]["error"]["code"] == RpcErrorCode.INVALID_ADDRESS_OR_KEY
    assert answer[2]["error"]["code"] == RpcErrorCode.METHOD_NOT_FOUND
    assert answer[3]["error"]["code"] == RpcErrorCode.INVALID_REQUEST
    for item in answer:
        assert_response(item)


def test_a_batch_of_notifications_gets_nothing() -> None:
    batch = [{"jsonrpc": "2.0", "method": "getblockcount"}] * 3
    assert handle(json.dumps(batch)) is None


def test_an_empty_batch_is_one_invalid_request() -> None:
    answer = handle(b"[]")
    assert answer == {"jsonrpc": "2.0", "error": {"code": -32600, "message": "invalid request: empty batch"}, "id": None}


def test_a_batch_over_the_limit_is_refused_whole_and_the_limit_itself_passes() -> None:
    one = {"jsonrpc": "2.0", "method": "getblockcount", "id": 1}
    over = handle(json.dumps([one] * 101))
    assert isinstance(over, dict) and over["error"]["code"] == RpcErrorCode.INVALID_REQUEST
    assert "at most 100" in over["error"]["message"]
    assert len(handle(json.dumps([one] * 100))) == 100


@pytest.mark.parametrize(
    "body",
    [b"{", b"not json", b'{"jsonrpc": "2.0", "method": "getblockcount", "id": NaN}', b"\xff\xfe\x00", b"[" * 100_000, b""],
    ids=["truncated", "garbage", "nan", "bad-utf8", "deep-nesting", "empty"],
)
def test_bytes_that_are_not_json_are_a_parse_error_with_a_null_id(body: bytes) -> None:
    answer = handle(body)
    assert answer["error"]["code"] == RpcErrorCode.PARSE_ERROR
    assert answer["id"] is None
    assert_response(answer)


@pytest.mark.parametrize(
    ("request_", "rid"),
    [
        ({"jsonrpc": "1.0", "method": "getblockcount", "id": 1}, 1),
        ({"method": "getblockcount", "id": 1}, 1),
        ({"jsonrpc": "2.0", "method": 5, "id": 1}, 1),
        ({"jsonrpc": "2.0", "method": "getblockcount", "params": "x", "id": 1}, 1),
        ({"jsonrpc": "2.0", "method": "getblockcount", "id": 1, "extra": 1}, 1),
        ({"jsonrpc": "2.0", "method": "getblockcount", "id": True}, None),
        ({"jsonrpc": "2.0", "method": "getblockcount", "id": 1.5}, None),
        ({"jsonrpc": "2.0", "method": "getblockcount", "id": [1]}, None),
        ("a string", None),
    ],
)
def test_malformed_requests_are_invalid_requests(request_: object, rid: object) -> None:
    answer = handle(json.dumps(request_))
    assert answer["error"]["code"] == RpcErrorCode.INVALID_REQUEST
    assert answer["id"] == rid
    assert_response(answer)


@pytest.mark.parametrize(
    ("method", "params", "parameter"),
    [
        ("getblockhash", ["3"], "height"),
        ("getblockhash", [True], "height"),
        ("getblockhash", [-1], "height"),
        ("getblockhash", [], "height"),
        ("getblockhash", {"hieght": 3}, "hieght"),
        ("getblock", ["zz"], "block"),
        ("getblock", [1, True], "verbosity"),
        ("listunspent", ["TIME0x", 0], "limit"),
        ("listunspent", ["TIME0x", 10, "nope"], "cursor"),
        ("waitfortxstatus", ["ab" * 32, "final", "5"], "timeout"),
        ("waitfortxstatus", ["ab" * 32, "gone"], "status"),
    ],
)
def test_wrong_params_are_invalid_params_naming_the_parameter(method: str, params: object, parameter: str) -> None:
    answer = call(method, params)
    error = answer["error"]
    assert error["code"] == RpcErrorCode.INVALID_PARAMS
    assert error["message"].startswith(f"{parameter}: ")
    assert error["data"] == {"parameter": parameter}


def test_too_many_positional_params_and_params_to_a_method_without_any() -> None:
    assert call("getblockhash", [1, 2])["error"]["code"] == RpcErrorCode.INVALID_PARAMS
    assert call("getblockcount", [1])["error"]["code"] == RpcErrorCode.INVALID_PARAMS
    assert call("getblockcount", [])["result"] == 7
    assert call("getblockcount", {})["result"] == 7


def test_unknown_and_reserved_methods_are_not_found() -> None:
    assert call("nope")["error"]["code"] == RpcErrorCode.METHOD_NOT_FOUND
    assert call("rpc.discover")["error"]["code"] == RpcErrorCode.METHOD_NOT_FOUND


def test_a_failing_method_is_an_internal_error_that_leaks_nothing() -> None:
    error = call("boom")["error"]
    assert error == {"code": RpcErrorCode.INTERNAL_ERROR, "message": "internal error"}


def test_a_backend_error_keeps_its_code_and_data() -> None:
    async def reject(_params: object) -> object:
        raise BackendError("refused", code=-26, data={"reason": "double-spend"})

    dispatcher = Dispatcher()
    body = json.dumps({"jsonrpc": "2.0", "method": "x", "id": 9})
    answer = json.loads(anyio.run(dispatcher.handle, body, {"x": Method(None, reject)}) or b"")
    assert answer["error"] == {"code": -26, "message": "refused", "data": {"reason": "double-spend"}}


def test_while_refusing_every_request_is_answered_shutting_down() -> None:
    answer = handle(json.dumps({"jsonrpc": "2.0", "method": "getblockcount", "id": 3}), refusing=True)
    assert answer["error"]["code"] == RpcErrorCode.SHUTTING_DOWN and answer["id"] == 3


def test_requests_are_counted_by_method_with_unknown_methods_folded() -> None:
    seen: list[tuple[str, int]] = []
    dispatcher = Dispatcher(observe=lambda method, code: seen.append((method, code)))
    batch = [
        {"jsonrpc": "2.0", "method": "getblockcount", "id": 1},
        {"jsonrpc": "2.0", "method": "made-up-1", "id": 2},
        {"jsonrpc": "2.0", "method": "getblockhash", "params": [50], "id": 3},
    ]
    anyio.run(dispatcher.handle, json.dumps(batch), METHODS)
    assert sorted(seen) == sorted([("getblockcount", 0), ("unknown", -32601), ("getblockhash", -5)])


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_requests = st.fixed_dictionaries(
    {},
    optional={
        "jsonrpc": st.sampled_from(["2.0", "1.0", 2]),
        "method": st.sampled_from([*METHODS, "nope", 5]),
        "params": _json,
        "id": st.none() | st.integers() | st.text(max_size=4) | st.booleans(),
    },
)


@settings(max_examples=150, deadline=None)
@given(st.one_of(_json, _requests, st.lists(_requests | _json, max_size=5)))
def test_any_json_gets_well_formed_answers_only(document: object) -> None:
    answer = handle(json.dumps(document))
    if answer is None:
        return
    for item in answer if isinstance(answer, list) else [answer]:
        assert_response(item)
