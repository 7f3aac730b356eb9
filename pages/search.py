"""Search: a group searched by a photo's largest face or by a stored face."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from facereco.ui import session
from facereco.ui.charts import similarity_histogram
from facereco.ui.drawing import annotate, open_image
from facereco.ui.widgets import (
    exchange_panel,
    face_picker,
    group_picker,
    image_input,
    remember_result,
    show_preview,
)

session.require_router(__file__)
st.title("Search")
client = session.client()
controls, output = st.columns([1, 2])
with controls:
    group = group_picker(client, "search-group")
    mode = st.radio("Query", ["By image", "By stored face"], horizontal=True, key="search-mode")
    limit = st.number_input("Limit", 1, 4096, 100, key="search-limit")
    query_image, query_face = None, None
    if group and mode == "By image":
        query_image = image_input("search-image", "Query image")
        if query_image is not None:
            show_preview(query_image)
    elif group:
        query_face = face_picker(client, group, "search-face")
    ready = group is not None and (query_image is not None or query_face is not None)
    run = st.button("Search", type="primary", key="search-run", disabled=not ready)


def search() -> tuple:
    if query_image is not None:
        return query_image, client.search_by_image(group, query_image.payload, limit=int(limit), threshold=1)
    return None, client.search_by_face_id(group, query_face.face_id, limit=int(limit), threshold=1)


if run and ready:
    remember_result("search-result", search, controls)


@st.fragment
def results() -> None:
    """A fragment: moving the slider reruns only this part, so it calls no API."""
    threshold = st.slider("Threshold", 1, 100, 90, key="search-threshold")
    stored = st.session_state.get("search-result")
    if stored is None:
        st.info("Pick a group and a query, then press **Search**.")
    else:
        shown_image, result = stored
        similarities = [m.similarity for m in result.match_faces]
        hits = [m for m in result.match_faces if m.similarity >= threshold]
        st.metric("Matches at this threshold", f"{len(hits)} of {len(similarities)} faces scored")
        st.plotly_chart(similarity_histogram(similarities, threshold, "Similarity distribution"), key="search-chart")
        rows = [
            {
                "similarity": round(m.similarity, 2),
                "match": m.similarity >= threshold,
                "externalImageId": m.face.external_image_id,
                "faceId": m.face.face_id,
                "imageId": m.face.image_id,
            }
            for m in result.match_faces
        ]
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="search-table")
        if shown_image is not None and shown_image.data is not None and result.source_face is not None:
            st.image(annotate(open_image(shown_image.data), [result.source_face], ["query face"]), width=360)
    exchange_panel()


with output:
    results()
