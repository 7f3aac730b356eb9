"""Streamlit plumbing: which backend, the one shared transport, a recording client per browser session.

The local engine (models, SQLite) is created once per process with
``st.cache_resource`` and shared by every session; each session gets its own
``FaceRecoClient`` over a ``RecordingTransport`` so its request/response panel
shows its own calls only.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from facereco.client import FaceRecoClient
from facereco.contract import CLOUD_BASE_URL
from facereco.samples import package_photo
from facereco.transport import HttpTransport, LocalTransport, Transport
from facereco.tuning import labeled_external_id
from facereco.ui.recorder import RecordingTransport


@dataclass(frozen=True)
class Backend:
    """What the dashboard talks to: the local engine unless an appkey is configured."""

    appkey: str | None = field(repr=False)  # a secret: never in a repr, a log line or an error page
    base_url: str

    @property
    def is_local(self) -> bool:
        return not self.appkey

    @property
    def label(self) -> str:
        if self.is_local:
            return "Local engine (offline)"
        return "NHN Cloud" if self.base_url == CLOUD_BASE_URL else f"HTTP {self.base_url}"

    @property
    def masked_appkey(self) -> str:
        """The appkey as shown on screen: never whole."""
        if not self.appkey:
            return "—"
        return f"{self.appkey[:4]}{'•' * 8}" if len(self.appkey) > 8 else "•" * 8


def _secret(name: str) -> str | None:
    try:
        value = st.secrets.get(name)
    except Exception:  # no secrets.toml at all is the normal case  # noqa: BLE001
        value = None
    return value or os.environ.get(name) or None


def configured_backend() -> Backend:
    """From ``st.secrets`` or the environment: FACERECO_APPKEY, FACERECO_BASE_URL."""
    return Backend(_secret("FACERECO_APPKEY"), _secret("FACERECO_BASE_URL") or CLOUD_BASE_URL)


@st.cache_resource(show_spinner=False)
def shared_transport(backend: Backend) -> Transport:
    """One transport per backend per process: the local engine starts loading its models here, in the background."""
    if backend.is_local:
        from facereco.engine.api import LocalEngine

        engine = LocalEngine()
        engine.start_warm_up()
        return LocalTransport(engine)
    return HttpTransport(backend.appkey or "", backend.base_url)


def client() -> FaceRecoClient:
    """This browser session's client (its own recorder over the shared transport)."""
    backend = configured_backend()
    key = f"facereco-client-{backend.label}"
    if key not in st.session_state:
        st.session_state[key] = FaceRecoClient(transport=RecordingTransport(shared_transport(backend)))
    return st.session_state[key]


def recorder() -> RecordingTransport:
    return client().transport  # type: ignore[return-value]


def engine_ready() -> bool | None:
    """Whether the local engine has loaded every model; None for a remote backend."""
    transport = shared_transport(configured_backend())
    return transport.engine.models_ready if isinstance(transport, LocalTransport) else None


def model_description() -> str:
    transport = shared_transport(configured_backend())
    if isinstance(transport, LocalTransport):
        return transport.engine.model_description
    return "NHN Cloud model v1.0"


# ---------------------------------------------------------------- sample photos
def _sample_paths() -> dict[str, Path]:
    return {
        "Astronaut (Eileen Collins)": package_photo("astronaut"),
        "Grace Hopper": package_photo("grace_hopper"),
        "Coffee (no face)": package_photo("coffee"),
    }


@st.cache_data(show_spinner=False)
def sample_photos() -> dict[str, bytes]:
    """Photos that ship with packages already installed, so a demo needs no files."""
    return {name: path.read_bytes() for name, path in _sample_paths().items() if path.is_file()}


def demo_images() -> list[tuple[str, bytes]]:
    """The demo group's photos: two people, each twice (the second copy altered), labeled
    ``<person>:<file>`` as the Tuning page expects."""
    from PIL import Image, ImageEnhance, ImageOps

    photos = sample_photos()
    out = []
    for stem, name in (("astronaut", "Astronaut (Eileen Collins)"), ("grace-hopper", "Grace Hopper")):
        if name not in photos:
            continue
        original = Image.open(io.BytesIO(photos[name])).convert("RGB")
        variant = ImageEnhance.Brightness(ImageOps.mirror(original)).enhance(1.15)
        for suffix, image in (("1", original), ("2", variant)):
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=92)
            out.append((labeled_external_id(stem, f"{stem}_{suffix}.jpg"), buffer.getvalue()))
    return out


# ---------------------------------------------------------------- router guard
# pages/ is also Streamlit's legacy auto-discovery folder. Until some session has run app.py (and so
# st.navigation), a deep link such as /detect runs the page file bare: no sidebar, legacy menu. A page
# that finds the router not started yet asks for itself and hands over to app.py, which sends it back.
_router_started = False
WANTED_PAGE_KEY = "facereco-wanted-page"


def mark_router_started() -> None:
    global _router_started
    _router_started = True


def require_router(page_file: str) -> None:
    """Call first in every page: route a bare (legacy) run through app.py."""
    if not _router_started:
        st.session_state[WANTED_PAGE_KEY] = Path(page_file).name
        st.switch_page("app.py")
