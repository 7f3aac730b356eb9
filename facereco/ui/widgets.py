"""Streamlit widgets shared by the pages: image input, errors, request/response panel, pickers."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import streamlit as st

from facereco.client import FaceRecoClient, ImageUrl
from facereco.contract import Face
from facereco.errors import ApiError, FaceRecoError, InvalidImageURL, TransportError
from facereco.ui.session import recorder, sample_photos
from facereco.validation import check_image_url

SOURCES = ("Sample photo", "Upload", "Camera", "Image URL")


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


def image_input(key: str, label: str = "Image", default_sample: int = 0) -> ImageChoice | None:
    """Sample photo, upload (PNG/JPEG), camera or URL."""
    st.markdown(f"**{label}**")
    source = st.radio("Source", SOURCES, key=f"{key}-source", horizontal=True, label_visibility="collapsed")
    if source == "Sample photo":
        samples = sample_photos()
        names = list(samples)
        name = st.selectbox("Sample photo", names, index=min(default_sample, len(names) - 1), key=f"{key}-sample")
        return ImageChoice(name, data=samples[name]) if name else None
    if source == "Upload":
        upload = st.file_uploader("PNG or JPEG, up to 3 MB", type=["png", "jpg", "jpeg"], key=f"{key}-upload")
        return ImageChoice(upload.name, data=upload.getvalue()) if upload else None
    if source == "Camera":
        shot = st.camera_input("Take a photo", key=f"{key}-camera")
        return ImageChoice("camera.jpg", data=shot.getvalue()) if shot else None
    url = st.text_input("Image URL (http or https)", key=f"{key}-url", placeholder="https://…/photo.jpg").strip()
    if not url:
        return None
    try:
        check_image_url(url)
    except InvalidImageURL:
        st.error("Enter an http(s) URL (ports 80, 443 or 10000-12000).", icon=":material/link_off:")
        return None
    return ImageChoice(url.rsplit("/", 1)[-1] or url, url=url)


def show_preview(choice: ImageChoice) -> None:
    """The chosen image as it will be sent (URLs are shown as a link only: the server fetches them)."""
    if choice.data is not None:
        try:
            st.image(choice.data, caption=choice.name, width="stretch")
        except Exception:  # not an image Streamlit can show: the API call will say why  # noqa: BLE001
            st.caption(f"{choice.name} ({len(choice.data):,} bytes)")
    else:
        st.caption(f"URL: {choice.url}")


def explain(error: Exception) -> str:
    """A readable sentence for any failure of a call."""
    if isinstance(error, ApiError):
        return f"{error.message} (result code {error.result_code}, {type(error).__name__})"
    if isinstance(error, TransportError):
        return f"The API could not be reached: {error.message}"
    if isinstance(error, FaceRecoError):
        return error.message
    if isinstance(error, OSError):
        return f"The file could not be read: {error}"
    return f"{type(error).__name__}: {error}"


def show_error(error: Exception) -> None:
    st.error(explain(error), icon=":material/error:")


def remember_result(key: str, call: Callable[[], object], error_area: Any = None) -> None:
    """Run an API call and keep its result in the session (slider moves reuse it), or say why it failed."""
    try:
        st.session_state[key] = call()
    except (FaceRecoError, OSError) as error:
        st.session_state.pop(key, None)
        with error_area if error_area is not None else st.container():
            show_error(error)


def exchange_panel(count: int = 1) -> None:
    """The last call(s) of this session: request and raw response, base64 shortened, appkey redacted."""
    exchanges = recorder().last(count)
    if not exchanges:
        return
    with st.expander("Request and raw response", expanded=False):
        for exchange in exchanges:
            st.caption(f"{exchange.request_line} — {exchange.elapsed_ms:.0f} ms")
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
        st.info("No groups yet: create one on the Groups page, or build the demo group on Home.")
        return None
    return st.selectbox("Group", groups, key=key)


PICKER_FACES = 1000


def face_picker(client: FaceRecoClient, group: str, key: str) -> Face | None:
    """A selectbox of the group's newest faces (up to 1,000), labeled by externalImageId."""
    try:
        faces = list(itertools.islice(client.iter_faces(group, limit=200), PICKER_FACES))
    except FaceRecoError as error:
        show_error(error)
        return None
    if not faces:
        st.info("This group has no faces yet.")
        return None
    return st.selectbox("Stored face", faces, format_func=face_label, key=key)


def face_label(face: Face) -> str:
    return f"{face.external_image_id or '(no externalImageId)'} · {face.face_id[:8]}"
