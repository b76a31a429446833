"""The delivery commands: ``digest send``, ``digest status`` and ``digest run`` (the daemon).

Register with ``main.add_command(send)``, ``main.add_command(status)`` and
``main.add_command(run_daemon)`` (its command name is ``run``).
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import click

from digest.cli.common import CliState, parse_date, pass_state, run
from digest.config import Config, EmailConfig, check_address
from digest.errors import ConfigError
from digest.mail import (
    DeliveryReport,
    Mailer,
    RecipientResult,
    deliver,
    make_mailer,
    retry_due,
    send_test_copy,
    write_eml,
)
from digest.models import Digest
from digest.render import RenderedDigest
from digest.scheduler import (
    Scheduler,
    item_count,
    next_slot,
    read_last_slot,
    rendered_for_retry,
)
from digest.store import Store, open_store


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _check_to(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list[str]:
    out = []
    for value in values:
        try:
            out.append(check_address(value))
        except ValueError as exc:
            raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
    return out


def require_email(config: Config) -> EmailConfig:
    """The email section, or a ConfigError (exit 2) that says how to add one."""
    if config.email is None:
        where = config.source_path or "config.yaml"
        raise ConfigError(
            f"email: no email section in {where}; add one with from:, to: and smtp: "
            f"(or sendmail:) to send digests (see the README's Email section)"
        )
    return config.email


def _describe(result: RecipientResult, date: dt.date) -> str:
    detail = f" ({result.detail})" if result.detail else ""
    return f"{date.isoformat()} {result.recipient}: {result.status}{detail}"


def _complain(result: RecipientResult, date: dt.date) -> None:
    if result.status == "failed":
        click.echo(
            f"error: {result.recipient}: delivery of {date} failed permanently: {result.detail}; "
            f"fix the address or the server, then `digest send --date {date} --force`",
            err=True,
        )
    elif result.status == "pending":
        click.echo(
            f"error: {result.recipient}: delivery of {date} not done yet: {result.detail}; "
            f"it stays due and the next `digest send` (or `digest run`) retries it",
            err=True,
        )
    elif result.status == "busy":
        click.echo(
            f"warning: {result.recipient}: another digest process is sending {date}", err=True
        )


def _all_done(store: Store, date: dt.date, recipients: list[str]) -> bool:
    rows = {r.recipient: r for r in store.outbox_rows(date)}
    return all(
        r in rows
        and (rows[r].status == "sent" or (rows[r].status == "failed" and rows[r].permanent))
        for r in recipients
    )


def _already(store: Store, date: dt.date, recipients: list[str]) -> DeliveryReport:
    rows = {r.recipient: r for r in store.outbox_rows(date)}
    results = []
    for r in recipients:
        row = rows[r]
        if row.status == "sent":
            results.append(RecipientResult(r, "already-sent", row.reply or ""))
        else:
            results.append(RecipientResult(r, "failed", row.last_error or ""))
    return DeliveryReport(date=date, results=tuple(results))


@dataclass(frozen=True)
class _Built:
    digest: Digest
    rendered: RenderedDigest


def _build_for_send(
    config: Config, *, store: Store, day: dt.date, now: Callable[[], dt.datetime]
) -> _Built:
    """D's digest for delivery: a real build, except for a past date already built, which
    is replayed as recorded so a resend takes no new articles away from a later digest."""
    from digest import pipeline

    today = pipeline.local_date(config, now())
    if day < today and any(d.date == day for d in store.digests()):
        digest, rendered = pipeline.render_recorded(config, date=day, now=now(), store=store)
        return _Built(digest, rendered)
    out = pipeline.build_and_write(config, now=now(), date=day, store=store)
    return _Built(out.digest, out.rendered)


def send_digest(
    config: Config,
    *,
    date: dt.date | None,
    to: list[str],
    force: bool,
    dry_run: bool,
    now: Callable[[], dt.datetime] = _utcnow,
    mailer: Mailer | None = None,
    sleep: Callable[[float], None] | None = None,
    max_retry_s: float = 60.0,
) -> list[DeliveryReport]:
    """What ``digest send`` does; returns one report per digest date it touched."""
    from digest import pipeline

    email = require_email(config)
    day = date or pipeline.local_date(config, now())
    wait = sleep or time.sleep
    if dry_run:
        # Only the .eml files are written: the digest pages in the output folder stay those
        # of the real builds.
        preview = pipeline.build_digest(config, now=now(), date=day, dry_run=True)
        return [
            write_eml(
                config,
                date=day,
                out_dir=config.output.dir,
                now=now,
                rendered=pipeline.render(config, preview),
                item_count=item_count(preview),
                recipients=to or None,
            )
        ]
    # Made first, so a missing password variable fails before anything is built or claimed.
    transport = mailer or make_mailer(email)
    with Store(config.state) as store, store.lock():
        if to:
            # A test copy shows what D's email would hold now, and records nothing: it must
            # not take articles away from the daily delivery.
            copy = pipeline.build_digest(config, now=now(), date=day, dry_run=True, store=store)
            return [
                send_test_copy(
                    config,
                    date=day,
                    to=to,
                    mailer=transport,
                    now=now,
                    rendered=pipeline.render(config, copy),
                    item_count=item_count(copy),
                    sleep=wait,
                    max_retry_s=max_retry_s,
                )
            ]
        recipients = list(dict.fromkeys(email.to))
        if not force and _all_done(store, day, recipients):
            # Nothing to send for D: don't fetch the feeds again just to find that out.
            reports = [_already(store, day, recipients)]
        else:
            built = _build_for_send(config, store=store, day=day, now=now)
            reports = [
                deliver(
                    config,
                    date=day,
                    store=store,
                    mailer=transport,
                    now=now,
                    rendered=built.rendered,
                    item_count=item_count(built.digest),
                    force=force,
                    sleep=wait,
                    max_retry_s=max_retry_s,
                )
            ]
        # Earlier digests whose delivery failed temporarily are due again: send them too.
        earlier = {r.date for r in store.outbox_rows() if r.date != day}
        if earlier:
            reports += retry_due(
                config,
                store=store,
                mailer=transport,
                now=now,
                rendered_for=rendered_for_retry(config, store, now),
                dates=earlier,
                sleep=wait,
                max_retry_s=max_retry_s,
            )
    return reports


@click.command("send")
@click.option("--date", "date_arg", metavar="D", help="Digest date YYYY-MM-DD (default: today).")
@click.option(
    "--to",
    "to",
    multiple=True,
    metavar="ADDR",
    callback=_check_to,
    help="Send a test copy to ADDR instead; it never counts as the daily delivery.",
)
@click.option("--force", is_flag=True, help="Send again, with a new Message-ID.")
@click.option("--dry-run", is_flag=True, help="Write OUT/D.RECIPIENT.eml; send and record nothing.")
@click.option(
    "--retry-for",
    "retry_for",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="How long to retry temporary failures before leaving them due.",
)
@pass_state
def send(
    state: CliState,
    date_arg: str | None,
    to: list[str],
    force: bool,
    dry_run: bool,
    retry_for: float,
) -> None:
    """Deliver the digest of D, building it first if needed; exactly once per recipient.

    Exit 1 when a recipient failed permanently or is still pending after the retries.

    \b
    Example:
        digest send                          # cron-safe: a second run sends nothing more
        digest send --to me@example.org      # a test copy
        digest send --date 2026-11-26 --dry-run
    """
    date = parse_date(date_arg)

    def go() -> list[DeliveryReport]:
        config = state.load()
        return send_digest(
            config, date=date, to=to, force=force, dry_run=dry_run, max_retry_s=retry_for
        )

    reports = run(state, go)
    bad = False
    for report in reports:
        if report.skipped_empty:
            click.echo(
                f"{report.date}: nothing new, "
                + ("a real send would send nothing" if dry_run else "nothing sent")
                + " (set email.send_empty: true to send empty digests)",
                err=True,
            )
        for result in report.results:
            if result.status == "written":
                click.echo(result.detail)
                continue
            if not state.quiet:
                click.echo(_describe(result, report.date))
            _complain(result, report.date)
            bad = bad or result.status in ("failed", "pending")
    sys.exit(1 if bad else 0)


def _local(moment: dt.datetime | None, config: Config) -> str:
    if moment is None:
        return "never"
    return moment.astimezone(config.tz).strftime("%Y-%m-%d %H:%M %Z")


def status_lines(config: Config, store: Store, now: dt.datetime) -> list[str]:
    """The text of ``digest status``."""
    sched = config.schedule
    lines = [
        f"schedule: daily at {sched.time} {config.timezone}"
        f" (catch_up: {'on' if sched.catch_up else 'off'})",
        f"last scheduled run: {_local(read_last_slot(store), config)}",
        f"next scheduled run: {_local(next_slot(now, sched.time, config.tz), config)}",
    ]
    digests = store.digests(limit=1)
    if digests:
        d = digests[0]
        lines.append(f"last digest: {d.date} ({d.items} items, built {_local(d.built_at, config)})")
    else:
        lines.append("last digest: none built yet")
    if config.email is None:
        lines.append("email: not configured (add an email: section to send digests)")
    rows = store.outbox_rows()
    recent = sorted({r.date for r in rows}, reverse=True)[:7]
    lines.append("outbox:" if rows else "outbox: empty")
    for row in (r for r in rows if r.date in recent):
        if row.status == "sent":
            what = f"sent {_local(row.sent_at, config)}"
        elif row.status == "failed" and row.permanent:
            what = f"failed permanently: {row.last_error}"
        elif row.status == "failed":
            what = f"due for retry ({row.attempts} attempts): {row.last_error}"
        else:
            what = row.status
        lines.append(f"  {row.date} {row.recipient}: {what}")
    failing = [s for s in store.feed_states() if s.consecutive_failures > 0 or s.disabled]
    lines.append("failing feeds:" if failing else "failing feeds: none")
    for feed in failing:
        name = feed.title or feed.url or feed.key
        state = "disabled" if feed.disabled else f"{feed.consecutive_failures} failed attempts"
        since = f" since {_local(feed.failing_since, config)}" if feed.failing_since else ""
        lines.append(f"  {name}: {state}{since}: {feed.last_error or ''}".rstrip(": "))
    return lines


@click.command("status")
@pass_state
def status(state: CliState) -> None:
    """Show the last and next scheduled run, the outbox and failing feeds.

    \b
    Example:
        digest -c ~/digest/config.yaml status
    """

    def go() -> list[str]:
        config = state.load()
        # A copy of the state: status must not create or migrate the file.
        with open_store(config.state, read_only=True) as store:
            return status_lines(config, store, _utcnow())

    for line in run(state, go):
        click.echo(line)


@click.command("run")
@pass_state
def run_daemon(state: CliState) -> None:
    """Run the scheduler: build and send daily at schedule.time, until SIGTERM.

    Catches up a missed slot on start (schedule.catch_up), retries due mail every minute,
    re-reads the config before each run and on SIGHUP.

    \b
    Example:
        digest -c ~/digest/config.yaml run
    """

    def go() -> int:
        config = state.load()
        require_email(config)
        return Scheduler(state.load).run()

    sys.exit(run(state, go))
