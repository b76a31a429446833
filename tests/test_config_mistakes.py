"""Config mistakes people make (issue 12): unquoted times, two addresses in one, a broken
feeds_file, and a starter config whose commented examples must work when uncommented."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest
import yaml

from digest.config import check_address, load_config, parse_config
from digest.errors import ConfigError
from tests.conftest import write_config


def _load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("19:45", "19:45"),
        ("7:05", "07:05"),
        ("23:59", "23:59"),
        ('"07:00"', "07:00"),
        ("07:30", "07:30"),
    ],
)
def test_an_unquoted_time_is_read_as_the_time_it_says(
    tmp_path: Path, written: str, read: str
) -> None:
    config = _load(tmp_path, f"schedule:\n  time: {written}\n")
    assert config.schedule.time == read  # type: ignore[attr-defined]


@pytest.mark.parametrize("written", ["7", "1440", "19:45:30", "24:00", "-5"])
def test_a_number_that_is_no_time_says_to_quote_it(tmp_path: Path, written: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, f"schedule:\n  time: {written}\n")
    [message] = caught.value.messages
    assert message.startswith("schedule.time: expected a local time as HH:MM")


@pytest.mark.parametrize(
    "value", ["a@b.org, c@d.org", "A <a@b.org>, c@d.org", "<a@b.org> <c@d.org>", "a@b.org;c@d.org"]
)
def test_two_addresses_in_one_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="one email address"):
        check_address(value)


@pytest.mark.parametrize(
    "value", ["reader@example.org", "Reader <reader@example.org>", '"Doe, Jane" <j@example.org>']
)
def test_one_address_is_accepted(value: str) -> None:
    assert check_address(value) == value


def test_two_addresses_in_one_list_item_name_the_key(tmp_path: Path) -> None:
    data = {
        "email": {
            "from": "d@example.org",
            "to": ["a@example.org, b@example.org"],
            "sendmail": "/usr/sbin/sendmail",
        }
    }
    with pytest.raises(ConfigError) as caught:
        parse_config(data, tmp_path)
    assert caught.value.messages[0].startswith("email.to[0]: expected one email address")


# --- feeds_file ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (None, "not found"),
        ("", "is not valid OPML (it is empty"),
        ("<opml version='2.0'><body><outline type='rss' xmlUrl='https://a.example/f'/>", "line"),
        ("title: not OPML at all\n", "is not valid OPML"),
        ("<?xml version='1.0'?><rss version='2.0'><channel/></rss>", "root element is <rss>"),
    ],
)
def test_a_broken_feeds_file_is_a_config_error(
    tmp_path: Path, content: str | None, needle: str
) -> None:
    if content is not None:
        (tmp_path / "feeds.opml").write_text(content, encoding="utf-8")
    config = load_config(write_config(tmp_path, {"feeds_file": "feeds.opml"}))
    with pytest.raises(ConfigError) as caught:
        config.feed_sources()
    [message] = caught.value.messages
    assert message.startswith("feeds_file: ") and needle in message


def test_a_missing_feeds_file_is_fine_for_the_commands_that_create_it(tmp_path: Path) -> None:
    config = load_config(
        write_config(tmp_path, {"feeds_file": "feeds.opml", "feeds": [{"path": "a.xml"}]})
    )
    assert len(config.feed_sources(missing_ok=True)) == 1


# --- the starter --------------------------------------------------------------------------

# An example line is a commented YAML key or list item ("# email:", "#   port: 587",
# "  # - url: ..."); prose comments start with a capital or are not "key:" lines.
EXAMPLE = re.compile(r"^(\s*)# (\s*(?:- |[a-z_]+:))", re.MULTILINE)


def _starter() -> str:
    return resources.files("digest").joinpath("starter_config.yaml").read_text("utf-8")


def test_the_starter_loads_as_written(tmp_path: Path) -> None:
    config = _load(tmp_path, _starter())
    assert config.feeds == [] and config.email is None  # type: ignore[attr-defined]


def test_the_starter_examples_work_when_uncommented(tmp_path: Path) -> None:
    uncommented = EXAMPLE.sub(r"\1\2", _starter())
    assert uncommented != _starter()
    # Only prose comments are left, and the result is the config the examples describe.
    config = _load(tmp_path, uncommented)
    feeds = config.feeds  # type: ignore[attr-defined]
    assert [f.url or f.path.name for f in feeds] == [
        "https://www.antaranews.com/rss/terkini.xml",
        "local.xml",
    ]
    assert feeds[0].name == "ANTARA" and feeds[0].category == "Indonesia"
    assert config.feeds_file.name == "feeds.opml"  # type: ignore[attr-defined]
    email = config.email  # type: ignore[attr-defined]
    assert email is not None and email.smtp.port == 587 and email.to == ["reader@example.org"]


def _runs(text: str) -> list[tuple[int, int]]:
    """(first, last + 1) line numbers of each run of consecutive example lines."""
    runs: list[tuple[int, int]] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        if EXAMPLE.match(lines[index]):
            end = index
            while end < len(lines) and EXAMPLE.match(lines[end]):
                end += 1
            runs.append((index, end))
            index = end
        else:
            index += 1
    return runs


def test_each_starter_example_works_on_its_own(tmp_path: Path) -> None:
    lines = _starter().splitlines()
    runs = _runs(_starter())
    assert len(runs) == 3  # the feeds, feeds_file and email examples
    for first, end in runs:
        edited = lines[:first] + [EXAMPLE.sub(r"\1\2", line) for line in lines[first:end]]
        edited += lines[end:]
        data = yaml.safe_load("\n".join(edited))
        key = next(k for k in ("email", "feeds_file", "feeds") if data.get(k))
        assert data[key], key
        _load(tmp_path, "\n".join(edited))
