"""Main-text extraction quality: our extractor against trafilatura's defaults, same run.

For every page in the articles folder (``NNN.html`` with ground truth ``NNN.txt`` and
metadata ``NNN.json``) both extractors run and are scored with token-level precision,
recall and F1 over bags of words (``\\w+`` lower-cased, multiset overlap), as in
scrapinghub's article-extraction-benchmark. Scores are averaged over pages, overall, per
source dataset and per language; pages per second are measured for each extractor.

Usage (from the repository root)::

    .venv/bin/python bench/extract_quality.py [DATA_DIR] [-v]

``-v`` adds per-page F1. DATA_DIR defaults to ``../shared/data/articles`` (or
``$DIGEST_SHARED_DATA/articles``).
The last line is ``RESULT extract_quality <our F1> F1 (trafilatura <its F1>)``.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

import trafilatura

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from digest.errors import ExtractError
from digest.sources.extract import decode_html, extract_html

WORD = re.compile(r"\w+")


def tokens(text: str) -> Counter[str]:
    return Counter(w.lower() for w in WORD.findall(text))


def prf(predicted: str, truth: str) -> tuple[float, float, float]:
    """Precision, recall and F1 of the predicted tokens against the truth (multisets)."""
    pred, gold = tokens(predicted), tokens(truth)
    overlap = sum((pred & gold).values())
    n_pred, n_gold = sum(pred.values()), sum(gold.values())
    if n_pred == 0 and n_gold == 0:
        return 1.0, 1.0, 1.0
    precision = overlap / n_pred if n_pred else 0.0
    recall = overlap / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def ours(data: bytes, url: str | None) -> str:
    try:
        return extract_html(data, url=url).text
    except ExtractError:
        return ""


def trafilatura_default(data: bytes, url: str | None) -> str:
    # Same decoding as ours so the comparison is about extraction, not charsets.
    return trafilatura.extract(decode_html(data), url=url) or ""


def default_dir() -> Path:
    env = os.environ.get("DIGEST_SHARED_DATA")
    base = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"
    return base / "articles"


def main(argv: list[str]) -> int:
    args = [a for a in argv[1:] if not a.startswith("-")]
    data_dir = Path(args[0]) if args else default_dir()
    if not data_dir.is_dir():
        print(f"no articles folder at {data_dir}; pass the data dir as argument", file=sys.stderr)
        return 2
    pages = []
    for meta_path in sorted(data_dir.glob("*.json")):
        html_path = meta_path.with_suffix(".html")
        txt_path = meta_path.with_suffix(".txt")
        if not html_path.exists() or not txt_path.exists():
            continue
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        pages.append(
            (
                meta_path.stem,
                html_path.read_bytes(),
                txt_path.read_text(encoding="utf-8"),
                meta.get("url"),
                str(meta.get("language") or "?"),
                _short(str(meta.get("source_dataset", "?"))),
            )
        )
    if not pages:
        print(f"no pages (.html + .txt + .json) in {data_dir}", file=sys.stderr)
        return 2

    extractors: dict[str, Callable[[bytes, str | None], str]] = {
        "ours": ours,
        "trafilatura": trafilatura_default,
    }
    scores: dict[str, list[tuple[str, str, str, float, float, float]]] = defaultdict(list)
    speed: dict[str, float] = {}
    for name, fn in extractors.items():
        start = time.perf_counter()
        for page_id, html, truth, url, lang, dataset in pages:
            p, r, f = prf(fn(html, url), truth)
            scores[name].append((page_id, dataset, lang, p, r, f))
        speed[name] = len(pages) / (time.perf_counter() - start)

    def table(title: str, key: Callable[[tuple[str, str, str, float, float, float]], str]) -> None:
        groups = sorted({key(row) for row in scores["ours"]})
        print(
            f"\n{title:<14} {'pages':>5}  {'ours P':>6} {'R':>5} {'F1':>5}  "
            f"{'traf P':>6} {'R':>5} {'F1':>5}  {'ΔF1':>6}"
        )
        for group in [*groups, "ALL"]:
            cells = []
            count = 0
            for name in extractors:
                rows = [row for row in scores[name] if group == "ALL" or key(row) == group]
                count = len(rows)
                cells.append(tuple(sum(row[i] for row in rows) / len(rows) for i in (3, 4, 5)))
            (op, or_, of), (tp, tr, tf) = cells
            print(
                f"{group:<14} {count:>5}  {op:>6.3f} {or_:>5.3f} {of:>5.3f}  "
                f"{tp:>6.3f} {tr:>5.3f} {tf:>5.3f}  {of - tf:>+6.3f}"
            )

    print(f"extract_quality: {len(pages)} pages from {data_dir}")
    table("dataset", lambda row: row[1])
    table("language", lambda row: row[2])
    print("\npages/s: " + ", ".join(f"{name} {value:.1f}" for name, value in speed.items()))
    if "-v" in argv:
        print("\nper page F1 (ours, trafilatura):")
        for a, b in zip(scores["ours"], scores["trafilatura"], strict=True):
            print(f"  {a[0][:40]:<40} {a[5]:.3f} {b[5]:.3f} {a[5] - b[5]:+.3f}")
    of = sum(row[5] for row in scores["ours"]) / len(pages)
    tf = sum(row[5] for row in scores["trafilatura"]) / len(pages)
    print(f"RESULT extract_quality {of:.3f} F1 (trafilatura {tf:.3f})")
    return 0


def _short(dataset: str) -> str:
    for name in ("article-extraction-benchmark", "readability", "newspaper4k", "indonesian"):
        if name in dataset:
            return {"article-extraction-benchmark": "aeb", "indonesian": "idnews"}.get(name, name)
    return dataset


if __name__ == "__main__":
    sys.exit(main(sys.argv))
