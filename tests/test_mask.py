"""The mask model: converted from Keras to ONNX by our converter, cached, and able to say yes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from facereco.contract import MIN_FACE_SIDE
from facereco.engine.images import decode_image
from facereco.engine.keras_onnx import UnsupportedLayer, convert
from facereco.engine.mask import MaskClassifier, cache_path, file_sha256, model_file
from facereco.engine.vision import FaceAnalyzer, crop_face, shared_analyzer
from tests.conftest import SHARED_FACES

pytestmark = pytest.mark.slow

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@pytest.fixture(scope="module")
def classifier(tmp_path_factory) -> MaskClassifier:
    return MaskClassifier(tmp_path_factory.mktemp("models"))


def _largest_face_crop(rgb: np.ndarray, margin: float = 0.1) -> np.ndarray | None:
    faces = shared_analyzer().detect(rgb)
    return crop_face(rgb, faces[0].box, margin) if faces else None


def package_face_crops(paths: list[Path]) -> list[np.ndarray]:
    """25 real face crops per package photo: margins, mirror, brightness, contrast and scale vary."""
    crops = []
    for path in paths:
        photo = Image.open(path).convert("RGB")
        for margin in (0.0, 0.1, 0.2, 0.3, 0.4):
            for variant in (
                photo,
                photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
                ImageEnhance.Brightness(photo).enhance(0.7),
                ImageEnhance.Contrast(photo).enhance(1.3),
                photo.resize((photo.width // 2, photo.height // 2)),
            ):
                crop = _largest_face_crop(np.asarray(variant), margin)
                assert crop is not None, f"no face in a variant of {path.name}"
                crops.append(crop)
    return crops


def masked_face_crops(folder: Path) -> list[np.ndarray]:
    """The largest detected face of every photo under ``folder``."""
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    crops = [_largest_face_crop(decode_image(p.read_bytes()).rgb) for p in paths]
    return [c for c in crops if c is not None]


def test_converted_model_matches_keras_on_real_faces(classifier, astronaut_path, grace_hopper_path):
    if importlib.util.find_spec("keras") is None:
        pytest.skip("keras is not installed (requirements-dev.txt): the reference model cannot be loaded")
    from benchmarks.keras_reference import keras_mask_model, keras_probabilities

    crops = package_face_crops([astronaut_path, grace_hopper_path])
    if (SHARED_FACES / "masked").is_dir():
        crops += masked_face_crops(SHARED_FACES / "masked")
    assert len(crops) >= 50
    converted = classifier.probabilities(crops)
    reference = keras_probabilities(keras_mask_model(), crops)
    assert converted.shape == reference.shape == (len(crops), 2)
    assert np.abs(converted - reference).max() <= 1e-4
    assert np.array_equal(converted[:, 0] >= 0.5, reference[:, 0] >= 0.5)


def test_cache_is_keyed_by_the_source_hash_and_reused(tmp_path):
    first = MaskClassifier(tmp_path)
    assert first.path == cache_path(tmp_path, file_sha256(model_file()))
    written = first.path.stat().st_mtime_ns
    second = MaskClassifier(tmp_path)
    assert second.path.stat().st_mtime_ns == written, "a valid cache is loaded, not rebuilt"
    assert [p.name for p in tmp_path.iterdir()] == [first.path.name], "no temporary file is left behind"


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],
        lambda data: data[: len(data) // 2] + bytes(64 * 1024) + data[len(data) // 2 + 64 * 1024 :],
        lambda data: b"not an onnx file",
    ],
    ids=["truncated", "weights-zeroed", "garbage"],
)
def test_corrupt_cache_is_rebuilt_not_trusted(tmp_path, astronaut_path, damage):
    crop = _largest_face_crop(np.asarray(Image.open(astronaut_path).convert("RGB")))
    good = MaskClassifier(tmp_path)
    expected = good.probabilities([crop])
    original = good.path.read_bytes()
    good.path.write_bytes(damage(original))
    rebuilt = MaskClassifier(tmp_path)
    assert rebuilt.path.read_bytes() == original
    np.testing.assert_array_equal(rebuilt.probabilities([crop]), expected)


INPUT_LAYER = '{"name": "in", "class_name": "InputLayer", "config": {}, "inbound_nodes": []}'
PAD_LAYER = (
    '{"name": "pad", "class_name": "ZeroPadding2D", "config": {"padding": [[0, 1], [0, 1]]},'
    ' "inbound_nodes": [[["in", 0, 0, {}]]]}'
)


@pytest.mark.parametrize(
    ("layers", "last", "message"),
    [
        ('{"name": "lstm", "class_name": "LSTM", "config": {}, "inbound_nodes": [[["in", 0, 0, {}]]]}', "lstm", "LSTM"),
        (
            PAD_LAYER + ', {"name": "bn", "class_name": "BatchNormalization", "config": {"epsilon": 0.001},'
            ' "inbound_nodes": [[["pad", 0, 0, {}]]]}',
            "bn",
            "not directly after a convolution",
        ),
    ],
    ids=["unknown-layer", "batchnorm-without-conv"],
)
def test_converter_refuses_what_it_cannot_translate_exactly(tmp_path, layers, last, message):
    import h5py

    source = tmp_path / "model.h5"
    config = (
        f'{{"class_name": "Model", "config": {{"layers": [{INPUT_LAYER}, {layers}],'
        f' "input_layers": [["in", 0, 0]], "output_layers": [["{last}", 0, 0]]}}}}'
    )
    with h5py.File(source, "w") as h5:
        h5.attrs["model_config"] = config
        h5.create_group("model_weights")
    with pytest.raises(UnsupportedLayer, match=message):
        convert(source)


def test_masked_faces_are_called_masked(shared_faces):
    """#10: at least 90 % of the detected masked faces of ../shared/faces/masked are called masked.

    Faces of the contract's minimum size and up: the crowd photos' 25-51 px faces are below it
    (and the classifier, trained on larger crops, calls 2 of those 16 masked).
    """
    analyzer = shared_analyzer()
    paths = sorted(p for p in (shared_faces / "masked").rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    calls = [
        face.mask
        for p in paths
        for face in analyzer.detect(decode_image(p.read_bytes()).rgb, mask=True)
        if face.size >= MIN_FACE_SIDE
    ]
    assert len(calls) >= 40, f"only {len(calls)} faces of {MIN_FACE_SIDE}+ px detected in {len(paths)} masked photos"
    assert np.mean(calls) >= 0.9, f"{sum(calls)} of {len(calls)} masked faces called masked"


def test_unmasked_package_faces_are_not_called_masked(astronaut_path, grace_hopper_path):
    analyzer = shared_analyzer()
    for path in (astronaut_path, grace_hopper_path):
        faces = analyzer.detect(decode_image(path.read_bytes()).rgb, mask=True)
        assert [f.mask for f in faces] == [False], path.name


def test_several_faces_give_the_same_results_as_one_at_a_time(tmp_path, astronaut_path, grace_hopper_path):
    photos = [Image.open(p).convert("RGB") for p in (astronaut_path, grace_hopper_path)]
    canvas = Image.new("RGB", (1536, 1024), (200, 200, 200))
    for i in range(6):
        canvas.paste(photos[i % 2].resize((512, 512)), ((i % 3) * 512, (i // 3) * 512))
    rgb = np.asarray(canvas)
    analyzer = FaceAnalyzer(model_dir=tmp_path)
    faces = analyzer.detect(rgb, mask=True)
    assert len(faces) == 6
    together = analyzer.embed_all(rgb, faces)
    one_by_one = [analyzer.embed(rgb, f) for f in faces]
    for a, b in zip(together, one_by_one, strict=True):
        np.testing.assert_array_equal(a, b)
    classifier = MaskClassifier(tmp_path)
    alone = [classifier.probabilities([crop_face(rgb, f.box)])[0] for f in faces]
    np.testing.assert_allclose(classifier.probabilities([crop_face(rgb, f.box) for f in faces]), alone, atol=1e-6)
    assert [f.mask for f in faces] == [bool(p[0] >= 0.5) for p in alone]
