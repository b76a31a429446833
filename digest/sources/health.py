"""Feed health: what a fetch means for a feed's record, and what the digest says about it.

A feed's :class:`~digest.store.FeedState` moves on every fetch: validators and the moved
URL after a success, a failure count and a back-off after an error (1 h doubling to 24 h,
or the server's Retry-After), disabled after 410 Gone. The footer lines are counted from
digest to digest, not from run to run, so an hourly `digest fetch` or an on-demand build
never uses up a line the morning email owes the reader.
"""

from __future__ import annotations

import datetime as dt

from digest.models import FeedProblem, FeedSource, FetchResult
from digest.sources.fetch import backoff_delay, parse_retry_after
from digest.store import FeedState


def is_due(source: FeedSource, state: FeedState | None, now: dt.datetime) -> bool:
    """False for feeds gone for good (410) or backing off after failures; local files are
    always read."""
    if state is None or source.path is not None:
        return True
    if state.disabled:
        return False
    return state.next_attempt is None or state.next_attempt <= now


def next_state(
    source: FeedSource,
    previous: FeedState | None,
    result: FetchResult,
    title: str | None,
    now: dt.datetime,
    warning: str | None = None,
) -> FeedState:
    """The feed's new record after ``result`` (``warning``: what parsing it said)."""
    if result.error is not None or result.status == 304:
        # Not parsed this time: the last parse's warning still stands.
        warning = previous.warning if previous else None
    same_warning = previous is not None and previous.warning == warning
    warned_at = (previous.warned_at if previous else None) if same_warning else None
    if warning is not None and warned_at is None:
        warned_at = now
    url = result.permanent_redirect or (previous.url if previous else None) or source.url
    if result.error is None:
        return _succeeded(source, previous, result, title, now, url, warning, warned_at)
    failures = (previous.consecutive_failures if previous else 0) + 1
    disabled = result.status == 410
    # Re-read Retry-After against this run's clock: an HTTP date in it is absolute.
    header = {k.lower(): v for k, v in result.headers.items()}.get("retry-after")
    retry_after = parse_retry_after(header, now=now) if header else None
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
        failing_since=(previous.failing_since if previous else None) or now,
        next_attempt=now + backoff_delay(failures, retry_after),
        disabled=disabled,
        reported=None,
        recovered_at=previous.recovered_at if previous else None,
        disabled_at=now if disabled else None,
        warning=warning,
        warned_at=warned_at,
    )


def _succeeded(
    source: FeedSource,
    previous: FeedState | None,
    result: FetchResult,
    title: str | None,
    now: dt.datetime,
    url: str | None,
    warning: str | None,
    warned_at: dt.datetime | None,
) -> FeedState:
    headers = {k.lower(): v for k, v in result.headers.items()}
    # A 304 carries no new validators worth trusting over the ones that earned it.
    keep = result.status == 304 and previous is not None
    return FeedState(
        key=source.key,
        url=url,
        title=title or (previous.title if previous else None),
        etag=previous.etag if keep and previous else headers.get("etag"),
        last_modified=previous.last_modified if keep and previous else headers.get("last-modified"),
        consecutive_failures=0,
        last_success=now,
        last_error=None,
        failing_since=None,
        next_attempt=None,
        disabled=False,
        reported=None,
        recovered_at=(
            now
            if previous is not None and previous.consecutive_failures
            else (previous.recovered_at if previous else None)
        ),
        disabled_at=None,
        warning=warning,
        warned_at=warned_at,
    )


def footer_problem(
    label: str, state: FeedState, previous_digest_at: dt.datetime | None
) -> FeedProblem | None:
    """The footer line a digest owes the reader about one feed.

    Relative to the previous digest, not to the last run: a failure that began since the
    previous digest is reported in full, an older one as "still failing since", a feed
    gone for good (410) once, and a recovery since the previous digest once.
    """

    def since_previous(when: dt.datetime | None) -> bool:
        return when is not None and (previous_digest_at is None or when > previous_digest_at)

    if state.consecutive_failures:
        error = state.last_error or "failing"
        if state.disabled:
            if not since_previous(state.disabled_at):
                return None
            return FeedProblem(label, error, kind="gone")
        if since_previous(state.failing_since):
            return FeedProblem(label, error, since=state.failing_since)
        since = state.failing_since
        stamp = since.strftime("%Y-%m-%d %H:%M UTC") if since else "?"
        return FeedProblem(
            label, f"still failing since {stamp}: {error}", kind="failing", since=since
        )
    if previous_digest_at is not None and since_previous(state.recovered_at):
        return FeedProblem(label, "is working again", kind="recovered")
    return None


def warning_due(state: FeedState, previous_digest_at: dt.datetime | None) -> bool:
    """An ill-formed feed is said once per digest, like a failure: in the first digest
    after the warning appeared, not every morning while the publisher leaves it."""
    return previous_digest_at is None or (
        state.warned_at is not None and state.warned_at > previous_digest_at
    )
