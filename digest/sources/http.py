"""The one HTTP layer: every request digest makes, for feeds, article pages and robots.txt.

:class:`Http` owns one client setup, one User-Agent, one redirect policy that runs the
address guard on every hop, one per-host limit, one deadline that covers connecting,
headers and body, one size cap (counted after decompression, so a gzip bomb stops at the
cap), and one error type (:class:`~digest.errors.FetchError`). It never parses what it
fetches: callers decide what a body is.

Why a custom network backend: httpx's timeouts apply to each socket operation, so a server
that trickles its headers one byte a second never trips them. Every stream here reads and
writes with the time left until the request's deadline as its timeout, so the whole request
ends in time however the server paces it. The same backend resolves a host once, checks
the addresses, and connects to the checked address, which closes the DNS-rebinding window
between :func:`~digest.sources.netguard.check_url` and the connection.
"""

from __future__ import annotations

import ipaddress
import queue
import socket
import ssl
import threading
import time
import zlib
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from digest import __version__
from digest.errors import BlockedAddress, FetchError, FetchErrorKind
from digest.sources.netguard import (
    AddressPolicy,
    Resolver,
    check_url,
    is_public_ip,
    system_resolve,
)

USER_AGENT = f"digest/{__version__} (+https://github.com/digest-news/digest)"
# Redirects followed per request; more means a loop or a misconfigured site.
MAX_REDIRECTS = 5
# Unneeded bodies up to this size are read to keep their connection (see _drain).
DRAIN_BYTES = 64 * 1024
# Headers that describe the transfer, not the body we return (already decoded).
_TRANSFER_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})

T = TypeVar("T")
R = TypeVar("R")


# --------------------------------------------------------------------------- deadline


class _Deadlines(threading.local):
    """The deadlines of the requests running on this thread (nested: robots.txt in a page)."""

    def __init__(self) -> None:
        self.stack: list[float] = []


_DEADLINES = _Deadlines()


def _time_left(timeout: float | None, error: type[Exception]) -> float | None:
    """``timeout`` cut to what is left of the current request's deadline."""
    if not _DEADLINES.stack:
        return timeout
    left = min(_DEADLINES.stack) - time.monotonic()
    if left <= 0:
        raise error("the request's deadline passed")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    """A socket stream whose every operation ends by the request's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _time_left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _time_left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(
            ssl_context, server_hostname, _time_left(timeout, httpcore.ConnectTimeout)
        )
        return _Stream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.SyncBackend):
    """Connections bounded by the request's deadline; with ``resolve``, only to public
    addresses (``is_public``), checked on the very address the socket connects to."""

    def __init__(self, resolve: Resolver | None, is_public: AddressPolicy = is_public_ip) -> None:
        self._resolve = resolve
        self._is_public = is_public

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        timeout = _time_left(timeout, httpcore.ConnectTimeout)
        target = host
        if self._resolve is not None:
            try:
                addresses = [str(ipaddress.ip_address(host))]
            except ValueError:
                try:
                    addresses = self._resolve(host)
                except (OSError, UnicodeError) as exc:
                    raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
            bad = [a for a in addresses if not self._is_public(a)]
            if not addresses or bad:
                found = bad[0] if bad else "nothing"
                raise httpcore.ConnectError(
                    f"blocked: {host} resolves to non-public address {found}"
                )
            target = addresses[0]
        stream = super().connect_tcp(target, port, timeout, local_address, socket_options)
        return _Stream(stream)


def _transport(
    resolve: Resolver | None,
    pool_size: int,
    is_public: AddressPolicy = is_public_ip,
    *,
    keep: int | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> httpx.HTTPTransport:
    transport = httpx.HTTPTransport(
        verify=ssl_context if ssl_context is not None else True,
        limits=httpx.Limits(
            max_connections=pool_size,
            max_keepalive_connections=pool_size if keep is None else keep,
        ),
    )
    pool = transport._pool
    # httpx takes no network backend; httpcore's pool keeps it in this attribute.
    # tests/test_http.py fails if that stops working.
    if isinstance(pool, httpcore.ConnectionPool):
        pool._network_backend = _Backend(resolve, is_public)
    return transport


class _HostPools(httpx.BaseTransport):
    """One small connection pool per host (scheme, host and port) instead of one big one.

    httpcore's pool checks every connection it holds against every idle one, on each
    request and each response closed: with a thousand unchanged feeds on a hundred hosts,
    each host keeping two connections for its next feed, that scan cost ten times the CPU of
    the requests themselves. Here a pool holds one host's few connections. The pools of
    hosts with nothing in flight stay open for their next request, at most ``idle_hosts`` of
    them (the least recently used is closed first), so open sockets stay bounded however
    many hosts a run reaches.
    """

    def __init__(self, make: Callable[[], httpx.HTTPTransport], idle_hosts: int) -> None:
        self._make = make
        self._idle_hosts = idle_hosts
        # Least recently used first; each value: [transport, requests in flight].
        self._pools: OrderedDict[tuple[bytes, bytes, int | None], list[Any]] = OrderedDict()
        self._idle = 0
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        key = (url.raw_scheme, url.raw_host, url.port)
        with self._lock:
            entry = self._pools.pop(key, None)
            if entry is None:
                entry = [self._make(), 0]
            elif entry[1] == 0:
                self._idle -= 1
            entry[1] += 1
            self._pools[key] = entry
        try:
            response: httpx.Response = entry[0].handle_request(request)
        except BaseException:
            self._release(entry)
            raise
        assert isinstance(response.stream, httpx.SyncByteStream)
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_Releasing(response.stream, lambda: self._release(entry)),
            extensions=response.extensions,
        )

    def _release(self, entry: list[Any]) -> None:
        closing = []
        with self._lock:
            entry[1] -= 1
            if entry[1] == 0:
                self._idle += 1
            if self._idle > self._idle_hosts:
                for key, other in list(self._pools.items()):
                    if other[1] == 0:
                        del self._pools[key]
                        closing.append(other[0])
                        self._idle -= 1
                        if self._idle <= self._idle_hosts:
                            break
        for transport in closing:
            transport.close()

    def close(self) -> None:
        with self._lock:
            pools, self._pools, self._idle = list(self._pools.values()), OrderedDict(), 0
        for transport, _active in pools:
            transport.close()


class _Releasing(httpx.SyncByteStream):
    """A response body that hands its host's pool back when closed (once)."""

    def __init__(self, inner: httpx.SyncByteStream, release: Callable[[], None]) -> None:
        self._inner = inner
        self._release: Callable[[], None] | None = release

    def __iter__(self) -> Iterator[bytes]:
        yield from self._inner

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()


def guarded_transport(
    resolve: Resolver = system_resolve, is_public: AddressPolicy = is_public_ip
) -> httpx.HTTPTransport:
    """An httpx transport that refuses to connect to non-public addresses."""
    return _transport(resolve, 16, is_public)


# --------------------------------------------------------------------------- bodies


class _TooLarge(Exception):
    pass


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
                raise ValueError(str(exc)) from None
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


class _Identity:
    def feed(self, data: bytes, limit: int) -> bytes:
        return data


class _Decoder(Protocol):
    def feed(self, data: bytes, limit: int) -> bytes: ...


def _decoder(encoding: str) -> _Decoder:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return _Identity()
    if encoding in ("gzip", "x-gzip", "deflate"):
        return _Inflate(encoding)
    raise ValueError(f"unsupported Content-Encoding {encoding!r}")


def _read_body(response: httpx.Response, max_bytes: int) -> bytes:
    length = response.headers.get("content-length")
    encoding = response.headers.get("content-encoding", "")
    if length and length.isdigit() and not encoding and int(length) > max_bytes:
        raise _TooLarge
    decoder = _decoder(encoding.split(",")[-1] if encoding else "")
    body = bytearray()
    for raw in response.iter_raw():
        body += decoder.feed(raw, max_bytes - len(body))
        if len(body) > max_bytes:
            raise _TooLarge
    return bytes(body)


def _stale(exc: httpx.TransportError) -> bool:
    """Whether ``exc`` is what a reused connection the server had closed gives: no answer
    at all, or a reset."""
    if isinstance(exc, httpx.RemoteProtocolError):
        return "without sending a response" in str(exc)
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, OSError):
        cause = cause.__cause__ or cause.__context__
    return isinstance(cause, ConnectionResetError | BrokenPipeError)


def _drain(response: httpx.Response, limit: int = DRAIN_BYTES) -> None:
    """Read the rest of a body nobody needs (a 304, a redirect, an error page), so the
    connection goes back to the pool: a thousand feeds on a few hosts, all unchanged, then
    cost a request each, not a new connection (and TLS handshake) each. A body over
    ``limit`` is left unread and its connection closed."""
    read = 0
    for raw in response.iter_raw():
        read += len(raw)
        if read > limit:
            return


def _lower(headers: httpx.Headers) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in headers.multi_items():
        key = key.lower()
        if key in _TRANSFER_HEADERS:
            continue
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


def looks_like_html(body: bytes, content_type: str = "") -> bool:
    """Whether a response is a web page rather than a feed or a document: the one sniffing
    rule for feeds (discovery, "this is a web page") and article pages."""
    head = body[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<?xml", b"<rss", b"<feed", b"<rdf", b"{")) and b"<html" not in head:
        return False
    if "html" in content_type.lower():
        return True
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head[:512]


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class Response:
    """A final (non-redirect) answer. ``headers`` are lower-cased, without transfer headers;
    ``body`` is decoded (gzip/deflate) and empty unless the status is 2xx.
    ``permanent_url`` is the URL reached through 301/308 hops only (None without one)."""

    status: int
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    permanent_url: str | None = None
    elapsed_s: float = 0.0


def host_of(url: str) -> str:
    """The lower-cased host of ``url`` ("" when it has none)."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class Http:
    """Every request digest makes goes through one of these (one per run; close it).

    ``timeout_s`` bounds connecting and each read; a whole request (every redirect,
    headers and body) ends within ``2 * timeout_s``. ``per_host`` requests at most go to
    one host at once. ``resolve`` is the resolver the address guard uses and ``is_public``
    its policy (tests inject both, so a loopback server can play a public site).
    """

    def __init__(
        self,
        *,
        timeout_s: float = 20.0,
        max_bytes: int = 10_000_000,
        per_host: int = 2,
        concurrency: int = 16,
        user_agent: str | None = None,
        resolve: Resolver = system_resolve,
        is_public: AddressPolicy = is_public_ip,
    ) -> None:
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes
        self.per_host = max(1, per_host)
        self.concurrency = max(1, concurrency)
        self.user_agent = user_agent or USER_AGENT
        self.resolve = resolve
        self.is_public = is_public
        self._hosts: dict[str, threading.BoundedSemaphore] = {}
        self._hosts_lock = threading.Lock()
        timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0), pool=timeout_s)
        pool, keep = 2 * self.concurrency, self.per_host
        # Idle connections kept: about one per request that may be in flight.
        idle_hosts = max(8, self.concurrency // self.per_host)
        # One TLS setup (reading the CA bundle takes milliseconds) for every host's pool.
        tls = httpx.create_ssl_context()
        # Two clients, so a connection opened to a private address for a private feed is
        # never reused for a link that must be public. trust_env is off: a proxy from the
        # environment would connect on our behalf and the guard could not see where.
        self._guarded = httpx.Client(
            transport=_HostPools(
                lambda: _transport(resolve, pool, is_public, keep=keep, ssl_context=tls),
                idle_hosts=idle_hosts,
            ),
            timeout=timeout,
            trust_env=False,
        )
        self._open = httpx.Client(
            transport=_HostPools(
                lambda: _transport(None, pool, keep=keep, ssl_context=tls),
                idle_hosts=idle_hosts,
            ),
            timeout=timeout,
            trust_env=False,
        )

    @property
    def deadline_s(self) -> float:
        """How long one whole request may take."""
        return 2 * self.timeout_s

    def close(self) -> None:
        self._guarded.close()
        self._open.close()

    def __enter__(self) -> Http:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _gate(self, host: str) -> threading.BoundedSemaphore:
        with self._hosts_lock:
            gate = self._hosts.get(host)
            if gate is None:
                gate = self._hosts[host] = threading.BoundedSemaphore(self.per_host)
            return gate

    def get(
        self,
        url: str,
        *,
        accept: str = "*/*",
        headers: Mapping[str, str] | None = None,
        private_ok: bool = False,
        max_bytes: int | None = None,
        before_hop: Callable[[str], None] | None = None,
    ) -> Response:
        """GET ``url``, following redirects by hand; raise FetchError for anything but an
        HTTP answer (network, timeout, size cap, refused address, too many redirects).

        Unless ``private_ok``, every hop must be http(s) to a public address (checked before
        the request and again when connecting). ``before_hop(url)`` runs before each hop and
        may raise FetchError (robots.txt). Any status is returned; only 2xx bodies are read.
        """
        limit = self.max_bytes if max_bytes is None else max_bytes
        started = time.monotonic()
        _DEADLINES.stack.append(started + self.deadline_s)
        try:
            return self._get(url, accept, headers or {}, private_ok, limit, before_hop, started)
        finally:
            _DEADLINES.stack.pop()

    def _get(
        self,
        url: str,
        accept: str,
        extra: Mapping[str, str],
        private_ok: bool,
        limit: int,
        before_hop: Callable[[str], None] | None,
        started: float,
    ) -> Response:
        request_headers = {
            "User-Agent": self.user_agent,
            "Accept": accept,
            "Accept-Encoding": "gzip, deflate",
            **extra,
        }
        client = self._open if private_ok else self._guarded
        current = url
        permanent: str | None = None
        still_permanent = True
        seen = {url}
        for _hop in range(MAX_REDIRECTS + 1):
            self._check(current, private_ok)
            if before_hop is not None:
                before_hop(current)
            host = host_of(current)
            with self._gate(host):
                try:
                    try:
                        status, location, answer = self._hop(
                            client, current, request_headers, limit
                        )
                    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
                        if not _stale(exc):
                            raise
                        # A kept-alive connection the server closed as we sent: a GET may go
                        # once more (what browsers do); the pool has dropped the dead one.
                        status, location, answer = self._hop(
                            client, current, request_headers, limit
                        )
                except FetchError:
                    raise
                except Exception as exc:
                    raise self._error(exc, current) from None
            if status in _REDIRECTS:
                if not location:
                    raise FetchError(
                        f"HTTP {status} redirect without a Location; check the URL in a browser",
                        kind=FetchErrorKind.HTTP,
                        url=current,
                        status=status,
                    )
                try:
                    target = urljoin(current, location.strip())
                except ValueError:
                    target = location
                if target in seen:
                    raise FetchError(
                        f"redirect loop at {target}; open the URL in a browser and use "
                        "its final address",
                        kind=FetchErrorKind.REDIRECTS,
                        url=current,
                    )
                seen.add(target)
                if still_permanent and status in (301, 308):
                    permanent = target
                else:
                    still_permanent = False
                current = target
                continue
            assert answer is not None
            return Response(
                status=status,
                url=current,
                headers=answer[0],
                body=answer[1],
                permanent_url=permanent,
                elapsed_s=time.monotonic() - started,
            )
        raise FetchError(
            f"more than {MAX_REDIRECTS} redirects; open the URL in a browser and use its "
            "final address",
            kind=FetchErrorKind.REDIRECTS,
            url=url,
        )

    def _check(self, url: str, private_ok: bool) -> None:
        scheme = urlsplit(url).scheme.lower() if "://" in url else ""
        if scheme not in ("http", "https"):
            raise FetchError(f"not an http(s) URL: {url}", kind=FetchErrorKind.INVALID_URL, url=url)
        if not private_ok:
            check_url(url, resolve=self.resolve, is_public=self.is_public)

    def _hop(
        self, client: httpx.Client, url: str, headers: Mapping[str, str], limit: int
    ) -> tuple[int, str | None, tuple[dict[str, str], bytes] | None]:
        with client.stream("GET", url, headers=headers, follow_redirects=False) as response:
            status = response.status_code
            if status in _REDIRECTS:
                location = response.headers.get("location")
                _drain(response)
                return status, location, None
            lowered = _lower(response.headers)
            if 200 <= status < 300:
                return status, None, (lowered, _read_body(response, limit))
            _drain(response)
            return status, None, (lowered, b"")

    def _error(self, exc: Exception, url: str) -> FetchError:
        """One line that says what went wrong and what to do, for any transport failure."""
        host = host_of(url)
        if isinstance(exc, _TooLarge):
            return FetchError(
                f"larger than {self.max_bytes} bytes (fetch.max_bytes); raise the limit",
                kind=FetchErrorKind.TOO_LARGE,
                url=url,
            )
        if isinstance(exc, ValueError):  # a body we cannot decode
            return FetchError(
                f"cannot decode the response ({_first_line(exc)}); tell the publisher",
                kind=FetchErrorKind.BAD_ENCODING,
                url=url,
            )
        if isinstance(exc, httpx.ConnectError) and "blocked:" in str(exc):
            return BlockedAddress(_first_line(exc).removeprefix("blocked: "), url=url)
        if isinstance(exc, httpx.TimeoutException):
            return FetchError(
                f"no complete answer from {host} within {self.deadline_s:g} s; the server is "
                "slow or down (raise fetch.timeout_s, or digest retries later)",
                kind=FetchErrorKind.TIMEOUT,
                url=url,
            )
        if isinstance(exc, httpx.ConnectError):
            return FetchError(
                f"cannot reach {host} ({_describe_connect(exc)}); check the URL or your network",
                kind=FetchErrorKind.UNREACHABLE,
                url=url,
            )
        if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
            return FetchError(
                f"invalid URL ({_first_line(exc)}); fix the URL",
                kind=FetchErrorKind.INVALID_URL,
                url=url,
            )
        if isinstance(exc, httpx.HTTPError):
            return FetchError(
                f"network error talking to {host} ({type(exc).__name__}: {_first_line(exc)}); "
                "digest retries later",
                kind=FetchErrorKind.NETWORK,
                url=url,
            )
        raise exc


def _describe_connect(exc: BaseException) -> str:
    text = _first_line(exc)
    cause = exc.__context__ or exc.__cause__
    while cause is not None and not isinstance(cause, OSError):
        cause = cause.__context__ or cause.__cause__
    if isinstance(cause, socket.gaierror) or "Name or service not known" in text:
        return "the name does not resolve"
    if isinstance(cause, ConnectionRefusedError) or "refused" in text.lower():
        return "connection refused"
    return text


# --------------------------------------------------------------------------- many requests


def fetch_by_host(
    items: Sequence[T],
    work: Callable[[T], R],
    *,
    host: Callable[[T], str],
    per_host: int,
    concurrency: int,
) -> Iterator[tuple[int, R]]:
    """Run ``work`` on every item in a thread pool and yield ``(index, result)`` as each ends.

    At most ``concurrency`` run at once and ``per_host`` per host (the same limit
    :class:`Http` enforces, so no worker waits on a busy host while others are idle), hosts
    taken round-robin so one big host cannot starve the others. Results are never more than
    ``concurrency`` ahead of the consumer, so bodies waiting to be parsed stay bounded. An
    exception raised by ``work`` is re-raised here.
    """
    pending: dict[str, deque[int]] = {}
    for index, item in enumerate(items):
        pending.setdefault(host(item), deque()).append(index)
    todo = len(items)
    done: queue.Queue[tuple[int, Any]] = queue.Queue()
    pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="http")
    # Local files share no server: "" may run as many at once as the pool allows.
    limits = {h: concurrency if h == "" else per_host for h in pending}
    scheduler = _Scheduler(pool, lambda i: work(items[i]), pending, limits, concurrency, done)
    try:
        scheduler.start()
        for _ in range(todo):
            index, outcome = done.get()
            scheduler.consumed()
            if isinstance(outcome, _Raised):
                raise outcome.exc
            yield index, outcome
    finally:
        scheduler.cancel()
        pool.shutdown(wait=True)


@dataclass(frozen=True)
class _Raised:
    exc: BaseException


class _Scheduler:
    """Starts work as slots free up, in the worker threads as each item ends, so a consumer
    busy parsing never stalls the downloads."""

    def __init__(
        self,
        pool: ThreadPoolExecutor,
        work: Callable[[int], Any],
        pending: dict[str, deque[int]],
        limits: dict[str, int],
        concurrency: int,
        done: queue.Queue[tuple[int, Any]],
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
        outcome: Any
        try:
            outcome = self._work(index)
        except BaseException as exc:  # a bug must not hang the consumer: it re-raises
            outcome = _Raised(exc)
        with self._lock:
            self._active[host] -= 1
            self._in_flight -= 1
            self._unconsumed += 1
            self._fill()
        self._done.put((index, outcome))
