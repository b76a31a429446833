"""What `digest check` looks at: every feed as a build would read it, the mail transport and
the state database, each reported as a build or a send would report it.

Nothing here writes: feeds are fetched without validators and parsed, the state database is
opened read-only (never created or migrated), the sendmail binary is only looked at.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from digest.config import Config
from digest.models import utc_now
from digest.writable import file_problem


@dataclass(frozen=True)
class FeedCheck:
    """One feed as a build would see it.

    ``where`` is its place in the config (``feeds[2]`` or ``feeds_file (URL)``), ``name`` the
    configured ``name:``, else the feed's own title, else its URL or path. ``error`` is set
    when nothing could be read; ``warnings`` are what a build would warn about.
    """

    where: str
    name: str
    entries: int = 0
    error: str | None = None
    warnings: tuple[str, ...] = ()


def check_feeds(config: Config, *, now: dt.datetime | None = None) -> list[FeedCheck]:
    """Read every feed once as a build would (the same address rules, discovery, parsing),
    recording nothing; raises ConfigError when the feeds_file is broken."""
    from digest.pipeline import make_http
    from digest.sources.intake import probe_feeds

    sources = config.feed_sources()
    with make_http(config) as http:
        probes = probe_feeds(
            sources, http=http, allow_private=config.fetch.allow_private, now=now or utc_now()
        )
    checks: list[FeedCheck] = []
    for index, probe in enumerate(probes):
        source = probe.source
        where = f"feeds[{index}]" if index < len(config.feeds) else f"feeds_file ({source.key})"
        parsed = probe.parsed
        if parsed is None:
            checks.append(FeedCheck(where, source.name or source.label, error=probe.error))
            continue
        warnings = [p.message for p in parsed.problems]
        if probe.result.discovered_from:
            # The same words a build puts in the digest's footer.
            warnings.append(
                f"{probe.result.discovered_from} is a web page; reading its feed "
                f"{probe.result.url} instead (put that URL in the config)"
            )
        name = source.name or parsed.title or source.label
        checks.append(FeedCheck(where, name, len(parsed.articles), None, tuple(warnings)))
    return checks


def check_mail(config: Config) -> list[str]:
    """Mistakes in ``email:`` that only show when mail is sent: a sendmail binary that is not
    there or not executable, an SMTP password variable that is not set."""
    email = config.email
    if email is None:
        return []
    problems: list[str] = []
    if email.sendmail is not None:
        path = email.sendmail
        if not path.exists():
            problems.append(
                f"email.sendmail: {path} does not exist; install a mail transfer agent "
                "(one that provides sendmail) or fix the path"
            )
        elif path.is_dir() or not os.access(path, os.X_OK):
            problems.append(
                f"email.sendmail: {path} is not an executable file; fix the path or its "
                "permissions (chmod +x)"
            )
    smtp = email.smtp
    if smtp is not None and smtp.username is not None and smtp.password_env not in os.environ:
        problems.append(
            f"email.smtp.password_env: the environment variable {smtp.password_env} is not "
            f"set; export it with the SMTP password for {smtp.username}"
        )
    return problems


def check_state(path: Path) -> list[str]:
    """Why the state database at ``path`` would stop a build or a send, read-only: it must
    be a SQLite database of a schema this digest knows, and writable (or creatable)."""
    from digest import schema

    problems: list[str] = []
    writable = file_problem(path)
    if writable is not None:
        problems.append(
            f"state: {writable}; make it writable for this user or set state: to another "
            "path (builds and sends record what they did there)"
        )
    if not path.is_file():
        return problems
    try:
        version = _schema_version(path)
    except sqlite3.DatabaseError as exc:
        problems.append(
            f"state: {path} is not a usable digest database ({exc}); move it aside and "
            "digest starts a new one"
        )
        return problems
    known = len(schema.MIGRATIONS)
    if version > known:
        problems.append(
            f"state: {path} was written by a newer digest (schema {version}, this one knows "
            f"{known}); upgrade digest"
        )
    return problems


def _schema_version(path: Path) -> int:
    quoted = urllib.parse.quote(str(path.resolve()))
    try:
        return _read_version(f"file:{quoted}?mode=ro")
    except sqlite3.OperationalError as exc:
        # A WAL database needs its -shm file, which a read-only folder cannot hold; reading
        # it as immutable still tells whether it is a database digest can use.
        if "readonly" not in str(exc) and "unable to open" not in str(exc):
            raise
        return _read_version(f"file:{quoted}?mode=ro&immutable=1")


def _read_version(uri: str) -> int:
    conn = sqlite3.connect(uri, uri=True)
    try:
        # Reading the schema makes SQLite look at the file: "file is not a database" here.
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        version: int = conn.execute("PRAGMA user_version").fetchone()[0]
        return version
    finally:
        conn.close()
