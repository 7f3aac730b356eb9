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


def wilson_interval(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95 % Wilson score interval for a proportion k/n (sound at k = 0 and small n)."""
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def min_impostors_for(fmr: float) -> int:
    """Rule of three: with zero false matches in n impostor pairs, FMR < 3/n at 95 %; so n >= 3/FMR."""
    return int(np.ceil(3.0 / fmr))


class ScoreSet:
    """Genuine and impostor scores, sorted once, so any threshold is answered in O(log n).

    A slider over hundreds of thousands of pairs recomputes in microseconds.
    """

    def __init__(self, genuine: np.ndarray, impostor: np.ndarray) -> None:
        self.genuine = np.sort(np.asarray(genuine, dtype=np.float64))
        self.impostor = np.sort(np.asarray(impostor, dtype=np.float64))

    def rates(self, threshold: float) -> Rates:
        """FMR/FNMR counts at ``threshold`` (score >= threshold matches)."""
        false_matches = self.impostor.size - int(np.searchsorted(self.impostor, threshold, side="left"))
        false_non_matches = int(np.searchsorted(self.genuine, threshold, side="left"))
        return Rates(
            float(threshold), false_matches, int(self.impostor.size), false_non_matches, int(self.genuine.size)
        )

    def curve(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(thresholds, FMR, FNMR) at every distinct score."""
        return error_curve(self.genuine, self.impostor)

    def eer(self) -> tuple[float, float]:
        return equal_error_rate(self.genuine, self.impostor)

    def threshold_for_fmr(self, target: float) -> Rates:
        return threshold_for_fmr(self.genuine, self.impostor, target)

    def supports_fmr(self, target: float) -> bool:
        """Enough impostor pairs to say anything about ``target`` (rule of three)."""
        return self.impostor.size >= min_impostors_for(target)


@dataclass(frozen=True)
class IdentificationRates:
    """1:N figures at one threshold (rank 1), following ISO/IEC 19795-1 naming."""

    threshold: float
    rank1_hits: int
    mated_probes: int
    false_negatives: int
    false_positives: int
    non_mated_probes: int

    @property
    def rank1_rate(self) -> float:
        return self.rank1_hits / self.mated_probes if self.mated_probes else float("nan")

    @property
    def fnir(self) -> float:
        return self.false_negatives / self.mated_probes if self.mated_probes else float("nan")

    @property
    def fpir(self) -> float:
        return self.false_positives / self.non_mated_probes if self.non_mated_probes else float("nan")


def identification_rates(
    top_score: np.ndarray, top_is_mate: np.ndarray, has_mate: np.ndarray, threshold: float
) -> IdentificationRates:
    """Rank-1 identification of every probe against the rest of the gallery.

    ``top_score``/``top_is_mate``: the best candidate's score and whether it is a mate;
    ``has_mate``: whether the gallery holds another face of the probe's identity.
    Rank-1 hit: the top candidate is a mate (any score). FNIR: a mated probe whose top
    candidate is not a mate at or above the threshold. FPIR: a non-mated probe with any
    candidate at or above the threshold.
    """
    top_score, top_is_mate, has_mate = (np.asarray(a) for a in (top_score, top_is_mate, has_mate))
    mated, non_mated = has_mate, ~has_mate
    hit_at_threshold = top_is_mate & (top_score >= threshold)
    return IdentificationRates(
        float(threshold),
        int(np.count_nonzero(top_is_mate & mated)),
        int(np.count_nonzero(mated)),
        int(np.count_nonzero(mated & ~hit_at_threshold)),
        int(np.count_nonzero(non_mated & (top_score >= threshold))),
        int(np.count_nonzero(non_mated)),
    )
