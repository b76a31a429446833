"""The candidate pool of a digest, and the cheap ranking that decides which of its stories
get full text and a summary.

A digest of date D holds the articles already recorded for D (pinned: a rebuild keeps
them) and the newest articles seen so far that are in no digest, within ``max_age_hours``.
Per feed only the newest ``BACKLOG_FACTOR * max_items_per_feed`` unsent articles are
considered: the rest could not make the cut (ranking favours recency) and, without a bound,
every build would extract, summarise and cluster a backlog that only grows. They count in
their section's "and N more" line.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from digest import select
from digest.config import Config
from digest.models import Article, DigestItem, Summary
from digest.select import Candidate
from digest.store import Store

log = logging.getLogger(__name__)

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
    # Candidates read from the store with only their lead (the cheap ranking needs no more):
    # :func:`complete` reads the whole text of those that make the shortlist.
    partial: frozenset[str] = frozenset()


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
    leads_only: bool = False,
) -> Pool:
    """The pinned articles of ``date``, then the newest unsent ones: those just gathered
    (``articles``, with their ``first_seen``) and those the store holds from earlier runs.

    ``leads_only``: ``articles`` hold only their lead (a gather with ``lead_chars``), like
    the stored ones read here: :func:`complete` reads the whole text of those it keeps."""
    pinned = {c.article.id: c for c in recorded(store, date).candidates}
    live_feeds = {s.key for s in config.feed_sources()}
    pool: dict[str, tuple[Article, dt.datetime]] = {}
    # Tens of thousands of stored candidates at a thousand feeds: only their leads are read.
    for article, seen in store.undigested_articles(now, live_feeds, text_chars=select.LEAD_CHARS):
        pool[article.id] = (article, seen)
    partial = set(pool)
    for article in articles:
        pool[article.id] = (article, first_seen.get(article.id, now))
        if leads_only:
            partial.add(article.id)
        else:
            partial.discard(article.id)
    elsewhere = store.digest_dates_of(list(pool))
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
    return Pool(tuple(out), too_old, overflow, frozenset(partial))


# --- the cheap ranking: which stories get full text and a summary ------------------------

# Stories given full text and a summary per build: this many times max_items (and per feed,
# this many times max_items_per_feed), so the final selection can still drop duplicates it
# finds in the summaries and keep the digest full. The cost of a build after parsing grows
# with max_items, not with the number of feeds.
SLICE_FACTOR = 2


@dataclass(frozen=True)
class Shortlist:
    """One representative per story that can still make the digest (all pinned ones among
    them), the other articles of each story, and what was left out."""

    candidates: tuple[Candidate, ...]
    # Representative id -> the other articles of its story (merged into it when shown).
    copies: Mapping[str, tuple[Article, ...]] = field(default_factory=dict)
    # Per section, stories left out of the slice (they count in its "and N more").
    overflow: Mapping[str, int] = field(default_factory=dict)
    pairs_compared: int = 0


def _cheap_key(candidate: Candidate) -> tuple[int, bool, float, float]:
    # Before summaries exist: a pinned article, then full text, weight, the earliest seen.
    return (
        int(candidate.pinned),
        candidate.article.full_text,
        candidate.article.weight,
        -candidate.first_seen.timestamp(),
    )


def shortlist(
    pool: Pool, *, now: dt.datetime, max_items: int, max_items_per_feed: int
) -> Shortlist:
    """Rank and cluster the pool on cheap signals (title, the feed's own text, recency,
    weight, how many feeds ran the story) and keep the stories that can still be shown."""
    candidates = list(pool.candidates)
    found = select.clustering(candidates)
    stories = []
    for group in found.groups:
        rep = max(group, key=lambda i: _cheap_key(candidates[i]))
        feeds = {candidates[i].article.feed for i in group}
        pinned = any(candidates[i].pinned for i in group)
        stories.append((pinned, select.score(candidates[rep], now, len(feeds)), rep, group))
    stories.sort(key=lambda story: (not story[0], -story[1]))
    limit, per_feed_limit = SLICE_FACTOR * max_items, SLICE_FACTOR * max_items_per_feed
    kept: list[Candidate] = []
    copies: dict[str, tuple[Article, ...]] = {}
    per_feed: Counter[str] = Counter()
    overflow: Counter[str] = Counter()
    for pinned, _score, rep, group in stories:
        chosen = candidates[rep]
        feed = chosen.article.feed
        if not pinned and (len(kept) >= limit or per_feed[feed] >= per_feed_limit):
            overflow[chosen.article.category or feed] += 1
            continue
        per_feed[feed] += 1
        kept.append(chosen)
        others = tuple(candidates[i].article for i in group if i != rep)
        if others:
            copies[chosen.article.id] = others
    log.info(
        "ranked %d candidates as %d stories; %d can still be shown",
        len(candidates),
        len(stories),
        len(kept),
    )
    return Shortlist(tuple(kept), copies, dict(overflow), found.pairs_compared)


def complete(short: Shortlist, pool: Pool, store: Store) -> Shortlist:
    """``short`` with the whole text of the candidates that were read with their lead only
    (the copies keep their lead: they are recorded and named, never summarised)."""
    wanted = [c.article for c in short.candidates if c.article.id in pool.partial]
    if not wanted:
        return short
    whole = store.whole_articles(wanted)
    return replace(
        short,
        candidates=tuple(
            replace(c, article=whole.get(c.article.id, c.article)) for c in short.candidates
        ),
    )


def attach_copies(item: DigestItem, copies: Mapping[str, tuple[Article, ...]]) -> DigestItem:
    """``item`` with the other articles of its story (found by the cheap clustering) merged
    in: recorded with it, so they never come back as new, and named in "Also covered by"."""
    extra = [a for i in (item.article.id, *item.merged_ids) for a in copies.get(i, ())]
    if not extra:
        return item
    feeds = set(item.also_covered_by) | {a.feed for a in extra}
    feeds.discard(item.article.feed)
    merged = tuple(dict.fromkeys((*item.merged_ids, *(a.id for a in extra))))
    return replace(item, also_covered_by=tuple(sorted(feeds)), merged_ids=merged)
