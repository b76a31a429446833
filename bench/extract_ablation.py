"""What each extractor adds to the vote, and what it costs (issue 15).

    .venv/bin/python bench/extract_ablation.py [DATA_DIR]

Runs every candidate extractor once on every page of both DEV sets (``articles/`` and
``articles2/`` under ``../shared/data``), timing each, then scores the shipped choice
(trafilatura's precision text when resiliparse agrees, else the medoid of precision,
resiliparse, readability and jusText when they agree closely, else the medoid of all voters,
then the tail cut) against the same choice with one voter left out or replaced, or without the
tail cut, with the same pages, thresholds and scorer
(token F1, no page titles, so figures sit a hair under bench/extract_quality.py's). Nothing is
refitted: this measures whether each voter earns its time, not a new setting.

Last line: ``RESULT extract_ablation <shipped F1 on articles2> F1 (without_justext <F1>)``.
"""

from __future__ import annotations

import statistics
import sys
import time
import warnings
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import trafilatura

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import extract_quality as eq

from digest.sources import extract as ex
from digest.sources.tail import Blocks, page_blocks, trim_tail

VARIANTS = {
    "shipped": ("precision", "resiliparse", "balanced", "readability", "justext"),
    "without jusText": ("precision", "resiliparse", "balanced", "readability"),
    "without readability": ("precision", "resiliparse", "balanced", "justext"),
    "balanced without its fallbacks": (
        "precision",
        "resiliparse",
        "fast-balanced",
        "readability",
        "justext",
    ),
    "without the tail cut": ("precision", "resiliparse", "balanced", "readability", "justext"),
}


def _fast_balanced(tree: object, url: str | None) -> str:
    # trafilatura's default mode without its own readability/jusText comparison.
    text = trafilatura.extract(tree, url=url, fast=True, include_comments=False)
    return str(text) if text else ""


def _candidates(
    page: eq.Page, spent: dict[str, float]
) -> tuple[dict[str, str], float, Blocks] | None:
    """Every candidate text of ``page`` (each timed into ``spent``), how far the precision
    text and resiliparse's agree, and the page's blocks for the tail cut; None when the page
    cannot be parsed."""
    source = ex.decode_html(page.html)
    tree = trafilatura.load_html(source)
    if tree is None:
        return None
    texts: dict[str, str] = {}

    def timed(name: str, run: Callable[..., str], *args: object) -> None:
        start = time.perf_counter()
        texts[name] = run(*args)
        spent[name] += time.perf_counter() - start

    timed("precision", ex._trafilatura, tree, page.url, "precision")
    timed("resiliparse", ex._resiliparse, source)
    timed("balanced", ex._trafilatura, tree, page.url, "balanced")
    timed("fast-balanced", _fast_balanced, tree, page.url)
    timed("readability", ex._readability, tree)
    p, w = texts["precision"], texts["resiliparse"]
    sample = p if len(p) >= len(w) else w

    def justext() -> str:
        # The language detection jusText's stop list needs counts as jusText's time.
        return ex._justext(tree, ex.detect_language(sample) if len(sample) >= 200 else None)

    timed("justext", justext)
    agree = ex.token_f1(ex._tokens(p), ex._tokens(texts["resiliparse"])) if p.strip() else 0.0
    start = time.perf_counter()  # the tail cut on the precision text, as most pages get it
    blocks = page_blocks(tree)
    trim_tail(p, blocks)
    spent["tail cut"] += time.perf_counter() - start
    return texts, agree, blocks


def main(argv: list[str]) -> int:
    warnings.simplefilter("ignore")  # the extractors' own deprecation noise
    data = Path(argv[0]) if argv else eq.shared_dir()
    if not (data / "articles").is_dir() or not (data / "articles2").is_dir():
        print(f"no DEV sets under {data}", file=sys.stderr)
        return 1
    pages = eq.load_articles(data / "articles") + eq.load_articles2(data / "articles2")
    spent: dict[str, float] = defaultdict(float)
    rows = []
    for page in pages:
        found = _candidates(page, spent)
        if found is not None:
            texts, agree, blocks = found
            rows.append((page, texts, agree, blocks))
    n = len(rows)
    print(f"{n} pages; ms per page for each candidate (run on every page here):")
    for name, seconds in spent.items():
        print(f"  {name:14s} {1000 * seconds / n:6.1f}")
    voted = sum(
        1
        for _, texts, agree, _ in rows
        if not (texts["precision"].strip() and agree >= ex.AGREEMENT)
    )
    print(f"pages that go to the vote at {ex.AGREEMENT}: {voted} ({voted / n:.0%})")
    fifth = sum(
        1
        for _, texts, agree, _ in rows
        if not (texts["precision"].strip() and agree >= ex.AGREEMENT)
        and ex._settled(ex._bags({k: texts[k] for k in ex._FIRST_VOTERS}), ex.CONSENSUS) is None
    )
    print(f"pages where balanced votes too (consensus {ex.CONSENSUS}): {fifth} ({fifth / n:.0%})\n")
    print(f"{'variant':32s} {'articles':>9s} {'idnews':>7s} {'articles2':>9s}")
    scores: dict[str, dict[str, float]] = {}
    for variant, voters in VARIANTS.items():
        per: dict[str, list[float]] = defaultdict(list)
        for page, texts, agree, blocks in rows:
            if texts["precision"].strip() and agree >= ex.AGREEMENT:
                chosen = texts["precision"]
            else:
                chosen = ex.choose_text({k: texts[k] for k in voters}, agreement=2.0)
            if variant != "without the tail cut":
                chosen = trim_tail(chosen, blocks)
            f1 = eq.prf(ex.finish_text(chosen, None), page.truth)[2]
            per[page.set].append(f1)
            if page.source == "idnews":
                per["idnews"].append(f1)
        scores[variant] = {k: statistics.mean(v) for k, v in per.items()}
        s = scores[variant]
        print(f"{variant:32s} {s['articles']:9.4f} {s['idnews']:7.4f} {s['articles2']:9.4f}")
    print(
        f"RESULT extract_ablation {scores['shipped']['articles2']:.4f} F1 "
        f"(without_justext {scores['without jusText']['articles2']:.4f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
