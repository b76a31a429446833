"""The editorial step: one story once, ranked, capped and grouped into sections.

Input is every candidate article of a digest (already summarised); output is the top stories
and the sections a template shows. Nothing here does I/O, so every choice can be tested and
is explained in a DEBUG log line.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from digest.models import Article, DigestItem, DigestSection, Summary

log = logging.getLogger(__name__)

# Two articles are one story when their title+lead vectors are this similar (cosine of
# TF-IDF weights). Chosen on constructed pairs: rewrites of one wire story score 0.55-0.9,
# different stories on one topic stay under 0.35.
SAME_STORY = 0.5
RECENCY_HALF_LIFE_H = 18.0
WORDS_PER_MINUTE = 220

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Candidate:
    """An article that may go into the digest, with its summary and first-seen time."""

    article: Article
    summary: Summary
    first_seen: dt.datetime
    pinned: bool = False  # already in this date's digest: never cut on a rebuild


@dataclass(frozen=True)
class Selection:
    top: tuple[DigestItem, ...]
    sections: tuple[DigestSection, ...]
    cut: int


def reading_minutes(text: str) -> int:
    """Minutes to read ``text`` at an average pace, at least 1."""
    words = len(_WORD.findall(text))
    return max(1, round(words / WORDS_PER_MINUTE))


def _words(text: str) -> set[str]:
    out: set[str] = set()
    for w in _WORD.findall(text.lower()):
        # Scripts without spaces (Chinese, Japanese, Thai) give long runs: use bigrams.
        if len(w) > 12 and not w.isascii():
            out.update(w[i : i + 2] for i in range(len(w) - 1))
        elif len(w) > 2 or not w.isascii() or (w.isdigit() and len(w) == 2):
            out.add(w)
    return out


def _vectors(candidates: Sequence[Candidate]) -> list[dict[str, float]]:
    # Presence, not counts: a number repeated in a title must not outweigh the words.
    # Title words count twice as much as words of the summary's first sentence.
    docs: list[dict[str, float]] = []
    for c in candidates:
        lead = " ".join(c.summary.sentences[:1]) or c.article.text[:300]
        doc = dict.fromkeys(_words(lead), 1.0)
        doc.update(dict.fromkeys(_words(c.article.title), 2.0))
        docs.append(doc)
    df: Counter[str] = Counter()
    for doc in docs:
        df.update(doc.keys())
    n = len(docs)
    vectors = []
    for doc in docs:
        vec = {t: w * math.log((1 + n) / (1 + df[t]) + 1) for t, w in doc.items()}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        vectors.append({t: v / norm for t, v in vec.items()})
    return vectors


def _fingerprint(c: Candidate) -> tuple[str, str]:
    lead = c.summary.sentences[0] if c.summary.sentences else c.article.text[:300]
    return (" ".join(c.article.title.casefold().split()), " ".join(lead.casefold().split()))


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(t, 0.0) for t, v in a.items())


def cluster(candidates: Sequence[Candidate]) -> list[list[int]]:
    """Group indexes of candidates that report the same story (same language only)."""
    vectors = _vectors(candidates)
    parent = list(range(len(candidates)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        parent[find(j)] = find(i)

    by_lang: dict[str, list[int]] = defaultdict(list)
    for i, c in enumerate(candidates):
        by_lang[c.summary.language or c.article.language or "und"].append(i)
    for members in by_lang.values():
        # Copies: the same link anywhere, or the same title and lead within one feed. Within
        # one feed only copies are one story: "Episode 41" and "Episode 42" look alike but
        # are two items.
        first_of: dict[object, int] = {}
        for i in members:
            a = candidates[i].article
            for key in ((a.link,) if a.link else ()) + ((a.feed_key, _fingerprint(candidates[i])),):
                if key in first_of:
                    union(first_of[key], i)
                else:
                    first_of[key] = i
        # Similar stories from different feeds: cosine >= SAME_STORY. Candidate pairs come
        # from an inverted index over the rarer terms (a pair with a cosine that high shares
        # some), so not all n^2 pairs are compared; each candidate pair gets the exact cosine.
        postings: dict[str, list[int]] = defaultdict(list)
        for i in members:
            for term in vectors[i]:
                postings[term].append(i)
        limit = max(50, len(members) // 10)
        pairs: set[tuple[int, int]] = set()
        for plist in postings.values():
            if 2 <= len(plist) <= limit:
                pairs.update((i, j) for x, i in enumerate(plist) for j in plist[x + 1 :])
        for i, j in pairs:
            if (
                candidates[i].article.feed_key != candidates[j].article.feed_key
                and _cosine(vectors[i], vectors[j]) >= SAME_STORY
            ):
                union(i, j)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(candidates)):
        groups[find(i)].append(i)
    return list(groups.values())


def score(candidate: Candidate, now: dt.datetime, sources: int) -> float:
    """Higher is better: recency (half-life decay), feed weight, and how many covered it."""
    when = candidate.article.published or candidate.first_seen
    if when > now:  # future-dated entries are clock skew, not breaking news
        when = now
    age_h = max(0.0, (now - when).total_seconds() / 3600)
    recency = math.pow(0.5, age_h / RECENCY_HALF_LIFE_H)
    # A story the reader cannot read a summary of (none, or only the feed's excerpt) sinks.
    substance = 1.0 if candidate.summary.usable else 0.5
    return candidate.article.weight * (0.2 + recency) * (1 + 0.5 * (sources - 1)) * substance


def _best(group: list[int], candidates: Sequence[Candidate]) -> int:
    # The article that represents a story: full text beats a teaser, then the longer
    # summary, then the higher feed weight, then the earliest seen.
    def key(i: int) -> tuple[int, bool, bool, int, float, float]:
        c = candidates[i]
        return (
            int(c.pinned),
            c.article.full_text,
            c.summary.usable,
            len(c.summary.sentences),
            c.article.weight,
            -c.first_seen.timestamp(),
        )

    return max(group, key=key)


def select(
    candidates: Sequence[Candidate],
    *,
    now: dt.datetime,
    max_items: int,
    max_items_per_feed: int,
    top_n: int = 3,
    section_order: Sequence[str] = (),
) -> Selection:
    """Merge duplicate stories, rank, apply the caps, and group into sections.

    Pinned candidates (already in this date's digest) are always kept, so rebuilding a date
    gives the same digest plus what arrived since. Sections follow ``section_order``
    (categories, then feeds, as configured), then alphabetical order.
    """
    items: list[tuple[float, DigestItem, bool]] = []
    for group in cluster(candidates):
        best = _best(group, candidates)
        others = sorted(
            {candidates[i].article.feed for i in group if i != best}
            - {candidates[best].article.feed}
        )
        c = candidates[best]
        s = score(c, now, len(others) + 1)
        if len(group) > 1:
            log.debug(
                "merged %d articles into %r (kept %s; also %s)",
                len(group),
                c.article.title,
                c.article.feed,
                ", ".join(others),
            )
        item = DigestItem(
            article=c.article,
            summary=c.summary,
            also_covered_by=tuple(others),
            reading_minutes=reading_minutes(c.article.text),
            merged_ids=tuple(candidates[i].article.id for i in group if i != best),
        )
        items.append((s, item, any(candidates[i].pinned for i in group)))
    items.sort(key=lambda t: (not t[2], -t[0]))

    kept: list[DigestItem] = []
    per_feed: Counter[str] = Counter()
    cut_from: Counter[str] = Counter()
    for s, item, pinned in items:
        feed = item.article.feed
        if not pinned and per_feed[feed] >= max_items_per_feed:
            cut_from[_section_of(item)] += 1
            log.debug("cut %r: %s already has %d items", item.article.title, feed, per_feed[feed])
            continue
        if not pinned and len(kept) >= max_items:
            cut_from[_section_of(item)] += 1
            log.debug("cut %r: the digest is full (%d items)", item.article.title, max_items)
            continue
        log.debug("kept %r from %s (score %.3f)", item.article.title, feed, s)
        per_feed[feed] += 1
        kept.append(item)

    # Top stories: the best-ranked item of different feeds, so one prolific feed does not
    # take the whole head of the email; only worth it when something remains below. A story
    # without a summary to read (none, or only an excerpt of a teaser) never leads.
    top_list: list[DigestItem] = []
    if len(kept) > top_n + 2:
        feeds_on_top: set[str] = set()
        for item in kept:
            if len(top_list) == top_n:
                break
            if item.summary.usable and item.article.feed not in feeds_on_top:
                feeds_on_top.add(item.article.feed)
                top_list.append(item)
    top = tuple(top_list)
    rest = [item for item in kept if item not in top_list]
    grouped: dict[str, list[DigestItem]] = defaultdict(list)
    for item in rest:
        grouped[_section_of(item)].append(item)
    for name in cut_from:
        grouped.setdefault(name, [])
    order = {name: i for i, name in enumerate(section_order)}
    names = sorted(grouped, key=lambda n: (order.get(n, len(order)), n.casefold()))
    sections = tuple(
        DigestSection(
            title=name,
            items=tuple(
                sorted(
                    grouped[name],
                    key=lambda it: it.article.published or dt.datetime.min.replace(tzinfo=dt.UTC),
                    reverse=True,
                )
            ),
            more=cut_from[name],
        )
        for name in names
        if grouped[name] or cut_from[name]
    )
    return Selection(top=top, sections=sections, cut=sum(cut_from.values()))


def _section_of(item: DigestItem) -> str:
    return item.article.category or item.article.feed
