"""Full article text for teaser-only feeds: decide, fetch politely and safely, extract, cache.

* :func:`needs_full_text` decides per article (``full_text: auto | always | never``).
* :func:`add_full_text` fetches the pages of the articles that need it through the one HTTP
  layer (per-host limit, deadline, size cap, address guard on every hop) after robots.txt,
  and swaps in the extracted text; any failure keeps the feed's text and logs one warning.
* :class:`PageCache` keeps extracted pages (and recent failures) in the store by URL, so a
  page is fetched once and a page that could not be used is left alone for a day.
* :func:`extract_source` is what ``digest extract FILE|URL`` runs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import statistics
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from digest.errors import ExtractError, FetchError, FetchErrorKind
from digest.models import Article, ExtractedPage, FullText
from digest.sources.extract import decode_html, extract_html
from digest.sources.http import Http, fetch_by_host, host_of, looks_like_html
from digest.sources.netguard import RobotsCache
from digest.store import Changes, Store
from digest.text.clean import ends_truncated

log = logging.getLogger(__name__)

SHORT_TEXT_CHARS = 600
ROBOTS_MAX_BYTES = 512_000
HTML_TYPES = ("text/html", "application/xhtml+xml", "application/xml", "text/xml")
ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
# How long a page that could not be used is left alone before it is tried again.
FAILED_PAGE_RETRY = dt.timedelta(hours=24)


class ExtractCache(Protocol):
    """Extracted pages by URL, so a page is fetched once (:class:`PageCache` keeps them in
    the store)."""

    def get(self, url: str) -> ExtractedPage | None: ...

    def put(self, url: str, page: ExtractedPage) -> None: ...

    def failed(self, url: str, reason: str) -> None: ...

    def failed_recently(self, url: str) -> bool: ...


class MemoryExtractCache:
    """An :class:`ExtractCache` in a dict, for tests and one-off runs."""

    def __init__(self) -> None:
        self._pages: dict[str, ExtractedPage] = {}
        self._failed: set[str] = set()
        self._lock = threading.Lock()

    def get(self, url: str) -> ExtractedPage | None:
        with self._lock:
            return self._pages.get(url)

    def put(self, url: str, page: ExtractedPage) -> None:
        with self._lock:
            self._pages[url] = page

    def failed(self, url: str, reason: str) -> None:
        with self._lock:
            self._failed.add(url)

    def failed_recently(self, url: str) -> bool:
        with self._lock:
            return url in self._failed

    def __len__(self) -> int:
        return len(self._pages)


class PageCache:
    """Extracted pages in the store by URL. Writes are gathered (``changes``) and applied
    with the rest of the build, so a failed build caches nothing.

    A page that could not be used (an HTTP error, robots.txt, no main text ...) is
    remembered too, and not asked for again before FAILED_PAGE_RETRY has passed.
    """

    def __init__(self, store: Store, now: dt.datetime) -> None:
        self.store, self.now = store, now
        self._pages: dict[str, ExtractedPage] = {}
        self._failures: dict[str, str] = {}
        self._lock = threading.Lock()

    def get(self, url: str) -> ExtractedPage | None:
        with self._lock:
            if url in self._pages:
                return self._pages[url]
            row = self.store.get_page(url)
        return row.page if row is not None else None

    def put(self, url: str, page: ExtractedPage) -> None:
        with self._lock:
            self._pages[url] = page

    def failed(self, url: str, reason: str) -> None:
        with self._lock:
            self._failures[url] = reason

    def failed_recently(self, url: str) -> bool:
        with self._lock:
            if url in self._failures:
                return True
            row = self.store.get_page(url)
        if row is None or row.failed_at is None:
            return False
        return self.now - row.failed_at < FAILED_PAGE_RETRY

    @property
    def changes(self) -> Changes:
        """The pages fetched and the failures met since this cache was made."""
        with self._lock:
            return Changes(
                pages=tuple(self._pages.items()), page_failures=tuple(self._failures.items())
            )


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


@dataclass(frozen=True)
class FullTextReport:
    """How the full-text step went: pages fetched now, taken from the cache, not usable."""

    articles: tuple[Article, ...]
    fetched: int = 0
    cached: int = 0
    failed: int = 0


class _Pages:
    """Fetch and extract pages for one run: robots.txt once per site, one warning per
    unreachable host."""

    def __init__(self, http: Http, *, respect_robots: bool) -> None:
        self.http = http
        self._robots: dict[bool, RobotsCache] = {}
        if respect_robots:
            # robots.txt is fetched under the same address rule as the pages of its site.
            for private_ok in (False, True):
                self._robots[private_ok] = RobotsCache(
                    http.user_agent, self._robots_fetcher(private_ok)
                )
        self._down: dict[str, FetchError] = {}
        self._lock = threading.Lock()

    def _robots_fetcher(self, private_ok: bool) -> Callable[[str], tuple[int, bytes]]:
        def fetch(url: str) -> tuple[int, bytes]:
            response = self.http.get(
                url,
                accept="text/plain, */*;q=0.5",
                max_bytes=ROBOTS_MAX_BYTES,
                private_ok=private_ok,
            )
            return response.status, response.body

        return fetch

    def page(self, url: str, *, private_ok: bool, robots: bool = True) -> ExtractedPage:
        """Fetch and extract one page; raises FetchError or ExtractError (one line)."""
        cache = self._robots.get(private_ok) if robots else None
        check = cache.check if cache is not None else None
        response = self.http.get(url, accept=ACCEPT, private_ok=private_ok, before_hop=check)
        if response.status >= 400:
            raise FetchError(f"HTTP {response.status}", kind=FetchErrorKind.HTTP, url=url)
        ctype = response.headers.get("content-type", "")
        mime, _, params = ctype.partition(";")
        mime = mime.strip().lower()
        if mime and mime not in HTML_TYPES:
            raise ExtractError(f"not an HTML page (Content-Type {mime})")
        if not mime and not looks_like_html(response.body):
            raise ExtractError("not an HTML page (no Content-Type, no markup)")
        match = re.search(r"charset\s*=\s*[\"']?([\w.:-]+)", params, re.I)
        charset = match.group(1) if match else None
        return extract_html(decode_html(response.body, charset), url=response.url)

    def warn(self, url: str, exc: Exception) -> None:
        """One warning per page, except one per host for a host that cannot be reached:
        its other pages are not tried again in this run (see :meth:`gone`)."""
        if isinstance(exc, FetchError) and exc.kind in _HOST_DOWN:
            host = host_of(url)
            with self._lock:
                first = host not in self._down
                self._down.setdefault(host, exc)
            if not first:
                log.info("full text of %s not used: %s", url, exc)
                return
            log.warning(
                "full text of %s not used: %s; its other pages keep the feed's text this run",
                url,
                exc,
            )
            return
        log.warning("full text of %s not used: %s; keeping the feed's text", url, exc)

    def gone(self, url: str) -> FetchError | None:
        """The error of a host that could not be reached earlier in this run, if any."""
        with self._lock:
            return self._down.get(host_of(url))


# A host that answers this way is not tried again in the same run.
_HOST_DOWN = (FetchErrorKind.UNREACHABLE, FetchErrorKind.TIMEOUT)


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


def typical_lengths(articles: Sequence[Article]) -> dict[str, int]:
    """Per feed, the median length of its entries' text (feeds with at least 3 entries)."""
    lengths: dict[str, list[int]] = {}
    for article in articles:
        lengths.setdefault(article.feed_key, []).append(len(article.text))
    return {k: int(statistics.median(v)) for k, v in lengths.items() if len(v) >= 3}


def from_cache(article: Article, cache: ExtractCache) -> Article:
    """``article`` with its page's text when the cache has it (replays never fetch)."""
    page = cache.get(article.link) if article.link and not article.full_text else None
    if page is None or len(page.text) < len(article.text.strip()):
        return article
    return merge_page(article, page)


def add_full_text(
    articles: Sequence[Article],
    *,
    http: Http,
    modes: Mapping[str, FullText],
    cache: ExtractCache,
    respect_robots: bool = True,
    allow_private: bool = False,
    private_feeds: frozenset[str] = frozenset(),
    typical_chars: Mapping[str, int] | None = None,
) -> FullTextReport:
    """``articles`` in the same order, those that need it (:func:`needs_full_text` with the
    mode of their feed in ``modes``, default auto) with the page's extracted text.

    Never raises for one article: a failure keeps the article unchanged, logs one warning
    naming the URL and the reason, and is remembered in ``cache`` so the page is not asked
    for again for a day. Links of feeds in ``private_feeds`` (read from disk or a private
    address), or every link with ``allow_private``, may point at non-public addresses.
    """
    typical = typical_chars or {}
    todo = [
        i
        for i, a in enumerate(articles)
        if a.link
        and not cache.failed_recently(a.link)
        and needs_full_text(a, modes.get(a.feed_key, "auto"), typical.get(a.feed_key))
    ]
    result = list(articles)
    counts: Counter[str] = Counter()
    if not todo:
        return FullTextReport(tuple(result))
    pages = _Pages(http, respect_robots=respect_robots)

    def one(article: Article) -> tuple[Article, str]:
        url = article.link
        assert url is not None
        feed_len = len(article.text.strip())
        cached = cache.get(url)
        if cached is not None and len(cached.text) >= feed_len:
            return merge_page(article, cached), "cached"
        private_ok = allow_private or article.feed_key in private_feeds
        down = pages.gone(url)
        if down is not None:
            log.info("full text of %s not used: %s", url, down)
            return article, "failed"
        try:
            page = pages.page(url, private_ok=private_ok)
        except (FetchError, ExtractError) as exc:
            pages.warn(url, exc)
            cache.failed(url, str(exc))
            return article, "failed"
        cache.put(url, page)
        if len(page.text) < feed_len:
            # The extractor most likely picked the wrong block; the feed's text is safer.
            log.warning("full text of %s not used: the page's text is shorter than the feed's", url)
            return article, "failed"
        return merge_page(article, page), "fetched"

    for index, (updated, outcome) in fetch_by_host(
        [articles[i] for i in todo],
        one,
        host=lambda a: host_of(a.link or ""),
        per_host=http.per_host,
        concurrency=http.concurrency,
    ):
        result[todo[index]] = updated
        counts[outcome] += 1
    log.info(
        "full text: %d of %d articles needed it: %d fetched, %d from cache, %d kept the feed's",
        len(todo),
        len(articles),
        counts["fetched"],
        counts["cached"],
        counts["failed"],
    )
    return FullTextReport(
        tuple(result), fetched=counts["fetched"], cached=counts["cached"], failed=counts["failed"]
    )


def extract_source(
    target: str, *, http: Http | None = None, allow_private: bool = True
) -> ExtractedPage:
    """Extract a local HTML file or an http(s) URL the user named (``digest extract``).

    The same path as :func:`add_full_text` but robots.txt is not consulted (a person asked
    for this one page) and private addresses are allowed by default. Raises ExtractError
    with a one-line reason.
    """
    if re.match(r"https?://", target, re.I):
        own = http is None
        client = http or Http()
        try:
            return _Pages(client, respect_robots=False).page(
                target, private_ok=allow_private, robots=False
            )
        except FetchError as exc:
            raise ExtractError(f"cannot fetch {target}: {exc}") from None
        finally:
            if own:
                client.close()
    path = Path(target)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ExtractError(
            f"cannot read {target}: {exc.strerror or exc}; give an HTML file or an http(s) URL"
        ) from None
    return extract_html(data, url=None, name=target)
