"""Plotly charts of similarity scores against a threshold (no Streamlit here)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
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


# ---------------------------------------------------------------- threshold tuning
GENUINE_COLOR = "#2563eb"
IMPOSTOR_COLOR = "#f97316"
ERROR_COLOR = "#dc2626"
MAX_CURVE_POINTS = 2000


def binned(scores: np.ndarray, bins: int = 100) -> np.ndarray:
    """Counts per 1-point similarity bin (0..100): histograms stay light whatever the pair count."""
    counts, _ = np.histogram(np.clip(scores, 0, 100), bins=bins, range=(0, 100))
    return counts


def score_histograms(
    genuine_counts: np.ndarray, impostor_counts: np.ndarray, threshold: float, log_y: bool
) -> go.Figure:
    """Genuine and impostor distributions (share of each set per bin), both error tails shaded."""
    centres = np.arange(genuine_counts.size) + 0.5
    genuine_share = genuine_counts / max(genuine_counts.sum(), 1)
    impostor_share = impostor_counts / max(impostor_counts.sum(), 1)
    figure = go.Figure()
    figure.add_trace(
        go.Bar(
            x=centres,
            y=impostor_share,
            name="impostor pairs (shaded: false matches)",
            marker_color=[ERROR_COLOR if c >= threshold else IMPOSTOR_COLOR for c in centres],
            opacity=0.65,
        )
    )
    figure.add_trace(
        go.Bar(
            x=centres,
            y=genuine_share,
            name="genuine pairs (shaded: false non-matches)",
            marker_color=[ERROR_COLOR if c < threshold else GENUINE_COLOR for c in centres],
            marker_pattern_shape=["/" if c < threshold else "" for c in centres],
            opacity=0.65,
        )
    )
    _threshold_line(figure, threshold, horizontal=False)
    if threshold != CLOUD_DEFAULT_THRESHOLD:
        figure.add_vline(
            x=CLOUD_DEFAULT_THRESHOLD, line_dash="dot", line_color="#6b7280", annotation_text="cloud default 90"
        )
    figure.update_layout(
        barmode="overlay",
        bargap=0,
        xaxis={"range": [0, 100], "title": "similarity"},
        yaxis={"title": "share of pairs", "type": "log" if log_y else "linear"},
        height=360,
        margin={"l": 10, "r": 10, "t": 20, "b": 10},
        legend={"orientation": "h", "y": -0.2},
    )
    return figure


def _thin(*arrays: np.ndarray) -> list[np.ndarray]:
    step = max(1, arrays[0].size // MAX_CURVE_POINTS)
    return [a[::step] for a in arrays]


def _curve_figure(x: np.ndarray, y: np.ndarray, point: tuple[float, float], title: str, yaxis: dict) -> go.Figure:
    """A thinned curve against a log FMR axis, with the slider's operating point marked."""
    x, y = _thin(x, y)
    figure = go.Figure(go.Scatter(x=x, y=y, mode="lines", name=title, line_color=GENUINE_COLOR))
    figure.add_trace(
        go.Scatter(
            x=[point[0]], y=[point[1]], mode="markers", name="threshold", marker={"size": 12, "color": ERROR_COLOR}
        )
    )
    figure.update_layout(
        title=title,
        xaxis={"type": "log", "title": "FMR"},
        yaxis=yaxis,
        height=330,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        showlegend=False,
    )
    return figure


# Log axes cannot show 0: rates of 0 are drawn at this floor.
LOG_FLOOR = 1e-6


def det_curve(fmr: np.ndarray, fnmr: np.ndarray, point: tuple[float, float]) -> go.Figure:
    """FNMR against FMR, both axes log."""
    return _curve_figure(
        np.maximum(fmr, LOG_FLOOR),
        np.maximum(fnmr, LOG_FLOOR),
        (max(point[0], LOG_FLOOR), max(point[1], LOG_FLOOR)),
        "DET",
        {"type": "log", "title": "FNMR"},
    )


def roc_curve(fmr: np.ndarray, fnmr: np.ndarray, point: tuple[float, float]) -> go.Figure:
    """TMR (1 - FNMR) against FMR, log FMR axis."""
    return _curve_figure(
        np.maximum(fmr, LOG_FLOOR),
        1 - fnmr,
        (max(point[0], LOG_FLOOR), 1 - point[1]),
        "ROC",
        {"title": "TMR", "range": [0, 1.02]},
    )
