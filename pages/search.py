"""Search: a group searched by a photo's largest face or by a stored face."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from facereco.errors import FaceRecoError
from facereco.ui import session
from facereco.ui.charts import similarity_histogram
from facereco.ui.drawing import annotate
from facereco.ui.i18n import _
from facereco.ui.search_view import matches_sentence
from facereco.ui.threshold import threshold_slider
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
    run = st.button(_("Search"), type="primary", key="search-run", disabled=not ready)


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
    threshold = threshold_slider("search-threshold", group)
    stored = stored_result("search-result", _("Pick a group and a query, then press **Search**."))
    if stored is not None:
        searched_group, shown_image, result, searched_limit = stored
        similarities = [m.similarity for m in result.match_faces]
        hits = [m for m in result.match_faces if m.similarity >= threshold]
        value, note = matches_sentence(len(hits), len(similarities), searched_limit, group_faces(searched_group))
        st.metric(_("Matches at this threshold"), value)
        if note:
            st.caption(note)
        title = _("Similarity distribution in {group}").format(group=searched_group)
        st.plotly_chart(similarity_histogram(similarities, threshold, title), key="search-chart")
        rows = [
            {
                _("similarity"): round(m.similarity, 2),
                _("match"): m.similarity >= threshold,
                "externalImageId": m.face.external_image_id,
                "faceId": m.face.face_id,
                "imageId": m.face.image_id,
            }
            for m in result.match_faces
        ]
        st.dataframe(
            pd.DataFrame(rows), hide_index=True, width="stretch", key="search-table",
            column_config={"faceId": st.column_config.TextColumn(width="large"),
                           "imageId": st.column_config.TextColumn(width="large")},
        )  # fmt: skip
        image = drawable(shown_image) if shown_image is not None and result.source_face is not None else None
        if image is not None:
            st.image(annotate(image, [result.source_face]), caption=_("the query face"), width=360)
    exchange_panel()


with output:
    results()
