"""Take the README's screenshots: the real dashboard on a fresh local engine, in headless Chromium.

    .venv/bin/python scripts/readme_screenshots.py      (needs Debian's chromium: make browser)

Writes docs/screenshots/<page>.png (the engineer's view), docs/screenshots/present-<page>.png (the same
story in presentation mode, along the guided demo) and a few pages in Japanese and Korean, shrunk to stay
small in the repository.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from facereco.ui.i18n import _, using  # noqa: E402
from tests.browser import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_FLAGS,
    browser_missing_reason,
    running_dashboard,
    wait_until_idle,
)

OUT = ROOT / "docs" / "screenshots"


def shrink(path: Path, limit: int = 200_000) -> None:
    """Resize and reduce colours until the PNG is under ``limit`` bytes (the repository stays small)."""
    original = Image.open(path).convert("RGB")
    for width, colors in ((1100, 192), (1100, 128), (1000, 128), (900, 128), (900, 96), (800, 96)):
        image = original.resize((width, round(original.height * width / original.width)), Image.Resampling.LANCZOS)
        image.quantize(colors=colors, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
        if path.stat().st_size < limit:
            return


LOCALES = {"en": "en-US", "ja": "ja-JP", "ko": "ko-KR"}
TRANSLATED_SHOTS = ("compare", "search")  # two pages in Japanese and in Korean


def main() -> None:
    reason = browser_missing_reason()
    if reason:
        sys.exit(f"cannot take screenshots: {reason}")
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_dashboard(Path(tmp) / "data") as base,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        for language, locale in LOCALES.items():
            # the dashboard's language defaults to the browser's: each visit is a new session in ``locale``
            page = browser.new_page(viewport={"width": 1440, "height": 1000}, locale=locale)
            shots = Shots(page, base, language)
            if language == "en":
                shots.english_tour()
            else:
                shots.translated_tour()
            page.close()
            # presentation mode: a new session, the guided demo from Home (it builds the demo group itself)
            page = browser.new_page(viewport={"width": 1440, "height": 1000}, locale=locale)
            Shots(page, base, language).presentation_tour()
            page.close()
        browser.close()


class Shots:
    """One language's screenshots; button names come from the same catalog as the dashboard's."""

    def __init__(self, page, base: str, language: str) -> None:
        self.page, self.base, self.language = page, base, language

    def visit(self, path: str) -> None:
        self.page.goto(f"{self.base}/{path}")
        wait_until_idle(self.page)

    def click(self, msgid: str) -> None:
        with using(self.language):
            name = _(msgid)
        self.page.get_by_role("button", name=name).first.click()
        wait_until_idle(self.page)

    def shoot(self, name: str, full_page: bool = False) -> None:
        if self.language != "en" and name.startswith("present-") and name != "present-compare":
            return  # one presentation page per translation is enough for the README
        suffix = "" if self.language == "en" else f".{self.language}"
        path = OUT / f"{name}{suffix}.png"
        if full_page:  # Streamlit scrolls inside its main area, so "full page" is a tall viewport
            self.page.set_viewport_size({"width": 1440, "height": 2000})
            wait_until_idle(self.page)
        self.page.wait_for_timeout(1500)  # let canvas-drawn tables and charts paint
        self.page.screenshot(path=str(path))
        self.page.set_viewport_size({"width": 1440, "height": 1000})
        shrink(path)
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size:,} bytes")

    def english_tour(self) -> None:
        self.visit("")
        self.click("Build the demo group")
        self.shoot("home")
        self.visit("detect")
        self.click("Detect faces")
        self.shoot("detect")
        self.visit("compare")
        self.click("Compare")
        self.shoot("compare", full_page=True)
        self.visit("search")
        self.click("Search")
        self.shoot("search", full_page=True)
        self.visit("verify")
        self.click("Verify")
        self.shoot("verify")
        self.visit("groups")
        self.shoot("groups")
        self.visit("tuning")
        self.click("Score this group")
        self.shoot("tuning", full_page=True)

    def presentation_tour(self) -> None:
        """Home's "Start the guided demo", then each step as the audience sees it, Next to the following."""
        self.visit("?present=1")
        self.page.locator(".st-key-guided-start button").click()
        for step in ("detect", "compare", "search", "verify", "tuning"):
            self.page.wait_for_url(re.compile(rf"/{step}(\?|$)"), timeout=120_000)
            self.page.locator(".st-key-facereco-headline").wait_for(timeout=120_000)
            wait_until_idle(self.page)
            self.shoot(f"present-{step}", full_page=step in ("compare", "search", "tuning"))
            self.page.locator(".st-key-guided-next button, .st-key-guided-finish button").first.click()
        wait_until_idle(self.page)

    def translated_tour(self) -> None:
        for name in TRANSLATED_SHOTS:
            self.visit(name)
            self.click(name.capitalize())
            self.shoot(name, full_page=True)


if __name__ == "__main__":
    main()
