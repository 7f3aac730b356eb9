"""Detect: boxes, landmarks, pose and mask for every face of one image."""

from __future__ import annotations

import streamlit as st

from facereco.ui import guided, presentation, session
from facereco.ui.drawing import (
    LANDMARK_COLORS,
    annotate,
    detail_label,
    face_crops,
    landmark_labels,
    png_bytes,
)
from facereco.ui.handout import Shown
from facereco.ui.headlines import detect_headline
from facereco.ui.i18n import _
from facereco.ui.messages import literal
from facereco.ui.quality_view import detect_column_config, detect_table, quality_legend
from facereco.ui.widgets import drawable, exchange_panel, image_input, remember_result, show_preview, stored_result

session.require_router(__file__)
st.title(_("Detect"))
guided.step_bar("detect")
controls, output = st.columns([2, 3])  # 2:3, the translated check boxes fit at 1024 px
with controls:
    choice = image_input("detect")
    orientation = st.checkbox(_("Head pose (orientation)"), value=True, key="detect-orientation")
    mask = st.checkbox(_("Mask worn"), value=False, key="detect-mask")
    pressed = st.button(_("Detect faces"), type="primary", key="detect-run", disabled=choice is None)
    run = pressed or guided.autorun("detect")
    if choice is not None:
        show_preview(choice)

if run and choice is not None:
    detect = session.client().detect
    remember_result(
        "detect-result", lambda: (choice, detect(choice.payload, orientation=orientation, mask=mask), orientation, mask)
    )


with output:
    stored = stored_result("detect-result", _("Pick an image and press **Detect faces**."))
    if stored is not None:
        shown_choice, result, asked_orientation, asked_mask = stored
        line = detect_headline(result.face_detail_count)
        presentation.headline(line)
        if not presentation.is_on():
            st.subheader(
                _("{count} face(s) in {name}").format(count=result.face_detail_count, name=literal(shown_choice.name))
            )
        image = drawable(shown_choice) if result.face_detail_count else None
        annotated = None
        if image is not None:
            annotated = annotate(image, result.face_details, [detail_label(f) for f in result.face_details])
            st.image(annotated, width="stretch")
            names = landmark_labels()
            legend = " ".join(
                f"<span style='color:{color}'>●</span> {names[name]}" for name, color in LANDMARK_COLORS.items()
            )
            st.markdown(legend, unsafe_allow_html=True)
            st.download_button(_("Download annotated PNG"), png_bytes(annotated), "detected.png", "image/png")
            crops = face_crops(image, result.face_details)
            for column, (i, crop) in zip(st.columns(min(len(crops), 8)), enumerate(crops[:8]), strict=False):
                column.image(crop, caption=_("face {number}").format(number=i + 1), width=120)
        presentation.record(lambda: Shown("detect", _("Detect"), line, annotated, file_names=(shown_choice.name,)))
if stored is not None and image is not None:  # the whole width, below both columns: every column shows
    rows = detect_table(result, shown_choice.data, image, orientation=asked_orientation, mask=asked_mask)
    if presentation.is_on():  # the box in pixels is the engineer's: the raw panel and the CSV keep it
        rows = rows.drop(columns=["x0", "y0", "x1", "y1"])
    st.dataframe(rows, hide_index=True, width="stretch", key="detect-table", column_config=detect_column_config(rows))
    st.markdown(quality_legend())
exchange_panel()
