"""Which descriptor a group's faces hold: the engine's model versions (issue #19).

A group's ``modelVersion`` (the contract's field) names how its stored vectors were made. The
engine never keeps images, so it can never re-embed a stored face: a group keeps the version it
was created with, and every query into it (search, verify, search by faceId, register) is embedded
the same way, so no stored face changes meaning. Compare, which has no group, uses the newest.

- ``v1.0``: the cloud's version string, and the local engine's first descriptor: dlib's 5-point
  shape predictor on MTCNN's box as it is, one descriptor of the aligned chip.
- ``v1.1``: the shape predictor on MTCNN's box mapped to dlib's detector geometry
  (``vision.dlib_geometry_box``), and the mirrored second look: the descriptor is
  ``mirrored_average`` of the aligned 150x150 chip's descriptor and its left-right mirror's.
  The engine chooses this string; the cloud answers ``v1.0`` for its own model.
"""

from __future__ import annotations

import numpy as np

from facereco.contract import MODEL_VERSION as CLOUD_MODEL_VERSION

SINGLE_LOOK = CLOUD_MODEL_VERSION  # "v1.0"
MIRRORED_LOOK = "v1.1"
NEWEST = MIRRORED_LOOK
VERSIONS = (SINGLE_LOOK, MIRRORED_LOOK)


def require_version(version: str) -> str:
    """``version`` if the engine can embed it, else ValueError (a store written by a newer engine)."""
    if version not in VERSIONS:
        raise ValueError(f"descriptor version {version!r} is not one this engine makes ({', '.join(VERSIONS)})")
    return version


def mirrored_average(plain: np.ndarray, mirror: np.ndarray) -> np.ndarray:
    """The v1.1 descriptor: the unit-length mean of the two unit-length descriptors, as float32.

    Computed in float64 from the two float32 descriptors, so it is the same bits wherever the two
    were computed (here or in the embed worker): both come from the same chips.
    """
    a = np.asarray(plain, dtype=np.float64)
    b = np.asarray(mirror, dtype=np.float64)
    mean = a / np.linalg.norm(a) + b / np.linalg.norm(b)
    return (mean / np.linalg.norm(mean)).astype(np.float32)
