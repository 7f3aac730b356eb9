"""What the contract's face rules drop on ../shared/faces: faces under 60x60 px, faces turned beyond 45 degrees.

    python benchmarks/face_rules.py [--folders lfw-dev multi yale]

Per folder it prints the faces the engine detects, how many the size rule drops (a side of the
box under 60 px; the old rule, the geometric mean of the sides, in brackets), how many the pose
rule drops (yaw or pitch beyond 45 degrees), how many images with a face are left with none
recognisable, and checks the pose estimate against the folder's
manifest: the face on the manifest's main box, when the manifest calls it frontal (its automatic
yaw and pitch within 25 degrees, no ``turned_head`` flag), must not be dropped by pose. Those
estimates are hints, not ground truth, so each disagreement is listed for a look.
"""

from __future__ import annotations

import argparse
import csv
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from datasets import add_faces_dir_argument, require_faces, use_faces_dir

from facereco.contract import MIN_FACE_SIDE
from facereco.engine.images import decode_image
from facereco.engine.vision import DetectedFace, shared_analyzer
from facereco.errors import ApiError

FRONTAL_DEGREES = 25.0


@dataclass
class FolderCount:
    images: int = 0
    undecodable: int = 0
    faces: int = 0
    small: int = 0
    small_by_mean: int = 0
    turned: int = 0
    images_left_without: int = 0
    frontal_checked: int = 0
    frontal_dropped: list[str] = field(default_factory=list)
    turned_files: list[str] = field(default_factory=list)


def manifest(folder: Path) -> dict[str, dict[str, str]]:
    with open(folder / "manifest.csv", newline="") as handle:
        return {row["file"]: row for row in csv.DictReader(handle)}


def manifest_says_frontal(row: dict[str, str]) -> bool:
    try:
        yaw, pitch = float(row["est_yaw_deg"]), float(row["est_pitch_deg"])
    except (KeyError, ValueError):
        return False  # no estimate (multi-face photos): nothing to check against
    return abs(yaw) <= FRONTAL_DEGREES and abs(pitch) <= FRONTAL_DEGREES and "turned_head" not in row["flags"]


def overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def manifest_face(row: dict[str, str], faces: list[DetectedFace]) -> DetectedFace | None:
    """Our face that best overlaps the manifest's main face box (x, y, w, h), if any overlaps by half."""
    try:
        x, y, w, h = (float(v) for v in row["main_face_box"].split(","))
    except (KeyError, ValueError):
        return None
    best = max(faces, key=lambda f: overlap(f.box, (x, y, x + w, y + h)), default=None)
    return best if best is not None and overlap(best.box, (x, y, x + w, y + h)) >= 0.5 else None


def pose_text(face: DetectedFace) -> str:
    yaw, pitch, _ = face.orientation or (math.nan, math.nan, math.nan)
    return f"yaw {yaw:+.0f} pitch {pitch:+.0f}"


def count_folder(folder: Path) -> FolderCount:
    rows = manifest(folder)
    analyzer = shared_analyzer()
    count = FolderCount()
    for name, row in sorted(rows.items()):
        count.images += 1
        try:
            image = decode_image((folder / name).read_bytes())
        except ApiError:
            count.undecodable += 1
            continue
        faces = analyzer.detect(image.rgb)
        count.faces += len(faces)
        count.images_left_without += bool(faces) and not any(f.recognisable for f in faces)
        count.small += sum(f.too_small for f in faces)
        count.small_by_mean += sum(f.size < MIN_FACE_SIDE for f in faces)
        turned = [f for f in faces if f.turned_too_far and not f.too_small]
        count.turned += len(turned)
        count.turned_files += [f"{name} ({pose_text(f)}; manifest yaw {row['est_yaw_deg']})" for f in turned]
        main = manifest_face(row, faces)
        if main is not None and not main.too_small and manifest_says_frontal(row):
            count.frontal_checked += 1
            if main.turned_too_far:
                count.frontal_dropped.append(f"{name} ({pose_text(main)}; manifest yaw {row['est_yaw_deg']})")
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--folders", nargs="+", default=["lfw-dev", "multi", "yale"])
    add_faces_dir_argument(parser)
    args = parser.parse_args()
    use_faces_dir(args)
    root = require_faces()
    shared_analyzer().warm_up()
    print(
        f"{'folder':<10} {'images':>6} {'faces':>6} {'<60 px side (mean)':>19} {'turned >45':>10} "
        f"{'no face left':>12} frontal kept"
    )
    for name in args.folders:
        started = time.perf_counter()
        c = count_folder(root / name)
        kept = c.frontal_checked - len(c.frontal_dropped)
        print(
            f"{name:<10} {c.images:>6} {c.faces:>6} {c.small:>10} ({c.small_by_mean:>4}) {c.turned:>10} "
            f"{c.images_left_without:>12} "
            f"{kept}/{c.frontal_checked}   [{time.perf_counter() - started:.0f} s, {c.undecodable} undecodable]"
        )
        for line in c.turned_files:
            print(f"    dropped by pose: {line}")
        for line in c.frontal_dropped:
            print(f"    FRONTAL DROPPED: {line}")


if __name__ == "__main__":
    main()
