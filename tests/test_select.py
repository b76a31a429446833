"""The editorial step: same story merged once, caps, ranking, sections."""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import replace
from pathlib import Path

import pytest

from digest.models import Article, Summary
from digest.select import Candidate, cluster, clustering, reading_minutes, select

NOW = dt.datetime(2026, 11, 26, 0, 0, tzinfo=dt.UTC)


def cand(
    title: str,
    lead: str,
    *,
    feed: str = "A",
    lang: str = "en",
    hours: float = 1,
    weight: float = 1.0,
    category: str | None = None,
    full_text: bool = False,
    pinned: bool = False,
) -> Candidate:
    article = Article(
        id=f"{feed}:{title}",
        feed=feed,
        feed_key=feed,
        title=title,
        link=f"https://{feed.lower()}.example/{abs(hash(title))}",
        published=NOW - dt.timedelta(hours=hours),
        text=lead,
        language=lang,
        weight=weight,
        category=category,
        full_text=full_text,
    )
    return Candidate(
        article, Summary((lead,), "lead", lang), NOW - dt.timedelta(hours=hours), pinned
    )


def test_rewrites_of_one_story_are_merged_and_sources_listed() -> None:
    items = [
        cand(
            "Putin to visit North Korea for talks with Kim Jong Un",
            "Russian President Vladimir Putin will visit North Korea for talks with Kim Jong Un.",
            feed="Wire",
        ),
        cand(
            "Putin will visit North Korea, Kremlin says, for talks with Kim",
            "Vladimir Putin will travel to North Korea for talks with leader Kim Jong Un.",
            feed="Paper",
            full_text=True,
        ),
        cand(
            "Apple releases a new MacBook Air",
            "Apple today released a new MacBook Air with a faster chip.",
            feed="Tech",
        ),
    ]
    groups = sorted(sorted(g) for g in cluster(items))
    assert groups == [[0, 1], [2]]
    selection = select(items, now=NOW, max_items=10, max_items_per_feed=10)
    merged = [i for s in selection.sections for i in s.items if i.also_covered_by]
    assert len(merged) == 1
    # The full-text article represents the story; the other feed is listed.
    assert merged[0].article.feed == "Paper" and merged[0].also_covered_by == ("Wire",)


def test_two_languages_on_one_story_are_not_merged() -> None:
    items = [
        cand("Putin visits North Korea", "Putin will visit North Korea on 18 June.", lang="en"),
        cand(
            "Putin mengunjungi Korea Utara",
            "Putin akan mengunjungi Korea Utara pada 18 Juni.",
            lang="id",
            feed="B",
        ),
    ]
    assert sorted(len(g) for g in cluster(items)) == [1, 1]


def test_different_stories_on_one_topic_stay_apart() -> None:
    items = [
        cand("Apple releases a new MacBook Air", "Apple released a MacBook Air with an M4 chip."),
        cand(
            "Apple faces EU fine over App Store",
            "The EU fined Apple over App Store rules.",
            feed="B",
        ),
    ]
    assert sorted(len(g) for g in cluster(items)) == [1, 1]


def test_caps_cut_the_lowest_ranked_and_count_them() -> None:
    items = [cand(f"Story number {n} about topic {n}", f"Lead {n}.", hours=n) for n in range(8)]
    items += [
        cand(f"Other feed story {n} on {n}", f"Other {n}.", feed="B", hours=n) for n in range(3)
    ]
    selection = select(items, now=NOW, max_items=6, max_items_per_feed=4, top_n=0)
    per_feed = select(items, now=NOW, max_items=60, max_items_per_feed=4, top_n=0)
    assert sum(s.more for s in per_feed.sections) == 4  # feed A's 8 items capped at 4
    kept = [i.article.title for s in selection.sections for i in s.items]
    assert len(kept) == 6
    # Equally fresh items of both feeds alternate; the oldest of feed A are cut.
    assert sum(1 for i in kept if i.startswith("Story")) == 3
    assert "Story number 0 about topic 0" in kept  # the newest of feed A
    assert selection.cut == 5
    assert sum(s.more for s in selection.sections) == 5


def test_pinned_items_survive_a_rebuild_even_past_the_caps() -> None:
    items = [cand(f"Fresh {n} story words {n}", f"Lead {n}.", hours=0) for n in range(3)]
    items.append(cand("Old pinned story", "Pinned lead.", hours=100, pinned=True))
    selection = select(items, now=NOW, max_items=2, max_items_per_feed=2, top_n=0)
    titles = [i.article.title for s in selection.sections for i in s.items]
    assert "Old pinned story" in titles and len(titles) == 2


def test_weight_and_sections_follow_the_config_order() -> None:
    items = [
        cand("Elections in France draw record turnout", "Voters.", feed="A", category="World"),
        cand("New phone chip doubles battery life", "Chips.", feed="B", category="Tech"),
    ]
    selection = select(
        items, now=NOW, max_items=10, max_items_per_feed=10, section_order=["World", "Tech"]
    )
    assert [s.title for s in selection.sections] == ["World", "Tech"]


def test_reading_minutes() -> None:
    assert reading_minutes("") == 1
    assert reading_minutes("word " * 1100) == 5


@pytest.mark.corpus
def test_same_story_from_two_real_feeds_is_merged(shared_data: Path) -> None:
    # Daring Fireball publishes one feed as Atom and as JSON Feed: every entry appears twice
    # under different feeds, and must collapse to one story each.
    from digest.models import FeedSource
    from digest.sources.feeds import parse_feed
    from digest.text.summarize import summarize

    real = shared_data / "feeds" / "real"
    candidates = []
    for name in ("en-daringfireball-atom.xml", "en-daringfireball-jsonfeed.json"):
        source = FeedSource(path=real / name, name=name)
        parsed = parse_feed((real / name).read_bytes(), source, now=NOW)
        for article in parsed.articles[:10]:
            summary = summarize(article.text, title=article.title, language="en", method="lead")
            candidates.append(Candidate(article, summary, NOW))
    groups = cluster(candidates)
    assert len(candidates) == 20
    # Each Atom entry pairs with its JSON Feed twin (ids may differ between the formats).
    assert sum(1 for g in groups if len(g) == 2) >= 8, json.dumps([len(g) for g in groups])


def test_top_stories_come_from_different_feeds() -> None:
    items = [
        cand(f"Busy feed story {n} words{n}", f"L{n}.", feed="Busy", hours=0) for n in range(6)
    ]
    items += [
        cand(f"Quiet feed story {n} other{n}", f"Q{n}.", feed="Quiet", hours=5) for n in range(2)
    ]
    items += [cand("Third feed only story", "T.", feed="Third", hours=9)]
    selection = select(items, now=NOW, max_items=20, max_items_per_feed=10, top_n=3)
    assert [i.article.feed for i in selection.top] == ["Busy", "Quiet", "Third"]
    rest = [i for s in selection.sections for i in s.items]
    assert len(rest) + len(selection.top) == len(items)


def _brute_force(candidates: list[Candidate]) -> list[list[int]]:
    """Every pair compared: the reference the inverted-index clustering must match."""
    from digest.select import SAME_STORY, _cosine, _fingerprint, _vectors

    vectors = _vectors(candidates)
    groups = [{i} for i in range(len(candidates))]
    for i in range(len(candidates)):
        for j in range(i + 1, len(candidates)):
            a, b = candidates[i], candidates[j]
            if (a.summary.language or "und") != (b.summary.language or "und"):
                continue
            same = (a.article.link is not None and a.article.link == b.article.link) or (
                _fingerprint(a) == _fingerprint(b)
                if a.article.feed_key == b.article.feed_key
                else _cosine(vectors[i], vectors[j]) >= SAME_STORY
            )
            if same:
                gi = next(g for g in groups if i in g)
                gj = next(g for g in groups if j in g)
                if gi is not gj:
                    gi |= gj
                    groups.remove(gj)
    return sorted(sorted(g) for g in groups)


@pytest.mark.corpus
def test_clustering_matches_all_pairs_on_real_feeds(shared_data: Path) -> None:
    from digest.models import FeedSource
    from digest.sources.feeds import parse_feed
    from digest.text.summarize import summarize

    candidates: list[Candidate] = []
    for path in sorted((shared_data / "feeds" / "real").glob("en-*.*"))[:14]:
        parsed = parse_feed(path.read_bytes(), FeedSource(path=path), now=NOW)
        for article in parsed.articles[:12]:
            summary = summarize(article.text, title=article.title, language="en", method="lead")
            candidates.append(Candidate(article, summary, NOW))
    assert len(candidates) > 100
    assert sorted(sorted(g) for g in cluster(candidates)) == _brute_force(candidates)


@pytest.mark.parametrize("size", [30, 120, 420])
def test_clustering_matches_all_pairs_when_common_words_carry_weight(size: int) -> None:
    # Titles of a few very common words plus rare ones, and near-copies in another feed:
    # the pairs sit just above the threshold, so skipping common terms must not lose them.
    rng = random.Random(size)
    common = ["jakarta", "presiden", "pemerintah", "indonesia", "menteri", "rakyat"]
    rare = [f"kata{i:04d}" for i in range(3000)]
    items = [
        cand(" ".join(rng.sample(common, 3) + rng.sample(rare, 4)), "", feed=f"F{i % 20}")
        for i in range(size)
    ]
    for k in range(20):
        words = items[k].article.title.split()
        copy = " ".join(words[:5] + rng.sample(rare, 2))
        items.append(cand(copy, "", feed="Other"))
    items = [
        Candidate(replace(c.article, text="", language="id"), Summary((), "lead", "id"), NOW)
        for c in items
    ]
    assert sorted(sorted(g) for g in cluster(items)) == _brute_force(items)


# --- clustering cost: copies collapsed, pairs found through the rarest terms -------------

NO_CAPS = {"postings_cap": 10**9, "verify_cap": 10**9}


def _small_world(seed: int) -> list[Candidate]:
    """Few words, many copies: exact and near duplicates within and across feeds, texts
    without words, shared links, and pairs on both sides of the threshold."""
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(14)] + ["the", "and", "of"]
    items: list[Candidate] = []
    for n in range(rng.randrange(20, 60)):
        if items and rng.random() < 0.4:
            # A copy of an earlier candidate: identical, or with a word changed, in any feed.
            base = rng.choice(items).article
            title, text = base.title, base.text
            if rng.random() < 0.5:
                title = " ".join(
                    w if rng.random() < 0.8 else rng.choice(words) for w in title.split()
                )
            if rng.random() < 0.3:
                title = title.upper() + "!"  # same words, another fingerprint
        else:
            title = " ".join(rng.sample(words, rng.randrange(0, 5)))
            text = " ".join(rng.sample(words, rng.randrange(0, 6)))
        feed = f"F{rng.randrange(4)}"
        article = Article(
            id=str(n),
            feed=feed,
            feed_key=feed,
            title=title,
            link=f"https://x.example/{rng.randrange(200)}" if rng.random() < 0.9 else None,
            published=NOW,
            text=text,
            language=rng.choice(["en", "en", "en", "id"]),
        )
        summary = Summary((text,) if rng.random() < 0.5 else (), "lead", article.language or "")
        items.append(Candidate(article, summary, NOW))
    return items


@pytest.mark.parametrize("seed", range(40))
def test_collapsing_and_prefix_filtering_give_the_same_stories_as_all_pairs(seed: int) -> None:
    # Without the caps the blocking is exact (prefix filtering loses no pair at or above
    # the threshold), and collapsing copies keeps the rules: within one feed only copies
    # are one story, whatever their words.
    items = _small_world(seed)
    expected = _brute_force(items)
    assert sorted(sorted(g) for g in clustering(items, **NO_CAPS).groups) == expected
    assert sorted(sorted(g) for g in cluster(items)) == expected


def test_twelve_copies_of_a_story_cost_no_cosine() -> None:
    items = [
        cand("Quake hits the coast of Peru", "A strong quake hit Peru on Monday.", feed=f"F{k}")
        for k in range(12)
    ]
    items.append(cand("Peru quake: strong tremor hits coast", "A strong quake hit Peru.", feed="G"))
    result = clustering(items)
    assert [len(g) for g in result.groups] == [13]
    assert result.representatives == 2 and result.pairs_compared == 1


def test_clustering_holds_one_vector_per_distinct_text() -> None:
    """Issue 13, memory: what clustering keeps per candidate is an index into the distinct
    texts (a thousand feeds carry each wire story many times), with the same weights as the
    reference vectors."""
    from digest.select import _Texts, _vectors

    items = [
        cand("Quake hits the coast of Peru", "A strong quake hit Peru on Monday.", feed=f"F{k}")
        for k in range(500)
    ]
    items += [cand("Peru quake: strong tremor hits coast", "A strong quake hit Peru.", feed="G")]
    items += [cand("", "", feed="H")]
    texts = _Texts(items)
    assert len(texts.docs) == 2
    assert list(texts.doc_of) == [0] * 500 + [1, -1]
    reference = _vectors(items)
    for i in (0, 500):
        vector = texts.vector(texts.doc_of[i])
        assert len(vector) == len(reference[i])
        assert sorted(vector.values()) == pytest.approx(sorted(reference[i].values()), abs=1e-12)


def _wire_service(n: int, copies: int = 12) -> list[Candidate]:
    """``n`` candidates: stories of rare names and Zipf-distributed common words, each in
    ``copies`` feeds; every other feed edits its copy a little (a word dropped or swapped)."""
    rng = random.Random(n)
    common = [f"common{i}" for i in range(400)]
    zipf = [1 / (i + 1) for i in range(len(common))]
    names = [f"name{i}" for i in range(30000)]
    items = []
    for s in range(n // copies):
        title = rng.sample(names, 3) + rng.choices(common, zipf, k=4)
        lead = rng.sample(names, 5) + rng.choices(common, zipf, k=20)
        for k in range(copies):
            t, lead_k = list(title), list(lead)
            if k % 2:
                lead_k[rng.randrange(len(lead_k))] = rng.choice(common)
                del t[rng.randrange(len(t))]
            items.append(cand(" ".join(t), " ".join(lead_k), feed=f"Feed {k}", hours=s % 24))
    return items


def test_clustering_cost_grows_linearly_when_every_story_is_in_twelve_feeds() -> None:
    # Issue 13: 16,000 candidates, each story in 12 copies, took 8.2 M cosines with postings
    # of up to n / 10 (quadratic). Four times the candidates must cost about four times the
    # work (x16 would be quadratic), and every story must still come out as one.
    small, large = clustering(_wire_service(2000)), clustering(_wire_service(8000))
    assert len(small.groups) == 2000 // 12 and len(large.groups) == 8000 // 12
    assert large.pairs_compared / small.pairs_compared < 5
    assert large.candidate_pairs / small.candidate_pairs < 6
    # Bounded work per story: about one cosine per candidate, not 11 (one per other copy).
    assert large.pairs_compared < 0.6 * 8000


def _rewrite(text: str, share: float, rng: random.Random, vocabulary: list[str]) -> str:
    """Another publisher's version: ``share`` of the words replaced, one dropped."""
    words = text.split()
    for _ in range(max(1, round(share * len(words)))):
        if words:
            words[rng.randrange(len(words))] = rng.choice(vocabulary)
    if len(words) > 2:
        del words[rng.randrange(len(words))]
    return " ".join(words)


def _same_story_edges(candidates: list[Candidate]) -> tuple[set[tuple[int, int]], int]:
    """Every pair the rules call one story, all pairs compared (numpy, exact dot products).

    Also returns how many pairs sit within 1e-9 of the threshold, where summation order
    could decide (left out of the edges)."""
    import numpy as np

    from digest.select import SAME_STORY, _fingerprint, _language, _vectors

    vectors = _vectors(candidates)
    edges: set[tuple[int, int]] = set()
    undecided = 0
    by_lang: dict[str, list[int]] = {}
    for i, c in enumerate(candidates):
        by_lang.setdefault(_language(c), []).append(i)
    for members in by_lang.values():
        column = {t: k for k, t in enumerate({t for i in members for t in vectors[i]})}
        matrix = np.zeros((len(members), len(column)))
        for row, i in enumerate(members):
            for term, weight in vectors[i].items():
                matrix[row, column[term]] = weight
        similarity = matrix @ matrix.T
        for x, i in enumerate(members):
            for y in range(x + 1, len(members)):
                j = members[y]
                a, b = candidates[i], candidates[j]
                if a.article.link is not None and a.article.link == b.article.link:
                    edges.add((i, j))
                elif a.article.feed_key == b.article.feed_key:
                    if _fingerprint(a) == _fingerprint(b):
                        edges.add((i, j))
                elif abs(similarity[x, y] - SAME_STORY) < 1e-9:
                    undecided += 1
                elif similarity[x, y] >= SAME_STORY:
                    edges.add((i, j))
    return edges, undecided


NEWS_FEEDS = (
    "en-guardian-world-rss2.xml",
    "en-techcrunch-rss2.xml",
    "en-googlenews-health-rss2-aggregator.xml",
    "en-livemint-rss2.xml",
    "en-macworld-rss2.xml",
    "en-slashdot-rss1-rdf-iso8859-1.xml",
    "en-daringfireball-atom.xml",
    "en-nixos-news-rss2.xml",
    "en-expertopinionent-atom.xml",
    "en-biorxiv-plantbio-rss1-rdf.xml",
    "en-scriptingnews-rss2-untitled-items.xml",
    "de-heise-newsticker-rss090-rdf.xml",
    "de-golem-rss2-iso8859-1.xml",
    "fr-lemonde-rss2.xml",
    "id-antaranews-terkini-rss2-2017.xml",
    "id-liputan6-rss2-2019.xml",
    "sk-aktuality-rss2.xml",
    "uk-suspilne-rss2.xml",
    "ur-bbcurdu-rss2.xml",
)


@pytest.mark.corpus
def test_blocking_finds_the_pairs_all_pairs_finds_on_real_entries(shared_data: Path) -> None:
    # Entries of real feeds, each in six feeds: three identical copies and three rewrites
    # (15 %, 30 % and 45 % of the words replaced by words of other entries), so pairs fall
    # on both sides of the threshold and common words are shared across stories.
    from digest.models import FeedSource
    from digest.sources.feeds import parse_feed

    real = shared_data / "feeds" / "real"
    stories: list[Article] = []
    for name in NEWS_FEEDS:
        parsed = parse_feed((real / name).read_bytes(), FeedSource(path=real / name), now=NOW)
        stories.extend(replace(a, language=name[:2]) for a in parsed.articles[:12])
    rng = random.Random(13)
    vocabulary = [w for a in stories for w in f"{a.title} {a.text[:300]}".split()]
    items: list[Candidate] = []
    for s, story in enumerate(stories):
        for k, share in enumerate((0, 0, 0, 0.15, 0.3, 0.45)):
            title, text = story.title, story.text[:300]
            if share:
                title = _rewrite(title, share, rng, vocabulary)
                text = _rewrite(text, share, rng, vocabulary)
            article = replace(
                story,
                id=f"{s}.{k}",
                feed=f"{story.feed} {k}",
                feed_key=f"{story.feed_key}#{k}",
                link=f"https://copy{k}.example/{s}",
                title=title,
                text=text,
            )
            items.append(Candidate(article, Summary((), "lead", story.language or ""), NOW))
    assert len(items) > 1200
    edges, undecided = _same_story_edges(items)
    assert len(edges) > 2000 and undecided == 0

    def recall(groups: tuple[tuple[int, ...], ...]) -> float:
        label = {i: g for g, members in enumerate(groups) for i in members}
        return sum(label[i] == label[j] for i, j in edges) / len(edges)

    def merged_only_what_all_pairs_merges(groups: tuple[tuple[int, ...], ...]) -> bool:
        reference = {i: {i} for i in range(len(items))}
        for i, j in edges:
            if reference[i] is not reference[j]:
                reference[i] |= reference[j]
                for k in reference[j]:
                    reference[k] = reference[i]
        return all(set(g) <= reference[g[0]] for g in groups)

    default = clustering(items)
    assert recall(default.groups) == 1.0
    assert merged_only_what_all_pairs_merges(default.groups)
    # Caps 20 and 8 times tighter than the defaults still find (nearly) every story: the
    # index ranks the same story's rewrites first.
    tight = clustering(items, postings_cap=10, verify_cap=2)
    assert recall(tight.groups) >= 0.99
    assert merged_only_what_all_pairs_merges(tight.groups)
    assert default.pairs_compared < len(items)
