"""The candidate pool of a digest: what may still go into the digest of a date.

A digest of date D holds the articles already recorded for D (pinned: a rebuild keeps
them) and the newest articles seen so far that are in no digest, within ``max_age_hours``.
Per feed only the newest ``BACKLOG_FACTOR * max_items_per_feed`` unsent articles are
considered: the rest could not make the cut (ranking favours recency) and, without a bound,
every build would extract, summarise and cluster a backlog that only grows. They count in
their section's "and N more" line.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from digest.config import Config
from digest.models import Article, Summary
from digest.select import Candidate
from digest.store import Store

BACKLOG_FACTOR = 3

# The summary of a candidate that has not been summarised yet.
NO_SUMMARY = Summary(sentences=(), method="", language="")


@dataclass(frozen=True)
class Pool:
    """The candidates of one digest, and what was left out on the way."""

    candidates: tuple[Candidate, ...]
    too_old: int = 0
    # Per section, older unsent articles not considered (they count in "and N more").
    overflow: Mapping[str, int] = field(default_factory=dict)


def _when(article: Article, seen: dt.datetime) -> dt.datetime:
    return article.published or seen


def recorded(store: Store, date: dt.date) -> Pool:
    """Exactly the articles recorded for ``date`` (a replay)."""
    return Pool(
        tuple(
            Candidate(article=a, summary=NO_SUMMARY, first_seen=seen, pinned=True)
            for a, seen in store.digest_articles(date)
        )
    )


def candidates(
    config: Config,
    articles: Sequence[Article],
    first_seen: Mapping[str, dt.datetime],
    *,
    date: dt.date,
    now: dt.datetime,
    store: Store,
) -> Pool:
    """The pinned articles of ``date``, then the newest unsent ones: those just gathered
    (``articles``, with their ``first_seen``) and those the store holds from earlier runs."""
    pinned = {c.article.id: c for c in recorded(store, date).candidates}
    pool: dict[str, tuple[Article, dt.datetime]] = {}
    for article, seen in store.undigested_articles(now):
        pool[article.id] = (article, seen)
    for article in articles:
        pool[article.id] = (article, first_seen.get(article.id, now))
    elsewhere = store.digest_dates_of(list(pool))
    live_feeds = {s.key for s in config.feed_sources()}
    hours = config.limits.max_age_hours
    cutoff = now - dt.timedelta(hours=hours) if hours else None
    out = [
        Candidate(
            article=pool.get(i, (c.article, c.first_seen))[0],
            summary=NO_SUMMARY,
            first_seen=c.first_seen,
            pinned=True,
        )
        for i, c in pinned.items()
    ]
    too_old = 0
    by_feed: dict[str, list[tuple[Article, dt.datetime]]] = {}
    for i, (article, seen) in pool.items():
        if i in pinned or i in elsewhere or article.feed_key not in live_feeds:
            continue
        if cutoff is not None and _when(article, seen) < cutoff:
            too_old += 1
            continue
        by_feed.setdefault(article.feed_key, []).append((article, seen))
    keep = BACKLOG_FACTOR * config.limits.max_items_per_feed
    overflow: dict[str, int] = {}
    for entries in by_feed.values():
        entries.sort(key=lambda e: _when(*e), reverse=True)
        out.extend(
            Candidate(article=a, summary=NO_SUMMARY, first_seen=seen) for a, seen in entries[:keep]
        )
        for article, _ in entries[keep:]:
            section = article.category or article.feed
            overflow[section] = overflow.get(section, 0) + 1
    return Pool(tuple(out), too_old, overflow)
