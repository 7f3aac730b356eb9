"""How a prepared call reaches an API and comes back as a JSON body.

``HttpTransport`` speaks HTTP (timeouts, retries with exponential backoff and
full jitter on 5xx, throttling (429) and connection failures, for calls that
change nothing): with ``requests`` to the cloud or any named host, and with a
bare ``urllib3`` connection pool to a server on a loopback address, where what
``requests`` adds per call (proxies, netrc and cookies from the environment,
redirects) has nothing to do: 0.4 ms of CPU a call, a third of the client's on a
100-match search (``benchmarks/service.py``).
``LocalTransport`` hands the same call to the in-process engine, with no HTTP.
Both return the raw response body; the client turns it into models or errors.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote, urlencode, urlsplit

import orjson
import requests
import urllib3
from urllib3.exceptions import LocationValueError, NewConnectionError

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


JSON_HEADERS = {"Content-Type": "application/json;charset=UTF-8", "User-Agent": USER_AGENT, "Accept": "*/*"}


def is_loopback_http(base_url: str) -> bool:
    """Plain HTTP to a loopback IP literal (127.0.0.0/8, ::1): a server on this machine, which no
    proxy can reach and no redirect or cookie concerns. Names (``localhost`` included) are not
    taken on trust: what they resolve to is the resolver's business."""
    parts = urlsplit(base_url)
    try:
        return parts.scheme == "http" and ipaddress.ip_address(parts.hostname or "").is_loopback
    except ValueError:
        return False


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
        # A session handed in is the caller's choice of stack (adapters, mocks): it carries every call.
        self._round_trip = self._through_session
        if session is None and is_loopback_http(self.base_url):
            host = urlsplit(self.base_url)
            # Pool size as requests' adapter: the scorer and the dashboard send from several threads.
            self._pool = urllib3.HTTPConnectionPool(host.hostname, host.port or 80, maxsize=10, block=False)
            self._round_trip = self._through_pool

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
        query = urlencode({k: v for k, v in call.query.items() if v is not None})
        body = json.dumps(call.body, allow_nan=False).encode() if call.body is not None else None
        try:
            status, content = self._round_trip(call.endpoint.method, url + ("?" + query if query else ""), body)
        except TimeoutError:
            raise RequestTimeout(f"no answer within {self.timeout[1]:g} s", info) from None
        except ConnectionError as exc:
            raise ConnectionFailed(f"could not reach {self.base_url} ({exc})", info) from None
        log.debug("%s -> HTTP %s", info, status)
        if status != 200:
            raise BadResponse(f"HTTP {status} from {self.base_url}: not an API answer", info, status=status)
        try:
            with collector_paused():  # a long search answer is tens of thousands of small objects
                answer = orjson.loads(content)  # twice as fast as json on long answers
        except (ValueError, json.JSONDecodeError):
            raise BadResponse("the answer is not JSON", info, status=status) from None
        if not isinstance(answer, dict) or not isinstance(answer.get("header"), dict):
            raise BadResponse("the answer has no result header", info, status=status)
        return answer

    # Both round trips answer (HTTP status, body bytes), or raise the built-in TimeoutError or
    # ConnectionError naming only the exception's type: the library's own text carries the URL,
    # and so the appkey.
    def _through_session(self, method: str, url: str, body: bytes | None) -> tuple[int, bytes]:
        try:
            response = self._session.request(method, url, data=body, headers=JSON_HEADERS, timeout=self.timeout)
            return response.status_code, response.content
        except requests.Timeout:
            raise TimeoutError from None
        except (requests.RequestException, LocationValueError) as exc:
            # urllib3 checks the host only when it connects (a label over 63 characters, say), and
            # requests lets that error through unwrapped: the host cannot be reached either way.
            raise ConnectionError(type(exc).__name__) from None

    def _through_pool(self, method: str, url: str, body: bytes | None) -> tuple[int, bytes]:
        target = urlsplit(url)
        try:
            response = self._pool.urlopen(
                method,
                target.path + ("?" + target.query if target.query else ""),
                body=body,
                headers=JSON_HEADERS,
                timeout=urllib3.Timeout(connect=self.timeout[0], read=self.timeout[1]),
                retries=False,  # the transport's own policy retries, and only calls that change nothing
                redirect=False,
            )
            return response.status, response.data
        except NewConnectionError as exc:  # urllib3 files a refused connection under connect timeouts
            raise ConnectionError(type(exc).__name__) from None
        except urllib3.exceptions.TimeoutError:
            raise TimeoutError from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ConnectionError(type(exc).__name__) from None


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
