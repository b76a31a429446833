"""Intake: every feed fetched, parsed and accounted for, with its health and new articles.

:func:`gather` is the first stage of a build (and all of `digest fetch`): it fetches the feeds
that are due (streaming), follows a web page to the feed it announces, parses in worker
processes while later feeds download, moves each feed's health record on, and records new
articles. A build keeps only each article's lead; the whole texts wait in the store
(:meth:`~digest.store.Store.stage`) until the build is recorded. One feed's failure is a
:class:`~digest.models.FeedProblem`, never an exception.
:func:`read_feed` is the same road for one feed, for `digest parse`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from digest.config import Config
from digest.errors import FetchError, FetchErrorKind, ParseError
from digest.models import (
    Article,
    FeedProblem,
    FeedReport,
    FeedSource,
    FeedStatus,
    FetchResult,
    ParsedFeed,
    utc_now,
)
from digest.sources import feeds as feeds_mod
from digest.sources import fetch as fetch_mod
from digest.sources import health, identity, pages
from digest.sources.http import Http, fetch_by_host, host_of, looks_like_html
from digest.store import Changes, FeedState, Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Intake:
    """Articles gathered from every feed, plus what went wrong.

    ``private_feeds`` are the keys of feeds whose article links may point at non-public
    addresses (read from disk or configured by a private address).
    """

    articles: tuple[Article, ...]
    problems: tuple[FeedProblem, ...]
    reports: tuple[FeedReport, ...]
    first_seen: Mapping[str, dt.datetime]
    private_feeds: frozenset[str] = frozenset()
    # What recording this intake writes: feed health and the articles seen.
    changes: Changes = field(default_factory=Changes)
    # Per feed, the median length of its entries' whole text (feeds with 3 or more).
    typical_chars: Mapping[str, int] = field(default_factory=dict)
    # True when ``articles`` hold only their lead; the store staged them whole
    # (:meth:`Store.whole_articles`), and recording ``changes`` writes them whole.
    leads_only: bool = False


# --- fetching ---------------------------------------------------------------------------


def _discovery(
    http: Http, validators: Mapping[str, tuple[str | None, str | None]], allow_private: bool
) -> Callable[[FetchResult], FetchResult]:
    """A web page given as a feed URL is replaced by the feed it announces in
    ``<link rel="alternate">``, fetched under the same address rule as the page."""

    def follow(result: FetchResult) -> FetchResult:
        source = result.source
        if not result.ok or source.path is not None or not result.url:
            return result
        if not looks_like_html(result.body, result.headers.get("content-type", "")):
            return result
        links = [
            u for u in feeds_mod.discover_feed_links(result.body, result.url) if u != result.url
        ]
        if not links:
            return result
        found = fetch_mod.fetch_url(
            http,
            links[0],
            source=source,
            # The stored validators belong to the feed found here last time.
            validators=validators.get(source.key, (None, None)),
            private_ok=fetch_mod.private_ok(source, allow_private),
        )
        log.info("%s: a web page; using its feed %s", source.label, links[0])
        return replace(
            found,
            discovered_from=result.url,
            elapsed_s=result.elapsed_s + found.elapsed_s,
            permanent_redirect=result.permanent_redirect,
        )

    return follow


def _fetch_and_parse(
    config: Config,
    http: Http,
    due: list[FeedSource],
    states: Mapping[str, FeedState | None],
    now: dt.datetime,
    progress: bool,
    settle: Callable[[ParsedFeed], ParsedFeed],
) -> tuple[dict[str, FetchResult], dict[str, feeds_mod.ParseOutcome]]:
    """Fetch ``due`` feeds and parse them as they arrive (bodies dropped once parsed);
    each parsed feed goes through ``settle`` as it arrives."""
    # A 301/308 moved the feed: fetch where it lives now, but keep the configured key.
    urls = {
        s.key: st.url
        for s in due
        if s.url and (st := states[s.key]) is not None and st.url and st.url != s.url
    }
    # Conditional reads: an unchanged feed (304, or a file with the same time and size)
    # costs no parsing.
    validators = {
        s.key: (st.etag, st.last_modified) for s in due if (st := states[s.key]) is not None
    }
    allow_private = config.fetch.allow_private
    results: dict[str, FetchResult] = {}

    def stream() -> Iterator[FetchResult]:
        for _, result in fetch_mod.iter_fetch(
            http,
            due,
            validators=validators,
            urls=urls,
            allow_private=allow_private,
            after=_discovery(http, validators, allow_private),
            progress=progress,
        ):
            results[result.source.key] = result
            yield result

    outcomes: dict[str, feeds_mod.ParseOutcome] = {}
    for parsed_result, outcome in feeds_mod.parse_many(
        stream(), now=now, workers=feeds_mod.default_workers(len(due))
    ):
        outcomes[parsed_result.source.key] = (
            settle(outcome) if isinstance(outcome, ParsedFeed) else outcome
        )
        results[parsed_result.source.key] = replace(parsed_result, body=b"")
    return results, outcomes


# --- accounting -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Account:
    """What one feed contributes to the intake."""

    articles: tuple[Article, ...]
    problems: tuple[FeedProblem, ...]
    report: FeedReport
    state: FeedState | None


def _not_contacted(
    source: FeedSource, previous: FeedState, previous_digest_at: dt.datetime | None
) -> _Account:
    problem = health.footer_problem(
        source.name or previous.title or source.label, previous, previous_digest_at
    )
    status = FeedStatus.DISABLED if previous.disabled else FeedStatus.BACKING_OFF
    log.info("%s: %s", source.label, status)
    return _Account((), (problem,) if problem else (), FeedReport(source, status), None)


def _account(
    source: FeedSource,
    previous: FeedState | None,
    result: FetchResult,
    outcome: feeds_mod.ParseOutcome | None,
    previous_digest_at: dt.datetime | None,
    now: dt.datetime,
) -> _Account:
    """The articles, footer problems, report and new health record of one fetched feed."""
    parsed = outcome if isinstance(outcome, ParsedFeed) else None
    if isinstance(outcome, ParseError):
        # The parser names the feed by its label; the footer line names it already.
        result = replace(result, error=str(outcome).removeprefix(f"{source.label}: "))
    warning = "; ".join(p.message for p in parsed.problems) if parsed else None
    state = health.next_state(
        source, previous, result, parsed.title if parsed else None, now, warning or None
    )
    problems: list[FeedProblem] = []
    label = source.name or (parsed.title if parsed else None) or state.title or source.label
    if parsed is not None and parsed.problems:
        if health.warning_due(state, previous_digest_at):
            problems.extend(parsed.problems)
        for warning_problem in parsed.problems:
            log.info("%s: %s", warning_problem.feed, warning_problem.message)
    elif (
        parsed is None
        and result.status == 304
        and state.warning
        and health.warning_due(state, previous_digest_at)
    ):
        # Unchanged since the read that warned: a rebuild of the same digest says it again.
        problems.append(FeedProblem(label, state.warning, kind="warning"))
    health_problem = health.footer_problem(label, state, previous_digest_at)
    if health_problem is not None:
        problems.append(health_problem)
    if result.error is not None:
        # INFO: the build reports each problem once, with the other footer lines.
        log.info("%s: %s", source.label, result.error)
        report = FeedReport(source, FeedStatus.FAILED, error=result.error)
        return _Account((), tuple(problems), report, state)
    if parsed is None:
        log.info("%s: not modified", source.label)
        return _Account((), tuple(problems), FeedReport(source, FeedStatus.NOT_MODIFIED), state)
    if result.discovered_from:
        problems.append(
            FeedProblem(
                parsed.title or source.label,
                f"{result.discovered_from} is a web page; reading its feed "
                f"{result.url} instead (put that URL in the config)",
                kind="warning",
            )
        )
    log.info("%s: %d entries", source.label, len(parsed.articles))
    report = FeedReport(source, FeedStatus.OK, entries=len(parsed.articles))
    return _Account(parsed.articles, tuple(problems), report, state)


def gather(
    config: Config,
    *,
    http: Http,
    store: Store,
    now: dt.datetime,
    date: dt.date | None = None,
    progress: bool = False,
    lead_chars: int | None = None,
) -> Intake:
    """Fetch and parse every feed. Writes nothing: the feeds' new health records and the
    articles seen are in ``Intake.changes``, for the caller to apply (:meth:`Store.apply`).

    Feeds in back-off (after repeated failures) or disabled (410 Gone) are not contacted.
    ``date`` is the digest being built: footer lines are counted from the digest before it.

    With ``lead_chars``, memory stays flat in the number of feeds: as each feed is parsed,
    its articles are staged whole in the store (:meth:`Store.stage`) and the intake keeps
    only their first ``lead_chars`` characters, enough to rank them
    (:meth:`Store.whole_articles` gives the whole ones back).
    """
    sources = config.feed_sources()
    states = {s.key: store.feed_state(s.key) for s in sources}
    due = [s for s in sources if health.is_due(s, states[s.key], now)]
    typical: dict[str, int] = {}
    # Always: what an earlier gather on this connection staged must not stand in for what
    # this one lists.
    store.stage_begin()

    def settle(parsed: ParsedFeed) -> ParsedFeed:
        # Decided on whole texts as each feed arrives: which links were reused, how long
        # the feed's entries run (is it a teaser feed?), and with lead_chars, staging.
        articles = identity.reused_links(list(parsed.articles), store)
        typical.update(pages.typical_lengths(articles))
        if lead_chars is None:
            return replace(parsed, articles=tuple(articles))
        store.stage(articles)
        leads = tuple(
            replace(a, text=a.text[:lead_chars]) if len(a.text) > lead_chars else a
            for a in articles
        )
        return replace(parsed, articles=leads)

    results, outcomes = _fetch_and_parse(config, http, due, states, now, progress, settle)
    previous_digest_at = store.previous_digest_at(date or config.local_date(now))
    accounts: list[_Account] = []
    for source in sources:
        previous = states[source.key]
        result = results.get(source.key)
        if result is None:
            assert previous is not None
            accounts.append(_not_contacted(source, previous, previous_digest_at))
            continue
        accounts.append(
            _account(source, previous, result, outcomes.get(source.key), previous_digest_at, now)
        )
    # The same article in two feeds is one article; the first feed named keeps it.
    unique: dict[str, Article] = {}
    for account in accounts:
        for article in account.articles:
            unique.setdefault(article.id, article)
    known = store.first_seen(list(unique))
    first_seen = {i: known.get(i, now) for i in unique}
    new_by_feed: dict[str, int] = {}
    for i, a in unique.items():
        if i not in known:
            new_by_feed[a.feed_key] = new_by_feed.get(a.feed_key, 0) + 1
    return Intake(
        articles=tuple(unique.values()),
        problems=tuple(p for account in accounts for p in account.problems),
        reports=tuple(
            dataclasses.replace(a.report, new=new_by_feed.get(a.report.source.key, 0))
            for a in accounts
        ),
        first_seen=first_seen,
        private_feeds=frozenset(
            s.key for s in sources if fetch_mod.private_ok(s, config.fetch.allow_private)
        ),
        changes=Changes(
            feed_states=tuple(a.state for a in accounts if a.state is not None),
            articles=tuple(unique.values()),
            unchanged_feeds=tuple(
                a.report.source.key for a in accounts if a.report.status is FeedStatus.NOT_MODIFIED
            ),
        ),
        typical_chars=typical,
        leads_only=lead_chars is not None,
    )


@dataclass(frozen=True)
class FeedProbe:
    """One feed read once the way a build reads it: what came back and what it held."""

    source: FeedSource
    result: FetchResult
    parsed: ParsedFeed | None
    error: str | None


def _probe(http: Http, source: FeedSource, allow_private: bool, now: dt.datetime) -> FeedProbe:
    result = fetch_mod.fetch_source(
        http, source, private=fetch_mod.private_ok(source, allow_private)
    )
    result = _discovery(http, {}, allow_private)(result)
    if result.error is not None:
        return FeedProbe(source, result, None, result.error)
    try:
        parsed = feeds_mod.parse_result(result, now=now)
    except ParseError as exc:
        return FeedProbe(source, result, None, str(exc))
    return FeedProbe(source, result, parsed, None)


def probe_feeds(
    sources: list[FeedSource], *, http: Http, allow_private: bool, now: dt.datetime
) -> list[FeedProbe]:
    """Read every feed once as a build would (same address rules, discovery, parsing),
    recording nothing; one :class:`FeedProbe` per source, in order."""
    probes: list[FeedProbe | None] = [None] * len(sources)
    for index, probe in fetch_by_host(
        sources,
        lambda s: _probe(http, s, allow_private, now),
        host=lambda s: host_of(s.url or ""),
        per_host=http.per_host,
        concurrency=http.concurrency,
    ):
        probes[index] = probe
    return [p for p in probes if p is not None]


def read_feed(target: str, *, http: Http, now: dt.datetime | None = None) -> ParsedFeed:
    """One feed from a file or an http(s) URL, parsed, for `digest parse`: a person named
    it, so it may be on a private address. Raises FetchError or ParseError (one line) when
    nothing could be read."""
    now = now or utc_now()
    if target.lower().startswith(("http://", "https://")):
        source = FeedSource(url=target)
    else:
        source = FeedSource(path=Path(target))
    result = fetch_mod.fetch_source(http, source, private=True)
    result = _discovery(http, {}, True)(result)
    if result.error is not None or not result.ok:
        kind = FetchErrorKind.NOT_FOUND if source.path is not None else FetchErrorKind.HTTP
        raise FetchError(result.error or f"HTTP {result.status}", kind=kind, status=result.status)
    return feeds_mod.parse_result(result, now=now)
