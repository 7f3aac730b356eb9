"""Drive the real dashboard in Debian's headless Chromium with Playwright (shared by the e2e test and the
README screenshot script)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from .servers import free_port

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def artifacts_dir(name: str) -> Path:
    """Where a browser test keeps its screenshots for people to look at after the run:
    ``$FACERECO_SCREENSHOT_DIR/<name>``, else ``out/test-artifacts/<name>`` in the checkout (ignored by git)."""
    root = Path(os.environ.get("FACERECO_SCREENSHOT_DIR") or ROOT / "out" / "test-artifacts")
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def browser_missing_reason() -> str | None:
    """Why the browser test cannot run here, or None."""
    if not Path(CHROMIUM).exists():
        return "Debian's chromium is not installed (make browser, as root)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    return None


@contextmanager
def running_dashboard(data_dir: Path, backend: dict[str, str] | None = None) -> Iterator[str]:
    """`streamlit run app.py` on loopback; yields the base URL.

    The local engine in ``data_dir`` by default; ``backend`` (FACERECO_APPKEY, FACERECO_BASE_URL) for a server.
    """
    port = free_port()
    env = {**os.environ, "FACERECO_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}
    env.pop("FACERECO_APPKEY", None)
    env.update(backend or {})
    log = open(data_dir.parent / f"streamlit-{port}.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [
            sys.executable, "-m", "streamlit", "run", "app.py",
            "--server.headless", "true", "--server.address", "127.0.0.1", "--server.port", str(port),
            "--browser.gatherUsageStats", "false",
        ],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if requests.get(f"{base}/_stcore/health", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("streamlit did not start")
            time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def use_server(page, base_url: str, appkey: str) -> None:
    """The sidebar's *Another server*, its base URL and an appkey typed in, as a visitor does."""
    page.locator('[data-testid="stSidebar"]').get_by_text("Another server", exact=True).click()
    wait_until_idle(page)
    page.get_by_label("Base URL").fill(base_url)
    page.get_by_label("Base URL").press("Enter")
    wait_until_idle(page)
    page.get_by_label("Appkey").fill(appkey)
    page.get_by_label("Appkey").press("Enter")
    wait_until_idle(page)


def upload_photo(page, path: Path) -> None:
    """The first image input on the page set to *Upload*, and ``path`` given to its file field."""
    page.get_by_text("Upload", exact=True).first.click()
    wait_until_idle(page)
    page.locator('input[type="file"]').first.set_input_files(str(path))
    wait_until_idle(page)


def wait_until_idle(page, timeout_ms: int = 120_000) -> None:
    """The app is drawn over a websocket after load: wait for the container, then until no run is in
    progress and the main area has stopped changing for half a second."""
    page.wait_for_selector('[data-testid="stAppViewContainer"]', timeout=timeout_ms)
    # a run triggered just now may not have shown its status yet (a busy machine): give it a moment;
    # when no run started, the wait times out and there is nothing to wait for
    with contextlib.suppress(Exception):
        page.wait_for_selector('[data-testid="stStatusWidget"]', state="attached", timeout=1500)
    deadline = time.monotonic() + timeout_ms / 1000
    previous = None
    while time.monotonic() < deadline:
        page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=timeout_ms)
        current = page.locator('[data-testid="stMain"]').inner_html()
        if current == previous:
            return
        previous = current
        page.wait_for_timeout(500)
    raise TimeoutError("the page did not settle")
