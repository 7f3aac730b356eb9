"""Verify: is the photo's largest face the stored face? A verdict against the threshold."""

from __future__ import annotations

import streamlit as st

from facereco.ui import guided, presentation, session
from facereco.ui.drawing import annotate
from facereco.ui.handout import Shown
from facereco.ui.headlines import pair_headline
from facereco.ui.i18n import _
from facereco.ui.messages import literal
from facereco.ui.threshold import threshold_in_plain_words, threshold_slider
from facereco.ui.widgets import (
    drawable,
    exchange_panel,
    face_label,
    face_picker,
    group_picker,
    image_input,
    remember_result,
    show_preview,
    stored_result,
)

session.require_router(__file__)
st.title(_("Verify"))
guided.step_bar("verify")
client = session.client()
controls, output = st.columns([1, 2])
with controls:
    group = group_picker(client, "verify-group")
    face = face_picker(client, group, "verify-face") if group else None
    choice = image_input("verify-image", _("Photo to verify"))
    if choice is not None:
        show_preview(choice)
    ready = face is not None and choice is not None
    run = st.button(_("Verify"), type="primary", key="verify-run", disabled=not ready) or guided.autorun("verify")

if run and ready:
    remember_result("verify-result", lambda: (choice, client.verify(group, face.face_id, choice.payload)))


@st.fragment
def results() -> None:
    """A fragment: moving the slider reruns only this part, so it calls no API."""
    top = st.container()  # the headline above the slider it depends on
    threshold = threshold_slider("verify-threshold", group)
    stored = stored_result("verify-result", _("Pick a stored face and a photo, then press **Verify**."))
    if stored is not None:
        shown, result = stored
        similarity = result.similarity
        line = pair_headline(similarity, threshold)
        with top:
            presentation.headline(line)
        if presentation.is_on():
            pass  # the headline says it
        elif similarity >= threshold:
            st.success(
                _("Same person — similarity {similarity:.1f} ≥ threshold {threshold}").format(
                    similarity=similarity, threshold=threshold
                ),
                icon=":material/check_circle:",
            )
        else:
            st.error(
                _("Not the same person — similarity {similarity:.1f} < threshold {threshold}").format(
                    similarity=similarity, threshold=threshold
                ),
                icon=":material/cancel:",
            )
        st.progress(
            min(max(similarity / 100.0, 0.0), 1.0),
            text=_("similarity {similarity:.1f} / 100").format(similarity=similarity),
        )
        stored_face = face_label(result.face)  # its externalImageId and the start of its faceId
        if presentation.is_on():  # an audience is told whose face, not its ID
            stored_face = result.face.external_image_id or stored_face
        st.caption(_("Stored face: {face}").format(face=literal(stored_face)))
        image = drawable(shown)
        drawn = annotate(image, [result.source_face]) if image is not None else None
        if drawn is not None:
            st.image(drawn, caption=_("the compared face"), width="stretch" if presentation.is_on() else 360)
        presentation.record(
            lambda: Shown("verify", _("Verify"), line, drawn, None, threshold,
                          threshold_in_plain_words(threshold, group), (shown.name,))
        )  # fmt: skip
    exchange_panel()


with output:
    results()
