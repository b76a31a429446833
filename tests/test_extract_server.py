"""Full text (pages.add_full_text) against a real HTTP server on loopback: success,
politeness, failures.

The server runs on 127.0.0.1, which the SSRF guard rightly refuses, so tests of normal
fetching pass ``private_ok_feeds`` or ``allow_private``. The guard itself is tested with an
injected resolver that claims ``localhost`` is a public address: the connection still goes
to the loopback server, and a redirect to 127.0.0.1 or 169.254.169.254 must be refused.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from digest.errors import ExtractError
from digest.models import Article, FeedSource, Image
from digest.sources.extract import extract_html
from digest.sources.feeds import parse_feed
from digest.sources.http import USER_AGENT, Http
from digest.sources.netguard import AddressPolicy, Resolver, is_public_ip, system_resolve
from digest.sources.pages import ExtractCache, MemoryExtractCache, add_full_text, extract_source
from digest.text.summarize import summarize
from tests.conftest import public_policy, public_resolve, public_url
from tests.test_extract import ARTICLES, SEED, WP_BOILERPLATE, seed_article, wordpress_page

needs_seed = pytest.mark.skipif(not SEED.is_file(), reason=f"reference article not found at {SEED}")
needs_articles = pytest.mark.skipif(
    not ARTICLES.is_dir(), reason=f"shared article corpus not found at {ARTICLES}"
)

FEED_KEY = "http://localhost/feed.xml"
TEASER = "Presiden Rusia Vladimir Putin akan mengunjungi Korea Utara […]"
PAGE = (
    "<html><head><title>Budget</title></head><body><article><h1>Budget passed</h1>"
    + "<p>The council met on Tuesday and agreed the new budget after a long debate.</p>" * 8
    + "</article></body></html>"
)


def teaser(link: str, **kw: object) -> Article:
    values: dict[str, object] = {
        "id": link,
        "feed": "Teasers",
        "feed_key": FEED_KEY,
        "title": "",
        "link": link,
        "published": None,
        "text": TEASER,
    }
    values.update(kw)
    return Article(**values)  # type: ignore[arg-type]


def auto(_article: Article) -> str:
    return "auto"


@pytest.fixture
def client() -> Iterator[Http]:
    with Http() as http:
        yield http


def fetch_articles(
    articles: list[Article],
    *,
    mode_for: Callable[[Article], str],
    client: Http | None = None,
    private_ok_feeds: frozenset[str] = frozenset(),
    cache: ExtractCache | None = None,
    allow_private: bool = False,
    respect_robots: bool = True,
    resolve: Resolver = system_resolve,
    is_public: AddressPolicy = is_public_ip,
    timeout_s: float = 20,
    max_bytes: int = 10_000_000,
    per_host: int = 2,
    concurrency: int = 16,
) -> list[Article]:
    """add_full_text with one HTTP layer made for the options a test names."""
    modes = {a.feed_key: mode_for(a) for a in articles}
    with Http(
        resolve=resolve,
        is_public=is_public,
        timeout_s=timeout_s,
        max_bytes=max_bytes,
        per_host=per_host,
        concurrency=concurrency,
    ) as http:
        report = add_full_text(
            articles,
            http=http,
            modes=modes,  # type: ignore[arg-type]
            cache=cache if cache is not None else MemoryExtractCache(),
            respect_robots=respect_robots,
            allow_private=allow_private,
            private_feeds=private_ok_feeds,
        )
    return list(report.articles)


def requested(server: HTTPServer, path: str) -> int:
    return sum(1 for request, _response in server.log if request.path == path)


@needs_seed
def test_teaser_becomes_the_full_article(httpserver: HTTPServer, client: Http) -> None:
    title, paragraphs = seed_article()
    httpserver.expect_request("/robots.txt").respond_with_data(
        "User-agent: *\nDisallow: /wp-admin/\n", content_type="text/plain"
    )
    httpserver.expect_request("/2024/06/13/putin/").respond_with_data(
        wordpress_page(title, paragraphs), content_type="text/html; charset=UTF-8"
    )
    link = httpserver.url_for("/2024/06/13/putin/")
    keep = teaser("https://example.org/full", text="A whole article. " * 60, full_text=True)
    cache = MemoryExtractCache()
    out = fetch_articles(
        [teaser(link), keep],
        mode_for=auto,
        client=client,
        private_ok_feeds=frozenset({FEED_KEY}),
        cache=cache,
    )
    assert out[1] is keep  # already full text: untouched, not fetched
    full = out[0]
    assert full.full_text is True
    assert full.title == title  # the article had none; the page's fills it
    assert full.language == "id"
    assert full.published == dt.datetime(2024, 6, 13, 2, 15, tzinfo=dt.UTC)
    assert full.image == Image(
        url="https://news.example.com/wp-content/uploads/2024/06/putin-kim.jpg",
        width=1200,
        height=675,
    )
    assert paragraphs[0] in full.text and paragraphs[5] in full.text
    for junk in WP_BOILERPLATE:
        assert junk not in full.text, junk
    # The User-Agent names us, and robots.txt was read once.
    page_request = next(r for r, _ in httpserver.log if r.path == "/2024/06/13/putin/")
    assert page_request.headers["User-Agent"] == USER_AGENT
    assert requested(httpserver, "/robots.txt") == 1

    # A second run finds the page in the cache and does not fetch it again.
    again = fetch_articles(
        [teaser(link)],
        mode_for=auto,
        client=client,
        private_ok_feeds=frozenset({FEED_KEY}),
        cache=cache,
    )
    assert again[0].text == full.text
    assert requested(httpserver, "/2024/06/13/putin/") == 1


def test_own_fields_win_over_the_page(httpserver: HTTPServer, client: Http) -> None:
    httpserver.expect_request("/a").respond_with_data(PAGE, content_type="text/html")
    mine = Image(url="https://example.org/mine.jpg", width=640, height=480)
    when = dt.datetime(2024, 1, 2, 3, 4, tzinfo=dt.UTC)
    art = teaser(
        httpserver.url_for("/a"), title="Own title", published=when, image=mine, language="en"
    )
    (out,) = fetch_articles(
        [art], mode_for=auto, client=client, allow_private=True, respect_robots=False
    )
    assert out.full_text and "agreed the new budget" in out.text
    assert (out.title, out.published, out.image, out.language) == ("Own title", when, mine, "en")


@needs_articles
def test_corpus_page_over_http(httpserver: HTTPServer, client: Http) -> None:
    page = next(ARTICLES.glob("*-idnews-*.html"))
    httpserver.expect_request("/berita").respond_with_data(
        page.read_bytes(), content_type="text/html"
    )
    (out,) = fetch_articles(
        [teaser(httpserver.url_for("/berita"))],
        mode_for=auto,
        client=client,
        allow_private=True,
        respect_robots=False,
    )
    assert out.full_text
    assert out.text == extract_html(page.read_bytes(), url=httpserver.url_for("/berita")).text


def _unchanged(out: list[Article], original: Article) -> None:
    assert out == [original]


def _warned(caplog: pytest.LogCaptureFixture, url: str, reason: str) -> None:
    lines = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    message = lines[0].getMessage()
    assert url in message and reason in message, message


@pytest.mark.parametrize(
    ("path", "respond", "reason"),
    [
        ("/gone", dict(response_data="nope", status=404), "HTTP 404"),
        (
            "/pdf",
            dict(response_data=b"%PDF-1.4", content_type="application/pdf"),
            "not an HTML page",
        ),
        (
            "/empty",
            dict(
                response_data="<html><body><nav>Home</nav></body></html>", content_type="text/html"
            ),
            "no main text",
        ),
    ],
)
def test_failures_keep_the_feed_text(
    httpserver: HTTPServer,
    client: Http,
    caplog: pytest.LogCaptureFixture,
    path: str,
    respond: dict[str, object],
    reason: str,
) -> None:
    httpserver.expect_request(path).respond_with_data(**respond)  # type: ignore[arg-type]
    art = teaser(httpserver.url_for(path))
    with caplog.at_level(logging.WARNING, logger="digest.sources.pages"):
        out = fetch_articles(
            [art], mode_for=auto, client=client, allow_private=True, respect_robots=False
        )
    _unchanged(out, art)
    _warned(caplog, art.link or "", reason)


def test_timeout(httpserver: HTTPServer, client: Http, caplog: pytest.LogCaptureFixture) -> None:
    def slow(_request: Request) -> Response:
        time.sleep(0.6)
        return Response(PAGE, content_type="text/html")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    art = teaser(httpserver.url_for("/slow"))
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="digest.sources.pages"):
        out = fetch_articles(
            [art],
            mode_for=auto,
            client=client,
            allow_private=True,
            respect_robots=False,
            timeout_s=0.2,
        )
    assert time.monotonic() - started < 0.55
    _unchanged(out, art)
    _warned(caplog, art.link or "", "no complete answer")


def test_size_cap_while_streaming(
    httpserver: HTTPServer, client: Http, caplog: pytest.LogCaptureFixture
) -> None:
    sent: list[int] = []

    def huge(_request: Request) -> Response:
        def body() -> Iterator[bytes]:
            yield b"<html><body><article>"
            chunk = b"<p>" + b"x" * 65_530 + b"</p>"
            for _ in range(20 * 16):  # 20 MB in 64 KB chunks, no Content-Length
                sent.append(len(chunk))
                yield chunk

        return Response(body(), content_type="text/html")

    httpserver.expect_request("/huge").respond_with_handler(huge)
    httpserver.expect_request("/declared").respond_with_data(
        b"<p>" + b"y" * 2_000_000 + b"</p>", content_type="text/html"
    )
    arts = [teaser(httpserver.url_for("/huge")), teaser(httpserver.url_for("/declared"))]
    with caplog.at_level(logging.WARNING, logger="digest.sources.pages"):
        out = fetch_articles(
            arts,
            mode_for=auto,
            client=client,
            allow_private=True,
            respect_robots=False,
            max_bytes=1_000_000,
            concurrency=1,
        )
    assert out == arts
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(messages) == 2
    assert all("larger than 1000000 bytes" in m for m in messages), messages
    # The download stopped early instead of reading all 20 MB.
    assert sum(sent) < 10_000_000


def test_robots_txt_is_honoured_unless_switched_off(
    httpserver: HTTPServer, client: Http, caplog: pytest.LogCaptureFixture
) -> None:
    httpserver.expect_request("/robots.txt").respond_with_data(
        "User-agent: digest\nDisallow: /private/\n\nUser-agent: *\nDisallow: /\n",
        content_type="text/plain",
    )
    httpserver.expect_request("/private/a").respond_with_data(PAGE, content_type="text/html")
    httpserver.expect_request("/open/b").respond_with_data(PAGE, content_type="text/html")
    blocked, allowed = (
        teaser(httpserver.url_for("/private/a")),
        teaser(httpserver.url_for("/open/b")),
    )
    with caplog.at_level(logging.WARNING, logger="digest.sources.pages"):
        out = fetch_articles([blocked, allowed], mode_for=auto, client=client, allow_private=True)
    assert out[0] == blocked
    assert out[1].full_text  # "User-agent: digest" matches us, not the "*" group
    _warned(caplog, blocked.link or "", "robots.txt")
    assert requested(httpserver, "/private/a") == 0

    out = fetch_articles(
        [blocked], mode_for=auto, client=client, allow_private=True, respect_robots=False
    )
    assert out[0].full_text


def test_loopback_link_is_refused_by_default(
    httpserver: HTTPServer, client: Http, caplog: pytest.LogCaptureFixture
) -> None:
    httpserver.expect_request("/a").respond_with_data(PAGE, content_type="text/html")
    art = teaser(httpserver.url_for("/a"))
    with caplog.at_level(logging.WARNING, logger="digest.sources.pages"):
        out = fetch_articles([art], mode_for=auto, client=client)
    _unchanged(out, art)
    _warned(caplog, art.link or "", "non-public address")
    assert requested(httpserver, "/a") == 0
    # Allowed when the feed itself came from a private address (or from a file).
    (ok,) = fetch_articles(
        [art],
        mode_for=auto,
        client=client,
        respect_robots=False,
        private_ok_feeds=frozenset({FEED_KEY}),
    )
    assert ok.full_text


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:{port}/secret",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:{port}/secret",
        "http://intranet.news.test.invalid:{port}/secret",
    ],
)
def test_redirect_to_a_private_address_is_refused(
    public_server: HTTPServer, caplog: pytest.LogCaptureFixture, target: str
) -> None:
    target = target.format(port=public_server.port)
    public_server.expect_request("/robots.txt").respond_with_data("", content_type="text/plain")
    public_server.expect_request("/start").respond_with_data(
        "", status=302, headers={"Location": "/hop"}
    )
    public_server.expect_request("/hop").respond_with_data(
        "", status=301, headers={"Location": target}
    )
    public_server.expect_request("/secret").respond_with_data(PAGE, content_type="text/html")
    art = teaser(public_url(public_server, "/start"))
    with caplog.at_level(logging.WARNING, logger="digest.sources.pages"):
        out = fetch_articles([art], mode_for=auto, resolve=public_resolve, is_public=public_policy)
    _unchanged(out, art)
    _warned(caplog, art.link or "", "non-public address")
    assert requested(public_server, "/hop") == 1  # the public hops were followed
    assert requested(public_server, "/secret") == 0


def test_redirect_between_public_addresses_is_followed(public_server: HTTPServer) -> None:
    public_server.expect_request("/robots.txt").respond_with_data("", content_type="text/plain")
    public_server.expect_request("/old").respond_with_data(
        "", status=301, headers={"Location": public_url(public_server, "/new")}
    )
    public_server.expect_request("/new").respond_with_data(PAGE, content_type="text/html")
    (out,) = fetch_articles(
        [teaser(public_url(public_server, "/old"))],
        mode_for=auto,
        resolve=public_resolve,
        is_public=public_policy,
    )
    assert out.full_text and "agreed the new budget" in out.text


def test_per_host_limit(client: Http) -> None:
    active = 0
    peak = 0
    lock = threading.Lock()

    def handler(_request: Request) -> Response:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.15)
        with lock:
            active -= 1
        return Response(PAGE, content_type="text/html")

    server = HTTPServer(threaded=True)
    server.expect_request("/p").respond_with_handler(handler)
    server.start()
    try:
        arts = [teaser(server.url_for(f"/p?i={i}"), id=str(i)) for i in range(6)]
        out = fetch_articles(
            arts,
            mode_for=auto,
            client=client,
            allow_private=True,
            respect_robots=False,
            concurrency=6,
            per_host=2,
        )
    finally:
        server.clear()
        server.stop()
    assert all(a.full_text for a in out)
    assert [a.id for a in out] == [str(i) for i in range(6)]
    assert peak == 2


def test_extract_source_over_http(httpserver: HTTPServer, client: Http) -> None:
    httpserver.expect_request("/a").respond_with_data(PAGE, content_type="text/html")
    httpserver.expect_request("/missing").respond_with_data("", status=404)
    page = extract_source(httpserver.url_for("/a"), http=client)
    assert "agreed the new budget" in page.text
    assert page.url == httpserver.url_for("/a")
    with pytest.raises(ExtractError, match="HTTP 404"):
        extract_source(httpserver.url_for("/missing"), http=client)
    with pytest.raises(ExtractError, match="non-public"):
        extract_source(httpserver.url_for("/a"), http=client, allow_private=False)


def test_never_mode_and_unneeded_articles_make_no_request(
    httpserver: HTTPServer, client: Http
) -> None:
    art = teaser(httpserver.url_for("/a"))
    out = fetch_articles([art], mode_for=lambda _a: "never", client=client, allow_private=True)
    assert out == [art]
    assert len(httpserver.log) == 0


@needs_seed
def test_teaser_feed_to_full_text_summary(httpserver: HTTPServer, client: Http) -> None:
    """A teaser-only RSS feed pointing at the WordPress page: the summary comes from the
    article body, in Indonesian, with none of the page's furniture."""
    title, paragraphs = seed_article()
    httpserver.expect_request("/robots.txt").respond_with_data("", content_type="text/plain")
    httpserver.expect_request("/putin/").respond_with_data(
        wordpress_page(title, paragraphs), content_type="text/html; charset=UTF-8"
    )
    rss = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Berita</title><link>{httpserver.url_for("/")}</link>
<description>Teasers</description>
<item><title>{html.escape(title)}</title><link>{httpserver.url_for("/putin/")}</link>
<guid>{httpserver.url_for("/putin/")}</guid>
<description>{html.escape(paragraphs[0][:180])} [&#8230;]</description></item>
</channel></rss>""".encode()
    source = FeedSource(url=httpserver.url_for("/feed.xml"))
    parsed = parse_feed(rss, source, now=dt.datetime(2024, 6, 14, tzinfo=dt.UTC))
    (entry,) = parsed.articles
    assert not entry.full_text
    (full,) = fetch_articles(
        [entry], mode_for=auto, client=client, private_ok_feeds=frozenset({source.key})
    )
    assert full.full_text and len(full.text) > 10 * len(entry.text)
    summary = summarize(full.text, title=full.title, language="auto", sentences=3)
    assert summary.language == "id"
    assert len(summary.sentences) == 3
    body = " ".join(paragraphs)
    for sentence in summary.sentences:
        assert sentence in body, sentence
        for junk in WP_BOILERPLATE:
            assert junk not in sentence


def test_an_unreachable_host_is_said_once_not_as_robots(caplog: pytest.LogCaptureFixture) -> None:
    """Offline or unresolvable: "cannot reach HOST", once per host, never "robots.txt"."""

    def nowhere(host: str) -> list[str]:
        raise OSError("Name or service not known")

    arts = [teaser(f"https://gone.example/story/{n}", id=str(n)) for n in range(5)]
    with caplog.at_level(logging.INFO, logger="digest.sources.pages"):
        out = fetch_articles(arts, mode_for=auto, resolve=nowhere)
    assert out == arts
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "cannot reach gone.example" in warnings[0]
    assert not any("robots" in r.getMessage() for r in caplog.records)
