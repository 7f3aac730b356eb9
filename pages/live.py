"""Live: the browser's camera streamed to the app (streamlit-webrtc); every frame drawn with the last answer.

The frame work is in ``facereco.ui.live`` (no Streamlit there: it runs on other threads). This page picks the
settings, gives the stream its own client for the session's backend (``StreamTarget``), halts a stream whose
backend is no longer the session's, and shows the worker's figures every second.
"""

from __future__ import annotations

import streamlit as st
from streamlit_webrtc import WebRtcMode, webrtc_streamer

from facereco.contract import DEFAULT_THRESHOLD
from facereco.ui import presentation, session
from facereco.ui.headlines import live_headline
from facereco.ui.i18n import _
from facereco.ui.live import (
    LiveProcessor,
    LiveSettings,
    StreamTarget,
    http_target,
    ice_servers,
    local_target,
    max_calls_per_second,
)
from facereco.ui.messages import explain
from facereco.ui.threshold import threshold_slider
from facereco.ui.widgets import group_picker

session.require_router(__file__)
st.title(_("Live camera"))
client = session.client()  # the group picker's; the stream gets a client of its own (stream_target)
VIDEO = {"width": {"ideal": 640}, "height": {"ideal": 480}}


def stream_target() -> StreamTarget:
    """The session's backend as a stream's target (built in this run: the worker must not call Streamlit)."""
    backend = session.current_backend()
    if backend.is_local:
        return local_target(session.local_transport())
    return http_target(backend.appkey or "", backend.base_url)


def call_interval() -> float:
    """Seconds between call starts: 0 on the local engine (one call in flight, as fast as it answers);
    on a server, a rate the visitor sets, up to the operator's cap per appkey (every tab together)."""
    if session.current_backend().is_local:
        st.caption(_("Local engine: one call at a time, as fast as it answers."))
        return 0.0
    cap = max_calls_per_second()
    rate = st.number_input(
        _("Calls per second (each one is billed)"), min_value=min(0.2, cap), max_value=cap, value=min(1.0, cap),
        step=0.5, key="live-rate",
    )  # fmt: skip
    shared = _("At most {cap:g} a second to this appkey from every Live stream of this app together.")
    st.caption(shared.format(cap=cap))
    return 1.0 / float(rate)


def typed_ice_servers() -> list[dict[str, str]]:
    """None by default (host candidates: one machine or one network); one STUN/TURN server for remote use."""
    with st.expander(_("ICE server for remote use (STUN/TURN)")):
        st.caption(
            _(
                "Not needed when the browser and this app share a machine or a network. For a remote browser, "
                "give a STUN or TURN server it can reach; only the browser uses it."
            )
        )
        url = st.text_input(_("STUN/TURN URL"), key="live-ice-url", placeholder="turn:turn.example.org:3478")
        username = st.text_input(_("TURN user name"), key="live-ice-user")
        credential = st.text_input(_("TURN password"), key="live-ice-credential", type="password")
    try:
        return ice_servers(url, username, credential)
    except ValueError:
        st.error(_("The ICE server must be a stun:, turn: or turns: URL such as turn:host:3478."))
        return []


def component_texts() -> dict[str, str]:
    return {
        "start": _("Start"),
        "stop": _("Stop"),
        "select_device": _("Select camera"),
        "media_api_not_available": _("This browser cannot give a camera to web pages."),
        "device_ask_permission": _("Allow this page to use the camera."),
        "device_not_available": _("No camera found."),
        "device_access_denied": _("Camera access was refused."),
        "turn_camera_on": _("Turn the camera on"),
        "turn_camera_off": _("Turn the camera off"),
    }


def stream_possible() -> bool:
    """Whether this run belongs to a browser session the stream can attach to (not so in a bare or AppTest
    run, whose stand-in runtime has no session manager)."""
    from streamlit_webrtc.session_info import get_this_session_info

    try:
        return get_this_session_info() is not None
    except AttributeError:
        return False


controls, output = st.columns([2, 3])  # 2:3, the translated labels fit at 1024 px
with controls:
    named = st.toggle(_("Name faces from a group"), key="live-named")
    group = group_picker(client, "live-group") if named else None
    threshold = threshold_slider("live-threshold", group) if group else DEFAULT_THRESHOLD
    settings = LiveSettings(group, threshold, call_interval(), _("unknown"))
    target = stream_target()
    browser_ice = typed_ice_servers()

with output:
    presentation.headline(live_headline(group))
    if not stream_possible():
        st.info(_("The camera stream needs a browser connected to this app."))
        st.stop()
    context = webrtc_streamer(
        key="live-stream",
        mode=WebRtcMode.SENDRECV,
        # no STUN/TURN on the server side: it never contacts an address a visitor typed
        frontend_rtc_configuration={"iceServers": browser_ice},
        server_rtc_configuration={"iceServers": []},
        media_stream_constraints={"video": VIDEO, "audio": False},
        video_processor_factory=lambda: LiveProcessor(target, settings),
        async_processing=True,
        translations=component_texts(),  # type: ignore[arg-type]
    )
    streaming = context.video_processor
    if streaming is not None and streaming.target.identity != target.identity:
        streaming.worker.stop()  # the sidebar switched backend: no call to the old one, nor to the new unpaced
        st.warning(_("The backend changed: this stream makes no more calls. Press Stop, then Start."))
    st.caption(
        _(
            "No picture? Check that the camera is connected and not used by another program, and that the "
            "browser allows this page to use it."
        )
    )

    @st.fragment(run_every=1.0 if context.state.playing else None)
    def live_status() -> None:
        """Every second while playing: the worker's figures; reads the processor, never the other way round."""
        processor = context.video_processor
        if not context.state.playing or processor is None:
            return
        processor.update(settings)
        stats = processor.worker.stats()
        rate, calls = st.columns(2)
        rate.metric(_("Results per second"), f"{stats.results_per_second:.1f}")
        calls.metric(_("Calls"), f"{stats.calls:,}")
        if stats.error is not None:
            st.error(explain(stats.error), icon=":material/error:")
        if stats.result is not None:
            st.text("\n".join(stats.result.summary(settings)) or _("No face in the picture."))

    live_status()
