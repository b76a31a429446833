"""Helpers shared by every click command: config loading, logging, error mapping.

Commands live in cli/__init__.py and in the cli/<area>.py modules; all of them go through
:func:`run` so a DigestError becomes one line on stderr and the contract's exit code, and any
other exception is left to propagate (with a traceback) rather than swallowed. :class:`Group`
gives usage errors and Ctrl-C the same one-line treatment.

This module is imported before any command runs, so it imports nothing heavy (the config
module pulls in pydantic): a Ctrl-C in the first moments must meet our handler, not an import.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import re
import signal
import sqlite3
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from digest.errors import ConfigError, DigestError

if TYPE_CHECKING:
    from digest.config import Config

T = TypeVar("T")

log = logging.getLogger("digest")

# The exit status of a process stopped by SIGINT, as shells report it (128 + 2).
EXIT_INTERRUPTED = 130
# Every step is safe to repeat (atomic writes, one transaction per change, exactly-once mail).
INTERRUPTED = "interrupted (Ctrl-C); run the command again to finish"


@dataclass
class CliState:
    """What the group's options decided, shared with subcommands through ``ctx.obj``."""

    config_arg: str | None = None
    verbose: int = 0
    quiet: bool = False

    @property
    def config_file(self) -> Path:
        from digest.config import config_path

        return config_path(self.config_arg)

    def load(self) -> Config:
        """The validated config; raises ConfigError (exit 2) when missing or invalid."""
        from digest.config import load_config

        return load_config(self.config_arg)

    def load_optional(self) -> Config:
        """The config when one exists, else the defaults (summarize, parse, extract)."""
        from digest.config import default_config, load_config

        if self.config_file.exists():
            return load_config(self.config_arg)
        return default_config()


pass_state = click.make_pass_decorator(CliState, ensure=True)


# --- what reaches the terminal ----------------------------------------------------------

# Controls a terminal acts on (ESC starts colour, title and clipboard sequences; CR and BS
# overwrite what was printed; C1 has a one-byte CSI), line breaks that would forge a second
# log line, bidi controls that reverse the rest of it, and lone surrogates that cannot be
# encoded at all. Feed titles and error texts come from strangers.
_UNSAFE = re.compile(
    "[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
    "\ud800-\udfff]"
)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """``text`` as one printable line: control, bidi and unencodable characters written as
    ``\\x1b`` / ``\\u202e`` escapes (tabs stay)."""
    return _UNSAFE.sub(_escape, text)


class SafeFormatter(logging.Formatter):
    """Every log line with its control characters escaped (see :func:`escape_controls`); a
    traceback (``-v``) keeps its line breaks, each of its lines escaped alike."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return escape_controls(super().formatMessage(record))

    def formatException(self, ei: Any) -> str:
        return _escape_lines(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return _escape_lines(super().formatStack(stack_info))


def _escape_lines(text: str) -> str:
    return "\n".join(escape_controls(line) for line in text.split("\n"))


def say(line: str) -> None:
    """One line on stderr from the CLI itself, escaped like a log line (it may name a feed)."""
    click.echo(escape_controls(line), err=True)


# Libraries whose own log lines (and Python warnings, such as sumy's) are for debugging
# digest, not for its users: silent by default and with -q, warnings with -v, all with -vv.
_LIBRARY_LOGGERS = (
    "trafilatura",
    "htmldate",
    "courlan",
    "justext",
    "charset_normalizer",
    "py.warnings",
)
# HTTP request lines only with -vv; their warnings are rare and worth seeing.
_HTTP_LOGGERS = ("httpx", "httpcore")
_SILENT = logging.CRITICAL + 1


def setup_logging(verbose: int, quiet: bool) -> None:
    """Logs go to stderr: warnings and errors by default and with -q (silence on success
    under cron; a terminal user sees a progress bar instead), -v adds INFO, -vv DEBUG.

    Each line is escaped (:class:`SafeFormatter`), and third-party libraries stay silent
    unless asked for with -v (their warnings) or -vv (everything).
    """
    level = logging.WARNING
    if verbose and not quiet:
        level = logging.INFO if verbose == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(SafeFormatter("%(levelname)s %(name)s: %(message)s"))
    # On the handler too: a library that sets its own logger to INFO (werkzeug does) would
    # otherwise pass the root logger's level by.
    handler.setLevel(level)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # warnings.warn() from libraries becomes a log record of "py.warnings", filtered below.
    logging.captureWarnings(True)
    deep = verbose >= 2 and not quiet
    for name in _LIBRARY_LOGGERS:
        if deep:
            library_level = logging.DEBUG
        elif verbose and not quiet:
            library_level = logging.WARNING
        else:
            library_level = _SILENT
        logging.getLogger(name).setLevel(library_level)
    for name in _HTTP_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if deep else logging.WARNING)


def parse_date(value: str | None) -> dt.date | None:
    """The ``--date`` option: YYYY-MM-DD, or None; a bad value is a usage error (exit 2)."""
    if value is None:
        return None
    text = value.strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise click.BadParameter(
            f"expected a date as YYYY-MM-DD, found {value!r}", param_hint="--date"
        )
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{text} is not a day of the calendar (check the month and the day)",
            param_hint="--date",
        ) from None


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``"1 entry"``, ``"3 entries"``: the count and the noun that goes with it."""
    return f"{count} {singular if count == 1 else plural_form or singular + 's'}"


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one line (or one per mistake) to stderr and exit with ``code``."""
    say(message)
    sys.exit(code)


def run(state: CliState, func: Callable[[], T]) -> T:
    """Call ``func``; map DigestError to its message and exit code (traceback only with -v)."""
    try:
        return func()
    except ConfigError as exc:
        if state.verbose:
            log.exception("configuration error")
        for message in exc.messages:
            say(f"error: {message}")
        sys.exit(exc.exit_code)
    except DigestError as exc:
        if state.verbose:
            log.exception("failed")
        fail(f"error: {exc}", exc.exit_code)
    except sqlite3.DatabaseError as exc:
        # Damage found after the state opened cleanly (the check at open is a quick one).
        if state.verbose:
            log.exception("state database")
        fail(
            f"error: the state database is damaged ({exc}); "
            "`digest state restore` puts back the newest backup"
        )


# --- the group --------------------------------------------------------------------------


class Group(click.Group):
    """The ``digest`` group: usage errors in one line, Ctrl-C as one line and exit 130.

    click prints a usage error as four lines (usage, hint, blank, error) and turns Ctrl-C
    into "Aborted!" with exit 1; cron mail and scripts want one line that says what to do,
    and shells expect 130 from an interrupted command.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            _interrupted()
        except Exception as exc:
            # Python wraps a Ctrl-C that lands in some places (a class being created while a
            # module is imported) in another error; it is still a Ctrl-C.
            if _caused_by_interrupt(exc):
                _interrupted()
            raise

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            result = super().main(args, prog_name, complete_var, False, **extra)
        except click.exceptions.Abort:
            # A Ctrl-C that arrived while click itself was busy (parsing the arguments).
            _interrupted()
        except KeyboardInterrupt:
            _interrupted()
        except click.UsageError as exc:
            if isinstance(exc, _NO_ARGS_IS_HELP):
                # `digest feeds` alone: the help is the answer (click >= 8.2 raises for it).
                exc.show()
                sys.exit(exc.exit_code)
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            fail(f"error: {exc.format_message()}{hint}", exc.exit_code)
        except click.ClickException as exc:
            fail(f"error: {exc.format_message()}", exc.exit_code)
        # Non-standalone click returns the code of an explicit exit (--help, --version) or
        # the command's own return value, which for our commands means nothing.
        sys.exit(result if isinstance(result, int) and not isinstance(result, bool) else 0)


_NO_ARGS_IS_HELP: Any = getattr(click.exceptions, "NoArgsIsHelpError", ())


def _caused_by_interrupt(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            return True
        # pydantic-core, building a model's schema while digest.config is imported, keeps
        # only the text of the error it caught: "... KeyboardInterrupt: ".
        if type(current).__name__ == "SchemaError" and "KeyboardInterrupt" in str(current):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _interrupted() -> NoReturn:
    """One line, exit 130. The exit is immediate: the interpreter's own wind-down after a
    Ctrl-C (joining worker threads, a KeyboardInterrupt it remembers) could otherwise end
    the process as killed by SIGINT or with a second message. Every file and transaction
    was already closed or rolled back by the ``finally`` blocks the interrupt went through."""
    with contextlib.suppress(ValueError):  # not in the main thread
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    say(INTERRUPTED)
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(EXIT_INTERRUPTED)
