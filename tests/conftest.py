"""Shared fixtures: package photos (real faces that install with ordinary packages) and shared data paths."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from facereco.samples import package_photo

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("FACERECO_SHARED_DIR", ROOT.parent / "shared"))
SHARED_FACES = SHARED / "faces"


@pytest.fixture(scope="session")
def astronaut_path() -> Path:
    return package_photo("astronaut")


@pytest.fixture(scope="session")
def grace_hopper_path() -> Path:
    return package_photo("grace_hopper")


@pytest.fixture(scope="session")
def coffee_path() -> Path:
    return package_photo("coffee")


@pytest.fixture(scope="session")
def chelsea_path() -> Path:
    return package_photo("chelsea")


@pytest.fixture(scope="session")
def tiny_png() -> bytes:
    """A small valid PNG (no face): enough for tests where the remote side is faked."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (96, 96), (120, 130, 140)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="session")
def shared_faces() -> Path:
    if not SHARED_FACES.is_dir():
        pytest.skip(f"labeled photos not found at {SHARED_FACES} (the shared/ folder beside the checkout)")
    return SHARED_FACES


@pytest.fixture(scope="session")
def playwright():
    """One Playwright driver for the whole run (its sync API allows one at a time); skipped with the reason
    when Debian's Chromium or the package is absent (tests/browser.py)."""
    from .browser import browser_missing_reason

    reason = browser_missing_reason()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright):
    """Debian's headless Chromium, shared by the browser tests (each opens its own pages or contexts)."""
    from .browser import CHROMIUM, CHROMIUM_FLAGS

    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
    yield browser
    browser.close()
