"""Helpers shared by the benchmarks: the labeled photos, embedded once and cached.

The photos (lfw-dev, a subset of LFW, deep-funneled; multi, noface, masked, ...) are research data:
they are read at run time from the folder given by ``--faces-dir`` or ``FACERECO_FACES_DIR``
(default ``../shared/faces`` beside the checkout), never copied into the repository. Embeddings are
cached under ~/.cache/facereco-bench so later runs skip the models.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from facereco.engine.descriptors import MIRRORED_LOOK, NEWEST, SINGLE_LOOK  # noqa: E402
from facereco.engine.images import decode_image  # noqa: E402
from facereco.engine.similarity import unit_distance  # noqa: E402
from facereco.engine.vision import shared_analyzer  # noqa: E402
from facereco.errors import ApiError  # noqa: E402

DEFAULT_FACES_DIR = Path(os.environ.get("FACERECO_SHARED_DIR", ROOT.parent / "shared")) / "faces"
CACHE = Path(os.environ.get("FACERECO_BENCH_CACHE", Path.home() / ".cache" / "facereco-bench"))
_faces_dir = Path(os.environ.get("FACERECO_FACES_DIR") or DEFAULT_FACES_DIR)


def add_faces_dir_argument(parser: argparse.ArgumentParser) -> None:
    """``--faces-dir``: where the labeled photos are (every benchmark that reads them takes it)."""
    parser.add_argument(
        "--faces-dir",
        type=Path,
        default=None,
        help="folder holding lfw-dev/, multi/, noface/, masked/ ... "
        f"(default: FACERECO_FACES_DIR, else {DEFAULT_FACES_DIR})",
    )


def use_faces_dir(args: argparse.Namespace) -> Path:
    """Take ``--faces-dir`` from parsed arguments, when given; the folder in use."""
    global _faces_dir
    if getattr(args, "faces_dir", None) is not None:
        _faces_dir = args.faces_dir
    return _faces_dir


def faces_dir() -> Path:
    """The labeled photos' folder: ``--faces-dir``, else ``FACERECO_FACES_DIR``, else ../shared/faces."""
    return _faces_dir


# Set by a benchmark's --cached-only: photos not described yet are left out rather than embedded.
CACHED_ONLY = False


def require_faces() -> Path:
    if not faces_dir().is_dir():
        sys.exit(f"skipped: labeled photos not found at {faces_dir()} (give --faces-dir or FACERECO_FACES_DIR)")
    return faces_dir()


def read_pairs(folder: Path) -> list[tuple[str, str, bool]]:
    with open(folder / "pairs.csv", newline="") as handle:
        return [(row["file_a"], row["file_b"], row["same"] == "1") for row in csv.DictReader(handle)]


def read_vector_cache(path: Path) -> dict[str, np.ndarray | None]:
    """File name -> cached descriptor (None: no face), empty when there is no cache yet."""
    if not path.exists():
        return {}
    with np.load(path, allow_pickle=False) as data:
        return {k: (v if v.size else None) for k, v in data.items()}


def write_vector_cache(path: Path, vectors: dict[str, np.ndarray | None]) -> None:
    np.savez(path, **{k: (v if v is not None else np.zeros(0, np.float32)) for k, v in vectors.items()})


# The rows of benchmarks/recognition.py's per-photo cache of four descriptors that are the engine's versions.
LOOK_ROWS = {SINGLE_LOOK: 0, MIRRORED_LOOK: 3}


def cached_looks(folder: Path) -> dict[str, np.ndarray | None]:
    """benchmarks/recognition.py's cached descriptors of the folder (4 x 128 a photo), all shares of them."""
    looks: dict[str, np.ndarray | None] = {}
    for part in sorted(CACHE.glob(f"{folder.name}-looks-*of*.npz")):
        looks.update(read_vector_cache(part))
    return looks


def embed_files(
    folder: Path, files: list[str], *, version: str = NEWEST, progress: bool = True
) -> dict[str, np.ndarray | None]:
    """Largest-face descriptor of each file in ``version``'s way (None when no face), cached per folder and version.

    Photos benchmarks/recognition.py has described already are taken from its cache (the same descriptors).
    """
    CACHE.mkdir(parents=True, exist_ok=True)
    cache_file = CACHE / f"{folder.name}-{version}.npz"
    cached = read_vector_cache(cache_file)
    looks = cached_looks(folder)
    for name in files:
        if name not in cached and name in looks:
            look = looks[name]
            cached[name] = None if look is None else look[LOOK_ROWS[version]]
    analyzer = shared_analyzer()
    todo = [] if CACHED_ONLY else [f for f in files if f not in cached]
    started = time.perf_counter()
    for i, name in enumerate(todo, 1):
        try:
            image = decode_image((folder / name).read_bytes())
        except ApiError:
            cached[name] = None
            continue
        faces = analyzer.detect(image.rgb)
        cached[name] = analyzer.embed(image.rgb, faces[0], version) if faces else None
        if progress and i % 200 == 0:
            rate = i / (time.perf_counter() - started)
            print(f"  embedded {i}/{len(todo)} of {folder.name} ({rate:.1f} img/s)", file=sys.stderr)
    write_vector_cache(cache_file, cached)
    return {f: cached.get(f) for f in files if f in cached}


def pair_distances(folder: Path, version: str = NEWEST) -> tuple[np.ndarray, np.ndarray, int]:
    """L2 distances of the folder's genuine and impostor pairs, and how many pairs lacked a face."""
    pairs = read_pairs(folder)
    files = sorted({f for a, b, _ in pairs for f in (a, b)})
    vectors = embed_files(folder, files, version=version)
    genuine, impostor, missing = [], [], 0
    for a, b, same in pairs:
        va, vb = vectors.get(a), vectors.get(b)
        if va is None or vb is None:
            missing += 1
            continue
        (genuine if same else impostor).append(unit_distance(va, vb))
    return np.array(genuine), np.array(impostor), missing


def labeled_unit_vectors(folder: Path, version: str = NEWEST) -> tuple[np.ndarray, np.ndarray]:
    """(identity per face, unit descriptors one per row) of every photo with a recognisable face."""
    files = sorted(str(p.relative_to(folder)) for p in folder.glob("*/*") if p.suffix.lower() in (".jpg", ".png"))
    vectors = embed_files(folder, files, version=version)
    kept = [(f.split("/")[0], v) for f, v in vectors.items() if v is not None]
    identities = np.array([i for i, _ in kept])
    return identities, np.vstack([v / np.linalg.norm(v) for _, v in kept]).astype(np.float32)


def all_pair_distances(folder: Path, version: str = NEWEST) -> tuple[np.ndarray, np.ndarray]:
    """Unit-vector distances of every same-identity and every cross-identity pair of the folder."""
    identities, matrix = labeled_unit_vectors(folder, version)
    upper = np.triu_indices(len(identities), k=1)
    distances = np.sqrt(np.maximum(2.0 - 2.0 * (matrix @ matrix.T), 0.0))[upper]
    same = (identities[:, None] == identities[None, :])[upper]
    return distances[same], distances[~same]
