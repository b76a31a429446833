"""The state's safety net: rolling backups, restoring one, and refusing to start afresh by
accident.

The state remembers which articles were mailed. Lose it and every article still listed is
sent again, so: a backup (SQLite's online backup API, which copies a consistent snapshot
while others read) is taken before each schema migration and once a day, after a quick
integrity check so a damaged database never overwrites a good backup; the newest
``KEEP`` are kept beside the state file in ``<state>.backups/``. A damaged or missing state
file is an error that names the newest backup and the command that restores it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
import os
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from digest.errors import StoreError

log = logging.getLogger(__name__)

KEEP = 7
DAILY = dt.timedelta(days=1)
_DIGEST_PAGE = re.compile(r"^\d{4}-\d{2}-\d{2}\.html$")


@dataclass(frozen=True)
class Backup:
    path: Path
    taken_at: dt.datetime


def folder(state: Path) -> Path:
    """Where the backups of ``state`` live."""
    return state.parent / f"{state.name}.backups"


def backups(state: Path) -> list[Backup]:
    """The backups of ``state``, newest first."""
    where = folder(state)
    if not where.is_dir():
        return []
    found = []
    for path in where.glob("*.sqlite"):
        stamp = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
        found.append(Backup(path, stamp))
    return sorted(found, key=lambda b: b.taken_at, reverse=True)


def take(conn: sqlite3.Connection, state: Path, now: dt.datetime, reason: str) -> Path | None:
    """Copy the open database ``conn`` of ``state`` into a new backup; keep the newest KEEP.

    One process at a time (another one taking a backup now makes this a no-op); a backup
    that cannot be written (a full disk) is logged and skipped, never a reason to stop.
    """
    where = folder(state)
    try:
        where.mkdir(parents=True, exist_ok=True)
        with _exclusive(where) as mine:
            if not mine:
                return None
            target = where / f"{state.stem}-{now.strftime('%Y%m%dT%H%M%S')}-{reason}.sqlite"
            fd, name = tempfile.mkstemp(dir=where, suffix=".tmp")
            os.close(fd)
            try:
                dest = sqlite3.connect(name)
                try:
                    conn.backup(dest)
                finally:
                    dest.close()
                Path(name).replace(target)
            finally:
                Path(name).unlink(missing_ok=True)
            for old in backups(state)[KEEP:]:
                old.path.unlink(missing_ok=True)
            return target
    except (OSError, sqlite3.OperationalError) as exc:
        log.warning("could not back up %s (%s); digest goes on without it", state, exc)
        return None


@contextlib.contextmanager
def _exclusive(where: Path) -> Iterator[bool]:
    fd = os.open(where / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def daily(conn: sqlite3.Connection, state: Path, now: dt.datetime) -> Path | None:
    """A backup when the newest is a day old (or none exists), after an integrity check
    (a damaged database raises sqlite3.DatabaseError and never overwrites a good backup)."""
    newest = backups(state)
    if newest and now - newest[0].taken_at < DAILY:
        return None
    verdict = conn.execute("PRAGMA quick_check").fetchone()
    if verdict is None or verdict[0] != "ok":
        raise sqlite3.DatabaseError(f"integrity check failed: {verdict[0] if verdict else '?'}")
    return take(conn, state, now, "daily")


def past_digests(output_dir: Path | None) -> int:
    """How many digest pages (<date>.html) the output folder holds."""
    if output_dir is None or not output_dir.is_dir():
        return 0
    return sum(1 for p in output_dir.iterdir() if _DIGEST_PAGE.match(p.name))


def advice(state: Path) -> str:
    """What to do about a damaged or missing state: restore the newest backup, if any."""
    newest = backups(state)
    if newest:
        when = newest[0].taken_at.strftime("%Y-%m-%d %H:%M UTC")
        return f"`digest state restore` puts back the backup of {when} ({newest[0].path.name})"
    return (
        "no backup exists; `digest state new` starts afresh (every article the feeds still "
        "list will count as new)"
    )


def refuse_fresh_start(state: Path, output_dir: Path | None) -> None:
    """Raise StoreError when ``state`` is missing or empty but digests were made before:
    starting afresh would mail their articles again."""
    if state.exists() and state.stat().st_size > 0:
        return
    count = past_digests(output_dir)
    if count:
        what = "is empty" if state.exists() else "does not exist"
        raise StoreError(
            f"{state} {what}, but {output_dir} holds {count} past digest"
            f"{'s' if count != 1 else ''}, and starting afresh would send their articles again; "
            + advice(state)
        )


def restore(state: Path, chosen: Path | None, now: dt.datetime) -> Path:
    """Put a backup (the newest, or ``chosen``) in place of ``state``; the state it replaces
    is kept beside it as ``<state>.replaced-<time>``. Returns the backup used."""
    available = backups(state)
    source = chosen or (available[0].path if available else None)
    if source is None or not source.is_file():
        raise StoreError(f"{source or folder(state)}: no backup to restore")
    check = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        verdict = check.execute("PRAGMA quick_check").fetchone()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{source}: this backup is damaged too ({exc})") from None
    finally:
        check.close()
    if verdict is None or verdict[0] != "ok":
        raise StoreError(f"{source}: this backup is damaged too; choose another")
    set_aside(state, now)
    tmp = state.with_name(state.name + ".restoring")
    shutil.copyfile(source, tmp)
    tmp.replace(state)
    return source


def set_aside(state: Path, now: dt.datetime) -> Path | None:
    """Move ``state`` (and its WAL files) out of the way; returns where it went."""
    if not state.exists():
        return None
    aside = state.with_name(f"{state.name}.replaced-{now.strftime('%Y%m%dT%H%M%S')}")
    state.replace(aside)
    for suffix in ("-wal", "-shm"):
        extra = state.with_name(state.name + suffix)
        if extra.exists():
            extra.replace(aside.with_name(aside.name + suffix))
    return aside
