"""Streamlit widgets shared by the pages: image input, errors, request/response panel, pickers."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import streamlit as st
from PIL import Image

from facereco.client import FaceRecoClient, ImageUrl
from facereco.contract import MAX_IMAGE_BYTES, Face
from facereco.engine import UrlPolicy, fetch_image_url
from facereco.errors import FaceRecoError, InvalidImageURL
from facereco.ui import presentation
from facereco.ui.drawing import open_image
from facereco.ui.i18n import _
from facereco.ui.messages import explain, literal
from facereco.ui.session import current_backend, local_engine, recorder, sample_label, sample_photos
from facereco.validation import check_image_url

SAMPLE, UPLOAD, CAMERA, URL = "sample", "upload", "camera", "url"


def source_names() -> dict[str, str]:
    return {SAMPLE: _("Sample photo"), UPLOAD: _("Upload"), CAMERA: _("Camera"), URL: _("Image URL")}


@dataclass(frozen=True)
class ImageChoice:
    """An image picked by the user: a name to show and what to send (bytes, or an http(s) URL)."""

    name: str
    data: bytes | None = None
    url: str | None = None

    @property
    def payload(self) -> bytes | ImageUrl:
        """Bytes, or an explicit URL: never a string the client could take for a file path."""
        return self.data if self.data is not None else ImageUrl(self.url or "")


def upload_help() -> str:
    """The uploader's help: what the English words inside Streamlit's drop box mean."""
    return _(
        'Drop a photo on the box or press its button. The words inside the box ("Drag and drop a file here", '
        '"Upload", "3MB per file") are Streamlit\'s own and stay in English; '
        "the limit that counts is the one above."
    )


def zip_upload_help() -> str:
    """The ZIP uploader's help (its box says "200MB per file": the one limit that box has)."""
    return _(
        'Drop the ZIP file on the box or press its button. The words inside the box ("Drag and drop a file '
        'here", "Upload", "200MB per file") are Streamlit\'s own and stay in English.'
    )


def _uploaded(key: str) -> ImageChoice | None:
    """The uploaded file, or None with one sentence when it is over the contract's limit: a refused
    file never leaves an earlier one silently selected."""
    limit = _("PNG or JPEG, up to {limit:,} bytes").format(limit=MAX_IMAGE_BYTES)
    upload = st.file_uploader(limit, type=["png", "jpg", "jpeg"], key=f"{key}-upload", help=upload_help())
    if upload is None:
        return None
    if upload.size > MAX_IMAGE_BYTES:
        st.error(
            _("{name} is {size:,} bytes; the API takes at most {limit:,} bytes. Choose a smaller file.").format(
                name=literal(upload.name), size=upload.size, limit=MAX_IMAGE_BYTES
            ),
            icon=":material/error:",
        )
        return None
    return ImageChoice(upload.name, data=upload.getvalue())


def image_input(key: str, label: str | None = None, default_sample: int = 0) -> ImageChoice | None:
    """Sample photo, upload (PNG/JPEG), camera or URL."""
    names = source_names()
    shown_label = label or _("Image")
    st.markdown(f"**{shown_label}**")
    source = st.radio(
        _("Source"), list(names), format_func=names.get, key=f"{key}-source", horizontal=True,
        label_visibility="collapsed",
    )  # fmt: skip
    if source == SAMPLE:
        samples = sample_photos()
        sample_names = list(samples)
        index = min(default_sample, len(sample_names) - 1)
        labels = [sample_label(n) for n in sample_names]  # shown translated, chosen by position
        label = st.selectbox(_("Sample photo"), labels, index=index, key=f"{key}-sample")
        name = sample_names[labels.index(label)] if label in labels else None
        return ImageChoice(label, data=samples[name]) if label and name else None
    if source == UPLOAD:
        return _uploaded(key)
    if source == CAMERA:
        shot = st.camera_input(_("Take a photo"), key=f"{key}-camera")
        return ImageChoice("camera.jpg", data=shot.getvalue()) if shot else None
    url = st.text_input(_("Image URL (http or https)"), key=f"{key}-url", placeholder="https://…/photo.jpg").strip()
    if not url:
        return None
    try:
        check_image_url(url)
    except InvalidImageURL:
        st.error(_("Enter an http(s) URL (ports 80, 443 or 10000-12000)."), icon=":material/link_off:")
        return None
    return ImageChoice(url.rsplit("/", 1)[-1] or url, url=url)


def show_preview(choice: ImageChoice) -> None:
    """The chosen image as it will be sent (URLs are shown as a link only: the server fetches them)."""
    if choice.data is not None:
        try:
            # Never the raw bytes: st.image would decode any upload at full size (a 13000x13000 PNG of
            # 0.5 MB is 788 MB); the engine's bounded decoder refuses such a file from its header.
            # for an audience the annotated result is the large picture; the input stays a thumbnail
            width: int | Literal["stretch"] = 160 if presentation.is_on() else "stretch"
            st.image(open_image(choice.data), caption=literal(choice.name), width=width)
        except Exception:  # not an image that can be shown: the API call will say why  # noqa: BLE001
            st.caption(_("{name} ({size:,} bytes)").format(name=literal(choice.name), size=len(choice.data)))
    else:
        st.caption(_("URL: {url}").format(url=literal(choice.url or "")))


def _url_policy() -> UrlPolicy:
    """The local engine's own URL rules when it is the backend (what it fetched, we may fetch), else the
    strict default: public hosts only, size and time capped."""
    backend = current_backend()
    return local_engine().url_policy if backend.is_local else UrlPolicy()


@st.cache_data(max_entries=16, ttl=600, show_spinner=False)
def _fetched(url: str, allow_private_hosts: bool) -> bytes:
    return fetch_image_url(url, UrlPolicy(allow_private_hosts=allow_private_hosts))


def drawable(choice: ImageChoice) -> Image.Image | None:
    """The chosen image to draw results on: its bytes, or an image URL fetched under the same checks the
    engine applies (so URL images get their boxes too); None, with one sentence, when it cannot be."""
    try:
        data = choice.data
        if data is None:
            data = _fetched(choice.url or "", _url_policy().allow_private_hosts)
        return open_image(data)
    except (FaceRecoError, OSError) as error:
        st.caption(_("The image cannot be drawn here: {reason}").format(reason=explain(error)))
        return None


def show_error(error: Exception) -> None:
    st.error(explain(error), icon=":material/error:")


@dataclass(frozen=True)
class Failure:
    """A call that failed, kept where its result would be kept: the result area says why."""

    sentence: str


def remember_result(key: str, call: Callable[[], object]) -> None:
    """Run an API call and keep its result in the session (slider moves reuse it), or why it failed."""
    try:
        st.session_state[key] = call()
    except (FaceRecoError, OSError) as error:
        st.session_state[key] = Failure(explain(error))


def stored_result(key: str, hint: str) -> Any:
    """The kept result of ``key``; else None, after showing why it failed, or ``hint`` if never run."""
    stored = st.session_state.get(key)
    if isinstance(stored, Failure):
        st.error(stored.sentence, icon=":material/error:")
        return None
    if stored is None:
        st.info(hint)
    return stored


def exchange_panel(count: int = 1) -> None:
    """The last call(s) of this session: request and raw response, base64 shortened, appkey redacted.
    Not in presentation mode (an audience reads the headline; the calls are still recorded)."""
    exchanges = recorder().last(count)
    if not exchanges or presentation.is_on():
        return
    with st.expander(_("Request and raw response"), expanded=False):
        for exchange in exchanges:
            st.caption(f"{exchange.request_line} — {exchange.elapsed_ms:,.0f} ms")
            left, right = st.columns(2)
            left.code(json.dumps(exchange.request(), indent=2, ensure_ascii=False), language="json")
            right.code(json.dumps(exchange.response, indent=2, ensure_ascii=False)[:20000], language="json")


def group_picker(client: FaceRecoClient, key: str) -> str | None:
    """A selectbox of the backend's groups (first 200)."""
    try:
        groups = [g.group_id for g in client.list_groups(limit=200).groups]
    except FaceRecoError as error:
        show_error(error)
        return None
    if not groups:
        st.info(_("No groups yet: create one on the Groups page, or build the demo group on Home."))
        return None
    return st.selectbox(_("Group"), groups, key=key)


PICKER_FACES = 1000


def face_picker(client: FaceRecoClient, group: str, key: str) -> Face | None:
    """A selectbox of the group's newest faces (up to 1,000), labeled by externalImageId."""
    try:
        faces = list(itertools.islice(client.iter_faces(group, limit=200), PICKER_FACES))
    except FaceRecoError as error:
        show_error(error)
        return None
    if not faces:
        st.info(_("This group has no faces yet."))
        return None
    return st.selectbox(_("Stored face"), faces, format_func=face_label, key=key)


def face_label(face: Face) -> str:
    return f"{face.external_image_id or _('(no externalImageId)')} · {face.face_id[:8]}"
