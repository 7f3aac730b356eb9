"""Plotly charts of similarity scores against a threshold (no Streamlit here).

Every title, axis and legend comes through ``_``; counts are whole numbers and rates percentages;
labels sit inside the plot area (no clipped "thre" or "100.0"), legends below the axis titles.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from facereco.contract import DEFAULT_THRESHOLD
from facereco.ui import numbers
from facereco.ui.drawing import MATCH_COLOR, NO_MATCH_COLOR
from facereco.ui.i18n import _


def count_axis(largest_count: int) -> dict:
    """A y axis of whole counts: integer steps, so ",d" never prints 0.5 as "0" and 1.5 as "2"."""
    step = max(1, math.ceil(largest_count / 6))
    return {"tickformat": ",d", "rangemode": "tozero", "dtick": step}


LEGEND_BELOW = {"orientation": "h", "yanchor": "top", "y": -0.25, "x": 0}  # clear of the x ticks and title


def _threshold_line(figure: go.Figure, threshold: float, horizontal: bool) -> None:
    label = _("threshold {value}").format(value=f"{threshold:g}")
    if horizontal:
        figure.add_hline(
            y=threshold, line_dash="dash", line_color="#111827", annotation_text=label,
            annotation_position="top left",
        )  # fmt: skip
    else:
        # left of the line when it is near the right edge, so the label is never cut at the border
        side = "top left" if threshold > 70 else "top right"
        figure.add_vline(
            x=threshold, line_dash="dash", line_color="#111827", annotation_text=label, annotation_position=side
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
            textposition="inside",
            insidetextanchor="end",
            cliponaxis=False,
        )
    )
    _threshold_line(figure, threshold, horizontal=True)
    figure.update_layout(
        yaxis={"range": [0, 110], "title": _("similarity")},
        xaxis={"title": _("face"), "type": "category"},
        height=320,
        margin={"l": 60, "r": 20, "t": 30, "b": 50},
        showlegend=False,
    )
    return figure


def _largest_bin(similarities: Sequence[float]) -> int:
    counts, _edges = np.histogram(np.clip(similarities, 0, 100), bins=50, range=(0, 100))
    return int(counts.max()) if counts.size else 0


def similarity_histogram(similarities: Sequence[float], threshold: float, title: str = "") -> go.Figure:
    """Distribution of similarities (0..100) with the threshold and the cloud default drawn."""
    above = [s for s in similarities if s >= threshold]
    below = [s for s in similarities if s < threshold]
    bins = {"start": 0, "end": 100, "size": 2}
    figure = go.Figure()
    figure.add_trace(go.Histogram(x=below, xbins=bins, marker_color=NO_MATCH_COLOR, name=_("below threshold")))
    figure.add_trace(go.Histogram(x=above, xbins=bins, marker_color=MATCH_COLOR, name=_("match")))
    _threshold_line(figure, threshold, horizontal=False)
    if threshold != DEFAULT_THRESHOLD:
        figure.add_vline(x=DEFAULT_THRESHOLD, line_dash="dot", line_color="#9ca3af")
    figure.update_layout(
        barmode="stack",
        title=title or None,
        xaxis={"range": [0, 100], "title": _("similarity")},
        yaxis={"title": _("faces"), **count_axis(_largest_bin(similarities))},
        height=340,
        margin={"l": 60, "r": 20, "t": 50 if title else 30, "b": 40},
        legend=LEGEND_BELOW,
    )
    return figure


# ---------------------------------------------------------------- threshold tuning
GENUINE_COLOR = "#2563eb"
IMPOSTOR_COLOR = "#f97316"
ERROR_COLOR = "#dc2626"
MAX_CURVE_POINTS = 2000
AXIS_MARGIN = 90  # room for "0.0001 %" and an axis title at 1024 px


def rate_axis(log: bool, top: float = 1.0) -> dict[str, object]:
    """Ticks of a 0-1 rate axis as people read them (``0.01 %``): decades on a log axis (one label per
    decade, so "0.0001 %0.0002 %" cannot run together, and no "0 %" a log axis cannot hold), fifths on a
    linear one up to ``top`` (a round step, at most six ticks). Labels come from numbers.percent_tick."""
    if log:
        values = [10.0**exponent for exponent in range(-6, 1)]
    else:
        base = 10.0 ** math.floor(math.log10(max(top, 1e-6) / 5))
        step = next(base * k for k in (1, 2, 5, 10) if top / (base * k) <= 5)
        values = [round(step * i, 12) for i in range(int(top / step + 1e-9) + 1)]
    return {"tickmode": "array", "tickvals": values, "ticktext": [numbers.percent_tick(v) for v in values]}


def binned(scores: np.ndarray, bins: int = 100) -> np.ndarray:
    """Counts per 1-point similarity bin (0..100): histograms stay light whatever the pair count."""
    counts, _edges = np.histogram(np.clip(scores, 0, 100), bins=bins, range=(0, 100))
    return counts


def score_histograms(
    genuine_counts: np.ndarray, impostor_counts: np.ndarray, threshold: float, log_y: bool
) -> go.Figure:
    """Genuine and impostor distributions (share of each set per bin), both error tails shaded."""
    centres = np.arange(genuine_counts.size) + 0.5
    genuine_share = genuine_counts / max(genuine_counts.sum(), 1)
    impostor_share = impostor_counts / max(impostor_counts.sum(), 1)
    figure = go.Figure()
    impostor_tail = centres >= threshold
    genuine_tail = centres < threshold
    # Each set is two traces, its body and its error tail, so the legend key is drawn like the body's bars.
    for share, tail, name, colour, group in (
        (impostor_share, impostor_tail, _("impostor pairs (shaded: false matches)"), IMPOSTOR_COLOR, "impostor"),
        (genuine_share, genuine_tail, _("genuine pairs (shaded: false non-matches)"), GENUINE_COLOR, "genuine"),
    ):
        figure.add_trace(
            go.Bar(x=centres[~tail], y=share[~tail], name=name, marker_color=colour, opacity=0.65, legendgroup=group)
        )
        figure.add_trace(
            go.Bar(
                x=centres[tail],
                y=share[tail],
                name=name,
                marker_color=ERROR_COLOR,
                marker_pattern_shape="/" if group == "genuine" else "",
                opacity=0.65,
                legendgroup=group,
                showlegend=False,
            )
        )
    _threshold_line(figure, threshold, horizontal=False)
    top = float(max(genuine_share.max(initial=0), impostor_share.max(initial=0), 1e-6))
    if threshold != DEFAULT_THRESHOLD:
        figure.add_vline(x=DEFAULT_THRESHOLD, line_dash="dot", line_color="#6b7280")
        figure.add_annotation(  # above the plot area, never on the bars
            x=DEFAULT_THRESHOLD,
            y=1,
            xref="x",
            yref="paper",
            yanchor="bottom",
            showarrow=False,
            text=_("cloud default {value}").format(value=DEFAULT_THRESHOLD),
            font={"color": "#6b7280"},
        )
    figure.update_layout(
        barmode="overlay",
        bargap=0,
        xaxis={"range": [0, 100], "title": _("similarity")},
        yaxis={
            "title": _("share of pairs"),
            "type": "log" if log_y else "linear",
            **rate_axis(log_y, top),
        },
        height=380,
        margin={"l": AXIS_MARGIN, "r": 20, "t": 40, "b": 40},
        legend=LEGEND_BELOW,
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
            x=[point[0]], y=[point[1]], mode="markers", name=_("threshold"), marker={"size": 12, "color": ERROR_COLOR}
        )
    )
    figure.update_layout(
        title=title,
        xaxis={"type": "log", "title": _("FMR (false-match rate)"), **rate_axis(True)},
        yaxis={**yaxis, **rate_axis(yaxis.get("type") == "log")},
        height=340,
        margin={"l": AXIS_MARGIN, "r": 20, "t": 40, "b": 40},
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
        _("DET: missed matches against false matches"),
        {"type": "log", "title": _("FNMR (missed-match rate)")},
    )


def roc_curve(fmr: np.ndarray, fnmr: np.ndarray, point: tuple[float, float]) -> go.Figure:
    """TMR (1 - FNMR) against FMR, log FMR axis."""
    return _curve_figure(
        np.maximum(fmr, LOG_FLOOR),
        1 - fnmr,
        (max(point[0], LOG_FLOOR), 1 - point[1]),
        _("ROC: true matches against false matches"),
        {"title": _("TMR (true-match rate)"), "range": [0, 1.02]},
    )
