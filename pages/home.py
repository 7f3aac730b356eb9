"""Home: what each page is for, the backend's state, and a one-click demo group."""

from __future__ import annotations

import streamlit as st

from facereco.errors import FaceRecoError
from facereco.ui import guided, presentation, session
from facereco.ui.gallery import GALLERY_GROUP, GalleryUnavailable, build_gallery, choose_people, lfw_folder
from facereco.ui.handout import Shown
from facereco.ui.headlines import home_headline
from facereco.ui.i18n import _
from facereco.ui.messages import explain
from facereco.ui.widgets import exchange_panel, show_error

DEMO_GROUP = session.DEMO_GROUP
DEMO_OUTCOME_KEY = "home-demo-outcome"
GALLERY_OUTCOME_KEY = "home-gallery-outcome"

session.require_router(__file__)
guided.follow()  # the guided demo's start button asked for its first step
st.title(_("Face Recognition dashboard"))
st.write(
    _(
        "Detect, compare, search and verify faces with the **NHN Cloud Face Recognition API v1.0** — "
        "or, with no appkey and no network, with the **local engine** that answers the same contract."
    )
)

PURPOSES = {
    _("Detect"): _("every face in a photo: numbered boxes, five landmarks, confidence, head pose, mask"),
    _("Compare"): _("one face against all faces of another photo, with a threshold slider"),
    _("Search"): _("a group searched by a photo or by a stored face, with the similarity distribution"),
    _("Verify"): _("is this photo the stored face? a verdict against the threshold"),
    _("Live camera"): _("the browser's camera, each frame boxed and, with a group, named; calls rate-limited"),
    _("Groups"): _("create and delete groups, register faces in bulk, page through and export them"),
    _("Tuning"): _("which threshold? FMR / FNMR, DET and ROC, operating points from a labeled group"),
}
for name, purpose in PURPOSES.items():
    st.markdown(f"- **{name}** — {purpose}")

client = session.client()


def build_demo_group() -> None:
    """A button callback: it runs before the page is drawn, so the counters below already include it."""
    try:
        added, existing = session.ensure_demo_group(client)
        st.session_state[DEMO_OUTCOME_KEY] = (
            True,
            _("Group `{group}` is ready: {added} face(s) added, {existing} already there.").format(
                group=DEMO_GROUP, added=added, existing=existing
            ),
        )
    except FaceRecoError as error:
        st.session_state[DEMO_OUTCOME_KEY] = (False, explain(error))


try:
    groups = [g.group_id for g in client.iter_groups(limit=200)]
    face_total = sum(client.get_group(g).group.face_count or 0 for g in groups[:200])
except FaceRecoError as error:
    show_error(error)
    groups, face_total = [], 0

backend = session.current_backend()
backend_name = backend.full_name()
line = home_headline(backend_name, len(groups), face_total)
presentation.headline(line)
# the handout names a private server's address only where the presenter ticks it in (its facts table)
private = backend.full_name(with_address=False)
presentation.record(lambda: Shown("home", _("Home"), home_headline(private, len(groups), face_total)))
# The backend's name in full, wrapping: a metric would cut it ("Local engine (offli…") at 1024 px.
left, middle, right = st.columns([2, 1, 1])
with left.container(border=True):
    st.caption(_("Backend"))
    st.markdown(f"**{backend_name}**")
middle.metric(_("Groups"), f"{len(groups):,}")
right.metric(_("Faces"), f"{face_total:,}")

st.subheader(_("Guided demo"))
st.write(
    _(
        "Five steps with no data of your own, in presentation mode: Detect → Compare → Search → Verify → "
        "Tuning's summary. Each step opens with the demo group and the package photos and runs by itself; "
        "press **Next** to go on."
    )
)
st.button(_("Start the guided demo"), type="primary", key="guided-start", on_click=guided.start,
          icon=":material/play_arrow:")  # fmt: skip
failed = guided.problem()
if failed:
    st.error(failed, icon=":material/error:")


def show_outcome(key: str) -> bool:
    """The last build's sentence (kept across the rerun that refreshed the counters); True if there was one."""
    outcome = st.session_state.pop(key, None)
    if outcome is not None:
        ok, sentence = outcome
        (st.success if ok else st.error)(sentence)
    return outcome is not None


def section(title: str, text: str, group: str) -> None:
    st.subheader(title)
    st.write(text.format(group=group))


section(
    _("Demo group"),
    _(
        "Builds the group `{group}` from photos that ship with installed packages: the astronaut and "
        "Grace Hopper, each twice (the second copy mirrored and brightened), so Search and Verify have "
        "something to find."
    ),
    DEMO_GROUP,
)
st.button(_("Build the demo group"), key="build-demo", on_click=build_demo_group)
if show_outcome(DEMO_OUTCOME_KEY):
    exchange_panel()


def build_lfw_gallery(people: int, per_person: int) -> tuple[bool, str]:
    """Fetch (once) and enroll an LFW gallery with a progress bar; the outcome as one sentence."""
    try:
        with st.spinner(_("Looking for LFW in scikit-learn's cache (downloading it once, about 200 MB)…")):
            folder = lfw_folder()
    except GalleryUnavailable:
        return False, _(
            "LFW is not in scikit-learn's cache and cannot be downloaded from this machine (no internet?): "
            "the gallery needs it once."
        )
    chosen = choose_people(folder, people, per_person)
    bar = st.progress(0.0, text=_("enrolling…"))
    try:
        report = build_gallery(
            client, chosen, lambda done, total: bar.progress(done / total, text=f"{done:,} / {total:,}")
        )
    except FaceRecoError as error:
        return False, explain(error)
    sentence = _(
        "Group `{group}` is ready: {people:,} people, {added:,} face(s) added, {skipped:,} already there, "
        "{no_face:,} photo(s) without a recognisable face, {failed:,} failed."
    ).format(
        group=GALLERY_GROUP, people=len(chosen), added=report.added, skipped=report.skipped,
        no_face=len(report.no_face), failed=len(report.failed),
    )  # fmt: skip
    if report.failed:
        sentence += " " + _("Not enrolled: {files}").format(files="; ".join(f"{n}: {r}" for n, r in report.failed))
    return not report.failed, sentence


section(
    _("A gallery of real people (LFW)"),
    _(
        "Builds the group `{group}` from Labeled Faces in the Wild with scikit-learn's own loader and its "
        "cache folder (downloaded once where the machine has internet). Resumable: faces already there are "
        "skipped."
    ),
    GALLERY_GROUP,
)
people_column, photos_column = st.columns(2)
people = people_column.number_input(_("People"), 2, 50, 8, key="lfw-people")
per_person = photos_column.number_input(_("Photos per person"), 2, 10, 4, key="lfw-per-person")
if st.button(_("Build the LFW gallery"), key="build-lfw"):
    st.session_state[GALLERY_OUTCOME_KEY] = build_lfw_gallery(int(people), int(per_person))
    st.rerun()  # the counters above were drawn before the write
show_outcome(GALLERY_OUTCOME_KEY)
