"""Pipeline throughput: a --dry-run digest of every real feed, ours against stock sumy LexRank.

    .venv/bin/python bench/pipeline.py [FEEDS_DIR] [--repeat N]

Builds one digest (dry run: nothing recorded) from every feed in ``FEEDS_DIR`` (default
``../shared/data/feeds/real``) through the library's own stages, timing each: gather (read +
parse), full text (off: no network here), summarise, select, render. The baseline is the same
pipeline in the same process with sumy's stock ``LexRankSummarizer`` (given our offline
tokenizer, stemmer and stop words, since sumy's own tokenizer needs NLTK data) as the
summariser. Prints articles per second, time per stage and peak memory for both, then the
ratio. Absolute times drift on shared machines; the ratio is the figure to compare.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from digest.config import parse_config  # noqa: E402
from digest.models import Summary  # noqa: E402
from digest.pipeline import make_http  # noqa: E402
from digest.render import render_digest  # noqa: E402
from digest.select import Candidate, select  # noqa: E402
from digest.sources.intake import gather  # noqa: E402
from digest.store import open_store  # noqa: E402
from digest.text.summaries import summarize_all  # noqa: E402
from digest.text.summarize import summarize  # noqa: E402

NOW = dt.datetime(2026, 11, 26, tzinfo=dt.UTC)


def stock_lexrank(
    text: str,
    *,
    title: str | None = None,
    language: str = "auto",
    sentences: int = 3,
    method: str = "default",
    max_words: int | None = None,
) -> Summary:
    """sumy's own LexRank on our cleaned text and language resources: the baseline."""
    from sumy.summarizers.lex_rank import LexRankSummarizer

    from digest.text.summarize import build_document, prepare

    # The same cleaned sentences the default method sees, so only the ranking differs.
    prepared = prepare(text, title=title, language=language)
    res = prepared.res
    summarizer = LexRankSummarizer(res.stemmer)
    summarizer.stop_words = res.stop_words
    picked = summarizer(build_document(prepared), sentences)
    return Summary(tuple(str(s) for s in picked), "stock-lexrank", res.code or "und")


def run_once(feeds_dir: Path, summarizer: Any) -> dict[str, Any]:
    files = sorted(p for p in feeds_dir.iterdir() if p.suffix in (".xml", ".json", ".rss"))
    with tempfile.TemporaryDirectory() as tmp:
        config = parse_config(
            {
                "feeds": [{"path": str(p), "full_text": "never"} for p in files],
                "limits": {"max_items": 10_000, "max_items_per_feed": 10_000},
                "state": f"{tmp}/state.sqlite",
            },
            Path(tmp),
        )
        stages: dict[str, float] = {}
        tracemalloc.start()
        start = time.perf_counter()
        with open_store(config.state, read_only=True) as store, make_http(config) as http:
            t = time.perf_counter()
            intake = gather(config, http=http, now=NOW, store=store)
            stages["gather"] = time.perf_counter() - t
            t = time.perf_counter()
            summarized = summarize_all(
                config, intake.articles, store=store, summarizer=summarizer
            ).items
            stages["summarize"] = time.perf_counter() - t
            t = time.perf_counter()
            selection = select(
                [Candidate(a, s, NOW) for a, s in summarized],
                now=NOW,
                max_items=10_000,
                max_items_per_feed=10_000,
            )
            stages["select"] = time.perf_counter() - t
        from digest.models import Digest

        digest = Digest(
            title="Bench",
            date=NOW.date(),
            language="en",
            timezone="UTC",
            generated_at=NOW,
            sections=selection.sections,
            top=selection.top,
        )
        t = time.perf_counter()
        # max_html_kb is large: the benchmark renders every item instead of trimming.
        rendered = render_digest(digest, max_html_kb=100_000)
        stages["render"] = time.perf_counter() - t
        total = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return {
        "feeds": len(files),
        "articles": len(intake.articles),
        "items": len(digest.items),
        "html_kb": len(rendered.html.encode()) / 1024,
        "total": total,
        "stages": stages,
        "peak_mb": peak / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("feeds", nargs="?", default=str(REPO.parent / "shared/data/feeds/real"))
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    feeds_dir = Path(args.feeds)
    if not feeds_dir.is_dir():
        sys.exit(f"no feeds folder at {feeds_dir}; pass one as the first argument")

    runs: dict[str, list[dict[str, Any]]] = {"digest (default)": [], "stock sumy LexRank": []}
    for _ in range(args.repeat):
        # Alternate the two so drift on a noisy machine hits both alike.
        runs["digest (default)"].append(run_once(feeds_dir, summarize))
        runs["stock sumy LexRank"].append(run_once(feeds_dir, stock_lexrank))

    print(
        f"{'pipeline':<22}{'articles':>9}{'art/s':>9}{'gather':>9}{'summ.':>9}"
        f"{'select':>9}{'render':>9}{'total':>9}{'peak MB':>9}"
    )
    best: dict[str, dict[str, Any]] = {}
    for name, results in runs.items():
        r = min(results, key=lambda x: x["total"])
        best[name] = r
        s = r["stages"]
        print(
            f"{name:<22}{r['articles']:>9}{r['articles'] / r['total']:>9.1f}"
            f"{s['gather']:>9.2f}{s['summarize']:>9.2f}{s['select']:>9.2f}{s['render']:>9.2f}"
            f"{r['total']:>9.2f}{r['peak_mb']:>9.1f}"
        )
    ours = best["digest (default)"]
    base = best["stock sumy LexRank"]
    ratio = (ours["articles"] / ours["total"]) / (base["articles"] / base["total"])
    print(f"feeds: {ours['feeds']}, digest items: {ours['items']}, html: {ours['html_kb']:.0f} KB")
    print(f"RESULT pipeline {ratio:.2f} x_articles_per_s (stock_lexrank 1.00)")


if __name__ == "__main__":
    main()
