"""Language detection and the per-language resources sumy is given.

Everything here works offline: sentence splitting is sentencex plus rules of ours (newlines
are hard boundaries, abbreviations and numbers never end a sentence), words come from a
Unicode regex (one word per character for Chinese and Japanese), stems from sumy's Snowball
stemmers or PySastrawi (Indonesian, Malay), stop words from stopwordsiso. A language we do
not know gets language-neutral splitting, no stemming and no stop words, never an error.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)

__all__ = [
    "SUMY_LANGUAGES",
    "LanguageResources",
    "Tokenizer",
    "detect_language",
    "preload_model",
    "resources",
    "split_paragraphs",
    "split_sentences",
]

# Our own ISO 639-1 -> sumy language name map: pycountry's names ("Modern Greek (1453-)",
# "Malay (macrolanguage)") are rejected by sumy, so we never derive names at run time.
SUMY_LANGUAGES: dict[str, str] = {
    "ar": "arabic",
    "cs": "czech",
    "da": "danish",
    "de": "german",
    "el": "greek",
    "en": "english",
    "es": "spanish",
    "fi": "finnish",
    "fr": "french",
    "he": "hebrew",
    "hu": "hungarian",
    "id": "indonesian",
    "it": "italian",
    "ja": "japanese",
    "ko": "korean",
    "ms": "malay",
    "nb": "norwegian",
    "nl": "dutch",
    "no": "norwegian",
    "pl": "polish",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sk": "slovak",
    "sv": "swedish",
    "uk": "ukrainian",
    "zh": "chinese",
}

_CJK_LANGS = frozenset({"zh", "ja"})
# Sentence-final punctuation of CJK scripts, which is not followed by a space.
_CJK_TERMINATORS = "。！？!?．"
_CJK_CHAR = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_CJK_RE = re.compile(f"[{_CJK_CHAR}]")
_CJK_SPLIT_RE = re.compile(r"(?<=[。！？])(?![」』”’）)\]])|(?<=[。！？][」』”’）)\]])")
_WORD_RE = re.compile(r"\w+(?:[-'’.,]\w+)*", re.UNICODE)
_CJK_WORD_RE = re.compile(f"[{_CJK_CHAR}]|[^\\W{_CJK_CHAR}]+(?:[-'’.,][^\\W{_CJK_CHAR}]+)*")

# Abbreviations that sentencex does not know, lower-cased without the final dot. A fragment
# ending in one of these never ends a sentence.
_ABBREVIATIONS: frozenset[str] = frozenset(
    [
        "jl",
        "jln",
        "no",
        "nos",
        "kec",
        "kab",
        "kel",
        "prov",
        "ds",
        "dsn",
        "rt",
        "rw",
        "dr",
        "drs",
        "dra",
        "ir",
        "h",
        "hj",
        "kh",
        "ust",
        "prof",
        "sdr",
        "sdri",
        "bpk",
        "tn",
        "ny",
        "nn",
        "yth",
        "dll",
        "dsb",
        "dst",
        "tsb",
        "sbb",
        "spt",
        "krn",
        "yg",
        "dgn",
        "utk",
        "pd",
        "sd",
        "st",
        "mr",
        "mrs",
        "ms",
        "dr",
        "jr",
        "sr",
        "vs",
        "etc",
        "inc",
        "ltd",
        "co",
        "corp",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "agu",
        "sep",
        "sept",
        "okt",
        "oct",
        "nov",
        "des",
        "dec",
        "gen",
        "lt",
        "col",
        "capt",
        "sgt",
        "gov",
        "sen",
        "rep",
        "rev",
        "fig",
        "vol",
        "pp",
        "ed",
        "eds",
        "est",
        "approx",
        "dept",
        "univ",
        "ave",
        "blvd",
        "mt",
        "ft",
        "e.g",
        "i.e",
        "a.n",
        "u.p",
        "s.h",
        "s.e",
        "s.pd",
        "s.kom",
        "m.si",
        "m.m",
        "m.h",
        "m.pd",
        "ph.d",
        "tp",
        "bzw",
        "ca",
        "ggf",
        "usw",
        "vgl",
        "z.b",
        "d.h",
        "u.a",
        "s.o",
        "evtl",
        "inkl",
        "mme",
        "mlle",
        "cie",
        "env",
        "p.ex",
        "sig",
        "sra",
        "sr",
        "dott",
        "ing",
    ]
)
_ORDINAL_DOT_LANGS = frozenset({"de", "da", "no", "nb", "fi", "cs", "sk", "hu", "pl", "sl", "hr"})
_NUM_END_RE = re.compile(r"(?:^|\s)\(?\d{1,3}[.)]\s*$")
_INITIAL_END_RE = re.compile(r"(?:^|[\s(])[^\W\d_]\.\s*$", re.UNICODE)
_BARE_MARKER_RE = re.compile(r"^\(?(?:\d{1,3}|[a-zA-Z]|[ivxIVX]{1,4})[.)]$")
_LIST_MARKER_RE = re.compile(r"^\s*(?:[-•*·▪●◦–—]|\d{1,3}[.)]|[a-zA-Z][.)])\s+")


def _last_token(fragment: str) -> str:
    parts = fragment.rstrip().rsplit(None, 1)
    token = parts[-1] if parts else ""
    return token.lstrip("(\"'“‘[").rstrip(".").lower()


def _should_merge(prev: str, nxt: str, lang: str | None = None) -> bool:
    """True when sentencex split ``prev`` from ``nxt`` at something that is not a boundary."""
    stripped = prev.rstrip()
    if not stripped:
        return True
    # A real boundary is followed by a space; "TP.HCM" or "3.5" split without one is not.
    if prev == stripped and stripped[-1] not in _CJK_TERMINATORS:
        return True
    if _BARE_MARKER_RE.match(stripped):
        return True  # "1." alone is a list marker: it belongs to the item that follows
    if stripped.endswith("."):
        if _last_token(stripped) in _ABBREVIATIONS:
            return True
        if _INITIAL_END_RE.search(stripped) and nxt[:1].isupper():
            # "A. Rahman", "J. K. Rowling": a single letter is an initial, not a sentence.
            return len(stripped) > 2 and not _LIST_MARKER_RE.match(stripped + " x")
        if _NUM_END_RE.search(stripped) and len(stripped.split()) > 1:
            # "Lalu 1. satu"; and in languages with ordinal dots ("am 5. Juni", "des 20.
            # Jahrhunderts") a short number is an ordinal whatever follows.
            first = nxt.lstrip()[:1]
            return bool(first.islower() or first.isdigit() or lang in _ORDINAL_DOT_LANGS)
    first = nxt.lstrip()[:1]
    # A sentence never starts in lower case in cased scripts ("... kata Peskov."), nor with
    # a dash and a lower-case word ("”Vilka är de värsta?” – sug på den frågan").
    following = nxt.lstrip().lstrip("–—-").lstrip()[:1] if first in "–—-" else first
    return bool(following) and following.islower() and stripped[-1] in '.!?…"”»’'


def _segment_line(line: str, lang: str | None) -> list[str]:
    """Split one line (never containing a newline) into sentences."""
    if lang in _CJK_LANGS or (lang is None and _CJK_RE.search(line)):
        return [s.strip() for s in _CJK_SPLIT_RE.split(line) if s and s.strip()]
    try:
        import sentencex

        pieces = [p for p in sentencex.segment(lang or "en", line) if p]
    except Exception:  # sentencex is native code: never let a crash there stop a digest
        logger.debug("sentencex failed on a line; keeping it whole", exc_info=True)
        pieces = [line]
    merged: list[str] = []
    for piece in pieces:
        if merged and piece.strip() and _should_merge(merged[-1], piece, lang):
            merged[-1] += piece
        elif piece.strip() or not merged:
            merged.append(piece)
        else:
            merged[-1] += piece
    return [" ".join(m.split()) for m in merged if m.strip()]


def split_paragraphs(text: str) -> list[str]:
    """Paragraphs of ``text``: blocks separated by blank lines, inner whitespace kept."""
    blocks = re.split(r"\n[ \t\r\f\v]*\n", text.replace("\r\n", "\n").replace("\r", "\n"))
    return [b.strip() for b in blocks if b.strip()]


def split_sentences(text: str, lang: str | None = None) -> list[str]:
    """Sentences of ``text`` in order; every newline is a hard boundary.

    Abbreviations, initials, decimal numbers, typographic quotes followed by a reporting
    clause ("“...” kata Peskov.") and list items are handled; whitespace inside a sentence is
    collapsed to single spaces. Never raises.
    """
    out: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if line:
            out.extend(_segment_line(line, lang))
    return out


class Tokenizer:
    """The object sumy's parsers and summarizers call: ``to_sentences`` and ``to_words``."""

    def __init__(self, language: str | None) -> None:
        self.iso = language
        self.language = SUMY_LANGUAGES.get(language or "", language or "und")
        self._word_re = _CJK_WORD_RE if language in _CJK_LANGS else _WORD_RE

    def to_sentences(self, paragraph: str) -> tuple[str, ...]:
        """Sentences of one paragraph, newlines being hard boundaries."""
        return tuple(split_sentences(paragraph, self.iso))

    def to_words(self, sentence: str) -> tuple[str, ...]:
        """Words of one sentence, without punctuation (one per character in CJK text)."""
        if self.iso is None and _CJK_RE.search(sentence):
            return tuple(_CJK_WORD_RE.findall(sentence))
        return tuple(self._word_re.findall(sentence))


def _null_stem(word: str) -> str:
    return word.lower()


@functools.lru_cache(maxsize=1)
def _sastrawi() -> Callable[[str], str]:
    from Sastrawi.Stemmer.StemmerFactory import StemmerFactory

    stem: Callable[[str], str] = StemmerFactory().create_stemmer().stem
    return stem


def _make_stemmer(lang: str | None) -> Callable[[str], str]:
    if lang in ("id", "ms"):
        sastrawi = _sastrawi()

        # Sastrawi strips everything but letters and digits; keep the word when it would
        # leave nothing (numbers with dots, words with apostrophes).
        def stem_id(word: str) -> str:
            return sastrawi(word) or word.lower()

        return functools.lru_cache(maxsize=200_000)(stem_id)
    name = SUMY_LANGUAGES.get(lang or "")
    if name is None or lang in _CJK_LANGS or lang in ("ko", "he"):
        return _null_stem
    try:
        from sumy.nlp.stemmers import Stemmer

        stemmer = Stemmer(name)
        stemmer("test")  # Greek and Polish need extra packages and fail on first use
    except Exception as exc:
        logger.debug("no stemmer for %s (%s); words are only lower-cased", lang, exc)
        return _null_stem

    def quiet(word: str) -> str:
        # sumy's Czech/Slovak stemmer warns on every word with digits or mixed case.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return str(stemmer(word))

    return functools.lru_cache(maxsize=200_000)(quiet)


@dataclass(frozen=True)
class LanguageResources:
    """What sumy needs for one language; ``code`` is ISO 639-1 or None (unknown)."""

    code: str | None
    tokenizer: Tokenizer
    stemmer: Callable[[str], str]
    stop_words: frozenset[str]


@functools.lru_cache(maxsize=64)
def resources(lang: str | None) -> LanguageResources:
    """Tokenizer, cached stemmer and stop words for ``lang``; neutral ones for unknown codes."""
    code = (lang or "").strip().lower().replace("_", "-").split("-")[0] or None
    stop: frozenset[str] = frozenset()
    if code:
        try:
            import stopwordsiso

            if stopwordsiso.has_lang(code):
                stop = frozenset(w.lower() for w in stopwordsiso.stopwords(code))
        except Exception:
            logger.debug("no stop words for %s", code, exc_info=True)
    return LanguageResources(code, Tokenizer(code), _make_stemmer(code), stop)


# Words that appear in Malay but (almost) never in Indonesian news, and the reverse. langid
# often calls Indonesian "ms"; we only answer "ms" when the text itself says so.
_MS_MARKERS = frozenset(
    [
        "kerana",
        "selepas",
        "sahaja",
        "iaitu",
        "mahupun",
        "wang",
        "bahawa",
        "polis",
        "memaklumkan",
        "ringgit",
        "sebarang",
        "akhbar",
        "bahagian",
        "pejabat",
        "kakitangan",
    ]
)
_ID_MARKERS = frozenset(
    [
        "karena",
        "setelah",
        "saja",
        "yaitu",
        "maupun",
        "uang",
        "bahwa",
        "polisi",
        "tersebut",
        "bisa",
        "tetapi",
        "namun",
        "kepolisian",
        "rupiah",
        "pemerintah",
        "jakarta",
        "wib",
        "mengatakan",
        "sebesar",
    ]
)
_MIN_LETTERS = 20

_preload: threading.Thread | None = None
_preload_lock = threading.Lock()


def _load_model() -> None:
    try:
        import py3langid

        py3langid.classify("")  # the first call loads the model
    except Exception:
        logger.debug("loading the language model failed", exc_info=True)


def preload_model() -> None:
    """Start loading py3langid's model (half a second, mostly LZMA, which leaves the GIL
    free) in a background thread, so a build that waits on the network pays nothing for it.
    :func:`detect_language` waits for that load instead of starting a second one."""
    global _preload
    with _preload_lock:
        if _preload is None:
            _preload = threading.Thread(target=_load_model, name="langid-load", daemon=True)
            _preload.start()


def detect_language(text: str, *, title: str | None = None) -> str | None:
    """ISO 639-1 code of ``text`` (title included), or None when it is too short to tell.

    Deterministic (py3langid). Indonesian mistaken for Malay is corrected to ``id`` unless
    Malay-only words clearly outnumber Indonesian-only ones.
    """
    sample = f"{title}\n{text}" if title else text
    sample = sample[:5_000]  # langid is linear in length; the start of an article suffices
    letters = sum(1 for c in sample if c.isalpha())
    if letters < _MIN_LETTERS or letters < len(sample.strip()) * 0.3:
        return None
    if _preload is not None:
        _preload.join()
    try:
        import py3langid

        code, _score = py3langid.classify(sample)
    except Exception:
        logger.debug("language detection failed", exc_info=True)
        return None
    code = str(code)
    if code in ("ms", "id"):
        words = re.findall(r"\w+", sample.lower())
        ms = sum(1 for w in words if w in _MS_MARKERS)
        ind = sum(1 for w in words if w in _ID_MARKERS)
        if code == "ms" and ms <= max(2, 2 * ind):
            return "id"
        if code == "id" and ms > 2 and ms > 3 * ind:
            return "ms"
    return code
