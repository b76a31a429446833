"""The one exception tree of digest.

Every error a user can cause or meet derives from :class:`DigestError`; its message is a
single line that says what went wrong and what to do about it::

    DigestError
    ├── ConfigError          bad or missing config (exit 2); carries one message per mistake
    ├── FetchError           an HTTP request or a file read failed (one type for feeds, pages,
    │   │                    robots.txt): network, timeout, size cap, redirects, robots.txt
    │   └── BlockedAddress   the URL points at a non-public address (the SSRF guard)
    ├── FeedError            one feed could not be read (becomes a FeedProblem)
    │   └── ParseError       nothing could be read from the bytes
    ├── ExtractError         an article page could not be fetched or yielded no text
    ├── StoreError           the state database is unusable
    ├── RenderError          a template failed (names file and line)
    ├── MailError            delivery failed
    │   ├── TemporaryMailError   4xx, network: retried later
    │   ├── PermanentMailError   5xx: not retried
    │   └── MailConfigError      the email settings cannot work (TLS mismatch; exit 2)
    └── LockError            another digest process holds the lock
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum


class DigestError(Exception):
    """Base of every error digest raises on purpose; ``str(e)`` is the user-facing line."""

    exit_code = 1


class ConfigError(DigestError):
    """The configuration is missing or invalid; ``messages`` holds one line per mistake."""

    exit_code = 2

    def __init__(self, messages: str | Sequence[str]) -> None:
        self.messages: tuple[str, ...] = (
            (messages,) if isinstance(messages, str) else tuple(messages)
        )
        super().__init__("\n".join(self.messages))


class FeedError(DigestError):
    """One feed could not be read; the run goes on and the digest reports it."""


class FetchErrorKind(StrEnum):
    """What kind of failure a FetchError is, for callers that treat them differently."""

    HTTP = "http"  # an HTTP status that is not a success (the message names it)
    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"  # the name does not resolve, or the connection is refused
    BLOCKED = "blocked"  # a non-public address (the SSRF guard)
    TOO_LARGE = "too-large"
    REDIRECTS = "redirects"
    BAD_ENCODING = "bad-encoding"
    INVALID_URL = "invalid-url"
    NETWORK = "network"
    ROBOTS = "robots"  # robots.txt disallows it
    NOT_FOUND = "not-found"  # a local file that does not exist or cannot be read


class FetchError(DigestError):
    """A request or file read failed; ``str(e)`` is one line saying what to do."""

    def __init__(
        self,
        message: str,
        *,
        kind: FetchErrorKind = FetchErrorKind.NETWORK,
        url: str | None = None,
        status: int | None = None,
    ) -> None:
        self.kind = kind
        self.url = url
        self.status = status
        super().__init__(message)


class BlockedAddress(FetchError):
    """The URL points at a loopback, private, link-local or other non-public address."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message, kind=FetchErrorKind.BLOCKED, url=url)


class ParseError(FeedError):
    """The bytes are not a feed digest can read."""


class ExtractError(DigestError):
    """An article page could not be fetched or gave no main text."""


class StoreError(DigestError):
    """The state database cannot be opened or is damaged."""


class RenderError(DigestError):
    """A template could not be loaded or rendered; the message names file and line."""


class MailError(DigestError):
    """A message could not be delivered."""


class TemporaryMailError(MailError):
    """A 4xx reply or a network failure: the delivery stays due and is retried."""


class PermanentMailError(MailError):
    """A 5xx reply: the delivery is not retried."""


class MailConfigError(MailError):
    """The email settings cannot work as written (``security: ssl`` against a plain server,
    no STARTTLS offered): no retry will help until the config changes, so it is not queued
    as a temporary failure. The message names the key to change."""

    exit_code = 2


class LockError(DigestError):
    """Another digest process is running on the same state file."""
