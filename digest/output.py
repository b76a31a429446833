"""The files a build writes: <date>.html, <date>.txt, the archive index.html and feed.xml.

Every file is written atomically (a temporary file in the same folder, then a rename), so a
reader, a mail client or a web server sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from digest.config import Config
from digest.errors import DigestError
from digest.models import Digest
from digest.render import ArchiveEntry, RenderedDigest, render_archive, render_atom
from digest.store import DigestRecord


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
