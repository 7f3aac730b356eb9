"""Search: a group searched by a photo's largest face or by a stored face."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from facereco.errors import FaceRecoError
from facereco.ui import guided, numbers, presentation, session
from facereco.ui.charts import similarity_histogram
from facereco.ui.drawing import annotate
from facereco.ui.handout import Shown
from facereco.ui.headlines import search_headline
from facereco.ui.i18n import _
from facereco.ui.search_view import limit_hid_matches, matches_sentence
from facereco.ui.threshold import threshold_in_plain_words, threshold_slider
from facereco.ui.widgets import (
    drawable,
    exchange_panel,
    face_picker,
    group_picker,
    image_input,
    remember_result,
    show_preview,
    stored_result,
)

session.require_router(__file__)
st.title(_("Search"))
guided.step_bar("search")
client = session.client()
BY_IMAGE, BY_FACE = "image", "face"
controls, output = st.columns([1, 2])
with controls:
    group = group_picker(client, "search-group")
    modes = {BY_IMAGE: _("By image"), BY_FACE: _("By stored face")}
    mode = st.radio(_("Query"), list(modes), format_func=modes.get, horizontal=True, key="search-mode")
    limit = st.number_input(_("Limit"), 1, 4096, 100, key="search-limit")
    query_image, query_face = None, None
    if group and mode == BY_IMAGE:
        query_image = image_input("search-image", _("Query image"))
        if query_image is not None:
            show_preview(query_image)
    elif group:
        query_face = face_picker(client, group, "search-face")
    ready = group is not None and (query_image is not None or query_face is not None)
    run = st.button(_("Search"), type="primary", key="search-run", disabled=not ready) or guided.autorun("search")


def search() -> tuple:
    if query_image is not None:
        found = client.search_by_image(group, query_image.payload, limit=int(limit), threshold=1)
        return group, query_image, found, int(limit)
    return group, None, client.search_by_face_id(group, query_face.face_id, limit=int(limit), threshold=1), int(limit)


if run and ready:
    remember_result("search-result", search)


def group_faces(name: str) -> int | None:
    """The group's face count (the session's cached read: no call on a slider move)."""
    try:
        return client.get_group(name).group.face_count
    except FaceRecoError:
        return None


@st.fragment
def results() -> None:
    """A fragment: moving the slider reruns only this part, so it calls no API."""
    top = st.container()  # the headline above the slider it depends on
    threshold = threshold_slider("search-threshold", group)
    stored = stored_result("search-result", _("Pick a group and a query, then press **Search**."))
    if stored is not None:
        searched_group, shown_image, result, searched_limit = stored
        similarities = [m.similarity for m in result.match_faces]
        hits = [m for m in result.match_faces if m.similarity >= threshold]
        faces = group_faces(searched_group)
        faces = faces if faces is not None and faces >= len(similarities) else None
        cut = limit_hid_matches(len(hits), len(similarities), searched_limit, faces)
        line = search_headline(len(hits), searched_group, faces, cut=cut)
        with top:
            presentation.headline(line)
        value, note = matches_sentence(len(hits), len(similarities), searched_limit, faces)
        st.metric(_("Matches at this threshold"), value)
        if note:
            st.caption(note)
        title = _("Similarity distribution in {group}").format(group=searched_group)
        chart = similarity_histogram(similarities, threshold, title)
        st.plotly_chart(chart, key="search-chart")
        st.dataframe(
            match_table(result.match_faces, threshold), hide_index=True, width="stretch", key="search-table",
            column_config={_("similarity"): st.column_config.NumberColumn(format="%.1f"),
                           "faceId": st.column_config.TextColumn(width="large"),
                           "imageId": st.column_config.TextColumn(width="large")},
        )  # fmt: skip
        image = drawable(shown_image) if shown_image is not None and result.source_face is not None else None
        drawn = annotate(image, [result.source_face]) if image is not None else None
        if drawn is not None:
            st.image(drawn, caption=_("the query face"), width=360)
        presentation.record(
            lambda: Shown("search", _("Search"), line, drawn, chart, threshold,
                          threshold_in_plain_words(threshold, group),
                          (shown_image.name,) if shown_image is not None else ())
        )  # fmt: skip
    exchange_panel()


def match_table(matches: list, threshold: int) -> pd.DataFrame:
    """One row per returned face; the IDs (an engineer's) not in presentation mode."""
    rows = []
    for m in matches:
        # one decimal in the data itself: the table's accessible copy (what a screen reader says) shows the raw value
        row = {_("similarity"): numbers.similarity_value(m.similarity), _("match"): m.similarity >= threshold,
               "externalImageId": m.face.external_image_id}  # fmt: skip
        if not presentation.is_on():
            row |= {"faceId": m.face.face_id, "imageId": m.face.image_id}
        rows.append(row)
    return pd.DataFrame(rows)


with output:
    results()
