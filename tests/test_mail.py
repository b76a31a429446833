"""mail.py: composition and the SMTP / sendmail transports against real local servers."""

from __future__ import annotations

import datetime as dt
import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from digest.config import SmtpConfig
from digest.errors import ConfigError, MailError, PermanentMailError, TemporaryMailError
from digest.mail import (
    POLICY,
    SendmailMailer,
    SmtpMailer,
    compose,
    make_list_id,
    make_message_id,
)
from tests.smtp_server import (
    DISCONNECT,
    SmtpServer,
    client_context,
    free_port,
    make_certificate,
    make_config,
)

NOW = dt.datetime(2026, 3, 29, 7, 0, tzinfo=dt.UTC)
DAY = dt.date(2026, 3, 29)


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    with SmtpServer() as srv:
        yield srv


def _msg(tmp_path: Path, port: int = 25, recipient: str = "reader@example.org", **keys: object):
    config = make_config(tmp_path, port=port, **keys)
    assert config.email is not None
    return compose(
        "<p>Grüße — <b>hello</b></p>",
        "Grüße — hello\n" + "x" * 300,
        email=config.email,
        recipient=recipient,
        subject="Morning Digest for Sunday, 29 March 2026 — Ümlaut",
        message_id=make_message_id(DAY, recipient, config.email.from_),
        date=NOW,
        list_id=make_list_id(config.title, config.email.from_),
    )


# --------------------------------------------------------------------------- composition


def test_compose_structure_and_headers(tmp_path: Path) -> None:
    msg = _msg(tmp_path)
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    assert parts[0].get_content().startswith("Grüße — hello")
    assert "<b>hello</b>" in parts[1].get_content()
    assert msg["From"] == "Digest <digest@example.org>"
    assert msg["To"] == "reader@example.org"
    assert msg["Subject"] == "Morning Digest for Sunday, 29 March 2026 — Ümlaut"
    assert msg["Date"] == "Sun, 29 Mar 2026 07:00:00 +0000"
    assert msg["Message-ID"].endswith("@example.org>")
    assert msg["List-Id"] == "Morning Digest <morning-digest.example.org>"
    assert msg["List-Unsubscribe"] is None
    raw = msg.as_bytes(policy=POLICY)
    assert raw.isascii()  # headers encoded, bodies qp/base64: safe for any server
    assert b"\r\n" in raw


def test_compose_long_https_unsubscribe_is_one_unfolded_line(tmp_path: Path) -> None:
    url = "https://example.org/unsubscribe?token=" + "a1b2c3" * 30
    raw = _msg(tmp_path, unsubscribe=url).as_bytes(policy=POLICY).decode()
    lines = raw.split("\r\n")
    assert f"List-Unsubscribe: <{url}>" in lines
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in lines


def test_compose_mailto_unsubscribe_has_no_one_click(tmp_path: Path) -> None:
    msg = _msg(tmp_path, unsubscribe="mailto:leave@example.org")
    assert msg["List-Unsubscribe"] == "<mailto:leave@example.org>"
    assert msg["List-Unsubscribe-Post"] is None


def test_message_id_is_stable_per_date_and_recipient() -> None:
    a = make_message_id(DAY, "r@example.org", "Digest <d@news.example.net>")
    assert a == make_message_id(DAY, "R@Example.org", "d@news.example.net")
    assert a.startswith("<") and a.endswith("@news.example.net>")
    assert a != make_message_id(DAY, "s@example.org", "d@news.example.net")
    assert a != make_message_id(DAY + dt.timedelta(days=1), "r@example.org", "d@news.example.net")
    assert a != make_message_id(DAY, "r@example.org", "d@news.example.net", nonce="x")


# --------------------------------------------------------------------------- SMTP


def _smtp(port: int, **keys: object) -> SmtpConfig:
    return SmtpConfig.model_validate({"host": "127.0.0.1", "port": port, **keys})


def test_plain_smtp_delivers_and_returns_reply(tmp_path: Path, server: SmtpServer) -> None:
    mailer = SmtpMailer(
        _smtp(server.port, security="none"), {}, from_addr="Digest <digest@example.org>"
    )
    reply = mailer.send(_msg(tmp_path), "reader@example.org")
    mailer.close()
    assert reply.startswith("250 2.0.0 Ok: queued as Q")
    [got] = server.handler.received
    assert got.mail_from == "digest@example.org"
    assert got.rcpt_tos == ("reader@example.org",)
    assert got.message["Subject"] == "Morning Digest for Sunday, 29 March 2026 — Ümlaut"
    assert got.message.get_body(("plain",)).get_content().startswith("Grüße")


def test_starttls_with_auth_and_verified_certificate(
    tmp_path: Path, cert: tuple[Path, Path]
) -> None:
    with SmtpServer(security="starttls", cert=cert, users={"alice": "s3cret"}) as srv:
        mailer = SmtpMailer(
            _smtp(srv.port, security="starttls", username="alice", password_env="PW"),
            {"PW": "s3cret"},
            ssl_context=client_context(cert[0]),
        )
        mailer.send(_msg(tmp_path), "reader@example.org")
        mailer.send(_msg(tmp_path, recipient="b@example.org"), "b@example.org")
        mailer.close()
        assert srv.logins == ["alice"]  # one connection reused for both messages
        assert srv.handler.count() == 2


def test_implicit_tls(tmp_path: Path, cert: tuple[Path, Path]) -> None:
    with SmtpServer(security="ssl", cert=cert) as srv:
        mailer = SmtpMailer(
            _smtp(srv.port, security="ssl"), {}, ssl_context=client_context(cert[0])
        )
        mailer.send(_msg(tmp_path), "reader@example.org")
        mailer.close()
        assert srv.handler.count() == 1


def test_untrusted_certificate_is_refused(tmp_path: Path, cert: tuple[Path, Path]) -> None:
    with SmtpServer(security="starttls", cert=cert) as srv:
        # The default context does not trust the self-signed certificate: verification is on.
        mailer = SmtpMailer(_smtp(srv.port, security="starttls"), {})
        with pytest.raises(MailError, match="certificate could not be verified") as info:
            mailer.send(_msg(tmp_path), "reader@example.org")
        assert not isinstance(info.value, TemporaryMailError | PermanentMailError)
        assert srv.handler.count() == 0


def test_starttls_not_offered(tmp_path: Path, server: SmtpServer) -> None:
    mailer = SmtpMailer(_smtp(server.port, security="starttls"), {})
    with pytest.raises(MailError, match="does not offer STARTTLS"):
        mailer.send(_msg(tmp_path), "reader@example.org")


def test_missing_password_variable_names_it() -> None:
    with pytest.raises(ConfigError, match="DIGEST_TEST_PW is not set"):
        SmtpMailer(_smtp(25, username="alice", password_env="DIGEST_TEST_PW"), {})


def test_wrong_password_is_reported_without_the_password(
    tmp_path: Path, cert: tuple[Path, Path]
) -> None:
    with SmtpServer(security="starttls", cert=cert, users={"alice": "right"}) as srv:
        mailer = SmtpMailer(
            _smtp(srv.port, security="starttls", username="alice", password_env="PW"),
            {"PW": "wrong-pw-123"},
            ssl_context=client_context(cert[0]),
        )
        with pytest.raises(MailError, match="authentication failed for alice") as info:
            mailer.send(_msg(tmp_path), "reader@example.org")
        assert "wrong-pw-123" not in str(info.value)
        assert not isinstance(info.value, TemporaryMailError | PermanentMailError)


def test_connection_refused_is_temporary(tmp_path: Path) -> None:
    mailer = SmtpMailer(_smtp(free_port(), security="none"), {})
    with pytest.raises(TemporaryMailError, match="connection refused"):
        mailer.send(_msg(tmp_path), "reader@example.org")


def test_silent_server_times_out(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # accepts the TCP handshake, never greets
        mailer = SmtpMailer(_smtp(listener.getsockname()[1], security="none", timeout_s=0.3), {})
        with pytest.raises(TemporaryMailError, match="timed out"):
            mailer.send(_msg(tmp_path), "reader@example.org")


@pytest.mark.parametrize(
    ("stage", "reply", "error"),
    [
        ("RCPT", "550 5.1.1 no such user", PermanentMailError),
        ("RCPT", "451 4.7.1 greylisted", TemporaryMailError),
        ("MAIL", "421 4.3.2 shutting down", TemporaryMailError),
        ("DATA", "451 4.3.0 try again later", TemporaryMailError),
        ("DATA", "421 4.3.2 too busy", TemporaryMailError),
        ("DATA", "554 5.7.1 rejected as spam", PermanentMailError),
        ("DATA", DISCONNECT, TemporaryMailError),
    ],
)
def test_server_faults_are_classified_and_the_next_send_works(
    tmp_path: Path, server: SmtpServer, stage: str, reply: str, error: type[MailError]
) -> None:
    server.handler.fail(stage, reply)
    mailer = SmtpMailer(_smtp(server.port, security="none"), {})
    with pytest.raises(error) as info:
        mailer.send(_msg(tmp_path), "reader@example.org")
    assert "reader@example.org" in str(info.value) or "refused" in str(info.value)
    assert server.handler.count() == 0
    mailer.send(_msg(tmp_path), "reader@example.org")  # same mailer recovers (reconnects)
    mailer.close()
    assert server.handler.count() == 1


# --------------------------------------------------------------------------- sendmail


def _fake_sendmail(tmp_path: Path, code: int) -> Path:
    script = tmp_path / "sendmail"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" > "{tmp_path}/args"\n'
        f'cat > "{tmp_path}/message"\n'
        f'[ {code} -ne 0 ] && echo "sendmail: status {code}" >&2\n'
        f"exit {code}\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_sendmail_accepts(tmp_path: Path) -> None:
    mailer = SendmailMailer(_fake_sendmail(tmp_path, 0))
    reply = mailer.send(_msg(tmp_path), "reader@example.org")
    assert reply.startswith("sendmail: accepted")
    assert (tmp_path / "args").read_text().split() == ["-i", "--", "reader@example.org"]
    data = (tmp_path / "message").read_bytes()
    assert b"Subject: " in data and b"\r\n" not in data  # sendmail wants local line endings


@pytest.mark.parametrize(
    ("code", "error"), [(75, TemporaryMailError), (67, PermanentMailError), (1, PermanentMailError)]
)
def test_sendmail_exit_codes(tmp_path: Path, code: int, error: type[MailError]) -> None:
    mailer = SendmailMailer(_fake_sendmail(tmp_path, code))
    with pytest.raises(error, match=f"exited with {code}: sendmail: status {code}"):
        mailer.send(_msg(tmp_path), "reader@example.org")


def test_sendmail_missing_binary(tmp_path: Path) -> None:
    mailer = SendmailMailer(tmp_path / "nope")
    with pytest.raises(MailError, match="does not exist"):
        mailer.send(_msg(tmp_path), "reader@example.org")
    assert not os.path.exists(tmp_path / "message")
