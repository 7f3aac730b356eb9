"""Presentation mode as an audience sees it, in a real headless Chromium on the local engine.

- Every page in English, Japanese and Korean, at 1400 and at 1024 px: a headline, no request/response
  panel, no visible number with more than two decimals, no metric cut off, no exception; then the
  switch off and every page again: the panels back with the results kept, nothing cut.
- The guided demo from Home to Tuning's summary on a fresh engine, under two minutes, with a screenshot
  of each step kept as a test artifact (tests/browser.py: ``artifacts_dir``).
- The handout downloaded from the sidebar and opened with the network off: every image and chart renders;
  the appkey, the server's address and the uploaded file's name are not in it unless ticked in.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest

from facereco.ui.i18n import _, using

from .browser import artifacts_dir, running_dashboard, upload_photo, use_server, wait_until_idle

pytestmark = [pytest.mark.slow, pytest.mark.browser]

LOCALES = {"en": "en-US", "ja": "ja-JP", "ko": "ko-KR"}
WIDTHS = (1400, 1024)
# page (its URL path) -> the key of the button that shows its result (None: the page shows it on arrival)
PAGES = {
    "home": None,
    "detect": "detect-run",
    "compare": "compare-run",
    "search": "search-run",
    "verify": "verify-run",
    "groups": None,
    "tuning": "tuning-score",
    "live": None,
}
MORE_THAN_TWO_DECIMALS = re.compile(r"\d\.\d{3,}")
HEADLINE = ".st-key-facereco-headline"


@pytest.fixture(scope="module")
def demo_dashboard(tmp_path_factory):
    """One dashboard for the module on a local engine that already holds the demo group."""
    from facereco import FaceRecoClient
    from facereco.ui.session import ensure_demo_group

    data = tmp_path_factory.mktemp("presentation") / "data"
    client = FaceRecoClient.local(data)
    ensure_demo_group(client)
    client.transport.engine.close()
    with running_dashboard(data) as base:
        yield base


def go_to(page, path: str) -> None:
    """Within the session (the sidebar's link), so presentation mode must hold across pages on its own."""
    links = page.locator('[data-testid="stSidebarNav"] a')
    (links.first if path == "home" else links.and_(page.locator(f'a[href$="/{path}"]'))).click()
    wait_until_idle(page)


def resize(page, width: int) -> None:
    """A new window width: no script runs, the page only lays itself out again (a moment, not a run)."""
    if page.viewport_size["width"] != width:
        page.set_viewport_size({"width": width, "height": 1000})
        page.wait_for_timeout(600)


def visible_numbers_text(page) -> str:
    """All a viewer can read: the page's text, the tables' cells (canvas-drawn, mirrored in the DOM) and the
    charts' labels (SVG)."""
    cells = page.locator('[data-testid="stDataFrame"] [role="gridcell"]').all_text_contents()
    chart_text = page.locator(".js-plotly-plot svg text").all_text_contents()
    return "\n".join([page.locator("body").inner_text(), *cells, *chart_text])


def cut_texts(page) -> list[str]:
    """Every text on the page that is wider than its box and so ends in an ellipsis: metric values and
    labels, check box and other widget labels, in the page and the sidebar (not the file field itself)."""
    return page.eval_on_selector_all(
        "body *",
        """els => els.filter(e => e.tagName !== 'INPUT' && getComputedStyle(e).textOverflow === 'ellipsis'
                              && e.scrollWidth > e.clientWidth + 1).map(e => e.innerText)""",
    )


def check_audience_view(page, language: str, name: str, shots: Path, width: int) -> str:
    with using(language):
        panel = _("Request and raw response")
    assert page.locator('[data-testid="stException"]').count() == 0, name
    headline = page.locator(HEADLINE)
    assert headline.count() == 1, f"{name}: no headline"
    text = headline.inner_text().strip()
    assert text, f"{name}: empty headline"
    assert page.get_by_text(panel, exact=True).count() == 0, f"{name}: a request/response panel"
    long_numbers = MORE_THAN_TWO_DECIMALS.findall(visible_numbers_text(page))
    assert not long_numbers, f"{name} at {width} px: {long_numbers}"
    assert not cut_texts(page), f"{name} at {width} px: cut {cut_texts(page)}"
    page.wait_for_timeout(300)  # canvas tables paint a moment after the DOM settles
    page.screenshot(path=str(shots / f"{language}-{name}-{width}.png"))
    return text


@pytest.mark.parametrize("language", list(LOCALES))
def test_every_page_for_an_audience_then_for_the_engineer(browser, demo_dashboard: str, language: str):
    """Every page in presentation mode at both widths; then the switch off, and every page again at both
    widths from the results already kept (no button pressed): panels back, nothing cut, nothing lost."""
    shots = artifacts_dir(f"presentation-{language}")
    context = browser.new_context(locale=LOCALES[language], viewport={"width": WIDTHS[0], "height": 1000})
    page = context.new_page()
    page.goto(f"{demo_dashboard}/?present=1")
    wait_until_idle(page)
    page.locator(HEADLINE).wait_for(timeout=120_000)
    seen = {}
    for name, button in PAGES.items():
        if name != "home":
            go_to(page, name)
        if button:
            page.locator(f".st-key-{button} button").click()
        page.locator(HEADLINE).wait_for(timeout=120_000)
        wait_until_idle(page)
        for width in WIDTHS:
            resize(page, width)
            seen[name] = check_audience_view(page, language, name, shots, width)
        resize(page, WIDTHS[0])
    assert "present=1" in page.url  # the URL follows the mode: a presenter can copy it
    if language != "en":  # the headlines are in the audience's language: no English sentence left
        assert not [line for line in seen.values() if re.fullmatch(r"[\x00-\x7f“”—–…]+", line)], seen
    with using(language):
        assert seen["detect"] == _("One face found")
        panel = _("Request and raw response")

    page.locator(".st-key-present-choice label").click()
    wait_until_idle(page)
    assert "present=1" not in page.url
    for name in PAGES:
        go_to(page, name)
        for width in WIDTHS:
            resize(page, width)
            assert page.locator('[data-testid="stException"]').count() == 0, name
            assert page.locator(HEADLINE).count() == 0, name
            if name in ("detect", "compare", "search", "verify"):  # the result kept, its call's panel back
                assert page.get_by_text(panel, exact=True).count() == 1, name
                assert page.locator('[data-testid="stMain"] [data-testid="stImage"]').count() >= 2, name
            assert not cut_texts(page), f"{name} at {width} px: cut {cut_texts(page)}"
            page.screenshot(path=str(shots / f"{language}-{name}-{width}-engineer.png"))
        resize(page, WIDTHS[0])
    context.close()


def test_a_setting_hidden_for_an_audience_is_kept_for_the_tuner(browser, demo_dashboard: str):
    """Tuning's "Searches at once" is not drawn in presentation mode (a widget not drawn loses its state in
    Streamlit); switching the mode off shows the tuner's value again."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{demo_dashboard}/tuning")
    wait_until_idle(page)
    field = page.locator(".st-key-tuning-workers input")
    field.fill("3")
    field.press("Enter")
    wait_until_idle(page)
    for turn in ("on", "off"):
        page.locator(".st-key-present-choice label").click()
        wait_until_idle(page)
        if turn == "on":
            assert field.count() == 0
    assert field.input_value() == "3"
    page.close()


def test_the_guided_demo_end_to_end(browser, tmp_path: Path):
    """A fresh local engine, no data of one's own: Start, Next ×4, Finish, then the handout offline."""
    shots = artifacts_dir("guided-demo")
    with running_dashboard(tmp_path / "data") as base:
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        page.goto(base)
        wait_until_idle(page)
        page.locator(".st-key-guided-start button").wait_for(timeout=120_000)
        started = time.monotonic()
        page.locator(".st-key-guided-start button").click()
        lines = []
        for number, step in enumerate(("detect", "compare", "search", "verify", "tuning"), start=1):
            page.wait_for_url(re.compile(rf"/{step}(\?|$)"), timeout=120_000)  # Next has taken us there
            page.locator(".st-key-guided-next, .st-key-guided-finish").first.wait_for(timeout=120_000)
            page.locator(HEADLINE).wait_for(timeout=120_000)
            wait_until_idle(page)
            assert page.url.split("?")[0].endswith(f"/{step}"), page.url
            assert page.locator('[data-testid="stException"]').count() == 0, step
            assert page.get_by_text("Request and raw response", exact=True).count() == 0, step
            lines.append(page.locator(HEADLINE).inner_text().strip())
            page.screenshot(path=str(shots / f"{number}-{step}.png"))
            page.locator(".st-key-guided-next button, .st-key-guided-finish button").first.click()
        page.get_by_role("heading", name="Face Recognition dashboard").wait_for(timeout=60_000)
        wait_until_idle(page)
        elapsed = time.monotonic() - started
        page.screenshot(path=str(shots / "6-home.png"))
        assert elapsed < 120, f"the guided demo took {elapsed:.0f} s"
        assert lines[0] == "One face found" and lines[1].startswith("Not the same person")
        assert lines[2] == "2 of 4 faces found in group “demo”" and lines[3].startswith("Same person")
        assert lines[4].startswith("At threshold 90")
        handout = download_handout(page, tmp_path / "guided-handout.html")
        page.close()
    text = open_offline(browser, handout, shots / "handout.png", images=4, charts=3)
    for line in lines:
        assert line in text, line
    (shots / "elapsed.txt").write_text(f"{elapsed:.1f} s from Start to the end of Finish\n")


def test_the_guided_demo_keeps_an_appkey_typed_in_the_sidebar(browser, tmp_path: Path):
    """Each Next is a page switch, which drops every widget's state: the typed appkey must survive it."""
    from .servers import running_server

    with running_server(tmp_path / "server", ["typed-appkey"]) as server:
        allowed = {"FACERECO_ALLOWED_SERVERS": server.base_url}
        with running_dashboard(tmp_path / "dashboard", allowed) as base:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(base)
            wait_until_idle(page)
            use_server(page, server.base_url, "typed-appkey")
            page.locator(".st-key-guided-start button").click()
            for step in ("detect", "compare", "search"):
                page.wait_for_url(re.compile(rf"/{step}(\?|$)"), timeout=120_000)
                page.locator(HEADLINE).wait_for(timeout=120_000)
                wait_until_idle(page)
                assert page.get_by_text("Enter the appkey to connect.").count() == 0, step
                assert page.locator('[data-testid="stException"]').count() == 0, step
                page.locator(".st-key-guided-next button").click()
            assert "typed-appkey" not in page.url
            page.close()


def test_the_handout_leaves_out_the_appkey_the_address_and_file_names(browser, tmp_path: Path, astronaut_path: Path):
    """Against `serve` with a preset appkey: what the handout may name is what the presenter ticked in."""
    from facereco import FaceRecoClient

    from .servers import running_server

    appkey, private_name = "handout-secret-appkey-7f3a", "visitor **kim** [private](x) $y$ www.x.png"
    upload = tmp_path / private_name
    shutil.copy(astronaut_path, upload)
    with running_server(tmp_path / "server", [appkey]) as server:
        FaceRecoClient(appkey, server.base_url).create_group("staff")
        backend = {"FACERECO_APPKEY": appkey, "FACERECO_BASE_URL": server.base_url}
        with running_dashboard(tmp_path / "dashboard", backend) as base:
            page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
            page.goto(f"{base}/?present=1")  # Home's headline names the backend: the handout keeps it
            page.locator(HEADLINE).wait_for(timeout=120_000)
            go_to(page, "detect")
            upload_photo(page, upload)
            # a file name is shown as typed, never as bold, a link or a formula
            main = page.locator('[data-testid="stMain"]')
            assert main.get_by_text("visitor **kim** [private](x) $y$ www").count() >= 1
            assert main.locator("strong, a").filter(has_text=re.compile("kim|private|www")).count() == 0
            assert main.locator(".katex").count() == 0
            page.locator(".st-key-detect-run button").click()
            page.locator(HEADLINE).wait_for(timeout=120_000)
            wait_until_idle(page)
            plain = download_handout(page, tmp_path / "plain.html")
            page.locator('[data-testid="stSidebar"]').get_by_text("The handout may also name").click()
            for key in ("handout-file-names", "handout-address", "handout-appkey"):
                page.locator(f".st-key-{key} label").click()
                wait_until_idle(page)
            ticked = download_handout(page, tmp_path / "ticked.html")
            page.close()
        address = server.base_url.split("//", 1)[1]
    text = open_offline(browser, plain, artifacts_dir("handout") / "plain.png", images=1, charts=0)
    raw = plain.read_text()
    for secret in (appkey, appkey[4:], address, private_name):
        assert secret not in raw and secret not in text, secret
    assert "One face found" in text
    ticked_raw = ticked.read_text()
    assert private_name in ticked_raw and address in ticked_raw  # the ticks are what let them in
    assert appkey not in ticked_raw and appkey[4:] not in ticked_raw and "hand••••" in ticked_raw  # masked


def download_handout(page, path: Path) -> Path:
    button = page.locator(".st-key-handout-download button:visible")  # a page switch can leave a hidden stale copy
    with page.expect_download(timeout=60_000) as download:
        button.click()
    download.value.save_as(path)
    return path


def open_offline(browser, handout: Path, screenshot: Path, *, images: int, charts: int) -> str:
    """The handout in a context with the network off: every image decoded, every chart drawn, nothing
    asked of any host. Returns its visible text."""
    context = browser.new_context(offline=True, viewport={"width": 1200, "height": 900})
    asked: list[str] = []
    context.on("request", lambda request: asked.append(request.url))
    viewer = context.new_page()
    viewer.goto(handout.as_uri())
    viewer.wait_for_function(
        f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {charts}", timeout=30_000
    )
    drawn = viewer.eval_on_selector_all("img", "els => els.map(e => e.complete && e.naturalWidth > 0)")
    assert len(drawn) == images and all(drawn), drawn
    assert viewer.locator(".js-plotly-plot").count() == charts
    assert all(url.startswith(("file:", "data:", "blob:")) for url in asked), asked
    viewer.screenshot(path=str(screenshot), full_page=True)
    text = viewer.locator("body").inner_text()
    context.close()
    return text
