"""The original Keras mask model, loaded as the engine loaded it before the ONNX conversion.

Only the equivalence test and the vision benchmark use it; Keras and JAX are test-only
dependencies (requirements-dev.txt). The package's HDF5 config carries ``dtype`` keys in
every initializer that Keras 3 rejects, so a temporary copy has them dropped first.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from facereco.engine.mask import model_file, preprocess


def _drop_initializer_dtypes(config: Any) -> Any:
    if isinstance(config, dict):
        for key, value in config.items():
            if key.endswith("_initializer") and isinstance(value, dict) and isinstance(value.get("config"), dict):
                value["config"].pop("dtype", None)
            _drop_initializer_dtypes(value)
    elif isinstance(config, list):
        for value in config:
            _drop_initializer_dtypes(value)
    return config


def keras_mask_model() -> Any:
    """The Keras model (JAX backend). Raises ImportError where Keras is not installed."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import h5py
    import keras

    with tempfile.TemporaryDirectory(prefix="facereco-mask-") as tmp:
        copy = Path(tmp) / "model.h5"
        shutil.copyfile(model_file(), copy)
        with h5py.File(copy, "r+") as h5:
            raw = h5.attrs["model_config"]
            config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
            h5.attrs["model_config"] = json.dumps(_drop_initializer_dtypes(config))
        return keras.models.load_model(copy, compile=False)


def keras_probabilities(model: Any, crops: list[np.ndarray]) -> np.ndarray:
    """[P(mask), P(no mask)] per crop, from the same preprocessing the engine uses (NCHW back to NHWC)."""
    return np.asarray(model.predict(preprocess(crops).transpose(0, 2, 3, 1), verbose=0))
