"""Quality presets on lfw-dev: the share of photos each preset keeps, and the EER on what it keeps.

    python benchmarks/quality.py [--measures]

Each lfw-dev photo is detected once through the local engine (``FaceRecoClient.local().detect`` with
orientation, as the quality CLI does) and its largest face measured (facereco/quality.py: the face
enrollment registers). Detections are cached under ~/.cache/facereco-bench. The EER is over every
same-identity and every cross-identity pair of the kept photos, from the cached descriptors of
benchmarks/datasets.py (a unit-vector distance; the EER is the same on any monotone similarity).
``--measures`` also prints percentiles of each measure on lfw-dev and on degraded package photos
(Gaussian sigma 3, 15 % brightness, scaled to a ~75 px face), what the thresholds were chosen on.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from datasets import CACHE, add_faces_dir_argument, embed_files, require_faces, use_faces_dir  # noqa: E402

from facereco import FaceRecoClient  # noqa: E402
from facereco.audit import DUPLICATE_SIMILARITY  # noqa: E402
from facereco.contract import FaceDetail  # noqa: E402
from facereco.engine.similarity import similarity_from_distance  # noqa: E402
from facereco.errors import ApiError  # noqa: E402
from facereco.metrics import equal_error_rate  # noqa: E402
from facereco.quality import PRESETS, FaceQuality, decode_rgb, image_size, judged, measure_all  # noqa: E402
from facereco.samples import package_photo  # noqa: E402

DETECTIONS = "lfw-dev-detect.json"


def detections(folder: Path, files: list[str]) -> dict[str, list[dict]]:
    """File -> the API's faceDetails (orientation on), cached: the detector is the slow part."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / DETECTIONS
    cached: dict[str, list[dict]] = json.loads(path.read_text()) if path.exists() else {}
    todo = [f for f in files if f not in cached]
    if todo:
        with tempfile.TemporaryDirectory() as data_dir:
            client = FaceRecoClient.local(data_dir)
            for i, name in enumerate(todo, 1):
                try:
                    cached[name] = client.detect((folder / name).read_bytes(), orientation=True).raw["data"][
                        "faceDetails"
                    ]
                except ApiError:
                    cached[name] = []
                if i % 500 == 0:
                    print(f"  detected {i}/{len(todo)}", file=sys.stderr)
                    path.write_text(json.dumps(cached))
        path.write_text(json.dumps(cached))
    return {f: cached[f] for f in files}


def largest_face_quality(data: bytes, wire_details: list[dict]) -> FaceQuality | None:
    if not wire_details:
        return None
    details = [FaceDetail.model_validate(d) for d in wire_details]
    return measure_all(decode_rgb(data), details, original_size=image_size(data), preset="off")[0]


def degraded_package_photos() -> dict[str, bytes]:
    photos: dict[str, bytes] = {}
    for name in ("astronaut", "grace_hopper"):
        image = Image.open(package_photo(name)).convert("RGB")
        variants = {
            "sharp": image,
            "blur sigma 3": image.filter(ImageFilter.GaussianBlur(3)),
            "15 % brightness": ImageEnhance.Brightness(image).enhance(0.15),
            "scaled to ~75 px face": image.resize((image.width * 4 // 10, image.height * 4 // 10)),
        }
        for variant, picture in variants.items():
            buffer = io.BytesIO()
            picture.save(buffer, format="PNG")
            photos[f"{name} {variant}"] = buffer.getvalue()
    return photos


def print_blurred_lfw(folder: Path, count: int = 60) -> None:
    """Sharpness of lfw-dev photos blurred with sigma 3: the first photo of the first ``count`` identities."""
    values = []
    with tempfile.TemporaryDirectory() as data_dir:
        client = FaceRecoClient.local(data_dir)
        for identity in sorted(p for p in folder.iterdir() if p.is_dir())[:count]:
            image = Image.open(sorted(identity.glob("*.jpg"))[0]).convert("RGB")
            buffer = io.BytesIO()
            image.filter(ImageFilter.GaussianBlur(3)).save(buffer, format="PNG")
            data = buffer.getvalue()
            q = largest_face_quality(data, client.detect(data, orientation=True).raw["data"]["faceDetails"])
            if q is not None:
                values.append(q.sharpness)
    print(
        f"  lfw-dev blurred with sigma 3 ({len(values)} of {count} photos still detected): sharpness "
        f"median {np.median(values):.1f}, highest {max(values):.1f}"
    )


def print_measures(qualities: dict[str, FaceQuality]) -> None:
    fields = ("size_px", "sharpness", "brightness", "evenness", "confidence", "yaw", "pitch", "roll")
    print("lfw-dev largest face, percentiles 0.5 / 1 / 2 / 5 / 50 / 95 / 99 / 99.5:")
    for name in fields:
        values = np.array([getattr(q, name) for q in qualities.values() if getattr(q, name) is not None], float)
        if name in ("yaw", "pitch", "roll"):
            values = np.abs(values)
        cuts = np.percentile(values, [0.5, 1, 2, 5, 50, 95, 99, 99.5])
        print(f"  {name:<11}" + " ".join(f"{c:8.2f}" for c in cuts))
    with tempfile.TemporaryDirectory() as data_dir:
        client = FaceRecoClient.local(data_dir)
        for name, data in degraded_package_photos().items():
            found = client.detect(data, orientation=True).raw["data"]["faceDetails"]
            q = largest_face_quality(data, found)
            if q is None:
                print(f"  {name}: no face detected")
                continue
            verdicts = {p: list(judged(q, p).reasons) for p in ("low", "medium", "high")}
            print(
                f"  {name}: size {q.size_px:.0f} px, sharpness {q.sharpness:.2f}, brightness {q.brightness:.1f}, "
                f"evenness {q.evenness:.2f}, confidence {q.confidence:.2f}; {verdicts}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--measures", action="store_true", help="also print each measure's percentiles")
    add_faces_dir_argument(parser)
    args = parser.parse_args()
    use_faces_dir(args)
    folder = require_faces() / "lfw-dev"
    files = sorted(str(p.relative_to(folder)) for p in folder.glob("*/*.jpg"))
    found = detections(folder, files)
    qualities = {}
    for name in files:
        q = largest_face_quality((folder / name).read_bytes(), found[name])
        if q is not None:
            qualities[name] = q
    if args.measures:
        print_measures(qualities)
        print_blurred_lfw(folder)
    vectors = embed_files(folder, files)
    print(f"lfw-dev: {len(files):,} photos, {len(qualities):,} with a detected face")
    if args.measures:
        print_duplicate_tail(files, vectors)
    for preset in PRESETS:
        verdicts = {name: judged(q, preset) for name, q in qualities.items()}
        kept = [name for name, q in verdicts.items() if q.passed and vectors.get(name) is not None]
        reasons = Counter(r for q in verdicts.values() for r in q.reasons)
        identities = np.array([name.split("/")[0] for name in kept])
        matrix = np.vstack([vectors[name] / np.linalg.norm(vectors[name]) for name in kept])
        upper = np.triu_indices(len(kept), k=1)
        similarity = (matrix @ matrix.T)[upper]  # cosine: higher = more alike, monotone in the distance
        same = (identities[:, None] == identities[None, :])[upper]
        eer, _ = equal_error_rate(similarity[same], similarity[~same])
        print(
            f"  {preset:<6}: keeps {len(kept):,}/{len(files):,} photos ({len(kept) / len(files):.1%}), "
            f"EER {eer:.2%} on {int(same.sum()):,} genuine / {int((~same).sum()):,} impostor pairs; "
            f"reasons {dict(reasons.most_common())}"
        )


def print_duplicate_tail(files: list[str], vectors: dict[str, np.ndarray | None]) -> None:
    """How many genuine pairs of distinct lfw-dev photos reach the audit's duplicate similarity."""
    kept = [name for name in files if vectors.get(name) is not None]
    identities = np.array([name.split("/")[0] for name in kept])
    matrix = np.vstack([vectors[name] / np.linalg.norm(vectors[name]) for name in kept])
    upper = np.triu_indices(len(kept), k=1)
    distance = np.sqrt(np.maximum(2.0 - 2.0 * (matrix @ matrix.T)[upper], 0.0))
    same = (identities[:, None] == identities[None, :])[upper]
    similarity = np.asarray(similarity_from_distance(distance))
    for label, chosen in (("genuine", same), ("impostor", ~same)):
        values = similarity[chosen]
        print(
            f"  {label} pairs of distinct photos at or above {DUPLICATE_SIMILARITY} (the audit's duplicate mark): "
            f"{int((values >= DUPLICATE_SIMILARITY).sum()):,} of {values.size:,}; "
            f"99.9th percentile {np.percentile(values, 99.9):.2f}"
        )


if __name__ == "__main__":
    main()
