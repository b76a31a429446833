"""Text clean-up shared by feeds, extraction and summaries.

:func:`html_to_text` turns feed or page HTML into plain paragraphs; :func:`clean_text` drops
the lines and sentences that are page furniture rather than article (breadcrumbs, share
counters, "Baca juga:", "Source link", photo credits, newsletter prompts, duplicates).
"""

from __future__ import annotations

import html
import logging
import re
from html.parser import HTMLParser

from digest.text.language import split_sentences

logger = logging.getLogger(__name__)

__all__ = ["clean_sentences", "clean_text", "html_to_text", "looks_like_html"]

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
_PARA = "\x00P\x00"
_TAG_LIKE_RE = re.compile(
    r"</?[a-zA-Z][a-zA-Z0-9:-]*(?:\s[^<>]*)?/?>|<!--|&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z]{2,8});"
)


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            if tag not in _VOID_TAGS:
                self._skip += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCK_TAGS:
            self.parts.append(_PARA)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCK_TAGS:
            self.parts.append(_PARA)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append(_PARA)

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _normalise_layout(raw: str) -> str:
    """Collapse whitespace inside lines and paragraphs; paragraphs joined by one blank line."""
    paragraphs: list[str] = []
    for block in raw.split(_PARA):
        lines = [" ".join(line.split()) for line in block.split("\n")]
        # Blank lines inside a block (from <br><br>) also separate paragraphs.
        current: list[str] = []
        for line in [*lines, ""]:
            if line:
                current.append(line)
            elif current:
                paragraphs.append("\n".join(current))
                current = []
    return "\n\n".join(paragraphs)


def _strip_once(markup: str) -> str:
    parser = _TextParser()
    try:
        parser.feed(markup)
        parser.close()
    except Exception:  # html.parser is lenient, but never let one entry stop a feed
        logger.debug("html.parser failed; falling back to a regex strip", exc_info=True)
        text = re.sub(r"<[^>]*>", " ", markup)
        return html.unescape(text)
    # Newlines in source HTML are just spaces; only <br> and blocks make breaks.
    return "".join(
        p if p in (_PARA, "\n") else p.replace("\n", " ").replace("\r", " ") for p in parser.parts
    )


def html_to_text(markup: str) -> str:
    """Plain text of an HTML fragment or page; never raises.

    Block elements become paragraph breaks (a blank line), ``<br>`` a newline; entities are
    decoded; scripts, styles and comments are dropped; whitespace is collapsed inside lines.
    Markup escaped twice (common in feeds) is unwrapped once more, so no tags or entities
    remain.
    """
    if not markup:
        return ""
    if not isinstance(markup, str):
        markup = str(markup)
    markup = markup.replace("\x00", " ")
    text = _strip_once(markup)
    for _ in range(2):
        if not _TAG_LIKE_RE.search(text):
            break
        # Double-escaped HTML: the first pass decoded "&lt;p&gt;" into "<p>".
        text = _strip_once(text.replace(_PARA, "<p>").replace("\n", "<br>"))
    text = _normalise_layout(text)
    # A lone "<" or "&" that is not a tag or entity is text; anything tag-like is not.
    # Removing one tag can join "<p" and ">" into another, hence the loop.
    for _ in range(20):
        if not _TAG_LIKE_RE.search(text):
            return text
        text = _TAG_LIKE_RE.sub(" ", text).replace("  ", " ")
    return text.replace("<", " ").replace("&", " ")


def looks_like_html(text: str) -> bool:
    """True when ``text`` is markup rather than plain text (several tags near the start)."""
    head = text[:5000]
    tags = re.findall(
        r"</?(?:p|div|br|span|a|html|body|li|ul|h[1-6]|img|strong|em|b|i|table|td|tr|article|section|script|style|meta|head)\b[^>]*>",
        head,
        re.I,
    )
    return len(tags) >= 2 or bool(re.match(r"\s*<(?:!doctype|html)\b", head, re.I))


# --- boilerplate ------------------------------------------------------------------------

_SOCIAL = (
    r"facebook|twitter|x|whatsapp|telegram|line|linkedin|pinterest|email|e-mail|print|copy"
    r"|link|share|tweet|reddit|messenger|instagram|tiktok|youtube|bagikan|salin|tautan"
    r"|comments?|komentar|shares?|likes?|views?|dilihat|kali|teilen|partager|condividi"
)
_LINE_PATTERNS = [
    # Breadcrumbs: "Home Uncategorized Title...", "Beranda › Berita › ..."
    r"(?:home|beranda|startseite|accueil|inicio|главная|trang chủ)\b.*(?:\.\.\.|…)",
    r"(?:home|beranda|startseite|accueil|inicio|главная|trang chủ)\s*(?:[›»>/|·]\s*\S.*)?",
    # Counters and bare numbers ("31", "0", "1.2K shares", "12 Comments")
    r"[\d\s.,:/|·•+kKmMrbRB]*",
    rf"(?:[\d.,]+[kKmM]?\s*)?(?:{_SOCIAL})(?:[\s,:|/·•]+(?:[\d.,]+[kKmM]?\s*)?(?:{_SOCIAL}))*\s*[:\d.,kKmM]*",
    # Link furniture
    r"source\s+link|sumber\s+link|source|sumber\s*:.{0,60}",
    r"(?:baca|lihat|simak|tonton|cek)\s+(?:juga|pula|selengkapnya|berita\s+\w+|artikel\s+\w+)\b.*",
    r"(?:read|see|watch)\s+(?:more|also|next|the\s+full\s+(?:story|article))\b.*",
    r"(?:continue|keep)\s+reading\b.*|click\s+here\b.*|(?:more|related)\s*:.*",
    r"(?:related|recommended)\s+(?:articles?|stories|posts?|news)\b.*|artikel\s+terkait.*",
    r"(?:weiterlesen|mehr\s+zum\s+thema|lire\s+(?:aussi|la\s+suite)|leggi\s+anche|lees\s+ook)\b.*",
    # Advertising
    r"advertisements?|iklan|anzeige|publicité|pubblicità|реклама|sponsored|scroll\s+(?:to|untuk)\b.*",
    r"(?:artikel|article)\s+(?:ini\s+)?(?:berlanjut|continues)\b.*",
    # Photo credits
    r"\(?\s*(?:antara\s+)?(?:foto|photo|photograph|image|gambar|ilustrasi|illustration|credit|"
    r"kredit|bild|crédit|фото|ảnh)\s*(?:[:/|©-]|by\b).*",
    r".{0,80}\b(?:getty\s+images|shutterstock|afp\s+photo|reuters/|ap\s+photo)\b.{0,80}",
    # Newsletter and follow prompts
    r".{0,60}\b(?:newsletter|subscribe|sign\s+up|berlangganan|langganan|abonnieren)\b.{0,100}",
    r"(?:follow|ikuti|dapatkan)\s+(?:us|kami|berita|update|informasi)\b.*",
    r"(?:copyright|hak\s+cipta|©).{0,120}|all\s+rights\s+reserved.*",
    # Bylines and desk notes
    r"(?:editor|penulis|reporter|pewarta|redaktur|writer|author|editing\s+by|reporting\s+by)"
    r"\s*:.{0,80}",
    r"(?:tags?|topik|kategori|category|categories|label)\s*:.*",
    r"\(\s*[a-z]{2,5}\s*/\s*[a-z]{2,5}\s*\)",
]
_LINE_RE = re.compile(r"^(?:" + "|".join(f"(?:{p})" for p in _LINE_PATTERNS) + r")$", re.I | re.S)

_SENTENCE_PATTERNS = [
    r"(?:baca|lihat|simak)\s+(?:juga|pula|selengkapnya)\b.*",
    r"(?:read\s+more|see\s+also|source\s+link)\b.*",
    r".{0,160}\b(?:contributed\s+(?:to\s+)?(?:this\s+)?report(?:ing)?|berkontribusi\s+(?:pada|dalam|untuk)\s+(?:laporan|berita)\s+ini)\b.*",
    r"(?:foto|photo)\s*:.*",
    # WordPress feed footers: "The post X appeared first on Y.", "Der Beitrag X erschien ..."
    r"(?:the\s+post|der\s+beitrag|l'article|el\s+post|het\s+bericht)\b.{0,300}"
    r"(?:appeared\s+first\s+on|erschien\s+zuerst\s+auf|est\s+apparu\s+en\s+premier"
    r"|aparece\s+primero\s+en|verscheen\s+eerst\s+op)\b.*",
    r"advertisement|iklan",
]
_SENTENCE_RE = re.compile(
    r"^(?:" + "|".join(f"(?:{p})" for p in _SENTENCE_PATTERNS) + r")$", re.I | re.S
)
_KEY_RE = re.compile(r"\W+", re.UNICODE)


def _key(text: str) -> str:
    return _KEY_RE.sub(" ", text.casefold()).strip()


def _is_title_echo(line: str, title_key: str) -> bool:
    key = _key(line)
    if not key or not title_key:
        return False
    if key == title_key:
        return True
    # The title glued to counters by a flattened layout: "31 0 Putin dari Rusia ..."
    if title_key in key and all(t.isdigit() for t in key.replace(title_key, " ").split()):
        return True
    # A truncated title ("Putin dari Rusia akan ... kerja sama...")
    stripped = line.rstrip()
    return stripped.endswith(("...", "…")) and len(key) >= 20 and title_key.startswith(key)


def clean_text(text: str, *, title: str | None = None, language: str | None = None) -> str:
    """``text`` without page furniture, paragraphs separated by one blank line; never raises.

    Drops breadcrumbs, share and comment counters, lines of bare numbers, the title repeated
    in the body, "Source link", "Baca juga:", "Read more", photo credits, newsletter prompts,
    advertising labels, bylines and every sentence or paragraph already seen. ``language``
    (ISO 639-1) only tunes sentence splitting.
    """
    return "\n\n".join(
        "\n".join(" ".join(line) for line in block)
        for block in clean_sentences(text, title=title, language=language)
    )


def clean_sentences(
    text: str, *, title: str | None = None, language: str | None = None
) -> list[list[list[str]]]:
    """What :func:`clean_text` keeps, as paragraphs of lines of sentences."""
    if not text:
        return []
    title_key = _key(title) if title else ""
    seen: set[str] = set()
    paragraphs: list[list[list[str]]] = []
    normalised = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", " ")
    for block in re.split(r"\n\s*\n", normalised):
        kept_lines: list[list[str]] = []
        for raw_line in block.split("\n"):
            line = " ".join(raw_line.split())
            if not line or _LINE_RE.match(line) or _is_title_echo(line, title_key):
                continue
            if not any(c.isalnum() for c in line):
                continue
            sentences = []
            for sentence in split_sentences(line, language):
                key = _key(sentence)
                if not key or key in seen or _SENTENCE_RE.match(sentence):
                    continue
                if title_key and _is_title_echo(sentence, title_key):
                    continue
                seen.add(key)
                sentences.append(sentence)
            if sentences:
                kept_lines.append(sentences)
        if kept_lines:
            paragraphs.append(kept_lines)
    return paragraphs
