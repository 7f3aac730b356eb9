"""The local engine's front door: what the client, the CLI and the dashboard may use.

``LocalEngine`` (``facereco.engine.api``) serves the contract; beside it, what the dashboard needs
without reaching into the engine's modules: the image-URL policy and its fetcher, the similarity
calibration (rates at measured thresholds), the bounded image decoder, and the default data folder.
Readiness and the model description are ``LocalEngine.models_ready`` and ``LocalEngine.model_description``.

Names are loaded on first use (PEP 562), so ``import facereco.engine.embed_worker`` (the embedding
worker's own process) does not load the models, the store and the server's dependencies with it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from facereco.engine.api import LocalEngine
    from facereco.engine.fetch import UrlPolicy, fetch_image_url
    from facereco.engine.images import decode_image
    from facereco.engine.paths import default_data_dir
    from facereco.engine.similarity import (
        CALIBRATED_RATES,
        CALIBRATION_PAIRS,
        CALIBRATIONS,
        Calibration,
        calibration_for,
    )

_EXPORTS = {
    "LocalEngine": "facereco.engine.api",
    "UrlPolicy": "facereco.engine.fetch",
    "fetch_image_url": "facereco.engine.fetch",
    "default_data_dir": "facereco.engine.paths",
    "decode_image": "facereco.engine.images",
    "CALIBRATED_RATES": "facereco.engine.similarity",
    "CALIBRATION_PAIRS": "facereco.engine.similarity",
    "CALIBRATIONS": "facereco.engine.similarity",
    "Calibration": "facereco.engine.similarity",
    "calibration_for": "facereco.engine.similarity",
}

__all__ = [
    "CALIBRATED_RATES",
    "CALIBRATIONS",
    "CALIBRATION_PAIRS",
    "Calibration",
    "LocalEngine",
    "UrlPolicy",
    "calibration_for",
    "decode_image",
    "default_data_dir",
    "fetch_image_url",
]
assert sorted(__all__) == sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # once loaded, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
