"""Compare: the source's largest face against every face of the target.

The API is called once with threshold 1, so every target face comes back with its
similarity; the slider then re-sorts faces into matched / unmatched on the spot.
"""

from __future__ import annotations

import streamlit as st

from facereco.ui import session
from facereco.ui.charts import similarity_bars
from facereco.ui.drawing import MATCH_COLOR, NO_MATCH_COLOR, annotate, open_image
from facereco.ui.widgets import exchange_panel, image_input, remember_result, show_preview

session.require_router(__file__)
st.title("Compare")
source_column, target_column = st.columns(2)
with source_column:
    source = image_input("compare-source", "Source (its largest face)", default_sample=0)
    if source is not None:
        show_preview(source)
with target_column:
    target = image_input("compare-target", "Target (every face)", default_sample=1)
    if target is not None:
        show_preview(target)

ready = source is not None and target is not None
if st.button("Compare", type="primary", key="compare-run", disabled=not ready) and ready:
    compare = session.client().compare
    remember_result("compare-result", lambda: (source, target, compare(source.payload, target.payload, threshold=1)))


@st.fragment
def results() -> None:
    """A fragment: moving the slider reruns only this part, so it calls no API."""
    threshold = st.slider("Threshold", 1, 100, 90, key="compare-threshold", help="The cloud's default is 90.")
    stored = st.session_state.get("compare-result")
    if stored is None:
        st.info("Pick two images and press **Compare**.")
    else:
        shown_source, shown_target, result = stored
        scored = sorted(
            result.matched_face_details + result.unmatched_face_details, key=lambda m: m.similarity, reverse=True
        )
        matched = [m for m in scored if m.similarity >= threshold]
        left, middle, right = st.columns(3)
        left.metric("Target faces", len(scored))
        middle.metric("Matched", len(matched))
        right.metric("Unmatched", len(scored) - len(matched))
        if scored and len(matched) == len(scored):
            st.success(f"Matched at threshold {threshold}: best similarity {scored[0].similarity:.1f}")
        elif scored and not matched:
            st.warning(f"No match at threshold {threshold}: best similarity {scored[0].similarity:.1f}")
        drawn_source, drawn_target = st.columns(2)
        if shown_source.data is not None:
            drawn_source.image(
                annotate(open_image(shown_source.data), [result.source_face], ["source"]), width="stretch"
            )
        if shown_target.data is not None and scored:
            colors = [MATCH_COLOR if m.similarity >= threshold else NO_MATCH_COLOR for m in scored]
            labels = [f"{m.similarity:.1f}" for m in scored]
            drawn = annotate(
                open_image(shown_target.data), [m.face_detail for m in scored], labels, colors, landmarks=False
            )
            drawn_target.image(drawn, width="stretch")
        if scored:
            names = [f"face {i + 1}" for i in range(len(scored))]
            st.plotly_chart(similarity_bars(names, [m.similarity for m in scored], threshold), key="compare-chart")
        exchange_panel()


results()
