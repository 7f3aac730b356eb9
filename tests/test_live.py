"""The Live page: its worker on the real local engine (rate limit, newest frame, stop, errors), its plain
parts through AppTest, and the whole page in headless Chromium fed a fake camera from a clip of a package
photo, against the local engine and against `python -m facereco serve` (whose access log shows the limit)."""

from __future__ import annotations

import io
import re
import socket
import threading
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facereco import FaceRecoClient
from facereco.contract import FaceDetail, FaceMatch
from facereco.errors import BadResponse, CallInfo, NotFoundGroupError, TransportError
from facereco.samples import package_photo
from facereco.transport import LocalTransport, PreparedCall
from facereco.ui.drawing import MATCH_COLOR, NO_MATCH_COLOR
from facereco.ui.live import (
    JOIN_TIMEOUT_S,
    LatestFrame,
    LiveProcessor,
    LiveResult,
    LiveSettings,
    LiveWorker,
    StreamTarget,
    analyse,
    http_target,
    ice_servers,
    query_jpeg,
)

from .live_clip import CLIP_SIZE, astronaut_frame, write_y4m

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def demo_client(tmp_path_factory) -> FaceRecoClient:
    """The local engine with the Home page's demo group (the same photos and labels)."""
    from facereco.ui.session import demo_images

    client = FaceRecoClient.local(tmp_path_factory.mktemp("live-engine"))
    client.transport.engine.warm_up()  # as the dashboard does at start: models and the embed worker ready
    client.create_group("demo")
    for external_id, data in demo_images():
        client.register_faces("demo", data, external_image_id=external_id)
    return client


def offer_for(worker: LiveWorker, frame: Image.Image, seconds: float, fps: float = 30.0) -> int:
    """Offer ``frame`` as a camera would, ``fps`` times a second for ``seconds``; how many were offered."""
    offered, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        worker.offer(frame)
        offered += 1
        time.sleep(1 / fps)
    return offered


def wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


# ---------------------------------------------------------------- the worker, on the real engine
def test_one_call_names_the_astronaut_from_the_demo_group(demo_client: FaceRecoClient):
    settings = LiveSettings(group="demo", threshold=90)
    result = analyse(demo_client, astronaut_frame(), "demo")
    assert result.searched and len(result.faces) == 1 and result.frame_size == CLIP_SIZE
    assert result.identity(settings) == "astronaut"
    assert result.summary(settings) == [f"1: astronaut {result.best_match.similarity:.1f}"]
    assert result.colors(settings) == [MATCH_COLOR]
    strict = LiveSettings(group="demo", threshold=100, unknown_label="?")
    if result.best_match.similarity < 100:  # below the slider: "unknown", red
        assert result.summary(strict) == ["1: ?"] and result.colors(strict) == [NO_MATCH_COLOR]


def test_a_frame_without_a_face_is_a_result_not_an_error(demo_client: FaceRecoClient):
    empty = Image.new("RGB", CLIP_SIZE, (90, 100, 110))
    searched = analyse(demo_client, empty, "demo")
    assert searched.faces == () and searched.summary(LiveSettings("demo")) == []
    assert analyse(demo_client, empty, None).faces == ()


def test_detect_without_a_group_boxes_every_face(demo_client: FaceRecoClient):
    two = Image.new("RGB", (1280, 480))
    two.paste(astronaut_frame(), (0, 0))
    two.paste(
        Image.open(package_photo("grace_hopper")).convert("RGB").resize((480, 600)).crop((0, 0, 480, 480)), (720, 0)
    )
    result = analyse(demo_client, two, None)
    assert not result.searched and len(result.faces) == 2
    assert [line.split(":")[0] for line in result.summary(LiveSettings())] == ["1", "2"]
    assert Image.open(io.BytesIO(query_jpeg(two))).size == (640, 240)  # sent at most 640 wide


def test_the_rate_limit_holds_with_many_frames_offered(demo_client: FaceRecoClient):
    """Frames offered as fast as a camera (30 a second) until four calls have started, at two calls a
    second: the calls are half a second apart at least however many frames came (the frame still
    waiting when offering stops may make one more). Ends on the fourth call (an event), not after a
    fixed time: on a loaded machine neither the frame rate nor a call's time is fixed."""
    worker = LiveWorker(demo_client, LiveSettings(group="demo", min_interval_s=0.5)).start()
    frame, offered = astronaut_frame(), 0
    try:
        began = time.monotonic()
        deadline = began + 120  # a hang guard only
        while len(worker.spans()) < 4:
            assert time.monotonic() < deadline, "four calls never started"
            worker.offer(frame)
            offered += 1
            time.sleep(1 / 30)
        wait_for(lambda: worker.stats().calls == len(worker.spans()))  # the last call has answered
    finally:
        worker.stop()
        assert worker.join()
    starts = [start for start, _end in worker.spans()]
    assert offered > 2 * len(starts), (offered, starts)  # many more frames than calls
    assert 4 <= len(starts) <= 5, starts
    assert min(np.diff(starts)) >= 0.5, np.diff(starts)
    assert worker.stats().result.identity(LiveSettings("demo")) == "astronaut"


def test_local_pace_is_one_call_at_a_time(demo_client: FaceRecoClient):
    """No interval (the local engine): the next call starts only after the last one answered."""
    worker = LiveWorker(demo_client, LiveSettings(group=None)).start()
    try:
        offer_for(worker, astronaut_frame(), 2.0)
        wait_for(lambda: worker.stats().calls == len(worker.spans()))
    finally:
        worker.stop()
        assert worker.join()
    spans = worker.spans()
    assert len(spans) >= 3
    assert all(later[0] >= earlier[1] for earlier, later in zip(spans, spans[1:], strict=False)), spans
    assert worker.stats().results_per_second > 0


def test_the_newest_frame_wins(demo_client: FaceRecoClient):
    """Frames offered while the worker waits out its interval: only the last is sent."""
    worker = LiveWorker(demo_client, LiveSettings(group=None, min_interval_s=3.0)).start()
    try:
        worker.offer(astronaut_frame())
        wait_for(lambda: worker.result is not None)
        for size in ((320, 240), (400, 300), (480, 360)):  # inside the 3 s wait: each replaces the last
            worker.offer(astronaut_frame(size))
        assert time.monotonic() - worker.spans()[0][0] < 3.0, "the first call took the whole interval"
        wait_for(lambda: worker.result.frame_size != CLIP_SIZE)
        assert worker.result.frame_size == (480, 360)
        assert worker.stats().calls == 2
    finally:
        worker.stop()


def test_stop_joins_the_thread_and_no_call_follows(demo_client: FaceRecoClient):
    worker = LiveWorker(demo_client, LiveSettings(group=None)).start()
    worker.offer(astronaut_frame())
    wait_for(lambda: worker.result is not None)
    worker.stop()
    assert worker.join() and not worker.running
    calls = worker.stats().calls
    offer_for(worker, astronaut_frame(), 0.5)
    assert worker.stats().calls == calls


def test_an_error_becomes_one_sentence_and_the_worker_backs_off(demo_client: FaceRecoClient):
    from facereco.ui.widgets import explain

    worker = LiveWorker(demo_client, LiveSettings(group="no-such-group")).start()
    try:
        offer_for(worker, astronaut_frame(), 1.2)
        stats = worker.stats()
        assert isinstance(stats.error, NotFoundGroupError) and stats.result is None
        assert stats.calls <= 2, stats.calls  # 0.5 s, then 1 s: not a call per frame
        sentence = explain(stats.error)
        assert "-40030" in sentence and "\n" not in sentence and "Traceback" not in sentence
        worker.settings = LiveSettings(group="demo")  # the page picked a group that exists: it recovers
        offer_for(worker, astronaut_frame(), 2.5)
        wait_for(lambda: worker.stats().error is None)
        assert worker.stats().result.identity(LiveSettings("demo")) == "astronaut"
    finally:
        worker.stop()


def test_a_failed_call_takes_the_last_answer_off_the_frame(demo_client: FaceRecoClient):
    """The server goes away mid-stream: the error is shown and the last name is no longer drawn."""
    worker = LiveWorker(demo_client, LiveSettings(group="demo")).start()
    try:
        offer_for(worker, astronaut_frame(), 0.3)
        wait_for(lambda: worker.result is not None)
        worker.settings = LiveSettings(group="no-such-group")  # every call fails from now on
        offer_for(worker, astronaut_frame(), 0.5)
        wait_for(lambda: worker.stats().error is not None)
        assert worker.result is None and worker.stats().result is None
    finally:
        worker.stop()


class GatedTransport:
    """The real local engine, but each call waits at a gate the test opens: a call held in flight."""

    def __init__(self, inner: LocalTransport) -> None:
        self.inner, self.entered, self.gate = inner, threading.Event(), threading.Event()
        self.description = inner.description

    def send(self, call: PreparedCall) -> dict:
        self.entered.set()
        self.gate.wait()
        return self.inner.send(call)


def test_stop_with_a_call_in_flight_does_not_wait_for_it(demo_client: FaceRecoClient):
    """streamlit-webrtc runs on_ended on Streamlit's event loop: it returns at once, the call in flight ends on
    its own, its answer is dropped and no call follows."""
    gated = GatedTransport(demo_client.transport)
    processor = LiveProcessor(StreamTarget(FaceRecoClient(transport=gated), "local"), LiveSettings(group=None))
    processor.worker.offer(astronaut_frame())
    assert gated.entered.wait(60)
    returned = threading.Event()
    threading.Thread(target=lambda: (processor.on_ended(), returned.set()), daemon=True).start()
    try:
        # a join would hold on_ended until the gate opens (never, here) or for JOIN_TIMEOUT_S
        assert returned.wait(JOIN_TIMEOUT_S / 2), "on_ended waited for the call in flight"
    finally:
        gated.gate.set()
    assert processor.worker.join()
    offer_for(processor.worker, astronaut_frame(), 0.3)
    assert processor.worker.stats().calls == 1 and processor.worker.result is None


@contextmanager
def hanging_up_server():
    """A TCP listener on a free loopback port that accepts each connection and closes it at once (a server
    going down): yields its base URL and the times connections came, one per HTTP request sent."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[float] = []

    def serve() -> None:
        while True:
            try:
                connection, _address = listener.accept()
            except OSError:  # closed: the test is over
                return
            accepted.append(time.monotonic())
            connection.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", accepted
    finally:
        listener.close()


def test_streams_to_one_appkey_share_one_pace_and_make_no_hidden_retries():
    """Three tabs' workers on one server and appkey, their page interval 0 (what the page gives when the
    sidebar says Local engine), the operator's cap 2 calls a second: the server sees the calls 0.5 s apart
    between them all, and one request per counted call (no transport retry under the worker's backoff)."""
    with hanging_up_server() as (base_url, accepted):
        workers = [
            LiveWorker(target.client, LiveSettings(group=None), target.pacer).start()
            for target in (http_target("one-key", base_url, calls_per_second=2.0) for _tab in range(3))
        ]
        try:
            for _round in range(60):
                for worker in workers:
                    worker.offer(astronaut_frame())
                time.sleep(1 / 20)
        finally:
            for worker in workers:
                worker.stop()
            assert all(worker.join() for worker in workers)
        time.sleep(0.3)  # the last connection is logged by the listener's thread
        calls = sum(worker.stats().calls for worker in workers)
        assert all(isinstance(worker.stats().error, TransportError) for worker in workers)
        assert len(accepted) == calls >= 4, (len(accepted), calls)
        assert min(np.diff(accepted)) >= 0.4, np.diff(accepted)  # 0.5 s apart, less the scheduling noise


def test_throttling_is_its_own_sentence():
    from facereco.ui.widgets import explain

    throttled = explain(BadResponse("HTTP 429 from x: not an API answer", CallInfo("POST", "/p"), status=429))
    assert "slow down" in throttled and "could not be reached" not in throttled
    assert "could not be reached" in explain(BadResponse("HTTP 502", CallInfo("POST", "/p"), status=502))


def test_the_mailbox_keeps_one_frame():
    box = LatestFrame()
    first, second = Image.new("RGB", (8, 8)), Image.new("RGB", (9, 9))
    box.put(first)
    box.put(second)
    assert box.take(0.1) is second and box.take(0.05) is None
    box.put(first)
    box.close()
    assert box.take(1.0) is None


def test_a_result_is_drawn_only_on_frames_of_its_shape():
    face = FaceDetail.model_validate({"bbox": {"x0": 0.4, "y0": 0.2, "x1": 0.6, "y1": 0.6}, "confidence": 0.99})
    result = LiveResult((face,), (640, 480))
    assert result.fits((1280, 960)) and result.fits((320, 240)) and not result.fits((1280, 720))
    match = FaceMatch.model_validate(
        {"face": {"faceId": "f" * 36, "imageId": "i" * 36, "externalImageId": "no-label.jpg",
                  "bbox": face.bbox.model_dump(), "confidence": 99.0}, "similarity": 95.5}
    )  # fmt: skip
    labeled = LiveResult((face,), (640, 480), searched=True, best_match=match)
    assert labeled.summary(LiveSettings(threshold=90)) == ["1: no-label.jpg 95.5"]  # no '<identity>:': all of it


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("", []),
        ("stun:stun.example.org:3478", [{"urls": "stun:stun.example.org:3478"}]),
        ("turns:relay.example.org:5349?transport=tcp", [{"urls": "turns:relay.example.org:5349?transport=tcp"}]),
    ],
)
def test_ice_servers_accepts_stun_and_turn_urls(typed: str, expected: list):
    assert ice_servers(typed) == expected


@pytest.mark.parametrize(
    "typed", ["http://example.org", "stun:", "turn:host:3478 extra", "file:///etc/passwd", "turn:a@b", "stun:h?x=1"]
)
def test_ice_servers_refuses_anything_else(typed: str):
    with pytest.raises(ValueError):
        ice_servers(typed)


def test_turn_credentials_go_with_a_turn_url_only():
    assert ice_servers("turn:relay.example.org", "user", "secret") == [
        {"urls": "turn:relay.example.org", "username": "user", "credential": "secret"}
    ]
    assert ice_servers("stun:stun.example.org", "user", "secret") == [{"urls": "stun:stun.example.org"}]


def test_the_clip_is_a_valid_yuv4mpeg2_file(tmp_path: Path):
    clip = write_y4m(tmp_path / "clip.y4m", astronaut_frame(), seconds=0.5)
    data = clip.read_bytes()
    header, _, rest = data.partition(b"\n")
    assert header == b"YUV4MPEG2 W640 H480 F12:1 Ip A1:1 C420jpeg"
    frame_bytes = len(b"FRAME\n") + 640 * 480 * 3 // 2
    assert len(rest) == 6 * frame_bytes and rest.count(b"FRAME\n") >= 6


# ---------------------------------------------------------------- the page, AppTest
def test_the_page_renders_and_refuses_a_bad_ice_url(monkeypatch, tmp_path: Path):
    from streamlit.testing.v1 import AppTest

    from facereco.ui.session import local_transport

    monkeypatch.setenv("FACERECO_DATA_DIR", str(tmp_path / "engine"))
    monkeypatch.delenv("FACERECO_APPKEY", raising=False)
    local_transport.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    at.switch_page("pages/live.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Live camera" and not at.error
    at.text_input(key="live-ice-url").input("http://169.254.169.254/latest").run()
    assert [e.value for e in at.error] == [
        "The ICE server must be a stun:, turn: or turns: URL such as turn:host:3478."
    ]
    at.text_input(key="live-ice-url").input("turn:relay.example.org:3478").run()
    assert not at.error and not at.exception
    local_transport.clear()


# ---------------------------------------------------------------- the page, in a real browser with a fake camera
FAKE_CAMERA_FLAGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
ACCESS_LINE = re.compile(r"^(\S+ \S+) INFO facereco\.access: POST \S+/groups/demo/search -> 0 in (\d+) ms$", re.M)


@pytest.fixture
def camera_browser(playwright, tmp_path: Path):
    """Chromium whose camera plays a clip of the astronaut (only this test's browser gets the fake camera)."""
    from .browser import CHROMIUM, CHROMIUM_FLAGS

    clip = write_y4m(tmp_path / "clip.y4m", astronaut_frame())
    flags = [*CHROMIUM_FLAGS, *FAKE_CAMERA_FLAGS, f"--use-file-for-fake-video-capture={clip}"]
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=flags, headless=True)
    yield browser
    browser.close()


def start_live(page, base: str, calls_per_second: float | None = None) -> float:
    """Open Live (in this browser session), name faces from the demo group, press Start; when it was pressed."""
    from .browser import wait_until_idle

    page.locator('[data-testid="stSidebarNav"] a').filter(has_text="Live camera").first.click()
    page.get_by_role("heading", name="Live camera", exact=True).wait_for(timeout=120_000)
    wait_until_idle(page)
    if calls_per_second is not None:
        page.get_by_label("Calls per second (each one is billed)").fill(str(calls_per_second))
        page.get_by_label("Calls per second (each one is billed)").press("Enter")
        wait_until_idle(page)
    page.get_by_text("Name faces from a group").click()
    wait_until_idle(page)
    component = page.frame_locator('iframe[title*="webrtc"]')
    component.get_by_role("button", name="Start").click()
    return time.monotonic()


NAMED_GUARD_S = 120.0


def assert_named_within(page, pressed: float, seconds: float = NAMED_GUARD_S) -> None:
    """The page's result line names the astronaut after Start. ``seconds`` is a hang guard only: on a
    loaded two-core machine the first call waits for the CPU, so how soon it comes is a figure for
    benchmarks/live.py (the issue's 10 s), not an assertion here; the event is that it comes."""
    line = page.locator('[data-testid="stText"]').filter(has_text="1: astronaut")
    try:
        line.first.wait_for(timeout=seconds * 1000)
    except Exception as timeout:  # say what the page showed instead
        shown = page.locator('[data-testid="stMain"]').inner_text()
        raise AssertionError(f"not named within {seconds:g} s; the page shows:\n{shown}") from timeout
    similarity = float(line.first.inner_text().split()[-1])
    assert 90 <= similarity <= 100


def video_shows_a_match_box(page) -> bool:
    """The annotated video itself: the match colour (green) in its frame, around the astronaut's face."""
    shot = page.frame_locator('iframe[title*="webrtc"]').locator("video").first.screenshot()
    pixels = np.asarray(Image.open(io.BytesIO(shot)).convert("RGB")).astype(int)
    green = np.array(Image.new("RGB", (1, 1), MATCH_COLOR).getpixel((0, 0)))
    return int((np.abs(pixels - green).sum(axis=2) < 60).sum()) > 200


@pytest.mark.slow
@pytest.mark.browser
def test_live_page_names_the_astronaut_on_the_local_engine(camera_browser, tmp_path: Path):
    from .browser import running_dashboard, wait_until_idle

    with running_dashboard(tmp_path / "data") as base:
        page = camera_browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(base)
        wait_until_idle(page)
        page.get_by_role("button", name="Build the demo group").click()
        page.get_by_text("Group `demo` is ready").or_(page.get_by_text("Group demo is ready")).first.wait_for(
            timeout=120_000
        )
        pressed = start_live(page, base)
        assert_named_within(page, pressed)
        # The annotated frame reaches the video when the machine gets to it: wait for it (a guard, not a bound).
        deadline = time.monotonic() + 60
        while not video_shows_a_match_box(page):
            assert time.monotonic() < deadline, "the video never showed the match box"
            page.wait_for_timeout(300)
        shown = page.locator('[data-testid="stMetric"]').filter(has_text="Results per second").first.inner_text()
        assert float(shown.split()[-1]) > 0, shown
        calls = page.locator('[data-testid="stMetric"]').filter(has_text="Calls").first.inner_text()
        assert int(calls.split()[-1].replace(",", "")) >= 2, calls
        assert page.locator('[data-testid="stException"]').count() == 0
        page.frame_locator('iframe[title*="webrtc"]').get_by_role("button", name="Stop").click()
        wait_until_idle(page)
        assert page.locator('[data-testid="stText"]').filter(has_text="1: astronaut").count() == 0


def call_starts(log: str) -> list[float]:
    """When each search call began, from `serve`'s access log (written on answering, with the time it took)."""
    starts = []
    for stamp, took_ms in ACCESS_LINE.findall(log):
        answered = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()
        starts.append(answered - int(took_ms) / 1000)
    return starts


@contextmanager
def dashboard_on_a_server(tmp_path: Path, max_calls_per_second: str = "2"):
    """`python -m facereco serve` with the demo group, and the dashboard preset on it (its appkey, the Live cap):
    yields the server and the dashboard's address."""
    from facereco.ui.session import demo_images

    from .browser import running_dashboard
    from .servers import running_server

    with running_server(tmp_path / "server", ["live-key"], "--log-level", "info") as server:
        client = FaceRecoClient("live-key", server.base_url)
        client.create_group("demo")
        for external_id, data in demo_images():
            client.register_faces("demo", data, external_image_id=external_id)
        backend = {
            "FACERECO_APPKEY": "live-key",
            "FACERECO_BASE_URL": server.base_url,
            "FACERECO_LIVE_MAX_CALLS_PER_SECOND": max_calls_per_second,
        }
        with running_dashboard(tmp_path / "dashboard", backend) as base:
            yield server, base


@pytest.mark.slow
@pytest.mark.browser
def test_live_page_holds_the_rate_limit_against_a_server(camera_browser, tmp_path: Path):
    """`serve` as *Another server*, two calls a second: its access log shows never three calls within 0.8 s."""
    from .browser import wait_until_idle
    from .test_browser import settled_calls

    with dashboard_on_a_server(tmp_path) as (server, base):
        page = camera_browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(base)
        wait_until_idle(page)
        pressed = start_live(page, base, calls_per_second=2)
        assert_named_within(page, pressed)
        deadline = time.monotonic() + 120  # a hang guard: six calls is the event waited for
        while len(call_starts(server.log())) < 6:
            assert time.monotonic() < deadline, server.log()
            page.wait_for_timeout(200)
        page.frame_locator('iframe[title*="webrtc"]').get_by_role("button", name="Stop").click()
        settled_calls(server)
        settled_at = time.time()
        starts = call_starts(server.log())
        assert len(starts) >= 6, server.log()
        # the limit holds between the client's call starts (the worker's own test checks those exactly);
        # the server sees a start up to ~0.1 s late when the machine is busy, so here: never three calls
        # within 0.8 s (without the limit, three come within 0.35 s), and no more than two a second overall
        in_a_window = [sum(1 for t in starts if start <= t < start + 0.8) for start in starts]
        assert max(in_a_window) <= 2, np.diff(starts)
        assert len(starts) <= 2 * (starts[-1] - starts[0]) + 1.5, np.diff(starts)
        page.wait_for_timeout(2000)
        # No call started once the log had settled after Stop (a call still in flight then, answered
        # late on a busy machine, started before: it is no call after Stop).
        late = [t - settled_at for t in call_starts(server.log()) if t > settled_at]
        assert not late, f"calls went on after Stop: started {late} s after the log settled"
        assert page.locator('[data-testid="stException"]').count() == 0


@pytest.mark.slow
@pytest.mark.browser
def test_switching_backend_while_streaming_halts_the_stream(camera_browser, tmp_path: Path):
    """Streaming to `serve` at one call a second, the sidebar switches to the local engine: the stream makes
    no more calls (before the fix it went on calling the server, unpaced, with the old appkey)."""
    from .browser import wait_until_idle
    from .test_browser import settled_calls

    with dashboard_on_a_server(tmp_path, max_calls_per_second="1") as (server, base):
        page = camera_browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(base)
        wait_until_idle(page)
        assert_named_within(page, start_live(page, base))
        page.locator('[data-testid="stSidebar"]').get_by_text("Local engine", exact=True).click()
        page.get_by_text("The backend changed").wait_for(timeout=60_000)
        halted = settled_calls(server)
        page.wait_for_timeout(3000)
        assert settled_calls(server) == halted, "the stream went on calling the old server"
        assert page.locator('[data-testid="stException"]').count() == 0
