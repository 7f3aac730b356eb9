"""Numbers for people: the one place where the dashboard and its reports format a number for display.

- similarity: one decimal (``97.3``);
- angles: whole degrees (``-42°``);
- percentages: as many decimals as the sample supports — a rate measured over ``n`` trials gets just
  enough digits to show ``1/n`` (1,000 trials: ``0.1 %``; 3,000: ``0.03 %``; 100: ``1 %``) and no more;
- ``—`` for a value that was not asked for (``None``).

Raw panels and CSV exports keep the full values; only what a person reads goes through here.
"""

from __future__ import annotations

import math

NOT_ASKED = "—"
AUDIENCE_DECIMALS = 2  # the most decimals a number shows in presentation mode and its headlines


def similarity(value: float | None) -> str:
    """A 0-100 similarity with one decimal."""
    return NOT_ASKED if value is None else f"{value:.1f}"


def similarity_value(value: float) -> float:
    """A similarity rounded to one decimal for a table cell: a table's accessible copy shows the raw number,
    whatever display format its column has."""
    return round(value, 1)


def degrees(value: float | None) -> str:
    """An angle in whole degrees (``-0`` shows as ``0``)."""
    if value is None:
        return NOT_ASKED
    whole = round(value)
    return f"{whole + 0:d}°"


def percent_decimals(trials: int | None) -> int:
    """Decimals that show one trial in ``trials`` as a percentage (one decimal when the sample is unknown)."""
    if trials is None or trials <= 0:
        return 1
    return max(0, math.ceil(math.log10(trials) - 2 - 1e-12))


def percent(rate: float | None, trials: int | None = None, most: int | None = None, *, upper: bool = False) -> str:
    """A 0-1 rate as a percentage with the precision ``trials`` supports (``0.1 %``), and at most ``most``
    decimals (presentation mode: 2); a rate above 0 that would round to 0 there reads ``< 0.01 %``.
    ``upper``: an upper bound, rounded up, so that fewer digits never make it look lower than it is."""
    if rate is None:
        return NOT_ASKED
    decimals = percent_decimals(trials) if most is None else min(percent_decimals(trials), most)
    value = rate * 100
    if upper:
        scale = 10**decimals
        return f"{math.ceil(round(value * scale, 9)) / scale:.{decimals}f} %"
    if most is not None and 0 < value < 0.5 * 10**-decimals:
        return f"< {10**-decimals:.{decimals}f} %"
    return f"{value:.{decimals}f} %"


def unbroken(text: str) -> str:
    """A sentence whose numbers keep their ``%`` on their line at any width ("100.0 %" never wraps before
    the sign): for large text, where a line break is likely."""
    return text.replace(" %", "\u00a0%")


def percent_tick(rate: float) -> str:
    """A log-axis tick: the shortest exact form of the rate in percent (``0.0001`` -> ``0.01 %``)."""
    value = float(f"{rate * 100:.12g}")  # drop float noise (1e-6*100 = 9.999999999999999e-05)
    text = f"{value:f}".rstrip("0").rstrip(".") if value else "0"
    return f"{text} %"
