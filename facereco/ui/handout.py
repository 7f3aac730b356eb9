"""The presentation handout: what each page last showed, as one self-contained HTML file (no Streamlit here).

Like the tuning report (facereco/ui/report.py, whose page style, image and chart embedding it shares):
images are JPEG data URIs, plotly's JavaScript is embedded once, so the file opens offline anywhere.
What it may say about the session is decided by the caller (``HandoutFacts``): the backend as it may be
named, the appkey masked or not at all, file names only when the presenter ticked them in.
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import plotly.graph_objects as go
from PIL import Image

from facereco.ui import numbers
from facereco.ui.headlines import Headline
from facereco.ui.i18n import _, current_language, local_time
from facereco.ui.report import PAGE_STYLE, chart_html, data_uri

PAGE_ORDER = ("home", "detect", "compare", "search", "verify", "live", "groups", "tuning")
MAX_SIDE = 1280  # px: an annotated photo in the handout (the page shows it larger only on a large screen)


@dataclass(frozen=True)
class Shown:
    """One page's last result as the audience saw it."""

    page: str  # one of PAGE_ORDER
    title: str  # the page's title, translated
    headline: Headline
    image: Image.Image | None = None  # the annotated photo
    figure: go.Figure | None = None
    threshold: int | None = None
    meaning: str | None = None  # the threshold in plain words
    file_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class HandoutFacts:
    """What the handout says about the session, already filtered by what the presenter ticked in."""

    backend: str
    created: datetime
    timezone: str | None = None
    appkey: str | None = None  # masked, and only when ticked in
    file_names: bool = False


def shrunk(image: Image.Image, side: int = MAX_SIDE) -> Image.Image:
    """A copy at most ``side`` px on its longer side (a handout of phone photos stays a few MB)."""
    copy = image.convert("RGB")
    copy.thumbnail((side, side))
    return copy


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    shrunk(image).save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def _section(item: Shown, facts: HandoutFacts, *, first_chart: bool) -> str:
    """``first_chart``: no chart came before, so plotly's script goes with this one."""
    tone = {"good": "good", "bad": "bad"}.get(item.headline.tone, "neutral")
    headline = numbers.unbroken(html.escape(item.headline.text))
    parts = [f"<h2>{html.escape(item.title)}</h2>", f"<p class='headline {tone}'>{headline}</p>"]
    if item.threshold is not None:
        threshold = _("Threshold: {threshold}").format(threshold=item.threshold)
        parts.append(f"<p class='threshold'>{html.escape(threshold)}</p>")
    if item.meaning:
        parts.append(f"<p class='meaning'>{numbers.unbroken(html.escape(item.meaning))}</p>")
    if item.image is not None:
        parts.append(f"<img class='shown' alt='{html.escape(item.title)}' src='{data_uri(jpeg(item.image))}'>")
    if item.figure is not None:
        parts.append(chart_html(item.figure, include_script=first_chart))
    if facts.file_names and item.file_names:
        names = _("Files: {names}").format(names=", ".join(item.file_names))
        parts.append(f"<p class='files'>{html.escape(names)}</p>")
    return "<section>" + "".join(parts) + "</section>"


def handout_html(shown: Sequence[Shown], facts: HandoutFacts) -> str:
    """The handout as one HTML document, in the session's language; pages in the guided demo's order."""
    ordered = sorted(shown, key=lambda s: PAGE_ORDER.index(s.page) if s.page in PAGE_ORDER else len(PAGE_ORDER))
    body, charted = "", False
    for item in ordered:
        body += _section(item, facts, first_chart=not charted)
        charted = charted or item.figure is not None
    title = _("What was shown: face recognition")
    rows = [(_("Backend"), facts.backend), (_("Date"), local_time(facts.created.astimezone(UTC), facts.timezone))]
    if facts.appkey:
        rows.append((_("Appkey"), facts.appkey))
    table = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    nothing = _("Nothing was shown yet in this session.")
    empty = "" if ordered else f"<p>{html.escape(nothing)}</p>"
    return f"""<!DOCTYPE html>
<html lang="{current_language()}"><head><meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>
{PAGE_STYLE}
.headline {{ font-size: 1.8rem; font-weight: 700; margin: .4rem 0; }}
.headline.good {{ color: #166534; }}
.headline.bad {{ color: #991b1b; }}
.meaning {{ font-size: 1.1rem; }}
img.shown {{ max-width: 100%; height: auto; display: block; margin: .6rem 0; }}
section {{ border-top: 1px solid #e5e7eb; margin-top: 1.5rem; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<table class="facts">{table}</table>
{empty}{body}
</body></html>
"""
