"""Frozen values handed from one pipeline stage to the next. No I/O here."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Literal, Protocol

FullText = Literal["auto", "always", "never"]

# Every summary method by name: ours ("default"), the lead, and sumy's summarizers. Config
# validation, the CLI's --method choice and the summariser all read this one tuple.
SUMMARY_METHODS: tuple[str, ...] = (
    "default",
    "lead",
    "lexrank",
    "textrank",
    "lsa",
    "luhn",
    "edmundson",
    "sumbasic",
    "kl",
    "reduction",
)


@dataclass(frozen=True)
class FeedSource:
    """One subscription as the config names it: exactly one of ``url`` and ``path`` is set."""

    url: str | None = None
    path: Path | None = None
    name: str | None = None
    category: str | None = None
    full_text: FullText = "auto"
    language: str = "auto"
    weight: float = 1.0

    @property
    def key(self) -> str:
        """A stable identifier for the store: the URL, or the file path."""
        return self.url if self.url is not None else str(self.path)

    @property
    def label(self) -> str:
        """What to call the feed before its own title is known."""
        if self.name:
            return self.name
        if self.path is not None:
            return self.path.name
        return self.url or "?"


@dataclass(frozen=True)
class FetchResult:
    """The raw outcome of reading one feed: bytes and headers, never parsed here.

    ``status`` is the HTTP status (200 for a local file, 304 when unchanged). ``url`` is the
    final URL after redirects; ``permanent_redirect`` is set when a 301/308 moved the feed.
    ``error`` is a one-line message when nothing usable came back.
    """

    source: FeedSource
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    url: str | None = None
    permanent_redirect: str | None = None
    error: str | None = None
    elapsed_s: float = 0.0
    # Seconds the server asked us to wait (Retry-After on 429/503), for the backoff.
    retry_after_s: float | None = None
    # The HTML page given as the feed URL when the feed was found through its <link>.
    discovered_from: str | None = None
    # True when the caller's skip() held the feed back (backing off): no request was made.
    skipped: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and self.status in (200, 203)


@dataclass(frozen=True)
class Image:
    """A picture worth showing: never a tracker, always with known dimensions."""

    url: str
    width: int
    height: int
    alt: str = ""


@dataclass(frozen=True)
class ExtractedPage:
    """What one article page yielded. ``published`` is aware UTC; ``text`` has blank-line
    separated paragraphs, already cleaned of boilerplate."""

    title: str | None
    text: str
    language: str | None
    published: dt.datetime | None
    image: Image | None
    url: str | None


@dataclass(frozen=True, slots=True)
class Article:
    """One entry of a feed, with plain text (never HTML) in ``text``.

    ``id`` is stable across fetches and feeds (guid, canonical link, or content hash).
    ``published`` is aware UTC or None. ``full_text`` is True when ``text`` is the whole
    article rather than a teaser. ``language`` is an ISO 639-1 code or None before detection.
    """

    id: str
    feed: str
    feed_key: str
    title: str
    link: str | None
    published: dt.datetime | None
    text: str
    language: str | None = None
    full_text: bool = False
    image: Image | None = None
    author: str | None = None
    category: str | None = None
    weight: float = 1.0
    # The entry's guid/id as the feed gave it (None without one).
    guid: str | None = None

    @property
    def content_hash(self) -> str:
        """What a summary of this article depends on: its title and text."""
        return hashlib.sha256(f"{self.title}\n{self.text}".encode()).hexdigest()


ProblemKind = Literal["error", "failing", "gone", "warning", "recovered"]


@dataclass(frozen=True)
class FeedProblem:
    """Something wrong with one feed, said once per digest.

    ``message`` is for the person who runs digest (the error and what to do: stderr,
    `digest status`); the reader's footer says only what ``kind`` means for them: error (not
    read for this digest), failing (not updated since ``since``), gone (410), recovered.
    A warning (an ill-formed feed, a web page given for a feed) is the operator's alone.
    """

    feed: str
    message: str
    kind: ProblemKind = "error"
    since: dt.datetime | None = None

    @property
    def for_reader(self) -> bool:
        return self.kind != "warning"


class FeedStatus(StrEnum):
    """How one feed fared in a run (the first column of `digest fetch`)."""

    OK = "ok"
    NOT_MODIFIED = "not modified"
    FAILED = "failed"
    BACKING_OFF = "skipped (backing off)"
    DISABLED = "disabled (410 Gone)"


@dataclass(frozen=True)
class FeedReport:
    """How one feed fared in this run (for `digest fetch` and the log)."""

    source: FeedSource
    status: FeedStatus
    new: int = 0
    entries: int = 0
    error: str | None = None


@dataclass(frozen=True)
class ParsedFeed:
    """What :func:`digest.sources.feeds.parse_feed` read from one feed."""

    source: FeedSource
    title: str
    link: str | None
    articles: tuple[Article, ...]
    problems: tuple[FeedProblem, ...] = ()
    language: str | None = None


@dataclass(frozen=True)
class Summary:
    """Sentences taken verbatim from the article, in source order.

    ``excerpt`` is True when no whole sentence could be chosen (a teaser cut in its only
    sentence): ``sentences`` then holds the start of the feed's own text, to be shown marked
    as an excerpt, never as a summary. Such a story never leads the digest.
    """

    sentences: tuple[str, ...]
    method: str
    language: str
    excerpt: bool = False

    @property
    def usable(self) -> bool:
        """True when there are summary sentences that are not a mere excerpt."""
        return bool(self.sentences) and not self.excerpt


class Summarizer(Protocol):
    """What the pipeline calls to summarise one article (digest.text.summarize.summarize)."""

    def __call__(
        self,
        text: str,
        *,
        title: str | None,
        language: str,
        sentences: int,
        method: str,
        max_words: int | None,
    ) -> Summary: ...


def utc_now() -> dt.datetime:
    """The real clock, aware UTC: the default wherever a clock is a parameter."""
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class DigestItem:
    """One story in the digest: the chosen article and the other feeds that covered it."""

    article: Article
    summary: Summary
    also_covered_by: tuple[str, ...] = ()
    reading_minutes: int = 1
    # Ids of the other articles merged into this story: recorded with it, so the same story
    # from another feed does not come back as new tomorrow.
    merged_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class DigestSection:
    """A category or feed and its stories; ``more`` counts those the caps left out.

    With ``other_feeds``, the section stands for that many feeds none of whose stories made
    the digest: one line for all of them, not a heading each (a thousand feeds must not
    crowd out the stories).
    """

    title: str
    items: tuple[DigestItem, ...]
    more: int = 0
    more_link: str | None = None
    other_feeds: int = 0


@dataclass(frozen=True)
class DigestStats:
    """What a build did and what it cost (for the log, `digest status` and bench/scale.py)."""

    feeds: int = 0
    feeds_failed: int = 0
    articles_seen: int = 0
    articles_new: int = 0
    items: int = 0
    elapsed_s: float = 0.0
    # Articles considered for this digest (pinned plus unsent within the limits).
    candidates: int = 0
    # Article pages fetched over the network in this build (cache hits not counted).
    pages_fetched: int = 0
    # Summaries computed in this build (cache hits not counted).
    summaries_computed: int = 0
    # Candidate pairs whose similarity clustering computed.
    pairs_compared: int = 0
    # Wall seconds per stage, in pipeline order: (("gather", 1.2), ("summarize", 0.4), ...).
    stages: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Digest:
    """Everything a template may show. Rendering is a pure function of this value."""

    title: str
    date: dt.date
    language: str
    timezone: str
    generated_at: dt.datetime
    sections: tuple[DigestSection, ...]
    problems: tuple[FeedProblem, ...] = ()
    stats: DigestStats = field(default_factory=DigestStats)
    top: tuple[DigestItem, ...] = ()

    @property
    def items(self) -> tuple[DigestItem, ...]:
        """Every item once, in reading order: the top stories, then each section's."""
        return self.top + tuple(item for section in self.sections for item in section.items)

    @property
    def feed_count(self) -> int:
        return len({item.article.feed for item in self.items})
