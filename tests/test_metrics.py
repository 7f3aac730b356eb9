"""Error-rate metrics on hand-computed cases, cross-checked against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import det_curve, roc_curve

from facereco.metrics import (
    ScoreSet,
    equal_error_rate,
    error_curve,
    identification_rates,
    min_impostors_for,
    rates_at,
    threshold_for_fmr,
    wilson_interval,
)


def test_ties_at_the_threshold_count_as_matches():
    genuine = np.array([50.0, 70.0, 90.0])
    impostor = np.array([10.0, 50.0, 50.0, 80.0])
    r = rates_at(genuine, impostor, 50)
    assert (r.false_matches, r.impostors, r.false_non_matches, r.genuines) == (3, 4, 0, 3)
    r = rates_at(genuine, impostor, 50.0001)
    assert (r.false_matches, r.false_non_matches) == (1, 1)
    assert ScoreSet(genuine, impostor).rates(50) == rates_at(genuine, impostor, 50)


def test_no_impostors_gives_undefined_fmr():
    r = rates_at(np.array([90.0, 95.0]), np.array([]), 92)
    assert np.isnan(r.fmr) and r.fnmr == 0.5
    assert not ScoreSet(np.array([90.0]), np.array([])).supports_fmr(0.01)


def test_all_equal_scores():
    scores = np.full(5, 60.0)
    s = ScoreSet(scores, scores)
    assert s.rates(60).fmr == 1.0 and s.rates(60).fnmr == 0.0
    assert s.rates(61).fmr == 0.0 and s.rates(61).fnmr == 1.0
    eer, _ = s.eer()
    assert eer == pytest.approx(0.5)


def test_perfect_separation_has_zero_eer_and_threshold_for_fmr():
    genuine, impostor = np.array([80.0, 90.0]), np.array([10.0, 20.0, 30.0])
    assert equal_error_rate(genuine, impostor)[0] == 0.0
    at = threshold_for_fmr(genuine, impostor, 0.0)
    assert at.fmr == 0.0 and at.fnmr == 0.0 and 30 < at.threshold <= 80


def test_curve_matches_scikit_learn():
    rng = np.random.default_rng(3)
    genuine = np.round(rng.normal(80, 10, 500), 1)
    impostor = np.round(rng.normal(30, 15, 2000), 1)
    labels = np.r_[np.ones(genuine.size), np.zeros(impostor.size)]
    scores = np.r_[genuine, impostor]
    thresholds, fmr, fnmr = error_curve(genuine, impostor)
    sk_fpr, sk_tpr, sk_thresholds = roc_curve(labels, scores, drop_intermediate=False)
    ours = dict(zip(thresholds, zip(fmr, fnmr, strict=True), strict=True))
    for threshold, fpr, tpr in zip(sk_thresholds[1:], sk_fpr[1:], sk_tpr[1:], strict=True):
        assert ours[threshold][0] == pytest.approx(fpr) and 1 - ours[threshold][1] == pytest.approx(tpr)
    det_fpr, det_fnr, det_thresholds = det_curve(labels, scores)
    for threshold, fpr, fnr in zip(det_thresholds, det_fpr, det_fnr, strict=True):
        assert ours[threshold] == pytest.approx((fpr, fnr))


def test_wilson_interval_and_rule_of_three():
    low, high = wilson_interval(0, 100)
    assert low == 0.0 and 0.03 < high < 0.04  # ~3/n
    low, high = wilson_interval(50, 100)
    assert low == pytest.approx(0.4038, abs=1e-3) and high == pytest.approx(0.5962, abs=1e-3)
    assert min_impostors_for(0.001) == 3000 and min_impostors_for(0.0001) == 30000


def test_identification_rates_by_hand():
    top_score = np.array([95.0, 60.0, 92.0, 91.0])
    top_is_mate = np.array([True, True, False, False])
    has_mate = np.array([True, True, True, False])
    r = identification_rates(top_score, top_is_mate, has_mate, threshold=90)
    assert (r.rank1_hits, r.mated_probes) == (2, 3)
    assert r.false_negatives == 2  # probe 1 scores 60 < 90; probe 2's best is no mate
    assert (r.false_positives, r.non_mated_probes) == (1, 1)
    assert r.rank1_rate == pytest.approx(2 / 3) and r.fpir == 1.0
