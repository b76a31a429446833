"""OPML reading, writing and in-place editing of the feeds file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import listparser
import pytest

from digest.errors import ConfigError
from digest.models import FeedSource
from digest.sources.opml import (
    FeedsFile,
    FeedsFileError,
    add_feed,
    import_feeds,
    opml_document,
    parse_opml,
    read_opml,
    remove_feed,
    write_atomically,
    write_opml,
)

READER_EXPORT = b"""<?xml version="1.0" encoding="UTF-8"?>
<!-- exported by SomeReader -->
<opml version="1.0">
  <head><title>My subscriptions</title></head>
  <body>
    <outline text="World" title="World">
      <outline type="rss" text="BBC" title="BBC" xmlUrl="https://feeds.bbci.co.uk/news/rss.xml"
               htmlUrl="https://www.bbc.co.uk/news" customAttr="keep me"/>
      <outline type="rss" text="Antara" xmlUrl="https://www.antaranews.com/rss/terkini.xml"/>
    </outline>
    <outline text="Tech">
      <outline text="Deep">
        <outline type="rss" text="LWN" xmlUrl="https://lwn.net/headlines/rss"/>
      </outline>
    </outline>
    <outline type="rss" text="Loose" xmlUrl="http://loose.example.org/feed"/>
    <outline type="rss" text="Not http" xmlUrl="ftp://files.example.org/feed"/>
  </body>
</opml>
"""


def test_parse_opml_names_categories_and_http_only() -> None:
    sources = parse_opml(READER_EXPORT)
    assert [(s.name, s.url, s.category) for s in sources] == [
        ("BBC", "https://feeds.bbci.co.uk/news/rss.xml", "World"),
        ("Antara", "https://www.antaranews.com/rss/terkini.xml", "World"),
        ("LWN", "https://lwn.net/headlines/rss", "Deep"),
        ("Loose", "http://loose.example.org/feed", None),
    ]


def test_read_opml_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        read_opml(tmp_path / "nope.opml")


def test_write_and_read_round_trip(tmp_path: Path) -> None:
    sources = [
        FeedSource(url="https://a.example/feed", name="A & B <news>", category="World"),
        FeedSource(url="https://b.example/rss", name=None, category=None),
        FeedSource(path=tmp_path / "local.xml", name="Local"),
        FeedSource(url="https://c.example/atom", name="C", category="World"),
    ]
    path = tmp_path / "out" / "feeds.opml"
    write_opml(path, sources)
    back = read_opml(path)
    assert [(s.url, s.name, s.category) for s in back] == [
        ("https://a.example/feed", "A & B <news>", "World"),
        ("https://c.example/atom", "C", "World"),
        ("https://b.example/rss", None, None),
    ]
    parsed = listparser.parse(path.read_bytes())
    assert not parsed.bozo
    assert opml_document([]).startswith(b"<?xml version='1.0' encoding='utf-8'?>\n<opml")


def test_feeds_file_edit_keeps_comments_and_unknown_attributes(tmp_path: Path) -> None:
    path = tmp_path / "feeds.opml"
    path.write_bytes(READER_EXPORT)
    add_feed(path, FeedSource(url="https://new.example/feed", name="New", category="World"))
    add_feed(path, FeedSource(url="https://other.example/feed", name="Other", category="Fresh"))
    text = path.read_text(encoding="utf-8")
    assert "exported by SomeReader" in text
    assert 'customAttr="keep me"' in text
    assert 'htmlUrl="https://www.bbc.co.uk/news"' in text
    cats = {s.url: s.category for s in read_opml(path)}
    assert cats["https://new.example/feed"] == "World"
    assert cats["https://other.example/feed"] == "Fresh"
    assert cats["https://lwn.net/headlines/rss"] == "Deep"


def test_add_rejects_duplicates_and_non_http(tmp_path: Path) -> None:
    path = tmp_path / "feeds.opml"
    add_feed(path, FeedSource(url="https://a.example/feed"))
    assert path.exists()
    with pytest.raises(FeedsFileError, match="already subscribed"):
        add_feed(path, FeedSource(url="https://www.A.example/feed?utm_source=x"))
    with pytest.raises(FeedsFileError, match="already subscribed"):
        add_feed(
            path,
            FeedSource(url="https://config.example/feed"),
            existing=[FeedSource(url="https://config.example/feed")],
        )
    with pytest.raises(FeedsFileError, match="http:// or https://"):
        add_feed(path, FeedSource(url="file:///etc/passwd"))
    assert [s.url for s in read_opml(path)] == ["https://a.example/feed"]


def test_remove_by_name_or_url_and_empty_folders_go(tmp_path: Path) -> None:
    path = tmp_path / "feeds.opml"
    path.write_bytes(READER_EXPORT)
    removed = remove_feed(path, "lwn")
    assert removed.url == "https://lwn.net/headlines/rss"
    text = path.read_text(encoding="utf-8")
    assert 'text="Deep"' not in text  # the emptied folder went with it
    removed = remove_feed(path, "http://feeds.bbci.co.uk/news/rss.xml")
    assert removed.name == "BBC"
    assert [s.name for s in read_opml(path)] == ["Antara", "Loose"]
    with pytest.raises(FeedsFileError, match="no feed named 'BBC'"):
        remove_feed(path, "BBC")
    with pytest.raises(FeedsFileError, match=r"config\.yaml"):
        remove_feed(path, "Mine", config_feeds=[FeedSource(url="https://m.example", name="Mine")])
    with pytest.raises(FeedsFileError, match="does not exist"):
        remove_feed(tmp_path / "none.opml", "x")


def test_remove_ambiguous_name(tmp_path: Path) -> None:
    path = tmp_path / "feeds.opml"
    add_feed(path, FeedSource(url="https://a.example/1", name="Same"))
    add_feed(path, FeedSource(url="https://a.example/2", name="Same"))
    with pytest.raises(FeedsFileError, match="remove one by its URL"):
        remove_feed(path, "same")
    remove_feed(path, "https://a.example/2")
    assert [s.url for s in read_opml(path)] == ["https://a.example/1"]


def test_import_merges_and_counts(tmp_path: Path) -> None:
    path = tmp_path / "feeds.opml"
    add_feed(path, FeedSource(url="https://lwn.net/headlines/rss", name="LWN"))
    other = tmp_path / "reader.opml"
    other.write_bytes(READER_EXPORT)
    report = import_feeds(path, other, existing=[FeedSource(url="http://loose.example.org/feed")])
    assert (report.added, report.duplicates, report.not_http) == (2, 2, 1)
    again = import_feeds(path, other, existing=[FeedSource(url="http://loose.example.org/feed")])
    assert (again.added, again.duplicates) == (0, 4)
    assert len(read_opml(path)) == 3
    bad = tmp_path / "bad.opml"
    bad.write_bytes(b"not xml at all")
    with pytest.raises(FeedsFileError, match="not an OPML"):
        import_feeds(path, bad)
    with pytest.raises(FeedsFileError, match="cannot read"):
        import_feeds(path, tmp_path / "missing.opml")


def test_broken_feeds_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "feeds.opml"
    path.write_text("<opml><body><outline", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid OPML"):
        FeedsFile.load(path)
    path.write_text("<rss/>", encoding="utf-8")
    with pytest.raises(ConfigError, match="not an OPML file"):
        FeedsFile.load(path)


def test_write_atomically_keeps_mode_and_leaves_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "feeds.opml"
    path.write_bytes(b"old")
    os.chmod(path, 0o600)
    write_atomically(path, b"new")
    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feeds.opml"]
