"""Documents per second of `default` and our LexRank against stock sumy LexRank.

    .venv/bin/python bench/summary_speed.py [DATA_DIR] [--long N] [--repeat R]

All three get the same tokenizer, stemmer and stop words, in the same run. Two figures:
"rank" times the summarizer alone on a ready sumy document (words are re-tokenised every
time); "end-to-end" adds what every call pays (cleaning, language detection, splitting).
Corpora: the CNN/DailyMail DEV file, and long documents of 200+ sentences made by
concatenating CNN/DM articles. Last line:
``RESULT summary_speed <default vs stock on long docs, end-to-end> x (stock_lexrank 1.0)``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Summaries multiply small matrices; OpenBLAS threads on a busy 2-core machine cost more
# than they bring (measured: 20 ms -> 5.6 ms for one 233-sentence LexRank). Same setting
# for every runner; override from the environment.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from summary_quality import default_data_dir, load_docs, summ_dir  # noqa: E402
from sumy.summarizers.lex_rank import LexRankSummarizer  # noqa: E402

from digest.text.summarize import (  # noqa: E402
    FastLexRankSummarizer,
    Prepared,
    build_document,
    make_summarizer,
    prepare,
)


def _stock(prepared: Prepared) -> Any:
    summarizer = LexRankSummarizer(prepared.res.stemmer)
    summarizer.stop_words = prepared.res.stop_words
    return summarizer


def _fast(prepared: Prepared) -> Any:
    summarizer = FastLexRankSummarizer(prepared.res.stemmer)
    summarizer.stop_words = prepared.res.stop_words
    return summarizer


def _default(prepared: Prepared) -> Any:
    return make_summarizer("default", prepared)


RUNNERS: dict[str, Callable[[Prepared], Any]] = {
    "stock_lexrank": _stock,
    "our_lexrank": _fast,
    "default": _default,
}


def _time(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def measure(texts: list[str], lang: str, repeat: int) -> dict[str, tuple[float, float]]:
    """docs/sec per runner: (rank only, end-to-end)."""
    prepared = [prepare(t, language=lang) for t in texts]
    # Warm caches (stems, Sastrawi, sentencex) so no runner pays the first-use cost.
    for p in prepared:
        for make in RUNNERS.values():
            make(p)(build_document(p), 3)
    best: dict[str, list[float]] = {name: [float("inf"), float("inf")] for name in RUNNERS}
    # Runners take turns within each repeat, so a burst of load elsewhere hits all of them.
    for _ in range(repeat):
        for name, make in RUNNERS.items():

            def rank_only(make: Callable[[Prepared], Any] = make) -> None:
                for p in prepared:
                    make(p)(build_document(p), 3)

            def end_to_end(make: Callable[[Prepared], Any] = make) -> None:
                for text in texts:
                    p = prepare(text, language=lang)
                    make(p)(build_document(p), 3)

            best[name][0] = min(best[name][0], _time(rank_only, 1))
            best[name][1] = min(best[name][1], _time(end_to_end, 1))
    out = {name: (len(texts) / b[0], len(texts) / b[1]) for name, b in best.items()}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", nargs="?", type=Path, default=None)
    parser.add_argument("--long", type=int, default=12, help="number of long documents")
    parser.add_argument("--repeat", type=int, default=5, help="best of R timed passes")
    args = parser.parse_args(argv)
    path = summ_dir(args.data_dir or default_data_dir()) / "cnndm_dev.jsonl"
    if not path.is_file():
        print(f"{path} not found; pass the shared data dir", file=sys.stderr)
        return 2
    docs = load_docs(path)
    texts = [d["text"] for d in docs]
    long_texts: list[str] = []
    start = 0
    while len(long_texts) < args.long and start < len(texts):
        parts: list[str] = []
        while (
            start < len(texts) and len(prepare("\n\n".join(parts), language="en").sentences) < 200
        ):
            parts.append(texts[start])
            start += 1
        long_texts.append("\n\n".join(parts))
    sizes = [len(prepare(t, language="en").sentences) for t in long_texts]
    corpora = {
        f"cnndm_dev ({len(texts)} docs)": texts,
        f"long ({len(long_texts)} docs, {min(sizes)}-{max(sizes)} sentences)": long_texts,
    }
    print(f"{'corpus':<40} {'runner':<14} {'rank docs/s':>12} {'x':>6} {'e2e docs/s':>11} {'x':>6}")
    ratio = 0.0
    for label, corpus in corpora.items():
        result = measure(corpus, "en", args.repeat)
        base_rank, base_full = result["stock_lexrank"]
        for name, (rank, full) in result.items():
            print(
                f"{label:<40} {name:<14} {rank:>12.1f} {rank / base_rank:>6.1f}"
                f" {full:>11.1f} {full / base_full:>6.1f}",
                flush=True,
            )
        ratio = result["default"][1] / base_full
    print(f"RESULT summary_speed {ratio:.1f} x (stock_lexrank 1.0)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
