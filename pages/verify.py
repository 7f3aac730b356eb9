"""Verify: is the photo's largest face the stored face? A verdict against the threshold."""

from __future__ import annotations

import streamlit as st

from facereco.ui import session
from facereco.ui.drawing import annotate, open_image
from facereco.ui.widgets import (
    exchange_panel,
    face_label,
    face_picker,
    group_picker,
    image_input,
    remember_result,
    show_preview,
)

session.require_router(__file__)
st.title("Verify")
client = session.client()
controls, output = st.columns([1, 2])
with controls:
    group = group_picker(client, "verify-group")
    face = face_picker(client, group, "verify-face") if group else None
    choice = image_input("verify-image", "Photo to verify")
    if choice is not None:
        show_preview(choice)
    ready = face is not None and choice is not None
    run = st.button("Verify", type="primary", key="verify-run", disabled=not ready)

if run and ready:
    remember_result("verify-result", lambda: (choice, client.verify(group, face.face_id, choice.payload)), controls)


@st.fragment
def results() -> None:
    """A fragment: moving the slider reruns only this part, so it calls no API."""
    threshold = st.slider("Threshold", 1, 100, 90, key="verify-threshold")
    stored = st.session_state.get("verify-result")
    if stored is None:
        st.info("Pick a stored face and a photo, then press **Verify**.")
    else:
        shown, result = stored
        similarity = result.similarity
        if similarity >= threshold:
            st.success(
                f"Same person — similarity {similarity:.1f} ≥ threshold {threshold}", icon=":material/check_circle:"
            )
        else:
            st.error(
                f"Not the same person — similarity {similarity:.1f} < threshold {threshold}", icon=":material/cancel:"
            )
        st.progress(min(max(similarity / 100.0, 0.0), 1.0), text=f"similarity {similarity:.1f} / 100")
        st.caption(f"Stored face: {face_label(result.face)}")
        if shown.data is not None:
            st.image(annotate(open_image(shown.data), [result.source_face], ["compared face"]), width=360)
    exchange_panel()


with output:
    results()
