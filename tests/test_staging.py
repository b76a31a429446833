"""Memory flat in the number of feeds (issue 13): a gather keeps only each article's lead, its
whole text waits in the store's TEMP table, and what is summarised and recorded is whole.
A dry run reads a scratch copy of the state on disk, not in memory."""

from __future__ import annotations

import datetime as dt
import json
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from digest.config import Config, load_config
from digest.pipeline import build_and_write, make_http
from digest.select import LEAD_CHARS
from digest.sources import intake
from digest.store import open_store
from tests.conftest import write_config

NOW = dt.datetime(2026, 11, 26, 6, 0, tzinfo=dt.UTC)


def _sentences(tag: str, n: int = 8) -> list[str]:
    # Long, distinct sentences: three of them already run past the lead.
    return [
        f"The {tag} council met on day {k} and agreed that the harbour ferry timetable "
        f"number {k} of the {tag} district will change before the winter storms arrive."
        for k in range(n)
    ]


def _feed(path: Path, name: str, items: list[tuple[str, str, list[str]]]) -> None:
    entries = "".join(
        f"<item><title>{title}</title><link>{link}</link><guid>{link}</guid>"
        f"<pubDate>Wed, 25 Nov 2026 20:00:00 +0000</pubDate>"
        f"<description>{' '.join(sentences)}</description></item>"
        for title, link, sentences in items
    )
    path.write_text(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title>'
        f"<link>https://{name.lower()}.example/</link><description>x</description>"
        f"{entries}</channel></rss>",
        encoding="utf-8",
    )


def _config(folder: Path, state: str = "state.sqlite") -> Config:
    # Feed A is named first, so the article both feeds list is A's.
    _feed(
        folder / "a.xml",
        "Alpha",
        [
            ("Ferry timetable changes", "https://wire.example/ferry", _sentences("alpha")),
            ("Alpha market opens", "https://alpha.example/market", _sentences("market")),
        ],
    )
    _feed(
        folder / "b.xml",
        "Beta",
        [
            ("Ferry timetable changes", "https://wire.example/ferry", _sentences("beta")),
            ("Beta bridge repairs", "https://beta.example/bridge", _sentences("bridge")),
        ],
    )
    return load_config(
        write_config(
            folder,
            {
                "feeds": [
                    {"path": "a.xml", "name": "Alpha", "full_text": "never"},
                    {"path": "b.xml", "name": "Beta", "full_text": "never"},
                ],
                "summary": {"method": "lead", "sentences": 3, "max_words": None},
                "state": state,
                "output": {"dir": "out"},
            },
        )
    )


def _stored(path: Path) -> dict[str, tuple[str, str, str]]:
    with sqlite3.connect(path) as conn:
        return {
            row[0]: (row[1], row[2], json.loads(row[3])["text"])
            for row in conn.execute("SELECT id, feed_key, content_hash, data FROM articles")
        }


def test_a_gather_keeps_leads_and_records_whole_articles(tmp_path: Path) -> None:
    config = _config(tmp_path)
    whole_state = tmp_path / "whole.sqlite"
    with open_store(config.state) as store, make_http(config) as http:
        gathered = intake.gather(config, http=http, store=store, now=NOW, lead_chars=LEAD_CHARS)
        assert gathered.leads_only
        assert len(gathered.articles) == 3
        assert all(len(a.text) <= LEAD_CHARS for a in gathered.articles)
        whole = store.whole_articles(list(gathered.articles))
        assert {a.id: len(whole[a.id].text) > LEAD_CHARS for a in gathered.articles} == {
            a.id: True for a in gathered.articles
        }
        # The first feed named keeps the story both list, whole.
        ferry = whole["https://wire.example/ferry"]
        assert ferry.feed == "Alpha" and " ".join(_sentences("alpha")) in ferry.text
        # The feeds' typical lengths come from whole texts, not the leads.
        assert all(n > LEAD_CHARS for n in gathered.typical_chars.values()) or not (
            gathered.typical_chars
        )
        store.apply(gathered.changes, NOW)
    with open_store(whole_state) as store, make_http(config) as http:
        reference = intake.gather(config, http=http, store=store, now=NOW)
        assert not reference.leads_only
        store.apply(reference.changes, NOW)
    # What is recorded is exactly what a gather holding whole texts records.
    assert _stored(config.state) == _stored(whole_state)
    assert len(_stored(config.state)) == 3
    assert _stored(config.state)["https://wire.example/ferry"][1] == (
        next(a for a in reference.articles if a.id == "https://wire.example/ferry").content_hash
    )


def test_a_build_ranked_on_leads_summarises_and_shows_whole_texts(tmp_path: Path) -> None:
    config = _config(tmp_path)
    out = build_and_write(config, now=NOW)
    items = {i.article.id: i for i in out.digest.items}
    ferry = items["https://wire.example/ferry"]
    # Three sentences of the lead method: past the first 300 characters of the entry.
    assert list(ferry.summary.sentences) == _sentences("alpha")[:3]
    assert sum(len(s) for s in ferry.summary.sentences) > LEAD_CHARS
    assert ferry.article.feed == "Alpha" and len(items) == 3
    assert all(len(i.article.text) > LEAD_CHARS for i in out.digest.items)
    stored = _stored(config.state)
    assert all(len(text) > LEAD_CHARS for _, _, text in stored.values())


def test_staging_never_reaches_the_state_file(tmp_path: Path) -> None:
    """A gather whose build never records leaves the state file without the articles (the
    TEMP table is gone with the connection), and the next gather starts afresh."""
    config = _config(tmp_path)
    with open_store(config.state) as store, make_http(config) as http:
        intake.gather(config, http=http, store=store, now=NOW, lead_chars=LEAD_CHARS)
    assert _stored(config.state) == {}
    with sqlite3.connect(config.state) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert "staged" not in tables
    with open_store(config.state) as store, make_http(config) as http:
        first = intake.gather(config, http=http, store=store, now=NOW, lead_chars=LEAD_CHARS)
        (tmp_path / "b.xml").unlink()  # the second gather reads only Alpha
        second = intake.gather(config, http=http, store=store, now=NOW, lead_chars=LEAD_CHARS)
        assert len(first.articles) == 3 and len(second.articles) == 2
        store.apply(second.changes, NOW)
        staged = store.conn.execute("SELECT COUNT(*) FROM temp.staged").fetchone()[0]
        assert staged == 2  # the first gather's rows were forgotten
    assert set(_stored(config.state)) == {
        "https://wire.example/ferry",
        "https://alpha.example/market",
    }


def test_a_dry_run_reads_a_scratch_copy_on_disk_removed_on_close(tmp_path: Path) -> None:
    config = _config(tmp_path)
    build_and_write(config, now=NOW)
    before = config.state.read_bytes()
    store = open_store(config.state, read_only=True)
    try:
        scratch = store.path
        assert scratch != config.state and scratch.is_file()
        assert scratch.is_relative_to(Path(tempfile.gettempdir()))
        assert len(store.articles_by_id(["https://wire.example/ferry"])) == 1
    finally:
        store.close()
    assert not scratch.parent.exists()
    scratches = set(Path(tempfile.gettempdir()).glob("digest-dry-run-*"))
    build_and_write(config, now=NOW + dt.timedelta(hours=1), dry_run=True)
    assert config.state.read_bytes() == before
    assert set(Path(tempfile.gettempdir()).glob("digest-dry-run-*")) == scratches


def test_a_gather_without_leads_never_records_an_earlier_gathers_staged_text(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path)
    with open_store(config.state) as store, make_http(config) as http:
        intake.gather(config, http=http, store=store, now=NOW, lead_chars=LEAD_CHARS)
        # The feed changes its text; the next gather on the same connection holds it whole.
        _feed(
            tmp_path / "a.xml",
            "Alpha",
            [("Ferry timetable changes", "https://wire.example/ferry", _sentences("edited"))],
        )
        later = intake.gather(config, http=http, store=store, now=NOW)
        store.apply(later.changes, NOW)
    assert " ".join(_sentences("edited")) in _stored(config.state)["https://wire.example/ferry"][2]


def test_a_dry_run_killed_hard_leaves_no_scratch_copy_for_long(tmp_path: Path) -> None:
    """kill -9 skips close(): the scratch copy stays until the next dry run of this user,
    which removes the copies whose process is gone and keeps those of live ones."""
    config = _config(tmp_path)
    build_and_write(config, now=NOW)
    ready = tmp_path / "ready"
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from digest.store import open_store\n"
            "store = open_store(Path(sys.argv[1]), read_only=True)\n"
            "Path(sys.argv[2]).write_text(str(store.path))\n"
            "time.sleep(120)\n",
            str(config.state),
            str(ready),
        ],
        cwd=Path(__file__).parents[1],
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        left = Path(ready.read_text()).parent
        live = open_store(config.state, read_only=True)  # the child is alive: kept
        assert left.is_dir()
        live.close()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    assert left.is_dir()  # kill -9: nobody removed it
    store = open_store(config.state, read_only=True)
    try:
        assert not left.exists()
        assert store.path.parent.is_dir()
    finally:
        store.close()
