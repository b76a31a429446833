"""`digest feeds`: list, add, remove, import and export subscriptions.

The subscriptions that these commands edit live in the OPML file that config key
``feeds_file`` names; config.yaml itself is never rewritten, so its comments survive.
Feeds listed under ``feeds:`` in config.yaml are shown and exported, but edited by hand.
"""

from __future__ import annotations

import re
from pathlib import Path

import click

from digest.cli.common import CliState, pass_state, plural, run
from digest.config import Config
from digest.errors import ConfigError
from digest.models import FeedSource, utc_now

NO_FEEDS_FILE = (
    "config.yaml sets no feeds_file, so there is nowhere to keep subscriptions; "
    "add `feeds_file: feeds.opml` to config.yaml (digest creates the file)"
)


def _feeds_file(config: Config) -> Path:
    if config.feeds_file is None:
        raise ConfigError(NO_FEEDS_FILE)
    return config.feeds_file


def _config_sources(config: Config) -> list[FeedSource]:
    return [
        FeedSource(url=f.url, path=f.path, name=f.name, category=f.category) for f in config.feeds
    ]


@click.group()
def feeds() -> None:
    """List and edit subscriptions (kept in the OPML file named by feeds_file).

    \b
    Examples:
        digest feeds list
        digest feeds add https://example.org/feed.xml --category World
        digest feeds import subscriptions.opml
        digest feeds export > backup.opml
    """


@feeds.command("list")
@pass_state
def list_feeds(state: CliState) -> None:
    """Print every feed, one per line: name, URL or path, category (tab-separated).

    Feeds under feeds: in config.yaml come first, then those in feeds_file.

    \b
    Example:
        digest feeds list | cut -f2
    """
    config = run(state, state.load)
    for source in run(state, config.feed_sources):
        where = source.url or str(source.path)
        click.echo(f"{source.name or ''}\t{where}\t{source.category or ''}")


@feeds.command("add")
@click.argument("url")
@click.option("--name", help="Name shown in the digest (default: the feed's own title).")
@click.option("--category", help="Section of the digest the feed's stories go to.")
@click.option(
    "--check/--no-check",
    default=True,
    show_default=True,
    help="Fetch the URL first: refuse what is not a feed, follow a web page to its feed.",
)
@pass_state
def add(state: CliState, url: str, name: str | None, category: str | None, check: bool) -> None:
    """Subscribe to the feed at URL (appended to feeds_file, created when missing).

    Given a web page, the feed it announces is added instead.

    \b
    Example:
        digest feeds add https://example.org/ --name Example --category World
    """
    from digest.sources.opml import add_feed

    url = url.strip()
    # Usage mistakes (exit 2), found before the config is read or anything is fetched.
    if not re.match(r"^https?://[^\s/?#]+", url, re.IGNORECASE):
        raise click.BadParameter(
            f"expected an http:// or https:// feed URL, found {url!r} "
            "(local files go under feeds: with path: in config.yaml)",
            param_hint="URL",
        )
    for option, value in (("--name", name), ("--category", category)):
        if value is not None and not value.strip():
            raise click.BadParameter(
                "expected some text; leave the option out to use the default",
                param_hint=option,
            )
    config = run(state, state.load)
    path = run(state, lambda: _feeds_file(config))
    source = FeedSource(
        url=url,
        name=name.strip() if name else None,
        category=category.strip() if category else None,
    )
    if check:
        source = run(state, lambda: _checked(config, source))
    existing = run(state, lambda: config.feed_sources(missing_ok=True))
    run(state, lambda: add_feed(path, source, existing=existing))
    click.echo(f"added\t{source.name or ''}\t{source.url}\t{source.category or ''}")


def _checked(config: Config, source: FeedSource) -> FeedSource:
    """Fetch and parse ``source`` once; the feed's URL (after discovery) and title."""
    from dataclasses import replace

    from digest.errors import FeedError
    from digest.pipeline import make_http
    from digest.sources.intake import probe_feeds

    assert source.url is not None
    with make_http(config) as http:
        [checked] = probe_feeds(
            [source],
            http=http,
            allow_private=config.fetch.allow_private,
            now=utc_now(),
        )
    if checked.parsed is None:
        raise FeedError(f"{source.url}: {checked.error} (or add it anyway with --no-check)")
    result, parsed = checked.result, checked.parsed
    url = source.url
    if result.discovered_from and result.url:
        click.echo(f"{source.url} is a web page; subscribing to its feed {result.url}", err=True)
        url = result.url
    elif result.permanent_redirect:
        click.echo(f"{source.url} moved permanently to {result.permanent_redirect}", err=True)
        url = result.permanent_redirect
    title = source.name or (parsed.title if parsed.title != source.label else None)
    return replace(source, url=url, name=title)


@feeds.command("remove")
@click.argument("name")
@pass_state
def remove(state: CliState, name: str) -> None:
    """Unsubscribe from the feed in feeds_file whose name or URL is NAME.

    \b
    Example:
        digest feeds remove "Example News"
    """
    from digest.sources.opml import remove_feed

    config = run(state, state.load)
    path = run(state, lambda: _feeds_file(config))
    removed = run(state, lambda: remove_feed(path, name, config_feeds=_config_sources(config)))
    click.echo(f"removed\t{removed.name or ''}\t{removed.url}")


@feeds.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_state
def import_(state: CliState, file: Path) -> None:
    """Merge the feeds of FILE.opml (from another reader) into feeds_file.

    Feeds already subscribed are skipped; the counts are printed.

    \b
    Example:
        digest feeds import ~/Downloads/feedly.opml
    """
    from digest.sources.opml import import_feeds

    config = run(state, state.load)
    path = run(state, lambda: _feeds_file(config))
    existing = run(state, lambda: config.feed_sources(missing_ok=True))
    report = run(state, lambda: import_feeds(path, file, existing=existing))
    extra = f", {report.not_http} not http(s) left out" if report.not_http else ""
    click.echo(
        f"imported {plural(report.added, 'feed')} into {path}, "
        f"skipped {report.duplicates} already subscribed{extra}"
    )


@feeds.command("export")
@pass_state
def export(state: CliState) -> None:
    """Write every http(s) feed (config.yaml and feeds_file) as OPML to stdout.

    \b
    Example:
        digest feeds export > subscriptions.opml
    """
    from digest.sources.opml import opml_document

    config = run(state, state.load)
    sources = run(state, config.feed_sources)
    click.echo(opml_document(sources, title=f"{config.title} feeds"), nl=False)
