"""Text clean-up shared by feeds, extraction and summaries.

:func:`clean_text` drops the lines and sentences that are page furniture rather than article
(breadcrumbs, share counters, "Baca juga:", "Source link", photo credits, newsletter prompts,
duplicates); :func:`strip_teaser_end` the cut end of a teaser; :class:`FeedBoilerplate` the
lines one feed repeats in every entry; :func:`furniture` the sentences a summary must not
quote. HTML to text is :mod:`digest.text.html`.
"""

from __future__ import annotations

import functools
import logging
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Literal

from digest.text.language import split_sentences

logger = logging.getLogger(__name__)

__all__ = [
    "FeedBoilerplate",
    "clean_sentences",
    "clean_text",
    "ends_truncated",
    "strip_feed_boilerplate",
    "strip_teaser_end",
]

# --- teasers --------------------------------------------------------------------------

# The one rule for "this text is a teaser cut short", used by feeds (is the entry the whole
# article?), pages (should its page be fetched?) and summaries (drop the cut sentence).
_ELLIPSIS = r"(?:\[\s*(?:…|\.{3,})\s*\]|\(\s*(?:…|\.{3,})\s*\)|…|\.{3,})"
_READ_MORE = (
    r"(?:read\s+more|read\s+the\s+rest|read\s+the\s+full\s+(?:story|article|post)"
    r"|read\s+full\s+(?:story|article|post)|continue\s+reading|keep\s+reading"
    r"|weiterlesen|mehr\s+lesen|lire\s+la\s+suite|leer\s+m[aá]s|leia\s+mais|leggi\s+tutto"
    r"|lees\s+meer|läs\s+mer|читать\s+далее|čítať\s+ďalej|baca\s+selengkapnya"
    r"|selengkapnya|\((?:more|lanjut)\s*…?\))"
)
_DECOR = r"[\s»›→>:.!\u00a0\-–—]*"
_TEASER_TAIL_RE = re.compile(
    rf"\s*(?:{_READ_MORE}(?:\s+(?:on|at|auf|sur|di|en|op|på)(?:\s+[\w.\-]{{1,30}}){{0,3}})?"
    rf"{_DECOR}(?:{_ELLIPSIS})?|{_ELLIPSIS}){_DECOR}$",
    re.I,
)
_ELLIPSIS_END_RE = re.compile(_ELLIPSIS + _DECOR + "$")
# WordPress appends "The post X appeared first on Y." after the excerpt's "[…]".
_APPEARED_RE = re.compile(
    r"\s*(?:the\s+post|der\s+beitrag|l['’]article|el\s+post|het\s+bericht|o\s+post"
    r"|l['’]articolo|artikel)\s.{1,300}?\s(?:appeared\s+first\s+on|erschien\s+zuerst\s+auf"
    r"|est\s+apparu\s+en\s+premier\s+sur|apareció\s+primero\s+en|verscheen\s+eerst\s+op"
    r"|apareceu\s+primeiro\s+em|è\s+apparso\s+per\s+primo\s+su|pertama\s+kali\s+muncul)"
    r"\s.{1,200}$",
    re.I | re.S,
)
_WHOLE_END_RE = re.compile(r"[.!?。！？:;][\"'”’»)\]]*$")


def _teaser_end(text: str) -> tuple[str, bool, bool]:
    """(text without markers, last sentence cut, a marker was found)."""
    # Only the end of the text can hold the markers: never scan a long article whole.
    head, tail = text[:-600], text[-600:]
    body = (head + _APPEARED_RE.sub("", tail)).rstrip()
    cut = found = False
    for _ in range(3):  # "... […] Read more »"
        match = _TEASER_TAIL_RE.search(body[-200:])
        if match is None or not match.group().strip():
            break
        marker = match.group()
        found = True
        body = body[: len(body) - len(marker)].rstrip()
        if _ELLIPSIS_END_RE.search(marker) and not re.search(_READ_MORE, marker, re.I):
            cut = True
        elif cut:
            break
    return body, cut and bool(body) and not _WHOLE_END_RE.search(body), found


def strip_teaser_end(text: str) -> tuple[str, bool]:
    """``text`` without its truncation marker, and whether its last sentence was cut.

    Markers: an ellipsis ("…", "...", "[…]", "(...)"), "Read more", "Continue reading",
    "Weiterlesen", "Baca selengkapnya" and the like, with the WordPress line "The post X
    appeared first on Y." after them. The last sentence counts as cut when an ellipsis
    follows its words directly instead of a full stop. Text without a marker is returned
    unchanged with False.
    """
    body, cut, found = _teaser_end(text)
    return (body, cut) if found else (text, False)


def ends_truncated(text: str) -> bool:
    """True when ``text`` ends like a teaser (see :func:`strip_teaser_end`): the one rule
    for teasers, used by feeds, pages and summaries."""
    return _teaser_end(text)[2]


# --- per-feed boilerplate -----------------------------------------------------------------

_PIECE_SPLIT_RE = re.compile(r"(?<=[.!?…。！？])\s+(?=\S)")
# A sentence inside a line is a boilerplate candidate from this many words on: shorter
# pieces are often splits at abbreviations ("Dr.") that recur by chance.
_MIN_PIECE_WORDS = 4
# Lines of this many words or more are compared by their edge sentences only.
_MAX_LINE_WORDS = 40
# Lines found in this many different entries of one feed are that feed's furniture.
FEED_BOILERPLATE_MIN_ENTRIES = 3


def _shape(text: str, title_key: str) -> str:
    """A key that ignores case, punctuation and the entry's own title, so that "The post
    <title> appeared first on X" recurs. Numbers count: "NixOS 18.09 released" is news."""
    key = _key(text)
    if title_key and len(title_key) >= 8 and title_key in key:
        key = key.replace(title_key, "§")
    return key


def _pieces(line: str) -> list[str]:
    return _PIECE_SPLIT_RE.split(line)


def _entry_keys(title: str | None, text: str) -> frozenset[str]:
    """The shapes of an entry's lines and of its longer sentences (see :func:`_shape`)."""
    title_key = _key(title) if title else ""
    keys: set[str] = set()
    for line in text.split("\n"):
        if line.count(" ") < _MAX_LINE_WORDS:  # a whole paragraph of prose is not furniture
            keys.add(_shape(line, title_key))
        pieces = _edge_pieces(line)
        keys.update(_shape(p, title_key) for p in pieces if len(p.split()) >= _MIN_PIECE_WORDS)
    keys.discard("")
    return frozenset(keys)


def _edge_pieces(line: str) -> list[str]:
    """The first two and last two sentences of a line of several: where furniture is glued
    to a paragraph ("... the end of the story. The post X appeared first on Y.")."""
    pieces = _pieces(line)
    if len(pieces) < 2:
        return []
    return pieces if len(pieces) <= 4 else [*pieces[:2], *pieces[-2:]]


class FeedBoilerplate:
    """Lines (and sentences) that recur across the entries of one feed: its furniture.

    Learn it from every entry of a feed (:meth:`learn`), then :meth:`strip` each entry's
    text. A line counts when it appears, up to case, punctuation and the entry's
    own title, in at least :data:`FEED_BOILERPLATE_MIN_ENTRIES` different entries; feeds
    with fewer entries have nothing to compare and are left alone.
    """

    def __init__(self, keys: frozenset[str] = frozenset()) -> None:
        self.keys = keys

    @classmethod
    def learn(
        cls,
        entries: Iterable[tuple[str | None, str]],
        *,
        shapes: Sequence[frozenset[str]] | None = None,
    ) -> FeedBoilerplate:
        """Boilerplate of one feed from its entries' ``(title, text)`` (``shapes``: their
        line shapes, when the caller has them already)."""
        counts: Counter[str] = Counter()
        seen_texts: set[str] = set()
        for index, (title, text) in enumerate(entries):
            if not text or text in seen_texts:
                continue  # the same entry twice must not make its text furniture
            seen_texts.add(text)
            counts.update(shapes[index] if shapes is not None else _entry_keys(title, text))
        return cls(frozenset(k for k, n in counts.items() if n >= FEED_BOILERPLATE_MIN_ENTRIES))

    def strip(
        self, text: str, title: str | None = None, *, shapes: frozenset[str] | None = None
    ) -> str:
        """``text`` without this feed's boilerplate; unchanged (the same string) when it
        has none. ``shapes``: the text's line shapes, when the caller has them already."""
        if not self.keys or not text:
            return text
        if self.keys.isdisjoint(shapes if shapes is not None else _entry_keys(title, text)):
            return text
        title_key = _key(title) if title else ""
        changed = False
        paragraphs: list[str] = []
        for block in text.split("\n\n"):
            lines: list[str] = []
            for line in block.split("\n"):
                if line.count(" ") < _MAX_LINE_WORDS and _shape(line, title_key) in self.keys:
                    changed = True
                    continue
                pieces = _pieces(line)
                if len(pieces) > 1:
                    edges = set(_edge_pieces(line))
                    kept = [
                        p
                        for p in pieces
                        if p not in edges
                        or len(p.split()) < _MIN_PIECE_WORDS
                        or _shape(p, title_key) not in self.keys
                    ]
                    if len(kept) != len(pieces):
                        changed = True
                        line = " ".join(kept)
                if line.strip():
                    lines.append(line)
            if lines:
                paragraphs.append("\n".join(lines))
        return "\n\n".join(paragraphs) if changed else text


def strip_feed_boilerplate(entries: Sequence[tuple[str | None, str]]) -> list[str]:
    """Each entry's text without the lines that recur across the feed (see
    :class:`FeedBoilerplate`); ``entries`` are ``(title, text)`` of one feed, in order."""
    shapes = [_entry_keys(title, text) for title, text in entries]
    boilerplate = FeedBoilerplate.learn(entries, shapes=shapes)
    return [
        boilerplate.strip(text, title, shapes=shape)
        for (title, text), shape in zip(entries, shapes, strict=True)
    ]


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


def _is_title_echo(line: str, title_key: str, title_cut: bool = False) -> bool:
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
    if stripped.endswith(("...", "…")) and len(key) >= 20 and title_key.startswith(key):
        return True
    # A title made of the text's first words, cut with an ellipsis (untitled entries): its
    # sentences are the title again.
    return title_cut and len(key) >= 20 and title_key.startswith(key)


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
    title_cut = title is not None and title.rstrip().endswith(("…", "..."))
    seen: set[str] = set()
    paragraphs: list[list[list[str]]] = []
    normalised = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", " ")
    for block in re.split(r"\n\s*\n", normalised):
        kept_lines: list[list[str]] = []
        for raw_line in block.split("\n"):
            line = " ".join(raw_line.split())
            if not line or _LINE_RE.match(line) or _is_title_echo(line, title_key, title_cut):
                continue
            if not any(c.isalnum() for c in line):
                continue
            sentences = []
            for sentence in split_sentences(line, language):
                key = _key(sentence)
                if not key or key in seen or _SENTENCE_RE.match(sentence):
                    continue
                if title_key and _is_title_echo(sentence, title_key, title_cut):
                    continue
                seen.add(key)
                sentences.append(sentence)
            if sentences:
                kept_lines.append(sentences)
        if kept_lines:
            paragraphs.append(kept_lines)
    return paragraphs


# --- what a summary may quote -------------------------------------------------------------

# Signals, not phrases: the shape of a line (symbols, separators, capitals, dates), where it
# sits (calls to action and sponsor blocks sit at the start or the end of a post), and a
# small multilingual list of call-to-action verbs for the imperative at the start of it.
Furniture = Literal["code", "byline", "tags", "promo", "label"]

_CODE_SYMBOL_RE = re.compile(r"[{}\[\]();=<>$#*/\\|&_~^`]")
_CODE_RE = re.compile(
    r"[;{}]\s*$"
    r"|^\s*(?:[#$%>]|>>>|//|/\*|--)\s"
    r"|^\s*\d+\s+[a-z_][\w.]*\s*(?:=[^=]|\(|\[|->)"
    r"|[A-Za-z_][\w.]*\([^()]*\)\s*(?:[;{:]|$)"
    r"|==|!=|->|=>|::|&&|\|\||:=|<<|\+=|-="
    r"|^\s*(?:def|func|fn|function|class|import|return|var|let|const|public|private|static"
    r"|void|int|char|#include|#define|SELECT|INSERT|UPDATE|DELETE|sudo|cd|echo|git|npm|pip"
    r"|apt|curl|wget)\s"
)
_SEPARATORS_RE = re.compile(r"\s[|·•/]\s|\s[|·•]|[|·•]\s")
_DATE_RE = re.compile(
    r"\b\d{1,2}[./-]\d{1,2}[./-]\d{2,4}\b|\b\d{4}-\d{2}-\d{2}\b"
    r"|\b\d{1,2}[:.]\d{2}\s*(?:am|pm|wib|wita|wit|utc|gmt|cet|cest|est|edt|pst|pdt|uhr|h)?\b",
    re.I,
)
_LIST_SEPARATOR_RE = re.compile(r"[,|·•;/]")
_YEAR_RE = re.compile(r"\b(?:19|20)\d{2}\b")
_PAREN_LIST_RE = re.compile(r"^\(([^()]{1,200})\)$")
_URLISH_RE = re.compile(
    r"https?://|www\.|\b[\w-]+\.(?:com|org|net|io|fm|co|me|ly|tv|app|de|fr|id|uk|info)\b(?:/\S*)?"
    r"|(?:^|\s)@\w{2,}"
)
# Imperatives that open a call to action, in the languages the digest is read in most.
# Only verbs that rarely open a sentence of news prose ("Let", "Help", "Use" do).
_CTA_VERBS = frozenset(
    [
        "check",
        "subscribe",
        "follow",
        "join",
        "download",
        "sign",
        "listen",
        "watch",
        "visit",
        "get",
        "buy",
        "become",
        "try",
        "register",
        "order",
        "shop",
        "share",
        "send",
        "tell",
        "email",
        "contact",
        "click",
        "tap",
        "learn",
        "discover",
        "grab",
        "donate",
        "rate",
        "review",
        "see",
        "read",
        "comment",
        "submit",
        "please",
        "apply",
        "book",
        "reserve",
        "preorder",
        "pre-order",
        "view",
        "explore",
        "claim",
        "abonniere",
        "abonnieren",
        "abonniert",
        "folge",
        "folgt",
        "hol",
        "hole",
        "lade",
        "besuche",
        "besucht",
        "unterstütze",
        "unterstützt",
        "teile",
        "teilt",
        "schreib",
        "schreibt",
        "melde",
        "klicke",
        "klickt",
        "hör",
        "hört",
        "höre",
        "schau",
        "schaut",
        "sieh",
        "entdecke",
        "kaufe",
        "bestelle",
        "registriere",
        "erfahre",
        "abonnez",
        "abonne",
        "suivez",
        "rejoignez",
        "téléchargez",
        "découvrez",
        "partagez",
        "écoutez",
        "regardez",
        "inscrivez",
        "cliquez",
        "lisez",
        "retrouvez",
        "soutenez",
        "commandez",
        "achetez",
        "ikuti",
        "dapatkan",
        "unduh",
        "kunjungi",
        "simak",
        "baca",
        "tonton",
        "dengarkan",
        "bagikan",
        "klik",
        "hubungi",
        "kirim",
        "berlangganan",
        "beli",
        "cek",
        "yuk",
        "ayo",
        "suscríbete",
        "síguenos",
        "descarga",
        "visita",
        "escucha",
        "comparte",
        "únete",
        "regístrate",
        "descubre",
        "iscriviti",
        "seguici",
        "scarica",
        "leggi",
        "guarda",
        "ascolta",
        "condividi",
        "scopri",
        "acquista",
        "abonneer",
        "volg",
        "bezoek",
        "lees",
        "bekijk",
        "luister",
        "deel",
        "ontdek",
        "koop",
        "assine",
        "siga",
        "baixe",
        "visite",
        "assista",
        "ouça",
        "compartilhe",
        "descubra",
    ]
)
SPONSOR_RE = re.compile(
    r"\bsponsored\s+by\b|\bfor\s+sponsoring\b|\bour\s+sponsors?\b|\bsponsors?\s+of\s+this\b"
    r"|\bis\s+sponsored\b|\bgesponsert\b|\bsponsoris[ée]|\bdisponsori\b|\bbrought\s+to\s+you\s+by\b"
    r"|\baffiliate\s+links?\b|\b(?:promo|coupon|discount)\s+code\b|\buse\s+code\b"
    r"|\bsupport\s+us\b|\bprivacy\s+(?:information|policy|notice)\b|\bcookie\s+policy\b"
    r"|\bdatenschutzerklärung\b|\bunsubscribe\b|\bmerch(?:\s+store)?\b",
    re.I,
)
_YOU_RE = re.compile(
    r"\b(?:you|your|du|dich|dir|euch|ihr|vous|tu|toi|kamu|anda|kalian|usted|ustedes|voi|tu"
    r"|jij|jullie|você|vocês)\b",
    re.I,
)
# Lines that are shown as the beginning or the end of a post: where furniture sits.
EDGE_LINES = 3


@functools.lru_cache(maxsize=4096)
def _is_code(text: str) -> bool:
    visible = len(text) - text.count(" ")
    if visible < 3:
        return False
    symbols = len(_CODE_SYMBOL_RE.findall(text))
    if not symbols:
        return False
    ratio = symbols / visible
    if symbols >= 4 and ratio >= 0.15:
        return True
    if not _CODE_RE.search(text):
        return False
    # Prose lists end items with ";" too: a statement end alone counts in short lines only.
    short_statement = len(text.split()) <= 8 and text.rstrip().endswith((";", "{"))
    return ratio >= 0.05 or (short_statement and symbols >= 2)


def _capitalised(word: str) -> bool:
    letters = [c for c in word if c.isalpha()]
    return bool(letters) and letters[0].isupper()


def _is_byline(text: str) -> bool:
    """Bylines and datelines: short, name- or date-shaped, separated rather than phrased."""
    words = text.split()
    if not words or len(words) > 14:
        return False
    alpha = [w for w in words if any(c.isalpha() for c in w)]
    caps = sum(_capitalised(w) for w in alpha) / len(alpha) if alpha else 1.0
    if len(_SEPARATORS_RE.findall(text)) >= 2 and caps >= 0.5:
        return True  # "Patricio Candia | Palma de Mallorca | 08/01/2014"
    dated = bool(_DATE_RE.search(text) or _YEAR_RE.search(text))
    if dated and len(words) <= 9 and caps >= 0.5 and not _WHOLE_END_RE.search(text):
        return True  # "Jakarta, 12/03/2019 10:15 WIB", "— Jane Doe, November 18, 2017"
    if words[0] in ("—", "–", "-", "―") and len(words) <= 10 and caps >= 0.5:
        return True  # "— Merlin Mann (@hotdogsladies)": an attribution line
    # "By Jane Doe", "Von Peter Steinlechner": a short word, then only names.
    return (
        2 <= len(words) <= 5
        and not _WHOLE_END_RE.search(text)
        and len(words[0].strip("—–-")) <= 4
        and all(_capitalised(w) for w in words[1:])
        and not any(c.isdigit() for c in text)
    )


def _is_tag_list(text: str) -> bool:
    """ "(Xbox One, Microsoft)", "Politics · Europe · Italy": short named items, no clause."""
    match = _PAREN_LIST_RE.match(text.strip())
    if not match and len(_LIST_SEPARATOR_RE.findall(text)) < 2:
        return False
    inner = match.group(1) if match else text
    items = [i.strip() for i in re.split(r"\s*[,|·•;/]\s*", inner) if i.strip()]
    if match:
        return bool(items) and all(len(i.split()) <= 5 for i in items) and len(items) >= 1
    if len(items) < 3 or _WHOLE_END_RE.search(text):
        return False
    return all(len(i.split()) <= 4 and _capitalised(i) for i in items)


def _opens_with_cta(text: str) -> bool:
    # Quoted speech is someone else's imperative, not the publisher's call to action.
    first = text.lstrip("([-–—•* ").split(maxsplit=1)
    if not first:
        return False
    word = first[0].casefold().rstrip(".,:;!?…\"'”’»)")
    return word in _CTA_VERBS


def furniture(sentence: str, *, line: str, at_start: bool, at_end: bool) -> Furniture | None:
    """Why ``sentence`` (from ``line``) is page furniture rather than article, or None.

    ``at_start``/``at_end``: the line is among the first or the last :data:`EDGE_LINES`
    lines of the text, where calls to action, sponsor notes and reader prompts sit.
    """
    if _is_code(line) or _is_code(sentence):
        return "code"
    if _is_tag_list(sentence):
        return "tags"
    if _is_byline(sentence) or (sentence == line and _is_byline(line)):
        return "byline"
    stripped = line.rstrip()
    if stripped.endswith(":") and len(stripped.split()) <= 12:
        return "label"
    if at_start or at_end:
        if _opens_with_cta(sentence) or SPONSOR_RE.search(sentence):
            return "promo"
        if at_end and len(sentence.split()) <= 12 and _URLISH_RE.search(sentence):
            return "promo"  # "Example.com is the portal for ...", "example.fm/store"
        if at_end and sentence.rstrip().endswith("?") and _YOU_RE.search(sentence):
            return "promo"  # "What do you think?": a prompt to the reader
    return None


def is_heading(text: str) -> bool:
    """A short line without a closing stop: a heading, a label or a standfirst's shape."""
    return not _WHOLE_END_RE.search(text.rstrip()) and len(text.split()) <= 20


def leading_headline(text: str) -> str | None:
    """The headline line at the top of plain text, or None.

    Scraped articles start with their headline (often twice, around share counters). It is
    the first line that is not page furniture, when it reads as a heading (no closing stop,
    3 to 25 words) and a whole sentence follows it.
    """
    lines = [" ".join(line.split()) for line in text.splitlines()]
    for index, line in enumerate(lines[:40]):
        if not line or _LINE_RE.match(line) or not any(c.isalnum() for c in line):
            continue
        words = len(line.split())
        if _WHOLE_END_RE.search(line) or not 3 <= words <= 25:
            return None
        rest = lines[index + 1 :]
        if any(len(r.split()) >= 6 and _WHOLE_END_RE.search(r) for r in rest[:60]):
            return line
        return None
    return None
