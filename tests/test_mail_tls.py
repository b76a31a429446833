"""TLS mismatches are configuration mistakes, said once (issue 12): ``security: ssl`` against a
plain server, or starttls/none against a server that starts with TLS (port 465), must not be
queued as temporary failures and retried for ever."""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
import sys
import threading
import time
import zoneinfo
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from digest.config import SmtpConfig
from digest.errors import MailConfigError, TemporaryMailError
from digest.mail import SmtpMailer, compose, make_list_id, make_message_id
from digest.store import Store
from tests.smtp_server import SmtpServer, make_certificate, make_config, write_feed

# Dates relative to today: a real build may only create a digest near today (digests go
# forward), and these tests run the CLI on the real clock.
_TODAY = dt.datetime.now(zoneinfo.ZoneInfo("UTC")).date()
DAY = _TODAY.isoformat()


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("tls"))


def _smtp(port: int, security: str, timeout_s: float = 2.0) -> SmtpConfig:
    return SmtpConfig.model_validate(
        {"host": "127.0.0.1", "port": port, "security": security, "timeout_s": timeout_s}
    )


def _msg(tmp_path: Path) -> object:
    config = make_config(tmp_path, port=25)
    assert config.email is not None
    day = dt.date(2026, 11, 26)
    return compose(
        "<p>hello</p>",
        "hello",
        email=config.email,
        recipient="reader@example.org",
        subject="Digest",
        message_id=make_message_id(day, "reader@example.org", config.email.from_),
        date=dt.datetime(2026, 11, 26, tzinfo=dt.UTC),
        list_id=make_list_id(config.title, config.email.from_),
    )


def test_ssl_against_a_plain_server_is_a_config_error(tmp_path: Path) -> None:
    with SmtpServer(security="none") as srv:
        mailer = SmtpMailer(_smtp(srv.port, "ssl"), {})
        started = time.monotonic()
        with pytest.raises(MailConfigError) as caught:
            mailer.send(_msg(tmp_path), "reader@example.org")  # type: ignore[arg-type]
        assert time.monotonic() - started < 2
    message = str(caught.value)
    assert "email.smtp.security: starttls" in message and "\n" not in message
    assert caught.value.exit_code == 2


@pytest.mark.parametrize("security", ["starttls", "none"])
def test_plain_against_a_tls_server_is_a_config_error(
    tmp_path: Path, cert: tuple[Path, Path], security: str
) -> None:
    with SmtpServer(security="ssl", cert=cert) as srv:
        mailer = SmtpMailer(_smtp(srv.port, security, timeout_s=1.0), {})
        with pytest.raises(MailConfigError, match=r"email\.smtp\.security: ssl"):
            mailer.send(_msg(tmp_path), "reader@example.org")  # type: ignore[arg-type]


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts connections and never says a word: slow, not a TLS port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def test_a_server_that_never_greets_is_still_a_temporary_failure(
    tmp_path: Path, silent_server: int
) -> None:
    mailer = SmtpMailer(_smtp(silent_server, "starttls", timeout_s=0.5), {})
    with pytest.raises(TemporaryMailError):
        mailer.send(_msg(tmp_path), "reader@example.org")  # type: ignore[arg-type]


SEND_ARGS = ("--date", DAY, "--retry-for", "30")


def test_send_says_it_once_exits_2_and_keeps_the_row_due(tmp_path: Path) -> None:
    with SmtpServer(security="none") as srv:
        write_feed(tmp_path / "feed.xml")
        data = {
            "timezone": "UTC",
            "feeds": [{"path": "feed.xml", "full_text": "never"}],
            "state": "state.sqlite",
            "email": {
                "from": "Digest <digest@example.org>",
                "to": ["reader@example.org"],
                "smtp": {"host": "127.0.0.1", "port": srv.port, "security": "ssl"},
            },
        }
        config = tmp_path / "config.yaml"
        config.write_text(yaml.safe_dump(data), encoding="utf-8")
        # A process of its own: the loopback server's log lines are not digest's stderr.
        # With 30 s of retries allowed, a mismatch must still not be retried at all.
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "digest", "-c", str(config), "send", *SEND_ARGS],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert time.monotonic() - started < 25
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith("error: ") and "email.smtp.security" in line
    with Store(tmp_path / "state.sqlite") as store:
        [row] = store.outbox_rows()
    assert row.status != "sending" and not row.permanent and row.attempts <= 1
