"""JSON-RPC 2.0, strictly: a request body in, a response body (or nothing) out.

No I/O here: :class:`Dispatcher` turns the bytes of one HTTP body or WebSocket message
into the bytes of the answer, calling the method handlers it is given. The rules
(https://www.jsonrpc.org/specification) it enforces:

* a response has ``result`` or ``error``, never both, and echoes the request's ``id``
  (``null`` when the id could not be read);
* a request without ``id`` is a notification: it runs, and nothing is answered (not even
  an error); a batch of notifications is answered by nothing at all;
* a batch holds 1..``max_batch`` requests (an empty or longer one is one Invalid Request
  error), answered in request order; its requests run concurrently;
* ``jsonrpc`` must be exactly ``"2.0"``, ``method`` a string, ``params`` an array or an
  object, ``id`` a string, an integer or null; any other member is an Invalid Request;
* a parameter problem is ``-32602`` whose message and ``data.parameter`` name it;
* JSON that is not strict JSON (``NaN``, invalid UTF-8, nesting past the parser's limit)
  is a Parse error.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio
from pydantic import BaseModel, ValidationError

from timecoin_core.errors import TimecoinError

from .errors import BackendError, RpcErrorCode

__all__ = ["Dispatcher", "Method", "error_body"]

_log = logging.getLogger(__name__)

_MEMBERS = frozenset({"jsonrpc", "method", "params", "id"})

Handler = Callable[[Any], Awaitable[object]]


@dataclass(frozen=True)
class Method:
    """One JSON-RPC method: its parameter model (``None``: it takes none) and its handler.

    The handler receives the validated model (or ``None``) and returns a result model, a
    list of them, or a JSON scalar.
    """

    params: type[BaseModel] | None
    handler: Handler


class _RequestError(TimecoinError):
    """An error answer for one request (internal: becomes a JSON-RPC error object)."""

    def __init__(self, code: int, message: str, data: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


def _reject_constant(name: str) -> object:
    # json accepts NaN and Infinity by default; strict JSON does not.
    raise _RequestError(RpcErrorCode.PARSE_ERROR, f"parse error: {name} is not JSON")


def _dumps(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def _error(rid: object, code: int, message: str, data: dict[str, object] | None = None) -> dict[str, object]:
    error: dict[str, object] = {"code": int(code), "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "error": error, "id": rid}


def error_body(code: int, message: str, data: dict[str, object] | None = None) -> bytes:
    """A complete JSON-RPC error response with id ``null`` (for HTTP-level refusals)."""
    return _dumps(_error(None, code, message, data))


def _jsonable(result: object) -> object:
    if isinstance(result, BaseModel):
        return result.model_dump(mode="json")
    if isinstance(result, list):
        return [_jsonable(item) for item in result]
    return result


def _bind(name: str, model: type[BaseModel] | None, params: object) -> BaseModel | None:
    if model is None:
        if params is None or params == [] or params == {}:
            return None
        raise _RequestError(RpcErrorCode.INVALID_PARAMS, f"{name} takes no parameters")
    fields = list(model.model_fields)
    if params is None:
        data: dict[str, object] = {}
    elif isinstance(params, list):
        if len(params) > len(fields):
            raise _RequestError(
                RpcErrorCode.INVALID_PARAMS,
                f"{name} takes at most {len(fields)} parameters ({', '.join(fields)}), got {len(params)}",
            )
        data = dict(zip(fields, params, strict=False))
    else:
        assert isinstance(params, dict)
        unknown = sorted(set(params) - set(fields))
        if unknown:
            raise _RequestError(
                RpcErrorCode.INVALID_PARAMS,
                f"{unknown[0]}: unknown parameter of {name} (it takes {', '.join(fields) or 'none'})",
                {"parameter": unknown[0]},
            )
        data = params
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        loc = first.get("loc", ())
        parameter = str(loc[0]) if loc else str(first.get("type"))
        if first.get("type") == "missing":
            message = f"{parameter}: missing parameter of {name}"
        else:
            # A union (height or hash) fails once per branch: say every branch's reason.
            same = [e["msg"] for e in errors if (str(e["loc"][0]) if e.get("loc") else str(e.get("type"))) == parameter]
            message = f"{parameter}: {'; or '.join(dict.fromkeys(same))}"
        raise _RequestError(RpcErrorCode.INVALID_PARAMS, message, {"parameter": parameter}) from None


class Dispatcher:
    """Answers JSON-RPC 2.0 bodies by calling the methods of a table.

    ``refusing()`` true means the server is shutting down: every new request is
    answered ``-28``. ``observe(method, code)`` is called once per request answered or
    run (``code`` 0 for success); ``method`` is the method name if the table has it,
    else ``"unknown"``, so a client cannot grow the label set.
    """

    def __init__(
        self,
        *,
        max_batch: int = 100,
        refusing: Callable[[], bool] = lambda: False,
        observe: Callable[[str, int], None] | None = None,
    ) -> None:
        self.max_batch = max_batch
        self._refusing = refusing
        self._observe = observe

    async def handle(self, body: bytes | str, methods: Mapping[str, Method]) -> bytes | None:
        """The response body for ``body``, or ``None`` when nothing is to be answered."""
        try:
            document = json.loads(body, parse_constant=_reject_constant)
        except _RequestError as exc:
            return _dumps(_error(None, exc.code, exc.message))
        except (ValueError, RecursionError) as exc:
            # ValueError covers JSONDecodeError and invalid UTF-8; RecursionError deep nesting.
            detail = exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
            self._count("unknown", RpcErrorCode.PARSE_ERROR)
            return _dumps(_error(None, RpcErrorCode.PARSE_ERROR, f"parse error: {detail}"))
        if isinstance(document, list):
            if not document:
                self._count("unknown", RpcErrorCode.INVALID_REQUEST)
                return _dumps(_error(None, RpcErrorCode.INVALID_REQUEST, "invalid request: empty batch"))
            if len(document) > self.max_batch:
                self._count("unknown", RpcErrorCode.INVALID_REQUEST)
                return _dumps(
                    _error(
                        None,
                        RpcErrorCode.INVALID_REQUEST,
                        f"invalid request: a batch holds at most {self.max_batch} requests, got {len(document)}",
                    )
                )
            answers: list[dict[str, object] | None] = [None] * len(document)

            async def run(index: int, request: object) -> None:
                answers[index] = await self._one(request, methods)

            async with anyio.create_task_group() as group:
                for index, request in enumerate(document):
                    group.start_soon(run, index, request)
            kept = [a for a in answers if a is not None]
            return _dumps(kept) if kept else None
        answer = await self._one(document, methods)
        return None if answer is None else _dumps(answer)

    def _count(self, method: str, code: int) -> None:
        if self._observe is not None:
            self._observe(method, int(code))

    async def _one(self, request: object, methods: Mapping[str, Method]) -> dict[str, object] | None:
        if not isinstance(request, dict):
            self._count("unknown", RpcErrorCode.INVALID_REQUEST)
            return _error(None, RpcErrorCode.INVALID_REQUEST, "invalid request: a request is a JSON object")
        rid = request.get("id")
        notification = "id" not in request
        if not (rid is None or isinstance(rid, str) or (isinstance(rid, int) and not isinstance(rid, bool))):
            self._count("unknown", RpcErrorCode.INVALID_REQUEST)
            return _error(None, RpcErrorCode.INVALID_REQUEST, "invalid request: id must be a string, an integer or null")
        method = request.get("method")
        label = method if isinstance(method, str) and method in methods else "unknown"
        try:
            unknown = sorted(set(request) - _MEMBERS)
            if unknown:
                raise _RequestError(RpcErrorCode.INVALID_REQUEST, f"invalid request: unknown member {unknown[0]!r}")
            if request.get("jsonrpc") != "2.0":
                raise _RequestError(RpcErrorCode.INVALID_REQUEST, 'invalid request: "jsonrpc" must be "2.0"')
            if not isinstance(method, str):
                raise _RequestError(RpcErrorCode.INVALID_REQUEST, 'invalid request: "method" must be a string')
            params = request.get("params")
            if "params" in request and not isinstance(params, list | dict):
                raise _RequestError(RpcErrorCode.INVALID_REQUEST, 'invalid request: "params" must be an array or an object')
        except _RequestError as exc:
            # A malformed request is answered even without an id (the spec's examples do).
            self._count(label, exc.code)
            return _error(rid, exc.code, exc.message)
        try:
            spec = methods.get(method)
            if spec is None or method.startswith("rpc."):
                raise _RequestError(RpcErrorCode.METHOD_NOT_FOUND, f"method not found: {method[:64]!r}")
            if self._refusing():
                raise _RequestError(RpcErrorCode.SHUTTING_DOWN, "the server is shutting down")
            bound = _bind(method, spec.params, params)
            result = _jsonable(await spec.handler(bound))
        except _RequestError as exc:
            self._count(label, exc.code)
            return None if notification else _error(rid, exc.code, exc.message, exc.data)
        except BackendError as exc:
            self._count(label, exc.code)
            return None if notification else _error(rid, exc.code, exc.message, exc.data)
        except Exception:
            _log.exception("RPC method %s failed", method)
            self._count(label, RpcErrorCode.INTERNAL_ERROR)
            return None if notification else _error(rid, RpcErrorCode.INTERNAL_ERROR, "internal error")
        self._count(label, 0)
        return None if notification else {"jsonrpc": "2.0", "result": result, "id": rid}
