"""Verification error rates from similarity scores, pure numpy (no scikit-learn at run time).

Conventions (ISO/IEC 19795-1): a pair *matches* when its score >= threshold.
FMR = impostor pairs that match / impostor pairs; FNMR = genuine pairs that do not
match / genuine pairs. Scores are similarities (higher = more alike).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facereco.contract import THRESHOLD


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

    @property
    def mean_error(self) -> float:
        """(FMR + FNMR) / 2: the EER when taken where the two rates cross."""
        return (self.fmr + self.fnmr) / 2.0


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
    """(EER, threshold) over every distinct score: the mean of the two rates where they are closest."""
    thresholds, fmr, fnmr = error_curve(genuine, impostor)
    i = int(np.argmin(np.abs(fmr - fnmr)))
    return float((fmr[i] + fnmr[i]) / 2.0), float(thresholds[i])


def threshold_for_fmr(
    genuine: np.ndarray, impostor: np.ndarray, target_fmr: float, grid: np.ndarray | None = None
) -> Rates | None:
    """The smallest threshold whose measured FMR is at most ``target_fmr`` (see ``ScoreSet.threshold_for_fmr``)."""
    return ScoreSet(genuine, impostor).threshold_for_fmr(target_fmr, grid)


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


# The API takes integer thresholds 1..100, so the Tuning slider and every recommendation live on that
# grid: a recommended threshold is one a user can set, never rounded into another operating point.
API_THRESHOLDS = np.arange(THRESHOLD.low, THRESHOLD.high + 1, dtype=np.float64)


@dataclass(frozen=True)
class FmrTarget:
    """A "threshold for FMR t" recommendation: the threshold and its rates, or why there is none."""

    target: float
    rates: Rates | None  # at the smallest grid threshold whose measured FMR <= target; None: none reaches it
    impostors: int

    @property
    def needed_impostors(self) -> int:
        return min_impostors_for(self.target)

    @property
    def reachable(self) -> bool:
        return self.rates is not None

    @property
    def supported(self) -> bool:
        """A threshold exists and the sample is large enough to vouch for it (rule of three)."""
        return self.reachable and self.impostors >= self.needed_impostors


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

    def threshold_for_fmr(self, target_fmr: float, grid: np.ndarray | None = None) -> Rates | None:
        """The smallest threshold whose measured FMR is at most ``target_fmr`` (the most genuine matches there).

        With ``score >= threshold`` matching, FMR <= target allows k = floor(target * n) false matches,
        so the (k+1)-th highest impostor score must be rejected: the answer is just above it, i.e. the
        first ``grid`` value strictly above it (None when the grid ends first), or without a grid the
        next float up. None as well when there are no impostor pairs to measure FMR on.
        """
        n = self.impostor.size
        if n == 0:
            return None
        allowed = int(np.floor(target_fmr * n + 1e-9))
        bound = self.impostor[n - allowed - 1] if allowed < n else -np.inf
        if grid is None:
            lowest = min(float(self.impostor[0]), float(self.genuine[0]) if self.genuine.size else np.inf)
            return self.rates(float(np.nextafter(bound, np.inf)) if np.isfinite(bound) else lowest)
        grid = np.asarray(grid, dtype=np.float64)
        above = grid[grid > bound]
        return self.rates(float(above[0])) if above.size else None

    def for_fmr(self, target: float, grid: np.ndarray = API_THRESHOLDS) -> FmrTarget:
        """The smallest ``grid`` threshold whose measured FMR is at most ``target``, with its support."""
        return FmrTarget(target, self.threshold_for_fmr(target, grid), int(self.impostor.size))

    def eer_point(self, grid: np.ndarray = API_THRESHOLDS) -> Rates:
        """Where FMR (falling) and FNMR (rising) cross on ``grid``: of the two grid thresholds around
        the crossing, the one where the rates are closer (the higher one on a tie, fewer false matches).
        ``Rates.mean_error`` there is the EER a user can actually run with."""
        grid = np.asarray(grid, dtype=np.float64)
        fmr = (self.impostor.size - np.searchsorted(self.impostor, grid, side="left")) / max(self.impostor.size, 1)
        fnmr = np.searchsorted(self.genuine, grid, side="left") / max(self.genuine.size, 1)
        crossed = np.nonzero(fnmr >= fmr)[0]
        i = int(crossed[0]) if crossed.size else grid.size - 1
        if i > 0 and abs(fmr[i - 1] - fnmr[i - 1]) < abs(fmr[i] - fnmr[i]):
            i -= 1
        return self.rates(float(grid[i]))


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
