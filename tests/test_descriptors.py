"""Descriptor versions (issue #19): old groups answer as before, new groups hold the mirrored average.

``fixtures/v1_0_data`` is a data folder written by facereco's commit a625f94, the engine before
descriptor versions (``fixtures/v1_0_data/make.py`` says how), with what that engine answered.
"""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facereco import FaceRecoClient
from facereco.engine.descriptors import MIRRORED_LOOK, NEWEST, SINGLE_LOOK
from facereco.engine.embed_worker import CHIP_PADDING, CHIP_SIDE
from facereco.engine.images import decode_image
from facereco.engine.store import DB_FILE_NAME, SCHEMA_VERSION
from facereco.engine.vision import FaceAnalyzer, shared_analyzer
from facereco.transport import LocalTransport

pytestmark = pytest.mark.slow

OLD_DATA = Path(__file__).parent / "fixtures" / "v1_0_data"


def jpeg(path: Path) -> bytes:
    buffer = io.BytesIO()
    Image.open(path).convert("RGB").save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def stored_vectors(client: FaceRecoClient, group_id: str) -> dict[str, np.ndarray]:
    engine = client.transport.engine
    owner = engine.secrets.appkey_digest(LocalTransport.LOCAL_APPKEY)
    _, columns = engine.service.store.load_group(owner, group_id)
    return dict(zip(columns.face_ids, columns.vectors, strict=True))


@pytest.fixture
def upgraded(tmp_path: Path) -> tuple[FaceRecoClient, dict]:
    """Today's engine on a copy of the data folder the engine before versions wrote."""
    shutil.copytree(OLD_DATA / "data", tmp_path / "data")
    return FaceRecoClient.local(tmp_path / "data"), json.loads((OLD_DATA / "expected.json").read_text())


def matches(result) -> list[tuple[str, float]]:
    return [(m.face.face_id, m.similarity) for m in result.match_faces]


def assert_same_matches(got: list[tuple[str, float]], expected: list[list]) -> None:
    assert [face_id for face_id, _ in got] == [face_id for face_id, _ in expected]
    for (_, similarity), (_, before) in zip(got, expected, strict=True):
        assert similarity == pytest.approx(before, abs=2e-4)  # answers are rounded to 4 decimals


def test_an_old_data_folder_is_searched_with_the_same_faces_and_similarities(upgraded):
    client, expected = upgraded
    group = client.get_group("before").group
    assert expected["model_version"] == group.model_version == SINGLE_LOOK and group.face_count == 2
    for name, before in expected["search_by_image"].items():
        result = client.search_by_image("before", (OLD_DATA / name).read_bytes(), threshold=1, limit=10)
        assert result.model_version == SINGLE_LOOK
        assert_same_matches(matches(result), before)
        for label, similarity in expected["verify"][name].items():
            face_id = expected["faces"][label]
            assert client.verify("before", face_id, (OLD_DATA / name).read_bytes()).similarity == pytest.approx(
                similarity, abs=2e-4
            )
    for label, before in expected["search_by_face_id"].items():
        result = client.search_by_face_id("before", expected["faces"][label], threshold=1, limit=10)
        assert_same_matches(matches(result), before)


def test_the_store_migrates_without_loss_and_new_groups_get_the_newest_version(upgraded, tmp_path):
    client, expected = upgraded
    assert client.list_faces("before").model_version == SINGLE_LOOK
    assert {f.face_id for f in client.list_faces("before").faces} == set(expected["faces"].values())
    client.create_group("after")
    assert client.get_group("after").group.model_version == NEWEST == MIRRORED_LOOK
    versions = {g.group_id: g.model_version for g in client.list_groups().groups}
    assert versions == {"before": SINGLE_LOOK, "after": MIRRORED_LOOK}
    with sqlite3.connect(tmp_path / "data" / DB_FILE_NAME) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4


def test_register_into_an_old_group_stores_the_old_descriptor(upgraded, astronaut_path):
    client, _ = upgraded
    data = jpeg(astronaut_path)
    added = client.register_faces("before", data, external_image_id="again")
    assert added.model_version == SINGLE_LOOK
    rgb = decode_image(data).rgb
    analyzer = shared_analyzer()
    face = analyzer.detect(rgb)[0]
    stored = stored_vectors(client, "before")[added.added_faces[0].face_id]
    assert np.array_equal(stored, analyzer.embed(rgb, face, SINGLE_LOOK))
    assert not np.allclose(stored / np.linalg.norm(stored), analyzer.embed(rgb, face, MIRRORED_LOOK), atol=1e-3)


def recomputed_mirrored_average(rgb: np.ndarray) -> np.ndarray:
    """The v1.1 descriptor from dlib's calls here: the chip, its mirror, the unit mean of their unit descriptors."""
    import dlib

    analyzer = shared_analyzer()
    face = analyzer.detect(rgb)[0]
    chip = dlib.get_face_chip(rgb, face.shape, CHIP_SIDE, CHIP_PADDING)
    embedder = analyzer._embedder.get()
    plain, mirror = (
        np.asarray(embedder.compute_face_descriptor([c]), dtype=np.float32)[0].astype(np.float64)
        for c in (chip, np.ascontiguousarray(chip[:, ::-1]))
    )
    mean = plain / np.linalg.norm(plain) + mirror / np.linalg.norm(mirror)
    return (mean / np.linalg.norm(mean)).astype(np.float32)


def test_a_new_groups_descriptor_is_the_mirrored_average(tmp_path, grace_hopper_path):
    client = FaceRecoClient.local(tmp_path / "data")
    client.create_group("new")
    data = jpeg(grace_hopper_path)
    added = client.register_faces("new", data)
    assert added.model_version == MIRRORED_LOOK
    stored = stored_vectors(client, "new")[added.added_faces[0].face_id]
    assert np.array_equal(stored, recomputed_mirrored_average(decode_image(data).rgb))


def test_one_face_gives_the_same_vector_with_the_worker_up_or_down(astronaut_path, tmp_path):
    rgb = decode_image(jpeg(astronaut_path)).rgb
    up = FaceAnalyzer(tmp_path, embed_worker=True)
    up.warm_up()
    try:
        assert up.embed_worker is not None and up.embed_worker.ready
        face = up.detect(rgb)[0]
        before = up.embed_worker.chips_embedded
        with_worker = up.embed(rgb, face)
        assert up.embed_worker.chips_embedded - before == 1, "the mirror chip went to the worker"
        up.close()  # the worker down: everything embeds here
        assert np.array_equal(up.embed(rgb, face), with_worker)
    finally:
        up.close()
    alone = FaceAnalyzer(tmp_path, embed_worker=False)  # one CPU, or FACERECO_EMBED_WORKER=0
    assert np.array_equal(alone.embed(rgb, alone.detect(rgb)[0]), with_worker)
    assert np.array_equal(with_worker, recomputed_mirrored_average(rgb))


def test_the_sliders_show_the_rates_of_the_groups_version():
    from facereco.ui.threshold import calibration_meaning

    assert "missed matches 7.25%" in calibration_meaning(90, SINGLE_LOOK)
    assert "missed matches 5.38%" in calibration_meaning(90, MIRRORED_LOOK)
    assert calibration_meaning(90) == calibration_meaning(90, NEWEST) == calibration_meaning(90, "v9.9")


class _ReCreatedMidway:
    """The engine's own analyzer, except that another engine on the same folder deletes the group and
    creates it again (now of the newest version) right after this request embedded its faces: the
    interleaving two processes can produce, made deterministic."""

    def __init__(self, real: FaceAnalyzer, other: FaceRecoClient, group_id: str, photo: bytes) -> None:
        self.real, self.other, self.group_id, self.photo = real, other, group_id, photo

    def __getattr__(self, name: str):
        return getattr(self.real, name)

    def _re_create(self) -> None:
        self.other.delete_group(self.group_id)
        self.other.create_group(self.group_id)
        self.other.register_faces(self.group_id, self.photo, external_image_id="new")

    def embed(self, rgb, face, version=NEWEST):
        vector = self.real.embed(rgb, face, version)
        self._re_create()
        return vector

    def embed_all(self, rgb, faces, version=NEWEST):
        vectors = self.real.embed_all(rgb, faces, version)
        self._re_create()
        return vectors


@pytest.mark.parametrize("call", ["register", "search_by_image"])
def test_a_group_created_again_mid_request_never_mixes_descriptor_versions(upgraded, astronaut_path, call):
    """An old (v1.0) group deleted and created again (v1.1) while a request embedded its query the v1.0
    way: the request is refused with -40030, no v1.0 vector lands in the new group, no v1.0 query is
    scored against v1.1 vectors."""
    from facereco.errors import NotFoundGroup

    client, _ = upgraded
    group_id = "before"
    other = FaceRecoClient.local(client.transport.engine.data_dir)
    photo = jpeg(astronaut_path)
    service = client.transport.engine.service
    assert client.get_group(group_id).group.model_version == SINGLE_LOOK
    service.analyzer = _ReCreatedMidway(service.analyzer, other, group_id, photo)
    try:
        with pytest.raises(NotFoundGroup, match="created again"):
            if call == "register":
                client.register_faces(group_id, photo, external_image_id="racer")
            else:
                client.search_by_image(group_id, photo, threshold=1)
    finally:
        service.analyzer = service.analyzer.real
    assert client.get_group(group_id).group.model_version == MIRRORED_LOOK
    assert [f.external_image_id for f in client.iter_faces(group_id)] == ["new"]
    for vector in stored_vectors(client, group_id).values():
        assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)  # v1.1 vectors are unit length
