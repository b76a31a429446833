"""Read feeds politely: local files from disk, http(s) through the one HTTP layer.

Never parses: a body is bytes for :mod:`digest.sources.feeds`. Every failure of one feed
becomes a :class:`FetchResult` whose ``error`` is one line saying what to do; nothing here
raises for a single feed. Politeness lives in :class:`digest.sources.http.Http` (User-Agent,
per-host limit, deadline, size cap, redirects with the address guard on every hop); here
are the feed-specific parts: conditional GET (ETag / Last-Modified), what each HTTP status
means for a feed, Retry-After and back-off.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import ipaddress
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from http import HTTPStatus

from digest.errors import FetchError
from digest.models import FeedSource, FetchResult, utc_now
from digest.sources.http import Http, fetch_by_host, host_of
from digest.sources.netguard import is_public_ip

log = logging.getLogger(__name__)

ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/rdf+xml;q=0.9, application/xml;q=0.9, text/xml;q=0.9, "
    "application/json;q=0.8, text/html;q=0.5, */*;q=0.1"
)
BACKOFF_BASE = dt.timedelta(hours=1)
BACKOFF_CAP = dt.timedelta(hours=24)

Validators = Mapping[str, tuple[str | None, str | None]]


def backoff_delay(consecutive_failures: int, retry_after_s: float | None) -> dt.timedelta:
    """How long to leave a failing feed alone: 1 h doubling per failure, capped at 24 h,
    never shorter than the server's Retry-After. Zero failures and no Retry-After: zero."""
    delay = dt.timedelta(0)
    if consecutive_failures > 0:
        steps = min(consecutive_failures - 1, 10)
        delay = min(BACKOFF_BASE * (2**steps), BACKOFF_CAP)
    if retry_after_s is not None and retry_after_s > 0:
        # A server may ask for a longer pause than our cap; a week is the sane limit.
        delay = max(delay, dt.timedelta(seconds=min(retry_after_s, 7 * 24 * 3600)))
    return delay


def parse_retry_after(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date; None when absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    now = now or utc_now()
    return max(0.0, (when - now).total_seconds())


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown Status"


def _status_error(status: int, retry_after: float | None) -> str:
    head = f"HTTP {status} {_reason(status)}"
    if status == 410:
        return f"{head}: the publisher removed this feed; remove it from your feeds"
    if status in (429, 503):
        wait = f" asks to wait {retry_after:.0f} s;" if retry_after is not None else " is busy;"
        return f"{head}: the server{wait} digest backs off and retries later"
    if status in (401, 403):
        return f"{head}: the server refuses access; check the URL or whether the feed needs a login"
    if status == 404:
        return f"{head}: check the URL or remove the feed"
    if status >= 500:
        return f"{head}: the server failed; digest retries later (remove the feed if it persists)"
    return f"{head}: check the URL or remove the feed"


def fetch_url(
    http: Http,
    url: str,
    *,
    source: FeedSource | None = None,
    validators: tuple[str | None, str | None] = (None, None),
    private_ok: bool = False,
) -> FetchResult:
    """GET one feed URL and return a :class:`FetchResult`; never raises for network or HTTP
    errors. ``validators`` is ``(etag, last_modified)`` for a conditional GET (304 ->
    status 304, empty body). ``permanent_redirect`` is the URL reached through 301/308 hops
    only. Unless ``private_ok``, every hop must go to a public address."""
    source = source or FeedSource(url=url)
    etag, modified = validators
    headers: dict[str, str] = {}
    if etag:
        headers["If-None-Match"] = etag
    if modified:
        headers["If-Modified-Since"] = modified
    started = time.monotonic()
    try:
        response = http.get(url, accept=ACCEPT, headers=headers, private_ok=private_ok)
    except FetchError as exc:
        return FetchResult(
            source=source,
            status=exc.status or 0,
            url=exc.url or url,
            error=str(exc),
            elapsed_s=time.monotonic() - started,
        )
    status = response.status
    result = FetchResult(
        source=source,
        status=status,
        url=response.url,
        headers=response.headers,
        permanent_redirect=response.permanent_url,
        elapsed_s=response.elapsed_s,
    )
    if status == 304 or status in (200, 203):
        return replace(result, body=response.body)
    retry = parse_retry_after(response.headers.get("retry-after")) if status in (429, 503) else None
    return replace(result, error=_status_error(status, retry), retry_after_s=retry)


def local_validator(body: bytes) -> str:
    """What tells a local feed file unchanged: a hash of its bytes, as an ETag. (Not its
    modification time: two writes within one clock tick of the file system share it.)"""
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def read_local(
    source: FeedSource,
    *,
    max_bytes: int = 10_000_000,
    validators: tuple[str | None, str | None] = (None, None),
) -> FetchResult:
    """A ``path:`` feed read from disk: status 200 (with the file's validator as an ETag),
    304 when its bytes are those of ``validators`` (nothing to parse), or an error naming
    the file to fix."""
    assert source.path is not None
    started = time.monotonic()
    path = source.path
    try:
        with path.open("rb") as handle:
            body = handle.read(max_bytes + 1)
    except FileNotFoundError:
        error = f"file not found: {path}; fix the path: in your feeds"
    except IsADirectoryError:
        error = f"{path} is a folder, not a feed file; fix the path: in your feeds"
    except OSError as exc:
        error = f"cannot read {path} ({exc.strerror}); check its permissions"
    else:
        if len(body) > max_bytes:
            error = f"{path} is larger than {max_bytes} bytes (fetch.max_bytes); raise the limit"
        else:
            token = local_validator(body)
            unchanged = validators[0] == token
            return FetchResult(
                source=source,
                status=304 if unchanged else 200,
                body=b"" if unchanged else body,
                headers={"etag": token},
                url=path.resolve().as_uri(),
                elapsed_s=time.monotonic() - started,
            )
    return FetchResult(source=source, status=0, error=error, elapsed_s=time.monotonic() - started)


def private_ok(source: FeedSource, allow_private: bool = False) -> bool:
    """Whether a feed may be fetched from (and link to) non-public addresses: a ``path:``
    feed, one configured by a loopback or private address (not a name: a name is whatever
    its DNS says), or every feed with ``fetch.allow_private``."""
    if allow_private or source.path is not None:
        return True
    host = host_of(source.url or "")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return not is_public_ip(host)


def fetch_source(
    http: Http,
    source: FeedSource,
    *,
    url: str | None = None,
    validators: tuple[str | None, str | None] = (None, None),
    private: bool = False,
) -> FetchResult:
    """One feed: a ``path:`` read from disk, else ``url`` (default: the source's) over HTTP."""
    if source.url is None:
        return read_local(source, max_bytes=http.max_bytes, validators=validators)
    return fetch_url(
        http, url or source.url, source=source, validators=validators, private_ok=private
    )


def iter_fetch(
    http: Http,
    sources: Sequence[FeedSource],
    *,
    validators: Validators | None = None,
    urls: Mapping[str, str] | None = None,
    allow_private: bool = False,
    after: Callable[[FetchResult], FetchResult] | None = None,
    progress: bool = False,
) -> Iterator[tuple[int, FetchResult]]:
    """Fetch every source concurrently, yielding ``(index, result)`` as each finishes.

    ``urls`` maps a source key to where the feed lives now (after a 301/308); ``validators``
    maps it to ``(etag, last_modified)``. Results stream, so a caller can parse early ones
    while later ones download and drop bodies as it goes (memory stays flat in the number
    of feeds). ``after(result)`` runs in the worker on each result (feed discovery).
    """
    validators = validators or {}
    urls = urls or {}
    bar = _Progress(len(sources)) if progress and sys.stderr.isatty() else None

    def work(source: FeedSource) -> FetchResult:
        result = fetch_source(
            http,
            source,
            url=urls.get(source.key),
            validators=validators.get(source.key, (None, None)),
            private=private_ok(source, allow_private),
        )
        if after is not None:
            result = after(result)
        _log_result(result)
        if bar:
            bar.advance(1)
        return result

    try:
        yield from fetch_by_host(
            sources,
            work,
            host=lambda s: host_of(urls.get(s.key) or s.url or ""),
            per_host=http.per_host,
            concurrency=http.concurrency,
        )
    finally:
        if bar:
            bar.stop()


def fetch_feeds(
    http: Http,
    sources: Sequence[FeedSource],
    *,
    validators: Validators | None = None,
    allow_private: bool = False,
) -> list[FetchResult]:
    """Fetch every source concurrently; one :class:`FetchResult` per source, same order.
    Never raises for one feed's failure: the result's ``error`` says what to do."""
    results: list[FetchResult | None] = [None] * len(sources)
    for index, result in iter_fetch(
        http, sources, validators=validators, allow_private=allow_private
    ):
        results[index] = result
    return [r for r in results if r is not None]


def _log_result(result: FetchResult) -> None:
    label = result.source.label
    if result.error:
        # INFO, not WARNING: the caller reports failures once, as feed problems.
        log.info("%s: %s", label, result.error)
    elif result.status == 304:
        log.info("%s: not modified (%.1f s)", label, result.elapsed_s)
    else:
        extra = f", found through {result.discovered_from}" if result.discovered_from else ""
        log.info(
            "%s: %d, %d bytes (%.1f s)%s",
            label,
            result.status,
            len(result.body),
            result.elapsed_s,
            extra,
        )


class _Progress:
    """A rich progress bar on stderr (only used when stderr is a terminal)."""

    def __init__(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import Progress

        self._progress = Progress(console=Console(stderr=True), transient=True)
        self._task = self._progress.add_task("Fetching feeds", total=total)
        self._progress.start()
        self._lock = threading.Lock()

    def advance(self, n: int) -> None:
        with self._lock:
            self._progress.advance(self._task, n)

    def stop(self) -> None:
        self._progress.stop()
