"""Hand-built Digest values for the rendering tests (fixed times, no I/O)."""

from __future__ import annotations

import datetime as dt

from digest.models import (
    Article,
    Digest,
    DigestItem,
    DigestSection,
    DigestStats,
    FeedProblem,
    Image,
    Summary,
)

UTC = dt.UTC
GENERATED = dt.datetime(2026, 11, 26, 0, 5, tzinfo=UTC)  # 07:05 in Asia/Jakarta


def article(
    ident: str,
    *,
    feed: str = "Example News",
    title: str = "A headline",
    link: str | None = "https://example.org/a",
    published: dt.datetime | None = dt.datetime(2026, 11, 25, 23, 30, tzinfo=UTC),
    text: str = "Body text.",
    language: str | None = "en",
    image: Image | None = None,
) -> Article:
    """An Article with sensible defaults for tests."""
    return Article(
        id=ident,
        feed=feed,
        feed_key=f"https://{feed.lower().replace(' ', '')}.example/feed",
        title=title,
        link=link,
        published=published,
        text=text,
        language=language,
        full_text=True,
        image=image,
    )


def item(
    art: Article,
    sentences: tuple[str, ...],
    *,
    language: str | None = None,
    also: tuple[str, ...] = (),
    minutes: int = 2,
) -> DigestItem:
    """A DigestItem whose summary is ``sentences`` in ``language`` (default: the article's)."""
    return DigestItem(
        article=art,
        summary=Summary(
            sentences=sentences, method="lexrank", language=language or art.language or "en"
        ),
        also_covered_by=also,
        reading_minutes=minutes,
    )


def sample_digest(language: str = "en") -> Digest:
    """A digest with every case the templates must handle.

    An English top story with a picture and merged coverage, an Indonesian item, an Urdu
    (right-to-left) item, an item with no title, link or date, a section cut by caps, a
    tracker image, markup and entities in a title, and a feed problem.
    """
    top1 = item(
        article(
            "top-1",
            feed="Example News",
            title="Council approves the new riverside park after a decade of debate",
            link="https://example.org/news/riverside-park",
            published=dt.datetime(2026, 11, 25, 22, 15, tzinfo=UTC),
            image=Image(
                url="https://img.example.org/park.jpg", width=1200, height=675, alt="The river"
            ),
        ),
        (
            "The city council voted 9 to 2 on Wednesday to build a park along the river.",
            "Construction starts in March and should take two years.",
        ),
        also=("Daily Courier", "Metro Wire"),
        minutes=4,
    )
    top2 = item(
        article(
            "top-2",
            feed="Tech & Science",
            title="Researchers &amp; engineers <b>unveil</b> a quieter jet engine",
            link="https://science.example.com/jet?id=7&ref=feed",
            published=dt.datetime(2026, 11, 25, 9, 0, tzinfo=UTC),
            image=Image(url="https://tracker.example.com/p.gif", width=1, height=1),
        ),
        ("The prototype is 40% quieter at take-off than current engines.",),
        minutes=3,
    )
    indonesian = item(
        article(
            "id-1",
            feed="Antara",
            title="Pemerintah umumkan jadwal libur nasional 2027",
            link="https://www.antaranews.com/berita/123/libur-nasional-2027",
            published=dt.datetime(2026, 11, 26, 0, 1, tzinfo=UTC),
            language="id",
        ),
        (
            "Pemerintah menetapkan 17 hari libur nasional dan 8 hari cuti bersama pada 2027.",
            "Keputusan itu ditandatangani oleh tiga menteri di Jakarta pada Rabu.",
        ),
        minutes=2,
    )
    urdu = item(
        article(
            "ur-1",
            feed="BBC Urdu",
            title="پاکستان میں شدید بارشوں کا امکان",
            link="https://www.bbc.com/urdu/articles/c123",
            published=dt.datetime(2026, 11, 25, 18, 45, tzinfo=UTC),
            language="ur",
        ),
        ("محکمہ موسمیات نے اگلے ہفتے ملک کے بیشتر حصوں میں شدید بارشوں کی پیش گوئی کی ہے۔",),
        minutes=1,
    )
    bare = item(
        article(
            "bare-1",
            feed="Notes",
            title="",
            link=None,
            published=None,
            text="",
        ),
        (
            "Water levels at the northern reservoir fell for the third week in a row.",
            "Farmers downstream were asked to water their fields at night.",
        ),
        minutes=1,
    )
    world_more = item(
        article(
            "w-2",
            feed="Example News",
            title="Trade talks resume in Geneva",
            link="https://example.org/news/trade-talks",
            published=dt.datetime(2026, 11, 25, 14, 5, tzinfo=UTC),
        ),
        ("Negotiators from both blocs met again after a three-month pause.",),
        minutes=2,
    )
    return Digest(
        title="Morning Digest",
        date=dt.date(2026, 11, 26),
        language=language,
        timezone="Asia/Jakarta",
        generated_at=GENERATED,
        top=(top1, top2),
        sections=(
            DigestSection(
                title="World",
                items=(world_more, urdu),
                more=3,
                more_link="https://example.org/news/",
            ),
            DigestSection(title="Indonesia", items=(indonesian,)),
            DigestSection(title="Notes", items=(bare,), more=1),
        ),
        problems=(
            FeedProblem(
                feed="Broken Feed",
                message="HTTP 404 at https://broken.example/feed.xml — check the URL",
            ),
            FeedProblem(feed="Slow Feed", message="timed out after 20 s", kind="warning"),
        ),
        stats=DigestStats(feeds=7, feeds_failed=1, articles_seen=40, articles_new=12, items=6),
    )
