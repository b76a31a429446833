"""Main text and metadata of one article page, from its HTML. No network here.

:func:`extract_html` turns one page into an :class:`ExtractedPage`: main text with
trafilatura, then the shared boilerplate cleaner, plus title, language, date and image.
Fetching pages, deciding which articles need them and caching them is
:mod:`digest.sources.pages`.
"""

from __future__ import annotations

import codecs
import datetime as dt
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

import trafilatura

from digest.errors import ExtractError
from digest.models import ExtractedPage, Image
from digest.sources.netguard import acceptable_image
from digest.text.clean import clean_text
from digest.text.language import detect_language

# ---------------------------------------------------------------- images

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
