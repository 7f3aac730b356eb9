"""The HTTP face of the local engine: every path of the contract, answered as the cloud answers.

Always HTTP 200 with the result header. Unknown paths are 404 and known paths with a method the
contract does not name 405, both with the result header too. Malformed JSON, however deeply
nested, a JSON key given twice in one object and a query parameter given twice are -40000; a
path holding an encoded '/' (``appkeys%2FKEY``) is no path of the contract (404). Bodies over the
contract's largest legal request (``MAX_REQUEST_BODY_BYTES``: compare with two 3,000,000-byte images, every '/' escaped)
are refused before they are read whole; no stack trace ever leaves the process. uvicorn's access
log is off because it would print the appkey that sits in every path: ``facereco.access`` logs
one line per answer (404, 405, an unhandled error and a client hanging up mid-body included) with
the redacted path instead, and never image bytes. What a client may hold of the server (time,
connections, body bytes, threads) is bounded in ``http_limits``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import anyio
import orjson
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from facereco._version import __version__
from facereco.contract import (
    API_PREFIX,
    ENDPOINTS,
    MAX_IMAGE_BYTES,
    MAX_REQUEST_BODY_BYTES,
    MAX_REQUEST_JSON_VALUES,
    Endpoint,
    RequestModel,
    ResultCode,
)
from facereco.contract.codes import response_body
from facereco.contract.requests import wire_fields
from facereco.engine.api import LocalEngine
from facereco.engine.http_limits import (
    BodyBudget,
    BodyStalled,
    BodyTooLarge,
    CallLanes,
    ServerLimits,
    guarded_h11_protocol,
    read_body,
)
from facereco.errors import redact_appkey

access_log = logging.getLogger("facereco.access")


class _MalformedBody(Exception):
    pass


class _RepeatedKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key[:64]


def _single_valued_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are all different: a key given twice is refused, as a query parameter
    given twice is, rather than letting the last value win silently."""
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _RepeatedKey(key)
        found[key] = value
    return found


def _parse_json(raw: bytes) -> Any:
    """The body as JSON; anything that is not (bad UTF-8, bad syntax, nesting deep enough to exhaust
    the parser's recursion, more values than any request holds) is one malformed body, -40000,
    never a traceback."""
    if sum(raw.count(mark) for mark in (b",", b"{", b"[")) > MAX_REQUEST_JSON_VALUES:
        raise _MalformedBody(f"the body holds over {MAX_REQUEST_JSON_VALUES:,} JSON values; a request holds a few")
    try:
        return json.loads(raw, object_pairs_hook=_single_valued_object) if raw else None
    except _RepeatedKey as repeated:
        raise _MalformedBody(f"JSON key {repeated.key!r} is given more than once") from None
    except (ValueError, UnicodeDecodeError):
        raise _MalformedBody("malformed JSON") from None
    except RecursionError:
        raise _MalformedBody("malformed JSON: nested too deeply") from None


def _single_valued_query(request: Request) -> tuple[dict[str, str], str | None]:
    """The query as one value per name, and the first name given twice (None when none is): a
    repeated parameter is refused rather than letting one of its values win silently."""
    query: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name in query:
            return query, name
        query[name] = value
    return query, None


class _FastJSONResponse(JSONResponse):
    """JSON written by orjson: long search answers encode far faster than with the standard library
    (``benchmarks/service.py``; docs/benchmarks.md)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def _answer(body: dict[str, Any], close: bool = False) -> JSONResponse:
    """HTTP 200 with the body; ``close``: the connection is closed after it (a body not read whole)."""
    return _FastJSONResponse(body, status_code=200, headers={"connection": "close"} if close else None)


class _WireRoute(APIRoute):
    """A call of the contract: FastAPI documents it (OpenAPI, from ``openapi_extra``) and routes to it,
    but its handler takes the bare request and does its own reading (body cap, JSON limits, one value
    per query name), so FastAPI's per-request dependency solving, with nothing to solve, is skipped."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        return self.endpoint


@dataclass(frozen=True)
class _Refusal:
    """A body not taken: the answer, and whether the connection closes after it (a body not read whole)."""

    answer: dict[str, Any]
    close: bool = True
    logged_as: str | None = None  # the access line's outcome when it is not the result code


async def _read_json_body(request: Request, guards: _Guards, room: bool) -> Any:
    """The parsed body, or the _Refusal to answer instead."""
    if not room:
        message = "the server is receiving too many images at once; send this one again later"
        return _Refusal(response_body(ResultCode.InternalServerError, message=message))
    try:
        raw = await read_body(request, guards.limits.body_timeout_s, total_s=guards.limits.body_total_s)
    except BodyTooLarge:
        return _Refusal(_too_large())
    except BodyStalled:
        message = (
            f"the body stopped arriving for {guards.limits.body_timeout_s:g} s, "
            f"or did not arrive whole within {guards.limits.body_total_s:g} s"
        )
        return _Refusal(response_body(ResultCode.InvalidParam, message=message))
    except ClientDisconnect:  # the client hung up mid-body: one line, no traceback
        body = response_body(ResultCode.InvalidParam, message="the body never arrived whole")
        return _Refusal(body, logged_as="client disconnected mid-body")
    try:
        # Off the event loop: counting and parsing a 16 MB body takes tens of milliseconds.
        return await run_in_threadpool(_parse_json, raw)
    except _MalformedBody as problem:
        return _Refusal(response_body(ResultCode.InvalidParam, message=str(problem)), close=False)


def _route(app: FastAPI, engine: LocalEngine, endpoint: Endpoint, guards: _Guards) -> None:
    path = API_PREFIX + endpoint.path

    async def handler(request: Request) -> JSONResponse:
        started = time.perf_counter()
        params = dict(request.path_params)
        appkey = params.pop("appKey", "")
        if _ENCODED_SLASH in request.scope.get("raw_path", b"").lower():
            # '/' inside a segment would route as a separator: the path is no path of the contract.
            _log_access(request, "HTTP 404 (encoded '/')", started, appkey)
            return _not_a_call(request, 404, "an encoded '/' in the path")
        refusal = engine.appkey_refusal(appkey)
        if refusal is not None:  # before any body room is taken: an unknown appkey holds nothing
            return _logged(request, started, refusal, appkey, close=endpoint.method == "POST")
        reservation = guards.bodies.reservation(request)
        async with guards.bodies.hold(reservation, guards.limits.body_queue_s, appkey) as room:
            body: Any = None
            if endpoint.method == "POST":
                body = await _read_json_body(request, guards, room)
                if isinstance(body, _Refusal):
                    _log_access(request, body.logged_as or body.answer["header"]["resultCode"], started, appkey)
                    return _answer(body.answer, body.close)
            query, repeated = _single_valued_query(request)
            if repeated:
                message = f"query parameter {repeated} is given more than once"
                return _logged(request, started, response_body(ResultCode.InvalidParam, message=message), appkey)
            async with guards.lanes.lane(appkey, body) as limiter:
                answer = await anyio.to_thread.run_sync(
                    engine.handle, appkey, endpoint.name, params, query, body, limiter=limiter
                )
            return _logged(request, started, answer, appkey)

    app.router.add_api_route(
        path,
        handler,
        methods=[endpoint.method],
        name=endpoint.name,
        summary=endpoint.name.replace("_", " "),
        openapi_extra=request_openapi(endpoint.request),
        response_class=JSONResponse,
        route_class_override=_WireRoute,
    )


def _json_schema(model: type[RequestModel]) -> dict[str, Any]:
    return model.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")


def request_openapi(model: type[RequestModel]) -> dict[str, Any]:
    """An operation's parameters and request body, generated from the call's request model.

    Path and query fields become parameters (by their wire names), the rest the JSON body;
    nested models (the image object) are referenced from ``components`` (see ``create_app``).
    """
    schema = _json_schema(model)
    properties, required = schema["properties"], set(schema.get("required", ()))
    parameters, body, body_required = [], {}, []
    for field in wire_fields(model).values():
        if field.wire.place == "body":
            body[field.alias] = properties[field.alias]
            body_required += [field.alias] if field.alias in required else []
            continue
        parameters.append(
            {
                "name": field.key,
                "in": field.wire.place,
                "required": field.wire.place == "path" or field.alias in required,
                "schema": properties[field.alias],
            }
        )
    operation: dict[str, Any] = {"parameters": parameters}
    if body:
        body_schema = {"type": "object", "title": model.__name__, "properties": body, "required": body_required}
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body_schema}}}
    return operation


def _too_large() -> dict[str, Any]:
    return response_body(
        ResultCode.ImageTooLargeException,
        message=f"request body over {MAX_REQUEST_BODY_BYTES:,} bytes; images are {MAX_IMAGE_BYTES:,} bytes at most",
    )


def _log_access(
    request: Request, outcome: object, started: float | None = None, appkey: str = "", known: Iterable[str] = ()
) -> None:
    """One ``facereco.access`` line per answer, whatever it was. The raw path (still percent-encoded),
    not ``request.url``, which rebuilds the whole URL; the routed appkey (or, on a path that did not
    route, every accepted appkey) is taken out of it wherever it sits, and so is whatever follows
    ``appkeys`` in any spelling (``APPKEYS``, ``appkeys//``, ``appkeys/../``, ``appkeys%2F``)."""
    # Decoded as the router decodes it, so no percent-encoded spelling ("appkey%73/%4B1…") slips by.
    path = redact_appkey(unquote(request.scope.get("raw_path", b"").decode("latin-1"), errors="replace"), appkey)
    for key in known:  # a path that did not route: any accepted appkey, wherever it sits
        path = redact_appkey(path, key)
    took = "" if started is None else f" in {(time.perf_counter() - started) * 1000:.0f} ms"
    access_log.info("%s %s -> %s%s", request.method, path, outcome, took)


def _logged(
    request: Request, started: float, body: dict[str, Any], appkey: str = "", close: bool = False
) -> JSONResponse:
    _log_access(request, body["header"]["resultCode"], started, appkey)
    return _answer(body, close)


def _not_a_call(request: Request, status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    # A wrong path (404) or method (405, with its Allow header) is no call of the contract, so the
    # HTTP status says so; the body still carries the contract's header, as every answer does.
    message = f"no call of the contract is {request.method} on this path ({detail})"
    return JSONResponse(response_body(ResultCode.InvalidParam, message=message), status_code=status, headers=headers)


_ENCODED_SLASH = b"%2f"


@dataclass
class _Guards:
    """The server's bounds on what clients hold (``http_limits``), shared by every route."""

    limits: ServerLimits
    bodies: BodyBudget
    lanes: CallLanes


def create_app(engine: LocalEngine, limits: ServerLimits | None = None) -> FastAPI:
    """The FastAPI app for an engine; routes and their OpenAPI schemas come from the contract's endpoint table."""
    app = FastAPI(
        title="facereco local engine — NHN Cloud Face Recognition API v1.0",
        version=__version__,
        docs_url="/docs",
        redoc_url=None,
        redirect_slashes=False,  # ".../groups/" is no path of the contract: 404, not a redirect
    )
    limits = limits or ServerLimits()
    per_appkey = int(limits.body_bytes_in_flight * limits.body_share_per_appkey)
    guards = _Guards(limits, BodyBudget(limits.body_bytes_in_flight, per_appkey), CallLanes(limits))
    for endpoint in ENDPOINTS.values():
        _route(app, engine, endpoint, guards)

    @app.exception_handler(StarletteHTTPException)
    async def not_a_call(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        _log_access(request, f"HTTP {exc.status_code}", known=engine.appkeys or ())
        return _not_a_call(request, exc.status_code, str(exc.detail), dict(exc.headers) if exc.headers else None)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        # Starlette re-raises after answering, and uvicorn prints the traceback: not printed here too.
        _log_access(request, f"{ResultCode.InternalServerError.value} ({type(exc).__name__})")
        return _answer(response_body(ResultCode.InternalServerError))

    @app.get("/healthz", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for endpoint in ENDPOINTS.values():
                components.update(_json_schema(endpoint.request).get("$defs", {}))
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def serve(
    engine: LocalEngine,
    host: str = "127.0.0.1",
    port: int = 10080,
    log_level: str = "info",
    limits: ServerLimits | None = None,
) -> None:
    """Run the server in the foreground (``python -m facereco serve``), every bound of ``limits`` on."""
    import uvicorn

    limits = limits or ServerLimits()
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(
        create_app(engine, limits),
        host=host,
        port=port,
        access_log=False,
        log_level=log_level,
        http=guarded_h11_protocol(limits.header_timeout_s),
        limit_concurrency=limits.max_connections,
        timeout_keep_alive=limits.keep_alive_s,
        h11_max_incomplete_event_size=limits.max_head_bytes,
        timeout_graceful_shutdown=limits.graceful_shutdown_s,
    )
