"""The one place that orders the stages: fetch, parse, full text, summarise, select, render.

Gather everything first, then render, then write. ``dry_run`` builds work on a read-only copy
of the state, so a preview or a replay of a past date never changes what the morning email
will contain.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import logging
import os
import statistics
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx

from digest.config import Config
from digest.errors import DigestError
from digest.models import (
    Article,
    Digest,
    DigestSection,
    DigestStats,
    FeedProblem,
    FeedSource,
    FetchResult,
    Image,
    ParsedFeed,
    Summary,
)
from digest.render import (
    ArchiveEntry,
    RenderedDigest,
    fit_digest,
    render_archive,
    render_atom,
    render_digest,
)
from digest.select import Candidate, select
from digest.sources import extract as extract_mod
from digest.sources import feeds as feeds_mod
from digest.sources import fetch as fetch_mod
from digest.sources import pages as pages_mod
from digest.sources.netguard import is_public_ip
from digest.store import FeedState, Store, open_store
from digest.text.summarize import summarize

log = logging.getLogger(__name__)

Summarizer = Callable[..., Summary]


@dataclass(frozen=True)
class FeedReport:
    """How one feed fared in this run (for `digest fetch` and the log)."""

    source: FeedSource
    status: str
    new: int = 0
    entries: int = 0
    error: str | None = None


@dataclass(frozen=True)
class Intake:
    """Articles gathered from every feed, plus what went wrong."""

    articles: tuple[Article, ...]
    problems: tuple[FeedProblem, ...]
    reports: tuple[FeedReport, ...]
    first_seen: dict[str, dt.datetime]
    private_ok: frozenset[str] = frozenset()


@dataclass(frozen=True)
class BuildOutput:
    digest: Digest
    rendered: RenderedDigest
    html_path: Path
    text_path: Path


def local_date(config: Config, now: dt.datetime) -> dt.date:
    """Today in the configured timezone."""
    return now.astimezone(config.tz).date()


def content_hash(article: Article) -> str:
    """What a summary depends on: title and text."""
    return hashlib.sha256(f"{article.title}\n{article.text}".encode()).hexdigest()


# --- intake ----------------------------------------------------------------------------


def _is_private_source(source: FeedSource, result: FetchResult) -> bool:
    """Feeds read from disk or from a non-public address may link to private pages."""
    if source.path is not None:
        return True
    host = urllib.parse.urlsplit(result.url or source.url or "").hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost"
    # The same test the SSRF guard applies to article links.
    return not is_public_ip(host)


def _next_state(
    source: FeedSource,
    previous: FeedState | None,
    result: FetchResult,
    title: str | None,
    now: dt.datetime,
    warning: str | None = None,
) -> FeedState:
    """The feed's new health record after ``result`` (``warning``: what parsing it said)."""
    prev_failures = previous.consecutive_failures if previous else 0
    if result.error is not None or result.status == 304:
        # Not parsed this time: the last parse's warning still stands.
        warning = previous.warning if previous else None
    same_warning = previous is not None and previous.warning == warning
    warned_at = (previous.warned_at if previous else None) if same_warning else None
    if warning is not None and warned_at is None:
        warned_at = now
    url = result.permanent_redirect or (previous.url if previous else None) or source.url
    if result.error is None:
        headers = {k.lower(): v for k, v in result.headers.items()}
        keep = result.status == 304 and previous is not None
        return FeedState(
            key=source.key,
            url=url,
            title=title or (previous.title if previous else None),
            etag=(previous.etag if keep and previous else headers.get("etag")),
            last_modified=(
                previous.last_modified if keep and previous else headers.get("last-modified")
            ),
            consecutive_failures=0,
            last_success=now,
            last_error=None,
            failing_since=None,
            next_attempt=None,
            disabled=False,
            reported=None,
            recovered_at=now if prev_failures else (previous.recovered_at if previous else None),
            disabled_at=None,
            warning=warning,
            warned_at=warned_at,
        )
    failures = prev_failures + 1
    since = (previous.failing_since if previous else None) or now
    disabled = result.status == 410
    # Re-read Retry-After against this run's clock: an HTTP date in it is absolute.
    header = {k.lower(): v for k, v in result.headers.items()}.get("retry-after")
    retry_after = fetch_mod.parse_retry_after(header, now=now) if header else None
    if retry_after is None:
        retry_after = result.retry_after_s
    return FeedState(
        key=source.key,
        url=url,
        title=previous.title if previous else title,
        etag=previous.etag if previous else None,
        last_modified=previous.last_modified if previous else None,
        consecutive_failures=failures,
        last_success=previous.last_success if previous else None,
        last_error=result.error,
        failing_since=since,
        next_attempt=now + fetch_mod.backoff_delay(failures, retry_after),
        disabled=disabled,
        reported=None,
        recovered_at=previous.recovered_at if previous else None,
        disabled_at=now if disabled else None,
        warning=warning,
        warned_at=warned_at,
    )


def footer_problem(
    label: str, state: FeedState, previous_digest_at: dt.datetime | None
) -> FeedProblem | None:
    """The footer line a digest owes the reader about one feed.

    Relative to the previous digest, not to the last run, so an hourly `digest fetch` or an
    on-demand build never uses up the line the morning email should carry: a failure that
    began since the previous digest is reported in full, an older one as "still failing
    since", a feed gone for good (410) once, and a recovery since the previous digest once.
    """

    def since_previous(when: dt.datetime | None) -> bool:
        return when is not None and (previous_digest_at is None or when > previous_digest_at)

    if state.consecutive_failures:
        error = state.last_error or "failing"
        if state.disabled:
            return FeedProblem(label, error) if since_previous(state.disabled_at) else None
        if since_previous(state.failing_since):
            return FeedProblem(label, error)
        stamp = state.failing_since.strftime("%Y-%m-%d %H:%M UTC") if state.failing_since else "?"
        return FeedProblem(label, f"still failing since {stamp}", kind="warning")
    if previous_digest_at is not None and since_previous(state.recovered_at):
        return FeedProblem(label, "is working again", kind="recovered")
    return None


def _due(source: FeedSource, state: FeedState | None, now: dt.datetime) -> bool:
    """False for feeds gone for good (410) or backing off after failures."""
    if state is None or source.path is not None:
        return True
    if state.disabled:
        return False
    return state.next_attempt is None or state.next_attempt <= now


def gather(
    config: Config,
    *,
    now: dt.datetime,
    store: Store,
    record: bool,
    date: dt.date | None = None,
    client: httpx.Client | None = None,
    progress: bool = False,
) -> Intake:
    """Fetch and parse every feed; with ``record`` save validators, health and new articles.

    One feed's failure is a FeedProblem, never an exception. Feeds in back-off (after
    repeated failures) or disabled (410 Gone) are not contacted.
    """
    sources = config.feed_sources()
    states = {s.key: store.feed_state(s.key) for s in sources}
    due = [s for s in sources if _due(s, states[s.key], now)]
    # A 301/308 moved the feed: fetch where it lives now, but keep the configured key.
    moved = {
        s.key: st.url
        for s in due
        if s.url and (st := states[s.key]) is not None and st.url and st.url != s.url
    }
    to_fetch = [replace(s, url=moved[s.key]) if s.key in moved else s for s in due]
    validators = {
        f.key: (st.etag, st.last_modified)
        for f, s in zip(to_fetch, due, strict=True)
        if (st := states[s.key]) is not None and s.path is None
    }
    # Results stream in as each feed finishes and are parsed meanwhile (in worker processes
    # when there are many), and bodies are dropped once parsed, so memory stays flat in the
    # number of feeds. Each result is parsed against the configured source, so articles keep
    # the configured key even when a 301/308 moved the feed; the final URL still resolves
    # relative links.
    result_of: dict[str, FetchResult] = {}

    def stream() -> Iterator[FetchResult]:
        for index, result in fetch_mod.iter_fetch(
            to_fetch,
            validators=validators,
            client=client,
            timeout_s=config.fetch.timeout_s,
            max_bytes=config.fetch.max_bytes,
            concurrency=config.fetch.concurrency,
            per_host=config.fetch.per_host,
            user_agent=config.fetch.user_agent,
            progress=progress,
        ):
            result = replace(result, source=due[index])
            result_of[due[index].key] = result
            yield result

    outcomes: dict[str, feeds_mod.ParseOutcome] = {}
    for parsed_result, outcome in feeds_mod.parse_many(
        stream(), now=now, workers=feeds_mod.default_workers(len(due))
    ):
        outcomes[parsed_result.source.key] = outcome
        result_of[parsed_result.source.key] = replace(parsed_result, body=b"")

    articles: list[Article] = []
    problems: list[FeedProblem] = []
    reports: list[FeedReport] = []
    private_ok: set[str] = set()
    previous_digest_at = store.previous_digest_at(date or local_date(config, now))
    for source in sources:
        previous = states[source.key]
        fetched = result_of.get(source.key)
        if fetched is None:
            assert previous is not None
            problem = footer_problem(
                source.name or previous.title or source.label, previous, previous_digest_at
            )
            if problem is not None:
                problems.append(problem)
            status = "disabled (410 Gone)" if previous.disabled else "skipped (backing off)"
            reports.append(FeedReport(source, status))
            log.info("%s: %s", source.label, status)
            continue
        result = fetched
        if _is_private_source(source, result):
            private_ok.add(source.key)
        parsed: ParsedFeed | None = None
        if source.key in outcomes:
            outcome = outcomes[source.key]
            if isinstance(outcome, ParsedFeed):
                parsed = outcome
            else:
                result = replace(result, error=str(outcome))
        warning = "; ".join(p.message for p in parsed.problems) if parsed else None
        state = _next_state(
            source, previous, result, parsed.title if parsed else None, now, warning or None
        )
        # An ill-formed feed is said once per digest, like a failure: in the first digest
        # after the warning appeared, not every morning while the publisher leaves it.
        if parsed is not None and parsed.problems:
            if previous_digest_at is None or (
                state.warned_at is not None and state.warned_at > previous_digest_at
            ):
                problems.extend(parsed.problems)
            for problem in parsed.problems:
                log.info("%s: %s", problem.feed, problem.message)
        label = source.name or (parsed.title if parsed else None) or state.title or source.label
        problem = footer_problem(label, state, previous_digest_at)
        if problem is not None:
            problems.append(problem)
        if record:
            store.save_feed_state(state, now)
        if result.error is not None:
            log.warning("%s: %s", source.label, result.error)
            reports.append(FeedReport(source, "failed", error=result.error))
        elif parsed is None:
            log.info("%s: not modified", source.label)
            reports.append(FeedReport(source, "not modified"))
        else:
            if result.discovered_from:
                problems.append(
                    FeedProblem(
                        parsed.title or source.label,
                        f"{result.discovered_from} is a web page; reading its feed "
                        f"{result.url} instead (put that URL in the config)",
                        kind="warning",
                    )
                )
            articles.extend(parsed.articles)
            log.info("%s: %d entries", source.label, len(parsed.articles))
            reports.append(FeedReport(source, "ok", entries=len(parsed.articles)))

    # The same article in two feeds is one article; the first feed named keeps it.
    unique: dict[str, Article] = {}
    for article in articles:
        unique.setdefault(article.id, article)
    known = store.first_seen(list(unique))
    if record:
        first_seen = store.add_articles(((a, content_hash(a)) for a in unique.values()), now)
    else:
        first_seen = {i: known.get(i, now) for i in unique}
    new_by_feed: dict[str, int] = {}
    for i, a in unique.items():
        if i not in known:
            new_by_feed[a.feed_key] = new_by_feed.get(a.feed_key, 0) + 1
    return Intake(
        articles=tuple(unique.values()),
        problems=tuple(problems),
        reports=tuple(replace(r, new=new_by_feed.get(r.source.key, 0)) for r in reports),
        first_seen=first_seen,
        private_ok=frozenset(private_ok),
    )


# --- full text, summaries --------------------------------------------------------------


# How long a page that could not be used is left alone before it is tried again.
FAILED_PAGE_RETRY = dt.timedelta(hours=24)


class StoreExtractCache:
    """Extracted pages cached in the store by URL, so a page is fetched once."""

    def __init__(self, store: Store, now: dt.datetime, *, write: bool) -> None:
        self.store, self.now, self.write = store, now, write

    def get(self, url: str) -> extract_mod.ExtractedPage | None:
        data = self.store.get_page(url)
        if data is None or "failed_at" in data:
            return None
        image = data.get("image")
        published = data.get("published")
        return extract_mod.ExtractedPage(
            title=data.get("title"),
            text=data.get("text", ""),
            language=data.get("language"),
            published=dt.datetime.fromisoformat(published) if published else None,
            image=Image(**image) if image else None,
            url=data.get("url"),
        )

    def put(self, url: str, page: extract_mod.ExtractedPage) -> None:
        if not self.write:
            return
        data: dict[str, Any] = {
            "title": page.title,
            "text": page.text,
            "language": page.language,
            "published": page.published.isoformat() if page.published else None,
            "image": None
            if page.image is None
            else {
                "url": page.image.url,
                "width": page.image.width,
                "height": page.image.height,
                "alt": page.image.alt,
            },
            "url": page.url,
        }
        self.store.put_page(url, data, self.now)


def _from_cache(article: Article, cache: StoreExtractCache) -> Article:
    page = cache.get(article.link) if article.link and not article.full_text else None
    if page is None or len(page.text) < len(article.text.strip()):
        return article
    return pages_mod.merge_page(article, page)


def add_full_text(
    config: Config,
    articles: Sequence[Article],
    *,
    store: Store,
    now: dt.datetime,
    record: bool,
    private_ok: frozenset[str],
    client: httpx.Client | None = None,
) -> list[Article]:
    """Replace teasers by the article page's main text where the feed's mode asks for it."""
    modes = {s.key: s.full_text for s in config.feed_sources()}
    lengths: dict[str, list[int]] = {}
    for a in articles:
        lengths.setdefault(a.feed_key, []).append(len(a.text))
    typical = {k: int(statistics.median(v)) for k, v in lengths.items() if len(v) >= 3}

    def failed_recently(article: Article) -> bool:
        data = store.get_page(article.link) if article.link else None
        if data is None or "failed_at" not in data:
            return False
        return now - dt.datetime.fromisoformat(data["failed_at"]) < FAILED_PAGE_RETRY

    def mode_for(article: Article) -> str:
        # A page that failed (404, robots.txt, no main text...) is not asked for again on
        # every build, only after FAILED_PAGE_RETRY.
        return "never" if failed_recently(article) else modes.get(article.feed_key, "auto")

    modes_now = {a.id: mode_for(a) for a in articles}
    result = pages_mod.fetch_articles(
        articles,
        mode_for=lambda a: modes_now.get(a.id, "auto"),
        client=client,
        timeout_s=config.fetch.timeout_s,
        max_bytes=config.fetch.max_bytes,
        respect_robots=config.fetch.respect_robots,
        allow_private=config.fetch.allow_private,
        private_ok_feeds=private_ok,
        concurrency=config.fetch.concurrency,
        per_host=config.fetch.per_host,
        cache=StoreExtractCache(store, now, write=record),
        typical_chars_for=lambda a: typical.get(a.feed_key),
        user_agent=config.fetch.user_agent,
    )
    if record:
        for before, after in zip(articles, result, strict=True):
            wanted = pages_mod.needs_full_text(
                before, modes_now[before.id], typical.get(before.feed_key)
            )
            if wanted and before.link and after.text == before.text:
                store.put_page(before.link, {"failed_at": now.isoformat()}, now)
    return result


def summarize_all(
    config: Config,
    articles: Sequence[Article],
    *,
    store: Store,
    now: dt.datetime,
    record: bool,
    summarizer: Summarizer = summarize,
) -> list[tuple[Article, Summary]]:
    """Summarise each article in its own language, using the store's cache by content hash."""
    method = config.summary.method
    count = config.summary.sentences
    configured = {s.key: s.language for s in config.feed_sources()}
    out: list[tuple[Article, Summary]] = []
    fresh: list[tuple[str, int, str, Summary]] = []
    for article in articles:
        # A feed's language: wins, then summary.language:, then detection from the text.
        # The feed's own <language> tag is not trusted: themes declare en-US on Indonesian
        # sites.
        language = configured.get(article.feed_key, "auto")
        if language == "auto":
            language = config.summary.language
        key = content_hash(article)
        summary = store.get_summary(key, method, count, language)
        if summary is None:
            summary = summarizer(
                article.text,
                title=article.title,
                language=language,
                sentences=count,
                method=method,
            )
            fresh.append((key, count, language, summary))
        if summary.language not in ("", "und") and summary.language != article.language:
            article = replace(article, language=summary.language)
        out.append((article, summary))
    if record and fresh:
        store.put_summaries(fresh, now)
    return out


# --- the digest ------------------------------------------------------------------------


# Per feed, only this many times max_items_per_feed of the newest unsent articles are
# considered: the rest could not make the cut (ranking favours recency), and without a bound
# every build would extract, summarise and cluster a backlog that only grows.
BACKLOG_FACTOR = 3


def _when(article: Article, seen: dt.datetime) -> dt.datetime:
    return article.published or seen


def _candidates(
    config: Config,
    intake: Intake | None,
    *,
    date: dt.date,
    now: dt.datetime,
    store: Store,
) -> tuple[list[tuple[Article, dt.datetime, bool]], int, dict[str, int]]:
    """Articles for the digest of ``date``: this date's recorded ones (pinned), then the
    newest articles seen so far that are in no other digest, within max_age_hours.

    Without an intake (a replay of a recorded date) only the pinned articles are returned.
    Also returns how many were left out as too old, and per section how many older unsent
    articles were not considered (they count in its "and N more" line).
    """
    pinned = {a.id: (a, seen) for a, seen in store.digest_articles(date)}
    if intake is None:
        return [(a, seen, True) for a, seen in pinned.values()], 0, {}
    pool: dict[str, tuple[Article, dt.datetime]] = {}
    for article, seen in store.undigested_articles(now):
        pool[article.id] = (article, seen)
    for article in intake.articles:
        pool[article.id] = (article, intake.first_seen.get(article.id, now))
    elsewhere = store.digest_dates_of(list(pool))
    live_feeds = {s.key for s in config.feed_sources()}
    cutoff = (
        now - dt.timedelta(hours=config.limits.max_age_hours)
        if config.limits.max_age_hours
        else None
    )
    out: list[tuple[Article, dt.datetime, bool]] = []
    for i, (article, seen) in pinned.items():
        current = pool.get(i, (article, seen))[0]
        out.append((current, seen, True))
    too_old = 0
    by_feed: dict[str, list[tuple[Article, dt.datetime]]] = {}
    for i, (article, seen) in pool.items():
        if i in pinned or i in elsewhere or article.feed_key not in live_feeds:
            continue
        if cutoff is not None and _when(article, seen) < cutoff:
            too_old += 1
            continue
        by_feed.setdefault(article.feed_key, []).append((article, seen))
    keep = BACKLOG_FACTOR * config.limits.max_items_per_feed
    overflow: dict[str, int] = {}
    for entries in by_feed.values():
        entries.sort(key=lambda e: _when(*e), reverse=True)
        out.extend((article, seen, False) for article, seen in entries[:keep])
        for article, _ in entries[keep:]:
            section = article.category or article.feed
            overflow[section] = overflow.get(section, 0) + 1
    return out, too_old, overflow


def build_digest(
    config: Config,
    *,
    now: dt.datetime | None = None,
    date: dt.date | None = None,
    dry_run: bool = False,
    replay: bool = False,
    store: Store | None = None,
    client: httpx.Client | None = None,
    summarizer: Summarizer = summarize,
    progress: bool = False,
) -> Digest:
    """Build the digest of ``date`` (default: today in ``timezone``).

    A real build records the digest's articles in the store, so no later date repeats
    them; ``dry_run`` records nothing. Building a date again gives the same items plus
    whatever arrived since. ``replay`` rebuilds exactly the articles recorded for ``date``
    (no fetching, nothing recorded): what a resend or a retry of a past date mails.
    """
    started = time.perf_counter()
    now = now or dt.datetime.now(dt.UTC)
    date = date or local_date(config, now)
    record = not (dry_run or replay)
    own_store = store is None
    if store is None:
        store = open_store(config.state, read_only=not record)
    try:
        intake = (
            None
            if replay
            else gather(
                config,
                now=now,
                store=store,
                record=record,
                date=date,
                client=client,
                progress=progress,
            )
        )
        pool, too_old, overflow = _candidates(config, intake, date=date, now=now, store=store)
        articles = [a for a, _, _ in pool]
        if intake is None:
            # A replay never touches the network: pages come from the store's cache only,
            # so the same text is summarised as when the date was built.
            cache = StoreExtractCache(store, now, write=False)
            articles = [_from_cache(a, cache) for a in articles]
        else:
            articles = add_full_text(
                config,
                articles,
                store=store,
                now=now,
                record=record,
                private_ok=intake.private_ok,
                client=client,
            )
        summarized = summarize_all(
            config, articles, store=store, now=now, record=record, summarizer=summarizer
        )
        candidates = [
            Candidate(article=a, summary=s, first_seen=seen, pinned=pinned)
            for (a, s), (_, seen, pinned) in zip(summarized, pool, strict=True)
        ]
        order = [f.category for f in config.feeds if f.category] + [
            f.name for f in config.feeds if f.name
        ]
        selection = select(
            candidates,
            now=now,
            max_items=config.limits.max_items,
            max_items_per_feed=config.limits.max_items_per_feed,
            section_order=order,
        )
        sections = tuple(
            replace(section, more=section.more + overflow.get(section.title, 0))
            for section in selection.sections
        ) + tuple(
            # A feed whose kept items all went to the top stories still says what it left.
            DigestSection(title=name, items=(), more=count)
            for name, count in overflow.items()
            if name not in {section.title for section in selection.sections}
        )
        reports = intake.reports if intake else ()
        digest = Digest(
            title=config.title,
            date=date,
            language=config.language,
            timezone=config.timezone,
            generated_at=now,
            sections=sections,
            top=selection.top,
            problems=intake.problems if intake else tuple(store.digest_problems(date)),
            stats=DigestStats(
                feeds=len(reports),
                feeds_failed=sum(1 for r in reports if r.status == "failed"),
                articles_seen=len(intake.articles) if intake else len(pool),
                articles_new=sum(r.new for r in reports),
                items=len(selection.top) + sum(len(s.items) for s in selection.sections),
                elapsed_s=round(time.perf_counter() - started, 2),
            ),
        )
        # Cut for size before recording: an item left out of the email stays available
        # for a later digest instead of being marked as sent.
        digest = fit_digest(
            digest,
            templates_dir=config.templates_dir,
            images=config.images,
            unsubscribe=config.email.unsubscribe if config.email else None,
            max_html_kb=config.limits.max_html_kb,
        )
        digest = replace(digest, stats=replace(digest.stats, items=len(digest.items)))
        if too_old:
            log.info(
                "left out %d articles older than %s hours", too_old, config.limits.max_age_hours
            )
        if record:
            shown = [item.article.id for item in digest.items]
            merged = [i for item in digest.items for i in item.merged_ids]
            store.record_digest(
                date,
                shown + merged,
                title=config.title,
                summary=" · ".join(item.article.title for item in digest.items[:3]),
                built_at=now,
                problems=digest.problems,
            )
            store.prune(now, config.retention_days)
        log.info(
            "digest %s: %d items from %d feeds (%d problems)",
            date,
            digest.stats.items,
            digest.feed_count,
            len(digest.problems),
        )
        return digest
    finally:
        if own_store:
            store.close()


def render(config: Config, digest: Digest) -> RenderedDigest:
    """The email-ready HTML and the text part of ``digest`` under ``config``'s options."""
    return render_digest(
        digest,
        templates_dir=config.templates_dir,
        images=config.images,
        unsubscribe=config.email.unsubscribe if config.email else None,
        max_html_kb=config.limits.max_html_kb,
    )


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` so readers see the old file or the new one, never half of one."""
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
            os.fchmod(handle.fileno(), 0o666 & ~_UMASK)
            handle.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise DigestError(f"{path}: cannot write it ({exc.strerror})") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _archive_entries(
    records: Iterable[tuple[dt.date, str, int, str]],
) -> list[ArchiveEntry]:
    return [
        ArchiveEntry(date=d, title=t, href=f"{d.isoformat()}.html", items=n, summary=s)
        for d, t, n, s in sorted(records, key=lambda r: r[0], reverse=True)
    ]


def write_outputs(
    config: Config,
    digest: Digest,
    rendered: RenderedDigest,
    *,
    store: Store,
    out_dir: Path | None = None,
) -> tuple[Path, Path]:
    """Write <date>.html, <date>.txt, index.html and feed.xml; return the first two paths."""
    out = out_dir or config.output.dir
    html_path = out / f"{digest.date.isoformat()}.html"
    text_path = out / f"{digest.date.isoformat()}.txt"
    write_atomic(html_path, rendered.html)
    write_atomic(text_path, rendered.text)
    records = {
        r.date: (r.date, r.title, r.items, r.summary)
        for r in store.digests()
        if (out / f"{r.date.isoformat()}.html").exists()
    }
    records[digest.date] = (
        digest.date,
        digest.title,
        len(digest.items),
        " · ".join(item.article.title for item in digest.items[:3]),
    )
    entries = _archive_entries(records.values())
    write_atomic(
        out / "index.html",
        render_archive(
            entries,
            title=config.title,
            language=config.language,
            templates_dir=config.templates_dir,
        ),
    )
    write_atomic(
        out / "feed.xml",
        render_atom(entries, title=config.title, base_url=None, updated=digest.generated_at),
    )
    return html_path, text_path


def build_and_write(
    config: Config,
    *,
    now: dt.datetime | None = None,
    date: dt.date | None = None,
    dry_run: bool = False,
    store: Store | None = None,
    client: httpx.Client | None = None,
    out_dir: Path | None = None,
    summarizer: Summarizer = summarize,
    progress: bool = False,
) -> BuildOutput:
    """:func:`build_digest`, render, and write the files (what `digest build` does)."""
    own_store = store is None
    if store is None:
        store = open_store(config.state, read_only=dry_run)
    try:
        digest = build_digest(
            config,
            now=now,
            date=date,
            dry_run=dry_run,
            store=store,
            client=client,
            summarizer=summarizer,
            progress=progress,
        )
        rendered = render(config, digest)
        html_path, text_path = write_outputs(config, digest, rendered, store=store, out_dir=out_dir)
        return BuildOutput(digest, rendered, html_path, text_path)
    finally:
        if own_store:
            store.close()


def render_recorded(
    config: Config,
    *,
    date: dt.date,
    now: dt.datetime | None = None,
    store: Store | None = None,
) -> tuple[Digest, RenderedDigest]:
    """The digest of ``date`` exactly as recorded, rendered; fetches and records nothing.

    What a retry or a deliberate resend of a past date mails, so it never takes articles
    that arrived since away from a later digest.
    """
    digest = build_digest(config, now=now, date=date, replay=True, store=store)
    return digest, render(config, digest)


def build_preview(config: Config, *, now: dt.datetime | None = None) -> RenderedDigest:
    """The next digest as `build --dry-run` makes it, rendered; changes no state."""
    digest = build_digest(config, now=now, dry_run=True)
    return render(config, digest)


def fetch_and_store(
    config: Config,
    *,
    now: dt.datetime | None = None,
    client: httpx.Client | None = None,
    progress: bool = False,
) -> list[FeedReport]:
    """Fetch every feed now and store new articles (no summaries, no digest)."""
    now = now or dt.datetime.now(dt.UTC)
    with open_store(config.state) as store:
        intake = gather(config, now=now, store=store, record=True, client=client, progress=progress)
    return list(intake.reports)


def read_feed(
    target: str,
    *,
    now: dt.datetime | None = None,
    client: httpx.Client | None = None,
    timeout_s: float = 20.0,
    max_bytes: int = 10_000_000,
) -> ParsedFeed:
    """One feed from a file or an http(s) URL, parsed, for `digest parse`.

    Raises FetchError or ParseError (one line) when nothing could be read.
    """
    from digest.errors import FetchError

    now = now or dt.datetime.now(dt.UTC)
    if target.lower().startswith(("http://", "https://")):
        source = FeedSource(url=target)
    else:
        source = FeedSource(path=Path(target))
    [result] = fetch_mod.fetch_feeds(
        [source], client=client, timeout_s=timeout_s, max_bytes=max_bytes
    )
    if result.error is not None or not result.ok:
        raise FetchError(result.error or f"HTTP {result.status}", status=result.status)
    return feeds_mod.parse_result(result, now=now)
