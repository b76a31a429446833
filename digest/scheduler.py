"""The daily job: build the digest of D, then send it, at ``schedule.time`` in ``timezone``.

The ``schedule`` library (timezone-aware ``.at()``) wakes the loop at the slot; a guard built
on :func:`latest_slot` decides which slot is due, with the last completed slot kept in the
store, so a slot runs once whatever wakes us: the library's timer, a catch-up after
downtime, a wake-up from suspend, or a daylight-saving gap (where the library would fire an
hour late, the guard fires at the first valid local time). Temporary mail failures left in
the outbox are retried on every tick.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
from collections.abc import Callable

import schedule

from digest import delivery
from digest.config import Config
from digest.errors import ConfigError, DigestError
from digest.mail import Mailer
from digest.models import utc_now
from digest.outbox import DeliveryReport
from digest.store import Store, open_state

log = logging.getLogger(__name__)

META_LAST_SLOT = "scheduler.last_slot"

# A failed daily job is tried again after this long (until the next slot takes over).
JOB_RETRY = dt.timedelta(minutes=15)

# How far to look for the end of a daylight-saving gap (the longest ever is 2 hours).
_GAP_SEARCH = dt.timedelta(hours=3)


def _parse_time(time_str: str) -> dt.time:
    try:
        hour, minute = (int(part) for part in time_str.strip().split(":"))
        return dt.time(hour, minute)
    except ValueError:
        raise ConfigError(
            f"schedule.time: expected a local time as HH:MM such as '07:00', found {time_str!r}"
        ) from None


def _valid(local: dt.datetime, tz: dt.tzinfo) -> bool:
    """Whether a local wall time exists (is not inside a daylight-saving gap)."""
    back = local.astimezone(dt.UTC).astimezone(tz)
    return back.replace(tzinfo=None) == local.replace(tzinfo=None)


def slot_on(day: dt.date, time_str: str, tz: dt.tzinfo) -> dt.datetime:
    """The slot of local ``day``: ``time_str`` there, as an aware datetime in UTC.

    A time inside a daylight-saving gap becomes the first valid local time after it (02:30
    on the spring-forward day in Berlin: 03:00). On the fall-back day an ambiguous time is
    its first occurrence, so the slot exists once. (UTC, because an aware datetime inside a
    repeated hour never compares equal to one in another zone: PEP 495.)
    """
    wall = dt.datetime.combine(day, _parse_time(time_str))
    local = wall.replace(tzinfo=tz, fold=0)
    if _valid(local, tz):
        return local.astimezone(dt.UTC)
    probe = wall
    while probe - wall < _GAP_SEARCH:
        probe += dt.timedelta(minutes=1)
        candidate = probe.replace(tzinfo=tz, fold=0)
        if _valid(candidate, tz):
            return candidate.astimezone(dt.UTC)
    return local.astimezone(dt.UTC)  # pragma: no cover - no zone has such a gap


def latest_slot(now: dt.datetime, time_str: str, tz: dt.tzinfo) -> dt.datetime:
    """The most recent slot at or before ``now`` (aware), in UTC."""
    today = now.astimezone(tz).date()
    slot = slot_on(today, time_str, tz)
    if slot > now:
        slot = slot_on(today - dt.timedelta(days=1), time_str, tz)
    return slot


def next_slot(now: dt.datetime, time_str: str, tz: dt.tzinfo) -> dt.datetime:
    """The first slot strictly after ``now``."""
    today = now.astimezone(tz).date()
    slot = slot_on(today, time_str, tz)
    if slot <= now:
        slot = slot_on(today + dt.timedelta(days=1), time_str, tz)
    return slot


def slot_date(slot: dt.datetime, tz: dt.tzinfo) -> dt.date:
    """The digest date a slot carries: its local date."""
    return slot.astimezone(tz).date()


def missed_slot(
    last_completed: dt.datetime | None,
    now: dt.datetime,
    time_str: str,
    tz: dt.tzinfo,
    catch_up: bool,
) -> dt.datetime | None:
    """The slot to catch up at start-up, or None.

    With ``catch_up``: the most recent slot, when it is of a later local date than the last
    completed one (never twice for one day, even if schedule.time changed); with an empty
    store (``last_completed`` None) only today's slot, once its time has passed. Without
    ``catch_up``: None.
    """
    if not catch_up:
        return None
    slot = latest_slot(now, time_str, tz)
    if last_completed is None:
        return slot if slot_date(slot, tz) == now.astimezone(tz).date() else None
    if slot_date(last_completed, tz) >= slot_date(slot, tz):
        return None
    return slot


def read_last_slot(store: Store) -> dt.datetime | None:
    """The last completed slot kept in the store's meta table."""
    value = store.get_meta(META_LAST_SLOT)
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        log.warning("ignoring a malformed %s in the state file: %r", META_LAST_SLOT, value)
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def last_and_next(config: Config, now: dt.datetime) -> tuple[dt.datetime | None, dt.datetime]:
    """The last completed slot (from the store, None if never) and the next one."""
    with open_state(config, read_only=True) as store:
        last = read_last_slot(store)
    return last, next_slot(now, config.schedule.time, config.tz)


class Scheduler:
    """The ``digest run`` loop. Every side effect is a parameter, so tests drive it.

    ``load_config`` is called again before every run and on SIGHUP; ``job(date)`` defaults
    to :meth:`send`; ``now`` must return aware datetimes; ``sleep(seconds)``
    waits (the default returns early when a stop is requested).
    """

    def __init__(
        self,
        load_config: Callable[[], Config],
        *,
        now: Callable[[], dt.datetime] = utc_now,
        sleep: Callable[[float], object] | None = None,
        job: Callable[[dt.date], None] | None = None,
        mailer_factory: Callable[[Config], Mailer] = delivery.default_mailer,
        tick_s: float = 60.0,
        retry_sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.load_config = load_config
        self.config = load_config()
        self.now = now
        self._stop = threading.Event()
        # When SIGHUP came (it is acted on at the next tick): slots of a new time that had
        # passed by then are not run.
        self._reload_at: dt.datetime | None = None
        self.sleep: Callable[[float], object] = sleep or self._stop.wait
        self.job = job or self.send
        self.mailer_factory = mailer_factory
        self.tick_s = tick_s
        # Backoff waits between mail retries end early on SIGTERM, so the job finishes soon.
        self.retry_sleep: Callable[[float], None] = retry_sleep or self._wait
        self.timer = schedule.Scheduler()
        # Start-up decided not to run this slot (catch_up off, or not missed): never run it.
        self._floor: dt.datetime | None = None
        # The slot whose job failed, and when to try it again.
        self._failed: tuple[dt.datetime, dt.datetime] | None = None
        self._register()

    # -- configuration ---------------------------------------------------------------

    def _register(self) -> None:
        self.timer.clear()
        try:
            self.timer.every().day.at(self.config.schedule.time, self.config.timezone).do(
                self._run_if_due
            )
        except Exception as exc:  # pytz lacks a zone that zoneinfo has
            # The guard in tick() still fires the slot: the loop sleeps until it.
            log.warning("the schedule timer is off (%s); the slot guard fires the job", exc)

    def reload(self, *, at: dt.datetime | None = None) -> None:
        """Read the config again; keep the old one (and say why) when it became invalid.

        A new schedule only moves the next slot: a slot of the new time at or before ``at``
        (when the reload was asked for; default now) is not run.
        """
        try:
            config = self.load_config()
        except DigestError as exc:
            log.error("config not reloaded, keeping the previous one: %s", exc)
            return
        changed = (config.schedule, config.timezone) != (
            self.config.schedule,
            self.config.timezone,
        )
        self.config = config
        if changed:
            # A reload only moves the next slot: a slot of the new time that has already
            # passed (yesterday's evening, for a time moved later) is not run now.
            self._floor = max(
                self._floor or dt.datetime.min.replace(tzinfo=dt.UTC),
                latest_slot(at or self.now(), config.schedule.time, config.tz),
            )
            log.info(
                "schedule is now %s %s; next run %s",
                config.schedule.time,
                config.timezone,
                next_slot(self.now(), config.schedule.time, config.tz).astimezone(config.tz),
            )
            self._register()

    # -- slots -----------------------------------------------------------------------

    def last_slot(self) -> dt.datetime | None:
        with open_state(self.config) as store:
            return read_last_slot(store)

    def _complete(self, slot: dt.datetime) -> None:
        with open_state(self.config) as store:
            store.set_meta(META_LAST_SLOT, slot.isoformat())

    def due_slot(self) -> dt.datetime | None:
        """The slot to run now, if any: past, later than the start-up floor, not yet done."""
        config = self.config
        now = self.now()
        slot = latest_slot(now, config.schedule.time, config.tz)
        if self._floor is not None and slot <= self._floor:
            return None
        if self._failed is not None and self._failed[0] == slot and now < self._failed[1]:
            return None
        last = self.last_slot()
        if last is not None and slot_date(last, config.tz) >= slot_date(slot, config.tz):
            return None
        return slot

    def run_slot(self, slot: dt.datetime) -> bool:
        """Run the job for ``slot``'s date; record the slot as done when it succeeded.

        A failed job is logged and tried again JOB_RETRY later (until the next slot comes),
        and again after a restart; the outbox makes a repeated run send nothing twice.
        """
        self.reload()
        date = slot_date(slot, self.config.tz)
        log.debug("running the daily job for %s (slot %s)", date, slot.astimezone(self.config.tz))
        try:
            self.job(date)
        except Exception:
            retry = self.now() + JOB_RETRY
            self._failed = (slot, retry)
            log.exception(
                "the daily job for %s failed; trying again at %s (or run `digest send --date %s`)",
                date,
                retry.astimezone(self.config.tz).strftime("%H:%M"),
                date,
            )
            return False
        self._failed = None
        self._complete(slot)
        return True

    def _run_if_due(self) -> None:
        slot = self.due_slot()
        if slot is not None:
            self.run_slot(slot)

    def start(self) -> dt.datetime | None:
        """Catch up a missed slot (when ``catch_up``); return the slot run, if any."""
        config = self.config
        now = self.now()
        missed = missed_slot(
            self.last_slot(), now, config.schedule.time, config.tz, config.schedule.catch_up
        )
        if missed is None:
            self._floor = latest_slot(now, config.schedule.time, config.tz)
            return None
        log.info("catching up the missed slot %s", missed.astimezone(config.tz))
        self.run_slot(missed)
        return missed

    # -- the loop --------------------------------------------------------------------

    def tick(self) -> None:
        """One pass: reload if asked, run the slot if due, retry due outbox rows."""
        if self._reload_at is not None:
            at, self._reload_at = self._reload_at, None
            self.reload(at=at)
        # The library's timer fires at HH:MM by the wall clock; the guard makes it a no-op
        # when the slot already ran, and runs the slot when the timer missed it.
        self.timer.run_pending()
        self._run_if_due()
        if self._stop.is_set():
            return
        try:
            reports = delivery.send_due(
                self.config,
                now=self.now,
                mailer_factory=self.mailer_factory,
                sleep=self.retry_sleep,
            )
        except DigestError as exc:
            log.error("retrying due mail failed: %s", exc)
        except Exception:
            log.exception("retrying due mail failed")
        else:
            for report in reports:
                _log_report(report, "retry of ")

    def seconds_to_sleep(self) -> float:
        """Until the next slot or the next retry tick, whichever is sooner."""
        config = self.config
        now = self.now()
        until_slot = (next_slot(now, config.schedule.time, config.tz) - now).total_seconds()
        return max(0.5, min(self.tick_s, until_slot))

    def _wait(self, seconds: float) -> None:
        self._stop.wait(seconds)

    def stop(self, *_: object) -> None:
        """Ask the loop to exit after the running job (signal-handler compatible)."""
        self._stop.set()

    def request_reload(self, *_: object) -> None:
        self._reload_at = self.now()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self, *, install_signals: bool = True) -> int:
        """The daemon: catch up, then tick until SIGTERM/SIGINT; returns the exit code 0."""
        if install_signals and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self.stop)
            signal.signal(signal.SIGINT, self.stop)
            signal.signal(signal.SIGHUP, self.request_reload)
        log.info(
            "digest run: daily at %s %s (catch_up: %s)",
            self.config.schedule.time,
            self.config.timezone,
            self.config.schedule.catch_up,
        )
        self.start()
        config = self.config
        log.info(
            "digest run: waiting; next run %s",
            next_slot(self.now(), config.schedule.time, config.tz).astimezone(config.tz),
        )
        while not self._stop.is_set():
            self.tick()
            if self._stop.is_set():
                break
            self.sleep(self.seconds_to_sleep())
        log.info("digest run: stopped")
        return 0

    # -- the default job -----------------------------------------------------------

    def send(self, date: dt.date) -> None:
        """Build the digest of ``date`` and deliver it: exactly what `digest send` does."""
        reports = delivery.send(
            self.config,
            date,
            now=self.now,
            mailer=self.mailer_factory(self.config),
            sleep=self.retry_sleep,
        )
        for report in reports:
            _log_report(report, "daily job for ")


def _log_report(report: DeliveryReport, prefix: str) -> None:
    """One INFO line per digest date (what happened to how many recipients), and one
    WARNING per recipient that failed, is pending or busy."""
    if report.skipped_empty:
        log.info("%s%s: nothing new; not sent (email.send_empty is false)", prefix, report.date)
        return
    counts: dict[str, int] = {}
    for result in report.results:
        counts[str(result.status)] = counts.get(str(result.status), 0) + 1
        if not result.status.done:
            detail = f": {result.detail}" if result.detail else ""
            log.warning(
                "%s%s to %s: %s%s", prefix, report.date, result.recipient, result.status, detail
            )
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    log.info("%s%s: %s", prefix, report.date, summary or "no recipients")
