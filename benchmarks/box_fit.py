"""Fit the map from MTCNN's face box to dlib's detector geometry (issue #19).

    python benchmarks/box_fit.py [--limit N]

dlib's 5-point shape predictor was trained on the square boxes of dlib's HOG frontal detector
(``dlib.get_frontal_face_detector``, shipped inside dlib). For every lfw-dev photo where both
detectors find the largest face (the HOG box's centre inside the MTCNN box), this fits by least
squares, in units of the MTCNN box's width w and height h:

    side     = SIDE_PER_WIDTH * w + SIDE_PER_HEIGHT * h
    centre_x = mtcnn centre_x + SHIFT_X_PER_WIDTH * w
    centre_y = mtcnn centre_y + SHIFT_Y_PER_HEIGHT * h

and prints the constants that ``facereco/engine/vision.py`` (``dlib_geometry_box``) uses, with the
median and 95th-percentile residual in per cent of the HOG side. The boxes are cached in
~/.cache/facereco-bench/lfw-dev-boxes.npz.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from datasets import CACHE, add_faces_dir_argument, require_faces, use_faces_dir

from facereco.engine.images import decode_image
from facereco.engine.vision import FaceAnalyzer, dlib_geometry_box, shared_analyzer


def mtcnn_box(analyzer: FaceAnalyzer, rgb: np.ndarray) -> tuple[float, float, float, float] | None:
    """The largest accepted MTCNN box (as ``detect`` keeps it), without alignment."""
    height, width = rgb.shape[:2]
    with analyzer._detect_lock:
        raw = analyzer._detector.get().detect_faces(rgb)
    faces = [f for f in (analyzer._from_mtcnn(r, width, height) for r in raw) if f is not None]
    return max(faces, key=lambda f: f.size).box if faces else None


def hog_box(detector, rgb: np.ndarray, inside: tuple[float, float, float, float]) -> tuple[float, ...] | None:
    """dlib's HOG box whose centre lies inside ``inside`` (the largest such), as (left, top, right, bottom)."""
    x0, y0, x1, y1 = inside
    found = []
    for rect in detector(rgb, 1):
        cx, cy = (rect.left() + rect.right()) / 2, (rect.top() + rect.bottom()) / 2
        if x0 <= cx <= x1 and y0 <= cy <= y1:
            found.append((rect.width() * rect.height(), (rect.left(), rect.top(), rect.right(), rect.bottom())))
    return max(found)[1] if found else None


def collect_boxes(limit: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(MTCNN boxes, HOG boxes) of the photos where both found the face; cached."""
    cache_file = CACHE / "lfw-dev-boxes.npz"
    folder = require_faces() / "lfw-dev"
    files = sorted(str(p.relative_to(folder)) for p in folder.glob("*/*.jpg"))[:limit]
    if cache_file.exists():
        with np.load(cache_file) as data:
            if int(data["photos"]) == len(files):
                return data["mtcnn"], data["hog"]
    import dlib

    analyzer, detector = shared_analyzer(), dlib.get_frontal_face_detector()
    mtcnn, hog = [], []
    for i, name in enumerate(files, 1):
        rgb = decode_image((folder / name).read_bytes()).rgb
        box = mtcnn_box(analyzer, rgb)
        reference = hog_box(detector, rgb, box) if box is not None else None
        if reference is not None:
            mtcnn.append(box)
            hog.append(reference)
        if i % 500 == 0:
            print(f"  {i}/{len(files)} photos", file=sys.stderr, flush=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(cache_file, mtcnn=np.array(mtcnn), hog=np.array(hog, dtype=np.float64), photos=len(files))
    print(f"lfw-dev: {len(files)} photos, both detectors found the face in {len(mtcnn)}")
    return np.array(mtcnn), np.array(hog, dtype=np.float64)


def fit(mtcnn: np.ndarray, hog: np.ndarray) -> dict[str, float]:
    w, h = mtcnn[:, 2] - mtcnn[:, 0], mtcnn[:, 3] - mtcnn[:, 1]
    cx, cy = (mtcnn[:, 0] + mtcnn[:, 2]) / 2, (mtcnn[:, 1] + mtcnn[:, 3]) / 2
    side = ((hog[:, 2] - hog[:, 0]) + (hog[:, 3] - hog[:, 1])) / 2
    hcx, hcy = (hog[:, 0] + hog[:, 2]) / 2, (hog[:, 1] + hog[:, 3]) / 2
    (per_w, per_h), *_ = np.linalg.lstsq(np.column_stack([w, h]), side, rcond=None)
    return {
        "SIDE_PER_WIDTH": float(per_w),
        "SIDE_PER_HEIGHT": float(per_h),
        "SHIFT_X_PER_WIDTH": float(np.sum((hcx - cx) * w) / np.sum(w * w)),
        "SHIFT_Y_PER_HEIGHT": float(np.sum((hcy - cy) * h) / np.sum(h * h)),
    }


def residuals(mtcnn: np.ndarray, hog: np.ndarray) -> None:
    """How far the engine's mapped box lands from dlib's own, in per cent of dlib's side."""
    mapped = np.array([dlib_geometry_box(tuple(b)) for b in mtcnn])
    side = ((hog[:, 2] - hog[:, 0]) + (hog[:, 3] - hog[:, 1])) / 2
    centre = np.hypot((mapped[:, 0] + mapped[:, 2] - hog[:, 0] - hog[:, 2]) / 2,
                      (mapped[:, 1] + mapped[:, 3] - hog[:, 1] - hog[:, 3]) / 2) / side  # fmt: skip
    sides = np.abs((mapped[:, 2] - mapped[:, 0]) - side) / side
    for label, values in (("centre offset", centre), ("side error", sides)):
        print(f"  engine's mapping, {label}: median {np.median(values):.1%}, 95th pct {np.percentile(values, 95):.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=None, help="only the first N photos (a quick look)")
    add_faces_dir_argument(parser)
    args = parser.parse_args()
    use_faces_dir(args)
    mtcnn, hog = collect_boxes(args.limit)
    print(f"fitted on {len(mtcnn)} faces:")
    for name, value in fit(mtcnn, hog).items():
        print(f"  {name} = {value:.4f}")
    residuals(mtcnn, hog)


if __name__ == "__main__":
    main()
