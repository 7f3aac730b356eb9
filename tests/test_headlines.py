"""facereco.ui.headlines: each page's result as one sentence, and the threshold in plain words, in en/ja/ko."""

from __future__ import annotations

import re

import pytest

from facereco.engine import CALIBRATIONS
from facereco.ui import headlines, i18n
from facereco.ui.headlines import BAD, GOOD

DECIMALS = re.compile(r"\d+\.(\d+)")


def most_decimals(text: str) -> int:
    return max((len(m) for m in DECIMALS.findall(text)), default=0)


@pytest.mark.parametrize(
    ("rate", "n"), [(0.001, 1000), (0.00132, 760), (0.0647, 15), (0.0169, 59), (0.5, 2), (1.0, 1), (3e-7, 3_300_000)]
)
def test_one_in_rounds_to_two_significant_digits(rate: float, n: int) -> None:
    assert headlines.one_in(rate) == n


def test_one_in_refuses_zero() -> None:
    with pytest.raises(ValueError):
        headlines.one_in(0.0)


def test_pair_headline_says_the_verdict_with_one_decimal() -> None:
    same = headlines.pair_headline(97.2841, 90)
    assert same == headlines.Headline("Same person: 97.3 % similar — threshold 90", GOOD)
    other = headlines.pair_headline(89.96, 90)  # shows as 90.0, yet below 90: the verdict follows the value
    assert other.tone == BAD and other.text.startswith("Not the same person: 90.0 %")


def test_compare_headline_counts_target_faces() -> None:
    assert headlines.compare_headline([], 90).tone == BAD
    assert headlines.compare_headline([95.0], 90).text.startswith("Same person")
    many = headlines.compare_headline([12.5, 95.04, 91.0, 3.0, 40.0], 90)
    assert many.text == "2 of 5 faces match — best 95.0 % similar, threshold 90" and many.tone == GOOD


def test_search_headline_against_the_groups_size() -> None:
    assert headlines.search_headline(2, "staff", 5).text == "2 of 5 faces found in group “staff”"
    assert headlines.search_headline(100, "big", 4000, cut=True).text.startswith("at least 100 of 4,000")
    assert headlines.search_headline(0, "staff", None).tone == BAD


def test_detect_headline() -> None:
    assert [headlines.detect_headline(n).text for n in (0, 1, 12)] == [
        "No face found in this photo", "One face found", "12 faces found"]  # fmt: skip


def test_tuning_headline_has_at_most_two_decimals() -> None:
    line = headlines.tuning_headline(88, 0.000023, 5_971_755, 0.05381, 12_315)
    assert line.text == "At threshold 88: < 0.01 % false matches, 5.38 % missed matches"
    assert most_decimals(line.text) <= 2


def test_threshold_in_words_from_the_calibration() -> None:
    calibration = next(iter(CALIBRATIONS.values()))
    fmr = calibration.rates[90][0]
    text = headlines.threshold_in_words(90, fmr, calibration.pairs["impostor"], headlines.on_lfw())
    assert text.startswith("At 90, about 1 in 1,000 pairs of different people would be taken for each other on LFW")
    none = headlines.threshold_in_words(95, 0.0, 4, headlines.on_group("demo"))
    assert none.startswith("At 95, none of 4 pairs") and "“demo”" in none


@pytest.mark.parametrize("language", ["ja", "ko"])
def test_every_headline_is_translated_and_keeps_its_numbers(language: str) -> None:
    with i18n.using(language):
        lines = [
            headlines.detect_headline(0).text, headlines.detect_headline(1).text, headlines.detect_headline(3).text,
            headlines.pair_headline(97.28, 90).text, headlines.pair_headline(12.0, 90).text,
            headlines.compare_headline([], 90).text, headlines.compare_headline([95.0, 10.0], 90).text,
            headlines.search_headline(2, "staff", 5).text, headlines.search_headline(2, "staff", 5, cut=True).text,
            headlines.search_headline(2, "staff", None).text,
            headlines.tuning_headline(88, 0.001, 4000, 0.05, 100).text,
            headlines.groups_headline("demo", 4).text,
            headlines.home_headline("x", 1, 4).text, headlines.live_headline("demo").text,
            headlines.live_headline(None).text,
            headlines.threshold_in_words(90, 0.001, 5_000_000, headlines.on_lfw()),
            headlines.threshold_in_words(90, 0.0, 4, headlines.on_group("demo")),
            headlines.threshold_between_in_words(80, 0.0169, 0.001, headlines.on_lfw()),
            headlines.threshold_beyond_in_words(95, 0.001, 90, above=True, where=headlines.on_lfw()),
            headlines.threshold_beyond_in_words(40, 0.0647, 50, above=False, where=headlines.on_lfw()),
            headlines.threshold_unknown_in_words(90),
        ]  # fmt: skip
    assert not [m for lang, m in i18n.missing() if lang == language]
    assert all(re.search(r"[\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7a3]", line) for line in lines), lines
    assert "97.3" in lines[3] and "90" in lines[3] and "1,000" in lines[15]
    assert all("(를)" not in line and "(가)" not in line for line in lines)
