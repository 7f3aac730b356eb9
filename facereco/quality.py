"""Face quality beside the API: size, sharpness, lighting, pose and confidence of each detected face.

The NHN API answers a box, five landmarks, a confidence and (on request) yaw/pitch/roll, nothing about
quality; Rekognition's ``IndexFaces`` answers ``Quality.Brightness/Sharpness`` and names the reason it
skipped a face. This module computes the same kind of record **on our side**, from the image we sent
and the detail the API returned, so it costs no extra call and reads the same on the cloud and on the
local engine. Pure numpy + OpenCV on an RGB array.

Measures (all on the face's box, in the image as the API saw it, EXIF orientation applied):

- ``sizePx``: the box's shorter side in pixels of the original image (the contract's face-size rule
  uses the shorter side too).
- ``sharpness``: 0-100, the share of the grey crop's gradient energy that a slight further blur
  removes, at the photo's resolution (at most ``DECODE_SIDE`` px): a blurred face has little left to
  lose. Independent of brightness, contrast and face size (see ``_sharpness``). Higher is sharper.
- ``brightness``: mean grey level of the crop, 0-100; ``contrast``: its standard deviation, 0-100;
  ``evenness``: the darker half-face's mean over the brighter one (1 = evenly lit, left vs right).
- ``yaw``/``pitch``/``roll``: the API's orientation when it gave one.
- ``confidence``: the detection confidence in percent; ``otherFaces``: how many other faces the photo holds.

Thresholds per preset are in ``PRESETS``; how they were chosen and what each keeps of lfw-dev is in
docs/quality.md (benchmarks/quality.py prints it).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from PIL import Image

from facereco.contract import FaceDetail

DECODE_SIDE = 1024  # boxes are relative: a smaller copy measures the same crop, in bounded memory
MAX_DECODE_PIXELS = 40_000_000  # past this the photo is refused before decoding: a PNG is decoded whole

# Rekognition's names for why a face was not indexed.
LOW_SHARPNESS = "LOW_SHARPNESS"
LOW_BRIGHTNESS = "LOW_BRIGHTNESS"
SMALL_BOUNDING_BOX = "SMALL_BOUNDING_BOX"
EXTREME_POSE = "EXTREME_POSE"
LOW_CONFIDENCE = "LOW_CONFIDENCE"
REASONS = (LOW_SHARPNESS, LOW_BRIGHTNESS, SMALL_BOUNDING_BOX, EXTREME_POSE, LOW_CONFIDENCE)


@dataclass(frozen=True)
class Preset:
    """What a face must reach to pass. ``None``: not checked at this preset."""

    name: str
    min_size_px: float | None = None
    min_sharpness: float | None = None
    min_brightness: float | None = None
    max_brightness: float | None = None
    min_evenness: float | None = None
    max_yaw: float | None = None
    max_pitch: float | None = None
    max_roll: float | None = None
    min_confidence: float | None = None


# Chosen on ../shared/faces (benchmarks/quality.py; figures and reasons in docs/quality.md): medium keeps
# at least 98 % of lfw-dev and still flags a sigma-3 blur or a photo darkened to 15 %; high asks
# for 80 px faces, sharp and evenly lit, as a careful enrollment would.
PRESETS: dict[str, Preset] = {
    "off": Preset("off"),
    "low": Preset(
        "low",
        min_size_px=40,
        min_sharpness=10,
        min_brightness=8,
        max_brightness=97,
        max_yaw=60,
        min_confidence=90,
    ),
    "medium": Preset(
        "medium",
        min_size_px=60,
        min_sharpness=17,
        min_brightness=18,
        max_brightness=92,
        min_evenness=0.35,
        max_yaw=45,
        max_pitch=40,
        max_roll=40,
        min_confidence=97,
    ),
    "high": Preset(
        "high",
        min_size_px=80,
        min_sharpness=25,
        min_brightness=25,
        max_brightness=85,
        min_evenness=0.6,
        max_yaw=30,
        max_pitch=25,
        max_roll=20,
        min_confidence=99.5,
    ),
}
DEFAULT_PRESET = "medium"


@dataclass(frozen=True)
class FaceQuality:
    """One face's measures and its verdict at a preset."""

    box: dict[str, float]  # the API's bbox, relative 0..1
    size_px: float
    sharpness: float
    brightness: float
    contrast: float
    evenness: float
    confidence: float
    other_faces: int
    yaw: float | None = None
    pitch: float | None = None
    roll: float | None = None
    reasons: tuple[str, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return not self.reasons

    def to_json(self) -> dict[str, Any]:
        """The CLI's and the pages' record (camelCase like the API's; numbers rounded for reading)."""
        record: dict[str, Any] = {
            "box": self.box,
            "sizePx": round(self.size_px, 1),
            "sharpness": round(self.sharpness, 2),
            "brightness": round(self.brightness, 1),
            "contrast": round(self.contrast, 1),
            "evenness": round(self.evenness, 2),
            "confidence": round(self.confidence, 2),
            "otherFaces": self.other_faces,
        }
        for name in ("yaw", "pitch", "roll"):
            value = getattr(self, name)
            if value is not None:
                record[name] = round(value, 1)
        record["verdict"] = "pass" if self.passed else "fail"
        record["reasons"] = list(self.reasons)
        return record


# ---------------------------------------------------------------- pixels
def decode_rgb(data: bytes) -> np.ndarray:
    """PNG/JPEG bytes as RGB pixels the way the API sees them (EXIF orientation applied), at most
    ``DECODE_SIDE`` px on the long side. Raises ValueError, in a sentence, on what is not a readable image.

    Decoding goes through the engine's bounded decoder (the same memory estimate and budget as a
    request), so a hostile upload costs the dashboard no more than it costs the engine.
    """
    from facereco.engine import decode_image  # lazily: a cloud-only session still loads no engine module
    from facereco.errors import ApiError, InvalidParam

    try:
        image = Image.open(io.BytesIO(data), formats=["JPEG", "PNG"])
        too_large = image.width * image.height > MAX_DECODE_PIXELS
    except (OSError, SyntaxError, Image.DecompressionBombError):
        raise ValueError("not a readable PNG or JPEG image") from None
    if too_large:
        raise ValueError(f"the image is {image.width}x{image.height} px, too large to measure")
    try:
        rgb = decode_image(data, min_side=1).rgb
    except InvalidParam as error:
        raise ValueError(f"the image is too large to measure ({error.message})") from None
    except ApiError:
        raise ValueError("not a readable PNG or JPEG image") from None
    return _fit_long_side(rgb, DECODE_SIDE)


def _fit_long_side(rgb: np.ndarray, side: int) -> np.ndarray:
    height, width = rgb.shape[:2]
    scale = side / max(height, width)
    if scale >= 1.0:
        return rgb
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.ascontiguousarray(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA))


def _face_crop(grey: np.ndarray, box: dict[str, float]) -> np.ndarray:
    height, width = grey.shape
    x0, x1 = int(np.floor(box["x0"] * width)), int(np.ceil(box["x1"] * width))
    y0, y1 = int(np.floor(box["y0"] * height)), int(np.ceil(box["y1"] * height))
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(max(x1, x0 + 2), width), min(max(y1, y0 + 2), height)
    return grey[y0:y1, x0:x1]


def _gradient_energy(grey: np.ndarray) -> float:
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1)
    return float(np.mean(gx * gx + gy * gy))


def _sharpness(crop: np.ndarray) -> float:
    """How much detail a further slight blur (Gaussian, sigma 1 px) removes: 100 x (1 - the gradient
    energy left after it / the energy before), a no-reference blur measure (after Crete et al. 2007).

    A ratio of the crop to itself: darkening or a flat contrast scale both energies alike, and a mean
    over pixels does not grow with the face, so one threshold serves every size and lighting. A face
    already blurred loses little more (low score); a sharp one loses its finest edges (high score).
    The plain variance of the Laplacian, even over the crop's variance, overlapped on lfw-dev: its
    softest sharp photos scored as low as sigma-3 blurs of others (docs/quality.md).
    """
    crop = crop.astype(np.float32)
    before = _gradient_energy(crop)
    if before < 1e-3:
        return 0.0  # a flat patch: nothing to be sharp about
    return 100.0 * max(0.0, 1.0 - _gradient_energy(cv2.GaussianBlur(crop, (0, 0), 1.0)) / before)


def _evenness(crop: np.ndarray) -> float:
    half = crop.shape[1] // 2
    if half == 0:
        return 1.0
    left, right = float(crop[:, :half].mean()), float(crop[:, crop.shape[1] - half :].mean())
    return min(left, right) / max(left, right) if max(left, right) > 0 else 1.0


def measure(
    rgb: np.ndarray,
    detail: FaceDetail,
    *,
    original_size: tuple[int, int] | None = None,
    other_faces: int = 0,
    preset: str | Preset = DEFAULT_PRESET,
) -> FaceQuality:
    """The quality record of one detected face. ``original_size`` (width, height): the photo's size when
    ``rgb`` is a reduced copy, so ``sizePx`` is in the photo's own pixels."""
    grey = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    box = detail.bbox.to_wire()
    crop = _face_crop(grey, box)
    width, height = original_size or (rgb.shape[1], rgb.shape[0])
    size_px = min(detail.bbox.width * width, detail.bbox.height * height)
    orientation = detail.orientation
    quality = FaceQuality(
        box=box,
        size_px=float(size_px),
        sharpness=_sharpness(crop),
        brightness=float(crop.mean()) / 2.55,
        contrast=float(crop.std()) / 2.55,
        evenness=_evenness(crop),
        confidence=detail.confidence_percent,
        other_faces=other_faces,
        yaw=orientation.x if orientation else None,
        pitch=orientation.y if orientation else None,
        roll=orientation.z if orientation else None,
    )
    return judged(quality, preset)


def judged(quality: FaceQuality, preset: str | Preset) -> FaceQuality:
    """The same measures with the verdict of ``preset`` (re-judging costs no pixel work)."""
    return FaceQuality(**{**quality.__dict__, "reasons": reasons_for(quality, preset_named(preset))})


def preset_named(preset: str | Preset) -> Preset:
    if isinstance(preset, Preset):
        return preset
    try:
        return PRESETS[preset]
    except KeyError:
        raise ValueError(f"unknown quality preset {preset!r}; choose one of {', '.join(PRESETS)}") from None


def _below(value: float | None, bound: float | None) -> bool:
    return value is not None and bound is not None and value < bound


def _above(value: float | None, bound: float | None) -> bool:
    return value is not None and bound is not None and abs(value) > bound


def reasons_for(q: FaceQuality, p: Preset) -> tuple[str, ...]:
    reasons = []
    if _below(q.sharpness, p.min_sharpness):
        reasons.append(LOW_SHARPNESS)
    # Rekognition has one lighting reason: too dark, washed out and half-lit all read LOW_BRIGHTNESS
    too_bright = p.max_brightness is not None and q.brightness > p.max_brightness
    if _below(q.brightness, p.min_brightness) or too_bright or _below(q.evenness, p.min_evenness):
        reasons.append(LOW_BRIGHTNESS)
    if _below(q.size_px, p.min_size_px):
        reasons.append(SMALL_BOUNDING_BOX)
    if _above(q.yaw, p.max_yaw) or _above(q.pitch, p.max_pitch) or _above(q.roll, p.max_roll):
        reasons.append(EXTREME_POSE)
    if _below(q.confidence, p.min_confidence):
        reasons.append(LOW_CONFIDENCE)
    return tuple(reasons)


def measure_all(
    rgb: np.ndarray,
    details: Sequence[FaceDetail],
    *,
    original_size: tuple[int, int] | None = None,
    preset: str | Preset = DEFAULT_PRESET,
) -> list[FaceQuality]:
    """Every detected face of one photo, in the API's order (largest first)."""
    others = max(len(details) - 1, 0)
    return [measure(rgb, d, original_size=original_size, other_faces=others, preset=preset) for d in details]


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) of the photo as the API sees it (EXIF orientation applied), read from its header."""
    try:
        image = Image.open(io.BytesIO(data), formats=["JPEG", "PNG"])
        width, height = image.size
        orientation = image.getexif().get(0x0112, 1)
    except (OSError, SyntaxError) as error:
        raise ValueError(f"not a readable PNG or JPEG image ({error})") from None
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)
