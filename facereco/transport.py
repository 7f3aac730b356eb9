"""How a prepared call reaches an API and comes back as a JSON body.

``HttpTransport`` speaks HTTP with ``requests`` (timeouts, retries with
exponential backoff and full jitter on 5xx, throttling (429) and connection
failures, for calls that change nothing).
``LocalTransport`` hands the same call to the in-process engine, with no HTTP.
Both return the raw response body; the client turns it into models or errors.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

import orjson
import requests
from urllib3.exceptions import LocationValueError

from facereco import __version__
from facereco.allocation import collector_paused
from facereco.contract import API_PREFIX, CLOUD_BASE_URL, Endpoint
from facereco.errors import REDACTED, BadResponse, CallInfo, ConnectionFailed, RequestTimeout

log = logging.getLogger("facereco.transport")

USER_AGENT = f"facereco/{__version__} python-requests/{requests.__version__}"


@dataclass(frozen=True)
class PreparedCall:
    """One call ready to go: which endpoint, its path parameters, query and JSON body."""

    endpoint: Endpoint
    path_params: dict[str, str] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    body: dict[str, Any] | None = None

    @property
    def path(self) -> str:
        return self.endpoint.render_path(**{k: quote(v, safe="") for k, v in self.path_params.items()})

    def info(self) -> CallInfo:
        """Method and full path with the appkey redacted: safe for messages and logs."""
        return CallInfo(self.endpoint.method, API_PREFIX.format(appKey=REDACTED) + self.path)


class Transport(Protocol):
    """Carries a prepared call; returns the JSON body of the answer."""

    def send(self, call: PreparedCall) -> dict[str, Any]: ...

    @property
    def description(self) -> str: ...


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter: sleep U(0, min(cap, base * 2**attempt))."""

    max_retries: int = 3
    backoff_base: float = 0.5
    backoff_cap: float = 8.0

    def delay(self, attempt: int) -> float:
        return random.uniform(0.0, min(self.backoff_cap, self.backoff_base * (2**attempt)))


def _retryable_status(status: int | None) -> bool:
    """5xx, and 429 (throttling: the cloud asks to slow down, which the backoff does)."""
    return status is not None and (status >= 500 or status == 429)


class HttpTransport:
    """HTTP to the NHN cloud or to ``python -m facereco serve``."""

    def __init__(
        self,
        appkey: str,
        base_url: str = CLOUD_BASE_URL,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not appkey:
            raise ValueError("an appkey is required for the HTTP transport")
        self._appkey = appkey
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self.retry = retry or RetryPolicy()
        self._session = session or requests.Session()
        self._session.headers["User-Agent"] = USER_AGENT
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"HttpTransport(base_url={self.base_url!r}, appkey={REDACTED!r})"

    @property
    def description(self) -> str:
        return f"HTTP {self.base_url}"

    def send(self, call: PreparedCall) -> dict[str, Any]:
        url = self.base_url + API_PREFIX.format(appKey=quote(self._appkey, safe="")) + call.path
        attempts = 1 + (self.retry.max_retries if call.endpoint.retry_safe else 0)
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                return self._send_once(call, url)
            except (ConnectionFailed, RequestTimeout) as exc:
                if last:
                    raise
                log.info("retrying %s after %s", call.info(), type(exc).__name__)
            except BadResponse as exc:
                if last or not _retryable_status(exc.status):
                    raise
                log.info("retrying %s after HTTP %s", call.info(), exc.status)
            self._sleep(self.retry.delay(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def _send_once(self, call: PreparedCall, url: str) -> dict[str, Any]:
        info = call.info()
        params = {k: v for k, v in call.query.items() if v is not None}
        try:
            response = self._session.request(
                call.endpoint.method,
                url,
                params=params,
                json=call.body,
                headers={"Content-Type": "application/json;charset=UTF-8"},
                timeout=self.timeout,
            )
        except requests.Timeout:
            # `from None`: the requests exception's text carries the URL, and so the appkey.
            raise RequestTimeout(f"no answer within {self.timeout[1]:g} s", info) from None
        except (requests.RequestException, LocationValueError) as exc:
            # urllib3 checks the host only when it connects (a label over 63 characters, say), and
            # requests lets that error through unwrapped: the host cannot be reached either way.
            raise ConnectionFailed(f"could not reach {self.base_url} ({type(exc).__name__})", info) from None
        log.debug("%s -> HTTP %s", info, response.status_code)
        if response.status_code != 200:
            raise BadResponse(
                f"HTTP {response.status_code} from {self.base_url}: not an API answer",
                info,
                status=response.status_code,
            )
        try:
            with collector_paused():  # a long search answer is tens of thousands of small objects
                body = orjson.loads(response.content)  # twice as fast as json on long answers
        except (ValueError, json.JSONDecodeError):
            raise BadResponse("the answer is not JSON", info, status=response.status_code) from None
        if not isinstance(body, dict) or not isinstance(body.get("header"), dict):
            raise BadResponse("the answer has no result header", info, status=response.status_code)
        return body


class LocalTransport:
    """Calls the in-process local engine: the same contract, no HTTP, no appkey needed."""

    LOCAL_APPKEY = "local"

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def __repr__(self) -> str:
        return f"LocalTransport({self.engine!r})"

    @property
    def description(self) -> str:
        return "local engine (in-process)"

    def send(self, call: PreparedCall) -> dict[str, Any]:
        # A JSON round trip, so the engine sees exactly what it would see over HTTP.
        body = json.loads(json.dumps(call.body)) if call.body is not None else None
        query = {k: str(v) for k, v in call.query.items() if v is not None}
        return self.engine.handle(self.LOCAL_APPKEY, call.endpoint.name, dict(call.path_params), query, body)
