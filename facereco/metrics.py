"""Verification error rates from similarity scores, pure numpy (no scikit-learn at run time).

Conventions (ISO/IEC 19795-1): a pair *matches* when its score >= threshold.
FMR = impostor pairs that match / impostor pairs; FNMR = genuine pairs that do not
match / genuine pairs. Scores are similarities (higher = more alike).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Rates:
    threshold: float
    false_matches: int
    impostors: int
    false_non_matches: int
    genuines: int

    @property
    def fmr(self) -> float:
        return self.false_matches / self.impostors if self.impostors else float("nan")

    @property
    def fnmr(self) -> float:
        return self.false_non_matches / self.genuines if self.genuines else float("nan")


def rates_at(genuine: np.ndarray, impostor: np.ndarray, threshold: float) -> Rates:
    """FMR and FNMR counts at one threshold (score >= threshold matches)."""
    genuine, impostor = np.asarray(genuine), np.asarray(impostor)
    return Rates(
        float(threshold),
        int(np.count_nonzero(impostor >= threshold)),
        int(impostor.size),
        int(np.count_nonzero(genuine < threshold)),
        int(genuine.size),
    )


def error_curve(genuine: np.ndarray, impostor: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(thresholds ascending, FMR, FNMR) at every distinct score, vectorised with searchsorted."""
    genuine = np.sort(np.asarray(genuine, dtype=np.float64))
    impostor = np.sort(np.asarray(impostor, dtype=np.float64))
    thresholds = np.unique(np.concatenate([genuine, impostor]))
    fmr = (impostor.size - np.searchsorted(impostor, thresholds, side="left")) / max(impostor.size, 1)
    fnmr = np.searchsorted(genuine, thresholds, side="left") / max(genuine.size, 1)
    return thresholds, fmr, fnmr


def equal_error_rate(genuine: np.ndarray, impostor: np.ndarray) -> tuple[float, float]:
    """(EER, threshold): where FMR and FNMR cross, the mean of the two at the closest threshold."""
    thresholds, fmr, fnmr = error_curve(genuine, impostor)
    i = int(np.argmin(np.abs(fmr - fnmr)))
    return float((fmr[i] + fnmr[i]) / 2.0), float(thresholds[i])


def threshold_for_fmr(genuine: np.ndarray, impostor: np.ndarray, target_fmr: float) -> Rates:
    """The lowest threshold whose FMR is <= target (the most genuine matches at that FMR)."""
    thresholds, fmr, _ = error_curve(genuine, impostor)
    ok = np.nonzero(fmr <= target_fmr)[0]
    threshold = float(thresholds[ok[0]]) if ok.size else float(np.max(thresholds)) + 1e-9
    return rates_at(genuine, impostor, threshold)
