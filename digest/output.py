"""The files a build writes: <date>.html and <date>.txt (the email's two parts), and the
archive of past digests, index.html and its Atom feed feed.xml.

Every file is written atomically (a temporary file in the same folder, then a rename), so a
reader, a mail client or a web server sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import tempfile
import unicodedata
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from digest import i18n
from digest.config import Config
from digest.errors import DigestError
from digest.models import Digest
from digest.render import (
    ARCHIVE_TEMPLATE,
    ATOM_TEMPLATE,
    RenderedDigest,
    render_template,
)
from digest.sanitize import display_text, safe_url
from digest.store import DigestRecord

# --- the archive page and the Atom feed of past digests ---------------------------------


@dataclass(frozen=True)
class ArchiveEntry:
    """One past digest as listed in ``index.html`` and ``feed.xml``.

    ``href`` is relative to the archive (``"2026-11-26.html"``); ``summary`` lists the top
    headlines. ``updated`` defaults to midnight UTC of ``date`` in the Atom feed.
    """

    date: dt.date
    title: str
    href: str
    items: int
    summary: str
    updated: dt.datetime | None = None


def _entries_newest_first(entries: Sequence[ArchiveEntry]) -> list[ArchiveEntry]:
    return sorted(entries, key=lambda e: e.date, reverse=True)


def _safe_href(href: str) -> str | None:
    """A relative archive link (``2026-11-26.html``) or an absolute http(s) URL."""
    href = href.strip()
    if re.fullmatch(r"[A-Za-z0-9._\-/]+", href) and not href.startswith(("/", ".")):
        return href
    return safe_url(href)


def render_archive(
    entries: Sequence[ArchiveEntry],
    *,
    title: str,
    language: str,
    templates_dir: Path | None = None,
) -> str:
    """``index.html``: the past digests, newest first, with a link to ``feed.xml``."""
    rows = [
        {
            "date": e.date,
            "date_long": i18n.long_date(e.date, language),
            "title": display_text(e.title),
            "href": _safe_href(e.href),
            "count": i18n.plural(language, "items_count", e.items),
            "summary": display_text(e.summary),
        }
        for e in _entries_newest_first(entries)
    ]
    context = {
        "title": display_text(title),
        "language": i18n.valid_tag(language) or i18n.DEFAULT_LANGUAGE,
        "dir": i18n.text_direction(language),
        "entries": rows,
        "labels": i18n.labels(language),
    }
    return render_template(ARCHIVE_TEMPLATE, templates_dir, context)


def _rfc3339(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _authority(base_url: str | None) -> str:
    url = safe_url(base_url)
    host = urllib.parse.urlsplit(url).hostname if url else None
    return host or "digest.invalid"


def _slug(value: str) -> str:
    text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "digest"


def render_atom(
    entries: Sequence[ArchiveEntry],
    *,
    title: str,
    base_url: str | None,
    updated: dt.datetime,
) -> str:
    """``feed.xml``: an Atom 1.0 feed of the digests, newest first.

    Entry ids are tag: URIs made of the site's host (``digest.invalid`` without ``base_url``),
    the digest's date and a slug of the title, so they are stable across rebuilds.
    """
    base = safe_url(base_url)
    if base is not None and not base.endswith("/"):
        base += "/"
    authority = _authority(base)
    slug = _slug(display_text(title))

    def absolute(href: str) -> str | None:
        link = _safe_href(href)
        if link is None or base is None:
            return link
        return urllib.parse.urljoin(base, link)

    rows = [
        {
            "id": f"tag:{authority},{e.date.isoformat()}:{slug}",
            "title": f"{display_text(e.title)} — {e.date.isoformat()}",
            "href": absolute(e.href),
            "updated": _rfc3339(
                e.updated or dt.datetime.combine(e.date, dt.time(0), tzinfo=dt.UTC)
            ),
            "summary": display_text(e.summary),
        }
        for e in _entries_newest_first(entries)
    ]
    context = {
        "title": display_text(title),
        "feed_id": (base + "feed.xml") if base else f"tag:{authority},2024-01-01:{slug}",
        "self_href": (base + "feed.xml") if base else None,
        "site_href": base,
        "updated": _rfc3339(updated),
        "entries": rows,
    }
    return render_template(ATOM_TEMPLATE, None, context)


# --- writing ---------------------------------------------------------------------------


@functools.cache
def _umask() -> int:
    # Read once, when first needed: the only way to read the umask is to set it.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` so readers see the old file or the new one, never half of one.

    Raises DigestError (one line) when the folder cannot be created or written, or the
    disk is full; the old file is then left as it was.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise DigestError(
            f"{path.parent}: cannot write there ({exc.strerror}); "
            "choose another output.dir or --out"
        ) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            # mkstemp makes the file private; a published digest gets the usual permissions.
            os.fchmod(handle.fileno(), 0o666 & ~_umask())
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise DigestError(f"{path}: cannot write it ({exc.strerror})") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class Written:
    """The paths of a digest's two parts."""

    html: Path
    text: Path


def _archive_entries(records: Iterable[tuple[dt.date, str, int, str]]) -> list[ArchiveEntry]:
    return [
        ArchiveEntry(date=d, title=t, href=f"{d.isoformat()}.html", items=n, summary=s)
        for d, t, n, s in sorted(records, key=lambda r: r[0], reverse=True)
    ]


def headline_summary(digest: Digest) -> str:
    """The archive's one-line summary of a digest: its first three headlines."""
    return " · ".join(item.article.title for item in digest.items[:3])


def write_parts(digest: Digest, rendered: RenderedDigest, out: Path) -> Written:
    """Write only <date>.html and <date>.txt into ``out`` (a dry run's preview)."""
    html_path = out / f"{digest.date.isoformat()}.html"
    text_path = out / f"{digest.date.isoformat()}.txt"
    write_atomic(html_path, rendered.html)
    write_atomic(text_path, rendered.text)
    return Written(html_path, text_path)


def write_outputs(
    config: Config,
    digest: Digest,
    rendered: RenderedDigest,
    *,
    past: Iterable[DigestRecord],
    out_dir: Path | None = None,
) -> Written:
    """Write <date>.html, <date>.txt, index.html and feed.xml into ``out_dir`` (default
    ``output.dir``). ``past`` are the digests recorded so far; those with a page in the
    folder are listed in the archive."""
    out = out_dir or config.output.dir
    written = write_parts(digest, rendered, out)
    records = {
        r.date: (r.date, r.title, r.items, r.summary)
        for r in past
        if (out / f"{r.date.isoformat()}.html").exists()
    }
    records[digest.date] = (digest.date, digest.title, len(digest.items), headline_summary(digest))
    entries = _archive_entries(records.values())
    archive = render_archive(
        entries, title=config.title, language=config.language, templates_dir=config.templates_dir
    )
    write_atomic(out / "index.html", archive)
    write_atomic(
        out / "feed.xml",
        render_atom(entries, title=config.title, base_url=None, updated=digest.generated_at),
    )
    return written
