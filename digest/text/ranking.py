"""How each summary method ranks the sentences of a prepared text: sumy's summarizers and our
vectorised LexRank, TextRank and learned default built on them.

The one module built on sumy's summarizers (importing them brings nltk and numpy):
:mod:`digest.text.summarize` imports it on the first summary, so commands that summarise
nothing (a fetch, a rebuild with nothing new, ``digest status``) start a third of a second
sooner. (:mod:`digest.text.language` takes sumy's stemmers, also on first use.)
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
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

from digest.text.language import LanguageResources
from digest.text.summarize import (
    DEFAULT_COEFFICIENTS,
    DEFAULT_INTERCEPT,
    FEATURES,
    MAX_SLOW_SENTENCES,
    METHODS,
    Prepared,
)

__all__ = [
    "DefaultSummarizer",
    "FastLexRankSummarizer",
    "FastTextRankSummarizer",
    "build_document",
    "make_summarizer",
    "ranking",
    "sentence_features",
]


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


def ranking(method: str, prepared: Prepared, count: int) -> list[int]:
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
