"""Corpus checks over ../shared/data/summ: equivalence with sumy, quality targets, languages."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from sumy.summarizers.lex_rank import LexRankSummarizer
from sumy.summarizers.text_rank import TextRankSummarizer

from digest.text.summarize import (
    METHODS,
    FastLexRankSummarizer,
    FastTextRankSummarizer,
    build_document,
    prepare,
    summarize,
)

pytestmark = pytest.mark.corpus

DATA = Path(
    os.environ.get("DIGEST_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data"
)
SUMM = DATA / "summ"
needs_data = pytest.mark.skipif(
    not (SUMM / "indosum_dev.jsonl").is_file(),
    reason=f"shared DEV data not found at {SUMM} (set DIGEST_SHARED_DATA)",
)
_WORD = re.compile(r"\w+", re.UNICODE)


def _load(name: str, limit: int | None = None) -> list[dict[str, Any]]:
    docs = []
    with (SUMM / f"{name}.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            docs.append(json.loads(line))
            if limit is not None and len(docs) >= limit:
                break
    return docs


def _title(doc: dict[str, Any]) -> str | None:
    if doc.get("title"):
        return str(doc["title"])
    head, _, slug = str(doc["id"]).partition("-")
    return slug.replace("-", " ") if head.isdigit() and slug else None


def _corpus() -> list[dict[str, Any]]:
    return _load("cnndm_dev", 40) + _load("indosum_dev", 40)


@needs_data
@pytest.mark.parametrize(
    ("ours", "theirs"),
    [(FastLexRankSummarizer, LexRankSummarizer), (FastTextRankSummarizer, TextRankSummarizer)],
    ids=["lexrank", "textrank"],
)
def test_vectorised_rankers_pick_the_same_sentences_as_sumy(ours: Any, theirs: Any) -> None:
    compared = 0
    for doc in _corpus():
        prepared = prepare(doc["text"], title=_title(doc), language=doc["lang"])
        document = build_document(prepared)
        res = prepared.res
        fast, stock = ours(res.stemmer), theirs(res.stemmer)
        fast.stop_words = stock.stop_words = res.stop_words
        for count in (1, 3, 5):
            expected = [str(s) for s in stock(document, count)]
            assert [str(s) for s in fast(document, count)] == expected, doc["id"]
            compared += 1
    assert compared == 240


def _rouge1(reference: str, sentences: tuple[str, ...]) -> float:
    from collections import Counter

    ref = Counter(_WORD.findall(reference.lower()))
    pred = Counter(_WORD.findall(" ".join(sentences).lower()))
    overlap = sum((ref & pred).values())
    if not overlap:
        return 0.0
    p, r = overlap / sum(pred.values()), overlap / sum(ref.values())
    return 2 * p * r / (p + r)


@needs_data
def test_default_beats_lead3_on_indosum_and_holds_the_lead_elsewhere() -> None:
    # The targets of issue 14 on the DEV files: Lead-3 + 2.0 R-1 on IndoSum; on CNN/DM and
    # VietNews (whose titles are used) never more than 0.2 R-1 below Lead-3.
    for name, margin in (("indosum_dev", 2.0), ("cnndm_dev", -0.2), ("vietnews_dev", -0.2)):
        docs = _load(name)
        scores: dict[str, float] = {}
        for method in ("default", "lead"):
            total = 0.0
            for doc in docs:
                summary = summarize(
                    doc["text"], title=_title(doc), language=doc["lang"], method=method
                )
                total += _rouge1(doc["summary"], summary.sentences)
            scores[method] = 100 * total / len(docs)
        assert scores["default"] >= scores["lead"] + margin, (name, scores)


@needs_data
@pytest.mark.parametrize("method", METHODS)
def test_every_method_works_on_every_dev_language(method: str) -> None:
    for name in ("indosum_dev", "cnndm_dev", "vietnews_dev"):
        for doc in _load(name, 5):
            summary = summarize(doc["text"], title=_title(doc), method=method, sentences=3)
            assert summary.language == doc["lang"]
            assert summary.method == method
            assert 1 <= len(summary.sentences) <= 3
            flat = " ".join(doc["text"].split())
            for sentence in summary.sentences:
                assert sentence in flat


FEEDS = DATA / "feeds" / "real"


@pytest.mark.skipif(not FEEDS.is_dir(), reason=f"real feeds not found at {FEEDS}")
def test_real_feed_languages_all_have_resources() -> None:
    from digest.text.language import resources

    codes = {p.name.split("-", 1)[0] for p in FEEDS.iterdir() if "-" in p.name}
    assert {"en", "de", "id", "zh"} <= codes
    for code in sorted(codes | {"vi"}):
        res = resources(code)
        assert res.code == code
        assert res.tokenizer.to_words("Hello world 你好") != ()
        assert res.stop_words, code


@pytest.mark.skipif(not FEEDS.is_dir(), reason=f"real feeds not found at {FEEDS}")
@pytest.mark.parametrize(
    "name",
    [
        "de-anime2you-rss2.xml",  # WordPress teasers cut with "[…]", headings flattened in
        "de-golem-rss2-iso8859-1.xml",  # tag lists of links after every teaser
        "en-guardian-world-rss2.xml",  # standfirst paragraphs, "Continue reading..."
        "en-dustri-artificialtruth-rss2.xml",  # code blocks in technical posts
        "en-googlenews-health-rss2-aggregator.xml",  # lists of other outlets' headlines
        "en-github-miniflux-commits-atom.xml",  # <pre style=...> commit messages
    ],
)
def test_real_feed_summaries_are_whole_sentences_without_furniture(name: str) -> None:
    import datetime as dt

    from digest.models import FeedSource
    from digest.sources.feeds import parse_feed
    from digest.text.clean import furniture

    path = FEEDS / name
    feed = parse_feed(path.read_bytes(), FeedSource(path=path), now=dt.datetime.now(dt.UTC))
    for article in feed.articles:
        summary = summarize(article.text, title=article.title, max_words=60)
        if summary.excerpt:
            continue
        for sentence in summary.sentences:
            assert not re.search(r"(?:…|\.\.\.|\[…\])\W*$", sentence), sentence
            assert not re.search(r"<[a-zA-Z/]|&[a-z]+;", sentence), sentence
            assert furniture(sentence, line=sentence, at_start=False, at_end=False) in (
                None,
                "label",
            )
            assert "View full coverage" not in sentence and "Continue reading" not in sentence
            assert not re.search(r"\(\w[^()]{0,30}, \w[^()]{0,30}\)$", sentence), sentence
