"""Each page's result as one sentence for an audience, and the threshold's meaning in plain words.

Pure functions (no Streamlit, no call): the pages pass what they computed, these say it in the
session's language. Presentation mode shows them large (facereco/ui/presentation.py); the handout
repeats them. Numbers go through facereco/ui/numbers.py: similarity with one decimal, rates as
"about 1 in 1,000" rather than a percentage with many zeros.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from facereco.ui import numbers
from facereco.ui.i18n import _

GOOD, BAD, NEUTRAL = "good", "bad", "neutral"


@dataclass(frozen=True)
class Headline:
    """One sentence and its tone (good: a match, bad: no match, neutral: a count)."""

    text: str
    tone: str = NEUTRAL


# ---------------------------------------------------------------- results
def detect_headline(faces: int) -> Headline:
    if faces == 0:
        return Headline(_("No face found in this photo"), BAD)
    if faces == 1:
        return Headline(_("One face found"), GOOD)
    return Headline(_("{count:,} faces found").format(count=faces), GOOD)


def pair_headline(similarity: float, threshold: int) -> Headline:
    """One face against one face (Verify; Compare with one target face)."""
    values = {"similarity": numbers.similarity(similarity), "threshold": threshold}
    if similarity >= threshold:
        return Headline(_("Same person: {similarity} % similar — threshold {threshold}").format(**values), GOOD)
    return Headline(_("Not the same person: {similarity} % similar — threshold {threshold}").format(**values), BAD)


def compare_headline(similarities: list[float], threshold: int) -> Headline:
    """The source's face against every face of the target photo."""
    if not similarities:
        return Headline(_("No face in the target photo to compare with"), BAD)
    if len(similarities) == 1:
        return pair_headline(similarities[0], threshold)
    matched = sum(s >= threshold for s in similarities)
    return Headline(
        _("{matched:,} of {total:,} faces match — best {best} % similar, threshold {threshold}").format(
            matched=matched, total=len(similarities), best=numbers.similarity(max(similarities)), threshold=threshold
        ),
        GOOD if matched else BAD,
    )


def search_headline(hits: int, group: str, group_faces: int | None, *, cut: bool = False) -> Headline:
    """``hits`` faces of ``group`` at or above the threshold; ``cut``: the limit may have hidden more."""
    tone = GOOD if hits else BAD
    if group_faces is None:
        return Headline(_("{hits:,} faces found in group “{group}”").format(hits=hits, group=group), tone)
    sentence = _("at least {hits:,} of {faces:,} faces found in group “{group}”") if cut else None
    sentence = sentence or _("{hits:,} of {faces:,} faces found in group “{group}”")
    return Headline(sentence.format(hits=hits, faces=group_faces, group=group), tone)


def tuning_headline(threshold: int, fmr: float, impostors: int, fnmr: float, genuines: int) -> Headline:
    return Headline(
        _("At threshold {threshold}: {fmr} false matches, {fnmr} missed matches").format(
            threshold=threshold,
            fmr=numbers.percent(fmr, impostors, most=numbers.AUDIENCE_DECIMALS),
            fnmr=numbers.percent(fnmr, genuines, most=numbers.AUDIENCE_DECIMALS),
        )
    )


def groups_headline(group: str, faces: int) -> Headline:
    return Headline(_("Group “{group}” — faces: {faces:,}").format(group=group, faces=faces))


def home_headline(backend: str, groups: int, faces: int) -> Headline:
    return Headline(
        _("{backend} — groups: {groups:,}, faces: {faces:,}").format(backend=backend, groups=groups, faces=faces)
    )


def live_headline(group: str | None) -> Headline:
    if group:
        return Headline(_("Every face the camera sees, boxed and named from group “{group}”").format(group=group))
    return Headline(_("Every face the camera sees, boxed as it moves"))


# ---------------------------------------------------------------- the threshold in plain words
def one_in(rate: float) -> int:
    """1/rate, rounded to two significant digits (1/0.00132 -> 760): what "about 1 in N" says."""
    if rate <= 0:
        raise ValueError("one_in needs a rate above 0")
    inverse = 1.0 / rate
    digits = max(0, math.floor(math.log10(inverse)) - 1)
    return max(1, round(inverse / 10**digits) * 10**digits)


def threshold_in_words(threshold: int, fmr: float, impostors: int, where: str) -> str:
    """ "At 90, about 1 in 1,000 pairs of different people would be taken for each other on LFW"."""
    if fmr <= 0:
        sentence = _("At {threshold}, none of {pairs:,} pairs of different people were taken for each other {where}")
        return sentence.format(threshold=threshold, pairs=impostors, where=where)
    sentence = _("At {threshold}, about 1 in {n:,} pairs of different people would be taken for each other {where}")
    return sentence.format(threshold=threshold, n=one_in(fmr), where=where)


def threshold_between_in_words(threshold: int, fmr_high: float, fmr_low: float, where: str) -> str:
    """Between two measured points: FMR(upper) <= FMR(threshold) <= FMR(lower)."""
    return _(
        "At {threshold}, between about 1 in {many:,} and 1 in {few:,} pairs of different people would be taken "
        "for each other {where}"
    ).format(threshold=threshold, many=one_in(fmr_high), few=one_in(fmr_low), where=where)


def threshold_beyond_in_words(threshold: int, fmr: float, measured: int, *, above: bool, where: str) -> str:
    """Beyond the measured points: a bound from the nearest one (``measured``)."""
    if above:
        sentence = _(
            "At {threshold}, fewer than 1 in {n:,} pairs of different people would be taken for each other {where} "
            "(the rate at {measured})"
        )
    else:
        sentence = _(
            "At {threshold}, more than 1 in {n:,} pairs of different people would be taken for each other {where} "
            "(the rate at {measured})"
        )
    return sentence.format(threshold=threshold, n=one_in(fmr), where=where, measured=measured)


def threshold_unknown_in_words(threshold: int) -> str:
    return _(
        "At {threshold}: how often different people would be taken for each other is not known for this backend "
        "— score a group on the Tuning page to measure it"
    ).format(threshold=threshold)


def on_lfw() -> str:
    return _("on LFW (the local engine's measurement)")


def on_group(group: str) -> str:
    return _("in group “{group}” (as tuned)").format(group=group)
