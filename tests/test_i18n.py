"""Languages: every msgid in the sources has a Japanese and a Korean translation, and every page runs in
each language without asking for a msgid the catalog lacks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po
from streamlit.testing.v1 import AppTest

from facereco.ui import i18n

from .app_engine import local_engine_at

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
TRANSLATED = [language for language in i18n.LANGUAGES if language != i18n.DEFAULT_LANGUAGE]
PAGES = ["pages/detect.py", "pages/compare.py", "pages/search.py", "pages/verify.py", "pages/live.py",
         "pages/groups.py", "pages/tuning.py"]  # fmt: skip
PLACEHOLDER = re.compile(r"\{[^}]*\}")


def source_msgids() -> set[str]:
    """What Babel extracts from the dashboard's code right now (not the committed .pot)."""
    files = [ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "facereco" / "ui").glob("*.py")]
    return {
        message
        for path in files
        for _line, message, _comments, _context in extract_from_file("python", str(path), keywords={"_": None})
    }


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_msgid_in_the_code_is_translated(language: str):
    with open(i18n.LOCALE_DIR / language / "LC_MESSAGES" / "messages.po", "rb") as source:
        catalog = read_po(source, locale=language)
    translations = {m.id: m.string for m in catalog if m.id}
    untranslated = sorted(m for m in source_msgids() if not translations.get(m))
    assert not untranslated, f"{language}: no translation for {untranslated}"
    wrong = [
        m for m, text in translations.items() if sorted(PLACEHOLDER.findall(text)) != sorted(PLACEHOLDER.findall(m))
    ]
    assert not wrong, f"{language}: placeholders differ in {wrong}"


@pytest.fixture(scope="module", autouse=True)
def local_engine(tmp_path_factory):
    with local_engine_at(tmp_path_factory.mktemp("i18n-engine")):
        yield


@pytest.mark.slow
@pytest.mark.parametrize(("language", "title"), [("ja", "顔認識ダッシュボード"), ("ko", "얼굴 인식 대시보드")])
def test_every_page_in_each_language_asks_for_no_missing_msgid(language: str, title: str):
    at = AppTest.from_file(APP, default_timeout=300)
    at.session_state[i18n.LANGUAGE_KEY] = language
    at.run()
    assert at.title[0].value == title
    at.button(key="build-demo").click().run()  # success sentence, counters
    runs = {
        "pages/detect.py": "detect-run",
        "pages/compare.py": "compare-run",
        "pages/search.py": "search-run",
        "pages/verify.py": "verify-run",
    }
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        if page in runs:
            at.button(key=runs[page]).click().run()  # results, charts, tables, verdicts
            assert not at.exception, (page, at.exception)
        failures = [e.value for e in at.error if page != "pages/verify.py"]  # Verify's "not the same" is red
        assert not failures, (page, failures)
    at.switch_page("pages/tuning.py").run()
    at.button(key="tuning-score").click().run()  # the demo group: two identities, two faces each
    at.button(key="tuning-report-build").click().run()  # the hand-out is in the session's language too
    assert not at.exception, at.exception
    assert f'<html lang="{language}">' in at.session_state["tuning-report"][2]
    missing = sorted(message for lang, message in i18n.missing() if lang == language)
    assert not missing, f"{language}: asked for untranslated {missing}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("그룹 `demo`을(를) 생성했습니다.", "그룹 `demo`를 생성했습니다."),
     ("그룹 `team`을(를) 생성했습니다.", "그룹 `team`을 생성했습니다."),
     ("`사진`을(를)", "`사진`을"), ("`사과`을(를)", "`사과`를"),
     ("길이(가)", "길이"), ("나이(가)", "나가"),
     ("책은(는)", "책은"), ("나은(는)", "나는"), ("`staff`과(와)", "`staff`와"), ("`집`과(와)", "`집`과"),
     ("서울(으)로", "서울로"), ("부산(으)로", "부산으로"), ("학교(으)로", "학교로"),
     ("FMR 0.1 %을(를)", "FMR 0.1 %를"), ("그룹 10을(를)", "그룹 10을"), ("그룹 2을(를)", "그룹 2를"),
     ("그룹 7(으)로", "그룹 7로"), ("`girl`(으)로", "`girl`로"), ("`demo-m`을(를)", "`demo-m`을"),
     ("「あ」을(를)", "「あ」을(를)")],
)  # fmt: skip
def test_korean_particles_follow_the_last_syllable(text: str, expected: str) -> None:
    assert i18n.particles(text) == expected


def test_korean_catalog_has_no_pair_left_after_format() -> None:
    with i18n.using("ko"):
        created = i18n._("Group `{group}` created.")
        assert created.format(group="demo") == "그룹 `demo`를 생성했습니다."
        assert created.format(group="얼굴") == "그룹 `얼굴`을 생성했습니다."
        assert "(" not in created.format(group="staff")
        assert type(created.format(group="x")) is str


@pytest.mark.parametrize("language", TRANSLATED)
def test_uploader_help_is_translated(language: str) -> None:
    from facereco.ui.widgets import upload_help

    english = upload_help()
    with i18n.using(language):
        translated = upload_help()
    assert translated != english and "Drag and drop a file here" in translated  # quotes Streamlit's own words
    assert (language, english) not in i18n.missing()
