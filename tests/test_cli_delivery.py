"""`digest send`, `digest status` and bad input, through click against a real local SMTP server."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from click.testing import CliRunner, Result

from digest.cli.common import CliState
from digest.cli.delivery import run_daemon, send, status
from digest.store import Store
from tests.smtp_server import SmtpServer, free_port, write_feed

# Dates relative to today: a real build may only create a digest near today (digests go
# forward), and these tests run the CLI on the real clock.
_TODAY = dt.datetime.now(zoneinfo.ZoneInfo("Europe/Berlin")).date()
DAY = _TODAY.isoformat()
DAY_BEFORE = (_TODAY + dt.timedelta(days=-1)).isoformat()
DAY_AFTER = (_TODAY + dt.timedelta(days=1)).isoformat()
LONG_DAY = f"{_TODAY:%A}, {_TODAY.day} {_TODAY:%B %Y}"

A, B = "a@example.org", "b@example.org"


def _group() -> click.Group:
    """`digest` itself once the lead registered these commands, else an equivalent group."""
    from digest.cli import main

    if {"send", "status", "run"} <= set(main.commands):
        return main

    @click.group()
    @click.option("-c", "--config", "config_arg")
    @click.option("-q", "--quiet", is_flag=True)
    @click.pass_context
    def group(ctx: click.Context, config_arg: str | None, quiet: bool) -> None:
        ctx.obj = CliState(config_arg=config_arg, quiet=quiet)

    for command in (send, status, run_daemon):
        group.add_command(command)
    return group


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    with SmtpServer() as srv:
        yield srv


def _write_config(folder: Path, port: int, **changes: Any) -> Path:
    write_feed(folder / "feed.xml")
    data: dict[str, Any] = {
        "title": "Morning Digest",
        "timezone": "Europe/Berlin",
        "feeds": [{"path": "feed.xml", "full_text": "never"}],
        "state": "state.sqlite",
        "output": {"dir": "out"},
        "email": {
            "from": "Digest <digest@example.org>",
            "to": [A, B],
            "smtp": {"host": "127.0.0.1", "port": port, "security": "none"},
        },
    }
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        elif isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _digest(config: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(_group(), ["-c", str(config), *args], env=env)


def test_send_delivers_once_and_again_sends_nothing(tmp_path: Path, server: SmtpServer) -> None:
    config = _write_config(tmp_path, server.port)
    first = _digest(config, "send", "--date", DAY)
    assert first.exit_code == 0, first.output
    assert f"{DAY} a@example.org: sent" in first.stdout
    assert server.handler.count(A) == 1 and server.handler.count(B) == 1
    msg = server.handler.messages_to(A)[0].message
    assert msg["Subject"] == f"Morning Digest for {LONG_DAY}"
    assert "Story number" in msg.get_body(("plain",)).get_content()
    second = _digest(config, "send", "--date", DAY)
    assert second.exit_code == 0
    assert "already-sent" in second.stdout
    assert server.handler.count() == 2
    quiet = _digest(config, "-q", "send", "--date", DAY)
    assert quiet.exit_code == 0 and quiet.stdout == ""  # silence under cron


def test_refused_recipient_exits_1_and_is_named(tmp_path: Path, server: SmtpServer) -> None:
    server.handler.reject[B] = "550 5.1.1 <b@example.org>: Recipient address rejected"
    config = _write_config(tmp_path, server.port)
    result = _digest(config, "send", "--date", DAY)
    assert result.exit_code == 1
    assert f"error: b@example.org: delivery of {DAY} failed permanently: " in result.stderr
    assert "550" in result.stderr and "a@example.org" not in result.stderr
    assert server.handler.count(A) == 1 and server.handler.count(B) == 0


def test_unreachable_server_exits_1_and_keeps_the_row_due(tmp_path: Path) -> None:
    config = _write_config(tmp_path, free_port())
    result = _digest(config, "send", "--date", DAY, "--retry-for", "0")
    assert result.exit_code == 1
    assert f"error: a@example.org: delivery of {DAY} not done yet" in result.stderr
    assert "connection refused" in result.stderr
    with Store(tmp_path / "state.sqlite") as store:
        rows = store.outbox_rows()
    assert {r.recipient: (r.status, r.permanent) for r in rows} == {
        A: ("failed", False),
        B: ("failed", False),
    }
    # The server is back (on a new port, after a config edit): the rows go, once.
    with SmtpServer() as srv:
        config = _write_config(tmp_path, srv.port)
        again = _digest(config, "send", "--date", DAY)
        assert again.exit_code == 0, again.output
        assert srv.handler.count(A) == 1 and srv.handler.count(B) == 1


def test_earlier_due_digest_is_retried_by_a_later_send(tmp_path: Path) -> None:
    config = _write_config(tmp_path, free_port(), email={"to": [A]})
    assert _digest(config, "send", "--date", DAY_BEFORE, "--retry-for", "0").exit_code == 1
    with SmtpServer() as srv:
        config = _write_config(tmp_path, srv.port, email={"to": [A]})
        write_feed(tmp_path / "feed.xml", start=3)  # news for the 26th
        result = _digest(config, "send", "--date", DAY)
        assert result.exit_code == 0, result.output
        dates = sorted(str(m.message["Message-ID"]).split(".")[1] for m in srv.handler.received)
        assert dates == [DAY_BEFORE, DAY]


def test_dry_run_writes_eml_and_records_nothing(tmp_path: Path, server: SmtpServer) -> None:
    config = _write_config(tmp_path, server.port)
    result = _digest(config, "send", "--dry-run", "--date", DAY)
    assert result.exit_code == 0, result.output
    paths = sorted(Path(line) for line in result.stdout.splitlines())
    assert [p.name for p in paths] == [
        f"{DAY}.a@example.org.eml",
        f"{DAY}.b@example.org.eml",
    ]
    assert b"Story number" in paths[0].read_bytes() or b"Story=20number" in paths[0].read_bytes()
    assert server.handler.count() == 0
    assert not (tmp_path / "state.sqlite").exists()
    # The real send afterwards still delivers (nothing was marked).
    assert _digest(config, "send", "--date", DAY).exit_code == 0
    assert server.handler.count() == 2


def test_test_copy_does_not_count(tmp_path: Path, server: SmtpServer) -> None:
    config = _write_config(tmp_path, server.port)
    result = _digest(config, "send", "--to", "me@example.org", "--date", DAY)
    assert result.exit_code == 0, result.output
    assert "me@example.org: test" in result.stdout
    assert server.handler.count("me@example.org") == 1 and server.handler.count(A) == 0
    with Store(tmp_path / "state.sqlite") as store:
        assert store.outbox_rows() == []
    assert _digest(config, "send", "--date", DAY).exit_code == 0
    assert server.handler.count(A) == 1


def test_force_sends_again(tmp_path: Path, server: SmtpServer) -> None:
    config = _write_config(tmp_path, server.port, email={"to": [A]})
    assert _digest(config, "send", "--date", DAY).exit_code == 0
    assert _digest(config, "send", "--date", DAY, "--force").exit_code == 0
    ids = {m.message["Message-ID"] for m in server.handler.messages_to(A)}
    assert len(ids) == 2


def test_nothing_new_sends_nothing(tmp_path: Path, server: SmtpServer) -> None:
    config = _write_config(tmp_path, server.port, email={"to": [A]})
    assert _digest(config, "send", "--date", DAY).exit_code == 0
    result = _digest(config, "send", "--date", DAY_AFTER)
    assert result.exit_code == 0
    assert "nothing new, nothing sent" in result.stderr
    assert server.handler.count() == 1


def test_missing_email_section_exits_2(tmp_path: Path) -> None:
    config = _write_config(tmp_path, 25, email=None)
    for args in (["send"], ["run"]):
        result = _digest(config, *args)
        assert result.exit_code == 2
        assert "email: no email section" in result.stderr and "add one" in result.stderr


def test_missing_password_variable(tmp_path: Path, server: SmtpServer) -> None:
    smtp = {
        "host": "127.0.0.1",
        "port": server.port,
        "security": "none",
        "username": "u",
        "password_env": "DIGEST_TEST_NO_SUCH_PW",
    }
    config = _write_config(tmp_path, server.port, email={"smtp": smtp})
    result = _digest(config, "send", env={"DIGEST_TEST_NO_SUCH_PW": None})  # type: ignore[dict-item]
    assert result.exit_code == 2  # a configuration mistake, per the CLI contract
    assert len(result.stderr.strip().splitlines()) == 1
    assert "DIGEST_TEST_NO_SUCH_PW is not set" in result.stderr
    assert not (tmp_path / "state.sqlite").exists() or _rows(tmp_path) == []


def _rows(folder: Path) -> list[Any]:
    with Store(folder / "state.sqlite") as store:
        return store.outbox_rows()


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone: unknown timezone 'Mars/Olympus'"),
        ({"schedule": {"time": "7 am"}}, "schedule.time: expected a local time as HH:MM"),
        ({"email": {"to": ["not-an-address"]}}, "email.to[0]: expected an email address"),
    ],
)
def test_bad_config_is_one_line_naming_the_key(
    tmp_path: Path, changes: dict[str, Any], needle: str
) -> None:
    config = _write_config(tmp_path, 25, **changes)
    for args in (["send"], ["status"], ["run"]):
        result = _digest(config, *args)
        assert result.exit_code == 2, result.output
        assert needle in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_invalid_to_address_is_a_usage_error(tmp_path: Path) -> None:
    config = _write_config(tmp_path, 25)
    result = _digest(config, "send", "--to", "nobody")
    assert result.exit_code == 2
    assert "expected an email address" in result.stderr and "'nobody'" in result.stderr


def test_status_shows_runs_outbox_and_failing_feeds(tmp_path: Path, server: SmtpServer) -> None:
    server.handler.reject[B] = "550 5.1.1 no such user"
    config = _write_config(
        tmp_path,
        server.port,
        feeds=[{"path": "feed.xml", "full_text": "never"}, {"path": "gone.xml", "name": "Gone"}],
    )
    empty = _digest(config, "status")
    assert empty.exit_code == 0, empty.output
    assert "last scheduled run: never" in empty.stdout and "outbox: empty" in empty.stdout
    assert not (tmp_path / "state.sqlite").exists()  # status creates nothing
    assert _digest(config, "send", "--date", DAY).exit_code == 1
    result = _digest(config, "status")
    assert result.exit_code == 0
    out = result.stdout
    assert "schedule: daily at 07:00 Europe/Berlin (catch_up: on)" in out
    assert "next scheduled run: " in out
    assert f"{DAY} a@example.org: sent" in out
    assert f"{DAY} b@example.org: failed permanently: " in out
    assert "failing feeds:\n" in out and "gone.xml" in out


def test_send_through_a_sendmail_binary(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    script = tmp_path / "fake-sendmail"
    # Like sendmail -i -- RCPT: one file per message, named after the recipient.
    script.write_text(f'#!/bin/sh\ncat > "{spool}/$3.$$"\n')
    script.chmod(0o755)
    config = _write_config(
        tmp_path,
        25,
        email={"to": [A], "smtp": None, "sendmail": str(script)},
    )
    assert _digest(config, "send", "--date", DAY).exit_code == 0
    assert _digest(config, "send", "--date", DAY).exit_code == 0
    [message] = list(spool.iterdir())
    assert message.name.startswith("a@example.org.")
    assert f"Subject: Morning Digest for {LONG_DAY}".encode() in message.read_bytes()
