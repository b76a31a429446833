"""Fetch + parse 1,000 feeds from slow loopback servers: digest vs feedparser.parse(url).

Serves feeds made from the real snapshots in ../shared/data/feeds/real (feed i is snapshot
i mod 82, under its own URL) from --hosts threaded HTTP servers on 127.0.0.2 and up (100 by
default, so the per-host limit of 2 acts as it would on the internet, where 1,000 feeds live
on hundreds of hosts), each answering after 250 ms, with ETags (304 on a match): the
servers of bench/_loopback.py, in a child process that shares no GIL with the client. Then,
in this one run:

* cold:  digest.sources.fetch.iter_fetch streamed into digest.sources.feeds.parse_many
         (parsing on every core while later feeds download), per_host=2 and --concurrency
         (default 128, a setting for a list this long: the config default, 16, suits a few
         dozen feeds and makes a warm run of 1,000 slow feeds take 1000 x 250 ms / 16 = 15.6 s);
* cold1: the same with parsing in this process only (workers=1), to show what the
         process pool buys;
* warm:  the same feeds again with the ETags of the cold run: every feed answers 304;
* sequential baseline: feedparser.parse(url), one feed after another, as other feed tools
         do, on the first BASELINE feeds, scaled to all of them (said so in the table);
* memory: peak traced allocations of this process (tracemalloc) for a cold run of a quarter
         of the feeds and of all of them; flat means bodies are not all held at once.

Loopback only; the server process exits by itself after --max-seconds. Usage:
    .venv/bin/python bench/fetch_load.py [--feeds 1000] [--baseline 100] [DATA_DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import sys
import time
import tracemalloc
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import feedparser

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _loopback import DELAY_S, LoopbackFeeds, loopback_hosts  # noqa: E402

from digest.errors import ParseError  # noqa: E402
from digest.models import FeedSource, FetchResult  # noqa: E402
from digest.sources.feeds import parse_many  # noqa: E402
from digest.sources.fetch import iter_fetch  # noqa: E402
from digest.sources.http import Http  # noqa: E402

DEFAULT_HOSTS = 100
CONCURRENCY = 128  # fetch.concurrency for a 1,000-feed list; per_host stays 2


def _snapshots(data: Path) -> list[Path]:
    real = data / "feeds" / "real"
    files = sorted(p for p in real.iterdir() if p.is_file() and p.suffix in (".xml", ".json"))
    if not files:
        raise SystemExit(f"no feeds in {real}; pass the shared data folder as DATA_DIR")
    return files


def _cpu() -> tuple[float, float]:
    """CPU seconds of this process, and of its finished children (the parse workers)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


@dataclass
class Run:
    wall: float = 0.0
    cpu_main: float = 0.0
    cpu_workers: float = 0.0
    ok: int = 0
    not_modified: int = 0
    failed: int = 0
    articles: int = 0
    parse_errors: int = 0
    validators: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)

    @property
    def cpu(self) -> float:
        return self.cpu_main + self.cpu_workers


def run_digest(
    urls: Sequence[str],
    *,
    workers: int,
    validators: dict[str, tuple[str | None, str | None]] | None = None,
) -> Run:
    """One fetch+parse pass the way the pipeline can run it (streaming)."""
    sources = [FeedSource(url=u) for u in urls]
    now = dt.datetime.now(dt.UTC)
    run = Run()

    http = Http(concurrency=CONCURRENCY, per_host=2)

    def results() -> Iterator[FetchResult]:
        # Loopback servers stand for the internet here: the feeds count as configured by
        # their (private) address, so the address guard lets them through.
        for _, result in iter_fetch(http, sources, validators=validators or {}):
            if result.status == 304:
                run.not_modified += 1
            elif result.ok:
                run.ok += 1
                run.validators[result.source.key] = (
                    result.headers.get("etag"),
                    result.headers.get("last-modified"),
                )
            else:
                run.failed += 1
            yield result

    (main0, kids0), wall0 = _cpu(), time.perf_counter()
    for _, outcome in parse_many(results(), now=now, workers=workers):
        if isinstance(outcome, ParseError):
            run.parse_errors += 1
        else:
            run.articles += len(outcome.articles)
    run.wall = time.perf_counter() - wall0
    http.close()
    main1, kids1 = _cpu()
    run.cpu_main, run.cpu_workers = main1 - main0, kids1 - kids0
    return run


def run_sequential(urls: Sequence[str]) -> Run:
    """feedparser.parse(url) one after another: what a naive reader does."""
    (main0, _), wall0 = _cpu(), time.perf_counter()
    run = Run()
    for url in urls:
        parsed = feedparser.parse(url)
        if parsed.get("status") != 200:
            run.failed += 1
        run.articles += len(parsed.entries)
    run.wall = time.perf_counter() - wall0
    run.cpu_main = _cpu()[0] - main0
    return run


def traced_peak(urls: Sequence[str], workers: int) -> float:
    tracemalloc.start()
    try:
        run_digest(urls, workers=workers)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 1e6


def main(argv: Sequence[str] | None = None) -> int:
    global CONCURRENCY
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--baseline", type=int, default=100, help="feeds in the sequential run")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--max-seconds", type=float, default=900)
    parser.add_argument(
        "--hosts", type=int, default=DEFAULT_HOSTS, help="loopback addresses serving the feeds"
    )
    parser.add_argument(
        "--concurrency", type=int, default=CONCURRENCY, help="fetch.concurrency for digest"
    )
    args = parser.parse_args(argv)
    CONCURRENCY = args.concurrency
    hosts = loopback_hosts(args.hosts)
    data = Path(os.environ.get("DIGEST_SHARED_DATA", args.data))
    snapshots = _snapshots(data)
    n_real = len(snapshots)
    load = os.getloadavg()[0]

    with LoopbackFeeds(snapshots, args.feeds, hosts, max_seconds=args.max_seconds) as served:
        urls = served.urls
        print(
            f"{args.feeds} feeds from {n_real} real snapshots, {len(hosts)} loopback hosts, "
            f"{DELAY_S * 1000:.0f} ms per response; parse workers={args.workers}, "
            f"cpus={os.cpu_count()}, load average at start {load:.1f}",
            file=sys.stderr,
        )
        cold = run_digest(urls, workers=args.workers)
        warm = run_digest(urls, workers=args.workers, validators=cold.validators)
        cold1 = run_digest(urls, workers=1)
        subset = urls[: args.baseline]
        seq = run_sequential(subset)
        quarter = traced_peak(urls[: max(1, len(urls) // 4)], args.workers)
        full = traced_peak(urls, args.workers)

    n = len(urls)
    scale = n / len(subset)
    seq_wall, seq_cpu = seq.wall * scale, seq.cpu * scale
    rows = [
        ("sequential feedparser.parse(url)", seq_wall, seq_cpu, 0.0, int(seq.articles * scale)),
        (
            f"digest cold, parse in {args.workers} processes",
            cold.wall,
            cold.cpu_main,
            cold.cpu_workers,
            cold.articles,
        ),
        ("digest cold, parse in-process", cold1.wall, cold1.cpu_main, 0.0, cold1.articles),
        ("digest warm (every feed 304)", warm.wall, warm.cpu_main, warm.cpu_workers, 0),
    ]
    print(
        f"{'run':36} {'wall s':>7} {'feeds/s':>8} {'cpu s':>7} {'(workers)':>9} "
        f"{'articles':>8} {'x seq':>6}"
    )
    for name, wall, cpu_main, cpu_workers, articles in rows:
        print(
            f"{name:36} {wall:7.1f} {n / wall:8.1f} {cpu_main + cpu_workers:7.1f} "
            f"{cpu_workers:9.1f} {articles:8d} {seq_wall / wall:6.1f}"
        )
    print(
        f"(sequential: measured on {len(subset)} feeds, {seq.wall:.1f} s, scaled x{scale:g}; "
        f"cold: {cold.ok} ok / {cold.failed} failed, {cold.parse_errors} parse errors; "
        f"warm: {warm.not_modified} answered 304, nothing parsed)"
    )
    print(
        f"warm / cold time: {warm.wall / cold.wall:.2f}, cpu: {warm.cpu / cold.cpu:.2f}; "
        f"a warm run is bound by {n} round trips of {DELAY_S * 1000:.0f} ms, "
        f"{CONCURRENCY} at a time ({n * DELAY_S / CONCURRENCY:.1f} s); "
        f"process pool speed-up over in-process parsing: "
        f"{cold1.wall / cold.wall:.2f}x"
    )
    print(
        f"peak traced memory of the fetching process: {quarter:.1f} MB for {n // 4} feeds, "
        f"{full:.1f} MB for {n} feeds; largest child process (parse worker or server) RSS "
        f"{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MB"
    )
    print(f"RESULT fetch_load {seq_wall / cold.wall:.1f} x (sequential_feedparser 1.0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
