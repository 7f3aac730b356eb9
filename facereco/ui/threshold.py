"""The threshold slider with what it means beside it: false-match and missed-match rates.

It starts from the group's operating threshold on this backend (set on the Tuning page, kept on disk:
facereco/ui/operating.py) and says where that came from; else from the cloud's default.

From the session's last tuning of the group in use (Tuning page), else from the local engine's
calibration on LFW for the group's descriptor version (the newest without a group), else "unknown"
(the cloud, nothing tuned): an audience seeing two different people "match" at 50 reads why.
"""

from __future__ import annotations

import streamlit as st

from facereco.contract import DEFAULT_THRESHOLD, THRESHOLD
from facereco.engine import CALIBRATIONS, Calibration, calibration_for
from facereco.errors import FaceRecoError
from facereco.tuning import GroupScores
from facereco.ui import headlines, presentation
from facereco.ui.i18n import _
from facereco.ui.operating import backend_key, cautions, operating_threshold, provenance
from facereco.ui.session import client, current_backend, tuned_scores_by_state


def threshold_slider(key: str, group: str | None = None) -> int:
    """A 1-100 slider with the rates at its value in a caption below. It starts from the operating
    threshold of ``group`` on this backend (without a group: the one adopted last on it), else the
    cloud's default, and starts there again when the group or its operating threshold changes."""
    operating, problem = operating_threshold(group)
    start = operating.threshold if operating else DEFAULT_THRESHOLD
    origin_key, origin = f"{key}-origin", (backend_key(current_backend()), group, start)
    if key not in st.session_state or st.session_state.get(origin_key) != origin:
        st.session_state[key] = start  # set before the widget is drawn: no value= beside it
        st.session_state[origin_key] = origin
    threshold = st.slider(
        _("Threshold"), THRESHOLD.low, THRESHOLD.high, key=key,
        help=_("The cloud's default is {value}.").format(value=DEFAULT_THRESHOLD),
    )  # fmt: skip
    if presentation.is_on():  # for an audience: how often two different people would pass, in words
        presentation.in_words(threshold_in_plain_words(threshold, group))
    else:
        st.caption(threshold_meaning(threshold, group))
    if operating is not None:
        if not presentation.is_on():  # where it came from is the tuner's business; its cautions are everyone's
            st.caption(provenance(operating))
        for caution in cautions(operating, most=presentation.most_decimals()):
            st.caption(f":material/warning: {caution}")
    if problem:
        st.caption(f":material/error: {problem}")
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
        return calibration_meaning(threshold, group_version(group))
    return _(
        "At {threshold}: false-match and missed-match rates are unknown for this backend. "
        "Score a group on the Tuning page to measure them."
    ).format(threshold=threshold)


def group_version(group: str | None) -> str | None:
    """The group's modelVersion (the session's cached read); None without a group or when it cannot be read."""
    if not group:
        return None
    try:
        return client().get_group(group).group.model_version
    except FaceRecoError:
        return None


def calibration_meaning(threshold: int, model_version: str | None = None) -> str:
    """The local engine's measured points (LFW) for ``model_version`` (default the newest), the nearest
    ones when the slider sits between them."""
    calibration = _calibration(model_version)
    rates = calibration.rates
    pairs = _("on LFW ({impostors:,} impostor and {genuines:,} genuine pairs)").format(
        impostors=calibration.pairs["impostor"], genuines=calibration.pairs["genuine"]
    )
    if threshold in rates:
        fmr, fnmr = rates[threshold]
        return _("At {threshold}, local engine {pairs}: false matches {fmr}, missed matches {fnmr}.").format(
            threshold=threshold, pairs=pairs, fmr=_percent(fmr), fnmr=_percent(fnmr)
        )
    lower, upper = _neighbours(rates, threshold)
    if lower is None:  # below the lowest measured point: more false matches than there
        assert upper is not None, "the calibration has measured points"
        fmr, _fnmr = rates[upper]
        return _("At {threshold}, local engine {pairs}: false matches above {fmr} (their rate at {upper}).").format(
            threshold=threshold, pairs=pairs, fmr=_percent(fmr), upper=upper
        )
    if upper is None:
        fnmr = rates[lower][1]
        return _("At {threshold}, local engine {pairs}: missed matches above {fnmr} (their rate at {lower}).").format(
            threshold=threshold, pairs=pairs, fnmr=_percent(fnmr), lower=lower
        )
    return _(
        "At {threshold}, local engine {pairs}: false matches between {fmr_high} (at {lower}) and {fmr_low} "
        "(at {upper}); missed matches between {fnmr_low} and {fnmr_high}."
    ).format(
        threshold=threshold, pairs=pairs, lower=lower, upper=upper,
        fmr_high=_percent(rates[lower][0]), fmr_low=_percent(rates[upper][0]),
        fnmr_low=_percent(rates[lower][1]), fnmr_high=_percent(rates[upper][1]),
    )  # fmt: skip


def _calibration(model_version: str | None) -> Calibration:
    """The local engine's calibration for ``model_version``, else for the newest descriptor."""
    return CALIBRATIONS.get(model_version or "") or calibration_for()


def _neighbours(rates: dict[int, tuple[float, float]], threshold: int) -> tuple[int | None, int | None]:
    """The measured thresholds just below and just above ``threshold`` (None where there is none)."""
    lower = max((t for t in rates if t < threshold), default=None)
    upper = min((t for t in rates if t > threshold), default=None)
    return lower, upper


def threshold_in_plain_words(threshold: int, group: str | None = None) -> str:
    """ "At 90, about 1 in 1,000 pairs of different people would be taken for each other on LFW": from the
    session's tuning of ``group``, else the local engine's calibration, else "not known"."""
    scores = tuned_scores(group)
    if scores is not None and group:
        rates = scores.score_set.rates(threshold)
        if rates.impostors:
            return headlines.threshold_in_words(threshold, rates.fmr, rates.impostors, headlines.on_group(group))
    if not current_backend().is_local:
        return headlines.threshold_unknown_in_words(threshold)
    calibration = _calibration(group_version(group))
    rates_at, impostors, where = calibration.rates, calibration.pairs["impostor"], headlines.on_lfw()
    if threshold in rates_at:
        return headlines.threshold_in_words(threshold, rates_at[threshold][0], impostors, where)
    lower, upper = _neighbours(rates_at, threshold)
    if lower is None:
        assert upper is not None, "the calibration has measured points"
        return headlines.threshold_beyond_in_words(threshold, rates_at[upper][0], upper, above=False, where=where)
    if upper is None:
        return headlines.threshold_beyond_in_words(threshold, rates_at[lower][0], lower, above=True, where=where)
    return headlines.threshold_between_in_words(threshold, rates_at[lower][0], rates_at[upper][0], where)
