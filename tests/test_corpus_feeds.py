"""Every feed in ../shared/data/feeds goes through parse_feed (the code behind `digest parse`).

feedparser's own test suite (2,107 files: well-formed, ill-formed, encodings, entities) and
82 real feeds. No exception may escape except ParseError, and that only where nothing could
be read; RSS/Atom files give exactly feedparser's entry count, JSON Feeds all their items.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
from pathlib import Path

import feedparser
import pytest

from digest.errors import ParseError
from digest.models import FeedSource, ParsedFeed
from digest.sources.feeds import parse_feed

pytestmark = pytest.mark.corpus

NOW = dt.datetime(2026, 11, 26, 7, 0, tzinfo=dt.UTC)


def _data_dir() -> Path:
    env = os.environ.get("DIGEST_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"


FEEDS = _data_dir() / "feeds"
if not FEEDS.is_dir():
    pytest.skip(
        f"shared corpus not found at {FEEDS} (set DIGEST_SHARED_DATA)", allow_module_level=True
    )


def _files(sub: str) -> list[Path]:
    return sorted(p for p in (FEEDS / sub).rglob("*") if p.is_file() and p.suffix != ".md")


def _is_json(body: bytes) -> bool:
    return body.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")


def _check_articles(feed: ParsedFeed) -> list[str]:
    bad = []
    for a in feed.articles:
        if not a.id:
            bad.append("empty id")
        if a.published is not None and a.published.utcoffset() != dt.timedelta(0):
            bad.append(f"{a.id}: date not UTC")
        if a.published is not None and a.published > NOW + dt.timedelta(days=1):
            bad.append(f"{a.id}: date in the future")
        if a.link is not None and not a.link.lower().startswith(("http://", "https://")):
            bad.append(f"{a.id}: link {a.link!r} is not http(s)")
        if not isinstance(a.text, str) or "<script" in a.text.lower():
            bad.append(f"{a.id}: text not clean")
        if a.image is not None and (a.image.width < 2 or a.image.height < 2):
            bad.append(f"{a.id}: tracking pixel as image")
    return bad


def _feedparser_count(body: bytes) -> int:
    return len(feedparser.parse(io.BytesIO(body)).entries)


def _run(path: Path) -> tuple[ParsedFeed | None, list[str]]:
    body = path.read_bytes()
    source = FeedSource(path=path)
    try:
        feed = parse_feed(body, source, now=NOW)
    except ParseError as exc:
        message = str(exc)
        problems = [] if "\n" not in message else [f"{path}: multi-line ParseError"]
        if not _is_json(body) and _feedparser_count(body):
            problems.append(f"{path}: ParseError although feedparser reads entries: {message}")
        return None, problems
    problems = [f"{path}: {p}" for p in _check_articles(feed)]
    if _is_json(body):
        try:
            items = json.loads(body.decode("utf-8-sig")).get("items") or []
        except ValueError:
            items = []
        expected = sum(isinstance(i, dict) for i in items)
        if len(feed.articles) != expected:
            problems.append(f"{path}: {len(feed.articles)} articles, JSON has {expected} items")
    else:
        expected = _feedparser_count(body)
        if len(feed.articles) != expected:
            problems.append(f"{path}: {len(feed.articles)} articles, feedparser {expected}")
    return feed, problems


def test_feedparser_suite_parses_without_exceptions() -> None:
    files = _files("feedparser-tests")
    assert len(files) >= 2000
    problems: list[str] = []
    unreadable = []
    for path in files:
        feed, found = _run(path)
        problems.extend(found)
        if feed is None:
            unreadable.append(path.name)
    assert problems == []
    # Only feeds that truly hold nothing (the empty document) may be unreadable.
    assert len(unreadable) <= 3, unreadable


REAL = _files("real")


@pytest.mark.parametrize("path", REAL, ids=[p.name for p in REAL])
def test_real_feed(path: Path) -> None:
    feed, problems = _run(path)
    assert feed is not None, "a real feed must be readable"
    assert problems == []
    assert feed.articles, "every real snapshot has entries"
    assert feed.title
    # Untitled entries are named after their text; only an entry with neither stays blank.
    assert all(a.title for a in feed.articles if a.text)
    with_text = sum(bool(a.text) for a in feed.articles)
    if "untitled" not in path.name:
        assert with_text >= len(feed.articles) * 0.5 or path.name.startswith("en-hackernews")
    # Declared languages are normalised to two letters.
    assert feed.language is None or len(feed.language) == 2


def test_real_corpus_is_complete() -> None:
    assert len(REAL) == 82


def _labels() -> dict[str, str]:
    """file name -> its "body content" column in real/SOURCES.md."""
    labels = {}
    for line in (FEEDS / "real" / "SOURCES.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) > 7 and cells[0].endswith((".xml", ".json")):
            labels[cells[0]] = cells[6]
    return labels


def test_full_text_flag_matches_the_corpus_labels() -> None:
    """Teaser feeds are mostly marked as teasers, full-text feeds mostly as full text."""
    labels = _labels()
    assert len(labels) == 82
    shares: dict[str, list[bool]] = {"teaser": [], "full": []}
    for name, label in labels.items():
        path = FEEDS / "real" / name
        feed = parse_feed(path.read_bytes(), FeedSource(path=path), now=NOW)
        if label.startswith("teaser"):
            shares["teaser"].extend(a.full_text for a in feed.articles)
        elif label.startswith("full text inside"):
            shares["full"].extend(a.full_text for a in feed.articles)
    teaser = sum(shares["teaser"]) / len(shares["teaser"])
    full = sum(shares["full"]) / len(shares["full"])
    assert teaser < 0.1, teaser
    assert full > 0.7, full


def test_declared_languages_are_right() -> None:
    """Where a real feed declares its language, it is the one in the file name."""
    declared = 0
    for path in REAL:
        feed = parse_feed(path.read_bytes(), FeedSource(path=path), now=NOW)
        if feed.language is not None:
            declared += 1
            assert feed.language == path.name[:2], path.name
            assert {a.language for a in feed.articles} <= {feed.language, None}
    assert declared >= 35
