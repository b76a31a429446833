"""``digest state``: the state database's backups, restoring one, starting afresh on purpose.

Register with ``main.add_command(state_group)`` (its command name is ``state``).
"""

from __future__ import annotations

from pathlib import Path

import click

from digest import backup
from digest.cli.common import CliState, pass_state, run
from digest.models import utc_now
from digest.store import start_afresh


@click.group("state")
def state_group() -> None:
    """The state database: its backups, restoring one, starting afresh.

    \b
    Example:
        digest state backups && digest state restore
    """


@state_group.command("backups")
@pass_state
def list_backups(state: CliState) -> None:
    """List the backups of the state database, newest first (taken daily and before
    each upgrade of its format).

    \b
    Example:
        digest state backups
    """

    def go() -> list[backup.Backup]:
        return backup.backups(state.load().state)

    found = run(state, go)
    if not found:
        click.echo("no backups yet (one is taken once a day while digest runs)", err=True)
    for item in found:
        click.echo(f"{item.taken_at.strftime('%Y-%m-%d %H:%M UTC')}\t{item.path}")


@state_group.command("restore")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@pass_state
def restore(state: CliState, file: Path | None) -> None:
    """Put back a backup of the state database (default: the newest).

    The state it replaces is kept beside it as <state>.replaced-<time>.

    \b
    Example:
        digest state restore
    """

    def go() -> Path:
        config = state.load()
        return backup.restore(config.state, file, utc_now())

    used = run(state, go)
    click.echo(f"restored {used}")


@state_group.command("new")
@pass_state
def new(state: CliState) -> None:
    """Start afresh with an empty state database, on purpose.

    Every article the feeds still list will count as new. The old state, if any, is kept
    beside it as <state>.replaced-<time>.

    \b
    Example:
        digest state new
    """

    def go() -> Path:
        config = state.load()
        start_afresh(config.state, utc_now())
        return config.state

    click.echo(str(run(state, go)))
