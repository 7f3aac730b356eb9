"""Faces the detector misses (issue #19): recall and false faces with and without the edge rule.

    python benchmarks/detection.py

A large face cut by the frame's edge gets a lower MTCNN confidence than a whole one, so the
engine asks ``MIN_CONFIDENCE_AT_EDGE`` of faces of at least ``EDGE_FACE_MIN_SIDE`` px whose box
touches the edge, instead of ``MIN_CONFIDENCE``. This prints, for both rules in one run:
recognisable faces found on the package photos cut 20 % and 30 % by each edge (at 1x and 3x), on
wide 2048 px "group selfies" whose nearest face (344-688 px) is cut a quarter by the left edge,
recall on ../shared/faces/multi's hand boxes (faces >= 60 px) and on facerec-examples (photos
with a face), and recognisable faces reported on ../shared/faces/noface (all false).
"""

from __future__ import annotations

import argparse
import csv

import numpy as np
from datasets import add_faces_dir_argument, faces_dir, use_faces_dir
from PIL import Image

import facereco.engine.vision as vision
from facereco.engine.images import decode_image
from facereco.engine.vision import shared_analyzer
from facereco.samples import package_photo

RULES = {"before (0.95 everywhere)": vision.MIN_CONFIDENCE, "edge rule": vision.MIN_CONFIDENCE_AT_EDGE}


def recognisable(rgb: np.ndarray) -> list[tuple[float, float, float, float]]:
    return [f.box for f in shared_analyzer().detect(rgb) if f.recognisable]


def edge_crops() -> list[np.ndarray]:
    """Each package photo cut 20 % and 30 % into its face's box from each side, at 1x and 3x."""
    crops = []
    for name in ("astronaut", "grace_hopper"):
        photo = Image.open(package_photo(name)).convert("RGB")
        x0, y0, x1, y1 = shared_analyzer().detect(np.asarray(photo))[0].box
        w, h = x1 - x0, y1 - y0
        for cut in (0.2, 0.3):
            for box in (
                (int(x0 + cut * w), 0, photo.width, photo.height),
                (0, 0, int(x1 - cut * w), photo.height),
                (0, int(y0 + cut * h), photo.width, photo.height),
                (0, 0, photo.width, int(y1 - cut * h)),
            ):
                crop = photo.crop(box)
                crops += [np.asarray(crop), np.asarray(crop.resize((crop.width * 3, crop.height * 3)))]
    return crops


def near_face_selfies() -> list[np.ndarray]:
    """2048x1152: the astronaut 4-8x (face 344-688 px) cut a quarter by the left edge, three small faces behind."""
    astronaut = Image.open(package_photo("astronaut")).convert("RGB")
    grace = Image.open(package_photo("grace_hopper")).convert("RGB").resize((256, 300))
    selfies = []
    for k in (4, 5, 6, 8):
        canvas = Image.new("RGB", (2048, 1152), (120, 120, 120))
        canvas.paste(astronaut.resize((512 * k, 512 * k)), (int(-182 * k - 0.25 * 86 * k), int(-60 * k + 150)))
        for i in range(3):
            canvas.paste(grace, (1100 + 300 * i, 600))
        selfies.append(np.asarray(canvas))
    return selfies


def multi_recall() -> tuple[int, int]:
    boxes: dict[str, list[tuple[float, ...]]] = {}
    with open(faces_dir() / "multi" / "dlib_voc_face_boxes.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["ignore"] == "0":
                left, top, w, h = (float(row[k]) for k in ("left", "top", "width", "height"))
                if w >= 60:
                    boxes.setdefault(row["file"], []).append((left, top, left + w, top + h))
    found = labelled = 0
    for name, truth in boxes.items():
        image = decode_image((faces_dir() / "multi" / name).read_bytes())
        scale = image.width / image.original_size[0]
        detected = recognisable(image.rgb)
        for box in truth:
            scaled = tuple(v * scale for v in box)
            labelled += 1
            found += any(iou(scaled, d) >= 0.3 for d in detected)
    return found, labelled


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def photos(folder: str) -> list[np.ndarray]:
    paths = sorted(p for p in (faces_dir() / folder).rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    return [decode_image(p.read_bytes()).rgb for p in paths]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_faces_dir_argument(parser)
    use_faces_dir(parser.parse_args())
    crops, selfies = edge_crops(), near_face_selfies()
    examples, noface = photos("facerec-examples"), photos("noface")
    for label, edge_confidence in RULES.items():
        vision.MIN_CONFIDENCE_AT_EDGE = edge_confidence
        cut = sum(bool(recognisable(c)) for c in crops)
        near = sum(any(b[0] <= 1 and b[2] - b[0] > 200 for b in recognisable(s)) for s in selfies)
        behind = sum(len(recognisable(s)) for s in selfies)
        found, labelled = multi_recall()
        with_face = sum(bool(recognisable(p)) for p in examples)
        false = sum(len(recognisable(p)) for p in noface)
        print(
            f"{label}: edge-cut package photos {cut}/{len(crops)} found; near face in {near}/{len(selfies)} selfies "
            f"({behind} faces in all, of {4 * len(selfies)}); multi >= 60 px {found}/{labelled}; "
            f"facerec-examples {with_face}/{len(examples)} photos; noface {false} false faces on {len(noface)} images"
        )


if __name__ == "__main__":
    main()
