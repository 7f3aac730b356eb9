"""facereco.ui.handout: one self-contained HTML file of what was shown, with private details left out."""

from __future__ import annotations

import base64
import io
import re
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image

from facereco.ui import i18n
from facereco.ui.charts import similarity_bars
from facereco.ui.handout import MAX_SIDE, HandoutFacts, Shown, handout_html
from facereco.ui.headlines import Headline, detect_headline, pair_headline

MOMENT = datetime(2026, 12, 5, 13, 30, tzinfo=UTC)


def shown_items(photo: Image.Image) -> list[Shown]:
    return [
        Shown("verify", "Verify", pair_headline(97.3, 90), photo, None, 90, "At 90, about 1 in 1,000 …",
              ("secret-name.jpg",)),
        Shown("detect", "Detect", detect_headline(1), photo, file_names=("astronaut.png",)),
        Shown("compare", "Compare", pair_headline(2.0, 90), None, similarity_bars(["1"], [2.0], 90), 90),
    ]  # fmt: skip


def test_images_embedded_charts_drawn_pages_in_the_demos_order(astronaut_path: Path) -> None:
    photo = Image.open(astronaut_path)
    page = handout_html(shown_items(photo), HandoutFacts("facereco local engine", MOMENT, "Asia/Tokyo"))
    sources = re.findall(r"src='data:image/jpeg;base64,([^']+)'", page)
    assert len(sources) == 2
    embedded = Image.open(io.BytesIO(base64.b64decode(sources[0])))
    assert max(embedded.size) <= MAX_SIDE and embedded.size[0] > 100
    assert page.count("plotly.js v") == 1  # plotly's script once, with the first chart
    assert page.index(">Detect<") < page.index(">Compare<") < page.index(">Verify<")
    assert "2026-12-05 22:30 Asia/Tokyo (UTC+09:00)" in page
    # the sign stays with its number (a no-break space) in large text
    assert "Same person: 97.3\u00a0% similar — threshold 90" in page and "At 90, about 1 in 1,000" in page
    assert not re.search(r"src=['\"]https?:", page)  # nothing fetched from a network


def test_file_names_and_the_appkey_only_when_ticked_in(astronaut_path: Path) -> None:
    items = shown_items(Image.open(astronaut_path))
    plain = handout_html(items, HandoutFacts("another Face Recognition server", MOMENT))
    assert "secret-name.jpg" not in plain and "astronaut.png" not in plain and "Appkey" not in plain
    ticked = handout_html(items, HandoutFacts("server", MOMENT, appkey="abcd••••••••", file_names=True))
    assert "secret-name.jpg" in ticked and "abcd••••••••" in ticked


def test_every_text_is_escaped() -> None:
    hostile = Shown("search", "<b>Search</b>", Headline("2 of 5 faces found in group “<script>alert(1)</script>”"),
                    file_names=("<img src=x onerror=alert(1)>",))  # fmt: skip
    page = handout_html([hostile], HandoutFacts("<i>x</i>", MOMENT, file_names=True))
    assert "<script>alert" not in page and "<img src=x" not in page and "<i>x</i>" not in page


def test_in_the_sessions_language_and_says_when_nothing_was_shown() -> None:
    with i18n.using("ja"):
        page = handout_html([], HandoutFacts("x", MOMENT))
    assert '<html lang="ja">' in page and "表示した内容" in page
    assert "Nothing was shown yet" not in page  # translated too
