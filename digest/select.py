"""The editorial step: one story once, ranked, capped and grouped into sections.

Input is every candidate article of a digest (already summarised); output is the top stories
and the sections a template shows. Nothing here does I/O, so every choice can be tested and
is explained in a DEBUG log line.
"""

from __future__ import annotations

import bisect
import datetime as dt
import logging
import math
import re
from array import array
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from digest.models import Article, DigestItem, DigestSection, Summary

log = logging.getLogger(__name__)

# Two articles are one story when their title+lead vectors are this similar (cosine of
# TF-IDF weights). Chosen on constructed pairs: rewrites of one wire story score 0.55-0.9,
# different stories on one topic stay under 0.35.
SAME_STORY = 0.5
RECENCY_HALF_LIFE_H = 18.0
WORDS_PER_MINUTE = 220
# Before a summary exists, the lead compared is the start of the feed's own text.
LEAD_CHARS = 300
# Clustering's two bounds on the work per story (see clustering()): a term that more than
# POSTINGS_CAP stories rank among their rarest is not used to find pairs (a cap of n / 10, as
# before, let one such term cost n^2 / 200 cosines), and at most VERIFY_CAP cosines are
# computed per distinct text. Neither loses a pair on 16,000 candidates from the real feeds
# with rewritten copies (bench/cluster_scale.py, tests/test_select.py).
POSTINGS_CAP = 200
VERIFY_CAP = 16

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True, slots=True)
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
    # Cosines clustering computed (for DigestStats.pairs_compared).
    pairs_compared: int = 0


def reading_minutes(text: str) -> int:
    """Minutes to read ``text`` at an average pace, at least 1."""
    words = len(_WORD.findall(text))
    return max(1, round(words / WORDS_PER_MINUTE))


def _words(text: str) -> set[str]:
    out: set[str] = set()
    # Each distinct word once: a thousand feeds give tens of thousands of leads to read.
    for w in set(_WORD.findall(text.lower())):
        # Scripts without spaces (Chinese, Japanese, Thai) give long runs: use bigrams.
        if len(w) > 12 and not w.isascii():
            out.update(w[i : i + 2] for i in range(len(w) - 1))
        elif len(w) > 2 or not w.isascii() or (w.isdigit() and len(w) == 2):
            out.add(w)
    return out


def _lead(c: Candidate) -> str:
    # The summary's first sentence, or before there is a summary (the pipeline may cluster
    # on cheap signals first) the start of the feed's own text.
    return " ".join(c.summary.sentences[:1]) or c.article.text[:LEAD_CHARS]


def _vectors(candidates: Sequence[Candidate]) -> list[dict[str, float]]:
    """The definition of what clustering compares, one plain vector per candidate (the
    tests' and benchmarks' all-pairs reference; :class:`_Texts` holds the same weights
    compactly): unit-length TF-IDF over the words of the title and lead. Presence, not
    counts: a number repeated in a title must not outweigh the words. Title words weigh
    twice as much as words of the lead."""
    docs: list[dict[str, float]] = []
    for c in candidates:
        doc = dict.fromkeys(_words(_lead(c)), 1.0)
        doc.update(dict.fromkeys(_words(c.article.title), 2.0))
        docs.append(doc)
    df: Counter[str] = Counter()
    for doc in docs:
        df.update(doc.keys())
    n = len(docs)
    idf = {t: math.log((1 + n) / (1 + f) + 1) for t, f in df.items()}
    for doc in docs:
        for t, w in doc.items():
            doc[t] = w * idf[t]
        norm = math.sqrt(sum(v * v for v in doc.values())) or 1.0
        for t, v in doc.items():
            doc[t] = v / norm
    return docs


class _Texts:
    """The title + lead of every candidate as term ids, one copy per distinct text.

    What clustering holds per candidate is an index: a thousand feeds carry each wire story
    many times, and the words are interned once. Terms of the title are stored as ``~id``
    (they weigh twice); the weights are those of :func:`_vectors`.
    """

    __slots__ = ("doc_of", "docs", "idf")

    def __init__(self, candidates: Sequence[Candidate]) -> None:
        vocab: dict[str, int] = {}
        distinct: dict[bytes, int] = {}
        self.docs: list[array[int]] = []
        copies: list[int] = []
        # Per candidate: its text's index, or -1 when it has no words (a cosine of 0 with
        # everything, never merged by similarity).
        self.doc_of = array("l")
        # The same title and lead, copied by many feeds, is read once.
        read: dict[tuple[str, str], int] = {}
        for c in candidates:
            text = (c.article.title, _lead(c))
            index = read.get(text)
            if index is None:
                title = _words(text[0])
                ids = [vocab.setdefault(w, len(vocab)) for w in _words(text[1]) - title]
                ids += [~vocab.setdefault(w, len(vocab)) for w in title]
                doc = array("l", sorted(ids))
                key = doc.tobytes()
                index = distinct.get(key, -1) if ids else -1
                if ids and index < 0:
                    index = distinct[key] = len(self.docs)
                    self.docs.append(doc)
                    copies.append(0)
                read[text] = index
            if index >= 0:
                copies[index] += 1
            self.doc_of.append(index)
        df = array("l", bytes(8 * len(vocab)))
        for doc, count in zip(self.docs, copies, strict=True):
            for t in doc:
                df[t if t >= 0 else ~t] += count
        n = len(candidates)
        self.idf = array("d", (math.log((1 + n) / (1 + f) + 1) for f in df))

    def vector(self, index: int) -> dict[int, float]:
        """The unit-length TF-IDF vector of distinct text ``index``, by term id."""
        idf = self.idf
        vec = {t if t >= 0 else ~t: idf[t] if t >= 0 else 2.0 * idf[~t] for t in self.docs[index]}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        return {t: v / norm for t, v in vec.items()}


def _fingerprint(c: Candidate) -> tuple[str, str]:
    return (" ".join(c.article.title.casefold().split()), " ".join(_lead(c).casefold().split()))


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    """The cosine of two :func:`_vectors` (the all-pairs reference of the tests and
    bench/cluster_scale.py; clustering sums the same products over its compact arrays)."""
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(t, 0.0) for t, v in a.items())


def _language(c: Candidate) -> str:
    return c.summary.language or c.article.language or "und"


@dataclass(frozen=True)
class Clustering:
    """Stories found among candidates (groups of indexes), and what finding them cost."""

    groups: tuple[tuple[int, ...], ...]
    # Exact cosines computed (the figure DigestStats.pairs_compared reports).
    pairs_compared: int = 0
    # Pairs the blocking proposed (sharing one of their rarest terms), before the bound
    # ruled most of them out: the work that must stay linear in the candidates.
    candidate_pairs: int = 0
    # Distinct (language, title + lead) texts once identical copies are collapsed.
    representatives: int = 0


def cluster(candidates: Sequence[Candidate]) -> list[list[int]]:
    """Group indexes of candidates that report the same story (same language only)."""
    return [list(g) for g in clustering(candidates).groups]


def clustering(
    candidates: Sequence[Candidate],
    *,
    postings_cap: int = POSTINGS_CAP,
    verify_cap: int = VERIFY_CAP,
) -> Clustering:
    """:func:`cluster`, with what it cost (pairs compared).

    Two candidates are one story when they are copies (the same link anywhere, or the same
    title and lead within one feed), or come from different feeds in the same language with
    a title + lead cosine of at least SAME_STORY; stories are the transitive closure.

    The cost stays linear in the candidates, also when many feeds carry the same stories:
    identical texts collapse into one representative first (12 copies of a story cost 12
    dictionary look-ups, not 66 cosines), then representatives are paired only through an
    index of each one's rarest terms and an upper bound of their cosine (see
    :func:`_pair`), and only pairs the bound cannot rule out get the exact cosine. Without
    the two caps every pair at or above SAME_STORY is found (the same stories as comparing
    all pairs); the caps bound the work per story: a term in more than ``postings_cap``
    representatives' rarest terms is not used to find pairs, and at most ``verify_cap``
    cosines are computed per representative, most promising first.
    """
    texts = _Texts(candidates)
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
        by_lang[_language(c)].append(i)
    proposed = compared = representatives = 0
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
        reps = _collapse(members, texts.doc_of, candidates)
        representatives += len(reps)
        for rep in reps:
            if len(rep.feeds) > 1:
                rep.join(union)  # identical vectors from two feeds: a cosine of 1
        found, computed = _pair(reps, texts, (postings_cap, verify_cap), find, union)
        proposed, compared = proposed + found, compared + computed
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(candidates)):
        groups[find(i)].append(i)
    return Clustering(
        groups=tuple(tuple(g) for g in groups.values()),
        pairs_compared=compared,
        candidate_pairs=proposed,
        representatives=representatives,
    )


class _Rep:
    """The candidates of one language whose title + lead have the same terms, so the same
    vector: one story as soon as two feeds carry it, or one of them matches another story.
    """

    __slots__ = ("feeds", "joined", "members")

    def __init__(self, first: int, feed: str) -> None:
        self.members = [first]
        self.feeds = {feed}
        self.joined = False  # True once every member is in one union-find set

    @property
    def anchor(self) -> int:
        return self.members[0]

    def join(self, union: Callable[[int, int], None]) -> None:
        # When one member matches across feeds, all do: they share its vector, so its cosine.
        if not self.joined:
            for i in self.members[1:]:
                union(self.anchor, i)
            self.joined = True


def _collapse(
    members: Sequence[int], doc_of: Sequence[int], candidates: Sequence[Candidate]
) -> list[_Rep]:
    by_text: dict[int, _Rep] = {}
    reps: list[_Rep] = []
    for i in members:
        key = doc_of[i]
        if key < 0:
            continue  # no words: a cosine of 0 with everything, never merged by similarity
        feed = candidates[i].article.feed_key
        rep = by_text.get(key)
        if rep is None:
            by_text[key] = rep = _Rep(i, feed)
            reps.append(rep)
        else:
            rep.members.append(i)
            rep.feeds.add(feed)
    return reps


def _pair(
    reps: Sequence[_Rep],
    texts: _Texts,
    caps: tuple[int, int],
    find: Callable[[int], int],
    union: Callable[[int, int], None],
) -> tuple[int, int]:
    """Union the representatives whose cosine reaches SAME_STORY.

    Returns the pairs proposed by the index and the cosines computed. Prefix filtering
    (Bayardo et al., "Scaling up all pairs similarity search", WWW 2007): order terms rarest
    first; a vector's prefix is its terms up to where the norm of the terms after them falls
    under SAME_STORY. Two unit vectors that share no term in both prefixes have a cosine under
    SAME_STORY (Cauchy-Schwarz over the terms after the shorter prefix), so only pairs found
    through the prefixes' postings can match. For those, the dot product over the shared
    prefix terms plus the product of both norms after the shorter prefix bounds the cosine,
    which rules out most of them without computing it.

    Each representative is held as three flat arrays (its terms' ranks, rarest first, their
    weights and the norm after each), and a posting is the representative's number: tens of
    thousands of distinct texts cost a few megabytes, not a dictionary and tuples each.
    """
    postings_cap, verify_cap = caps
    # A hair under the threshold, so float rounding never drops a pair right at it.
    threshold = SAME_STORY * (1 - 1e-9)
    docs = [texts.doc_of[rep.anchor] for rep in reps]
    df = texts.idf  # rarest first: the highest idf first, ties by term id
    order = sorted(
        {t if t >= 0 else ~t for d in docs for t in texts.docs[d]}, key=lambda t: (-df[t], t)
    )
    rank = {t: k for k, t in enumerate(order)}
    ranks: list[array[int]] = []  # each vector's term ranks, ascending
    weights: list[array[float]] = []  # the weights of those terms
    tails: list[array[float]] = []  # tails[r][k]: norm of vector r's terms from its k-th on
    cuts: list[int] = []  # prefix lengths
    lengths: Counter[int] = Counter()
    for d in docs:
        by_rank = sorted((rank[t], w) for t, w in texts.vector(d).items())
        ranks.append(array("l", (k for k, _ in by_rank)))
        weights.append(array("d", (w for _, w in by_rank)))
        squares = [0.0] * (len(by_rank) + 1)
        for k in range(len(by_rank) - 1, -1, -1):
            squares[k] = squares[k + 1] + by_rank[k][1] ** 2
        tail = array("d", (math.sqrt(x) for x in squares))
        cut = next(k for k, norm in enumerate(tail) if norm < threshold)
        tails.append(tail)
        cuts.append(cut)
        lengths.update(ranks[-1][:cut])
    ends = [ranks[r][cuts[r] - 1] for r in range(len(reps))]
    # A term that more than postings_cap stories rank among their rarest tells stories apart
    # no better than a stop word: it is not used to find pairs, which bounds the work per
    # story. Its weight still counts in the bound, so the bound never rules out a match.
    skipped = [
        math.sqrt(
            sum(weights[r][k] ** 2 for k in range(cuts[r]) if lengths[ranks[r][k]] > postings_cap)
        )
        for r in range(len(reps))
    ]
    postings: dict[int, list[int]] = defaultdict(list)
    proposed = compared = 0
    for r, rep in enumerate(reps):
        own_ranks, own_weights, tail = ranks[r], weights[r], tails[r]
        # The lists hold earlier representatives only, so each pair comes once.
        overlap: dict[int, float] = {}
        for k in range(cuts[r]):
            term = own_ranks[k]
            if lengths[term] > postings_cap:
                continue
            plist = postings[term]
            weight, after = own_weights[k], tail[k + 1]
            for s in plist:
                j = bisect.bisect_left(ranks[s], term)
                if s in overlap:
                    overlap[s] += weight * weights[s][j]
                elif (
                    weight * weights[s][j] + after * tails[s][j + 1] + skipped[r] * skipped[s]
                    >= threshold
                ):
                    overlap[s] = weight * weights[s][j]
                else:
                    # The first term they share (the prefixes go rarest first), plus all
                    # after it, cannot reach the threshold.
                    overlap[s] = -math.inf
            plist.append(r)
        proposed += len(overlap)
        survivors = []
        for s, dot in overlap.items():
            if dot < 0:
                continue
            # Terms after the shorter prefix add at most the product of both norms there,
            # which is at most the shorter prefix's own tail: try that cheap bound first.
            if ends[s] < ends[r]:
                after, shorter = ends[s], tails[s][cuts[s]]
            else:
                after, shorter = ends[r], tails[r][cuts[r]]
            base = dot + skipped[r] * skipped[s]
            if base + shorter < threshold:
                continue
            rest = tails[r][bisect.bisect_right(ranks[r], after)]
            rest *= tails[s][bisect.bisect_right(ranks[s], after)]
            if base + rest >= threshold:
                survivors.append(s)
        # Most shared weight first: a rewrite of the same story before a story that only
        # shares a name. Within a story one match is enough (union-find does the rest), and
        # pairs skipped below cost no cosine.
        survivors.sort(key=lambda s: (-overlap[s], s))
        verified = 0
        vec: dict[int, float] | None = None
        for s in survivors:
            other = reps[s]
            if len(rep.feeds) == 1 and rep.feeds == other.feeds:
                continue  # one feed: only copies are one story
            if rep.joined and other.joined and find(rep.anchor) == find(other.anchor):
                continue  # already one story: the cosine could change nothing
            if verified == verify_cap:
                break
            verified += 1
            vec = vec if vec is not None else dict(zip(own_ranks, own_weights, strict=True))
            cosine = sum(vec.get(t, 0.0) * w for t, w in zip(ranks[s], weights[s], strict=True))
            if cosine >= SAME_STORY:
                rep.join(union)
                other.join(union)
                union(other.anchor, rep.anchor)
        compared += verified
    return proposed, compared


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


def _best(group: Sequence[int], candidates: Sequence[Candidate]) -> int:
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
    stories = clustering(candidates)
    for group in stories.groups:
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
    return Selection(
        top=top,
        sections=sections,
        cut=sum(cut_from.values()),
        pairs_compared=stories.pairs_compared,
    )


def _section_of(item: DigestItem) -> str:
    return item.article.category or item.article.feed
