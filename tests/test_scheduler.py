"""scheduler.py: slots, catch-up, DST in Europe/Berlin, restarts, and the loop, on a fake clock."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import zoneinfo
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import time_machine

from digest.config import Config
from digest.mail import make_mailer
from digest.outbox import deliver
from digest.render import RenderedDigest
from digest.scheduler import (
    META_LAST_SLOT,
    Scheduler,
    latest_slot,
    missed_slot,
    next_slot,
    slot_on,
)
from digest.store import Store
from tests.smtp_server import SmtpServer, make_config

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
SPRING = dt.date(2026, 3, 29)  # 02:00 CET -> 03:00 CEST
AUTUMN = dt.date(2026, 10, 25)  # 03:00 CEST -> 02:00 CET


def berlin(*args: int, fold: int = 0) -> dt.datetime:
    return dt.datetime(*args, tzinfo=BERLIN, fold=fold)  # type: ignore[misc]


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)  # type: ignore[misc]


# --------------------------------------------------------------------------- pure functions


def test_latest_and_next_slot_on_an_ordinary_day() -> None:
    assert latest_slot(berlin(2026, 6, 1, 6, 59), "07:00", BERLIN) == berlin(2026, 5, 31, 7, 0)
    assert latest_slot(berlin(2026, 6, 1, 7, 0), "07:00", BERLIN) == berlin(2026, 6, 1, 7, 0)
    assert latest_slot(utc(2026, 6, 1, 5, 0), "07:00", BERLIN) == utc(2026, 6, 1, 5, 0)
    assert next_slot(berlin(2026, 6, 1, 7, 0), "07:00", BERLIN) == berlin(2026, 6, 2, 7, 0)


def test_slots_keep_local_time_across_both_dst_changes() -> None:
    assert slot_on(SPRING - dt.timedelta(days=1), "07:00", BERLIN) == utc(2026, 3, 28, 6, 0)
    assert slot_on(SPRING, "07:00", BERLIN) == utc(2026, 3, 29, 5, 0)
    assert slot_on(AUTUMN - dt.timedelta(days=1), "07:00", BERLIN) == utc(2026, 10, 24, 5, 0)
    assert slot_on(AUTUMN, "07:00", BERLIN) == utc(2026, 10, 25, 6, 0)


def test_slot_in_the_spring_gap_fires_at_the_first_valid_time() -> None:
    slot = slot_on(SPRING, "02:30", BERLIN)
    assert slot == utc(2026, 3, 29, 1, 0)
    assert slot.astimezone(BERLIN).strftime("%H:%M %Z") == "03:00 CEST"


def test_ambiguous_autumn_slot_exists_once() -> None:
    first = slot_on(AUTUMN, "02:30", BERLIN)
    assert first == utc(2026, 10, 25, 0, 30)  # 02:30 CEST, the first occurrence
    second_occurrence = utc(2026, 10, 25, 1, 45)  # 02:45 CET, an hour later
    assert latest_slot(second_occurrence, "02:30", BERLIN) == first
    assert missed_slot(first, second_occurrence, "02:30", BERLIN, True) is None


def test_missed_slot_rules() -> None:
    now = berlin(2026, 6, 10, 9, 0)
    today = berlin(2026, 6, 10, 7, 0)
    # Empty store: today's slot when its time has passed, not yesterday's before it.
    assert missed_slot(None, now, "07:00", BERLIN, True) == today
    assert missed_slot(None, berlin(2026, 6, 10, 6, 0), "07:00", BERLIN, True) is None
    # Down for three days: one run, for the most recent slot, carrying today's date.
    assert missed_slot(berlin(2026, 6, 7, 7, 0), now, "07:00", BERLIN, True) == today
    assert missed_slot(berlin(2026, 6, 7, 7, 0), now, "07:00", BERLIN, False) is None
    # Already done today: never twice, even after schedule.time moved later.
    assert missed_slot(today, now, "07:00", BERLIN, True) is None
    assert missed_slot(today, berlin(2026, 6, 10, 9, 0), "08:30", BERLIN, True) is None
    # Before today's slot: yesterday's slot missed if yesterday was not done.
    assert missed_slot(
        berlin(2026, 6, 8, 7, 0), berlin(2026, 6, 10, 6, 0), "07:00", BERLIN, True
    ) == berlin(2026, 6, 9, 7, 0)


# --------------------------------------------------------------------------- the loop


class FakeClock:
    def __init__(self, start: dt.datetime) -> None:
        self.value = start

    def now(self) -> dt.datetime:
        return self.value


class Holder:
    """A config the test can change between reloads, like an edited config.yaml."""

    def __init__(self, config: Config) -> None:
        self.config = config

    def __call__(self) -> Config:
        return self.config


def _config(tmp_path: Path, **keys: Any) -> Config:
    from digest.config import parse_config

    data: dict[str, Any] = {
        "timezone": "Europe/Berlin",
        "state": str(tmp_path / "state.sqlite"),
        "schedule": {"time": "07:00", "catch_up": True},
    }
    data["schedule"].update(keys.pop("schedule", {}))
    data.update(keys)
    return parse_config(data, tmp_path)


def _scheduler(
    tmp_path: Path, clock: FakeClock, fired: list[tuple[dt.date, dt.datetime]], **keys: Any
) -> Scheduler:
    def job(date: dt.date) -> None:
        fired.append((date, clock.now()))

    return Scheduler(Holder(_config(tmp_path, **keys)), now=clock.now, job=job, tick_s=3600)


def _run_until(scheduler: Scheduler, clock: FakeClock, end: dt.datetime) -> None:
    """Run the real loop; its sleep advances the fake clock and stops at ``end``."""

    def sleep(seconds: float) -> None:
        # In UTC: adding to a zoneinfo datetime is wall-clock arithmetic across DST.
        clock.value = clock.value.astimezone(dt.UTC) + dt.timedelta(seconds=seconds)
        if clock.value >= end:
            scheduler.stop()

    scheduler.sleep = sleep
    assert scheduler.run(install_signals=False) == 0


def test_loop_fires_daily_at_local_time_through_spring_forward(tmp_path: Path) -> None:
    clock = FakeClock(berlin(2026, 3, 27, 12, 0))
    fired: list[tuple[dt.date, dt.datetime]] = []
    scheduler = _scheduler(tmp_path, clock, fired)
    # An empty store at noon: today's 07:00 counts as missed and runs at once.
    _run_until(scheduler, clock, berlin(2026, 3, 31, 12, 0))
    assert [(d.isoformat(), t.astimezone(BERLIN).strftime("%d %H:%M %Z")) for d, t in fired] == [
        ("2026-03-27", "27 12:00 CET"),
        ("2026-03-28", "28 07:00 CET"),
        ("2026-03-29", "29 07:00 CEST"),
        ("2026-03-30", "30 07:00 CEST"),
        ("2026-03-31", "31 07:00 CEST"),
    ]


def test_loop_fires_daily_at_local_time_through_fall_back(tmp_path: Path) -> None:
    clock = FakeClock(berlin(2026, 10, 24, 5, 0))
    fired: list[tuple[dt.date, dt.datetime]] = []
    scheduler = _scheduler(tmp_path, clock, fired)
    _run_until(scheduler, clock, berlin(2026, 10, 26, 8, 0))
    assert [t.astimezone(BERLIN).strftime("%d %H:%M %Z") for _, t in fired] == [
        "24 07:00 CEST",
        "25 07:00 CET",
        "26 07:00 CET",
    ]


def test_gap_and_ambiguous_slots_fire_once(tmp_path: Path) -> None:
    clock = FakeClock(berlin(2026, 3, 28, 12, 0))
    fired: list[tuple[dt.date, dt.datetime]] = []
    scheduler = _scheduler(tmp_path / "spring", clock, fired, schedule={"time": "02:30"})
    _run_until(scheduler, clock, berlin(2026, 3, 29, 12, 0))
    assert [t.astimezone(BERLIN).strftime("%d %H:%M %Z") for _, t in fired] == [
        "28 12:00 CET",  # first start: today's 02:30 already passed
        "29 03:00 CEST",  # 02:30 does not exist that night
    ]
    clock = FakeClock(berlin(2026, 10, 24, 12, 0))
    fired.clear()
    scheduler = _scheduler(tmp_path / "autumn", clock, fired, schedule={"time": "02:30"})
    _run_until(scheduler, clock, berlin(2026, 10, 25, 12, 0))
    assert [t.astimezone(BERLIN).strftime("%d %H:%M %Z") for _, t in fired] == [
        "24 12:00 CEST",
        "25 02:30 CEST",  # and not again at 02:30 CET
    ]


def test_catch_up_after_downtime_runs_once_for_the_latest_slot(tmp_path: Path) -> None:
    with Store(tmp_path / "state.sqlite") as store:
        store.set_meta(META_LAST_SLOT, berlin(2026, 6, 7, 7, 0).isoformat())
    clock = FakeClock(berlin(2026, 6, 10, 9, 30))
    fired: list[tuple[dt.date, dt.datetime]] = []
    scheduler = _scheduler(tmp_path, clock, fired)
    assert scheduler.start() == berlin(2026, 6, 10, 7, 0)
    scheduler.tick()
    assert fired == [(dt.date(2026, 6, 10), berlin(2026, 6, 10, 9, 30))]


def test_catch_up_off_skips_the_missed_slot_but_not_tomorrow(tmp_path: Path) -> None:
    clock = FakeClock(berlin(2026, 6, 10, 9, 30))
    fired: list[tuple[dt.date, dt.datetime]] = []
    scheduler = _scheduler(tmp_path, clock, fired, schedule={"catch_up": False})
    _run_until(scheduler, clock, berlin(2026, 6, 11, 9, 0))
    assert fired == [(dt.date(2026, 6, 11), berlin(2026, 6, 11, 7, 0))]


def test_no_double_firing_after_a_restart(tmp_path: Path) -> None:
    clock = FakeClock(berlin(2026, 6, 10, 6, 0))
    fired: list[tuple[dt.date, dt.datetime]] = []
    _run_until(_scheduler(tmp_path, clock, fired), clock, berlin(2026, 6, 10, 7, 10))
    assert len(fired) == 1
    # Restarted twice the same morning, even with a later time in the config.
    for time in ("07:00", "08:00"):
        again = _scheduler(tmp_path, clock, fired, schedule={"time": time})
        assert again.start() is None
        clock.value = berlin(2026, 6, 10, 9, 0)
        again.tick()
    assert len(fired) == 1


def test_a_failing_job_is_logged_and_the_loop_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(berlin(2026, 6, 10, 6, 0))
    calls: list[dt.date] = []

    def job(date: dt.date) -> None:
        calls.append(date)
        if len(calls) == 1:
            raise RuntimeError("feed server on fire")

    scheduler = Scheduler(Holder(_config(tmp_path)), now=clock.now, job=job, tick_s=3600)
    with caplog.at_level(logging.ERROR, logger="digest.scheduler"):
        _run_until(scheduler, clock, berlin(2026, 6, 11, 8, 0))
    # Failed at 07:00, tried again at the next wake-up after 15 minutes (08:00), not again.
    assert calls == [dt.date(2026, 6, 10), dt.date(2026, 6, 10), dt.date(2026, 6, 11)]
    assert "daily job for 2026-06-10 failed; trying again at 07:15" in caplog.text
    assert "feed server on fire" in caplog.text


def test_config_is_reread_for_every_run(tmp_path: Path) -> None:
    clock = FakeClock(berlin(2026, 6, 10, 6, 0))
    fired: list[tuple[dt.date, dt.datetime]] = []
    holder = Holder(_config(tmp_path))
    scheduler = Scheduler(
        holder, now=clock.now, job=lambda d: fired.append((d, clock.now())), tick_s=3600
    )
    scheduler.start()
    holder.config = _config(tmp_path, schedule={"time": "06:30"})
    scheduler.request_reload()  # what SIGHUP does
    clock.value = berlin(2026, 6, 10, 6, 30)
    scheduler.tick()
    assert fired == [(dt.date(2026, 6, 10), berlin(2026, 6, 10, 6, 30))]
    assert scheduler.seconds_to_sleep() == 3600


def test_the_schedule_library_timer_fires_at_local_time_across_dst(tmp_path: Path) -> None:
    """The `schedule` timer alone (no guard tick), driven by time-machine's clock."""
    fired: list[dt.date] = []
    with time_machine.travel(utc(2026, 3, 28, 5, 0), tick=False) as traveller:
        scheduler = Scheduler(Holder(_config(tmp_path)), job=fired.append)
        scheduler.start()  # 06:00 CET: nothing missed today on an empty store
        for moment, expected in [
            (utc(2026, 3, 28, 5, 59, 59), []),
            (utc(2026, 3, 28, 6, 0, 0), ["2026-03-28"]),  # 07:00 CET
            (utc(2026, 3, 29, 4, 59, 59), ["2026-03-28"]),
            (utc(2026, 3, 29, 5, 0, 0), ["2026-03-28", "2026-03-29"]),  # 07:00 CEST
        ]:
            traveller.move_to(moment)
            scheduler.timer.run_pending()
            assert [d.isoformat() for d in fired] == expected
        scheduler.tick()  # the guard sees the slot done: no second run
        assert len(fired) == 2


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    with SmtpServer() as srv:
        yield srv


def test_two_daemons_at_once_deliver_once(tmp_path: Path, server: SmtpServer) -> None:
    config = make_config(tmp_path, port=server.port, to=["a@example.org", "b@example.org"])
    clock = FakeClock(berlin(2026, 6, 10, 9, 0))
    rendered = RenderedDigest(html="<p>hi</p>", text="hi")
    barrier = threading.Barrier(2)
    runs: list[dt.date] = []

    def job(date: dt.date) -> None:
        runs.append(date)
        assert config.email is not None
        with Store(config.state) as store, store.lock():
            deliver(
                config,
                date=date,
                store=store,
                mailer=make_mailer(config.email, {}),
                now=clock.now,
                rendered=rendered,
                item_count=1,
            )

    def daemon() -> None:
        scheduler = Scheduler(lambda: config, now=clock.now, job=job)
        barrier.wait(timeout=10)
        scheduler.start()
        scheduler.tick()

    threads = [threading.Thread(target=daemon) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert 1 <= len(runs) <= 2  # both may start before either finished the slot ...
    assert server.handler.count("a@example.org") == 1  # ... but mail goes out once
    assert server.handler.count("b@example.org") == 1
