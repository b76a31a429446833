"""ROUGE of every summary method on the DEV files of ../shared/data/summ.

    .venv/bin/python bench/summary_quality.py [DATA_DIR] [--limit N] [--methods a,b,...]

Scorer: rouge-score with a Unicode word tokenizer (\\w+, lower-cased, no stemming); R-Lsum
with one sentence per line. IndoSum records have no title, but their id ends with the
headline's slug, which is used as the title (real articles always have one). Prints one
table and, last, ``RESULT summary_quality <default R-1 on indosum> R-1 (lead3 <value>)``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rouge_score import rouge_scorer  # noqa: E402

from digest.text.summarize import METHODS, summarize  # noqa: E402

FILES = ("indosum_dev", "cnndm_dev", "vietnews_dev")
_WORD = re.compile(r"\w+", re.UNICODE)


class UnicodeTokenizer:
    """rouge-score's default tokenizer drops every non-ASCII letter; this one keeps them."""

    def tokenize(self, text: str) -> list[str]:
        return _WORD.findall(text.lower())


def default_data_dir() -> Path:
    env = os.environ.get("DIGEST_SHARED_DATA")
    return Path(env) if env else ROOT.parent / "shared" / "data"


def summ_dir(data_dir: Path) -> Path:
    return data_dir / "summ" if (data_dir / "summ").is_dir() else data_dir


def load_docs(path: Path, limit: int | None = None) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                docs.append(json.loads(line))
            if limit is not None and len(docs) >= limit:
                break
    return docs


def title_of(doc: dict[str, Any]) -> str | None:
    """The headline: given, or from an IndoSum id's slug ("1512...-unhan-gelorakan-...")."""
    if doc.get("title"):
        return str(doc["title"])
    if str(doc.get("source", "")).lower().startswith("indosum") or doc.get("lang") == "id":
        slug = str(doc.get("id", "")).split("-", 1)
        if len(slug) == 2 and slug[0].isdigit():
            return slug[1].replace("-", " ")
    return None


def make_scorer() -> Any:
    return rouge_scorer.RougeScorer(
        ["rouge1", "rouge2", "rougeLsum"], use_stemmer=False, tokenizer=UnicodeTokenizer()
    )


def score_method(
    docs: list[dict[str, Any]],
    summarise: Callable[[dict[str, Any]], tuple[str, ...]],
    scorer: Any,
) -> tuple[float, float, float]:
    """Mean F1 x 100 of R-1, R-2 and R-Lsum of ``summarise`` over ``docs``."""
    totals = [0.0, 0.0, 0.0]
    for doc in docs:
        prediction = "\n".join(summarise(doc))
        scores = scorer.score(doc["summary"], prediction)
        for k, name in enumerate(("rouge1", "rouge2", "rougeLsum")):
            totals[k] += scores[name].fmeasure
    n = max(1, len(docs))
    return (100 * totals[0] / n, 100 * totals[1] / n, 100 * totals[2] / n)


def method_runner(method: str, sentences: int = 3) -> Callable[[dict[str, Any]], tuple[str, ...]]:
    def run(doc: dict[str, Any]) -> tuple[str, ...]:
        summary = summarize(
            doc["text"],
            title=title_of(doc),
            language=doc.get("lang") or "auto",
            sentences=sentences,
            method=method,
        )
        return summary.sentences

    return run


def iter_files(data_dir: Path, limit: int | None) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    for name in FILES:
        path = summ_dir(data_dir) / f"{name}.jsonl"
        if path.is_file():
            yield name, load_docs(path, limit)


# --- fitting the default method (--fit) ---------------------------------------------------

GRID: dict[str, tuple[float, ...]] = {
    "centrality": (0.0, 0.1, 0.2, 0.3),
    "title": (0.2, 0.3, 0.4, 0.6),
    "decay": (2.0, 3.0, 5.0),
    "min_words": (4.0, 6.0, 8.0),
    "quote": (0.0, 0.1, 0.2, 0.3),
}


def _ngrams(tokens: list[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def _f1(pred: Counter[tuple[str, ...]], ref: Counter[tuple[str, ...]]) -> float:
    # rouge-score's n-gram F1: clipped overlap over predicted and reference counts
    overlap = sum((pred & ref).values())
    if not overlap:
        return 0.0
    precision = overlap / sum(pred.values())
    recall = overlap / sum(ref.values())
    return 2 * precision * recall / (precision + recall)


class _FitDoc:
    """One DEV document with the default method's features computed once."""

    def __init__(self, doc: dict[str, Any]) -> None:
        from digest.text.summarize import build_document, make_summarizer, prepare

        prepared = prepare(doc["text"], title=title_of(doc), language=doc.get("lang") or "auto")
        self.sentences = prepared.sentences
        summarizer = make_summarizer("default", prepared)
        document = build_document(prepared)
        self.features = summarizer.features(document.sentences) if self.sentences else {}
        self.tokens = [UnicodeTokenizer().tokenize(s) for s in self.sentences]
        ref = UnicodeTokenizer().tokenize(doc["summary"])
        self.ref1, self.ref2 = _ngrams(ref, 1), _ngrams(ref, 2)
        self._memo: dict[tuple[int, ...], tuple[float, float]] = {}

    def rouge(self, chosen: tuple[int, ...]) -> tuple[float, float]:
        if chosen not in self._memo:
            tokens = [t for i in chosen for t in self.tokens[i]]
            self._memo[chosen] = (
                _f1(_ngrams(tokens, 1), self.ref1),
                _f1(_ngrams(tokens, 2), self.ref2),
            )
        return self._memo[chosen]

    def choose(self, weights: dict[str, float], count: int = 3) -> tuple[int, ...]:
        import numpy as np

        from digest.text.summarize import combine_features

        n = len(self.sentences)
        if n <= count:
            return tuple(range(n))
        score = combine_features(self.features, weights)
        # the same tie-break as sumy: stable sort by descending score
        order = sorted(range(n), key=lambda i: -float(score[i]))
        del np
        return tuple(sorted(order[:count]))


def fit(data_dir: Path, limit: int | None) -> int:
    """Grid search of the default method's weights on the IndoSum and CNN/DM DEV files.

    Objective (maximin, so neither language is sacrificed): the smallest of
    IndoSum R-1 margin over Lead-3 minus 1.0, CNN/DM R-1 margin and CNN/DM R-2 margin.
    """
    import itertools

    all_docs = {
        name: [_FitDoc(d) for d in docs]
        for name, docs in iter_files(data_dir, limit)
        if name in ("indosum_dev", "cnndm_dev")
    }

    def mean(docs: list[_FitDoc], choose: Callable[[_FitDoc], tuple[int, ...]]) -> list[float]:
        r = [d.rouge(choose(d)) for d in docs]
        return [100 * sum(x[0] for x in r) / len(r), 100 * sum(x[1] for x in r) / len(r)]

    def lead3(d: _FitDoc) -> tuple[int, ...]:
        return tuple(range(min(3, len(d.sentences))))

    def search(
        part: Callable[[int], bool],
    ) -> list[tuple[float, dict[str, float], dict[str, list[float]]]]:
        docs = {k: [d for i, d in enumerate(v) if part(i)] for k, v in all_docs.items()}
        lead = {k: mean(v, lead3) for k, v in docs.items()}
        rows = []
        keys = list(GRID)
        for values in itertools.product(*(GRID[k] for k in keys)):
            weights = {"position": 1.0, **dict(zip(keys, values, strict=True))}
            res = {k: mean(v, lambda d, w=weights: d.choose(w)) for k, v in docs.items()}
            # margins over Lead-3: (IndoSum R-1 - 1.0, CNN/DM R-1, CNN/DM R-2)
            res["margins"] = [
                res["indosum_dev"][0] - lead["indosum_dev"][0] - 1.0,
                res["cnndm_dev"][0] - lead["cnndm_dev"][0],
                res["cnndm_dev"][1] - lead["cnndm_dev"][1],
            ]
            rows.append((min(res["margins"]), weights, res))
        rows.sort(key=lambda r: -r[0])
        return rows

    def show(margin: float, weights: dict[str, float], res: dict[str, list[float]]) -> None:
        cells = " ".join(f"{k}={v:g}" for k, v in weights.items() if k != "position")
        print(
            f"{margin:+.2f}  {cells}"
            f"  indosum {res['indosum_dev'][0]:.2f}/{res['indosum_dev'][1]:.2f}"
            f"  cnndm {res['cnndm_dev'][0]:.2f}/{res['cnndm_dev'][1]:.2f}"
        )

    print("lead3", {k: [round(x, 2) for x in mean(v, lead3)] for k, v in all_docs.items()})
    print("maximin margin, weights (position=1), R-1/R-2 -- all DEV documents:")
    for row in search(lambda i: True)[:10]:
        show(*row)
    # Two-fold check of overfitting: fit on even documents, score on odd ones and back.
    for name, fit_part, test_part in (
        ("even->odd", lambda i: i % 2 == 0, lambda i: i % 2 == 1),
        ("odd->even", lambda i: i % 2 == 1, lambda i: i % 2 == 0),
    ):
        _margin, weights, _res = search(fit_part)[0]
        held = next(r for r in search(test_part) if r[1] == weights)
        print(f"{name}: best of the fitting half, scored on the other half:")
        show(*held)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", nargs="?", type=Path, default=None)
    parser.add_argument("--limit", type=int, default=None, help="first N documents per file")
    parser.add_argument("--methods", default=",".join(("default", "lead", *METHODS[2:])))
    parser.add_argument("--fit", action="store_true", help="grid-search the default weights")
    args = parser.parse_args(argv)
    data_dir = args.data_dir or default_data_dir()
    if args.fit:
        return fit(data_dir, args.limit)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if not (summ_dir(data_dir) / "indosum_dev.jsonl").is_file():
        print(f"no DEV files under {summ_dir(data_dir)}; pass the shared data dir", file=sys.stderr)
        return 2
    scorer = make_scorer()
    results: dict[tuple[str, str], tuple[float, float, float]] = {}
    print(f"{'file':<14} {'method':<10} {'docs':>5} {'R-1':>6} {'R-2':>6} {'R-Lsum':>7} {'s':>6}")
    for name, docs in iter_files(data_dir, args.limit):
        for method in methods:
            started = time.perf_counter()
            label = "lead3" if method == "lead" else method
            r = score_method(docs, method_runner(method), scorer)
            results[(name, label)] = r
            elapsed = time.perf_counter() - started
            print(
                f"{name:<14} {label:<10} {len(docs):>5} {r[0]:>6.1f} {r[1]:>6.1f} {r[2]:>7.1f}"
                f" {elapsed:>6.1f}",
                flush=True,
            )
    default = results.get(("indosum_dev", "default"), (float("nan"),) * 3)
    lead = results.get(("indosum_dev", "lead3"), (float("nan"),) * 3)
    print(f"RESULT summary_quality {default[0]:.1f} R-1 (lead3 {lead[0]:.1f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
