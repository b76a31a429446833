"""Feed health and conditional GET, end to end through the real pipeline.

A real HTTP server on 127.0.0.1 (pytest-httpserver, threaded so one slow handler cannot hold
up the others), the real store in tmp_path, and an injected clock: each "run" below is
``build_digest`` or ``fetch_and_store`` at a later ``now``. What the server saw is asserted
from its request log, what the reader sees from ``Digest.problems`` and ``Digest.items``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from digest.config import Config, load_config, parse_config
from digest.models import Digest, FeedProblem
from digest.pipeline import build_digest, fetch_and_store
from digest.store import FeedState, Store
from tests.conftest import write_config

T0 = dt.datetime(2026, 11, 26, 0, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)
ETAG = '"v1-abc"'
LAST_MODIFIED = "Wed, 25 Nov 2026 22:00:00 GMT"


@pytest.fixture(scope="module")
def server() -> Iterator[HTTPServer]:
    srv = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    srv.start()
    yield srv
    srv.clear()
    if srv.is_running():
        srv.stop()


@pytest.fixture
def httpserver(server: HTTPServer) -> Iterator[HTTPServer]:
    """This module's server on 127.0.0.1, with no handlers and an empty request log."""
    server.clear()
    yield server
    server.clear()


# Distinct words per item, so the editorial step never merges two test stories into one.
_VOCABULARY = """
harbour ferry storm pier gulls lantern tide rope anchor sailor
orchard apple cider ladder basket frost blossom beehive honey meadow
library archive ledger scroll candle quill parchment vault index atlas
railway signal tunnel carriage platform whistle timetable junction freight depot
"""
_WORDS = tuple(_VOCABULARY.split())


def rss(title: str, items: list[tuple[str, str]]) -> bytes:
    """An RSS 2.0 feed whose items are (guid slug, title), each with text of its own."""
    entries = []
    for g, t in items:
        digest = hashlib.sha256(f"{g} {t}".encode()).digest()
        words = [_WORDS[b % len(_WORDS)] for b in digest[:12]]
        text = f"{t}: {' '.join(words[:6])}. Then {' '.join(words[6:])} again."
        entries.append(
            f"<item><title>{t}</title><link>http://example.org/{g}</link>"
            f"<guid>http://example.org/{g}</guid>"
            f"<pubDate>Wed, 25 Nov 2026 20:00:00 GMT</pubDate>"
            f"<description>{text}</description></item>"
        )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{title}</title><link>http://example.org/</link>{''.join(entries)}"
        f"</channel></rss>"
    ).encode()


def feed_response(body: bytes, **headers: str) -> Response:
    return Response(body, status=200, headers={"Content-Type": "application/rss+xml", **headers})


def make_config(tmp_path: Path, feeds: list[dict[str, Any]], **extra: Any) -> Config:
    data: dict[str, Any] = {
        "title": "Health",
        "timezone": "UTC",
        "feeds": [{"full_text": "never", **f} for f in feeds],
        "fetch": {"timeout_s": 2},
        **extra,
    }
    return parse_config(data, tmp_path)


def state_of(config: Config, key: str) -> FeedState:
    with Store(config.state) as store:
        state = store.feed_state(key)
    assert state is not None, f"no feed state stored for {key}"
    return state


def problems_for(digest: Digest, feed: str) -> list[FeedProblem]:
    return [p for p in digest.problems if p.feed == feed]


def titles(digest: Digest) -> set[str]:
    return {item.article.title for item in digest.items}


def paths_seen(server: HTTPServer) -> list[str]:
    return [request.path for request, _ in server.log]


# --- 1. conditional GET ------------------------------------------------------------------


def test_validators_are_stored_sent_and_a_304_keeps_them(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    url = httpserver.url_for("/feed.xml")
    config = make_config(tmp_path, [{"url": url, "name": "Cond"}])
    body = rss("Cond", [("a1", "Alpha story"), ("a2", "Beta story")])
    httpserver.expect_oneshot_request("/feed.xml").respond_with_response(
        feed_response(body, ETag=ETAG, **{"Last-Modified": LAST_MODIFIED})
    )

    first = build_digest(config, now=T0)
    assert titles(first) == {"Alpha story", "Beta story"}
    assert first.problems == ()
    state = state_of(config, url)
    assert (state.etag, state.last_modified) == (ETAG, LAST_MODIFIED)
    assert state.last_success == T0 and state.consecutive_failures == 0
    [(request, _)] = httpserver.log
    assert "If-None-Match" not in request.headers
    assert "If-Modified-Since" not in request.headers

    # The server answers 304 only to the right validators, so a wrong or missing one would
    # surface as a 500 ("no handler") and a failure problem below.
    httpserver.clear()
    httpserver.expect_oneshot_request(
        "/feed.xml", headers={"If-None-Match": ETAG, "If-Modified-Since": LAST_MODIFIED}
    ).respond_with_response(Response(b"", status=304, headers={"ETag": ETAG}))

    second = build_digest(config, now=T0 + DAY)
    [(request, response)] = httpserver.log
    assert request.headers["If-None-Match"] == ETAG
    assert request.headers["If-Modified-Since"] == LAST_MODIFIED
    assert response.status_code == 304
    assert second.problems == ()
    assert second.items == (), "articles of yesterday's digest came back after a 304"
    assert second.stats.articles_seen == 0 and second.stats.articles_new == 0

    state = state_of(config, url)
    assert (state.etag, state.last_modified) == (ETAG, LAST_MODIFIED)
    assert state.last_success == T0 + DAY

    # The first run's articles are still stored, with their first-seen time of day 1.
    with Store(config.state) as store:
        first_ids = [item.article.id for item in first.items]
        assert store.first_seen(first_ids) == dict.fromkeys(first_ids, T0)


def test_a_304_reports_not_modified_and_parses_nothing(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    url = httpserver.url_for("/feed.xml")
    config = make_config(tmp_path, [{"url": url, "name": "Cond"}])
    httpserver.expect_oneshot_request("/feed.xml").respond_with_response(
        feed_response(rss("Cond", [("a1", "Alpha story")]), ETag=ETAG)
    )
    [report] = fetch_and_store(config, now=T0)
    assert (report.status, report.entries, report.new) == ("ok", 1, 1)

    httpserver.clear()
    # A body that is not a feed at all: were a 304 parsed, this would be an error.
    httpserver.expect_oneshot_request(
        "/feed.xml", headers={"If-None-Match": ETAG}
    ).respond_with_data(b"\x00\x01 not a feed", status=304)
    [report] = fetch_and_store(config, now=T0 + HOUR)
    assert [r.status_code for _, r in httpserver.log] == [304]
    assert (report.status, report.entries, report.new, report.error) == (
        "not modified",
        0,
        0,
        None,
    )


def test_rebuilding_the_same_date_after_a_304_keeps_its_items(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    url = httpserver.url_for("/feed.xml")
    config = make_config(tmp_path, [{"url": url, "name": "Cond"}])
    httpserver.expect_oneshot_request("/feed.xml").respond_with_response(
        feed_response(rss("Cond", [("a1", "Alpha story"), ("a2", "Beta story")]), ETag=ETAG)
    )
    first = build_digest(config, now=T0)
    httpserver.clear()
    httpserver.expect_oneshot_request(
        "/feed.xml", headers={"If-None-Match": ETAG}
    ).respond_with_data(b"", status=304)
    again = build_digest(config, now=T0 + HOUR)
    assert len(httpserver.log) == 1
    assert again.date == first.date
    assert titles(again) == titles(first) == {"Alpha story", "Beta story"}
    assert again.problems == ()


def test_a_new_etag_replaces_the_old_one(httpserver: HTTPServer, tmp_path: Path) -> None:
    url = httpserver.url_for("/feed.xml")
    config = make_config(tmp_path, [{"url": url, "name": "Cond"}])
    httpserver.expect_oneshot_request("/feed.xml").respond_with_response(
        feed_response(rss("Cond", [("a1", "Alpha story")]), ETag=ETAG)
    )
    build_digest(config, now=T0)
    httpserver.expect_oneshot_request("/feed.xml").respond_with_response(
        feed_response(rss("Cond", [("a1", "Alpha story"), ("a2", "Beta story")]), ETag='"v2"')
    )
    second = build_digest(config, now=T0 + DAY)
    assert titles(second) == {"Beta story"}, "only the new article, the old one not repeated"
    assert state_of(config, url).etag == '"v2"'
    assert state_of(config, url).last_modified is None


# --- 2. permanent redirects --------------------------------------------------------------


@pytest.mark.parametrize("code", [301, 308])
def test_a_permanent_redirect_moves_the_stored_url_but_not_the_feed_key(
    httpserver: HTTPServer, tmp_path: Path, code: int
) -> None:
    old = httpserver.url_for("/old.xml")
    new = httpserver.url_for("/new.xml")
    config = make_config(tmp_path, [{"url": old, "name": "Moved"}])
    httpserver.expect_oneshot_request("/old.xml").respond_with_data(
        b"", status=code, headers={"Location": new}
    )
    httpserver.expect_oneshot_request("/new.xml").respond_with_response(
        feed_response(rss("Moved", [("m1", "Moved story one")]), ETag=ETAG)
    )

    first = build_digest(config, now=T0)
    assert paths_seen(httpserver) == ["/old.xml", "/new.xml"]
    assert titles(first) == {"Moved story one"}
    assert {item.article.feed_key for item in first.items} == {old}
    assert first.problems == ()
    state = state_of(config, old)
    assert state.url == new and state.etag == ETAG

    # Only the new path is served now: asking the old one again would get a 500.
    httpserver.clear()
    httpserver.expect_oneshot_request(
        "/new.xml", headers={"If-None-Match": ETAG}
    ).respond_with_response(
        feed_response(
            rss("Moved", [("m1", "Moved story one"), ("m2", "Moved story two")]), ETag='"v2"'
        )
    )
    second = build_digest(config, now=T0 + DAY)
    assert paths_seen(httpserver) == ["/new.xml"]
    assert second.problems == ()
    assert titles(second) == {"Moved story two"}
    assert {item.article.feed_key for item in second.items} == {old}
    state = state_of(config, old)
    assert state.url == new and state.etag == '"v2"'


@pytest.mark.parametrize("code", [302, 307])
def test_a_temporary_redirect_keeps_the_configured_url(
    httpserver: HTTPServer, tmp_path: Path, code: int
) -> None:
    old = httpserver.url_for("/feed.xml")
    config = make_config(tmp_path, [{"url": old, "name": "Temp"}])
    for _ in range(2):
        httpserver.expect_oneshot_request("/feed.xml").respond_with_data(
            b"", status=code, headers={"Location": httpserver.url_for("/elsewhere.xml")}
        )
    httpserver.expect_request("/elsewhere.xml").respond_with_response(
        feed_response(rss("Temp", [("t1", "Temporary story")]))
    )
    first = build_digest(config, now=T0)
    assert titles(first) == {"Temporary story"}
    assert state_of(config, old).url == old
    build_digest(config, now=T0 + DAY)
    assert paths_seen(httpserver) == ["/feed.xml", "/elsewhere.xml"] * 2


# --- 3. 410 Gone -------------------------------------------------------------------------


def test_410_disables_the_feed_and_says_so_once(httpserver: HTTPServer, tmp_path: Path) -> None:
    url = httpserver.url_for("/feed.xml")
    config = make_config(tmp_path, [{"url": url, "name": "Gone"}])
    httpserver.expect_request("/feed.xml").respond_with_data(b"gone", status=410)

    first = build_digest(config, now=T0)
    [problem] = problems_for(first, "Gone")
    assert problem.kind == "gone"
    assert "410" in problem.message and "remove it from your feeds" in problem.message
    state = state_of(config, url)
    assert state.disabled and state.consecutive_failures == 1
    assert len(httpserver.log) == 1

    # Later runs, even long after any backoff would have ended: no request, no message.
    for later in (T0 + DAY, T0 + 30 * DAY):
        digest = build_digest(config, now=later)
        assert problems_for(digest, "Gone") == []
        assert digest.problems == ()
    [report] = fetch_and_store(config, now=T0 + 60 * DAY)
    assert report.status == "disabled (410 Gone)"
    assert len(httpserver.log) == 1, "a feed disabled by 410 was contacted again"


def test_410_after_earlier_failures_still_says_the_feed_is_gone(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    url = httpserver.url_for("/feed.xml")
    config = make_config(tmp_path, [{"url": url, "name": "Dying"}])
    httpserver.expect_oneshot_request("/feed.xml").respond_with_data(b"", status=500)
    day1 = build_digest(config, now=T0)
    assert [p.kind for p in problems_for(day1, "Dying")] == ["error"]

    httpserver.expect_oneshot_request("/feed.xml").respond_with_data(b"", status=410)
    day2 = build_digest(config, now=T0 + DAY)
    assert len(httpserver.log) == 2
    assert state_of(config, url).disabled
    # The reader must learn once that the feed is gone for good; it is never retried and
    # never mentioned again after this run.
    [problem] = problems_for(day2, "Dying")
    assert "410" in problem.message


# --- 4. failing, backing off, recovering ---------------------------------------------


def test_failure_is_reported_in_full_once_then_briefly_then_recovery_once(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    url = httpserver.url_for("/feed.xml")
    config = make_config(tmp_path, [{"url": url, "name": "Flaky"}])
    httpserver.expect_oneshot_request("/feed.xml").respond_with_data(b"oops", status=500)

    # Day 1: the full error.
    day1 = build_digest(config, now=T0)
    [problem] = problems_for(day1, "Flaky")
    assert problem.kind == "error"
    assert problem.message.startswith("HTTP 500 Internal Server Error")
    assert "retries later" in problem.message
    state = state_of(config, url)
    assert state.consecutive_failures == 1 and state.failing_since == T0
    assert state.last_error == problem.message and state.last_success is None
    assert state.next_attempt is not None and state.next_attempt > T0
    assert len(httpserver.log) == 1

    # Rebuilding day 1 during the backoff: the server is left alone, and the digest of the
    # same date keeps its full line (a rebuild is the same digest plus what arrived).
    again = build_digest(config, now=state.next_attempt - dt.timedelta(seconds=1))
    assert len(httpserver.log) == 1, "a feed in backoff was contacted"
    assert problems_for(again, "Flaky") == [problem]
    assert state_of(config, url) == state, "a skipped feed's health record changed"

    # Hourly fetches in between (cron) do not use up what the next digest must say.
    httpserver.expect_oneshot_request("/feed.xml").respond_with_data(b"oops", status=500)
    fetch_and_store(config, now=state.next_attempt + dt.timedelta(seconds=1))
    assert len(httpserver.log) == 2
    state = state_of(config, url)

    # Day 2, still failing: a short line, not the full error.
    httpserver.expect_oneshot_request("/feed.xml").respond_with_data(b"oops", status=500)
    day2_at = max(T0 + DAY, state.next_attempt + dt.timedelta(seconds=1))
    day2 = build_digest(config, now=day2_at)
    assert len(httpserver.log) == 3
    [problem] = problems_for(day2, "Flaky")
    assert problem.kind == "failing" and problem.since == T0
    assert problem.message.startswith("still failing since 2026-11-26 00:00 UTC: HTTP 500")
    state = state_of(config, url)
    assert state.consecutive_failures == 3 and state.failing_since == T0
    assert state.next_attempt is not None and state.next_attempt - day2_at >= 2 * HOUR

    # It recovers (seen first by a fetch): the next digest says so once, with its articles.
    httpserver.expect_oneshot_request("/feed.xml").respond_with_response(
        feed_response(rss("Flaky", [("f1", "Flaky is back")]))
    )
    back = state.next_attempt + dt.timedelta(seconds=1)
    fetch_and_store(config, now=back)
    assert len(httpserver.log) == 4
    state = state_of(config, url)
    assert state.consecutive_failures == 0 and state.failing_since is None
    assert state.last_error is None and state.last_success == back
    assert state.next_attempt is None and state.recovered_at == back
    httpserver.expect_oneshot_request("/feed.xml").respond_with_response(
        feed_response(rss("Flaky", [("f1", "Flaky is back")]))
    )
    day3 = build_digest(config, now=max(back, T0 + 2 * DAY))
    [problem] = problems_for(day3, "Flaky")
    assert (problem.kind, problem.message) == ("recovered", "is working again")
    assert titles(day3) == {"Flaky is back"}

    # The next digest says nothing about it.
    httpserver.expect_oneshot_request("/feed.xml").respond_with_response(
        feed_response(rss("Flaky", [("f1", "Flaky is back")]))
    )
    day4 = build_digest(config, now=max(back, T0 + 2 * DAY) + DAY)
    assert day4.problems == ()
    assert day4.items == ()


def test_a_new_failure_after_recovery_is_reported_in_full_again(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    url = httpserver.url_for("/feed.xml")
    config = make_config(tmp_path, [{"url": url, "name": "Again"}])
    httpserver.expect_oneshot_request("/feed.xml").respond_with_data(b"", status=500)
    httpserver.expect_oneshot_request("/feed.xml").respond_with_response(
        feed_response(rss("Again", [("g1", "Good news")]))
    )
    httpserver.expect_oneshot_request("/feed.xml").respond_with_data(b"", status=404)
    kinds = []
    now = T0
    for _ in range(3):
        digest = build_digest(config, now=now)
        kinds.append([(p.kind, p.message[:8]) for p in problems_for(digest, "Again")])
        now += DAY
    assert kinds == [
        [("error", "HTTP 500")],
        [("recovered", "is worki")],
        [("error", "HTTP 404")],
    ]


def test_a_304_after_failures_is_a_recovery_and_keeps_the_validators(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    url = httpserver.url_for("/feed.xml")
    config = make_config(tmp_path, [{"url": url, "name": "Cached"}])
    httpserver.expect_oneshot_request("/feed.xml").respond_with_response(
        feed_response(rss("Cached", [("c1", "Cached story")]), ETag=ETAG)
    )
    build_digest(config, now=T0)
    httpserver.expect_oneshot_request("/feed.xml").respond_with_data(b"", status=502)
    day2 = build_digest(config, now=T0 + DAY)
    assert [p.kind for p in problems_for(day2, "Cached")] == ["error"]
    assert state_of(config, url).etag == ETAG
    httpserver.expect_oneshot_request(
        "/feed.xml", headers={"If-None-Match": ETAG}
    ).respond_with_data(b"", status=304)
    day3 = build_digest(config, now=T0 + 2 * DAY)
    assert len(httpserver.log) == 3
    assert [(p.kind, p.message) for p in day3.problems] == [("recovered", "is working again")]
    state = state_of(config, url)
    assert state.etag == ETAG and state.consecutive_failures == 0


def test_a_preview_neither_uses_up_the_full_report_nor_starts_a_backoff(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    url = httpserver.url_for("/feed.xml")
    config = make_config(tmp_path, [{"url": url, "name": "Shy"}])
    httpserver.expect_oneshot_request("/feed.xml").respond_with_response(
        feed_response(rss("Shy", [("s1", "Shy story")]))
    )
    build_digest(config, now=T0)
    before = state_of(config, url)
    httpserver.expect_request("/feed.xml").respond_with_data(b"", status=500)
    preview = build_digest(config, now=T0 + DAY - HOUR, dry_run=True)
    assert [p.kind for p in problems_for(preview, "Shy")] == ["error"]
    assert state_of(config, url) == before
    # The morning build still contacts the server and gives the reader the full error.
    morning = build_digest(config, now=T0 + DAY)
    assert len(httpserver.log) == 3
    [problem] = problems_for(morning, "Shy")
    assert problem.kind == "error" and problem.message.startswith("HTTP 500")


def test_backoff_doubles_and_is_capped(httpserver: HTTPServer, tmp_path: Path) -> None:
    url = httpserver.url_for("/feed.xml")
    config = make_config(tmp_path, [{"url": url, "name": "Dead"}])
    httpserver.expect_request("/feed.xml").respond_with_data(b"", status=503)
    now = T0
    delays = []
    for _ in range(8):
        [report] = fetch_and_store(config, now=now)
        assert report.status == "failed"
        # Just before the next attempt is due, nothing is sent.
        state = state_of(config, url)
        assert state.next_attempt is not None
        requests = len(httpserver.log)
        [report] = fetch_and_store(config, now=state.next_attempt - dt.timedelta(seconds=1))
        assert report.status == "skipped (backing off)"
        assert len(httpserver.log) == requests
        delays.append((state.next_attempt - now) / HOUR)
        now = state.next_attempt
    assert delays == [1, 2, 4, 8, 16, 24, 24, 24]
    assert state_of(config, url).consecutive_failures == 8


# --- 5. Retry-After ------------------------------------------------------------------------


@pytest.mark.parametrize("code", [429, 503])
def test_retry_after_is_honoured(httpserver: HTTPServer, tmp_path: Path, code: int) -> None:
    url = httpserver.url_for("/feed.xml")
    config = make_config(tmp_path, [{"url": url, "name": "Busy"}])
    httpserver.expect_oneshot_request("/feed.xml").respond_with_response(
        feed_response(rss("Busy", [("b1", "Busy story")]), ETag=ETAG)
    )
    build_digest(config, now=T0)
    httpserver.expect_oneshot_request("/feed.xml").respond_with_data(
        b"slow down", status=code, headers={"Retry-After": "7200"}
    )
    day2 = build_digest(config, now=T0 + DAY)
    [problem] = problems_for(day2, "Busy")
    assert problem.message.startswith(f"HTTP {code}") and "7200 s" in problem.message
    state = state_of(config, url)
    assert state.next_attempt is not None
    assert state.next_attempt - (T0 + DAY) >= 2 * HOUR
    assert state.etag == ETAG, "a refused request must not lose the validators"

    # Not contacted before the server's time is up, contacted after.
    fetch_and_store(config, now=T0 + DAY + 2 * HOUR - dt.timedelta(seconds=1))
    assert len(httpserver.log) == 2
    httpserver.expect_oneshot_request(
        "/feed.xml", headers={"If-None-Match": ETAG}
    ).respond_with_data(b"", status=304)
    [report] = fetch_and_store(config, now=T0 + DAY + 2 * HOUR + dt.timedelta(seconds=1))
    assert len(httpserver.log) == 3 and report.status == "not modified"


def test_retry_after_longer_than_the_backoff_cap_wins(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    url = httpserver.url_for("/feed.xml")
    config = make_config(tmp_path, [{"url": url, "name": "Busy"}])
    httpserver.expect_oneshot_request("/feed.xml").respond_with_data(
        b"", status=429, headers={"Retry-After": str(48 * 3600)}
    )
    fetch_and_store(config, now=T0)
    state = state_of(config, url)
    assert state.next_attempt == T0 + 48 * HOUR


def test_retry_after_as_a_date_uses_the_injected_clock(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    # A run "in the past" (a replay, a test under a fixed clock): the date is 3 h after it.
    now = dt.datetime(2026, 1, 1, 0, 0, tzinfo=dt.UTC)
    url = httpserver.url_for("/feed.xml")
    config = make_config(tmp_path, [{"url": url, "name": "Dated"}])
    httpserver.expect_oneshot_request("/feed.xml").respond_with_data(
        b"", status=429, headers={"Retry-After": "Thu, 01 Jan 2026 03:00:00 GMT"}
    )
    fetch_and_store(config, now=now)
    state = state_of(config, url)
    assert state.next_attempt is not None and state.next_attempt >= now + 3 * HOUR


# --- 6. one broken feed never stops the build -----------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _slow(request: Request) -> Response:
    time.sleep(0.6)
    return feed_response(rss("Slow", [("s1", "Too late")]))


def test_broken_feeds_among_good_ones_never_stop_the_build(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    httpserver.expect_request("/good1.xml").respond_with_response(
        feed_response(rss("Good one", [("g1", "Good first"), ("g2", "Good second")]))
    )
    httpserver.expect_request("/good2.xml").respond_with_response(
        feed_response(rss("Good two", [("h1", "Other good story")]))
    )
    httpserver.expect_request("/500.xml").respond_with_data(b"", status=500)
    httpserver.expect_request("/404.xml").respond_with_data(b"", status=404)
    httpserver.expect_request("/410.xml").respond_with_data(b"", status=410)
    httpserver.expect_request("/429.xml").respond_with_data(
        b"", status=429, headers={"Retry-After": "60"}
    )
    httpserver.expect_request("/loop-a.xml").respond_with_data(
        b"", status=301, headers={"Location": httpserver.url_for("/loop-b.xml")}
    )
    httpserver.expect_request("/loop-b.xml").respond_with_data(
        b"", status=301, headers={"Location": httpserver.url_for("/loop-a.xml")}
    )
    httpserver.expect_request("/garbage.xml").respond_with_data(
        bytes(range(256)) * 8, content_type="application/octet-stream"
    )
    httpserver.expect_request("/huge.xml").respond_with_data(
        b"<rss>" + b"x" * 5000 + b"</rss>", content_type="application/rss+xml"
    )
    httpserver.expect_request("/bad-gzip.xml").respond_with_data(
        b"this is not gzip", headers={"Content-Encoding": "gzip"}
    )
    httpserver.expect_request("/slow.xml").respond_with_handler(_slow)
    broken = {
        "Five hundred": httpserver.url_for("/500.xml"),
        "Not found": httpserver.url_for("/404.xml"),
        "Gone": httpserver.url_for("/410.xml"),
        "Too many": httpserver.url_for("/429.xml"),
        "Loop": httpserver.url_for("/loop-a.xml"),
        "Garbage": httpserver.url_for("/garbage.xml"),
        "Huge": httpserver.url_for("/huge.xml"),
        "Bad gzip": httpserver.url_for("/bad-gzip.xml"),
        "Slow": httpserver.url_for("/slow.xml"),
        "Refused": f"http://127.0.0.1:{_closed_port()}/feed.xml",
    }
    feeds = [{"url": httpserver.url_for("/good1.xml"), "name": "Good one"}]
    feeds += [{"url": u, "name": n} for n, u in broken.items()]
    feeds += [{"url": httpserver.url_for("/good2.xml"), "name": "Good two"}]
    config = load_config(
        write_config(
            tmp_path,
            {
                "timezone": "UTC",
                "feeds": [{"full_text": "never", **f} for f in feeds],
                "fetch": {"timeout_s": 0.25, "max_bytes": 4096},
            },
        )
    )

    started = time.monotonic()
    digest = build_digest(config, now=T0)
    assert time.monotonic() - started < 10
    assert titles(digest) == {"Good first", "Good second", "Other good story"}
    assert {i.article.feed_key for i in digest.items} == {
        httpserver.url_for("/good1.xml"),
        httpserver.url_for("/good2.xml"),
    }
    by_feed = {p.feed: p for p in digest.problems}
    assert set(by_feed) == set(broken), digest.problems
    # A 410 is "gone", every other failure an error; never the feed's name twice.
    assert all(p.kind == ("gone" if n == "Gone" else "error") for n, p in by_feed.items())
    assert all(p.message and not p.message.startswith(f"{n}:") for n, p in by_feed.items())
    assert digest.stats.feeds == len(feeds)
    assert digest.stats.feeds_failed == len(broken)
    for name, url in broken.items():
        state = state_of(config, url)
        assert state.consecutive_failures == 1 and state.last_error, name
    assert state_of(config, httpserver.url_for("/good1.xml")).consecutive_failures == 0


def test_an_evening_rebuild_does_not_use_up_the_next_mornings_line(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    url = httpserver.url_for("/feed.xml")
    config = make_config(tmp_path, [{"url": url, "name": "Late"}])
    ok = feed_response(rss("Late", [("l1", "Late one")]))
    httpserver.expect_oneshot_request("/feed.xml").respond_with_response(ok)
    morning = build_digest(config, now=T0 + 7 * HOUR)
    assert morning.problems == ()
    # It breaks after the morning email; someone rebuilds the day's digest in the evening.
    httpserver.expect_oneshot_request("/feed.xml").respond_with_data(b"oops", status=500)
    evening = build_digest(config, now=T0 + 20 * HOUR)
    assert [p.kind for p in problems_for(evening, "Late")] == ["error"]
    # The next morning's email still carries the full error, not "still failing since".
    httpserver.expect_oneshot_request("/feed.xml").respond_with_data(b"oops", status=500)
    next_morning = build_digest(config, now=T0 + DAY + 7 * HOUR)
    [problem] = problems_for(next_morning, "Late")
    assert problem.kind == "error" and problem.message.startswith("HTTP 500")
