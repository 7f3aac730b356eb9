"""Presentation mode: the dashboard as an audience sees it, and the handout of what was shown.

On (the sidebar's switch, or ``?present=1`` in the URL): no request/response panels
(``widgets.exchange_panel`` asks ``is_on``), no technical columns, each page's result as one large
headline (facereco/ui/headlines.py), the threshold in plain words, the backend named in full, and a
handout to download from the sidebar. It is kept in the session, so it holds across pages and reruns;
switching it off draws every panel again: results stay in the session, only their drawing changes.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import streamlit as st

from facereco.ui import numbers
from facereco.ui.handout import HandoutFacts, Shown, handout_html, shrunk
from facereco.ui.headlines import BAD, GOOD, Headline
from facereco.ui.i18n import _, current_language, using, viewer_timezone
from facereco.ui.session import SERVER, Backend

PRESENT_KEY = "facereco-present"  # the mode itself: a plain key, it outlives a run that draws no sidebar
CHOICE_KEY = "present-choice"  # the sidebar switch's own state
SHOWN_KEY = "facereco-shown"  # page -> Shown: the handout's contents
QUERY_PARAMETER = "present"
TONE_COLORS = {GOOD: "#15803d", BAD: "#b91c1c"}


def start_from_url() -> None:
    """The first run of a session takes the mode from ``?present=1``; later runs from the session."""
    if PRESENT_KEY not in st.session_state:
        wanted = st.query_params.get(QUERY_PARAMETER, "")
        st.session_state[PRESENT_KEY] = wanted.strip().lower() in ("1", "true", "yes", "on")


def is_on() -> bool:
    return bool(st.session_state.get(PRESENT_KEY, False))


def turn_on() -> None:
    """From a callback (before the sidebar is drawn): the mode and its switch together."""
    st.session_state[PRESENT_KEY] = st.session_state[CHOICE_KEY] = True


def switch() -> None:
    """The sidebar switch, and the URL kept in step with it (a presenter can copy it and reopen in the mode)."""

    if CHOICE_KEY not in st.session_state:
        st.session_state[CHOICE_KEY] = is_on()
    st.session_state[PRESENT_KEY] = st.sidebar.toggle(
        _("Presentation mode"), key=CHOICE_KEY,
        help=_("For an audience: results as large headlines, no request panels, and a handout to download."),
    )  # fmt: skip
    if is_on():
        if st.query_params.get(QUERY_PARAMETER) != "1":
            st.query_params[QUERY_PARAMETER] = "1"
    elif QUERY_PARAMETER in st.query_params:
        del st.query_params[QUERY_PARAMETER]


def headline(line: Headline) -> None:
    """The page's result as one large sentence (presentation mode only). An HTML block, so a group named
    ``*staff*`` is shown as typed, never as markdown."""
    if not is_on():
        return
    color = TONE_COLORS.get(line.tone, "inherit")
    with st.container(key="facereco-headline"):
        st.markdown(
            f"<div style='font-size:2.3rem;font-weight:700;line-height:1.25;color:{color};margin:.3rem 0 .6rem'>"
            f"{numbers.unbroken(html.escape(line.text))}</div>",
            unsafe_allow_html=True,
        )


def in_words(sentence: str) -> None:
    """The threshold's meaning in plain words, large enough to read from the back of a room."""
    text = numbers.unbroken(html.escape(sentence))
    st.markdown(f"<div style='font-size:1.25rem;margin:.2rem 0 .8rem'>{text}</div>", unsafe_allow_html=True)


def record(shown: Callable[[], Shown]) -> None:
    """Keep what ``shown`` builds as its page's last result for the handout (the photo shrunk). Built only in
    presentation mode: on a slider move with the mode off, nothing of it is computed."""
    if is_on():
        item = shown()
        image = shrunk(item.image) if item.image is not None else None
        st.session_state.setdefault(SHOWN_KEY, {})[item.page] = replace(item, image=image)


def most_decimals() -> int | None:
    """The decimals a rate may show: at most ``numbers.AUDIENCE_DECIMALS`` for an audience, else as many as
    its sample supports (None)."""
    return numbers.AUDIENCE_DECIMALS if is_on() else None


def handout_panel(backend: Backend) -> None:
    """The sidebar's download of what was shown, while presentation mode is on. Private details are left
    out unless ticked in: uploaded file names, a private server's address, the appkey (masked even then)."""
    if not is_on():
        return
    shown: dict[str, Shown] = st.session_state.setdefault(SHOWN_KEY, {})
    with st.sidebar:
        with st.expander(_("The handout may also name"), expanded=False):
            file_names = st.checkbox(_("the photos' file names"), key="handout-file-names")
            address = backend.kind == SERVER and st.checkbox(_("the server's address"), key="handout-address")
            appkey = not backend.is_local and st.checkbox(_("the appkey (masked)"), key="handout-appkey")
        facts = HandoutFacts(
            backend=backend.full_name(with_address=address),
            created=datetime.now(UTC),
            timezone=viewer_timezone(),
            appkey=backend.masked_appkey if appkey else None,
            file_names=file_names,
        )
        language = current_language()

        def build() -> str:  # on click, on Streamlit's own thread: no session here, only what it closes over
            with using(language):
                return handout_html(list(shown.copy().values()), replace(facts, created=datetime.now(UTC)))

        st.download_button(
            _("Download what was shown"), build, file_name="facereco-handout.html", mime="text/html",
            key="handout-download", on_click="ignore", icon=":material/download:",
            help=_("One HTML file with each page's last result: it opens offline, on any machine."),
        )  # fmt: skip
