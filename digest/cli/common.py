"""Helpers shared by every click command: config loading, logging, error mapping.

Commands live in cli.py and in cli_<area>.py modules; all of them go through :func:`run`
so a DigestError becomes one line on stderr and the contract's exit code, and any other
exception is left to propagate (with a traceback) rather than swallowed.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import sqlite3
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, TypeVar

import click

from digest.config import Config, config_path, default_config, load_config
from digest.errors import ConfigError, DigestError

T = TypeVar("T")

log = logging.getLogger("digest")


@dataclass
class CliState:
    """What the group's options decided, shared with subcommands through ``ctx.obj``."""

    config_arg: str | None = None
    verbose: int = 0
    quiet: bool = False

    @property
    def config_file(self) -> Path:
        return config_path(self.config_arg)

    def load(self) -> Config:
        """The validated config; raises ConfigError (exit 2) when missing or invalid."""
        return load_config(self.config_arg)

    def load_optional(self) -> Config:
        """The config when one exists, else the defaults (summarize, parse, extract)."""
        if self.config_file.exists():
            return load_config(self.config_arg)
        return default_config()


pass_state = click.make_pass_decorator(CliState, ensure=True)


def setup_logging(verbose: int, quiet: bool) -> None:
    """Logs go to stderr: warnings and errors by default and with -q (silence on success
    under cron; a terminal user sees a progress bar instead), -v adds INFO, -vv DEBUG."""
    level = logging.WARNING
    if verbose and not quiet:
        level = logging.INFO if verbose == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Third-party chatter (httpx request lines, trafilatura internals) only with -vv.
    for name in ("httpx", "httpcore", "trafilatura", "htmldate", "courlan", "charset_normalizer"):
        logging.getLogger(name).setLevel(logging.DEBUG if verbose >= 2 else logging.WARNING)


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


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one line (or one per mistake) to stderr and exit with ``code``."""
    click.echo(message, err=True)
    sys.exit(code)


def run(state: CliState, func: Callable[[], T]) -> T:
    """Call ``func``; map DigestError to its message and exit code (traceback only with -v)."""
    try:
        return func()
    except ConfigError as exc:
        if state.verbose:
            log.exception("configuration error")
        for message in exc.messages:
            click.echo(f"error: {message}", err=True)
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
