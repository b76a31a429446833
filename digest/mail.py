"""Mail: one message composed (MIME, headers, Message-ID) and handed to a server.

SMTP (ssl / starttls / none) and sendmail transports share one :class:`Mailer` protocol; a
transport raises TemporaryMailError (4xx, network: try later), PermanentMailError (5xx: this
recipient will not work) or a plain MailError (operator trouble). Exactly-once delivery
through the outbox is :mod:`digest.outbox`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.policy
import email.utils
import hashlib
import logging
import os
import re
import smtplib
import socket
import ssl
import subprocess
from collections.abc import Mapping
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from digest.config import EmailConfig, SmtpConfig
from digest.errors import (
    ConfigError,
    MailConfigError,
    MailError,
    PermanentMailError,
    TemporaryMailError,
)

log = logging.getLogger(__name__)

# Long List-Unsubscribe URLs must not be folded mid-URL: allow the RFC 5322 hard limit.
POLICY = email.policy.SMTP.clone(max_line_length=998)

EX_TEMPFAIL = 75  # sysexits.h: the sendmail binary asks to try again later


class Rendered(Protocol):
    """What deliver needs from a rendered digest (digest.render.RenderedDigest fits)."""

    @property
    def html(self) -> str: ...

    @property
    def text(self) -> str: ...


class Mailer(Protocol):
    """A transport: ``send`` returns the server's reply or raises a MailError subclass.

    TemporaryMailError: try again later. PermanentMailError: this recipient will not work.
    A plain MailError (authentication, TLS verification, missing binary) stops the run:
    it concerns every recipient and is fixed by the operator, so nothing is marked permanent.
    """

    def send(self, msg: EmailMessage, recipient: str) -> str: ...

    def close(self) -> None: ...


# --------------------------------------------------------------------------- composition


def address_of(value: str) -> str:
    """The bare address of ``Name <addr>`` (or of a bare address)."""
    return email.utils.parseaddr(value)[1]


def domain_of(value: str) -> str:
    """The domain part of an address, lower-cased ("localhost" when there is none)."""
    addr = address_of(value)
    return addr.rpartition("@")[2].lower() or "localhost"


def normalize_address(value: str) -> str:
    """The mailbox ``value`` names, as one key: the bare address without a display name,
    lower-cased (``Reader <A@X.test>`` and ``a@x.test`` are one mailbox)."""
    return (address_of(value) or value).strip().lower()


def make_message_id(
    date: dt.date, recipient: str, from_addr: str, *, list_id: str = "", nonce: str = ""
) -> str:
    """A Message-ID stable for one (digest, date, recipient, nonce), on the sender's domain.

    The digest is named by its List-Id, so two digests sent to one reader on one day never
    share an id. A resend after a crash reuses it, so the receiver collapses the duplicate;
    ``--force`` passes a fresh nonce to get a new one.
    """
    key = f"{list_id}\0{date.isoformat()}\0{normalize_address(recipient)}\0{nonce}".encode()
    digest = hashlib.sha256(key).hexdigest()[:24]
    return f"<digest.{date.isoformat()}.{digest}@{domain_of(from_addr)}>"


def make_list_id(title: str, from_addr: str) -> str:
    """An RFC 2919 List-Id: ``Title <slug.domain>``."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "digest"
    label = re.sub(r"[\r\n\"<>]+", " ", title).strip()
    return f"{label} <{slug}.{domain_of(from_addr)}>"


def compose(
    rendered_html: str,
    rendered_text: str,
    *,
    email: EmailConfig,
    recipient: str,
    subject: str,
    message_id: str,
    date: dt.datetime,
    list_id: str,
) -> EmailMessage:
    """A multipart/alternative message: text part first, HTML last, UTF-8, SMTP line endings."""
    msg = EmailMessage(policy=POLICY)
    msg["From"] = email.from_
    msg["To"] = recipient
    msg["Subject"] = subject
    msg["Date"] = email_date(date)
    msg["Message-ID"] = message_id
    msg["List-Id"] = list_id
    if email.unsubscribe:
        msg["List-Unsubscribe"] = f"<{email.unsubscribe}>"
        if email.unsubscribe.startswith("https://"):
            # RFC 8058 one-click: mailbox providers POST to the URL instead of opening it.
            msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["MIME-Version"] = "1.0"
    # Quoted-printable keeps the message 7-bit clean: no 8BITMIME needed on any relay, and
    # no line of the HTML (inlined CSS makes long ones) can pass SMTP's 998-octet limit.
    msg.set_content(rendered_text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(rendered_html, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg


def email_date(moment: dt.datetime) -> str:
    """An RFC 5322 Date header for an aware datetime."""
    if moment.tzinfo is None:
        raise ValueError("the Date header needs an aware datetime")
    return email.utils.format_datetime(moment)


# --------------------------------------------------------------------------- transports


def _code_error(code: int, text: str, what: str) -> MailError:
    """4xx -> temporary, anything else -> permanent (5xx, or nonsense codes)."""
    message = f"{what}: {code} {text}".strip()
    if 400 <= code < 500:
        return TemporaryMailError(message)
    return PermanentMailError(message)


def _text(resp: bytes | str) -> str:
    return resp.decode("utf-8", "replace") if isinstance(resp, bytes) else resp


class SmtpMailer:
    """SMTP with ssl / starttls / none, certificate verification on, explicit timeouts.

    One connection is kept open across ``send`` calls and reopened after a failure. The
    password comes from ``env[smtp.password_env]`` and only when ``smtp.username`` is set;
    it is read here, up front, so a missing variable fails before any outbox row is claimed.
    """

    def __init__(
        self,
        smtp: SmtpConfig,
        env: Mapping[str, str] | None = None,
        *,
        ssl_context: ssl.SSLContext | None = None,
        from_addr: str = "",
        local_hostname: str | None = None,
    ) -> None:
        self.smtp = smtp
        self.from_addr = address_of(from_addr)
        self._context = ssl_context
        self._local_hostname = local_hostname
        self._password: str | None = None
        if smtp.username is not None:
            environ = os.environ if env is None else env
            password = environ.get(smtp.password_env)
            if password is None:
                # A configuration mistake (exit 2), found before anything is built or claimed.
                raise ConfigError(
                    f"email.smtp.password_env: the environment variable {smtp.password_env} "
                    f"is not set; export it with the SMTP password for {smtp.username}"
                )
            self._password = password
        self._conn: smtplib.SMTP | None = None

    def _ssl_context(self) -> ssl.SSLContext:
        if self._context is None:
            self._context = ssl.create_default_context()
        return self._context

    def _where(self) -> str:
        return f"{self.smtp.host}:{self.smtp.port}"

    def _connect(self) -> smtplib.SMTP:
        smtp = self.smtp
        try:
            conn: smtplib.SMTP
            if smtp.security == "ssl":
                conn = smtplib.SMTP_SSL(
                    timeout=smtp.timeout_s,
                    context=self._ssl_context(),
                    local_hostname=self._local_hostname,
                )
            else:
                conn = smtplib.SMTP(timeout=smtp.timeout_s, local_hostname=self._local_hostname)
            try:
                self._greet(conn)
                conn.ehlo()
                if smtp.security == "starttls":
                    if not conn.has_extn("starttls"):
                        raise MailConfigError(
                            f"{self._where()} does not offer STARTTLS; set "
                            f"email.smtp.security to ssl (port 465) or none (trusted relay)"
                        )
                    try:
                        conn.starttls(context=self._ssl_context())
                    except ssl.SSLError as exc:
                        if not _tls_mismatch(exc):
                            raise
                        raise MailConfigError(
                            f"{self._where()}: the TLS handshake after STARTTLS failed "
                            f"({exc.reason or exc}); check email.smtp.security and "
                            "email.smtp.port against the provider's settings"
                        ) from None
                    conn.ehlo()
                if smtp.username is not None:
                    self._login(conn)
            except BaseException:
                _quietly_close(conn)
                raise
        except ssl.SSLCertVerificationError as exc:
            raise MailError(
                f"{self._where()}: the server's certificate could not be verified "
                f"({exc.verify_message}); check email.smtp.host"
            ) from None
        except smtplib.SMTPResponseException as exc:
            raise _code_error(exc.smtp_code, _text(exc.smtp_error), self._where()) from None
        except (smtplib.SMTPException, OSError) as exc:
            # Refused connections, timeouts, resets, TLS handshakes cut short: try later.
            raise TemporaryMailError(f"{self._where()}: {_describe_oserror(exc)}") from None
        return conn

    def _greet(self, conn: smtplib.SMTP) -> None:
        """Connect and read the greeting, telling a TLS mismatch from a network failure.

        ``security: ssl`` against a server that starts in plain text fails the handshake at
        once; starttls or none against one that starts with TLS (port 465) waits for a
        greeting that never comes. Both are configuration mistakes that no retry fixes, so
        they are MailConfigError, not temporary failures queued for ever.
        """
        smtp = self.smtp
        # The name TLS verifies the certificate against; smtplib sets it only when the host
        # is given to the constructor, which would connect before we can tell failures apart.
        conn._host = smtp.host  # type: ignore[attr-defined]
        try:
            code, message = conn.connect(smtp.host, smtp.port)
        except ssl.SSLError as exc:
            if smtp.security == "ssl" and _tls_mismatch(exc):
                raise MailConfigError(
                    f"{self._where()} does not start with TLS ({exc.reason or exc}); set "
                    "email.smtp.security: starttls (usually port 587), or set email.smtp.port "
                    "to the server's TLS port (usually 465)"
                ) from None
            raise
        except (smtplib.SMTPServerDisconnected, TimeoutError):
            if smtp.security != "ssl" and self._speaks_tls():
                raise MailConfigError(
                    f"{self._where()} starts with TLS, so it never greeted a plain "
                    "connection; set email.smtp.security: ssl (or use the server's STARTTLS "
                    "port, usually 587)"
                ) from None
            raise
        if code != 220:
            raise smtplib.SMTPConnectError(code, message)

    def _speaks_tls(self) -> bool:
        """Whether the server answers a TLS handshake on connect (only asked after a plain
        connection got no greeting). Nothing is verified or sent: this only tells a TLS
        port from a plain one that is slow."""
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        try:
            with (
                socket.create_connection(
                    (self.smtp.host, self.smtp.port), timeout=min(self.smtp.timeout_s, 10.0)
                ) as raw,
                context.wrap_socket(raw, server_hostname=self.smtp.host),
            ):
                return True
        except OSError:  # ssl.SSLError included
            return False

    def _login(self, conn: smtplib.SMTP) -> None:
        assert self.smtp.username is not None and self._password is not None
        if not conn.has_extn("auth"):
            raise MailConfigError(
                f"{self._where()} offers no AUTH; set email.smtp.security to starttls or ssl, "
                f"or remove email.smtp.username"
            )
        try:
            conn.login(self.smtp.username, self._password)
        except smtplib.SMTPAuthenticationError as exc:
            if 400 <= exc.smtp_code < 500:
                raise TemporaryMailError(
                    f"{self._where()}: authentication deferred: {exc.smtp_code}"
                ) from None
            # Never echo the password; the server's text may be long, keep one line.
            raise MailError(
                f"{self._where()}: authentication failed for {self.smtp.username} "
                f"({exc.smtp_code}); check the password in ${self.smtp.password_env}"
            ) from None

    def send(self, msg: EmailMessage, recipient: str) -> str:
        """Send ``msg`` to ``recipient`` in one SMTP transaction; return the DATA reply."""
        if self._conn is None:
            self._conn = self._connect()
        conn = self._conn
        sender = self.from_addr or address_of(str(msg["From"]))
        rcpt = address_of(recipient) or recipient
        try:
            code, resp = conn.mail(sender)
            if code != 250:
                self._reset()
                raise _code_error(code, _text(resp), f"sender {sender} refused")
            code, resp = conn.rcpt(rcpt)
            if code not in (250, 251):
                # send_message would hand refused recipients back instead of raising; one
                # recipient per transaction makes the refusal this recipient's own failure.
                self._reset()
                raise _code_error(code, _text(resp), f"{recipient} refused")
            code, resp = conn.data(msg.as_bytes(policy=POLICY))
            if code != 250:
                self._reset()
                raise _code_error(code, _text(resp), f"{recipient}: message refused")
        except smtplib.SMTPResponseException as exc:
            self._drop()
            raise _code_error(exc.smtp_code, _text(exc.smtp_error), recipient) from None
        except (smtplib.SMTPException, OSError) as exc:
            # Disconnected mid-transaction: the server did not accept the message.
            self._drop()
            raise TemporaryMailError(f"{recipient}: {_describe_oserror(exc)}") from None
        return f"{code} {_text(resp)}"

    def _reset(self) -> None:
        if self._conn is None:
            return
        try:
            code, _ = self._conn.rset()
        except (smtplib.SMTPException, OSError):
            code = 0
        if code != 250:
            # After a 421 or a broken RSET the connection is useless; reconnect next time.
            self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            _quietly_close(self._conn)
            self._conn = None

    def close(self) -> None:
        """QUIT and close the connection if one is open."""
        if self._conn is None:
            return
        with contextlib.suppress(smtplib.SMTPException, OSError):
            self._conn.quit()
        self._drop()


def _tls_mismatch(exc: ssl.SSLError) -> bool:
    """A handshake that failed because the other side does not speak (this) TLS, as opposed
    to a connection cut short (EOF, reset), which a retry may get past."""
    return not isinstance(
        exc, ssl.SSLEOFError | ssl.SSLZeroReturnError | ssl.SSLCertVerificationError
    )


def _quietly_close(conn: smtplib.SMTP) -> None:
    with contextlib.suppress(OSError):
        conn.close()


def _describe_oserror(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out; the server did not answer in time"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused; is the server running and the port right?"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return f"the server closed the connection ({exc or 'unexpectedly'})"
    if isinstance(exc, socket.gaierror):
        return f"host name could not be resolved ({exc.strerror})"
    return f"{type(exc).__name__}: {exc}"


class SendmailMailer:
    """Pipe the message to a sendmail-compatible binary: ``sendmail -i -- recipient``.

    Exit status 0 is accepted, 75 (EX_TEMPFAIL) temporary, anything else permanent.
    """

    def __init__(self, path: Path | str, *, timeout_s: float = 120.0) -> None:
        self.path = str(path)
        self.timeout_s = timeout_s

    def send(self, msg: EmailMessage, recipient: str) -> str:
        """Run sendmail for one recipient; return a short reply line."""
        data = msg.as_bytes(policy=POLICY.clone(linesep="\n"))
        try:
            proc = subprocess.run(
                [self.path, "-i", "--", address_of(recipient) or recipient],
                input=data,
                capture_output=True,
                timeout=self.timeout_s,
                check=False,
            )
        except FileNotFoundError:
            raise MailError(
                f"email.sendmail: {self.path} does not exist; install an MTA or fix the path"
            ) from None
        except PermissionError:
            raise MailError(f"email.sendmail: {self.path} is not executable") from None
        except subprocess.TimeoutExpired:
            raise TemporaryMailError(
                f"{recipient}: {self.path} did not finish in {self.timeout_s:.0f} s"
            ) from None
        detail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        last = detail[-1] if detail else ""
        if proc.returncode == 0:
            return f"sendmail: accepted{': ' + last if last else ''}"
        message = f"{recipient}: {self.path} exited with {proc.returncode}" + (
            f": {last}" if last else ""
        )
        if proc.returncode == EX_TEMPFAIL:
            raise TemporaryMailError(message)
        raise PermanentMailError(message)

    def close(self) -> None:
        """Nothing to close: every message is its own process."""


def make_mailer(
    email_config: EmailConfig,
    env: Mapping[str, str] | None = None,
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> Mailer:
    """The transport the config names: ``sendmail:`` or ``smtp:``."""
    if email_config.sendmail is not None:
        return SendmailMailer(email_config.sendmail)
    assert email_config.smtp is not None  # the config guarantees exactly one transport
    return SmtpMailer(email_config.smtp, env, ssl_context=ssl_context, from_addr=email_config.from_)
