"""Quality of a photo's faces through a client, and the enrollment gate built on it.

``photo_quality`` asks a backend's ``detect`` (orientation on) and measures every face on our side
(facereco/quality.py): on the cloud that is the one detect call the Detect page makes anyway.

The **enrollment gate** must skip a bad photo *before* the register call, so it must not spend a
billed call to find out: it detects with the in-process local engine (the same models as
``--data-dir``, no network), whatever backend the photos then go to. On the local engine that is the
engine the photos are registered in.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Callable

from facereco.client import FaceRecoClient
from facereco.errors import ApiError
from facereco.quality import DEFAULT_PRESET, FaceQuality, Preset, decode_rgb, image_size, measure_all, preset_named

QualityGate = Callable[[bytes], "FaceQuality | None"]


def photo_quality(client: FaceRecoClient, data: bytes, preset: str | Preset = DEFAULT_PRESET) -> list[FaceQuality]:
    """Every face of the photo with its measures and verdict, in the API's order (largest first; none:
    an empty list). Raises the API's error for what it refuses, ValueError for what we cannot decode."""
    preset = preset_named(preset)
    found = client.detect(data, orientation=True)
    if not found.face_details:
        return []
    return measure_all(decode_rgb(data), found.face_details, original_size=image_size(data), preset=preset)


_offline: FaceRecoClient | None = None


def offline_detector() -> FaceRecoClient:
    """An in-process local engine used for detection only (its data folder is a throwaway one)."""
    global _offline
    if _offline is None:
        folder = tempfile.mkdtemp(prefix="facereco-quality-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)  # nothing of it is kept
        _offline = FaceRecoClient.local(folder)
    return _offline


def enrollment_gate(client: FaceRecoClient, preset: str | Preset) -> QualityGate | None:
    """The largest face's quality of a photo, judged at ``preset`` (None: the gate is off). The photo's
    largest face is what ``enroll`` registers (limit 1). A photo without a face gives None: the
    register call says so as it always has."""
    preset = preset_named(preset)
    if preset.name == "off":
        return None
    detector = client if client.is_local else offline_detector()

    def gate(data: bytes) -> FaceQuality | None:
        try:
            faces = photo_quality(detector, data, preset)
        except (ApiError, ValueError):
            return None  # what the detector refuses, the register call refuses too, and says why
        return faces[0] if faces else None

    return gate
