"""How a prepared call reaches an API and comes back as a JSON body.

``HttpTransport`` speaks HTTP (timeouts, retries with exponential backoff and
full jitter on 5xx, throttling (429) and connection failures, for calls that
change nothing): with ``requests`` to the cloud or any named host, and with a
bare ``urllib3`` connection pool to a server at a loopback IP literal in its
canonical form (``127.x.y.z``, ``[::1]``; other spellings such as ``127.1`` or
``127.0.0.1.`` go through ``requests`` and so through any proxy the environment
names), where what ``requests`` adds per call (proxy, netrc and cookie lookups)
has nothing to do (what that saves a call: ``benchmarks/service.py``, in docs/benchmarks.md).
Either stack sends the same request line,
headers and body; base URLs ``requests`` would rewrite or add to (a user, dot
segments) stay with it. Neither follows redirects (the appkey is in the path),
and both read an answer whole within ``connect_timeout + read_timeout`` and
``MAX_ANSWER_BYTES`` (the contract's largest answer), or fail the call.
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

from facereco._version import __version__
from facereco.contract import API_PREFIX, CLOUD_BASE_URL, MAX_ANSWER_BYTES, Endpoint
from facereco.contract.allocation import collector_paused
from facereco.errors import (
    HTTP_TOO_MANY_REQUESTS,
    REDACTED,
    BadResponse,
    CallInfo,
    ConnectionFailed,
    RateLimited,
    RequestTimeout,
    redact_appkey,
)

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
# What requests sends (its session defaults, then the call's headers, in that order), for the bare
# pool: whichever stack carries a call, the server sees the same request line, headers and body.
POOL_HEADERS = {**requests.utils.default_headers(), **JSON_HEADERS}
ANSWER_CHUNK_BYTES = 65_536


def _pool_headers(method: str, body: bytes | None) -> dict[str, str]:
    """POOL_HEADERS, with Content-Length last and where requests sends it (every body, and an
    empty one on any method but GET and HEAD); urllib3 would put its own first."""
    if body is None and method in ("GET", "HEAD"):
        return POOL_HEADERS
    return {**POOL_HEADERS, "Content-Length": str(len(body or b""))}


def is_loopback_http(base_url: str) -> bool:
    """Plain HTTP to a loopback IP literal in its canonical form (``127.0.0.0/8``, ``[::1]``): a
    server on this machine, which no proxy can reach and no redirect or cookie concerns. Names
    (``localhost`` included) and other spellings of the address (``127.1``, ``127.0.0.1.``,
    ``[::ffff:127.0.0.1]``) are not: they go through ``requests``, proxies included."""
    parts = urlsplit(base_url)
    try:
        return parts.scheme == "http" and ipaddress.ip_address(parts.hostname or "").is_loopback
    except ValueError:
        return False


def _pool_address(base_url: str, appkey: str) -> tuple[str, int] | None:
    """Host and port for the bare pool, or None where ``requests`` must carry the calls: a base URL
    that is not loopback HTTP, whose port does not parse (requests then fails the call with
    ConnectionFailed), with a user (requests sends it as Basic auth), a query or fragment, or a path
    requests rewrites (dot segments, percent-encoded dots, an appkey of ``.`` or ``..``)."""
    if not is_loopback_http(base_url):
        return None
    parts = urlsplit(base_url)
    try:
        port = parts.port
    except ValueError:
        return None
    segments = [*parts.path.split("/"), appkey]
    if parts.username is not None or parts.query or parts.fragment:
        return None
    if "%2e" in parts.path.lower() or {".", ".."} & set(segments):
        return None
    return parts.hostname or "", 80 if port is None else port


def _retryable_status(status: int | None) -> bool:
    """5xx, and 429 (throttling: the cloud asks to slow down, which the backoff does)."""
    return status is not None and (status >= 500 or status == HTTP_TOO_MANY_REQUESTS)


class _AnswerTooLarge(Exception):
    pass


class _DeadlinePassed(Exception):  # not an OSError, so no round trip files it as a connection failure
    pass


def _failure_name(exc: BaseException) -> str:
    """The name of what went wrong, the same on both stacks: requests wraps urllib3's error (and a
    refused connection in a MaxRetryError), whose type, not whose text (it holds the URL), is kept."""
    inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc
    reason = getattr(inner, "reason", None)
    return type(reason if isinstance(reason, BaseException) else inner).__name__


def _read_capped(response: urllib3.BaseHTTPResponse, deadline: float) -> bytes:
    """The decoded body, refused when it declares or grows over MAX_ANSWER_BYTES, or when it is not
    whole by ``deadline`` (a per-read timeout alone lets a server dripping bytes hold a call forever).
    ``read1`` returns what one socket read brings, so the deadline is checked as bytes arrive."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > MAX_ANSWER_BYTES:
        raise _AnswerTooLarge
    chunks, size = [], 0
    while chunk := response.read1(ANSWER_CHUNK_BYTES, decode_content=True):
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise _AnswerTooLarge
        if time.monotonic() > deadline:
            raise _DeadlinePassed
        chunks.append(chunk)
    return b"".join(chunks)


def _answer_of(response: urllib3.BaseHTTPResponse, deadline: float) -> tuple[int, bytes]:
    """(status, body) of an answer; the body of a non-200 answer is not read (nothing uses it). The
    connection goes back to the pool when the body was read whole, else it is closed."""
    whole = False
    try:
        content = _read_capped(response, deadline) if response.status == 200 else b""
        whole = response.status == 200
        return response.status, content
    finally:
        if not whole:
            response.close()
        response.release_conn()


class _RedactAppkeys(logging.Filter):
    """urllib3 logs each request's path at DEBUG, appkey included: the appkey becomes ``***``."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/appkeys/" in message:
            record.msg, record.args = redact_appkey(message), ()
        return True


def _redact_urllib3_logs() -> None:
    pool_log = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, _RedactAppkeys) for f in pool_log.filters):
        pool_log.addFilter(_RedactAppkeys())


class HttpTransport:
    """HTTP to the NHN cloud or to ``python -m facereco serve``.

    Redirects are not followed on either stack (the appkey sits in the path: a 3xx is a BadResponse),
    and an answer is read whole within ``connect_timeout + read_timeout`` and MAX_ANSWER_BYTES."""

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
        _redact_urllib3_logs()
        self._appkey = appkey
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self.retry = retry or RetryPolicy()
        self._session = session or requests.Session()
        self._session.headers["User-Agent"] = USER_AGENT
        self._sleep = sleep
        # A session handed in is the caller's choice of stack (adapters, mocks): it carries every call.
        self._round_trip = self._through_session
        address = _pool_address(self.base_url, appkey) if session is None else None
        if address is not None:
            try:
                # Pool size as requests' adapter: the scorer and the dashboard send from several threads.
                self._pool = urllib3.HTTPConnectionPool(*address, maxsize=10, block=False)
                self._round_trip = self._through_pool
            except LocationValueError:  # a host urllib3 will not take ([::1%lo]): requests fails the call
                pass

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
        # Raised after the except blocks, so no library exception (its text holds the URL, and so
        # the appkey) rides along as the __context__ of what the caller sees.
        failure: Exception | None = None
        try:
            status, content = self._round_trip(call.endpoint.method, url + ("?" + query if query else ""), body)
        except TimeoutError:
            failure = RequestTimeout(f"no answer within {self.timeout[1]:g} s", info)
        except _DeadlinePassed:
            failure = RequestTimeout(f"no whole answer within {sum(self.timeout):g} s", info)
        except _AnswerTooLarge:
            failure = BadResponse(f"the answer is over {MAX_ANSWER_BYTES:,} bytes, more than any API answer", info)
        except ConnectionError as exc:
            failure = ConnectionFailed(f"could not reach {self.base_url} ({exc})", info)
        if failure is not None:
            raise failure
        log.debug("%s -> HTTP %s", info, status)
        if status == HTTP_TOO_MANY_REQUESTS:
            raise RateLimited(f"HTTP {status} from {self.base_url}: the server asks to slow down", info)
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

    def _deadline(self) -> float:
        return time.monotonic() + sum(self.timeout)

    # Both round trips answer (HTTP status, body bytes), or raise _AnswerTooLarge, _DeadlinePassed,
    # or the built-in TimeoutError or ConnectionError naming only the library exception's type (its
    # text holds the URL, and so the appkey), raised after the except blocks so it is not chained.
    def _through_session(self, method: str, url: str, body: bytes | None) -> tuple[int, bytes]:
        deadline = self._deadline()
        failure: Exception
        try:
            response = self._session.request(
                method, url, data=body, headers=JSON_HEADERS, timeout=self.timeout, stream=True, allow_redirects=False
            )
            return _answer_of(response.raw, deadline)
        except (requests.Timeout, urllib3.exceptions.TimeoutError, TimeoutError):
            failure = TimeoutError()
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            # urllib3 checks the host only when it connects (a label over 63 characters, say), and
            # requests lets that error (a LocationValueError) through unwrapped: the host cannot be
            # reached either way. Reading the streamed body raises urllib3's own errors.
            failure = ConnectionError(_failure_name(exc))
        raise failure

    def _through_pool(self, method: str, url: str, body: bytes | None) -> tuple[int, bytes]:
        target = urlsplit(url)
        deadline = self._deadline()
        failure: Exception
        try:
            response = self._pool.urlopen(
                method,
                target.path + ("?" + target.query if target.query else ""),
                body=body,
                headers=_pool_headers(method, body),
                timeout=urllib3.Timeout(connect=self.timeout[0], read=self.timeout[1]),
                retries=False,  # the transport's own policy retries, and only calls that change nothing
                redirect=False,
                preload_content=False,  # read by _answer_of: capped, and within the deadline
            )
            return _answer_of(response, deadline)
        except NewConnectionError as exc:  # urllib3 files a refused connection under connect timeouts
            failure = ConnectionError(_failure_name(exc))
        except (urllib3.exceptions.TimeoutError, TimeoutError):
            failure = TimeoutError()
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            failure = ConnectionError(_failure_name(exc))
        raise failure


class WireHandler(Protocol):
    """What ``LocalTransport`` calls: ``LocalEngine.handle``, a request in wire form to a whole response body.

    A protocol, so that the transport names no engine module (the engine is imported only by
    ``FaceRecoClient.local()``, when it is asked for)."""

    def handle(
        self, appkey: str, call: str, path_params: dict[str, str], query: dict[str, str], body: Any
    ) -> dict[str, Any]: ...


class LocalTransport:
    """Calls the in-process local engine: the same contract, no HTTP, no appkey needed."""

    LOCAL_APPKEY = "local"

    def __init__(self, engine: WireHandler) -> None:
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
