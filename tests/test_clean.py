"""HTML to text and boilerplate removal."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.text.clean import clean_text
from digest.text.html import html_to_text, is_markup

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


def test_is_markup_tells_markup_from_text_with_angle_brackets() -> None:
    assert is_markup("<p>One</p><p>Two</p>")
    assert is_markup("<!DOCTYPE html><html>")
    assert not is_markup("a < b and c > d")


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


# --- boundaries, links, markup ---------------------------------------------------------


def test_headings_standfirst_and_paragraphs_stay_apart() -> None:
    from digest.text.html import html_to_text

    html = (
        "<p class='standfirst'>Meloni becomes the first woman to head a government</p>"
        "<h2>Charakter sollte sterben</h2><p>Italians were braced for change.<br>"
        "A second line.</p><pre>int a = 1;\nint b = 2;</pre>"
    )
    assert html_to_text(html) == (
        "Meloni becomes the first woman to head a government\n\nCharakter sollte sterben\n\n"
        "Italians were braced for change.\nA second line.\n\nint a = 1;\nint b = 2;"
    )


def test_link_lines_and_closing_tag_groups_are_dropped_when_there_is_text() -> None:
    html = (
        "<p>Viele Spieler wünschen sich eine PC-Version. (<a href='/a'>Red Dead Redemption 2</a>"
        ", <a href='/b'>Spieletest</a>)</p><ul><li><a href='/x'>Related story one</a></li>"
        "<li><a href='/y'>Related story two</a>&nbsp;The Paper</li></ul><p><a href='/c'>Comments"
        "</a></p><p>He read <a href='/r'>the report</a> twice.</p>"
    )
    assert html_to_text(html) == (
        "Viele Spieler wünschen sich eine PC-Version.\n\nHe read the report twice."
    )


def test_an_entry_that_is_all_links_keeps_its_paragraphs_but_not_its_lists() -> None:
    linked = "<p><a href='/audio.mp3'>Dr Jane Doe talks thyroid nodules with Dr Lee</a></p>"
    assert html_to_text(linked) == "Dr Jane Doe talks thyroid nodules with Dr Lee"
    listed = "<ol><li><a href='/1'>Story one</a> Paper</li><li><a href='/2'>Two</a></li></ol>"
    assert html_to_text(listed) == ""


def test_blank_lines_of_text_with_only_inline_tags_stay_paragraphs() -> None:
    assert html_to_text("First part.\n\nSecond <b>part</b>.") == "First part.\n\nSecond part."


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("<!DOCTYPE html><html><body><p>x</p></body></html>", "page"),
        ("<html><head></head><body><p>Feed content as a document.</p></body></html>", "page"),
        ("<p>One paragraph.</p>", "html"),
        ("<pre style='white-space:pre-wrap'>Replace DomHelper</pre>", "html"),
        ('<svg xmlns="http://www.w3.org/2000/svg"><path d="M0"/></svg>', "html"),
        ("Fish &amp; chips", "html"),
        ("3 < 4 and 5 > 2", "text"),
        ("Plain text.\n\nTwo paragraphs.", "text"),
    ],
)
def test_input_kind(text: str, kind: str) -> None:
    from digest.text.html import input_kind

    assert input_kind(text) == kind


# --- teasers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "body", "cut"),
    [
        ("Er misst eine Größe […]", "Er misst eine Größe", True),
        ("Ein ganzer Satz. [&#8230;]".replace("&#8230;", "…"), "Ein ganzer Satz.", False),
        ("Whole sentence.\n\nContinue reading...", "Whole sentence.", False),
        ("Shares were sold at an ...", "Shares were sold at an", True),
        ("Done. Read more »", "Done.", False),
        ("Quote here.\n\nContinue reading on The Startup »", "Quote here.", False),
        ("Teaser text (more…)", "Teaser text", False),
        (
            "Es misst eine […]\n\nDer Beitrag Neue Figuren erschien zuerst auf Anime2You.",
            "Es misst eine",
            True,
        ),
        ("Wait... what happened?", "Wait... what happened?", False),
        ("A whole article without a marker.", "A whole article without a marker.", False),
    ],
)
def test_teaser_end(text: str, body: str, cut: bool) -> None:
    from digest.text.clean import ends_truncated, strip_teaser_end

    assert strip_teaser_end(text) == (body, cut)
    assert ends_truncated(text) == (body != text)


def test_the_wordpress_footer_alone_is_not_a_teaser_marker() -> None:
    from digest.text.clean import ends_truncated

    assert not ends_truncated("Full text.\n\nThe post Full text appeared first on Example.")


# --- per-feed boilerplate ---------------------------------------------------------------


def test_lines_recurring_across_a_feed_are_its_boilerplate() -> None:
    from digest.text.clean import strip_feed_boilerplate

    entries = [
        (
            f"Story number {n} of the week",
            f"Body of story {n} is here.\n\nSee omnystudio.com/listener for privacy information."
            f"\n\nThe post Story number {n} of the week appeared first on Example.",
        )
        for n in range(4)
    ]
    entries.append(("Quiet one", "Only its own text."))
    out = strip_feed_boilerplate(entries)
    assert out[:4] == [f"Body of story {n} is here." for n in range(4)]
    assert out[4] is entries[4][1]  # untouched text is the same string


def test_few_entries_or_one_entry_repeated_make_no_boilerplate() -> None:
    from digest.text.clean import strip_feed_boilerplate

    same = ("Title", "Everything here. The same again.")
    assert strip_feed_boilerplate([same, same, same]) == [same[1]] * 3
    two = [("A", "Shared line.\n\nA's own."), ("B", "Shared line.\n\nB's own.")]
    assert strip_feed_boilerplate(two) == [t for _, t in two]


def test_a_recurring_sentence_inside_a_line_goes_but_short_pieces_stay() -> None:
    from digest.text.clean import strip_feed_boilerplate

    texts = [
        (f"T{n}", f"Dr. Smith on case {n}. This is primarily a bug fix release.") for n in range(3)
    ]
    assert strip_feed_boilerplate(texts) == [f"Dr. Smith on case {n}." for n in range(3)]


# --- furniture ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sentence", "kind"),
    [
        ("206 buf = malloc ((bufsize + 1) * sizeof (char));", "code"),
        ("func removeDuplicates(s []mytype) []mytype {", "code"),
        ("# cat > /etc/udev/rules.d/99-intel.rules << 'EOF'", "code"),
        ("SELECT * FROM cars;", "code"),
        ("Patricio Candia | Palma de Mallorca | 08/01/2014", "byline"),
        ("Von Peter Steinlechner", "byline"),
        ("— Merlin Mann (@hotdogsladies) November 18, 2017", "byline"),
        ("Jakarta, 12/03/2019 10:15 WIB", "byline"),
        ("(Red Dead Redemption 2, Red Dead Redemption)", "tags"),
        ("Politics · Europe · Italy", "tags"),
        ("Sponsored by:", "label"),
        ("Check out the Space Time Merch Store", "promo"),
        ("See omnystudio.com/listener for privacy information.", "promo"),
        ("Please share your videos of the storm at iReport.", "promo"),
        ("What do you think about the new rules?", "promo"),
        ("Abonniere unseren Kanal für mehr Videos.", "promo"),
    ],
)
def test_furniture_by_its_shape(sentence: str, kind: str) -> None:
    from digest.text.clean import furniture

    assert furniture(sentence, line=sentence, at_start=False, at_end=True) == kind


@pytest.mark.parametrize(
    "sentence",
    [
        "The company said its share price rose 5 percent (AAPL) on Tuesday.",
        "Congressman John Smith (R-Texas) said the bill would pass.",
        "C++ is a language that many people use every day.",
        '"See, we won," said the coach after the match.',
        "Support for the measure grew after the vote, officials said.",
        "Menurut penelitian yang dilansir dari boldsky.com, tindakan ini ternyata bermanfaat untuk "
        "kesehatan tubuh, lho.",
        "Dilansir dari sejumlah sumber, berikut langkah mudah yang bisa dilakukan di rumah;",
        "The bill was sponsored by two senators from opposite parties.",
    ],
)
def test_article_sentences_are_not_furniture(sentence: str) -> None:
    from digest.text.clean import furniture

    # Calls to action count only at the edges; shapes count everywhere.
    assert furniture(sentence, line=sentence, at_start=False, at_end=False) is None
    if "sponsored" not in sentence:
        assert furniture(sentence, line=sentence, at_start=False, at_end=True) is None


@pytest.mark.skipif(not SEED.is_file(), reason=f"seed article not found at {SEED}")
def test_the_headline_at_the_top_of_plain_text_is_found() -> None:
    from digest.text.clean import leading_headline

    assert leading_headline(SEED.read_text(encoding="utf-8")) == SEED_TITLE
    assert leading_headline("A whole sentence starts this text.\n\nMore text follows here.") is None
    assert leading_headline("Just a headline") is None
