"""Calibrate the distance -> similarity map on ../shared/faces/lfw-dev and print where thresholds land.

    python benchmarks/calibrate.py

Prints the two anchors (distance at FMR 0.1 %, median impostor distance) that
facereco/engine/similarity.py pins to similarity 90 and 10, then FMR / FNMR at
similarity thresholds 50, 70 and 90 with the current constants.
"""

from __future__ import annotations

import numpy as np
from datasets import all_pair_distances, pair_distances, require_faces

from facereco.engine.similarity import DISTANCE_AT_10, DISTANCE_AT_90, similarity_from_distance
from facereco.metrics import equal_error_rate, rates_at, threshold_for_fmr


def main() -> None:
    faces = require_faces()
    # Anchors from every pair of lfw-dev (millions of impostor pairs: FMR 0.1 % is well supported).
    all_genuine, all_impostor = all_pair_distances(faces / "lfw-dev")
    print(f"lfw-dev, all pairs: {all_genuine.size:,} genuine, {all_impostor.size:,} impostor")
    # In distance, smaller is a match: negate so the metrics' 'score >= threshold' applies.
    at_fmr = threshold_for_fmr(-all_genuine, -all_impostor, 0.001)
    print(f"  distance at FMR <= 0.1 %: {-at_fmr.threshold:.4f}  (FNMR there {at_fmr.fnmr:.2%})")
    print(f"  median impostor distance: {np.median(all_impostor):.4f}")
    print(f"  constants in use: DISTANCE_AT_90 = {DISTANCE_AT_90}, DISTANCE_AT_10 = {DISTANCE_AT_10}")
    report("lfw-dev, all pairs", all_genuine, all_impostor)
    genuine_d, impostor_d, missing = pair_distances(faces / "lfw-dev")
    print(f"lfw-dev pairs.csv: {genuine_d.size} genuine, {impostor_d.size} impostor, {missing} without a face")
    report("lfw-dev pairs.csv", genuine_d, impostor_d)


def report(name: str, genuine_d: np.ndarray, impostor_d: np.ndarray) -> None:
    genuine_s, impostor_s = similarity_from_distance(genuine_d), similarity_from_distance(impostor_d)
    eer, eer_threshold = equal_error_rate(genuine_s, impostor_s)
    print(f"  {name}: EER {eer:.2%} at similarity {eer_threshold:.1f}")
    for threshold in (50, 70, 90):
        r = rates_at(genuine_s, impostor_s, threshold)
        print(
            f"  threshold {threshold}: FMR {r.fmr:.3%} ({r.false_matches}/{r.impostors}), "
            f"FNMR {r.fnmr:.2%} ({r.false_non_matches}/{r.genuines})"
        )


if __name__ == "__main__":
    main()
