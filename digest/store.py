"""The state database: SQLite (stdlib), WAL, schema migrations by version number.

What it keeps: per-feed validators and health, every article seen (as JSON, so a digest can
be rebuilt after a feed dropped the entry), which digest each article went into, cached
summaries and extracted pages, the digests built, the outbox of deliveries, and small
key/value facts such as the scheduler's last slot. Every write is one transaction, so a
crash leaves either the old or the new state, never half of one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import shutil
import socket
import sqlite3
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from digest.config import Config

from digest import backup
from digest.errors import LockError, StoreError
from digest.models import Article, ExtractedPage, FeedProblem, Image, Summary, utc_now
from digest.schema import MIGRATIONS

log = logging.getLogger(__name__)


# A row left in 'sending' by a process on another host (whose liveness cannot be checked)
# is due again after this long; the stable Message-ID lets the receiver collapse the
# duplicate if the first attempt got through.
STALE_SENDING = dt.timedelta(minutes=15)


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat(timespec="seconds")


def _dt(value: str | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value)


_ARTICLE_FIELDS = tuple(f.name for f in fields(Article))
_IMAGE_FIELDS = tuple(f.name for f in fields(Image))
_KNOWN_KEYS = frozenset(_ARTICLE_FIELDS)


def article_to_json(article: Article) -> str:
    """Serialise an article for the store (dates as ISO 8601)."""
    # What dataclasses.asdict gives, without its deep copy: a build serialises every article
    # it parses (3 times faster; a thousand feeds list tens of thousands).
    data: dict[str, Any] = {name: getattr(article, name) for name in _ARTICLE_FIELDS}
    data["published"] = _iso(article.published)
    image = article.image
    if image is not None:
        data["image"] = {name: getattr(image, name) for name in _IMAGE_FIELDS}
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


def _article_row(article: Article) -> tuple[str, str, str, str]:
    # An articles row as staging and recording write it: (id, feed_key, content_hash, data).
    return article.id, article.feed_key, article.content_hash, article_to_json(article)


def article_from_json(text: str, text_chars: int | None = None) -> Article:
    """Inverse of :func:`article_to_json`; unknown keys from newer versions are ignored.
    With ``text_chars``, the article's text is cut to that many characters."""
    data = json.loads(text)
    image = data.get("image")
    if not _KNOWN_KEYS.issuperset(data):
        data = {k: v for k, v in data.items() if k in _KNOWN_KEYS}
    if text_chars is not None and len(body := data.get("text") or "") > text_chars:
        data["text"] = body[:text_chars]
    data["published"] = _dt(data.get("published"))
    data["image"] = Image(**image) if image else None
    return Article(**data)


@dataclass(frozen=True)
class FeedState:
    """What the store remembers about one feed between runs."""

    key: str
    url: str | None
    title: str | None
    etag: str | None
    last_modified: str | None
    consecutive_failures: int
    last_success: dt.datetime | None
    last_error: str | None
    failing_since: dt.datetime | None
    next_attempt: dt.datetime | None
    disabled: bool
    reported: str | None
    recovered_at: dt.datetime | None = None
    disabled_at: dt.datetime | None = None
    warning: str | None = None
    warned_at: dt.datetime | None = None


class OutboxStatus(StrEnum):
    """Where one delivery stands."""

    PENDING = "pending"  # created, not tried yet
    SENDING = "sending"  # claimed by a process that is sending it
    SENT = "sent"  # the server accepted it
    FAILED = "failed"  # permanent (5xx), or temporary and due again at next_attempt


def owner_id() -> str:
    """Who claims outbox rows: this host and process (and a nonce against pid reuse)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _claimer_gone(owner: str | None, claimed_at: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether the process that claimed a row is gone (killed mid-send): its pid is dead on
    this host; for another host (or an owner we cannot read), after STALE_SENDING."""
    host, _, rest = (owner or "").partition(":")
    pid_text = rest.partition(":")[0]
    if host == socket.gethostname() and pid_text.isdigit():
        return not _pid_alive(int(pid_text))
    return claimed_at is None or now - claimed_at >= STALE_SENDING


def _pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this host (under any user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, under another user
        return True
    return True


@dataclass(frozen=True)
class OutboxRow:
    """One delivery: a digest date to one recipient."""

    date: dt.date
    recipient: str
    status: OutboxStatus
    message_id: str
    attempts: int
    permanent: bool
    next_attempt: dt.datetime | None
    last_error: str | None
    reply: str | None
    sent_at: dt.datetime | None
    claimed_by: str | None = None
    claimed_at: dt.datetime | None = None

    def due(self, now: dt.datetime) -> bool:
        """The one rule for "send this now": pending; failed temporarily and its next
        attempt has come; or left 'sending' by a process that is gone."""
        if self.status is OutboxStatus.PENDING:
            return True
        if self.status is OutboxStatus.FAILED:
            return not self.permanent and (self.next_attempt is None or self.next_attempt <= now)
        if self.status is OutboxStatus.SENDING:
            return _claimer_gone(self.claimed_by, self.claimed_at, now)
        return False

    @property
    def settled(self) -> bool:
        """Nothing more to do: sent, or failed permanently."""
        return self.status is OutboxStatus.SENT or (
            self.status is OutboxStatus.FAILED and self.permanent
        )


@dataclass(frozen=True)
class Changes:
    """The writes of a build or a fetch, gathered as it runs and applied together by
    :meth:`Store.apply`, so a build that fails half way leaves the store as it was."""

    feed_states: tuple[FeedState, ...] = ()
    # Articles listed by a feed in this run: new ones are recorded as first seen now, known
    # ones keep their first-seen time and get the latest text.
    articles: tuple[Article, ...] = ()
    # Summaries computed: (content hash, variant, sentences, requested language, summary).
    summaries: tuple[tuple[str, str, int, str, Summary], ...] = ()
    pages: tuple[tuple[str, ExtractedPage], ...] = ()
    page_failures: tuple[tuple[str, str], ...] = ()
    # Feeds that answered "not modified": they still list what they listed last time.
    unchanged_feeds: tuple[str, ...] = ()

    def __add__(self, other: Changes) -> Changes:
        return Changes(
            self.feed_states + other.feed_states,
            self.articles + other.articles,
            self.summaries + other.summaries,
            self.pages + other.pages,
            self.page_failures + other.page_failures,
            self.unchanged_feeds + other.unchanged_feeds,
        )


@dataclass(frozen=True)
class PageRow:
    """A cached article page: the extracted page, or when and why it could not be used."""

    url: str
    fetched_at: dt.datetime
    page: ExtractedPage | None
    failed_at: dt.datetime | None = None
    error: str | None = None


@dataclass(frozen=True)
class DigestRecord:
    date: dt.date
    built_at: dt.datetime
    title: str
    items: int
    summary: str


class Store:
    """The SQLite state file. Open with :func:`open_store` or ``Store(path)``; close when done."""

    def __init__(
        self, path: Path | str, *, output_dir: Path | None = None, backups: bool = True
    ) -> None:
        """Open (or create) the state file at ``path``.

        With ``output_dir``, a missing or empty state is refused while that folder holds
        past digests (starting afresh would mail their articles again). With ``backups``, a
        backup is taken before a migration and once a day (see :mod:`digest.backup`).
        """
        self.path = Path(path)
        self._depth = 0
        self._staging = False  # a gather staged whole articles on this connection
        self._scratch: Path | None = None  # a dry run's private copy: removed on close
        memory = str(path) == ":memory:"
        if not memory:
            # SQLite says "read-only" only at the first write, after every feed was fetched;
            # ask first, and name the path to fix.
            from digest.writable import file_problem

            problem = file_problem(self.path)
            if problem is not None:
                raise StoreError(_unwritable(self.path, problem))
        try:
            existed = not memory and self.path.exists() and self.path.stat().st_size > 0
            if not memory:
                if output_dir is not None:
                    backup.refuse_fresh_start(self.path, output_dir)
                self.path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE) so two processes
            # serialise their writes instead of failing on a lock upgrade.
            self.conn = sqlite3.connect(
                str(path), timeout=30.0, isolation_level=None, check_same_thread=False
            )
            self.conn.row_factory = sqlite3.Row
            self._enable_wal()
            self.conn.execute("PRAGMA synchronous=NORMAL")
            # A build's staged articles (stage_begin) on disk even where SQLite was built to
            # keep temporary tables in memory by default.
            self.conn.execute("PRAGMA temp_store=FILE")
            self.conn.execute("PRAGMA foreign_keys=ON")
            self._migrate(backups=backups and existed)
            if backups and existed:
                backup.daily(self.conn, self.path, utc_now())
        except OSError as exc:
            raise StoreError(_unwritable(self.path, exc.strerror or str(exc))) from None
        except sqlite3.DatabaseError as exc:
            if _is_readonly(exc):
                raise StoreError(_unwritable(self.path, str(exc))) from None
            raise StoreError(
                f"{path}: the state database is damaged ({exc}); {backup.advice(self.path)}"
            ) from None

    def _enable_wal(self) -> None:
        # (issue 7 helper fix) Switching a new file to WAL answers "database is locked" at
        # once, without the busy timeout, while another process does the same switch; two
        # `digest send` runs starting together on a fresh state file hit it. Retry briefly.
        for attempt in range(100):
            try:
                self.conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 99:
                    raise
                time.sleep(0.05)

    def close(self) -> None:
        self.conn.close()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write: BEGIN IMMEDIATE ... COMMIT, rolled back on any exception.

        Nested use joins the outer transaction, so several writes (a digest, its outbox rows,
        the articles and caches of its build) commit together or not at all. A database that
        turned read-only (or a full disk) meanwhile is a StoreError that says what to fix,
        not a traceback.
        """
        if self._depth:
            self._depth += 1
            try:
                yield self.conn
            finally:
                self._depth -= 1
            return
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise _write_error(self.path, exc) from None
        self._depth = 1
        try:
            yield self.conn
        except BaseException as exc:
            self._depth = 0
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError) and _is_readonly(exc):
                raise _write_error(self.path, exc) from None
            raise
        self._depth = 0
        try:
            self.conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
            raise _write_error(self.path, exc) from None

    def apply(self, changes: Changes, now: dt.datetime) -> None:
        """Write what a build or a fetch gathered, in one transaction (or in the caller's)."""
        with self.transaction():
            for state in changes.feed_states:
                self.save_feed_state(state, now)
            if changes.articles:
                self._add_rows(self._article_rows(changes.articles), now)
            if changes.summaries:
                self.put_summaries(changes.summaries, now)
            for url, page in changes.pages:
                self.put_page(url, page, now)
            for url, error in changes.page_failures:
                self.put_page_failure(url, error, now)
            for feed_key in changes.unchanged_feeds:
                self.still_listed(feed_key, now)

    def _migrate(self, *, backups: bool = False) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StoreError(
                f"{self.path}: written by a newer digest (schema {version}); upgrade digest"
            )
        if backups and 0 < version < len(MIGRATIONS):
            backup.take(self.conn, self.path, utc_now(), f"before-v{len(MIGRATIONS)}")
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.transaction() as conn:
                # (issue 7 helper fix) Re-check inside the lock: two processes opening a new
                # state file at once both read version 0; the second must not re-run a step.
                if conn.execute("PRAGMA user_version").fetchone()[0] >= number:
                    continue
                if callable(script):
                    script(conn)
                else:
                    for statement in script.split(";"):
                        if statement.strip():
                            conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")

    # -- key/value facts ---------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # -- feeds -------------------------------------------------------------------------

    def feed_state(self, key: str) -> FeedState | None:
        row = self.conn.execute("SELECT * FROM feeds WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        return FeedState(
            key=row["key"],
            url=row["url"],
            title=row["title"],
            etag=row["etag"],
            last_modified=row["last_modified"],
            consecutive_failures=row["consecutive_failures"],
            last_success=_dt(row["last_success"]),
            last_error=row["last_error"],
            failing_since=_dt(row["failing_since"]),
            next_attempt=_dt(row["next_attempt"]),
            disabled=bool(row["disabled"]),
            reported=row["reported"],
            recovered_at=_dt(row["recovered_at"]),
            disabled_at=_dt(row["disabled_at"]),
            warning=row["warning"],
            warned_at=_dt(row["warned_at"]),
        )

    def feed_states(self) -> list[FeedState]:
        keys = [r[0] for r in self.conn.execute("SELECT key FROM feeds ORDER BY key")]
        return [s for s in (self.feed_state(k) for k in keys) if s is not None]

    def save_feed_state(self, state: FeedState, now: dt.datetime) -> None:
        with self.transaction() as conn:
            conn.execute(
                """INSERT INTO feeds (key, url, title, etag, last_modified,
                       consecutive_failures, last_success, last_error, failing_since,
                       next_attempt, disabled, reported, updated_at, recovered_at,
                       disabled_at, warning, warned_at)
                   VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
                   ON CONFLICT(key) DO UPDATE SET url=excluded.url, title=excluded.title,
                       etag=excluded.etag, last_modified=excluded.last_modified,
                       consecutive_failures=excluded.consecutive_failures,
                       last_success=excluded.last_success, last_error=excluded.last_error,
                       failing_since=excluded.failing_since,
                       next_attempt=excluded.next_attempt, disabled=excluded.disabled,
                       reported=excluded.reported, updated_at=excluded.updated_at,
                       recovered_at=excluded.recovered_at, disabled_at=excluded.disabled_at,
                       warning=excluded.warning, warned_at=excluded.warned_at""",
                (
                    state.key,
                    state.url,
                    state.title,
                    state.etag,
                    state.last_modified,
                    state.consecutive_failures,
                    _iso(state.last_success),
                    state.last_error,
                    _iso(state.failing_since),
                    _iso(state.next_attempt),
                    int(state.disabled),
                    state.reported,
                    _iso(now),
                    _iso(state.recovered_at),
                    _iso(state.disabled_at),
                    state.warning,
                    _iso(state.warned_at),
                ),
            )

    # -- articles ----------------------------------------------------------------------

    def add_articles(
        self, articles: Iterable[tuple[Article, str]], now: dt.datetime
    ) -> dict[str, dt.datetime]:
        """Record articles (with their content hash); return id -> first-seen time for all.

        An article seen before keeps its first-seen time; its stored copy is refreshed so a
        rebuild shows the latest text, but it is never "new" again.
        """
        return self._add_rows(
            ((a.id, a.feed_key, content_hash, article_to_json(a)) for a, content_hash in articles),
            now,
        )

    def _add_rows(
        self, rows: Iterable[tuple[str, str, str, str]], now: dt.datetime
    ) -> dict[str, dt.datetime]:
        # Rows as _article_row makes them: see add_articles.
        first_seen: dict[str, dt.datetime] = {}
        with self.transaction() as conn:
            for article_id, feed_key, content_hash, data in rows:
                row = conn.execute(
                    "SELECT first_seen FROM articles WHERE id = ?", (article_id,)
                ).fetchone()
                if row is None:
                    conn.execute(
                        "INSERT INTO articles "
                        "(id, feed_key, first_seen, content_hash, data, last_seen) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        (article_id, feed_key, _iso(now), content_hash, data, _iso(now)),
                    )
                    first_seen[article_id] = now
                else:
                    conn.execute(
                        "UPDATE articles SET content_hash = ?, data = ?, last_seen = ? "
                        "WHERE id = ?",
                        (content_hash, data, _iso(now), article_id),
                    )
                    first_seen[article_id] = _dt(row[0]) or now
        return first_seen

    # -- staging: a gather's whole articles, off the heap -------------------------------

    def stage_begin(self) -> None:
        """Start staging a gather's articles (forgetting an earlier gather's).

        A thousand feeds list tens of thousands of articles, and a build ranks them on their
        leads: their whole texts wait in a TEMP table (SQLite keeps it in a temporary file,
        not in this process's memory, and it is never part of the state file) until the few
        that make the shortlist are read back (:meth:`whole_articles`) and recording the
        build writes them (:meth:`apply`). Nothing reaches the state file before then, so a
        build that fails still records nothing.
        """
        self.conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS staged (id TEXT NOT NULL, feed_key TEXT NOT NULL, "
            "content_hash TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (id, feed_key))"
        )
        self.conn.execute("DELETE FROM temp.staged")
        self._staging = True

    def stage(self, articles: Iterable[Article]) -> None:
        """Stage whole articles; a feed listing one id twice keeps its first entry."""
        self.conn.executemany(
            "INSERT OR IGNORE INTO temp.staged VALUES (?, ?, ?, ?)",
            map(_article_row, articles),
        )

    def _staged_rows(self, articles: Sequence[Article]) -> dict[tuple[str, str], sqlite3.Row]:
        out: dict[tuple[str, str], sqlite3.Row] = {}
        if not self._staging:
            return out
        wanted = {(a.id, a.feed_key) for a in articles}
        for chunk in _chunks(list(dict.fromkeys(a.id for a in articles)), 500):
            marks = ",".join("?" * len(chunk))
            for row in self.conn.execute(
                f"SELECT id, feed_key, content_hash, data FROM temp.staged WHERE id IN ({marks})",
                chunk,
            ):
                if (row[0], row[1]) in wanted:
                    out[row[0], row[1]] = row
        return out

    def _article_rows(self, articles: Sequence[Article]) -> Iterator[tuple[str, str, str, str]]:
        # The staged whole text of an article this connection's gather cut to its lead;
        # any other article as it is. In chunks: never every whole text at once.
        for start in range(0, len(articles), 500):
            chunk = articles[start : start + 500]
            staged = self._staged_rows(chunk)
            for a in chunk:
                row = staged.get((a.id, a.feed_key))
                if row is not None:
                    yield a.id, a.feed_key, row[2], row[3]
                else:
                    yield _article_row(a)

    def whole_articles(self, articles: Sequence[Article]) -> dict[str, Article]:
        """By id, the whole version of each of ``articles`` that was read with its lead
        only: staged by this connection's gather (the same feed's entry), else stored."""
        staged = self._staged_rows(articles)
        out: dict[str, Article] = {}
        for (article_id, _), row in staged.items():
            out[article_id] = article_from_json(row[3])
        rest = [a.id for a in articles if (a.id, a.feed_key) not in staged]
        for article_id, article in self.articles_by_id(rest).items():
            out.setdefault(article_id, article)
        return out

    def still_listed(self, feed_key: str, now: dt.datetime) -> None:
        """A feed that has not changed still lists the articles its last read listed: they
        are seen now too, so retention never forgets (and then resends) one it still lists."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE articles SET last_seen = ? WHERE feed_key = ? AND last_seen = "
                "(SELECT MAX(last_seen) FROM articles WHERE feed_key = ?)",
                (_iso(now), feed_key, feed_key),
            )

    def articles_by_id(self, ids: Sequence[str]) -> dict[str, Article]:
        """The stored articles among ``ids``."""
        out: dict[str, Article] = {}
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            for row in self.conn.execute(
                f"SELECT id, data FROM articles WHERE id IN ({marks})", chunk
            ):
                out[row[0]] = article_from_json(row[1])
        return out

    def first_seen(self, ids: Sequence[str]) -> dict[str, dt.datetime]:
        out: dict[str, dt.datetime] = {}
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            for row in self.conn.execute(
                f"SELECT id, first_seen FROM articles WHERE id IN ({marks})", chunk
            ):
                out[row[0]] = dt.datetime.fromisoformat(row[1])
        return out

    def undigested_articles(
        self,
        before: dt.datetime,
        feed_keys: Iterable[str] | None = None,
        *,
        text_chars: int | None = None,
    ) -> list[tuple[Article, dt.datetime]]:
        """Stored articles first seen before ``before`` that are in no digest yet.

        With ``text_chars``, each article's text is cut to its first ``text_chars``
        characters as it is read (row by row, never all whole texts at once): a pool of
        tens of thousands of candidates is ranked on their leads, and only the few kept
        need their whole text (:meth:`articles_by_id`). Such an article is never written back.
        """
        rows = self.conn.execute(
            "SELECT a.data, a.first_seen, a.feed_key FROM articles a "
            "WHERE a.first_seen <= ? AND NOT EXISTS "
            "(SELECT 1 FROM digest_items d WHERE d.article_id = a.id) ORDER BY a.first_seen",
            (_iso(before),),
        )
        keys = None if feed_keys is None else set(feed_keys)
        out = []
        for data, first_seen, feed_key in rows:
            if keys is not None and feed_key not in keys:
                continue
            article = article_from_json(data, text_chars)
            out.append((article, dt.datetime.fromisoformat(first_seen)))
        return out

    def pool_articles(self, date: dt.date) -> Iterator[tuple[str, str]]:
        """``(id, content hash)`` of every article a digest of ``date`` could hold: those
        recorded for it and those in no digest, in id order."""
        yield from self.conn.execute(
            "SELECT a.id, a.content_hash FROM articles a WHERE NOT EXISTS (SELECT 1 FROM "
            "digest_items d WHERE d.article_id = a.id AND d.date <> ?) ORDER BY a.id",
            (date.isoformat(),),
        )

    def digest_dates_of(self, ids: Sequence[str]) -> dict[str, dt.date]:
        """For each id already in a digest, the earliest digest date it went into."""
        out: dict[str, dt.date] = {}
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            for row in self.conn.execute(
                f"SELECT article_id, MIN(date) FROM digest_items "
                f"WHERE article_id IN ({marks}) GROUP BY article_id",
                chunk,
            ):
                out[row[0]] = dt.date.fromisoformat(row[1])
        return out

    def digest_articles(self, date: dt.date) -> list[tuple[Article, dt.datetime]]:
        """The articles recorded in the digest of ``date`` (to rebuild it unchanged)."""
        rows = self.conn.execute(
            "SELECT a.data, a.first_seen FROM digest_items d JOIN articles a "
            "ON a.id = d.article_id WHERE d.date = ?",
            (date.isoformat(),),
        ).fetchall()
        return [(article_from_json(r[0]), dt.datetime.fromisoformat(r[1])) for r in rows]

    def record_digest(
        self,
        date: dt.date,
        article_ids: Sequence[str],
        *,
        title: str,
        summary: str,
        built_at: dt.datetime,
        problems: Sequence[FeedProblem] = (),
    ) -> None:
        """Remember which articles went into the digest of ``date`` (idempotent).

        A rebuild adds articles but keeps the first build time: the next digest's footer
        counts from it, so an evening rebuild nobody is mailed cannot use up its lines.
        """
        with self.transaction() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO digest_items (date, article_id) VALUES (?, ?)",
                [(date.isoformat(), i) for i in article_ids],
            )
            count = conn.execute(
                "SELECT COUNT(*) FROM digest_items WHERE date = ?", (date.isoformat(),)
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO digests (date, built_at, title, items, summary, problems) "
                "VALUES (?,?,?,?,?,?) "
                "ON CONFLICT(date) DO UPDATE SET built_at=digests.built_at, "
                "problems=excluded.problems, "
                "title=excluded.title, items=excluded.items, summary=excluded.summary",
                (
                    date.isoformat(),
                    _iso(built_at),
                    title,
                    count,
                    summary,
                    json.dumps([[p.feed, p.message, p.kind, _iso(p.since)] for p in problems]),
                ),
            )

    def digest_problems(self, date: dt.date) -> list[FeedProblem]:
        """The footer problems recorded with the digest of ``date`` (empty if none)."""
        row = self.conn.execute(
            "SELECT problems FROM digests WHERE date = ?", (date.isoformat(),)
        ).fetchone()
        if row is None:
            return []
        out = []
        for entry in json.loads(row[0]):
            feed, message, kind = entry[:3]
            since = _dt(entry[3]) if len(entry) > 3 else None
            out.append(FeedProblem(feed, message, kind, since))
        return out

    def previous_digest_at(self, date: dt.date) -> dt.datetime | None:
        """When the latest digest of a date before ``date`` was built, or None."""
        row = self.conn.execute(
            "SELECT built_at FROM digests WHERE date < ? ORDER BY date DESC LIMIT 1",
            (date.isoformat(),),
        ).fetchone()
        return None if row is None else dt.datetime.fromisoformat(row[0])

    def digest_record(self, date: dt.date) -> DigestRecord | None:
        """The digest recorded for ``date``, or None."""
        row = self.conn.execute(
            "SELECT * FROM digests WHERE date = ?", (date.isoformat(),)
        ).fetchone()
        return None if row is None else _digest_record(row)

    def latest_digest_date(self) -> dt.date | None:
        """The date of the latest digest recorded, or None."""
        row = self.conn.execute("SELECT MAX(date) FROM digests").fetchone()
        return None if row is None or row[0] is None else dt.date.fromisoformat(row[0])

    def delivery_begun(self, date: dt.date) -> bool:
        """Whether delivery of the digest of ``date`` has begun (it was sent, or a send found
        nothing to send): from then on the date is sealed."""
        row = self.conn.execute(
            "SELECT 1 FROM digests WHERE date = ? AND sealed_at IS NOT NULL "
            "UNION SELECT 1 FROM outbox WHERE date = ? LIMIT 1",
            (date.isoformat(), date.isoformat()),
        ).fetchone()
        return row is not None

    def seal_digest(self, date: dt.date, now: dt.datetime) -> None:
        """Mark that delivery of the digest of ``date`` has begun."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE digests SET sealed_at = COALESCE(sealed_at, ?) WHERE date = ?",
                (_iso(now), date.isoformat()),
            )

    def digests(self, limit: int = 366) -> list[DigestRecord]:
        """Built digests, newest first."""
        rows = self.conn.execute("SELECT * FROM digests ORDER BY date DESC LIMIT ?", (limit,))
        return [_digest_record(r) for r in rows]

    # -- caches ------------------------------------------------------------------------

    def get_summary(
        self, content_hash: str, method: str, sentences: int, language: str
    ) -> Summary | None:
        row = self.conn.execute(
            "SELECT data FROM summaries WHERE content_hash=? AND method=? AND sentences=? "
            "AND language=?",
            (content_hash, method, sentences, language),
        ).fetchone()
        if row is None:
            return None
        data = json.loads(row[0])
        return Summary(
            sentences=tuple(data["sentences"]),
            method=data["method"],
            language=data["language"],
            excerpt=bool(data.get("excerpt", False)),
        )

    def put_summaries(
        self,
        entries: Iterable[tuple[str, str, int, str, Summary]],
        now: dt.datetime,
    ) -> None:
        """Cache summaries: (content hash, variant, sentences, requested language, summary).

        The variant names the method and whatever else the summary depends on (the
        summariser's version, the word budget), so a change of either is never served a
        stale summary."""
        with self.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO summaries "
                "(content_hash, method, sentences, language, data, created_at) "
                "VALUES (?,?,?,?,?,?)",
                [
                    (
                        h,
                        variant,
                        n,
                        lang,
                        json.dumps(
                            {
                                "sentences": list(s.sentences),
                                "method": s.method,
                                "language": s.language,
                                "excerpt": s.excerpt,
                            },
                            ensure_ascii=False,
                        ),
                        _iso(now),
                    )
                    for h, variant, n, lang, s in entries
                ],
            )

    def get_page(self, url: str) -> PageRow | None:
        """The cached page of ``url`` (or the record that it could not be used), or None."""
        row = self.conn.execute(
            "SELECT fetched_at, data FROM pages WHERE url = ?", (url,)
        ).fetchone()
        if row is None:
            return None
        data = json.loads(row[1])
        fetched_at = dt.datetime.fromisoformat(row[0])
        if "failed_at" in data:
            return PageRow(
                url=url,
                fetched_at=fetched_at,
                page=None,
                failed_at=dt.datetime.fromisoformat(data["failed_at"]),
                error=data.get("error"),
            )
        image = data.get("image")
        return PageRow(
            url=url,
            fetched_at=fetched_at,
            page=ExtractedPage(
                title=data.get("title"),
                text=data.get("text", ""),
                language=data.get("language"),
                published=_dt(data.get("published")),
                image=Image(**image) if image else None,
                url=data.get("url"),
            ),
        )

    def put_page(self, url: str, page: ExtractedPage, now: dt.datetime) -> None:
        """Cache the extracted page of ``url``."""
        data = asdict(page)
        data["published"] = _iso(page.published)
        self._put_page(url, data, now)

    def put_page_failure(self, url: str, error: str, now: dt.datetime) -> None:
        """Remember that the page of ``url`` could not be used, and why."""
        self._put_page(url, {"failed_at": _iso(now), "error": error}, now)

    def _put_page(self, url: str, data: dict[str, Any], now: dt.datetime) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO pages (url, fetched_at, data) VALUES (?, ?, ?)",
                (url, _iso(now), json.dumps(data, ensure_ascii=False)),
            )

    # -- retention ---------------------------------------------------------------------

    def prune(self, now: dt.datetime, retention_days: int) -> int:
        """Drop articles no feed has listed for ``retention_days``, old caches and old
        outbox rows; vacuum weekly.

        Returns the number of articles removed. An article a feed still lists is kept with
        its digest record however old it is, so it is never sent again as new; articles of
        digests inside the window stay, so a recent digest can always be rebuilt.
        """
        cutoff = _iso(now - dt.timedelta(days=retention_days))
        cutoff_date = (now - dt.timedelta(days=retention_days)).date().isoformat()
        with self.transaction() as conn:
            removed = conn.execute(
                "DELETE FROM articles WHERE COALESCE(last_seen, first_seen) < ? AND NOT EXISTS "
                "(SELECT 1 FROM digest_items d WHERE d.article_id = articles.id "
                "AND d.date >= ?)",
                (cutoff, cutoff_date),
            ).rowcount
            conn.execute(
                "DELETE FROM digest_items WHERE NOT EXISTS "
                "(SELECT 1 FROM articles a WHERE a.id = digest_items.article_id)"
            )
            conn.execute("DELETE FROM summaries WHERE created_at < ?", (cutoff,))
            conn.execute("DELETE FROM pages WHERE fetched_at < ?", (cutoff,))
            conn.execute(
                "DELETE FROM outbox WHERE date < ? AND status IN ('sent', 'failed')",
                (cutoff_date,),
            )
        last = self.get_meta("last_vacuum")
        if last is None or _dt(last) is None or now - (_dt(last) or now) > dt.timedelta(days=7):
            self.conn.execute("VACUUM")
            self.set_meta("last_vacuum", _iso(now) or "")
        return removed

    # -- outbox ------------------------------------------------------------------------

    def outbox_add(
        self, date: dt.date, recipients: Iterable[str], message_id_for: Callable[[str], str]
    ) -> None:
        """Create a pending row per recipient unless one exists (then it is left alone)."""
        with self.transaction() as conn:
            for recipient in recipients:
                conn.execute(
                    "INSERT OR IGNORE INTO outbox (date, recipient, status, message_id) "
                    "VALUES (?, ?, 'pending', ?)",
                    (date.isoformat(), recipient, message_id_for(recipient)),
                )

    def outbox_force(
        self, date: dt.date, recipients: Iterable[str], message_id_for: Callable[[str], str]
    ) -> None:
        """Make rows pending again with a new Message-ID (a deliberate resend)."""
        with self.transaction() as conn:
            for recipient in recipients:
                conn.execute(
                    "INSERT INTO outbox (date, recipient, status, message_id) "
                    "VALUES (?, ?, 'pending', ?) ON CONFLICT(date, recipient) DO UPDATE SET "
                    "status='pending', message_id=excluded.message_id, permanent=0, "
                    "next_attempt=NULL, last_error=NULL, claimed_by=NULL, claimed_at=NULL",
                    (date.isoformat(), recipient, message_id_for(recipient)),
                )

    def outbox_retry_failed(self, date: dt.date) -> list[str]:
        """Make the permanently failed rows of ``date`` due again (same Message-ID: the
        message never got through); returns their recipients."""
        with self.transaction() as conn:
            rows = conn.execute(
                "SELECT recipient FROM outbox WHERE date = ? AND status = 'failed' "
                "AND permanent = 1",
                (date.isoformat(),),
            ).fetchall()
            conn.execute(
                "UPDATE outbox SET status = 'pending', permanent = 0, next_attempt = NULL "
                "WHERE date = ? AND status = 'failed' AND permanent = 1",
                (date.isoformat(),),
            )
        return [r[0] for r in rows]

    def outbox_claim(
        self, now: dt.datetime, owner: str, date: dt.date | None = None
    ) -> list[OutboxRow]:
        """Atomically mark every due row (:meth:`OutboxRow.due`) 'sending' for ``owner`` and
        return them. Two processes never claim the same row: the claim is one IMMEDIATE
        transaction."""
        with self.transaction() as conn:
            query = "SELECT * FROM outbox WHERE status != 'sent'"
            params: list[Any] = []
            if date is not None:
                query += " AND date = ?"
                params.append(date.isoformat())
            rows = [
                r
                for r in map(_outbox_row, conn.execute(query + " ORDER BY date, recipient", params))
                if r.due(now)
            ]
            for row in rows:
                conn.execute(
                    "UPDATE outbox SET status='sending', claimed_by=?, claimed_at=?, "
                    "attempts = attempts + 1 WHERE date=? AND recipient=?",
                    (owner, _iso(now), row.date.isoformat(), row.recipient),
                )
        claimed = {(row.date, row.recipient) for row in rows}
        return [r for r in self.outbox_rows(date) if (r.date, r.recipient) in claimed]

    def outbox_due_dates(self, now: dt.datetime) -> list[dt.date]:
        """Dates with an outbox row due now, oldest first."""
        return sorted({r.date for r in self.outbox_rows() if r.due(now)})

    def outbox_settled(self, date: dt.date, recipients: Sequence[str]) -> bool:
        """Whether every one of ``recipients`` has a row for ``date`` with nothing left to do."""
        rows = {r.recipient: r for r in self.outbox_rows(date)}
        return all(r in rows and rows[r].settled for r in recipients)

    def outbox_sent(self, date: dt.date, recipient: str, reply: str, now: dt.datetime) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET status='sent', reply=?, sent_at=?, last_error=NULL, "
                "next_attempt=NULL, claimed_by=NULL WHERE date=? AND recipient=?",
                (reply, _iso(now), date.isoformat(), recipient),
            )

    def outbox_failed(
        self,
        date: dt.date,
        recipient: str,
        error: str,
        *,
        permanent: bool,
        next_attempt: dt.datetime | None,
    ) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET status='failed', last_error=?, permanent=?, next_attempt=?, "
                "claimed_by=NULL WHERE date=? AND recipient=?",
                (error, int(permanent), _iso(next_attempt), date.isoformat(), recipient),
            )

    def outbox_rows(self, date: dt.date | None = None) -> list[OutboxRow]:
        """Outbox rows of ``date`` (by recipient), or of every date (newest first)."""
        if date is None:
            rows = self.conn.execute("SELECT * FROM outbox ORDER BY date DESC, recipient")
        else:
            rows = self.conn.execute(
                "SELECT * FROM outbox WHERE date = ? ORDER BY recipient", (date.isoformat(),)
            )
        return [_outbox_row(r) for r in rows.fetchall()]

    # -- process lock --------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, *, wait: bool = True) -> Iterator[None]:
        """An exclusive lock beside the state file, so two jobs never overlap.

        With ``wait=False`` a held lock raises LockError at once.
        """
        lock_path = Path(f"{self.path}.lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            flags = fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB)
            try:
                fcntl.flock(fd, flags)
            except BlockingIOError:
                raise LockError(
                    f"another digest process is using {self.path}; wait for it to finish"
                ) from None
            yield
        finally:
            os.close(fd)


def _digest_record(r: sqlite3.Row) -> DigestRecord:
    return DigestRecord(
        date=dt.date.fromisoformat(r["date"]),
        built_at=dt.datetime.fromisoformat(r["built_at"]),
        title=r["title"],
        items=r["items"],
        summary=r["summary"],
    )


def _outbox_row(r: sqlite3.Row) -> OutboxRow:
    return OutboxRow(
        date=dt.date.fromisoformat(r["date"]),
        recipient=r["recipient"],
        status=OutboxStatus(r["status"]),
        message_id=r["message_id"],
        attempts=r["attempts"],
        permanent=bool(r["permanent"]),
        next_attempt=_dt(r["next_attempt"]),
        last_error=r["last_error"],
        reply=r["reply"],
        sent_at=_dt(r["sent_at"]),
        claimed_by=r["claimed_by"],
        claimed_at=_dt(r["claimed_at"]),
    )


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def start_afresh(path: Path, now: dt.datetime) -> Path | None:
    """An empty state database at ``path``, on purpose (`digest state new`); the one it
    replaces is kept beside it. Returns where the old one went, if there was one."""
    aside = backup.set_aside(path, now)
    with Store(path):
        pass
    return aside


def open_state(config: Config, *, read_only: bool = False) -> Store:
    """The state file of ``config``; a missing one is refused while ``output.dir`` holds
    past digests (see :class:`Store`)."""
    if read_only:
        return open_store(config.state, read_only=True)
    return Store(config.state, output_dir=config.output.dir)


def open_store(path: Path, *, read_only: bool = False) -> Store:
    """Open the state file; ``read_only`` (dry runs) works on a throw-away copy if it exists.

    A dry run must change nothing, not even a migration, so it reads a private copy of the
    database. It needs only read access: a database in a folder this user cannot write
    (where SQLite cannot create the WAL index) is read as immutable. The copy is a file in
    the temporary folder, removed on close, not memory: the state of a thousand feeds runs
    to hundreds of megabytes, and a preview must not hold it all (in memory when no
    temporary folder can be written).
    """
    if not read_only:
        return Store(path)
    if not path.exists():
        return Store(":memory:", backups=False)
    store = _scratch_store()
    uri = f"file:{urllib.parse.quote(str(path.resolve()))}?mode=ro"
    try:
        try:
            _copy_into(uri, store)
        except sqlite3.OperationalError as exc:
            if not _is_readonly(exc):
                raise
            _copy_into(uri + "&immutable=1", store)
        store._migrate()
    except sqlite3.DatabaseError as exc:
        store.close()
        if _is_readonly(exc):
            raise StoreError(
                f"{path}: the state database cannot be read by this user ({exc}); "
                "give this user read access to it and its folder"
            ) from None
        raise StoreError(
            f"{path}: the state database is damaged ({exc}); {backup.advice(path)}"
        ) from None
    return store


SCRATCH_PREFIX = "digest-dry-run-"


def _scratch_store() -> Store:
    _sweep_scratch()
    try:
        folder = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-"))
    except OSError:
        return Store(":memory:", backups=False)
    try:
        store = Store(folder / "state.sqlite", backups=False)
    except StoreError:
        shutil.rmtree(folder, ignore_errors=True)
        return Store(":memory:", backups=False)
    store._scratch = folder
    # A throw-away copy needs no crash safety: without a journal the copy is written once
    # (in WAL mode every page went through the log too: four times slower).
    store.conn.execute("PRAGMA journal_mode=OFF")
    store.conn.execute("PRAGMA synchronous=OFF")
    return store


def _sweep_scratch() -> None:
    """Remove the scratch copies of dry runs that were killed (kill -9 skips close), so a
    preview server stopped hard leaves no state copy behind for long: each folder is named
    after its process, and this user's folders whose process is gone are removed."""
    try:
        folders = list(Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*"))
    except OSError:
        return
    for folder in folders:
        pid = folder.name.removeprefix(SCRATCH_PREFIX).partition("-")[0]
        try:
            mine = folder.stat().st_uid == os.getuid()
        except OSError:
            continue
        if mine and pid.isdigit() and not _pid_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _copy_into(uri: str, store: Store) -> None:
    source = sqlite3.connect(uri, uri=True)
    try:
        source.backup(store.conn)
    finally:
        source.close()


def _is_readonly(exc: sqlite3.Error) -> bool:
    """SQLite's ways of saying the file or its folder cannot be written (or read)."""
    text = str(exc).lower()
    return any(words in text for words in ("readonly", "read-only", "unable to open"))


def _unwritable(path: Path, reason: str) -> str:
    where = "" if str(path) in reason else f"{path}: "
    return (
        f"cannot write the state database: {where}{reason}; make it writable for this user "
        "or set state: in config.yaml to another path"
    )


def _write_error(
    path: Path, exc: sqlite3.OperationalError
) -> sqlite3.OperationalError | StoreError:
    """A StoreError for a write SQLite refused for lack of permission or space; any other
    OperationalError (a lock held too long) is returned unchanged, to be raised as it is."""
    if _is_readonly(exc):
        return StoreError(_unwritable(path, str(exc)))
    if "full" in str(exc).lower():
        return StoreError(f"{path}: the state database cannot grow ({exc}); free some disk space")
    return exc
