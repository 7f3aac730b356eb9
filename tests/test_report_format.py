"""The tuning report's date line and numbers: the viewer's zone (or an explicit "UTC"), rates as numbers.py
writes them."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from facereco.metrics import Rates
from facereco.ui.charts import roc_curve
from facereco.ui.i18n import known_timezone, local_time
from facereco.ui.report import TuningReport, tuning_report_html

MOMENT = datetime(2026, 12, 5, 13, 28, tzinfo=UTC)


def test_local_time_names_the_zone_and_never_trusts_a_bad_one() -> None:
    assert local_time(MOMENT, "Asia/Tokyo") == "2026-12-05 22:28 Asia/Tokyo (UTC+09:00)"
    assert local_time(MOMENT, "America/New_York") == "2026-12-05 08:28 America/New_York (UTC-05:00)"
    for hostile in (None, "", "Mars/Olympus", "../../etc/passwd", "/etc/localtime", "x" * 500):
        assert local_time(MOMENT, hostile) == "2026-12-05 13:28 UTC"
        assert known_timezone(hostile) is None


def _report(zone: str | None) -> str:
    figure = roc_curve(np.array([1e-6, 1e-3, 0.5]), np.array([0.4, 0.05, 0.0]), (1e-3, 0.05))
    rates = Rates(threshold=90, false_matches=3, impostors=3000, false_non_matches=29, genuines=1000)
    report = TuningReport(group="demo", faces=10, identities=5, rates=rates, figures=[figure],
                          operating_points=[], model_version="v1.1", backend="local", created=MOMENT,
                          timezone=zone)  # fmt: skip
    return tuning_report_html(report)


def test_report_date_is_in_the_viewer_zone_or_says_utc() -> None:
    assert "2026-12-05 22:28 Asia/Seoul (UTC+09:00)" in _report("Asia/Seoul")
    assert "2026-12-05 13:28 UTC" in _report(None)  # outside a browser session: UTC, said so


def test_report_rates_carry_the_precision_of_their_sample() -> None:
    text = _report(None)
    assert "3/3,000 = 0.10 %" in text and "29/1,000 = 2.9 %" in text
    assert "0.0001 %" in text and "0.0001%0.0002%" not in text  # the ROC's ticks, as numbers.py writes them
