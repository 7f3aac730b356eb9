"""Search says how many faces matched against the group's own face count, not the number returned."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from facereco.ui.search_view import matches_sentence
from facereco.ui.session import local_transport

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def test_the_issue_case_reads_against_the_group():
    value, note = matches_sentence(7, 100, 100, 173)
    assert value == "7 of 173 faces"
    assert note == "The 100 most similar faces were returned (limit 100); the other 73 score lower."
    value, note = matches_sentence(100, 100, 100, 173)
    assert value == "at least 100 of 173 faces" and "raise the limit" in (note or "")
    assert matches_sentence(2, 4, 100, 4) == ("2 of 4 faces", None)
    assert matches_sentence(2, 4, 100, None) == ("2 of 4 faces scored", None)  # the group could not be read


@pytest.fixture()
def demo_search(tmp_path, monkeypatch):
    monkeypatch.setenv("FACERECO_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("FACERECO_APPKEY", raising=False)
    local_transport.clear()
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    at.button(key="build-demo").click().run()
    at.switch_page("pages/search.py").run()
    at.selectbox(key="search-group").set_value("demo").run()
    yield at
    local_transport.clear()


@pytest.mark.slow
def test_the_search_page_counts_against_the_demo_group(demo_search: AppTest):
    at = demo_search
    at.number_input(key="search-limit").set_value(3).run()
    at.button(key="search-run").click().run()  # the astronaut sample: 2 of the 4 demo faces match at 90
    assert not at.exception, at.exception
    assert at.metric[0].value == "2 of 4 faces"
    returned = "The 3 most similar faces were returned (limit 3); the other 1 score lower."
    assert any(c.value == returned for c in at.caption)
    at.slider(key="search-threshold").set_value(1).run()
    assert at.metric[0].value == "at least 3 of 4 faces"
