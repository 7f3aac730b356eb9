"""The dashboard's in-process local engine pointed at a test's own data folder, for AppTest runs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from facereco.ui.session import local_transport


@contextmanager
def local_engine_at(data_dir: Path, **env: str) -> Iterator[None]:
    """FACERECO_DATA_DIR set to ``data_dir`` (and ``env`` set) with no preset appkey, for as long as the block
    runs. The app's engine is cached per process: it is dropped on the way in and on the way out."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FACERECO_DATA_DIR", str(data_dir))
        for name, value in env.items():
            patch.setenv(name, value)
        patch.delenv("FACERECO_APPKEY", raising=False)
        local_transport.clear()
        try:
            yield
        finally:
            local_transport.clear()
