"""The threshold slider with what it means beside it: false-match and missed-match rates.

From the session's last tuning of the group in use (Tuning page), else from the local engine's
calibration on LFW, else "unknown" (the cloud, nothing tuned): an audience seeing two different
people "match" at 50 reads why.
"""

from __future__ import annotations

import streamlit as st

from facereco.contract import DEFAULT_THRESHOLD, THRESHOLD
from facereco.engine import CALIBRATED_RATES, CALIBRATION_PAIRS
from facereco.tuning import GroupScores
from facereco.ui.i18n import _
from facereco.ui.session import current_backend, tuned_scores_by_state


def threshold_slider(key: str, group: str | None = None) -> int:
    """A 1-100 slider (default the cloud's 90) with the rates at its value in a caption below."""
    threshold = st.slider(
        _("Threshold"), THRESHOLD.low, THRESHOLD.high, DEFAULT_THRESHOLD, key=key, help=_("The cloud's default is 90.")
    )
    st.caption(threshold_meaning(threshold, group))
    return threshold


def tuned_scores(group: str | None) -> GroupScores | None:
    """This session's latest scoring of ``group`` on the Tuning page, if any."""
    found = [scores for state, scores in tuned_scores_by_state().items() if group and state[0] == group]
    return found[-1] if found else None


def _percent(rate: float) -> str:
    return f"{rate:.3%}" if rate < 0.01 else f"{rate:.2%}"


def threshold_meaning(threshold: int, group: str | None = None) -> str:
    scores = tuned_scores(group)
    if scores is not None:
        rates = scores.score_set.rates(threshold)
        return _(
            "At {threshold}, on group {group} as last tuned: false matches {fmr} ({fm:,}/{impostors:,} impostor "
            "pairs), missed matches {fnmr} ({fnm:,}/{genuines:,} genuine pairs)."
        ).format(
            threshold=threshold, group=group, fmr=_percent(rates.fmr), fm=rates.false_matches,
            impostors=rates.impostors, fnmr=_percent(rates.fnmr), fnm=rates.false_non_matches,
            genuines=rates.genuines,
        )  # fmt: skip
    if current_backend().is_local:
        return calibration_meaning(threshold)
    return _(
        "At {threshold}: false-match and missed-match rates are unknown for this backend. "
        "Score a group on the Tuning page to measure them."
    ).format(threshold=threshold)


def calibration_meaning(threshold: int) -> str:
    """The local engine's measured points (LFW), the nearest ones when the slider sits between them."""
    pairs = _("on LFW ({impostors:,} impostor and {genuines:,} genuine pairs)").format(
        impostors=CALIBRATION_PAIRS["impostor"], genuines=CALIBRATION_PAIRS["genuine"]
    )
    if threshold in CALIBRATED_RATES:
        fmr, fnmr = CALIBRATED_RATES[threshold]
        return _("At {threshold}, local engine {pairs}: false matches {fmr}, missed matches {fnmr}.").format(
            threshold=threshold, pairs=pairs, fmr=_percent(fmr), fnmr=_percent(fnmr)
        )
    measured = sorted(CALIBRATED_RATES)
    lower = max((t for t in measured if t < threshold), default=None)
    upper = min((t for t in measured if t > threshold), default=None)
    if lower is None:  # below the lowest measured point: more false matches than there
        assert upper is not None, "the calibration has measured points"
        fmr, _fnmr = CALIBRATED_RATES[upper]
        return _("At {threshold}, local engine {pairs}: false matches above {fmr} (their rate at {upper}).").format(
            threshold=threshold, pairs=pairs, fmr=_percent(fmr), upper=upper
        )
    if upper is None:
        fnmr = CALIBRATED_RATES[lower][1]
        return _("At {threshold}, local engine {pairs}: missed matches above {fnmr} (their rate at {lower}).").format(
            threshold=threshold, pairs=pairs, fnmr=_percent(fnmr), lower=lower
        )
    return _(
        "At {threshold}, local engine {pairs}: false matches between {fmr_high} (at {lower}) and {fmr_low} "
        "(at {upper}); missed matches between {fnmr_low} and {fnmr_high}."
    ).format(
        threshold=threshold, pairs=pairs, lower=lower, upper=upper,
        fmr_high=_percent(CALIBRATED_RATES[lower][0]), fmr_low=_percent(CALIBRATED_RATES[upper][0]),
        fnmr_low=_percent(CALIBRATED_RATES[lower][1]), fnmr_high=_percent(CALIBRATED_RATES[upper][1]),
    )  # fmt: skip
