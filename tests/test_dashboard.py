"""Every dashboard page through streamlit's AppTest, on the real local engine with real photos."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest
from PIL import Image, ImageOps
from streamlit.testing.v1 import AppTest

from facereco.samples import package_photo
from facereco.ui.session import CLIENT_KEY, local_transport

pytestmark = pytest.mark.slow

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture(scope="module", autouse=True)
def engine_data_dir(tmp_path_factory):
    """One data directory for the module: the app's engine is cached per process."""
    previous = {k: os.environ.get(k) for k in ("FACERECO_DATA_DIR", "FACERECO_APPKEY")}
    os.environ["FACERECO_DATA_DIR"] = str(tmp_path_factory.mktemp("dashboard-engine"))
    os.environ.pop("FACERECO_APPKEY", None)
    local_transport.clear()  # the app's engine is per process: this module's data directory, not another's
    yield
    for key, value in previous.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def open_page(page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    if page:
        at.switch_page(page)
        at.run()
    assert not at.exception, at.exception
    return at


def calls_made(at: AppTest) -> int:
    """Calls that reached the backend (the read cache answers the rest)."""
    return len(at.session_state[CLIENT_KEY].transport.inner.exchanges)


def faces_table(at: AppTest):
    """The Groups page's faces dataframe (the one with a faceId column)."""
    return next(d.value for d in at.dataframe if "faceId" in d.value.columns)


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def test_home_shows_backend_and_builds_the_demo_group():
    at = open_page()
    assert at.title[0].value == "Face Recognition dashboard"
    # named in full as a wrapping text, not a metric that cuts it ("Local engine (offli…" at 1024 px)
    assert "**facereco local engine (offline, on this computer)**" in [m.value for m in at.markdown]
    assert "Backend" not in [m.label for m in at.metric]
    assert any("answering" in s.value for s in at.sidebar.success)
    at.button(key="build-demo").click().run()
    assert not at.exception
    assert any("demo" in s.value and "4 face(s) added" in s.value for s in at.success)
    at.button(key="build-demo").click().run()  # twice: nothing is added again
    assert any("0 face(s) added, 4 already there" in s.value for s in at.success)


def test_detect_finds_and_lists_the_astronaut():
    at = open_page("pages/detect.py")
    at.button(key="detect-run").click().run()
    assert not at.exception
    assert at.subheader[0].value.startswith("1 face(s)")
    table = at.dataframe[0].value
    assert len(table) == 1 and table["confidence %"][0] > 95
    assert len(at.get("download_button")) == 1


def test_compare_slider_rematches_without_a_new_call():
    at = open_page("pages/compare.py")
    at.button(key="compare-run").click().run()  # astronaut vs grace_hopper (the default samples)
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"Target faces": "1", "Matched": "0", "Unmatched": "1"}
    calls = calls_made(at)
    at.slider(key="compare-threshold").set_value(1).run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Matched"] == "1" and metrics["Unmatched"] == "0"
    assert calls_made(at) == calls


def test_search_and_verify_on_the_demo_group():
    at = open_page()
    at.button(key="build-demo").click().run()
    at.switch_page("pages/search.py")
    at.run()
    at.selectbox(key="search-group").set_value("demo").run()
    at.button(key="search-run").click().run()  # query: the astronaut sample
    assert not at.exception
    table = at.dataframe[0].value
    assert set(table["externalImageId"][:2]) == {"astronaut:astronaut_1.jpg", "astronaut:astronaut_2.jpg"}
    assert list(table["match"]) == [True, True, False, False]
    at.switch_page("pages/verify.py")
    at.run()
    at.selectbox(key="verify-group").set_value("demo").run()
    options = at.selectbox(key="verify-face").options
    for prefix, verdict in (("grace-hopper", "Not the same person"), ("astronaut", "Same person")):
        at.selectbox(key="verify-face").select_index(next(i for i, o in enumerate(options) if o.startswith(prefix)))
        at.run()
        at.button(key="verify-run").click().run()  # photo: the astronaut sample
        assert not at.exception
        shown = [e.value for e in at.success] + [e.value for e in at.error]
        assert any(text.startswith(verdict) for text in shown), shown


def test_groups_create_register_page_delete():
    at = open_page("pages/groups.py")
    at.text_input(key="groups-new-id").set_value("team").run()
    at.button(key="groups-create").click().run()
    assert any("team" in s.value for s in at.success)
    assert at.selectbox(key="groups-selected").value == "team"
    astronaut = Image.open(package_photo("astronaut"))
    grace = Image.open(package_photo("grace_hopper"))
    uploader = at.file_uploader(key="groups-register-files")
    uploader.upload("astronaut one.jpg", jpeg(astronaut), "image/jpeg")
    uploader.upload("grace.jpg", jpeg(grace), "image/jpeg")
    uploader.upload("astronaut-mirror.jpg", jpeg(ImageOps.mirror(astronaut)), "image/jpeg")
    at.run()
    at.button(key="groups-register").click().run()
    assert not at.exception
    rows = at.session_state["groups-register-rows"]
    assert [r["added"] for r in rows] == [1, 1, 1]
    assert rows[0]["externalImageId"] == "astronaut_one.jpg"

    at.selectbox(key="faces-page-size").set_value(2).run()
    first_page = faces_table(at)
    assert len(first_page) == 2
    at.button(key="faces-pager-team-next").click().run()
    second_page = faces_table(at)
    assert len(second_page) == 1
    assert set(first_page["faceId"]).isdisjoint(second_page["faceId"])
    assert at.button(key="faces-pager-team-next").disabled
    at.button(key="faces-pager-team-prev").click().run()
    assert list(faces_table(at)["faceId"]) == list(first_page["faceId"])


def test_groups_delete_a_face_then_the_group():
    at = open_page("pages/groups.py")
    at.selectbox(key="groups-selected").set_value("team").run()
    before = int({m.label: m.value for m in at.metric}["Faces"])
    doomed = faces_table(at)["faceId"][0]
    at.multiselect(key="faces-delete-choice-team-0").select(doomed).run()
    at.button(key="faces-delete").click().run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Faces"] == str(before - 1)
    assert doomed not in list(faces_table(at)["faceId"])
    at.checkbox(key="groups-delete-confirm-team").check().run()
    at.button(key="groups-delete").click().run()
    assert not at.exception
    assert "team" not in at.selectbox(key="groups-selected").options


def test_a_bad_upload_shows_a_message_not_an_exception():
    at = open_page("pages/detect.py")
    at.radio(key="detect-source").set_value("upload").run()
    at.file_uploader(key="detect-upload").upload("notes.png", b"this is not an image at all", "image/png").run()
    at.button(key="detect-run").click().run()
    assert not at.exception
    assert any("neither PNG nor JPEG" in e.value for e in at.error)
    assert not any("Pick an image" in i.value for i in at.info)  # the error is where the result would be
    at.file_uploader(key="detect-upload").clear().upload("tiny.png", _tiny_png(), "image/png").run()
    at.button(key="detect-run").click().run()
    assert not at.exception and any("80 px" in e.value for e in at.error)


def _tiny_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


def exported_report(at: AppTest) -> str:
    """The Tuning page's HTML hand-out for the demo group at the cloud default threshold."""
    at.switch_page("pages/home.py").run()
    at.button(key="build-demo").click().run()
    at.switch_page("pages/tuning.py").run()
    at.selectbox(key="tuning-group").set_value("demo").run()
    at.button(key="tuning-score").click().run()
    at.button(key="tuning-report-build").click().run()
    assert not at.exception, at.exception
    return at.session_state["tuning-report"][2]


def test_tuning_exports_a_self_contained_report(tmp_path: Path):
    html = exported_report(open_page())
    # demo group: 2 identities x 2 faces -> 2 genuine and 4 impostor pairs; threshold 90
    assert "Threshold tuning report: demo" in html
    assert "<th>Genuine pairs</th><td>2</td>" in html and "<th>Impostor pairs</th><td>4</td>" in html
    assert "<th>Chosen threshold</th><td>90</td>" in html
    assert "95 % CI" in html and "/4 = " in html and "/2 = " in html
    assert html.count("js-plotly-plot") >= 3 and html.count("Plotly.newPlot") == 3
    assert not re.search(r"<(script|link|img)\b[^>]*\b(src|href)=", html)  # nothing to fetch when opened
    (tmp_path / "report.html").write_text(html, encoding="utf-8")


def test_reading_pages_again_calls_nothing_until_a_write():
    """The per-session read cache, on the real engine: a rerun and a page change read nothing again;
    a write from this session shows at once in the counters (Refresh: see the browser test)."""

    def metrics() -> dict[str, str]:
        return {m.label: m.value for m in at.metric}

    at = open_page()
    at.switch_page("pages/groups.py").run()
    at.switch_page("pages/home.py").run()
    calls, groups_shown = calls_made(at), int(metrics()["Groups"])
    at.switch_page("pages/groups.py").run()
    at.switch_page("pages/home.py").run()
    at.run()
    assert calls_made(at) == calls
    at.switch_page("pages/groups.py").run()
    at.text_input(key="groups-new-id").set_value("counted").run()
    at.button(key="groups-create").click().run()
    assert "counted" in at.selectbox(key="groups-selected").options
    at.switch_page("pages/home.py").run()
    assert int(metrics()["Groups"]) == groups_shown + 1


def test_each_slider_says_what_its_threshold_means():
    """Local engine: its LFW calibration; after tuning the group in use: that group's measured rates."""
    at = open_page("pages/compare.py")
    assert any("At 90, local engine on LFW" in c.value and "false matches 0.100%" in c.value for c in at.caption)
    at.slider(key="compare-threshold").set_value(60).run()
    # compare has no group: the newest descriptor version's calibration (v1.1)
    assert any("false matches between 6.47% (at 50) and 1.69% (at 70)" in c.value for c in at.caption)
    exported_report(at)  # builds and scores the demo group on the Tuning page
    at.switch_page("pages/search.py").run()
    at.selectbox(key="search-group").set_value("demo").run()
    meaning = next(c.value for c in at.caption if c.value.startswith("At 90"))
    assert "on group demo as last tuned" in meaning and "/4 impostor pairs" in meaning, meaning


def test_compare_says_when_the_target_has_no_face():
    at = open_page("pages/compare.py")
    at.selectbox(key="compare-target-sample").set_value("Coffee (no face)").run()
    at.button(key="compare-run").click().run()
    assert not at.exception
    shown = [w.value for w in at.warning] + [e.value for e in at.error]
    assert any("No face was found in the target image" in text for text in shown), shown


def test_an_oversized_upload_is_refused_and_not_replaced_by_the_previous_one(astronaut_path: Path):
    at = open_page("pages/detect.py")
    at.radio(key="detect-source").set_value("upload").run()
    uploader = at.file_uploader(key="detect-upload")
    assert "up to 3,000,000 bytes" in uploader.label  # stated before any upload
    uploader.upload("astronaut.png", astronaut_path.read_bytes(), "image/png").run()
    assert not at.button(key="detect-run").disabled
    oversized = b"\xff\xd8\xff" + b"\0" * 3_000_000
    at.file_uploader(key="detect-upload").clear().upload("big.jpg", oversized, "image/jpeg").run()
    assert any("big.jpg is 3,000,003 bytes" in e.value and "3,000,000" in e.value for e in at.error)
    assert at.button(key="detect-run").disabled  # the astronaut is not silently kept


@pytest.mark.parametrize("typed", ["ASTRONAUT", "/etc/passwd", "/no/such/file.png", "file:///etc/passwd", "photo.jpg"])
def test_the_url_box_never_reads_a_file_on_this_machine(typed: str, astronaut_path: Path):
    """Only an http(s) URL leaves the URL box: a path (even to a real photo) gets one sentence, no call."""
    at = open_page("pages/detect.py")
    at.radio(key="detect-source").set_value("url").run()
    before = calls_made(at)
    at.text_input(key="detect-url").input(str(astronaut_path) if typed == "ASTRONAUT" else typed).run()
    assert not at.exception
    assert [e.value for e in at.error] == ["Enter an http(s) URL (ports 80, 443 or 10000-12000)."]
    assert at.button(key="detect-run").disabled  # nothing to send
    assert calls_made(at) == before and "detect-result" not in at.session_state


@pytest.fixture()
def photo_server(astronaut_path: Path):
    """The astronaut served on 127.0.0.1 (an allowed port), and the app's engine told it may fetch from there."""
    import dataclasses
    import http.server
    import threading

    from .servers import free_allowed_port

    body = astronaut_path.read_bytes()

    class Photo(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_allowed_port()), Photo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    service = local_transport().engine.service
    strict = service.url_policy
    service.url_policy = dataclasses.replace(strict, allow_private_hosts=True)  # as `serve --allow-private-urls`
    yield f"http://127.0.0.1:{server.server_address[1]}/astronaut.png"
    service.url_policy = strict
    server.shutdown()


def test_an_image_given_by_url_is_drawn_with_its_boxes(photo_server: str):
    at = open_page("pages/detect.py")
    at.radio(key="detect-source").set_value("url").run()
    at.text_input(key="detect-url").input(photo_server).run()
    at.button(key="detect-run").click().run()
    assert not at.exception, at.exception
    assert at.subheader[0].value.startswith("1 face(s)")
    assert not [c.value for c in at.caption if "cannot be drawn" in c.value]
    assert len(at.get("download_button")) == 1  # the annotated PNG: drawn from the fetched image


def test_a_preset_appkey_goes_only_to_its_own_server(monkeypatch):
    """The operator's appkey is for the server it was configured with: a base URL typed in the sidebar gets none."""
    from facereco.ui.session import CLOUD, SERVER, preset_appkey_for

    monkeypatch.setenv("FACERECO_APPKEY", "operator-key")
    monkeypatch.setenv("FACERECO_BASE_URL", "http://127.0.0.1:10080")
    assert preset_appkey_for(SERVER, "http://127.0.0.1:10080/") == "operator-key"
    assert preset_appkey_for(SERVER, "http://127.0.0.1:10081") is None
    assert preset_appkey_for(SERVER, "https://attacker.example") is None
    assert preset_appkey_for(CLOUD, "http://127.0.0.1:10080") is None


def test_another_server_must_be_one_the_operator_allowed(monkeypatch):
    from facereco.ui.session import base_url_problem

    monkeypatch.delenv("FACERECO_BASE_URL", raising=False)
    monkeypatch.setenv("FACERECO_ALLOWED_SERVERS", "https://faces.internal.example, http://10.0.0.5:10080")
    for allowed in ("http://127.0.0.1:10080", "https://faces.internal.example/", "http://10.0.0.5:10080"):
        assert base_url_problem(allowed) is None, allowed
    for refused in ("http://169.254.169.254", "http://127.0.0.1:6379", "https://faces.internal.example.evil.test"):
        assert "operator allowed" in (base_url_problem(refused) or ""), refused


def test_the_read_cache_keeps_listings_not_searches(tmp_path: Path):
    """Lists are read once; a search by faceId (a GET as well, thousands of them when tuning) always travels."""
    from facereco import FaceRecoClient
    from facereco.engine.api import LocalEngine
    from facereco.synthetic import add_synthetic_group
    from facereco.transport import LocalTransport
    from facereco.ui.read_cache import ReadCachingTransport
    from facereco.ui.recorder import RecordingTransport

    engine = LocalEngine(tmp_path)
    add_synthetic_group(engine, "people", 10)
    recorder = RecordingTransport(LocalTransport(engine))
    client = FaceRecoClient(transport=ReadCachingTransport(recorder))
    face_id = client.list_faces("people").faces[0].face_id
    client.list_faces("people")
    assert len(recorder.exchanges) == 1  # the listing, once
    first = client.search_by_face_id("people", face_id, threshold=1)
    second = client.search_by_face_id("people", face_id, threshold=1)
    assert len(recorder.exchanges) == 3 and first.match_face_count == second.match_face_count > 0
