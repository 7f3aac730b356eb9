"""Embedding distance -> similarity 0..100, calibrated on labeled photos.

The distance is the L2 distance between unit-length dlib descriptors (0 = the same
direction, 2 = opposite). Similarity is a logistic in that distance, pinned by two
anchors measured on lfw-dev, a deep-funneled subset of LFW (``benchmarks/calibrate.py``, every pair):

- similarity 90 at the distance where the false-match rate (FMR) is 0.1 % on that set,
  so the cloud's default threshold 90 means FMR 0.1 % there (on identities it was not fitted
  on, somewhat more: docs/benchmarks.md);
- similarity 10 at the median impostor distance, so unrelated faces sit near 0-20.

It is monotone (closer is always more similar) and symmetric around its midpoint.
Where thresholds 70 and 50 land is printed by the calibration script and listed in
docs/benchmarks.md.
"""

from __future__ import annotations

import math

import numpy as np

# Measured by benchmarks/calibrate.py on all 5,968,296 impostor and 12,315 genuine pairs of lfw-dev.
DISTANCE_AT_90 = 0.3835
DISTANCE_AT_10 = 0.5742

# Where thresholds land on all pairs of lfw-dev with these constants (benchmarks/calibrate.py; docs/benchmarks.md):
# threshold -> (FMR, FNMR). Shown beside the dashboard's sliders when nothing was tuned.
CALIBRATION_PAIRS = {"genuine": 12_315, "impostor": 5_968_296}
CALIBRATED_RATES: dict[int, tuple[float, float]] = {
    50: (0.0639, 0.0068),
    70: (0.0167, 0.0123),
    90: (0.0010, 0.0725),
}

_CENTER = (DISTANCE_AT_90 + DISTANCE_AT_10) / 2.0
_SCALE = (DISTANCE_AT_10 - DISTANCE_AT_90) / (2.0 * math.log(9.0))


def logistic_similarity(distance: float | np.ndarray, at_90: float, at_10: float) -> float | np.ndarray:
    """The logistic through (at_90, 90) and (at_10, 10): the mapping's form, for any pair of anchors
    (benchmarks/calibrate.py fits anchors on some identities and checks them on others)."""
    center, scale = (at_90 + at_10) / 2.0, (at_10 - at_90) / (2.0 * math.log(9.0))
    z = np.clip((np.asarray(distance, dtype=np.float64) - center) / scale, -60.0, 60.0)
    result = 100.0 / (1.0 + np.exp(z))
    return float(result) if np.ndim(result) == 0 else result


def similarity_from_distance(distance: float | np.ndarray) -> float | np.ndarray:
    """0..100, higher is more alike; 90 at the calibrated FMR 0.1 % point."""
    return logistic_similarity(distance, DISTANCE_AT_90, DISTANCE_AT_10)


def distance_for_similarity(similarity: float) -> float:
    """The inverse: the distance at which similarity equals ``similarity`` (0 < s < 100)."""
    s = min(max(similarity, 1e-9), 100.0 - 1e-9)
    return _CENTER + _SCALE * math.log(100.0 / s - 1.0)


def unit_distance(a: np.ndarray, b: np.ndarray) -> float:
    """L2 distance between two descriptors after scaling each to unit length."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a / np.linalg.norm(a) - b / np.linalg.norm(b)))
