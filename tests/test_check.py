"""`digest check` reports what a build would report (issue 12): parse warnings, a web page
instead of a feed, the configured name, the sendmail binary and the state database, which it
opens read-only and never creates or migrates."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from pytest_httpserver import HTTPServer

from digest.checks import check_state
from digest.cli import main
from tests.conftest import write_config

# What these tests read on stderr is what the command wrote, not other tests' servers.
pytestmark = pytest.mark.usefixtures("quiet_test_servers")


GOOD = (
    b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Own Title'
    b"</title><item><title>One</title><link>https://example.org/1</link></item></channel></rss>"
)


@pytest.fixture(scope="module")
def server() -> Iterator[HTTPServer]:
    # The server runs in this process; its access log is not digest's stderr.
    werkzeug = logging.getLogger("werkzeug")
    level = werkzeug.level
    werkzeug.setLevel(logging.ERROR)
    srv = HTTPServer(host="127.0.0.1", port=0)
    srv.start()
    yield srv
    srv.clear()
    srv.stop()
    werkzeug.setLevel(level)


def _check(folder: Path, **data: Any) -> Result:
    data.setdefault("state", "state.sqlite")
    config = write_config(folder, data)
    return CliRunner().invoke(main, ["-c", str(config), "check"])


def test_check_shows_the_configured_name(tmp_path: Path) -> None:
    (tmp_path / "f.xml").write_bytes(GOOD)
    result = _check(tmp_path, feeds=[{"path": "f.xml", "name": "My Name"}])
    assert result.exit_code == 0, result.output
    assert result.stdout == "ok\t1 entry\tMy Name\n"
    assert result.stderr == ""
    assert not (tmp_path / "state.sqlite").exists()  # check never creates the database


@pytest.mark.parametrize(
    ("body", "warning"),
    [
        (GOOD.replace(b"<title>One", b"<title>One & two"), "not well-formed XML"),
        (
            GOOD.replace(b"Own Title", "Café".encode("latin-1")),
            "wrong character encoding declared",
        ),
    ],
)
def test_check_warns_like_a_build(tmp_path: Path, body: bytes, warning: str) -> None:
    (tmp_path / "f.xml").write_bytes(body)
    result = _check(tmp_path, feeds=[{"path": "f.xml", "name": "F"}])
    assert result.exit_code == 0, result.output
    assert result.stdout == "warning\t1 entry\tF\n"
    [line] = result.stderr.splitlines()
    assert line.startswith("warning: feeds[0]: ") and warning in line


def test_check_warns_about_a_web_page_instead_of_a_feed(tmp_path: Path, server: HTTPServer) -> None:
    server.clear()
    page = b'<html><head><link rel="alternate" type="application/rss+xml" href="/rss"></head>'
    server.expect_request("/blog").respond_with_data(page, content_type="text/html")
    server.expect_request("/rss").respond_with_data(GOOD, content_type="application/rss+xml")
    result = _check(tmp_path, feeds=[{"url": server.url_for("/blog")}])
    assert result.exit_code == 0, result.output
    assert result.stdout == "warning\t1 entry\tOwn Title\n"
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    [line] = lines
    assert "is a web page; reading its feed" in line and server.url_for("/rss") in line


def test_a_web_page_without_a_feed_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text("<!DOCTYPE html><html><body>hi</body></html>")
    result = _check(tmp_path, feeds=[{"path": "page.html", "name": "Page"}])
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("error: feeds[0]: ") and "web page, not a feed" in line


def test_check_looks_at_the_sendmail_binary(tmp_path: Path) -> None:
    (tmp_path / "f.xml").write_bytes(GOOD)
    (tmp_path / "not-executable").write_text("#!/bin/sh\n")
    for sendmail, words in [
        ("missing-sendmail", "does not exist"),
        ("not-executable", "is not an executable file"),
        (".", "is not an executable file"),
    ]:
        email = {"from": "d@example.org", "to": ["r@example.org"], "sendmail": sendmail}
        result = _check(tmp_path, feeds=[{"path": "f.xml"}], email=email)
        assert result.exit_code == 1, sendmail
        [line] = result.stderr.splitlines()
        assert line.startswith("error: email.sendmail: ") and words in line


def test_check_reads_the_state_database_without_changing_it(tmp_path: Path) -> None:
    (tmp_path / "f.xml").write_bytes(GOOD)
    # An old database (schema 1) must stay schema 1: check never migrates.
    with sqlite3.connect(tmp_path / "state.sqlite") as conn:
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        conn.execute("PRAGMA user_version = 1")
    before = (tmp_path / "state.sqlite").read_bytes()
    result = _check(tmp_path, feeds=[{"path": "f.xml"}])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "state.sqlite").read_bytes() == before


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"this is not a database, just text" * 100, "is not a usable digest database"),
        (None, "was written by a newer digest"),
    ],
)
def test_check_reports_an_unusable_state_database(
    tmp_path: Path, content: bytes | None, words: str
) -> None:
    path = tmp_path / "state.sqlite"
    if content is None:
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA user_version = 999")
    else:
        path.write_bytes(content)
    [problem] = check_state(path)
    assert problem.startswith("state: ") and words in problem
    (tmp_path / "f.xml").write_bytes(GOOD)
    result = _check(tmp_path, feeds=[{"path": "f.xml"}])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [f"error: {problem}"]


def test_check_state_of_a_folder_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    [problem] = check_state(tmp_path / "file" / "state.sqlite")
    assert "is a file, not a folder" in problem
