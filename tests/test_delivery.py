"""One road from a build to the inbox: `digest send` (delivery.send) and the daemon's job and
tick (Scheduler) give the same result in the situations where they used to differ.

Against a real SMTP server on loopback and real state files; the clock is injected.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from digest import delivery
from digest.config import Config, parse_config
from digest.errors import ConfigError
from digest.outbox import RecipientStatus
from digest.scheduler import Scheduler, slot_on
from digest.store import OutboxStatus, Store
from tests.smtp_server import SmtpServer, make_config, write_feed

BERLIN = dt.timezone(dt.timedelta(hours=1))
A, B = "a@example.org", "b@example.org"
DAY1 = dt.date(2026, 11, 26)
DAY2 = dt.date(2026, 11, 27)


class Clock:
    def __init__(self, value: dt.datetime) -> None:
        self.value = value

    def __call__(self) -> dt.datetime:
        return self.value


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    with SmtpServer() as srv:
        yield srv


def _config(base: Path, port: int, **extra: Any) -> Config:
    base.mkdir(parents=True, exist_ok=True)
    write_feed(base / "feed.xml", items=3)
    return make_config(
        base,
        port=port,
        to=[A, B],
        feeds=[{"path": str(base / "feed.xml"), "full_text": "never"}],
        **extra,
    )


def _stories(server: SmtpServer, recipient: str) -> list[int]:
    """The story numbers in the text part of the last message to ``recipient``."""
    message = server.handler.messages_to(recipient)[-1].message
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return sorted({int(n) for n in re.findall(r"Story number (\d+)", body.get_content())})


def _no_wait(_seconds: float) -> None:
    return None


def test_a_past_date_that_was_built_is_replayed_by_send_and_by_the_daemon(
    tmp_path: Path, server: SmtpServer
) -> None:
    outcomes: dict[str, list[str]] = {}
    for road in ("send", "daemon"):
        base = tmp_path / road
        config = _config(base, server.port)
        # Day 1, 07:00 Berlin: the digest of day 1 is built, but SMTP is down for it.
        day1 = dt.datetime(2026, 11, 26, 6, 0, tzinfo=dt.UTC)
        from digest.pipeline import build_and_write

        build_and_write(config, now=day1, date=DAY1)
        # New entries arrive on day 2, before the delivery of day 1 is finally made.
        write_feed(base / "feed.xml", items=3, start=3)
        now = Clock(dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC))
        if road == "send":
            delivery.send(config, DAY1, now=now, sleep=_no_wait)
        else:
            scheduler = Scheduler(lambda c=config: c, now=now, sleep=_no_wait, retry_sleep=_no_wait)
            assert scheduler.run_slot(slot_on(DAY1, "07:00", config.tz))
        outcomes[road] = _stories(server, A)
        with Store(config.state) as store:
            # Day 1 still holds exactly its own articles; the new ones wait for day 2.
            ids = sorted(a.id for a, _ in store.digest_articles(DAY1))
        assert ids == [f"https://news.example.org/story-{n}" for n in range(3)]
    assert outcomes["send"] == outcomes["daemon"] == [0, 1, 2]


def test_a_missing_email_section_is_the_same_config_error(tmp_path: Path) -> None:
    write_feed(tmp_path / "feed.xml")
    config = parse_config(
        {"feeds": [{"path": "feed.xml"}], "state": "state.sqlite", "output": {"dir": "out"}},
        tmp_path,
    )
    with pytest.raises(ConfigError) as by_send:
        delivery.send(config, DAY1)
    scheduler = Scheduler(lambda: config, now=Clock(dt.datetime(2026, 11, 26, 8, tzinfo=dt.UTC)))
    with pytest.raises(ConfigError) as by_daemon:
        scheduler.job(DAY1)
    assert str(by_send.value) == str(by_daemon.value)
    assert str(by_send.value).startswith("email: no email section")
    assert not (tmp_path / "out").exists()  # nothing was built


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    pid = int(proc.stdout)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    return pid


@pytest.mark.parametrize("road", ["send", "daemon tick"])
def test_rows_left_sending_by_a_crashed_process_are_due_at_once(
    tmp_path: Path, server: SmtpServer, road: str
) -> None:
    config = _config(tmp_path, server.port)
    now = Clock(dt.datetime(2026, 11, 26, 6, 0, tzinfo=dt.UTC))
    from digest.pipeline import build_and_write

    build_and_write(config, now=now(), date=DAY1)
    import socket

    crashed = f"{socket.gethostname()}:{_dead_pid()}:deadbeef"
    with Store(config.state) as store:
        store.outbox_add(DAY1, [A, B], lambda r: f"<fixed.{r.split('@')[0]}@example.org>")
        assert {r.recipient for r in store.outbox_claim(now(), crashed, DAY1)} == {A, B}
    now.value += dt.timedelta(minutes=1)  # well within the old 15-minute wait
    if road == "send":
        reports = delivery.send(config, DAY1, now=now, sleep=_no_wait)
    else:
        reports = delivery.send_due(config, now=now, sleep=_no_wait)
    statuses = {r.recipient: r.status for report in reports for r in report.results}
    assert statuses == {A: RecipientStatus.SENT, B: RecipientStatus.SENT}
    assert server.handler.count(A) == 1 and server.handler.count(B) == 1
    # The same Message-ID: if the crashed process got a copy through, the receiver merges.
    assert server.handler.messages_to(A)[0].message["Message-ID"] == "<fixed.a@example.org>"
    with Store(config.state) as store:
        assert all(r.status is OutboxStatus.SENT for r in store.outbox_rows(DAY1))


def test_a_live_sender_is_busy_not_done(tmp_path: Path, server: SmtpServer) -> None:
    """A row claimed by a process that is still running is not sent twice, and 'busy' is
    not success."""
    config = _config(tmp_path, server.port)
    now = Clock(dt.datetime(2026, 11, 26, 6, 0, tzinfo=dt.UTC))
    from digest.outbox import deliver
    from digest.pipeline import build_and_write
    from digest.render import RenderedDigest
    from digest.store import owner_id

    build_and_write(config, now=now(), date=DAY1)
    with Store(config.state) as store:
        store.outbox_add(DAY1, [A], lambda r: "<m@example.org>")
        store.outbox_claim(now(), owner_id(), DAY1)  # this very process: alive
        report = deliver(
            config,
            date=DAY1,
            store=store,
            mailer=delivery.default_mailer(config),
            now=now,
            rendered=RenderedDigest(html="<p>x</p>", text="x"),
            item_count=1,
            sleep=_no_wait,
        )
    statuses = {r.recipient: r.status for r in report.results}
    assert statuses == {A: RecipientStatus.BUSY, B: RecipientStatus.SENT}
    assert not report.ok  # busy is not done
    assert server.handler.count(A) == 0 and server.handler.count(B) == 1
