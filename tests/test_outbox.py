"""deliver(): exactly one message per (date, recipient) through the outbox, whatever fails."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from digest.errors import MailError
from digest.mail import SmtpMailer, make_mailer
from digest.outbox import DeliveryReport, deliver, retry_due, send_test_copy, write_eml
from digest.render import RenderedDigest
from digest.store import Store
from tests.smtp_server import DISCONNECT, SmtpServer, free_port, make_config

DAY = dt.date(2026, 11, 26)
RENDERED = RenderedDigest(html="<p>Hello, <b>reader</b></p>", text="Hello, reader")
A, B = "a@example.org", "b@example.org"


class Clock:
    """A controllable clock: ``now()`` returns the current value; ``sleep`` advances it."""

    def __init__(self, start: dt.datetime) -> None:
        self.value = start
        self.slept: list[float] = []

    def now(self) -> dt.datetime:
        return self.value

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.value += dt.timedelta(seconds=seconds)


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    with SmtpServer() as srv:
        yield srv


@pytest.fixture
def clock() -> Clock:
    return Clock(dt.datetime(2026, 11, 26, 6, 0, tzinfo=dt.UTC))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "state.sqlite") as st:
        yield st


def _deliver(
    tmp_path: Path,
    store: Store,
    clock: Clock,
    port: int,
    *,
    to: list[str] | None = None,
    items: int = 3,
    force: bool = False,
    **email: Any,
) -> DeliveryReport:
    config = make_config(tmp_path, port=port, to=to or [A, B], **email)
    assert config.email is not None
    return deliver(
        config,
        date=DAY,
        store=store,
        mailer=make_mailer(config.email, {}),
        now=clock.now,
        rendered=RENDERED,
        item_count=items,
        force=force,
        sleep=clock.sleep,
    )


def _statuses(report: DeliveryReport) -> dict[str, str]:
    return {r.recipient: r.status for r in report.results}


def test_each_recipient_once_and_a_second_run_sends_nothing(
    tmp_path: Path, store: Store, clock: Clock, server: SmtpServer
) -> None:
    first = _deliver(tmp_path, store, clock, server.port)
    assert _statuses(first) == {A: "sent", B: "sent"} and first.ok
    second = _deliver(tmp_path, store, clock, server.port)
    assert _statuses(second) == {A: "already-sent", B: "already-sent"} and second.ok
    assert server.handler.count(A) == 1 and server.handler.count(B) == 1
    rows = {r.recipient: r for r in store.outbox_rows(DAY)}
    assert rows[A].status == "sent" and rows[A].reply and rows[A].reply.startswith("250")
    msg = server.handler.messages_to(A)[0].message
    assert msg["Message-ID"] == rows[A].message_id
    assert msg["Subject"] == "Morning Digest for Thursday, 26 November 2026"


def test_one_of_two_recipients_refused_permanently(
    tmp_path: Path, store: Store, clock: Clock, server: SmtpServer
) -> None:
    server.handler.reject[B] = "550 5.1.1 <b@example.org>: no such user"
    report = _deliver(tmp_path, store, clock, server.port)
    assert _statuses(report) == {A: "sent", B: "failed"}
    [failed] = report.failed
    assert "b@example.org" in failed.detail and "550" in failed.detail
    assert clock.slept == []  # permanent failures are not retried
    row = {r.recipient: r for r in store.outbox_rows(DAY)}[B]
    assert row.status == "failed" and row.permanent
    # Running again neither retries the permanent failure nor resends to A.
    again = _deliver(tmp_path, store, clock, server.port)
    assert _statuses(again) == {A: "already-sent", B: "failed"}
    assert server.handler.count(A) == 1 and server.handler.count(B) == 0


@pytest.mark.parametrize(
    ("stage", "reply"),
    [
        ("DATA", "451 4.3.0 try again later"),
        ("DATA", "421 4.3.2 too busy"),
        ("MAIL", "421 4.3.2 closing"),
        ("RCPT", "450 4.2.1 mailbox busy"),
        ("DATA", DISCONNECT),
    ],
)
def test_temporary_failures_are_retried_within_the_run(
    tmp_path: Path, store: Store, clock: Clock, server: SmtpServer, stage: str, reply: str
) -> None:
    server.handler.fail(stage, reply, times=2)
    report = _deliver(tmp_path, store, clock, server.port, to=[A])
    assert _statuses(report) == {A: "sent"}
    assert clock.slept == [2, 4]
    assert server.handler.count(A) == 1


def test_lasting_temporary_failure_stays_due_then_goes_once(
    tmp_path: Path, store: Store, clock: Clock, server: SmtpServer
) -> None:
    server.handler.fail("DATA", "451 4.3.0 try again later", times=100)
    report = _deliver(tmp_path, store, clock, server.port, to=[A, B])
    assert _statuses(report) == {A: "pending", B: "pending"} and not report.ok
    assert sum(clock.slept) == 60  # bounded to about a minute
    rows = store.outbox_rows(DAY)
    assert all(r.status == "failed" and not r.permanent for r in rows)
    assert all(r.next_attempt is not None and r.next_attempt <= clock.now() for r in rows)
    assert "451" in (rows[0].last_error or "")
    server.handler.faults.clear()
    later = _deliver(tmp_path, store, clock, server.port, to=[A, B])
    assert _statuses(later) == {A: "sent", B: "sent"}
    assert server.handler.count(A) == 1 and server.handler.count(B) == 1


def test_unreachable_server_keeps_the_outbox_due(
    tmp_path: Path, store: Store, clock: Clock
) -> None:
    port = free_port()
    report = _deliver(tmp_path, store, clock, port, to=[A])
    assert _statuses(report) == {A: "pending"}
    assert "connection refused" in report.pending[0].detail
    [row] = store.outbox_rows(DAY)
    assert row.status == "failed" and not row.permanent
    # The server comes up on that port: the next run delivers once.
    with SmtpServer() as srv:
        again = _deliver(tmp_path, store, clock, srv.port, to=[A])
        assert _statuses(again) == {A: "sent"}
        assert srv.handler.count(A) == 1
    assert store.outbox_rows(DAY)[0].message_id == row.message_id  # same Message-ID


def test_empty_digest_sends_nothing_unless_send_empty(
    tmp_path: Path, store: Store, clock: Clock, server: SmtpServer
) -> None:
    report = _deliver(tmp_path, store, clock, server.port, items=0)
    assert report.skipped_empty and report.results == () and report.ok
    assert store.outbox_rows() == [] and server.handler.count() == 0
    report = _deliver(tmp_path, store, clock, server.port, items=0, send_empty=True)
    assert _statuses(report) == {A: "sent", B: "sent"}


def test_force_sends_again_with_a_new_message_id(
    tmp_path: Path, store: Store, clock: Clock, server: SmtpServer
) -> None:
    _deliver(tmp_path, store, clock, server.port, to=[A])
    first_id = store.outbox_rows(DAY)[0].message_id
    report = _deliver(tmp_path, store, clock, server.port, to=[A], force=True)
    assert _statuses(report) == {A: "sent"}
    ids = [m.message["Message-ID"] for m in server.handler.messages_to(A)]
    assert len(ids) == 2 and ids[0] == first_id and ids[1] != first_id
    assert store.outbox_rows(DAY)[0].message_id == ids[1]


def test_operator_error_leaves_rows_due_and_propagates(
    tmp_path: Path, store: Store, clock: Clock
) -> None:
    from tests.smtp_server import client_context, make_certificate

    cert = make_certificate(tmp_path)
    with SmtpServer(security="starttls", cert=cert, users={"u": "right"}) as srv:
        config = make_config(
            tmp_path,
            port=srv.port,
            to=[A],
            smtp={"security": "starttls", "username": "u", "password_env": "PW"},
        )
        assert config.email is not None and config.email.smtp is not None
        bad = SmtpMailer(config.email.smtp, {"PW": "wrong"}, ssl_context=client_context(cert[0]))
        with pytest.raises(MailError, match="authentication failed"):
            deliver(
                config,
                date=DAY,
                store=store,
                mailer=bad,
                now=clock.now,
                rendered=RENDERED,
                item_count=1,
                sleep=clock.sleep,
            )
        [row] = store.outbox_rows(DAY)
        assert row.status == "failed" and not row.permanent
        good = SmtpMailer(config.email.smtp, {"PW": "right"}, ssl_context=client_context(cert[0]))
        report = deliver(
            config,
            date=DAY,
            store=store,
            mailer=good,
            now=clock.now,
            rendered=RENDERED,
            item_count=1,
            sleep=clock.sleep,
        )
        assert _statuses(report) == {A: "sent"} and srv.handler.count(A) == 1


def test_crashed_sender_row_is_picked_up_after_it_goes_stale(
    tmp_path: Path, store: Store, clock: Clock, server: SmtpServer
) -> None:
    config = make_config(tmp_path, port=server.port, to=[A])
    store.outbox_add(DAY, [A], lambda r: "<fixed@example.org>")
    assert store.outbox_claim(clock.now(), "crashed-process", DAY)  # then it "died"
    report = _deliver(tmp_path, store, clock, server.port, to=[A])
    assert _statuses(report) == {A: "busy"} and server.handler.count() == 0
    clock.value += dt.timedelta(minutes=16)
    report = _deliver(tmp_path, store, clock, server.port, to=[A])
    assert _statuses(report) == {A: "sent"}
    assert server.handler.messages_to(A)[0].message["Message-ID"] == "<fixed@example.org>"
    assert config.email is not None


def test_concurrent_deliveries_send_once_per_recipient(
    tmp_path: Path, clock: Clock, server: SmtpServer
) -> None:
    recipients = [f"r{i}@example.org" for i in range(4)]
    config = make_config(tmp_path, port=server.port, to=recipients)
    assert config.email is not None
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            # Each worker opens the (new) state file itself, like separate processes would.
            with Store(tmp_path / "state.sqlite") as own:
                barrier.wait(timeout=10)
                deliver(
                    config,
                    date=DAY,
                    store=own,
                    mailer=make_mailer(config.email, {}),
                    now=clock.now,
                    rendered=RENDERED,
                    item_count=2,
                    sleep=lambda s: None,
                )
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [server.handler.count(r) for r in recipients] == [1, 1, 1, 1]


def test_test_copy_never_touches_the_outbox(
    tmp_path: Path, store: Store, clock: Clock, server: SmtpServer
) -> None:
    config = make_config(tmp_path, port=server.port, to=[A])
    assert config.email is not None
    report = send_test_copy(
        config,
        date=DAY,
        to=["me@example.org"],
        mailer=make_mailer(config.email, {}),
        now=clock.now,
        rendered=RENDERED,
        item_count=1,
        sleep=clock.sleep,
    )
    assert _statuses(report) == {"me@example.org": "test"}
    assert store.outbox_rows() == []
    daily = _deliver(tmp_path, store, clock, server.port, to=[A])
    assert _statuses(daily) == {A: "sent"}
    test_id = server.handler.messages_to("me@example.org")[0].message["Message-ID"]
    assert test_id != store.outbox_rows(DAY)[0].message_id


def test_write_eml_records_and_sends_nothing(
    tmp_path: Path, store: Store, clock: Clock, server: SmtpServer
) -> None:
    config = make_config(tmp_path, port=server.port, to=[A, B])
    report = write_eml(
        config, date=DAY, out_dir=tmp_path / "out", now=clock.now, rendered=RENDERED, item_count=1
    )
    names = sorted(p.name for p in report.paths)
    assert names == ["2026-11-26.a@example.org.eml", "2026-11-26.b@example.org.eml"]
    assert b"Hello, reader" in report.paths[0].read_bytes()
    assert store.outbox_rows() == [] and server.handler.count() == 0


def test_retry_due_resends_earlier_failures(
    tmp_path: Path, store: Store, clock: Clock, server: SmtpServer
) -> None:
    server.handler.fail("DATA", "451 4.3.0 later", times=100)
    _deliver(tmp_path, store, clock, server.port, to=[A])
    server.handler.faults.clear()
    config = make_config(tmp_path, port=server.port, to=[A])
    assert config.email is not None
    asked: list[dt.date] = []

    def rendered_for(date: dt.date) -> tuple[RenderedDigest, int]:
        asked.append(date)
        return RENDERED, 3

    reports = retry_due(
        config,
        store=store,
        mailer=make_mailer(config.email, {}),
        now=clock.now,
        rendered_for=rendered_for,
        sleep=clock.sleep,
    )
    assert asked == [DAY] and [_statuses(r) for r in reports] == [{A: "sent"}]
    assert (
        retry_due(
            config,
            store=store,
            mailer=make_mailer(config.email, {}),
            now=clock.now,
            rendered_for=rendered_for,
            sleep=clock.sleep,
        )
        == []
    )
    assert server.handler.count(A) == 1
