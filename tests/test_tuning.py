"""Threshold tuning end to end: a labeled set from package photos, enrolled, scored through the API, and the page."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageOps
from streamlit.testing.v1 import AppTest

from facereco import FaceRecoClient
from facereco.tuning import enroll, identity_of, labeled_external_id, labeled_images, score_group
from facereco.ui.session import CLIENT_KEY

pytestmark = pytest.mark.slow
APP = str(Path(__file__).resolve().parent.parent / "app.py")


def variants(image: Image.Image) -> dict[str, Image.Image]:
    return {
        "original.jpg": image,
        "mirror.jpg": ImageOps.mirror(image),
        "bright.jpg": ImageEnhance.Brightness(image).enhance(1.3),
    }


@pytest.fixture(scope="module")
def labeled_dir(tmp_path_factory, astronaut_path, grace_hopper_path) -> Path:
    """Two identities, three augmented copies each: <identity>/<image>."""
    root = tmp_path_factory.mktemp("labeled")
    for identity, path in (("astronaut", astronaut_path), ("grace hopper", grace_hopper_path)):
        (root / identity).mkdir()
        for name, image in variants(Image.open(path).convert("RGB")).items():
            image.save(root / identity / name, quality=92)
    return root


def zipped(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.glob("*/*")):
            archive.write(path, f"set/{path.parent.name}/{path.name}")
    return buffer.getvalue()


def test_label_convention():
    assert labeled_external_id("grace hopper", "a b.jpg") == "grace_hopper:a_b.jpg"
    assert identity_of("grace_hopper:a_b.jpg") == "grace_hopper"
    assert identity_of("plain.jpg") is None and identity_of(None) is None and identity_of(":x") is None


def test_labeled_images_from_folder_and_zip(labeled_dir: Path):
    from_folder = [(i, n) for i, n, _ in labeled_images(labeled_dir)]
    from_zip = [(i, n) for i, n, _ in labeled_images(zipped(labeled_dir))]
    assert len(from_folder) == 6 and sorted(from_folder) == sorted(from_zip)


def test_enroll_is_resumable_and_scores_every_pair(tmp_path: Path, labeled_dir: Path):
    client = FaceRecoClient.local(tmp_path)
    client.create_group("labeled")
    first = enroll(client, "labeled", zipped(labeled_dir))
    assert (first.added, first.skipped, first.failed) == (6, 0, [])
    again = enroll(client, "labeled", labeled_dir)
    assert (again.added, again.skipped) == (0, 6)
    client.register_faces("labeled", labeled_dir / "astronaut" / "original.jpg", external_image_id="unlabeled.jpg")

    scores = score_group(client, "labeled")
    assert len(scores.faces) == 6  # the unlabeled face is left out
    assert scores.pair_count == 15
    score_set = scores.score_set
    assert score_set.genuine.size == 6 and score_set.impostor.size == 9
    assert score_set.genuine.min() > score_set.impostor.max()  # two very different people
    # a pair's score is what the API says for it
    a, b = scores.faces[scores.pair_a[0]], scores.faces[scores.pair_b[0]]
    direct = client.search_by_face_id("labeled", a.face_id, threshold=1, limit=10)
    said = {m.face.face_id: m.similarity for m in direct.match_faces}
    assert scores.scores[0] == pytest.approx(said.get(b.face_id, 0.0))
    assert np.all(scores.top_is_mate) and np.all(scores.has_mate)
    csv = scores.to_csv().splitlines()
    assert csv[0].startswith("similarity,genuine") and len(csv) == 1 + scores.scores.size
    hardest = scores.hardest(genuine=False, count=1)[0]
    assert hardest["similarity"] == pytest.approx(score_set.impostor.max())


def test_enroll_command_line(tmp_path: Path, labeled_dir: Path):
    def run() -> str:
        command = [sys.executable, "-m", "facereco", "--data-dir", str(tmp_path), "enroll", str(labeled_dir)]
        return subprocess.run(
            command + ["--group", "cli"], capture_output=True, text=True, timeout=300, check=True
        ).stdout

    assert '"added": 6' in run()
    assert '"alreadyThere": 6' in run()


def test_enroll_command_line_fails_when_a_file_failed(tmp_path: Path, labeled_dir: Path):
    """A file the API refuses is named on stderr and the exit status says so (scripts and CI see it)."""
    import shutil

    source = tmp_path / "set"
    shutil.copytree(labeled_dir, source)
    (source / "astronaut" / "broken.jpg").write_bytes(b"not a JPEG at all")
    command = [sys.executable, "-m", "facereco", "--data-dir", str(tmp_path / "data"), "enroll", str(source)]
    finished = subprocess.run(command + ["--group", "cli"], capture_output=True, text=True, timeout=300)
    assert finished.returncode == 1
    assert "astronaut/broken.jpg" in finished.stderr and '"added": 6' in finished.stdout


def test_tuning_page_draws_and_the_slider_moves_the_rates(tmp_path: Path, labeled_dir: Path, monkeypatch):
    monkeypatch.setenv("FACERECO_DATA_DIR", str(tmp_path))  # used if the app's engine is not cached yet
    monkeypatch.delenv("FACERECO_APPKEY", raising=False)
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    client = at.session_state[CLIENT_KEY]
    client.ensure_group("tuning-page")
    enroll(client, "tuning-page", labeled_dir)
    at.switch_page("pages/tuning.py").run()
    at.selectbox(key="tuning-group").set_value("tuning-page").run()
    at.button(key="tuning-score").click().run()
    assert not at.exception, at.exception
    assert len(at.get("plotly_chart")) == 3  # histograms, DET, ROC

    def rates() -> dict[str, str]:
        return {m.label: m.value for m in at.metric}

    at.slider(key="tuning-threshold").set_value(1).run()
    low = rates()
    at.slider(key="tuning-threshold").set_value(100).run()
    high = rates()
    assert low["FMR"] == "100.000%" and low["FNMR"] == "0.00%"
    assert high["FMR"] == "0.000%" and high["FNMR"] != "0.00%"
    assert any("rule of three" in w.value for w in at.warning)  # 9 impostor pairs support no FMR target
    at.button(key="tuning-default").click().run()
    assert at.slider(key="tuning-threshold").value == 90
