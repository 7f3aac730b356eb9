"""Presentation mode and the guided demo through AppTest, on the real local engine with the package photos.

The browser half (what an audience sees at 1024 and 1400 px, the guided path in Chromium, the handout
opened offline) is in tests/test_browser_presentation.py.
"""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from facereco.ui import i18n
from facereco.ui.presentation import PRESENT_KEY, SHOWN_KEY

from .app_engine import local_engine_at
from .test_dashboard import APP

pytestmark = pytest.mark.slow
PANEL = "Request and raw response"


@pytest.fixture(scope="module", autouse=True)
def engine_data_dir(tmp_path_factory):
    """One data directory for the module: the app's engine is cached per process."""
    with local_engine_at(tmp_path_factory.mktemp("presentation-engine")):
        yield


def app(present: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=240)
    if present is not None:
        at.query_params["present"] = present
    at.run()
    assert not at.exception, at.exception
    return at


def headlines(at: AppTest) -> list[str]:
    """The text of every headline drawn (an HTML block inside the keyed container)."""
    return [re.sub(r"<[^>]+>", "", m.value) for m in at.markdown if "font-size:2.3rem" in m.value]


def panels(at: AppTest) -> int:
    return sum(1 for e in at.expander if e.label == PANEL)


def test_the_url_turns_it_on_and_the_switch_off_restores_every_panel():
    at = app(present="1")
    assert at.session_state[PRESENT_KEY] is True and at.toggle(key="present-choice").value is True
    at.button(key="build-demo").click().run()
    assert headlines(at) and "groups" in headlines(at)[0], headlines(at)
    at.switch_page("pages/detect.py").run()
    at.button(key="detect-run").click().run()
    assert not at.exception, at.exception
    assert headlines(at) == ["One face found"]
    assert panels(at) == 0
    table = next(d.value for d in at.dataframe if "quality" in d.value.columns)
    assert "x0" not in table.columns  # the box in pixels is a technical column
    assert at.session_state[SHOWN_KEY]["detect"].headline.text == "One face found"
    # held across pages and reruns
    at.switch_page("pages/compare.py").run()
    at.button(key="compare-run").click().run()
    assert headlines(at) == [h for h in headlines(at) if h.startswith("Not the same person:")] != []
    assert panels(at) == 0
    # off: every panel and column back, the result kept (no new call needed). After its first run AppTest
    # runs pages without app.py's sidebar, so the mode is set as the switch sets it (the browser test
    # clicks the switch itself, and checks the URL follows)
    at.session_state[PRESENT_KEY] = False
    at.run()
    assert headlines(at) == [] and panels(at) == 1
    assert any(m.label == "Matched" for m in at.metric)
    at.switch_page("pages/detect.py").run()
    table = next(d.value for d in at.dataframe if "quality" in d.value.columns)
    assert {"x0", "y0", "x1", "y1"} <= set(table.columns) and panels(at) == 1


def test_the_query_parameter_other_than_1_leaves_it_off():
    at = app(present="0")
    assert at.session_state[PRESENT_KEY] is False and at.toggle(key="present-choice").value is False


def test_the_threshold_reads_in_plain_words():
    at = app(present="1")
    at.switch_page("pages/compare.py").run()
    words = [m.value for m in at.markdown if "pairs of different people" in m.value]
    assert len(words) == 1 and "At 90, about 1 in 1,000 pairs of different people" in words[0], words
    assert not [c.value for c in at.caption if "false matches" in c.value]  # the rates sentence is the tuner's
    at.slider(key="compare-threshold").set_value(80).run()
    words = [m.value for m in at.markdown if "pairs of different people" in m.value]
    assert "between about 1 in 59 and 1 in 1,000" in words[0], words


def test_the_guided_demo_walks_every_step_with_no_data_of_ones_own():
    at = app()
    assert at.session_state[PRESENT_KEY] is False
    at.button(key="guided-start").click().run()
    assert not at.exception, at.exception
    assert at.session_state[PRESENT_KEY] is True  # the path is for an audience
    expected = {
        "detect": "One face found",
        "compare": "Not the same person:",  # the astronaut is not Grace Hopper
        "search": "2 of 4 faces found in group “demo”",  # her two photos in the demo group
        "verify": "Same person:",  # her mirrored, brightened copy is her
        "tuning": "At threshold 90:",
    }
    for step, start in expected.items():
        assert headlines(at) and headlines(at)[0].startswith(start), (step, headlines(at))
        assert panels(at) == 0, step
        button = "guided-next" if step != "tuning" else "guided-finish"
        at.button(key=button).click().run()
        assert not at.exception, (step, at.exception)
    assert at.title[0].value == "Face Recognition dashboard"  # finished: back home
    assert set(at.session_state[SHOWN_KEY]) >= set(expected)


@pytest.mark.parametrize(("language", "same"), [("ja", "同一人物"), ("ko", "같은 사람")])
def test_headlines_in_japanese_and_korean(language: str, same: str):
    at = AppTest.from_file(APP, default_timeout=240)
    at.session_state[i18n.LANGUAGE_KEY] = language
    at.query_params["present"] = "1"
    at.run()
    at.button(key="guided-start").click().run()
    for _step in range(3):  # detect, compare, search
        at.button(key="guided-next").click().run()
    assert headlines(at)[0].startswith(same), headlines(at)
    assert "(" not in headlines(at)[0].split("—")[0]  # no particle pair left in Korean
    missing = sorted(message for lang, message in i18n.missing() if lang == language)
    assert not missing, missing


def test_the_handout_button_is_in_the_sidebar_only_in_presentation_mode():
    def labels(at: AppTest) -> list[str]:
        return [b.proto.label for b in at.sidebar.get("download_button")]

    assert "Download what was shown" not in labels(app())
    assert "Download what was shown" in labels(app(present="1"))
