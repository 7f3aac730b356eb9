"""Tuning: which threshold, and what it costs in false matches and missed matches.

Scores come from the API (search by faceId, threshold 1, a few searches at once, resumable), once
per group state; the slider then recomputes every figure from sorted scores, with no call.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd
import streamlit as st

from facereco.contract import DEFAULT_THRESHOLD
from facereco.errors import FaceRecoError
from facereco.labeled_sets import enroll
from facereco.metrics import FmrTarget, Rates, ScoreSet, identification_rates, wilson_interval
from facereco.tuning import (
    FMR_TARGETS,
    MAX_WORKERS,
    GroupScores,
    ScoringCancelled,
    ScoringCheckpoint,
    ScoringProgress,
    default_workers,
    score_group,
)
from facereco.ui import session
from facereco.ui.charts import binned, det_curve, roc_curve, score_histograms
from facereco.ui.i18n import _
from facereco.ui.report import TuningReport, tuning_report_html
from facereco.ui.widgets import group_picker, show_error

session.require_router(__file__)
st.title(_("Threshold tuning"))
st.caption(
    _(
        "Faces are labeled by their externalImageId: `<identity>:<file>` (what enrollment writes). "
        "Genuine pairs share an identity, impostor pairs do not; each pair is counted once."
    )
)
client = session.client()
THRESHOLD_KEY = "tuning-threshold"

with st.expander(_("Enroll a labeled set (ZIP of <identity>/<image>)"), expanded=False):
    target = st.text_input(_("Group"), value="labeled", key="tuning-enroll-group")
    archive = st.file_uploader(_("ZIP file"), type=["zip"], key="tuning-enroll-zip", max_upload_size=200)
    if st.button(_("Enroll"), key="tuning-enroll", disabled=not (archive and target)):
        progress = st.progress(0.0, text=_("enrolling…"))
        try:
            client.ensure_group(target)
            report = enroll(client, target, archive, lambda d, t, n: progress.progress(d / t, text=f"{d}/{t} {n}"))
            st.success(
                _(
                    "{added:,} face(s) added, {skipped:,} already there, "
                    "{no_face:,} image(s) without a recognisable face, {failed:,} failed."
                ).format(added=report.added, skipped=report.skipped, no_face=report.no_face, failed=len(report.failed))
            )
            if report.failed:
                failed = "; ".join(f"{name}: {reason}" for name, reason in report.failed)
                st.error(_("Not enrolled: {files}").format(files=failed))
        except FaceRecoError as error:
            show_error(error)


def group_state(group: str) -> session.GroupState:
    """Changes whenever faces are added or deleted: the cache key of a group's scores."""
    newest = client.list_faces(group, limit=1).faces
    return group, client.get_group(group).group.face_count, newest[0].face_id if newest else None


def curve_and_bins(scores: ScoreSet, key: tuple) -> tuple[np.ndarray, ...]:
    """The DET/ROC curve and the histogram bins: computed once per group state, kept for the slider."""
    kept = st.session_state.setdefault("tuning-curves", {})
    if key not in kept:
        thresholds, fmr, fnmr = scores.curve()
        kept.clear()
        kept[key] = (thresholds, fmr, fnmr, binned(scores.genuine), binned(scores.impostor))
    return kept[key]


group = group_picker(client, "tuning-group")
if group is None:
    st.stop()
try:
    state = group_state(group)
except FaceRecoError as error:
    show_error(error)
    st.stop()
cache = session.tuned_scores_by_state()
checkpoints: dict[str, ScoringCheckpoint] = st.session_state.setdefault("tuning-checkpoints", {})
cancel: threading.Event = st.session_state.setdefault("tuning-cancel-event", threading.Event())


PROGRESS_EVERY_S = 0.25  # one browser update per quarter second, not one per search (thousands of them)


def show_progress(bar, step: ScoringProgress, shown: dict[str, float]) -> None:
    now = time.monotonic()
    if step.done < step.total and now - shown.get("at", 0.0) < PROGRESS_EVERY_S:
        return
    shown["at"] = now
    left = _(", about {seconds:,.0f} s left").format(seconds=step.remaining_s) if step.rate else ""
    text = _("{done:,}/{total:,} faces, {rate:.1f} faces/s").format(done=step.done, total=step.total, rate=step.rate)
    bar.progress(step.done / step.total, text=text + left)


if state not in cache:
    checkpoint = checkpoints.setdefault(group, ScoringCheckpoint())
    workers = st.number_input(
        _("Searches at once"),
        min_value=1,
        max_value=MAX_WORKERS,
        value=default_workers(session.current_backend().is_local),
        key="tuning-workers",
        help=_("Parallel searches against the backend; lower it if the cloud throttles."),
    )
    resume = _(" (resume: {done:,} faces done)").format(done=len(checkpoint.answers)) if checkpoint.answers else ""
    if st.button(_("Score this group") + resume, type="primary", key="tuning-score"):
        cancel.clear()
        st.button(_("Cancel"), key="tuning-cancel", on_click=cancel.set)
        bar, shown = st.progress(0.0, text=_("searching every face…")), {}
        try:
            cache[state] = score_group(
                client,
                group,
                lambda step: show_progress(bar, step, shown),
                workers=workers,
                checkpoint=checkpoint,
                cancel=cancel,
            )
            checkpoints.pop(group, None)
        except ScoringCancelled as stopped:
            st.warning(
                _("Scoring paused at {done:,} of {total:,} faces. Press Score to resume.").format(
                    done=stopped.done, total=stopped.total
                )
            )
        except FaceRecoError as error:
            show_error(error)
if state not in cache:
    if cancel.is_set():
        st.warning(_("Scoring paused. Press Score to resume where it stopped."))
    st.info(_("Press **Score this group**: every face is searched once (threshold 1, limit 4096)."))
    st.stop()

scores: GroupScores = cache[state]
score_set = scores.score_set
n_genuine, n_impostor = score_set.genuine.size, score_set.impostor.size
if n_genuine == 0 or n_impostor == 0:
    st.warning(
        _(
            "{faces:,} labeled face(s): {genuine:,} genuine and {impostor:,} impostor pairs. "
            "Tuning needs at least two identities and two faces of one identity."
        ).format(faces=len(scores.faces), genuine=n_genuine, impostor=n_impostor)
    )
    st.stop()
thresholds, fmr_curve, fnmr_curve, genuine_bins, impostor_bins = curve_and_bins(score_set, state)


recommendations = [score_set.for_fmr(t) for t in FMR_TARGETS]
eer_point = score_set.eer_point()


def set_threshold(value: int, group: str, scores: GroupScores, aim: str, target: float | None = None) -> None:
    """The slider's value, and the group's operating threshold on this backend (every page, every session).
    ``aim``: "fmr", "eer" or "default" (facereco.ui.operating's FMR, EER, DEFAULT)."""
    from facereco.ui import operating  # here: the rest of this page is another concern's

    st.session_state[THRESHOLD_KEY] = value
    operating.adopt(group, scores, value, aim, target)


def unsupported_reason(target: FmrTarget) -> str:
    if not target.reachable:
        return _("no threshold up to 100 brings FMR to {rate} or below").format(rate=f"{target.target:.2%}")
    return _("{impostors:,} impostor pairs, at least {needed:,} needed (rule of three)").format(
        impostors=target.impostors, needed=target.needed_impostors
    )


st.session_state.setdefault(THRESHOLD_KEY, DEFAULT_THRESHOLD)
buttons = st.columns(len(FMR_TARGETS) + 2)
for column, target in zip(buttons, recommendations, strict=False):
    if target.supported:
        value = int(target.rates.threshold)
        column.button(
            _("FMR {rate}: threshold {value}").format(rate=f"{target.target:.2%}", value=value),
            key=f"tuning-fmr-{target.target}",
            on_click=set_threshold,
            args=(value, group, scores, "fmr", target.target),
            help=_("The smallest threshold whose measured FMR is at most the target."),
        )
    elif column.button(  # says why, and sets nothing
        _("FMR {rate}: not supported").format(rate=f"{target.target:.2%}"),
        key=f"tuning-fmr-{target.target}",
        help=_("Not supported: {reason}.").format(reason=unsupported_reason(target)),
    ):
        column.info(_("Not supported: {reason}. The threshold is unchanged.").format(reason=unsupported_reason(target)))
buttons[-2].button(
    _("EER: threshold {value:.0f}").format(value=eer_point.threshold),
    key="tuning-eer",
    on_click=set_threshold,
    args=(int(eer_point.threshold), group, scores, "eer"),
)
buttons[-1].button(
    _("Cloud default {value}").format(value=DEFAULT_THRESHOLD),
    key="tuning-default",
    on_click=set_threshold,
    args=(DEFAULT_THRESHOLD, group, scores, "default"),
)


def point_row(name: str, r: Rates) -> dict[str, object]:
    return {
        _("point"): name,
        _("threshold"): f"{r.threshold:.0f}",
        _("FMR"): f"{r.fmr:.3%} ({r.false_matches:,}/{r.impostors:,})",
        _("FNMR"): f"{r.fnmr:.2%} ({r.false_non_matches:,}/{r.genuines:,})",
        _("TMR"): f"{1 - r.fnmr:.2%}",
        _("note"): "",
    }


def target_row(target: FmrTarget) -> dict[str, object]:
    name = _("FMR ≤ {rate}").format(rate=f"{target.target:.2%}")
    if target.supported:
        return point_row(name, target.rates)
    row = {_("point"): name} | {_(column): "—" for column in ("threshold", "FMR", "FNMR", "TMR")}
    return row | {_("note"): _("not supported: {reason}").format(reason=unsupported_reason(target))}


REPORT_KEY = "tuning-report"


def report_download(rates: Rates, figures: tuple, rows: list[dict]) -> None:
    """Build the hand-out on request (a few MB: not on every slider move), for the threshold it states."""
    if st.button(_("Prepare the HTML report"), key="tuning-report-build"):
        report = TuningReport(
            group=group,
            faces=len(scores.faces),
            identities=len(set(scores.identities) - {""}),
            rates=rates,
            figures=figures,
            operating_points=rows,
            model_version=session.model_description(),
            backend=session.current_backend().label,
        )
        st.session_state[REPORT_KEY] = (group, rates.threshold, tuning_report_html(report))
    kept = st.session_state.get(REPORT_KEY)
    if kept and kept[:2] == (group, rates.threshold):
        st.download_button(
            _("Download the report (HTML)"), kept[2], f"{group}-tuning-report.html", "text/html",
            key="tuning-report-download",
        )  # fmt: skip


@st.fragment
def results() -> None:
    """A fragment: a slider move reruns only this part: no API call, one binary search per figure."""
    threshold = st.slider(_("Threshold"), 1, 100, key=THRESHOLD_KEY)
    unsupported = next((t for t in recommendations if not t.supported), None)
    if unsupported:
        st.warning(
            _("FMR {rate} is not supported by this sample: {reason}.").format(
                rate=f"{unsupported.target:.2%}", reason=unsupported_reason(unsupported)
            ),
            icon=":material/warning:",
        )

    rates = score_set.rates(threshold)
    share = _("{count:,} / {total:,} · 95 % CI {low}–{high}")
    fmr_low, fmr_high = wilson_interval(rates.false_matches, rates.impostors)
    fnmr_low, fnmr_high = wilson_interval(rates.false_non_matches, rates.genuines)
    columns = st.columns(4)
    columns[0].metric(_("FMR"), f"{rates.fmr:.3%}", help=_("impostor pairs matched"))
    columns[0].caption(
        share.format(count=rates.false_matches, total=rates.impostors, low=f"{fmr_low:.3%}", high=f"{fmr_high:.3%}")
    )
    columns[1].metric(_("FNMR"), f"{rates.fnmr:.2%}", help=_("genuine pairs missed"))
    columns[1].caption(
        share.format(
            count=rates.false_non_matches, total=rates.genuines, low=f"{fnmr_low:.2%}", high=f"{fnmr_high:.2%}"
        )
    )
    columns[2].metric(_("TMR"), f"{1 - rates.fnmr:.2%}", help=_("genuine pairs matched"))
    columns[3].metric(_("EER"), f"{eer_point.mean_error:.2%}", help=_("where FMR and FNMR cross"))
    columns[3].caption(
        _("at threshold {value:.0f}: FMR {fm:,}/{impostors:,}, FNMR {fnm:,}/{genuines:,}").format(
            value=eer_point.threshold,
            fm=eer_point.false_matches,
            impostors=eer_point.impostors,
            fnm=eer_point.false_non_matches,
            genuines=eer_point.genuines,
        )  # fmt: skip
    )

    log_y = st.toggle(_("Log scale"), value=True, key="tuning-log")
    point = (rates.fmr, rates.fnmr)
    figures = (
        score_histograms(genuine_bins, impostor_bins, threshold, log_y),
        det_curve(fmr_curve, fnmr_curve, point),
        roc_curve(fmr_curve, fnmr_curve, point),
    )
    st.plotly_chart(figures[0], key="tuning-histogram")
    det_column, roc_column = st.columns(2)
    det_column.plotly_chart(figures[1], key="tuning-det")
    roc_column.plotly_chart(figures[2], key="tuning-roc")

    st.subheader(_("Operating points"))
    rows = [target_row(t) for t in recommendations]
    rows += [
        point_row(name, score_set.rates(value))
        for name, value in (
            (_("EER"), eer_point.threshold),
            (_("cloud default"), DEFAULT_THRESHOLD),
            (_("slider"), threshold),
        )
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="tuning-points")
    report_download(rates, figures, rows)

    st.subheader(_("1:N identification (each face against the rest of the group)"))
    ident = identification_rates(scores.top_score, scores.top_is_mate, scores.has_mate, threshold)
    one, two, three = st.columns(3)
    one.metric(
        _("Rank-1 identification rate"),
        f"{ident.rank1_rate:.2%}",
        help=_("{count:,} mated probes").format(count=ident.mated_probes),
    )
    two.metric(
        _("FNIR at threshold"),
        f"{ident.fnir:.2%}",
        help=_("mated probes whose best candidate is no mate above it"),
    )
    three.metric(
        _("FPIR at threshold"),
        "—" if not ident.non_mated_probes else f"{ident.fpir:.2%}",
        help=_("{count:,} probes without a mate in the group").format(count=ident.non_mated_probes),
    )

    st.subheader(_("Hardest pairs"))
    impostor_column, genuine_column = st.columns(2)
    impostor_column.caption(_("Highest-scoring impostor pairs"))
    hardest_impostors, hardest_genuine = scores.hardest_tables
    impostor_column.dataframe(pd.DataFrame(hardest_impostors), hide_index=True, key="tuning-hard-impostors")
    genuine_column.caption(_("Lowest-scoring genuine pairs"))
    genuine_column.dataframe(pd.DataFrame(hardest_genuine), hide_index=True, key="tuning-hard-genuine")
    # A callable: the CSV (millions of lines on a real set) is built when asked for, not on every slider move.
    st.download_button(_("Export all scores (CSV)"), scores.to_csv, f"{group}-scores.csv", "text/csv", key="tuning-csv")
    st.caption(
        _(
            "{faces:,} labeled faces, {pairs:,} pairs; {unlisted:,} impostor "
            "pairs below similarity 1 are counted but not listed in the CSV."
        ).format(faces=len(scores.faces), pairs=scores.pair_count, unlisted=scores.unreturned_impostors)
    )


results()
