"""Extractive summaries in the article's own language; the only module that imports sumy.

:func:`summarize` cleans the text, detects its language, splits it with our own tokenizer
(sumy's needs NLTK data) and picks whole sentences, returned verbatim in source order.

Methods: ``default`` (ours: LexRank centrality blended with a position prior and the overlap
with the title, fitted on the DEV files of ``../shared/data/summ``), ``lead`` (the first
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
from digest.text.clean import clean_sentences, html_to_text, looks_like_html
from digest.text.language import LanguageResources, detect_language, resources

logger = logging.getLogger(__name__)

__all__ = [
    "METHODS",
    "DefaultSummarizer",
    "FastLexRankSummarizer",
    "FastTextRankSummarizer",
    "Prepared",
    "make_summarizer",
    "prepare",
    "summarize",
]

METHODS: tuple[str, ...] = SUMMARY_METHODS

# Work caps that keep every call bounded whatever arrives (10 MB pages, binary junk).
MAX_CHARS = 200_000
MAX_HTML_CHARS = 2_000_000  # pages carry far more markup than text
MAX_SENTENCES = 400
# KL and Reduction are quadratic-or-worse in pure Python: they only see the first sentences.
MAX_SLOW_SENTENCES = 80
MAX_SENTENCE_CHARS = 1_500
_CHUNK_CHARS = 400

# Fitted on the DEV files only: grid search (bench/summary_quality.py --fit) maximising the
# smallest of: IndoSum R-1 margin over Lead-3 minus 1, CNN/DM R-1 margin, CNN/DM R-2 margin.
# Picked from the middle of the plateau (title 0.2-0.4 all score within 0.2 R-1) rather than
# its single best point.
DEFAULT_WEIGHTS: dict[str, float] = {
    "position": 1.0,
    "decay": 3.0,
    "centrality": 0.1,
    "title": 0.3,
    "quote": 0.2,
    "min_words": 6.0,
}


# --- preparing a document ---------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    """A cleaned document split into sentences; ``paragraphs`` holds sentence indices."""

    sentences: tuple[str, ...]
    paragraphs: tuple[tuple[int, ...], ...]
    language: str | None
    title: str | None

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


def _plain(text: str) -> str:
    if looks_like_html(text):
        cut = len(text) > MAX_HTML_CHARS
        text = html_to_text(text[:MAX_HTML_CHARS])
        if cut and "\n" in text:
            text = text[: text.rfind("\n")]  # the last block was cut short
    return _CONTROL_RE.sub(" ", _cut(text, MAX_CHARS))


_LETTER_RE = re.compile(r"[^\W\d_]", re.UNICODE)
_UNSPACED_SCRIPT_RE = re.compile(
    r"[\u0e00-\u0eff\u1000-\u109f\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]"
)
_ODD_CHAR_RE = re.compile(r"[^\w\s.,;:!?'\"“”‘’«»„()\[\]/%&+*#@$€£¥–—…-]", re.UNICODE)


def _is_text(sentence: str) -> bool:
    """False for junk: runs of digits or symbols, binary decoded as text."""
    tokens = sentence.split()
    visible = sum(len(t) for t in tokens)
    letters = len(_LETTER_RE.findall(sentence))
    if letters < 2 or letters < 0.4 * visible:
        return False
    odd = _ODD_CHAR_RE.findall(sentence)  # cheap pre-filter; combining marks land here too
    symbols = sum(1 for c in odd if unicodedata.category(c)[0] in "SC")
    if symbols > 0.1 * visible:
        return False
    # Space-separated scripts have words, not 40-character runs.
    return bool(_UNSPACED_SCRIPT_RE.search(sentence)) or visible / len(tokens) <= 25


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


def prepare(text: str, *, title: str | None = None, language: str = "auto") -> Prepared:
    """Clean ``text`` (HTML allowed), detect its language when ``auto`` and split it."""
    if not isinstance(text, str):
        text = str(text or "")
    title = " ".join(title.split()) if isinstance(title, str) and title.strip() else None
    plain = _plain(text)
    lang: str | None
    if language in ("auto", "", None):
        # Detected before cleaning so that cleaning splits sentences with the right rules;
        # boilerplate is too short to sway the detector.
        lang = detect_language(plain, title=title)
    else:
        lang = language.strip().lower() or None
    res = resources(lang)
    sentences: list[str] = []
    paragraphs: list[tuple[int, ...]] = []
    for block in clean_sentences(plain, title=title, language=res.code):
        if len(sentences) >= MAX_SENTENCES:
            break
        indices: list[int] = []
        for sentence in (s for line in block for s in line):
            for piece in _chunks(sentence):
                if _is_text(piece) and len(sentences) < MAX_SENTENCES:
                    indices.append(len(sentences))
                    sentences.append(piece)
        if indices:
            paragraphs.append(tuple(indices))
    return Prepared(tuple(sentences), tuple(paragraphs), res.code, title)


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


_QUOTE_RE = re.compile(r'^\W{0,3}["“„«‘\'‚「『]|["“„«]\s*\w[^"”“»]{20,}["”»]')

# --- our default ------------------------------------------------------------------------


class DefaultSummarizer(FastLexRankSummarizer):
    """LexRank centrality blended with a lead-position prior and overlap with the title.

    score(i) = position * exp(-i / decay) + centrality * lexrank(i) / max(lexrank)
             + title * |stems(i) & stems(title)| / |stems(title)| - quote * is_quote(i)
    and sentences shorter than ``min_words`` content words are scaled down (datelines,
    captions). The weights are :data:`DEFAULT_WEIGHTS`, fitted on the DEV files.
    """

    def __init__(
        self,
        stemmer: Callable[[str], str],
        *,
        title_words: Sequence[str] = (),
        weights: dict[str, float] | None = None,
    ) -> None:
        super().__init__(stemmer)
        self.title_words = tuple(title_words)
        self.weights = {**DEFAULT_WEIGHTS, **(weights or {})}

    def __call__(self, document: ObjectDocumentModel, sentences_count: Any) -> tuple[Any, ...]:
        sentences = document.sentences
        if not sentences:
            return ()
        scores = iter(self.score(sentences).tolist())
        return tuple(self._get_best_sentences(sentences, sentences_count, lambda _s: next(scores)))

    def score(self, sentences: Sequence[Sentence]) -> np.ndarray:
        """The blended score of every sentence, in sentence order."""
        return combine_features(self.features(sentences), self.weights)

    def features(self, sentences: Sequence[Sentence]) -> dict[str, np.ndarray]:
        """Per-sentence inputs of the score: centrality, title overlap, content words."""
        n = len(sentences)
        terms = self._terms(sentences)
        central = np.nan_to_num(self.rate(sentences, terms)) if n > 1 else np.ones(n)
        top = float(np.max(central)) if n else 0.0
        central = central / top if top > 0 else np.zeros(n)
        stop = self._stop_words
        title = {self.stem_word(t) for t in self.title_words if self.normalize_word(t) not in stop}
        if title:
            overlap = np.array([len(title.intersection(t)) / len(title) for t in terms])
        else:
            overlap = np.zeros(n)
        words = np.array([float(len(t)) for t in terms])
        # Direct speech rarely makes it into a summary written by an editor.
        quote = np.array([1.0 if _QUOTE_RE.search(str(s)) else 0.0 for s in sentences])
        return {"centrality": central, "title": overlap, "words": words, "quote": quote}


def combine_features(features: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    """The default method's score from :meth:`DefaultSummarizer.features` and weights."""
    w = weights
    n = len(features["words"])
    position = np.exp(-np.arange(n) / max(w["decay"], 1e-6))
    length = np.minimum(1.0, features["words"] / max(w["min_words"], 1.0))
    score = (
        w["position"] * position
        + w["centrality"] * features["centrality"]
        + w["title"] * features["title"]
        - w.get("quote", 0.0) * features["quote"]
    )
    return np.asarray(score * length)


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
        summarizer = DefaultSummarizer(res.stemmer, title_words=title_words)
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


def _select(method: str, prepared: Prepared, count: int) -> list[int]:
    """Indices of the chosen sentences, in source order."""
    n = len(prepared.sentences)
    if method == "lead" or n <= count:
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
    chosen = summarizer(document, count)
    index = {id(s): i for i, s in enumerate(document.sentences)}
    return sorted(index[id(s)] for s in chosen if id(s) in index)


def summarize(
    text: str,
    *,
    title: str | None = None,
    language: str = "auto",
    sentences: int = 3,
    method: str = "default",
) -> Summary:
    """Summary of ``text``: up to ``sentences`` sentences taken verbatim, in source order.

    ``language`` is an ISO 639-1 code or "auto" (detected from the cleaned text); the
    Summary's ``language`` is the code used, or "und". Never raises on any text (HTML, junk,
    10 MB) and takes bounded time; an unknown ``method`` raises ValueError.
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
    if count == 0 or not prepared.sentences:
        return Summary(sentences=(), method=method, language=lang)
    try:
        chosen = _select(method, prepared, count)
    except Exception:
        # A summariser bug must not cost the reader the article: fall back to its lead.
        logger.warning("summary method %s failed; using the lead instead", method, exc_info=True)
        chosen = list(range(min(count, len(prepared.sentences))))
    return Summary(
        sentences=tuple(prepared.sentences[i] for i in chosen), method=method, language=lang
    )
