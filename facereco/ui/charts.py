"""Plotly charts of similarity scores against a threshold (no Streamlit here)."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from facereco.ui.drawing import MATCH_COLOR, NO_MATCH_COLOR

CLOUD_DEFAULT_THRESHOLD = 90


def _threshold_line(figure: go.Figure, threshold: float, horizontal: bool) -> None:
    if horizontal:
        figure.add_hline(
            y=threshold, line_dash="dash", line_color="#111827", annotation_text=f"threshold {threshold:g}"
        )
    else:
        figure.add_vline(
            x=threshold, line_dash="dash", line_color="#111827", annotation_text=f"threshold {threshold:g}"
        )


def similarity_bars(names: Sequence[str], similarities: Sequence[float], threshold: float) -> go.Figure:
    """One bar per face, green at or above the threshold, red below, with the threshold drawn."""
    colors = [MATCH_COLOR if s >= threshold else NO_MATCH_COLOR for s in similarities]
    figure = go.Figure(
        go.Bar(
            x=list(names),
            y=list(similarities),
            marker_color=colors,
            text=[f"{s:.1f}" for s in similarities],
            textposition="outside",
        )
    )
    _threshold_line(figure, threshold, horizontal=True)
    figure.update_layout(
        yaxis={"range": [0, 105], "title": "similarity"},
        xaxis={"title": "face", "type": "category"},
        height=320,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        showlegend=False,
    )
    return figure


def similarity_histogram(similarities: Sequence[float], threshold: float, title: str = "") -> go.Figure:
    """Distribution of similarities (0..100) with the threshold and the cloud default drawn."""
    above = [s for s in similarities if s >= threshold]
    below = [s for s in similarities if s < threshold]
    bins = {"start": 0, "end": 100, "size": 2}
    figure = go.Figure()
    figure.add_trace(go.Histogram(x=below, xbins=bins, marker_color=NO_MATCH_COLOR, name="below threshold"))
    figure.add_trace(go.Histogram(x=above, xbins=bins, marker_color=MATCH_COLOR, name="match"))
    _threshold_line(figure, threshold, horizontal=False)
    if threshold != CLOUD_DEFAULT_THRESHOLD:
        figure.add_vline(x=CLOUD_DEFAULT_THRESHOLD, line_dash="dot", line_color="#9ca3af")
    figure.update_layout(
        barmode="stack",
        title=title or None,
        xaxis={"range": [0, 100], "title": "similarity"},
        yaxis={"title": "faces"},
        height=300,
        margin={"l": 10, "r": 10, "t": 40 if title else 20, "b": 10},
        legend={"orientation": "h"},
    )
    return figure
