"""Many feeds, one short email (issue 13): the cost after parsing grows with max_items, not
with the number of feeds, and nothing crowds out the stories. (Speed itself is measured in
bench/scale.py, not asserted here.)"""

from __future__ import annotations

import datetime as dt
import random
import re
from pathlib import Path

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from digest.config import load_config
from digest.pipeline import build_and_write
from tests.conftest import write_config

NOW = dt.datetime(2026, 11, 26, 6, 0, tzinfo=dt.UTC)
WORDS = [
    "harbour",
    "council",
    "ferry",
    "bridge",
    "market",
    "school",
    "river",
    "budget",
    "festival",
    "election",
    "museum",
    "railway",
    "station",
    "hospital",
    "library",
    "bakery",
    "stadium",
    "airport",
    "factory",
    "garden",
    "village",
    "mayor",
    "teacher",
    "farmer",
    "doctor",
    "pilot",
    "artist",
    "driver",
    "nurse",
    "judge",
    "miner",
    "sailor",
    "baker",
    "storm",
    "drought",
    "flood",
    "harvest",
    "strike",
    "fire",
    "vaccine",
    "protest",
    "concert",
    "trial",
    "merger",
    "approves",
    "rejects",
    "delays",
    "opens",
    "closes",
    "repairs",
    "announces",
    "celebrates",
    "investigates",
    "northern",
    "southern",
    "eastern",
    "western",
    "coastal",
    "rural",
    "central",
    "ancient",
    "modern",
    "local",
]


def _feed(path: Path, feed: int, stories: int, link_base: str, shared: int = 0) -> None:
    items = []
    for n in range(stories):
        # The first ``shared`` stories are the same wire story in every feed (rewritten
        # headline, same words): a story many feeds ran.
        story = n if n < shared else 1000 * feed + n
        rng = random.Random(story)  # each story its own words, as real stories have
        vocabulary = rng.sample(WORDS, 24)
        sentences = [" ".join(rng.sample(vocabulary, 9)).capitalize() + "." for _ in range(6)]
        words = " ".join(sentences)
        title = " ".join(rng.sample(vocabulary, 6)).capitalize()
        hour = 23 if n < shared else (feed + n) % 23  # the shared story is the newest
        items.append(
            f"<item><title>{title}</title>"
            f"<link>{link_base}/{feed}/{n}</link><guid>{link_base}/{feed}/{n}</guid>"
            f"<pubDate>Wed, 25 Nov 2026 {hour:02d}:00:00 +0000</pubDate>"
            f"<description>{words} [&#8230;]</description></item>"
        )
    path.write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel>'
        f"<title>Feed {feed}</title><link>https://f{feed}.example/</link><description>x"
        "</description>" + "".join(items) + "</channel></rss>",
        encoding="utf-8",
    )


def test_cost_after_parsing_follows_max_items_not_the_feeds(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    """60 feeds of 10 teasers each, 5 stories wanted: pages fetched and summaries computed
    stay near max_items, every copy of a shared story is one story, and the sections of the
    feeds left out share one line."""

    def page(request: Request) -> Response:
        # Each article page has its own words (taken from its path).
        key = request.path.replace("/", " ")
        body = "".join(
            f"<p>In {key} the harbour board {k} voted on ferry route {key} number {k}.</p>"
            for k in range(20)
        )
        return Response(
            f"<html><body><article>{body}</article></body></html>", mimetype="text/html"
        )

    httpserver.expect_request("/robots.txt").respond_with_data("")
    httpserver.expect_request(re.compile("/p/.*")).respond_with_handler(page)
    feeds = []
    for f in range(60):
        _feed(tmp_path / f"f{f}.xml", f, 10, httpserver.url_for("/p").rstrip("/"), shared=2)
        feeds.append({"path": f"f{f}.xml", "name": f"Feed {f}", "full_text": "always"})
    config = load_config(
        write_config(
            tmp_path,
            {
                "feeds": feeds,
                "limits": {"max_items": 5, "max_items_per_feed": 2},
                "state": "state.sqlite",
                "output": {"dir": "out"},
            },
        )
    )
    out = build_and_write(config, now=NOW, dry_run=True)
    stats = out.digest.stats
    assert len(out.digest.items) == 5
    assert stats.articles_seen == 600 and stats.candidates >= 300
    assert stats.pages_fetched <= 2 * 5 + 2  # the shortlist, not 600 pages
    assert stats.summaries_computed <= 2 * 5 + 2
    assert stats.pairs_compared > 0
    # The story all 60 feeds ran is one story, merged with its 59 copies.
    shared = [i for i in out.digest.items if len(i.merged_ids) >= 50]
    assert shared and len(shared[0].also_covered_by) >= 50
    # "Also covered by" names three, then counts.
    assert "and 5" in out.rendered.text or "others" in out.rendered.text
    # Feeds whose stories were all left out share one line.
    headings = [s for s in out.digest.sections if not s.items]
    assert len(headings) <= 4
    assert any(s.other_feeds >= 50 for s in out.digest.sections)
    assert [p for p in out.digest.problems if p.kind == "error"] == []
