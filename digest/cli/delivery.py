"""The delivery commands: ``digest send``, ``digest status`` and ``digest run`` (the daemon).

Each parses its options, calls one library function (:mod:`digest.delivery`,
:mod:`digest.scheduler`) and prints the result. Register with ``main.add_command(send)``,
``main.add_command(status)`` and ``main.add_command(run_daemon)`` (its command name is
``run``).
"""

from __future__ import annotations

import datetime as dt
import logging
import sys

import click

from digest import delivery
from digest.cli.common import CliState, parse_date, pass_state, run
from digest.config import check_address
from digest.models import utc_now
from digest.outbox import DeliveryReport, RecipientResult, RecipientStatus
from digest.scheduler import Scheduler, last_and_next


def _check_to(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list[str]:
    out = []
    for value in values:
        try:
            out.append(check_address(value))
        except ValueError as exc:
            raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
    return out


def _describe(result: RecipientResult, date: dt.date) -> str:
    detail = f" ({result.detail})" if result.detail else ""
    return f"{date.isoformat()} {result.recipient}: {result.status}{detail}"


def _complain(result: RecipientResult, date: dt.date) -> None:
    if result.status is RecipientStatus.FAILED:
        click.echo(
            f"error: {result.recipient}: delivery of {date} failed permanently: {result.detail}; "
            f"fix the address or the server, then `digest send --date {date} --retry-failed`",
            err=True,
        )
    elif result.status is RecipientStatus.PENDING:
        click.echo(
            f"error: {result.recipient}: delivery of {date} not done yet: {result.detail}; "
            f"it stays due and the next `digest send` (or `digest run`) retries it",
            err=True,
        )
    elif result.status is RecipientStatus.BUSY:
        click.echo(
            f"error: {result.recipient}: another digest process is sending {date}; "
            "run `digest send` again when it has finished",
            err=True,
        )


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
@click.option("--force", is_flag=True, help="Send again to everyone, with new Message-IDs.")
@click.option(
    "--retry-failed",
    "retry_failed",
    is_flag=True,
    help="Try again the recipients that failed permanently, and only them.",
)
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
    retry_failed: bool,
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
        digest send --date 2026-11-26 --retry-failed   # after fixing a bad address
    """
    date = parse_date(date_arg)

    def go() -> list[DeliveryReport]:
        config = state.load()
        return delivery.send(
            config,
            date,
            to=to,
            force=force,
            retry_failed=retry_failed,
            dry_run=dry_run,
            max_retry_s=retry_for,
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
            if result.status is RecipientStatus.WRITTEN:
                click.echo(result.detail)
                continue
            if not state.quiet:
                click.echo(_describe(result, report.date))
            _complain(result, report.date)
            bad = bad or not result.status.done
    sys.exit(1 if bad else 0)


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
        now = utc_now()
        last, upcoming = last_and_next(config, now)
        return delivery.status_lines(config, now, next_run=upcoming, last_run=last)

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
        state.load().require_email()
        if not state.quiet:
            # A daemon says what it does: its own lines at INFO at the default verbosity
            # (one per job), while libraries and the other stages stay at warnings.
            for handler in logging.getLogger().handlers:
                handler.setLevel(min(handler.level, logging.INFO))
            logging.getLogger("digest.scheduler").setLevel(logging.INFO)
        return Scheduler(state.load).run()

    sys.exit(run(state, go))
