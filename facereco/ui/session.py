"""Streamlit plumbing: which backend (this browser session's choice), and a client per session.

The local engine (models, SQLite) is created once per process with ``st.cache_resource``
and shared by every session. Each session gets its own ``FaceRecoClient`` over
``ReadCachingTransport`` (lists are read once, not on every rerun) over
``RecordingTransport`` (its request/response panel shows its own calls only). An HTTP
backend's appkey lives in the session's state only: never in a log, a URL or an error text.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import streamlit as st

from facereco.client import FaceRecoClient
from facereco.contract import CLOUD_BASE_URL
from facereco.errors import FaceRecoError
from facereco.labeled_sets import labeled_external_id
from facereco.samples import package_photo
from facereco.transport import HttpTransport, LocalTransport, RetryPolicy, Transport
from facereco.ui.i18n import _
from facereco.ui.messages import explain
from facereco.ui.read_cache import ReadCachingTransport
from facereco.ui.recorder import RecordingTransport

if TYPE_CHECKING:
    from facereco.engine import LocalEngine
    from facereco.tuning import GroupScores

LOCAL, CLOUD, SERVER = "local", "cloud", "server"
BACKEND_KEY = "facereco-backend"
CLIENT_KEY = "facereco-client"
CHECK_KEY = "facereco-connection-check"
TUNED_SCORES_KEY = "tuning-scores"

# A group's state when it was scored: (groupId, faceCount, newest faceId); it changes with any write.
GroupState = tuple[str, int, str | None]


@dataclass(frozen=True)
class Backend:
    """What the dashboard talks to: the local engine, the NHN cloud, or another server (base URL)."""

    kind: str = LOCAL
    appkey: str | None = field(default=None, repr=False)  # never in a repr, a log or an error text
    base_url: str = CLOUD_BASE_URL

    @property
    def is_local(self) -> bool:
        return self.kind == LOCAL

    @property
    def label(self) -> str:
        if self.is_local:
            return _("Local engine (offline)")
        return "NHN Cloud" if self.kind == CLOUD else _("Server {url}").format(url=self.base_url)

    def full_name(self, *, with_address: bool = True) -> str:
        """The backend named in full for an audience; a private server's address only ``with_address``."""
        if self.is_local:
            return _("facereco local engine (offline, on this computer)")
        if self.kind == CLOUD:
            return _("NHN Cloud Face Recognition API v1.0")
        if with_address:
            return _("Face Recognition server at {url}").format(url=self.base_url)
        return _("another Face Recognition server (its address left out)")

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
    """The preset from ``st.secrets`` or the environment: FACERECO_APPKEY, FACERECO_BASE_URL."""
    appkey, base_url = _secret("FACERECO_APPKEY"), _secret("FACERECO_BASE_URL") or CLOUD_BASE_URL
    if not appkey:
        return Backend(LOCAL)
    return Backend(CLOUD if base_url.rstrip("/") == CLOUD_BASE_URL.rstrip("/") else SERVER, appkey, base_url)


def preset_appkey_for(kind: str, base_url: str) -> str | None:
    """The operator's preset appkey, for the backend it was configured for only: never sent to a base URL
    a visitor typed (that would hand the key to whatever host they name)."""
    preset = configured_backend()
    same_server = preset.kind == kind and _normal_url(preset.base_url) == _normal_url(base_url)
    return preset.appkey if same_server else None


def current_backend() -> Backend:
    """This browser session's choice (the sidebar's), the configured preset until one is made."""
    if BACKEND_KEY not in st.session_state:
        st.session_state[BACKEND_KEY] = configured_backend()
    return st.session_state[BACKEND_KEY]


def choose_backend(backend: Backend) -> None:
    """Switch this session (only) to ``backend``; its client, read cache and check start afresh."""
    if backend != st.session_state.get(BACKEND_KEY):
        st.session_state[BACKEND_KEY] = backend
        for key in (CLIENT_KEY, CHECK_KEY):
            st.session_state.pop(key, None)


SERVE_DEFAULT_URL = "http://127.0.0.1:10080"  # `python -m facereco serve` / `make serve`


def _normal_url(url: str) -> str:
    return url.strip().rstrip("/").lower()


def allowed_servers() -> list[str]:
    """The servers a visitor may pick under *Another server*: `make serve`'s address, the preset
    FACERECO_BASE_URL, and the operator's FACERECO_ALLOWED_SERVERS (comma-separated base URLs).

    A base URL typed in a browser is hostile: letting it name any address would make this dashboard
    connect wherever a visitor says (an internal service, a cloud metadata address), so only these."""
    listed = (_secret("FACERECO_ALLOWED_SERVERS") or "").split(",")
    preset = _secret("FACERECO_BASE_URL")
    urls = [SERVE_DEFAULT_URL, *([preset] if preset else []), *listed]
    cloud = _normal_url(CLOUD_BASE_URL)  # the cloud is its own choice, with its own appkey field
    return list(dict.fromkeys(_normal_url(u) for u in urls if u.strip() and _normal_url(u) != cloud))


def base_url_problem(url: str) -> str | None:
    """One sentence if ``url`` cannot be used as a server's base URL: not http(s), or not one the operator allowed."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return _("The base URL must start with http:// or https:// and name a host.")
    if parts.username or parts.password or parts.query or parts.fragment:
        return _("The base URL may not carry a user name, a password, a query or a fragment.")
    if _normal_url(url) not in allowed_servers():
        return _("This dashboard connects only to the servers its operator allowed: {servers}.").format(
            servers=", ".join(allowed_servers())
        )
    return None


@st.cache_resource(show_spinner=False)
def local_transport() -> LocalTransport:
    """The local engine, once per process: its models load here and every session shares it."""
    from facereco.engine import LocalEngine

    engine = LocalEngine()
    engine.start_warm_up()  # in the background: the first page draws while the models load
    return LocalTransport(engine)


def local_engine() -> LocalEngine:
    """The process's local engine (``local_transport``'s): its front door, for readiness, models and URL rules."""
    from facereco.engine import LocalEngine

    engine = local_transport().engine
    assert isinstance(engine, LocalEngine), "local_transport() is built on a LocalEngine"
    return engine


def _backend_transport(backend: Backend, *, fail_fast: bool = False) -> Transport:
    """The local engine, or HTTP: per session (so nothing typed in a browser is kept process-wide).

    ``fail_fast``: no retries and short timeouts, for the connection check."""
    if backend.is_local:
        with st.spinner(_("Loading the face models…")):
            return local_transport()
    if fail_fast:
        return HttpTransport(
            backend.appkey or "", backend.base_url, connect_timeout=3.0, read_timeout=10.0,
            retry=RetryPolicy(max_retries=0),
        )  # fmt: skip
    return HttpTransport(backend.appkey or "", backend.base_url)


def client() -> FaceRecoClient:
    """This browser session's client: read cache over its own recorder over the backend's transport."""
    if CLIENT_KEY not in st.session_state:
        inner = RecordingTransport(_backend_transport(current_backend()))
        st.session_state[CLIENT_KEY] = FaceRecoClient(transport=ReadCachingTransport(inner))
    return st.session_state[CLIENT_KEY]


def read_cache() -> ReadCachingTransport:
    """This session's read cache: the outer layer of the transport stack ``client()`` builds."""
    cache = client().transport
    assert isinstance(cache, ReadCachingTransport), "client() builds the stack"
    return cache


def recorder() -> RecordingTransport:
    """This session's recorder (under the read cache): its request/response panel."""
    inner = read_cache().inner
    assert isinstance(inner, RecordingTransport), "client() builds the stack"
    return inner


def refresh() -> None:
    """Forget what this session has read (lists, counts) and check the connection again."""
    read_cache().clear()
    st.session_state.pop(CHECK_KEY, None)


def connection_check() -> tuple[bool, str]:
    """Once per backend per session (and after *Refresh*): one cheap call, no retries, short timeouts.
    The outcome is kept, its sentence made on each run (so it follows the language switch)."""
    backend = current_backend()
    kept = st.session_state.get(CHECK_KEY)
    if kept is None or kept[0] != backend:
        st.session_state[CHECK_KEY] = kept = (backend, *_check(backend))
    _backend, ok, sentence = kept
    return ok, sentence()


def _check(backend: Backend) -> tuple[bool, Callable[[], str]]:
    if not backend.is_local and not backend.appkey:
        return False, lambda: _("Enter the appkey to connect.")
    if not backend.is_local and base_url_problem(backend.base_url):
        return False, lambda: base_url_problem(backend.base_url) or ""
    started = time.perf_counter()
    try:
        FaceRecoClient(transport=_backend_transport(backend, fail_fast=True)).list_groups(limit=1)
    except FaceRecoError as error:
        return False, lambda failure=error: explain(failure)
    elapsed_ms = (time.perf_counter() - started) * 1000
    return True, lambda: _("answering ({ms:,.0f} ms)").format(ms=elapsed_ms)


def engine_ready() -> bool | None:
    """Whether the local engine has loaded every model; None for a remote backend."""
    return local_engine().models_ready if current_backend().is_local else None


def model_description() -> str:
    if current_backend().is_local:
        return local_engine().model_description
    return _("NHN Cloud model v1.0")


# ---------------------------------------------------------------- state shared between pages
def tuned_scores_by_state() -> dict[GroupState, GroupScores]:
    """This session's scorings from the Tuning page, by the group's state when scored (written there,
    read by every threshold slider, which shows the rates last tuned for its group)."""
    kept: dict[GroupState, GroupScores] = st.session_state.setdefault(TUNED_SCORES_KEY, {})
    return kept


# ---------------------------------------------------------------- sample photos
def _sample_paths() -> dict[str, Path]:
    return {
        "Astronaut (Eileen Collins)": package_photo("astronaut"),
        "Grace Hopper": package_photo("grace_hopper"),
        "Coffee (no face)": package_photo("coffee"),
    }


def sample_label(name: str) -> str:
    """A sample photo's name in the session's language (its key stays English: the code picks by it)."""
    labels = {
        "Astronaut (Eileen Collins)": _("Astronaut (Eileen Collins)"),
        "Grace Hopper": _("Grace Hopper"),
        "Coffee (no face)": _("Coffee (no face)"),
    }
    return labels.get(name, name)


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


DEMO_GROUP = "demo"


def ensure_demo_group(client: FaceRecoClient) -> tuple[int, int]:
    """The demo group, built from ``demo_images`` where a photo is not in it yet: (added, already there)."""
    client.ensure_group(DEMO_GROUP)
    existing = {f.external_image_id for f in client.iter_faces(DEMO_GROUP)}
    added = 0
    for name, data in demo_images():
        if name not in existing:
            added += client.register_faces(DEMO_GROUP, data, external_image_id=name).added_face_count
    return added, len(existing)


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
        st.switch_page("app.py", query_params=st.query_params.to_dict())  # ?present=1 survives the detour
