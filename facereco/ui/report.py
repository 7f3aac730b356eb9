"""The Tuning page's hand-out: one self-contained HTML file (no Streamlit here).

plotly's JavaScript is embedded once (``include_plotlyjs=True`` on the first chart), so the file
opens offline, on any machine, with the charts drawn. Every text is escaped and translated.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pandas as pd
import plotly.graph_objects as go

from facereco.metrics import Rates, wilson_interval
from facereco.ui import numbers
from facereco.ui.i18n import _, current_language, local_time, viewer_timezone


@dataclass(frozen=True)
class TuningReport:
    """What the report states: the group and its sample, the chosen threshold's rates, the figures."""

    group: str
    faces: int
    identities: int
    rates: Rates  # at the chosen threshold: k/n for both errors
    figures: Sequence[go.Figure]  # histograms, DET, ROC
    operating_points: Sequence[dict[str, object]]  # the page's table, row by row
    model_version: str
    backend: str
    created: datetime | None = None
    # hardest pairs: (caption, table rows, per row the two faces' crops as JPEG bytes, None where no photo was kept)
    hardest: Sequence[HardestTable] = ()
    identification: Sequence[dict[str, object]] = ()  # 1:N: per face, one photo and all faces per identity
    left_out: Sequence[str] = field(default_factory=tuple)  # what was excluded or merged from the scoring
    timezone: str | None = None  # IANA name for the date line; None: the viewer's browser zone, else UTC


@dataclass(frozen=True)
class HardestTable:
    caption: str
    rows: Sequence[dict[str, object]]
    crops: Sequence[tuple[bytes | None, bytes | None]]


def _share(count: int, total: int) -> str:
    """``k/n (rate, 95 % CI low–high)``: the count first, so a reader sees the sample behind the rate."""
    low, high = wilson_interval(count, total)
    rate = count / total if total else 0.0
    return _("{count:,}/{total:,} = {rate} (95 % CI {low}–{high})").format(
        count=count,
        total=total,
        rate=numbers.percent(rate, total),
        low=numbers.percent(low, total),
        high=numbers.percent(high, total),
    )


def _facts(report: TuningReport, created: datetime) -> list[tuple[str, str]]:
    r = report.rates
    return [
        (_("Group"), report.group),
        (_("Backend"), report.backend),
        (_("Model"), report.model_version),
        (_("Date"), local_time(created, report.timezone or viewer_timezone())),
        (_("Labeled faces"), f"{report.faces:,}"),
        (_("Identities"), f"{report.identities:,}"),
        (_("Genuine pairs"), f"{r.genuines:,}"),
        (_("Impostor pairs"), f"{r.impostors:,}"),
        (_("Chosen threshold"), f"{r.threshold:g}"),
        (_("FMR (false-match rate)"), _share(r.false_matches, r.impostors)),
        (_("FNMR (missed-match rate)"), _share(r.false_non_matches, r.genuines)),
    ]


PAGE_STYLE = """body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #111827; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { padding: .3rem .8rem; border-bottom: 1px solid #e5e7eb; text-align: left; }
.chart { margin: 1rem 0; }"""  # the tuning report's and the presentation handout's


def data_uri(jpeg: bytes) -> str:
    """A JPEG as a ``data:`` URI: the file carries its images (it opens offline)."""
    return f"data:image/jpeg;base64,{base64.b64encode(jpeg).decode()}"


def chart_html(figure: go.Figure, *, include_script: bool) -> str:
    """A plotly figure drawn in place; plotly's JavaScript embedded with the first chart of a file only."""
    return f"<div class='chart'>{figure.to_html(full_html=False, include_plotlyjs=include_script)}</div>"


def _crop_cell(jpeg: bytes | None) -> str:
    if not jpeg:
        return "<td>—</td>"
    return f"<td><img alt='' src='{data_uri(jpeg)}'></td>"


def _hardest_html(table: HardestTable) -> str:
    """One table of hardest pairs: both faces' crops first, then the page's columns."""
    headers = [_("face A"), _("face B"), *(str(k) for k in (table.rows[0] if table.rows else {}))]
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = ""
    for row, (a, b) in zip(table.rows, table.crops, strict=False):
        cells = "".join(f"<td>{html.escape(str(v))}</td>" for v in row.values())
        body += f"<tr>{_crop_cell(a)}{_crop_cell(b)}{cells}</tr>"
    return f"<h3>{html.escape(table.caption)}</h3><table class='pairs'><tr>{head}</tr>{body}</table>"


def _extra_sections(report: TuningReport) -> str:
    identification_heading, hardest_heading = _("1:N identification"), _("Hardest pairs")
    left_out_heading, nothing_left_out = _("Left out of the scoring"), _("Nothing: every labeled face is scored.")
    parts = []
    if report.identification:
        rows = pd.DataFrame(list(report.identification)).to_html(index=False, escape=True, border=0)
        parts.append(f"<h2>{html.escape(identification_heading)}</h2>{rows}")
    if report.hardest:
        parts.append(f"<h2>{html.escape(hardest_heading)}</h2>" + "".join(_hardest_html(t) for t in report.hardest))
    parts.append(f"<h2>{html.escape(left_out_heading)}</h2>")
    if report.left_out:
        parts.append("<ul class='left-out'>" + "".join(f"<li>{html.escape(x)}</li>" for x in report.left_out) + "</ul>")
    else:
        parts.append(f"<p>{html.escape(nothing_left_out)}</p>")
    return "\n".join(parts)


def tuning_report_html(report: TuningReport) -> str:
    """The whole report as one HTML document, in the session's language."""
    created = report.created or datetime.now(UTC)
    facts = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in _facts(report, created))
    charts = "".join(chart_html(figure, include_script=index == 0) for index, figure in enumerate(report.figures))
    points = pd.DataFrame(list(report.operating_points)).to_html(index=False, escape=True, border=0)
    title = _("Threshold tuning report: {group}").format(group=report.group)
    charts_heading, points_heading = _("Score distributions, DET and ROC"), _("Operating points")
    return f"""<!DOCTYPE html>
<html lang="{current_language()}"><head><meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>
{PAGE_STYLE}
.pairs img {{ height: 72px; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<table class="facts">{facts}</table>
<h2>{html.escape(charts_heading)}</h2>
{charts}
<h2>{html.escape(points_heading)}</h2>
{points}
{_extra_sections(report)}
</body></html>
"""
