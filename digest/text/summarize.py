"""Extractive summaries in the article's own language.

:func:`summarize` turns its input into plain text the way the digest does (a page through
extraction, feed HTML through :func:`~digest.text.html.html_to_text`), cleans it, detects
its language, splits it with our own tokenizer (sumy's needs NLTK data), leaves out what a
summary must never quote (a teaser's cut sentence, a headline, page furniture) and picks
whole sentences, returned verbatim in source order, optionally within a word budget.

Methods: ``default`` (ours: a logistic regression over language-independent sentence
features, fitted on ``../shared/data/summ/indosum_train.jsonl``), ``lead`` (the first
sentences) and sumy's ``lexrank``, ``textrank``, ``lsa``, ``luhn``, ``edmundson``,
``sumbasic``, ``kl`` and ``reduction``. LexRank and TextRank run as vectorised
re-implementations that pick exactly the sentences sumy's own pick. How each method ranks
sentences is :mod:`digest.text.ranking`, built on sumy's summarizers and loaded on the first
summary.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from digest.models import SUMMARY_METHODS, Summary
from digest.text.clean import (
    EDGE_LINES,
    SPONSOR_RE,
    clean_sentences,
    furniture,
    is_heading,
    leading_headline,
    strip_feed_boilerplate,
    strip_teaser_end,
)
from digest.text.html import html_to_text, input_kind, strip_markup
from digest.text.language import LanguageResources, detect_language, resources

if TYPE_CHECKING:
    from digest.text.ranking import (
        DefaultSummarizer,
        FastLexRankSummarizer,
        FastTextRankSummarizer,
        build_document,
        make_summarizer,
        sentence_features,
    )

logger = logging.getLogger(__name__)

# Defined in digest.text.ranking, which imports sumy: loaded when first asked for.
_RANKING_NAMES = frozenset(
    {
        "DefaultSummarizer",
        "FastLexRankSummarizer",
        "FastTextRankSummarizer",
        "build_document",
        "make_summarizer",
        "sentence_features",
    }
)


def __getattr__(name: str) -> Any:
    if name in _RANKING_NAMES:
        from digest.text import ranking

        return getattr(ranking, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "FEATURES",
    "METHODS",
    "SUMMARIZER_VERSION",
    "DefaultSummarizer",
    "Document",
    "FastLexRankSummarizer",
    "FastTextRankSummarizer",
    "Prepared",
    "build_document",
    "make_summarizer",
    "prepare",
    "sentence_features",
    "summarize",
    "summarize_documents",
]

METHODS: tuple[str, ...] = SUMMARY_METHODS
# Changes whenever the same text and options give other summaries (cleaning, scorer): a
# cache of summaries should key on it. 2: issue 14 (furniture, teasers, learned default).
SUMMARIZER_VERSION = 2

# Work caps that keep every call bounded whatever arrives (10 MB pages, binary junk).
MAX_CHARS = 200_000
MAX_HTML_CHARS = 2_000_000  # pages carry far more markup than text
MAX_PAGE_CHARS = 600_000  # a whole page given to extraction, without scripts and styles
MAX_SENTENCES = 400
# KL and Reduction are quadratic-or-worse in pure Python: they only see the first sentences.
MAX_SLOW_SENTENCES = 80
MAX_SENTENCE_CHARS = 1_500
_CHUNK_CHARS = 400
# Calls to action and reader prompts are looked for in the first sentence and these last.
EDGE_SENTENCES = EDGE_LINES

# The default method's scorer: a logistic regression over the language-independent
# sentence features in FEATURES, fitted on ../shared/data/summ/indosum_train.jsonl (2,501
# articles; label: the sentence is in the greedy ROUGE-1+2 oracle of 3) and chosen on the
# DEV files (`bench/summary_quality.py --fit` prints these numbers; standardisation is
# folded into them). Runtime needs numpy only.
DEFAULT_INTERCEPT = -0.9750
DEFAULT_COEFFICIENTS: dict[str, float] = {
    "first": -2.1125,
    "second": -0.6004,
    "third": -0.0225,
    "fourth": 0.1199,
    "lead_decay": 3.3829,
    "relative_position": -1.4419,
    "paragraph_start": 0.1606,
    "paragraph_index": -0.7172,
    "log_words": 0.3521,
    "short": -1.0250,
    "long": -0.9794,
    "centrality": 0.4008,
    "title_share": 1.9302,
    "title_density": -0.8766,
    "digits": 3.1864,
    "quote_start": -1.6545,
    "quoted": -0.4985,
    "symbols": -1.7557,
    "heading": -0.1781,
    "question": -1.6445,
    "dash_prefix": 0.2128,
    "lower_start": -0.4155,
    "log_sentences": -0.5592,
}
# The features, in the order of the scorer's weights (text/ranking.py computes them).
FEATURES: tuple[str, ...] = (
    "first",
    "second",
    "third",
    "fourth",
    "lead_decay",
    "relative_position",
    "paragraph_start",
    "paragraph_index",
    "log_words",
    "short",
    "long",
    "centrality",
    "title_share",
    "title_density",
    "digits",
    "quote_start",
    "quoted",
    "symbols",
    "heading",
    "question",
    "dash_prefix",
    "lower_start",
    "log_sentences",
)


# --- preparing a document ---------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    """A cleaned document split into the sentences a summary may quote.

    ``sentences`` are verbatim and in source order; ``paragraphs`` holds their indices per
    paragraph; ``headings`` marks the ones that are a whole line without a closing stop
    (a heading or a standfirst). ``excerpt`` is the text to show, marked as an excerpt,
    when no whole sentence is left (a teaser cut in its only sentence); ``excerpt_cut``
    says it stops short.
    """

    sentences: tuple[str, ...]
    paragraphs: tuple[tuple[int, ...], ...]
    language: str | None
    title: str | None
    headings: tuple[bool, ...] = ()
    excerpt: str = ""
    excerpt_cut: bool = False

    @property
    def res(self) -> LanguageResources:
        return resources(self.language)


_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd\ufeff]+")


def _cut(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, without the partial line the cut leaves."""
    if len(text) <= limit:
        return text
    text = text[:limit]
    end = text.rfind("\n")
    return text[:end] if end > limit // 2 else text


_NOT_TEXT_OPEN_RE = re.compile(r"<(script|style|svg|noscript|template)\b|<!--", re.I)


def _without_scripts(markup: str) -> str:
    """``markup`` without scripts, styles and comments; linear time even when unclosed."""
    out: list[str] = []
    at = 0
    lowered = markup.lower()
    while (match := _NOT_TEXT_OPEN_RE.search(markup, at)) is not None:
        out.append(markup[at : match.start()])
        name = match.group(1)
        closer = f"</{name.lower()}" if name else "-->"
        end = lowered.find(closer, match.end())
        if end < 0:
            return "".join(out)  # never closed: the rest is not text
        at = end + len(closer)
        if name:
            close = markup.find(">", at)
            at = len(markup) if close < 0 else close + 1
    out.append(markup[at:])
    return "".join(out)


def _page_text(markup: str) -> tuple[str, str | None]:
    """Main text and title of a whole page, through the digest's own extraction."""
    from digest.errors import ExtractError
    from digest.sources.extract import extract_html

    # Extraction time grows with the number of elements: scripts and styles go first, and
    # what is left is capped (article pages are far below the cap once scripts are gone).
    markup = _without_scripts(markup)[:MAX_PAGE_CHARS]
    try:
        page = extract_html(markup)
    except ExtractError:
        # No article in it: its text is all there is (and the cleaner drops what it can).
        return html_to_text(markup), None
    # Extraction keeps text that reads like a tag ("the <stream> command"); feed content
    # loses it in html_to_text, and a page must give the same sentences.
    return strip_markup(page.text), page.title


def _plain(text: str) -> tuple[str, str | None]:
    """Plain text of ``text``, and the title a whole page gives."""
    kind = input_kind(text)
    found: str | None = None
    if kind != "text":
        cut = len(text) > MAX_HTML_CHARS
        markup = text[:MAX_HTML_CHARS]
        text, found = _page_text(markup) if kind == "page" else (html_to_text(markup), None)
        if cut and "\n" in text:
            text = text[: text.rfind("\n")]  # the last block was cut short
    return _CONTROL_RE.sub(" ", _cut(text, MAX_CHARS)), found


_LETTER_RE = re.compile(r"[^\W\d_]", re.UNICODE)
_UNSPACED_SCRIPT_RE = re.compile(
    r"[\u0e00-\u0eff\u1000-\u109f\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]"
)
_ODD_CHAR_RE = re.compile(r"[^\w\s.,;:!?'\"“”‘’«»„()\[\]/%&+*#@$€£¥–—…-]", re.UNICODE)


def _is_text(sentence: str) -> bool:
    """False for junk: runs of digits or symbols, binary decoded as text."""
    spaces = sentence.count(" ")  # sentences come with their whitespace collapsed
    visible = len(sentence) - spaces
    letters = len(_LETTER_RE.findall(sentence))
    if letters < 2 or letters < 0.4 * visible:
        return False
    odd = _ODD_CHAR_RE.findall(sentence)  # cheap pre-filter; combining marks land here too
    if odd and sum(1 for c in odd if unicodedata.category(c)[0] in "SC") > 0.1 * visible:
        return False
    # Space-separated scripts have words, not 40-character runs.
    return visible / (spaces + 1) <= 25 or bool(_UNSPACED_SCRIPT_RE.search(sentence))


def _chunks(sentence: str) -> list[str]:
    """A run-on "sentence" (no punctuation for pages) in word-aligned pieces."""
    if len(sentence) <= MAX_SENTENCE_CHARS:
        return [sentence]
    out: list[str] = []
    words = sentence.split()
    current: list[str] = []
    size = 0
    for word in words:
        current.append(word)
        size += len(word) + 1
        if size >= _CHUNK_CHARS:
            out.append(" ".join(current))
            current, size = [], 0
    if current:
        out.append(" ".join(current))
    return out


def _split_glued(sentence: str, starters: frozenset[str]) -> list[tuple[str, bool]]:
    """A heading run into the sentence after it, as ``[(heading, True), (sentence, False)]``.

    Teaser feeds flatten "<h3>Figuren erscheinen ab Juni</h3><p>Die neuen Figuren ...":
    within the first words, a capitalised word that opens sentences ("Die", "The",
    "Nachdem") after a word without punctuation, followed by a lower-case word, starts the
    real sentence.
    """
    words = sentence.split(" ")
    for i in range(2, min(len(words) - 1, _GLUED_MAX_WORDS)):
        word, before, after = words[i], words[i - 1], words[i + 1]
        if (
            word[:1].isupper()
            and word[1:].islower()
            and word.casefold() in starters
            and before[-1:].isalnum()
            and after[:1].islower()
        ):
            return [(" ".join(words[:i]), True), (" ".join(words[i:]), False)]
    return [(sentence, False)]


# A heading glued to the next sentence is looked for within this many words of its start.
_GLUED_MAX_WORDS = 12
# Words that open a sentence (articles, pronouns, conjunctions) and, capitalised, rarely
# appear inside one. Languages whose names or pronouns are capitalised function words
# (Indonesian "Anda", "Jawa Tengah"; Vietnamese names) are left out.
_STARTERS: dict[str, frozenset[str]] = {
    code: frozenset(words.split())
    for code, words in {
        "en": "the a an this these those it he she they we there after when while but however",
        "de": "der die das ein eine einen nachdem als wenn während doch aber im am es er wir "
        "dies diese dieser damit dabei zudem",
        "fr": "le la les un une ce cette ces après lorsque quand mais il elle ils on",
        "nl": "de het een dit deze na toen als maar hij zij wij er",
        "es": "el la los las un una este esta tras cuando pero",
        "it": "il lo la gli le un una questo questa dopo quando ma",
        "pt": "o os as um uma este esta após quando mas",
        "sv": "den det en ett efter när men han hon de vi",
    }.items()
}
# At most this many words of the text are shown as an excerpt.
EXCERPT_WORDS = 60


def prepare(text: str, *, title: str | None = None, language: str = "auto") -> Prepared:
    """Clean ``text`` (a page, an HTML fragment or plain text), detect its language when
    ``auto`` and split it into the sentences a summary may quote.

    A whole page goes through extraction, a fragment through the conversion feed content
    gets, plain text as it is; then the same cleaning for all. Left out: a teaser's cut
    last sentence, a headline line at the top of plain text (it becomes the title when no
    ``title`` is given), page furniture (code, bylines, datelines, tag lists, calls to
    action and sponsor notes at the start or the end, labels such as "Follow-up:").
    """
    if not isinstance(text, str):
        text = str(text or "")
    title = " ".join(title.split()) if isinstance(title, str) and title.strip() else None
    plain, page_title = _plain(text)
    title = title or page_title
    plain, cut = strip_teaser_end(plain)
    if title is None:
        title = leading_headline(plain)
    lang: str | None
    if language in ("auto", "", None):
        # Detected before cleaning so that cleaning splits sentences with the right rules;
        # boilerplate is too short to sway the detector.
        lang = detect_language(plain, title=title)
    else:
        lang = language.strip().lower() or None
    res = resources(lang)
    blocks = clean_sentences(plain, title=title, language=res.code)
    total = sum(len(line) for block in blocks for line in block)

    sentences: list[str] = []
    headings: list[bool] = []
    paragraphs: list[tuple[int, ...]] = []
    excerpt: list[str] = []
    position = 0
    sponsor_block = False
    for block in blocks:
        indices: list[int] = []
        for line in block:
            joined = " ".join(line)
            for sentence in line:
                # Where a sentence sits says something only in texts of a few sentences.
                kind = furniture(
                    sentence,
                    line=joined,
                    at_start=position == 0 and total > EDGE_SENTENCES,
                    at_end=position >= total - EDGE_SENTENCES and total > EDGE_SENTENCES,
                )
                position += 1
                if kind == "label" and SPONSOR_RE.search(joined) and position > total // 2:
                    sponsor_block = True  # "Sponsored by:" and the sponsors after it
                if kind is not None or sponsor_block:
                    continue
                excerpt.append(sentence)
                if cut and position == total:
                    continue  # the teaser's cut sentence is never a summary sentence
                starters = _STARTERS.get(res.code or "", frozenset())
                pieces = _split_glued(sentence, starters) if starters else [(sentence, False)]
                for piece, glued in pieces:
                    if glued:
                        continue  # a heading is a summary line only as a paragraph of its own
                    for chunk in _chunks(piece):
                        if len(sentences) >= MAX_SENTENCES or not _is_text(chunk):
                            continue
                        indices.append(len(sentences))
                        sentences.append(chunk)
                        headings.append(len(line) == 1 and is_heading(chunk))
        if indices:
            paragraphs.append(tuple(indices))
        if len(sentences) >= MAX_SENTENCES:
            break
    words = " ".join(excerpt).split()
    return Prepared(
        tuple(sentences),
        tuple(paragraphs),
        res.code,
        title,
        tuple(headings),
        excerpt=" ".join(words[:EXCERPT_WORDS]),
        excerpt_cut=cut or len(words) > EXCERPT_WORDS,
    )


def _within_budget(ranking: list[int], prepared: Prepared, count: int, max_words: int) -> list[int]:
    """The best sentences whose words fit in ``max_words``, at most ``count``, at least one."""
    chosen: list[int] = []
    used = 0
    for i in ranking:
        words = len(prepared.sentences[i].split())
        if used + words <= max_words:
            chosen.append(i)
            used += words
        if len(chosen) == count:
            break
    return chosen or ranking[:1]


def summarize(
    text: str,
    *,
    title: str | None = None,
    language: str = "auto",
    sentences: int = 3,
    method: str = "default",
    max_words: int | None = None,
) -> Summary:
    """Summary of ``text``: whole sentences taken verbatim, in source order.

    ``text`` may be plain text, an HTML fragment (feed content) or a whole page (run
    through extraction). Without ``max_words`` the summary has ``sentences`` sentences
    (fewer only when the text has fewer); with it, the best of up to ``sentences``
    sentences that fit in ``max_words`` words, and always at least one. When no whole
    sentence is left but there is text, the Summary is an ``excerpt`` of it. ``language``
    is an ISO 639-1 code or "auto" (detected from the cleaned text); the Summary's
    ``language`` is the code used, or "und". Never raises on any text (HTML, junk, 10 MB)
    and takes bounded time; an unknown ``method`` raises ValueError.
    """
    if method not in METHODS:
        raise ValueError(f"unknown summary method {method!r}; choose one of {', '.join(METHODS)}")
    count = max(0, int(sentences))
    try:
        prepared = prepare(text, title=title, language=language)
    except Exception:
        logger.warning(
            "could not prepare a text for summarising; summary left empty", exc_info=True
        )
        return Summary(sentences=(), method=method, language="und")
    lang = prepared.language or "und"
    if count == 0:
        return Summary(sentences=(), method=method, language=lang)
    if not prepared.sentences:
        if prepared.excerpt:
            shown = prepared.excerpt + (" …" if prepared.excerpt_cut else "")
            return Summary(sentences=(shown,), method=method, language=lang, excerpt=True)
        return Summary(sentences=(), method=method, language=lang)
    budget = None if max_words is None else max(1, int(max_words))
    # With a word budget, rank a few more than `count` so short ones can fill the budget.
    wanted = count if budget is None else min(len(prepared.sentences), count + 3)
    try:
        from digest.text import ranking as rankers  # sumy, nltk and numpy: on first use

        ranking = rankers.ranking(method, prepared, wanted)
    except Exception:
        # A summariser bug must not cost the reader the article: fall back to its lead.
        logger.warning("summary method %s failed; using the lead instead", method, exc_info=True)
        ranking = list(range(min(wanted, len(prepared.sentences))))
    chosen = ranking[:count] if budget is None else _within_budget(ranking, prepared, count, budget)
    return Summary(
        sentences=tuple(prepared.sentences[i] for i in sorted(chosen)),
        method=method,
        language=lang,
    )


@dataclass(frozen=True)
class Document:
    """One text to summarise with :func:`summarize_documents`; ``feed`` groups documents
    whose shared lines are boilerplate (None: all documents without a feed together)."""

    text: str
    title: str | None = None
    language: str = "auto"
    feed: str | None = None


def summarize_documents(
    documents: Sequence[Document],
    *,
    sentences: int = 3,
    method: str = "default",
    max_words: int | None = None,
) -> list[Summary]:
    """Summaries of ``documents`` in order, the way the digest makes them.

    Each text becomes plain text as in :func:`summarize` (a page through extraction, a
    fragment through the feed-content conversion); then, as parsing a feed does, the lines
    that recur across documents of the same ``feed`` are removed
    (:class:`~digest.text.clean.FeedBoilerplate`) before each is summarised.
    """
    plain = [_plain(d.text) for d in documents]
    titles = [d.title or found for d, (_, found) in zip(documents, plain, strict=True)]
    groups: dict[str | None, list[int]] = {}
    for index, document in enumerate(documents):
        groups.setdefault(document.feed, []).append(index)
    texts = [text for text, _ in plain]
    for indices in groups.values():
        stripped = strip_feed_boilerplate([(titles[i], texts[i]) for i in indices])
        for i, text in zip(indices, stripped, strict=True):
            texts[i] = text
    return [
        summarize(
            text,
            title=title,
            language=document.language,
            sentences=sentences,
            method=method,
            max_words=max_words,
        )
        for document, title, text in zip(documents, titles, texts, strict=True)
    ]
