"""Where the article ends: the tail cut by page structure."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
import trafilatura

from digest.sources import extract
from digest.sources.extract import decode_html, extract_html, finish_text
from digest.sources.tail import page_blocks, trim_tail

BODY = [
    f"Paragraph {n} of the story says what the council decided about harbour budget item {n}."
    for n in range(8)
]
# Neither words nor shape give this box away, only where it sits (the cleaner keeps it).
BOX = [
    "The harbour master retires",
    "After thirty years the harbour master hands the keys to her deputy in June.",
]


def page(body: list[str], after: list[str], *, wrapper: str = "aside") -> str:
    paragraphs = "".join(f"<p>{line}</p>" for line in body)
    box = "".join(f"<p>{line}</p>" for line in after)
    return (
        "<html><head><title>Harbour</title><script>var x = 'Paragraph 0';</script></head>"
        f"<body><div class='page'><article><div class='body'>{paragraphs}</div></article>"
        f"<{wrapper} class='more'>{box}</{wrapper}></div></body></html>"
    )


def blocks_of(html: str) -> dict[str, object]:
    tree = trafilatura.load_html(html)
    assert tree is not None
    return page_blocks(tree)


def test_lines_after_the_body_outside_its_container_are_cut() -> None:
    blocks = blocks_of(page(BODY, BOX))
    text = "\n".join(BODY + BOX)
    assert trim_tail(text, blocks) == "\n".join(BODY)


def test_a_text_inside_one_container_is_left_as_it_is() -> None:
    blocks = blocks_of(page(BODY, BOX))
    text = "\n".join(BODY)
    assert trim_tail(text, blocks) == text
    # The box inside the body's own container is part of the body.
    inside = blocks_of(page(BODY + BOX, []))
    assert trim_tail("\n".join(BODY + BOX), inside) == "\n".join(BODY + BOX)


def test_a_tail_longer_than_max_cut_is_kept() -> None:
    long_box = [
        f"Another long story {n} about the harbour, told elsewhere on the site." for n in range(6)
    ]
    blocks = blocks_of(page(BODY[:5], long_box))
    text = "\n".join(BODY[:5] + long_box)
    # The container must hold 70% of the text: with this much outside, the whole page is it.
    assert trim_tail(text, blocks) == text
    assert trim_tail(text, blocks, share=0.4, max_cut=0.3) == text  # too much to cut
    assert trim_tail(text, blocks, share=0.4, max_cut=0.9) == "\n".join(BODY[:5])


def test_a_share_no_element_can_hold_cuts_nothing() -> None:
    blocks = blocks_of(page(BODY, BOX))
    text = "\n".join(BODY + BOX)
    assert trim_tail(text, blocks, share=1.01) == text
    assert trim_tail(text, {}) == text  # no line found on the page


def test_unknown_lines_go_with_the_known_lines_around_them() -> None:
    blocks = blocks_of(page(BODY, BOX))
    unknown = "A line an extractor wrote that is nowhere on the page as such."
    # After an outside line: cut with it.
    assert trim_tail("\n".join([*BODY, *BOX, unknown]), blocks) == "\n".join(BODY)
    # Between the body and the box: kept, the cut starts at the first outside line found.
    assert trim_tail("\n".join([*BODY, unknown, *BOX]), blocks) == "\n".join([*BODY, unknown])
    # Only unknown lines at the end: nothing is known about them, nothing is cut.
    assert trim_tail("\n".join([*BODY, unknown]), blocks) == "\n".join([*BODY, unknown])


def test_text_repeated_in_two_places_is_unknown_and_scripts_are_not_text() -> None:
    html = page(BODY, [BODY[0], *BOX])
    blocks = blocks_of(html)
    assert (
        blocks["paragraph 0 of the story says what the council decided about harbour budget item 0"]
        is None
    )
    assert (
        blocks["paragraph 1 of the story says what the council decided about harbour budget item 1"]
        is not None
    )
    assert not any("var x" in key for key in blocks)


def test_page_blocks_walk_a_deep_tree_without_recursing() -> None:
    from lxml import html as lxml_html

    root = lxml_html.fromstring("<html><body></body></html>")
    node = root.find("body")
    for _ in range(5000):  # deeper than Python's recursion limit
        node = lxml_html.etree.SubElement(node, "div")
    lxml_html.etree.SubElement(node, "p").text = "deep text here"
    assert "deep text here" in page_blocks(root)


def test_extract_html_cuts_the_tail_the_extractors_took(monkeypatch: pytest.MonkeyPatch) -> None:
    html = page(BODY, BOX)
    monkeypatch.setattr(extract, "_main_text", lambda source, tree, url: "\n".join(BODY + BOX))
    text = extract_html(html).text
    assert "harbour master" not in text
    assert BODY[-1] in text


def shared_data() -> Path:
    env = os.environ.get("DIGEST_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"


ARTICLES2 = shared_data() / "articles2"


@pytest.mark.skipif(
    not (ARTICLES2 / "index.csv").is_file(),
    reason=f"second article corpus not found at {ARTICLES2}",
)
@pytest.mark.corpus
def test_the_tail_cut_leaks_less_boilerplate_and_loses_no_must_have_sentence() -> None:
    """Every 8th page of articles2: with the cut, no more must-have sentences are missed and
    fewer must-not sentences leak than without it."""
    with (ARTICLES2 / "index.csv").open(encoding="utf-8") as handle:
        names = [row["name"] for row in csv.DictReader(handle)][::8]

    def words(text: str) -> str:
        return " " + " ".join(extract.re.findall(r"\w+", text.lower())) + " "

    counts = {"cut": [0, 0], "uncut": [0, 0]}  # [must-have found, must-not leaked]
    for name in names:
        source = decode_html((ARTICLES2 / f"{name}.html").read_bytes())
        meta = json.loads((ARTICLES2 / f"{name}.json").read_text(encoding="utf-8"))
        tree = trafilatura.load_html(source)
        assert tree is not None
        raw = extract._main_text(source, tree, meta.get("url"))
        for label, text in (("cut", trim_tail(raw, page_blocks(tree))), ("uncut", raw)):
            found = words(finish_text(text, None))
            counts[label][0] += sum(words(s) in found for s in meta.get("with") or [] if s.strip())
            counts[label][1] += sum(
                words(s) in found for s in meta.get("without") or [] if s.strip()
            )
    assert counts["cut"][0] >= counts["uncut"][0] - 1, counts
    assert counts["cut"][1] < counts["uncut"][1], counts
