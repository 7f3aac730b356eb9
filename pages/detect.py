"""Detect: boxes, landmarks, pose and mask for every face of one image."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from facereco.ui import session
from facereco.ui.drawing import (
    LANDMARK_COLORS,
    LANDMARK_LABELS,
    annotate,
    detail_label,
    face_crops,
    open_image,
    png_bytes,
)
from facereco.ui.widgets import exchange_panel, image_input, remember_result, show_preview

session.require_router(__file__)
st.title("Detect")
controls, output = st.columns([1, 2])
with controls:
    choice = image_input("detect")
    orientation = st.checkbox("Head pose (orientation)", value=True, key="detect-orientation")
    mask = st.checkbox("Mask worn", value=False, key="detect-mask")
    run = st.button("Detect faces", type="primary", key="detect-run", disabled=choice is None)
    if choice is not None:
        show_preview(choice)

if run and choice is not None:
    detect = session.client().detect
    remember_result(
        "detect-result", lambda: (choice, detect(choice.payload, orientation=orientation, mask=mask)), controls
    )

stored = st.session_state.get("detect-result")
with output:
    if stored is None:
        st.info("Pick an image and press **Detect faces**.")
    else:
        shown_choice, result = stored
        st.subheader(f"{result.face_detail_count} face(s) in {shown_choice.name}")
        if shown_choice.data is not None and result.face_detail_count:
            image = open_image(shown_choice.data)
            annotated = annotate(image, result.face_details, [detail_label(f) for f in result.face_details])
            st.image(annotated, width="stretch")
            legend = " ".join(
                f"<span style='color:{color}'>●</span> {LANDMARK_LABELS[name]}"
                for name, color in LANDMARK_COLORS.items()
            )
            st.markdown(legend, unsafe_allow_html=True)
            st.download_button("Download annotated PNG", png_bytes(annotated), "detected.png", "image/png")
            crops = face_crops(image, result.face_details)
            for column, (i, crop) in zip(st.columns(min(len(crops), 8)), enumerate(crops[:8]), strict=False):
                column.image(crop, caption=f"face {i + 1}", width=120)
        rows = [
            {
                "face": i + 1,
                "confidence %": round(f.confidence_percent, 2),
                "x0": f.bbox.x0,
                "y0": f.bbox.y0,
                "x1": f.bbox.x1,
                "y1": f.bbox.y1,
                "yaw": f.orientation.x if f.orientation else None,
                "pitch": f.orientation.y if f.orientation else None,
                "roll": f.orientation.z if f.orientation else None,
                "mask": f.mask,
            }
            for i, f in enumerate(result.face_details)
        ]
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="detect-table")
    exchange_panel()
