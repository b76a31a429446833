"""A real SMTP server on 127.0.0.1 (aiosmtpd) whose misbehaviour a test chooses.

``SmtpServer`` starts an aiosmtpd Controller on a free loopback port, optionally with
STARTTLS or implicit TLS (a self-signed certificate made by :func:`make_certificate` with
openssl) and AUTH. Its ``handler`` records every accepted message and can be told to fail:

    server.handler.fail("DATA", "451 4.3.0 try again later")      # next DATA, once
    server.handler.fail("DATA", DISCONNECT)                        # drop the line mid-DATA
    server.handler.reject["bad@example.org"] = "550 5.1.1 no such user"   # always

Used by tests/test_mail.py, tests/test_outbox.py, tests/test_cli_delivery.py and the e2e test.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import ssl
import subprocess
import threading
from collections import deque
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

DISCONNECT = "DISCONNECT"


def free_port() -> int:
    """A TCP port nobody listens on right now (bind to 0 and give it back)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1: (cert.pem, key.pem)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert), str(key))
    return ctx


def client_context(cert: Path) -> ssl.SSLContext:
    """A verifying client context that trusts only the test's certificate."""
    return ssl.create_default_context(cafile=str(cert))


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        msg = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


class FaultyHandler:
    """An aiosmtpd handler that records messages and fails on demand."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.received: list[Received] = []
        self.faults: dict[str, deque[str]] = {}
        self.reject: dict[str, str] = {}
        self.transactions = 0
        # hold_at(): a stage where the next session stops until released (to kill the
        # client there), and an event set when a session reached it.
        self._holds: dict[str, tuple[threading.Event, threading.Event]] = {}

    def hold_at(self, stage: str) -> tuple[threading.Event, threading.Event]:
        """Make the next session wait at ``stage`` (MAIL, RCPT, DATA before the message is
        kept, ACCEPTED after it is kept but before the reply) until released. Returns
        ``(reached, release)``."""
        reached, release = threading.Event(), threading.Event()
        with self._lock:
            self._holds[stage] = (reached, release)
        return reached, release

    async def _hold(self, stage: str) -> None:
        with self._lock:
            hold = self._holds.pop(stage, None)
        if hold is None:
            return
        reached, release = hold
        reached.set()
        while not release.is_set():
            await asyncio.sleep(0.02)

    def fail(self, stage: str, reply: str, times: int = 1) -> None:
        """Answer the next ``times`` commands of ``stage`` (MAIL, RCPT, DATA) with ``reply``."""
        with self._lock:
            self.faults.setdefault(stage, deque()).extend([reply] * times)

    def _fault(self, stage: str) -> str | None:
        with self._lock:
            queue = self.faults.get(stage)
            return queue.popleft() if queue else None

    def count(self, recipient: str | None = None) -> int:
        with self._lock:
            return sum(1 for m in self.received if recipient is None or recipient in m.rcpt_tos)

    def messages_to(self, recipient: str) -> list[Received]:
        with self._lock:
            return [m for m in self.received if recipient in m.rcpt_tos]

    async def _reply(self, server: Any, reply: str) -> str:
        if reply == DISCONNECT:
            # Abort at once: whatever we "answer" afterwards never reaches the client.
            server.transport.abort()
            return "421 4.3.0 gone"
        return reply

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        await self._hold("MAIL")
        fault = self._fault("MAIL")
        if fault:
            return await self._reply(server, fault)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.reject:
            return self.reject[address]
        await self._hold("RCPT")
        fault = self._fault("RCPT")
        if fault:
            return await self._reply(server, fault)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await self._hold("DATA")
        fault = self._fault("DATA")
        if fault:
            return await self._reply(server, fault)
        with self._lock:
            self.received.append(
                Received(envelope.mail_from, tuple(envelope.rcpt_tos), bytes(envelope.content))
            )
            self.transactions += 1
            number = self.transactions
        await self._hold("ACCEPTED")
        return f"250 2.0.0 Ok: queued as Q{number}"


class SmtpServer:
    """A running aiosmtpd server; use as a context manager. ``port`` is where it listens.

    security: "none" (plain), "starttls" (offers STARTTLS), "ssl" (implicit TLS).
    ``users`` turns on AUTH (PLAIN/LOGIN) with those login -> password pairs.
    """

    def __init__(
        self,
        *,
        security: str = "none",
        cert: tuple[Path, Path] | None = None,
        users: dict[str, str] | None = None,
        require_tls_for_auth: bool = True,
    ) -> None:
        self.handler = FaultyHandler()
        self.port = free_port()
        self.logins: list[str] = []
        kwargs: dict[str, Any] = {"hostname": "127.0.0.1"}
        if security in ("starttls", "ssl"):
            assert cert is not None, "TLS needs a certificate"
            ctx = server_context(*cert)
            if security == "starttls":
                kwargs["server_kwargs_tls"] = ctx
            else:
                kwargs["ssl_context"] = ctx
        smtp_params: dict[str, Any] = {}
        if "server_kwargs_tls" in kwargs:
            smtp_params["tls_context"] = kwargs.pop("server_kwargs_tls")
        if users is not None:
            smtp_params["authenticator"] = self._authenticator(users)
            smtp_params["auth_require_tls"] = require_tls_for_auth
        self.controller = Controller(
            self.handler,
            port=self.port,
            server_hostname="localhost",
            **kwargs,
            **smtp_params,
        )

    def _authenticator(self, users: dict[str, str]) -> Any:
        def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
            if not isinstance(data, LoginPassword):
                return AuthResult(success=False, handled=False)
            login, password = data.login.decode(), data.password.decode()
            ok = users.get(login) == password
            if ok:
                self.logins.append(login)
            return AuthResult(success=ok, handled=False)

        return check

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


def make_config(
    base: Path,
    *,
    port: int,
    to: list[str] | None = None,
    security: str = "none",
    timezone: str = "Europe/Berlin",
    time: str = "07:00",
    catch_up: bool = True,
    feeds: list[dict[str, Any]] | None = None,
    **email_keys: Any,
) -> Any:
    """A validated Config whose email goes to the loopback server on ``port``."""
    from digest.config import parse_config

    smtp: dict[str, Any] = {"host": "127.0.0.1", "port": port, "security": security}
    smtp.update(email_keys.pop("smtp", {}))
    data = {
        "title": "Morning Digest",
        "timezone": timezone,
        "state": str(base / "state.sqlite"),
        "output": {"dir": str(base / "out")},
        "schedule": {"time": time, "catch_up": catch_up},
        "feeds": feeds or [],
        "email": {
            "from": "Digest <digest@example.org>",
            "to": to or ["reader@example.org"],
            "smtp": smtp,
            **email_keys,
        },
    }
    return parse_config(data, base)


def write_feed(path: Path, items: int = 3, start: int = 0) -> Path:
    """A small RSS 2.0 file with full-text English items (``path:`` feeds need no network)."""
    entries = []
    for n in range(start, start + items):
        body = " ".join(
            f"Story {n} sentence {k} tells how the river town number {n} repaired "
            f"bridge {k} before the winter floods arrived in the valley."
            for k in range(6)
        )
        entries.append(
            f"<item><title>Story number {n} about bridges</title>"
            f"<link>https://news.example.org/story-{n}</link>"
            f"<guid>https://news.example.org/story-{n}</guid>"
            f"<pubDate>Wed, 25 Nov 2026 0{n % 10}:00:00 +0000</pubDate>"
            f"<description>{body}</description></item>"
        )
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        "<title>River News</title><link>https://news.example.org/</link>"
        "<description>Local news</description><language>en</language>"
        + "".join(entries)
        + "</channel></rss>",
        encoding="utf-8",
    )
    return path
