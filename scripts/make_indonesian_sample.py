"""Build examples/feeds/berita-id.xml, the Indonesian sample feed of the demo.

The Indonesian feeds in ../shared/data/feeds/real carry no licence, so the sample is made
from material we may ship: the reference article in ../shared/data/seed/ (scraped from a
WordPress page, boilerplate left in on purpose: the demo shows it cleaned) and IndoSum
articles (CC BY-SA 4.0, Kurniawan & Louvan 2018). Run from the repo root:

    .venv/bin/python scripts/make_indonesian_sample.py [../shared/data]
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import urllib.parse
from email.utils import format_datetime
from html import escape
from pathlib import Path

# Chosen for variety of topic and outlet; ids from indosum_dev.jsonl.
INDOSUM_IDS = [
    "1512281160-unhan-gelorakan-semangat-kebangsaan-indonesia-di-p",
    "1508791034-uber-akan-berikan-data-perjalanan-di-paris-ke-publ",
    "1509780600-intel-optane-ssd-900p-rebut-gelar-ssd-tercepat-dar",
    "1514112565-hasil-real-madrid-vs-barcelona",
    "1511415000-toyota-t-hr3-dirancang-agar-mengikuti-gerakan-seca",
    "1478673654-geger-suara-misterius-muncul-dari-samudra-arktik",
    "1505087142-sloane-stephens-juara-as-terbuka",
    "1475899238-44-sd-dan-smp-tampil-di-sirnas-msc-banjarmasin",
]
SEED_TITLE = (
    "Putin dari Rusia akan mengunjungi Korea Utara, di tengah meningkatnya kerja sama militer"
)
# The scrape gives no date; the text's "Kamis" and "18 dan 19 Juni" put it on 13 June 2024.
SEED_DATE = dt.datetime(2024, 6, 13, 15, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))


def title_from(record: dict[str, str]) -> str:
    slug = urllib.parse.urlsplit(record.get("url") or "").path.rstrip("/").rsplit("/", 1)[-1]
    slug = slug.removesuffix(".html")
    if not slug or slug.isdigit():
        slug = record["id"].split("-", 1)[1]
    words = slug.replace("-", " ").split()
    return " ".join(words)[:1].upper() + " ".join(words)[1:]


def paragraphs_html(text: str) -> str:
    return "".join(f"<p>{escape(p.strip())}</p>" for p in text.split("\n\n") if p.strip())


def item(title: str, link: str | None, when: dt.datetime, body: str, category: str) -> str:
    link_xml = f"<link>{escape(link)}</link><guid>{escape(link)}</guid>" if link else ""
    return (
        f"<item><title>{escape(title)}</title>{link_xml}"
        f"<pubDate>{format_datetime(when)}</pubDate><category>{escape(category)}</category>"
        f"<content:encoded><![CDATA[{body}]]></content:encoded></item>\n"
    )


def main() -> None:
    data = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
    records = {
        r["id"]: r
        for r in map(json.loads, (data / "summ/indosum_dev.jsonl").open(encoding="utf-8"))
    }
    seed = (data / "seed/indonesian-news-scraped.txt").read_text(encoding="utf-8")
    items = [item(SEED_TITLE, None, SEED_DATE, paragraphs_html(seed), "dunia")]
    for ident in INDOSUM_IDS:
        r = records[ident]
        when = dt.datetime.fromtimestamp(int(ident.split("-", 1)[0]), dt.UTC)
        items.append(
            item(title_from(r), r.get("url"), when, paragraphs_html(r["text"]), r["category"])
        )
    feed = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">\n'
        "<channel><title>Berita Indonesia (contoh)</title>"
        "<link>https://github.com/kata-ai/indosum</link>"
        "<description>Artikel IndoSum (CC BY-SA 4.0) dan artikel rujukan digest</description>"
        "<language>id</language>\n" + "".join(items) + "</channel></rss>\n"
    )
    Path("examples/feeds/berita-id.xml").write_text(feed, encoding="utf-8")
    print("examples/feeds/berita-id.xml", len(items), "items")


if __name__ == "__main__":
    main()
