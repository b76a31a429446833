"""Extractive summaries in the article's own language; the only module that imports sumy.

:func:`summarize` turns its input into plain text the way the digest does (a page through
extraction, feed HTML through :func:`~digest.text.html.html_to_text`), cleans it, detects
its language, splits it with our own tokenizer (sumy's needs NLTK data), leaves out what a
summary must never quote (a teaser's cut sentence, a headline, page furniture) and picks
whole sentences, returned verbatim in source order, optionally within a word budget.

Methods: ``default`` (ours: a logistic regression over language-independent sentence
features, fitted on ``../shared/data/summ/indosum_train.jsonl``), ``lead`` (the first
sentences) and sumy's ``lexrank``, ``textrank``, ``lsa``, ``luhn``, ``edmundson``,
``sumbasic``, ``kl`` and ``reduction``. LexRank and TextRank run as vectorised
re-implementations that pick exactly the sentences sumy's own pick.
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sumy.models.dom import ObjectDocumentModel, Paragraph, Sentence
from sumy.summarizers._summarizer import AbstractSummarizer
from sumy.summarizers.edmundson import EdmundsonSummarizer
from sumy.summarizers.kl import KLSummarizer
from sumy.summarizers.lex_rank import LexRankSummarizer
from sumy.summarizers.lsa import LsaSummarizer
from sumy.summarizers.luhn import LuhnSummarizer
from sumy.summarizers.reduction import ReductionSummarizer
from sumy.summarizers.sum_basic import SumBasicSummarizer
from sumy.summarizers.text_rank import TextRankSummarizer

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

logger = logging.getLogger(__name__)

__all__ = [
    "FEATURES",
    "METHODS",
    "SUMMARIZER_VERSION",
    "DefaultSummarizer",
    "Document",
    "FastLexRankSummarizer",
    "FastTextRankSummarizer",
    "Prepared",
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


def build_document(prepared: Prepared, *, limit: int | None = None) -> ObjectDocumentModel:
    """The sumy document of ``prepared`` (its first ``limit`` sentences when given)."""
    tokenizer = prepared.res.tokenizer
    paragraphs = []
    for indices in prepared.paragraphs:
        kept = [i for i in indices if limit is None or i < limit]
        if kept:
            paragraphs.append(Paragraph([Sentence(prepared.sentences[i], tokenizer) for i in kept]))
    return ObjectDocumentModel(paragraphs)


# --- vectorised LexRank and TextRank ----------------------------------------------------


class _TermsMixin(AbstractSummarizer):  # type: ignore[misc]
    _stop_words: frozenset[str] = frozenset()

    @property
    def stop_words(self) -> frozenset[str]:
        return self._stop_words

    @stop_words.setter
    def stop_words(self, words: Iterable[str]) -> None:
        self._stop_words = frozenset(map(self.normalize_word, words))

    def rate(self, sentences: Sequence[Sentence]) -> np.ndarray:
        """One score per sentence, in sentence order; each summarizer defines its own."""
        raise NotImplementedError

    def __call__(self, document: ObjectDocumentModel, sentences_count: Any) -> tuple[Any, ...]:
        """The best sentences by :meth:`rate`, picked the way sumy's own summarizers do."""
        sentences = document.sentences
        if not sentences:
            return ()
        ratings = dict(zip(sentences, self.rate(sentences), strict=True))
        return tuple(self._get_best_sentences(sentences, sentences_count, ratings))

    def _terms(self, sentences: Sequence[Sentence]) -> list[list[str]]:
        """Stemmed non-stop words per sentence, exactly as sumy's ``_to_words_set``."""
        cache: dict[str, str | None] = {}
        stop = self._stop_words
        out: list[list[str]] = []
        for sentence in sentences:
            terms: list[str] = []
            for word in sentence.words:
                stem = cache.get(word, "")
                if stem == "":
                    low = self.normalize_word(word)
                    stem = None if low in stop else self.stem_word(low)
                    cache[word] = stem
                if stem is not None:
                    terms.append(stem)
            out.append(terms)
        return out


def _count_matrix(terms: list[list[str]]) -> tuple[np.ndarray, list[str]]:
    vocab: dict[str, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    for i, sentence in enumerate(terms):
        for term in sentence:
            rows.append(i)
            cols.append(vocab.setdefault(term, len(vocab)))
    width = max(1, len(vocab))
    flat = np.array(rows, dtype=np.intp) * width + np.array(cols, dtype=np.intp)
    counts = np.bincount(flat, minlength=len(terms) * width).astype(float)
    return counts.reshape(len(terms), width)[:, : len(vocab)], list(vocab)


class FastLexRankSummarizer(_TermsMixin):
    """sumy's LexRank computed with matrix products; picks the same sentences as sumy's."""

    threshold = LexRankSummarizer.threshold
    epsilon = LexRankSummarizer.epsilon

    def similarity(
        self, sentences: Sequence[Sentence], terms: list[list[str]] | None = None
    ) -> np.ndarray:
        """The idf-modified cosine of every pair of sentences (sumy's definition)."""
        terms = self._terms(sentences) if terms is None else terms
        n = len(terms)
        vocab: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        tfs: list[float] = []
        for i, sentence in enumerate(terms):
            counted = Counter(sentence)
            top = max(counted.values()) if counted else 1
            for term, count in counted.items():
                rows.append(i)
                cols.append(vocab.setdefault(term, len(vocab)))
                tfs.append(count / top)
        if not vocab:
            return np.zeros((n, n))
        row = np.array(rows, dtype=np.intp)
        col = np.array(cols, dtype=np.intp)
        doc_freq = np.bincount(col, minlength=len(vocab))
        # sumy: idf = log(N / (1 + n_j)) with math.log; keep exactly the same numbers.
        idf_of = {int(df): math.log(n / (1 + int(df))) for df in np.unique(doc_freq)}
        idf = np.array([idf_of[int(df)] for df in doc_freq])
        weight = np.array(tfs) * idf[col]
        norms = np.sqrt(np.bincount(row, weights=weight * weight, minlength=n))
        # Only words shared by two sentences or more link different sentences: the dense
        # product runs over those columns alone.
        shared = (doc_freq >= 2) & (idf != 0)
        keep = shared[col]
        index = np.cumsum(shared) - 1
        dense = np.zeros((n, int(shared.sum())))
        dense[row[keep], index[col[keep]]] = weight[keep]
        numerator = dense @ dense.T
        numerator[np.diag_indices(n)] = norms * norms
        denominator = np.outer(norms, norms)
        with np.errstate(divide="ignore", invalid="ignore"):
            cosine = np.where(denominator > 0, numerator / denominator, 0.0)
        return np.asarray(cosine)

    def rate(
        self, sentences: Sequence[Sentence], terms: list[list[str]] | None = None
    ) -> np.ndarray:
        """LexRank scores, in sentence order."""
        cosine = self.similarity(sentences, terms)
        adjacency = (cosine > self.threshold).astype(float)
        degrees = adjacency.sum(axis=1)
        degrees[degrees == 0] = 1
        matrix = adjacency / degrees[:, None]
        # An all-zero graph (no word with a positive idf) gives NaN scores in sumy too;
        # keep its numbers, without the warning.
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(LexRankSummarizer.power_method(matrix, self.epsilon))


class FastTextRankSummarizer(_TermsMixin):
    """sumy's TextRank computed with matrix products; picks the same sentences as sumy's."""

    epsilon = TextRankSummarizer.epsilon
    damping = TextRankSummarizer.damping
    _ZERO_DIVISION_PREVENTION = TextRankSummarizer._ZERO_DIVISION_PREVENTION

    def rate(self, sentences: Sequence[Sentence]) -> np.ndarray:
        """TextRank scores, in sentence order."""
        terms = self._terms(sentences)
        n = len(terms)
        counts, _vocab = _count_matrix(terms)
        # sumy's edge: sum(words2.count(w) for w in words1) = dot product of count vectors,
        # divided by log(len1) + log(len2) (math.log, like sumy), or kept when both are 1.
        rank = counts @ counts.T
        logs = np.array([math.log(len(t)) if t else 0.0 for t in terms])
        norm = logs[:, None] + logs[None, :]
        lengths = np.array([len(t) for t in terms])
        single = (lengths[:, None] == 1) & (lengths[None, :] == 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            weights = np.where(rank == 0, 0.0, np.where(single, rank, rank / norm))
        weights /= weights.sum(axis=1)[:, np.newaxis] + self._ZERO_DIVISION_PREVENTION
        matrix = np.full((n, n), (1.0 - self.damping) / n) + self.damping * weights
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(TextRankSummarizer.power_method(matrix, self.epsilon))


# --- our default ------------------------------------------------------------------------


class DefaultSummarizer(FastLexRankSummarizer):
    """A learned sentence scorer: :data:`DEFAULT_COEFFICIENTS` over :func:`sentence_features`.

    The features are language-independent (position, paragraph, length, LexRank centrality,
    overlap with the headline, digits, quotes, symbols, headings), so the scorer fitted on
    Indonesian news keeps English and Vietnamese at the level of their strong lead while
    skipping the short, quoted or fragment lead sentences Indonesian sites are full of.
    """

    def __init__(self, stemmer: Callable[[str], str], prepared: Prepared) -> None:
        super().__init__(stemmer)
        self.prepared = prepared

    def __call__(self, document: ObjectDocumentModel, sentences_count: Any) -> tuple[Any, ...]:
        sentences = document.sentences
        if not sentences:
            return ()
        scores = iter(self.score(sentences).tolist())
        return tuple(self._get_best_sentences(sentences, sentences_count, lambda _s: next(scores)))

    def ranking(self, sentences: Sequence[Sentence], count: int) -> list[int]:
        """Indices of the best ``count`` sentences, best first (ties: earlier first)."""
        scores = self.score(sentences).tolist()
        return sorted(range(len(sentences)), key=lambda i: -scores[i])[:count]

    def score(self, sentences: Sequence[Sentence]) -> np.ndarray:
        """The scorer's logit for every sentence, in sentence order."""
        features = sentence_features(self.prepared, sentences, self)
        weights = np.array([DEFAULT_COEFFICIENTS.get(name, 0.0) for name in FEATURES])
        return np.asarray(features @ weights + DEFAULT_INTERCEPT)


# --- features of the learned scorer ------------------------------------------------------

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
_DASH_PREFIX_RE = re.compile(r"^.{0,60}?\s[-–—]{1,2}\s")
_QUOTE_START_RE = re.compile(r"^\W{0,3}[\"“„«‘'‚「『]")
_DIGIT_RE = re.compile(r"\d")
# Neither a letter, a digit nor a space (str.isalnum's complement, without "_").
_SYMBOL_RE = re.compile(r"[^\w\s]|_")
_QUOTED_RE = re.compile(r"[\"“”„«»「」『』]")


def sentence_features(
    prepared: Prepared, sentences: Sequence[Sentence], ranker: FastLexRankSummarizer
) -> np.ndarray:
    """One row of :data:`FEATURES` per sentence of ``prepared`` (language-independent)."""
    n = len(sentences)
    texts = [str(s) for s in sentences]
    terms = ranker._terms(sentences)
    central = np.nan_to_num(ranker.rate(sentences, terms)) if n > 1 else np.ones(n)
    top = float(np.max(central)) if n else 0.0
    central = central / top if top > 0 else np.zeros(n)
    res = prepared.res
    stop = ranker.stop_words
    title_words = res.tokenizer.to_words(prepared.title) if prepared.title else ()
    title = {
        ranker.stem_word(ranker.normalize_word(t))
        for t in title_words
        if ranker.normalize_word(t) not in stop
    }
    para_of = np.zeros(n)
    para_start = np.zeros(n)
    for p, indices in enumerate(prepared.paragraphs):
        for k, i in enumerate(indices):
            if i < n:
                para_of[i] = p
                para_start[i] = k == 0
    index = np.arange(n, dtype=float)
    words = np.array([float(len(s.words)) for s in sentences])  # cached by sumy
    rows = np.zeros((n, len(FEATURES)))
    column = {name: k for k, name in enumerate(FEATURES)}

    def put(name: str, values: Any) -> None:
        rows[:, column[name]] = values

    put("first", index == 0)
    put("second", index == 1)
    put("third", index == 2)
    put("fourth", index == 3)
    put("lead_decay", np.exp(-index / 3.0))
    put("relative_position", index / max(1, n - 1))
    put("paragraph_start", para_start)
    put("paragraph_index", np.log1p(para_of))
    put("log_words", np.log1p(words))
    put("short", words < 8)
    put("long", words > 45)
    put("centrality", central)
    if title:
        shared = np.array([len(title.intersection(t)) for t in terms], dtype=float)
        put("title_share", shared / len(title))
        put("title_density", shared / np.maximum(1.0, np.array([len(set(t)) for t in terms])))
    lengths = np.array([max(1, len(t)) for t in texts], dtype=float)
    put("digits", np.array([len(_DIGIT_RE.findall(t)) for t in texts]) / lengths)
    put("quote_start", [bool(_QUOTE_START_RE.search(t)) for t in texts])
    put("quoted", [bool(_QUOTED_RE.search(t)) for t in texts])
    put("symbols", np.array([len(_SYMBOL_RE.findall(t)) for t in texts]) / lengths)
    headings = prepared.headings
    put("heading", [bool(headings[i]) if i < len(headings) else False for i in range(n)])
    put("question", [t.rstrip().endswith("?") for t in texts])
    put("dash_prefix", [bool(_DASH_PREFIX_RE.search(t)) for t in texts])
    put("lower_start", [bool(t[:1].islower()) for t in texts])
    put("log_sentences", math.log1p(n))
    return rows


# --- method table -----------------------------------------------------------------------

_STIGMA_WORDS = [
    "advertisement",
    "iklan",
    "sponsored",
    "copyright",
    "subscribe",
    "newsletter",
    "click",
    "klik",
    "baca",
    "juga",
    "read",
    "more",
    "foto",
    "photo",
]


def make_summarizer(method: str, prepared: Prepared) -> AbstractSummarizer:
    """A configured sumy summarizer for ``method`` and the language of ``prepared``."""
    res = prepared.res
    title_words = res.tokenizer.to_words(prepared.title) if prepared.title else ()
    summarizer: AbstractSummarizer
    if method == "default":
        summarizer = DefaultSummarizer(res.stemmer, prepared)
    elif method == "lexrank":
        summarizer = FastLexRankSummarizer(res.stemmer)
    elif method == "textrank":
        summarizer = FastTextRankSummarizer(res.stemmer)
    elif method == "lsa":
        summarizer = LsaSummarizer(res.stemmer)
    elif method == "luhn":
        summarizer = LuhnSummarizer(res.stemmer)
    elif method == "sumbasic":
        summarizer = SumBasicSummarizer(res.stemmer)
    elif method == "kl":
        summarizer = KLSummarizer(res.stemmer)
    elif method == "reduction":
        summarizer = ReductionSummarizer(res.stemmer)
    elif method == "edmundson":
        summarizer = EdmundsonSummarizer(
            res.stemmer, cue_weight=1.0, key_weight=1.0, title_weight=1.0, location_weight=1.0
        )
        bonus = [w for w in title_words if w.lower() not in res.stop_words]
        if not bonus:
            bonus = _frequent_words(prepared, res)
        summarizer.bonus_words = bonus or ["\x00"]
        summarizer.stigma_words = _STIGMA_WORDS
        summarizer.null_words = res.stop_words or frozenset({"\x00"})
    else:
        raise ValueError(f"unknown summary method {method!r}; choose one of {', '.join(METHODS)}")
    if method != "edmundson":
        summarizer.stop_words = res.stop_words
    return summarizer


def _frequent_words(prepared: Prepared, res: LanguageResources) -> list[str]:
    counts: Counter[str] = Counter()
    for sentence in prepared.sentences[:50]:
        counts.update(
            w.lower() for w in res.tokenizer.to_words(sentence) if w.lower() not in res.stop_words
        )
    return [w for w, _ in counts.most_common(10)]


def _ranking(method: str, prepared: Prepared, count: int) -> list[int]:
    """Indices of up to ``count`` sentences, best first, as ``method`` ranks them."""
    n = len(prepared.sentences)
    if method == "lead" or n <= 1:
        return list(range(min(count, n)))
    limit = MAX_SLOW_SENTENCES if method in ("kl", "reduction") else None
    document = build_document(prepared, limit=limit)
    if method == "edmundson" and prepared.title:
        # Edmundson's title and location methods read headings.
        heading = Sentence(prepared.title, prepared.res.tokenizer, is_heading=True)
        first = document.paragraphs[0]
        paragraphs = [Paragraph([heading, *first._sentences]), *document.paragraphs[1:]]
        document = ObjectDocumentModel(paragraphs)
    summarizer = make_summarizer(method, prepared)
    index = {id(s): i for i, s in enumerate(document.sentences)}
    if isinstance(summarizer, DefaultSummarizer):
        return summarizer.ranking(document.sentences, count)
    if isinstance(summarizer, _TermsMixin):
        # The vectorised rankers: sumy's own pick for the first `count`, by score.
        chosen = summarizer(document, count)
        scores = dict(zip(document.sentences, summarizer.rate(document.sentences), strict=True))
        ordered = sorted(chosen, key=lambda s: -float(np.nan_to_num(scores[s])))
        return [index[id(s)] for s in ordered if id(s) in index]
    # sumy's other summarizers only give a set: the order in which sentences join the
    # best-k set for k = 1, 2, ... is their ranking.
    order: list[int] = []
    for k in range(1, count + 1):
        for s in summarizer(document, k):
            i = index.get(id(s))
            if i is not None and i not in order:
                order.append(i)
    return order[:count]


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
        ranking = _ranking(method, prepared, wanted)
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
