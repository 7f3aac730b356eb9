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

from facereco.audit import KINDS, Audit, Suspect, audit, identity_identification
from facereco.contract import DEFAULT_THRESHOLD
from facereco.errors import FaceRecoError
from facereco.labeled_sets import enroll, labeled_external_id, labeled_images
from facereco.metrics import FmrTarget, Rates, ScoreSet, identification_rates, wilson_interval
from facereco.quality import DEFAULT_PRESET, PRESETS
from facereco.quality_gate import enrollment_gate
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
from facereco.ui import audit_view, guided, numbers, presentation, session
from facereco.ui.audit_view import ScoringEdits, VerdictRecorder
from facereco.ui.charts import binned, det_curve, roc_curve, score_histograms
from facereco.ui.handout import Shown
from facereco.ui.headlines import tuning_headline
from facereco.ui.i18n import _
from facereco.ui.messages import literal
from facereco.ui.report import TuningReport, tuning_report_html
from facereco.ui.threshold import threshold_in_plain_words
from facereco.ui.widgets import group_picker, show_error, zip_upload_help

session.require_router(__file__)
st.title(_("Threshold tuning"))
guided.step_bar("tuning")
if not presentation.is_on():  # how pairs are labeled is the tuner's business
    st.caption(
        _(
            "Faces are labeled by their externalImageId: `<identity>:<file>` (what enrollment writes). "
            "Genuine pairs share an identity, impostor pairs do not; each pair is counted once."
        )
    )
client = session.client()
THRESHOLD_KEY = "tuning-threshold"
THUMBNAILS_KEY = "tuning-thumbnails"  # externalImageId -> a small JPEG of its photo, kept at enrollment
EDITS_KEY = "tuning-edits"  # group state -> ScoringEdits

with st.expander(_("Enroll a labeled set (ZIP of <identity>/<image>)"), expanded=False):
    target = st.text_input(_("Group"), value="labeled", key="tuning-enroll-group")
    archive = st.file_uploader(
        _("ZIP file"), type=["zip"], key="tuning-enroll-zip", max_upload_size=200, help=zip_upload_help()
    )
    preset_names = list(PRESETS)
    preset_labels = [audit_view.preset_label(name) for name in preset_names]  # shown translated, chosen by name
    preset = preset_names[
        preset_labels.index(
            st.selectbox(
                _("Quality gate"),
                preset_labels,
                index=preset_names.index(DEFAULT_PRESET),
                key="tuning-enroll-quality",
                help=_(
                    "Photos whose largest face fails the preset are skipped before their register call "
                    "(docs/quality.md)."
                ),
            )
        )
    ]
    if st.button(_("Enroll"), key="tuning-enroll", disabled=not (archive and target)):
        progress = st.progress(0.0, text=_("enrolling…"))
        try:
            client.ensure_group(target)
            gate = enrollment_gate(client, preset)
            recorder = VerdictRecorder(gate) if gate else None

            def step(done: int, total: int, name: str) -> None:
                if recorder:
                    recorder.step(name)
                progress.progress(done / total, text=f"{done}/{total} {literal(name)}")

            report = enroll(client, target, archive, step, gate=recorder)
            thumbnails = st.session_state.setdefault(THUMBNAILS_KEY, {})
            for image in labeled_images(archive.getvalue()):  # kept for the crops: no call
                small = audit_view.thumbnail(image.data)
                if small:
                    thumbnails[labeled_external_id(image.identity, image.name)] = small
            st.success(
                _(
                    "{added:,} face(s) added, {skipped:,} already there, "
                    "{no_face:,} image(s) without a recognisable face, {failed:,} failed."
                ).format(added=report.added, skipped=report.skipped, no_face=report.no_face, failed=len(report.failed))
            )
            if report.failed:
                failed = "; ".join(f"{literal(name)}: {literal(reason)}" for name, reason in report.failed)
                st.error(_("Not enrolled: {files}").format(files=failed))
            if report.low_quality:
                st.warning(
                    _("{count:,} photo(s) skipped by the quality gate ({preset}), before any register call:").format(
                        count=len(report.low_quality), preset=audit_view.preset_label(preset)
                    )
                )
                st.dataframe(
                    pd.DataFrame([{_("file"): name, _("reasons"): ", ".join(why)} for name, why in report.low_quality]),
                    hide_index=True,
                    key="tuning-enroll-skipped",
                )
                st.download_button(
                    _("Download the skipped files (CSV)"),
                    audit_view.skipped_csv(report.low_quality),
                    f"{target}-skipped.csv",
                    "text/csv",
                    key="tuning-enroll-skipped-csv",
                )
            for name, count in report.several_faces:
                st.info(_("{file}: {count} faces, the largest was taken.").format(file=literal(name), count=count))
            if recorder and recorder.verdicts:
                st.dataframe(
                    pd.DataFrame(audit_view.verdict_rows(recorder.verdicts)),
                    hide_index=True,
                    key="tuning-enroll-verdicts",
                )
        except FaceRecoError as error:
            show_error(error)


def group_state(group: str) -> session.GroupState:
    """Changes whenever faces are added or deleted: the cache key of a group's scores."""
    newest = client.list_faces(group, limit=1).faces
    return group, client.get_group(group).group.face_count, newest[0].face_id if newest else None


def curve_and_bins(scores: ScoreSet, key: object) -> tuple[np.ndarray, ...]:
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


scored = state in cache
# the Score button stays once scored, as "Score again"
checkpoint = checkpoints.setdefault(group, ScoringCheckpoint())
WORKERS_KEPT = "tuning-workers-kept"  # the tuner's own choice, kept while presentation mode hides the field


def keep_workers() -> None:
    st.session_state[WORKERS_KEPT] = st.session_state["tuning-workers"]


workers = st.session_state.get(WORKERS_KEPT, default_workers(session.current_backend().is_local))
if not presentation.is_on():  # an audience needs no knob for parallel searches
    workers = st.number_input(
        _("Searches at once"),
        min_value=1,
        max_value=MAX_WORKERS,
        value=workers,
        key="tuning-workers",
        on_change=keep_workers,  # only a choice is kept: untouched, the backend's default applies
        help=_("Parallel searches against the backend; lower it if the cloud throttles."),
    )
resume = _(" (resume: {done:,} faces done)").format(done=len(checkpoint.answers)) if checkpoint.answers else ""
score_label = _("Score again") if scored else _("Score this group") + resume
pressed = st.button(score_label, type="secondary" if scored else "primary", key="tuning-score")
if pressed or (guided.autorun("tuning") and not scored):
    cache.pop(state, None)
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
        st.rerun()  # drawn again from the scores, the button now "Score again"
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

base_scores: GroupScores = cache[state]
all_edits: dict[session.GroupState, ScoringEdits] = st.session_state.setdefault(EDITS_KEY, {})
edits = all_edits.get(state, ScoringEdits())
edited: dict = st.session_state.setdefault("tuning-edited", {})
if (state, edits) not in edited:  # excluded faces and merged identities: recomputed once, no call
    edited.clear()
    edited[(state, edits)] = audit_view.edited_scores(base_scores, edits)
scores: GroupScores = edited[(state, edits)]
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
thresholds, fmr_curve, fnmr_curve, genuine_bins, impostor_bins = curve_and_bins(score_set, (state, edits))


recommendations = [score_set.for_fmr(t) for t in FMR_TARGETS]
eer_point = score_set.eer_point()
EER_VALUE = int(round(eer_point.threshold))  # one rounding rule: the button, the card and the table


def short_rate(rate: float) -> str:
    """0.001 -> "0.1 %": short enough for a button at 1024 px."""
    return f"{rate * 100:g} %"


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
# a row that wraps: each button as wide as its label (threshold included), never cut at 1024 px
buttons = st.container(horizontal=True)
refused: FmrTarget | None = None
for target in recommendations:
    if target.supported:
        value = int(target.rates.threshold)
        buttons.button(
            _("FMR {rate} → {value}").format(rate=short_rate(target.target), value=value),
            key=f"tuning-fmr-{target.target}",
            on_click=set_threshold,
            args=(value, group, scores, "fmr", target.target),
            help=_("The smallest threshold whose measured FMR is at most the target."),
        )
    elif buttons.button(  # says why, and sets nothing
        _("FMR {rate}: not supported").format(rate=short_rate(target.target)),
        key=f"tuning-fmr-{target.target}",
        help=_("Not supported: {reason}.").format(reason=unsupported_reason(target)),
    ):
        refused = target
buttons.button(
    _("EER → {value}").format(value=EER_VALUE),
    key="tuning-eer",
    on_click=set_threshold,
    args=(EER_VALUE, group, scores, "eer"),
)
buttons.button(
    _("Default → {value}").format(value=DEFAULT_THRESHOLD),
    key="tuning-default",
    on_click=set_threshold,
    args=(DEFAULT_THRESHOLD, group, scores, "default"),
)
if refused is not None:
    st.info(_("Not supported: {reason}. The threshold is unchanged.").format(reason=unsupported_reason(refused)))


def pct(rate: float, trials: int) -> str:
    """A rate with the digits its sample supports; at most two decimals in presentation mode."""
    return numbers.percent(rate, trials, most=presentation.most_decimals())


def point_row(name: str, r: Rates) -> dict[str, object]:
    return {
        _("point"): name,
        _("threshold"): f"{int(round(r.threshold))}",
        _("FMR"): f"{pct(r.fmr, r.impostors)} ({r.false_matches:,}/{r.impostors:,})",
        _("FNMR"): f"{pct(r.fnmr, r.genuines)} ({r.false_non_matches:,}/{r.genuines:,})",
        _("TMR"): pct(1 - r.fnmr, r.genuines),
        _("note"): "",
    }


def target_row(target: FmrTarget) -> dict[str, object]:
    name = _("FMR ≤ {rate}").format(rate=f"{target.target:.2%}")
    if target.supported:
        return point_row(name, target.rates)
    row = {_("point"): name} | {_(column): "—" for column in ("threshold", "FMR", "FNMR", "TMR")}
    return row | {_("note"): _("not supported: {reason}").format(reason=unsupported_reason(target))}


REPORT_KEY = "tuning-report"


def report_download(rates: Rates, figures: tuple, rows: list[dict], identification: list[dict]) -> None:
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
            hardest=audit_view.hardest_for_report(scores, thumbnails),
            identification=identification,
            left_out=audit_view.edits_lines(base_scores, edits),
        )
        st.session_state[REPORT_KEY] = (group, rates.threshold, tuning_report_html(report), edits)
    kept = st.session_state.get(REPORT_KEY)
    if kept and (kept[0], kept[1], kept[3]) == (group, rates.threshold, edits):
        st.download_button(
            _("Download the report (HTML)"), kept[2], f"{group}-tuning-report.html", "text/html",
            key="tuning-report-download",
        )  # fmt: skip


def hardest_tables(genuine: bool) -> list[dict[str, object]]:
    """Threshold-free: built once per group state, edits and kept photos, not on every slider move."""
    kept = st.session_state.setdefault("tuning-hardest", {})
    key = (state, edits, genuine, len(thumbnails))
    if key not in kept:
        if len(kept) > 4:
            kept.clear()
        kept[key] = audit_view.hardest_table(scores, genuine, thumbnails)
    return kept[key]


@st.fragment
def results() -> None:
    """A fragment: a slider move reruns only this part: no API call, one binary search per figure."""
    top = st.container()  # the headline above the slider it depends on
    threshold = st.slider(_("Threshold"), 1, 100, key=THRESHOLD_KEY)
    rates = score_set.rates(threshold)
    line = tuning_headline(threshold, rates.fmr, rates.impostors, rates.fnmr, rates.genuines)
    with top:
        presentation.headline(line)
    meaning = threshold_in_plain_words(threshold, group) if presentation.is_on() else None
    if meaning:
        presentation.in_words(meaning)
    unsupported = next((t for t in recommendations if not t.supported), None)
    if unsupported:
        st.warning(
            _("FMR {rate} is not supported by this sample: {reason}.").format(
                rate=f"{unsupported.target:.2%}", reason=unsupported_reason(unsupported)
            ),
            icon=":material/warning:",
        )

    share = _("{count:,} / {total:,} · 95 % CI {low}–{high}")
    fmr_low, fmr_high = wilson_interval(rates.false_matches, rates.impostors)
    fnmr_low, fnmr_high = wilson_interval(rates.false_non_matches, rates.genuines)
    impostors, genuines = rates.impostors, rates.genuines
    columns = st.columns(4)
    columns[0].metric(_("FMR"), pct(rates.fmr, impostors), help=_("impostor pairs matched"))
    columns[0].caption(
        share.format(count=rates.false_matches, total=impostors, low=pct(fmr_low, impostors),
                     high=pct(fmr_high, impostors))
    )  # fmt: skip
    columns[1].metric(_("FNMR"), pct(rates.fnmr, genuines), help=_("genuine pairs missed"))
    columns[1].caption(
        share.format(count=rates.false_non_matches, total=genuines, low=pct(fnmr_low, genuines),
                     high=pct(fnmr_high, genuines))
    )  # fmt: skip
    columns[2].metric(_("TMR"), pct(1 - rates.fnmr, genuines), help=_("genuine pairs matched"))
    eer_trials = min(eer_point.impostors, eer_point.genuines)  # the mean of two rates: the smaller sample's digits
    columns[3].metric(_("EER"), pct(eer_point.mean_error, eer_trials), help=_("where FMR and FNMR cross"))
    columns[3].caption(
        _("at threshold {value}: FMR {fm:,}/{impostors:,}, FNMR {fnm:,}/{genuines:,}").format(
            value=EER_VALUE,
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
    presentation.record(lambda: Shown("tuning", _("Tuning"), line, None, figures[0], threshold, meaning))
    if not presentation.is_on():  # DET and ROC (log axes of tiny rates) are the tuner's; the audience has the words
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
    if presentation.is_on():  # the summary ends here: 1:N, the report, the hardest pairs and the CSV are the tuner's
        return

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

    st.caption(_("What enrolling several photos per person buys: an identity scores its best match over its faces."))
    identification = [
        audit_view.identification_row(_("each face on its own"), ident),
        audit_view.identification_row(
            _("one photo per identity"), identity_identification(scores, threshold, photos="one")
        ),
        audit_view.identification_row(
            _("all its faces (best match)"), identity_identification(scores, threshold, photos="all")
        ),
    ]
    st.dataframe(pd.DataFrame(identification), hide_index=True, key="tuning-identity-1n")
    report_download(rates, figures, rows, identification)

    st.subheader(_("Hardest pairs"))
    impostor_column, genuine_column = st.columns(2)
    for column, genuine, caption, key in (
        (impostor_column, False, _("Highest-scoring impostor pairs"), "tuning-hard-impostors"),
        (genuine_column, True, _("Lowest-scoring genuine pairs"), "tuning-hard-genuine"),
    ):
        column.caption(caption)
        column.dataframe(
            pd.DataFrame(hardest_tables(genuine)),
            hide_index=True,
            key=key,
            column_config={name: st.column_config.ImageColumn(name) for name in (_("face A"), _("face B"))},
        )
    # A callable: the CSV (millions of lines on a real set) is built when asked for, not on every slider move.
    st.download_button(_("Export all scores (CSV)"), scores.to_csv, f"{group}-scores.csv", "text/csv", key="tuning-csv")
    st.caption(
        _(
            "{faces:,} labeled faces, {pairs:,} pairs; {unlisted:,} impostor "
            "pairs below similarity 1 are counted but not listed in the CSV."
        ).format(faces=len(scores.faces), pairs=scores.pair_count, unlisted=scores.unreturned_impostors)
    )


# ---------------------------------------------------------------- label audit: from the scores, no call
AUDIT_ROWS = 10  # per kind, most likely first
thumbnails: dict[str, bytes] = st.session_state.setdefault(THUMBNAILS_KEY, {})


def set_edits(new: ScoringEdits) -> None:
    all_edits[state] = new


def first_face_of(identity: str) -> int:
    return scores.identities.index(identity)


def show_faces(column, faces: tuple[int, ...]) -> None:
    """Both faces side by side, each with its externalImageId; a face enrolled elsewhere has no crop."""
    cells = column.columns(2)
    for cell, index, crop in zip(cells, faces, audit_view.crops_of(scores, thumbnails, faces), strict=False):
        name = scores.faces[index].external_image_id or ""
        if crop is None:
            cell.caption(_("{name} (no photo kept in this session)").format(name=literal(name)))
        else:
            cell.image(audit_view.jpeg_bytes(crop), caption=literal(name))


def suspect_row(suspect: Suspect, found: Audit, number: int) -> None:
    faces = suspect.faces
    if suspect.kind == "same-person":
        faces = tuple(first_face_of(name) for name in suspect.external_image_ids)
    pictures, text, action = st.columns([3, 4, 2])
    show_faces(pictures, faces)
    text.markdown(f"**{literal(' · '.join(suspect.external_image_ids))}**")
    text.caption(audit_view.suspect_sentence(suspect, found))
    key = f"tuning-audit-{suspect.kind}-{number}"
    if suspect.kind == "same-person":
        first, second = suspect.external_image_ids
        action.button(
            _("Merge in the scoring"), key=key, on_click=set_edits, args=(edits.merge(first, second),)
        )  # fmt: skip
    else:
        face = scores.faces[faces[-1] if suspect.kind == "duplicate" else faces[0]]
        action.button(
            _("Exclude"),
            key=key,
            on_click=set_edits,
            args=(edits.exclude(face.face_id),),
            help=_("Leave {name} out of the scoring (the group keeps it).").format(
                name=literal(face.external_image_id or "")
            ),
        )


AUDIT_KEY = "tuning-audit"
kept_audit = st.session_state.get(AUDIT_KEY)
if not kept_audit or kept_audit[0] != (state, edits):
    kept_audit = ((state, edits), audit(scores))
    st.session_state[AUDIT_KEY] = kept_audit
found_audit: Audit = kept_audit[1]
with st.expander(
    _("Label audit: {count:,} suspect(s)").format(count=len(found_audit.suspects)),
    expanded=bool(found_audit.suspects) and not presentation.is_on(),
):
    st.caption(
        _(
            "From the scores already fetched (no call). Excluding or merging changes what is scored, "
            "not the group: every figure below recomputes at once."
        )
    )
    for kind in KINDS:
        of_kind = found_audit.of_kind(kind)
        st.markdown(f"**{audit_view.kind_label(kind)}** ({len(of_kind):,})")
        for number, suspect in enumerate(of_kind[:AUDIT_ROWS]):
            suspect_row(suspect, found_audit, number)
    if not edits.empty:
        st.markdown("**" + _("Left out of the scoring") + "**")
        for line in audit_view.edits_lines(base_scores, edits):
            st.markdown(literal(line))
        st.button(
            _("Score every face again as labeled"), key="tuning-audit-reset", on_click=set_edits, args=(ScoringEdits(),)
        )


results()
