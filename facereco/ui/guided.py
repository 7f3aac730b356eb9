"""The guided demo: Home → Detect → Compare → Search → Verify → Tuning's summary, with *Next* on each page.

Home's button builds the demo group (photos that ship with installed packages), turns presentation
mode on and opens Detect. Each step arrives preloaded (the demo group, the package photos) and runs its
one call on arrival, so a presenter with no data of their own tells the whole story in two minutes:
one face found; the astronaut is not Grace Hopper; she is found twice in the demo group; her mirrored,
brightened copy is verified as her; and what the threshold costs.

Preloading writes the pages' widget keys from callbacks (before any widget is drawn); a callback cannot
switch pages itself, so it leaves the page to go to in ``PENDING_KEY`` and the page's ``follow()`` goes.
"""

from __future__ import annotations

import streamlit as st

from facereco.errors import FaceRecoError
from facereco.ui import presentation, session
from facereco.ui.i18n import _
from facereco.ui.messages import explain
from facereco.ui.widgets import SAMPLE

GUIDED_KEY = "guided-demo"  # True while the path is followed
AUTORUN_KEY = "guided-autorun"  # the page whose call runs once when it is reached
PROBLEM_KEY = "guided-problem"  # why the path could not start
PENDING_KEY = "guided-pending"  # the page a callback asked to go to
STEPS = ("detect", "compare", "search", "verify", "tuning")
VERIFIED_FACE = "astronaut:astronaut_2.jpg"  # the demo group's mirrored, brightened copy of the astronaut


def step_names() -> dict[str, str]:
    return {"detect": _("Detect"), "compare": _("Compare"), "search": _("Search"), "verify": _("Verify"),
            "tuning": _("Tuning")}  # fmt: skip


def is_active() -> bool:
    return bool(st.session_state.get(GUIDED_KEY))


def _sample_source(*keys: str) -> None:
    """Each image input named by ``keys`` on "Sample photo", at its page's default sample."""
    for key in keys:
        st.session_state[f"{key}-source"] = SAMPLE
        st.session_state.pop(f"{key}-sample", None)  # its default: no value set beside the widget's own


def _preload(page: str) -> None:
    """``page``'s inputs set to the demo's, and its call marked to run once on arrival."""
    if page == "detect":
        _sample_source("detect")
    elif page == "compare":
        _sample_source("compare-source", "compare-target")  # the astronaut, then Grace Hopper
    elif page == "search":
        st.session_state["search-group"], st.session_state["search-mode"] = session.DEMO_GROUP, "image"
        _sample_source("search-image")
    elif page == "verify":
        st.session_state["verify-group"] = session.DEMO_GROUP
        faces = session.client().iter_faces(session.DEMO_GROUP)
        face = next((f for f in faces if f.external_image_id == VERIFIED_FACE), None)
        if face is not None:
            st.session_state["verify-face"] = face
        _sample_source("verify-image")
    elif page == "tuning":
        st.session_state["tuning-group"] = session.DEMO_GROUP
    st.session_state[AUTORUN_KEY] = st.session_state[PENDING_KEY] = page


def start() -> None:
    """Home's button (a callback): the demo group, presentation mode, then Detect."""
    try:
        session.ensure_demo_group(session.client())
    except FaceRecoError as error:
        st.session_state[PROBLEM_KEY] = explain(error)
        return
    st.session_state[GUIDED_KEY] = True
    presentation.turn_on()
    _preload(STEPS[0])


def _next(page: str) -> None:
    try:
        _preload(page)
    except FaceRecoError as error:
        st.session_state[PROBLEM_KEY] = explain(error)


def _leave() -> None:
    st.session_state[GUIDED_KEY] = False
    st.session_state.pop(AUTORUN_KEY, None)


def _finish() -> None:
    _leave()
    st.session_state[PENDING_KEY] = "home"


def follow() -> None:
    """Go where a callback of this run asked to (call before drawing anything)."""
    pending = st.session_state.pop(PENDING_KEY, None)
    if pending:
        st.switch_page(f"pages/{pending}.py", query_params=st.query_params.to_dict())


def autorun(page: str) -> bool:
    """True once, on the run that reached ``page`` along the path: its call runs without a press."""
    if st.session_state.get(AUTORUN_KEY) == page:
        del st.session_state[AUTORUN_KEY]
        return True
    return False


def problem() -> str | None:
    """Why the last start or step failed (shown once)."""
    return st.session_state.pop(PROBLEM_KEY, None)


def step_bar(page: str) -> None:
    """Where the path stands, and *Next* (on the last step *Finish*): at the top of each page on the path."""
    follow()
    if not is_active() or page not in STEPS:
        return
    failed = problem()
    if failed:
        st.error(failed, icon=":material/error:")
    index, names = STEPS.index(page), step_names()
    bar = st.container(horizontal=True, vertical_alignment="center")
    bar.caption(_("Guided demo · step {step} of {steps}: {name}").format(step=index + 1, steps=len(STEPS),
                                                                         name=names[page]))  # fmt: skip
    if index + 1 < len(STEPS):
        following = STEPS[index + 1]
        bar.button(_("Next: {name}").format(name=names[following]), type="primary", icon=":material/arrow_forward:",
                   key="guided-next", on_click=_next, args=(following,))  # fmt: skip
    else:
        bar.button(_("Finish the guided demo"), type="primary", key="guided-finish", on_click=_finish)
    bar.button(_("Leave the guided demo"), key="guided-leave", on_click=_leave)
