"""End to end: the demo config through every stage, state rules, broken feeds."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from digest.config import load_config
from digest.pipeline import build_and_write, build_digest
from digest.store import Store
from tests.conftest import write_config

# A sentence is complete when it ends in terminal punctuation (possibly before a quote).
COMPLETE = re.compile(r"[.!?…。؟۔\"”’»)\]]$")


def test_demo_digest_has_real_items_from_several_feeds(
    demo_config: Path, fixed_now: dt.datetime
) -> None:
    config = load_config(demo_config)
    output = build_and_write(config, now=fixed_now)
    digest = output.digest
    items = digest.items
    assert len(items) >= 10
    assert len({i.article.feed for i in items}) >= 3
    for item in items:
        a = item.article
        assert a.title.strip()
        assert a.feed
        assert item.summary.sentences, a.title
        for sentence in item.summary.sentences:
            assert sentence in " ".join(a.text.split()) or sentence in a.text
    languages = {i.article.feed: i.summary.language for i in items}
    assert languages["Berita Indonesia"] == "id"
    assert languages["Golem.de"] == "de"
    assert languages["Daring Fireball"] == "en"
    html = output.html_path.read_text(encoding="utf-8")
    text = output.text_path.read_text(encoding="utf-8")
    assert output.html_path.name == "2026-11-26.html"
    assert "<script" not in html.lower()
    assert (output.html_path.parent / "index.html").exists()
    assert (output.html_path.parent / "feed.xml").exists()
    # The reference article comes out without its WordPress boilerplate.
    putin = next(i for i in items if i.article.title.startswith("Putin dari Rusia"))
    joined = " ".join(putin.summary.sentences)
    assert "Home Uncategorized" not in joined and "Source link" not in joined
    assert not re.search(r"(^|\s)31\s+0(\s|$)", joined)
    assert "Putin" in text and "Source link" not in text


def test_dry_run_changes_no_state(demo_config: Path, fixed_now: dt.datetime) -> None:
    config = load_config(demo_config)
    build_and_write(config, now=fixed_now, dry_run=True)
    assert not config.state.exists()
    build_and_write(config, now=fixed_now)
    before = config.state.read_bytes()
    build_and_write(config, now=fixed_now + dt.timedelta(days=1), dry_run=True)
    assert config.state.read_bytes() == before


def test_an_article_goes_into_one_digest_only(demo_config: Path, fixed_now: dt.datetime) -> None:
    config = load_config(demo_config)
    first = build_digest(config, now=fixed_now)
    again = build_digest(config, now=fixed_now + dt.timedelta(hours=2))
    assert {i.article.id for i in again.items} == {i.article.id for i in first.items}
    tomorrow = build_digest(config, now=fixed_now + dt.timedelta(days=1))
    assert not {i.article.id for i in tomorrow.items} & {i.article.id for i in first.items}
    # A dry run of the next day never takes the morning's articles away.
    with Store(config.state) as store:
        recorded = {a.id for a, _ in store.digest_articles(first.date)}
    assert recorded == {i.article.id for i in first.items}


def test_broken_feed_files_are_problems_not_crashes(tmp_path: Path, repo: Path) -> None:
    (tmp_path / "empty.xml").write_bytes(b"")
    (tmp_path / "binary.xml").write_bytes(bytes(range(256)) * 40)
    (tmp_path / "page.xml").write_text("<html><body><p>Hello</p></body></html>")
    good = repo / "examples" / "feeds" / "en-manton-rss2.xml"
    config = load_config(
        write_config(
            tmp_path,
            {
                "feeds": [
                    {"path": "missing.xml", "name": "Missing"},
                    {"path": "empty.xml", "name": "Empty"},
                    {"path": "binary.xml", "name": "Binary"},
                    {"path": "page.xml", "name": "Page"},
                    {"path": str(good), "name": "Good", "full_text": "never"},
                ]
            },
        )
    )
    output = build_and_write(config, now=dt.datetime(2026, 11, 26, tzinfo=dt.UTC))
    problems = {p.feed: p.message for p in output.digest.problems if p.kind == "error"}
    assert set(problems) >= {"Missing", "Empty", "Binary", "Page"}, problems
    assert output.digest.items and {i.article.feed for i in output.digest.items} == {"Good"}
    html = output.html_path.read_text(encoding="utf-8")
    for name in ("Missing", "Empty", "Binary", "Page"):
        assert name in html


def test_articles_missing_title_date_link_and_text_still_render(
    tmp_path: Path, fixed_now: dt.datetime
) -> None:
    (tmp_path / "bare.xml").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Bare</title>'
        "<item><description>Only a description, nothing else at all.</description></item>"
        "<item><title>Only a title</title></item>"
        "<item><link>https://example.org/only-link</link></item>"
        "</channel></rss>",
        encoding="utf-8",
    )
    config = load_config(
        write_config(tmp_path, {"feeds": [{"path": "bare.xml", "full_text": "never"}]})
    )
    output = build_and_write(config, now=fixed_now)
    assert len(output.digest.items) == 3
    text = output.text_path.read_text(encoding="utf-8")
    assert "Only a title" in text and "Only a description" in text


def test_nothing_new_still_writes_a_page(tmp_path: Path, fixed_now: dt.datetime) -> None:
    config = load_config(write_config(tmp_path, {"title": "Empty Digest"}))
    output = build_and_write(config, now=fixed_now)
    assert output.digest.items == ()
    assert "Empty Digest" in output.html_path.read_text(encoding="utf-8")


@pytest.mark.corpus
def test_every_real_feed_builds_one_digest(
    shared_data: Path, tmp_path: Path, fixed_now: dt.datetime
) -> None:
    real = sorted((shared_data / "feeds" / "real").glob("*.*"))
    feeds = [{"path": str(p), "full_text": "never"} for p in real if p.suffix != ".md"]
    config = load_config(
        write_config(
            tmp_path,
            {"feeds": feeds, "limits": {"max_items": 200, "max_items_per_feed": 3}},
        )
    )
    digest = build_digest(config, now=fixed_now, dry_run=True)
    assert len(digest.items) >= 100
    assert not [p for p in digest.problems if p.kind == "error"]
