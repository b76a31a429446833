"""HTML to text: feed content and pages into plain paragraphs, their boundaries kept.

:func:`html_to_text` keeps paragraphs, headings, list items and lines apart (a summary
sentence never spans two of them), keeps line breaks inside ``<pre>``, and drops lines that
are only links when there is other text. :func:`input_kind` tells a whole page from an HTML
fragment and from plain text, so `digest summarize` takes each the digest's own road.
"""

from __future__ import annotations

import html
import logging
import re
from html.parser import HTMLParser
from typing import Literal

logger = logging.getLogger(__name__)

__all__ = ["html_to_text", "input_kind", "is_markup", "strip_markup"]

_BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "body",
        "caption",
        "center",
        "dd",
        "details",
        "dialog",
        "dir",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "frame",
        "frameset",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hgroup",
        "hr",
        "html",
        "iframe",
        "legend",
        "li",
        "main",
        "menu",
        "nav",
        "noframes",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "title",
        "tr",
        "ul",
    ]
)
# Content of these is never text a reader should see.
_SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "head", "svg", "math"})
_VOID_TAGS = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    ]
)
_TAG_LIKE_RE = re.compile(
    r"</?[a-zA-Z][a-zA-Z0-9:-]*(?:\s[^<>]*)?/?>|<!--|&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z]{2,8});"
)
# Blocks whose lines are list items or table cells: a line there that is mostly link text is
# a list of links (show notes, "related coverage"), not prose.
_ITEM_TAGS = frozenset({"li", "dt", "dd", "td", "th"})
# Share of a line's letters inside links from which it is a link, not text: lower for list
# items, which carry a source name or a date beside the link.
LINK_LINE_SHARE = 0.85
LINK_ITEM_SHARE = 0.6
_PROSE_END_RE = re.compile(r"[.!?。！？…][\"'”’»)\]]*$")


class _Line:
    """One line of a block: text pieces, each inside a link or not."""

    __slots__ = ("linked", "pieces", "text")

    def __init__(self) -> None:
        self.pieces: list[tuple[str, bool]] = []
        self.linked = False  # some piece is link text
        self.text = False  # some piece is more than whitespace


class _Block:
    __slots__ = ("item", "lines", "text")

    def __init__(self, item: bool) -> None:
        self.item = item
        self.lines = [_Line()]
        self.text = False  # some line has text


class _TextParser(HTMLParser):
    """Blocks of lines of text pieces, remembering which pieces were link text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[_Block] = [_Block(False)]
        self._skip = 0
        self._links = 0
        self._pre = 0
        self._items: list[bool] = []

    def _new_block(self) -> None:
        item = bool(self._items) and self._items[-1]
        if self.blocks[-1].text:
            self.blocks.append(_Block(item))
        else:
            self.blocks[-1].item = item

    def _new_line(self) -> None:
        self.blocks[-1].lines.append(_Line())

    def _add(self, data: str) -> None:
        block = self.blocks[-1]
        line = block.lines[-1]
        linked = self._links > 0
        line.pieces.append((data, linked))
        if data and not line.text and not data.isspace():
            line.text = block.text = True
        if linked:
            line.linked = True

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            if tag not in _VOID_TAGS:
                self._skip += 1
        elif tag == "br":
            self._new_line()
        elif tag == "a":
            self._links += 1
        elif tag in _BLOCK_TAGS:
            if tag == "pre":
                self._pre += 1
            self._items.append(tag in _ITEM_TAGS)
            self._new_block()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._new_line()
        elif tag in _BLOCK_TAGS:
            self._new_block()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
        elif tag == "a":
            self._links = max(0, self._links - 1)
        elif tag in _BLOCK_TAGS:
            if tag == "pre":
                self._pre = max(0, self._pre - 1)
            if self._items:
                self._items.pop()
            self._new_block()

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._pre:
            # Inside <pre> a newline is a line break; elsewhere it is only a space.
            for i, part in enumerate(data.replace("\r", "").split("\n")):
                if i:
                    self._new_line()
                self._add(part)
            return
        self._add(data.replace("\n", " ").replace("\r", " "))


_ALNUM_RE = re.compile(r"[^\W_]")
_SEPARATORS_ONLY_RE = re.compile(r"[\s,;|/·•)\]]*")
_OPEN_SEPARATORS_RE = re.compile(r"[\s,;|/·•]*")


def _letters(text: str) -> int:
    return len(_ALNUM_RE.findall(text))


def _without_link_tail(pieces: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    """The line without a closing "(link, link)" group: tag lists after a teaser."""
    # Walk back over link pieces and separators; stop at the "(" that opens the group.
    links = 0
    for i in range(len(pieces) - 1, -1, -1):
        text, linked = pieces[i]
        if linked:
            links += _letters(text) > 0
            continue
        if _SEPARATORS_ONLY_RE.fullmatch(text):
            continue
        before, bracket, after = text.rpartition("(")
        if bracket and links and _OPEN_SEPARATORS_RE.fullmatch(after):
            return [*pieces[:i], (before, False)]
        return pieces
    return pieces


def _line_text(line: _Line, item: bool) -> tuple[str, bool]:
    """The line's text, and whether it is a link rather than prose (see LINK_*_SHARE)."""
    if not line.linked:  # most lines: nothing to weigh
        return " ".join("".join(p[0] for p in line.pieces).split()), False
    pieces = _without_link_tail(line.pieces)
    text = " ".join("".join(p[0] for p in pieces).split())
    letters = _letters(text)
    if not letters:
        return text, False
    linked = sum(_letters(p[0]) for p in pieces if p[1])
    # A whole linked sentence can still be prose ("<a>The report is out.</a>").
    prose = len(text.split()) >= 8 and _PROSE_END_RE.search(text)
    return text, linked >= (LINK_ITEM_SHARE if item else LINK_LINE_SHARE) * letters and not prose


def _parse(markup: str) -> list[list[str]] | None:
    """Blocks of lines of ``markup``, link lines dropped; None when html.parser gives up."""
    parser = _TextParser()
    try:
        parser.feed(markup)
        parser.close()
    except Exception:  # html.parser is lenient, but never let one entry stop a feed
        logger.debug("html.parser failed; falling back to a regex strip", exc_info=True)
        return None
    read = [
        [(*_line_text(line, block.item), block.item, line.text) for line in block.lines]
        for block in parser.blocks
    ]
    # Link lines go when there is text besides them. An entry that is all links keeps the
    # paragraphs among them (a podcast's description linked to its audio file) but never
    # list items (a list of other stories' headlines).
    prose = any(text and not link for block in read for text, link, _, _ in block)
    blocks: list[list[str]] = []
    for block in read:
        # Blank lines inside a block (from <br><br>) also separate paragraphs.
        current: list[str] = []
        for text, link, item, had_text in [*block, ("", False, False, False)]:
            if text and not (link and (prose or item)):
                current.append(text)
            elif current and not had_text:
                blocks.append(current)
                current = []
        if current:
            blocks.append(current)
    return blocks


_STRUCTURE_RE = re.compile(r"<(?:p|div|br|li|h[1-6]|pre|blockquote|table|tr|ul|ol)\b", re.I)


def html_to_text(markup: str) -> str:
    """Plain text of an HTML fragment or page; never raises.

    Block elements (paragraphs, headings, list items) become paragraphs separated by a
    blank line, ``<br>`` a newline, so no sentence can run from one block into the next.
    Entities are decoded; scripts, styles, comments and images are dropped; whitespace is
    collapsed inside lines (kept as line breaks inside ``<pre>``). Lines that are links
    rather than text (a list of links, "Comments", a closing "(tag, tag)" group of links)
    are dropped. Markup escaped twice (common in feeds) is unwrapped once more, so no
    tags or entities remain. Text with blank lines but no block tags keeps its paragraphs.
    """
    if not markup:
        return ""
    if not isinstance(markup, str):
        markup = str(markup)
    markup = markup.replace("\x00", " ").replace("\r\n", "\n")
    text = ""
    for _ in range(3):
        if not _STRUCTURE_RE.search(markup):
            # Feed text with a stray inline tag: its blank lines are still paragraphs.
            markup = re.sub(r"\n[ \t]*\n\s*", "<p>", markup)
        blocks = _parse(markup)
        if blocks is None:
            text = html.unescape(re.sub(r"<[^>]*>", " ", markup))
            break
        text = "\n\n".join("\n".join(lines) for lines in blocks)
        if not _TAG_LIKE_RE.search(text):
            return text
        # Double-escaped HTML: the first pass decoded "&lt;p&gt;" into "<p>".
        markup = "".join(f"<p>{'<br>'.join(lines)}</p>" for lines in blocks)
    return strip_markup(text)


def strip_markup(text: str) -> str:
    """``text`` without anything tag- or entity-like: markup never reaches a reader as text.

    A lone "<" or "&" that is not a tag or entity is text and stays.
    """
    # Removing one tag can join "<p" and ">" into another, hence the loop.
    for _ in range(20):
        if not _TAG_LIKE_RE.search(text):
            return text
        text = _TAG_LIKE_RE.sub(" ", text).replace("  ", " ")
    return text.replace("<", " ").replace("&", " ")


def is_markup(text: str) -> bool:
    """True when ``text`` is markup rather than plain text (a tag or entity near the start)."""
    return input_kind(text) != "text"


_PAGE_RE = re.compile(
    r"\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head)\b", re.I | re.S
)
_HTML_TAG_RE = re.compile(
    r"</?(?:a|abbr|article|aside|audio|b|blockquote|body|br|caption|center|cite|code|dd|del"
    r"|div|dl|dt|em|figcaption|figure|font|footer|h[1-6]|header|hr|i|iframe|img|ins|li"
    r"|main|mark|nav|noscript|ol|p|picture|pre|q|s|script|section|small|source|span"
    r"|strong|style|sub|sup|table|tbody|td|th|thead|time|tr|u|ul|video)\b[^<>]*>",
    re.I,
)
# Any element with an attribute, or any closing tag: SVG, MathML, custom elements.
_ANY_TAG_RE = re.compile(r"<[a-zA-Z][\w:-]*\s+[\w:-]+\s*=\s*[\"'][^<>]*>|</[a-zA-Z][\w:-]*\s*>")
_ENTITY_RE = re.compile(r"&(?:amp|lt|gt|quot|apos|nbsp|#\d{2,7}|#x[0-9a-fA-F]{2,6});")


def input_kind(text: str) -> Literal["page", "html", "text"]:
    """What ``text`` is: a whole HTML ``page``, an ``html`` fragment (feed content), or
    plain ``text``. A page has a doctype, ``<html>`` or ``<head>`` at the start (or a
    ``<body>``); one known tag or entity makes a fragment."""
    head = text[:5000]
    if _PAGE_RE.match(head) or re.search(r"<body\b", head, re.I):
        return "page"
    if _HTML_TAG_RE.search(head) or _ENTITY_RE.search(head) or _ANY_TAG_RE.search(head):
        return "html"
    return "text"
