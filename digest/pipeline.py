"""The one place that orders the stages of a build.

gather (fetch and parse every feed) -> candidates (what may still go into the digest) ->
full text (pages of teaser entries) -> summaries -> select (one story once, ranked, capped,
grouped) -> fit and render. Each stage lives in its own module; this one only orders them,
times them, and records the result. A dry run works on a read-only copy of the state, so a
preview or a replay of a past date never changes what the morning email will contain.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from digest import rank
from digest.config import Config
from digest.models import (
    Digest,
    DigestSection,
    DigestStats,
    FeedReport,
    FeedStatus,
    ParsedFeed,
    Summarizer,
    utc_now,
)
from digest.output import Written, headline_summary, write_outputs
from digest.render import RenderedDigest, RenderOptions, fit_and_render
from digest.select import Selection, select
from digest.sources import intake, pages
from digest.sources.http import Http
from digest.store import Store, open_store
from digest.text.summaries import summarize_all
from digest.text.summarize import summarize

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Built:
    """A digest as it will be mailed (fitted to the size cap) and its rendering."""

    digest: Digest
    rendered: RenderedDigest


@dataclass(frozen=True)
class BuildOutput:
    digest: Digest
    rendered: RenderedDigest
    html_path: Path
    text_path: Path


def render_options(config: Config) -> RenderOptions:
    """The config's rendering options, gathered in one place."""
    return RenderOptions(
        templates_dir=config.templates_dir,
        images=config.images,
        unsubscribe=config.email.unsubscribe if config.email else None,
        max_html_kb=config.limits.max_html_kb,
    )


def make_http(config: Config) -> Http:
    """The run's HTTP layer, set up from ``fetch:``."""
    f = config.fetch
    return Http(
        timeout_s=f.timeout_s,
        max_bytes=f.max_bytes,
        per_host=f.per_host,
        concurrency=f.concurrency,
        user_agent=f.user_agent,
    )


@contextlib.contextmanager
def _resources(
    config: Config, store: Store | None, http: Http | None, *, read_only: bool
) -> Iterator[tuple[Store, Http]]:
    """The store and HTTP layer of a build: the caller's, or our own (closed after)."""
    with contextlib.ExitStack() as stack:
        if store is None:
            store = stack.enter_context(open_store(config.state, read_only=read_only))
        if http is None:
            http = stack.enter_context(make_http(config))
        yield store, http


class _Stages:
    """Wall time per stage, for DigestStats and bench/scale.py."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self._last = self.started
        self.times: list[tuple[str, float]] = []

    def done(self, name: str) -> None:
        now = time.perf_counter()
        self.times.append((name, round(now - self._last, 3)))
        self._last = now


def compose(
    config: Config,
    *,
    now: dt.datetime,
    date: dt.date,
    store: Store,
    http: Http,
    record: bool,
    replay: bool = False,
    summarizer: Summarizer = summarize,
    progress: bool = False,
) -> Built:
    """Run the stages for the digest of ``date``; records feeds, articles and caches when
    ``record`` (never the digest itself: see :func:`record`)."""
    stages = _Stages()
    if replay:
        # A replay never touches the network: pages come from the store's cache only, so
        # the same text is summarised as when the date was built.
        gathered = None
        pool = rank.recorded(store, date)
        cache = pages.PageCache(store, now, write=False)
        articles = [pages.from_cache(c.article, cache) for c in pool.candidates]
        fetched = 0
    else:
        gathered = intake.gather(
            config, http=http, store=store, now=now, record=record, date=date, progress=progress
        )
        stages.done("gather")
        pool = rank.candidates(
            config, gathered.articles, gathered.first_seen, date=date, now=now, store=store
        )
        stages.done("candidates")
        full = pages.add_full_text(
            [c.article for c in pool.candidates],
            http=http,
            modes={s.key: s.full_text for s in config.feed_sources()},
            cache=pages.PageCache(store, now, write=record),
            respect_robots=config.fetch.respect_robots,
            allow_private=config.fetch.allow_private,
            private_feeds=gathered.private_feeds,
            typical_chars=pages.typical_lengths(gathered.articles),
        )
        articles, fetched = list(full.articles), full.fetched
    stages.done("full text")
    summarised = summarize_all(
        config, articles, store=store, now=now, record=record, summarizer=summarizer
    )
    stages.done("summarize")
    candidates = [
        replace(c, article=a, summary=s)
        for c, (a, s) in zip(pool.candidates, summarised.items, strict=True)
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
    stages.done("select")
    reports = gathered.reports if gathered else ()
    digest = Digest(
        title=config.title,
        date=date,
        language=config.language,
        timezone=config.timezone,
        generated_at=now,
        sections=_with_overflow(selection, pool.overflow),
        top=selection.top,
        problems=gathered.problems if gathered else tuple(store.digest_problems(date)),
    )
    digest, rendered = fit_and_render(digest, render_options(config))
    stages.done("render")
    digest = replace(
        digest,
        stats=DigestStats(
            feeds=len(reports),
            feeds_failed=sum(1 for r in reports if r.status is FeedStatus.FAILED),
            articles_seen=len(gathered.articles) if gathered else len(pool.candidates),
            articles_new=sum(r.new for r in reports),
            items=len(digest.items),
            elapsed_s=round(time.perf_counter() - stages.started, 2),
            candidates=len(pool.candidates),
            pages_fetched=fetched,
            summaries_computed=summarised.computed,
            stages=tuple(stages.times),
        ),
    )
    if pool.too_old:
        log.info(
            "left out %d articles older than %s hours", pool.too_old, config.limits.max_age_hours
        )
    log.info(
        "digest %s: %d items from %d feeds (%d problems)",
        date,
        digest.stats.items,
        digest.feed_count,
        len(digest.problems),
    )
    return Built(digest, rendered)


def _with_overflow(selection: Selection, overflow: Mapping[str, int]) -> tuple[DigestSection, ...]:
    """The selection's sections, each counting the backlog it left in "and N more"."""
    sections = tuple(
        replace(section, more=section.more + overflow.get(section.title, 0))
        for section in selection.sections
    )
    named = {section.title for section in selection.sections}
    # A feed whose kept items all went to the top stories still says what it left.
    return sections + tuple(
        DigestSection(title=name, items=(), more=count)
        for name, count in overflow.items()
        if name not in named
    )


def record(store: Store, config: Config, digest: Digest, *, now: dt.datetime) -> None:
    """Record ``digest`` as the digest of its date (its stories and the stories merged into
    them), so no later date repeats them; then prune what retention allows."""
    shown = [item.article.id for item in digest.items]
    merged = [i for item in digest.items for i in item.merged_ids]
    store.record_digest(
        digest.date,
        shown + merged,
        title=config.title,
        summary=headline_summary(digest),
        built_at=now,
        problems=digest.problems,
    )
    store.prune(now, config.retention_days)


def build_digest(
    config: Config,
    *,
    now: dt.datetime | None = None,
    date: dt.date | None = None,
    dry_run: bool = False,
    replay: bool = False,
    store: Store | None = None,
    http: Http | None = None,
    summarizer: Summarizer = summarize,
    progress: bool = False,
) -> Digest:
    """Build the digest of ``date`` (default: today in ``timezone``) and record it.

    Building a date again gives the same items plus whatever arrived since; ``dry_run``
    records nothing; ``replay`` rebuilds exactly the articles recorded for ``date`` (no
    fetching, nothing recorded).
    """
    now = now or utc_now()
    date = date or config.local_date(now)
    real = not (dry_run or replay)
    with _resources(config, store, http, read_only=not real) as (db, client):
        built = compose(
            config,
            now=now,
            date=date,
            store=db,
            http=client,
            record=real,
            replay=replay,
            summarizer=summarizer,
            progress=progress,
        )
        if real:
            record(db, config, built.digest, now=now)
    return built.digest


def build_and_write(
    config: Config,
    *,
    now: dt.datetime | None = None,
    date: dt.date | None = None,
    dry_run: bool = False,
    store: Store | None = None,
    http: Http | None = None,
    out_dir: Path | None = None,
    summarizer: Summarizer = summarize,
    progress: bool = False,
) -> BuildOutput:
    """What `digest build` does: build, render, write the files, then record the digest
    (only once its files are written)."""
    now = now or utc_now()
    date = date or config.local_date(now)
    with _resources(config, store, http, read_only=dry_run) as (db, client):
        built = compose(
            config,
            now=now,
            date=date,
            store=db,
            http=client,
            record=not dry_run,
            summarizer=summarizer,
            progress=progress,
        )
        written: Written = write_outputs(
            config, built.digest, built.rendered, past=db.digests(), out_dir=out_dir
        )
        if not dry_run:
            record(db, config, built.digest, now=now)
    return BuildOutput(built.digest, built.rendered, written.html, written.text)


def render_recorded(
    config: Config, *, date: dt.date, now: dt.datetime | None = None, store: Store | None = None
) -> tuple[Digest, RenderedDigest]:
    """The digest of ``date`` exactly as recorded, rendered; fetches and records nothing.

    What a retry or a deliberate resend of a past date mails, so it never takes articles
    that arrived since away from a later digest.
    """
    now = now or utc_now()
    with _resources(config, store, None, read_only=True) as (db, client):
        built = compose(
            config, now=now, date=date, store=db, http=client, record=False, replay=True
        )
    return built.digest, built.rendered


def build_dry(
    config: Config,
    *,
    now: dt.datetime | None = None,
    date: dt.date | None = None,
    store: Store | None = None,
) -> Built:
    """The digest of ``date`` as a dry run builds it, rendered; changes no state."""
    now = now or utc_now()
    date = date or config.local_date(now)
    with _resources(config, store, None, read_only=True) as (db, client):
        return compose(config, now=now, date=date, store=db, http=client, record=False)


def build_preview(config: Config, *, now: dt.datetime | None = None) -> RenderedDigest:
    """The next digest as `build --dry-run` makes it, rendered; changes no state."""
    return build_dry(config, now=now).rendered


def fetch_and_store(
    config: Config,
    *,
    now: dt.datetime | None = None,
    http: Http | None = None,
    progress: bool = False,
) -> list[FeedReport]:
    """Fetch every feed now and store new articles (no summaries, no digest)."""
    now = now or utc_now()
    with _resources(config, None, http, read_only=False) as (db, client):
        gathered = intake.gather(
            config, http=client, store=db, now=now, record=True, progress=progress
        )
    return list(gathered.reports)


def read_feed(target: str, *, config: Config, now: dt.datetime | None = None) -> ParsedFeed:
    """One feed from a file or an http(s) URL, parsed, for `digest parse`."""
    with make_http(config) as http:
        return intake.read_feed(target, http=http, now=now)
