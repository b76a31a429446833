"""Exactly once per (date, recipient): the outbox, claimed, sent, retried.

A digest of date D goes to each recipient once: every (D, recipient) is an outbox row with a
stable Message-ID; a row is claimed atomically before sending and marked sent only after the
server accepted the message. Temporary failures (4xx, network) are retried within the run
with a bounded backoff and then left due for the next ``send`` or scheduler tick; permanent
ones (5xx) are reported and not retried. How one message is composed and handed to a server
is :mod:`digest.mail`.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from enum import StrEnum
from pathlib import Path

from digest.config import Config
from digest.errors import MailError, PermanentMailError, TemporaryMailError
from digest.mail import (
    POLICY,
    Mailer,
    Rendered,
    address_of,
    compose,
    make_list_id,
    make_message_id,
    normalize_address,
)
from digest.models import utc_now
from digest.render import format_subject
from digest.store import OutboxRow, OutboxStatus, Store, owner_id

log = logging.getLogger(__name__)

# Waits between retry rounds for temporary failures; the total is capped by max_retry_s.
BACKOFF_S: tuple[float, ...] = (2, 4, 8, 16, 30)


class RecipientStatus(StrEnum):
    """What happened to one recipient in a run."""

    SENT = "sent"  # accepted now
    ALREADY_SENT = "already-sent"  # by an earlier run
    FAILED = "failed"  # permanently: not retried
    PENDING = "pending"  # a temporary failure: due again
    BUSY = "busy"  # another live process is sending it: not done, not failed
    TEST = "test"  # a --to copy accepted
    WRITTEN = "written"  # a --dry-run .eml file

    @property
    def done(self) -> bool:
        """Whether nothing is left to do for this recipient in this run (not a failure)."""
        return self in (self.SENT, self.ALREADY_SENT, self.TEST, self.WRITTEN)


@dataclass(frozen=True)
class RecipientResult:
    """What happened to one recipient in this run."""

    recipient: str
    status: RecipientStatus
    detail: str = ""


@dataclass(frozen=True)
class DeliveryReport:
    """Per-recipient outcome of one delivery run of one digest date."""

    date: dt.date
    results: tuple[RecipientResult, ...] = ()
    skipped_empty: bool = False
    paths: tuple[Path, ...] = field(default=())

    @property
    def failed(self) -> tuple[RecipientResult, ...]:
        return tuple(r for r in self.results if r.status is RecipientStatus.FAILED)

    @property
    def pending(self) -> tuple[RecipientResult, ...]:
        return tuple(r for r in self.results if r.status is RecipientStatus.PENDING)

    @property
    def ok(self) -> bool:
        """True when every recipient is done: nobody failed, pending or busy."""
        return all(r.status.done for r in self.results)


@dataclass
class _Job:
    recipient: str
    msg: EmailMessage
    error: str = ""


def _send_all(
    jobs: Sequence[_Job],
    mailer: Mailer,
    *,
    sleep: Callable[[float], None],
    max_retry_s: float,
    on_sent: Callable[[_Job, str], None],
    on_permanent: Callable[[_Job, str], None],
) -> list[_Job]:
    """Send every job; retry temporary failures in rounds with backoff; return the leftovers.

    Rounds (rather than retrying one recipient until it works) keep one bad mailbox from
    eating the whole retry budget. A plain MailError propagates after closing the mailer.
    """
    todo = list(jobs)
    waited = 0.0
    delays = iter(BACKOFF_S)
    try:
        while True:
            retry: list[_Job] = []
            for job in todo:
                try:
                    reply = mailer.send(job.msg, job.recipient)
                except TemporaryMailError as exc:
                    log.warning("temporary failure for %s: %s", job.recipient, exc)
                    job.error = str(exc)
                    retry.append(job)
                except PermanentMailError as exc:
                    # INFO: the caller reports it (stderr line, daemon warning) exactly once.
                    log.info("permanent failure for %s: %s", job.recipient, exc)
                    on_permanent(job, str(exc))
                else:
                    log.info("sent to %s: %s", job.recipient, reply)
                    on_sent(job, reply)
            todo = retry
            if not todo:
                return []
            delay = min(next(delays, BACKOFF_S[-1]), max_retry_s - waited)
            if delay <= 0:
                return todo
            sleep(delay)
            waited += delay
    finally:
        mailer.close()


def _subject(config: Config, date: dt.date, item_count: int) -> str:
    assert config.email is not None
    return format_subject(
        config.email.subject,
        title=config.title,
        date=date,
        count=item_count,
        language=config.language,
    )


def _message(
    config: Config,
    rendered: Rendered,
    *,
    recipient: str,
    subject: str,
    message_id: str,
    date: dt.datetime,
) -> EmailMessage:
    email_config = config.require_email()
    return compose(
        rendered.html,
        rendered.text,
        email=email_config,
        # The outbox keys on the bare address; the To: header keeps the configured name.
        recipient=recipients_of(config).get(normalize_address(recipient), recipient),
        subject=subject,
        message_id=message_id,
        date=date,
        list_id=make_list_id(config.title, email_config.from_),
    )


def recipients_of(config: Config) -> dict[str, str]:
    """The configured recipients, one per mailbox: normalised address -> the address as
    written (its display name goes into the To: header; the outbox keys on the first)."""
    out: dict[str, str] = {}
    for value in config.require_email().to:
        out.setdefault(normalize_address(value), value)
    return out


def message_id_for(config: Config, date: dt.date, *, nonce: str = "") -> Callable[[str], str]:
    """How the outbox names each recipient's message of ``date`` for this digest."""
    email_config = config.require_email()
    list_id = make_list_id(config.title, email_config.from_)

    def make(recipient: str) -> str:
        return make_message_id(date, recipient, email_config.from_, list_id=list_id, nonce=nonce)

    return make


def create_rows(
    config: Config, store: Store, date: dt.date, item_count: int, *, force: bool = False
) -> bool:
    """Begin the delivery of ``date``: seal it (a later build shows what was mailed, even when
    nothing was) and create its outbox rows (``force``: anew, with new Message-IDs), none for
    an empty digest unless ``email.send_empty``. Returns whether there is anything to send."""
    email_config = config.require_email()
    store.seal_digest(date, utc_now())
    if item_count == 0 and not email_config.send_empty:
        return False
    keys = list(recipients_of(config))
    if force:
        store.outbox_force(date, keys, message_id_for(config, date, nonce=uuid.uuid4().hex))
    else:
        store.outbox_add(date, keys, message_id_for(config, date))
    return True


def deliver(
    config: Config,
    *,
    date: dt.date,
    store: Store,
    mailer: Mailer,
    now: Callable[[], dt.datetime],
    rendered: Rendered,
    item_count: int,
    force: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    max_retry_s: float = 60.0,
    owner: str | None = None,
) -> DeliveryReport:
    """Deliver the digest of ``date`` to every configured recipient at most once.

    Creates the outbox rows (``force``: anew, with new Message-IDs), claims the due ones
    atomically (two processes never claim the same row), sends each, retries temporary
    failures for about ``max_retry_s`` seconds, and leaves them failed-but-due (next attempt
    now) so the next run tries again at once. An empty digest sends nothing unless
    ``email.send_empty``. A plain MailError (authentication, TLS) releases every claimed row
    as due and propagates.
    """
    recipients = list(recipients_of(config))
    if not create_rows(config, store, date, item_count, force=force):
        log.info("nothing new for %s; not sending (email.send_empty is false)", date)
        return DeliveryReport(date=date, skipped_empty=True)
    owner = owner or owner_id()
    # Rows of recipients since removed from the config are sent too: they were promised.
    claimed = store.outbox_claim(now(), owner, date)
    return _deliver_rows(
        config,
        date=date,
        rows=claimed,
        recipients=recipients,
        store=store,
        mailer=mailer,
        now=now,
        rendered=rendered,
        item_count=item_count,
        sleep=sleep,
        max_retry_s=max_retry_s,
    )


def _deliver_rows(
    config: Config,
    *,
    date: dt.date,
    rows: Sequence[OutboxRow],
    recipients: Sequence[str],
    store: Store,
    mailer: Mailer,
    now: Callable[[], dt.datetime],
    rendered: Rendered,
    item_count: int,
    sleep: Callable[[float], None],
    max_retry_s: float,
) -> DeliveryReport:
    claimed = list(rows)
    outcome: dict[str, RecipientResult] = {}
    try:
        subject = _subject(config, date, item_count)
        jobs = [
            _Job(
                recipient=row.recipient,
                msg=_message(
                    config,
                    rendered,
                    recipient=row.recipient,
                    subject=subject,
                    message_id=row.message_id,
                    date=now(),
                ),
            )
            for row in claimed
        ]
    except BaseException as exc:
        # Nothing was sent: release the claims so the rows are due again, not stuck 'sending'.
        for row in claimed:
            store.outbox_failed(
                date, row.recipient, f"not sent: {exc}", permanent=False, next_attempt=now()
            )
        raise

    def sent(job: _Job, reply: str) -> None:
        store.outbox_sent(date, job.recipient, reply, now())
        outcome[job.recipient] = RecipientResult(job.recipient, RecipientStatus.SENT, reply)

    def permanent(job: _Job, error: str) -> None:
        store.outbox_failed(date, job.recipient, error, permanent=True, next_attempt=None)
        outcome[job.recipient] = RecipientResult(job.recipient, RecipientStatus.FAILED, error)

    try:
        left = _send_all(
            jobs,
            mailer,
            sleep=sleep,
            max_retry_s=max_retry_s,
            on_sent=sent,
            on_permanent=permanent,
        )
    except MailError as exc:
        # Operator trouble (auth, TLS, missing binary): every unfinished row stays due.
        for job in jobs:
            if job.recipient not in outcome:
                store.outbox_failed(
                    date, job.recipient, str(exc), permanent=False, next_attempt=now()
                )
        raise
    for job in left:
        store.outbox_failed(date, job.recipient, job.error, permanent=False, next_attempt=now())
        outcome[job.recipient] = RecipientResult(job.recipient, RecipientStatus.PENDING, job.error)
    # Rows this run did not claim: already done earlier, or in another process's hands.
    for row in store.outbox_rows(date):
        if row.recipient not in outcome and row.recipient in recipients:
            outcome[row.recipient] = _unclaimed(row)
    ordered = [outcome[r] for r in recipients if r in outcome]
    ordered += [v for k, v in outcome.items() if k not in recipients]
    return DeliveryReport(date=date, results=tuple(ordered))


def _unclaimed(row: OutboxRow) -> RecipientResult:
    if row.status is OutboxStatus.SENT:
        return RecipientResult(row.recipient, RecipientStatus.ALREADY_SENT, row.reply or "")
    if row.status is OutboxStatus.FAILED and row.permanent:
        return RecipientResult(row.recipient, RecipientStatus.FAILED, row.last_error or "")
    if row.status is OutboxStatus.SENDING:
        return RecipientResult(
            row.recipient, RecipientStatus.BUSY, "another digest process is sending it"
        )
    return RecipientResult(row.recipient, RecipientStatus.PENDING, row.last_error or "due")


def retry_due(
    config: Config,
    *,
    store: Store,
    mailer: Mailer,
    now: Callable[[], dt.datetime],
    rendered_for: Callable[[dt.date], tuple[Rendered, int]],
    sleep: Callable[[float], None] = time.sleep,
    max_retry_s: float = 60.0,
    dates: Iterable[dt.date] | None = None,
    owner: str | None = None,
) -> list[DeliveryReport]:
    """Send every due outbox row (earlier temporary failures, stale claims), date by date.

    ``rendered_for(date)`` gives the rendered digest and its item count for a date; it is
    called only for dates that have due rows. Rows of recipients no longer in the config
    are still sent: they were promised that digest.
    """
    config.require_email()
    wanted = None if dates is None else set(dates)
    due_dates = [d for d in store.outbox_due_dates(now()) if wanted is None or d in wanted]
    owner = owner or owner_id()
    reports: list[DeliveryReport] = []
    for date in due_dates:
        claimed = store.outbox_claim(now(), owner, date)
        if not claimed:
            continue
        try:
            rendered, count = rendered_for(date)
        except BaseException:
            # Could not rebuild that digest: leave its rows due rather than stuck 'sending'.
            for row in claimed:
                store.outbox_failed(
                    date,
                    row.recipient,
                    row.last_error or "digest could not be rebuilt",
                    permanent=False,
                    next_attempt=now(),
                )
            raise
        reports.append(
            _deliver_rows(
                config,
                date=date,
                rows=claimed,
                recipients=[r.recipient for r in claimed],
                store=store,
                mailer=mailer,
                now=now,
                rendered=rendered,
                item_count=count,
                sleep=sleep,
                max_retry_s=max_retry_s,
            )
        )
    return reports


def send_test_copy(
    config: Config,
    *,
    date: dt.date,
    to: Sequence[str],
    mailer: Mailer,
    now: Callable[[], dt.datetime],
    rendered: Rendered,
    item_count: int,
    sleep: Callable[[float], None] = time.sleep,
    max_retry_s: float = 60.0,
) -> DeliveryReport:
    """Send a test copy to each address in ``to``; the outbox is never read or written.

    Each copy gets a fresh Message-ID so it is never collapsed with the daily delivery.
    """
    config.require_email()
    subject = _subject(config, date, item_count)
    jobs = [
        _Job(
            recipient=addr,
            msg=_message(
                config,
                rendered,
                recipient=addr,
                subject=subject,
                message_id=message_id_for(config, date, nonce=f"test-{uuid.uuid4().hex}")(addr),
                date=now(),
            ),
        )
        for addr in dict.fromkeys(to)
    ]
    outcome: dict[str, RecipientResult] = {}

    def sent(job: _Job, reply: str) -> None:
        outcome[job.recipient] = RecipientResult(job.recipient, RecipientStatus.TEST, reply)

    def permanent(job: _Job, error: str) -> None:
        outcome[job.recipient] = RecipientResult(job.recipient, RecipientStatus.FAILED, error)

    left = _send_all(
        jobs, mailer, sleep=sleep, max_retry_s=max_retry_s, on_sent=sent, on_permanent=permanent
    )
    for job in left:
        outcome[job.recipient] = RecipientResult(job.recipient, RecipientStatus.PENDING, job.error)
    return DeliveryReport(date=date, results=tuple(outcome[j.recipient] for j in jobs))


def eml_name(date: dt.date, recipient: str) -> str:
    """``<date>.<recipient>.eml`` with characters unsafe in file names replaced."""
    safe = re.sub(r"[^A-Za-z0-9@._+-]", "_", address_of(recipient) or recipient)
    return f"{date.isoformat()}.{safe}.eml"


def write_eml(
    config: Config,
    *,
    date: dt.date,
    out_dir: Path,
    now: Callable[[], dt.datetime],
    rendered: Rendered,
    item_count: int,
    recipients: Sequence[str] | None = None,
) -> DeliveryReport:
    """Write ``<out_dir>/<date>.<recipient>.eml`` per recipient; send and record nothing.

    Written even for an empty digest, so a dry run shows what ``send_empty`` would send.
    """
    email_config = config.require_email()
    subject = _subject(config, date, item_count)
    out_dir.mkdir(parents=True, exist_ok=True)
    results: list[RecipientResult] = []
    paths: list[Path] = []
    for recipient in dict.fromkeys(recipients or email_config.to):
        msg = _message(
            config,
            rendered,
            recipient=recipient,
            subject=subject,
            message_id=message_id_for(config, date)(recipient),
            date=now(),
        )
        path = out_dir / eml_name(date, recipient)
        tmp = path.with_suffix(".eml.tmp")
        tmp.write_bytes(msg.as_bytes(policy=POLICY))
        tmp.replace(path)
        paths.append(path)
        results.append(RecipientResult(recipient, RecipientStatus.WRITTEN, str(path)))
    return DeliveryReport(
        date=date,
        results=tuple(results),
        skipped_empty=item_count == 0 and not email_config.send_empty,
        paths=tuple(paths),
    )
