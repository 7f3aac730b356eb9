"""The HTTP transport over real loopback sockets: which stack carries a call, proxies, timeouts, the wire form.

A server on a loopback address is reached with a bare urllib3 pool (no proxies, netrc or cookies from
the environment); every other host goes through ``requests`` as before, proxies included.
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from facereco import FaceRecoClient
from facereco import errors as E
from facereco.engine.api import LocalEngine
from facereco.engine.server import create_app
from facereco.transport import USER_AGENT, RetryPolicy, is_loopback_http

from .servers import serving_in_thread

APPKEY = "TransportKey-1a2b3c"
SUCCESS = {"header": {"isSuccessful": True, "resultCode": 0, "resultMessage": "Success"}}
LISTING = {**SUCCESS, "data": {"groupCount": 0, "groups": []}}


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers every request with ``answer`` and keeps what it was sent: request line, headers, body."""

    seen: list[tuple[str, str, dict[str, str], bytes]] = []
    answer: dict = LISTING

    def _record(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.seen.append((self.command, self.path, dict(self.headers), body))
        data = json.dumps(self.answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = _record

    def log_message(self, *args: object) -> None:  # quiet
        pass


@contextmanager
def recording_server(answer: dict = LISTING) -> Iterator[tuple[str, list]]:
    """A real HTTP server on 127.0.0.1 that records each request; yields its URL and the record."""
    handler = type("Recorder", (_Recorder,), {"seen": [], "answer": answer})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler.seen
    finally:
        server.shutdown()
        server.server_close()


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


def test_a_loopback_call_travels_as_a_call_through_requests(monkeypatch: pytest.MonkeyPatch):
    """Same request line, query, JSON body and headers whichever stack carries the call."""
    guide = json.loads((Path(__file__).parent / "fixtures" / "guide_examples.json").read_text())
    sent = []
    with recording_server(guide["register_faces"]["response_example"]) as (base_url, seen):
        direct = FaceRecoClient(APPKEY, base_url, retry=RetryPolicy(0))
        via_requests = FaceRecoClient(APPKEY, base_url.replace("127.0.0.1", "localhost"), retry=RetryPolicy(0))
        for client in (direct, via_requests):
            client.register_faces("wire", b"\xff\xd8\xff" + bytes(64), external_image_id="a.jpg", limit=2)
            sent.append(seen.pop())
    (direct_call, requests_call) = sent
    assert direct_call[:2] == requests_call[:2]
    assert direct_call[1] == f"/nhn-face-reco/v1.0/appkeys/{APPKEY}/groups/wire"
    assert json.loads(direct_call[3]) == json.loads(requests_call[3])
    assert json.loads(direct_call[3])["externalImageId"] == "a.jpg"
    for headers in (direct_call[2], requests_call[2]):
        assert headers["Content-Type"] == "application/json;charset=UTF-8"
        assert headers["User-Agent"] == USER_AGENT


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
