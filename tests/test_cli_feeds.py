"""`digest feeds ...` through click's CliRunner, on temp configs and a loopback server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
import listparser
import pytest
from click.testing import CliRunner, Result
from pytest_httpserver import HTTPServer

from digest.cli.common import CliState
from digest.cli.feeds import feeds
from digest.sources.opml import read_opml

CONFIG = """\
# My digest. These comments must survive every `digest feeds` command.
title: Test Digest
feeds_file: subs/feeds.opml   # subscriptions live here
feeds:
  - url: https://config.example/feed.xml   # from config
    name: Config Feed
    category: World
  - path: local.xml
"""

RSS = b"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>
<title>Served Feed</title><item><title>x</title><link>http://e.example/1</link></item>
</channel></rss>"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def invoke(config: Path, *args: str) -> Result:
    return CliRunner().invoke(feeds, list(args), obj=CliState(config_arg=str(config)))


@pytest.fixture(scope="module")
def server() -> Iterator[HTTPServer]:
    srv = HTTPServer(host="127.0.0.1", port=0)
    srv.start()
    yield srv
    srv.clear()
    srv.stop()


def test_add_list_remove_round_trip_keeps_config_untouched(config: Path) -> None:
    result = invoke(config, "add", "https://new.example/rss", "--name", "New", "--no-check")
    assert result.exit_code == 0, result.output
    assert result.output == "added\tNew\thttps://new.example/rss\t\n"
    result = invoke(config, "add", "https://tech.example/atom", "--category", "Tech", "--no-check")
    assert result.exit_code == 0, result.output
    opml = config.parent / "subs" / "feeds.opml"
    assert [s.url for s in read_opml(opml)] == [
        "https://new.example/rss",
        "https://tech.example/atom",
    ]
    listed = invoke(config, "list")
    assert listed.exit_code == 0
    assert listed.output.splitlines() == [
        "Config Feed\thttps://config.example/feed.xml\tWorld",
        f"\t{config.parent / 'local.xml'}\t",
        "New\thttps://new.example/rss\t",
        "\thttps://tech.example/atom\tTech",
    ]
    removed = invoke(config, "remove", "new")
    assert removed.exit_code == 0 and removed.output.startswith("removed\tNew\t")
    assert [s.url for s in read_opml(opml)] == ["https://tech.example/atom"]
    assert config.read_text(encoding="utf-8") == CONFIG


def test_without_feeds_file_edits_exit_2_with_the_fix(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("feeds:\n  - url: https://a.example/f\n", encoding="utf-8")
    for args in (
        ["add", "https://b.example/f", "--no-check"],
        ["remove", "x"],
        ["import", str(tmp_path / "x.opml")],
    ):
        result = invoke(config, *args)
        assert result.exit_code == 2, args
        assert "add `feeds_file: feeds.opml` to config.yaml" in result.output
    listed = invoke(config, "list")
    assert listed.exit_code == 0 and listed.output == "\thttps://a.example/f\t\n"


def test_missing_config_exits_2(tmp_path: Path) -> None:
    result = invoke(tmp_path / "absent.yaml", "list")
    assert result.exit_code == 2 and "digest init" in result.output


def test_add_duplicate_and_bad_url_fail(config: Path) -> None:
    dup = invoke(config, "add", "http://www.config.example/feed.xml", "--no-check")
    assert dup.exit_code == 1 and "already subscribed" in dup.output
    bad = invoke(config, "add", "feed.xml", "--no-check")
    assert bad.exit_code == 2 and "http:// or https://" in bad.output  # a usage error
    assert not (config.parent / "subs" / "feeds.opml").exists()


def test_add_checks_the_feed_and_follows_a_page(config: Path, server: HTTPServer) -> None:
    server.clear()
    page = b"""<html><head><link rel="alternate" type="application/rss+xml" href="/rss">
    </head><body>blog</body></html>"""
    server.expect_request("/blog").respond_with_data(page, content_type="text/html")
    server.expect_request("/rss").respond_with_data(RSS, content_type="application/rss+xml")
    server.expect_request("/missing").respond_with_data("no", status=404)
    server.expect_request("/notfeed").respond_with_data(
        b"<html><body>nothing</body></html>", content_type="text/html"
    )
    result = invoke(config, "add", server.url_for("/blog"))
    assert result.exit_code == 0, result.output
    assert f"added\tServed Feed\t{server.url_for('/rss')}\t" in result.output
    (source,) = read_opml(config.parent / "subs" / "feeds.opml")
    assert source.url == server.url_for("/rss") and source.name == "Served Feed"
    missing = invoke(config, "add", server.url_for("/missing"))
    assert missing.exit_code == 1 and "HTTP 404 Not Found" in missing.output
    assert "--no-check" in missing.output
    notfeed = invoke(config, "add", server.url_for("/notfeed"))
    assert notfeed.exit_code == 1 and "web page, not a feed" in notfeed.output
    assert len(read_opml(config.parent / "subs" / "feeds.opml")) == 1


def test_remove_errors(config: Path) -> None:
    invoke(config, "add", "https://x.example/f", "--name", "X", "--no-check")
    in_config = invoke(config, "remove", "Config Feed")
    assert in_config.exit_code == 1 and "remove it there" in in_config.output
    unknown = invoke(config, "remove", "Nope")
    assert unknown.exit_code == 1 and "digest feeds list" in unknown.output


def test_import_and_export(config: Path, tmp_path: Path) -> None:
    other = tmp_path / "reader.opml"
    other.write_text(
        """<?xml version="1.0"?><opml version="2.0"><head><title>r</title></head><body>
        <outline text="News"><outline type="rss" text="A" xmlUrl="https://a.example/rss"/>
        <outline type="rss" text="Dup" xmlUrl="https://config.example/feed.xml"/></outline>
        <outline type="rss" text="B" xmlUrl="https://b.example/rss"/>
        </body></opml>""",
        encoding="utf-8",
    )
    result = invoke(config, "import", str(other))
    assert result.exit_code == 0, result.output
    assert "imported 2 feeds" in result.output and "skipped 1 already subscribed" in result.output
    again = invoke(config, "import", str(other))
    assert "imported 0 feeds" in again.output and "skipped 3" in again.output
    missing = invoke(config, "import", str(tmp_path / "nope.opml"))
    assert missing.exit_code == 1
    exported = invoke(config, "export")
    assert exported.exit_code == 0
    parsed = listparser.parse(exported.stdout_bytes)
    assert not parsed.bozo
    assert [(f.url, f.title) for f in parsed.feeds] == [
        ("https://config.example/feed.xml", "Config Feed"),
        ("https://a.example/rss", "A"),
        ("https://b.example/rss", "B"),
    ]
    assert "local.xml" not in exported.output
    assert sorted(p.name for p in (config.parent / "subs").iterdir()) == ["feeds.opml"]


def test_registered_in_main_cli(config: Path) -> None:
    from digest.cli import main

    if "feeds" not in main.commands:
        pytest.skip("the lead has not registered digest.cli.feeds.feeds in digest.cli yet")
    # A configured feeds_file that does not exist yet is a config error until the first add.
    result = CliRunner().invoke(main, ["-c", str(config), "feeds", "list"])
    assert result.exit_code == 2 and "feeds_file:" in result.stderr
    added = CliRunner().invoke(
        main, ["-c", str(config), "feeds", "add", "https://a.example/rss", "--no-check"]
    )
    assert added.exit_code == 0, added.output
    result = CliRunner().invoke(main, ["-c", str(config), "feeds", "list"])
    assert result.exit_code == 0 and "Config Feed" in result.output
    assert isinstance(main.commands["feeds"], click.Group)
