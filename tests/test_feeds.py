"""parse_feed: formats, identity, dates, text, images, languages, problems."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from digest.errors import ParseError
from digest.models import FeedSource, FetchResult
from digest.sources.feeds import (
    discover_feed_links,
    normalize_language,
    parse_date,
    parse_feed,
    parse_many,
)
from digest.sources.identity import canonical_url, clean_link

NOW = dt.datetime(2026, 11, 26, 7, 0, tzinfo=dt.UTC)
SRC = FeedSource(url="https://news.example.org/feed.xml", category="World", weight=2.0)

LONG = " ".join(f"Sentence number {i} of a long article body." for i in range(60))


def rss(items: str, extra: str = "") -> bytes:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:media="http://search.yahoo.com/mrss/">
<channel><title>Example News</title><link>https://news.example.org/</link>
<language>en-GB</language>{extra}
{items}
</channel></rss>""".encode()


def test_rss_basics() -> None:
    body = rss(
        """<item><title>Hello &amp; welcome</title>
        <link>https://News.Example.org/a/1?utm_source=rss&amp;id=7#top</link>
        <guid isPermaLink="true">https://news.example.org/a/1</guid>
        <pubDate>Wed, 25 Nov 2026 10:00:00 +0700</pubDate>
        <author>ed@example.org (Ed)</author>
        <description>&lt;p&gt;A &lt;b&gt;short&lt;/b&gt; teaser.&lt;/p&gt;</description></item>"""
    )
    feed = parse_feed(body, SRC, now=NOW)
    assert feed.title == "Example News" and feed.link == "https://news.example.org/"
    assert feed.language == "en" and feed.problems == ()
    (a,) = feed.articles
    assert a.title == "Hello & welcome"
    assert a.link == "https://news.example.org/a/1?id=7#top"
    assert a.id == "https://news.example.org/a/1?id=7"
    assert a.published == dt.datetime(2026, 11, 25, 3, 0, tzinfo=dt.UTC)
    assert a.published.tzinfo is dt.UTC
    assert a.text == "A short teaser."
    assert a.full_text is False
    assert (a.feed, a.feed_key, a.category, a.weight, a.language) == (
        "Example News",
        SRC.key,
        "World",
        2.0,
        "en",
    )
    assert a.author


def test_content_element_is_longest_text_and_full_text() -> None:
    body = rss(
        f"""<item><title>T</title><link>https://news.example.org/2</link>
        <description>Short teaser…</description>
        <content:encoded><![CDATA[<p>{LONG}</p><script>alert(1)</script>]]></content:encoded>
        </item>"""
    )
    (a,) = parse_feed(body, SRC, now=NOW).articles
    assert a.text.startswith("Sentence number 0") and "alert" not in a.text
    assert a.full_text is True


def test_long_description_is_full_text_but_teaser_marker_is_not() -> None:
    body = rss(
        f"""<item><title>Long</title><link>https://news.example.org/3</link>
        <description>{LONG}</description></item>
        <item><title>Teaser</title><link>https://news.example.org/4</link>
        <description>{LONG} Continue reading »</description></item>
        <item><title>Short</title><link>https://news.example.org/5</link>
        <content:encoded>Just a line.</content:encoded></item>"""
    )
    full, teaser, short = parse_feed(body, SRC, now=NOW).articles
    assert full.full_text is True
    assert teaser.full_text is False
    assert short.full_text is False


def test_dates_absent_future_and_offsets() -> None:
    body = rss(
        """<item><title>No date</title><link>https://news.example.org/n</link></item>
        <item><title>Future</title><link>https://news.example.org/f</link>
        <pubDate>Fri, 01 Jan 2100 00:00:00 GMT</pubDate></item>
        <item><title>Near future</title><link>https://news.example.org/nf</link>
        <pubDate>Thu, 26 Nov 2026 12:00:00 GMT</pubDate></item>"""
    )
    none, future, near = parse_feed(body, SRC, now=NOW).articles
    assert none.published is None
    assert future.published == NOW
    assert near.published == dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
    assert parse_date("2026-11-25T10:00:00+07:00") == dt.datetime(2026, 11, 25, 3, tzinfo=dt.UTC)
    assert parse_date("2026-11-25T10:00:00Z") == dt.datetime(2026, 11, 25, 10, tzinfo=dt.UTC)
    assert parse_date("Wed, 25 Nov 2026 10:00:00 EST") == dt.datetime(
        2026, 11, 25, 15, tzinfo=dt.UTC
    )
    assert parse_date("garbage") is None and parse_date(None) is None


def test_atom_relative_links_and_language() -> None:
    body = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="de-AT">
  <title type="html">Blog &lt;b&gt;Eins&lt;/b&gt;</title>
  <link href="/"/>
  <entry><id>tag:example.org,2026:1</id><title>Erster</title>
    <link rel="alternate" href="posts/1.html"/>
    <updated>2026-11-20T08:00:00+01:00</updated>
    <summary>Kurz.</summary></entry>
</feed>"""
    feed = parse_feed(body, FeedSource(url="https://blog.example.org/atom.xml"), now=NOW)
    assert feed.title == "Blog Eins"
    (a,) = feed.articles
    assert a.link == "https://blog.example.org/posts/1.html"
    assert a.id == "https://blog.example.org/posts/1.html"
    assert a.published == dt.datetime(2026, 11, 20, 7, 0, tzinfo=dt.UTC)
    assert a.language == "de"
    # The final URL after redirects wins over the configured one for resolving links.
    moved = parse_feed(
        body,
        FeedSource(url="https://old.example.org/x"),
        url="https://new.example.org/f/a.xml",
        now=NOW,
    )
    assert moved.articles[0].link == "https://new.example.org/f/posts/1.html"


def test_source_language_and_name_override() -> None:
    src = FeedSource(url="https://news.example.org/feed.xml", name="Mine", language="id")
    (a,) = parse_feed(rss("<item><title>x</title></item>"), src, now=NOW).articles
    assert a.language == "id" and a.feed == "Mine"
    no_lang = parse_feed(
        b'<rss version="2.0"><channel><title>T</title><item><title>x</title></item>'
        b"</channel></rss>",
        FeedSource(url="https://x.example/f"),
        headers={"Content-Language": "fr-FR"},
        now=NOW,
    )
    assert no_lang.articles[0].language == "fr"
    assert normalize_language("EN_us") == "en"
    assert normalize_language("english") is None
    assert normalize_language(None) is None


def test_ids_same_article_in_two_feeds_is_one() -> None:
    rss_body = rss(
        """<item><title>Story</title>
        <link>http://www.example.org/story?utm_medium=feed&amp;fbclid=x</link>
        <guid isPermaLink="false">12345</guid></item>"""
    )
    atom_body = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>B</title>
      <entry><id>tag:example.org,2026:story</id><title>Story</title>
      <link href="https://example.org/story#comments"/></entry></feed>"""
    a = parse_feed(rss_body, SRC, now=NOW).articles[0]
    b = parse_feed(atom_body, FeedSource(url="https://other.example/atom"), now=NOW).articles[0]
    assert a.id == b.id == "https://example.org/story"


def test_ids_fallbacks() -> None:
    body = rss(
        """<item><title>A</title><link>https://news.example.org/</link>
        <guid isPermaLink="false">1</guid></item>
        <item><title>B</title><link>https://news.example.org/</link>
        <guid isPermaLink="false">2</guid></item>
        <item><title>C</title><guid>https://news.example.org/c?gclid=1</guid></item>
        <item><title>D</title><description>No link, no guid.</description></item>
        <item><title>E</title><link>https://news.example.org/</link></item>"""
    )
    a, b, c, d, e = parse_feed(body, SRC, now=NOW).articles
    # Every entry links to the home page: the link is no identity, the guid is (per feed).
    assert a.id == f"{SRC.key}#1" and b.id == f"{SRC.key}#2"
    assert c.id == "https://news.example.org/c"
    assert d.id.startswith("sha256:") and len(d.id) == 7 + 64
    assert e.id.startswith("sha256:") and e.id != d.id
    # Stable: the same bytes give the same ids; an edited text keeps a link-based id.
    again = parse_feed(body, SRC, now=NOW).articles
    assert [x.id for x in again] == [a.id, b.id, c.id, d.id, e.id]
    edited = rss(
        "<item><title>Z</title><link>https://news.example.org/z</link>"
        "<description>v1</description></item>"
    )
    assert (
        parse_feed(edited, SRC, now=NOW).articles[0].id
        == parse_feed(edited.replace(b"v1", b"v2"), SRC, now=NOW).articles[0].id
    )


def test_canonical_url() -> None:
    assert (
        canonical_url("HTTP://WWW.Example.ORG:80/a/b?utm_source=x&q=1&mc_cid=2#frag")
        == "https://example.org/a/b?q=1"
    )
    assert canonical_url("https://example.org") == "https://example.org/"
    assert canonical_url("https://example.org:8443/x") == "https://example.org:8443/x"
    assert clean_link("https://Ex.org/p?fbclid=1#k") == "https://ex.org/p#k"
    assert clean_link("mailto:a@b") == "mailto:a@b"


def test_untitled_items_get_a_title_from_text() -> None:
    body = rss(
        f"<item><link>https://news.example.org/u</link><description>{LONG}</description></item>"
    )
    (a,) = parse_feed(body, SRC, now=NOW).articles
    assert a.title.startswith("Sentence number 0") and a.title.endswith("…")
    assert len(a.title) <= 101


def test_images_need_known_dimensions() -> None:
    body = rss(
        """<item><title>1</title><link>https://news.example.org/i1</link>
        <media:thumbnail url="https://img.example.org/t.jpg" width="320" height="180"/>
        <media:content url="https://img.example.org/big.jpg" medium="image"
          width="1200" height="675"/>
        </item>
        <item><title>2</title><link>https://news.example.org/i2</link>
        <media:content url="https://track.example.org/p.gif" medium="image" width="1" height="1"/>
        </item>
        <item><title>3</title><link>https://news.example.org/i3</link>
        <enclosure url="https://img.example.org/e.jpg" type="image/jpeg" length="100"/></item>
        <item><title>4</title><link>https://news.example.org/i4</link>
        <media:content url="https://cdn.example.org/v.mp4" medium="video" width="640" height="360"/>
        </item>"""
    )
    one, pixel, enclosure, video = parse_feed(body, SRC, now=NOW).articles
    assert one.image is not None
    assert (one.image.url, one.image.width, one.image.height) == (
        "https://img.example.org/big.jpg",
        1200,
        675,
    )
    assert pixel.image is None and enclosure.image is None and video.image is None


def test_bozo_feed_yields_entries_and_a_warning() -> None:
    body = rss(
        "<item><title>Fine</title><link>https://news.example.org/ok</link></item>"
        "<item><title>Broken & unescaped</title><link>https://news.example.org/b</link></item>"
    )
    feed = parse_feed(body, SRC, now=NOW)
    assert len(feed.articles) == 2
    (problem,) = feed.problems
    assert problem.kind == "warning" and problem.feed == "Example News"
    assert "not well-formed" in problem.message and "read 2 entries" in problem.message


def test_zero_entries_is_not_an_error() -> None:
    feed = parse_feed(rss(""), SRC, now=NOW)
    assert feed.articles == () and feed.problems == () and feed.title == "Example News"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty response"),
        (b"  \n", "empty response"),
        (b"<!DOCTYPE html><html><head><title>Home</title></head><body>x</body></html>", "web page"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "binary data"),
        (b'{"hello": "world"}', "JSON but not a JSON Feed"),
        (b"just some words", "no RSS, Atom or JSON feed"),
    ],
)
def test_nothing_readable_raises_one_line(body: bytes, message: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_feed(body, SRC, now=NOW)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_html_page_error_names_the_discovered_feed() -> None:
    page = b"""<html><head><link rel="alternate" type="application/rss+xml" href="/rss">
    </head></html>"""
    with pytest.raises(ParseError, match=r"its feed seems to be https://news\.example\.org/rss"):
        parse_feed(page, SRC, now=NOW)


JSON_FEED = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "JSON Example",
    "home_page_url": "https://json.example.org/",
    "feed_url": "https://json.example.org/feed.json",
    "language": "pt-BR",
    "items": [
        {
            "id": "https://json.example.org/p/1",
            "url": "/p/1?utm_campaign=x",
            "title": "First",
            "content_html": f"<p>{LONG}</p>",
            "summary": "Sum.",
            "date_published": "2026-11-24T09:30:00-03:00",
            "authors": [{"name": "Ana"}],
        },
        {"id": 2, "content_text": "Plain <not html> text", "date_modified": "2026-11-24T10:00:00Z"},
        {"id": "3", "external_url": "https://elsewhere.example/x", "title": "Ext"},
        "not an object",
    ],
}


def test_json_feed_1_1() -> None:
    body = json.dumps(JSON_FEED).encode()
    feed = parse_feed(body, FeedSource(url="https://json.example.org/feed.json"), now=NOW)
    assert feed.title == "JSON Example" and feed.link == "https://json.example.org/"
    assert feed.language == "pt"
    first, second, third = feed.articles
    assert first.link == "https://json.example.org/p/1"
    assert first.id == "https://json.example.org/p/1"
    assert first.published == dt.datetime(2026, 11, 24, 12, 30, tzinfo=dt.UTC)
    assert first.full_text and first.text.startswith("Sentence number 0")
    assert first.author == "Ana" and first.language == "pt"
    assert second.text == "Plain <not html> text"
    assert second.id == "https://json.example.org/feed.json#2"
    assert second.published == dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC)
    assert third.link == "https://elsewhere.example/x"
    assert [p.kind for p in feed.problems] == ["warning"]


def test_json_feed_1_0_with_bom_and_author() -> None:
    data = {
        "version": "https://jsonfeed.org/version/1",
        "title": "Old",
        "items": [{"id": "a", "url": "https://j.example/a", "author": {"name": "Bo"}}],
    }
    body = b"\xef\xbb\xbf" + json.dumps(data).encode()
    (a,) = parse_feed(body, FeedSource(path=Path("/tmp/j.json")), now=NOW).articles
    assert a.author == "Bo" and a.id == "https://j.example/a" and a.title == ""


def test_discover_feed_links() -> None:
    page = b"""<html><head><base href="https://cdn.example.org/site/">
    <link rel="alternate" type="application/feed+json" href="feed.json">
    <link rel="alternate stylesheet" type="text/css" href="x.css">
    <link rel="Alternate" type="application/atom+xml" href="atom.xml">
    <link rel="alternate" type="application/rss+xml" href="https://example.org/rss">
    <link rel="alternate" type="application/rss+xml" href="https://example.org/rss">
    <link rel="alternate" type="text/html" hreflang="de" href="/de/">
    </head><body></body></html>"""
    assert discover_feed_links(page, "https://example.org/") == [
        "https://example.org/rss",
        "https://cdn.example.org/site/atom.xml",
        "https://cdn.example.org/site/feed.json",
    ]
    assert discover_feed_links(b"<html>nothing</html>", "https://example.org/") == []
    assert discover_feed_links(b"\xff\xfe<<<>>>", "https://example.org/") == []


def test_parse_many_in_processes_equals_in_process() -> None:
    bodies = [
        rss(f"<item><title>T{i}</title><link>https://x.example/{i}</link></item>") for i in range(6)
    ]
    results = [
        FetchResult(source=FeedSource(url=f"https://x.example/feed{i}"), status=200, body=b)
        for i, b in enumerate(bodies)
    ]
    results.insert(
        2, FetchResult(source=FeedSource(url="https://x.example/bad"), status=200, body=b"")
    )
    results.insert(4, FetchResult(source=FeedSource(url="https://x.example/304"), status=304))
    serial = list(parse_many(results, now=NOW, workers=1))
    parallel = list(parse_many(iter(results), now=NOW, workers=2))
    assert [r.source for r, _ in serial] == [r.source for r in results if r.status == 200]
    assert len(serial) == len(parallel) == 7  # the 304 is skipped
    assert isinstance(serial[2][1], ParseError)
    by_source = {r.source: o for r, o in parallel}
    assert isinstance(by_source[results[2].source], ParseError)
    for result, outcome in serial:
        if not isinstance(outcome, ParseError):
            assert by_source[result.source] == outcome
    # The caller gets its own result objects back (pipelines key them by identity).
    assert {id(r) for r, _ in parallel} <= {id(r) for r in results}


def test_non_http_links_never_reach_articles() -> None:
    body = rss(
        """<item><title>X</title><link>javascript:alert(1)</link>
        <guid isPermaLink="false">x1</guid></item>"""
    )
    (a,) = parse_feed(body, SRC, now=NOW).articles
    assert a.link is None and a.id == f"{SRC.key}#x1"


def test_plain_text_is_not_taken_for_markup() -> None:
    body = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>F</title>
      <entry><id>tag:x,2026:1</id><title type="text">1 &lt; 2 &lt;b&gt; ok</title>
      <summary type="text">if a &lt; b then &lt;p&gt; stays</summary></entry></feed>"""
    (a,) = parse_feed(body, SRC, now=NOW).articles
    assert a.title == "1 < 2 <b> ok"
    assert a.text == "if a < b then <p> stays"


def test_default_workers() -> None:
    from digest.sources.feeds import default_workers

    assert default_workers(5) == 1
    assert 1 <= default_workers(1000) <= 8
