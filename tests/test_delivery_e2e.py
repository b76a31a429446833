"""End to end: `digest run` as a real process, a local feed, a real SMTP server on loopback.

With today's slot already passed and an empty store, the daemon delivers one message at once;
stopped with SIGTERM it exits 0; restarted, it delivers nothing more.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import time
import zoneinfo
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.smtp_server import SmtpServer, write_feed

# Dates relative to today: a real build may only create a digest near today (digests go
# forward), and these tests run the CLI on the real clock.
_TODAY = dt.datetime.now(zoneinfo.ZoneInfo("UTC")).date()
DAY = _TODAY.isoformat()

REPO = Path(__file__).resolve().parents[1]

# Until digest/cli.py registers the delivery commands, start the same group with them added.
_LAUNCH = (
    "from digest.cli import main\n"
    "from digest.cli.delivery import run_daemon, send, status\n"
    "for command in (send, status, run_daemon):\n"
    "    main.commands.setdefault(command.name or '', command)\n"
    "main()\n"
)


def _argv(config: Path, *args: str, verbose: bool = True) -> list[str]:
    from digest.cli import main

    prefix = ["-m", "digest"] if "run" in main.commands else ["-c", _LAUNCH]
    return [sys.executable, *prefix, *(["-v"] if verbose else []), "-c", str(config), *args]


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _start(config: Path, log: Path, *, verbose: bool = True) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    with log.open("wb") as handle:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            _argv(config, "run", verbose=verbose),
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=handle,
        )


def _stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError("`digest run` did not exit after SIGTERM") from None


def test_daemon_catches_up_once_and_not_again_after_restart(tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    if now.hour == 0 and now.minute < 3:
        pytest.skip("too close to midnight UTC for a slot that already passed today")
    slot = (now - dt.timedelta(minutes=2)).strftime("%H:%M")
    write_feed(tmp_path / "feed.xml")
    with SmtpServer() as server:
        config = tmp_path / "config.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "title": "Morning Digest",
                    "timezone": "UTC",
                    "feeds": [{"path": "feed.xml", "full_text": "never"}],
                    "state": "state.sqlite",
                    "output": {"dir": "out"},
                    "schedule": {"time": slot, "catch_up": True},
                    "email": {
                        "from": "Digest <digest@example.org>",
                        "to": ["reader@example.org"],
                        "smtp": {"host": "127.0.0.1", "port": server.port, "security": "none"},
                    },
                }
            ),
            encoding="utf-8",
        )
        first_log = tmp_path / "first.log"
        proc = _start(config, first_log, verbose=False)
        try:
            _wait_for(lambda: server.handler.count() == 1, 60, "the caught-up digest")
            _wait_for(lambda: "waiting; next run" in first_log.read_text(), 20, "the idle loop")
        finally:
            code = _stop(proc)
        assert code == 0, first_log.read_text()
        log = first_log.read_text()
        assert "catching up the missed slot" in log
        # At the default verbosity a daemon says what each job did, in one line, and the
        # stages and libraries stay quiet.
        assert re.search(r"daily job for \d{4}-\d\d-\d\d: 1 sent$", log, re.M), log
        assert all(line.startswith("INFO digest.scheduler") for line in log.splitlines()), log
        msg = server.handler.received[0].message
        assert msg["To"] == "reader@example.org"
        assert "Story number" in msg.get_body(("plain",)).get_content()

        second_log = tmp_path / "second.log"
        proc = _start(config, second_log)
        try:
            _wait_for(lambda: "waiting; next run" in second_log.read_text(), 60, "the restart")
            time.sleep(0.5)  # one tick of outbox retries has run by now
        finally:
            code = _stop(proc)
        assert code == 0, second_log.read_text()
        assert "catching up" not in second_log.read_text()
        assert server.handler.count() == 1


def test_two_send_processes_at_once_deliver_once(tmp_path: Path) -> None:
    write_feed(tmp_path / "feed.xml")
    recipients = [f"r{i}@example.org" for i in range(3)]
    with SmtpServer() as server:
        config = tmp_path / "config.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "timezone": "UTC",
                    "feeds": [{"path": "feed.xml", "full_text": "never"}],
                    "state": "state.sqlite",  # new: both processes create it at once
                    "output": {"dir": "out"},
                    "email": {
                        "from": "Digest <digest@example.org>",
                        "to": recipients,
                        "smtp": {"host": "127.0.0.1", "port": server.port, "security": "none"},
                    },
                }
            ),
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
        procs = [
            subprocess.Popen(
                _argv(config, "send", "--date", DAY),
                cwd=REPO,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for _ in range(2)
        ]
        outputs = [p.communicate(timeout=60) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outputs
        assert [server.handler.count(r) for r in recipients] == [1, 1, 1]
        lines = b"".join(out for out, _ in outputs).decode().splitlines()
        assert (
            sorted(line.split(": ")[1].split()[0] for line in lines)
            == ["already-sent"] * 3 + ["sent"] * 3
        )
