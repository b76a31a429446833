"""ROUGE of every summary method on the DEV files of ../shared/data/summ.

    .venv/bin/python bench/summary_quality.py [DATA_DIR] [--limit N] [--methods a,b,...]
        [--max-words W] [--no-cv]
    .venv/bin/python bench/summary_quality.py --fit     # fit the default scorer, print it

Scorer: rouge-score with a Unicode word tokenizer (\\w+, lower-cased, no stemming); R-Lsum
with one sentence per line. IndoSum records have no title, but their id ends with the
headline's slug, which is used as the title (real articles always have one). Prints the
table of methods (and with --max-words, default and lead under that word budget), the gain
of default over Lead-3 on each DEV file with a 95% bootstrap interval over documents, the
5-fold cross-validation of the default scorer on indosum_train (refitted per fold, as
--fit does) and, last, ``RESULT summary_quality <default R-1 on indosum> R-1 (lead3 <v>)``.
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


def method_runner(
    method: str, sentences: int = 3, max_words: int | None = None
) -> Callable[[dict[str, Any]], tuple[str, ...]]:
    def run(doc: dict[str, Any]) -> tuple[str, ...]:
        summary = summarize(
            doc["text"],
            title=title_of(doc),
            language=doc.get("lang") or "auto",
            sentences=sentences,
            method=method,
            max_words=max_words,
        )
        return summary.sentences

    return run


def iter_files(data_dir: Path, limit: int | None) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    for name in FILES:
        path = summ_dir(data_dir) / f"{name}.jsonl"
        if path.is_file():
            yield name, load_docs(path, limit)


# --- the default method's scorer: fitting, cross-validation, intervals -------------------

TRAIN = "indosum_train"
L2 = 10.0  # ridge of the logistic regression; 0.1-100 gave the same CV gain within 0.15 R-1
FOLDS = 5
SEED = 20240601


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


class FitDoc:
    """One document with its sentence features and n-grams computed once."""

    def __init__(self, doc: dict[str, Any]) -> None:
        from digest.text.summarize import build_document, prepare, sentence_features

        prepared = prepare(doc["text"], title=title_of(doc), language=doc.get("lang") or "auto")
        self.sentences = prepared.sentences
        document = build_document(prepared)
        ranker = _ranker(prepared)
        self.features = (
            sentence_features(prepared, document.sentences, ranker) if self.sentences else None
        )
        tokenizer = UnicodeTokenizer()
        self.tokens = [tokenizer.tokenize(s) for s in self.sentences]
        ref = tokenizer.tokenize(doc["summary"])
        self.ref1, self.ref2 = _ngrams(ref, 1), _ngrams(ref, 2)
        self._memo: dict[tuple[int, ...], tuple[float, float]] = {}

    def rouge(self, chosen: Any) -> tuple[float, float]:
        key = tuple(sorted(int(i) for i in chosen))
        if key not in self._memo:
            tokens = [t for i in key for t in self.tokens[i]]
            self._memo[key] = (
                _f1(_ngrams(tokens, 1), self.ref1),
                _f1(_ngrams(tokens, 2), self.ref2),
            )
        return self._memo[key]

    def oracle(self, count: int = 3) -> list[int]:
        """The greedy ROUGE-1+2 oracle: the label the scorer learns."""
        chosen: list[int] = []
        best = 0.0
        for _ in range(count):
            scored = [
                (sum(self.rouge([*chosen, i])), i)
                for i in range(len(self.sentences))
                if i not in chosen
            ]
            if not scored:
                break
            value, index = max(scored)
            if value <= best:
                break
            best = value
            chosen.append(index)
        return chosen

    def lead(self, count: int = 3) -> list[int]:
        return list(range(min(count, len(self.sentences))))

    def top(self, weights: Any, intercept: float, count: int = 3) -> list[int]:
        import numpy as np

        scores = self.features @ weights + intercept
        return sorted(np.argsort(-scores, kind="stable")[:count].tolist())


def _ranker(prepared: Any) -> Any:
    from digest.text.summarize import FastLexRankSummarizer

    ranker = FastLexRankSummarizer(prepared.res.stemmer)
    ranker.stop_words = prepared.res.stop_words
    return ranker


def fit_logistic(docs: list[FitDoc], l2: float = L2) -> tuple[Any, float]:
    """Weights and intercept over raw features (standardisation folded in), by Newton."""
    import numpy as np

    usable = [d for d in docs if d.features is not None]
    x = np.vstack([d.features for d in usable])
    y = np.zeros(len(x))
    offset = 0
    for d in usable:
        y[offset + np.array(d.oracle(), dtype=int)] = 1.0
        offset += len(d.sentences)
    mean, std = x.mean(0), x.std(0)
    std[std == 0] = 1.0
    z = np.hstack([(x - mean) / std, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    ridge = l2 * np.diag(np.r_[np.ones(len(w) - 1), 0.0])
    for _ in range(25):
        p = 1.0 / (1.0 + np.exp(-(z @ w)))
        gradient = z.T @ (p - y) + ridge @ w
        hessian = (z * (p * (1 - p))[:, None]).T @ z + ridge
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    weights = w[:-1] / std
    return weights, float(w[-1] - weights @ mean)


def mean_rouge(docs: list[FitDoc], pick: Callable[[FitDoc], list[int]]) -> Any:
    import numpy as np

    return 100 * np.array([d.rouge(pick(d)) for d in docs if d.sentences])


def bootstrap(diffs: Any, rounds: int = 2000) -> tuple[float, float]:
    """95% interval of the mean of per-document differences, resampling documents."""
    import numpy as np

    rng = np.random.default_rng(SEED)
    means = diffs[rng.integers(0, len(diffs), size=(rounds, len(diffs)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def load_fit_docs(data_dir: Path, name: str, limit: int | None) -> list[FitDoc]:
    path = summ_dir(data_dir) / f"{name}.jsonl"
    return [FitDoc(d) for d in load_docs(path, limit)] if path.is_file() else []


def cross_validate(train: list[FitDoc]) -> Any:
    """Per fold: (R-1, R-2) of the scorer fitted on the other folds minus Lead-3."""
    import numpy as np

    order = np.random.default_rng(SEED).permutation(len(train))
    folds = np.array_split(order, FOLDS)
    gains = []
    for k in range(FOLDS):
        held = [train[i] for i in folds[k]]
        fitted = [train[i] for j in range(FOLDS) if j != k for i in folds[j]]
        weights, intercept = fit_logistic(fitted)
        model = mean_rouge(held, lambda d, w=weights, b=intercept: d.top(w, b)).mean(0)
        lead = mean_rouge(held, lambda d: d.lead()).mean(0)
        gains.append(model - lead)
    return np.array(gains)


def print_cv(train: list[FitDoc]) -> None:
    gains = cross_validate(train)
    print(f"\n{FOLDS}-fold cross-validation on {TRAIN} ({len(train)} docs): default - lead3")
    print(f"{'fold':<6} {'R-1':>7} {'R-2':>7}")
    for k, (r1, r2) in enumerate(gains, start=1):
        print(f"{k:<6} {r1:>+7.2f} {r2:>+7.2f}")
    mean, spread = gains.mean(0), gains.std(0, ddof=1)
    print(
        f"{'mean':<6} {mean[0]:>+7.2f} {mean[1]:>+7.2f}"
        f"   (sd over folds {spread[0]:.2f} / {spread[1]:.2f})"
    )


def fit(data_dir: Path, limit: int | None) -> int:
    """Fit the default scorer on indosum_train, show its CV and DEV gains, print constants."""
    from digest.text.summarize import FEATURES

    started = time.perf_counter()
    train = load_fit_docs(data_dir, TRAIN, limit)
    if not train:
        print(f"{TRAIN}.jsonl not found under {summ_dir(data_dir)}", file=sys.stderr)
        return 2
    print(f"features of {len(train)} documents in {time.perf_counter() - started:.0f} s")
    print_cv(train)
    weights, intercept = fit_logistic(train)
    print("\nDEV files, scorer fitted on all of indosum_train: default - lead3 (95% bootstrap)")
    for name in FILES:
        docs = load_fit_docs(data_dir, name, limit)
        if not docs:
            continue
        diffs = mean_rouge(docs, lambda d: d.top(weights, intercept)) - mean_rouge(
            docs, lambda d: d.lead()
        )
        r1, r2 = bootstrap(diffs[:, 0]), bootstrap(diffs[:, 1])
        print(
            f"{name:<14} R-1 {diffs[:, 0].mean():+.2f} [{r1[0]:+.2f}, {r1[1]:+.2f}]"
            f"  R-2 {diffs[:, 1].mean():+.2f} [{r2[0]:+.2f}, {r2[1]:+.2f}]"
        )
    print("\n# paste into digest/text/summarize.py")
    print(f"DEFAULT_INTERCEPT = {intercept:.4f}")
    print("DEFAULT_COEFFICIENTS: dict[str, float] = {")
    for name, value in zip(FEATURES, weights, strict=True):
        print(f'    "{name}": {value:.4f},')
    print("}")
    return 0


def gains_with_intervals(
    data_dir: Path, limit: int | None, scorer: Any, max_words: int | None = None
) -> dict[str, tuple[float, float, tuple[float, float], tuple[float, float]]]:
    """Per DEV file: default - lead3 (both within ``max_words`` when given) for R-1 and R-2,
    with 95% bootstrap intervals over documents."""
    import numpy as np

    out = {}
    for name, docs in iter_files(data_dir, limit):
        default = method_runner("default", max_words=max_words)
        lead = method_runner("lead", max_words=max_words)
        diffs = []
        for doc in docs:
            a = scorer.score(doc["summary"], "\n".join(default(doc)))
            b = scorer.score(doc["summary"], "\n".join(lead(doc)))
            diffs.append(
                (
                    100 * (a["rouge1"].fmeasure - b["rouge1"].fmeasure),
                    100 * (a["rouge2"].fmeasure - b["rouge2"].fmeasure),
                )
            )
        d = np.array(diffs)
        out[name] = (d[:, 0].mean(), d[:, 1].mean(), bootstrap(d[:, 0]), bootstrap(d[:, 1]))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", nargs="?", type=Path, default=None)
    parser.add_argument("--limit", type=int, default=None, help="first N documents per file")
    parser.add_argument("--methods", default=",".join(("default", "lead", *METHODS[2:])))
    parser.add_argument("--fit", action="store_true", help="fit the default scorer, print it")
    parser.add_argument("--no-cv", action="store_true", help="skip the cross-validation table")
    parser.add_argument(
        "--max-words", type=int, default=None, help="also score with this word budget"
    )
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
        runs = [(m, None) for m in methods]
        if args.max_words:
            runs += [("default", args.max_words), ("lead", args.max_words)]
        for method, budget in runs:
            started = time.perf_counter()
            label = "lead3" if method == "lead" else method
            if budget:
                label += f"@{budget}w"
            r = score_method(docs, method_runner(method, max_words=budget), scorer)
            results[(name, label)] = r
            elapsed = time.perf_counter() - started
            print(
                f"{name:<14} {label:<10} {len(docs):>5} {r[0]:>6.1f} {r[1]:>6.1f} {r[2]:>7.1f}"
                f" {elapsed:>6.1f}",
                flush=True,
            )
    if "default" in methods:
        for budget in (None, args.max_words) if args.max_words else (None,):
            within = f" (both within {budget} words)" if budget else ""
            print(f"\ndefault - lead3 on the DEV files{within}, 95% bootstrap over documents")
            gains = gains_with_intervals(data_dir, args.limit, scorer, budget)
            for name, (r1, r2, i1, i2) in gains.items():
                print(
                    f"{name:<14} R-1 {r1:+.2f} [{i1[0]:+.2f}, {i1[1]:+.2f}]"
                    f"  R-2 {r2:+.2f} [{i2[0]:+.2f}, {i2[1]:+.2f}]"
                )
        if not args.no_cv:
            train = load_fit_docs(data_dir, TRAIN, args.limit)
            if train:
                print_cv(train)
    default = results.get(("indosum_dev", "default"), (float("nan"),) * 3)
    lead = results.get(("indosum_dev", "lead3"), (float("nan"),) * 3)
    print(f"RESULT summary_quality {default[0]:.1f} R-1 (lead3 {lead[0]:.1f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
