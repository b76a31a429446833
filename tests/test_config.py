"""Config validation: every mistake reported at once, with its key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.config import load_config, parse_config
from digest.errors import ConfigError
from tests.conftest import write_config


def test_repo_config_is_valid(repo: Path) -> None:
    config = load_config(repo / "config.yaml")
    assert config.timezone == "Asia/Jakarta"
    sources = config.feed_sources()
    assert len(sources) >= 4
    for source in sources:
        assert source.path is not None and source.path.is_absolute() and source.path.exists()


def test_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        {"feeds": [{"path": "feeds/a.xml"}], "state": "s/state.sqlite", "output": {"dir": "o"}},
    )
    config = load_config(path)
    assert config.feeds[0].path == (tmp_path / "feeds/a.xml").resolve()
    assert config.state == (tmp_path / "s/state.sqlite").resolve()
    assert config.output.dir == (tmp_path / "o").resolve()
    assert config.source_path == path.resolve()


def test_every_mistake_is_reported_with_its_key_path(tmp_path: Path) -> None:
    data = {
        "titel": "typo",
        "timezone": "Mars/Olympus",
        "feeds": [
            {"url": "https://ok.example/feed"},
            {"url": "ftp://example.org/feed.xml"},
            {"path": "a.xml", "url": "https://both.example/"},
            {"url": "https://x.example/", "full_text": "sometimes"},
        ],
        "summary": {"sentences": "three"},
        "schedule": {"time": "7am"},
    }
    with pytest.raises(ConfigError) as info:
        load_config(write_config(tmp_path, data))
    messages = info.value.messages
    joined = "\n".join(messages)
    assert any(m.startswith("titel: unknown key") for m in messages), joined
    assert any(m.startswith("timezone: unknown timezone 'Mars/Olympus'") for m in messages)
    assert any(m.startswith("feeds[1].url: expected an http:// or https:// URL") for m in messages)
    one_source = "feeds[2]: each feed needs exactly one of url: or path:"
    assert any(m.startswith(one_source) for m in messages)
    assert any(m.startswith("feeds[3].full_text:") and "sometimes" in m for m in messages)
    assert any(m.startswith("summary.sentences:") and "three" in m for m in messages)
    assert any(m.startswith("schedule.time: expected a local time as HH:MM") for m in messages)
    assert len(messages) == 7, joined


def test_missing_file_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="digest init"):
        load_config(tmp_path / "nope.yaml")


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("title: x\nfeeds: [\n  - url: a\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"invalid YAML at line \d+"):
        load_config(path)


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(path)


def test_email_needs_one_transport_and_valid_addresses(tmp_path: Path) -> None:
    data = {"email": {"from": "not an address", "to": ["ok@example.org", "broken"]}}
    with pytest.raises(ConfigError) as info:
        parse_config(data, tmp_path)
    joined = "\n".join(info.value.messages)
    assert "email.from: expected an email address" in joined
    assert "email.to[1]: expected an email address" in joined
    assert "email: set exactly one of smtp: or sendmail:" in joined


def test_password_env_must_be_a_variable_name(tmp_path: Path) -> None:
    data = {
        "email": {
            "from": "d@example.org",
            "to": "r@example.org",
            "smtp": {"host": "h", "password_env": "hunter2 is my password"},
        }
    }
    with pytest.raises(ConfigError, match=r"email\.smtp\.password_env: expected the NAME"):
        parse_config(data, tmp_path)


def test_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("# nothing yet\n", encoding="utf-8")
    config = load_config(path)
    assert config.feeds == [] and config.summary.sentences == 3
    assert config.limits.max_html_kb == 100 and config.fetch.max_bytes == 10_000_000


def test_unknown_summary_method_lists_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"summary": {"method": "magic"}}, tmp_path)
    [message] = info.value.messages
    assert message.startswith("summary.method: expected one of default, lead, lexrank")
    assert "'magic'" in message
