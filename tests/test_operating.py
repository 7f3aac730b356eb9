"""The operating threshold: set on Tuning, kept on disk per (group, backend), the start of every slider."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from facereco.ui.operating import FILE_NAME, FMR, SETTINGS_ENV, OperatingThreshold, cautions, percent, provenance
from facereco.ui.session import BACKEND_KEY, SERVER, Backend

from .app_engine import local_engine_at

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture(scope="module", autouse=True)
def folders(tmp_path_factory):
    """This module's engine data folder and settings folder (the app's engine is cached per process)."""
    engine_dir, settings = tmp_path_factory.mktemp("operating-engine"), tmp_path_factory.mktemp("operating-settings")
    with local_engine_at(engine_dir, **{SETTINGS_ENV: str(settings)}):
        yield engine_dir, settings


def session(backend: Backend | None = None) -> AppTest:
    """A fresh browser session (its own session state), on ``backend`` or the local engine."""
    at = AppTest.from_file(APP, default_timeout=300)
    if backend is not None:  # as if typed in the sidebar
        at.session_state[BACKEND_KEY] = backend
        at.session_state["backend-kind"] = backend.kind
        at.session_state["backend-base-url"] = backend.base_url
        at.session_state[f"backend-appkey-{backend.kind}"] = backend.appkey
    at.run()
    assert not at.exception, at.exception
    return at


def tune_demo_at_eer(at: AppTest) -> int:
    """Build and score the demo group on the Tuning page, press the EER button; the threshold it set."""
    at.button(key="build-demo").click().run()
    at.switch_page("pages/tuning.py").run()
    at.selectbox(key="tuning-group").set_value("demo").run()
    at.button(key="tuning-score").click().run()
    at.button(key="tuning-eer").click().run()
    assert not at.exception, at.exception
    threshold = at.slider(key="tuning-threshold").value
    assert any(f"Threshold {threshold} is now the operating threshold of demo" in t.value for t in at.toast)
    return threshold


def captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


def test_a_tuned_threshold_starts_every_slider_in_a_new_session(folders):
    engine_dir, _settings = folders
    tuned = tune_demo_at_eer(session())
    assert tuned != 90  # the demo group's EER point (74-75): not the cloud default, so the start is visible
    saved = engine_dir / FILE_NAME
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert json.loads(saved.read_text())["backends"]["local"]["demo"]["threshold"] == tuned

    fresh = session()  # a new browser session: nothing of the first one's state
    for page, key in (("pages/verify.py", "verify-threshold"), ("pages/search.py", "search-threshold")):
        fresh.switch_page(page).run()
        fresh.selectbox(key=key.replace("threshold", "group")).set_value("demo").run()
        assert fresh.slider(key=key).value == tuned, page
        shown = captions(fresh)
        assert f"Starts at the operating threshold {tuned}: tuned on *demo*, 4 faces, FMR 0 %" in " ".join(shown)
        assert any("The tuning set is small (4 faces, 4 impostor pairs" in c for c in shown), shown
        assert fresh.slider(key=key).help == "The cloud's default is 90."
    fresh.switch_page("pages/compare.py").run()  # no group: the backend's last adopted threshold
    assert fresh.slider(key="compare-threshold").value == tuned
    fresh.slider(key="compare-threshold").set_value(50).run()  # the user's move is kept on reruns
    fresh.run()
    assert fresh.slider(key="compare-threshold").value == 50


def test_a_corrupt_file_is_ignored_with_a_sentence_and_replaced_on_the_next_adoption(folders):
    engine_dir, _settings = folders
    saved = engine_dir / FILE_NAME
    for garbage in ('{"version": 1, "backends": {"local": {"demo": {"threshold": 500', "[1, 2]", "\xff\xfe"):
        saved.write_bytes(garbage.encode("utf-8", "surrogateescape") if garbage != "\xff\xfe" else b"\xff\xfe\x00")
        at = session()
        at.switch_page("pages/verify.py").run()
        at.selectbox(key="verify-group").set_value("demo").run()
        assert not at.exception, at.exception
        assert at.slider(key="verify-threshold").value == 90
        assert any("cannot be read and are ignored" in c for c in captions(at)), garbage
    saved.write_text(json.dumps({"version": 1, "backends": {"local": {"demo": {"threshold": 500, "aim": "eer"}}}}))
    at = session()
    at.switch_page("pages/verify.py").run()
    at.selectbox(key="verify-group").set_value("demo").run()
    assert at.slider(key="verify-threshold").value == 90  # an out-of-range record is not used
    assert any("Some saved operating thresholds" in c for c in captions(at))
    tuned = tune_demo_at_eer(session())
    assert json.loads(saved.read_text())["backends"]["local"]["demo"]["threshold"] == tuned


def test_a_server_backend_keeps_its_threshold_in_the_settings_file_by_base_url_never_the_appkey(
    folders, tmp_path, monkeypatch
):
    from .servers import running_server

    _engine, settings = folders
    appkey = "operator-appkey-0123456789"
    with running_server(tmp_path / "served", [appkey]) as server:
        monkeypatch.setenv("FACERECO_ALLOWED_SERVERS", server.base_url)
        backend = Backend(SERVER, appkey, server.base_url)
        tuned = tune_demo_at_eer(session(backend))
        text = (settings / FILE_NAME).read_text()
        assert appkey not in text
        assert json.loads(text)["backends"][f"server {server.base_url.lower()}"]["demo"]["threshold"] == tuned
        at = session(backend)
        at.switch_page("pages/verify.py").run()
        at.selectbox(key="verify-group").set_value("demo").run()
        assert at.slider(key="verify-threshold").value == tuned
    at = session()  # the local engine has its own: the server's threshold does not leak to it
    at.switch_page("pages/compare.py").run()
    assert all("server" not in c for c in captions(at))


def test_the_caption_says_in_words_when_the_interval_reaches_above_the_target():
    """The issue's own example: 173 faces, FMR 0.089 % on the "FMR 0.10 %" button."""
    entry = OperatingThreshold(
        group="gate-trial", threshold=88, faces=173, identities=40, false_matches=13, impostors=14_620,
        false_non_matches=20, genuines=258, aim=FMR, target=0.001, tuned_at="2026-12-05T12:00:00+00:00",
    )  # fmt: skip
    assert provenance(entry) == (
        "Starts at the operating threshold 88: tuned on *gate-trial*, 173 faces, FMR 0.089 % (95 % CI 0.052-0.153 %)."
    )
    said = cautions(entry)
    assert any("upper bound (0.153 %) is above the FMR target of 0.1 %" in s for s in said), said  # 0.1522 up
    for_an_audience = cautions(entry, most=2)  # presentation mode: at most two decimals, the bound rounded up
    assert any("upper bound (0.16 %) is above the FMR target of 0.1 %" in s for s in for_an_audience), for_an_audience
    # 0 of 36,000 at a 0.01 % target: the bound 0.0107 % must not read as the target itself
    strict = OperatingThreshold(**{**entry.__dict__, "false_matches": 0, "impostors": 36_000, "target": 0.0001})
    assert any("upper bound (0.02 %) is above the FMR target of 0.01 %" in s for s in cautions(strict, most=2))
    assert not any("small" in s for s in said)  # 173 faces, 14,620 impostor pairs: enough for 0.1 %
    roomy = OperatingThreshold(**{**entry.__dict__, "false_matches": 2})
    assert cautions(roomy) == []
    # a measured rate to the digits of its sample, a target in its own shortest form
    assert percent(0.02908, 14_620) == "2.908 %" and percent(0.00089, 14_620) == "0.089 %"
    assert percent(0.02908, 3_000) == "2.91 %" and percent(0.001) == "0.1 %" and percent(0.0001) == "0.01 %"


def test_records_that_are_not_sound_are_refused():
    good = {"threshold": 80, "faces": 10, "identities": 2, "false_matches": 1, "impostors": 20,
            "false_non_matches": 0, "genuines": 5, "aim": "eer", "target": None,
            "tuned_at": "2026-12-05T12:00:00"}  # fmt: skip
    assert OperatingThreshold.from_json("g", good) is not None
    for bad in ({"threshold": 0}, {"threshold": True}, {"false_matches": 21}, {"aim": "x"}, {"target": 2},
                {"tuned_at": 5}, {"faces": -1}):  # fmt: skip
        assert OperatingThreshold.from_json("g", {**good, **bad}) is None, bad
    assert OperatingThreshold.from_json("g", [good]) is None
    assert os.environ[SETTINGS_ENV]  # the module's settings folder, never the user's own
