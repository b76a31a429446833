"""Read feeds politely: local files from disk, http(s) with httpx. Never parses.

Every failure of one feed becomes a :class:`FetchResult` whose ``error`` is one line saying
what to do; nothing here raises for a single feed. Politeness: a real User-Agent,
conditional GET (ETag / Last-Modified), at most ``per_host`` requests per host at once,
Retry-After honoured through :func:`backoff_delay`, bounded redirects. Safety: connect,
read and total timeouts, and a size cap that counts decompressed bytes as they arrive (we
decode gzip/deflate ourselves with a bounded inflater, so a gzip bomb stops at the cap
instead of filling memory).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import queue
import sys
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from http import HTTPStatus
from typing import Protocol
from urllib.parse import urljoin, urlsplit

import httpx

from digest import __version__
from digest.models import FeedSource, FetchResult

log = logging.getLogger(__name__)

USER_AGENT = f"digest/{__version__} (+https://github.com/digest-news/digest)"
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/rdf+xml;q=0.9, application/xml;q=0.9, text/xml;q=0.9, "
    "application/json;q=0.8, text/html;q=0.5, */*;q=0.1"
)
MAX_REDIRECTS = 5
BACKOFF_BASE = dt.timedelta(hours=1)
BACKOFF_CAP = dt.timedelta(hours=24)
# Headers that describe the transfer, not the body we return (already decoded).
_TRANSFER_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})

Validators = Mapping[str, tuple[str | None, str | None]]
UrlCheck = Callable[[str], None]


class _TooLarge(Exception):
    pass


class _Deadline(Exception):
    pass


class _BadEncoding(Exception):
    pass


class _Decoder(Protocol):
    def feed(self, data: bytes, limit: int) -> bytes: ...


class _Identity:
    def feed(self, data: bytes, limit: int) -> bytes:
        return data


class _Inflate:
    """gzip or deflate, inflating at most ``limit`` bytes per call so bombs stay bounded."""

    def __init__(self, encoding: str) -> None:
        self._gzip = encoding in ("gzip", "x-gzip")
        self._obj = self._new()
        self._raw_fallback = not self._gzip

    def _new(self) -> zlib._Decompress:
        return zlib.decompressobj(16 + zlib.MAX_WBITS if self._gzip else zlib.MAX_WBITS)

    def feed(self, data: bytes, limit: int) -> bytes:
        out = bytearray()
        pending = data
        while pending and len(out) <= limit:
            try:
                chunk = self._obj.decompress(pending, limit + 1 - len(out))
            except zlib.error as exc:
                # Many servers send raw deflate (no zlib header) as "deflate".
                if self._raw_fallback and not out:
                    self._raw_fallback = False
                    self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise _BadEncoding(str(exc)) from None
            self._raw_fallback = False
            out += chunk
            if self._obj.unconsumed_tail:
                pending = self._obj.unconsumed_tail
            elif self._obj.eof and self._obj.unused_data:
                # Concatenated gzip members are one body.
                pending = self._obj.unused_data
                self._obj = self._new()
            else:
                pending = b""
        return bytes(out)


def _decoder(encoding: str) -> _Decoder:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return _Identity()
    if encoding in ("gzip", "x-gzip", "deflate"):
        return _Inflate(encoding)
    raise _BadEncoding(f"unsupported Content-Encoding {encoding!r}")


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
    now = now or dt.datetime.now(dt.UTC)
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


def _lower(headers: httpx.Headers) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in headers.multi_items():
        key = key.lower()
        if key in _TRANSFER_HEADERS:
            continue
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


def _read_body(response: httpx.Response, *, max_bytes: int, deadline: float) -> bytes:
    length = response.headers.get("content-length")
    encoding = response.headers.get("content-encoding", "")
    if length and length.isdigit() and not encoding and int(length) > max_bytes:
        raise _TooLarge
    decoder = _decoder(encoding.split(",")[-1] if encoding else "")
    body = bytearray()
    # No chunk_size: data is handed over as it arrives, so the deadline is checked often.
    for raw in response.iter_raw():
        body += decoder.feed(raw, max_bytes - len(body))
        if len(body) > max_bytes:
            raise _TooLarge
        if time.monotonic() > deadline:
            raise _Deadline
    return bytes(body)


def _looks_like_html(body: bytes, content_type: str) -> bool:
    head = body[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<?xml", b"<rss", b"<feed", b"<rdf", b"{")):
        return False
    return "html" in content_type.lower() or head.startswith((b"<!doctype html", b"<html"))


def fetch_url(
    url: str,
    *,
    source: FeedSource | None = None,
    client: httpx.Client | None = None,
    validators: tuple[str | None, str | None] = (None, None),
    timeout_s: float = 20,
    max_bytes: int = 10_000_000,
    user_agent: str | None = None,
    accept: str = ACCEPT,
    max_redirects: int = MAX_REDIRECTS,
    discover: bool = True,
    check_url: UrlCheck | None = None,
) -> FetchResult:
    """GET one URL and return a :class:`FetchResult`; never raises for network or HTTP errors.

    ``validators`` is ``(etag, last_modified)`` for a conditional GET (304 -> status 304,
    empty body). Redirects are followed up to ``max_redirects``; ``permanent_redirect`` is
    the URL reached through 301/308 hops only. With ``discover``, an HTML page that names a
    feed in ``<link rel="alternate">`` is replaced by that feed (``discovered_from`` set).
    ``check_url`` (e.g. :func:`digest.sources.netguard.check_url`) may raise to refuse any hop.
    """
    source = source or FeedSource(url=url)
    own_client = client is None
    if client is None:
        client = make_client(timeout_s=timeout_s, user_agent=user_agent)
    try:
        return _fetch_http(
            client,
            url,
            source=source,
            validators=validators,
            timeout_s=timeout_s,
            max_bytes=max_bytes,
            user_agent=user_agent or USER_AGENT,
            accept=accept,
            max_redirects=max_redirects,
            discover=discover,
            check_url=check_url,
        )
    finally:
        if own_client:
            client.close()


def make_client(
    *, timeout_s: float = 20, user_agent: str | None = None, concurrency: int = 16
) -> httpx.Client:
    """An httpx client with our User-Agent, timeouts and a pool sized for ``concurrency``."""
    return httpx.Client(
        headers={"User-Agent": user_agent or USER_AGENT},
        timeout=_timeout(timeout_s),
        follow_redirects=False,
        limits=httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency),
    )


def _timeout(timeout_s: float) -> httpx.Timeout:
    return httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0), pool=timeout_s)


def _fetch_http(
    client: httpx.Client,
    url: str,
    *,
    source: FeedSource,
    validators: tuple[str | None, str | None],
    timeout_s: float,
    max_bytes: int,
    user_agent: str,
    accept: str,
    max_redirects: int,
    discover: bool,
    check_url: UrlCheck | None,
) -> FetchResult:
    started = time.monotonic()
    deadline = started + timeout_s * 2
    etag, modified = validators
    headers = {"User-Agent": user_agent, "Accept": accept, "Accept-Encoding": "gzip, deflate"}
    if etag:
        headers["If-None-Match"] = etag
    if modified:
        headers["If-Modified-Since"] = modified
    current = url
    permanent: str | None = None
    still_permanent = True
    seen = {url}

    def result(status: int, **kw: object) -> FetchResult:
        return FetchResult(
            source=source,
            status=status,
            url=current,
            permanent_redirect=permanent,
            elapsed_s=time.monotonic() - started,
            **kw,  # type: ignore[arg-type]
        )

    try:
        for _hop in range(max_redirects + 1):
            if check_url is not None:
                try:
                    check_url(current)
                except Exception as exc:  # the guard's own exception type is its business
                    return result(0, error=f"refused to fetch {current}: {_first_line(exc)}")
            with client.stream(
                "GET",
                current,
                headers=headers,
                timeout=_timeout(timeout_s),
                follow_redirects=False,
            ) as response:
                status = response.status_code
                if status in (301, 302, 303, 307, 308):
                    location = response.headers.get("location")
                    if not location:
                        return result(
                            status,
                            error=f"HTTP {status} redirect without a Location; "
                            "check the URL in a browser",
                        )
                    target = urljoin(current, location.strip())
                    if target in seen:
                        return result(
                            status,
                            error=f"redirect loop at {target}; open the URL in a browser and "
                            "use the feed's final address",
                        )
                    seen.add(target)
                    if still_permanent and status in (301, 308):
                        permanent = target
                    else:
                        still_permanent = False
                    current = target
                    continue
                resp_headers = _lower(response.headers)
                if status == 304:
                    return result(304, headers=resp_headers)
                if status not in (200, 203):
                    retry = (
                        parse_retry_after(response.headers.get("retry-after"))
                        if status in (429, 503)
                        else None
                    )
                    return result(
                        status,
                        headers=resp_headers,
                        error=_status_error(status, retry),
                        retry_after_s=retry,
                    )
                body = _read_body(response, max_bytes=max_bytes, deadline=deadline)
            break
        else:
            return result(
                0,
                error=f"more than {max_redirects} redirects; open the URL in a browser and "
                "use the feed's final address",
            )
    except _TooLarge:
        return result(
            0,
            error=f"larger than {max_bytes} bytes (fetch.max_bytes); raise the limit or "
            "remove the feed",
        )
    except _Deadline:
        return result(
            0,
            error=f"download took longer than {timeout_s * 2:.0f} s; the server is too slow "
            "(raise fetch.timeout_s or remove the feed)",
        )
    except _BadEncoding as exc:
        return result(0, error=f"cannot decode the response ({exc}); tell the publisher")
    except httpx.ConnectTimeout:
        return result(
            0,
            error=f"no connection within {min(timeout_s, 10):g} s; the server may be down "
            "(digest retries later)",
        )
    except httpx.TimeoutException:
        return result(
            0,
            error=f"no answer within {timeout_s:g} s; the server is slow or down "
            "(raise fetch.timeout_s, or digest retries later)",
        )
    except httpx.ConnectError as exc:
        return result(
            0, error=f"cannot connect ({_first_line(exc)}); check the URL or your network"
        )
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        return result(0, error=f"invalid URL ({_first_line(exc)}); fix the URL in your feeds")
    except httpx.HTTPError as exc:
        return result(
            0,
            error=f"network error ({type(exc).__name__}: {_first_line(exc)}); digest retries later",
        )

    content_type = resp_headers.get("content-type", "")
    if discover and _looks_like_html(body, content_type):
        from digest.sources.feeds import discover_feed_links

        links = [link for link in discover_feed_links(body, current) if link not in seen]
        if links:
            found = _fetch_http(
                client,
                links[0],
                source=source,
                # The stored validators belong to the feed we found here last time.
                validators=validators,
                timeout_s=timeout_s,
                max_bytes=max_bytes,
                user_agent=user_agent,
                accept=accept,
                max_redirects=max_redirects,
                discover=False,
                check_url=check_url,
            )
            log.info("%s: HTML page; using its feed %s", source.label, links[0])
            return replace(
                found,
                discovered_from=current,
                elapsed_s=time.monotonic() - started,
                permanent_redirect=permanent,
            )
    return result(status, body=body, headers=resp_headers)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def read_local(source: FeedSource, *, max_bytes: int = 10_000_000) -> FetchResult:
    """A ``path:`` feed read from disk: status 200, or an error naming the file to fix."""
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
            return FetchResult(
                source=source,
                status=200,
                body=body,
                url=path.resolve().as_uri(),
                elapsed_s=time.monotonic() - started,
            )
    return FetchResult(source=source, status=0, error=error, elapsed_s=time.monotonic() - started)


def _host(source: FeedSource) -> str:
    if source.url is None:
        return ""  # local files share no server
    try:
        return (urlsplit(source.url).hostname or "").lower()
    except ValueError:
        return ""


def iter_fetch(
    sources: Sequence[FeedSource],
    *,
    validators: Validators | None = None,
    client: httpx.Client | None = None,
    timeout_s: float = 20,
    max_bytes: int = 10_000_000,
    concurrency: int = 16,
    per_host: int = 2,
    user_agent: str | None = None,
    skip: Callable[[FeedSource], bool] | None = None,
    progress: bool = False,
) -> Iterator[tuple[int, FetchResult]]:
    """Like :func:`fetch_feeds` but yields ``(index, result)`` as each feed finishes.

    Lets a caller parse early results while later ones are still downloading, and drop
    bodies as it goes (memory stays flat in the number of feeds).
    """
    validators = validators or {}
    own_client = client is None
    if client is None:
        client = make_client(timeout_s=timeout_s, user_agent=user_agent, concurrency=concurrency)
    pending: dict[str, deque[int]] = {}
    done: queue.Queue[tuple[int, FetchResult | BaseException]] = queue.Queue()
    immediate: list[tuple[int, FetchResult]] = []
    for index, source in enumerate(sources):
        if skip is not None and skip(source):
            immediate.append((index, FetchResult(source=source, status=0, skipped=True)))
        else:
            pending.setdefault(_host(source), deque()).append(index)
    todo = sum(len(q) for q in pending.values())

    def work(index: int) -> FetchResult:
        source = sources[index]
        if source.url is None:
            return read_local(source, max_bytes=max_bytes)
        return _fetch_http(
            client,
            source.url,
            source=source,
            validators=validators.get(source.key, (None, None)),
            timeout_s=timeout_s,
            max_bytes=max_bytes,
            user_agent=user_agent or USER_AGENT,
            accept=ACCEPT,
            max_redirects=MAX_REDIRECTS,
            discover=True,
            check_url=None,
        )

    bar = _Progress(len(sources)) if progress and sys.stderr.isatty() else None
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="fetch")
    scheduler = _Scheduler(
        pool,
        work,
        pending,
        {h: concurrency if h == "" else per_host for h in pending},
        concurrency,
        done,
    )
    try:
        yield from immediate
        if bar:
            bar.advance(len(immediate))
        scheduler.start()
        for _ in range(todo):
            index, outcome = done.get()
            scheduler.consumed()
            if isinstance(outcome, BaseException):
                raise outcome
            _log_result(outcome)
            if bar:
                bar.advance(1)
            yield index, outcome
    finally:
        scheduler.cancel()
        pool.shutdown(wait=True)
        if bar:
            bar.stop()
        if own_client:
            client.close()


class _Scheduler:
    """Starts requests as slots free up: at most ``concurrency`` in all, ``limits[host]``
    per host, hosts taken round-robin so one big host cannot starve the others.

    Scheduling happens in the worker threads as each request ends, not in the consumer,
    so a consumer busy parsing never stalls the downloads. But downloads never run more
    than ``concurrency`` results ahead of the consumer either: bodies waiting to be parsed
    stay bounded, so memory is flat in the number of feeds.
    """

    def __init__(
        self,
        pool: ThreadPoolExecutor,
        work: Callable[[int], FetchResult],
        pending: dict[str, deque[int]],
        limits: dict[str, int],
        concurrency: int,
        done: queue.Queue[tuple[int, FetchResult | BaseException]],
    ) -> None:
        self._pool, self._work, self._pending, self._limits = pool, work, pending, limits
        self._concurrency, self._done = concurrency, done
        self._active = dict.fromkeys(pending, 0)
        self._hosts = deque(h for h in pending if pending[h])
        self._in_flight = 0
        self._unconsumed = 0
        self._lock = threading.Lock()
        self._cancelled = False

    def start(self) -> None:
        with self._lock:
            self._fill()

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True

    def consumed(self) -> None:
        with self._lock:
            self._unconsumed -= 1
            self._fill()

    def _fill(self) -> None:
        scanned = 0
        while (
            not self._cancelled
            and self._in_flight < self._concurrency
            and self._in_flight + self._unconsumed < 2 * self._concurrency
            and self._hosts
            and scanned < len(self._hosts)
        ):
            host = self._hosts[0]
            self._hosts.rotate(-1)
            scanned += 1
            if self._pending[host] and self._active[host] < self._limits[host]:
                index = self._pending[host].popleft()
                if not self._pending[host]:
                    self._hosts.remove(host)
                self._active[host] += 1
                self._in_flight += 1
                self._pool.submit(self._run, host, index)
                scanned = 0

    def _run(self, host: str, index: int) -> None:
        outcome: FetchResult | BaseException
        try:
            outcome = self._work(index)
        except BaseException as exc:  # a bug must not hang the consumer: it re-raises
            outcome = exc
        with self._lock:
            self._active[host] -= 1
            self._in_flight -= 1
            self._unconsumed += 1
            self._fill()
        self._done.put((index, outcome))


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


def fetch_feeds(
    sources: Sequence[FeedSource],
    *,
    validators: Validators | None = None,
    client: httpx.Client | None = None,
    timeout_s: float = 20,
    max_bytes: int = 10_000_000,
    concurrency: int = 16,
    per_host: int = 2,
    user_agent: str | None = None,
    skip: Callable[[FeedSource], bool] | None = None,
    progress: bool = False,
) -> list[FetchResult]:
    """Fetch every source concurrently; one :class:`FetchResult` per source, same order.

    ``validators`` maps ``source.key`` to ``(etag, last_modified)``. ``skip(source)`` true
    (a feed backing off) gives a result with ``skipped=True`` and no request. Never raises
    for one feed's failure: the result's ``error`` says what went wrong and what to do.
    """
    results: list[FetchResult | None] = [None] * len(sources)
    for index, result in iter_fetch(
        sources,
        validators=validators,
        client=client,
        timeout_s=timeout_s,
        max_bytes=max_bytes,
        concurrency=concurrency,
        per_host=per_host,
        user_agent=user_agent,
        skip=skip,
        progress=progress,
    ):
        results[index] = result
    return [r for r in results if r is not None]
