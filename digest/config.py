"""Load and validate config.yaml once, at the boundary.

:func:`load_config` returns a :class:`Config` whose paths are absolute (resolved against the
config file's folder) or raises :class:`~digest.errors.ConfigError` carrying one line per
mistake, each naming its key path (``feeds[2].url: ...``), what was expected and what was
found.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import zoneinfo
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from digest.errors import ConfigError
from digest.i18n import is_language_code
from digest.models import SUMMARY_METHODS, FeedSource

ENV_VAR = "DIGEST_CONFIG"
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
DEFAULT_NAME = "config.yaml"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_language(value: str, *, allow_auto: bool) -> str:
    value = value.strip().lower()
    if allow_auto and value == "auto":
        return value
    if not is_language_code(value):
        expected = "'auto' or " if allow_auto else ""
        raise ValueError(f"expected {expected}an ISO 639-1 code such as 'en' or 'id'")
    return value


class FeedConfig(_Model):
    url: str | None = None
    path: Path | None = None
    name: str | None = None
    category: str | None = None
    full_text: Literal["auto", "always", "never"] = "auto"
    language: str = "auto"
    weight: float = Field(default=1.0, gt=0)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not re.match(r"^https?://[^\s/]+", value, re.IGNORECASE):
            raise ValueError(
                f"expected an http:// or https:// URL, found {value!r} (use path: for a local file)"
            )
        return value

    @field_validator("language")
    @classmethod
    def _lang(cls, value: str) -> str:
        return _check_language(value, allow_auto=True)

    @model_validator(mode="after")
    def _one_source(self) -> FeedConfig:
        if (self.url is None) == (self.path is None):
            raise ValueError("each feed needs exactly one of url: or path:")
        return self


class SummaryConfig(_Model):
    sentences: int = Field(default=3, ge=1, le=20)
    # Whole sentences are chosen within this many words (at least one sentence): three
    # Indonesian news sentences are about 100 words, too long for 30 stories in one email.
    max_words: int | None = Field(default=60, ge=10)
    method: str = "default"
    language: str = "auto"

    @field_validator("language")
    @classmethod
    def _lang(cls, value: str) -> str:
        return _check_language(value, allow_auto=True)

    @field_validator("method")
    @classmethod
    def _method(cls, value: str) -> str:
        if value not in SUMMARY_METHODS:
            raise ValueError(f"expected one of {', '.join(SUMMARY_METHODS)}, found {value!r}")
        return value


class LimitsConfig(_Model):
    max_items: int = Field(default=60, ge=1)
    max_items_per_feed: int = Field(default=10, ge=1)
    max_age_hours: float | None = Field(default=None, gt=0)
    max_html_kb: int = Field(default=100, ge=10)


DEFAULT_CONCURRENCY = 16
MAX_CONCURRENCY = 256


class FetchConfig(_Model):
    timeout_s: float = Field(default=20.0, gt=0)
    max_bytes: int = Field(default=10_000_000, ge=1024)
    respect_robots: bool = True
    allow_private: bool = False
    # None: derived from the feeds (see Config.fetch_concurrency).
    concurrency: int | None = Field(default=None, ge=1, le=256)
    per_host: int = Field(default=2, ge=1, le=16)
    user_agent: str | None = None


class OutputConfig(_Model):
    dir: Path = Path("out")


class ScheduleConfig(_Model):
    time: str = "07:00"
    catch_up: bool = True

    @field_validator("time", mode="before")
    @classmethod
    def _hhmm(cls, value: Any) -> str:
        # YAML 1.1 reads an unquoted 19:45 as the base-60 number 1185 (19 * 60 + 45). Such a
        # number always comes from H:MM with H from 1 to 23, so it is read back as that time;
        # any other number (7, 1440, 71130 from 19:45:30) is not a time of day.
        if isinstance(value, int) and not isinstance(value, bool):
            if 60 <= value < 24 * 60:
                return f"{value // 60:02d}:{value % 60:02d}"
            raise ValueError(
                f'expected a local time as HH:MM such as "07:00" (in quotes), found {value!r}'
            )
        match = re.match(r"^([01]?\d|2[0-3]):([0-5]\d)$", str(value).strip())
        if not match:
            raise ValueError(f"expected a local time as HH:MM such as '07:00', found {value!r}")
        return f"{int(match.group(1)):02d}:{match.group(2)}"


class SmtpConfig(_Model):
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password_env: str = "DIGEST_SMTP_PASSWORD"
    timeout_s: float = Field(default=30.0, gt=0)

    @field_validator("password_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", value):
            raise ValueError(
                "expected the NAME of an environment variable that holds the password, "
                "never the password itself"
            )
        return value


_ADDR_RE = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


def check_address(value: str) -> str:
    """``value`` stripped when it holds exactly one email address (with or without a display
    name); "a@b.org, c@d.org" is two addresses and refused, not cut down to the first."""
    from email.utils import getaddresses, parseaddr

    found = [a for _, a in getaddresses([value]) if a]
    if len(found) > 1:
        raise ValueError(
            f"expected one email address, found {len(found)} in {value!r}; "
            "give each address on its own (repeat --to, or one list item each)"
        )
    _, addr = parseaddr(value)
    if not addr or not _ADDR_RE.match(addr):
        raise ValueError(f"expected an email address such as reader@example.org, found {value!r}")
    return value.strip()


Address = Annotated[str, AfterValidator(check_address)]


class EmailConfig(_Model):
    from_: str = Field(alias="from")
    to: list[Address] = Field(min_length=1)
    subject: str = "{title} for {date}"
    send_empty: bool = False
    unsubscribe: str | None = None
    sendmail: Path | None = None
    smtp: SmtpConfig | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("from_")
    @classmethod
    def _from(cls, value: str) -> str:
        return check_address(value)

    @field_validator("to", mode="before")
    @classmethod
    def _to_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("unsubscribe")
    @classmethod
    def _unsub(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^(mailto:|https://)", value):
            raise ValueError(f"expected a mailto: or https: URL, found {value!r}")
        return value

    @field_validator("subject")
    @classmethod
    def _subject(cls, value: str) -> str:
        try:
            value.format(title="t", date="d", count=0)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"the subject may use only {{title}}, {{date}} and {{count}}: {exc}"
            ) from None
        return value


class Config(_Model):
    """The validated configuration. Paths are absolute."""

    title: str = "Morning Digest"
    language: str = "en"
    timezone: str = "UTC"
    templates_dir: Path | None = None
    images: bool = True
    feeds_file: Path | None = None
    feeds: list[FeedConfig] = Field(default_factory=list)
    summary: SummaryConfig = SummaryConfig()
    limits: LimitsConfig = LimitsConfig()
    fetch: FetchConfig = FetchConfig()
    retention_days: int = Field(default=90, ge=1)
    output: OutputConfig = OutputConfig()
    state: Path = Path(".digest/state.sqlite")
    schedule: ScheduleConfig = ScheduleConfig()
    email: EmailConfig | None = None
    # Where the file came from; not a YAML key (excluded from validation by load_config).
    source_path: Path | None = Field(default=None, exclude=True)

    @field_validator("language")
    @classmethod
    def _lang(cls, value: str) -> str:
        return _check_language(value, allow_auto=False)

    @field_validator("feeds", mode="before")
    @classmethod
    def _no_feeds_yet(cls, value: Any) -> Any:
        # "feeds:" followed only by commented-out examples (the starter) is an empty list.
        return [] if value is None else value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown timezone {value!r}; use an IANA name such as 'Asia/Jakarta' or 'UTC'"
            ) from None
        return value

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def fetch_concurrency(self) -> int:
        """Requests in flight at once: ``fetch.concurrency``, or by default enough for every
        host to have its ``per_host`` requests going (the per-host limit protects each
        server), at least 16 and at most 256."""
        if self.fetch.concurrency is not None:
            return self.fetch.concurrency
        from urllib.parse import urlsplit

        try:
            sources = self.feed_sources(missing_ok=True)
        except ConfigError:  # the command that reads the feeds says what is wrong
            sources = []
        hosts = set()
        for source in sources:
            try:
                hosts.add(urlsplit(source.url).hostname if source.url else None)
            except ValueError:
                continue
        return max(DEFAULT_CONCURRENCY, min(MAX_CONCURRENCY, self.fetch.per_host * len(hosts)))

    def local_date(self, now: dt.datetime) -> dt.date:
        """The date of ``now`` in the configured timezone ("today" for digests)."""
        return now.astimezone(self.tz).date()

    def require_email(self) -> EmailConfig:
        """The email section, or one ConfigError (exit 2) that says how to add it."""
        if self.email is None:
            where = self.source_path or "config.yaml"
            raise ConfigError(
                f"email: no email section in {where}; add one with from:, to: and smtp: "
                f"(or sendmail:) to send digests (see the README's Email section)"
            )
        return self.email

    def feed_sources(self, *, missing_ok: bool = False) -> list[FeedSource]:
        """Every subscription: the config's ``feeds`` then those in ``feeds_file``.

        A ``feeds_file`` that is missing, unreadable or not OPML is a ConfigError naming the
        key: ignoring it would build an empty digest and call that success. ``missing_ok``
        is for the commands that create the file (`digest feeds add` and `import`).
        """
        sources = [
            FeedSource(
                url=f.url,
                path=f.path,
                name=f.name,
                category=f.category,
                full_text=f.full_text,
                language=f.language,
                weight=f.weight,
            )
            for f in self.feeds
        ]
        if self.feeds_file is not None and not self.feeds_file.exists():
            if not missing_ok:
                raise ConfigError(
                    f"feeds_file: {self.feeds_file} not found; create it with "
                    "`digest feeds add URL`, or fix or remove feeds_file in config.yaml"
                )
        elif self.feeds_file is not None:
            from digest.sources.opml import read_opml

            known = {s.key for s in sources}
            sources.extend(s for s in read_opml(self.feeds_file) if s.key not in known)
        return sources


def _key_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = "from" if part == "from_" else part
            out += f".{name}" if out else name
    return out or "(top level)"


def _describe(error: Any) -> str:
    kind = error["type"]
    loc = tuple(p for p in error["loc"] if not str(p).startswith(("function-", "literal")))
    path = _key_path(loc)
    found = error.get("input")
    msg: str = error["msg"]
    if kind == "extra_forbidden":
        return f"{path}: unknown key; check its spelling against the README's config reference"
    if kind == "missing":
        return f"{path}: required key is missing"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    elif not isinstance(found, dict | list):
        msg = f"{msg}, found {found!r}"
    return f"{path}: {msg}"


def _resolve(path: Path | None, base: Path) -> Path | None:
    if path is None:
        return None
    path = Path(os.path.expanduser(path))
    return path if path.is_absolute() else (base / path).resolve()


def config_path(explicit: str | Path | None = None) -> Path:
    """Where the config lives: ``explicit``, else ``$DIGEST_CONFIG``, else ./config.yaml."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else Path(DEFAULT_NAME)


def parse_config(data: Any, base: Path, source: Path | None = None) -> Config:
    """Validate an already-loaded mapping; paths are resolved against ``base``."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"(top level): expected a mapping of keys such as title: and feeds:, "
            f"found {type(data).__name__}"
        )
    messages: list[str] = []
    if "source_path" in data:  # a field of ours, not a key users may set
        data = {k: v for k, v in data.items() if k != "source_path"}
        messages.append(
            "source_path: unknown key; check its spelling against the README's config reference"
        )
    email = data.get("email")
    # Checked on the raw mapping so it is reported together with any field mistakes.
    if isinstance(email, dict) and (email.get("smtp") is None) == (email.get("sendmail") is None):
        messages.append("email: set exactly one of smtp: or sendmail: to say how mail leaves")
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        messages[:0] = [_describe(e) for e in exc.errors()]
    if messages:
        raise ConfigError(messages)
    feeds = [
        f.model_copy(update={"path": _resolve(f.path, base)}) if f.path is not None else f
        for f in config.feeds
    ]
    templates_dir = _resolve(config.templates_dir, base)
    if templates_dir is not None and not templates_dir.is_dir():
        raise ConfigError(
            f"templates_dir: folder {templates_dir} not found; create it or set templates_dir: null"
        )
    email = config.email
    if email is not None and email.sendmail is not None:
        email = email.model_copy(update={"sendmail": _resolve(email.sendmail, base)})
    return config.model_copy(
        update={
            "feeds": feeds,
            "templates_dir": templates_dir,
            "feeds_file": _resolve(config.feeds_file, base),
            "state": _resolve(config.state, base),
            "output": OutputConfig(dir=_resolve(config.output.dir, base) or base / "out"),
            "email": email,
            "source_path": source,
        }
    )


def load_config(path: str | Path | None = None) -> Config:
    """Read, validate and resolve the config file; raise ConfigError listing every mistake."""
    file = config_path(path)
    if not file.exists():
        raise ConfigError(
            f"{file}: no config file here; create one with `digest init` "
            f"(or pass -c PATH, or set ${ENV_VAR})"
        )
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot be read ({exc})") from None
    try:
        # libyaml's parser when PyYAML has it: a config of a thousand feeds reads in
        # milliseconds instead of a second; the same safe constructors either way.
        data = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{file}: invalid YAML{where}: {problem}") from None
    return parse_config(data, file.resolve().parent, file.resolve())


def default_config(base: Path | None = None) -> Config:
    """The config used by commands that work without a file (summarize, parse, extract)."""
    return parse_config({}, base or Path.cwd())
