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

st.set_page_config(page_title="facereco — Face Recognition", page_icon="🧑", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/detect.py", title="Detect", icon=":material/center_focus_strong:"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare:"),
    st.Page("pages/search.py", title="Search", icon=":material/person_search:"),
    st.Page("pages/verify.py", title="Verify", icon=":material/verified_user:"),
    st.Page("pages/groups.py", title="Groups", icon=":material/groups:"),
]


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
        (st.success if ok else st.error)(message, icon="✅" if ok else "⚠️")
        st.caption(f"Model: {session.model_description()}")
        if backend.is_local:
            st.caption("Set FACERECO_APPKEY to use the NHN cloud instead.")


def _is_streamlit_control_flow(error: BaseException) -> bool:
    return type(error).__name__ in {"RerunException", "StopException"}


navigation = st.navigation(PAGES)
sidebar()
try:
    navigation.run()
except Exception as error:  # never a traceback on screen: a sentence instead
    if _is_streamlit_control_flow(error):
        raise
    st.error(f"Something went wrong: {explain(error)}", icon="⚠️")
