"""The dashboard's one translation function, ``_``, over gettext catalogs (Babel extracts and compiles).

Sources: ``facereco/ui/locales/<lang>/LC_MESSAGES/messages.po`` (English msgids, see docs/dashboard.md for
``pybabel extract / update``). They are compiled to gettext's binary form in memory when first used,
with Babel's own compiler, so a catalog can never be stale against a committed ``.mo``.

The language is the browser session's (the sidebar's switch, stored in ``st.session_state``);
``using(lang)`` sets it for code outside a Streamlit run (the HTML report, tests).
A msgid with no translation falls back to English and is remembered in ``missing()``: the
dashboard tests fail on any.
"""

from __future__ import annotations

import contextvars
import functools
import gettext
import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCALE_DIR = Path(__file__).resolve().parent / "locales"
DOMAIN = "messages"
LANGUAGES = {"en": "English", "ja": "日本語", "ko": "한국어"}
DEFAULT_LANGUAGE = "en"
LANGUAGE_KEY = "facereco-language"

_override: contextvars.ContextVar[str | None] = contextvars.ContextVar("facereco_language", default=None)
_missing: set[tuple[str, str]] = set()


@functools.cache
def catalog(language: str) -> gettext.NullTranslations:
    """The compiled catalog of ``language`` (English: none, msgids are English)."""
    if language == DEFAULT_LANGUAGE:
        return gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with open(LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po", "rb") as source:
        messages = read_po(source, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, messages, use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def language_from_locale(locale: str | None) -> str:
    """``ja-JP`` -> ``ja``; anything we have no catalog for -> English."""
    prefix = (locale or "").split("-")[0].split("_")[0].lower()
    return prefix if prefix in LANGUAGES else DEFAULT_LANGUAGE


def current_language() -> str:
    override = _override.get()
    if override:
        return override
    import streamlit as st
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    if get_script_run_ctx(suppress_warning=True) is None:  # outside a Streamlit run: no session
        return DEFAULT_LANGUAGE
    return st.session_state.get(LANGUAGE_KEY, DEFAULT_LANGUAGE)


def _(message: str) -> str:
    """``message`` in the session's language."""
    language = current_language()
    if language == DEFAULT_LANGUAGE:
        return message
    translations = catalog(language)
    if message not in translations._catalog:  # type: ignore[attr-defined]  # gettext has no public "has"
        _missing.add((language, message))
    return translations.gettext(message)


def missing() -> set[tuple[str, str]]:
    """(language, msgid) pairs asked for and not translated since the process started."""
    return set(_missing)


@contextmanager
def using(language: str) -> Iterator[None]:
    """Translate into ``language`` inside the block, whatever the session says."""
    token = _override.set(language if language in LANGUAGES else DEFAULT_LANGUAGE)
    try:
        yield
    finally:
        _override.reset(token)
