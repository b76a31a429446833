"""Main-text extraction quality, leave-site-out: ours against trafilatura's defaults, same run.

Two DEV sets under ``../shared/data`` (or ``$DIGEST_SHARED_DATA``):

* ``articles/``: 100 pages from four sources (aeb, readability, newspaper4k, idnews), ground
  truth in ``NNN.txt``; the site is the ``site`` field of ``NNN.json`` when there is one
  (the Indonesian pages), else the page URL's registered domain, else the page's own name.
* ``articles2/``: 269 modern English article pages, ground truth in ``.txt``, the site in
  ``index.csv``; each ``.json`` also lists sentences a good extraction must contain
  (``with``) and boilerplate it must not (``without``).

Scores are token-level precision, recall and F1 over bags of words (``\\w+`` lower-cased,
multiset overlap), as in scrapinghub's article-extraction-benchmark, averaged over pages.

Ours has four tuned parameters, the agreement threshold (``extract.AGREEMENT``), the
consensus of the first voters that spares trafilatura's balanced run
(``extract.CONSENSUS``), and the two of the tail cut (``tail.BODY_SHARE``, ``tail.MAX_CUT``,
or no cut), and one choice, the fifth voter (balanced or recall). The
leave-site-out score is honest: for every site, the setting is chosen on the pages of all
the *other* sites (both sets pooled) and the site's pages are scored with that choice, so a
setting counts only as far as it helps on sites it was not chosen on. The bench also runs
ten site-grouped folds and prints each fold's choice and its gain over trafilatura, so the
spread is visible. "ours (shipped)" is ``extract_html`` as it ships, also timed here.

Usage (from the repository root)::

    .venv/bin/python bench/extract_quality.py [DATA_DIR] [-v] [--sample N]

``-v`` lists every page; ``--sample N`` takes every k-th page for a quick look.
The last line is ``RESULT extract_quality <ours F1, leave-site-out, both sets> F1
(trafilatura <its F1>)``.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import json
import os
import re
import statistics
import sys
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import trafilatura

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from digest.errors import ExtractError
from digest.sources import extract as _extract
from digest.sources.extract import (
    AGREEMENT,
    CONSENSUS,
    choose_text,
    decode_html,
    extract_html,
    finish_text,
    text_candidates,
    token_f1,
)
from digest.sources.tail import BODY_SHARE, MAX_CUT, page_blocks, trim_tail

WORD = re.compile(r"\w+")
# Agreement thresholds the cross-validation may choose from. Above 0.9 more than a third of
# the pages go to the vote, which costs the speed budget (20 pages/s on the 2-core machine),
# so 0.95, 0.98 and 1.01 (always vote) are only reported, not chosen.
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9)
REPORTED = (0.95, 0.98, 1.01)
# The voter that trafilatura adds besides its fast precision setting: its balanced setting
# (what ships) or its recall setting; the cross-validation chooses between them too.
VOTERS = ("balanced", "recall")
# Mean token F1 of the first four voters' medoid at which it wins without the fifth voter
# (1.01: the fifth always runs, the vote as it was before the consensus step).
CONSENSI = (0.85, 0.875, 0.9, 0.925, 0.95, 1.01)
# The tail cut (tail.trim_tail): the body container's share of the text and the most it may
# cut, or None, no cut (first: the cross-validation prefers it on a tie).
TAILS: tuple[tuple[float, float] | None, ...] = (
    None,
    *((share, cut) for share in (0.6, 0.7, 0.8, 0.9) for cut in (0.2, 0.3, 0.5)),
)
SHIPPED_TAIL = (BODY_SHARE, MAX_CUT)
GRID = tuple(
    (voter, a, c, t) for voter in VOTERS for a in THRESHOLDS for c in CONSENSI for t in TAILS
)
EVERY = tuple(
    (voter, a, c, t)
    for voter in VOTERS
    for a in THRESHOLDS + REPORTED
    for c in CONSENSI
    for t in TAILS
)
Config = tuple[str, float, float, tuple[float, float] | None]
RANK = {config: i for i, config in enumerate(GRID)}  # GRID.index, without its scan
FOLDS = 10


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


def norm(text: str) -> str:
    return " " + " ".join(w.lower() for w in WORD.findall(text)) + " "


@dataclass
class Page:
    set: str
    id: str
    source: str
    site: str
    lang: str
    url: str | None
    html: bytes
    truth: str
    with_: list[str] = field(default_factory=list)
    without: list[str] = field(default_factory=list)
    # filled in by the run
    ours: str = ""
    traf: str = ""
    grid: dict[Config, tuple[float, float, float]] = field(default_factory=dict)
    loso: tuple[float, float, float] = (0.0, 0.0, 0.0)
    shipped: tuple[float, float, float] = (0.0, 0.0, 0.0)
    base: tuple[float, float, float] = (0.0, 0.0, 0.0)
    agree: float = 0.0  # token F1 of trafilatura's fast precision text and resiliparse's
    first: float = 0.0  # mean token F1 of the first four voters' medoid to the other three


def shared_dir() -> Path:
    env = os.environ.get("DIGEST_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"


def registered_domain(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower().removeprefix("www.")
    labels = host.split(".")
    two_level = len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in ("co", "com", "or")
    return ".".join(labels[-3:] if two_level else labels[-2:])


def load_articles(folder: Path) -> list[Page]:
    pages = []
    for meta_path in sorted(folder.glob("*.json")):
        html_path, txt_path = meta_path.with_suffix(".html"), meta_path.with_suffix(".txt")
        if not html_path.exists() or not txt_path.exists():
            continue
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        url = meta.get("url")
        site = meta.get("site") or (registered_domain(url) if url else meta_path.stem[4:])
        pages.append(
            Page(
                set="articles",
                id=meta_path.stem,
                source=_short(str(meta.get("source_dataset", "?"))),
                site=str(site),
                lang=str(meta.get("language") or "?"),
                url=url,
                html=html_path.read_bytes(),
                truth=txt_path.read_text(encoding="utf-8"),
            )
        )
    return pages


def load_articles2(folder: Path) -> list[Page]:
    with (folder / "index.csv").open(encoding="utf-8") as handle:
        index = {row["name"]: row for row in csv.DictReader(handle)}
    pages = []
    for meta_path in sorted(folder.glob("*.json")):
        row = index.get(meta_path.stem)
        html_path, txt_path = meta_path.with_suffix(".html"), meta_path.with_suffix(".txt")
        if row is None or not html_path.exists() or not txt_path.exists():
            continue
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        pages.append(
            Page(
                set="articles2",
                id=meta_path.stem,
                source="tiptop",
                site=row["domain"],
                lang=row.get("lang") or "en",
                url=meta.get("url"),
                html=html_path.read_bytes(),
                truth=txt_path.read_text(encoding="utf-8"),
                with_=[s for s in meta.get("with") or [] if s.strip()],
                without=[s for s in meta.get("without") or [] if s.strip()],
            )
        )
    return pages


def _short(dataset: str) -> str:
    for name in ("article-extraction-benchmark", "readability", "newspaper4k", "indonesian"):
        if name in dataset:
            return {"article-extraction-benchmark": "aeb", "indonesian": "idnews"}.get(name, name)
    return dataset


def mean3(rows: Iterable[tuple[float, float, float]]) -> tuple[float, float, float]:
    rows = list(rows)
    if not rows:
        return (0.0, 0.0, 0.0)
    return (
        sum(r[0] for r in rows) / len(rows),
        sum(r[1] for r in rows) / len(rows),
        sum(r[2] for r in rows) / len(rows),
    )


def best_config(pages: list[Page]) -> Config:
    """The configuration with the best mean F1 over ``pages`` (ties: the first in GRID:
    balanced before recall, the lower and cheaper threshold first, then the lower and
    cheaper consensus, then no tail cut before a cut)."""
    return max(GRID, key=lambda c: (sum(p.grid[c][2] for p in pages), -RANK[c]))


def describe_vote() -> str:
    return f"balanced@{AGREEMENT:.2f}/{CONSENSUS:.3f}"


def describe(config: Config) -> str:
    tail = config[3]
    cut = f"tail {tail[0]:.1f}/{tail[1]:.1f}" if tail else "no tail cut"
    return f"{config[0]}@{config[1]:.2f}/{config[2]:.3f} {cut}"


def run_pages(pages: list[Page]) -> dict[tuple[str, str], float]:
    """Extract every page with ours and trafilatura (timed), and every candidate (untimed)."""
    spent: dict[tuple[str, str], float] = defaultdict(float)
    # Warm up first (imports, language models, stop lists), so the timing is per page.
    for page in pages[:2]:
        with contextlib.suppress(ExtractError):
            extract_html(page.html, url=page.url)
        trafilatura.extract(decode_html(page.html), url=page.url)
    for page in pages:
        start = time.perf_counter()
        try:
            result = extract_html(page.html, url=page.url)
            page.ours, title = result.text, result.title
        except ExtractError:
            page.ours, title = "", None
        spent["ours", page.set] += time.perf_counter() - start
        start = time.perf_counter()
        page.traf = trafilatura.extract(decode_html(page.html), url=page.url) or ""
        spent["trafilatura", page.set] += time.perf_counter() - start
        # The candidates, once, to score every threshold of the grid without extracting again.
        source = decode_html(page.html)
        tree = trafilatura.load_html(source)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            candidates = text_candidates(source, tree, page.url) if tree is not None else {}
        page.agree = (
            token_f1(tokens(candidates["precision"]), tokens(candidates["resiliparse"]))
            if candidates.get("precision", "").strip()
            else 0.0
        )
        bags = _extract._bags(candidates)
        first = [n for n in _extract.CANDIDATES if n in bags and n in _extract._FIRST_VOTERS]
        page.first = _extract._medoid(bags, first)[1] if len(first) > 1 else 0.0
        blocks = page_blocks(tree) if tree is not None else {}
        scored: dict[str, tuple[float, float, float]] = {}  # each distinct text once
        cut: dict[tuple[str, tuple[float, float] | None], str] = {}
        with _tokens_cached():
            choice: dict[tuple[str, float, float], str] = {}
            # Keyed by the configurations of EVERY themselves, one key tuple for all pages.
            for config in EVERY:
                voter, a, c, tail = config
                if (voter, a, c) not in choice:
                    others = [v for v in VOTERS if v != voter]
                    choice[voter, a, c] = choose_text(
                        {k: v for k, v in candidates.items() if k not in others}, a, c
                    )
                chosen = choice[voter, a, c]
                if (chosen, tail) not in cut:
                    cut[chosen, tail] = trim_tail(chosen, blocks, *tail) if tail else chosen
                text = cut[chosen, tail]
                if text not in scored:
                    scored[text] = prf(finish_text(text, title), page.truth)
                page.grid[config] = scored[text]
        page.shipped = prf(page.ours, page.truth)
        page.base = prf(page.traf, page.truth)
    return spent


@contextlib.contextmanager
def _tokens_cached() -> Iterator[None]:
    """The grid calls choose_text about two hundred times per page on the same five texts:
    tokenise each text once (the choices are the same, only faster)."""
    original = _extract._tokens
    _extract._tokens = functools.lru_cache(maxsize=64)(original)
    try:
        yield
    finally:
        _extract._tokens = original


def main(argv: list[str]) -> int:
    args = [a for a in argv[1:] if not a.startswith("-")]
    sample = 1
    if "--sample" in argv:
        sample = int(argv[argv.index("--sample") + 1])
        args = [a for a in args if a != str(sample)]
    base = Path(args[0]) if args else shared_dir()
    if base.name in ("articles", "articles2"):
        base = base.parent
    pages: list[Page] = []
    if (base / "articles").is_dir():
        pages += load_articles(base / "articles")
    if (base / "articles2").is_dir():
        pages += load_articles2(base / "articles2")
    pages = pages[::sample]
    if not pages:
        print(f"no article pages under {base}; pass the data dir as argument", file=sys.stderr)
        return 2

    spent = run_pages(pages)

    # Leave-site-out: each site scored with the configuration chosen on every other site.
    sites = sorted({p.site for p in pages})
    by_site: dict[str, list[Page]] = defaultdict(list)
    for page in pages:
        by_site[page.site].append(page)
    total = {c: sum(p.grid[c][2] for p in pages) for c in EVERY}
    loso_choice: Counter[Config] = Counter()
    for site in sites:
        held = by_site[site]
        choice = max(
            GRID,
            key=lambda c: (total[c] - sum(p.grid[c][2] for p in held), -RANK[c]),
        )
        loso_choice[choice] += 1
        for page in held:
            page.loso = page.grid[choice]

    print(f"extract_quality: {len(pages)} pages, {len(sites)} sites, from {base}")
    print(
        "ours = leave-site-out (voter, thresholds and tail cut chosen without the page's "
        f"site); shipped = extract_html (balanced@{AGREEMENT}/{CONSENSUS}, tail cut "
        f"{BODY_SHARE}/{MAX_CUT}); "
        "trafilatura = its defaults"
    )

    def table(title: str, key: Callable[[Page], str], groups: list[str] | None = None) -> None:
        names = groups or sorted({key(p) for p in pages})
        print(
            f"\n{title:<14} {'pages':>5} {'sites':>5}  {'ours P':>6} {'R':>5} {'F1':>5}  "
            f"{'shipped':>7}  {'traf P':>6} {'R':>5} {'F1':>5}  {'ΔF1':>6}"
        )
        for group in [*names, "ALL"]:
            rows = [p for p in pages if group == "ALL" or key(p) == group]
            if not rows:
                continue
            op, or_, of = mean3(p.loso for p in rows)
            sf = mean3(p.shipped for p in rows)[2]
            tp, tr, tf = mean3(p.base for p in rows)
            n_sites = len({p.site for p in rows})
            print(
                f"{group:<14} {len(rows):>5} {n_sites:>5}  {op:>6.3f} {or_:>5.3f} {of:>5.3f}  "
                f"{sf:>7.3f}  {tp:>6.3f} {tr:>5.3f} {tf:>5.3f}  {of - tf:>+6.3f}"
            )

    table("set", lambda p: p.set)
    for set_name in ("articles", "articles2"):
        rows = [p for p in pages if p.set == set_name]
        if rows:
            gain = mean3(p.loso for p in rows)[2] - mean3(p.base for p in rows)[2]
            print(f"  {set_name} ΔF1 to four places: {gain:+.4f}")
    table("source", lambda p: p.source)
    table("language", lambda p: p.lang if p.set == "articles" else "en (articles2)")

    # Per site: how many sites gain, hold or lose against trafilatura, and which lose.
    print("\nper site (leave-site-out F1 minus trafilatura's, mean over the site's pages):")
    deltas = {
        s: mean3(p.loso for p in by_site[s])[2] - mean3(p.base for p in by_site[s])[2]
        for s in sites
    }
    for set_name in ("articles", "articles2"):
        in_set = [s for s in sites if by_site[s][0].set == set_name]
        if not in_set:
            continue
        values = [deltas[s] for s in in_set]
        better = sum(d > 0.005 for d in values)
        worse = sum(d < -0.005 for d in values)
        print(
            f"  {set_name:<10} {len(in_set):>3} sites: {better} better, {worse} worse, "
            f"{len(in_set) - better - worse} level (±0.005); "
            f"median {statistics.median(values):+.3f}, "
            f"min {min(values):+.3f}, max {max(values):+.3f}"
        )
    regressions = sorted((d, s) for s, d in deltas.items() if d < -0.005)
    print(f"\nregressions against trafilatura (sites with ΔF1 < -0.005): {len(regressions)}")
    for d, s in regressions:
        rows = by_site[s]
        print(
            f"  {d:+.3f}  {s:<32} {rows[0].set:<9} pages {len(rows)}  "
            f"ours {mean3(p.loso for p in rows)[2]:.3f}  traf {mean3(p.base for p in rows)[2]:.3f}"
        )

    # Fold spread: ten site-grouped folds, each configuration chosen on the other nine.
    print(f"\n{FOLDS} site-grouped folds (configuration chosen on the other folds):")
    fold_of = {site: i % FOLDS for i, site in enumerate(sites)}
    fold_gains = []
    for fold in range(FOLDS):
        test = [p for p in pages if fold_of[p.site] == fold]
        train = [p for p in pages if fold_of[p.site] != fold]
        if not test or not train:
            continue
        choice = best_config(train)
        of = mean3(p.grid[choice] for p in test)[2]
        tf = mean3(p.base for p in test)[2]
        fold_gains.append(of - tf)
        print(
            f"  fold {fold}: {len(test):>3} pages, chose {describe(choice)}, "
            f"ours {of:.3f}, traf {tf:.3f}, ΔF1 {of - tf:+.3f}"
        )
    if fold_gains:
        print(
            f"  ΔF1 over folds: min {min(fold_gains):+.3f}, median "
            f"{statistics.median(fold_gains):+.3f}, max {max(fold_gains):+.3f}, "
            f"stdev {statistics.pstdev(fold_gains):.3f}"
        )
    print(
        "  leave-site-out choices: "
        + ", ".join(
            f"{describe(c)}×{n}"
            for c, n in sorted(loso_choice.items(), key=lambda item: RANK[item[0]])
        )
    )
    print(
        f"  in-sample mean F1 per threshold at consensus {CONSENSUS} "
        "(thresholds above 0.9 are not chosen: speed):"
    )
    print(f"    {'threshold':<10} " + " ".join(f"{a:>6.2f}" for a in THRESHOLDS + REPORTED))
    for voter in VOTERS:
        print(
            f"    {voter:<10} "
            + " ".join(
                f"{total[voter, a, CONSENSUS, SHIPPED_TAIL] / len(pages):>6.3f}"
                for a in THRESHOLDS + REPORTED
            )
        )
    print(
        f"    {'voted':<10} "
        + " ".join(
            f"{sum(p.agree < a for p in pages) / len(pages):>6.0%}" for a in THRESHOLDS + REPORTED
        )
    )
    print(f"  in-sample mean F1 per consensus at threshold {AGREEMENT} (1.01: always 5 voters):")
    print(f"    {'consensus':<10} " + " ".join(f"{c:>6.3f}" for c in CONSENSI))
    for voter in VOTERS:
        print(
            f"    {voter:<10} "
            + " ".join(
                f"{total[voter, AGREEMENT, c, SHIPPED_TAIL] / len(pages):>6.3f}" for c in CONSENSI
            )
        )
    voted = [p for p in pages if p.agree < AGREEMENT]
    print(
        f"    {'5th runs':<10} "
        + " ".join(f"{sum(p.first < c for p in voted) / len(pages):>6.0%}" for c in CONSENSI)
    )
    shipped_vote = ("balanced", AGREEMENT, CONSENSUS)
    groups: dict[str, list[Page]] = {
        "articles": [p for p in pages if p.set == "articles" and p.lang != "id"],
        "Indonesian": [p for p in pages if p.set == "articles" and p.lang == "id"],
        "articles2": [p for p in pages if p.set == "articles2"],
    }
    groups = {name: rows for name, rows in groups.items() if rows}
    print(
        f"  in-sample mean F1 per tail cut (container share/most cut) at {describe_vote()}, "
        "per set:"
    )
    print(f"    {'tail cut':<10} " + " ".join(f"{name:>10}" for name in groups))
    for tail in TAILS:
        label = f"{tail[0]:.1f}/{tail[1]:.1f}" if tail else "none"
        print(
            f"    {label:<10} "
            + " ".join(
                f"{mean3(p.grid[(*shipped_vote, tail)] for p in rows)[2]:>10.4f}"
                for rows in groups.values()
            )
        )

    # articles2's must-have and must-not sentences.
    with_pages = [p for p in pages if p.with_ or p.without]
    if with_pages:
        print("\narticles2 sentences (matched on lower-cased words):")
        for label, attr in (("ours (shipped)", "ours"), ("trafilatura", "traf")):
            found = total_with = leaked = total_without = 0
            for page in with_pages:
                text = norm(getattr(page, attr))
                truth = norm(page.truth)
                for sentence in page.with_:
                    total_with += 1
                    found += norm(sentence) in text
                for sentence in page.without:
                    if norm(sentence).strip() and norm(sentence) not in truth:
                        total_without += 1
                        leaked += norm(sentence) in text
            print(
                f"  {label:<15} with found {found}/{total_with} "
                f"({found / max(total_with, 1):.1%}), without leaked {leaked}/{total_without} "
                f"({leaked / max(total_without, 1):.1%})"
            )
        print("  (a `without` sentence that also occurs in the ground truth is not counted)")

    print("\npages/s (one process, same run; other load on the machine slows both alike):")
    print(f"  {'set':<10} {'pages':>5} {'ours':>6} {'trafilatura':>11} {'cost':>6}")
    for set_name in ("articles", "articles2", "ALL"):
        n = len([p for p in pages if set_name == "ALL" or p.set == set_name])
        ours_s = sum(v for (k, s), v in spent.items() if k == "ours" and set_name in (s, "ALL"))
        traf_s = sum(
            v for (k, s), v in spent.items() if k == "trafilatura" and set_name in (s, "ALL")
        )
        if n and ours_s and traf_s:
            print(
                f"  {set_name:<10} {n:>5} {n / ours_s:>6.1f} {n / traf_s:>11.1f} "
                f"{ours_s / traf_s:>5.2f}×"
            )
    if "-v" in argv:
        print("\nper page F1 (ours leave-site-out, trafilatura):")
        for page in pages:
            print(
                f"  {page.id[:34]:<34} {page.site[:24]:<24} {page.loso[2]:.3f} "
                f"{page.base[2]:.3f} {page.loso[2] - page.base[2]:+.3f}"
            )
    of = mean3(p.loso for p in pages)[2]
    tf = mean3(p.base for p in pages)[2]
    print(f"RESULT extract_quality {of:.3f} F1 (trafilatura {tf:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
