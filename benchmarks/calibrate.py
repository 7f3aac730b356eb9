"""Calibrate the distance -> similarity map on ../shared/faces/lfw-dev, and check it on faces it was not fitted on.

    python benchmarks/calibrate.py [--splits 10] [--version v1.1] [--cached-only]

For each descriptor version (``facereco/engine/descriptors.py``; all by default) it prints the two
anchors (distance at FMR 0.1 %, median impostor distance) that facereco/engine/similarity.py pins to
similarity 90 and 10 (``CALIBRATIONS[version]``), fitted on all of lfw-dev (in sample),
with FMR / FNMR at similarity thresholds 50, 70 and 90 under the constants in use. Then, out of
sample: over ``--splits`` random halvings of lfw-dev's identities, the anchors are fitted on the
pairs within one half and FMR / FNMR at 90 and the EER are measured on the pairs within the other
half (no identity in both); it prints the mean and the min-max over the splits, beside the same
figures measured on the fitting half.
"""

from __future__ import annotations

import argparse

import datasets
import numpy as np
from datasets import (
    add_faces_dir_argument,
    all_pair_distances,
    labeled_unit_vectors,
    pair_distances,
    require_faces,
    use_faces_dir,
)

from facereco.engine.descriptors import VERSIONS
from facereco.engine.similarity import calibration_for, logistic_similarity, similarity_from_distance
from facereco.metrics import equal_error_rate, rates_at, threshold_for_fmr

CALIBRATION_FMR = 0.001  # similarity 90 sits where FMR is 0.1 %


def fit_anchors(genuine_d: np.ndarray, impostor_d: np.ndarray) -> tuple[float, float]:
    """(distance at FMR <= 0.1 %, median impostor distance): the mapping's two anchors."""
    # In distance, smaller is a match: negate so the metrics' 'score >= threshold' applies.
    at_fmr = threshold_for_fmr(-genuine_d, -impostor_d, CALIBRATION_FMR)
    return -at_fmr.threshold, float(np.median(impostor_d))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--splits", type=int, default=10)
    add_faces_dir_argument(parser)
    parser.add_argument("--version", choices=VERSIONS, action="append", help="only this version (repeatable)")
    parser.add_argument("--cached-only", action="store_true", help="only photos already described (a subset)")
    args = parser.parse_args()
    use_faces_dir(args)
    datasets.CACHED_ONLY = args.cached_only
    faces = require_faces()
    for version in args.version or VERSIONS:
        calibrate(faces, version, args.splits)


def calibrate(faces, version: str, splits: int) -> None:
    print(f"== descriptor version {version}")
    # Anchors from every pair of lfw-dev (millions of impostor pairs: FMR 0.1 % is well supported).
    all_genuine, all_impostor = all_pair_distances(faces / "lfw-dev", version)
    print(f"lfw-dev, all pairs: {all_genuine.size:,} genuine, {all_impostor.size:,} impostor")
    at_90, at_10 = fit_anchors(all_genuine, all_impostor)
    print(f"  distance at FMR <= 0.1 %: {at_90:.4f}")
    print(f"  median impostor distance: {at_10:.4f}")
    in_use = calibration_for(version)
    print(f"  constants in use: distance_at_90={in_use.distance_at_90}, distance_at_10={in_use.distance_at_10}")
    report(
        "lfw-dev, all pairs (in sample)",
        similarity_from_distance(all_genuine, version),
        similarity_from_distance(all_impostor, version),
    )
    genuine_d, impostor_d, missing = pair_distances(faces / "lfw-dev", version)
    print(f"lfw-dev pairs.csv: {genuine_d.size} genuine, {impostor_d.size} impostor, {missing} without a face")
    report(
        "lfw-dev pairs.csv (in sample)",
        similarity_from_distance(genuine_d, version),
        similarity_from_distance(impostor_d, version),
    )
    out_of_sample(faces, version, splits)


def report(name: str, genuine_s: np.ndarray, impostor_s: np.ndarray) -> None:
    eer, eer_threshold = equal_error_rate(genuine_s, impostor_s)
    print(f"  {name}: EER {eer:.2%} at similarity {eer_threshold:.1f}")
    for threshold in (50, 70, 90):
        r = rates_at(genuine_s, impostor_s, threshold)
        print(
            f"  threshold {threshold}: FMR {r.fmr:.3%} ({r.false_matches}/{r.impostors}), "
            f"FNMR {r.fnmr:.2%} ({r.false_non_matches}/{r.genuines})"
        )


def half_distances(distances: np.ndarray, identities: np.ndarray, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Genuine and impostor distances of the pairs whose two faces both belong to ``chosen`` identities."""
    members = np.nonzero(np.isin(identities, chosen))[0]
    upper = np.triu_indices(members.size, k=1)
    labels = identities[members]
    same = (labels[:, None] == labels[None, :])[upper]
    within = distances[np.ix_(members, members)][upper]
    return within[same], within[~same]


def figures(genuine_s: np.ndarray, impostor_s: np.ndarray) -> dict[str, float]:
    r = rates_at(genuine_s, impostor_s, 90)
    return {"FMR at 90": r.fmr, "FNMR at 90": r.fnmr, "EER": equal_error_rate(genuine_s, impostor_s)[0]}


def out_of_sample(faces, version: str, splits: int) -> None:
    identities, matrix = labeled_unit_vectors(faces / "lfw-dev", version)
    distances = np.sqrt(np.maximum(2.0 - 2.0 * (matrix @ matrix.T), 0.0))
    people = np.unique(identities)
    rng = np.random.default_rng(2026)
    fitted: list[dict[str, float]] = []
    held_out: list[dict[str, float]] = []
    anchors = []
    sizes = []
    for _ in range(splits):
        fit_half = rng.permutation(people)[: people.size // 2]
        test_half = np.setdiff1d(people, fit_half)
        fit_genuine, fit_impostor = half_distances(distances, identities, fit_half)
        test_genuine, test_impostor = half_distances(distances, identities, test_half)
        at_90, at_10 = fit_anchors(fit_genuine, fit_impostor)
        anchors.append((at_90, at_10))
        sizes.append((test_genuine.size, test_impostor.size))
        fitted.append(figures(*(logistic_similarity(d, at_90, at_10) for d in (fit_genuine, fit_impostor))))
        held_out.append(figures(*(logistic_similarity(d, at_90, at_10) for d in (test_genuine, test_impostor))))
    genuine_n, impostor_n = np.median(np.array(sizes), axis=0)
    print(
        f"lfw-dev out of sample: {splits} random halvings of {people.size} identities; fitted on one half, "
        f"measured on the other (median {genuine_n:,.0f} genuine / {impostor_n:,.0f} impostor pairs per half)"
    )
    at_90s, at_10s = np.array(anchors).T
    print(
        f"  anchors fitted: distance at 90 {at_90s.mean():.4f} ({at_90s.min():.4f}-{at_90s.max():.4f}), "
        f"at 10 {at_10s.mean():.4f} ({at_10s.min():.4f}-{at_10s.max():.4f})"
    )
    print(f"  {'figure':<12} {'fitting half: mean (min-max)':>32} {'held-out half: mean (min-max)':>34}")
    for name in ("FMR at 90", "FNMR at 90", "EER"):
        ins = np.array([f[name] for f in fitted])
        outs = np.array([f[name] for f in held_out])
        print(
            f"  {name:<12} {ins.mean():>13.3%} ({ins.min():.3%}-{ins.max():.3%})"
            f" {outs.mean():>14.3%} ({outs.min():.3%}-{outs.max():.3%})"
        )


if __name__ == "__main__":
    main()
