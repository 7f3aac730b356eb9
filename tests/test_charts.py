"""The charts' readability rules, checked on the figures themselves (the screenshots show them drawn)."""

from __future__ import annotations

import numpy as np

from facereco.ui.charts import det_curve, roc_curve, score_histograms, similarity_bars, similarity_histogram
from facereco.ui.i18n import using


def test_counts_are_whole_numbers_and_rates_percentages():
    histogram = similarity_histogram([99.0, 98.5, 57.0, 68.0], 90)
    assert histogram.layout.yaxis.tickformat == ",d" and float(histogram.layout.yaxis.dtick).is_integer()
    fmr, fnmr = np.array([1e-6, 1e-3, 0.5]), np.array([0.4, 0.05, 0.0])
    for figure in (det_curve(fmr, fnmr, (1e-3, 0.05)), roc_curve(fmr, fnmr, (1e-3, 0.05))):
        assert figure.layout.xaxis.tickformat.endswith("%") and figure.layout.yaxis.tickformat.endswith("%")
    shares = score_histograms(np.ones(100), np.ones(100), 90, log_y=True)
    assert shares.layout.yaxis.tickformat.endswith("%")


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
