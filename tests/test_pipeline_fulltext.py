"""Teaser feeds through the whole pipeline: full text from a real loopback server."""

from __future__ import annotations

import datetime as dt
from html import escape
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from digest.config import load_config
from digest.pipeline import build_and_write, build_digest
from tests.conftest import write_config
from tests.test_extract import SEED, WP_BOILERPLATE, seed_article, wordpress_page

NOW = dt.datetime(2026, 11, 26, tzinfo=dt.UTC)


def teaser_feed(items: list[tuple[str, str, str]]) -> str:
    body = "".join(
        f"<item><title>{escape(t)}</title><link>{escape(u)}</link><guid>{escape(u)}</guid>"
        f"<pubDate>Wed, 25 Nov 2026 08:00:00 +0000</pubDate>"
        f"<description>{escape(d)} [&#8230;]</description></item>"
        for t, u, d in items
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{body}</channel></rss>'
    )


@pytest.mark.skipif(not SEED.is_file(), reason=f"reference article not found at {SEED}")
def test_teaser_feed_gets_the_full_article_without_boilerplate(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    title, paragraphs = seed_article()
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n")
    httpserver.expect_request("/putin").respond_with_data(
        wordpress_page(title, paragraphs), content_type="text/html; charset=utf-8"
    )
    (tmp_path / "feed.xml").write_text(
        teaser_feed([(title, httpserver.url_for("/putin"), "Presiden Rusia Vladimir Putin")]),
        encoding="utf-8",
    )
    # A local feed file may link to a loopback page (the SSRF guard allows it for such feeds).
    config = load_config(write_config(tmp_path, {"feeds": [{"path": "feed.xml"}]}))
    output = build_and_write(config, now=NOW)
    [item] = output.digest.items
    assert item.article.full_text and item.summary.language == "id"
    # Whole sentences within summary.max_words (60 by default), at least one.
    joined = " ".join(item.summary.sentences)
    assert 1 <= len(item.summary.sentences) <= 3
    assert len(item.summary.sentences) == 1 or len(joined.split()) <= 60
    assert "Putin" in joined
    for junk in WP_BOILERPLATE:
        assert junk not in output.rendered.text, junk
    assert "Source link" not in output.rendered.text
    pages = [r for r, _ in httpserver.log if r.path == "/putin"]
    assert len(pages) == 1
    # Rebuilding uses the store's cache: the page is not fetched again.
    build_digest(config, now=NOW + dt.timedelta(hours=1), dry_run=True)
    assert len([r for r, _ in httpserver.log if r.path == "/putin"]) == 1


def test_a_page_that_fails_is_not_fetched_on_every_build(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    for path in ("/a", "/b"):
        httpserver.expect_request(path).respond_with_data("not here", status=404)
    (tmp_path / "feed.xml").write_text(
        teaser_feed(
            [
                ("First teaser", httpserver.url_for("/a"), "Only the first words"),
                ("Second teaser", httpserver.url_for("/b"), "Other first words"),
            ]
        ),
        encoding="utf-8",
    )
    # One item per digest: the other teaser stays a candidate for the next builds.
    config = load_config(
        write_config(
            tmp_path, {"feeds": [{"path": "feed.xml"}], "limits": {"max_items_per_feed": 1}}
        )
    )

    def page_requests() -> int:
        return len([r for r, _ in httpserver.log if r.path in ("/a", "/b")])

    first = build_digest(config, now=NOW)
    assert len(first.items) == 1 and not first.items[0].article.full_text
    assert page_requests() == 2
    build_digest(config, now=NOW + dt.timedelta(hours=3))
    assert page_requests() == 2, "a failed page was fetched again within a day"
    later = build_digest(config, now=NOW + dt.timedelta(hours=30))
    assert len(later.items) == 1
    assert page_requests() == 3  # tried again after a day


def test_a_replay_never_touches_the_network(httpserver: HTTPServer, tmp_path: Path) -> None:
    from digest.pipeline import render_recorded

    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    httpserver.expect_request("/a").respond_with_data("not here", status=404)
    (tmp_path / "feed.xml").write_text(
        teaser_feed([("A teaser", httpserver.url_for("/a"), "Only the first words")]),
        encoding="utf-8",
    )
    config = load_config(write_config(tmp_path, {"feeds": [{"path": "feed.xml"}]}))
    day1 = build_digest(config, now=NOW)
    requests = len(httpserver.log)
    assert requests >= 1
    # Two days later the page is back, but a resend of day 1 mails what day 1 held.
    httpserver.clear()
    replayed, _ = render_recorded(config, date=day1.date, now=NOW + dt.timedelta(days=2))
    assert len(httpserver.log) == 0
    assert [i.article.text for i in replayed.items] == [i.article.text for i in day1.items]
