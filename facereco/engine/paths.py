"""Where the local engine keeps its data by default: one function that the engine's front door and the
vision models (the mask model's cache) both read, so neither imports the other for it."""

from __future__ import annotations

import os
from pathlib import Path


def default_data_dir() -> Path:
    """``FACERECO_DATA_DIR``, else ``$XDG_DATA_HOME/facereco`` (``~/.local/share/facereco``)."""
    if os.environ.get("FACERECO_DATA_DIR"):
        return Path(os.environ["FACERECO_DATA_DIR"])
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "facereco"
