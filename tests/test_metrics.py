"""Error-rate metrics on hand-computed cases, cross-checked against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import det_curve, roc_curve

from facereco.metrics import (
    API_THRESHOLDS,
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
    target = ScoreSet(np.array([90.0]), np.array([])).for_fmr(0.01)
    assert target.rates is None and not target.reachable and not target.supported


def test_all_equal_scores():
    scores = np.full(5, 60.0)
    s = ScoreSet(scores, scores)
    assert s.rates(60).fmr == 1.0 and s.rates(60).fnmr == 0.0
    assert s.rates(61).fmr == 0.0 and s.rates(61).fnmr == 1.0
    eer, _ = equal_error_rate(scores, scores)
    assert eer == pytest.approx(0.5)
    point = s.eer_point()  # FMR 1, FNMR 0 up to 60; FMR 0, FNMR 1 above: the crossing is at 61
    assert point.threshold == 61 and (point.fmr, point.fnmr, point.mean_error) == (0.0, 1.0, 0.5)


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


# The Home page's demo group: two people, each twice; 4 impostor pairs between 57 and 74, 2 genuine near 99.9.
DEMO_GENUINE = np.array([99.93, 99.96])
DEMO_IMPOSTOR = np.array([57.4, 61.2, 66.8, 73.6])


def test_demo_group_recommends_just_above_the_highest_impostor_never_100():
    s = ScoreSet(DEMO_GENUINE, DEMO_IMPOSTOR)
    for target in (0.01, 0.001, 0.0001):
        recommendation = s.for_fmr(target)
        assert recommendation.rates.threshold == 74  # smallest integer above 73.6
        assert (recommendation.rates.false_matches, recommendation.rates.false_non_matches) == (0, 0)
        assert s.rates(73).false_matches == 1  # one step lower is no longer within the target
        # 4 impostor pairs vouch for no FMR target (rule of three): the page says so and sets nothing
        assert recommendation.reachable and not recommendation.supported
        assert recommendation.needed_impostors == min_impostors_for(target)
    eer = s.eer_point()
    assert eer.threshold == 74 and eer.mean_error == 0.0
    assert (eer.false_matches, eer.false_non_matches) == (0, 0)


def test_an_impostor_exactly_on_the_grid_is_rejected_by_the_next_step():
    s = ScoreSet(DEMO_GENUINE, np.array([57.4, 61.2, 66.8, 74.0]))
    assert s.for_fmr(0.01).rates.threshold == 75  # 74 would match it: score >= threshold
    assert s.rates(74).false_matches == 1 and s.rates(75).false_matches == 0


def test_ties_among_impostors_move_the_threshold_past_all_of_them():
    genuine, impostor = np.array([60.0, 90.0]), np.array([50.0, 50.0, 50.0, 80.0])
    s = ScoreSet(genuine, impostor)
    assert s.for_fmr(0.5).rates.threshold == 51  # 3 ties at 50 would give FMR 75 %
    assert s.for_fmr(0.5).rates.false_matches == 1
    assert s.for_fmr(0.25).rates.threshold == 51
    assert s.for_fmr(0.2).rates.threshold == 81
    exact = threshold_for_fmr(genuine, impostor, 0.5)  # without a grid: the next float above 50
    assert 50 < exact.threshold < 50.0001 and exact.false_matches == 1
    assert s.for_fmr(1.0).rates.threshold == 1  # every impostor may match: the lowest threshold


def test_a_single_impostor():
    s = ScoreSet(np.array([40.0, 90.0]), np.array([65.0]))
    recommendation = s.for_fmr(0.01)
    assert recommendation.rates.threshold == 66 and recommendation.rates.fnmr == 0.5
    assert not recommendation.supported and recommendation.impostors == 1


def test_a_target_no_threshold_reaches_is_reported_not_clamped_to_100():
    impostor = np.r_[np.full(10, 100.0), np.full(990, 20.0)]
    recommendation = ScoreSet(np.array([95.0]), impostor).for_fmr(0.001)
    assert recommendation.rates is None and not recommendation.reachable and not recommendation.supported
    assert ScoreSet(np.array([95.0]), impostor).for_fmr(0.01).rates.threshold == 21  # the 10 at 100 are 1 %


def test_recommendation_is_the_smallest_grid_threshold_within_the_target():
    rng = np.random.default_rng(7)
    genuine = np.clip(rng.normal(85, 8, 400), 0, 100)
    impostor = np.clip(rng.normal(40, 15, 40000), 0, 100)
    s = ScoreSet(genuine, impostor)
    for target in (0.05, 0.01, 0.001, 0.0001):
        at = s.for_fmr(target).rates
        assert at.fmr <= target
        assert at.threshold in API_THRESHOLDS
        if at.threshold > API_THRESHOLDS[0]:
            assert s.rates(at.threshold - 1).fmr > target  # one slider step lower misses the target
    point = s.eer_point()
    crossing = np.abs(s.rates(point.threshold).fmr - s.rates(point.threshold).fnmr)
    for neighbour in (point.threshold - 1, point.threshold + 1):
        assert crossing <= abs(s.rates(neighbour).fmr - s.rates(neighbour).fnmr)
