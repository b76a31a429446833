"""A story without a summary to read: never on top, and shown as an excerpt when it is one."""

from __future__ import annotations

import dataclasses
import datetime as dt

from digest.models import Article, Digest, DigestItem, DigestSection, Summary
from digest.render import render_digest
from digest.select import Candidate, select

NOW = dt.datetime(2026, 11, 26, 0, 0, tzinfo=dt.UTC)


def _candidate(n: int, feed: str, summary: Summary, hours: float) -> Candidate:
    article = Article(
        id=f"{feed}-{n}",
        feed=feed,
        feed_key=feed,
        title=f"{feed} story {n} about subject{n}{feed}",
        link=f"https://{feed.lower()}.example/{n}",
        published=NOW - dt.timedelta(hours=hours),
        text=" ".join(summary.sentences) or "Text.",
        language="en",
    )
    return Candidate(article, summary, NOW - dt.timedelta(hours=hours))


def test_a_story_without_a_usable_summary_never_leads() -> None:
    whole = Summary(("A whole sentence of the story.",), "default", "en")
    excerpt = Summary(("The shares were sold at an …",), "default", "en", excerpt=True)
    empty = Summary((), "default", "en")
    candidates = [
        # The newest stories of two feeds have nothing to read but an excerpt or nothing.
        _candidate(0, "Teaser", excerpt, hours=0),
        _candidate(0, "Empty", empty, hours=0),
        _candidate(1, "Teaser", whole, hours=6),
        *(_candidate(n, "Wire", whole, hours=n + 1) for n in range(5)),
    ]
    selection = select(candidates, now=NOW, max_items=20, max_items_per_feed=10, top_n=3)
    assert selection.top
    assert all(item.summary.usable for item in selection.top)
    assert [i.article.feed for i in selection.top] == ["Wire", "Teaser"]
    rest = [i for s in selection.sections for i in s.items]
    assert {i.article.id for i in rest} >= {"Teaser-0", "Empty-0"}


def test_an_excerpt_is_marked_in_both_parts() -> None:
    article = Article(
        id="a",
        feed="Example News",
        feed_key="https://example.org/feed",
        title="Slack shares",
        link="https://example.org/a",
        published=NOW,
        text="The shares were sold at an ...",
        language="en",
    )
    excerpt = Summary(("The shares were sold at an …",), "default", "en", excerpt=True)
    digest = Digest(
        title="Morning Digest",
        date=dt.date(2026, 11, 26),
        language="en",
        timezone="UTC",
        generated_at=NOW,
        sections=(DigestSection("Example News", (DigestItem(article, excerpt),)),),
    )
    rendered = render_digest(digest)
    assert "Excerpt:</span> The shares were sold at an …" in rendered.html
    assert "Excerpt: The shares were sold at an …" in rendered.text
    whole = dataclasses.replace(excerpt, excerpt=False)
    plain = dataclasses.replace(
        digest, sections=(DigestSection("Example News", (DigestItem(article, whole),)),)
    )
    again = render_digest(plain)
    assert "Excerpt" not in again.html and "Excerpt" not in again.text
