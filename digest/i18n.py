"""Words the reader sees, in the reader's language: labels, long dates, reading times.

A small table of our own (English and Indonesian) rather than babel, so the output does not
change with a CLDR update. Any other language falls back to English labels and English dates;
add a language by adding one entry to ``_LABELS``, ``_MONTHS`` and ``_WEEKDAYS``.
"""

from __future__ import annotations

import datetime as dt
import re

DEFAULT_LANGUAGE = "en"

# Scripts written right to left: items in these languages get dir="rtl".
RTL_LANGUAGES = frozenset({"ar", "he", "fa", "ur", "ps", "sd", "yi", "dv", "ug", "ckb"})

_LABELS: dict[str, dict[str, str]] = {
    "en": {
        "top_stories": "Top stories",
        "stories_from_feeds": "{stories} from {feeds}",
        "story_one": "{n} story",
        "story_other": "{n} stories",
        "feed_one": "{n} feed",
        "feed_other": "{n} feeds",
        "reading_time": "{n} min read",
        "also_covered_by": "Also covered by {sources}",
        "and_more": "and {n} more from {feed}",
        "problems": "Feeds with problems",
        "generated": "Generated {when}",
        "made_by": "made by digest",
        "unsubscribe": "Unsubscribe",
        "untitled": "(untitled)",
        "nothing_new": "Nothing new today.",
        "archive": "Archive",
        "archive_empty": "No digests yet.",
        "subscribe_feed": "Subscribe (Atom feed)",
        "links": "Links",
        "items_count_one": "{n} story",
        "items_count_other": "{n} stories",
        "and": "and",
        "problem_error": "could not be read for this digest",
        "problem_failing": "not updated since {since}",
        "problem_gone": "is no longer published",
        "problem_warning": "has a problem",
        "problem_recovered": "is working again",
        "problems_more_one": "and {n} more feed with problems",
        "problems_more_other": "and {n} more feeds with problems",
        "also_more_one": "{n} other",
        "also_more_other": "{n} others",
        "excerpt": "Excerpt",
        "other_feeds": "Other feeds",
        "more_from_others": "and {n} more from {feeds}",
    },
    "id": {
        "top_stories": "Berita utama",
        "stories_from_feeds": "{stories} dari {feeds}",
        "story_one": "{n} berita",
        "story_other": "{n} berita",
        "feed_one": "{n} sumber",
        "feed_other": "{n} sumber",
        "reading_time": "{n} menit baca",
        "also_covered_by": "Juga diberitakan oleh {sources}",
        "and_more": "dan {n} lagi dari {feed}",
        "problems": "Sumber bermasalah",
        "generated": "Dibuat {when}",
        "made_by": "dibuat oleh digest",
        "unsubscribe": "Berhenti berlangganan",
        "untitled": "(tanpa judul)",
        "nothing_new": "Tidak ada berita baru hari ini.",
        "archive": "Arsip",
        "archive_empty": "Belum ada digest.",
        "subscribe_feed": "Berlangganan (feed Atom)",
        "links": "Tautan",
        "items_count_one": "{n} berita",
        "items_count_other": "{n} berita",
        "and": "dan",
        "problem_error": "tidak dapat dibaca untuk digest ini",
        "problem_failing": "tidak diperbarui sejak {since}",
        "problem_gone": "tidak diterbitkan lagi",
        "problem_warning": "bermasalah",
        "problem_recovered": "berfungsi kembali",
        "problems_more_one": "dan {n} sumber lain yang bermasalah",
        "problems_more_other": "dan {n} sumber lain yang bermasalah",
        "also_more_one": "{n} lainnya",
        "also_more_other": "{n} lainnya",
        "excerpt": "Cuplikan",
        "other_feeds": "Sumber lain",
        "more_from_others": "dan {n} lagi dari {feeds}",
    },
}

_MONTHS: dict[str, tuple[str, ...]] = {
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    "id": (
        "Januari",
        "Februari",
        "Maret",
        "April",
        "Mei",
        "Juni",
        "Juli",
        "Agustus",
        "September",
        "Oktober",
        "November",
        "Desember",
    ),
}

_WEEKDAYS: dict[str, tuple[str, ...]] = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "id": ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu"),
}

# Language names for the badge shown on an item in another language than the digest's.
_LANGUAGE_NAMES: dict[str, dict[str, str]] = {
    "en": {
        "ar": "Arabic",
        "de": "German",
        "en": "English",
        "es": "Spanish",
        "fa": "Persian",
        "fr": "French",
        "he": "Hebrew",
        "hi": "Hindi",
        "id": "Indonesian",
        "it": "Italian",
        "ja": "Japanese",
        "jv": "Javanese",
        "ko": "Korean",
        "ms": "Malay",
        "nl": "Dutch",
        "pt": "Portuguese",
        "ru": "Russian",
        "su": "Sundanese",
        "th": "Thai",
        "tl": "Tagalog",
        "tr": "Turkish",
        "uk": "Ukrainian",
        "ur": "Urdu",
        "vi": "Vietnamese",
        "zh": "Chinese",
    },
    "id": {
        "ar": "Arab",
        "de": "Jerman",
        "en": "Inggris",
        "es": "Spanyol",
        "fa": "Persia",
        "fr": "Prancis",
        "he": "Ibrani",
        "hi": "Hindi",
        "id": "Indonesia",
        "it": "Italia",
        "ja": "Jepang",
        "jv": "Jawa",
        "ko": "Korea",
        "ms": "Melayu",
        "nl": "Belanda",
        "pt": "Portugis",
        "ru": "Rusia",
        "su": "Sunda",
        "th": "Thai",
        "tl": "Tagalog",
        "tr": "Turki",
        "uk": "Ukraina",
        "ur": "Urdu",
        "vi": "Vietnam",
        "zh": "Tionghoa",
    },
}

_LANG_TAG = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")

# ISO 639-1: the codes config.yaml, --lang and feeds use. A list, not a pattern, so that a
# typo such as "xx" or "in" is refused instead of quietly disabling language rules.
ISO_639_1 = frozenset(
    """aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv
    cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho
    hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku
    kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn
    no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm
    sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi
    vo wa wo xh yi yo za zh zu""".split()  # noqa: SIM905 - a table reads best as words
)


def is_language_code(code: str) -> bool:
    """Whether ``code`` is an ISO 639-1 code (lower case), the one test for config and CLI."""
    return code in ISO_639_1


def language_code(value: object) -> str | None:
    """The ISO 639-1 code a declared language names (``en-US``, ``EN_gb``, ``id``), or None
    for anything else: the one reading of the languages feeds and pages declare."""
    if not isinstance(value, str):
        return None
    code = primary(value.strip())
    return code if is_language_code(code) else None


def primary(language: str | None) -> str:
    """The primary subtag of a language tag in lower case (``"pt-BR"`` -> ``"pt"``); "" if none."""
    if not language:
        return ""
    return language.replace("_", "-").split("-", 1)[0].strip().lower()


def valid_tag(language: str | None) -> str | None:
    """``language`` when it is a well-formed BCP 47-ish tag (safe for a ``lang`` attribute)."""
    if language and _LANG_TAG.match(language.replace("_", "-")):
        return language.replace("_", "-")
    return None


# Codes that name no particular language: undetermined, multiple, no linguistic content.
_NO_LANGUAGE = frozenset({"und", "mul", "zxx", "mis", "auto", "xx"})


def content_language(language: str | None) -> str | None:
    """The tag for an item's ``lang`` attribute, or None when it names no real language."""
    tag = valid_tag(language)
    if tag is None or primary(tag) in _NO_LANGUAGE:
        return None
    return tag


def supported(language: str | None) -> str:
    """The table language used for ``language``: itself when we have labels, else English."""
    code = primary(language)
    return code if code in _LABELS else DEFAULT_LANGUAGE


def label(language: str | None, key: str, **values: object) -> str:
    """The label ``key`` in ``language`` (English fallback), formatted with ``values``."""
    table = _LABELS[supported(language)]
    text = table.get(key, _LABELS[DEFAULT_LANGUAGE][key])
    return text.format(**values) if values else text


def labels(language: str | None) -> dict[str, str]:
    """Every unformatted label in ``language``, for templates."""
    merged = dict(_LABELS[DEFAULT_LANGUAGE])
    merged.update(_LABELS[supported(language)])
    return merged


def plural(language: str | None, key: str, n: int) -> str:
    """``key_one`` or ``key_other`` formatted with ``n`` (both languages have two forms)."""
    return label(language, f"{key}_one" if n == 1 else f"{key}_other", n=n)


def long_date(date: dt.date, language: str | None) -> str:
    """A date as people write it: "Thursday, 26 November 2026" / "Kamis, 26 November 2026"."""
    code = supported(language)
    weekday = _WEEKDAYS[code][date.weekday()]
    month = _MONTHS[code][date.month - 1]
    return f"{weekday}, {date.day} {month} {date.year}"


def short_date(date: dt.date, language: str | None) -> str:
    """Day and abbreviated month: "25 Nov" / "25 Nov"."""
    month = _MONTHS[supported(language)][date.month - 1]
    return f"{date.day} {month[:3]}"


def clock(moment: dt.datetime, language: str | None) -> str:
    """Time of day on a 24-hour clock ("07:05" in English, "07.05" in Indonesian)."""
    sep = "." if supported(language) == "id" else ":"
    return f"{moment.hour:02d}{sep}{moment.minute:02d}"


def local_time(moment: dt.datetime, day: dt.date, language: str | None) -> str:
    """``moment`` (already local) as a clock time, prefixed by its date when not on ``day``."""
    if moment.date() == day:
        return clock(moment, language)
    return f"{short_date(moment.date(), language)} {clock(moment, language)}"


def reading_time(minutes: int, language: str | None) -> str:
    """ "3 min read" / "3 menit baca"; never less than one minute."""
    return label(language, "reading_time", n=max(1, minutes))


def stories_from_feeds(stories: int, feeds: int, language: str | None) -> str:
    """ "12 stories from 5 feeds" in the reader's language."""
    return label(
        language,
        "stories_from_feeds",
        stories=plural(language, "story", stories),
        feeds=plural(language, "feed", feeds),
    )


def language_name(code: str | None, language: str | None) -> str:
    """The name of language ``code`` in the reader's ``language``; the code itself if unknown."""
    key = primary(code)
    names = _LANGUAGE_NAMES.get(supported(language), _LANGUAGE_NAMES[DEFAULT_LANGUAGE])
    return names.get(key, key.upper())


def join_names(names: list[str], language: str | None) -> str:
    """ "A", "A and B", "A, B and C" in the reader's language."""
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} {label(language, 'and')} {names[-1]}"


def text_direction(language: str | None) -> str:
    """ "rtl" for right-to-left scripts, else "ltr"."""
    tag = (language or "").replace("_", "-").lower()
    # ckb is a primary subtag; "ku-Arab" (Sorani in Arabic script) is right-to-left too.
    if primary(tag) in RTL_LANGUAGES or tag.endswith("-arab"):
        return "rtl"
    return "ltr"
