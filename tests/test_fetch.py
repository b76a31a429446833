"""fetch.py against a real HTTP server on 127.0.0.1 (pytest-httpserver, threaded)."""

from __future__ import annotations

import datetime as dt
import gzip
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from digest import __version__
from digest.models import FeedSource
from digest.sources.feeds import parse_result
from digest.sources.fetch import (
    USER_AGENT,
    backoff_delay,
    fetch_feeds,
    fetch_url,
    iter_fetch,
    parse_retry_after,
)

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


def fetch_one(src: FeedSource, **kw: object) -> object:
    (result,) = fetch_feeds([src], **kw)  # type: ignore[arg-type]
    return result


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
    assert (
        seen["ua"] == USER_AGENT == f"digest/{__version__} (+https://github.com/digest-news/digest)"
    )
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


def test_redirect_loop_is_an_error(http: HTTPServer) -> None:
    http.expect_request("/a").respond_with_data("", status=302, headers={"Location": "/b"})
    http.expect_request("/b").respond_with_data("", status=302, headers={"Location": "/a"})
    result = fetch_url(http.url_for("/a"))
    assert not result.ok and result.error is not None
    assert "redirect loop" in result.error and "\n" not in result.error


def test_too_many_redirects(http: HTTPServer) -> None:
    for i in range(10):
        http.expect_request(f"/r{i}").respond_with_data(
            "", status=302, headers={"Location": f"/r{i + 1}"}
        )
    result = fetch_url(http.url_for("/r0"), max_redirects=3)
    assert result.error is not None and "more than 3 redirects" in result.error


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


def test_slow_server_times_out(http: HTTPServer) -> None:
    def slow(request: Request) -> Response:
        time.sleep(1.0)
        return Response(RSS)

    http.expect_request("/slow").respond_with_handler(slow)
    started = time.monotonic()
    result = fetch_one(source(http, "/slow"), timeout_s=0.5)
    assert time.monotonic() - started < 0.95
    assert result.status == 0 and result.error is not None  # type: ignore[attr-defined]
    assert "no answer within 0.5 s" in result.error  # type: ignore[attr-defined]


def test_body_over_the_cap(http: HTTPServer) -> None:
    big = b"<rss>" + b"x" * 200_000 + b"</rss>"
    http.expect_request("/big").respond_with_data(big, content_type="application/rss+xml")
    result = fetch_url(http.url_for("/big"), max_bytes=100_000)
    assert result.error is not None and "larger than 100000 bytes" in result.error
    assert result.body == b""


def test_body_over_the_cap_without_content_length(http: HTTPServer) -> None:
    def chunked(request: Request) -> Response:
        def gen() -> Iterator[bytes]:
            for _ in range(40):
                yield b"y" * 10_000

        return Response(gen(), content_type="application/rss+xml")

    http.expect_request("/chunked").respond_with_handler(chunked)
    result = fetch_url(http.url_for("/chunked"), max_bytes=100_000)
    assert result.error is not None and "larger than" in result.error


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    # 200 MB of zeros in about 200 KB; a naive client would inflate all of it.
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"\0" * (1 << 20)
    parts = [compressor.compress(block) for _ in range(200)]
    parts.append(compressor.flush())
    return b"".join(parts)


def test_gzip_bomb_is_stopped_at_the_cap(http: HTTPServer, gzip_bomb: bytes) -> None:
    http.expect_request("/bomb").respond_with_data(
        gzip_bomb, headers={"Content-Encoding": "gzip"}, content_type="application/rss+xml"
    )
    import tracemalloc

    tracemalloc.start()
    try:
        result = fetch_url(http.url_for("/bomb"), max_bytes=1_000_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.error is not None and "larger than 1000000 bytes" in result.error
    assert peak < 20_000_000  # never inflated much beyond the cap


def test_gzip_and_deflate_bodies_are_decoded(http: HTTPServer) -> None:
    http.expect_request("/gz").respond_with_data(
        gzip.compress(RSS), headers={"Content-Encoding": "gzip"}
    )
    raw = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    http.expect_request("/raw-deflate").respond_with_data(
        raw.compress(RSS) + raw.flush(), headers={"Content-Encoding": "deflate"}
    )
    http.expect_request("/deflate").respond_with_data(
        zlib.compress(RSS), headers={"Content-Encoding": "deflate"}
    )
    for path in ("/gz", "/raw-deflate", "/deflate"):
        result = fetch_url(http.url_for(path))
        assert result.ok and result.body == RSS, path
        assert "content-encoding" not in result.headers


def test_broken_gzip_is_an_error(http: HTTPServer) -> None:
    http.expect_request("/bad").respond_with_data(
        b"this is not gzip", headers={"Content-Encoding": "gzip"}
    )
    result = fetch_url(http.url_for("/bad"))
    assert result.error is not None and result.error.startswith("cannot decode the response")


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
    result = fetch_one(source(http, "/blog/"))
    assert result.ok and result.body == RSS  # type: ignore[attr-defined]
    assert result.discovered_from == http.url_for("/blog/")  # type: ignore[attr-defined]
    assert result.url == http.url_for("/blog/feeds/rss.xml")  # type: ignore[attr-defined]


def test_discovered_feed_gets_the_stored_validators(http: HTTPServer) -> None:
    page = b"""<html><head><link rel="alternate" type="application/rss+xml" href="/rss">
    </head></html>"""

    def feed(request: Request) -> Response:
        if request.headers.get("If-None-Match") == '"f1"':
            return Response(b"", status=304)
        return Response(RSS, headers={"ETag": '"f1"'})

    http.expect_request("/page").respond_with_data(page, content_type="text/html")
    http.expect_request("/rss").respond_with_handler(feed)
    first = fetch_url(http.url_for("/page"))
    assert first.ok and first.headers["etag"] == '"f1"'
    second = fetch_url(http.url_for("/page"), validators=('"f1"', None))
    assert second.status == 304 and second.discovered_from == http.url_for("/page")


def test_html_page_without_feed_link_reaches_the_parser(http: HTTPServer) -> None:
    from digest.errors import ParseError

    http.expect_request("/page").respond_with_data(
        b"<!doctype html><html><body>No feed</body></html>", content_type="text/html"
    )
    result = fetch_url(http.url_for("/page"))
    assert result.ok and result.discovered_from is None
    with pytest.raises(ParseError, match="web page, not a feed"):
        parse_result(result, now=NOW)


def test_connection_refused_is_a_result() -> None:
    # Port 9 (discard) on loopback: nothing listens there in the test environment.
    result = fetch_url("http://127.0.0.1:9/feed", timeout_s=2)
    assert result.status == 0 and result.error is not None
    assert result.error.startswith("cannot connect")


def test_local_files(tmp_path: Path) -> None:
    good = tmp_path / "feed.xml"
    good.write_bytes(RSS)
    missing = FeedSource(path=tmp_path / "missing.xml")
    folder = FeedSource(path=tmp_path)
    ok, gone, wrong = fetch_feeds([FeedSource(path=good), missing, folder])
    assert ok.status == 200 and ok.body == RSS and ok.ok
    assert gone.error is not None and "file not found" in gone.error and not gone.ok
    assert wrong.error is not None and not wrong.ok
    big = fetch_feeds([FeedSource(path=good)], max_bytes=10)[0]
    assert big.error is not None and "larger than 10 bytes" in big.error


def test_order_kept_skip_and_per_host_limit(http: HTTPServer) -> None:
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
    skipped = {sources[3].key}
    results = fetch_feeds(sources, per_host=2, concurrency=8, skip=lambda s: s.key in skipped)
    assert [r.source for r in results] == sources
    assert results[3].skipped and not results[3].ok and results[3].error is None
    for i, r in enumerate(results):
        if i != 3:
            assert r.ok and f"/f{i}".encode() in r.body
    assert state["max"] == 2


def test_hosts_run_in_parallel(http: HTTPServer) -> None:
    """localhost and 127.0.0.1 are two hosts: each gets its own per-host slots."""

    def handler(request: Request) -> Response:
        time.sleep(0.2)
        return Response(RSS)

    for i in range(4):
        http.expect_request(f"/p{i}").respond_with_handler(handler)
    port = http.port
    sources = [FeedSource(url=f"http://127.0.0.1:{port}/p{i}") for i in range(2)] + [
        FeedSource(url=f"http://localhost:{port}/p{i}") for i in range(2, 4)
    ]
    started = time.monotonic()
    results = list(iter_fetch(sources, per_host=1, concurrency=4))
    elapsed = time.monotonic() - started
    assert sorted(i for i, _ in results) == [0, 1, 2, 3]
    assert all(r.ok for _, r in results), [r.error for _, r in results]
    # per_host=1 over two hosts: two rounds of 0.2 s, not four.
    assert elapsed < 0.75


def test_injected_client_is_used_and_not_closed(http: HTTPServer) -> None:
    http.expect_request("/feed").respond_with_data(RSS)
    with httpx.Client(headers={"X-Test": "1"}) as client:
        result = fetch_url(http.url_for("/feed"), client=client, user_agent="custom/1")
        assert result.ok
        assert not client.is_closed
    request, _ = http.log[-1]
    assert request.headers["User-Agent"] == "custom/1"
    assert request.headers["X-Test"] == "1"


def test_downloads_stay_bounded_ahead_of_a_slow_consumer(http: HTTPServer) -> None:
    http.expect_request("/feed").respond_with_data(RSS)
    sources = [FeedSource(url=http.url_for("/feed") + f"?n={i}") for i in range(40)]
    results = iter_fetch(sources, concurrency=4, per_host=4)
    first = next(results)
    time.sleep(0.5)  # a consumer busy parsing
    started_meanwhile = len(http.log)
    rest = list(results)
    assert first[1].ok and len(rest) == 39
    # One taken, then at most 2 x concurrency fetched and waiting: memory stays flat.
    assert started_meanwhile <= 1 + 2 * 4
    assert len(http.log) == 40


def test_check_url_guards_every_hop(http: HTTPServer) -> None:
    from digest.sources.netguard import check_url

    http.expect_request("/start").respond_with_data("", status=302, headers={"Location": "/end"})
    http.expect_request("/end").respond_with_data(RSS)
    checked: list[str] = []

    def allow_start_only(url: str) -> None:
        checked.append(url)
        if url.endswith("/end"):
            raise ValueError("private address")

    result = fetch_url(http.url_for("/start"), check_url=allow_start_only)
    assert checked == [http.url_for("/start"), http.url_for("/end")]
    assert result.error == f"refused to fetch {http.url_for('/end')}: private address"
    # The real guard refuses loopback outright.
    guarded = fetch_url(http.url_for("/end"), check_url=check_url)
    assert guarded.error is not None and guarded.error.startswith("refused to fetch")


def test_trickling_server_hits_the_total_deadline(http: HTTPServer) -> None:
    """Each chunk comes within the read timeout, but the whole body never ends in time."""

    def trickle(request: Request) -> Response:
        def gen() -> Iterator[bytes]:
            yield b"<rss>"
            for _ in range(12):
                time.sleep(0.2)
                yield b"<!-- still here -->"

        return Response(gen(), content_type="application/rss+xml")

    http.expect_request("/trickle").respond_with_handler(trickle)
    started = time.monotonic()
    result = fetch_url(http.url_for("/trickle"), timeout_s=0.5)
    assert time.monotonic() - started < 2.0
    assert result.error is not None and result.error.startswith("download took longer than 1 s")
