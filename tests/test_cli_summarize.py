"""`digest summarize`: the digest's own road for text and HTML, and one line for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import main

STORY = (
    "A powerful storm slammed into the southern coast on Tuesday, forcing thousands of "
    "residents to flee their homes and cutting power to more than 200,000 households.\n\n"
    "The storm, packing winds of up to 180 kilometres per hour, made landfall near the port "
    "city shortly after dawn, the national weather agency said.\n\n"
    "Emergency crews worked through the night to clear roads blocked by fallen trees, and "
    "the army was deployed to help with evacuations along the coast.\n\n"
    "Officials said at least 12 people had been injured but no deaths had been reported."
)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def _summarize(runner: CliRunner, tmp_path: Path, *args: str, text: str | None = None) -> object:
    # A config file that does not exist: the defaults, whatever lies in the working folder.
    return runner.invoke(main, ["-c", str(tmp_path / "none.yaml"), "summarize", *args], input=text)


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("missing.txt", None, "no such file"),
        ("folder", "dir", "is a folder"),
        ("image.png", b"\x89PNG\r\n\x1a\n" + bytes(64), "PNG image"),
        ("blob.bin", bytes(range(256)) * 4, "binary data"),
        ("doc.pdf", b"%PDF-1.7\n" + bytes(32), "PDF"),
    ],
)
def test_unreadable_input_is_one_line_and_exit_1(
    runner: CliRunner, tmp_path: Path, name: str, content: bytes | str | None, says: str
) -> None:
    target = tmp_path / name
    if content == "dir":
        target.mkdir()
    elif isinstance(content, bytes):
        target.write_bytes(content)
    for extra in ([], ["--jsonl"]):
        result = _summarize(runner, tmp_path, str(target), *extra)
        assert result.exit_code == 1, result.output  # type: ignore[attr-defined]
        lines = result.stderr.strip().splitlines()  # type: ignore[attr-defined]
        assert len(lines) == 1 and says in lines[0] and "Traceback" not in lines[0]
        assert result.stdout == ""  # type: ignore[attr-defined]


@pytest.mark.parametrize("code", ["xx", "zz", "English"])
def test_an_unknown_language_code_is_a_usage_error(
    runner: CliRunner, tmp_path: Path, code: str
) -> None:
    result = _summarize(runner, tmp_path, "--lang", code, text=STORY)
    assert result.exit_code == 2  # type: ignore[attr-defined]
    assert "ISO 639-1" in result.output  # type: ignore[attr-defined]
    assert _summarize(runner, tmp_path, "--lang", "en", text=STORY).exit_code == 0  # type: ignore[attr-defined]


def test_sentences_means_exactly_n_and_the_default_is_the_word_budget(
    runner: CliRunner, tmp_path: Path
) -> None:
    exact = _summarize(runner, tmp_path, "-", "--sentences", "3", text=STORY)
    assert len(exact.stdout.splitlines()) == 3  # type: ignore[attr-defined]
    budget = _summarize(runner, tmp_path, "-", text=STORY)
    lines = budget.stdout.splitlines()  # type: ignore[attr-defined]
    assert 1 <= len(lines) < 3
    assert sum(len(line.split()) for line in lines) <= 60


def _page(repo: Path, tmp_path: Path) -> Path:
    """The WordPress fixture page with a headline and the story as its body."""
    template = (repo / "tests" / "fixtures" / "wordpress_article.html").read_text("utf-8")
    body = "".join(f"<p>{p}</p>" for p in STORY.split("\n\n"))
    page = tmp_path / "page.html"
    page.write_text(
        template.replace("%%TITLE%%", "Storm hits the coast").replace("%%BODY%%", body),
        encoding="utf-8",
    )
    return page


def test_a_whole_page_goes_through_extraction(
    runner: CliRunner, tmp_path: Path, repo: Path
) -> None:
    page = _page(repo, tmp_path)
    direct = _summarize(runner, tmp_path, str(page), "-n", "2")
    extracted = runner.invoke(main, ["-c", str(tmp_path / "none.yaml"), "extract", str(page)])
    piped = _summarize(runner, tmp_path, "-", "-n", "2", text=extracted.stdout)
    assert direct.exit_code == 0 and direct.stdout  # type: ignore[attr-defined]
    assert direct.stdout == piped.stdout  # type: ignore[attr-defined]
    assert direct.stdout.startswith("A powerful storm slammed")  # type: ignore[attr-defined]
    assert "RELATED" not in direct.stdout and "Source link" not in direct.stdout  # type: ignore[attr-defined]


def test_jsonl_feed_html_gives_no_markup_and_drops_what_recurs(
    runner: CliRunner, tmp_path: Path
) -> None:
    records = [
        {
            "id": n,
            "title": f"Match report {n}",
            "feed": "club",
            "text": f"<img src='/p{n}.jpg' alt=''/><p>The club won match number {n} by two goals "
            "after a strong second half.</p><p>View full coverage on our club website</p>",
        }
        for n in range(4)
    ]
    records.append({"id": "cut", "text": "<p>Shares were sold at an ...</p>"})
    result = _summarize(runner, tmp_path, "--jsonl", text="\n".join(json.dumps(r) for r in records))
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    out = [json.loads(line) for line in result.stdout.splitlines()]  # type: ignore[attr-defined]
    assert [o["id"] for o in out] == [0, 1, 2, 3, "cut"]
    for o in out[:4]:
        assert o["summary"] and not any("<" in s or "coverage" in s for s in o["summary"])
        assert "excerpt" not in o
    assert out[4]["excerpt"] is True
