"""Visible defects in summaries of every entry of the real feeds in ../shared/data/feeds/real.

    .venv/bin/python bench/summary_hygiene.py [DATA_DIR] [--examples N] [--raw] [--show CLASS]

Each entry goes the digest's own way: `parse_feed` turns the feed's HTML into text (with the
per-feed boilerplate that parsing removes), then `summarize` with the config defaults
(summary.sentences, summary.max_words, summary.method). With
``--raw`` the entry's raw HTML is also given straight to `summarize`, as
`digest summarize --jsonl` receives it; both roads should show the same defects.

The checker here is independent of the summariser: it re-reads every entry's HTML with lxml
and judges each summary sentence against that reading. Classes:

- ``markup``: a tag or an entity shown as text.
- ``cut``: a sentence the feed cut off ("…", "[…]", "...") or a teaser's last words without
  an end, shown as a summary sentence (an excerpt marked as such is not counted).
- ``glued``: a sentence whose words are not inside one block (paragraph, heading, list
  item, line) of the source HTML: two blocks run together.
- ``recurring``: a sentence found in 3 or more entries of the same feed (feed furniture).
- ``link``: a sentence that is nothing but the text of one link (show-note lists, "Comments").
- ``promo``: calls to action, sponsor lines and reader prompts.
- ``byline``: bylines, datelines and tag lists.
- ``code``: a line of source code or a shell command.
- ``headline``: the headline repeated as a summary sentence.
- ``empty``: no summary although the entry has usable text (8+ words beyond the headline
  that no class above flags).

Feeds are split in two halves by a hash of the file name: ``dev`` (looked at while building
the detectors) and ``held`` (only measured). The rate of each class and of "any defect" is
reported per half; last line ``RESULT summary_hygiene <any-defect % over all entries> %``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import inspect
import io
import json
import os
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import feedparser  # noqa: E402
import lxml.html  # noqa: E402

from digest.config import SummaryConfig  # noqa: E402
from digest.models import FeedSource  # noqa: E402
from digest.sources.feeds import parse_feed  # noqa: E402
from digest.text.summarize import Document, summarize, summarize_documents  # noqa: E402

CLASSES = (
    "markup",
    "cut",
    "glued",
    "recurring",
    "link",
    "promo",
    "byline",
    "code",
    "headline",
    "empty",
)
NOW = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
_WORD = re.compile(r"\w+", re.UNICODE)


def default_data_dir() -> Path:
    env = os.environ.get("DIGEST_SHARED_DATA")
    return Path(env) if env else ROOT.parent / "shared" / "data"


def half_of(name: str) -> str:
    """``dev`` or ``held``: a fixed split of the feed files by a hash of their name."""
    return "dev" if hashlib.sha1(name.encode()).digest()[0] % 2 == 0 else "held"


def _tokens(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def _key(text: str) -> str:
    return " ".join(_tokens(text))


# --- an independent reading of the entry's HTML ------------------------------------------

_BLOCK = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "body",
        "caption",
        "center",
        "dd",
        "details",
        "dialog",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "iframe",
        "legend",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
    ]
)
_SKIP = frozenset({"script", "style", "noscript", "template", "head", "svg", "math"})
_TAGLIKE = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?>")


@dataclass
class Block:
    """One paragraph, heading, list item or line of the source, with its link text."""

    text: str = ""
    links: list[str] = field(default_factory=list)


def _walk(node: Any, blocks: list[Block], in_link: list[int]) -> None:
    if not isinstance(node.tag, str):  # a comment or a processing instruction
        if node.tail:
            blocks[-1].text += node.tail
        return
    tag = node.tag
    if tag in _SKIP:
        if node.tail:
            blocks[-1].text += node.tail
        return
    starts_block = tag in _BLOCK or tag == "br"
    if starts_block:
        blocks.append(Block())
    if node.text and tag != "br":
        blocks[-1].text += node.text
    if tag == "a":
        in_link.append(len(blocks))
        start = (len(blocks) - 1, len(blocks[-1].text) - len(node.text or ""))
    for child in node:
        _walk(child, blocks, in_link)
    if tag == "a":
        in_link.pop()
        b, offset = start
        if b == len(blocks) - 1:
            anchor = blocks[-1].text[offset:]
            if anchor.strip():
                blocks[-1].links.append(anchor)
    if tag in _BLOCK:
        blocks.append(Block())
    if node.tail:
        blocks[-1].text += node.tail


def read_blocks(raw: str, is_html: bool) -> list[Block]:
    """The blocks of an entry as a browser would lay them out (lxml, not our parser)."""
    if not raw.strip():
        return []
    if not is_html:
        return [Block(line) for line in raw.splitlines() if line.strip()]
    for _ in range(3):
        try:
            root = lxml.html.fragment_fromstring(raw, create_parent="div")
        except Exception:
            return [Block(line) for line in re.sub(r"<[^>]+>", "\n", raw).splitlines()]
        blocks = [Block()]
        _walk(root, blocks, [])
        text = "\n".join(b.text for b in blocks)
        if not _TAGLIKE.search(text):
            break
        raw = text  # escaped twice: the text is HTML again
    return [b for b in blocks if b.text.strip()]


# --- the checker --------------------------------------------------------------------------

_ELLIPSIS = r"(?:\[\s*(?:…|\.\.\.)\s*\]|\(\s*(?:…|\.\.\.)\s*\)|…|\.\.\.)"
_CUT_END = re.compile(_ELLIPSIS + r"[\s\W]*$")
_CUT_AFTER = re.compile(r"^\s*" + _ELLIPSIS)
# What may follow the last sentence of a teaser: markers, "Read more" links, WordPress's
# "The post ... appeared first on ..." line.
_TAIL = re.compile(
    r"^[\s\W]*(?:(?:read more|continue reading|weiterlesen|lire la suite|selengkapnya"
    r"|baca selengkapnya|the post .*|der beitrag .*|l'article .*)[\s\W]*)?$",
    re.I | re.S,
)
_FINAL = re.compile(r"[.!?。！？:;\"'”’»)\]]\s*$")
_MARKUP = re.compile(
    r"<\s*/?\s*[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?>|&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z]{2,8});"
)
_PROMO = re.compile(
    r"^(?:check out|subscribe|follow (?:us|me|along|@)|join (?:us|our|the)|download|sign up|"
    r"listen (?:to|on|now)|visit|get your|buy|support (?:us|the|our)|become a|register|"
    r"order (?:now|today|your)|shop|send us|tell us|let us know|email us|contact us|click|"
    r"tap|learn more|don't miss|do not miss|pre-order|donate|please (?:share|send|give|"
    r"support|subscribe|rate|review|consider)|rate (?:us|the show)|leave (?:a|us)|"
    r"abonniere|folge uns|unterstütze|abonnez|suivez|rejoignez|téléchargez|ikuti|dapatkan|"
    r"unduh|kunjungi)\b"
    r"|\b(?:sponsored by|for sponsoring|sponsor(?:s)? (?:of|for) this|our sponsors?|"
    r"thanks to our|brought to you by|affiliate link|promo code|use code|coupon code|"
    r"privacy information|privacy policy|in the comments|comments below|"
    r"(?:subscribe|sign up)\W+(?:\w+\W+){0,4}newsletter|merch store|patreon|"
    r"gesponsert|sponsorisé|disponsori|support us)\b",
    re.I,
)
_DATE = re.compile(
    r"\b\d{1,2}[./-]\d{1,2}[./-]\d{2,4}\b|\b\d{4}-\d{2}-\d{2}\b|"
    r"\b\d{1,2}:\d{2}\b"
    r"|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.? \d{1,2},? \d{4}",
    re.I,
)
_BYLINE = re.compile(
    r"^(?:by|von|par|oleh|por|door|av)\s+[A-ZÀ-Þ][\w.'-]+(?:\s+[A-ZÀ-Þ][\w.'-]+){0,3}\s*$"
)
_TAGLIST = re.compile(r"\((?:[^()]{1,40},\s*)+[^()]{1,40}\)\s*$")
_CODE_CHARS = set("{}[]();=<>$#*/\\|&_`~^")
_CODE = re.compile(
    r"[;{}]\s*$|^\s*(?:#\s|\$\s|>>>|//|/\*|\d+\s+\w+\s*[=(])|\w+\s*\([^()]*\)\s*[;{]"
    r"|\b(?:def|func|function|class|return|import|var|let|const|if|for|while)\b.*[({=:;]\s*$"
    r"|==|!=|->|=>|::|\+\+|&&|\|\|"
)


def _is_code(sentence: str) -> bool:
    visible = [c for c in sentence if not c.isspace()]
    if not visible:
        return False
    symbols = sum(c in _CODE_CHARS for c in visible) / len(visible)
    # Prose lists end items with ";" too: alone, that counts in short lines only.
    statement = sentence.rstrip().endswith(";") and len(sentence.split()) <= 8
    return bool(_CODE.search(sentence)) and (symbols > 0.04 or statement)


def _is_byline(sentence: str) -> bool:
    words = sentence.split()
    if _BYLINE.match(sentence) and len(words) <= 6:
        return True
    if sentence.count("|") >= 2 or sentence.count("·") >= 2 or sentence.count("•") >= 2:
        return True
    alpha = [w for w in words if any(c.isalpha() for c in w)]
    caps = sum(w.lstrip("(\"'“")[:1].isupper() for w in alpha) / max(1, len(alpha))
    if _DATE.search(sentence) and len(words) <= 10 and not _FINAL.search(sentence) and caps >= 0.5:
        return True
    return bool(_TAGLIST.search(sentence)) and _taglist_items(sentence)


def _taglist_items(sentence: str) -> bool:
    inner = sentence[sentence.rfind("(") + 1 : sentence.rfind(")")]
    items = [i.strip() for i in inner.split(",")]
    return len(items) >= 2 and all(0 < len(i.split()) <= 5 and i[:1].isupper() for i in items)


def _link_share(block: Block) -> float:
    letters = sum(c.isalnum() for c in block.text)
    linked = sum(c.isalnum() for a in block.links for c in a)
    return linked / letters if letters else 0.0


@dataclass
class Entry:
    feed: str
    title: str
    text: str
    blocks: list[Block]
    summary: tuple[str, ...]
    excerpt: bool
    full_text: bool


def _recurring(entries: list[Entry]) -> Counter[str]:
    """How many entries of the feed contain each block key (feed furniture recurs)."""
    counts: Counter[str] = Counter()
    for e in entries:
        counts.update({_key(b.text) for b in e.blocks if _key(b.text)})
    return counts


def check(entry: Entry, feed_keys: str, recurring: Counter[str], n_entries: int) -> dict[str, str]:
    """Defect class -> the first offending sentence, for one entry."""
    found: dict[str, str] = {}
    title_key = _key(entry.title)
    block_keys = [" " + _key(b.text) + " " for b in entry.blocks]
    # Blocks that are nothing but a link: show-note lists, "Comments", "Permalink" (a
    # whole linked sentence of prose is text, not furniture, and so is an entry that is
    # all link: a podcast's description linked to its audio).
    has_text = any(_link_share(b) < 0.5 and len(b.text.split()) >= 8 for b in entry.blocks)
    link_blocks = {
        _key(b.text)
        for b in entry.blocks
        if has_text
        and _link_share(b) >= 0.9
        and (len(b.text.split()) < 8 or not _FINAL.search(b.text))
    }
    mostly_links = {_key(b.text) for b in entry.blocks if _link_share(b) >= 0.5}
    text = entry.text

    def flag(cls: str, sentence: str) -> None:
        found.setdefault(cls, sentence)

    for sentence in entry.summary:
        key = _key(sentence)
        if _MARKUP.search(sentence):
            flag("markup", sentence)
        if not entry.excerpt:
            at = text.find(sentence)
            after = text[at + len(sentence) :] if at >= 0 else ""
            # The feed cut this sentence: it ends the text with an ellipsis, or an ellipsis
            # follows it where its own end should be. A "..." inside the text is style.
            if (at >= 0 and _TAIL.match(after) and _CUT_END.search(sentence)) or (
                at >= 0 and _CUT_AFTER.match(after) and not _FINAL.search(sentence)
            ):
                flag("cut", sentence)
        # In the text of the feed, but inside no single block of its entry: glued.
        in_no_block = key and block_keys and not any(f" {key} " in b for b in block_keys)
        if in_no_block and f" {key} " in feed_keys:
            flag("glued", sentence)
        if key and n_entries >= 4:
            hits = sum(c for k, c in recurring.items() if key == k or (len(key) > 20 and key in k))
            if hits >= 3:
                flag("recurring", sentence)
        if key and key in link_blocks:
            flag("link", sentence)
        if _PROMO.search(sentence):
            flag("promo", sentence)
        if _is_byline(sentence):
            flag("byline", sentence)
        if _is_code(sentence):
            flag("code", sentence)
        if title_key and (key == title_key or (len(key) > 20 and title_key.startswith(key))):
            flag("headline", sentence)
    if not entry.summary:
        usable = 0
        for b in entry.blocks:
            k = _key(b.text)
            if not k or k == title_key or k in mostly_links or recurring.get(k, 0) >= 3:
                continue
            if _PROMO.search(b.text) or _is_byline(b.text) or _is_code(b.text):
                continue
            usable += len(k.split())
        if usable - len(title_key.split()) >= 8:
            flag("empty", "")
    return found


# --- reading the feeds --------------------------------------------------------------------


def _raw_entries(body: bytes) -> list[tuple[str, bool]]:
    """Each entry's longest body as the feed has it: (raw text, is HTML)."""
    head = body[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"{"):
        data = json.loads(body.decode("utf-8-sig", errors="replace"))
        out = []
        for item in data.get("items") or []:
            if not isinstance(item, dict):
                continue
            cands = [
                (str(item.get("content_html") or ""), True),
                (str(item.get("content_text") or ""), False),
                (str(item.get("summary") or ""), False),
            ]
            out.append(max(cands, key=lambda c: len(re.sub(r"<[^>]*>", "", c[0]))))
        return out
    parsed = feedparser.parse(
        io.BytesIO(body),
        response_headers={"content-type": "application/xml"},
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    out = []
    for entry in parsed.get("entries") or []:
        cands = [(str(c.get("value") or ""), c.get("type")) for c in entry.get("content") or ()]
        if entry.get("summary"):
            cands.append((str(entry["summary"]), (entry.get("summary_detail") or {}).get("type")))
        if not cands:
            out.append(("", False))
            continue
        raw, mime = max(cands, key=lambda c: len(re.sub(r"<[^>]*>|&[#\w]+;", "", c[0]).strip()))
        is_html = not (mime and "html" not in str(mime).lower()) and ("<" in raw or "&" in raw)
        out.append((raw, is_html))
    return out


BUDGET: dict[str, int | None] = {}  # --no-budget sets {"max_words": None}


def _summarise(text: str, title: str) -> tuple[tuple[str, ...], bool]:
    # The config's defaults, as a digest without a summary: section summarises.
    defaults = SummaryConfig()
    options: dict[str, Any] = {"sentences": defaults.sentences, "method": defaults.method}
    if "max_words" in inspect.signature(summarize).parameters:  # older code has no budget
        options["max_words"] = BUDGET.get("max_words", getattr(defaults, "max_words", None))
    summary = summarize(text, title=title, **options)
    return summary.sentences, bool(getattr(summary, "excerpt", False))


def collect(folder: Path, raw_path: bool) -> dict[str, list[tuple[Entry, dict[str, str]]]]:
    """Per road ("text", and "raw" with ``raw_path``): every entry with its defects."""
    roads: dict[str, list[tuple[Entry, dict[str, str]]]] = defaultdict(list)
    for path in sorted(folder.iterdir()):
        if path.suffix not in (".xml", ".json"):
            continue
        body = path.read_bytes()
        try:
            feed = parse_feed(body, FeedSource(path=path), now=NOW)
        except Exception as exc:  # a bench must report, not stop
            print(f"{path.name}: not read ({exc})", file=sys.stderr)
            continue
        raws = _raw_entries(body)
        if len(raws) != len(feed.articles):
            raws = [("", False)] * len(feed.articles)
        per_road: dict[str, list[Entry]] = defaultdict(list)
        for article, (raw, is_html) in zip(feed.articles, raws, strict=True):
            blocks = read_blocks(raw, is_html) if raw else [Block(article.text)]
            sentences, excerpt = _summarise(article.text, article.title)
            per_road["text"].append(
                Entry(
                    path.name,
                    article.title,
                    article.text,
                    blocks,
                    sentences,
                    excerpt,
                    article.full_text,
                )
            )
        if raw_path:
            # What `digest summarize --jsonl` does with the feed's entries as its records.
            defaults = SummaryConfig()
            summaries = summarize_documents(
                [
                    Document(raw, title=a.title, feed=path.name)
                    for a, (raw, _) in zip(feed.articles, raws, strict=True)
                ],
                sentences=defaults.sentences,
                method=defaults.method,
                max_words=BUDGET.get("max_words", defaults.max_words),
            )
            for entry, summary in zip(per_road["text"], summaries, strict=True):
                per_road["raw"].append(
                    Entry(
                        entry.feed,
                        entry.title,
                        entry.text,
                        entry.blocks,
                        summary.sentences,
                        summary.excerpt,
                        entry.full_text,
                    )
                )
        for road, entries in per_road.items():
            recurring = _recurring(entries)
            whole = " " + " ".join(_key(e.text) for e in entries) + " "
            for e in entries:
                roads[road].append((e, check(e, whole, recurring, len(entries))))
    return roads


def report(
    rows: list[tuple[Entry, dict[str, str]]], label: str, examples: int, show: str | None
) -> float:
    halves = {"dev": [], "held": [], "all": []}  # type: dict[str, list[tuple[Entry, dict[str, str]]]]
    for row in rows:
        halves[half_of(row[0].feed)].append(row)
        halves["all"].append(row)
    print(f"\n{label}")
    feeds = {h: len({e.feed for e, _ in r}) for h, r in halves.items()}
    print(f"{'class':<10}" + "".join(f" {h + f' ({feeds[h]} feeds)':>22}" for h in halves))
    for cls in (*CLASSES, "any"):
        cells = []
        for rows_h in halves.values():
            n = len(rows_h)
            k = sum(1 for _, d in rows_h if (d if cls == "any" else cls in d))
            cells.append(f"{k:>5}/{n:<5} {100 * k / max(1, n):>6.1f}%")
        print(f"{cls:<10}" + "".join(f" {c:>22}" for c in cells))
    for cls in CLASSES:
        if show and cls != show:
            continue
        hits = [(e, d[cls]) for e, d in rows if cls in d]
        if not hits or not examples:
            continue
        print(f"  examples of {cls}:")
        step = max(1, len(hits) // examples)
        for e, sentence in hits[::step][:examples]:
            shown = sentence if len(sentence) <= 140 else sentence[:60] + " … " + sentence[-70:]
            print(f"    [{half_of(e.feed)}] {e.feed}: {shown!r}")
    n = len(rows)
    return 100 * sum(1 for _, d in rows if d) / max(1, n)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", nargs="?", type=Path, default=None)
    parser.add_argument("--examples", type=int, default=4, help="examples per class")
    parser.add_argument("--raw", action="store_true", help="also summarise the raw entry HTML")
    parser.add_argument("--show", default=None, help="examples of this class only")
    parser.add_argument(
        "--no-budget", action="store_true", help="summary.sentences without summary.max_words"
    )
    args = parser.parse_args(argv)
    if args.no_budget:
        BUDGET["max_words"] = None
    folder = (args.data_dir or default_data_dir()) / "feeds" / "real"
    if not folder.is_dir():
        print(f"{folder} not found; pass the shared data dir", file=sys.stderr)
        return 2
    roads = collect(folder, args.raw)
    rate = report(
        roads["text"], "feed text -> summarize (the digest's road)", args.examples, args.show
    )
    if args.raw:
        report(
            roads["raw"],
            "raw entry HTML -> summarize (digest summarize --jsonl)",
            args.examples,
            args.show,
        )
    print(f"RESULT summary_hygiene {rate:.1f} % (target 2.0)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
