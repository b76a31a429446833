"""Every command through click's CliRunner, including the error paths and exit codes."""

from __future__ import annotations

import datetime as dt
import json
import re
import zoneinfo
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import main
from tests.conftest import write_config

# Dates relative to today: a real build may only create a digest near today (digests go
# forward), and these tests run the CLI on the real clock.
_TODAY = dt.datetime.now(zoneinfo.ZoneInfo("UTC")).date()
DAY = _TODAY.isoformat()

SEED_TITLE = (
    "Putin dari Rusia akan mengunjungi Korea Utara, di tengah meningkatnya kerja sama militer"
)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_every_command_has_help_with_an_example(runner: CliRunner) -> None:
    for name, command in main.commands.items():
        result = runner.invoke(main, [name, "--help"])
        assert result.exit_code == 0, name
        assert "Example" in result.output or name == "feeds", name
        if hasattr(command, "commands"):
            for sub in command.commands:
                sub_result = runner.invoke(main, [name, sub, "--help"])
                assert sub_result.exit_code == 0 and "Example" in sub_result.output, (name, sub)


def test_every_command_appears_in_the_readme(repo: Path) -> None:
    readme = (repo / "README.md").read_text(encoding="utf-8")
    for name, command in main.commands.items():
        assert re.search(rf"digest( -\S+ \S+)* {name}\b", readme), name
        for sub in getattr(command, "commands", {}):
            assert f"digest {name} {sub}" in readme, f"{name} {sub}"


def test_init_writes_a_valid_starter_and_refuses_to_overwrite(
    runner: CliRunner, tmp_path: Path
) -> None:
    result = runner.invoke(main, ["init", str(tmp_path)])
    assert result.exit_code == 0, result.output
    path = tmp_path / "config.yaml"
    assert result.stdout.strip() == str(path)
    check = runner.invoke(main, ["-c", str(path), "check"])
    assert check.exit_code == 0, check.output
    assert "no feeds configured" in check.stderr
    again = runner.invoke(main, ["init", str(tmp_path)])
    assert again.exit_code == 1 and "already exists" in again.stderr


def test_build_prints_the_html_path(runner: CliRunner, demo_config: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    result = runner.invoke(
        main, ["-c", str(demo_config), "build", "--date", DAY, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out / f"{DAY}.html")
    assert {p.name for p in out.iterdir()} >= {
        f"{DAY}.html",
        f"{DAY}.txt",
        "index.html",
        "feed.xml",
    }


def test_build_dry_run_records_nothing(runner: CliRunner, demo_config: Path) -> None:
    result = runner.invoke(main, ["-c", str(demo_config), "build", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert not (demo_config.parent / ".digest" / "state.sqlite").exists()


def test_missing_config_exits_2_and_says_how_to_create_one(
    runner: CliRunner, tmp_path: Path
) -> None:
    for command in (["build"], ["check"]):
        result = runner.invoke(main, ["-c", str(tmp_path / "none.yaml"), *command])
        assert result.exit_code == 2
        assert "digest init" in result.stderr
        assert result.stdout == ""


def test_bad_config_gives_one_line_per_mistake(runner: CliRunner, tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        {
            "timezone": "Nowhere/City",
            "feeds": [{"url": "https://a.example/"}, {"url": "file:///etc/passwd"}],
            "colour": "blue",
        },
    )
    for command in ("check", "build"):
        result = runner.invoke(main, ["-c", str(path), command])
        assert result.exit_code == 2, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 3, lines
        assert any(line.startswith("error: feeds[1].url:") for line in lines)
        assert any(line.startswith("error: timezone:") for line in lines)
        assert any(line.startswith("error: colour: unknown key") for line in lines)


def test_config_comes_from_the_environment(
    runner: CliRunner, demo_config: Path, tmp_path: Path
) -> None:
    result = runner.invoke(main, ["check"], env={"DIGEST_CONFIG": str(demo_config)})
    assert result.exit_code == 0, result.output
    assert result.stdout.count("ok\t") == 6


def test_check_reports_unreadable_feeds(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "junk.xml").write_bytes(b"\x00\x01 not a feed")
    path = write_config(tmp_path, {"feeds": [{"path": "junk.xml"}, {"path": "gone.xml"}]})
    result = runner.invoke(main, ["-c", str(path), "check"])
    assert result.exit_code == 1
    assert "feeds[0]:" in result.stderr and "feeds[1]:" in result.stderr


def test_summarize_plain_text(runner: CliRunner, repo: Path) -> None:
    text = (repo / "tests" / "fixtures" / "en-article.txt").read_text(encoding="utf-8")
    result = runner.invoke(main, ["summarize", "-", "--sentences", "2"], input=text)
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    assert all(line in " ".join(text.split()) for line in lines)


def test_summarize_jsonl_keeps_order_and_reports_bad_lines(runner: CliRunner) -> None:
    lines = [
        json.dumps(
            {
                "id": "a",
                "text": "Kucing itu tidur di atas meja. Anjing itu menggonggong "
                "keras sekali di halaman. Burung-burung bernyanyi di pagi hari yang cerah.",
                "lang": "id",
                "extra": 1,
            }
        ),
        "{not json",
        json.dumps({"id": 7, "text": "The cat sat on the mat. It was happy there."}),
        json.dumps({"id": "no-text"}),
        json.dumps({"id": "empty", "text": ""}),
    ]
    result = runner.invoke(
        main, ["summarize", "--jsonl", "--method", "lead", "-n", "1"], input="\n".join(lines)
    )
    assert result.exit_code == 1
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["id"] for o in out] == ["a", 7, "empty"]
    assert out[0] == {
        "id": "a",
        "lang": "id",
        "method": "lead",
        "summary": ["Kucing itu tidur di atas meja."],
    }
    assert out[1]["summary"] == ["The cat sat on the mat."]
    assert out[2]["summary"] == []
    assert "line 2" in result.stderr and "line 4" in result.stderr


def test_summarize_rejects_an_unknown_method(runner: CliRunner) -> None:
    result = runner.invoke(main, ["summarize", "--method", "magic"], input="Text.")
    assert result.exit_code == 2


def test_parse_json_lines(runner: CliRunner, repo: Path) -> None:
    feed = repo / "examples" / "feeds" / "berita-id.xml"
    result = runner.invoke(main, ["parse", str(feed), "--json"])
    assert result.exit_code == 0, result.output
    entries = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(entries) == 9
    assert set(entries[0]) == {
        "id",
        "title",
        "link",
        "published",
        "lang",
        "text_chars",
        "full_text",
    }
    assert entries[0]["title"] == SEED_TITLE
    assert entries[0]["published"] == "2024-06-13T08:00:00Z"
    assert entries[0]["lang"] == "id" and entries[0]["full_text"] is True
    assert entries[1]["link"].startswith("https://www.suara.com/")


def test_parse_unreadable_exits_1_with_one_line(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "x.xml").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(300))
    for target in (str(tmp_path / "x.xml"), str(tmp_path / "missing.xml")):
        result = runner.invoke(main, ["parse", target, "--json"])
        assert result.exit_code == 1
        assert result.stdout == ""
        assert len(result.stderr.strip().splitlines()) == 1


def test_extract_a_local_page(runner: CliRunner, tmp_path: Path) -> None:
    body = " ".join(
        f"Paragraf nomor {n} menjelaskan berita ini dengan kalimat yang cukup panjang."
        for n in range(8)
    )
    page = tmp_path / "page.html"
    page.write_text(
        "<html lang='id'><head><title>Judul Berita</title></head><body>"
        "<nav>Home Uncategorized Judul</nav><article><h1>Judul Berita</h1>"
        f"<p>{body}</p><p>{body}</p></article><footer>Source link</footer></body></html>",
        encoding="utf-8",
    )
    result = runner.invoke(main, ["extract", str(page), "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert set(record) == {"url", "title", "lang", "text"}
    assert "Paragraf nomor 3" in record["text"] and "Source link" not in record["text"]


def test_fetch_lists_each_feed(runner: CliRunner, demo_config: Path) -> None:
    result = runner.invoke(main, ["-c", str(demo_config), "fetch"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 6 and all(line.startswith("ok\t") for line in lines)
    again = runner.invoke(main, ["-c", str(demo_config), "fetch"])
    assert all("\t0 new of" in line for line in again.stdout.strip().splitlines())


def test_summarize_rejects_a_language_name(runner: CliRunner) -> None:
    result = runner.invoke(main, ["summarize", "--lang", "English"], input="Some text here.")
    assert result.exit_code == 2 and "ISO 639-1" in result.output


def test_summarize_jsonl_line_without_id_is_malformed(runner: CliRunner) -> None:
    result = runner.invoke(main, ["summarize", "--jsonl"], input='{"text": "A cat. A dog."}\n')
    assert result.exit_code == 1
    assert result.stdout == "" and 'line 1: skipped: missing "id"' in result.stderr


def test_check_reports_a_broken_feeds_file_as_a_config_error(
    runner: CliRunner, tmp_path: Path
) -> None:
    (tmp_path / "feeds.opml").mkdir()
    path = write_config(tmp_path, {"feeds_file": "feeds.opml"})
    result = runner.invoke(main, ["-c", str(path), "check"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: feeds_file:")


def test_config_rejects_missing_templates_dir_and_internal_keys(
    runner: CliRunner, tmp_path: Path
) -> None:
    path = write_config(tmp_path, {"templates_dir": "nope"})
    result = runner.invoke(main, ["-c", str(path), "check"])
    assert result.exit_code == 2 and "templates_dir: folder" in result.stderr
    path = write_config(tmp_path, {"source_path": "/etc"})
    result = runner.invoke(main, ["-c", str(path), "check"])
    assert result.exit_code == 2 and "source_path: unknown key" in result.stderr


def test_build_into_an_unwritable_place_is_one_line(
    runner: CliRunner, demo_config: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    result = runner.invoke(
        main, ["-c", str(demo_config), "build", "--dry-run", "--out", str(blocker / "sub")]
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and "Traceback" not in result.output
