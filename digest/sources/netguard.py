"""Guards for fetching links that strangers wrote: SSRF address checks and robots.txt.

Article links come from feeds, so a link may point at the reader's router, a cloud metadata
service or a database on loopback. :func:`check_url` refuses any URL whose host resolves to
an address that is not globally routable. The resolver is a parameter so tests (and callers
with their own DNS) can inject one; the default asks the system resolver.

Every redirect hop is checked again, which stops the common redirect trick. The check runs
once more when the socket connects (:func:`guarded_transport`), on the very address it
connects to, so a DNS server that answers differently between the check and the connection
(DNS rebinding) cannot slip a private address through either.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import urllib.robotparser
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

log = logging.getLogger(__name__)

Resolver = Callable[[str], list[str]]


class FetchFailed(Exception):
    """A page or robots.txt could not be fetched; the message is the reason for the log."""


class BlockedAddress(FetchFailed):
    """The URL points at a non-public address (or cannot be resolved)."""


def system_resolve(host: str) -> list[str]:
    """Every address the system resolver gives for ``host`` (IPv4 and IPv6)."""
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    return sorted({str(info[4][0]) for info in infos})


def is_public_ip(address: str) -> bool:
    """True when ``address`` is globally routable (not loopback, private, link-local, ...)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    # An IPv4-mapped IPv6 address (::ffff:127.0.0.1) must be judged as the IPv4 it wraps.
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(ip.is_global) and not ip.is_multicast


def check_url(url: str, *, resolve: Resolver = system_resolve) -> None:
    """Raise :class:`BlockedAddress` unless ``url`` is http(s) and every address is public."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise BlockedAddress(f"not an http(s) URL: {url}")
    host = parts.hostname
    if not host:
        raise BlockedAddress(f"no host in URL: {url}")
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            addresses = resolve(host)
        except (OSError, UnicodeError) as exc:
            raise BlockedAddress(f"cannot resolve {host}: {exc}") from exc
    if not addresses:
        raise BlockedAddress(f"cannot resolve {host}")
    bad = [a for a in addresses if not is_public_ip(a)]
    if bad:
        raise BlockedAddress(
            f"{host} resolves to non-public address {bad[0]} (set fetch.allow_private to allow)"
        )


_DISALLOW_ALL = ["User-agent: *", "Disallow: /"]


class RobotsCache:
    """robots.txt verdicts per origin, fetched once per run and shared between threads.

    ``fetch(url, private_ok)`` returns ``(status, body)`` or raises FetchFailed; 401/403 and server
    errors disallow the whole site, other 4xx (no robots.txt) allow everything, as Google
    documents.
    """

    def __init__(self, user_agent: str, fetch: Callable[[str, bool], tuple[int, bytes]]) -> None:
        self._agent = user_agent
        self._fetch = fetch
        self._parsers: dict[str, urllib.robotparser.RobotFileParser] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def allowed(self, url: str, *, private_ok: bool = False) -> bool:
        """Whether robots.txt of ``url``'s origin lets our User-Agent fetch it; robots.txt
        is fetched under the same address rule as the page (``private_ok``)."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._lock:
            origin_lock = self._locks.setdefault(origin, threading.Lock())
        with origin_lock:
            parser = self._parsers.get(origin)
            if parser is None:
                parser = self._load(origin, private_ok)
                self._parsers[origin] = parser
        return parser.can_fetch(self._agent, url)

    def _load(self, origin: str, private_ok: bool) -> urllib.robotparser.RobotFileParser:
        parser = urllib.robotparser.RobotFileParser(origin + "/robots.txt")
        try:
            status, body = self._fetch(origin + "/robots.txt", private_ok)
        except FetchFailed as exc:  # robots.txt unreadable: be polite, stay away
            log.debug(
                "robots.txt of %s unreadable (%s): treating the site as disallowed", origin, exc
            )
            parser.parse(_DISALLOW_ALL)
            return parser
        if status in (401, 403) or status >= 500:
            parser.parse(_DISALLOW_ALL)
        elif status >= 400:
            parser.parse([])
        else:
            parser.parse(body.decode("utf-8", errors="replace").splitlines())
        return parser


class _GuardedBackend(httpcore.SyncBackend):
    """Connects only to public addresses, checked at connect time.

    :func:`check_url` vets a URL before the request, but httpx resolves the name again when
    it connects; a DNS server that changes its answer in between (DNS rebinding) would slip
    past. Here the name is resolved once, the addresses are checked, and the socket goes to
    the checked address; TLS still verifies the certificate against the host name.
    """

    def __init__(self, resolve: Resolver) -> None:
        self._resolve = resolve

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = [str(ipaddress.ip_address(host))]
        except ValueError:
            try:
                addresses = self._resolve(host)
            except (OSError, UnicodeError) as exc:
                raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        bad = [a for a in addresses if not is_public_ip(a)]
        if not addresses or bad:
            found = bad[0] if bad else "nothing"
            raise httpcore.ConnectError(f"blocked: {host} resolves to non-public address {found}")
        return super().connect_tcp(addresses[0], port, timeout, local_address, socket_options)


def guarded_transport(resolve: Resolver = system_resolve) -> httpx.HTTPTransport:
    """An httpx transport that refuses to connect to non-public addresses (see above)."""
    transport = httpx.HTTPTransport()
    pool = transport._pool
    # httpx does not take a network backend; httpcore's pool keeps it in this attribute.
    if isinstance(pool, httpcore.ConnectionPool):
        pool._network_backend = _GuardedBackend(resolve)
    return transport
