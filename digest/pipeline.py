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
import hashlib
import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

from digest import rank
from digest.config import Config
from digest.errors import DigestError
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
from digest.output import headline_summary, write_outputs, write_parts
from digest.render import RenderedDigest, RenderOptions, fit_and_render
from digest.select import LEAD_CHARS, Candidate, Selection, select
from digest.sources import intake, pages
from digest.sources.http import Http
from digest.store import Changes, Store, open_state
from digest.text.language import preload_model
from digest.text.summaries import Summarised, summarize_all
from digest.text.summarize import summarize

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Built:
    """A digest as it will be mailed (fitted to the size cap), its rendering, and what
    recording it writes besides the digest itself (feed health, articles, caches)."""

    digest: Digest
    rendered: RenderedDigest
    changes: Changes = field(default_factory=Changes)


class Plan(StrEnum):
    """What a build of a date does."""

    BUILD = "build"  # a new digest, or the latest one again before it was mailed
    REPLAY = "replay"  # exactly what was recorded (sealed, or older than the latest)


# How far back a new digest may be dated: a missed day or a week's holiday, not a year.
OLDEST_NEW_DIGEST = dt.timedelta(days=7)


def plan(config: Config, store: Store, date: dt.date, now: dt.datetime, *, dry_run: bool) -> Plan:
    """Digests go forward. A date with a digest is replayed once its delivery has begun
    (sealed), once it is past, or when a later digest exists; today's (or tomorrow's), not
    yet mailed, is built again with what arrived since. A new digest may be dated after the
    latest one, at most a day after today and at most a week before it; other dates are
    refused (DigestError), except in a dry run, which may preview any date."""
    today = config.local_date(now)
    latest = store.latest_digest_date()
    if store.digest_record(date) is not None:
        past = date < today or (latest is not None and date < latest)
        return Plan.REPLAY if past or store.delivery_begun(date) else Plan.BUILD
    if dry_run:
        return Plan.BUILD
    if latest is not None and date <= latest:
        raise DigestError(
            f"{date}: digests go forward and the latest is {latest}; a date without a digest "
            "before it cannot take articles now (--dry-run previews any date)"
        )
    if date > today + dt.timedelta(days=1):
        raise DigestError(
            f"{date}: more than a day after today ({today} in {config.timezone}); "
            "digests are built for today or tomorrow (--dry-run previews any date)"
        )
    if date < today - OLDEST_NEW_DIGEST:
        raise DigestError(
            f"{date}: more than a week before today ({today}); a new digest cannot be "
            "dated that far back (--dry-run previews any date)"
        )
    return Plan.BUILD


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
        concurrency=config.fetch_concurrency(),
        user_agent=f.user_agent,
    )


@contextlib.contextmanager
def _resources(
    config: Config, store: Store | None, http: Http | None, *, read_only: bool
) -> Iterator[tuple[Store, Http]]:
    """The store and HTTP layer of a build: the caller's, or our own (closed after)."""
    with contextlib.ExitStack() as stack:
        if store is None:
            store = stack.enter_context(open_state(config, read_only=read_only))
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


@dataclass(frozen=True)
class _Slice:
    """The stories a build spends full text and summaries on, and what was left out."""

    shortlist: rank.Shortlist
    overflow: Mapping[str, int]
    changes: Changes
    pages_fetched: int = 0
    # Articles considered (the pool), and those older than max_age_hours left out.
    candidates: int = 0
    too_old: int = 0


def compose(
    config: Config,
    *,
    now: dt.datetime,
    date: dt.date,
    store: Store,
    http: Http,
    replay: bool = False,
    summarizer: Summarizer = summarize,
    progress: bool = False,
) -> Built:
    """Run the stages for the digest of ``date``. Writes nothing: what recording it takes
    is in ``Built.changes`` (see :func:`record`).

    Spend only on what can be shown: every feed is fetched and parsed, but only the stories
    the cheap ranking keeps (a few times ``max_items``) get full text and a summary.
    """
    stages = _Stages()
    gathered: intake.Intake | None = None
    if not replay:
        gathered = intake.gather(
            config,
            http=http,
            store=store,
            now=now,
            date=date,
            progress=progress,
            lead_chars=LEAD_CHARS,
        )
        stages.done("gather")
        # Nothing new since this date was built, and the same config: the same choice again,
        # without ranking the whole pool (a thousand feeds' second build costs its fetches).
        replay = not gathered.articles and store.get_meta(BASIS) == basis(config, store, date)
        if replay:
            log.info("nothing new since the digest of %s was built: the same stories", date)
        else:
            # Summaries need the language model: it loads on the other core while the pool
            # is ranked. Not earlier: loaded during fetching, it adds to the peak of memory.
            preload_model()
    if replay:
        # A replay never touches the network: pages come from the store's cache only, so
        # the same text is summarised as when the date was built.
        recorded = rank.recorded(store, date)
        cache = pages.PageCache(store, now)
        chosen = [
            replace(c, article=pages.from_cache(c.article, cache)) for c in recorded.candidates
        ]
        changes = gathered.changes if gathered else Changes()
        work = _Slice(rank.Shortlist(tuple(chosen)), {}, changes, candidates=len(chosen))
    else:
        assert gathered is not None
        pool = rank.candidates(
            config,
            gathered.articles,
            gathered.first_seen,
            date=date,
            now=now,
            store=store,
            leads_only=gathered.leads_only,
        )
        stages.done("candidates")
        short = rank.shortlist(
            pool,
            now=now,
            max_items=config.limits.max_items,
            max_items_per_feed=config.limits.max_items_per_feed,
        )
        short = rank.complete(short, pool, store)
        stages.done("rank")
        work = _full_text(config, gathered, pool, short, store=store, http=http, now=now)
        stages.done("full text")
    candidates = list(work.shortlist.candidates)
    summarised = summarize_all(
        config, [c.article for c in candidates], store=store, summarizer=summarizer
    )
    stages.done("summarize")
    selection = _select(config, candidates, summarised, work.shortlist, now)
    stages.done("select")
    digest = Digest(
        title=config.title,
        date=date,
        language=config.language,
        timezone=config.timezone,
        generated_at=now,
        sections=_with_overflow(selection, work.overflow),
        top=selection.top,
        problems=gathered.problems if gathered else tuple(store.digest_problems(date)),
    )
    digest, rendered = fit_and_render(digest, render_options(config))
    stages.done("render")
    digest = replace(digest, stats=_stats(digest, gathered, work, summarised, selection, stages))
    _report(config, digest, gathered, work.too_old)
    return Built(digest, rendered, work.changes + summarised.changes)


def _full_text(
    config: Config,
    gathered: intake.Intake,
    pool: rank.Pool,
    short: rank.Shortlist,
    *,
    store: Store,
    http: Http,
    now: dt.datetime,
) -> _Slice:
    """Full text for the shortlisted stories that need it (teasers), from the cache or
    fetched politely; the pages met go into the build's changes."""
    cache = pages.PageCache(store, now)
    full = pages.add_full_text(
        [c.article for c in short.candidates],
        http=http,
        modes={s.key: s.full_text for s in config.feed_sources()},
        cache=cache,
        respect_robots=config.fetch.respect_robots,
        allow_private=config.fetch.allow_private,
        private_feeds=gathered.private_feeds,
        typical_chars=gathered.typical_chars,
    )
    chosen = tuple(
        replace(c, article=a) for c, a in zip(short.candidates, full.articles, strict=True)
    )
    overflow = Counter(pool.overflow)
    overflow.update(short.overflow)
    return _Slice(
        replace(short, candidates=chosen),
        dict(overflow),
        gathered.changes + cache.changes,
        full.fetched,
        candidates=len(pool.candidates),
        too_old=pool.too_old,
    )


def _select(
    config: Config,
    candidates: list[Candidate],
    summarised: Summarised,
    short: rank.Shortlist,
    now: dt.datetime,
) -> Selection:
    """The final selection over the shortlist, now with summaries; each story keeps the
    copies the cheap ranking found (recorded with it, named in "Also covered by")."""
    summarised_candidates = [
        replace(c, article=a, summary=s)
        for c, (a, s) in zip(candidates, summarised.items, strict=True)
    ]
    order = [f.category for f in config.feeds if f.category] + [
        f.name for f in config.feeds if f.name
    ]
    selection = select(
        summarised_candidates,
        now=now,
        max_items=config.limits.max_items,
        max_items_per_feed=config.limits.max_items_per_feed,
        section_order=order,
    )
    return replace(
        selection,
        top=tuple(rank.attach_copies(i, short.copies) for i in selection.top),
        sections=tuple(
            replace(s, items=tuple(rank.attach_copies(i, short.copies) for i in s.items))
            for s in selection.sections
        ),
    )


def _stats(
    digest: Digest,
    gathered: intake.Intake | None,
    work: _Slice,
    summarised: Summarised,
    selection: Selection,
    stages: _Stages,
) -> DigestStats:
    reports = gathered.reports if gathered else ()
    return DigestStats(
        feeds=len(reports),
        feeds_failed=sum(1 for r in reports if r.status is FeedStatus.FAILED),
        articles_seen=len(gathered.articles) if gathered else len(work.shortlist.candidates),
        articles_new=sum(r.new for r in reports),
        items=len(digest.items),
        elapsed_s=round(time.perf_counter() - stages.started, 2),
        candidates=work.candidates,
        pages_fetched=work.pages_fetched,
        summaries_computed=summarised.computed,
        pairs_compared=work.shortlist.pairs_compared + selection.pairs_compared,
        stages=tuple(stages.times),
    )


def _report(config: Config, digest: Digest, gathered: intake.Intake | None, too_old: int) -> None:
    if too_old:
        log.info("left out %d articles older than %s hours", too_old, config.limits.max_age_hours)
    if gathered is not None:
        # Every problem once on stderr, in full (the email's footer has the reader's words).
        for problem in digest.problems:
            if problem.kind != "recovered":
                log.warning("%s: %s", problem.feed, problem.message)
    log.info(
        "digest %s: %d items from %d feeds (%d problems)",
        digest.date,
        digest.stats.items,
        digest.feed_count,
        len(digest.problems),
    )


# Sections that only say "and N more" (every story of the feed left out), named one by one
# up to this many; past it, one line counts them all.
MAX_EMPTY_SECTIONS = 3


def _with_overflow(selection: Selection, overflow: Mapping[str, int]) -> tuple[DigestSection, ...]:
    """The selection's sections, each counting the stories it left out in "and N more"."""
    sections = [
        replace(section, more=section.more + overflow.get(section.title, 0))
        for section in selection.sections
    ]
    named = {section.title for section in selection.sections}
    # A feed whose kept items all went to the top stories still says what it left.
    sections += [
        DigestSection(title=name, items=(), more=count)
        for name, count in overflow.items()
        if name not in named
    ]
    full = tuple(s for s in sections if s.items)
    empty = [s for s in sections if not s.items and s.more]
    if len(empty) <= MAX_EMPTY_SECTIONS:
        return full + tuple(empty)
    others = DigestSection(
        title="", items=(), more=sum(s.more for s in empty), other_feeds=len(empty)
    )
    return (*full, others)


def record(
    store: Store,
    config: Config,
    built: Built,
    *,
    now: dt.datetime,
    outbox: Callable[[], None] | None = None,
) -> None:
    """Record ``built`` as the digest of its date, in one transaction with what its build
    gathered (feed health, articles, caches) and, for a delivery, ``outbox()`` creating its
    outbox rows: everything is recorded, or nothing. Its stories and the stories merged into
    them are then in no later digest. Afterwards, prune what retention allows."""
    digest = built.digest
    shown = [item.article.id for item in digest.items]
    merged = [i for item in digest.items for i in item.merged_ids]
    with store.transaction():
        store.apply(built.changes, now)
        store.record_digest(
            digest.date,
            shown + merged,
            title=config.title,
            summary=headline_summary(digest),
            built_at=now,
            problems=digest.problems,
        )
        if outbox is not None:
            outbox()
    store.prune(now, config.retention_days)
    # Only a shortcut for the next build: if it cannot be written (a full disk after the
    # digest was recorded), that build ranks the pool again.
    try:
        store.set_meta(BASIS, basis(config, store, digest.date))
    except (DigestError, sqlite3.Error) as exc:
        log.debug("build basis not kept: %s", exc)


# The meta key of what the latest recorded build chose from (see :func:`basis`).
BASIS = "build_basis"


def basis(config: Config, store: Store, date: dt.date) -> str:
    """What the digest of ``date`` was chosen from besides the clock: the config and every
    article it could take (its own and those in no digest, with their content), hashed. A
    build that gathers nothing new and finds the basis recorded for the date unchanged
    would choose the same stories again (recency aside), so it replays them instead."""
    digest = hashlib.blake2b(repr(config).encode(), digest_size=16)
    # The feeds of a feeds_file are read when asked for, not held in the config.
    digest.update(repr(config.feed_sources()).encode())
    for article_id, content_hash in store.pool_articles(date):
        digest.update(f"{article_id} {content_hash}\n".encode())
    return f"{date.isoformat()} {digest.hexdigest()}"


def _sealed_note(config: Config, store: Store, date: dt.date) -> None:
    if store.delivery_begun(date):
        log.warning(
            "%s was already mailed: this is the digest as sent; newer articles wait for the "
            "next digest",
            date,
        )


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
    """Build the digest of ``date`` (default: today in ``timezone``) and record it (see
    :func:`plan` for which dates are built, replayed or refused).

    ``dry_run`` records nothing; ``replay`` rebuilds exactly the articles recorded for
    ``date`` (no fetching, nothing recorded).
    """
    now = now or utc_now()
    date = date or config.local_date(now)
    real = not (dry_run or replay)
    with _resources(config, store, http, read_only=not real) as (db, client):
        how = Plan.REPLAY if replay else plan(config, db, date, now, dry_run=dry_run)
        built = compose(
            config,
            now=now,
            date=date,
            store=db,
            http=client,
            replay=how is Plan.REPLAY,
            summarizer=summarizer,
            progress=progress,
        )
        if real and how is Plan.BUILD:
            record(db, config, built, now=now)
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
    outbox: Callable[[Store, int], None] | None = None,
) -> BuildOutput:
    """What `digest build` does: build (or replay), render, write the files, and only then
    record the digest (with ``outbox(store, stories)``'s rows, in the same transaction).

    A dry run writes the two parts of the email only, to ``out_dir`` or to the ``preview``
    folder inside ``output.dir``: the archive and the files that were mailed stay as they are.
    """
    now = now or utc_now()
    date = date or config.local_date(now)
    with _resources(config, store, http, read_only=dry_run) as (db, client):
        how = plan(config, db, date, now, dry_run=dry_run)
        if how is Plan.REPLAY:
            _sealed_note(config, db, date)
        built = compose(
            config,
            now=now,
            date=date,
            store=db,
            http=client,
            replay=how is Plan.REPLAY,
            summarizer=summarizer,
            progress=progress,
        )
        if dry_run:
            written = write_parts(
                built.digest, built.rendered, out_dir or config.output.dir / "preview"
            )
        else:
            written = write_outputs(
                config, built.digest, built.rendered, past=db.digests(), out_dir=out_dir
            )
        if not dry_run and how is Plan.BUILD:
            rows = (lambda: outbox(db, len(built.digest.items))) if outbox else None
            record(db, config, built, now=now, outbox=rows)
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
        built = compose(config, now=now, date=date, store=db, http=client, replay=True)
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
        how = plan(config, db, date, now, dry_run=True)
        return compose(config, now=now, date=date, store=db, http=client, replay=how is Plan.REPLAY)


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
        # Only recorded: the intake keeps leads, the store the whole articles until then.
        gathered = intake.gather(
            config, http=client, store=db, now=now, progress=progress, lead_chars=LEAD_CHARS
        )
        db.apply(gathered.changes, now)
    return list(gathered.reports)


def read_feed(target: str, *, config: Config, now: dt.datetime | None = None) -> ParsedFeed:
    """One feed from a file or an http(s) URL, parsed, for `digest parse`."""
    with make_http(config) as http:
        return intake.read_feed(target, http=http, now=now)
