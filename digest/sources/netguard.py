"""Guards for fetching links that strangers wrote: SSRF address checks and robots.txt.

Article links come from feeds, so a link may point at the reader's router, a cloud metadata
service or a database on loopback. :func:`check_url` refuses any URL whose host resolves to
an address that is not globally routable. The resolver is a parameter so tests (and callers
with their own DNS) can inject one; the default asks the system resolver.

:class:`digest.sources.http.Http` runs the check on every redirect hop and once more when
the socket connects, on the very address it connects to, so a DNS server that answers
differently between the check and the connection (DNS rebinding) cannot slip a private
address through either.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
import threading
import urllib.robotparser
from collections.abc import Callable
from urllib.parse import urlsplit

from digest.errors import BlockedAddress, FetchError, FetchErrorKind

log = logging.getLogger(__name__)

Resolver = Callable[[str], list[str]]
# Which addresses links may reach (is_public_ip); tests inject a policy that treats one
# loopback address as public, so a local server can play a public site.
AddressPolicy = Callable[[str], bool]

__all__ = [
    "AddressPolicy",
    "BlockedAddress",
    "Resolver",
    "RobotsCache",
    "check_url",
    "is_public_ip",
    "private_host",
]


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


def check_url(
    url: str, *, resolve: Resolver = system_resolve, is_public: AddressPolicy | None = None
) -> None:
    """Raise :class:`BlockedAddress` unless ``url`` is http(s) and every address is public
    (``is_public``, default :func:`is_public_ip`)."""
    public = is_public or is_public_ip
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise BlockedAddress(f"not an http(s) URL: {url}", url=url)
    host = parts.hostname
    if not host:
        raise BlockedAddress(f"no host in URL: {url}", url=url)
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            addresses = resolve(host)
        except (OSError, UnicodeError) as exc:
            raise FetchError(
                f"cannot reach {host} (the name does not resolve); check the URL or your network",
                kind=FetchErrorKind.UNREACHABLE,
                url=url,
            ) from exc
    if not addresses:
        raise FetchError(
            f"cannot reach {host} (the name does not resolve); check the URL or your network",
            kind=FetchErrorKind.UNREACHABLE,
            url=url,
        )
    bad = [a for a in addresses if not public(a)]
    if bad:
        raise BlockedAddress(
            f"{host} resolves to non-public address {bad[0]} (set fetch.allow_private to allow)",
            url=url,
        )


# ---------------------------------------------------------------- images

_TRACKER_HOSTS = (
    "feeds.feedburner.com",
    "feedproxy.google.com",
    "doubleclick.net",
    "google-analytics.com",
    "googletagmanager.com",
    "stats.wordpress.com",
    "pixel.wp.com",
    "quantserve.com",
    "scorecardresearch.com",
    "facebook.com",
    "facebook.net",
    "pixel.quantserve.com",
    "analytics.twitter.com",
    "t.co",
    "bat.bing.com",
    "sb.scorecardresearch.com",
    "mc.yandex.ru",
    "counter.yadro.ru",
    "feedblitz.com",
    "feedsportal.com",
    "pheedo.com",
    "ads.",
)
_TRACKER_PATH = re.compile(
    r"(/~r/|/~ff/|/pixel[./_]|/tracking|/beacon|/1x1\.|/spacer\.|/blank\.gif)", re.I
)
# Smaller than this on either side: an icon, a spacer or a tracking pixel, not a picture.
MIN_IMAGE_SIDE = 80


# Names that never mean a public web server: the reader's own machine, the local network
# (mDNS .local, RFC 8375 home.arpa) and names companies and routers use inside their networks.
_PRIVATE_SUFFIXES = (
    "localhost",
    "localdomain",
    "local",
    "internal",
    "intranet",
    "lan",
    "home",
    "home.arpa",
    "corp",
    "private",
    "test",
    "invalid",
)
# Hosts browsers read as IPv4 although they are not dotted quads: 2130706433, 0x7f.1, 127.1.
_NUMERIC_HOST = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}\.?")


def _literal_address(host: str) -> str | None:
    """The IP address a browser would connect to for ``host`` when ``host`` is one written
    as a number (in any of the forms browsers accept), else None."""
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        pass
    if _NUMERIC_HOST.fullmatch(host):
        try:
            return socket.inet_ntoa(socket.inet_aton(host.rstrip(".")))
        except OSError:
            return "0.0.0.0"  # a number no browser can reach: treat as not public
    return None


def private_host(url: str) -> bool:
    """Whether loading ``url`` would reach the reader's own machine or network: a loopback,
    private or link-local address (in any notation), ``localhost`` or a local-only name
    (``*.local``, ``*.internal``, a name without a dot). No DNS lookup: this runs when the
    email is rendered, and what a name resolves to there says nothing about the reader's
    network."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if not host:
        return True
    address = _literal_address(host)
    if address is not None:
        return not is_public_ip(address)
    if "." not in host:
        return True  # "router", "nas": completed by the reader's own search domain
    return host.endswith(tuple(f".{s}" for s in _PRIVATE_SUFFIXES)) or host in _PRIVATE_SUFFIXES


def acceptable_image(url: str | None, width: int | None, height: int | None) -> bool:
    """The one rule for a picture worth showing: an http(s) URL on a public host, both
    dimensions known and at least MIN_IMAGE_SIDE, not a tracking pixel or tracking host."""
    if not url or width is None or height is None:
        return False
    if width < MIN_IMAGE_SIDE or height < MIN_IMAGE_SIDE:
        return False
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not host or private_host(url):
        return False
    if host.startswith(("pixel.", "ads.", "ad.", "tracking.", "track.", "stats.")):
        return False
    for tracker in _TRACKER_HOSTS:
        if host == tracker or host.endswith("." + tracker):
            return False
    return not _TRACKER_PATH.search(parts.path)


# ---------------------------------------------------------------- robots.txt

_DISALLOW_ALL = ["User-agent: *", "Disallow: /"]


class RobotsCache:
    """robots.txt verdicts per origin, fetched once per run and shared between threads.

    ``fetch(url)`` returns ``(status, body)`` or raises FetchError. 401/403 and server errors
    disallow the whole site, other 4xx (no robots.txt) allow everything, as Google documents.
    A site that cannot be reached at all (its name does not resolve, connections are
    refused, it times out) is remembered as such: its pages fail with "cannot reach HOST",
    which is what is wrong, not "disallowed by robots.txt".
    """

    def __init__(self, user_agent: str, fetch: Callable[[str], tuple[int, bytes]]) -> None:
        self._agent = user_agent
        self._fetch = fetch
        self._parsers: dict[str, urllib.robotparser.RobotFileParser | FetchError] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def check(self, url: str) -> None:
        """Raise FetchError unless robots.txt of ``url``'s origin lets our User-Agent in."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._lock:
            origin_lock = self._locks.setdefault(origin, threading.Lock())
        with origin_lock:
            verdict = self._parsers.get(origin)
            if verdict is None:
                verdict = self._parsers[origin] = self._load(origin)
        if isinstance(verdict, FetchError):
            raise verdict
        if not verdict.can_fetch(self._agent, url):
            raise FetchError("disallowed by robots.txt", kind=FetchErrorKind.ROBOTS, url=url)

    def _load(self, origin: str) -> urllib.robotparser.RobotFileParser | FetchError:
        parser = urllib.robotparser.RobotFileParser(origin + "/robots.txt")
        try:
            status, body = self._fetch(origin + "/robots.txt")
        except FetchError as exc:
            if exc.kind in (
                FetchErrorKind.UNREACHABLE,
                FetchErrorKind.TIMEOUT,
                FetchErrorKind.BLOCKED,
            ):
                return exc
            # robots.txt unreadable for another reason: be polite, stay away.
            log.debug("robots.txt of %s unreadable (%s): treating as disallowed", origin, exc)
            parser.parse(_DISALLOW_ALL)
            return parser
        if status in (401, 403) or status >= 500:
            parser.parse(_DISALLOW_ALL)
        elif status >= 400:
            parser.parse([])
        else:
            parser.parse(body.decode("utf-8", errors="replace").splitlines())
        return parser
