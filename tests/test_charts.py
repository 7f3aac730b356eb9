"""The charts' readability rules, checked on the figures themselves (the screenshots show them drawn)."""

from __future__ import annotations

import math

import numpy as np

from facereco.ui.charts import det_curve, roc_curve, score_histograms, similarity_bars, similarity_histogram
from facereco.ui.i18n import using


def test_counts_are_whole_numbers_and_rates_percentages():
    histogram = similarity_histogram([99.0, 98.5, 57.0, 68.0], 90)
    assert histogram.layout.yaxis.tickformat == ",d" and float(histogram.layout.yaxis.dtick).is_integer()
    fmr, fnmr = np.array([1e-6, 1e-3, 0.5]), np.array([0.4, 0.05, 0.0])
    for figure in (det_curve(fmr, fnmr, (1e-3, 0.05)), roc_curve(fmr, fnmr, (1e-3, 0.05))):
        assert all(text.endswith(" %") for text in (*figure.layout.xaxis.ticktext, *figure.layout.yaxis.ticktext))
    shares = score_histograms(np.ones(100), np.ones(100), 90, log_y=True)
    assert all(text.endswith(" %") for text in shares.layout.yaxis.ticktext)


def test_rate_ticks_read_as_percent_one_per_decade_and_leave_room():
    fmr, fnmr = np.array([1e-6, 1e-3, 0.5]), np.array([0.4, 0.05, 0.0])
    roc = roc_curve(fmr, fnmr, (1e-3, 0.05))
    assert list(roc.layout.xaxis.ticktext) == ["0.0001 %", "0.001 %", "0.01 %", "0.1 %", "1 %", "10 %", "100 %"]
    assert "0 %" not in roc.layout.xaxis.ticktext  # a log axis has no 0
    values = list(roc.layout.xaxis.tickvals)
    assert all(math.isclose(b / a, 10) for a, b in zip(values, values[1:], strict=False))  # no 0.0001 % beside 0.0002 %
    assert list(roc.layout.yaxis.ticktext) == ["0 %", "20 %", "40 %", "60 %", "80 %", "100 %"]
    assert roc.layout.margin.l >= 90  # "0.0001 %" plus the axis title, not cut at 1024 px
    linear = score_histograms(np.r_[np.zeros(50), np.ones(50)], np.ones(100), 90, log_y=False)
    assert linear.layout.yaxis.ticktext[-1] == "2 %" and len(linear.layout.yaxis.ticktext) <= 6


def test_histogram_legend_matches_the_bars_and_the_cloud_label_is_off_them():
    shares = score_histograms(np.ones(100), np.ones(100), 80, log_y=True)
    shown = [trace for trace in shares.data if trace.showlegend is not False]
    assert [trace.legendgroup for trace in shown] == ["impostor", "genuine"]
    genuine_body = shown[1]
    assert genuine_body.marker.color == "#2563eb" and not genuine_body.marker.pattern.shape  # blue, unhatched
    assert all(x >= 80 for x in genuine_body.x)
    tail = next(t for t in shares.data if t.legendgroup == "genuine" and t.showlegend is False)
    assert all(x < 80 for x in tail.x) and tail.marker.pattern.shape == "/"
    label = next(a for a in shares.layout.annotations if a.text == "cloud default 90")
    assert label.yref == "paper" and label.y >= 1 and label.yanchor == "bottom"  # above the plot area


def test_labels_stay_inside_the_plot_and_legends_below_the_axis():
    bars = similarity_bars(["1"], [100.0], 90)
    assert bars.data[0].textposition == "inside" and bars.layout.yaxis.range[1] > 100
    near_right_edge = similarity_histogram([95.0], 95)
    assert near_right_edge.layout.annotations[0].xanchor == "right"  # drawn leftwards, not cut at the edge
    assert near_right_edge.layout.annotations[0].text == "threshold 95"
    assert near_right_edge.layout.legend.y < 0  # below the x axis title, clear of the ticks


def test_chart_texts_follow_the_language():
    with using("ja"):
        figure = similarity_histogram([50.0], 90, "")
    assert figure.layout.xaxis.title.text == "類似度" and figure.data[1].name == "一致"
