"""Does a mirrored second look buy recognition accuracy? (issue #12; superseded by recognition.py)

Kept as it was measured for issue #12: it reads the v1.0 descriptors (lfw-dev-v1.0.npz) and mirrors
the chip the engine aligns today (the dlib-geometry box, issue #19), so its two halves now differ in
the box too; benchmarks/recognition.py measures each combination on its own.

    python benchmarks/flip.py [--jitter-pairs 400] [--cached-only]

For every lfw-dev photo the largest face's dlib descriptor is also computed on the mirrored
aligned chip (the 150 px chip dlib describes, flipped left-right); the flipped descriptors are
cached in ~/.cache/facereco-bench/lfw-dev-flip.npz (the plain ones come from lfw-dev.npz).
Prints EER and FNMR at FMR 0.1 % over all same/different-identity pairs for the plain
descriptor and for the mean of plain and mirrored, then dlib's own jitter (num_jitters) on the
first pairs of pairs.csv, and what each costs per face on a 1024 px photo, next to the plain
detect+embed in the same run. Adoption rule: EER down by >= 0.15 points and detect+embed of
one face at 1024 px within 250 ms.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from datasets import (
    CACHE,
    add_faces_dir_argument,
    read_pairs,
    read_vector_cache,
    require_faces,
    use_faces_dir,
    write_vector_cache,
)
from vision import composite

from facereco.engine.embed_worker import CHIP_PADDING, CHIP_SIDE
from facereco.engine.images import decode_image
from facereco.engine.similarity import unit_distance
from facereco.engine.vision import shared_analyzer
from facereco.metrics import equal_error_rate, threshold_for_fmr


def mirrored_descriptor(rgb: np.ndarray, face) -> np.ndarray:
    """The descriptor of the face's aligned chip, mirrored left-right."""
    import dlib

    analyzer = shared_analyzer()
    chip = dlib.get_face_chip(rgb, face.shape, CHIP_SIDE, CHIP_PADDING)
    embedder = analyzer._embedder.get()
    with analyzer._embed_lock:
        return np.asarray(embedder.compute_face_descriptor(np.ascontiguousarray(chip[:, ::-1])), np.float32)


def jittered_descriptor(rgb: np.ndarray, face, jitters: int) -> np.ndarray:
    analyzer = shared_analyzer()
    embedder = analyzer._embedder.get()
    with analyzer._embed_lock:
        return np.asarray(embedder.compute_face_descriptor(rgb, face.shape, jitters), np.float32)


def cached_plain_vectors(folder) -> dict[str, np.ndarray | None]:
    """The plain descriptors benchmarks/datasets.py cached (read only: that cache is shared and may be growing)."""
    cache_file = CACHE / f"{folder.name}-v1.0.npz"
    if not cache_file.exists():
        sys.exit(f"skipped: {cache_file} not built yet (benchmarks/vision.py builds it)")
    return read_vector_cache(cache_file)


def flipped_vectors(folder, files: list[str], cached_only: bool) -> dict[str, np.ndarray | None]:
    """Mirrored descriptors, cached; with ``cached_only`` just those already cached (a subset)."""
    cache_file = CACHE / f"{folder.name}-flip.npz"
    cached = read_vector_cache(cache_file)
    analyzer = shared_analyzer()
    todo = [] if cached_only else [f for f in files if f not in cached]
    for i, name in enumerate(todo, 1):
        image = decode_image((folder / name).read_bytes())
        faces = analyzer.detect(image.rgb)
        cached[name] = mirrored_descriptor(image.rgb, faces[0]) if faces else None
        if i % 250 == 0 or i == len(todo):
            print(f"  mirrored {i}/{len(todo)}", file=sys.stderr, flush=True)
            write_vector_cache(cache_file, cached)
    return {f: cached.get(f) for f in files}


def all_pairs(vectors: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    names = sorted(vectors)
    identities = np.array([n.split("/")[0] for n in names])
    matrix = np.vstack([vectors[n] / np.linalg.norm(vectors[n]) for n in names]).astype(np.float32)
    upper = np.triu_indices(len(names), k=1)
    distances = np.sqrt(np.maximum(2.0 - 2.0 * (matrix @ matrix.T), 0.0))[upper]
    same = (identities[:, None] == identities[None, :])[upper]
    return distances[same], distances[~same]


def report(name: str, genuine_d: np.ndarray, impostor_d: np.ndarray) -> float:
    """EER and FNMR at FMR 0.1 % on distances (2 - d as the score); returns the EER."""
    genuine, impostor = 2.0 - genuine_d, 2.0 - impostor_d
    eer, _ = equal_error_rate(genuine, impostor)
    at = threshold_for_fmr(genuine, impostor, 0.001)
    print(f"{name:>28}: {genuine.size:,} gen / {impostor.size:,} imp: EER {eer:.3%}; FNMR {at.fnmr:.2%} at FMR 0.1 %")
    return eer


def costs(repeats: int, jitters: int) -> None:
    """Per-stage medians for one face at 1024 px, the stages interleaved so they share the machine's noise."""
    analyzer = shared_analyzer()
    rgb = decode_image(composite(1024, 1)).rgb
    face = analyzer.detect(rgb)[0]
    stages = {
        "detect": lambda: analyzer.detect(rgb),
        "embed": lambda: analyzer.embed(rgb, face),
        "mirror": lambda: mirrored_descriptor(rgb, face),
        f"jitter {jitters}": lambda: jittered_descriptor(rgb, face, jitters),
    }
    times: dict[str, list[float]] = {name: [] for name in stages}
    for _ in range(repeats):
        for name, run in stages.items():
            started = time.perf_counter()
            run()
            times[name].append((time.perf_counter() - started) * 1000)
    ms = {name: float(np.median(values)) for name, values in times.items()}
    plain = ms["detect"] + ms["embed"]
    print(
        f"one face at 1024 px (medians of {repeats}): detect {ms['detect']:.0f} ms, embed {ms['embed']:.0f} ms, "
        f"mirrored descriptor {ms['mirror']:.0f} ms, jitter {jitters} {ms[f'jitter {jitters}']:.0f} ms; "
        f"detect+embed {plain:.0f} ms, with the mirror {plain + ms['mirror']:.0f} ms (target <= 250)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jitter-pairs", type=int, default=400)
    parser.add_argument("--jitters", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--cached-only", action="store_true", help="use only the mirrored descriptors cached so far")
    add_faces_dir_argument(parser)
    args = parser.parse_args()
    use_faces_dir(args)
    folder = require_faces() / "lfw-dev"
    plain = cached_plain_vectors(folder)
    files = sorted(plain)
    mirrored = flipped_vectors(folder, files, args.cached_only)
    both = {f: v for f, v in plain.items() if v is not None and mirrored.get(f) is not None}
    print(f"lfw-dev: {len(both)} photos with a face (of the {len(files)} in the shared descriptor cache)")
    base = report("plain", *all_pairs(both))
    averaged = {f: (v / np.linalg.norm(v) + mirrored[f] / np.linalg.norm(mirrored[f])) for f, v in both.items()}
    flip = report("mean of plain and mirrored", *all_pairs(averaged))
    print(f"{'':>30}EER change {100 * (flip - base):+.3f} points (adopt at <= -0.15)")
    pairs = read_pairs(folder)[: args.jitter_pairs]
    jitter_report(folder, pairs, plain, args.jitters)
    costs(args.repeats, args.jitters)


def jitter_report(folder, pairs, plain: dict[str, np.ndarray | None], jitters: int) -> None:
    """dlib's jitter on the first pairs of pairs.csv (it costs ``jitters`` descriptors per face)."""
    analyzer = shared_analyzer()
    names = sorted({f for a, b, _ in pairs for f in (a, b) if plain.get(a) is not None and plain.get(b) is not None})
    started = time.perf_counter()
    jittered: dict[str, np.ndarray] = {}
    for name in names:
        image = decode_image((folder / name).read_bytes())
        jittered[name] = jittered_descriptor(image.rgb, analyzer.detect(image.rgb)[0], jitters)
    print(f"  jittered {len(names)} photos in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    for label, vectors in (("plain", plain), (f"jitter {jitters}", jittered)):
        kept = [(a, b, same) for a, b, same in pairs if a in jittered and b in jittered]
        genuine = np.array([unit_distance(vectors[a], vectors[b]) for a, b, same in kept if same])
        impostor = np.array([unit_distance(vectors[a], vectors[b]) for a, b, same in kept if not same])
        report(f"{label} ({len(kept)} pairs.csv pairs)", genuine, impostor)


if __name__ == "__main__":
    main()
