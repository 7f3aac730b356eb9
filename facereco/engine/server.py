"""The HTTP face of the local engine: every path of the contract, answered as the cloud answers.

Always HTTP 200 with the result header. Unknown paths are 404 and known paths with a method the
contract does not name 405, both with the result header too. Malformed JSON, however deeply
nested, and a query parameter given twice are -40000. Bodies over the contract's largest legal
request (``MAX_REQUEST_BODY_BYTES``: compare with two 3,000,000-byte images, every '/' escaped)
are refused before they are read whole; no stack trace ever leaves the process. uvicorn's access
log is off because it would print the appkey that sits in every path: ``facereco.access`` logs
one line per answer (404, 405, an unhandled error and a client hanging up mid-body included) with
the redacted path instead, and never image bytes.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

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
from facereco.errors import redact_appkey

access_log = logging.getLogger("facereco.access")


class _BodyTooLarge(Exception):
    pass


async def _read_body_capped(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_REQUEST_BODY_BYTES:
        raise _BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_REQUEST_BODY_BYTES:
            raise _BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


class _MalformedBody(Exception):
    pass


def _parse_json(raw: bytes) -> Any:
    """The body as JSON; anything that is not (bad UTF-8, bad syntax, nesting deep enough to exhaust
    the parser's recursion, more values than any request holds) is one malformed body, -40000,
    never a traceback."""
    if sum(raw.count(mark) for mark in (b",", b"{", b"[")) > MAX_REQUEST_JSON_VALUES:
        raise _MalformedBody(f"the body holds over {MAX_REQUEST_JSON_VALUES:,} JSON values; a request holds a few")
    try:
        return json.loads(raw) if raw else None
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


def _answer(body: dict[str, Any]) -> JSONResponse:
    return _FastJSONResponse(body, status_code=200)


class _WireRoute(APIRoute):
    """A call of the contract: FastAPI documents it (OpenAPI, from ``openapi_extra``) and routes to it,
    but its handler takes the bare request and does its own reading (body cap, JSON limits, one value
    per query name), so FastAPI's per-request dependency solving, with nothing to solve, is skipped."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        return self.endpoint


def _route(app: FastAPI, engine: LocalEngine, endpoint: Endpoint) -> None:
    path = API_PREFIX + endpoint.path

    async def handler(request: Request) -> JSONResponse:
        started = time.perf_counter()
        params = dict(request.path_params)
        appkey = params.pop("appKey", "")
        body: Any = None
        if endpoint.method == "POST":
            try:
                raw = await _read_body_capped(request)
            except _BodyTooLarge:
                return _logged(request, endpoint, started, _too_large())
            except ClientDisconnect:  # the client hung up mid-body: one line, no traceback
                _log_access(request, "client disconnected mid-body", started)
                return _answer(response_body(ResultCode.InvalidParam, message="the body never arrived whole"))
            try:
                # Off the event loop: counting and parsing a 16 MB body takes tens of milliseconds.
                body = await run_in_threadpool(_parse_json, raw)
            except _MalformedBody as problem:
                return _logged(request, endpoint, started, response_body(ResultCode.InvalidParam, message=str(problem)))
        query, repeated = _single_valued_query(request)
        if repeated:
            message = f"query parameter {repeated} is given more than once"
            return _logged(request, endpoint, started, response_body(ResultCode.InvalidParam, message=message))
        answer = await run_in_threadpool(engine.handle, appkey, endpoint.name, params, query, body)
        return _logged(request, endpoint, started, answer)

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


def _log_access(request: Request, outcome: object, started: float | None = None) -> None:
    """One ``facereco.access`` line per answer, whatever it was. The raw path (still percent-encoded,
    so an appkey holding '/' is one segment), not ``request.url``, which rebuilds the whole URL."""
    path = redact_appkey(request.scope.get("raw_path", b"").decode("latin-1"))
    took = "" if started is None else f" in {(time.perf_counter() - started) * 1000:.0f} ms"
    access_log.info("%s %s -> %s%s", request.method, path, outcome, took)


def _logged(request: Request, endpoint: Endpoint, started: float, body: dict[str, Any]) -> JSONResponse:
    _log_access(request, body["header"]["resultCode"], started)
    return _answer(body)


def create_app(engine: LocalEngine) -> FastAPI:
    """The FastAPI app for an engine; routes and their OpenAPI schemas come from the contract's endpoint table."""
    app = FastAPI(
        title="facereco local engine — NHN Cloud Face Recognition API v1.0",
        version=__version__,
        docs_url="/docs",
        redoc_url=None,
        redirect_slashes=False,  # ".../groups/" is no path of the contract: 404, not a redirect
    )
    for endpoint in ENDPOINTS.values():
        _route(app, engine, endpoint)

    @app.exception_handler(StarletteHTTPException)
    async def not_a_call(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # A wrong path (404) or method (405, with its Allow header) is no call of the contract, so the
        # HTTP status says so; the body still carries the contract's header, as every answer does.
        message = f"no call of the contract is {request.method} on this path ({exc.detail})"
        body = response_body(ResultCode.InvalidParam, message=message)
        _log_access(request, f"HTTP {exc.status_code}")
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

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


def serve(engine: LocalEngine, host: str = "127.0.0.1", port: int = 10080, log_level: str = "info") -> None:
    """Run the server in the foreground (``python -m facereco serve``)."""
    import uvicorn

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(create_app(engine), host=host, port=port, access_log=False, log_level=log_level)
