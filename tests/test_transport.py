"""The HTTP transport over real loopback sockets: which stack carries a call, proxies, timeouts, the wire form.

A server on a loopback address is reached with a bare urllib3 pool (no proxies, netrc or cookies from
the environment); every other host goes through ``requests`` as before, proxies included.
"""

from __future__ import annotations

import contextlib
import gzip
import http.server
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
import urllib3

from facereco import FaceRecoClient
from facereco import errors as E
from facereco.contract import MAX_ANSWER_BYTES
from facereco.engine.api import LocalEngine
from facereco.engine.server import create_app
from facereco.transport import USER_AGENT, HttpTransport, RetryPolicy, is_loopback_http

from .servers import serving_in_thread

APPKEY = "TransportKey-1a2b3c"
SUCCESS = {"header": {"isSuccessful": True, "resultCode": 0, "resultMessage": "Success"}}
LISTING = {**SUCCESS, "data": {"groupCount": 0, "groups": []}}
GUIDE = json.loads((Path(__file__).parent / "fixtures" / "guide_examples.json").read_text())
# One answer that parses as a registration, a group list and an empty result alike.
ANY_CALL = {**SUCCESS, "data": {**GUIDE["register_faces"]["response_example"]["data"], **LISTING["data"]}}


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers every request with ``answer`` and keeps what it was sent: request line, headers in
    order, body bytes. ``statuses`` (taken one per request) answer first; then 200."""

    seen: list[tuple[str, str, list[tuple[str, str]], bytes]] = []
    answer: dict = LISTING
    statuses: list[int] = []
    protocol_version = "HTTP/1.1"

    def _record(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.seen.append((self.command, self.path, list(self.headers.items()), body))
        status = self.statuses.pop(0) if self.statuses else 200
        data = json.dumps(self.answer).encode() if status == 200 else b"<html>not now</html>"
        self.send_response(status)
        if 300 <= status < 400:
            self.send_header("Location", "/elsewhere")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = _record

    def log_message(self, *args: object) -> None:  # quiet
        pass


@contextmanager
def recording_server(answer: dict = LISTING, statuses: tuple[int, ...] = ()) -> Iterator[tuple[str, list]]:
    """A real HTTP server on 127.0.0.1 that records each request; yields its URL and the record."""
    handler = type("Recorder", (_Recorder,), {"seen": [], "answer": answer, "statuses": list(statuses)})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler.seen
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def raw_server(answer: Callable[[socket.socket], None]) -> Iterator[str]:
    """A bare socket server on 127.0.0.1: reads each request's head and body, then lets ``answer``
    write whatever bytes it likes (lying lengths, endless bodies, one byte at a time)."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve(connection: socket.socket) -> None:
        with connection:
            head = b""
            while b"\r\n\r\n" not in head and (data := connection.recv(65536)):
                head += data
            with contextlib.suppress(OSError):  # the client hung up: what these servers are for
                answer(connection)

    def accept_forever() -> None:
        while True:
            try:
                connection = listener.accept()[0]
            except OSError:
                return
            threading.Thread(target=serve, args=(connection,), daemon=True).start()

    threading.Thread(target=accept_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


def _padded_listing(size: int) -> bytes:
    """A group list padded with trailing spaces (legal JSON whitespace) to ``size`` bytes."""
    data = json.dumps(LISTING).encode()
    return data + b" " * (size - len(data))


def _send_body(connection: socket.socket, body: bytes, *extra_headers: str) -> None:
    head = ["HTTP/1.1 200 OK", "Content-Type: application/json", *extra_headers]
    connection.sendall("\r\n".join(head).encode() + b"\r\n\r\n" + body)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def proxies_elsewhere(monkeypatch: pytest.MonkeyPatch) -> str:
    """Proxy variables naming a loopback port nobody listens on, and no NO_PROXY: a call sent to the
    proxy fails to connect, so a call that succeeds did not go through it."""
    proxy = f"http://127.0.0.1:{_closed_port()}"
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, proxy)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    return proxy


@pytest.mark.parametrize(
    ("base_url", "loopback"),
    [
        ("http://127.0.0.1:10080", True),
        ("http://127.3.4.5:8080/", True),
        ("http://[::1]:10080", True),
        ("http://localhost:10080", False),  # a name: what it resolves to is not taken on trust
        ("https://127.0.0.1:10443", False),  # TLS stays with requests (certificates, certifi)
        ("http://10.0.0.8:10080", False),
        ("http://127.0.0.1.example.test", False),
        ("https://face-recognition.api.nhncloudservice.com", False),
        ("not a url", False),
    ],
)
def test_only_plain_http_to_a_loopback_address_counts_as_loopback(base_url: str, loopback: bool):
    assert is_loopback_http(base_url) is loopback


def test_a_loopback_server_is_reached_directly_whatever_the_proxy_settings(proxies_elsewhere, tmp_path: Path):
    with serving_in_thread(create_app(LocalEngine(tmp_path / "data", appkeys=[APPKEY]))) as base_url:
        client = FaceRecoClient(APPKEY, base_url, retry=RetryPolicy(0))
        client.create_group("direct")
        assert [g.group_id for g in client.list_groups().groups] == ["direct"]


def test_a_named_host_still_goes_through_the_proxy(monkeypatch: pytest.MonkeyPatch):
    with recording_server() as (proxy_url, seen):
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        monkeypatch.setenv("http_proxy", proxy_url)
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        # The name is never looked up: the client hands the whole URL to the proxy on loopback.
        result = FaceRecoClient(APPKEY, "http://face.example.test", retry=RetryPolicy(0)).list_groups(limit=3)
    assert result.groups == []
    method, target, _, _ = seen[0]
    assert method == "GET"
    assert target == f"http://face.example.test/nhn-face-reco/v1.0/appkeys/{APPKEY}/groups?limit=3"


def _through(stack: str, base_url: str, **options: object) -> FaceRecoClient:
    """A client on ``base_url`` whose calls the named stack carries: the bare pool where the URL
    allows it, or requests (a session handed in carries every call)."""
    session = requests.Session() if stack == "requests" else None
    options.setdefault("retry", RetryPolicy(0))
    return FaceRecoClient(transport=HttpTransport(APPKEY, base_url, session=session, **options))  # type: ignore[arg-type]


STACKS = ("pool", "requests")


def _calls_through_both(base_url: str, seen: list, suffix: str = "") -> list:
    """A POST with a body, a GET with a query and a DELETE through each stack: what the server saw."""
    sent = []
    for stack in STACKS:
        client = _through(stack, base_url + suffix)
        client.register_faces("wire", b"\xff\xd8\xff" + bytes(64), external_image_id="a.jpg", limit=2)
        client.list_groups(limit=3)
        client.delete_group("wire")
        sent.append(seen[:])
        seen.clear()
    return sent


def test_a_loopback_call_travels_byte_for_byte_as_a_call_through_requests():
    """Same request line, headers (names, values, order) and body bytes whichever stack carries the call."""
    with recording_server(ANY_CALL) as (base_url, seen):
        assert isinstance(_through("pool", base_url).transport._pool, urllib3.HTTPConnectionPool)  # type: ignore[attr-defined]
        direct_calls, requests_calls = _calls_through_both(base_url, seen)
    assert direct_calls == requests_calls
    direct_call = direct_calls[0]
    assert direct_call[1] == f"/nhn-face-reco/v1.0/appkeys/{APPKEY}/groups/wire"
    assert json.loads(direct_call[3])["externalImageId"] == "a.jpg"
    headers = dict(direct_call[2])
    assert headers["Content-Type"] == "application/json;charset=UTF-8" and headers["User-Agent"] == USER_AGENT
    assert headers["Accept"] == "*/*"


@pytest.mark.parametrize(
    "suffix",
    ["/a/..", "/p%2E%2E", "/./x"],
    ids=["dot-segments", "encoded-dots", "dot-segment"],
)
def test_a_base_path_requests_would_rewrite_is_sent_as_requests_sends_it(suffix: str):
    with recording_server(ANY_CALL) as (base_url, seen):
        plain, via_requests = _calls_through_both(base_url, seen, suffix)
    assert plain == via_requests


def test_a_user_in_a_loopback_base_url_is_sent_as_basic_auth_on_either_stack():
    with recording_server() as (base_url, seen):
        with_user = base_url.replace("http://", "http://user:pw@")
        for stack in STACKS:
            _through(stack, with_user).list_groups()
    assert [dict(headers).get("Authorization") for _, _, headers, _ in seen] == ["Basic dXNlcjpwdw=="] * 2


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:99999", "http://127.0.0.1:abc", "http://[::1%lo]:9"])
def test_a_malformed_loopback_base_url_fails_the_call_not_the_constructor(base_url: str):
    client = FaceRecoClient(APPKEY, base_url, retry=RetryPolicy(0))
    with pytest.raises(E.ConnectionFailed) as caught:
        client.list_groups()
    assert APPKEY not in str(caught.value)


@pytest.mark.parametrize("stack", STACKS)
def test_a_redirect_is_not_followed_on_either_stack(stack: str):
    with recording_server(statuses=(307,)) as (base_url, seen), pytest.raises(E.BadResponse) as caught:
        _through(stack, base_url).list_groups()
    assert caught.value.status == 307
    assert len(seen) == 1  # the appkey in the path went nowhere else


@pytest.mark.parametrize("status", [503, 429])
def test_a_loopback_server_busy_or_throttling_is_asked_again_for_reads_only(status: int):
    with recording_server(statuses=(status, status, status)) as (base_url, seen):
        client = _through("pool", base_url, retry=RetryPolicy(2, 0.0))
        with pytest.raises(E.BadResponse) as caught:
            client.create_group("once")
        assert caught.value.status == status and len(seen) == 1  # a write is never sent again
        assert client.list_groups().groups == []
        assert len(seen) == 4  # a read is: twice refused, then answered


def test_a_loopback_server_that_never_answers_times_out_and_only_reads_are_resent():
    accepted: list[socket.socket] = []
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]

        def accept_forever() -> None:
            while True:
                try:
                    accepted.append(listener.accept()[0])  # and never answer
                except OSError:
                    return

        threading.Thread(target=accept_forever, daemon=True).start()
        client = FaceRecoClient(APPKEY, f"http://127.0.0.1:{port}", read_timeout=0.3, retry=RetryPolicy(1, 0.0))
        with pytest.raises(E.RequestTimeout, match="no answer within 0.3 s") as caught:
            client.list_groups()
        assert len(accepted) == 2  # a read is sent again after a timeout
        with pytest.raises(E.RequestTimeout):
            client.create_group("once")
        assert len(accepted) == 3  # a write never is
    assert APPKEY not in str(caught.value)
    for connection in accepted:
        connection.close()


def test_a_refused_loopback_connection_is_a_connection_failure_without_the_appkey():
    client = FaceRecoClient(APPKEY, f"http://127.0.0.1:{_closed_port()}", retry=RetryPolicy(0))
    with pytest.raises(E.ConnectionFailed, match=r"could not reach .* \(NewConnectionError\)") as caught:
        client.list_groups()
    assert APPKEY not in str(caught.value) and caught.value.__cause__ is None


@pytest.mark.parametrize("stack", STACKS)
def test_an_answer_declared_over_the_largest_is_refused_before_it_is_read(stack: str):
    body = _padded_listing(MAX_ANSWER_BYTES + 1)
    declared = raw_server(lambda connection: _send_body(connection, body, f"Content-Length: {len(body)}"))
    with declared as base_url, pytest.raises(E.BadResponse, match=f"over {MAX_ANSWER_BYTES:,} bytes") as caught:
        _through(stack, base_url).list_groups()
    assert APPKEY not in str(caught.value)


def _chunked(body: bytes, size: int = 65_536) -> bytes:
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"


def _answer_chunked(body: bytes) -> Callable[[socket.socket], None]:
    return lambda connection: _send_body(connection, _chunked(body), "Transfer-Encoding: chunked")


def _answer_gzipped(body: bytes) -> Callable[[socket.socket], None]:
    packed = gzip.compress(body)  # 5 MB of spaces pack into a few kilobytes: a small bomb
    return lambda connection: _send_body(connection, packed, "Content-Encoding: gzip", f"Content-Length: {len(packed)}")


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("framing", [_answer_chunked, _answer_gzipped], ids=["chunked", "gzip"])
def test_an_answer_growing_past_the_largest_is_cut_off_and_one_at_the_largest_is_read(stack: str, framing):
    too_long = raw_server(framing(_padded_listing(MAX_ANSWER_BYTES + 1)))
    with too_long as base_url, pytest.raises(E.BadResponse, match=f"over {MAX_ANSWER_BYTES:,} bytes"):
        _through(stack, base_url).list_groups()
    with raw_server(framing(_padded_listing(MAX_ANSWER_BYTES))) as base_url:
        assert _through(stack, base_url).list_groups().groups == []


@pytest.mark.parametrize("stack", STACKS)
def test_a_server_dripping_its_answer_runs_into_the_deadline_for_the_whole_answer(stack: str):
    body = _padded_listing(400)

    def drip(connection: socket.socket) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
        for byte in body:  # each byte well within the read timeout; the whole answer 20 s
            connection.sendall(bytes([byte]))
            time.sleep(0.05)

    with raw_server(drip) as base_url:
        client = _through(stack, base_url, connect_timeout=0.2, read_timeout=0.5)
        with pytest.raises(E.RequestTimeout, match="no whole answer within 0.7 s"):
            client.list_groups()


@pytest.mark.parametrize("stack", STACKS)
def test_urllib3_debug_lines_name_the_path_without_the_appkey(stack: str, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG, logger="urllib3")
    with recording_server() as (base_url, _):
        _through(stack, base_url).list_groups()
    lines = [r.getMessage() for r in caplog.records if r.name == "urllib3.connectionpool"]
    assert any("/appkeys/***/groups" in line for line in lines)
    assert APPKEY not in caplog.text


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: BaseException | None = error
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


@pytest.mark.parametrize("stack", STACKS)
def test_no_exception_in_a_failures_chain_holds_the_appkey(stack: str):
    with pytest.raises(E.ConnectionFailed) as caught:
        _through(stack, f"http://127.0.0.1:{_closed_port()}").list_groups()
    assert [type(e).__name__ for e in _chain(caught.value)] == ["ConnectionFailed"]


def test_a_dropped_connection_reads_the_same_on_both_stacks():
    with raw_server(lambda connection: None) as base_url:  # reads the request, closes without a word
        messages = []
        for stack in STACKS:
            with pytest.raises(E.ConnectionFailed) as caught:
                _through(stack, base_url).list_groups()
            messages.append(str(caught.value))
    assert messages[0] == messages[1]
    assert "(ProtocolError)" in messages[0]


@pytest.mark.parametrize("stack", STACKS)
def test_throttling_is_a_rate_limited_error_on_either_stack(stack: str):
    with recording_server(statuses=(429,)) as (base_url, seen):
        with pytest.raises(E.RateLimited) as caught:
            _through(stack, base_url, retry=RetryPolicy(0)).list_groups()
        assert caught.value.status == 429 and isinstance(caught.value, E.BadResponse)
        assert len(seen) == 1
    with recording_server(statuses=(503,)) as (base_url, _seen), pytest.raises(E.BadResponse) as other:
        _through(stack, base_url, retry=RetryPolicy(0)).list_groups()
    assert not isinstance(other.value, E.RateLimited) and other.value.status == 503
