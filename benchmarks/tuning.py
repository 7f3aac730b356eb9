"""Tuning benchmark: scoring through the API and the slider's recompute, synthetic and on ../shared/faces.

    python benchmarks/tuning.py [--sizes 2000 10000] [--lfw]

Synthetic groups: vectors inserted through the store (identities of 5 faces: a random centre plus
noise), scored with score_group over the in-process client. --lfw enrolls ../shared/faces/lfw-dev
(3,461 photos) through the in-process client, scores it and prints EER and FNMR at FMR 0.1 %.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from facereco import FaceRecoClient  # noqa: E402
from facereco.engine.store import load_synthetic_faces  # noqa: E402
from facereco.metrics import identification_rates  # noqa: E402
from facereco.transport import LocalTransport  # noqa: E402
from facereco.tuning import GroupScores, enroll, labeled_external_id, score_group  # noqa: E402
from facereco.ui.charts import binned  # noqa: E402


def synthetic_group(client: FaceRecoClient, size: int) -> None:
    """``size`` faces in identities of five: a random direction plus a little noise each."""
    engine = client.transport.engine
    owner = engine.secrets.appkey_digest(LocalTransport.LOCAL_APPKEY)
    client.create_group("bench")
    rng = np.random.default_rng(size)
    centres = rng.normal(size=(size // 5, 128))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    vectors = np.vstack([centres[i // 5] + rng.normal(scale=0.025, size=128) for i in range(size)])
    labels = [labeled_external_id(f"id{i // 5}", f"{i}.jpg") for i in range(size)]
    load_synthetic_faces(engine.service.store, owner, "bench", vectors, labels)


def slider_medians(scores: GroupScores, repeats: int = 21) -> tuple[float, float]:
    """(first compute: sort + curve + bins, ms), (median of a slider move, ms)."""
    started = time.perf_counter()
    score_set = scores.score_set
    score_set.curve()
    binned(score_set.genuine), binned(score_set.impostor)
    first = (time.perf_counter() - started) * 1000
    moves = []
    for threshold in np.linspace(1, 100, repeats):
        started = time.perf_counter()
        score_set.rates(threshold)
        identification_rates(scores.top_score, scores.top_is_mate, scores.has_mate, threshold)
        moves.append((time.perf_counter() - started) * 1000)
    return first, statistics.median(moves)


def synthetic(sizes: list[int]) -> None:
    print("Synthetic groups, in-process client")
    print(f"{'faces':>7} {'pairs':>12} {'score s':>8} {'first ms':>9} {'slider ms':>9}")
    for size in sizes:
        with tempfile.TemporaryDirectory() as data_dir:
            client = FaceRecoClient.local(data_dir)
            synthetic_group(client, size)
            started = time.perf_counter()
            scores = score_group(client, "bench")
            scoring = time.perf_counter() - started
            first, move = slider_medians(scores)
            print(f"{size:7,d} {scores.pair_count:12,d} {scoring:8.1f} {first:9.1f} {move:9.3f}")


def lfw() -> None:
    from datasets import require_faces

    folder = require_faces() / "lfw-dev"
    with tempfile.TemporaryDirectory() as data_dir:
        client = FaceRecoClient.local(data_dir)
        client.create_group("lfw-dev")
        started = time.perf_counter()
        report = enroll(client, "lfw-dev", folder)
        enroll_s = time.perf_counter() - started
        started = time.perf_counter()
        scores = score_group(client, "lfw-dev")
        score_s = time.perf_counter() - started
        s = scores.score_set
        eer, eer_at = s.eer()
        at = s.threshold_for_fmr(0.001)
        ident = identification_rates(scores.top_score, scores.top_is_mate, scores.has_mate, 90)
        print(f"lfw-dev: enrolled {report.added} faces ({report.no_face} photos without a face) in {enroll_s:.0f} s")
        print(
            f"  scored {len(scores.faces):,} faces, {s.genuine.size:,} genuine / {s.impostor.size:,} impostor "
            f"pairs in {score_s:.0f} s"
        )
        print(f"  EER {eer:.2%} at similarity {eer_at:.1f}")
        print(f"  FNMR {at.fnmr:.2%} at FMR {at.fmr:.3%}, threshold {at.threshold:.1f}")
        for threshold in (50, 70, 90):
            r = s.rates(threshold)
            print(f"  threshold {threshold}: FMR {r.fmr:.3%} ({r.false_matches:,}/{r.impostors:,}), FNMR {r.fnmr:.2%}")
        print(f"  rank-1 identification {ident.rank1_rate:.2%}; at 90: FNIR {ident.fnir:.2%}, FPIR {ident.fpir:.2%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 10000])
    parser.add_argument("--lfw", action="store_true")
    args = parser.parse_args()
    synthetic(args.sizes)
    if args.lfw:
        lfw()


if __name__ == "__main__":
    main()
