"""Extraction by agreement: the vote, page structure, pages that are not HTML, a corpus sample."""

from __future__ import annotations

import csv
import gzip
import json
import os
import re
from collections import Counter
from pathlib import Path

import pytest
import trafilatura
from click.testing import CliRunner

from digest.cli import main
from digest.errors import ExtractError
from digest.sources.extract import (
    AGREEMENT,
    _jt_paragraphs,
    _justext,
    _meta,
    _meta_tags,
    choose_text,
    decode_html,
    extract_html,
    text_candidates,
    token_f1,
)


def shared_data() -> Path:
    env = os.environ.get("DIGEST_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"


ARTICLES2 = shared_data() / "articles2"
needs_articles2 = pytest.mark.skipif(
    not (ARTICLES2 / "index.csv").is_file(),
    reason=f"second article corpus not found at {ARTICLES2}",
)

FULL = "\n".join(
    f"Paragraph {n} of the story tells what the council decided about the harbour budget."
    for n in range(12)
)


def bag(text: str) -> Counter[str]:
    return Counter(w.lower() for w in re.findall(r"\w+", text))


# ---------------------------------------------------------------- the vote


def test_agreeing_witness_keeps_the_precision_text() -> None:
    precision = FULL
    witness = FULL + "\nShare this story"
    assert token_f1(bag(precision), bag(witness)) >= AGREEMENT
    assert choose_text({"precision": precision, "resiliparse": witness}) == precision


def test_a_collapsed_extractor_is_outvoted() -> None:
    collapsed = "Paragraph 0 of the story tells what the council decided."
    candidates = {
        "precision": collapsed,
        "resiliparse": FULL + "\nSubscribe to our newsletter",
        "balanced": FULL + "\nComments (3)",
        "readability": FULL,
        "justext": FULL,
    }
    assert choose_text(candidates) == FULL


def test_the_vote_prefers_precision_on_a_tie_and_skips_empty_candidates() -> None:
    candidates = {"precision": "", "balanced": FULL, "readability": FULL, "justext": "   "}
    assert choose_text(candidates) == FULL
    assert choose_text({"precision": "", "balanced": ""}) == ""
    assert choose_text({"precision": FULL, "balanced": FULL, "readability": FULL}) == FULL


def test_threshold_above_one_always_votes() -> None:
    odd = FULL + "\n" + "Related: ten other harbour stories you may like. " * 30
    candidates = {
        "precision": odd,
        "resiliparse": odd,
        "balanced": FULL,
        "readability": FULL,
        "justext": FULL,
    }
    assert choose_text(candidates, agreement=0.5) == odd
    assert choose_text(candidates, agreement=1.01) == FULL


def test_consensus_of_the_first_four_spares_the_fifth_voter() -> None:
    other = "\n".join(f"Line {n} of a list of related stories nobody asked for." for n in range(12))
    candidates = {
        "precision": FULL,
        "resiliparse": FULL,
        "readability": other,
        "justext": other,
        "balanced": other,
    }
    # Two against two among the first four: no consensus, so balanced tips the vote ...
    assert choose_text(candidates, agreement=2.0) == other
    # ... unless the first four are taken as they are (consensus 0), where a tie goes to
    # the precision text; above 1 the fifth voter always runs.
    assert choose_text(candidates, agreement=2.0, consensus=0.0) == FULL
    assert choose_text(candidates, agreement=2.0, consensus=1.01) == other
    # Three of four agreeing exactly is a consensus: balanced is not needed.
    agreeing = {**candidates, "justext": FULL}
    assert choose_text({k: v for k, v in agreeing.items() if k != "balanced"}) == FULL


@pytest.mark.parametrize("settles", [True, False])
def test_main_text_runs_balanced_only_when_the_first_four_disagree(
    monkeypatch: pytest.MonkeyPatch, settles: bool
) -> None:
    from digest.sources import extract

    # resiliparse takes a menu as well (token F1 0.79 < AGREEMENT), so the vote runs.
    noise = "\n".join(f"Menu item {n} and a link to the shop." for n in range(10))
    runs: list[str] = []

    def fake_trafilatura(tree: object, url: str | None, setting: str) -> str:
        runs.append(setting)
        return FULL

    monkeypatch.setattr(extract, "_trafilatura", fake_trafilatura)
    monkeypatch.setattr(extract, "_resiliparse", lambda source: FULL + "\n" + noise)
    monkeypatch.setattr(extract, "_readability", lambda tree: FULL if settles else noise)
    monkeypatch.setattr(extract, "_justext", lambda tree, language: FULL)
    text = extract._main_text("<html></html>", None, None)
    assert runs == (["precision"] if settles else ["precision", "balanced"])
    assert text == FULL
    candidates = {
        "precision": FULL,
        "resiliparse": FULL + "\n" + noise,
        "readability": FULL if settles else noise,
        "justext": FULL,
        "balanced": FULL,
    }
    assert text == choose_text(candidates)  # the stages choose what the whole vote chooses


# ---------------------------------------------------------------- structure

STORY = """<!doctype html><html lang="en"><head><title>Harbour budget passes | City News</title>
<meta property="og:site_name" content="City News"></head><body>
<header><nav><a href="/">Home</a> <a href="/news">News</a> <a href="/sport">Sport</a></nav></header>
<main><article>
<h1>Harbour budget passes</h1>
<p>The council approved the harbour budget on Tuesday after a debate that lasted most of the
evening, and the mayor said work on the new quay walls would begin in the spring.</p>
<p>Councillors argued for hours about how the money should be split between the fishing
fleet, the ferry terminal and the small boatyards along the eastern shore of the bay.</p>
<h2>Where the money goes</h2>
<p>The plan sets out the largest items of spending for the next three years in some detail:</p>
<ul>
<li>New quay walls along the northern pier, which were damaged in the winter storms</li>
<li>Dredging of the main channel so that larger ferries can dock at low tide</li>
<li>A repair fund for the small boatyards on the eastern shore of the bay</li>
</ul>
<table><tr><th>Item</th><th>Cost in millions</th></tr>
<tr><td>Quay walls on the northern pier</td><td>12.5</td></tr>
<tr><td>Dredging of the main channel</td><td>4.2</td></tr></table>
<p>The opposition said the ferry terminal had been left out and promised to raise the matter
again when the council meets in March to set the rates for the coming year.</p>
</article>
<aside class="related"><h3>Related stories</h3><ul>
<li><a href="/a">Ferry fares to rise in spring</a></li>
<li><a href="/b">Storm damage on the pier worse than thought</a></li>
<li><a href="/c">Boatyard owners ask for help</a></li></ul></aside>
<div class="newsletter"><h3>Get the morning briefing</h3>
<form><input type="email" placeholder="Your email"><button>Sign up</button></form></div>
<section id="comments"><h3>3 comments</h3>
<div class="comment"><p>Great news for the fishermen, about time!</p></div>
<div class="comment"><p>What about the ferry terminal? Nobody ever asks us.</p></div>
</section></main>
<footer><p>Copyright 2026 City News. All rights reserved.</p></footer>
</body></html>"""


def test_lists_tables_and_subheadings_stay_and_the_page_furniture_goes() -> None:
    page = extract_html(STORY, url="https://citynews.example.org/2026/harbour-budget")
    assert page.title == "Harbour budget passes"
    text = page.text
    for kept in (
        "Where the money goes",
        "Dredging of the main channel so that larger ferries can dock at low tide",
        "A repair fund for the small boatyards",
        "Quay walls on the northern pier",
        "promised to raise the matter",
    ):
        assert kept in text, kept
    for dropped in (
        "Related stories",
        "Ferry fares to rise",
        "morning briefing",
        "Sign up",
        "3 comments",
        "Great news for the fishermen",
        "All rights reserved",
        "Sport",
    ):
        assert dropped not in text, dropped


def test_text_candidates_name_every_extractor() -> None:
    tree = trafilatura.load_html(STORY)
    candidates = text_candidates(STORY, tree, "https://citynews.example.org/x")
    names = {"precision", "balanced", "readability", "justext", "resiliparse", "recall"}
    assert set(candidates) == names
    for name in ("precision", "balanced", "recall", "readability", "resiliparse"):
        assert "Dredging of the main channel" in candidates[name], name
    # jusText wants long paragraphs; on this short story it may keep nothing, and then it
    # simply does not vote.


# ---------------------------------------------------------------- jusText on our tree

LONG_STORY = STORY.replace(
    "<p>The opposition said",
    "".join(
        f"<p>Paragraph {n}: the harbour master told the council that the ferries would have "
        "to wait for the dredging of the channel, and that the fishermen had been promised "
        "the repairs to the northern pier for years without any of it being done.</p>"
        for n in range(6)
    )
    + "<p>The opposition said",
)


def _justext_reference(html: str, language: str) -> str:
    import justext

    paragraphs = justext.justext(html.encode("utf-8"), justext.get_stoplist(language))
    return "\n".join(p.text for p in paragraphs if not p.is_boilerplate)


def test_justext_on_the_parsed_tree_keeps_what_justext_keeps() -> None:
    tree = trafilatura.load_html(LONG_STORY)
    ours = _justext(tree, "en")
    assert ours == _justext_reference(LONG_STORY, "English")
    assert "Paragraph 3: the harbour master" in ours
    assert "Get the morning briefing" not in ours
    # Without a stop list (a language jusText does not know) it still classifies by shape.
    assert "Paragraph 3: the harbour master" in _justext(tree, "xx")


def test_justext_walker_makes_the_paragraphs_justexts_sax_handler_makes() -> None:
    from justext.core import PARAGRAPH_TAGS, ParagraphMaker, preprocessor

    odd = LONG_STORY.replace(
        "<h2>Where the money goes</h2>",
        "<div>Top<br><br>after two breaks<br>one break <a href='/x'>a link</a> tail"
        "<!-- a comment --> after the comment <span>  </span><br>  </div>",
    )
    dom = preprocessor(trafilatura.load_html(odd))
    theirs = ParagraphMaker.make_paragraphs(dom)
    ours = _jt_paragraphs(dom, PARAGRAPH_TAGS)
    assert [(p.text, p.dom_path, p.chars_count_in_links, p.tags_count) for p in ours] == [
        (p.text, p.dom_path, p.chars_count_in_links, p.tags_count) for p in theirs
    ]
    # <br><br> starts a paragraph, one <br> is a space, a link's characters are counted,
    # a comment's tail is text.
    texts = {p.text: p for p in ours}
    assert "Top" in texts
    joined = texts["after two breaks one break a link tail after the comment"]
    assert joined.chars_count_in_links == len("a link")


def test_justext_reads_the_text_we_decoded_not_a_wrong_meta_charset() -> None:
    # A UTF-8 page that declares windows-1252: jusText, given the bytes, decodes them by the
    # <meta> and turns every curly quote into mojibake; on our tree the quotes stay.
    page = LONG_STORY.replace("<head>", '<head><meta charset="windows-1252">').replace(
        "the harbour master told", "the harbour master\u2019s deputy told"
    )
    tree = trafilatura.load_html(decode_html(page.encode("utf-8")))
    text = _justext(tree, "en")
    assert "harbour master\u2019s deputy" in text
    assert "\u00e2\u20ac" not in text  # the mojibake of U+2019 read as windows-1252


# ---------------------------------------------------------------- token F1 and meta tags


def test_token_f1_is_symmetric_and_counts_repeated_words_once_each() -> None:
    a, b = bag("the cat saw the other cat"), bag("The cat and THE dog")
    overlap = sum((a & b).values())
    assert token_f1(a, b) == token_f1(b, a) == 2 * overlap / (a.total() + b.total())
    assert token_f1(a, Counter()) == 0.0
    assert token_f1(a, a) == 1.0


def test_meta_tags_keep_page_order_and_skip_empty_content() -> None:
    tree = trafilatura.load_html(
        "<html><head>"
        '<meta name="og:title" content="by name">'
        '<meta property="og:title" content="  ">'
        '<meta property="og:title" content="by property">'
        '<meta itemprop="datePublished" content="2026-01-02">'
        '<meta name="description">'
        "</head><body><p>x</p><p>y</p></body></html>"
    )
    tags = _meta_tags(tree)
    assert _meta(tags, "og:title") == "by property"  # property is asked before name
    assert _meta(tags, "missing", "datePublished") == "2026-01-02"
    assert _meta(tags, "description") is None


# ---------------------------------------------------------------- not HTML

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64)
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\nHello text inside a PDF\n"


NOT_HTML = [
    (PNG, "PNG"),
    (PDF, "PDF"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "JPEG"),
    (gzip.compress(b"<html><body><p>zipped</p></body></html>"), "gzip"),
    (b"PK\x03\x04" + bytes(30), "ZIP"),
    (b"\x7fELF\x02\x01\x01" + bytes(40), "ELF binary"),
    (b"some text\x00\x01\x02 with control bytes", "binary"),
    (b'{"title": "not a page", "items": [1, 2, 3]}', "JSON"),
    (b"Just a few lines of plain text.\nNo markup anywhere.\n", "plain text"),
]


@pytest.mark.parametrize(("data", "kind"), NOT_HTML, ids=[kind for _, kind in NOT_HTML])
def test_files_that_are_not_html_are_refused_in_one_line(data: bytes, kind: str) -> None:
    with pytest.raises(ExtractError) as info:
        extract_html(data, url="https://example.org/file")
    message = str(info.value)
    assert message == f"https://example.org/file is not an HTML page (looks like {kind})"
    assert "\n" not in message


def test_utf16_html_with_a_bom_is_still_html() -> None:
    html = f"<html><body><article><p>{FULL}</p></article></body></html>"
    page = extract_html(html.encode("utf-16"), url="https://example.org/utf16")
    assert "harbour budget" in page.text
    assert decode_html(html.encode("utf-16")) == html


@pytest.mark.parametrize(
    ("name", "data"), [("photo.png", PNG), ("paper.html", PDF)], ids=["png", "pdf-named-html"]
)
def test_cli_extract_on_a_binary_file_says_one_line_and_exits_1(
    tmp_path: Path, name: str, data: bytes
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    result = CliRunner().invoke(main, ["extract", str(path)])
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(path) in lines[0] and "is not an HTML page" in lines[0]
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------- a corpus sample


def _f1(predicted: str, truth: str) -> float:
    return token_f1(bag(predicted), bag(truth))


@needs_articles2
@pytest.mark.corpus
def test_sample_of_unseen_sites_is_at_least_as_good_as_trafilatura() -> None:
    """Every 24th page of articles2 (all different sites): ours is not worse on average than
    trafilatura's defaults, and finds nearly every must-have sentence."""
    with (ARTICLES2 / "index.csv").open(encoding="utf-8") as handle:
        names = [row["name"] for row in csv.DictReader(handle)][::24]
    ours_f1, traf_f1 = [], []
    found = total = 0
    for name in names:
        data = (ARTICLES2 / f"{name}.html").read_bytes()
        truth = (ARTICLES2 / f"{name}.txt").read_text(encoding="utf-8")
        meta = json.loads((ARTICLES2 / f"{name}.json").read_text(encoding="utf-8"))
        try:
            text = extract_html(data, url=meta.get("url")).text
        except ExtractError:
            text = ""
        ours_f1.append(_f1(text, truth))
        traf_f1.append(_f1(trafilatura.extract(decode_html(data)) or "", truth))
        words = " ".join(w.lower() for w in re.findall(r"\w+", text))
        for sentence in meta.get("with") or []:
            total += 1
            found += " ".join(w.lower() for w in re.findall(r"\w+", sentence)) in words
    ours, traf = sum(ours_f1) / len(names), sum(traf_f1) / len(names)
    assert ours >= 0.92, ours
    assert ours >= traf - 0.005, (ours, traf)
    assert found / total >= 0.9, (found, total)


def test_cli_extract_on_a_page_without_text_says_one_line(tmp_path: Path) -> None:
    path = tmp_path / "menu.html"
    path.write_text("<html><body><nav><a href='/'>Home</a></nav></body></html>")
    result = CliRunner().invoke(main, ["extract", str(path)])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [f"error: {path}: no main text found"], result.stderr
