"""Vision benchmark: per-stage medians on this machine, and accuracy on ../shared/faces.

    python benchmarks/vision.py [--repeats 7] [--no-dataset] [--versions-only]

``--versions-only``: just the descriptor versions' latency (issue #19): detect+embed of 1 face at
1024 px and 6 faces at 2048 px, v1.1 (two chips a face, the mirrors on the worker) against v1.0
(today's plain path: one chip a face), taking turns, and v1.1 with the worker off.

First the mask model (issue #12): cold load from the ONNX cache and with a conversion, in a
fresh interpreter each, against the Keras original where Keras is installed; time per face
against the bare cv2.dnn forward pass (and onnxruntime on the same graph where installed);
a 6-face 2048 px photo through detect+embed+mask with the embedding worker against one network
(and the worker's start time and memory); and
the installed size of the runtime requirements against main's.

Timing images are composites of the package photos (astronaut, grace_hopper) at
640, 1024 and 2048 px with 1 and 6 faces. Accuracy uses the labeled photos in
../shared/faces (skipped when absent): verification EER and FNMR at FMR 0.1 % with
the similarity at those points, detection miss rate, false faces on no-face images,
and mask accuracy on the masked subset.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import math
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from datasets import (
    ROOT,
    add_faces_dir_argument,
    all_pair_distances,
    embed_files,
    faces_dir,
    pair_distances,
    use_faces_dir,
)
from install_size import installed_size_mb
from PIL import Image

from facereco.engine.descriptors import MIRRORED_LOOK, SINGLE_LOOK
from facereco.engine.embed_worker import EmbedWorker
from facereco.engine.images import decode_image
from facereco.engine.mask import MaskClassifier, preprocess
from facereco.engine.pose import head_pose
from facereco.engine.similarity import similarity_from_distance
from facereco.engine.vision import FaceAnalyzer, crop_face, shared_analyzer
from facereco.metrics import equal_error_rate, threshold_for_fmr
from facereco.samples import package_photo


def package_photos() -> list[Image.Image]:
    return [Image.open(package_photo(name)).convert("RGB") for name in ("astronaut", "grace_hopper")]


def composite(size: int, faces: int) -> bytes:
    """A JPEG ``size`` px wide: one photo, or a 3x2 grid of six."""
    photos = package_photos()
    if faces == 1:
        canvas = photos[0].resize((size, size))
    else:
        cell = size // 3
        canvas = Image.new("RGB", (size, 2 * cell), (200, 200, 200))
        for i in range(6):
            canvas.paste(photos[i % 2].resize((cell, cell)), ((i % 3) * cell, (i // 3) * cell))
    buffer = io.BytesIO()
    canvas.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def median_ms(run: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def interleaved_medians_ms(runs: list[Callable[[], object]], repeats: int) -> list[float]:
    """Median ms of each run, taking turns, so that load from elsewhere falls on all of them alike."""
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(repeats):
        for run, run_times in zip(runs, times, strict=True):
            started = time.perf_counter()
            run()
            run_times.append((time.perf_counter() - started) * 1000)
    return [statistics.median(t) for t in times]


def time_stages(data: bytes, repeats: int) -> tuple[int, list[float]]:
    """Faces found, and the median ms of decode, detect, align, pose, embed, mask, detect+embed."""
    analyzer = shared_analyzer()
    detector, mask_model = analyzer._detector.get(), analyzer._mask.get()
    image = decode_image(data)
    found = analyzer.detect(image.rgb)

    def pose() -> None:
        for face in found:
            head_pose({**face.points, **face.alignment_points}, image.width, image.height)

    stages = [
        lambda: decode_image(data),
        lambda: detector.detect_faces(image.rgb),
        lambda: analyzer._align(image.rgb, found),
        pose,
        lambda: [analyzer.embed(image.rgb, f) for f in found],
        lambda: mask_model.predict([crop_face(image.rgb, f.box) for f in found]),
        lambda: [analyzer.embed(image.rgb, f) for f in analyzer.detect(image.rgb)],
    ]
    return len(found), [median_ms(stage, repeats) for stage in stages]


COLD_LOAD = """
import sys, time
started = time.perf_counter()
{load}
print(time.perf_counter() - started)
"""
ONNX_LOAD = "from facereco.engine.mask import MaskClassifier; MaskClassifier(sys.argv[1])"
KERAS_LOAD = "sys.path.insert(0, 'benchmarks'); from keras_reference import keras_mask_model; keras_mask_model()"


def cold_seconds(load: str, cache_dir: str) -> float:
    """Seconds to import and load the mask model in a fresh interpreter (imports included)."""
    process = subprocess.run(
        [sys.executable, "-c", COLD_LOAD.format(load=load), cache_dir],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return float(process.stdout.strip().splitlines()[-1])


def mask_cold_load() -> None:
    with tempfile.TemporaryDirectory(prefix="facereco-bench-models-") as cache_dir:
        converting = cold_seconds(ONNX_LOAD, cache_dir)
        cached = statistics.median(cold_seconds(ONNX_LOAD, cache_dir) for _ in range(3))
    print(f"mask cold load, fresh interpreter: {cached:.2f} s from the ONNX cache, {converting:.2f} s converting first")
    if importlib.util.find_spec("keras") is not None:
        print(f"                 Keras original (before #12): {cold_seconds(KERAS_LOAD, '.'):.2f} s")


def _bare_forward_ms(classifier: MaskClassifier, batch: np.ndarray, repeats: int) -> str:
    """The forward pass alone, on cv2.dnn and (where installed) onnxruntime."""
    network = classifier._network
    bare = median_ms(lambda: (network.setInput(batch), network.forward()), repeats)
    line = f"bare cv2.dnn forward {bare / len(batch):.1f} ms/face"
    if importlib.util.find_spec("onnxruntime") is not None:
        import onnxruntime

        session = onnxruntime.InferenceSession(str(classifier.path), providers=["CPUExecutionProvider"])
        ort = median_ms(lambda: session.run(None, {"input": batch}), repeats)
        line += f", onnxruntime {ort / len(batch):.1f} ms/face"
    return line


def mask_per_face(repeats: int) -> None:
    classifier = shared_analyzer()._mask.get()
    image = decode_image(composite(1024, 6))
    crops = [crop_face(image.rgb, f.box) for f in shared_analyzer().detect(image.rgb)]
    one = median_ms(lambda: classifier.predict(crops[:1]), repeats)
    six = median_ms(lambda: classifier.predict(crops), repeats)
    print(
        f"mask per face: {one:.1f} ms for 1 face ({_bare_forward_ms(classifier, preprocess(crops[:1]), repeats)}); "
        f"{six / len(crops):.1f} ms/face in a batch of {len(crops)} "
        f"({_bare_forward_ms(classifier, preprocess(crops), repeats)})"
    )


def worker_start() -> tuple[float, float]:
    """A fresh embedding worker: seconds from its start to its network loaded, and its RSS in MB."""
    worker = EmbedWorker()
    worker.start()
    if not worker.wait_ready():
        raise SystemExit("the embedding worker did not start")
    start_s, rss_mb = worker.start_s or 0.0, process_rss_mb(worker.pid or 0)
    worker.stop()
    return start_s, rss_mb


def process_rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def group_photo(repeats: int) -> None:
    """6 faces at 2048 px: detect (+mask) and embed every face, with the embedding worker and on one network."""
    analyzer = shared_analyzer()
    worker = analyzer.embed_worker
    if worker is None or not worker.wait_ready():
        print("6-face 2048 px: the embedding worker is off (FACERECO_EMBED_WORKER=0 or one CPU); nothing to compare")
        return
    rgb = decode_image(composite(2048, 6)).rgb
    faces = analyzer.detect(rgb, mask=True)
    masked = sum(bool(f.mask) for f in faces)
    embedder = analyzer._embedder.get()
    larger_half = faces[len(faces) // 2 :]
    before = worker.chips_embedded
    split_ms, one_ms, detect_mask_ms = interleaved_medians_ms(
        [
            lambda: analyzer.embed_all(rgb, analyzer.detect(rgb, mask=True)),
            lambda: [analyzer.embed(rgb, f) for f in analyzer.detect(rgb, mask=True)],
            lambda: analyzer.detect(rgb, mask=True),
        ],
        repeats,
    )
    by_worker = (worker.chips_embedded - before) / repeats
    mask_first_ms, mask_beside_ms = interleaved_medians_ms(
        [lambda: analyzer.embed_all(rgb, analyzer.detect(rgb, mask=True)), lambda: mask_beside_embedding(rgb)],
        repeats,
    )
    embed_split, embed_one, bare_half = interleaved_medians_ms(
        [
            lambda: analyzer.embed_all(rgb, faces),
            lambda: [analyzer.embed(rgb, f) for f in faces],
            # The floor of a two-way split: the larger half's bare dlib calls, nothing else.
            lambda: [embedder.compute_face_descriptor(rgb, f.shape) for f in larger_half],
        ],
        repeats,
    )
    start_s, rss_mb = worker_start()
    print(
        f"6-face 2048 px detect+embed+mask (target under 700 ms, from about 1.3 s): {split_ms:.0f} ms with the "
        f"embedding worker ({by_worker:.0f} of {len(faces)} faces embedded there), {one_ms:.0f} ms on one network "
        f"({masked} called masked); detect+mask alone {detect_mask_ms:.0f} ms"
    )
    print(
        f"  embedding the {len(faces)} faces: {embed_split:.0f} ms split with the worker, {embed_one:.0f} ms on one "
        f"network, {bare_half:.0f} ms bare dlib on the larger half ({len(larger_half)} faces: the split's floor); "
        f"worker start {start_s:.2f} s (imports + network load), RSS {rss_mb:.0f} MB"
    )
    print(
        f"  mask before the embedding (as the engine does) {mask_first_ms:.0f} ms, "
        f"on a thread beside it {mask_beside_ms:.0f} ms (not adopted unless faster)"
    )


def mask_beside_embedding(rgb: np.ndarray) -> None:
    """detect+embed+mask with the mask classifier on a thread while the faces embed (cv2.dnn frees the GIL)."""
    analyzer = shared_analyzer()
    faces = analyzer.detect(rgb, mask=False)
    masking = threading.Thread(target=analyzer._classify_masks, args=(rgb, faces))
    masking.start()
    analyzer.embed_all(rgb, faces)
    masking.join()


def install_size() -> None:
    files = {"requirements": ROOT / "requirements.txt", "no_deps": ROOT / "requirements-nodeps.txt"}
    now = installed_size_mb(**files)
    before = installed_size_mb(**files, git_ref="main")
    if before is None:
        print(f"runtime requirements installed: {now.total_mb:.0f} MB in {now.packages} distributions")
        return
    print(
        f"runtime requirements installed: {now.total_mb:.0f} MB in {now.packages} distributions; "
        f"main's: {before.total_mb:.0f} MB in {before.packages} ({before.total_mb - now.total_mb:.0f} MB smaller; "
        f"gone: {', '.join(sorted(before.names - now.names))}; new: {', '.join(sorted(now.names - before.names))})"
    )


def mask_figures(repeats: int) -> None:
    print("Mask model and several faces (issue #12)")
    mask_cold_load()
    shared_analyzer().warm_up(mask=True)
    mask_per_face(repeats)
    group_photo(repeats)
    install_size()
    print()


def stage_timings(repeats: int) -> None:
    shared_analyzer().warm_up(mask=True)
    print("Per-stage median time, ms (faces found in brackets)")
    names = ("decode", "detect", "align", "pose", "embed", "mask", "det+emb")
    print(f"{'image':>14} " + " ".join(f"{n:>8}" for n in names))
    for size in (640, 1024, 2048):
        for faces in (1, 6):
            found, medians = time_stages(composite(size, faces), repeats)
            print(f"{f'{size}px/{faces}f [{found}]':>14} " + " ".join(f"{m:8.1f}" for m in medians))


def report_verification(
    name: str, genuine_d: np.ndarray, impostor_d: np.ndarray, note: str = ""
) -> tuple[np.ndarray, np.ndarray]:
    """EER and FNMR at FMR 0.1 % of a distance set, in the engine's similarity."""
    genuine, impostor = similarity_from_distance(genuine_d), similarity_from_distance(impostor_d)
    eer, eer_at = equal_error_rate(genuine, impostor)
    at = threshold_for_fmr(genuine, impostor, 0.001)
    print(
        f"{name:>17}: {genuine.size:,} gen / {impostor.size:,} imp{note}: EER {eer:.2%} at sim {eer_at:.1f}; "
        f"FNMR {at.fnmr:.2%} at FMR {at.fmr:.3%} (sim {at.threshold:.1f})"
    )
    return genuine, impostor


def verification(folder: str) -> None:
    genuine_d, impostor_d, missing = pair_distances(faces_dir() / folder)
    report_verification(folder, genuine_d, impostor_d, f" ({missing} without face)")


def verification_all_pairs() -> None:
    genuine, impostor = report_verification("lfw-dev all pairs", *all_pair_distances(faces_dir() / "lfw-dev"))
    for threshold in (50, 70, 90):
        fmr = np.mean(impostor >= threshold)
        fnmr = np.mean(genuine < threshold)
        print(f"{'':>19}threshold {threshold}: FMR {fmr:.3%}, FNMR {fnmr:.2%}")


def detection_miss_rate(folder: str) -> None:
    files = sorted(str(p.relative_to(faces_dir() / folder)) for p in (faces_dir() / folder).glob("*/*.*"))
    files = [f for f in files if f.lower().endswith((".jpg", ".jpeg", ".png", ".pgm"))]
    vectors = embed_files(faces_dir() / folder, files)
    missed = sum(v is None for v in vectors.values())
    print(f"{folder:>17}: no face found in {missed} of {len(files)} photos ({missed / max(len(files), 1):.2%})")


def images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))


def false_faces() -> None:
    analyzer = shared_analyzer()
    paths = images_in(faces_dir() / "noface")
    with_faces = [p.name for p in paths if analyzer.detect(decode_image(p.read_bytes()).rgb)]
    print(f"{'noface':>17}: faces reported on {len(with_faces)} of {len(paths)} images {with_faces}")


def multi_face_recall() -> None:
    analyzer = shared_analyzer()
    boxes: dict[str, list[tuple[float, float, float, float]]] = {}
    with open(faces_dir() / "multi" / "dlib_voc_face_boxes.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["ignore"] == "0":
                left, top, w, h = (float(row[k]) for k in ("left", "top", "width", "height"))
                boxes.setdefault(row["file"], []).append((left, top, left + w, top + h))
    found = labelled = found_60 = labelled_60 = 0
    for name, truth in boxes.items():
        image = decode_image((faces_dir() / "multi" / name).read_bytes())
        scale = image.width / image.original_size[0]
        detected = [f.box for f in analyzer.detect(image.rgb)]
        for box in truth:
            box = tuple(v * scale for v in box)
            hit = any(_iou(box, d) >= 0.3 for d in detected)
            labelled += 1
            found += hit
            if (box[2] - box[0]) >= 60:
                labelled_60 += 1
                found_60 += hit
    print(
        f"{'multi (VOC boxes)':>17}: recall {found}/{labelled} labelled faces; "
        f"{found_60}/{labelled_60} of those >= 60 px (most VOC faces are 30-50 px, below the contract's minimum)"
    )


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def largest_face_masks(paths: list[Path]) -> tuple[list[bool], list[np.ndarray]]:
    """The engine's mask call on each photo's largest face, and that face's crop (photos without a face left out)."""
    analyzer = shared_analyzer()
    calls, crops = [], []
    for path in paths:
        rgb = decode_image(path.read_bytes()).rgb
        faces = analyzer.detect(rgb, mask=True)
        if faces:
            calls.append(bool(faces[0].mask))
            crops.append(crop_face(rgb, faces[0].box))
    return calls, crops


def mask_accuracy() -> None:
    masked_paths = images_in(faces_dir() / "masked" / "single")
    masked, masked_crops = largest_face_masks(masked_paths)
    unmasked, unmasked_crops = largest_face_masks(sorted((faces_dir() / "lfw-dev").glob("*/*.jpg"))[::50][:60])
    right = sum(masked) + unmasked.count(False)
    print(
        f"{'mask':>17}: masked/single called masked {sum(masked)}/{len(masked)} detected ({len(masked_paths)} photos); "
        f"LFW called unmasked {unmasked.count(False)}/{len(unmasked)}; "
        f"accuracy {right / max(len(masked) + len(unmasked), 1):.1%}"
    )
    if importlib.util.find_spec("keras") is not None:
        from keras_reference import keras_mask_model, keras_probabilities

        reference = keras_probabilities(keras_mask_model(), masked_crops + unmasked_crops)[:, 0] >= 0.5
        same = int(np.sum(reference == np.array(masked + unmasked)))
        print(
            f"{'':>19}Keras original on the same crops: masked {int(reference[: len(masked)].sum())}/{len(masked)}, "
            f"unmasked {int((~reference[len(masked) :]).sum())}/{len(unmasked)}; same call on {same}/{len(reference)}"
        )


def descriptor_versions(repeats: int) -> None:
    """detect+embed in each version's way, taking turns; v1.1 on one network too (the worker off)."""
    analyzer = shared_analyzer()
    analyzer.warm_up()
    alone = FaceAnalyzer(embed_worker=False)
    alone.warm_up()
    if analyzer.embed_worker is None or not analyzer.embed_worker.ready:
        print("descriptor versions: the embedding worker is off (FACERECO_EMBED_WORKER=0 or one CPU)")
    for size, faces, target in ((1024, 1, 250), (2048, 6, 700)):
        rgb = decode_image(composite(size, faces)).rgb
        found = len(analyzer.detect(rgb))
        detected = alone.detect(rgb)
        plain, mirrored, mirrored_alone, detect_only, one_core = interleaved_medians_ms(
            [
                lambda rgb=rgb: analyzer.embed_all(rgb, analyzer.detect(rgb), SINGLE_LOOK),
                lambda rgb=rgb: analyzer.embed_all(rgb, analyzer.detect(rgb), MIRRORED_LOOK),
                lambda rgb=rgb: alone.embed_all(rgb, alone.detect(rgb), MIRRORED_LOOK),
                lambda rgb=rgb: alone.detect(rgb),
                lambda rgb=rgb, faces=detected: alone.embed_all(rgb, faces, MIRRORED_LOOK),
            ],
            repeats,
        )
        print(
            f"{found} face(s) at {size} px, detect+embed (medians of {repeats}, taking turns): "
            f"v1.0 {plain:.0f} ms, v1.1 {mirrored:.0f} ms = {mirrored / plain:.2f}x v1.0 (target <= 1.15x, "
            f"<= {target} ms); v1.1 with the worker off {mirrored_alone:.0f} ms = {mirrored_alone / plain:.2f}x"
        )
        # The physical floor: both versions already split their chips over the two cores (the worker has
        # embedded half of a photo's chips since 2026-11-25), so v1.1's twice the network work can only
        # hide behind detection, not behind an idle core. chip = one chip through the network on one core.
        chip = one_core / (2 * found)
        floor = (detect_only + chip * found) / (detect_only + chip * math.ceil(found / 2))
        print(
            f"{'':>4}physical work in the same run: detect {detect_only:.0f} ms, one chip {chip:.0f} ms on one core; "
            f"v1.0 embeds {found} chip(s), v1.1 {2 * found}, half on each core when there are two or more: "
            f"floor for v1.1/v1.0 {floor:.2f}x, measured {mirrored / plain:.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-dataset", action="store_true")
    add_faces_dir_argument(parser)
    parser.add_argument("--versions-only", action="store_true")
    args = parser.parse_args()
    use_faces_dir(args)
    if args.versions_only:
        descriptor_versions(args.repeats)
        return
    mask_figures(args.repeats)
    stage_timings(args.repeats)
    descriptor_versions(args.repeats)
    if args.no_dataset:
        return
    if not faces_dir().is_dir():
        print(f"dataset figures skipped: {faces_dir()} not found")
        return
    print("\nVerification (similarity = the engine's calibrated 0-100 score)")
    verification_all_pairs()
    for folder in ("lfw-dev", "dlib-johns", "facerec-examples", "orl-att", "yale"):
        verification(folder)
    print("\nDetection")
    for folder in ("lfw-dev", "dlib-johns", "facerec-examples", "orl-att", "yale"):
        detection_miss_rate(folder)
    false_faces()
    multi_face_recall()
    print("\nMask")
    mask_accuracy()


if __name__ == "__main__":
    main()
