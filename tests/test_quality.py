"""Face quality on real photos: package photos and lfw-dev, degraded the way the issue names, and the CLI."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageEnhance, ImageFilter

from facereco import FaceRecoClient
from facereco.quality import (
    EXTREME_POSE,
    LOW_BRIGHTNESS,
    LOW_CONFIDENCE,
    LOW_SHARPNESS,
    PRESETS,
    SMALL_BOUNDING_BOX,
    FaceQuality,
    decode_rgb,
    judged,
)
from facereco.quality_gate import photo_quality


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> FaceRecoClient:
    return FaceRecoClient.local(tmp_path_factory.mktemp("quality-engine"))


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def largest(client: FaceRecoClient, image: Image.Image, preset: str = "medium") -> FaceQuality:
    faces = photo_quality(client, png(image), preset)
    assert faces, "the detector found no face"
    return faces[0]


def blurred(image: Image.Image) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(3))


def darkened(image: Image.Image) -> Image.Image:
    return ImageEnhance.Brightness(image).enhance(0.15)


@pytest.fixture(scope="module")
def package_photos(astronaut_path, grace_hopper_path) -> dict[str, Image.Image]:
    return {p.stem: Image.open(p).convert("RGB") for p in (astronaut_path, grace_hopper_path)}


def lfw_sample(shared_faces: Path, count: int) -> list[Path]:
    """The first photo of the first ``count`` identities: a fixed, unpicked sample."""
    folders = sorted(p for p in (shared_faces / "lfw-dev").iterdir() if p.is_dir())[:count]
    return [sorted(folder.glob("*.jpg"))[0] for folder in folders]


def test_sharp_package_photos_pass_the_default(client, package_photos):
    for name, image in package_photos.items():
        quality = largest(client, image)
        assert quality.passed, (name, quality)
        assert quality.sharpness > PRESETS["high"].min_sharpness  # sharp, not just passing


@pytest.mark.parametrize("degrade, reason", [(blurred, LOW_SHARPNESS), (darkened, LOW_BRIGHTNESS)])
def test_blurred_or_darkened_package_photo_fails_the_default_for_its_reason(client, package_photos, degrade, reason):
    for name, image in package_photos.items():
        sharp, degraded = largest(client, image), largest(client, degrade(image))
        assert sharp.passed
        assert reason in degraded.reasons, (name, degraded)
        assert degraded.reasons == (reason,), (name, degraded)  # and not for some other reason


def test_a_75_px_face_is_small_at_high_only(client, package_photos):
    image = package_photos["grace_hopper"]
    scale = 75 / largest(client, image).size_px
    small = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
    quality = largest(client, small, "high")
    assert 68 <= quality.size_px <= 82
    assert SMALL_BOUNDING_BOX in quality.reasons
    assert judged(quality, "medium").passed  # above the default's floor: only `high` asks for 80 px


def test_lfw_photos_pass_the_default_and_fail_when_degraded(client, shared_faces):
    sample = lfw_sample(shared_faces, 30)
    passed = 0
    for path in sample:
        image = Image.open(path).convert("RGB")
        passed += largest(client, image).passed
        for degrade, reason in ((blurred, LOW_SHARPNESS), (darkened, LOW_BRIGHTNESS)):
            faces = photo_quality(client, png(degrade(image)))
            assert not faces or reason in faces[0].reasons, (path.name, degrade.__name__, faces[0])
    assert passed >= 29, f"{passed} of {len(sample)} sharp lfw-dev photos passed the default"


def test_pose_and_confidence_reasons_and_the_off_preset():
    front = FaceQuality(
        box={"x0": 0.2, "y0": 0.2, "x1": 0.8, "y1": 0.8},
        size_px=120,
        sharpness=40,
        brightness=50,
        contrast=20,
        evenness=0.9,
        confidence=99.9,
        other_faces=0,
        yaw=5,
        pitch=3,
        roll=1,
    )
    assert judged(front, "high").passed
    turned = FaceQuality(**{**front.__dict__, "yaw": -50.0, "confidence": 96.0})
    assert judged(turned, "medium").reasons == (EXTREME_POSE, LOW_CONFIDENCE)
    assert judged(turned, "off").passed
    half_lit = FaceQuality(**{**front.__dict__, "evenness": 0.5})
    assert judged(half_lit, "medium").passed and judged(half_lit, "high").reasons == (LOW_BRIGHTNESS,)
    with pytest.raises(ValueError, match="unknown quality preset"):
        judged(front, "best")


def test_what_is_not_an_image_is_refused_in_a_sentence():
    with pytest.raises(ValueError, match="not a readable PNG or JPEG"):
        decode_rgb(b"GIF89a not what we read")


def test_a_pixel_bomb_is_refused_before_decoding():
    """A PNG header claiming 10,000 x 10,000 px (300 MB of RGB) is refused from its header alone."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", 10_000, 10_000, 8, 2, 0, 0, 0))
    pixels = chunk(b"IDAT", zlib.compress(b"\0" * 1000))  # the pixels it claims are never there
    with pytest.raises(ValueError, match="too large"):
        decode_rgb(b"\x89PNG\r\n\x1a\n" + header + pixels)


def test_quality_command_line(tmp_path: Path, astronaut_path):
    image = Image.open(astronaut_path).convert("RGB")
    blurry = tmp_path / "blurry.png"
    blurry.write_bytes(png(blurred(image)))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a JPEG")
    command = [sys.executable, "-m", "facereco", "--data-dir", str(tmp_path / "data"), "quality"]
    finished = subprocess.run(
        command + [str(astronaut_path), str(blurry), str(broken)], capture_output=True, text=True, timeout=300
    )
    lines = [json.loads(line) for line in finished.stdout.splitlines()]
    assert [line["file"] for line in lines] == [str(astronaut_path), str(blurry), str(broken)]
    sharp, soft = lines[0]["faces"][0], lines[1]["faces"][0]
    assert sharp["verdict"] == "pass" and sharp["reasons"] == []
    assert soft["verdict"] == "fail" and soft["reasons"] == [LOW_SHARPNESS]
    assert {"box", "sizePx", "sharpness", "brightness", "verdict", "reasons"} <= set(sharp)
    assert "error" in lines[2] and finished.returncode == 1  # a refused file is said, and the status shows it
