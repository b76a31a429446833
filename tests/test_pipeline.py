"""End to end: the demo config through every stage, state rules, broken feeds."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from digest.config import Config, load_config
from digest.pipeline import basis, build_and_write, build_digest, fetch_and_store
from digest.store import Store
from digest.text import language
from tests.conftest import write_config

# A sentence is complete when it ends in terminal punctuation (possibly before a quote).
COMPLETE = re.compile(r"[.!?…。؟۔\"”’»)\]]$")


def test_demo_digest_has_real_items_from_several_feeds(
    demo_config: Path, fixed_now: dt.datetime
) -> None:
    config = load_config(demo_config)
    output = build_and_write(config, now=fixed_now)
    digest = output.digest
    items = digest.items
    assert len(items) >= 10
    assert len({i.article.feed for i in items}) >= 3
    for item in items:
        a = item.article
        assert a.title.strip()
        assert a.feed
        assert item.summary.sentences, a.title
        for sentence in item.summary.sentences:
            assert sentence in " ".join(a.text.split()) or sentence in a.text
    languages = {i.article.feed: i.summary.language for i in items}
    assert languages["Berita Indonesia"] == "id"
    assert languages["Golem.de"] == "de"
    assert languages["Daring Fireball"] == "en"
    html = output.html_path.read_text(encoding="utf-8")
    text = output.text_path.read_text(encoding="utf-8")
    assert output.html_path.name == "2026-11-26.html"
    assert "<script" not in html.lower()
    assert (output.html_path.parent / "index.html").exists()
    assert (output.html_path.parent / "feed.xml").exists()
    # The reference article comes out without its WordPress boilerplate.
    putin = next(i for i in items if i.article.title.startswith("Putin dari Rusia"))
    joined = " ".join(putin.summary.sentences)
    assert "Home Uncategorized" not in joined and "Source link" not in joined
    assert not re.search(r"(^|\s)31\s+0(\s|$)", joined)
    assert "Putin" in text and "Source link" not in text


def test_dry_run_changes_no_state(demo_config: Path, fixed_now: dt.datetime) -> None:
    config = load_config(demo_config)
    build_and_write(config, now=fixed_now, dry_run=True)
    assert not config.state.exists()
    build_and_write(config, now=fixed_now)
    before = config.state.read_bytes()
    build_and_write(config, now=fixed_now + dt.timedelta(days=1), dry_run=True)
    assert config.state.read_bytes() == before


def test_an_article_goes_into_one_digest_only(demo_config: Path, fixed_now: dt.datetime) -> None:
    config = load_config(demo_config)
    first = build_digest(config, now=fixed_now)
    again = build_digest(config, now=fixed_now + dt.timedelta(hours=2))
    assert {i.article.id for i in again.items} == {i.article.id for i in first.items}
    tomorrow = build_digest(config, now=fixed_now + dt.timedelta(days=1))
    assert not {i.article.id for i in tomorrow.items} & {i.article.id for i in first.items}
    # A dry run of the next day never takes the morning's articles away.
    with Store(config.state) as store:
        recorded = {a.id for a, _ in store.digest_articles(first.date)}
    assert recorded == {i.article.id for i in first.items}


def test_broken_feed_files_are_problems_not_crashes(tmp_path: Path, repo: Path) -> None:
    (tmp_path / "empty.xml").write_bytes(b"")
    (tmp_path / "binary.xml").write_bytes(bytes(range(256)) * 40)
    (tmp_path / "page.xml").write_text("<html><body><p>Hello</p></body></html>")
    good = repo / "examples" / "feeds" / "en-manton-rss2.xml"
    config = load_config(
        write_config(
            tmp_path,
            {
                "feeds": [
                    {"path": "missing.xml", "name": "Missing"},
                    {"path": "empty.xml", "name": "Empty"},
                    {"path": "binary.xml", "name": "Binary"},
                    {"path": "page.xml", "name": "Page"},
                    {"path": str(good), "name": "Good", "full_text": "never"},
                ]
            },
        )
    )
    output = build_and_write(config, now=dt.datetime(2026, 11, 26, tzinfo=dt.UTC))
    problems = {p.feed: p.message for p in output.digest.problems if p.kind == "error"}
    assert set(problems) >= {"Missing", "Empty", "Binary", "Page"}, problems
    assert output.digest.items and {i.article.feed for i in output.digest.items} == {"Good"}
    html = output.html_path.read_text(encoding="utf-8")
    for name in ("Missing", "Empty", "Binary", "Page"):
        assert name in html


def test_articles_missing_title_date_link_and_text_still_render(
    tmp_path: Path, fixed_now: dt.datetime
) -> None:
    (tmp_path / "bare.xml").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Bare</title>'
        "<item><description>Only a description, nothing else at all.</description></item>"
        "<item><title>Only a title</title></item>"
        "<item><link>https://example.org/only-link</link></item>"
        "</channel></rss>",
        encoding="utf-8",
    )
    config = load_config(
        write_config(tmp_path, {"feeds": [{"path": "bare.xml", "full_text": "never"}]})
    )
    output = build_and_write(config, now=fixed_now)
    assert len(output.digest.items) == 3
    text = output.text_path.read_text(encoding="utf-8")
    assert "Only a title" in text and "Only a description" in text


def test_nothing_new_still_writes_a_page(tmp_path: Path, fixed_now: dt.datetime) -> None:
    config = load_config(write_config(tmp_path, {"title": "Empty Digest"}))
    output = build_and_write(config, now=fixed_now)
    assert output.digest.items == ()
    assert "Empty Digest" in output.html_path.read_text(encoding="utf-8")


@pytest.mark.corpus
def test_every_real_feed_builds_one_digest(
    shared_data: Path, tmp_path: Path, fixed_now: dt.datetime
) -> None:
    real = sorted((shared_data / "feeds" / "real").glob("*.*"))
    feeds = [{"path": str(p), "full_text": "never"} for p in real if p.suffix != ".md"]
    config = load_config(
        write_config(
            tmp_path,
            {
                "feeds": feeds,
                # The size cap is tested elsewhere; here every feed must reach the page.
                "limits": {"max_items": 200, "max_items_per_feed": 3, "max_html_kb": 100_000},
            },
        )
    )
    digest = build_digest(config, now=fixed_now, dry_run=True)
    assert len(digest.items) >= 100
    assert not [p for p in digest.problems if p.kind == "error"]


def _rss(items: list[tuple[str, str, str]], language: str | None = None) -> str:
    """An RSS 2.0 feed of (title, link, text) items, newest first."""
    lang = f"<language>{language}</language>" if language else ""
    body = "".join(
        f"<item><title>{t}</title><link>{link}</link><guid>{link}</guid>"
        f"<pubDate>Wed, 25 Nov 2026 {10 - n:02d}:00:00 +0000</pubDate>"
        f"<description>{text}</description></item>"
        for n, (t, link, text) in enumerate(items)
    )
    head = '<?xml version="1.0"?><rss version="2.0"><channel><title>F</title>'
    return f"{head}{lang}{body}</channel></rss>"


LONG = (
    "The regional council approved a new plan for public transport on Tuesday evening. "
    "Buses will run every ten minutes on the main lines from next spring onwards. "
    "The plan also adds night services on weekends for the first time in a decade. "
) * 3


def test_items_cut_for_size_are_not_recorded(tmp_path: Path, fixed_now: dt.datetime) -> None:
    items = [(f"Story {n} about item{n}", f"https://ex.org/{n}", LONG) for n in range(30)]
    (tmp_path / "f.xml").write_text(_rss(items), encoding="utf-8")
    config = load_config(
        write_config(
            tmp_path,
            {
                "feeds": [{"path": "f.xml", "full_text": "never"}],
                "limits": {"max_items": 60, "max_items_per_feed": 60, "max_html_kb": 25},
            },
        )
    )
    first = build_digest(config, now=fixed_now)
    shown = {i.article.id for i in first.items}
    assert 0 < len(shown) < 30
    with Store(config.state) as store:
        assert {a.id for a, _ in store.digest_articles(first.date)} == shown
    later = build_digest(config, now=fixed_now + dt.timedelta(days=1))
    again = {i.article.id for i in later.items}
    assert again and not again & shown  # the cut ones come next, nothing repeats


def test_a_merged_story_does_not_come_back_from_the_other_feed(
    tmp_path: Path, fixed_now: dt.datetime
) -> None:
    story = "Volcano erupts near the capital, forcing thousands of residents to flee their homes."
    (tmp_path / "a.xml").write_text(
        _rss([("Volcano erupts near capital, thousands flee", "https://a.ex/v", story)]),
        encoding="utf-8",
    )
    (tmp_path / "b.xml").write_text(
        _rss([("Thousands flee as volcano erupts near capital", "https://b.ex/v", story)]),
        encoding="utf-8",
    )
    config = load_config(
        write_config(
            tmp_path,
            {
                "feeds": [
                    {"path": "a.xml", "name": "A", "full_text": "never"},
                    {"path": "b.xml", "name": "B", "full_text": "never"},
                ]
            },
        )
    )
    first = build_digest(config, now=fixed_now)
    assert len(first.items) == 1 and first.items[0].also_covered_by
    later = build_digest(config, now=fixed_now + dt.timedelta(days=1))
    assert later.items == ()


def test_replaying_a_past_date_takes_no_new_articles(
    tmp_path: Path, fixed_now: dt.datetime
) -> None:
    from digest.pipeline import render_recorded

    feed = tmp_path / "f.xml"
    feed.write_text(_rss([("First story here", "https://ex.org/1", LONG)]), encoding="utf-8")
    config = load_config(
        write_config(tmp_path, {"feeds": [{"path": "f.xml", "full_text": "never"}]})
    )
    day1 = build_digest(config, now=fixed_now)
    feed.write_text(
        _rss(
            [
                ("Second story arrives", "https://ex.org/2", LONG.replace("council", "board")),
                ("First story here", "https://ex.org/1", LONG),
            ]
        ),
        encoding="utf-8",
    )
    replayed, rendered = render_recorded(
        config, date=day1.date, now=fixed_now + dt.timedelta(days=1)
    )
    assert [i.article.id for i in replayed.items] == [i.article.id for i in day1.items]
    assert "Second story" not in rendered.text
    day2 = build_digest(config, now=fixed_now + dt.timedelta(days=1))
    assert [i.article.title for i in day2.items] == ["Second story arrives"]


def test_a_feed_declaring_the_wrong_language_is_detected(
    tmp_path: Path, fixed_now: dt.datetime
) -> None:
    text = (
        "Presiden Joko Widodo meresmikan jalan tol baru di Jawa Tengah pada hari Senin. "
        "Jalan tol sepanjang 80 kilometer itu diharapkan mempercepat arus barang antarkota. "
        "Pemerintah menyebut proyek tersebut selesai lebih cepat dari jadwal yang ditetapkan."
    )
    (tmp_path / "f.xml").write_text(
        _rss([("Jalan tol baru diresmikan", "https://ex.id/1", text)], language="en-us"),
        encoding="utf-8",
    )
    config = load_config(
        write_config(tmp_path, {"feeds": [{"path": "f.xml", "full_text": "never"}]})
    )
    [item] = build_digest(config, now=fixed_now, dry_run=True).items
    assert item.summary.language == "id" and item.article.language == "id"
    # An explicit language: on the feed still wins over detection.
    forced = load_config(
        write_config(
            tmp_path, {"feeds": [{"path": "f.xml", "full_text": "never", "language": "ms"}]}
        )
    )
    [item] = build_digest(forced, now=fixed_now, dry_run=True).items
    assert item.summary.language == "ms"


def test_an_entry_still_listed_after_retention_is_not_sent_again(
    tmp_path: Path, fixed_now: dt.datetime
) -> None:
    (tmp_path / "f.xml").write_text(
        _rss([("Evergreen page", "https://ex.org/e", LONG)]), encoding="utf-8"
    )
    config = load_config(
        write_config(
            tmp_path,
            {"feeds": [{"path": "f.xml", "full_text": "never"}], "retention_days": 5},
        )
    )
    assert len(build_digest(config, now=fixed_now).items) == 1
    for day in range(1, 12):
        later = build_digest(config, now=fixed_now + dt.timedelta(days=day))
        assert later.items == (), day


def test_an_ill_formed_feed_is_mentioned_once_not_every_morning(
    tmp_path: Path, fixed_now: dt.datetime
) -> None:
    good = _rss([("Story one", "https://ex.org/1", LONG)])
    # Real damage (an unescaped "&"); a newline before <?xml alone is tolerated silently.
    broken = good.replace("Story one", "Story & one")
    feed = tmp_path / "f.xml"
    feed.write_text(broken, encoding="utf-8")
    config = load_config(
        write_config(tmp_path, {"feeds": [{"path": "f.xml", "name": "F", "full_text": "never"}]})
    )
    day1 = build_digest(config, now=fixed_now)
    assert [p.kind for p in day1.problems] == ["warning"] and day1.items
    rebuilt = build_digest(config, now=fixed_now + dt.timedelta(hours=2))
    assert rebuilt.problems == day1.problems  # the same date says the same
    day2 = build_digest(config, now=fixed_now + dt.timedelta(days=1))
    assert day2.problems == ()
    feed.write_text(good, encoding="utf-8")  # fixed by the publisher
    assert build_digest(config, now=fixed_now + dt.timedelta(days=2)).problems == ()
    feed.write_text(broken, encoding="utf-8")  # and broken again: said again
    day4 = build_digest(config, now=fixed_now + dt.timedelta(days=3))
    assert [p.kind for p in day4.problems] == ["warning"]


def test_a_replay_shows_the_footer_the_date_had(tmp_path: Path, fixed_now: dt.datetime) -> None:
    from digest.pipeline import render_recorded

    (tmp_path / "f.xml").write_text(_rss([("Story", "https://ex.org/1", LONG)]), "utf-8")
    config = load_config(
        write_config(
            tmp_path,
            {
                "feeds": [
                    {"path": "f.xml", "full_text": "never"},
                    {"path": "missing.xml", "name": "Missing"},
                ]
            },
        )
    )
    day1 = build_digest(config, now=fixed_now)
    assert [p.feed for p in day1.problems] == ["Missing"]
    replayed, rendered = render_recorded(
        config, date=day1.date, now=fixed_now + dt.timedelta(days=1)
    )
    assert replayed.problems == day1.problems
    assert "Missing" in rendered.text


def test_a_stored_candidate_is_summarised_from_its_whole_text(
    tmp_path: Path, fixed_now: dt.datetime
) -> None:
    # The pool reads stored candidates with their lead only (a thousand feeds' backlog);
    # the one the digest shows must still be summarised, and replayed, from all of it.
    tail = "The final paragraph says that tickets will cost less for students and pensioners."
    text = LONG + tail
    (tmp_path / "f.xml").write_text(
        _rss([("Transport plan", "https://ex.org/t", text)]), encoding="utf-8"
    )
    config = load_config(
        write_config(tmp_path, {"feeds": [{"path": "f.xml", "full_text": "never"}]})
    )
    fetch_and_store(config, now=fixed_now)  # stored, in no digest yet
    with Store(config.state) as store:
        ((lead, _),) = store.undigested_articles(fixed_now, text_chars=40)
        assert lead.text == text[:40]
        ((whole, _),) = store.undigested_articles(fixed_now)
        assert whole.text == text
    later = fixed_now + dt.timedelta(hours=1)
    (item,) = build_digest(config, now=later).items
    assert item.article.text == text
    (replayed,) = build_digest(config, now=later, replay=True).items
    assert replayed.article.text == text


def _thirty_stories(tmp_path: Path, extra: list[tuple[str, str, str]] | None = None) -> None:
    items = [
        (f"Story {n} about topic{n}", f"https://ex.org/{n}", f"Topic{n} news. {LONG}")
        for n in range(30)
    ]
    (tmp_path / "f.xml").write_text(_rss((extra or []) + items), encoding="utf-8")


def _config(tmp_path: Path, max_items: int = 5) -> Config:
    return load_config(
        write_config(
            tmp_path,
            {
                "feeds": [{"path": "f.xml", "full_text": "never"}],
                "limits": {"max_items": max_items, "max_items_per_feed": 20},
            },
        )
    )


def test_a_second_build_with_nothing_new_chooses_the_same_without_ranking_again(
    tmp_path: Path, fixed_now: dt.datetime
) -> None:
    _thirty_stories(tmp_path)
    config = _config(tmp_path)
    first = build_digest(config, now=fixed_now)
    assert first.stats.candidates == 30 and len(first.items) == 5
    later = fixed_now + dt.timedelta(hours=2)
    for dry_run in (True, False):
        again = build_digest(config, now=later, dry_run=dry_run)
        # The recorded stories only: the 25 others in the pool were not ranked again.
        assert again.stats.candidates == 5
        assert [i.article.id for i in again.items] == [i.article.id for i in first.items]


def test_the_language_model_loads_ahead_only_for_a_first_build_of_the_date(
    tmp_path: Path, fixed_now: dt.datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The model loads while the feeds arrive when the build will summarise (the first build
    # of a date), and not at all for a rebuild with nothing new, which summarises nothing.
    _thirty_stories(tmp_path)
    config = _config(tmp_path)
    monkeypatch.setattr(language, "_preload", None)
    build_digest(config, now=fixed_now)
    assert language._preload is not None
    monkeypatch.setattr(language, "_preload", None)
    build_digest(config, now=fixed_now + dt.timedelta(hours=2), dry_run=True)
    assert language._preload is None
    build_digest(config, now=fixed_now + dt.timedelta(days=1), dry_run=True)
    assert language._preload is not None


def test_a_second_build_ranks_again_when_anything_it_chose_from_changed(
    tmp_path: Path, fixed_now: dt.datetime
) -> None:
    _thirty_stories(tmp_path)
    config = _config(tmp_path)
    build_digest(config, now=fixed_now)
    later = fixed_now + dt.timedelta(hours=2)
    # Another config: the whole pool again.
    wider = build_digest(_config(tmp_path, max_items=6), now=later, dry_run=True)
    assert wider.stats.candidates == 30 and len(wider.items) == 6
    # Another article in the store (a `digest fetch` between the builds): so does the pool.
    _thirty_stories(tmp_path, [("Breaking story", "https://ex.org/new", f"Breaking. {LONG}")])
    fetch_and_store(config, now=later)
    _thirty_stories(tmp_path)
    fetch_and_store(config, now=later)
    assert build_digest(config, now=later, dry_run=True).stats.candidates == 31
    # A new article in this very build: likewise.
    _thirty_stories(tmp_path, [("Another story", "https://ex.org/other", f"Other. {LONG}")])
    rebuilt = build_digest(config, now=later)
    assert rebuilt.stats.candidates == 32


def test_the_basis_of_a_build_covers_the_feeds_file(tmp_path: Path, fixed_now: dt.datetime) -> None:
    # Subscriptions in a feeds_file are read when asked for: editing it (`digest feeds add`,
    # a new folder) must make the next build rank its pool again.
    opml = tmp_path / "feeds.opml"

    def subscribe(*urls: str) -> None:
        outlines = "".join(f'<outline type="rss" text="F" xmlUrl="{u}"/>' for u in urls)
        opml.write_text(f'<opml version="2.0"><body>{outlines}</body></opml>', encoding="utf-8")

    subscribe("https://a.example/feed")
    config = load_config(write_config(tmp_path, {"feeds_file": "feeds.opml"}))
    with Store(config.state) as store:
        before = basis(config, store, fixed_now.date())
        assert basis(config, store, fixed_now.date()) == before
        subscribe("https://a.example/feed", "https://b.example/feed")
        assert basis(config, store, fixed_now.date()) != before
