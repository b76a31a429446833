"""Article identity: one story is one article across fetches, edits, days and feeds.

1. The entry's link (feedburner's original link when given), canonicalised
   (:func:`canonical_url`): scheme ``https``, host lower-cased without ``www.``, default port,
   fragment and tracking parameters (``utm_*``, ``fbclid``, ``gclid``, ``mc_cid`` ...)
   dropped. A link is only used when no other entry of the same feed has it (some feeds
   point every entry at their home page); the same article reached through two feeds
   therefore gets one id, and an edit of its text keeps it.
2. Else the guid: canonicalised like a link when it is an http(s) URL, otherwise prefixed
   with the feed's key (``<feed key>#<guid>``), because bare guids such as ``123`` are only
   unique within their feed.
3. Else ``sha256:`` of title and text.

Across days (:func:`reused_links`): a link a feed gave an earlier entry and now gives a new
one (a new guid, other words: a picture of the day) is no identity either; the new entry
takes its guid.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections import Counter
from collections.abc import Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from digest.models import Article
from digest.store import Store

_TRACKING_EXACT = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "msclkid",
        "yclid",
        "twclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "wt_mc",
        "wt.mc_id",
        "wt_zmc",
        "at_medium",
        "at_campaign",
        "at_custom1",
        "at_custom2",
        "at_custom3",
        "at_custom4",
        "ocid",
        "cmpid",
        "ncid",
        "s_cid",
        "sr_share",
        "soc_src",
        "soc_trk",
        "ref_src",
        "ref_url",
        "__twitter_impression",
        "_ga",
        "_gl",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "rb_clickid",
    }
)
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_")


_WS = re.compile(r"\s+")


def _is_http(url: str) -> bool:
    return bool(re.match(r"^https?://[^\s/?#]+", url, re.IGNORECASE))


def _one_line(text: str) -> str:
    return _WS.sub(" ", text).strip()


def _is_tracking(name: str) -> bool:
    low = name.lower()
    return low in _TRACKING_EXACT or low.startswith(_TRACKING_PREFIXES)


def clean_link(url: str) -> str:
    """``url`` without tracking parameters, with a lower-cased host; fragment kept.

    Anything that is not an absolute http(s) URL is returned unchanged (stripped).
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return url
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port is not None and not (
        (scheme == "http" and port == 80) or (scheme == "https" and port == 443)
    ):
        host = f"{host}:{port}"
    if parts.username or parts.password:
        auth = parts.username or ""
        if parts.password:
            auth += f":{parts.password}"
        host = f"{auth}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        kept = [(k, v) for k, v in pairs if not _is_tracking(k)]
        if len(kept) != len(pairs):
            query = urlencode(kept, doseq=True)
    return urlunsplit((scheme, host, parts.path or "/", query, parts.fragment))


def canonical_url(url: str) -> str:
    """The identity form of a link: see the module docstring, rule 1."""
    cleaned = clean_link(url)
    parts = urlsplit(cleaned)
    if parts.scheme not in ("http", "https"):
        return cleaned
    host = parts.netloc
    if host.startswith("www."):
        host = host[4:]
    return urlunsplit(("https", host, parts.path or "/", parts.query, ""))


def guid_id(guid: str, feed_key: str) -> str:
    """An article id from a feed's guid: a canonical URL, or ``<feed key>#<guid>``."""
    guid = guid.strip()
    if _is_http(guid):
        return canonical_url(guid)
    return f"{feed_key}#{guid}"


def _hash_id(title: str, text: str) -> str:
    digest = hashlib.sha256(f"{_one_line(title)}\n{_one_line(text)}".encode()).hexdigest()
    return f"sha256:{digest}"


def assign_ids(
    entries: Sequence[tuple[str | None, str | None, str, str]], feed_key: str
) -> list[str]:
    """The ids of one feed's entries, each ``(link, guid, title, text)``, by the rules above;
    a link two entries of the feed share is not an identity."""
    canon = [canonical_url(link) if link and _is_http(link) else None for link, *_ in entries]
    counts = Counter(c for c in canon if c)
    ids: list[str] = []
    for (_, guid, title, text), link in zip(entries, canon, strict=True):
        if link and counts[link] == 1:
            ids.append(link)
        elif guid:
            ids.append(guid_id(guid, feed_key))
        elif link:
            # A shared link and no guid: only content tells these entries apart.
            ids.append(_hash_id(title, link + "\n" + text))
        else:
            ids.append(_hash_id(title, text))
    return ids


def _same_story(old: Article, new: Article) -> bool:
    """An edit of one entry (same headline, mostly the same words), not another entry."""
    if " ".join(old.title.casefold().split()) != " ".join(new.title.casefold().split()):
        return False
    before, after = set(old.text.casefold().split()), set(new.text.casefold().split())
    return not (before or after) or len(before & after) / len(before | after) >= 0.5


def reused_links(articles: list[Article], store: Store) -> list[Article]:
    """A link is an article's identity only while it names one entry. A feed that gives a
    new entry (a new guid, other words) the link an earlier entry had, as a picture of the
    day does, has reused it: the new entry takes its guid as its identity instead."""
    by_link = [a for a in articles if a.guid and a.link and a.id == canonical_url(a.link)]
    stored = store.articles_by_id([a.id for a in by_link])
    out = []
    for article in articles:
        old = stored.get(article.id)
        if (
            old is not None
            and article.guid
            and old.feed_key == article.feed_key
            and old.guid not in (None, article.guid)
            and not _same_story(old, article)
        ):
            new_id = guid_id(article.guid, article.feed_key)
            if new_id == article.id:  # a guid that is the link plus a #fragment
                new_id = f"{article.feed_key}#{article.guid}"
            article = dataclasses.replace(article, id=new_id)
        out.append(article)
    return out
