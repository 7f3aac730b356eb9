"""Compare: the source's largest face against every face of the target.

The API is called once with threshold 1, so every target face comes back with its
similarity; the slider then re-sorts faces into matched / unmatched on the spot.
"""

from __future__ import annotations

import streamlit as st

from facereco.ui import guided, numbers, presentation, session
from facereco.ui.charts import similarity_bars
from facereco.ui.drawing import MATCH_COLOR, NO_MATCH_COLOR, annotate
from facereco.ui.handout import Shown
from facereco.ui.headlines import compare_headline
from facereco.ui.i18n import _
from facereco.ui.threshold import threshold_in_plain_words, threshold_slider
from facereco.ui.widgets import drawable, exchange_panel, image_input, remember_result, show_preview, stored_result

session.require_router(__file__)
st.title(_("Compare"))
guided.step_bar("compare")
source_column, target_column = st.columns(2)
with source_column:
    source = image_input("compare-source", _("Source image (its largest face)"), default_sample=0)
    if source is not None:
        show_preview(source)
with target_column:
    target = image_input("compare-target", _("Target image (every face)"), default_sample=1)
    if target is not None:
        show_preview(target)

ready = source is not None and target is not None
pressed = st.button(_("Compare"), type="primary", key="compare-run", disabled=not ready)
if (pressed or guided.autorun("compare")) and ready:
    compare = session.client().compare
    remember_result("compare-result", lambda: (source, target, compare(source.payload, target.payload, threshold=1)))


@st.fragment
def results() -> None:
    """A fragment: moving the slider reruns only this part, so it calls no API."""
    top = st.container()  # the headline above the slider it depends on
    threshold = threshold_slider("compare-threshold")
    stored = stored_result("compare-result", _("Pick two images and press **Compare**."))
    if stored is not None:
        shown_source, shown_target, result = stored
        scored = sorted(
            result.matched_face_details + result.unmatched_face_details, key=lambda m: m.similarity, reverse=True
        )
        line = compare_headline([m.similarity for m in scored], threshold)
        with top:
            presentation.headline(line)
        matched = [m for m in scored if m.similarity >= threshold]
        left, middle, right = st.columns(3)
        left.metric(_("Target faces"), len(scored))
        middle.metric(_("Matched"), len(matched))
        right.metric(_("Unmatched"), len(scored) - len(matched))
        if not scored:
            st.warning(_("No face was found in the target image: nothing to compare with."), icon=":material/warning:")
        elif presentation.is_on():
            pass  # the headline says it
        elif len(matched) == len(scored):
            st.success(
                _("Matched at threshold {threshold}: best similarity {best:.1f}").format(
                    threshold=threshold, best=scored[0].similarity
                )
            )
        elif not matched:
            st.warning(
                _("No match at threshold {threshold}: best similarity {best:.1f}").format(
                    threshold=threshold, best=scored[0].similarity
                )
            )
        drawn_source, drawn_target = st.columns(2)
        source_image, drawn = drawable(shown_source), None
        if source_image is not None:
            drawn_source.image(annotate(source_image, [result.source_face]), caption=_("source face"), width="stretch")
        target_image = drawable(shown_target)
        if target_image is not None and scored:
            colors = [MATCH_COLOR if m.similarity >= threshold else NO_MATCH_COLOR for m in scored]
            labels = [numbers.similarity(m.similarity) for m in scored]
            drawn = annotate(target_image, [m.face_detail for m in scored], labels, colors, landmarks=False)
            drawn_target.image(drawn, caption=_("target faces, numbered by similarity"), width="stretch")
        chart = None
        if scored:
            names = [str(i + 1) for i in range(len(scored))]
            chart = similarity_bars(names, [m.similarity for m in scored], threshold)
            st.plotly_chart(chart, key="compare-chart")
        presentation.record(
            lambda: Shown("compare", _("Compare"), line, drawn, chart, threshold, threshold_in_plain_words(threshold),
                          (shown_source.name, shown_target.name))
        )  # fmt: skip
    exchange_panel()


results()
