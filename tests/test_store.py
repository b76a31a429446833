"""The state database: migrations, article memory, caches, outbox claims, retention."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from pathlib import Path

import pytest

from digest.errors import LockError, StoreError
from digest.models import Article, Image, Summary
from digest.store import Store, article_from_json, article_to_json, open_store

NOW = dt.datetime(2026, 11, 26, 0, 0, tzinfo=dt.UTC)


def make_article(n: int, feed: str = "f") -> Article:
    return Article(
        id=f"id-{n}",
        feed=feed,
        feed_key=f"key-{feed}",
        title=f"Title {n}",
        link=f"https://example.org/{n}",
        published=NOW - dt.timedelta(hours=n),
        text=f"Text of article {n}.",
        image=Image("https://example.org/i.jpg", 640, 480, "alt"),
    )


def test_article_round_trips_through_json() -> None:
    article = make_article(1)
    assert article_from_json(article_to_json(article)) == article


def test_article_json_is_what_states_already_hold() -> None:
    """The fast serialiser writes exactly what dataclasses.asdict wrote into existing
    state files."""
    import dataclasses
    import json

    from digest.store import _iso

    for article in (
        make_article(2),
        dataclasses.replace(make_article(3), image=None, published=None, guid="g", weight=2.5),
    ):
        reference = dataclasses.asdict(article)
        reference["published"] = _iso(article.published)
        assert article_to_json(article) == json.dumps(reference, ensure_ascii=False, sort_keys=True)


def test_schema_is_created_once_and_reopened(tmp_path: Path) -> None:
    path = tmp_path / "s" / "state.sqlite"
    with Store(path) as store:
        store.set_meta("k", "v")
    with Store(path) as store:
        assert store.get_meta("k") == "v"
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] >= 1
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    with pytest.raises(StoreError, match="newer digest"):
        Store(path)


def test_a_damaged_file_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    path.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreError, match=r"damaged.*digest state new"):
        Store(path)


def test_first_seen_is_kept_and_digested_articles_leave_the_pool(tmp_path: Path) -> None:
    with Store(tmp_path / "state.sqlite") as store:
        a, b = make_article(1), make_article(2)
        seen = store.add_articles([(a, "h1"), (b, "h2")], NOW)
        assert seen == {"id-1": NOW, "id-2": NOW}
        later = NOW + dt.timedelta(hours=3)
        assert store.add_articles([(a, "h1-edited")], later) == {"id-1": NOW}
        assert {x.id for x, _ in store.undigested_articles(later)} == {"id-1", "id-2"}
        store.record_digest(dt.date(2026, 11, 26), ["id-1"], title="T", summary="", built_at=NOW)
        assert {x.id for x, _ in store.undigested_articles(later)} == {"id-2"}
        assert store.digest_dates_of(["id-1", "id-2"]) == {"id-1": dt.date(2026, 11, 26)}
        assert [x.id for x, _ in store.digest_articles(dt.date(2026, 11, 26))] == ["id-1"]
        assert store.digests()[0].items == 1


def test_summary_cache_by_hash_method_and_length(tmp_path: Path) -> None:
    with Store(tmp_path / "state.sqlite") as store:
        summary = Summary(("One.", "Two."), "default", "en")
        store.put_summaries([("h", "default", 2, "auto", summary)], NOW)
        assert store.get_summary("h", "default", 2, "auto") == summary
        assert store.get_summary("h", "lead", 2, "auto") is None
        assert store.get_summary("h", "default", 3, "auto") is None
        # An excerpt stays an excerpt (it must never lead the digest after a cache hit).
        excerpt = Summary(("The start of a teaser",), "default", "en", excerpt=True)
        store.put_summaries([("t", "default/v2/w60", 3, "auto", excerpt)], NOW)
        assert store.get_summary("t", "default/v2/w60", 3, "auto") == excerpt
        assert store.get_summary("t", "default/v2/w0", 3, "auto") is None


def test_dry_run_copy_never_writes_the_file(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    with Store(path) as store:
        store.add_articles([(make_article(1), "h")], NOW)
    before = path.read_bytes()
    with open_store(path, read_only=True) as copy:
        assert [a.id for a, _ in copy.undigested_articles(NOW)] == ["id-1"]
        copy.record_digest(dt.date(2026, 11, 26), ["id-1"], title="T", summary="", built_at=NOW)
    assert path.read_bytes() == before
    with Store(path) as store:
        assert store.digests() == []


def test_outbox_rows_are_claimed_by_one_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    day = dt.date(2026, 11, 26)
    with Store(path) as store:
        store.outbox_add(day, ["a@example.org", "b@example.org"], lambda r: f"<{r}>")
        store.outbox_add(day, ["a@example.org"], lambda r: "<other>")  # no duplicate row
    claimed: list[str] = []
    barrier = threading.Barrier(4)

    def worker(name: str) -> None:
        with Store(path) as s:
            barrier.wait()
            claimed.extend(f"{r.recipient}:{name}" for r in s.outbox_claim(NOW, name))

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(c.split(":")[0] for c in claimed) == ["a@example.org", "b@example.org"]
    with Store(path) as store:
        rows = store.outbox_rows(day)
        assert [r.message_id for r in rows] == ["<a@example.org>", "<b@example.org>"]
        assert all(r.status == "sending" for r in rows)
        store.outbox_sent(day, "a@example.org", "250 ok", NOW)
        store.outbox_failed(day, "b@example.org", "451 later", permanent=False, next_attempt=NOW)
        again = store.outbox_claim(NOW, "w9")
        assert [r.recipient for r in again] == ["b@example.org"]


def test_stale_sending_rows_become_due_again(tmp_path: Path) -> None:
    day = dt.date(2026, 11, 26)
    with Store(tmp_path / "state.sqlite") as store:
        store.outbox_add(day, ["a@example.org"], lambda r: "<m>")
        assert len(store.outbox_claim(NOW, "crashed")) == 1
        assert store.outbox_claim(NOW + dt.timedelta(minutes=1), "other") == []
        assert len(store.outbox_claim(NOW + dt.timedelta(hours=1), "other")) == 1


def test_lock_excludes_a_second_holder(tmp_path: Path) -> None:
    with Store(tmp_path / "state.sqlite") as one, Store(tmp_path / "state.sqlite") as two:
        with (
            one.lock(),
            pytest.raises(LockError, match="another digest process"),
            two.lock(wait=False),
        ):
            pass
        with two.lock(wait=False):
            pass


def test_prune_drops_old_articles_and_caches(tmp_path: Path) -> None:
    with Store(tmp_path / "state.sqlite") as store:
        old = NOW - dt.timedelta(days=200)
        store.add_articles([(make_article(1), "h1")], old)
        store.add_articles([(make_article(2), "h2")], NOW)
        store.put_summaries([("h1", "lead", 3, "auto", Summary(("x.",), "lead", "en"))], old)
        removed = store.prune(NOW, 90)
        assert removed == 1
        assert [a.id for a, _ in store.undigested_articles(NOW)] == ["id-2"]
        assert store.get_summary("h1", "lead", 3, "auto") is None
        assert store.get_meta("last_vacuum") is not None


def test_a_damaged_file_fails_cleanly_in_a_dry_run_too(tmp_path: Path) -> None:
    path = tmp_path / "state #1?.sqlite"  # characters that need quoting in a URI
    with Store(path) as store:
        store.set_meta("k", "v")
    with open_store(path, read_only=True) as copy:
        assert copy.get_meta("k") == "v"
    path.write_bytes(b"garbage, not SQLite" * 200)
    with pytest.raises(StoreError, match=r"damaged.*digest state new"):
        open_store(path, read_only=True)


def test_version_one_files_are_migrated(tmp_path: Path) -> None:
    from digest.schema import MIGRATIONS as _MIGRATIONS

    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(_MIGRATIONS[0])
    conn.execute(
        "INSERT INTO articles (id, feed_key, first_seen, content_hash, data) VALUES (?,?,?,?,?)",
        ("id-1", "key-f", NOW.isoformat(), "h", article_to_json(make_article(1))),
    )
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with Store(path) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == len(_MIGRATIONS)
        row = store.conn.execute("SELECT last_seen FROM articles").fetchone()
        assert row[0] == NOW.isoformat()
