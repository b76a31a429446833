"""HTML to text and boilerplate removal."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.text.clean import clean_text, html_to_text, looks_like_html

DATA = Path(
    os.environ.get("DIGEST_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data"
)
SEED = DATA / "seed" / "indonesian-news-scraped.txt"
SEED_TITLE = (
    "Putin dari Rusia akan mengunjungi Korea Utara, di tengah meningkatnya kerja sama militer"
)


def test_html_to_text_blocks_breaks_entities() -> None:
    html = (
        "<html><head><title>T</title><style>p{color:red}</style></head><body>"
        "<h1>Head&nbsp;line</h1><p>Hello &amp; <b>world</b>.<br>Second   line</p>"
        "<!-- a comment --><script>var x = 1 < 2;</script>"
        "<ul><li>one</li><li>two &#8211; &eacute;t&eacute;</li></ul></body></html>"
    )
    assert html_to_text(html) == "Head line\n\nHello & world.\nSecond line\n\none\n\ntwo – été"


def test_html_to_text_unwraps_double_escaped_markup() -> None:
    text = html_to_text("&lt;p&gt;Fish &amp;amp; chips&lt;/p&gt;&lt;p&gt;Peas&lt;/p&gt;")
    assert text == "Fish & chips\n\nPeas"


def test_html_to_text_keeps_plain_text_and_lone_symbols() -> None:
    assert html_to_text("3 < 4 & 5 > 2") == "3 < 4 & 5 > 2"
    assert html_to_text("") == ""
    assert html_to_text("<p>unclosed <b>bold <div>x") == "unclosed bold\n\nx"


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "<p>",
                "</p>",
                "<br>",
                "<div class='a'>",
                "</div>",
                "&amp;",
                "&lt;b&gt;",
                "<script>",
                "</script>",
                "<!--",
                "-->",
                "text",
                " ",
                "\n",
                "&#x41;",
                "<b>",
                "&",
                "<",
                ">",
                "é",
            ]
        ),
        max_size=40,
    ).map("".join)
    | st.text(max_size=200)
)
def test_html_to_text_never_raises_and_leaves_no_tags(markup: str) -> None:
    text = html_to_text(markup)
    assert not re.search(r"</?(?:p|div|br|script|b)\b[^<>]*>", text)
    assert not re.search(r"&(?:amp|lt|gt|#x41);", text)


def test_looks_like_html() -> None:
    assert looks_like_html("<p>One</p><p>Two</p>")
    assert looks_like_html("<!DOCTYPE html><html>")
    assert not looks_like_html("a < b and c > d")


@pytest.mark.skipif(not SEED.is_file(), reason=f"seed article not found at {SEED}")
def test_seed_article_loses_all_its_boilerplate() -> None:
    cleaned = clean_text(SEED.read_text(encoding="utf-8"), title=SEED_TITLE)
    paragraphs = cleaned.split("\n\n")
    assert paragraphs[0].startswith("SEOUL — Presiden Rusia Vladimir Putin akan mengunjungi")
    assert paragraphs[-1].startswith("Tetap saja, para ahli dikatakan pada bulan Februari")
    assert len(paragraphs) == 13
    assert "Home" not in cleaned and "Uncategorized" not in cleaned
    assert "Source link" not in cleaned
    assert "berkontribusi pada laporan ini" not in cleaned
    assert SEED_TITLE not in cleaned
    assert not any(line.strip().isdigit() for line in cleaned.splitlines())
    assert "\n\n\n" not in cleaned
    # Real content with quotes and numbers is intact.
    assert "“Potensi pengembangan hubungan bilateral kita sangat besar,” kata Peskov" in cleaned
    assert "sekitar 800 kilometer dan peluncur rudal." in cleaned


@pytest.mark.parametrize(
    "line",
    [
        "Home Uncategorized Putin dari Rusia akan mengunjungi Korea Utara...",
        "Beranda › Berita › Nasional",
        "31",
        "1.2K Shares",
        "Share Tweet WhatsApp",
        "0 Comments",
        "Source link",
        "Baca juga: Harga beras naik lagi",
        "Baca Juga: Jokowi resmikan tol",
        "Read more: Why rates are rising",
        "Baca selengkapnya",
        "Foto: ANTARA/Reno Esnir",
        "Photo: Getty Images",
        "Advertisement",
        "ADVERTISEMENT",
        "SCROLL TO CONTINUE WITH CONTENT",
        "Sign up for our daily newsletter",
        "Subscribe to our newsletter for more stories",
        "Editor: Budi Santoso",
        "Copyright © 2024 Example Media. All rights reserved.",
    ],
)
def test_boilerplate_lines_are_dropped(line: str) -> None:
    body = "Harga beras di pasar induk naik tajam pekan ini karena pasokan berkurang."
    assert clean_text(f"{line}\n\n{body}\n\n{line}") == body


def test_duplicates_and_title_echo_are_dropped() -> None:
    text = (
        "Big storm hits the coast\n\nThe storm made landfall on Tuesday. Thousands lost power.\n\n"
        "The storm made landfall on Tuesday.\n\nThousands lost power. Repairs will take a week.\n\n"
        "The storm made landfall on Tuesday. Thousands lost power."
    )
    assert clean_text(text, title="Big storm hits the coast") == (
        "The storm made landfall on Tuesday. Thousands lost power.\n\nRepairs will take a week."
    )


def test_title_glued_to_counters_is_dropped() -> None:
    # what a flattened "<p>31\n0\nTitle</p>" becomes
    title = "Big storm hits the coast"
    text = f"31 0 {title}\n\nThe storm made landfall on Tuesday."
    assert clean_text(text, title=title) == "The storm made landfall on Tuesday."


def test_inline_read_more_sentence_is_dropped_but_paragraph_kept() -> None:
    text = "The bank raised rates again. Read more: what it means for you"
    assert clean_text(text) == "The bank raised rates again."


def test_real_sentences_that_mention_keywords_survive() -> None:
    text = (
        "The company said its share price rose 5 percent after the results were published.\n"
        "Home prices in the capital fell for a third month in a row, the survey showed."
    )
    assert clean_text(text) == text


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=300))
def test_clean_text_never_raises(text: str) -> None:
    out = clean_text(text, title=text[:20])
    assert "\n\n\n" not in out
    assert out == out.strip()


def test_language_tunes_splitting_and_sentences_match_the_text() -> None:
    from digest.text.clean import clean_sentences

    text = "Plantarien waren Anfang des 20. Jahrhunderts beliebt. Heute nicht mehr."
    assert clean_sentences(text, language="de") == [
        [["Plantarien waren Anfang des 20. Jahrhunderts beliebt.", "Heute nicht mehr."]]
    ]
    assert clean_text(text, language="de") == text
