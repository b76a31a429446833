"""Full article text for teaser-only feeds: decide, fetch politely and safely, extract.

* :func:`needs_full_text` decides per article (``full_text: auto | always | never``).
* :func:`fetch_articles` fetches the pages of the articles that need it (per-host limit,
  timeouts, size cap while streaming, robots.txt, SSRF guard after every redirect) and
  swaps in the extracted text; any failure keeps the feed's text and logs one warning.
* :func:`extract_source` is what ``digest extract FILE|URL`` runs.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urljoin, urlsplit

import httpx

from digest import __version__
from digest.errors import ExtractError
from digest.models import Article
from digest.sources.extract import ExtractedPage, decode_html, extract_html
from digest.sources.netguard import (
    BlockedAddress,
    FetchFailed,
    Resolver,
    RobotsCache,
    check_url,
    guarded_transport,
    system_resolve,
)
from digest.text.clean import ends_truncated

log = logging.getLogger(__name__)

USER_AGENT = f"digest/{__version__} (+https://github.com/digest-news/digest)"
MAX_REDIRECTS = 10
SHORT_TEXT_CHARS = 600
ROBOTS_MAX_BYTES = 512_000
HTML_TYPES = ("text/html", "application/xhtml+xml", "application/xml", "text/xml")


class ExtractCache(Protocol):
    """Extracted pages by URL, so a page is fetched once (the store implements it)."""

    def get(self, url: str) -> ExtractedPage | None: ...

    def put(self, url: str, page: ExtractedPage) -> None: ...


class MemoryExtractCache:
    """An :class:`ExtractCache` in a dict, for tests and one-off runs."""

    def __init__(self) -> None:
        self._pages: dict[str, ExtractedPage] = {}
        self._lock = threading.Lock()

    def get(self, url: str) -> ExtractedPage | None:
        with self._lock:
            return self._pages.get(url)

    def put(self, url: str, page: ExtractedPage) -> None:
        with self._lock:
            self._pages[url] = page

    def __len__(self) -> int:
        return len(self._pages)


# ---------------------------------------------------------------- deciding


def needs_full_text(article: Article, mode: str, typical_chars: int | None = None) -> bool:
    """Whether to fetch ``article``'s page: ``always``/``never``, or for ``auto`` when the
    feed's text is short, ends with a truncation marker, or is much shorter than the feed's
    usual length (``typical_chars``, e.g. its median); never without an http(s) link."""
    if not article.link or urlsplit(article.link).scheme not in ("http", "https"):
        return False
    if mode == "never":
        return False
    if mode == "always":
        return True
    if mode != "auto":
        raise ValueError(f"full_text mode must be auto, always or never, not {mode!r}")
    if article.full_text:
        return False
    text = article.text.strip()
    if len(text) < SHORT_TEXT_CHARS or ends_truncated(text):
        return True
    return typical_chars is not None and len(text) < typical_chars * 0.5


# ---------------------------------------------------------------- fetching


@dataclass
class _Fetcher:
    client: httpx.Client
    timeout_s: float
    max_bytes: int
    resolve: Resolver
    respect_robots: bool
    user_agent: str = USER_AGENT
    _robots: RobotsCache | None = None
    # For links that may point at private addresses (feeds read from such addresses or from
    # disk); ``client`` refuses to connect anywhere but public addresses.
    open_client: httpx.Client | None = None

    def __post_init__(self) -> None:
        if self.respect_robots:
            self._robots = RobotsCache(self.user_agent, self._fetch_robots)

    def _fetch_robots(self, url: str, private_ok: bool) -> tuple[int, bytes]:
        # Same guard as pages: a robots.txt redirect to a private address is refused too.
        status, _final, _ctype, body = self.get(url, private_ok=private_ok, limit=ROBOTS_MAX_BYTES)
        return status, body

    def page(self, url: str, *, private_ok: bool) -> tuple[str, bytes, str | None]:
        """Fetch an HTML page: ``(final_url, body, charset)``; raises FetchFailed."""
        status, final, ctype, body = self.get(
            url, private_ok=private_ok, limit=self.max_bytes, robots=self.respect_robots
        )
        if status >= 400:
            raise FetchFailed(f"HTTP {status}")
        mime, _, params = (ctype or "").partition(";")
        mime = mime.strip().lower()
        if mime and mime not in HTML_TYPES:
            raise FetchFailed(f"not an HTML page (Content-Type {mime})")
        if not mime and not body.lstrip()[:1] == b"<":
            raise FetchFailed("not an HTML page (no Content-Type, no markup)")
        charset = None
        match = re.search(r"charset\s*=\s*[\"']?([\w.:-]+)", params, re.I)
        if match:
            charset = match.group(1)
        return final, body, charset

    def get(
        self, url: str, *, private_ok: bool, limit: int, robots: bool = False
    ) -> tuple[int, str, str | None, bytes]:
        """GET following redirects by hand, checking every hop; returns status, final URL,
        Content-Type and body (at most ``limit`` bytes, else FetchFailed)."""
        deadline = time.monotonic() + self.timeout_s
        current = url
        for _hop in range(MAX_REDIRECTS + 1):
            if not private_ok:
                try:
                    check_url(current, resolve=self.resolve)
                except BlockedAddress as exc:
                    raise FetchFailed(f"blocked: {exc}") from exc
            elif urlsplit(current).scheme not in ("http", "https"):
                raise FetchFailed(f"not an http(s) URL: {current}")
            if (
                robots
                and self._robots is not None
                and not self._robots.allowed(current, private_ok=private_ok)
            ):
                raise FetchFailed("disallowed by robots.txt")
            try:
                client = self.open_client if private_ok and self.open_client else self.client
                with client.stream(
                    "GET",
                    current,
                    headers={"User-Agent": self.user_agent, "Accept": "text/html,*/*;q=0.5"},
                    follow_redirects=False,
                    timeout=self.timeout_s,
                ) as response:
                    if response.is_redirect:
                        location = response.headers.get("location")
                        if not location:
                            raise FetchFailed(f"HTTP {response.status_code} without Location")
                        current = urljoin(current, location)
                        continue
                    ctype = response.headers.get("content-type")
                    declared = response.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > limit:
                        raise FetchFailed(f"page larger than {limit} bytes ({declared})")
                    chunks: list[bytes] = []
                    size = 0
                    for chunk in response.iter_bytes():
                        size += len(chunk)
                        if size > limit:
                            raise FetchFailed(f"page larger than {limit} bytes")
                        if time.monotonic() > deadline:
                            raise FetchFailed(f"timed out after {self.timeout_s:g} s")
                        chunks.append(chunk)
                    return response.status_code, str(response.url), ctype, b"".join(chunks)
            except httpx.TimeoutException as exc:
                raise FetchFailed(f"timed out after {self.timeout_s:g} s") from exc
            except httpx.HTTPError as exc:
                raise FetchFailed(f"{type(exc).__name__}: {exc}") from exc
        raise FetchFailed(f"more than {MAX_REDIRECTS} redirects")


def merge_page(article: Article, page: ExtractedPage) -> Article:
    """``article`` with the page's text (full text), and its metadata where it lacks some."""
    return dataclasses.replace(
        article,
        text=page.text,
        full_text=True,
        title=article.title or page.title or "",
        published=article.published or page.published,
        image=article.image or page.image,
        language=article.language or page.language,
    )


def fetch_articles(
    articles: Sequence[Article],
    *,
    mode_for: Callable[[Article], str],
    client: httpx.Client | None = None,
    timeout_s: float = 20,
    max_bytes: int = 10_000_000,
    respect_robots: bool = True,
    allow_private: bool = False,
    private_ok_feeds: frozenset[str] = frozenset(),
    concurrency: int = 8,
    per_host: int = 2,
    cache: ExtractCache | None = None,
    resolve: Resolver = system_resolve,
    typical_chars_for: Callable[[Article], int | None] | None = None,
    user_agent: str | None = None,
) -> list[Article]:
    """Return ``articles`` in the same order, those that need it (:func:`needs_full_text`
    with ``mode_for(article)``) with the page's extracted text and ``full_text=True``.

    Never raises for one article: a failure (HTTP error, timeout, robots.txt, not HTML,
    size cap, non-public address, no main text) keeps the article unchanged and logs one
    WARNING naming the URL and the reason. ``resolve`` maps a host name to its addresses
    for the SSRF guard (tests inject one); ``user_agent`` replaces :data:`USER_AGENT` in
    requests and robots.txt matching.
    """
    todo = [
        i
        for i, a in enumerate(articles)
        if needs_full_text(a, mode_for(a), typical_chars_for(a) if typical_chars_for else None)
    ]
    result = list(articles)
    if not todo:
        return result
    agent = user_agent or USER_AGENT
    own_client = client is None
    open_http: httpx.Client | None = None
    if client is None:
        headers = {"User-Agent": agent}
        http = httpx.Client(
            timeout=timeout_s, headers=headers, transport=guarded_transport(resolve)
        )
        open_http = httpx.Client(timeout=timeout_s, headers=headers)
    else:
        http = client
    fetcher = _Fetcher(
        http, timeout_s, max_bytes, resolve, respect_robots, agent, open_client=open_http
    )
    counts: Counter[str] = Counter()
    counts_lock = threading.Lock()
    host_limits: dict[str, threading.BoundedSemaphore] = {}
    host_lock = threading.Lock()

    def count(outcome: str) -> None:
        with counts_lock:
            counts[outcome] += 1

    def one(article: Article) -> Article:
        url = article.link
        assert url is not None
        feed_len = len(article.text.strip())
        cached = cache.get(url) if cache is not None else None
        if cached is not None and len(cached.text) >= feed_len:
            count("cached")
            return merge_page(article, cached)
        host = (urlsplit(url).hostname or "").lower()
        with host_lock:
            gate = host_limits.setdefault(host, threading.BoundedSemaphore(max(1, per_host)))
        private_ok = allow_private or article.feed_key in private_ok_feeds
        try:
            with gate:
                final, body, charset = fetcher.page(url, private_ok=private_ok)
            page = extract_html(decode_html(body, charset), url=final)
        except (FetchFailed, ExtractError) as exc:
            log.warning("full text of %s not used: %s; keeping the feed's text", url, exc)
            count("failed")
            return article
        if cache is not None:
            cache.put(url, page)
        if len(page.text) < feed_len:
            # The extractor most likely picked the wrong block; the feed's text is safer.
            log.warning("full text of %s not used: the page's text is shorter than the feed's", url)
            count("failed")
            return article
        count("fetched")
        return merge_page(article, page)

    try:
        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            order = _interleave_hosts(todo, articles)
            for index, updated in zip(
                order, pool.map(one, [articles[i] for i in order]), strict=True
            ):
                result[index] = updated
    finally:
        if own_client:
            http.close()
        if open_http is not None:
            open_http.close()
    log.info(
        "full text: %d of %d articles needed it: %d fetched, %d from cache, %d kept the feed's",
        len(todo),
        len(articles),
        counts["fetched"],
        counts["cached"],
        counts["failed"],
    )
    return result


def _interleave_hosts(indices: list[int], articles: Sequence[Article]) -> list[int]:
    # Round-robin over hosts so workers waiting on one busy host's limit do not hold up
    # the pages of every other host queued behind it.
    by_host: dict[str, list[int]] = {}
    for i in indices:
        by_host.setdefault(urlsplit(articles[i].link or "").hostname or "", []).append(i)
    queues = list(by_host.values())
    order: list[int] = []
    for rank in range(max(len(q) for q in queues)):
        order.extend(q[rank] for q in queues if rank < len(q))
    return order


def extract_source(
    target: str,
    *,
    client: httpx.Client | None = None,
    timeout_s: float = 20,
    max_bytes: int = 10_000_000,
    allow_private: bool = True,
    resolve: Resolver = system_resolve,
) -> ExtractedPage:
    """Extract a local HTML file or an http(s) URL the user named (``digest extract``).

    The same fetch path as :func:`fetch_articles` but robots.txt is not consulted (a person
    asked for this one page) and private addresses are allowed by default. Raises
    :class:`ExtractError` with a one-line reason.
    """
    if re.match(r"https?://", target, re.I):
        own_client = client is None
        transport = None if allow_private else guarded_transport(resolve)
        http = client or httpx.Client(
            timeout=timeout_s, headers={"User-Agent": USER_AGENT}, transport=transport
        )
        try:
            fetcher = _Fetcher(http, timeout_s, max_bytes, resolve, respect_robots=False)
            final, body, charset = fetcher.page(target, private_ok=allow_private)
        except FetchFailed as exc:
            raise ExtractError(f"cannot fetch {target}: {exc}") from exc
        finally:
            if own_client:
                http.close()
        return extract_html(decode_html(body, charset), url=final)
    path = Path(target)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ExtractError(
            f"cannot read {target}: {exc.strerror or exc}; give an HTML file or an http(s) URL"
        ) from exc
    return extract_html(data, url=None)
