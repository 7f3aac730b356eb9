"""The LFW demo gallery: scikit-learn's loader cache seeded from ../shared/faces/lfw-dev (skipped when
absent), so no download is ever attempted here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from facereco.ui.gallery import GalleryUnavailable, choose_people, lfw_folder
from facereco.ui.session import local_transport

from .app_engine import local_engine_at

pytestmark = pytest.mark.slow
APP = str(Path(__file__).resolve().parent.parent / "app.py")
SEEDED_PEOPLE = 4


def seed_lfw_cache(lfw_dev: Path, data_home: Path, people: int = SEEDED_PEOPLE) -> None:
    """The layout fetch_lfw_people checks: lfw_home/<pairs files> and lfw_funneled/<Name>/<Name>_NNNN.jpg
    (lfw-dev's slug folders hold the original file names); photos are linked, not copied."""
    lfw_home = data_home / "lfw_home"
    for name in ("pairsDevTrain.txt", "pairsDevTest.txt", "pairs.txt"):
        (lfw_home / name).parent.mkdir(parents=True, exist_ok=True)
        (lfw_home / name).write_text("")
    slugs = [d for d in sorted(lfw_dev.iterdir()) if d.is_dir() and len(list(d.glob("*.jpg"))) >= 3][:people]
    for slug in slugs:
        for photo in sorted(slug.glob("*.jpg")):
            person = lfw_home / "lfw_funneled" / photo.stem.rsplit("_", 1)[0]
            person.mkdir(parents=True, exist_ok=True)
            (person / photo.name).symlink_to(photo.resolve())


@pytest.fixture(scope="module")
def seeded_cache(shared_faces: Path, tmp_path_factory) -> Path:
    data_home = tmp_path_factory.mktemp("scikit-learn-data")
    seed_lfw_cache(shared_faces / "lfw-dev", data_home)
    return data_home


def test_the_loader_finds_the_cache_and_people_are_chosen_by_name(seeded_cache: Path):
    folder = lfw_folder(seeded_cache, download=False)
    chosen = choose_people(folder, people=3, per_person=2)
    assert [len(photos) for _, photos in chosen] == [2, 2, 2]
    assert [name for name, _ in chosen] == sorted(name for name, _ in chosen)


def test_without_the_cache_and_no_download_it_says_so(tmp_path: Path):
    with pytest.raises(GalleryUnavailable):
        lfw_folder(tmp_path / "empty", download=False)


def test_home_builds_the_gallery_with_progress_and_resumes(seeded_cache: Path, tmp_path: Path):
    with local_engine_at(tmp_path / "engine", SCIKIT_LEARN_DATA=str(seeded_cache)):
        at = AppTest.from_file(APP, default_timeout=300)
        at.run()
        faces_before = int({m.label: m.value for m in at.metric}["Faces"].replace(",", ""))
        at.number_input(key="lfw-people").set_value(3)
        at.number_input(key="lfw-per-person").set_value(2).run()
        at.button(key="build-lfw").click().run()
        assert not at.exception, at.exception
        sentence = " ".join(s.value for s in at.success)
        assert "`lfw-gallery` is ready: 3 people" in sentence and "0 already there" in sentence, sentence
        added = int(sentence.split(" face(s) added")[0].rsplit(" ", 1)[-1])
        assert added >= 5  # six LFW photos; a funneled photo may rarely hold no recognisable face
        assert int({m.label: m.value for m in at.metric}["Faces"].replace(",", "")) == faces_before + added
        at.button(key="build-lfw").click().run()
        again = " ".join(s.value for s in at.success)
        assert "0 face(s) added" in again and f"{added} already there" in again, again
    local_transport.clear()
    assert os.environ.get("SCIKIT_LEARN_DATA") != str(seeded_cache)
