"""One bad character never stops a feed: arbitrary Unicode through every field of RSS, Atom
and JSON Feed, through `digest parse` and through a whole `digest build` (issue 12).

Lone surrogates, NUL and the other characters XML or UTF-8 cannot carry are written the ways
feeds carry them: as character references (``&#xD800;``), as JSON escapes (``"\\ud800"``) and
as raw bytes (a surrogate encoded anyway, a NUL byte).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import zoneinfo
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from digest.cli import main
from digest.models import FeedSource
from digest.sources.feeds import parse_feed, scrub
from tests.conftest import write_config

# Dates relative to today: a real build may only create a digest near today (digests go
# forward), and these tests run the CLI on the real clock.
_TODAY = dt.datetime.now(zoneinfo.ZoneInfo("UTC")).date()
DAY = _TODAY.isoformat()

NOW = dt.datetime(2026, 11, 26, tzinfo=dt.UTC)
HOSTILE = "a\ud800b\udfff\x00c\x1b[31m\x9b\ufffe\uffff\u202e\U0010ffff"

# Any code point, surrogates and controls included.
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=40)

RSS_FIELDS = (
    "channel_title",
    "channel_link",
    "channel_description",
    "channel_language",
    "item_title",
    "item_link",
    "item_description",
    "item_content",
    "item_guid",
    "item_date",
    "item_author",
    "item_category",
    "item_image",
)
ATOM_FIELDS = (
    "feed_title",
    "feed_subtitle",
    "feed_lang",
    "entry_title",
    "entry_link",
    "entry_id",
    "entry_summary",
    "entry_content",
    "entry_published",
    "entry_author",
)
JSON_FIELDS = (
    "title",
    "home_page_url",
    "feed_url",
    "language",
    "id",
    "url",
    "external_url",
    "item_title",
    "content_html",
    "content_text",
    "summary",
    "date_published",
    "author",
    "item_language",
)


def _xml_text(value: str, raw: bool) -> str:
    """``value`` for an XML document: markup escaped, and each character XML forbids as a
    character reference (``raw=False``) or left in place to be written as raw bytes."""
    out = []
    for char in escape(value):
        code = ord(char)
        allowed = char in "\t\n\r" or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD
        allowed = allowed or code >= 0x10000
        out.append(char if allowed or raw else f"&#x{code:X};")
    return "".join(out)


def _encode(document: str) -> bytes:
    # "surrogatepass" writes a lone surrogate as the three bytes a careless encoder emits.
    return document.encode("utf-8", "surrogatepass")


def rss(fields: dict[str, str], raw: bool) -> bytes:
    f = {k: _xml_text(v, raw) for k, v in fields.items()}
    return _encode(
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:media="http://search.yahoo.com/mrss/"><channel>'
        f"<title>{f['channel_title']}</title><link>{f['channel_link']}</link>"
        f"<description>{f['channel_description']}</description>"
        f"<language>{f['channel_language']}</language>"
        f"<item><title>{f['item_title']}</title><link>{f['item_link']}</link>"
        f"<description>{f['item_description']}</description>"
        f"<content:encoded>{f['item_content']}</content:encoded>"
        f"<guid>{f['item_guid']}</guid><pubDate>{f['item_date']}</pubDate>"
        f"<author>{f['item_author']}</author><category>{f['item_category']}</category>"
        f'<media:thumbnail url="https://img.example.org/{f["item_image"]}.jpg" '
        'width="600" height="400"/>'
        "</item></channel></rss>"
    )


def atom(fields: dict[str, str], raw: bool) -> bytes:
    f = {k: _xml_text(v, raw) for k, v in fields.items()}
    return _encode(
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{f["feed_lang"]}">'
        f"<title>{f['feed_title']}</title><subtitle>{f['feed_subtitle']}</subtitle>"
        f"<entry><title>{f['entry_title']}</title>"
        f'<link href="https://example.org/{f["entry_link"]}"/><id>{f["entry_id"]}</id>'
        f"<summary>{f['entry_summary']}</summary>"
        f'<content type="html">{f["entry_content"]}</content>'
        f"<published>{f['entry_published']}</published>"
        f"<author><name>{f['entry_author']}</name></author></entry></feed>"
    )


def json_feed(fields: dict[str, str]) -> bytes:
    f = fields
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": f["title"],
        "home_page_url": f["home_page_url"],
        "feed_url": f["feed_url"],
        "language": f["language"],
        "items": [
            {
                "id": f["id"],
                "url": "https://example.org/" + f["url"],
                "external_url": f["external_url"],
                "title": f["item_title"],
                "content_html": f["content_html"],
                "content_text": f["content_text"],
                "summary": f["summary"],
                "date_published": f["date_published"],
                "authors": [{"name": f["author"]}],
                "language": f["item_language"],
            }
        ],
    }
    # ensure_ascii: a lone surrogate becomes the "\ud800" escape JSON Feeds carry.
    return json.dumps(document, ensure_ascii=True).encode("ascii")


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if hasattr(value, "__dataclass_fields__"):
        return [s for name in value.__dataclass_fields__ for s in _strings(getattr(value, name))]
    if isinstance(value, tuple | list):
        return [s for v in value for s in _strings(v)]
    return []


def assert_clean(value: object) -> None:
    """Every string in ``value`` can be encoded and carries no control character."""
    for text in _strings(value):
        text.encode("utf-8")  # raises on a lone surrogate
        assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]", text), text


def fields_of(names: tuple[str, ...]) -> st.SearchStrategy[dict[str, str]]:
    return st.fixed_dictionaries({name: ANY_TEXT for name in names})


FAST = settings(max_examples=60, deadline=None)


@FAST
@given(fields_of(RSS_FIELDS), st.booleans())
@example(dict.fromkeys(RSS_FIELDS, HOSTILE), False)
@example(dict.fromkeys(RSS_FIELDS, HOSTILE), True)
def test_rss_fields_never_stop_the_feed(fields: dict[str, str], raw: bool) -> None:
    parsed = parse_feed(rss(fields, raw), FeedSource(path=Path("f.xml")), now=NOW)
    assert len(parsed.articles) == 1
    assert_clean(parsed)


@FAST
@given(fields_of(ATOM_FIELDS), st.booleans())
@example(dict.fromkeys(ATOM_FIELDS, HOSTILE), False)
@example(dict.fromkeys(ATOM_FIELDS, HOSTILE), True)
def test_atom_fields_never_stop_the_feed(fields: dict[str, str], raw: bool) -> None:
    parsed = parse_feed(atom(fields, raw), FeedSource(path=Path("f.xml")), now=NOW)
    assert len(parsed.articles) == 1
    assert_clean(parsed)


@FAST
@given(fields_of(JSON_FIELDS))
@example(dict.fromkeys(JSON_FIELDS, HOSTILE))
def test_json_feed_fields_never_stop_the_feed(fields: dict[str, str]) -> None:
    parsed = parse_feed(json_feed(fields), FeedSource(path=Path("f.json")), now=NOW)
    assert len(parsed.articles) == 1
    assert_clean(parsed)


def test_a_lone_surrogate_is_replaced_where_it_enters() -> None:
    body = (
        b'{"version": "https://jsonfeed.org/version/1.1", "title": "T\\ud800", "items": '
        b'[{"id": "1", "url": "https://example.org/a", "title": "Hello \\ud800 world\\u0000"}]}'
    )
    parsed = parse_feed(body, FeedSource(path=Path("f.json")), now=NOW)
    assert parsed.title == "T\ufffd"
    assert parsed.articles[0].title == "Hello \ufffd world"
    rss_body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>F &#xD800;</title>'
        b"<item><title>Bad &#xD800; &#55296; &#x110000; &#0; title</title>"
        b"<link>https://example.org/b</link></item></channel></rss>"
    )
    parsed = parse_feed(rss_body, FeedSource(path=Path("f.xml")), now=NOW)
    assert parsed.articles[0].title == "Bad \ufffd \ufffd \ufffd title"
    # Rewritten before parsing, the references leave a well-formed feed: no warning.
    assert parsed.problems == ()


def test_scrub_keeps_text_and_recovers_windows_1252_quotes() -> None:
    assert scrub("plain text, 日本語, اردو\n\ttab") == "plain text, 日本語, اردو\n\ttab"
    assert scrub("\x93quoted\x94 \x00nul \ud800") == "“quoted” nul \ufffd"


@pytest.mark.parametrize(
    "prefix",
    [b"\n", b"\r\n\r\n", b"  \t\n", b"\xef\xbb\xbf\n", b"\n\xef\xbb\xbf"],
)
def test_whitespace_or_bom_before_the_declaration_is_tolerated(prefix: bytes) -> None:
    body = prefix + (
        b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>F</title>'
        b"<item><title>One</title><link>https://example.org/1</link></item></channel></rss>"
    )
    parsed = parse_feed(body, FeedSource(path=Path("f.xml")), now=NOW)
    assert [a.title for a in parsed.articles] == ["One"]
    assert parsed.problems == ()


def test_real_damage_still_warns() -> None:
    body = (
        b'\n<?xml version="1.0"?><rss version="2.0"><channel><title>F</title>'
        b"<item><title>One & two</title><link>https://example.org/1</link></item>"
    )
    parsed = parse_feed(body, FeedSource(path=Path("f.xml")), now=NOW)
    assert len(parsed.articles) == 1
    [problem] = parsed.problems
    assert "not well-formed" in problem.message and "read 1 entry anyway" in problem.message


def test_real_feeds_with_a_newline_before_the_declaration_parse_silently(
    shared_data: Path,
) -> None:
    folder = shared_data / "feeds" / "real"
    prefixed = [
        p
        for p in sorted(folder.iterdir())
        if p.is_file() and re.match(rb"\s+<\?xml", p.read_bytes())
    ]
    assert len(prefixed) >= 9
    for path in prefixed:
        parsed = parse_feed(path.read_bytes(), FeedSource(path=path), now=NOW)
        assert parsed.articles and parsed.problems == (), path.name


# --- through the command line ------------------------------------------------------------


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


def _feed_bytes(kind: str, text: str, raw: bool) -> tuple[str, bytes]:
    if kind == "rss":
        return "f.xml", rss(dict.fromkeys(RSS_FIELDS, text), raw)
    if kind == "atom":
        return "f.xml", atom(dict.fromkeys(ATOM_FIELDS, text), raw)
    return "f.json", json_feed(dict.fromkeys(JSON_FIELDS, text))


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.sampled_from(["rss", "atom", "json"]), ANY_TEXT, st.booleans())
@example("json", HOSTILE, False)
@example("rss", HOSTILE, False)
@example("atom", HOSTILE, True)
def test_a_whole_build_and_parse_survive_any_text(
    runner: CliRunner, tmp_path_factory: pytest.TempPathFactory, kind: str, text: str, raw: bool
) -> None:
    folder = tmp_path_factory.mktemp("build")
    name, body = _feed_bytes(kind, text, raw)
    (folder / name).write_bytes(body)
    # A second, ordinary feed: the bad one must not take it down with it.
    (folder / "ok.xml").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Fine</title><item>'
        "<title>A fine story</title><link>https://example.org/fine</link>"
        "<description>The council met on Tuesday. It approved the budget.</description>"
        "</item></channel></rss>",
        encoding="utf-8",
    )
    config = write_config(
        folder,
        {
            "feeds": [
                {"path": name, "full_text": "never"},
                {"path": "ok.xml", "full_text": "never"},
            ],
            "state": str(folder / "state.sqlite"),
        },
    )
    result = runner.invoke(main, ["-c", str(config), "build", "--date", DAY])
    assert result.exit_code == 0, result.output
    html = Path(result.stdout.strip())
    for part in (html, html.with_suffix(".txt"), html.parent / "feed.xml"):
        part.read_text(encoding="utf-8")  # strict: valid UTF-8 throughout
    assert "A fine story" in html.with_suffix(".txt").read_text(encoding="utf-8")
    parsed = runner.invoke(main, ["-c", str(config), "parse", str(folder / name), "--json"])
    assert parsed.exit_code == 0, parsed.output
    # One line by every definition of a line (str.splitlines splits on U+2028 too).
    [line] = parsed.stdout.splitlines()
    json.loads(line)
