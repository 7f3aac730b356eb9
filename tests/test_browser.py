"""End to end in a real headless Chromium: upload a photo on Detect, see the annotated image and one row."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from .browser import running_dashboard, upload_photo, use_server, wait_until_idle

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_detect_page_in_a_real_browser(browser, tmp_path: Path, astronaut_path: Path):
    screenshot_dir = Path(os.environ.get("FACERECO_SCREENSHOT_DIR", tmp_path))
    with running_dashboard(tmp_path / "data") as base:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{base}/detect")
        wait_until_idle(page)
        upload_photo(page, astronaut_path)
        page.get_by_role("button", name="Detect faces").click()
        page.get_by_text("1 face(s) in astronaut.png").wait_for(timeout=120_000)
        wait_until_idle(page)
        assert page.locator('[data-testid="stException"]').count() == 0
        # the annotated image, the crop and the preview are all <img> in the main area
        images = page.locator('[data-testid="stMain"] [data-testid="stImage"] img')
        assert images.count() >= 3
        grid = page.locator('[data-testid="stDataFrame"]').first
        grid.wait_for()
        assert grid.locator('[role="grid"]').first.get_attribute("aria-rowcount") == "2"  # header + one face
        page.screenshot(path=str(screenshot_dir / "detect.png"), full_page=True)
        assert (screenshot_dir / "detect.png").stat().st_size > 10_000


def settled_calls(server, quiet_s: float = 1.5) -> int:
    """The access log's call count once no line has been added for ``quiet_s`` (a call still in flight
    when the page looked idle is counted where it belongs)."""
    count = server.log().count("facereco.access")
    while True:
        time.sleep(quiet_s)
        now = server.log().count("facereco.access")
        if now == count:
            return count
        count = now


def test_slider_moves_make_no_api_call(browser, tmp_path: Path, astronaut_path: Path, grace_hopper_path: Path):
    """Against `python -m facereco serve` (its access log counts calls): results are Streamlit fragments."""
    from facereco import FaceRecoClient

    from .servers import running_server

    with running_server(tmp_path / "server", ["slider-key"], "--log-level", "info") as server:
        client = FaceRecoClient("slider-key", server.base_url)
        client.create_group("demo")
        for external_id, path in (
            ("a:1.png", astronaut_path),
            ("a:2.png", astronaut_path),
            ("g:1.jpg", grace_hopper_path),
        ):
            client.register_faces("demo", path, external_image_id=external_id)
        backend = {"FACERECO_APPKEY": "slider-key", "FACERECO_BASE_URL": server.base_url}
        with running_dashboard(tmp_path / "dashboard", backend) as base:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            for path, button in (("search", "Search"), ("compare", "Compare"), ("tuning", "Score this group")):
                page.goto(f"{base}/{path}")
                wait_until_idle(page)
                page.get_by_role("button", name=button).first.click()
                wait_until_idle(page)
                calls = settled_calls(server)
                slider = page.locator('[data-testid="stSlider"]').first
                slider.scroll_into_view_if_needed()
                box = slider.bounding_box()
                page.mouse.click(box["x"] + 0.3 * box["width"], box["y"] + 0.72 * box["height"])
                wait_until_idle(page)
                assert page.locator('[data-testid="stSliderThumbValue"]').first.inner_text() != "90", path
                assert settled_calls(server) == calls, f"{path}: a slider move called the API"
                if path == "compare":  # a server, nothing tuned in this session: the rates are not known
                    assert page.get_by_text("unknown for this backend").count() == 1
                assert page.locator('[data-testid="stException"]').count() == 0


HEADINGS = {"Home": "Face Recognition dashboard", "Tuning": "Threshold tuning"}  # where title and h1 differ


def _sidebar_nav(page, title: str) -> None:
    """Move within the session (a page.goto would start a new session, and so a new read cache), and wait
    for the new page's heading: on a busy machine the old page can look idle before the run starts."""
    page.locator('[data-testid="stSidebarNav"] a').filter(has_text=title).first.click()
    page.get_by_role("heading", name=HEADINGS.get(title, title), exact=True).wait_for(timeout=120_000)
    wait_until_idle(page)


def test_backend_switch_to_a_server_and_a_bad_appkey(browser, tmp_path: Path):
    """Local engine first, then `serve` chosen in the sidebar: its groups appear; a bad appkey is one sentence."""
    from facereco import FaceRecoClient

    from .servers import running_server

    with running_server(tmp_path / "server", ["good-key"], "--log-level", "info") as server:
        FaceRecoClient("good-key", server.base_url).create_group("from-the-server")
        allowed = {"FACERECO_ALLOWED_SERVERS": server.base_url}  # the operator's list; a visitor picks from it
        with running_dashboard(tmp_path / "dashboard", allowed) as base:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base}/groups")
            wait_until_idle(page)
            assert page.get_by_text("from-the-server").count() == 0
            # an address the operator did not allow: one sentence, no connection (the server's log stays empty)
            use_server(page, "http://169.254.169.254", "good-key")
            refused = page.locator('[data-testid="stAlertContentError"]').first.locator("p").inner_text()
            assert "servers its operator allowed" in refused and server.base_url in refused, refused
            page.get_by_label("Appkey").fill("")
            use_server(page, server.base_url, "wrong-key")
            settled_calls(server)
            # one call told the dashboard the appkey is refused; nothing else was sent with it
            assert server.log().count("-> -41000") == 1, server.log()
            errors = page.locator('[data-testid="stAlertContentError"]')
            assert errors.count() >= 1
            sentence = errors.first.locator("p").inner_text()
            assert "result code -41000" in sentence and "\n" not in sentence.strip(), sentence
            assert "wrong-key" not in page.locator("body").inner_text() and "wrong-key" not in page.url
            assert page.locator('[data-testid="stException"]').count() == 0
            page.get_by_label("Appkey").fill("good-key")
            page.get_by_label("Appkey").press("Enter")
            wait_until_idle(page)
            assert page.get_by_text("from-the-server").count() >= 1
            assert "good-key" not in page.locator("body").inner_text() and "good-key" not in page.url
            assert page.locator('[data-testid="stException"]').count() == 0


def test_navigating_all_pages_twice_calls_no_more_than_once(browser, tmp_path: Path):
    """The read cache: after the first visit of each page, moving between pages makes no API call."""
    from facereco import FaceRecoClient

    from .servers import running_server

    titles = ("Detect", "Compare", "Search", "Verify", "Groups", "Tuning", "Home")
    with running_server(tmp_path / "server", ["count-key"], "--log-level", "info") as server:
        client = FaceRecoClient("count-key", server.base_url)
        for group in ("alpha", "beta"):
            client.create_group(group)
        backend = {"FACERECO_APPKEY": "count-key", "FACERECO_BASE_URL": server.base_url}
        with running_dashboard(tmp_path / "dashboard", backend) as base:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(base)
            wait_until_idle(page)
            for title in titles:
                _sidebar_nav(page, title)
            first_pass = server.log().splitlines()
            once = settled_calls(server)
            assert once > 0, "the first visit must have read the groups from the server"
            for title in titles:
                _sidebar_nav(page, title)
            assert settled_calls(server) == once, server.log().splitlines()[len(first_pass) :]
            # the preset appkey is used, never sent to the browser: not in the page, not in any field's value
            values = page.eval_on_selector_all("input", "fields => fields.map(f => f.value)")
            assert "count-key" not in page.content() and "count-key" not in values
            assert page.locator('[data-testid="stException"]').count() == 0
            page.locator('[data-testid="stSidebar"]').get_by_role("button", name="Refresh").click()
            wait_until_idle(page)
            assert settled_calls(server) > once, "Refresh must read the lists again"


def test_language_follows_the_browser_and_the_switch(browser, tmp_path: Path):
    with running_dashboard(tmp_path / "data") as base:
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="ja-JP")
        page.goto(base)
        wait_until_idle(page)
        # a loaded machine may still be drawing the first run: wait for the heading, then count it
        page.get_by_role("heading", name="顔認識ダッシュボード").wait_for(timeout=60_000)
        assert page.get_by_role("heading", name="顔認識ダッシュボード").count() == 1
        page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
        page.get_by_role("option", name="한국어").click()
        wait_until_idle(page)
        page.get_by_role("heading", name="얼굴 인식 대시보드").wait_for(timeout=60_000)
        assert page.get_by_role("heading", name="얼굴 인식 대시보드").count() == 1
        assert page.locator('[data-testid="stSidebarNav"]').get_by_text("얼굴 검색").count() == 1


def test_exported_report_renders_offline(browser, tmp_path: Path):
    """Tuning page -> HTML report -> opened with the network off: every chart is drawn."""
    with running_dashboard(tmp_path / "data") as base:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(base)
        wait_until_idle(page)
        page.get_by_role("button", name="Build the demo group").click()
        wait_until_idle(page)
        _sidebar_nav(page, "Tuning")
        page.get_by_role("button", name="Score this group").click()
        wait_until_idle(page)
        page.get_by_role("button", name="Prepare the HTML report").click()
        wait_until_idle(page)
        with page.expect_download() as download:
            page.get_by_role("button", name="Download the report (HTML)").click()
        report = tmp_path / "report.html"
        download.value.save_as(report)
    offline = browser.new_context(offline=True)
    requests_seen: list[str] = []
    offline.on("request", lambda request: requests_seen.append(request.url))
    viewer = offline.new_page()
    viewer.goto(report.as_uri())
    viewer.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 3", timeout=30_000)
    assert viewer.locator(".js-plotly-plot").count() == 3
    assert viewer.get_by_text("Threshold tuning report: demo").count() == 1
    assert all(url.startswith(("file:", "data:", "blob:")) for url in requests_seen), requests_seen
    offline.close()


def test_tuning_buttons_show_their_threshold_at_1024_px(browser, tmp_path: Path):
    """A 200-face group: the FMR buttons recommend thresholds; at 1024 px each label shows its value whole."""
    import re

    from facereco import FaceRecoClient
    from facereco.synthetic import add_synthetic_group

    prepared = FaceRecoClient.local(tmp_path / "data")
    add_synthetic_group(prepared.transport.engine, "synthetic", 200)
    prepared.transport.engine.close()
    with running_dashboard(tmp_path / "data") as base:
        page = browser.new_page(viewport={"width": 1024, "height": 900})
        page.goto(f"{base}/tuning")
        wait_until_idle(page)
        page.get_by_role("button", name="Score this group").click()
        page.get_by_role("button", name="Score again").wait_for(timeout=120_000)
        wait_until_idle(page)
        assert page.locator('[data-testid="stException"]').count() == 0
        labels = {}
        for name in ("FMR 1 %", "FMR 0.1 %", "EER", "Default"):
            button = page.get_by_role("button", name=re.compile(rf"^{re.escape(name)} → \d+$"))
            assert button.count() == 1, (name, button.all_inner_texts())
            labels[name] = button.inner_text()
            clipped = button.evaluate("b => [...b.querySelectorAll('*')].some(e => e.scrollWidth > e.clientWidth + 1)")
            assert not clipped, f"{labels[name]} is cut at 1024 px"
        page.get_by_role("button", name=labels["FMR 0.1 %"]).click()
        wait_until_idle(page)
        value = labels["FMR 0.1 %"].rsplit(" ", 1)[1]
        assert page.locator('[data-testid="stSliderThumbValue"]').first.inner_text() == value
        page.screenshot(path=str(Path(os.environ.get("FACERECO_SCREENSHOT_DIR", tmp_path)) / "tuning-1024.png"))
