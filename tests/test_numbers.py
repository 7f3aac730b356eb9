"""facereco.ui.numbers: the one place numbers are formatted for people."""

from __future__ import annotations

import pytest

from facereco.ui import numbers


def test_similarity_one_decimal_and_not_asked() -> None:
    assert numbers.similarity(94.338) == "94.3"
    assert numbers.similarity(1.7754) == "1.8"
    assert numbers.similarity(None) == "—"
    assert numbers.similarity_value(99.9957) == 100.0 and numbers.similarity_value(63.5773) == 63.6
    # an upper bound is rounded up: fewer digits never make it look lower (0.0107 % -> 0.02 %), exact ones stay
    assert numbers.percent(0.000107, 36_000, 2, upper=True) == "0.02 %"
    assert numbers.percent(0.001, 1000, upper=True) == "0.1 %"


def test_degrees_whole() -> None:
    assert numbers.degrees(-41.9602) == "-42°"
    assert numbers.degrees(-0.2) == "0°"
    assert numbers.degrees(None) == numbers.NOT_ASKED


@pytest.mark.parametrize(
    ("rate", "trials", "text"),
    [(0.001, 1000, "0.1 %"), (0.0003, 3000, "0.03 %"), (0.07, 100, "7 %"), (0.02908, None, "2.9 %"),
     (0.0296, 10_000, "2.96 %"), (0.5, 10, "50 %")],
)  # fmt: skip
def test_percent_shows_one_trial_and_no_more(rate: float, trials: int | None, text: str) -> None:
    assert numbers.percent(rate, trials) == text


def test_percent_one_trial_is_visible() -> None:
    for trials in (7, 99, 100, 101, 999, 1000, 4321, 123_456):
        assert numbers.percent(1 / trials, trials) != f"{0:.{numbers.percent_decimals(trials)}f} %"


def test_percent_tick() -> None:
    assert [numbers.percent_tick(r) for r in (1e-6, 1e-4, 0.01, 1.0, 0.0)] == [
        "0.0001 %", "0.01 %", "1 %", "100 %", "0 %"]  # fmt: skip
