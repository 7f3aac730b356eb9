"""Recognition accuracy of each descriptor variant on lfw-dev, all pairs (issue #19; succeeds flip.py).

    python benchmarks/recognition.py [--workers 2] [--splits 10] [--cached-only]

For every lfw-dev photo the largest face is detected once and described four ways, from the two
boxes fed to dlib's shape predictor (MTCNN's box as it is: v1.0; mapped to dlib's detector geometry)
times one look or the mirrored average (the aligned chip and its mirror, ``mirrored_average``):

    v1.0 (MTCNN box, one look) | dlib box, one look | MTCNN box, mirrored | v1.1 (dlib box, mirrored)

The four descriptors are cached per photo in ~/.cache/facereco-bench/lfw-dev-looks.npz (``--workers``
processes fill it, each a share of the photos). Prints, over every same/different-identity pair:
EER, FNMR at FMR 0.1 % and accuracy at the EER threshold for each variant, then score
normalisation (adaptive s-norm with a cohort of other identities), cross-validated over
``--splits`` halvings of the identities. Latency is measured by benchmarks/vision.py.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

import numpy as np
from datasets import CACHE, add_faces_dir_argument, read_vector_cache, require_faces, use_faces_dir, write_vector_cache

from facereco.engine.descriptors import mirrored_average
from facereco.engine.embed_worker import CHIP_PADDING, CHIP_SIDE
from facereco.engine.images import decode_image
from facereco.engine.vision import dlib_geometry_box, shared_analyzer
from facereco.metrics import equal_error_rate, threshold_for_fmr

VARIANTS = ("v1.0: MTCNN box, one look", "dlib box, one look", "MTCNN box, mirrored", "v1.1: dlib box, mirrored")
CACHE_NAME = "lfw-dev-looks"  # datasets.cached_looks reads it


def four_looks(rgb: np.ndarray) -> np.ndarray | None:
    """4 x 128: plain and mirrored chips' descriptors from the MTCNN box, then from the dlib box."""
    import dlib

    analyzer = shared_analyzer()
    faces = analyzer.detect(rgb)
    if not faces:
        return None
    chips = []
    for box in (faces[0].box, dlib_geometry_box(faces[0].box)):
        x0, y0, x1, y1 = box
        rect = (
            dlib.rectangle(int(x0), int(y0), int(np.ceil(x1)), int(np.ceil(y1)))
            if box is faces[0].box
            else dlib.rectangle(round(x0), round(y0), round(x1), round(y1))
        )
        shape = analyzer._shape_predictor.get()(rgb, rect)
        chip = dlib.get_face_chip(rgb, shape, CHIP_SIDE, CHIP_PADDING)
        chips += [chip, np.ascontiguousarray(chip[:, ::-1])]
    descriptors = np.asarray(analyzer._embedder.get().compute_face_descriptor(chips), np.float32)
    plain_m, mirror_m, plain_d, mirror_d = descriptors
    return np.vstack([plain_m, plain_d, mirrored_average(plain_m, mirror_m), mirrored_average(plain_d, mirror_d)])


def fill_share(share: int, shares: int) -> None:
    folder = require_faces() / "lfw-dev"
    files = sorted(str(p.relative_to(folder)) for p in folder.glob("*/*.jpg"))[share::shares]
    cache_file = CACHE / f"{CACHE_NAME}-{share}of{shares}.npz"
    cached = read_vector_cache(cache_file)
    todo = [f for f in files if f not in cached]
    for i, name in enumerate(todo, 1):
        cached[name] = four_looks(decode_image((folder / name).read_bytes()).rgb)
        if i % 200 == 0 or i == len(todo):
            print(f"  share {share}: {i}/{len(todo)}", file=sys.stderr, flush=True)
            write_vector_cache(cache_file, cached)


def all_looks(workers: int, cached_only: bool = False) -> dict[str, np.ndarray]:
    if workers == 1 and not cached_only:
        fill_share(0, 1)
    elif not cached_only:
        children = [subprocess.Popen([sys.executable, __file__, "--share", f"{i}/{workers}"]) for i in range(workers)]
        if any(child.wait() for child in children):
            sys.exit("a share failed")
    looks: dict[str, np.ndarray] = {}
    for i in range(workers):
        part = read_vector_cache(CACHE / f"{CACHE_NAME}-{i}of{workers}.npz")
        looks.update({k: v for k, v in part.items() if v is not None})
    return looks


def unit_matrix(looks: dict[str, np.ndarray], variant: int) -> tuple[np.ndarray, np.ndarray]:
    names = sorted(looks)
    identities = np.array([n.split("/")[0] for n in names])
    matrix = np.vstack([looks[n][variant] / np.linalg.norm(looks[n][variant]) for n in names])
    return identities, matrix.astype(np.float32)


def pair_scores(identities: np.ndarray, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cosine of every genuine and every impostor pair (a higher score is a better match)."""
    upper = np.triu_indices(len(identities), k=1)
    cosine = (matrix @ matrix.T)[upper]
    same = (identities[:, None] == identities[None, :])[upper]
    return cosine[same], cosine[~same]


def rates(genuine: np.ndarray, impostor: np.ndarray) -> tuple[float, float, float]:
    """(EER, FNMR at FMR 0.1 %, accuracy at the EER threshold over all pairs counted once)."""
    eer, threshold = equal_error_rate(genuine, impostor)
    fnmr = threshold_for_fmr(genuine, impostor, 0.001).fnmr
    correct = np.count_nonzero(genuine >= threshold) + np.count_nonzero(impostor < threshold)
    return eer, fnmr, correct / (genuine.size + impostor.size)


def snorm_scores(identities, matrix, cohort, top: int) -> tuple[np.ndarray, np.ndarray]:
    """Adaptive s-norm (the ``top`` closest cohort faces of each side) of every pair's cosine."""
    to_cohort = matrix @ cohort.T
    closest = -np.sort(-to_cohort, axis=1)[:, :top]
    mean, std = closest.mean(axis=1), closest.std(axis=1) + 1e-6
    raw = matrix @ matrix.T
    normed = 0.5 * ((raw - mean[:, None]) / std[:, None] + (raw - mean[None, :]) / std[None, :])
    upper = np.triu_indices(len(identities), k=1)
    same = (identities[:, None] == identities[None, :])[upper]
    return normed[upper][same], normed[upper][~same]


def score_normalisation(looks: dict[str, np.ndarray], variant: int, splits: int, top: int) -> None:
    """Each split: half the identities are the cohort, the other half is scored raw and s-normed."""
    identities, matrix = unit_matrix(looks, variant)
    names = np.unique(identities)
    raw_fnmr, norm_fnmr = [], []
    for seed in range(splits):
        cohort_ids = set(np.random.default_rng(seed).permutation(names)[: len(names) // 2])
        in_cohort = np.array([i in cohort_ids for i in identities])
        probe_ids, probes = identities[~in_cohort], matrix[~in_cohort]
        raw_fnmr.append(rates(*pair_scores(probe_ids, probes))[1])
        norm_fnmr.append(rates(*snorm_scores(probe_ids, probes, matrix[in_cohort], top))[1])
    raw, norm = float(np.mean(raw_fnmr)), float(np.mean(norm_fnmr))
    print(
        f"  {VARIANTS[variant]}, adaptive s-norm (top {top} of a cohort of the other half's identities), "
        f"{splits} splits: FNMR at FMR 0.1 % {raw:.2%} raw -> {norm:.2%} normalised "
        f"({(raw - norm) / raw:+.0%} of raw; adopt at >= +20 %)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--splits", type=int, default=10)
    parser.add_argument("--cohort-top", type=int, default=200)
    parser.add_argument("--cached-only", action="store_true", help="only the photos described so far (a subset)")
    parser.add_argument("--share", help=argparse.SUPPRESS)
    add_faces_dir_argument(parser)
    args = parser.parse_args()
    use_faces_dir(args)
    if args.share:
        share, shares = (int(v) for v in args.share.split("/"))
        fill_share(share, shares)
        return
    CACHE.mkdir(parents=True, exist_ok=True)
    looks = all_looks(args.workers, args.cached_only)
    identities, _ = unit_matrix(looks, 0)
    print(f"lfw-dev: {len(looks)} photos with a face, {len(np.unique(identities))} identities; all pairs:")
    for variant, name in enumerate(VARIANTS):
        genuine, impostor = pair_scores(*unit_matrix(looks, variant))
        eer, fnmr, accuracy = rates(genuine, impostor)
        print(
            f"  {name:>26}: {genuine.size:,} gen / {impostor.size:,} imp: EER {eer:.3%}, "
            f"FNMR {fnmr:.2%} at FMR 0.1 %, accuracy at the EER threshold {accuracy:.3%}"
        )
    for variant in (0, 3):
        score_normalisation(looks, variant, args.splits, args.cohort_top)


if __name__ == "__main__":
    main()
