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
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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


def viewer_timezone() -> str | None:
    """The browser's IANA time zone (``st.context.timezone``, Streamlit >= 1.45) when it names a zone this
    machine knows; None outside a Streamlit run or when the browser sent nothing usable (a header the
    browser controls is never trusted beyond a zoneinfo lookup)."""
    import streamlit as st
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    if get_script_run_ctx(suppress_warning=True) is None:
        return None
    return known_timezone(getattr(st.context, "timezone", None))


def known_timezone(name: object) -> str | None:
    """``name`` if it is an IANA zone this machine has, else None."""
    from zoneinfo import ZoneInfo

    if not isinstance(name, str) or not name or len(name) > 64:
        return None
    try:
        ZoneInfo(name)
    except (ValueError, OSError, KeyError):  # ZoneInfoNotFoundError is a KeyError; "../x" a ValueError
        return None
    return name


def local_time(moment: datetime, zone: str | None) -> str:
    """``moment`` as the viewer reads it: ``2026-12-05 22:28 Asia/Tokyo (UTC+09:00)``; ``… UTC`` when the
    zone is unknown, so a reader is never left guessing."""
    from zoneinfo import ZoneInfo

    name = known_timezone(zone)
    if name is None or name in ("UTC", "Etc/UTC"):
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    local = moment.astimezone(ZoneInfo(name))
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M} {name} (UTC{offset[:3]}:{offset[3:]})"


def _(message: str) -> str:
    """``message`` in the session's language."""
    language = current_language()
    if language == DEFAULT_LANGUAGE:
        return message
    translations = catalog(language)
    if message not in translations._catalog:  # type: ignore[attr-defined]  # gettext has no public "has"
        _missing.add((language, message))
    translated = translations.gettext(message)
    return Message(translated) if _PARTICLE.search(translated) else translated


# Korean particles. A catalog writes both forms after a placeholder, "`{group}`을(를)", and the particle is
# chosen once the word is known, from its last syllable: a Hangul syllable with a final consonant
# (jongseong) takes 을/이/은/과/으로, one without takes 를/가/는/와/로; (으)로 also takes 로 after a final ㄹ.
# A word ending in a digit is read as Sino-Korean (영 일 이 삼 사 오 육 칠 팔 구: 0 1 3 6 7 8 end in a
# consonant, 1 7 8 in ㄹ); a Latin letter as its English letter name (엘 엠 엔 알 for l m n r end in a
# consonant, l and r in ㄹ; every other letter in a vowel: "demo를", "staff를", "team을"); "%" and "°" as
# 퍼센트 and 도. Closing quotes,
# backticks, brackets and markdown marks after the word are skipped; with no letter or digit the
# written pair stays as it is.
_PAIRS = {"을(를)": ("을", "를"), "이(가)": ("이", "가"), "은(는)": ("은", "는"), "과(와)": ("과", "와"),
          "와(과)": ("과", "와"), "(으)로": ("으로", "로")}  # fmt: skip
_PARTICLE = re.compile("|".join(re.escape(pair) for pair in _PAIRS))
_SKIPPED = "`'\"*_)]}>”’」』 "
_DIGIT_FINAL = {"0": "ng", "1": "l", "3": "m", "6": "k", "7": "l", "8": "l"}
_LETTER_FINAL = {"l": "l", "m": "m", "n": "n", "r": "l"}


def final_consonant(word: str) -> str | None:
    """The final consonant of ``word``'s last syllable as Korean reads it: ``""`` for none, ``"l"`` for ㄹ,
    another non-empty string for any other; None when ``word`` ends in no letter or digit."""
    stripped = word.rstrip(_SKIPPED)
    if not stripped:
        return None
    last = stripped[-1]
    if "가" <= last <= "힣":
        index = (ord(last) - ord("가")) % 28
        return "" if index == 0 else "l" if index == 8 else "c"
    if last in "%°":  # 퍼센트, 도
        return ""
    if last.isdigit():
        return _DIGIT_FINAL.get(last, "") if last.isascii() else None
    if last.isascii() and last.isalpha():
        return _LETTER_FINAL.get(last.lower(), "")
    return None


def particles(text: str) -> str:
    """``text`` with every "을(를)"-style pair replaced by the particle its preceding word takes."""

    def choose(match: re.Match[str]) -> str:
        final = final_consonant(text[: match.start()])
        if final is None:
            return match.group(0)
        with_final, without = _PAIRS[match.group(0)]
        if match.group(0) == "(으)로" and final == "l":
            return without
        return with_final if final else without

    return _PARTICLE.sub(choose, text)


class Message(str):
    """A translation whose ``format`` settles its Korean particles once the placeholders are filled."""

    __slots__ = ()

    def format(self, *args: Any, **kwargs: Any) -> str:
        return particles(str.format(self, *args, **kwargs))


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
