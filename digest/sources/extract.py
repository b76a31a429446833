"""Main text and metadata of one article page, from its HTML. No network here.

:func:`extract_html` turns one page into an :class:`ExtractedPage`: main text chosen by
agreement between extractors (trafilatura's fast precision setting checked against
resiliparse; when those two disagree, readability and jusText vote with them, and when
those four do not clearly agree trafilatura's balanced setting votes too), without the
lines at its end that lie outside the body's container on the page
(:mod:`digest.sources.tail`), then the shared boilerplate cleaner (table rows kept whole),
plus title, language, date and image. Files that are not HTML
(images, PDFs, archives, JSON, plain text) are refused with one line.
Fetching pages, deciding which articles need them and caching them is
:mod:`digest.sources.pages`.
"""

from __future__ import annotations

import codecs
import contextlib
import copy
import datetime as dt
import functools
import itertools
import json
import logging
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from digest.errors import ExtractError
from digest.models import ExtractedPage, Image
from digest.sources.netguard import acceptable_image
from digest.sources.tail import page_blocks, trim_tail
from digest.text.clean import clean_text
from digest.text.language import detect_language


class _PageNoise(logging.Filter):
    """Drops trafilatura's warnings and errors about one page ("discarding data", "empty
    HTML tree"): the vote runs it on pages it cannot read by design, and the ExtractError
    we raise already says in one line why a page gave no text. Its debug lines (``-vv``)
    and critical ones pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not logging.WARNING <= record.levelno < logging.CRITICAL


@functools.cache
def _trafilatura_module() -> Any:
    """trafilatura, imported on first use with its page noise filtered: a third of a second
    that a build needing no page (every feed whole, or every page cached) never spends."""
    import trafilatura

    noise = _PageNoise()
    for name in [n for n in logging.root.manager.loggerDict if n.split(".")[0] == "trafilatura"]:
        logging.getLogger(name).addFilter(noise)
    return trafilatura


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


_MetaTags = dict[tuple[str, str], list[str]]


def _meta_tags(tree: Any) -> _MetaTags:
    """Every ``<meta>`` content by (attribute, name), in page order: read once, because
    title, date, image and language look up some thirty names (an XPath scan each)."""
    tags: _MetaTags = {}
    for el in tree.iter("meta"):
        content = el.get("content")
        if content is None:
            continue
        for attr in ("property", "name", "itemprop"):
            name = el.get(attr)
            if name is not None:
                tags.setdefault((attr, name), []).append(content)
    return tags


def _meta(tags: _MetaTags, *names: str) -> str | None:
    for name in names:
        for attr in ("property", "name", "itemprop"):
            for value in tags.get((attr, name), ()):
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


def _published(
    tree: Any, tags: _MetaTags, fallback: Callable[[], str | None]
) -> dt.datetime | None:
    candidates: list[str | None] = [
        _meta(
            tags,
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
    for value in candidates:
        parsed = _parse_datetime(value)
        if parsed is not None:
            return parsed
    return _parse_datetime(fallback())


@dataclass(frozen=True)
class _PageMeta:
    title: str | None
    sitename: str | None
    url: str | None
    date: Callable[[], str | None]  # htmldate's guess, computed only when the page has no date


def _page_meta(tree: Any, url: str | None) -> _PageMeta:
    """Title, site name, canonical URL and a date finder, from trafilatura's metadata
    helpers: only the parts we use (its ``extract_metadata`` also looks for authors,
    categories, tags and licences, which cost more than the rest of the page's metadata)."""
    try:
        from htmldate import find_date
        from trafilatura.metadata import (
            examine_meta,
            extract_meta_json,
            extract_sitename,
            extract_title,
            extract_url,
        )
        from trafilatura.settings import set_date_params
    except ImportError:  # a trafilatura that moved its helpers: the whole, slower call
        meta = _trafilatura_module().extract_metadata(tree, default_url=url, extensive=False)
        return _PageMeta(meta.title, meta.sitename, meta.url, lambda: meta.date)
    meta = examine_meta(tree)
    with contextlib.suppress(Exception):  # its JSON-LD reader has bugs; the tags still count
        meta = extract_meta_json(tree, meta)
    title = meta.title or extract_title(tree)
    page_url = meta.url or extract_url(tree, url)
    sitename = meta.sitename or extract_sitename(tree)

    def date() -> str | None:
        params = {**set_date_params(False), "url": page_url}
        found = find_date(tree, **params)
        return str(found) if found else None

    return _PageMeta(
        title=" ".join(str(title).split()) if title else None,
        sitename=str(sitename).strip().lstrip("@") if sitename else None,
        url=str(page_url) if page_url else None,
        date=date,
    )


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    match = re.match(r"\s*(\d+)", value)
    return int(match.group(1)) if match else None


def _image(tags: _MetaTags, base: str | None) -> Image | None:
    src = _meta(tags, "og:image:secure_url", "og:image", "og:image:url")
    width = _int(_meta(tags, "og:image:width"))
    height = _int(_meta(tags, "og:image:height"))
    if src is None or width is None or height is None:
        src = _meta(tags, "twitter:image", "twitter:image:src") or src
        width = width or _int(_meta(tags, "twitter:image:width"))
        height = height or _int(_meta(tags, "twitter:image:height"))
    if src is None:
        return None
    src = urljoin(base, src) if base else src
    if not acceptable_image(src, width, height):
        return None
    assert width is not None and height is not None
    alt = _meta(tags, "og:image:alt", "twitter:image:alt") or ""
    return Image(url=src, width=width, height=height, alt=alt)


def _declared_language(tree: Any, tags: _MetaTags) -> str | None:
    values = tree.xpath("/html/@lang | /html/@xml:lang") or []
    value = values[0] if values else _meta(tags, "og:locale", "content-language", "language")
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


# ---------------------------------------------------------------- extraction by agreement

_WORD = re.compile(r"\w+")

#: Token F1 between trafilatura's fast precision text and resiliparse's main-content text
#: (an independent, cheap witness) at or above which the precision text is taken as it is;
#: below it the other extractors run and they vote. Chosen by leave-site-out cross-validation
#: over both DEV sets (bench/extract_quality.py) among the values that keep at most about a
#: third of the pages going to the vote (the speed budget): every held-out site and every
#: one of ten site-grouped folds picked 0.9, with the balanced voter. Mean F1 is flat from
#: 0.6 to 0.98 (0.957-0.960); higher values only cost time.
AGREEMENT = 0.9

#: When the first two disagree, readability and jusText run and these four vote first: if
#: their medoid's mean token F1 to the other three is at least this, it wins and
#: trafilatura's balanced setting (the dearest voter, about half the time of a vote) is not
#: run. Chosen by the same leave-site-out cross-validation among 0.85-0.95 and "never":
#: with the tail cut (digest.sources.tail) every held-out site and every fold picked 0.9,
#: which settles about one vote in four. It is a hair: 0.875, picked before the tail cut
#: and a little cheaper, scores 0.0001 less on articles2; 0.85 scores 0.001 less.
CONSENSUS = 0.9

#: The candidates, in the order that breaks ties: trafilatura's fast precision and its
#: balanced settings, readability, jusText and resiliparse.
CANDIDATES = ("precision", "balanced", "readability", "justext", "resiliparse")
_FIRST_VOTERS = frozenset(("precision", "readability", "justext", "resiliparse"))


def _tokens(text: str) -> Counter[str]:
    return Counter(map(str.lower, _WORD.findall(text)))


def token_f1(a: Counter[str], b: Counter[str]) -> float:
    """Token F1 of two bags of words (how far two extractions agree)."""
    if len(a) > len(b):
        a, b = b, a
    overlap = sum(min(n, b[w]) for w, n in a.items() if w in b)
    return 2 * overlap / (a.total() + b.total()) if overlap else 0.0


#: trafilatura settings: (fast, favor_precision, favor_recall). "precision" is the fast
#: precision mode (no fallback of its own: when it is unsure, the vote is the fallback);
#: "balanced" is the default mode with trafilatura's own readability/jusText comparison;
#: "recall" is measured by the benchmark as the alternative voter.
_SETTINGS = {
    "precision": (True, True, False),
    "balanced": (False, False, False),
    "recall": (False, False, True),
}


def _trafilatura(tree: Any, url: str | None, setting: str) -> str:
    fast, precision, recall = _SETTINGS[setting]
    text = _trafilatura_module().extract(
        tree,
        url=url,
        fast=fast,
        include_comments=False,
        favor_precision=precision,
        favor_recall=recall,
    )
    return str(text) if text else ""


_BLOCK_TAGS = frozenset(
    "address article aside blockquote br dd div dl dt figcaption figure footer h1 h2 h3 h4 h5"  # noqa: SIM905
    " h6 header hr li main nav ol p pre section table tbody td th thead tr ul".split()
)


def _block_text(root: Any) -> str:
    """Text of an element with a line break at every block boundary (lists, headings and
    table rows stay separate lines, as trafilatura writes them)."""
    parts: list[str] = []

    def walk(el: Any) -> None:
        block = isinstance(el.tag, str) and el.tag.lower() in _BLOCK_TAGS
        if block:
            parts.append("\n")
        if isinstance(el.tag, str) and el.text:
            parts.append(el.text)
        for child in el:
            walk(child)
            if child.tail:
                parts.append(child.tail)
        if block:
            parts.append("\n")

    walk(root)
    return "\n".join(" ".join(line.split()) for line in "".join(parts).splitlines())


def _readability(tree: Any) -> str:
    """Readability's algorithm, as the port trafilatura ships (``trafilatura.readability_lxml``,
    from readability-lxml): it works on the tree we already parsed, and on our pages it
    votes as well as readability-lxml itself at a seventh of the time."""
    from lxml.html import fromstring

    try:
        from trafilatura.readability_lxml import Document
    except ImportError:  # a trafilatura without the port: readability does not vote
        return ""
    try:
        summary = Document(copy.deepcopy(tree), min_text_length=25).summary()
        return _block_text(fromstring(summary)) if summary.strip() else ""
    except Exception:  # lxml's errors on markup the port cannot handle
        return ""


_JUSTEXT_LANGUAGES = {
    "en": "English",
    "id": "Indonesian",
    "ms": "Malay",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "pt": "Portuguese",
    "it": "Italian",
    "nl": "Dutch",
    "sv": "Swedish",
    "ru": "Russian",
    "uk": "Ukrainian",
    "pl": "Polish",
    "cs": "Czech",
    "sk": "Slovak",
    "el": "Greek",
    "tr": "Turkish",
    "vi": "Vietnamese",
    "ar": "Arabic",
    "hi": "Hindi",
    "ur": "Urdu",
    "ko": "Korean",
    "lv": "Latvian",
}


class _Paragraph:
    """One of jusText's paragraphs, with the text its classifier reads computed once: its
    own ``Paragraph`` rebuilds the text on every look (a dozen times per paragraph)."""

    __slots__ = (
        "_words",
        "cf_class",
        "chars_count_in_links",
        "class_type",
        "dom_path",
        "heading",
        "is_heading",
        "nodes",
        "tags_count",
        "text",
    )

    def __init__(self, path: list[str]) -> None:
        self.dom_path = ".".join(path)
        self.nodes: list[str] = []
        self.chars_count_in_links = 0
        self.tags_count = 0
        self.class_type = ""
        self.text = ""

    def close(self) -> None:
        if self.nodes:  # most paragraphs the walker opens never get any text
            self.text = _normalize_space("".join(self.nodes).strip())
        if self.text:
            self._words = self.text.split()
            self.is_heading = bool(_JT_HEADING.search(self.dom_path))

    def __len__(self) -> int:
        return len(self.text)

    def stopwords_density(self, stopwords: frozenset[str]) -> float:
        if not self._words:
            return 0
        return sum(w.lower() in stopwords for w in self._words) / len(self._words)

    def links_density(self) -> float:
        return self.chars_count_in_links / len(self.text) if self.text else 0


_JT_HEADING = re.compile(r"\bh\d\b")
_BREAK_RUN = re.compile(r"\s*[\n\r]\s*")
_SPACE_RUN = re.compile(r"[^\S\n\r]+")


def _normalize_space(text: str) -> str:
    # jusText's normalize_whitespace (a run of white space with a line break in it becomes
    # that line break, any other run one space), without its Python callback per run.
    return _SPACE_RUN.sub(" ", _BREAK_RUN.sub("\n", text))


def _jt_paragraphs(root: Any, block_tags: frozenset[str]) -> list[_Paragraph]:
    """jusText's ParagraphMaker, event for event, as a walk over the lxml tree instead of
    SAX events through Python callbacks (two thirds of jusText's time on our pages)."""
    path: list[str] = []
    done: list[_Paragraph] = []
    current = _Paragraph(path)
    link = br = False

    def new_paragraph() -> None:
        nonlocal current
        current.close()
        if current.text:  # jusText drops a paragraph whose text is only white space
            done.append(current)
        current = _Paragraph(path)

    def characters(content: str | None) -> None:
        nonlocal br
        if not content or content.isspace():
            return
        text = _normalize_space(content)
        current.nodes.append(text)
        if link:
            current.chars_count_in_links += len(text)
        br = False

    def start(el: Any) -> None:
        nonlocal br, link
        name = el.tag.rpartition("}")[2]
        path.append(name)
        if name in block_tags or (name == "br" and br):
            if name == "br":
                current.tags_count -= 1  # <br><br> separates paragraphs and is no tag in one
            new_paragraph()
        else:
            br = name == "br"
            if br:
                current.nodes.append(" ")
            elif name == "a":
                link = True
            current.tags_count += 1
        characters(el.text)

    def end(el: Any) -> None:
        nonlocal link
        name = path.pop()
        if name in block_tags:
            new_paragraph()
        if name == "a":
            link = False
        characters(el.tail)

    start(root)
    stack = [iter(root)]
    parents = [root]
    while stack:
        child = next(stack[-1], None)
        if child is None:
            stack.pop()
            end(parents.pop())
        elif isinstance(child.tag, str):
            start(child)
            stack.append(iter(child))
            parents.append(child)
        else:  # a comment or processing instruction: only its tail is text
            characters(child.tail)
    new_paragraph()
    return done


def _justext(tree: Any, language: str | None) -> str:
    """jusText's classification (its own stop list, thresholds and context rules) on the
    tree we already parsed, through jusText's own cleaner: the same paragraphs as
    ``justext.justext``, in a third of the time, and read with the page's real encoding
    (jusText decodes bytes by the ``<meta>`` charset, which pages often get wrong)."""
    from justext import get_stoplist
    from justext.core import (
        PARAGRAPH_TAGS,
        classify_paragraphs,
        preprocessor,
        revise_paragraph_classification,
    )

    name = _JUSTEXT_LANGUAGES.get(language or "")
    try:
        paragraphs = _jt_paragraphs(preprocessor(tree), PARAGRAPH_TAGS)  # it cleans a copy
        if name:
            classify_paragraphs(paragraphs, get_stoplist(name))
        else:  # jusText's language-independent mode
            classify_paragraphs(paragraphs, frozenset(), stopwords_low=0, stopwords_high=0)
        revise_paragraph_classification(paragraphs)
    except Exception:  # lxml's errors on markup the cleaner cannot handle
        return ""
    return "\n".join(p.text for p in paragraphs if p.class_type == "good")


def _resiliparse(source: str) -> str:
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    return str(
        extract_plain_text(
            HTMLTree.parse(source),
            main_content=True,
            preserve_formatting=True,
            list_bullets=False,
            alt_texts=False,
            links=False,
            noscript=False,
        )
    )


def text_candidates(source: str, tree: Any, url: str | None) -> dict[str, str]:
    """Every candidate main text of a page, plus trafilatura's recall setting (the
    benchmark's view of :func:`_main_text`; it cross-validates the voters too)."""
    precision = _trafilatura(tree, url, "precision")
    witness = _resiliparse(source)
    return {
        "precision": precision,
        "resiliparse": witness,
        **_first_voters(tree, precision, witness),
        "balanced": _trafilatura(tree, url, "balanced"),
        "recall": _trafilatura(tree, url, "recall"),
    }


def _first_voters(tree: Any, precision: str, witness: str) -> dict[str, str]:
    """Readability and jusText, which run when the first two disagree."""
    sample = precision if len(precision) >= len(witness) else witness
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the extractors' own deprecation noise
        language = detect_language(sample) if len(sample) >= 200 else None
        return {"readability": _readability(tree), "justext": _justext(tree, language)}


def _bags(candidates: Mapping[str, str]) -> dict[str, Counter[str]]:
    return {name: _tokens(text) for name, text in candidates.items() if text.strip()}


def _medoid(bags: Mapping[str, Counter[str]], names: list[str]) -> tuple[str, float]:
    """The candidate closest, by summed token F1, to the others (the first on a tie), and
    its mean token F1 to them."""
    closeness = dict.fromkeys(names, 0.0)
    for i, n in enumerate(names):
        for m in names[i + 1 :]:
            f1 = token_f1(bags[n], bags[m])
            closeness[n] += f1
            closeness[m] += f1
    best = max(names, key=closeness.__getitem__)
    return best, closeness[best] / (len(names) - 1) if len(names) > 1 else 0.0


def _settled(bags: Mapping[str, Counter[str]], consensus: float) -> str | None:
    """The first voters' medoid when they agree closely enough to spare the rest."""
    names = [n for n in CANDIDATES if n in bags and n in _FIRST_VOTERS]
    if len(names) < 2:
        return None
    best, mean = _medoid(bags, names)
    return best if mean >= consensus else None


def choose_text(
    candidates: Mapping[str, str], agreement: float = AGREEMENT, consensus: float = CONSENSUS
) -> str:
    """The main text the candidates agree on.

    When trafilatura's precision text and resiliparse's main-content text agree (token F1
    at least ``agreement``), the precision text. Otherwise the medoid: the non-empty
    candidate closest, by summed token F1, to all the others, so that one extractor's
    collapse (precision mode keeping one paragraph of a page it misreads, another taking the
    comments, readability a teaser box) is outvoted by the rest. The medoid of the first
    voters (precision, readability, jusText, resiliparse) wins alone when its mean token F1
    to the other three is at least ``consensus`` (above 1: never). Candidates not in
    :data:`CANDIDATES` (the benchmark's alternatives) vote too when given.
    """
    bags = _bags(candidates)
    pair = bags.get("precision"), bags.get("resiliparse")
    if pair[0] and pair[1] and token_f1(pair[0], pair[1]) >= agreement:
        return candidates["precision"]
    if not bags:
        return ""
    settled = _settled(bags, consensus)
    if settled is not None:
        return candidates[settled]
    names = [n for n in CANDIDATES if n in bags] + [n for n in bags if n not in CANDIDATES]
    return candidates[_medoid(bags, names)[0]]


def _main_text(source: str, tree: Any, url: str | None) -> str:
    """Main text, one paragraph per line: trafilatura's fast precision setting checked
    against resiliparse; when they disagree, readability and jusText too, and only when
    those four do not clearly agree trafilatura's balanced setting as well, all voting (see
    :func:`choose_text`, which this computes in stages, each only when needed)."""
    precision = _trafilatura(tree, url, "precision")
    witness = _resiliparse(source)
    candidates = {"precision": precision, "resiliparse": witness}
    bags = _bags(candidates)
    pair = bags.get("precision"), bags.get("resiliparse")
    if pair[0] and pair[1] and token_f1(pair[0], pair[1]) >= AGREEMENT:
        return precision
    voters = _first_voters(tree, precision, witness)
    candidates.update(voters)
    bags.update(_bags(voters))
    settled = _settled(bags, CONSENSUS)
    if settled is not None:
        return candidates[settled]
    candidates["balanced"] = _trafilatura(tree, url, "balanced")
    bags.update(_bags({"balanced": candidates["balanced"]}))
    if not bags:
        return ""
    return candidates[_medoid(bags, [n for n in CANDIDATES if n in bags])[0]]


def finish_text(raw: str, title: str | None) -> str:
    """Blank-line separated paragraphs, cleaned of boilerplate lines; table rows kept whole."""
    if not raw:
        return ""
    parts: list[str] = []
    seen_rows: set[str] = set()
    for is_table, run in itertools.groupby(raw.splitlines(), key=_is_table_row):
        if not is_table:
            parts.append(clean_text(_paragraphs("\n".join(run)), title=title))
            continue
        for row in run:
            # The cleaner is made for prose: split into "sentences", table cells (ranks,
            # prices, "Yes") repeat from row to row and it dropped them as seen before.
            key = " ".join(_WORD.findall(row.lower()))
            if key and key not in seen_rows:
                seen_rows.add(key)
                parts.append(" ".join(row.split()))
    return _paragraphs("\n".join(parts))


def _is_table_row(line: str) -> bool:
    # trafilatura writes a table row as "| cell | cell |"
    return line.lstrip().startswith("|")


def _paragraphs(text: str) -> str:
    lines = [line.strip() for line in text.splitlines()]
    return "\n\n".join(line for line in lines if line)


# ---------------------------------------------------------------- pages that are not HTML

# Leading bytes of formats that links and local files often turn out to be.
_MAGIC = (
    (b"\x89PNG", "PNG"),
    (b"GIF8", "GIF"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"%PDF", "PDF"),
    (b"PK\x03\x04", "ZIP"),
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ", "xz"),
    (b"7z\xbc\xaf", "7z"),
    (b"\x7fELF", "ELF binary"),
    (b"MZ", "Windows binary"),
    (b"\xd0\xcf\x11\xe0", "MS Office"),
    (b"%!PS", "PostScript"),
    (b"ID3", "MP3"),
    (b"OggS", "Ogg"),
    (b"fLaC", "FLAC"),
    (b"wOFF", "WOFF font"),
    (b"wOF2", "WOFF font"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"SQLite format 3", "SQLite"),
)
_HTML_TAG = re.compile(
    r"<\s*(?:!doctype|html|head|body|meta|title|p|div|article|main|section|span|br|h[1-6]"
    r"|table|ul|ol|a|img|script|style|link)\b",
    re.I,
)


def _binary_kind(data: bytes) -> str | None:
    """What binary format ``data`` is, or None when it may be text."""
    head = data[:4096]
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head[4:8] == b"ftyp":
        return "MP4/HEIF"
    if head[:4] == b"RIFF":
        return "RIFF (WebP/WAV/AVI)"
    utf16 = head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    if not utf16 and b"\x00" in head:
        return "binary"
    return None


def _not_html(source: str) -> str | None:
    """Why ``source`` is no HTML page, or None when it looks like one."""
    if "\x00" in source[:4096]:
        return "binary"
    if _HTML_TAG.search(source):
        return None
    start = source.lstrip()[:1]
    if start in ("{", "["):
        return "JSON"
    if source.lstrip().startswith("<?xml") or start == "<":
        return "XML"
    return "plain text"


def extract_html(
    html: str | bytes, *, url: str | None = None, name: str | None = None
) -> ExtractedPage:
    """Extract the main text and metadata of one article page.

    Raises :class:`ExtractError` when the page has no main text or is no HTML page at all;
    its message starts with ``name`` (default: the URL), e.g. the local file's path.
    """
    name = name or url or "page"
    if isinstance(html, bytes):
        kind = _binary_kind(html)
        if kind is not None:
            raise ExtractError(f"{name} is not an HTML page (looks like {kind})")
    source = decode_html(html) if isinstance(html, bytes) else html
    if not source.strip():
        raise ExtractError(f"{name}: the page is empty")
    kind = _not_html(source)
    if kind is not None:
        raise ExtractError(f"{name} is not an HTML page (looks like {kind})")
    tree = _trafilatura_module().load_html(source)  # returns None instead of raising on bad markup
    if tree is None:
        raise ExtractError(f"{name}: cannot parse the HTML")
    meta = _page_meta(tree, url)
    tags = _meta_tags(tree)
    title = meta.title or _meta(tags, "og:title")
    if title:
        sitename = meta.sitename or _meta(tags, "og:site_name")
        title = _clean_title(title, sitename, url) or title
    page_url = url or meta.url or _meta(tags, "og:url")
    text = finish_text(trim_tail(_main_text(source, tree, url), page_blocks(tree)), title)
    if not text.strip():
        raise ExtractError(f"{name}: no main text found")
    return ExtractedPage(
        title=title.strip() if title else None,
        text=text,
        language=_language(text, title, _declared_language(tree, tags)),
        published=_published(tree, tags, meta.date),
        image=_image(tags, page_url),
        url=page_url,
    )
