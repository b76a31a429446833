"""Full article text for teaser-only feeds: decide, fetch politely and safely, extract.

* :func:`needs_full_text` decides per article (``full_text: auto | always | never``).
* :func:`fetch_articles` fetches the pages of the articles that need it (per-host limit,
  timeouts, size cap while streaming, robots.txt, SSRF guard after every redirect) and
  swaps in the extracted text; any failure keeps the feed's text and logs one warning.
* :func:`extract_html` turns one page into an :class:`ExtractedPage`: main text with
  trafilatura, then the shared boilerplate cleaner, plus title, language, date and image.
* :func:`extract_source` is what ``digest extract FILE|URL`` runs.
"""

from __future__ import annotations

import codecs
import dataclasses
import datetime as dt
import json
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import httpx
import trafilatura

from digest import __version__
from digest.clean import clean_text
from digest.errors import ExtractError
from digest.language import detect_language
from digest.models import Article, Image
from digest.netguard import (
    BlockedAddress,
    FetchFailed,
    Resolver,
    RobotsCache,
    check_url,
    guarded_transport,
    system_resolve,
)

log = logging.getLogger(__name__)

USER_AGENT = f"digest/{__version__} (+https://github.com/digest-news/digest)"
MAX_REDIRECTS = 10
SHORT_TEXT_CHARS = 600
ROBOTS_MAX_BYTES = 512_000
HTML_TYPES = ("text/html", "application/xhtml+xml", "application/xml", "text/xml")


@dataclass(frozen=True)
class ExtractedPage:
    """What one article page yielded. ``published`` is aware UTC; ``text`` has blank-line
    separated paragraphs, already cleaned of boilerplate."""

    title: str | None
    text: str
    language: str | None
    published: dt.datetime | None
    image: Image | None
    url: str | None


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


_TRUNCATION_MARKERS = (
    "[…]",
    "[...]",
    "(…)",
    "(...)",
    "...",
    "…",
    "read more",
    "continue reading",
    "read the full story",
    "read full article",
    "baca selengkapnya",
    "selengkapnya",
    "weiterlesen",
    "lire la suite",
    "leer más",
    "leia mais",
)
# WordPress appends this after the excerpt's "[…]"; it is not part of the teaser.
_WP_APPEARED = re.compile(r"\s*The post .{1,300} appeared first on .{1,200}$", re.S | re.I)
_TRAILING_DECOR = " \t\r\n»›→>:.!\u00a0-–—"


def _ends_truncated(text: str) -> bool:
    tail = _WP_APPEARED.sub("", text).rstrip()
    if not tail:
        return False
    low = tail.lower()
    for marker in _TRUNCATION_MARKERS:
        if low.endswith(marker):
            return True
    # "Read more »", "Continue reading →", "Selengkapnya:" with decoration after the words.
    stripped = low.rstrip(_TRAILING_DECOR)
    return any(stripped.endswith(m) for m in _TRUNCATION_MARKERS if m[0].isalpha())


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
    if len(text) < SHORT_TEXT_CHARS or _ends_truncated(text):
        return True
    return typical_chars is not None and len(text) < typical_chars * 0.5


# ---------------------------------------------------------------- images

_TRACKER_HOSTS = (
    "feeds.feedburner.com",
    "feedproxy.google.com",
    "doubleclick.net",
    "google-analytics.com",
    "googletagmanager.com",
    "stats.wordpress.com",
    "pixel.wp.com",
    "quantserve.com",
    "scorecardresearch.com",
    "facebook.com",
    "facebook.net",
    "pixel.quantserve.com",
    "analytics.twitter.com",
    "t.co",
    "bat.bing.com",
    "sb.scorecardresearch.com",
    "mc.yandex.ru",
    "counter.yadro.ru",
    "feedblitz.com",
    "feedsportal.com",
    "pheedo.com",
    "ads.",
)
_TRACKER_PATH = re.compile(
    r"(/~r/|/~ff/|/pixel[./_]|/tracking|/beacon|/1x1\.|/spacer\.|/blank\.gif)", re.I
)
MIN_IMAGE_PX = 50


def acceptable_image(url: str | None, width: int | None, height: int | None) -> bool:
    """True for a real picture: http(s) URL, both dimensions known and at least 50 px, not
    a tracking pixel or a known tracking host."""
    if not url or width is None or height is None:
        return False
    if width < MIN_IMAGE_PX or height < MIN_IMAGE_PX:
        return False
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    host = parts.hostname.lower()
    if host.startswith(("pixel.", "ads.", "ad.", "tracking.", "track.", "stats.")):
        return False
    for tracker in _TRACKER_HOSTS:
        if host == tracker or host.endswith("." + tracker):
            return False
    return not _TRACKER_PATH.search(parts.path)


# ---------------------------------------------------------------- decoding and metadata

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)


def decode_html(data: bytes, charset: str | None = None) -> str:
    """Decode page bytes: BOM, else strict UTF-8 (pages often declare a legacy charset but
    are UTF-8), else the HTTP charset, else the ``<meta>`` one, else a detector's guess."""
    for bom, enc in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            return data.decode(enc, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    candidates = [charset] if charset else []
    match = _META_CHARSET.search(data[:4096])
    if match:
        candidates.append(match.group(1).decode("ascii", "ignore"))
    for enc in candidates:
        try:
            return data.decode(_legacy_superset(enc))
        except (LookupError, UnicodeDecodeError):
            continue
    from charset_normalizer import from_bytes  # trafilatura depends on it

    best = from_bytes(data).best()
    if best is not None:
        return str(best)
    return data.decode("utf-8", errors="replace")


def _legacy_superset(encoding: str) -> str:
    # Browsers read latin-1 and ascii labels as windows-1252 (WHATWG Encoding standard).
    enc = encoding.strip().lower()
    return "cp1252" if enc in ("iso-8859-1", "latin-1", "latin1", "us-ascii", "ascii") else enc


def _meta(tree: Any, *names: str) -> str | None:
    for name in names:
        for attr in ("property", "name", "itemprop"):
            values = tree.xpath(f'//meta[@{attr}="{name}"]/@content')
            for value in values:
                if value and value.strip():
                    return str(value).strip()
    return None


def _parse_datetime(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        value += "T00:00:00+00:00"
    value = re.sub(r"Z$", "+00:00", value)
    value = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", value)  # +0100 -> +01:00
    try:
        parsed = dt.datetime.fromisoformat(value.replace(" ", "T", 1))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        # A page without an offset most often means local time; UTC is the least wrong guess.
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def _json_ld_dates(tree: Any) -> Iterator[str]:
    for script in tree.xpath('//script[@type="application/ld+json"]/text()'):
        try:
            data = json.loads(script)
        except ValueError:
            continue
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                if isinstance(item.get("datePublished"), str):
                    yield item["datePublished"]
                stack.extend(v for v in item.values() if isinstance(v, list | dict))


def _published(tree: Any, fallback: str | None) -> dt.datetime | None:
    candidates: list[str | None] = [
        _meta(
            tree,
            "article:published_time",
            "og:published_time",
            "datePublished",
            "pubdate",
            "publishdate",
            "publish-date",
            "parsely-pub-date",
            "sailthru.date",
            "dc.date.issued",
            "DC.date.issued",
            "date",
        )
    ]
    candidates.extend(_json_ld_dates(tree))
    candidates.extend(str(v) for v in tree.xpath("//time[@datetime]/@datetime")[:1])
    candidates.append(fallback)
    for value in candidates:
        parsed = _parse_datetime(value)
        if parsed is not None:
            return parsed
    return None


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    match = re.match(r"\s*(\d+)", value)
    return int(match.group(1)) if match else None


def _image(tree: Any, base: str | None) -> Image | None:
    src = _meta(tree, "og:image:secure_url", "og:image", "og:image:url")
    width = _int(_meta(tree, "og:image:width"))
    height = _int(_meta(tree, "og:image:height"))
    if src is None or width is None or height is None:
        src = _meta(tree, "twitter:image", "twitter:image:src") or src
        width = width or _int(_meta(tree, "twitter:image:width"))
        height = height or _int(_meta(tree, "twitter:image:height"))
    if src is None:
        return None
    src = urljoin(base, src) if base else src
    if not acceptable_image(src, width, height):
        return None
    assert width is not None and height is not None
    alt = _meta(tree, "og:image:alt", "twitter:image:alt") or ""
    return Image(url=src, width=width, height=height, alt=alt)


def _declared_language(tree: Any) -> str | None:
    values = tree.xpath("/html/@lang | /html/@xml:lang") or []
    value = values[0] if values else _meta(tree, "og:locale", "content-language", "language")
    if not value:
        http_equiv = tree.xpath(
            '//meta[translate(@http-equiv, "LANGUAGE", "language")="content-language"]/@content'
        )
        value = http_equiv[0] if http_equiv else None
    if not value:
        return None
    code = re.split(r"[-_,; ]", str(value).strip().lower())[0]
    return code if re.fullmatch(r"[a-z]{2,3}", code) else None


def _language(text: str, title: str | None, declared: str | None) -> str | None:
    # Declared languages are often a theme's default (lang="en-US" on Indonesian news), so
    # trust the text when there is enough of it.
    if len(text) >= 200:
        return detect_language(text, title=title) or declared
    return declared


_TITLE_SEPARATORS = (" | ", " - ", " – ", " — ", " :: ", " « ", " » ", " _", "：", ": ")


def _site_names(sitename: str | None, url: str | None) -> set[str]:
    names = set()
    if sitename:
        names.add(re.sub(r"\W", "", sitename.lower()))
    host = (urlsplit(url).hostname or "") if url else ""
    labels = [x for x in host.lower().split(".") if x not in ("www", "m", "amp")]
    # The registrable name: "regional.kompas.com" -> "kompas", "republika.co.id" -> "republika".
    while len(labels) > 1 and (len(labels[-1]) <= 3 or labels[-1] in ("info", "news")):
        labels.pop()
    if labels and len(labels[-1]) >= 4:
        names.add(labels[-1])
    return {n for n in names if n}


def _clean_title(title: str, sitename: str | None, url: str | None) -> str:
    """The headline without the site's name glued before or after it."""
    names = _site_names(sitename, url)

    def is_site(part: str) -> bool:
        key = re.sub(r"\W", "", part.lower())
        return bool(key) and len(part) <= 40 and any(n in key for n in names)

    title = " ".join(title.split())
    for sep in _TITLE_SEPARATORS:
        parts = title.split(sep)
        if len(parts) < 2:
            continue
        if is_site(parts[-1]) and sep not in ("：", ": "):
            parts = parts[:-1]
        elif is_site(parts[0]):
            parts = parts[1:]
        title = sep.join(parts).strip()
    return title


# ---------------------------------------------------------------- extraction


def _paragraphs(text: str) -> str:
    lines = [line.strip() for line in text.splitlines()]
    return "\n\n".join(line for line in lines if line)


def _main_text(tree: Any, url: str | None) -> str:
    """Main text, one paragraph per line.

    trafilatura with ``favor_precision`` and without comments scored best on the 100-page
    development set (bench/extract_quality.py: F1 0.963 against 0.939 for its defaults;
    ``favor_recall`` 0.929): news pages carry related-article lists and teasers that the
    default mode keeps. When precision mode finds nothing, the default then the recall mode
    get their chance, so a page it is too strict for still yields text.
    """
    for precision, recall in _MODES:
        text = trafilatura.extract(
            tree,
            url=url,
            include_comments=False,
            favor_precision=precision,
            favor_recall=recall,
        )
        if text and text.strip():
            return str(text)
    return ""


# (favor_precision, favor_recall), tried in order until one finds text.
_MODES = ((True, False), (False, False), (False, True))


def extract_html(html: str | bytes, *, url: str | None = None) -> ExtractedPage:
    """Extract the main text and metadata of one article page.

    Raises :class:`ExtractError` when the page has no main text.
    """
    source = decode_html(html) if isinstance(html, bytes) else html
    if not source.strip():
        raise ExtractError(f"{url or 'page'}: the page is empty")
    tree = trafilatura.load_html(source)  # returns None instead of raising on bad markup
    if tree is None:
        raise ExtractError(f"{url or 'page'}: cannot parse the HTML")
    meta = trafilatura.extract_metadata(tree, default_url=url)
    title = (meta.title if meta is not None else None) or _meta(tree, "og:title")
    if title:
        sitename = (meta.sitename if meta is not None else None) or _meta(tree, "og:site_name")
        title = _clean_title(title, sitename, url) or title
    page_url = url or (meta.url if meta is not None else None) or _meta(tree, "og:url")
    raw = _main_text(tree, url)
    text = clean_text(_paragraphs(raw), title=title) if raw else ""
    text = _paragraphs(text)
    if not text.strip():
        raise ExtractError(f"{url or 'page'}: no main text found")
    return ExtractedPage(
        title=title.strip() if title else None,
        text=text,
        language=_language(text, title, _declared_language(tree)),
        published=_published(tree, meta.date if meta is not None else None),
        image=_image(tree, page_url),
        url=page_url,
    )


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
