"""Build-then-deliver for a date: the one road from a digest to the inbox.

`digest send`, the daemon's daily job and its retry tick all come here, so each situation
has one behaviour whichever road led to it:

* a past date that already has a digest is replayed exactly as recorded (a resend or a
  late retry never takes newer articles away from a later digest);
* any other date is built for real (files written, then recorded) and then delivered;
* a missing ``email:`` section is one ConfigError (exit 2) before anything is built;
* rows left ``sending`` by a process that is gone are due again at once;
* everything runs under the state's process lock, so two runs never overlap.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from digest import pipeline
from digest.config import Config
from digest.errors import LockError
from digest.mail import Mailer, make_mailer
from digest.models import utc_now
from digest.outbox import (
    DeliveryReport,
    RecipientResult,
    RecipientStatus,
    create_rows,
    deliver,
    retry_due,
    send_test_copy,
    write_eml,
)
from digest.render import RenderedDigest
from digest.store import OutboxStatus, Store, open_state

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]


def default_mailer(config: Config) -> Mailer:
    """The transport the config names (SMTP with the system's CA store, or sendmail)."""
    return make_mailer(config.require_email())


def digest_for_delivery(
    config: Config, *, store: Store, date: dt.date, now: dt.datetime, force: bool = False
) -> pipeline.Built:
    """D's digest as it is mailed. A date already mailed (or older than the latest digest)
    is replayed as recorded; otherwise D is built, its files written, and only then recorded
    together with its outbox rows, in one transaction (:func:`pipeline.plan`)."""

    def rows(db: Store, item_count: int) -> None:
        create_rows(config, db, date, item_count, force=force)

    out = pipeline.build_and_write(config, now=now, date=date, store=store, outbox=rows)
    return pipeline.Built(out.digest, out.rendered)


def _replay(
    config: Config, store: Store, now: Clock
) -> Callable[[dt.date], tuple[RenderedDigest, int]]:
    def load(date: dt.date) -> tuple[RenderedDigest, int]:
        digest, rendered = pipeline.render_recorded(config, date=date, now=now(), store=store)
        return rendered, len(digest.items)

    return load


def _already(store: Store, date: dt.date, recipients: Sequence[str]) -> DeliveryReport:
    rows = {r.recipient: r for r in store.outbox_rows(date)}
    results = []
    for recipient in recipients:
        row = rows[recipient]
        if row.status is OutboxStatus.SENT:
            results.append(
                RecipientResult(recipient, RecipientStatus.ALREADY_SENT, row.reply or "")
            )
        else:
            results.append(RecipientResult(recipient, RecipientStatus.FAILED, row.last_error or ""))
    return DeliveryReport(date=date, results=tuple(results))


@dataclass(frozen=True)
class _Run:
    """What every delivery step of one run needs."""

    config: Config
    now: Clock
    mailer: Mailer
    sleep: Callable[[float], None]
    max_retry_s: float


def send(
    config: Config,
    date: dt.date | None = None,
    *,
    to: Sequence[str] = (),
    force: bool = False,
    retry_failed: bool = False,
    dry_run: bool = False,
    now: Clock = utc_now,
    mailer: Mailer | None = None,
    sleep: Callable[[float], None] = time.sleep,
    max_retry_s: float = 60.0,
) -> list[DeliveryReport]:
    """Deliver the digest of ``date`` (default today) to every recipient at most once.

    ``to``: a test copy to those addresses instead, built as a dry run (records nothing,
    never counts as the daily delivery). ``force``: send again to everyone, with new
    Message-IDs. ``retry_failed``: try the recipients that failed permanently again (only
    them, with the same Message-IDs).
    ``dry_run``: write <date>.<recipient>.eml files in the output folder, send nothing.
    Earlier dates with deliveries still due are retried too. Returns one report per date.
    """
    config.require_email()
    day = date or config.local_date(now())
    if dry_run:
        preview = pipeline.build_dry(config, now=now(), date=day)
        return [
            write_eml(
                config,
                date=day,
                out_dir=config.output.dir,
                now=now,
                rendered=preview.rendered,
                item_count=len(preview.digest.items),
                recipients=list(to) or None,
            )
        ]
    # Made first, so a missing password variable fails before anything is built or claimed.
    run = _Run(config, now, mailer or default_mailer(config), sleep, max_retry_s)
    with open_state(config) as store, store.lock():
        if to:
            return [_test_copy(run, store, day, to)]
        if retry_failed:
            again = store.outbox_retry_failed(day)
            log.info("%s: trying %d recipients again: %s", day, len(again), ", ".join(again))
        reports = [_deliver_date(run, store, day, force=force)]
        earlier = [d for d in store.outbox_due_dates(now()) if d != day]
        if earlier:
            reports += _retry(run, store, earlier)
    return reports


def _test_copy(run: _Run, store: Store, day: dt.date, to: Sequence[str]) -> DeliveryReport:
    copy = pipeline.build_dry(run.config, now=run.now(), date=day, store=store)
    return send_test_copy(
        run.config,
        date=day,
        to=to,
        mailer=run.mailer,
        now=run.now,
        rendered=copy.rendered,
        item_count=len(copy.digest.items),
        sleep=run.sleep,
        max_retry_s=run.max_retry_s,
    )


def _deliver_date(run: _Run, store: Store, day: dt.date, *, force: bool) -> DeliveryReport:
    recipients = list(dict.fromkeys(run.config.require_email().to))
    if not force and store.outbox_settled(day, recipients):
        # Nothing to send for D: don't fetch the feeds again just to find that out.
        return _already(store, day, recipients)
    built = digest_for_delivery(run.config, store=store, date=day, now=run.now(), force=force)
    return deliver(
        run.config,
        date=day,
        store=store,
        mailer=run.mailer,
        now=run.now,
        rendered=built.rendered,
        item_count=len(built.digest.items),
        force=force,
        sleep=run.sleep,
        max_retry_s=run.max_retry_s,
    )


def _retry(run: _Run, store: Store, dates: Sequence[dt.date] | None) -> list[DeliveryReport]:
    return retry_due(
        run.config,
        store=store,
        mailer=run.mailer,
        now=run.now,
        rendered_for=_replay(run.config, store, run.now),
        dates=dates,
        sleep=run.sleep,
        max_retry_s=run.max_retry_s,
    )


def send_due(
    config: Config,
    *,
    now: Clock = utc_now,
    mailer_factory: Callable[[Config], Mailer] = default_mailer,
    sleep: Callable[[float], None] = time.sleep,
    max_retry_s: float = 60.0,
) -> list[DeliveryReport]:
    """Retry every due outbox row of every date (the daemon's tick); skipped while another
    process holds the lock, and cheap when nothing is due."""
    if config.email is None:
        return []
    with open_state(config) as store:
        if not store.outbox_due_dates(now()):
            return []
        try:
            with store.lock(wait=False):
                return _retry(
                    _Run(config, now, mailer_factory(config), sleep, max_retry_s), store, None
                )
        except LockError:
            log.debug("another digest process is delivering; retrying later")
            return []


def status_lines(
    config: Config, now: dt.datetime, *, next_run: dt.datetime, last_run: dt.datetime | None
) -> list[str]:
    """The text of `digest status`: the schedule, the last digest, the outbox, failing feeds.
    Reads a copy of the state: status never creates or migrates the file."""

    def local(moment: dt.datetime | None) -> str:
        if moment is None:
            return "never"
        return moment.astimezone(config.tz).strftime("%Y-%m-%d %H:%M %Z")

    sched = config.schedule
    lines = [
        f"schedule: daily at {sched.time} {config.timezone}"
        f" (catch_up: {'on' if sched.catch_up else 'off'})",
        f"last scheduled run: {local(last_run)}",
        f"next scheduled run: {local(next_run)}",
    ]
    with open_state(config, read_only=True) as store:
        digests = store.digests(limit=1)
        if digests:
            d = digests[0]
            lines.append(f"last digest: {d.date} ({d.items} items, built {local(d.built_at)})")
        else:
            lines.append("last digest: none built yet")
        if config.email is None:
            lines.append("email: not configured (add an email: section to send digests)")
        rows = store.outbox_rows()
        recent = sorted({r.date for r in rows}, reverse=True)[:7]
        lines.append("outbox:" if rows else "outbox: empty")
        for row in (r for r in rows if r.date in recent):
            if row.status is OutboxStatus.SENT:
                what = f"sent {local(row.sent_at)}"
            elif row.status is OutboxStatus.FAILED and row.permanent:
                what = f"failed permanently: {row.last_error}"
            elif row.status is OutboxStatus.FAILED:
                what = f"due for retry ({row.attempts} attempts): {row.last_error}"
            else:
                what = str(row.status)
            lines.append(f"  {row.date} {row.recipient}: {what}")
        failing = [s for s in store.feed_states() if s.consecutive_failures > 0 or s.disabled]
    lines.append("failing feeds:" if failing else "failing feeds: none")
    for feed in failing:
        name = feed.title or feed.url or feed.key
        count = feed.consecutive_failures
        state = "disabled" if feed.disabled else f"{count} failed attempt{'s' * (count != 1)}"
        since = f" since {local(feed.failing_since)}" if feed.failing_since else ""
        lines.append(f"  {name}: {state}{since}: {feed.last_error or ''}".rstrip(": "))
    return lines
