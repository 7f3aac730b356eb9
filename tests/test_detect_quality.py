"""Detect: a quality verdict per face, numbers for people, crops of one size (AppTest, real engine)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from PIL import Image, ImageFilter
from streamlit.testing.v1 import AppTest

from facereco.contract import BoundingBox, FaceDetail
from facereco.ui.drawing import CROP_SIDE, face_crops

from .app_engine import local_engine_at

APP = str(Path(__file__).resolve().parent.parent / "app.py")
MORE_THAN_TWO_DECIMALS = re.compile(r"\d\.\d{3,}")


@pytest.fixture(scope="module", autouse=True)
def engine_dir(tmp_path_factory):
    with local_engine_at(tmp_path_factory.mktemp("detect-quality-engine")):
        yield


def detect_table(data: bytes | None, *, mask: bool = False):
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    at.switch_page("pages/detect.py").run()
    if data is not None:
        at.radio(key="detect-source").set_value("upload").run()
        at.file_uploader(key="detect-upload").upload("photo.png", data, "image/png").run()
    if mask:
        at.checkbox(key="detect-mask").check().run()
    at.button(key="detect-run").click().run()
    assert not at.exception, at.exception
    return at, at.dataframe[0].value


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def assert_readable(table) -> None:
    for column in table.columns:
        for cell in table[column]:
            assert not MORE_THAN_TWO_DECIMALS.search(str(cell)), (column, cell)


@pytest.mark.slow
def test_the_sharp_astronaut_passes_and_a_sigma_3_blur_says_low_sharpness(astronaut_path: Path):
    at, sharp = detect_table(None)  # the default sample: the astronaut
    assert list(sharp["quality"]) == ["pass"]
    assert sharp["mask"][0] == "—"  # not asked
    assert isinstance(sharp["yaw"][0], int) or str(sharp["yaw"][0]).lstrip("-").isdigit()
    width, height = Image.open(astronaut_path).size
    box = [int(sharp[c][0]) for c in ("x0", "y0", "x1", "y1")]
    assert 0 <= box[0] < box[2] <= width and 0 <= box[1] < box[3] <= height and box[2] - box[0] > 60
    assert_readable(sharp)
    assert any("LOW_SHARPNESS" in m.value and "SMALL_BOUNDING_BOX" in m.value for m in at.markdown)  # the legend

    blurred = Image.open(astronaut_path).convert("RGB").filter(ImageFilter.GaussianBlur(3))
    at, table = detect_table(png(blurred), mask=True)
    assert "LOW_SHARPNESS" in table["quality"][0] and table["quality"][0].startswith("fail")
    assert table["mask"][0] in ("yes", "no")  # asked this time
    assert_readable(table)


@pytest.mark.slow
def test_pose_not_asked_reads_a_dash():
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    at.switch_page("pages/detect.py").run()
    at.checkbox(key="detect-orientation").uncheck().run()
    at.button(key="detect-run").click().run()
    table = at.dataframe[0].value
    assert [table[c][0] for c in ("yaw", "pitch", "roll")] == ["—", "—", "—"]


def test_face_crops_are_squares_of_one_size_even_at_the_edge():
    image = Image.new("RGB", (400, 200), (200, 10, 10))
    boxes = [BoundingBox(x0=0.1, y0=0.1, x1=0.2, y1=0.9), BoundingBox(x0=0.0, y0=0.0, x1=0.6, y1=0.3),
             BoundingBox(x0=0.9, y0=0.8, x1=1.0, y1=1.0)]  # fmt: skip
    faces = [FaceDetail(bbox=b, confidence=99.0, landmarks=[]) for b in boxes]
    crops = face_crops(image, faces)
    assert [c.size for c in crops] == [(CROP_SIDE, CROP_SIDE)] * 3


@pytest.mark.slow
def test_groups_register_results_show_each_face_quality(astronaut_path: Path):
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    at.switch_page("pages/groups.py").run()
    at.text_input(key="groups-new-id").set_value("graded").run()
    at.button(key="groups-create").click().run()
    sharp = Image.open(astronaut_path).convert("RGB")
    uploader = at.file_uploader(key="groups-register-files")
    uploader.upload("sharp.png", png(sharp), "image/png")
    uploader.upload("blurred.png", png(sharp.filter(ImageFilter.GaussianBlur(3))), "image/png")
    at.run()
    at.button(key="groups-register").click().run()
    assert not at.exception, at.exception
    rows = {r["file"]: r for r in at.session_state["groups-register-rows"]}
    assert rows["sharp.png"]["quality"] == "pass"
    assert rows["blurred.png"]["quality"].startswith("fail") and "LOW_SHARPNESS" in rows["blurred.png"]["quality"]
    assert any("quality" in d.value.columns for d in at.dataframe)  # shown in the result table


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.parametrize("width", [1400, 1024])
def test_the_detect_table_reads_as_people_read_it_in_a_real_browser(browser, tmp_path: Path, width: int):
    """What a user sees in the grid (headless Chromium): the verdict, pixels, a dash, at most 2 decimals."""
    from .browser import running_dashboard, wait_until_idle

    with running_dashboard(tmp_path / "data") as base:
        page = browser.new_page(viewport={"width": width, "height": 1000})
        page.goto(f"{base}/detect")
        wait_until_idle(page)
        page.get_by_role("button", name="Detect faces").click()  # the astronaut sample
        page.get_by_text("1 face(s) in").wait_for(timeout=120_000)
        wait_until_idle(page)
        cells = page.locator('[data-testid="stDataFrame"] [role="gridcell"]').all_inner_texts()
        page.close()
    assert "pass" in cells and cells[-1] == "—", " | ".join(cells)  # the verdict; the last column (mask) not asked
    assert not [c for c in cells if MORE_THAN_TWO_DECIMALS.search(c)], cells
    box = [c for c in cells if c.isdigit()]
    assert len(box) >= 5, cells  # face number and the box's four pixel corners, as integers
