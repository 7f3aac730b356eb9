"""Embedding distance -> similarity 0..100, calibrated on labeled photos, per descriptor version.

The distance is the L2 distance between unit-length dlib descriptors (0 = the same
direction, 2 = opposite). Similarity is a logistic in that distance, pinned by two
anchors measured on lfw-dev, a deep-funneled subset of LFW (``benchmarks/calibrate.py``, every pair):

- similarity 90 at the distance where the false-match rate (FMR) is 0.1 % on that set,
  so the cloud's default threshold 90 means FMR 0.1 % there (on identities it was not fitted
  on, somewhat more: docs/benchmarks.md);
- similarity 10 at the median impostor distance, so unrelated faces sit near 0-20.

Each descriptor version (``descriptors.py``) has its own anchors, fitted the same way, so 90
means FMR 0.1 % on lfw-dev in every group whatever its version (``calibration_for``).
It is monotone (closer is always more similar) and symmetric around its midpoint.
Where thresholds 70 and 50 land is printed by the calibration script and listed in
docs/benchmarks.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from facereco.engine.descriptors import MIRRORED_LOOK, NEWEST, SINGLE_LOOK, require_version


@dataclass(frozen=True)
class Calibration:
    """One descriptor version's anchors and where thresholds land with them on all pairs of lfw-dev.

    ``rates``: threshold -> (FMR, FNMR), shown beside the dashboard's sliders when nothing was tuned.
    """

    version: str
    distance_at_90: float
    distance_at_10: float
    pairs: dict[str, int]
    rates: dict[int, tuple[float, float]]


# Measured by benchmarks/calibrate.py on every pair of lfw-dev, one set per descriptor version.
CALIBRATIONS: dict[str, Calibration] = {
    SINGLE_LOOK: Calibration(
        SINGLE_LOOK,
        distance_at_90=0.3835,
        distance_at_10=0.5742,
        pairs={"genuine": 12_315, "impostor": 5_968_296},
        rates={50: (0.0639, 0.0068), 70: (0.0167, 0.0123), 90: (0.0010, 0.0725)},
    ),
    MIRRORED_LOOK: Calibration(
        MIRRORED_LOOK,
        distance_at_90=0.3764,
        distance_at_10=0.5677,
        pairs={"genuine": 12_315, "impostor": 5_971_755},
        rates={50: (0.0647, 0.0069), 70: (0.0169, 0.0110), 90: (0.0010, 0.0538)},
    ),
}


def calibration_for(version: str = NEWEST) -> Calibration:
    """The calibration of a group's descriptor version (compare, with no group, uses the newest)."""
    return CALIBRATIONS[require_version(version)]


# The newest version's, under the names used before versions existed.
DISTANCE_AT_90 = CALIBRATIONS[NEWEST].distance_at_90
DISTANCE_AT_10 = CALIBRATIONS[NEWEST].distance_at_10
CALIBRATION_PAIRS = CALIBRATIONS[NEWEST].pairs
CALIBRATED_RATES = CALIBRATIONS[NEWEST].rates


def logistic_similarity(distance: float | np.ndarray, at_90: float, at_10: float) -> float | np.ndarray:
    """The logistic through (at_90, 90) and (at_10, 10): the mapping's form, for any pair of anchors
    (benchmarks/calibrate.py fits anchors on some identities and checks them on others)."""
    center, scale = (at_90 + at_10) / 2.0, (at_10 - at_90) / (2.0 * math.log(9.0))
    z = np.clip((np.asarray(distance, dtype=np.float64) - center) / scale, -60.0, 60.0)
    result = 100.0 / (1.0 + np.exp(z))
    return float(result) if np.ndim(result) == 0 else result


def similarity_from_distance(distance: float | np.ndarray, version: str = NEWEST) -> float | np.ndarray:
    """0..100, higher is more alike; 90 at ``version``'s calibrated FMR 0.1 % point."""
    calibration = calibration_for(version)
    return logistic_similarity(distance, calibration.distance_at_90, calibration.distance_at_10)


def distance_for_similarity(similarity: float, version: str = NEWEST) -> float:
    """The inverse: the distance at which similarity equals ``similarity`` (0 < s < 100)."""
    calibration = calibration_for(version)
    at_90, at_10 = calibration.distance_at_90, calibration.distance_at_10
    center, scale = (at_90 + at_10) / 2.0, (at_10 - at_90) / (2.0 * math.log(9.0))
    s = min(max(similarity, 1e-9), 100.0 - 1e-9)
    return center + scale * math.log(100.0 / s - 1.0)


def unit_distance(a: np.ndarray, b: np.ndarray) -> float:
    """L2 distance between two descriptors after scaling each to unit length."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a / np.linalg.norm(a) - b / np.linalg.norm(b)))
