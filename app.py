"""facereco dashboard: the router. Pages live in pages/, shared pieces in facereco/ui/.

    streamlit run app.py      (or: make run)

The sidebar switches backend (local engine, NHN Cloud, another server) and language for this browser
session only; FACERECO_APPKEY / FACERECO_BASE_URL (environment or .streamlit/secrets.toml) preset it.
"""

from __future__ import annotations

import streamlit as st

from facereco.ui import presentation, session
from facereco.ui.i18n import LANGUAGE_KEY, LANGUAGES, _, language_from_locale
from facereco.ui.messages import explain

st.set_page_config(page_title="facereco — Face Recognition", page_icon=":material/face:", layout="wide")


def page_titles() -> dict[str, tuple[str, str]]:
    return {
        "home.py": (_("Home"), ":material/home:"),
        "detect.py": (_("Detect"), ":material/center_focus_strong:"),
        "compare.py": (_("Compare"), ":material/compare:"),
        "search.py": (_("Search"), ":material/person_search:"),
        "verify.py": (_("Verify"), ":material/verified_user:"),
        "live.py": (_("Live camera"), ":material/videocam:"),
        "groups.py": (_("Groups"), ":material/groups:"),
        "tuning.py": (_("Tuning"), ":material/tune:"),
    }


def default_language() -> None:
    """The browser's language where Streamlit exposes it, else English; before any text is made."""
    if LANGUAGE_KEY not in st.session_state:
        st.session_state[LANGUAGE_KEY] = language_from_locale(getattr(st.context, "locale", None))


def language_switch() -> None:
    """The choice is copied to a plain session key, which outlives a run that draws no sidebar."""

    def keep_choice() -> None:
        st.session_state[LANGUAGE_KEY] = st.session_state["language-choice"]

    st.sidebar.selectbox(
        "Language / 言語 / 언어",
        list(LANGUAGES),
        index=list(LANGUAGES).index(st.session_state[LANGUAGE_KEY]),
        format_func=LANGUAGES.get,
        key="language-choice",
        on_change=keep_choice,
    )


TYPED_APPKEY_KEY = "backend-appkey-typed"


def backend_switch() -> None:
    """Local engine, NHN Cloud (appkey) or another server (base URL + appkey): this session only."""
    current = session.current_backend()
    kinds = {session.LOCAL: _("Local engine"), session.CLOUD: "NHN Cloud", session.SERVER: _("Another server")}
    kind = st.sidebar.radio(
        _("Backend"), list(kinds), index=list(kinds).index(current.kind), format_func=kinds.get, key="backend-kind"
    )
    if kind == session.LOCAL:
        session.choose_backend(session.Backend(session.LOCAL))
        return
    base_url = session.CLOUD_BASE_URL
    if kind == session.SERVER:
        preset = current.base_url if current.kind == session.SERVER else ""
        base_url = st.sidebar.text_input(
            _("Base URL"), value=preset, key="backend-base-url", placeholder="http://127.0.0.1:8000"
        ).strip()
    # A preset appkey (environment, secrets.toml) is the operator's: it is used, never sent to a browser.
    preset_key = session.preset_appkey_for(kind, base_url)
    field = f"backend-appkey-{kind}"
    typed_before = st.session_state.get(TYPED_APPKEY_KEY)  # (kind, base URL, appkey) as this browser typed it
    if field not in st.session_state and typed_before and typed_before[:2] == (kind, base_url):
        # st.switch_page (the guided demo's Next) drops every widget's state: the appkey this browser typed
        # is given back to its own field (never a preset one), or the next page would find no appkey
        st.session_state[field] = typed_before[2]
    typed = st.sidebar.text_input(
        _("Appkey"), type="password", key=field,
        placeholder=_("preset by the server's configuration") if preset_key else "",
    ).strip()  # fmt: skip
    if typed:
        st.session_state[TYPED_APPKEY_KEY] = (kind, base_url, typed)
    else:  # cleared on purpose (the field was drawn): nothing to give back
        st.session_state.pop(TYPED_APPKEY_KEY, None)
    session.choose_backend(session.Backend(kind, typed or preset_key, base_url))


def sidebar() -> bool:
    """Language, backend, its state (checked once, not on every rerun), Refresh. True when connected."""
    language_switch()
    presentation.switch()
    backend_switch()
    backend = session.current_backend()
    with st.sidebar:
        if not backend.is_local and backend.appkey:
            st.caption(_("appkey {masked}").format(masked=backend.masked_appkey))
        ok, message = session.connection_check()
        (st.success if ok else st.error)(message, icon=":material/check_circle:" if ok else ":material/error:")
        if ok:
            st.caption(_("Model: {model}").format(model=session.model_description()))
        ready = session.engine_ready()
        if ready is not None:
            st.caption(
                _("Engine ready: models loaded.") if ready else _("Engine loading its models in the background…")
            )
        if st.button(_("Refresh"), icon=":material/refresh:", key="refresh", help=_("Read lists and counts again")):
            session.refresh()
            st.rerun()
    presentation.handout_panel(backend)
    return ok


def _is_streamlit_control_flow(error: BaseException) -> bool:
    return type(error).__name__ in {"RerunException", "StopException"}


default_language()
presentation.start_from_url()
PAGES = {
    name: st.Page(f"pages/{name}", title=title, icon=icon, default=name == "home.py", url_path=name[:-3])
    for name, (title, icon) in page_titles().items()
}
navigation = st.navigation(list(PAGES.values()))
connected = sidebar()  # after st.navigation: elements drawn before it are lost on a page switch
session.mark_router_started()
wanted = st.session_state.pop(session.WANTED_PAGE_KEY, None)
if wanted:  # a deep link that arrived before the router was up (see session.require_router)
    st.switch_page(PAGES[wanted], query_params=st.query_params.to_dict())
if not connected:  # one sentence where the page would be, not a page of failing calls
    st.error(session.connection_check()[1], icon=":material/error:")
    st.stop()
try:
    navigation.run()
except Exception as error:  # never a traceback on screen: a sentence instead
    if _is_streamlit_control_flow(error):
        raise
    st.error(_("Something went wrong: {reason}").format(reason=explain(error)), icon=":material/error:")
