"""Subscription lists in OPML: read (listparser) and write (stdlib), for `digest feeds`."""

from __future__ import annotations

from pathlib import Path

import listparser

from digest.errors import ConfigError
from digest.models import FeedSource


def read_opml(path: Path) -> list[FeedSource]:
    """Every http(s) feed in an OPML file, with its title and first category as section."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"feeds_file: cannot read {path} ({exc.strerror})") from None
    result = listparser.parse(data)
    sources: list[FeedSource] = []
    for feed in result.feeds:
        url = str(feed.url or "").strip()
        if not url.lower().startswith(("http://", "https://")):
            continue
        categories = [c for c in feed.categories if c and c[0]]
        sources.append(
            FeedSource(
                url=url,
                name=str(feed.title).strip() or None if feed.title else None,
                category=categories[0][-1] if categories else None,
            )
        )
    return sources
