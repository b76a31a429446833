"""Feed fetching (digest.sources.fetch, discovery in digest.sources.intake) against real
servers on loopback: validators, what each status means for a feed, Retry-After and back-off,
local files, discovery, and the address guard on a feed configured by a public URL."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from digest.models import FeedSource, FetchResult
from digest.sources import fetch as fetch_mod
from digest.sources.feeds import parse_result
from digest.sources.fetch import backoff_delay, parse_retry_after
from digest.sources.http import Http
from digest.sources.intake import FeedProbe, probe_feeds
from tests.conftest import public_policy, public_resolve, public_url

NOW = dt.datetime(2026, 11, 26, 7, 0, tzinfo=dt.UTC)

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Test feed</title><link>http://example.org/</link>
<item><title>First</title><link>http://example.org/1</link><guid>http://example.org/1</guid>
<description>One.</description></item>
<item><title>Second</title><link>http://example.org/2</link><description>Two.</description>
</item></channel></rss>
"""


@pytest.fixture(scope="module")
def server() -> Iterator[HTTPServer]:
    srv = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    srv.start()
    yield srv
    srv.clear()
    if srv.is_running():
        srv.stop()


@pytest.fixture
def http(server: HTTPServer) -> Iterator[HTTPServer]:
    server.clear()
    yield server
    server.clear()


def source(server: HTTPServer, path: str, **kw: object) -> FeedSource:
    return FeedSource(url=server.url_for(path), **kw)  # type: ignore[arg-type]


def fetch_feeds(sources: list[FeedSource], **kw: object) -> list[FetchResult]:
    validators = kw.pop("validators", None)
    with Http(**kw) as http:  # type: ignore[arg-type]
        return fetch_mod.fetch_feeds(http, sources, validators=validators)  # type: ignore[arg-type]


def fetch_one(src: FeedSource, **kw: object) -> FetchResult:
    (result,) = fetch_feeds([src], **kw)
    return result


def fetch_url(
    url: str, validators: tuple[str | None, str | None] = (None, None), **kw: object
) -> FetchResult:
    """A feed on loopback, configured by its address: private addresses are allowed."""
    with Http(**kw) as http:  # type: ignore[arg-type]
        return fetch_mod.fetch_url(http, url, validators=validators, private_ok=True)


def check(src: FeedSource, **kw: object) -> FeedProbe:
    """A feed read the way a build reads it: discovery and parsing included."""
    with Http(**kw) as http:  # type: ignore[arg-type]
        [one] = probe_feeds([src], http=http, allow_private=False, now=NOW)
    return one


def test_200_returns_body_lowercased_headers_and_user_agent(http: HTTPServer) -> None:
    seen: dict[str, str] = {}

    def handler(request: Request) -> Response:
        seen["ua"] = request.headers.get("User-Agent", "")
        return Response(
            RSS,
            content_type="application/rss+xml; charset=utf-8",
            headers={"ETag": '"v1"', "Last-Modified": "Wed, 25 Nov 2026 10:00:00 GMT"},
        )

    http.expect_request("/feed.xml").respond_with_handler(handler)
    (result,) = fetch_feeds([source(http, "/feed.xml")])
    assert result.ok and result.status == 200 and result.error is None
    assert result.body == RSS
    assert result.headers["etag"] == '"v1"'
    assert result.headers["last-modified"] == "Wed, 25 Nov 2026 10:00:00 GMT"
    assert result.headers["content-type"].startswith("application/rss+xml")
    assert result.url == http.url_for("/feed.xml")
    assert seen["ua"].startswith("digest/")
    parsed = parse_result(result, now=NOW)
    assert [a.title for a in parsed.articles] == ["First", "Second"]


def test_conditional_get_304_on_matching_validator(http: HTTPServer) -> None:
    def handler(request: Request) -> Response:
        if request.headers.get("If-None-Match") == '"v1"' or (
            request.headers.get("If-Modified-Since") == "Wed, 25 Nov 2026 10:00:00 GMT"
        ):
            return Response(b"", status=304, headers={"ETag": '"v1"'})
        return Response(RSS, content_type="application/rss+xml", headers={"ETag": '"v1"'})

    http.expect_request("/feed.xml").respond_with_handler(handler)
    src = source(http, "/feed.xml")
    url = http.url_for("/feed.xml")
    (cold,) = fetch_feeds([src])
    warm_etag = fetch_url(url, validators=('"v1"', None))
    warm_date = fetch_url(url, validators=(None, "Wed, 25 Nov 2026 10:00:00 GMT"))
    changed = fetch_url(url, validators=('"v0"', None))
    assert cold.status == 200 and cold.body == RSS
    assert warm_etag.status == 304 and warm_etag.body == b"" and warm_etag.error is None
    assert not warm_etag.ok  # nothing to parse
    assert warm_date.status == 304
    assert changed.status == 200 and changed.body == RSS
    # fetch_feeds looks validators up by source.key
    (again,) = fetch_feeds([src], validators={src.key: ('"v1"', None)})
    assert again.status == 304


@pytest.mark.parametrize("code", [301, 308])
def test_permanent_redirect_reports_new_url(http: HTTPServer, code: int) -> None:
    http.expect_request("/old").respond_with_data("", status=code, headers={"Location": "/new"})
    http.expect_request("/new").respond_with_data(RSS, content_type="application/rss+xml")
    result = fetch_one(source(http, "/old"))
    assert result.status == 200 and result.body == RSS  # type: ignore[attr-defined]
    assert result.url == http.url_for("/new")  # type: ignore[attr-defined]
    assert result.permanent_redirect == http.url_for("/new")  # type: ignore[attr-defined]


def test_temporary_redirect_keeps_stored_url(http: HTTPServer) -> None:
    http.expect_request("/perm").respond_with_data("", status=301, headers={"Location": "/tmp"})
    http.expect_request("/tmp").respond_with_data("", status=302, headers={"Location": "/final"})
    http.expect_request("/final").respond_with_data(RSS)
    result = fetch_url(http.url_for("/perm"))
    assert result.ok and result.url == http.url_for("/final")
    # Only the permanent hop counts: the feed now lives at /tmp, which redirects for now.
    assert result.permanent_redirect == http.url_for("/tmp")
    only_temp = fetch_url(http.url_for("/tmp"))
    assert only_temp.ok and only_temp.permanent_redirect is None


def test_404_says_what_to_do(http: HTTPServer) -> None:
    http.expect_request("/gone").respond_with_data("nope", status=404)
    result = fetch_one(source(http, "/gone"))
    assert result.status == 404  # type: ignore[attr-defined]
    assert result.error == "HTTP 404 Not Found: check the URL or remove the feed"  # type: ignore[attr-defined]


def test_410_is_an_error_with_its_status(http: HTTPServer) -> None:
    http.expect_request("/gone").respond_with_data("", status=410)
    result = fetch_url(http.url_for("/gone"))
    assert result.status == 410 and not result.ok
    assert result.error is not None and result.error.startswith("HTTP 410 Gone")
    assert "remove it" in result.error


@pytest.mark.parametrize("code", [429, 503])
def test_retry_after_seconds(http: HTTPServer, code: int) -> None:
    http.expect_request("/busy").respond_with_data("", status=code, headers={"Retry-After": "120"})
    result = fetch_url(http.url_for("/busy"))
    assert result.status == code and result.retry_after_s == 120.0
    assert result.error is not None and "120 s" in result.error
    assert backoff_delay(1, result.retry_after_s) == dt.timedelta(hours=1)
    assert backoff_delay(0, result.retry_after_s) == dt.timedelta(seconds=120)


def test_retry_after_http_date() -> None:
    now = dt.datetime(2026, 11, 26, 7, 0, tzinfo=dt.UTC)
    assert parse_retry_after("Thu, 26 Nov 2026 07:10:00 GMT", now=now) == 600.0
    assert parse_retry_after("Thu, 26 Nov 2026 06:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None) is None


def test_backoff_is_exponential_and_capped() -> None:
    hours = [backoff_delay(n, None).total_seconds() / 3600 for n in range(0, 8)]
    assert hours == [0, 1, 2, 4, 8, 16, 24, 24]
    assert backoff_delay(50, None) == dt.timedelta(hours=24)
    assert backoff_delay(2, 3 * 3600 * 24) == dt.timedelta(days=3)


def test_wrong_content_type_still_parses_with_a_warning(http: HTTPServer) -> None:
    http.expect_request("/feed").respond_with_data(RSS, content_type="text/html")
    result = fetch_url(http.url_for("/feed"))
    assert result.ok and result.discovered_from is None
    parsed = parse_result(result, now=NOW)
    assert len(parsed.articles) == 2
    assert [p.kind for p in parsed.problems] == ["warning"]
    assert "content type" in parsed.problems[0].message


def test_invalid_utf8_still_parses(http: HTTPServer) -> None:
    body = RSS.replace(b"One.", b"Caf\xe9 \xff\xfe broken")
    http.expect_request("/feed").respond_with_data(
        body, content_type="application/rss+xml; charset=utf-8"
    )
    result = fetch_url(http.url_for("/feed"))
    assert result.ok
    parsed = parse_result(result, now=NOW)
    assert len(parsed.articles) == 2
    assert parsed.problems and parsed.problems[0].kind == "warning"


def test_html_page_with_alternate_link_is_followed(http: HTTPServer) -> None:
    page = b"""<!DOCTYPE html><html><head><title>Blog</title>
    <link rel="alternate" type="application/atom+xml" href="/atom.xml">
    <link rel="alternate" type="application/rss+xml" title="RSS" href="feeds/rss.xml">
    </head><body>Hello</body></html>"""
    http.expect_request("/blog/").respond_with_data(page, content_type="text/html")
    http.expect_request("/blog/feeds/rss.xml").respond_with_data(
        RSS, content_type="application/rss+xml"
    )
    found = check(source(http, "/blog/"))
    assert found.parsed is not None and len(found.parsed.articles) == 2
    assert found.result.discovered_from == http.url_for("/blog/")
    assert found.result.url == http.url_for("/blog/feeds/rss.xml")


def test_discovered_feed_gets_the_stored_validators(http: HTTPServer) -> None:
    page = b"""<html><head><link rel="alternate" type="application/rss+xml" href="/rss">
    </head></html>"""

    def feed(request: Request) -> Response:
        if request.headers.get("If-None-Match") == '"f1"':
            return Response(b"", status=304)
        return Response(RSS, headers={"ETag": '"f1"'})

    http.expect_request("/page").respond_with_data(page, content_type="text/html")
    http.expect_request("/rss").respond_with_handler(feed)
    from digest.sources.intake import _discovery

    src = source(http, "/page")
    with Http() as client:
        follow = _discovery(client, {src.key: ('"f1"', None)}, allow_private=False)
        first = follow(fetch_mod.fetch_url(client, src.key, source=src, private_ok=True))
    assert first.status == 304 and first.discovered_from == http.url_for("/page")


def test_html_page_without_feed_link_reaches_the_parser(http: HTTPServer) -> None:
    from digest.errors import ParseError

    http.expect_request("/page").respond_with_data(
        b"<!doctype html><html><body>No feed</body></html>", content_type="text/html"
    )
    result = fetch_url(http.url_for("/page"))
    assert result.ok and result.discovered_from is None
    with pytest.raises(ParseError, match="web page, not a feed"):
        parse_result(result, now=NOW)


def test_local_files(tmp_path: Path) -> None:
    good = tmp_path / "feed.xml"
    good.write_bytes(RSS)
    missing = FeedSource(path=tmp_path / "missing.xml")
    folder = FeedSource(path=tmp_path)
    ok, gone, wrong = fetch_feeds([FeedSource(path=good), missing, folder])
    assert ok.status == 200 and ok.body == RSS and ok.ok
    assert gone.error is not None and "file not found" in gone.error and not gone.ok
    assert wrong.error is not None and not wrong.ok
    big = fetch_feeds([FeedSource(path=good)], max_bytes=10)[0]  # noqa: RUF100
    assert big.error is not None and "larger than 10 bytes" in big.error


def test_order_kept_and_per_host_limit(http: HTTPServer) -> None:
    lock = threading.Lock()
    state = {"now": 0, "max": 0}

    def handler(request: Request) -> Response:
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        time.sleep(0.15)
        with lock:
            state["now"] -= 1
        return Response(RSS.replace(b"Test feed", request.path.encode()))

    for i in range(8):
        http.expect_request(f"/f{i}").respond_with_handler(handler)
    sources = [source(http, f"/f{i}") for i in range(8)]
    results = fetch_feeds(sources, per_host=2, concurrency=8)
    assert [r.source for r in results] == sources
    for i, r in enumerate(results):
        assert r.ok and f"/f{i}".encode() in r.body
    assert state["max"] == 2


# --- a feed configured by a public URL is under the same guard as article links ----------


@pytest.mark.parametrize("code", [301, 302])
def test_public_feed_redirect_to_loopback_is_refused(
    public_server: HTTPServer, http: HTTPServer, code: int
) -> None:
    http.expect_request("/internal.xml").respond_with_data(RSS)
    public_server.expect_request("/feed.xml").respond_with_data(
        "", status=code, headers={"Location": http.url_for("/internal.xml")}
    )
    src = FeedSource(url=public_url(public_server, "/feed.xml"))
    with Http(resolve=public_resolve, is_public=public_policy) as client:
        result = fetch_mod.fetch_source(client, src, private=fetch_mod.private_ok(src))
    assert result.error is not None and "non-public address" in result.error
    # The stored URL never moves to a non-public address: there is nothing to store.
    assert result.permanent_redirect is None
    assert http.log == []


def test_public_page_announcing_a_loopback_feed_is_refused(
    public_server: HTTPServer, http: HTTPServer
) -> None:
    http.expect_request("/internal.xml").respond_with_data(RSS)
    page = f"""<html><head><link rel="alternate" type="application/rss+xml"
    href="{http.url_for("/internal.xml")}"></head><body>hi</body></html>""".encode()
    public_server.expect_request("/").respond_with_data(page, content_type="text/html")
    src = FeedSource(url=public_url(public_server, "/"))
    found = check(src, resolve=public_resolve, is_public=public_policy)
    assert found.parsed is None and found.error is not None
    assert "non-public address" in found.error
    assert http.log == []


def test_feeds_configured_by_a_private_address_or_a_path_are_exempt(tmp_path: Path) -> None:
    assert fetch_mod.private_ok(FeedSource(url="http://127.0.0.1:8080/feed"))
    assert fetch_mod.private_ok(FeedSource(url="http://[::1]/feed"))
    assert fetch_mod.private_ok(FeedSource(url="http://192.168.1.10/rss"))
    assert fetch_mod.private_ok(FeedSource(url="http://localhost/rss"))
    assert fetch_mod.private_ok(FeedSource(path=tmp_path / "feed.xml"))
    # A name is whatever its DNS says: it is guarded, unless fetch.allow_private.
    assert not fetch_mod.private_ok(FeedSource(url="http://intranet.example/rss"))
    assert fetch_mod.private_ok(FeedSource(url="http://intranet.example/rss"), True)
    assert not fetch_mod.private_ok(FeedSource(url="https://93.184.216.34/rss"))


def test_an_unchanged_local_file_is_not_modified(tmp_path: Path) -> None:
    feed = tmp_path / "feed.xml"
    feed.write_bytes(RSS)
    source = FeedSource(path=feed)
    first = fetch_mod.read_local(source)
    assert first.status == 200 and first.body == RSS
    etag = first.headers["etag"]
    again = fetch_mod.read_local(source, validators=(etag, None))
    assert again.status == 304 and again.body == b"" and not again.ok
    # The same size written at once: the bytes decide, not the clock.
    feed.write_bytes(RSS.replace(b"One.", b"Uno."))
    changed = fetch_mod.read_local(source, validators=(etag, None))
    assert changed.status == 200 and changed.headers["etag"] != etag
