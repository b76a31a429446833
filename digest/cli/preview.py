"""`digest preview`: serve the next digest locally, rebuilt when its inputs change."""

from __future__ import annotations

import click

from digest.cli.common import CliState, pass_state, run
from digest.preview import DEFAULT_HOST, DEFAULT_PORT, serve


@click.command("preview")
@click.option(
    "--host",
    default=DEFAULT_HOST,
    show_default=True,
    help="Address to listen on; 0.0.0.0 lets other machines read the digest.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="Port to listen on; 0 picks any free port.",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the preview in a browser.")
@pass_state
def preview(state: CliState, host: str, port: int, open_browser: bool) -> None:
    """Serve the next digest (as build --dry-run makes it) until Ctrl-C.

    GET / is the HTML exactly as it would be mailed, /text the text part and /live the HTML
    reloaded after each rebuild. It is rebuilt when config.yaml, a template, a local feed
    file or the feeds_file changes; a failed build is shown in the page.

    Example: digest preview --open
    """

    def _serve() -> None:
        path = state.config_file
        if not path.exists():
            # Nothing to preview: fail the way every command does (exit 2, how to create one).
            state.load()
        serve(path, host=host, port=port, open_browser=open_browser)

    run(state, _serve)
