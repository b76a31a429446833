"""Parse feed bytes into articles: RSS 0.9x/1.0/2.0 and Atom (feedparser), JSON Feed 1.0/1.1.

:func:`parse_feed` never touches the network. It reads whatever can be read: an ill-formed
("bozo") feed still yields its entries plus a warning, and only bytes that hold no feed at
all (an HTML page, binary, nothing) raise :class:`~digest.errors.ParseError`.

Article identity (``Article.id``) follows :mod:`digest.sources.identity`: the canonical link,
else the guid, else a hash of title and text.

Other fields: ``published`` is aware UTC (published, else updated, else created; None when
the feed gives no date; more than a day in the future becomes ``now``). ``text`` is the
longest of the content elements and the summary, as plain text. ``full_text`` is True for
text of 1,000+ characters, or 400+ from a content element, unless it ends like a teaser
("…", "Continue reading", "Weiterlesen", "Baca selengkapnya" ...). ``image`` comes from
media:thumbnail / media:content / image enclosures only with known width and height (both
large enough to be a picture, never a tracker: see
``digest.sources.netguard.acceptable_image``). ``language`` is the source's when set, else the
entry's or feed's declared one (``en-GB`` -> ``en``), else None.
"""

from __future__ import annotations

import calendar
import contextlib
import dataclasses
import datetime as dt
import io
import json
import logging
import os
import re
import signal
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, as_completed, wait
from dataclasses import dataclass
from html.parser import HTMLParser
from multiprocessing import get_context
from typing import Any
from urllib.parse import urljoin

import feedparser

from digest.errors import ParseError
from digest.i18n import language_code
from digest.models import Article, FeedProblem, FeedSource, FetchResult, Image, ParsedFeed
from digest.sources.http import looks_like_html
from digest.sources.identity import assign_ids, clean_link
from digest.sources.netguard import acceptable_image

log = logging.getLogger(__name__)

# Text at least this long is taken as the whole article even without a content element.
FULL_TEXT_MIN_CHARS = 1000
# A content element (content:encoded, atom:content, content_html) counts as the whole
# article from this length on; shorter ones are teasers copied into the content slot.
FULL_CONTENT_MIN_CHARS = 400
# Dates further than this in the future are typos or time-zone bugs: taken as "now".
FUTURE_SLACK = dt.timedelta(days=1)

_WS = re.compile(r"[ \t\r\f\v\u00a0]+")


# --- characters that are not text ----------------------------------------------------------

# Lone surrogates ("\ud800" in a JSON Feed, &#xD800; in XML) cannot be encoded as UTF-8, so
# one of them used to stop every later stage (hashing, SQLite, stdout). U+FFFE/U+FFFF are not
# characters XML allows, and our own Atom feed of digests must stay well-formed.
_REPLACE = "\ud800-\udfff\ufffe\uffff"
# C0 controls (NUL among them) other than tab and line breaks, DEL and C1 controls are never
# text; a C1 control is almost always a Windows-1252 byte decoded as Latin-1 ("\x93"), so it
# becomes the character that code page meant, or goes when it means nothing.
_NOT_TEXT = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_REPLACE}]")


def _c1_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {c: None for c in [*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20)]}
    table[0x7F] = None
    for code in range(0x80, 0xA0):
        try:
            table[code] = bytes([code]).decode("cp1252")
        except UnicodeDecodeError:
            table[code] = None
    table.update({c: "\ufffd" for c in range(0xD800, 0xE000)})
    table[0xFFFE] = table[0xFFFF] = "\ufffd"
    return table


_SCRUB_TABLE = _c1_table()


def scrub(text: str) -> str:
    """``text`` safe to encode, store and print: lone surrogates and U+FFFE/U+FFFF become
    U+FFFD, control characters other than tab and line breaks are removed (C1 controls
    become the Windows-1252 character they stand for)."""
    if _NOT_TEXT.search(text) is None:
        return text
    return text.translate(_SCRUB_TABLE)


def _scrub_json(value: Any) -> Any:
    """Every string (keys too) of decoded JSON passed through :func:`scrub`."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, list):
        return [_scrub_json(v) for v in value]
    if isinstance(value, dict):
        return {scrub(str(k)): _scrub_json(v) for k, v in value.items()}
    return value


def _scrub_fields(value: Any) -> Any:
    """A frozen dataclass with :func:`scrub` applied to every str field (and nested
    dataclasses, tuples of them): whatever a parser let through, nothing unencodable leaves
    this module. Returns ``value`` itself when nothing changed."""
    changes: dict[str, Any] = {}
    for spec in dataclasses.fields(value):
        current = getattr(value, spec.name)
        if isinstance(current, str):
            new: Any = scrub(current)
        elif dataclasses.is_dataclass(current) and not isinstance(current, type):
            new = _scrub_fields(current)
        elif isinstance(current, tuple) and any(
            dataclasses.is_dataclass(v) or isinstance(v, str) for v in current
        ):
            new = tuple(
                scrub(v)
                if isinstance(v, str)
                else _scrub_fields(v)
                if dataclasses.is_dataclass(v) and not isinstance(v, type)
                else v
                for v in current
            )
            if all(a is b for a, b in zip(new, current, strict=True)):
                new = current
        else:
            continue
        if new is not current and new != current:
            changes[spec.name] = new
    return dataclasses.replace(value, **changes) if changes else value


_CHARREF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]{1,16})|([0-9]{1,20}));")


def _fix_charref(match: re.Match[bytes]) -> bytes:
    hexa, decimal = match.groups()
    code = int(hexa, 16) if hexa else int(decimal)
    if code in (0x09, 0x0A, 0x0D) or 0x20 <= code < 0xD800 or 0xE000 <= code < 0xFFFE:
        return match.group(0)
    if 0x10000 <= code <= 0x10FFFF:
        return match.group(0)
    if code < 0x20:
        return b""  # a control character: not text, and not allowed in XML
    return b"&#xFFFD;"  # a surrogate, U+FFFE/U+FFFF or beyond Unicode


def _fix_charrefs(body: bytes) -> bytes:
    """Character references XML forbids, rewritten before feedparser sees them: its fallback
    parser turns ``&#xD800;`` into an exception and ``&#x110000;`` into another."""
    if b"&#" not in body:
        return body
    return _CHARREF.sub(_fix_charref, body)


# A newline or a BOM before "<?xml" (9 of 82 real feeds) is a publishing slip that readers
# ignore; expat calls it fatal, which made digest warn about perfectly readable feeds.
_BEFORE_DECLARATION = re.compile(rb"(?:\xef\xbb\xbf|[ \t\r\n])+(?=<\?xml[ \t\r\n?])")
_UTF8_BOM = b"\xef\xbb\xbf"


def _strip_before_declaration(body: bytes) -> bytes:
    match = _BEFORE_DECLARATION.match(body)
    if match is None or match.group(0) == _UTF8_BOM:
        return body
    # A BOM still says "UTF-8"; keep it, in front where it belongs.
    bom = _UTF8_BOM if _UTF8_BOM in match.group(0) else b""
    return bom + body[match.end() :]


# --- URLs -----------------------------------------------------------------------------


def _is_http(url: str) -> bool:
    return bool(re.match(r"^https?://[^\s/?#]+", url, re.IGNORECASE))


def _absolute(url: str | None, base: str | None) -> str | None:
    if not url or not isinstance(url, str):
        return None
    url = url.strip()
    if not url:
        return None
    if base and not _is_http(url):
        try:
            url = urljoin(base, url)
        except ValueError:
            return None
    return url


# --- text -----------------------------------------------------------------------------


def _html_to_text(html: str) -> str:
    # Imported lazily: clean.py pulls in heavier dependencies, and parse workers import
    # this module before they need it.
    from digest.text.html import html_to_text

    return html_to_text(html)


def _plain(text: str) -> str:
    lines = (_WS.sub(" ", line).strip() for line in text.splitlines())
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def _to_text(value: str, mime: str | None) -> str:
    if not value:
        return ""
    if mime and "html" not in mime.lower():
        return _plain(value)  # declared plain text: "a < b" is not markup
    if "<" not in value and "&" not in value:
        return _plain(value)
    return _html_to_text(value)


# Line and paragraph separators are line breaks too (str.splitlines, editors, terminals).
_BREAKS = re.compile("[\n\u2028\u2029]")


def _one_line(text: str) -> str:
    return _WS.sub(" ", _BREAKS.sub(" ", text)).strip()


def _title_from_text(text: str, limit: int = 100) -> str:
    first = _one_line(text.split("\n", 1)[0]) if text else ""
    if len(first) <= limit:
        return first
    cut = first[:limit].rsplit(" ", 1)[0] or first[:limit]
    return cut.rstrip(" ,;:.-") + "…"


def _is_full_text(text: str, has_content: bool) -> bool:
    from digest.text.clean import ends_truncated  # lazily, as in _html_to_text

    if not text or ends_truncated(text):
        return False
    return len(text) >= FULL_TEXT_MIN_CHARS or (has_content and len(text) >= FULL_CONTENT_MIN_CHARS)


# --- dates and languages ----------------------------------------------------------------


def _from_struct(value: Any) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromtimestamp(calendar.timegm(value), tz=dt.UTC)
    except (OverflowError, ValueError, TypeError, OSError):
        return None


def parse_date(value: str | None) -> dt.datetime | None:
    """An RFC 3339 / RFC 822 / W3C date string as aware UTC, or None when unreadable."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip()
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return _from_struct(feedparser.datetimes._parse_date(text))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def _sane_date(when: dt.datetime | None, now: dt.datetime) -> dt.datetime | None:
    if when is None:
        return None
    if when > now + FUTURE_SLACK:
        return now.astimezone(dt.UTC)
    return when


def normalize_language(value: Any) -> str | None:
    """``en-US`` / ``EN_gb`` / ``de`` -> a lower-case ISO 639-1 code; None for anything else."""
    return language_code(value)


# --- images ---------------------------------------------------------------------------


def _int(value: Any) -> int | None:
    try:
        number = int(str(value).strip().removesuffix("px"))
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _pick_image(candidates: Iterable[Mapping[str, Any]], base: str | None) -> Image | None:
    best: Image | None = None
    for item in candidates:
        url = _absolute(item.get("url") or item.get("href"), base)
        if not url or not _is_http(url):
            continue
        mime = str(item.get("type") or "")
        medium = str(item.get("medium") or "")
        if (mime and not mime.startswith("image/")) or (medium and medium != "image"):
            continue
        width, height = _int(item.get("width")), _int(item.get("height"))
        if width is None or height is None or not acceptable_image(url, width, height):
            continue
        if best is None or width * height > best.width * best.height:
            best = Image(url=url, width=width, height=height, alt=str(item.get("alt") or ""))
    return best


@dataclass(frozen=True)
class _Draft:
    """One entry as read from the feed, before it gets its id and becomes an Article."""

    guid: str | None
    link: str | None
    title: str
    text: str
    has_content: bool
    published: dt.datetime | None
    language: str | None
    author: str | None
    image: Image | None


# --- the parsers ----------------------------------------------------------------------


def _lower_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in (headers or {}).items()}


def _looks_like_json(body: bytes) -> bool:
    head = body[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"{")


def _make_articles(
    drafts: list[_Draft],
    source: FeedSource,
    feed_name: str,
    feed_language: str | None,
    now: dt.datetime,
) -> tuple[Article, ...]:
    from digest.text.clean import strip_feed_boilerplate

    # Ids come from the text as the feed gives it, so they never change with the cleaning.
    ids = assign_ids([(d.link, d.guid, d.title, d.text) for d in drafts], source.key)
    # Lines that recur across this feed's entries (footers, "View full coverage", "The post
    # X appeared first on Y") are its furniture: only here are all its entries at hand.
    texts = strip_feed_boilerplate([(d.title or None, d.text) for d in drafts])
    language_fixed = source.language if source.language != "auto" else None
    articles = []
    for draft, article_id, text in zip(drafts, ids, texts, strict=True):
        title = draft.title or _title_from_text(text)
        articles.append(
            Article(
                id=article_id,
                feed=feed_name,
                feed_key=source.key,
                title=title,
                # Only http(s): a javascript: or tag: "link" must never reach a template.
                link=clean_link(draft.link) if draft.link and _is_http(draft.link) else None,
                published=_sane_date(draft.published, now),
                text=text,
                language=language_fixed or draft.language or feed_language,
                full_text=_is_full_text(text, draft.has_content),
                image=draft.image,
                author=draft.author or None,
                guid=draft.guid,
                category=source.category,
                weight=source.weight,
            )
        )
    return tuple(articles)


def _json_feed(
    data: Mapping[str, Any], source: FeedSource, base: str | None, now: dt.datetime
) -> ParsedFeed:
    base = _absolute(data.get("feed_url"), base) or base
    home = _absolute(data.get("home_page_url"), base)
    title = _one_line(str(data.get("title") or ""))
    feed_language = normalize_language(data.get("language"))
    feed_name = source.name or title or source.label
    items = data.get("items")
    problems: list[FeedProblem] = []
    if not isinstance(items, list):
        problems.append(
            FeedProblem(feed_name, "JSON Feed without an items list; read no entries", "warning")
        )
        items = []
    drafts: list[_Draft] = []
    skipped = 0
    for item in items:
        if not isinstance(item, dict):
            skipped += 1
            continue
        candidates = []
        html = item.get("content_html")
        plain = item.get("content_text")
        summary = item.get("summary")
        if isinstance(html, str) and html.strip():
            candidates.append((_to_text(html, "text/html"), True))
        if isinstance(plain, str) and plain.strip():
            candidates.append((_plain(plain), True))
        if isinstance(summary, str) and summary.strip():
            candidates.append((_plain(summary), False))
        text, has_content = max(candidates, key=lambda c: len(c[0]), default=("", False))
        link = _absolute(item.get("url"), base) or _absolute(item.get("external_url"), base)
        authors = item.get("authors") or ([item["author"]] if item.get("author") else [])
        author = next(
            (str(a.get("name")) for a in authors if isinstance(a, dict) and a.get("name")), None
        )
        guid = item.get("id")
        drafts.append(
            _Draft(
                guid=str(guid) if guid not in (None, "") else None,
                link=link,
                title=_one_line(str(item.get("title") or "")),
                text=text,
                has_content=has_content,
                published=parse_date(item.get("date_published"))
                or parse_date(item.get("date_modified")),
                language=normalize_language(item.get("language")),
                author=author,
                image=None,  # JSON Feed gives no image dimensions.
            )
        )
    if skipped:
        problems.append(
            FeedProblem(
                feed_name,
                f"{skipped} JSON Feed "
                + ("item is not an object" if skipped == 1 else "items are not objects")
                + "; skipped",
                "warning",
            )
        )
    return ParsedFeed(
        source=source,
        title=title or feed_name,
        link=home,
        articles=_make_articles(drafts, source, feed_name, feed_language, now),
        problems=tuple(problems),
        language=feed_language,
    )


_TAG = re.compile(r"<[^>]*>|&[#\w]+;")


def _rough_length(value: str) -> int:
    return len(_TAG.sub("", value).strip())


def _entry_text(entry: Mapping[str, Any]) -> tuple[str, bool]:
    candidates: list[tuple[str, str | None, bool]] = [
        (str(c.get("value") or ""), c.get("type"), True) for c in entry.get("content") or ()
    ]
    summary = entry.get("summary")
    if summary:
        candidates.append((str(summary), (entry.get("summary_detail") or {}).get("type"), False))
    if not candidates:
        return "", False
    # HTML-to-text is a third of the parsing time: convert only the candidate whose text is
    # longest by a cheap estimate (tags and entities stripped), not every one of them.
    raw, mime, is_content = max(candidates, key=lambda c: _rough_length(c[0]))
    return _to_text(raw, mime), is_content


def _entry_language(entry: Mapping[str, Any]) -> str | None:
    for detail in [*(entry.get("content") or ()), entry.get("summary_detail") or {}]:
        lang = normalize_language(detail.get("language"))
        if lang:
            return lang
    return None


def _entry_image(entry: Mapping[str, Any], base: str | None) -> Image | None:
    candidates: list[Mapping[str, Any]] = []
    candidates.extend(entry.get("media_thumbnail") or ())
    candidates.extend(entry.get("media_content") or ())
    candidates.extend(
        e for e in entry.get("enclosures") or () if str(e.get("type") or "").startswith("image/")
    )
    return _pick_image(candidates, base)


def _bozo_reason(exc: BaseException | None) -> str:
    if exc is None:
        return "ill-formed"
    name = type(exc).__name__
    message = _one_line(str(getattr(exc, "getMessage", lambda: str(exc))()))
    if name == "CharacterEncodingOverride":
        return f"wrong character encoding declared ({message})"
    if name == "NonXMLContentType":
        return f"served with a non-XML content type ({message})"
    if name == "CharacterEncodingUnknown":
        return f"unknown character encoding ({message})"
    return f"not well-formed XML: {message}" if message else "not well-formed XML"


def _xml_feed(
    body: bytes,
    source: FeedSource,
    headers: dict[str, str],
    base: str | None,
    now: dt.datetime,
) -> ParsedFeed:
    response_headers = dict(headers)
    # Local files have no headers; without a content type feedparser flags every one of
    # them as ill-formed. application/xml lets the XML declaration name the charset.
    response_headers.setdefault("content-type", "application/xml")
    if base:
        response_headers["content-location"] = base
    # BytesIO: feedparser treats a bytes/str argument that looks like a path or URL as one.
    # No sanitising and no URI rewriting inside HTML: we keep text only, never feed HTML.
    parsed = feedparser.parse(
        io.BytesIO(body),
        response_headers=response_headers,
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    feed = parsed.get("feed") or {}
    entries = parsed.get("entries") or []
    # Unknown formats (CDF) still count when they gave anything; an HTML page's <title>
    # does not make it a feed.
    if not entries and not parsed.get("version") and (looks_like_html(body) or not feed):
        raise ParseError(_unreadable(body, source, parsed))
    title = _to_text(str(feed.get("title") or ""), (feed.get("title_detail") or {}).get("type"))
    title = _one_line(title)
    feed_name = source.name or title or source.label
    feed_language = normalize_language(feed.get("language")) or normalize_language(
        headers.get("content-language")
    )
    drafts: list[_Draft] = []
    for entry in entries:
        text, has_content = _entry_text(entry)
        raw_title = str(entry.get("title") or "")
        title_type = (entry.get("title_detail") or {}).get("type")
        link = entry.get("feedburner_origlink") or entry.get("link")
        drafts.append(
            _Draft(
                guid=str(entry.get("id") or "") or None,
                link=_absolute(link, base) if link else None,
                title=_one_line(_to_text(raw_title, title_type)),
                text=text,
                has_content=has_content,
                published=_from_struct(dict.get(entry, "published_parsed"))
                or _from_struct(dict.get(entry, "updated_parsed"))
                or _from_struct(dict.get(entry, "created_parsed")),
                language=_entry_language(entry),
                author=_one_line(str(entry.get("author") or "")) or None,
                image=_entry_image(entry, base),
            )
        )
    problems: list[FeedProblem] = []
    if parsed.get("bozo"):
        reason = _bozo_reason(parsed.get("bozo_exception"))
        problems.append(
            FeedProblem(
                feed_name,
                f"{reason}; read {_entries(len(entries))} anyway (tell the publisher if "
                "items are missing)",
                "warning",
            )
        )
    return ParsedFeed(
        source=source,
        title=title or feed_name,
        link=_absolute(feed.get("link"), base),
        articles=_make_articles(drafts, source, feed_name, feed_language, now),
        problems=tuple(problems),
        language=feed_language,
    )


def _entries(count: int) -> str:
    return f"{count} entry" if count == 1 else f"{count} entries"


def _unreadable(body: bytes, source: FeedSource, parsed: Any = None) -> str:
    what = source.label
    if not body.strip():
        return f"{what}: empty response, no feed; check the URL or remove the feed"
    if looks_like_html(body):
        links = discover_feed_links(body, source.url or "")
        hint = f"; its feed seems to be {links[0]}" if links else ""
        return (
            f"{what}: this is a web page, not a feed{hint}; "
            "use the feed's URL (look for an RSS or Atom link on the page)"
        )
    if b"\x00" in body[:1024]:
        return f"{what}: binary data, not a feed; check the URL or remove the feed"
    reason = ""
    if parsed is not None and parsed.get("bozo_exception") is not None:
        reason = f" ({_bozo_reason(parsed.get('bozo_exception'))})"
    return f"{what}: no RSS, Atom or JSON feed found{reason}; check the URL or remove the feed"


def parse_feed(
    body: bytes,
    source: FeedSource,
    *,
    headers: Mapping[str, str] | None = None,
    url: str | None = None,
    now: dt.datetime,
) -> ParsedFeed:
    """Every entry of one feed, in feed order (no dedupe), as :class:`Article` values.

    ``headers`` are the HTTP response headers (charset, content-location, language);
    ``url`` is the final URL, used to resolve relative links. Ill-formed feeds give their
    entries plus a warning :class:`FeedProblem`. Raises ParseError (one line) only when the
    bytes hold no feed at all; a feed with no entries is not an error.
    """
    lowered = _lower_headers(headers)
    base = url or lowered.get("content-location") or source.url
    if base is None and source.path is not None:
        base = source.path.resolve().as_uri()
    if _looks_like_json(body):
        try:
            data = _scrub_json(json.loads(body.decode("utf-8-sig", errors="replace")))
        except (ValueError, RecursionError):
            data = None
        if isinstance(data, dict) and (
            "jsonfeed.org" in str(data.get("version") or "") or isinstance(data.get("items"), list)
        ):
            return _scrub_parsed(_json_feed(data, source, base, now))
        if data is not None:
            raise ParseError(
                f"{source.label}: JSON but not a JSON Feed (no version or items); "
                "check the URL or remove the feed"
            )
    body = _fix_charrefs(_strip_before_declaration(body))
    return _scrub_parsed(_xml_feed(body, source, lowered, base, now))


def _scrub_parsed(parsed: ParsedFeed) -> ParsedFeed:
    articles = tuple(_scrub_fields(a) for a in parsed.articles)
    problems = tuple(_scrub_fields(p) for p in parsed.problems)
    changed = dataclasses.replace(parsed, articles=articles, problems=problems)
    result: ParsedFeed = _scrub_fields(changed)
    return result


def parse_result(result: FetchResult, *, now: dt.datetime) -> ParsedFeed:
    """:func:`parse_feed` on a successful :class:`FetchResult` (its body, headers, URL)."""
    return parse_feed(result.body, result.source, headers=result.headers, url=result.url, now=now)


# --- parsing many feeds ----------------------------------------------------------------

ParseOutcome = ParsedFeed | ParseError


def _parse_safely(result: FetchResult, now: dt.datetime) -> ParseOutcome:
    try:
        return parse_result(result, now=now)
    except ParseError as exc:
        return exc


def default_workers(feeds: int) -> int:
    """How many parse processes pay off for ``feeds`` feeds: 1 (in-process) for a handful,
    since starting a pool costs about half a second, else one per core (at most 8)."""
    if feeds < 24:
        return 1
    return max(1, min(os.cpu_count() or 1, 8))


def _background() -> None:
    """Parse workers yield the CPU to the fetching process: downloads waiting for a time
    slice behind CPU-bound parsers would stretch every request."""
    with contextlib.suppress(OSError):
        os.nice(10)
    # Ctrl-C in a terminal reaches every process of the group; the parent stops the run and
    # says so once, workers must not each print a KeyboardInterrupt traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def parse_many(
    results: Iterable[FetchResult],
    *,
    now: dt.datetime,
    workers: int = 1,
    executor_factory: Callable[[int], ProcessPoolExecutor] | None = None,
) -> Iterator[tuple[FetchResult, ParseOutcome]]:
    """Parse every ``ok`` result, yielding ``(result, ParsedFeed | ParseError)``.

    Results that are not ``ok`` (errors, 304) are skipped. With ``workers <= 1`` parsing
    happens here, in input order. With ``workers > 1`` it is spread over that many
    processes (feedparser is pure Python, so threads would not help) and pairs come in
    completion order, so one big feed never holds up the others. The input is consumed
    lazily, so a streaming fetch (:func:`digest.sources.fetch.iter_fetch`) overlaps with parsing and
    at most about ``4 * workers`` bodies wait in the pool.
    """
    pending_ok = (r for r in results if r.ok)
    if workers <= 1:
        for result in pending_ok:
            yield result, _parse_safely(result, now)
        return
    # spawn, not fork: the caller may have fetch threads running, and forking a process
    # with threads can copy a held lock into the child.
    factory = executor_factory or (
        lambda n: ProcessPoolExecutor(
            max_workers=n, mp_context=get_context("spawn"), initializer=_background
        )
    )
    window = 4 * workers
    with factory(workers) as pool:
        in_flight: dict[Future[ParseOutcome], FetchResult] = {}
        for result in pending_ok:
            in_flight[pool.submit(_parse_safely, result, now)] = result
            finished = [f for f in in_flight if f.done()]
            if len(in_flight) >= window and not finished:
                finished = list(wait(in_flight, return_when=FIRST_COMPLETED).done)
            for future in finished:
                yield in_flight.pop(future), future.result()
        for future in as_completed(list(in_flight)):
            yield in_flight.pop(future), future.result()


# --- discovery ------------------------------------------------------------------------

_FEED_TYPES = {
    "application/rss+xml": 0,
    "application/atom+xml": 1,
    "application/feed+json": 2,
    "application/json": 3,
    "application/rdf+xml": 4,
    "text/xml": 5,
    "application/xml": 6,
}


class _LinkFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []
        self.base: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): (v or "") for k, v in attrs}
        if tag == "base" and values.get("href") and self.base is None:
            self.base = values["href"]
        if tag not in ("link", "a"):
            return
        rel = values.get("rel", "").lower().split()
        kind = values.get("type", "").lower().split(";")[0].strip()
        if "alternate" in rel and kind in _FEED_TYPES and values.get("href"):
            self.links.append((kind, values["href"]))


def discover_feed_links(html: bytes, base_url: str) -> list[str]:
    """Feed URLs an HTML page announces with ``<link rel="alternate" type=...>``, best first.

    RSS before Atom before JSON Feed, duplicates removed, resolved against ``<base href>``
    or ``base_url``.
    """
    finder = _LinkFinder()
    try:
        finder.feed(html.decode("utf-8", errors="replace"))
        finder.close()
    except (AssertionError, ValueError):  # HTMLParser gives up on some broken markup
        pass
    base = urljoin(base_url, finder.base) if finder.base else base_url
    ranked = sorted(enumerate(finder.links), key=lambda p: (_FEED_TYPES[p[1][0]], p[0]))
    out: list[str] = []
    for _, (_, href) in ranked:
        try:
            absolute = urljoin(base, href.strip()) if base else href.strip()
        except ValueError:
            continue
        if _is_http(absolute) and absolute not in out:
            out.append(absolute)
    return out
