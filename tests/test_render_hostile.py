"""Feed content that reaches the reader (issue 12): bidi controls, pictures on the reader's
own network, and titles dressed up as the text part's numbered links."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest
from render_fixtures import GENERATED, article, item

from digest.config import load_config
from digest.models import Digest, DigestSection, Image
from digest.pipeline import build_and_write
from digest.render import render_digest
from digest.sources.netguard import private_host
from tests.conftest import REPO, write_config

BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
URDU_NAME = "بی بی سی اردو"


def _digest(*items_: object, language: str = "en") -> Digest:
    return Digest(
        title="Morning Digest",
        date=dt.date(2026, 11, 26),
        language=language,
        timezone="UTC",
        generated_at=GENERATED,
        sections=(DigestSection(title="News", items=tuple(items_)),),  # type: ignore[arg-type]
    )


def _meta_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if " min read" in line]


def test_bidi_controls_in_a_name_or_title_do_not_reverse_the_meta_line() -> None:
    hostile = item(
        article(
            "h",
            feed="Evil\u202e News\u2067",
            title="Pay now \u202egnp.exe\u202c or \u2066lose\u200f everything",
            published=dt.datetime(2026, 1, 7, 19, 37, tzinfo=dt.UTC),
        ),
        ("The council met on Tuesday \u202eevening.",),
    )
    rendered = render_digest(_digest(hostile))
    assert not BIDI.search(rendered.text)
    assert not BIDI.search(rendered.html)
    [meta] = _meta_lines(rendered.text)
    assert meta.strip() == "Evil News · 7 Jan 19:37 · 2 min read"
    assert "Pay now gnp.exe or lose everything" in rendered.text


def test_an_rtl_feed_keeps_the_date_in_place() -> None:
    urdu = item(
        article(
            "u",
            feed=URDU_NAME,
            title="وہ تازیانے لگے ہوش سب ٹھکانے لگے",
            published=dt.datetime(2026, 1, 7, 19, 37, tzinfo=dt.UTC),
            language="ur",
        ),
        ("وہ قوم جو 30 برس پہلے تک ناک پے مکھی نہیں بیٹھنے دیتی تھی۔",),
    )
    rendered = render_digest(_digest(urdu))
    # Text part: a left-to-right mark closes the Urdu name, so "7 Jan" stays after it.
    [meta] = _meta_lines(rendered.text)
    assert meta.strip().startswith(URDU_NAME + "\u200e · 7 Jan 19:37 · ")
    # HTML part: the meta line is in the reader's direction and the name is isolated.
    match = re.search(r'<p class="meta"[^>]*>(.*?)</p>', rendered.html)
    assert match is not None
    tag = match.group(0)
    assert 'dir="ltr"' in tag
    assert f"<bdi>{URDU_NAME}</bdi> · <bdi>7 Jan 19:37</bdi>" in match.group(1)
    assert 'dir="rtl"' in rendered.html  # the story itself stays right-to-left


def test_the_urdu_sample_through_a_build(tmp_path: Path) -> None:
    shutil.copy(REPO / "examples" / "feeds" / "ur-bbcurdu-rss2.xml", tmp_path / "ur.xml")
    config = load_config(
        write_config(
            tmp_path,
            {
                "feeds": [{"path": "ur.xml", "name": URDU_NAME, "full_text": "never"}],
                "limits": {"max_items_per_feed": 3},
            },
        )
    )
    output = build_and_write(config, now=dt.datetime(2018, 1, 12, tzinfo=dt.UTC), dry_run=True)
    lines = _meta_lines(output.rendered.text)
    assert lines
    for line in lines:
        assert re.match(rf"\s+{URDU_NAME}\u200e · \d{{1,2}} Jan ", line), line
    assert output.rendered.html.count(f"<bdi>{URDU_NAME}</bdi>") == len(lines)


@pytest.mark.parametrize(
    "url",
    [
        "http://192.168.1.1/reboot.cgi",
        "http://10.0.0.1/x.png",
        "http://127.0.0.1/x.png",
        "http://127.1/x.png",
        "http://2130706433/x.png",
        "http://0x7f000001/x.png",
        "http://[::1]/x.png",
        "http://[::ffff:127.0.0.1]/x.png",
        "http://169.254.169.254/latest/meta-data",
        "http://[fe80::1]/x.png",
        "http://localhost/x.png",
        "http://LOCALHOST./x.png",
        "http://printer.local/x.png",
        "http://db.internal/x.png",
        "http://app.localhost:8080/x.png",
        "http://router/x.png",
        "http://fritz.box.home.arpa/x.png",
    ],
)
def test_pictures_on_the_readers_own_network_are_dropped(url: str) -> None:
    assert private_host(url)
    story = item(
        article("p", image=Image(url=url, width=600, height=400)), ("A sentence of text.",)
    )
    rendered = render_digest(_digest(story))
    assert "<img" not in rendered.html


@pytest.mark.parametrize(
    "url",
    ["https://img.example.org/a.jpg", "http://93.184.216.34/a.png", "https://[2606:4700::1]/"],
)
def test_public_pictures_stay(url: str) -> None:
    assert not private_host(url)
    story = item(
        article("p", image=Image(url=url, width=600, height=400)), ("A sentence of text.",)
    )
    assert "<img" in render_digest(_digest(story)).html


def test_a_title_cannot_fake_a_numbered_link() -> None:
    fake = item(
        article(
            "f",
            feed="[2] https://evil.example/feed",
            title="[1] https://evil.example/login",
            link="https://example.org/real",
        ),
        ("Log in at ［3］ https://evil.example/again [ 4 ] now.",),
    )
    text = render_digest(_digest(fake)).text
    references = re.findall(r"^\[(\d+)\] (\S+)$", text, re.MULTILINE)
    assert references == [("1", "https://example.org/real")]
    assert "(1) https://evil.example/login [1]" in text
    assert not re.search(r"[\[［]\s*[0-9０-９]+\s*[\]］] https://evil", text)
