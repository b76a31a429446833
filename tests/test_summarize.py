"""Summaries: every method, every kind of bad input, equivalence with sumy on small cases."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sumy.summarizers.lex_rank import LexRankSummarizer
from sumy.summarizers.text_rank import TextRankSummarizer

from digest.models import Summary
from digest.text.summarize import (
    METHODS,
    FastLexRankSummarizer,
    FastTextRankSummarizer,
    build_document,
    prepare,
    summarize,
)

ARTICLE = "\n\n".join(
    [
        "Home News World Storm batters the coast...",
        "Storm batters the coast as thousands flee",
        "31\n0",
        (
            "A powerful storm slammed into the southern coast on Tuesday, forcing thousands "
            "of residents to flee their homes and cutting power to more than 200,000 "
            "households."
        ),
        (
            "The storm, packing winds of up to 180 kilometres per hour, made landfall near "
            "the port city shortly after dawn, the national weather agency said."
        ),
        (
            '"We have never seen anything like this," said one resident who fled with her '
            "two children."
        ),
        (
            "Emergency crews worked through the night to clear roads blocked by fallen trees,"
            " and the army was deployed to help with evacuations along the coast."
        ),
        (
            "Officials said at least 12 people had been injured but no deaths had been "
            "reported so far. Schools and offices across the region will remain closed on "
            "Wednesday."
        ),
        (
            "Forecasters expect the storm to weaken as it moves inland over the next two "
            "days, bringing heavy rain to farming areas in the north."
        ),
        "Read more: How to prepare for a storm",
        "Source link",
    ]
)
TITLE = "Storm batters the coast as thousands flee"
DATA = Path(
    os.environ.get("DIGEST_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data"
)
SEED = DATA / "seed" / "indonesian-news-scraped.txt"


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_methods_are_listed() -> None:
    assert METHODS == (
        "default",
        "lead",
        "lexrank",
        "textrank",
        "lsa",
        "luhn",
        "edmundson",
        "sumbasic",
        "kl",
        "reduction",
    )


def test_unknown_method_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="lexrank") as info:
        summarize("Some text here.", method="bogus")
    assert "bogus" in str(info.value)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("count", [1, 3])
def test_every_method_returns_verbatim_sentences_in_source_order(method: str, count: int) -> None:
    summary = summarize(ARTICLE, title=TITLE, sentences=count, method=method)
    assert isinstance(summary, Summary)
    assert summary.method == method
    assert summary.language == "en"
    assert len(summary.sentences) == count
    flat = _flat(ARTICLE)
    positions = [flat.index(s) for s in summary.sentences]
    assert positions == sorted(positions)
    for sentence in summary.sentences:
        assert "Read more" not in sentence and "Source link" not in sentence
        assert not sentence.startswith(("Home", "31", TITLE))


def test_lead_takes_the_first_cleaned_sentences() -> None:
    summary = summarize(ARTICLE, title=TITLE, sentences=2, method="lead")
    assert summary.sentences[0].startswith("A powerful storm slammed")
    assert summary.sentences[1].startswith("The storm, packing winds")


def test_default_skips_a_quote_for_a_sentence_on_the_title_topic() -> None:
    summary = summarize(ARTICLE, title=TITLE, sentences=3)
    assert summary.sentences[0].startswith("A powerful storm slammed")
    assert not any(s.startswith('"We have never') for s in summary.sentences)


def test_language_override_and_unknown_language() -> None:
    assert summarize(ARTICLE, language="en").language == "en"
    unknown = summarize(ARTICLE, language="xx", sentences=2)
    assert unknown.language == "xx"
    assert len(unknown.sentences) == 2


def test_indonesian_article_is_summarised_in_indonesian() -> None:
    text = (
        "Jakarta - Pemerintah akan menaikkan harga bahan bakar minyak mulai pekan depan. "
        "Kenaikan itu diumumkan Menteri Keuangan di Jakarta, Senin (3/6/2024).\n\n"
        "“Kami sudah menghitung dampaknya,” kata Menteri. "
        "Harga Pertalite naik menjadi Rp 12.000 per liter.\n\n"
        "Baca juga: Harga beras naik lagi\n\n"
        "Pengamat menilai kenaikan itu akan mendorong inflasi hingga 3.5 persen."
    )
    summary = summarize(text, title="Harga BBM naik pekan depan", sentences=2)
    assert summary.language == "id"
    assert summary.sentences[0].startswith("Jakarta - Pemerintah akan menaikkan harga")
    assert all("Baca juga" not in s for s in summary.sentences)


def test_chinese_text() -> None:
    text = "今天北京下了大雨。很多航班被取消了。气象部门说明天会转晴。市民出行需要注意安全。"
    summary = summarize(text, sentences=2)
    assert summary.language == "zh"
    assert summary.sentences and all(s.endswith("。") for s in summary.sentences)


BAD_INPUTS = {
    "empty": "",
    "spaces": "   \n\n\t ",
    "one sentence": "Only one sentence here.",
    "binary": bytes(range(256)).decode("latin-1") * 40,
    "nul bytes": "abc\x00def\x00" * 100,
    "html": "<html><body><p>First paragraph of the story here.</p><p>Second one follows now.</p>"
    "<script>alert(1)</script></body></html>",
    "no punctuation": " ".join(["word"] * 5000),
    "mixed": "The president spoke on Monday about the economy. Presiden berbicara pada hari Senin "
    "tentang ekonomi. Der Präsident sprach am Montag über die Wirtschaft. 总统周一谈到了经济。",
    "digits": "123 456. 789 012. 345 678.",
}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_bad_input_never_raises(method: str, name: str) -> None:
    summary = summarize(BAD_INPUTS[name], title=None, method=method)
    assert isinstance(summary, Summary)
    assert len(summary.sentences) <= 3
    assert all(isinstance(s, str) and s for s in summary.sentences)
    if name == "html":
        assert summary.sentences == (
            "First paragraph of the story here.",
            "Second one follows now.",
        )
    if name in ("empty", "spaces", "binary", "digits"):
        assert summary.sentences == ()
    if name == "no punctuation":
        assert all(len(s) <= 1600 for s in summary.sentences)


@pytest.mark.parametrize("method", METHODS)
def test_ten_megabytes_take_bounded_time(method: str) -> None:
    paragraph = (
        "Officials in the capital announced a new plan on Monday to build {n} schools and "
        "repair roads damaged by floods, saying the work would start next year. "
    )
    text = "\n\n".join(paragraph.format(n=i) for i in range(70_000))
    assert len(text) > 10_000_000
    started = time.perf_counter()
    summary = summarize(text, method=method)
    assert time.perf_counter() - started < 60  # bounded, not a benchmark: CI is slow and shared
    assert len(summary.sentences) == 3


def test_ten_megabytes_of_html_take_bounded_time() -> None:
    page = (
        "<html><body>"
        + "<div><p>Readers wrote {n} letters about the new bridge.</p></div>" * 180_000
    )
    started = time.perf_counter()
    summary = summarize(page.format(n=1))
    assert time.perf_counter() - started < 60  # bounded, not a benchmark: CI is slow and shared
    assert summary.sentences == ("Readers wrote 1 letters about the new bridge.",)


def test_zero_sentences_and_non_string() -> None:
    assert summarize(ARTICLE, sentences=0).sentences == ()
    assert summarize(None, sentences=3).sentences == ()  # type: ignore[arg-type]


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=600), st.sampled_from(METHODS))
def test_summarize_never_raises(text: str, method: str) -> None:
    summary = summarize(text, method=method, sentences=2)
    assert len(summary.sentences) <= 2


SMALL_DOCS = [
    ARTICLE,
    "One. One. Two words. Two words. Three words here.",  # duplicates are cleaned first
    "A b c. D e f. A b c d e f. G. G. H i.",
    "Same words same words. Same words same words again. Different text entirely now.",
]


@pytest.mark.parametrize("doc", SMALL_DOCS)
@pytest.mark.parametrize(
    ("ours", "theirs"),
    [(FastLexRankSummarizer, LexRankSummarizer), (FastTextRankSummarizer, TextRankSummarizer)],
)
def test_vectorised_rankers_match_sumy_on_small_documents(
    doc: str, ours: type, theirs: type
) -> None:
    prepared = prepare(doc, language="en")
    document = build_document(prepared)
    fast, stock = ours(prepared.res.stemmer), theirs(prepared.res.stemmer)
    fast.stop_words = stock.stop_words = prepared.res.stop_words
    for count in (1, 2, 3, 10):
        with warnings.catch_warnings():
            # sumy's LexRank divides by zero on a graph without edges (NaN scores)
            warnings.simplefilter("ignore", RuntimeWarning)
            expected = [str(s) for s in stock(document, count)]
        assert [str(s) for s in fast(document, count)] == expected


# --- whole sentences, boundaries, length --------------------------------------------------

TEASER = (
    "Das japanische Unternehmen Bandai Spirits stellte vor Kurzem neue Figuren vor. "
    "Wir fassen alle Details für euch zusammen. Figuren erscheinen ab Juni 2024 Die neuen "
    "Figuren von Monkey D. Ruffy und Nami messen jeweils eine Größe […]"
)


def test_a_teasers_cut_sentence_is_never_a_summary_sentence() -> None:
    summary = summarize(TEASER, title="Neue One Piece Figuren", sentences=3, language="de")
    assert summary.sentences[0].startswith("Das japanische Unternehmen")
    assert not summary.excerpt
    assert all("Größe" not in s and "[…]" not in s for s in summary.sentences)
    # The heading flattened into the cut sentence is not a sentence of its own either.
    assert all(not s.startswith("Figuren erscheinen") for s in summary.sentences)


def test_only_a_cut_sentence_gives_an_excerpt_marked_as_such() -> None:
    summary = summarize("Shares of the company were sold at an ...", title="Slack shares")
    assert summary.excerpt and not summary.usable
    assert summary.sentences == ("Shares of the company were sold at an …",)
    assert summarize("", title="Nothing").sentences == ()


def test_a_heading_glued_to_its_paragraph_is_split_off() -> None:
    text = (
        "Der Anime startet im Herbst. Charakter sollte sterben Nachdem vor Kurzem bekannt "
        "wurde, dass die Serie fortgesetzt wird, äußerte sich der Autor. Er lobte das Team."
    )
    summary = summarize(text, language="de", sentences=3)
    joined = " | ".join(summary.sentences)
    assert "sterben Nachdem" not in joined
    assert "Nachdem vor Kurzem bekannt wurde, dass die Serie fortgesetzt wird" in joined


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "The storm hit the coast",
                "Officials said schools would close.",
                "Thousands fled their homes on Tuesday night.",
                "Power was cut to 200,000 households",
                "Roads were blocked by fallen trees and debris.",
            ]
        ),
        min_size=2,
        max_size=8,
    ),
    st.sampled_from(["p", "h2", "li", "div"]),
)
def test_no_summary_sentence_spans_two_blocks(paragraphs: list[str], tag: str) -> None:
    html = "".join(f"<{tag}>{p}</{tag}>" for p in paragraphs)
    summary = summarize(html, language="en", sentences=3)
    for sentence in summary.sentences:
        assert any(sentence in p for p in paragraphs), sentence


def test_a_word_budget_keeps_whole_sentences_and_at_least_one() -> None:
    budgeted = summarize(ARTICLE, title=TITLE, sentences=3, max_words=40)
    assert 1 <= len(budgeted.sentences) <= 3
    assert sum(len(s.split()) for s in budgeted.sentences) <= 40
    flat = _flat(ARTICLE)
    assert all(s in flat for s in budgeted.sentences)
    tiny = summarize(ARTICLE, title=TITLE, sentences=3, max_words=10)
    assert len(tiny.sentences) == 1  # longer than the budget, but never nothing
    # Without a budget the count is exact.
    assert len(summarize(ARTICLE, title=TITLE, sentences=3).sentences) == 3


def test_every_method_honours_the_budget() -> None:
    for method in METHODS:
        summary = summarize(ARTICLE, title=TITLE, sentences=3, max_words=45, method=method)
        assert summary.sentences, method
        words = sum(len(s.split()) for s in summary.sentences)
        assert words <= 45 or len(summary.sentences) == 1, method


def test_the_learned_scorer_skips_a_short_quoted_lead() -> None:
    text = (
        '"Kami siap," katanya.\n\n'
        "Pemerintah Provinsi Jawa Barat menyiapkan 500 posko mudik di sepanjang jalur utama "
        "untuk membantu pemudik selama libur Lebaran tahun ini.\n\n"
        "Posko tersebut dilengkapi tenaga medis, tempat istirahat, dan informasi lalu lintas "
        "yang diperbarui setiap jam oleh petugas.\n\n"
        "Gubernur meminta warga berangkat lebih awal untuk menghindari kemacetan panjang di "
        "jalan tol menjelang hari raya."
    )
    summary = summarize(text, title="Jawa Barat siapkan 500 posko mudik", sentences=2)
    assert summary.sentences[0].startswith("Pemerintah Provinsi Jawa Barat")


@pytest.mark.skipif(not SEED.is_file(), reason=f"seed article not found at {SEED}")
def test_the_headline_of_plain_text_is_not_a_summary_sentence() -> None:
    text = SEED.read_text(encoding="utf-8")
    summary = summarize(text)
    assert summary.language == "id"
    assert summary.sentences[0].startswith("SEOUL — Presiden Rusia Vladimir Putin")
    assert all(not s.startswith("Putin dari Rusia akan") for s in summary.sentences)
    assert prepare(text).title == (
        "Putin dari Rusia akan mengunjungi Korea Utara, di tengah meningkatnya kerja sama militer"
    )


def test_a_page_a_fragment_and_their_text_give_one_summary(repo: Path) -> None:
    from digest.sources.extract import extract_html
    from digest.text.html import html_to_text

    template = (repo / "tests" / "fixtures" / "wordpress_article.html").read_text("utf-8")
    body = "".join(f"<p>{p}</p>" for p in ARTICLE.split("\n\n")[3:9])
    page = template.replace("%%TITLE%%", TITLE).replace("%%BODY%%", body)
    extracted = extract_html(page)
    assert summarize(page).sentences[0].startswith("A powerful storm slammed")
    assert summarize(page).sentences == summarize(extracted.text, title=extracted.title).sentences
    fragment = "<p>" + "</p><p>".join(ARTICLE.split("\n\n")) + "</p>"
    assert (
        summarize(fragment, title=TITLE).sentences
        == summarize(html_to_text(fragment), title=TITLE).sentences
    )


def test_markup_never_reaches_a_summary() -> None:
    fragment = (
        "<pre style='white-space:pre-wrap;width:81ex'>Replace DomHelper.findParent with "
        ".closest and drop the old helper functions from the code base.</pre>"
        "<p><img src='/a.jpg' class='nieuws' alt=''/>Voor deze wedstrijd geldt een "
        "clubkaartverplichting voor alle supporters.</p>"
    )
    summary = summarize(fragment, sentences=3)
    assert summary.sentences
    assert not any("<" in s or ">" in s for s in summary.sentences)


def test_summarize_documents_drops_what_recurs_across_one_feed() -> None:
    from digest.text.summarize import Document, summarize_documents

    footer = "<p>Check out the Space Time Merch Store for shirts, mugs and more.</p>"
    documents = [
        Document(
            f"<p>Astronomers found planet number {n} orbiting a distant red dwarf star.</p>"
            + footer,
            title=f"Planet {n}",
            feed="space",
        )
        for n in range(4)
    ]
    for summary in summarize_documents(documents, sentences=3):
        assert summary.sentences and all("Merch" not in s for s in summary.sentences)


def test_sumy_loads_on_the_first_summary_not_on_import() -> None:
    # A fetch, a rebuild with nothing new or `digest status` summarise nothing: sumy, nltk
    # and numpy (a third of a second) must not load with the pipeline.
    script = (
        "import sys\n"
        "import digest.pipeline, digest.cli\n"
        "from digest.text.summarize import summarize\n"
        "assert not {'sumy', 'nltk', 'numpy'} & set(sys.modules), sys.modules.keys()\n"
        "summarize('The council met on Monday. It approved the budget. Roads get repaired.')\n"
        "assert {'sumy', 'nltk', 'numpy'} <= set(sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
