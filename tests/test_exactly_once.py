"""Exactly the articles, exactly once, whatever happens: the promises of issue 11 under faults.

Real SMTP server on loopback (aiosmtpd), real state files, real processes killed with
SIGKILL, a real full filesystem (a tiny tmpfs, when this user may mount one), damaged state
files, SIGHUP with a moved schedule, and a simulated week of days with items arriving at
random hours and on-demand builds in between.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
import zoneinfo
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from digest import backup, delivery, pipeline
from digest.config import Config, load_config
from digest.errors import DigestError, StoreError
from digest.outbox import RecipientStatus
from digest.scheduler import Scheduler, slot_on
from digest.store import Store
from tests.smtp_server import SmtpServer

REPO = Path(__file__).resolve().parents[1]
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
A, B, C = "a@example.org", "b@example.org", "c@example.org"


class Clock:
    def __init__(self, value: dt.datetime) -> None:
        self.value = value

    def __call__(self) -> dt.datetime:
        return self.value


def _no_wait(_seconds: float) -> None:
    return None


def berlin(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=BERLIN)  # type: ignore[misc]


# --- a feed we control -------------------------------------------------------------------


def write_items(path: Path, items: list[tuple[str, str, str]]) -> None:
    """An RSS file with (guid, link, title) items, each with a whole article of its own."""
    entries = []
    for guid, link, title in items:
        words = " ".join(f"{title} paragraph {k} tells its own story number {k}." for k in range(8))
        entries.append(
            f"<item><title>{title}</title><link>{link}</link>"
            f'<guid isPermaLink="false">{guid}</guid><description>{words}</description></item>'
        )
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        "<title>Town News</title><link>https://town.example/</link><description>x</description>"
        + "".join(entries)
        + "</channel></rss>",
        encoding="utf-8",
    )


def make_config(base: Path, port: int, *, to: list[str] | None = None, **extra: Any) -> Path:
    data: dict[str, Any] = {
        "title": "Town Digest",
        "timezone": "Europe/Berlin",
        "feeds": [{"path": "feed.xml", "full_text": "never"}],
        "state": "state.sqlite",
        "output": {"dir": "out"},
        "limits": {"max_items": 300, "max_items_per_feed": 300, "max_html_kb": 5000},
        "email": {
            "from": "Digest <digest@example.org>",
            "to": to or [A, B],
            "smtp": {"host": "127.0.0.1", "port": port, "security": "none"},
        },
    }
    data.update(extra)
    path = base / "config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def titles_in(message_text: str) -> set[str]:
    return set(re.findall(r"Item \d+-\d+", message_text))


def text_of(server: SmtpServer, recipient: str) -> list[str]:
    out = []
    for received in server.handler.messages_to(recipient):
        body = received.message.get_body(preferencelist=("plain",))
        assert body is not None
        out.append(body.get_content())
    return out


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    with SmtpServer() as srv:
        yield srv


def dump(state: Path) -> list[str]:
    conn = sqlite3.connect(state)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


# --- 1. sealed dates ------------------------------------------------------------------------


def test_a_build_after_the_morning_email_does_not_steal_from_tomorrow(
    tmp_path: Path, server: SmtpServer
) -> None:
    write_items(tmp_path / "feed.xml", [("g1", "https://town.example/1", "Item 1-1")])
    config = load_config(make_config(tmp_path, server.port))
    morning = Clock(berlin(2026, 11, 26, 7, 0))
    delivery.send(config, now=morning, sleep=_no_wait)
    write_items(
        tmp_path / "feed.xml",
        [
            ("g1", "https://town.example/1", "Item 1-1"),
            ("g2", "https://town.example/2", "Item 1-2"),
        ],
    )
    # An on-demand build the same evening shows the digest as mailed.
    evening = pipeline.build_and_write(config, now=berlin(2026, 11, 26, 20, 0))
    assert [i.article.title for i in evening.digest.items] == ["Item 1-1"]
    tomorrow = Clock(berlin(2026, 11, 27, 7, 0))
    delivery.send(config, now=tomorrow, sleep=_no_wait)
    mails = text_of(server, A)
    assert [titles_in(m) for m in mails] == [{"Item 1-1"}, {"Item 1-2"}]


def test_before_the_email_a_rebuild_still_adds_what_arrived(
    tmp_path: Path, server: SmtpServer
) -> None:
    write_items(tmp_path / "feed.xml", [("g1", "https://town.example/1", "Item 1-1")])
    config = load_config(make_config(tmp_path, server.port))
    pipeline.build_and_write(config, now=berlin(2026, 11, 26, 5, 0))
    write_items(
        tmp_path / "feed.xml",
        [
            ("g1", "https://town.example/1", "Item 1-1"),
            ("g2", "https://town.example/2", "Item 1-2"),
        ],
    )
    delivery.send(config, now=Clock(berlin(2026, 11, 26, 7, 0)), sleep=_no_wait)
    assert [titles_in(m) for m in text_of(server, A)] == [{"Item 1-1", "Item 1-2"}]


# --- 2. a failed write records nothing -----------------------------------------------------


def test_an_unwritable_output_folder_records_nothing(tmp_path: Path, server: SmtpServer) -> None:
    write_items(tmp_path / "feed.xml", [("g1", "https://town.example/1", "Item 1-1")])
    config = load_config(make_config(tmp_path, server.port))
    # A file where the output folder should be: nothing can be written there.
    (tmp_path / "out").write_text("in the way", encoding="utf-8")
    with Store(config.state):
        pass
    before = dump(config.state)
    with pytest.raises(DigestError, match="cannot write"):
        delivery.send(config, now=Clock(berlin(2026, 11, 26, 7, 0)), sleep=_no_wait)
    with pytest.raises(DigestError, match="cannot write"):
        pipeline.build_and_write(config, now=berlin(2026, 11, 26, 7, 5))
    assert dump(config.state) == before  # exactly as it was
    assert server.handler.count() == 0
    (tmp_path / "out").unlink()
    delivery.send(config, now=Clock(berlin(2026, 11, 26, 7, 30)), sleep=_no_wait)
    assert [titles_in(m) for m in text_of(server, A)] == [{"Item 1-1"}]


@contextlib.contextmanager
def full_filesystem(where: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs at ``where``, filled up: writes fail with ENOSPC."""
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({done.stderr.decode().strip()})")
    try:
        with contextlib.suppress(OSError), (where / "filler").open("wb") as handle:
            while True:
                handle.write(b"\0" * 4096)
                handle.flush()
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root (CI runs as root)")
def test_a_full_disk_during_send_records_nothing_and_loses_nothing(
    tmp_path: Path, server: SmtpServer
) -> None:
    write_items(tmp_path / "feed.xml", [("g1", "https://town.example/1", "Item 1-1")])
    config = load_config(make_config(tmp_path, server.port))
    with Store(config.state):
        pass
    before = dump(config.state)
    with full_filesystem(tmp_path / "out"), pytest.raises(DigestError, match="No space left"):
        delivery.send(config, now=Clock(berlin(2026, 11, 26, 7, 0)), sleep=_no_wait)
    assert dump(config.state) == before
    with Store(config.state) as store:
        assert store.outbox_rows() == [] and store.digests() == []
    delivery.send(config, now=Clock(berlin(2026, 11, 26, 8, 0)), sleep=_no_wait)
    assert [titles_in(m) for m in text_of(server, A)] == [{"Item 1-1"}]


# --- 3. one link for every entry -------------------------------------------------------------


def test_a_picture_of_the_day_feed_sends_each_days_picture(
    tmp_path: Path, server: SmtpServer
) -> None:
    config = load_config(make_config(tmp_path, server.port))
    for day in (26, 27, 28):
        # One entry listed at a time, a new guid each day, one fixed link.
        write_items(
            tmp_path / "feed.xml",
            [(f"potd-{day}", "https://town.example/picture", f"Item 9-{day}")],
        )
        delivery.send(config, now=Clock(berlin(2026, 11, day, 7, 0)), sleep=_no_wait)
    assert [titles_in(m) for m in text_of(server, A)] == [
        {"Item 9-26"},
        {"Item 9-27"},
        {"Item 9-28"},
    ]


def test_an_edited_entry_with_a_new_guid_is_not_sent_again(
    tmp_path: Path, server: SmtpServer
) -> None:
    config = load_config(make_config(tmp_path, server.port))
    write_items(tmp_path / "feed.xml", [("v1", "https://town.example/a", "Item 5-1")])
    delivery.send(config, now=Clock(berlin(2026, 11, 26, 7, 0)), sleep=_no_wait)
    write_items(tmp_path / "feed.xml", [("v2", "https://town.example/a", "Item 5-1")])
    reports = delivery.send(config, now=Clock(berlin(2026, 11, 27, 7, 0)), sleep=_no_wait)
    assert reports[0].skipped_empty
    assert server.handler.count(A) == 1


# --- 4. and 5. dates go forward; a dry run never touches the archive ----------------------


def test_far_dates_are_refused_and_take_nothing(tmp_path: Path, server: SmtpServer) -> None:
    write_items(tmp_path / "feed.xml", [("g1", "https://town.example/1", "Item 1-1")])
    config = load_config(make_config(tmp_path, server.port))
    now = berlin(2026, 11, 26, 7, 0)
    for far in (dt.date(2062, 11, 30), dt.date(1, 1, 1), dt.date(2026, 11, 28)):
        with pytest.raises(DigestError, match=str(far)):
            pipeline.build_and_write(config, now=now, date=far)
    with Store(config.state) as store:
        assert store.digests() == []
    pipeline.build_and_write(config, now=now)
    # A date before the latest digest that has none is refused too; one that has is shown.
    with pytest.raises(DigestError, match="digests go forward"):
        pipeline.build_and_write(config, now=now, date=dt.date(2026, 11, 25))
    again = pipeline.build_and_write(
        config, now=berlin(2026, 11, 27, 9, 0), date=dt.date(2026, 11, 26)
    )
    assert [i.article.title for i in again.digest.items] == ["Item 1-1"]
    # A dry run may preview any date, and records nothing.
    preview = pipeline.build_and_write(config, now=now, date=dt.date(2062, 11, 30), dry_run=True)
    assert preview.html_path.parent == config.output.dir / "preview"
    with Store(config.state) as store:
        assert [d.date for d in store.digests()] == [dt.date(2026, 11, 26)]


def test_a_dry_run_never_touches_the_archive(tmp_path: Path, server: SmtpServer) -> None:
    write_items(tmp_path / "feed.xml", [("g1", "https://town.example/1", "Item 1-1")])
    config = load_config(make_config(tmp_path, server.port))
    delivery.send(config, now=Clock(berlin(2026, 11, 26, 7, 0)), sleep=_no_wait)
    out = config.output.dir
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    write_items(tmp_path / "feed.xml", [("g2", "https://town.example/2", "Item 1-2")])
    pipeline.build_and_write(config, now=berlin(2026, 11, 26, 9, 0), dry_run=True)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before


def test_the_cli_says_a_day_does_not_exist(tmp_path: Path, server: SmtpServer) -> None:
    from click.testing import CliRunner

    from digest.cli import main

    config = make_config(tmp_path, server.port)
    result = CliRunner().invoke(main, ["-c", str(config), "build", "--date", "2026-11-31"])
    assert result.exit_code == 2
    assert "2026-11-31 is not a day of the calendar" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# --- 6. a damaged state ---------------------------------------------------------------------


def test_an_empty_state_is_refused_while_past_digests_exist(
    tmp_path: Path, server: SmtpServer
) -> None:
    write_items(tmp_path / "feed.xml", [("g1", "https://town.example/1", "Item 1-1")])
    config = load_config(make_config(tmp_path, server.port))
    delivery.send(config, now=Clock(berlin(2026, 11, 26, 7, 0)), sleep=_no_wait)
    config.state.write_bytes(b"")  # 0 bytes
    for path in config.state.parent.glob("state.sqlite-*"):
        path.unlink()
    with pytest.raises(StoreError, match=r"is empty.*1 past digest.*digest state (restore|new)"):
        delivery.send(config, now=Clock(berlin(2026, 11, 27, 7, 0)), sleep=_no_wait)
    config.state.unlink()
    with pytest.raises(StoreError, match="does not exist"):
        pipeline.build_and_write(config, now=berlin(2026, 11, 27, 7, 0))
    assert server.handler.count(A) == 1


def test_a_damaged_state_names_its_backup_and_restoring_it_sends_nothing_twice(
    tmp_path: Path, server: SmtpServer
) -> None:
    write_items(tmp_path / "feed.xml", [("g1", "https://town.example/1", "Item 1-1")])
    config = load_config(make_config(tmp_path, server.port))
    delivery.send(config, now=Clock(berlin(2026, 11, 26, 7, 0)), sleep=_no_wait)
    # The first open of an existing state takes the day's backup.
    with Store(config.state):
        pass
    assert backup.backups(config.state)
    # Random damage in the middle of the file.
    data = bytearray(config.state.read_bytes())
    rng = random.Random(7)
    for _ in range(400):
        data[rng.randrange(100, len(data))] = rng.randrange(256)
    config.state.write_bytes(bytes(data))
    with pytest.raises(StoreError, match=r"damaged.*digest state restore"):
        delivery.send(config, now=Clock(berlin(2026, 11, 27, 7, 0)), sleep=_no_wait)
    backup.restore(config.state, None, dt.datetime.now(dt.UTC))
    delivery.send(config, now=Clock(berlin(2026, 11, 27, 7, 0)), sleep=_no_wait)
    # Item 1-1 was mailed on the 26th and is not mailed again.
    assert [titles_in(m) for m in text_of(server, A)] == [{"Item 1-1"}]


def test_a_backup_is_taken_before_a_migration(tmp_path: Path) -> None:
    from digest.schema import MIGRATIONS as _MIGRATIONS

    path = tmp_path / "state.sqlite"
    conn = sqlite3.connect(path)  # a state file of the previous format
    for script in _MIGRATIONS[:-1]:
        if callable(script):
            script(conn)
        else:
            conn.executescript(script)
    conn.execute(f"PRAGMA user_version = {len(_MIGRATIONS) - 1}")
    conn.commit()
    conn.close()
    with Store(path):
        pass
    names = [b.path.name for b in backup.backups(path)]
    assert any(f"before-v{len(_MIGRATIONS)}" in n for n in names), names
    # The backup is the file as it was: the old format.
    [old] = [b.path for b in backup.backups(path) if "before" in b.path.name]
    check = sqlite3.connect(old)
    assert check.execute("PRAGMA user_version").fetchone()[0] == len(_MIGRATIONS) - 1
    check.close()


# --- 7. a crash mid-send ---------------------------------------------------------------------


def _digest(config: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    return subprocess.Popen(
        [sys.executable, "-m", "digest", "-c", str(config), *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _one_message_id_each(server: SmtpServer, recipients: list[str]) -> None:
    for recipient in recipients:
        messages = server.handler.messages_to(recipient)
        assert messages, recipient
        # A copy that got through before the kill has the same Message-ID as its resend,
        # so the receiver collapses them: one accepted message per recipient.
        assert len({m.message["Message-ID"] for m in messages}) == 1, recipient


@pytest.mark.parametrize("stage", ["MAIL", "RCPT", "DATA", "ACCEPTED"])
def test_kill_9_mid_send_then_an_immediate_rerun_delivers_once(
    tmp_path: Path, server: SmtpServer, stage: str
) -> None:
    write_items(tmp_path / "feed.xml", [("g1", "https://town.example/1", "Item 1-1")])
    config = make_config(tmp_path, server.port)
    reached, release = server.handler.hold_at(stage)
    first = _digest(config, "send")
    try:
        assert reached.wait(60), first.stderr.read() if first.stderr else ""
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=10)
    finally:
        release.set()
    again = _digest(config, "send")
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err.decode()
    assert b"busy" not in out + err
    _one_message_id_each(server, [A, B])
    expected_a = 2 if stage == "ACCEPTED" else 1
    assert server.handler.count(A) == expected_a and server.handler.count(B) == 1
    with Store(tmp_path / "state.sqlite") as store:
        assert {r.status for r in store.outbox_rows()} == {"sent"}


def test_a_daemon_killed_mid_data_delivers_after_a_restart(
    tmp_path: Path, server: SmtpServer
) -> None:
    write_items(tmp_path / "feed.xml", [("g1", "https://town.example/1", "Item 1-1")])
    now = dt.datetime.now(BERLIN)
    if now.hour == 0 and now.minute < 3:
        pytest.skip("too close to midnight for a slot that already passed today")
    slot = (now - dt.timedelta(minutes=2)).strftime("%H:%M")
    config = make_config(tmp_path, server.port, schedule={"time": slot, "catch_up": True})
    reached, release = server.handler.hold_at("DATA")
    daemon = _digest(config, "run")
    try:
        assert reached.wait(60)
        daemon.send_signal(signal.SIGKILL)
        daemon.communicate(timeout=10)
    finally:
        release.set()
    restarted = _digest(config, "run")
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and server.handler.count(B) < 1:
            time.sleep(0.1)
    finally:
        restarted.send_signal(signal.SIGTERM)
        restarted.communicate(timeout=20)
    assert server.handler.count(A) == 1 and server.handler.count(B) == 1


# --- 8. SIGHUP with a moved schedule --------------------------------------------------------


@pytest.mark.parametrize("new_time", ["20:00", "05:00"])
def test_a_reload_only_moves_the_next_slot(
    tmp_path: Path, server: SmtpServer, new_time: str
) -> None:
    write_items(tmp_path / "feed.xml", [("g1", "https://town.example/1", "Item 1-1")])
    path = make_config(tmp_path, server.port, schedule={"time": "07:00", "catch_up": False})
    # Yesterday's 07:00 digest went out; the daemon starts at 06:00 today.
    holder: dict[str, Config] = {"config": load_config(path)}
    delivery.send(holder["config"], now=Clock(berlin(2026, 11, 25, 7, 0)), sleep=_no_wait)
    with Store(tmp_path / "state.sqlite") as store:
        store.set_meta(
            "scheduler.last_slot", slot_on(dt.date(2026, 11, 25), "07:00", BERLIN).isoformat()
        )
    clock = Clock(berlin(2026, 11, 26, 6, 0))
    jobs: list[dt.date] = []
    scheduler = Scheduler(lambda: holder["config"], now=clock, job=jobs.append, tick_s=60)
    scheduler.start()
    clock.value = berlin(2026, 11, 26, 6, 30)
    holder["config"] = load_config(
        make_config(tmp_path, server.port, schedule={"time": new_time, "catch_up": False})
    )
    scheduler.request_reload()  # what SIGHUP does
    scheduler.tick()
    assert jobs == []  # nothing at once, not yesterday's evening slot
    # The next slot of the new time runs as usual.
    hour, minute = (int(p) for p in new_time.split(":"))
    next_day = 26 if hour >= 7 else 27
    clock.value = berlin(2026, 11, next_day, hour, minute)
    scheduler.tick()
    assert jobs == [dt.date(2026, 11, next_day)]


# --- 9. to 11. recipients -------------------------------------------------------------------


def test_retry_failed_sends_only_to_the_recipient_that_failed(
    tmp_path: Path, server: SmtpServer
) -> None:
    write_items(tmp_path / "feed.xml", [("g1", "https://town.example/1", "Item 1-1")])
    config = load_config(make_config(tmp_path, server.port, to=None))
    config = load_config(make_config(tmp_path, server.port, to=[A, B, C]))
    server.handler.reject[B] = "550 5.1.1 no such user"
    [report] = delivery.send(config, now=Clock(berlin(2026, 11, 26, 7, 0)), sleep=_no_wait)
    assert {r.recipient: r.status for r in report.results}[B] is RecipientStatus.FAILED
    del server.handler.reject[B]
    delivery.send(config, now=Clock(berlin(2026, 11, 26, 9, 0)), retry_failed=True, sleep=_no_wait)
    assert [server.handler.count(r) for r in (A, B, C)] == [1, 1, 1]


def test_one_mailbox_two_spellings_is_one_copy(tmp_path: Path, server: SmtpServer) -> None:
    write_items(tmp_path / "feed.xml", [("g1", "https://town.example/1", "Item 1-1")])
    delivery.send(
        load_config(make_config(tmp_path, server.port, to=[A])),
        now=Clock(berlin(2026, 11, 26, 7, 0)),
        sleep=_no_wait,
    )
    respelled = load_config(make_config(tmp_path, server.port, to=["Reader <A@Example.ORG>"]))
    [report] = delivery.send(respelled, now=Clock(berlin(2026, 11, 26, 8, 0)), sleep=_no_wait)
    assert [r.status for r in report.results] == [RecipientStatus.ALREADY_SENT]
    assert server.handler.count(A) == 1


def test_two_digests_one_day_have_two_message_ids(tmp_path: Path, server: SmtpServer) -> None:
    for title in ("Town Digest", "Science Digest"):
        base = tmp_path / title.split()[0]
        base.mkdir()
        write_items(base / "feed.xml", [("g1", "https://town.example/1", "Item 1-1")])
        config = load_config(make_config(base, server.port, to=[A], title=title))
        delivery.send(config, now=Clock(berlin(2026, 11, 26, 7, 0)), sleep=_no_wait)
    ids = {m.message["Message-ID"] for m in server.handler.messages_to(A)}
    assert len(ids) == 2


# --- the week ---------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [2026, 7, 42])
def test_a_week_of_days_every_article_once_in_the_first_digest_after_it_arrived(
    tmp_path: Path, server: SmtpServer, seed: int
) -> None:
    """Items arrive at random hours; the digest is sent every morning at 07:00; on-demand
    builds, dry runs and fetches happen at random in between. With caps large enough for
    everything: each item is mailed exactly once, in the first digest mailed after it
    arrived, and each (date, recipient) gets exactly one accepted message."""
    rng = random.Random(seed)
    config = load_config(make_config(tmp_path, server.port))
    start = berlin(2026, 11, 23, 0, 0)
    events: list[tuple[dt.datetime, str]] = []
    for day in range(7):
        base = start + dt.timedelta(days=day)
        events.append((base + dt.timedelta(hours=7), "send"))
        for n in range(rng.randrange(0, 5)):
            events.append(
                (base + dt.timedelta(minutes=rng.randrange(0, 24 * 60)), f"item {day}-{n}")
            )
        for _ in range(rng.randrange(0, 3)):
            when = base + dt.timedelta(minutes=rng.randrange(0, 24 * 60))
            events.append((when, rng.choice(["build", "dry-run", "fetch"])))
    events.append((start + dt.timedelta(days=7, hours=7), "send"))
    events.sort()
    listed: list[tuple[str, str, str]] = []
    arrived: dict[str, dt.datetime] = {}
    sends: list[dt.datetime] = []
    for when, what in events:
        if what.startswith("item"):
            number = what.split()[1]
            title = f"Item {number}"
            listed.append((f"guid-{number}", f"https://town.example/{number}", title))
            write_items(tmp_path / "feed.xml", listed[-20:])  # a feed lists its newest 20
            arrived[title] = when
        elif what == "send":
            delivery.send(config, now=Clock(when), sleep=_no_wait)
            sends.append(when)
        elif what == "fetch":
            pipeline.fetch_and_store(config, now=when)
        else:
            pipeline.build_and_write(config, now=when, dry_run=what == "dry-run")
    mailed: dict[str, list[int]] = {}
    for index, text in enumerate(text_of(server, A)):
        for title in titles_in(text):
            mailed.setdefault(title, []).append(index)
    for title in arrived:
        assert len(mailed.get(title, [])) == 1, (title, mailed.get(title))
    # In the first digest mailed after it arrived: map each message to its send time.
    subjects = [m.message["Date"] for m in server.handler.messages_to(A)]
    assert len(subjects) == len(set(subjects))
    sent_at = [s for s in sends]
    mailed_days = sorted({s.date() for s in sent_at})
    messages = server.handler.messages_to(A)
    for title, when in arrived.items():
        first_send = next(s for s in sent_at if s >= when)
        [index] = mailed[title]
        message_day = dt.datetime.strptime(
            re.search(r"for (\w+, \d+ \w+ \d+)", messages[index].message["Subject"]).group(1),  # type: ignore[union-attr]
            "%A, %d %B %Y",
        ).date()
        assert message_day == first_send.date(), (title, when, message_day)
    assert mailed_days
    # One accepted message per (date, recipient).
    for recipient in (A, B):
        subjects = [m.message["Subject"] for m in server.handler.messages_to(recipient)]
        assert len(subjects) == len(set(subjects)), recipient
