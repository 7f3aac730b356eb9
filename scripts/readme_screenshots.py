"""Take the README's screenshots: the real dashboard on a fresh local engine, in headless Chromium.

    .venv/bin/python scripts/readme_screenshots.py      (needs Debian's chromium: make browser)

Writes docs/screenshots/<page>.png, shrunk to stay small in the repository.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_FLAGS,
    browser_missing_reason,
    running_dashboard,
    wait_until_idle,
)

OUT = ROOT / "docs" / "screenshots"


def shrink(path: Path, width: int = 1100) -> None:
    image = Image.open(path).convert("RGB")
    image = image.resize((width, round(image.height * width / image.width)), Image.Resampling.LANCZOS)
    image.quantize(colors=192, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


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
        page = browser.new_page(viewport={"width": 1440, "height": 1000})

        def visit(path: str) -> None:
            page.goto(f"{base}/{path}")
            wait_until_idle(page)

        def click(name: str) -> None:
            page.get_by_role("button", name=name).first.click()
            wait_until_idle(page)

        def shoot(name: str, full_page: bool = False) -> None:
            path = OUT / f"{name}.png"
            page.wait_for_timeout(800)  # let canvas-drawn tables and charts paint
            page.screenshot(path=str(path), full_page=full_page)
            shrink(path)
            print(f"{path.relative_to(ROOT)}: {path.stat().st_size:,} bytes")

        visit("")
        click("Build the demo group")
        visit("")
        shoot("home")
        visit("detect")
        click("Detect faces")
        shoot("detect")
        visit("compare")
        click("Compare")
        shoot("compare", full_page=True)
        visit("search")
        click("Search")
        shoot("search", full_page=True)
        visit("verify")
        click("Verify")
        shoot("verify")
        visit("groups")
        shoot("groups")
        visit("tuning")
        click("Score this group")
        shoot("tuning", full_page=True)
        browser.close()


if __name__ == "__main__":
    main()
