"""The state database's schema, as numbered migrations: each one runs once, in order, in a
transaction (see Store._migrate), and a backup is taken before any of them runs on an
existing file. Add new steps at the end; never edit one that has shipped.
"""

from __future__ import annotations

import email.utils
import sqlite3
from collections.abc import Callable


def _normalise_outbox(conn: sqlite3.Connection) -> None:
    """Migration 5: the outbox keys on the mailbox (bare address, lower case), not on the
    text as written, so ``Reader <A@X.test>`` and ``a@x.test`` are one delivery. Where two
    rows of one date name one mailbox, the one furthest along is kept."""
    rank = {"sent": 0, "sending": 1, "failed": 2, "pending": 3}
    groups: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for date, recipient, status in conn.execute("SELECT date, recipient, status FROM outbox"):
        mailbox = (email.utils.parseaddr(recipient)[1] or recipient).strip().lower()
        groups.setdefault((date, mailbox), []).append((rank.get(status, 9), recipient))
    for (date, mailbox), rows in groups.items():
        rows.sort()
        for _, recipient in rows[1:]:
            conn.execute("DELETE FROM outbox WHERE date = ? AND recipient = ?", (date, recipient))
        conn.execute(
            "UPDATE outbox SET recipient = ? WHERE date = ? AND recipient = ?",
            (mailbox, date, rows[0][1]),
        )


MIGRATIONS: tuple[str | Callable[[sqlite3.Connection], None], ...] = (
    # 1: the first schema.
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE feeds (
        key TEXT PRIMARY KEY,
        url TEXT,
        title TEXT,
        etag TEXT,
        last_modified TEXT,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        last_success TEXT,
        last_error TEXT,
        failing_since TEXT,
        next_attempt TEXT,
        disabled INTEGER NOT NULL DEFAULT 0,
        reported TEXT,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE articles (
        id TEXT PRIMARY KEY,
        feed_key TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX articles_first_seen ON articles (first_seen);
    CREATE TABLE digest_items (
        date TEXT NOT NULL,
        article_id TEXT NOT NULL,
        PRIMARY KEY (date, article_id)
    );
    CREATE INDEX digest_items_article ON digest_items (article_id);
    CREATE TABLE digests (
        date TEXT PRIMARY KEY,
        built_at TEXT NOT NULL,
        title TEXT NOT NULL,
        items INTEGER NOT NULL,
        summary TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE summaries (
        content_hash TEXT NOT NULL,
        method TEXT NOT NULL,
        sentences INTEGER NOT NULL,
        language TEXT NOT NULL,
        data TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (content_hash, method, sentences, language)
    );
    CREATE TABLE pages (
        url TEXT PRIMARY KEY,
        fetched_at TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE TABLE outbox (
        date TEXT NOT NULL,
        recipient TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
        message_id TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        permanent INTEGER NOT NULL DEFAULT 0,
        next_attempt TEXT,
        last_error TEXT,
        reply TEXT,
        sent_at TEXT,
        claimed_by TEXT,
        claimed_at TEXT,
        PRIMARY KEY (date, recipient)
    );
    """,
    # 2: when a feed last listed each article. Retention prunes on it, so an entry a feed
    # keeps listing for months is never forgotten and sent again as new.
    """
    ALTER TABLE articles ADD COLUMN last_seen TEXT;
    UPDATE articles SET last_seen = first_seen;
    CREATE INDEX articles_last_seen ON articles (last_seen);
    """,
    # 3: when a feed recovered or was disabled, so each digest reports what changed since
    # the previous digest, whatever `digest fetch` or on-demand builds ran in between.
    """
    ALTER TABLE feeds ADD COLUMN recovered_at TEXT;
    ALTER TABLE feeds ADD COLUMN disabled_at TEXT;
    """,
    # 4: a feed's parse warning and since when (said once per digest, like failures), and
    # the footer problems of each digest (a resend of a date shows what the others got).
    """
    ALTER TABLE feeds ADD COLUMN warning TEXT;
    ALTER TABLE feeds ADD COLUMN warned_at TEXT;
    ALTER TABLE digests ADD COLUMN problems TEXT NOT NULL DEFAULT '[]';
    """,
    # 5: outbox rows keyed on the normalised address.
    _normalise_outbox,
    # 6: when delivery of a digest began (even one with nothing to send): from then on the
    # date is sealed, and a later build of it shows what was mailed.
    """
    ALTER TABLE digests ADD COLUMN sealed_at TEXT;
    UPDATE digests SET sealed_at = built_at
        WHERE EXISTS (SELECT 1 FROM outbox o WHERE o.date = digests.date);
    """,
    # 7: a feed's articles by when it last listed them: an unchanged feed marks what it
    # still lists with one index seek, not a scan of every article (1,000 unchanged feeds
    # cost 22 s of a build without it).
    """
    CREATE INDEX articles_feed_seen ON articles (feed_key, last_seen);
    """,
)
