"""facereco dashboard: the router. Pages live in pages/, shared pieces in facereco/ui/.

    streamlit run app.py      (or: make run)

Local engine by default; set FACERECO_APPKEY (environment or .streamlit/secrets.toml) for the NHN cloud.
"""

from __future__ import annotations

import time

import streamlit as st

from facereco.errors import FaceRecoError
from facereco.ui import session
from facereco.ui.widgets import explain

st.set_page_config(page_title="facereco — Face Recognition", page_icon=":material/face:", layout="wide")

PAGE_FILES = {
    "home.py": ("Home", ":material/home:"),
    "detect.py": ("Detect", ":material/center_focus_strong:"),
    "compare.py": ("Compare", ":material/compare:"),
    "search.py": ("Search", ":material/person_search:"),
    "verify.py": ("Verify", ":material/verified_user:"),
    "groups.py": ("Groups", ":material/groups:"),
    "tuning.py": ("Tuning", ":material/tune:"),
}
PAGES = {
    name: st.Page(f"pages/{name}", title=title, icon=icon, default=name == "home.py")
    for name, (title, icon) in PAGE_FILES.items()
}


def connection_check(backend: session.Backend) -> tuple[bool, str]:
    """One cheap call (list groups, limit 1) on the shared transport, outside the session's recorder."""
    from facereco.client import FaceRecoClient

    started = time.perf_counter()
    try:
        FaceRecoClient(transport=session.shared_transport(backend)).list_groups(limit=1)
    except FaceRecoError as error:
        return False, explain(error)
    return True, f"answering ({(time.perf_counter() - started) * 1000:.0f} ms)"


def sidebar() -> None:
    backend = session.configured_backend()
    with st.sidebar:
        st.subheader(backend.label)
        if not backend.is_local:
            st.caption(f"appkey {backend.masked_appkey}")
        ok, message = connection_check(backend)
        (st.success if ok else st.error)(message, icon=":material/check_circle:" if ok else ":material/error:")
        st.caption(f"Model: {session.model_description()}")
        ready = session.engine_ready()
        if ready is not None:
            st.caption("Engine ready: models loaded." if ready else "Engine loading its models in the background…")
        if backend.is_local:
            st.caption("Set FACERECO_APPKEY to use the NHN cloud instead.")


def _is_streamlit_control_flow(error: BaseException) -> bool:
    return type(error).__name__ in {"RerunException", "StopException"}


navigation = st.navigation(list(PAGES.values()))
session.mark_router_started()
wanted = st.session_state.pop(session.WANTED_PAGE_KEY, None)
if wanted:  # a deep link that arrived before the router was up (see session.require_router)
    st.switch_page(PAGES[wanted])
sidebar()
try:
    navigation.run()
except Exception as error:  # never a traceback on screen: a sentence instead
    if _is_streamlit_control_flow(error):
        raise
    st.error(f"Something went wrong: {explain(error)}", icon=":material/error:")
