"""Summaries for a digest: each article in its own language, cached in the store.

The language of an article's summary: its feed's ``language:`` wins, then
``summary.language:``, then detection from the text. The ``<language>`` a feed declares is
not trusted (themes declare en-US on Indonesian sites).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from digest.config import Config
from digest.models import Article, Summarizer, Summary
from digest.store import Changes, Store
from digest.text.summarize import SUMMARIZER_VERSION, summarize


@dataclass(frozen=True)
class Summarised:
    """Each article (its language set from its summary) with its summary, in input order."""

    items: tuple[tuple[Article, Summary], ...]
    # The summaries computed now, for the store's cache.
    changes: Changes = field(default_factory=Changes)

    @property
    def computed(self) -> int:
        return len(self.changes.summaries)


def summarize_all(
    config: Config,
    articles: Sequence[Article],
    *,
    store: Store,
    summarizer: Summarizer = summarize,
) -> Summarised:
    """Summarise every article, taking cached summaries by content hash; the new ones are in
    ``Summarised.changes`` for the store."""
    method = config.summary.method
    count = config.summary.sentences
    max_words = config.summary.max_words
    # What a cached summary depends on besides the text: the method, the summariser's
    # version and the word budget.
    variant = f"{method}/v{SUMMARIZER_VERSION}/w{max_words or 0}"
    configured = {s.key: s.language for s in config.feed_sources()}
    out: list[tuple[Article, Summary]] = []
    fresh: list[tuple[str, str, int, str, Summary]] = []
    for article in articles:
        language = configured.get(article.feed_key, "auto")
        if language == "auto":
            language = config.summary.language
        key = article.content_hash
        summary = store.get_summary(key, variant, count, language)
        if summary is None:
            summary = summarizer(
                article.text,
                title=article.title,
                language=language,
                sentences=count,
                method=method,
                max_words=max_words,
            )
            fresh.append((key, variant, count, language, summary))
        if summary.language not in ("", "und") and summary.language != article.language:
            article = replace(article, language=summary.language)
        out.append((article, summary))
    return Summarised(tuple(out), Changes(summaries=tuple(fresh)))
