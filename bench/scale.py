"""A thousand feeds on one small machine (issue 13): a whole dry-run build, stage by stage.

    .venv/bin/python bench/scale.py [DATA_DIR] [--feeds 1000] [--quick]

Generates ``--feeds`` feed files from the real snapshots in DATA_DIR/feeds/real (default
../shared/data): feed i is snapshot i mod 82 with every entry link rewritten to a host of its
own (``https://p0017.example.org/...``), so each feed is another publisher whose articles are
new to digest, while each story keeps its text: at 1,000 feeds every story exists in about 12
copies, the worst case for merging stories. The feeds are read as local files and from
loopback servers (bench/_loopback.py: ``--hosts`` addresses, 250 ms per response, ETags), with
``full_text: never`` and otherwise default settings. Each run is a fresh process (so its peak
RSS is its own) calling the library as ``digest build --dry-run`` does:

* local cold:        local files, empty state;
* loopback cold:     the same feeds over HTTP, empty state;
* loopback warm:     after a ``digest fetch`` stored validators and articles (not timed):
                     every feed answers 304;
* second build:      after a recorded ``digest build`` of the same date (not timed): every
                     feed answers 304 and every summary is cached; nothing new.

Baseline, measured in the same invocation (also in a fresh process): plain sequential
``feedparser.parse`` of the same files. Prints per run the wall time, CPU (the process and
its parse workers), peak RSS, then the build's own figures from ``Digest.stats`` (candidates,
page fetches, summaries computed, clustering pairs compared, seconds per stage) and the
stories and footer problems of the digest; stages a run did not go through (a second build
with nothing new replays the date's stories and ranks nothing) print as n/a. Last line:
``RESULT scale_wall_ratio <local cold wall / parse time> x (feedparser_parse_s <parse
time>)``; issue 13 asks for at most 1.5 x.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import re
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _loopback import DELAY_S, LoopbackFeeds, loopback_hosts  # noqa: E402

# --- the feeds -----------------------------------------------------------------------------

# Where an entry's identity lives: element text (<link>, <guid>, <id>, feedburner's origLink)
# and link-ish attributes (Atom <link href>, RSS 1.0 rdf:about / rdf:resource). Only the URL's
# host changes, so the feed stays byte-for-byte the same size class and parses the same way.
_XML_URLS = (
    re.compile(
        rb"(<(?:link|guid|id|feedburner:origLink)(?:\s[^>]*)?>\s*(?:<!\[CDATA\[\s*)?https?://)",
        re.IGNORECASE,
    ),
    re.compile(rb"(<(?:atom:)?link\b[^>]*?\bhref\s*=\s*[\"']https?://)", re.IGNORECASE),
    re.compile(rb"(\brdf:(?:about|resource)\s*=\s*[\"']https?://)", re.IGNORECASE),
)


def _with_host(url: Any, marker: str) -> Any:
    if isinstance(url, str) and re.match(r"https?://", url):
        scheme, rest = url.split("://", 1)
        return f"{scheme}://{marker}.{rest}"
    return url


def relink(body: bytes, json_feed: bool, marker: str) -> bytes:
    """``body`` with every entry link (and URL id) on a host of its own: ``<marker>.host``."""
    if json_feed:
        data = json.loads(body)
        for item in data.get("items") or []:
            for key in ("url", "external_url", "id"):
                if key in item:
                    item[key] = _with_host(item[key], marker)
        return json.dumps(data, ensure_ascii=False).encode("utf-8")
    prefix = marker.encode("ascii") + b"."
    for pattern in _XML_URLS:
        body = pattern.sub(lambda m: m.group(1) + prefix, body)
    return body


def snapshots(data: Path) -> list[Path]:
    real = data / "feeds" / "real"
    files = sorted(p for p in real.glob("*") if p.suffix in (".xml", ".json"))
    if not files:
        raise SystemExit(f"no feeds in {real}; pass the shared data folder as DATA_DIR")
    return files


def make_feeds(data: Path, n: int, folder: Path) -> list[Path]:
    """``n`` feed files in ``folder``: feed i is snapshot i mod 82 with its own links."""
    sources = snapshots(data)
    bodies = [p.read_bytes() for p in sources]
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        source = sources[i % len(sources)]
        path = folder / f"{i:05d}-{source.name}"
        path.write_bytes(relink(bodies[i % len(sources)], source.suffix == ".json", f"p{i:05d}"))
        out.append(path)
    return out


def write_config(folder: Path, feeds: list[dict[str, Any]], extra: dict[str, Any]) -> Path:
    config = {
        "title": "Scale",
        "language": "en",
        "timezone": "UTC",
        "feeds": feeds,
        "state": str(folder / "state.sqlite"),
        "output": {"dir": str(folder / "out")},
        **extra,
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def feed_entries(files: Sequence[Path], urls: Sequence[str] | None) -> list[dict[str, Any]]:
    """Config entries: local paths, or the same feeds by URL; one publisher name each."""
    out = []
    for i, path in enumerate(files):
        entry: dict[str, Any] = {"url": urls[i]} if urls else {"path": str(path)}
        entry.update(name=f"{path.name.split('-', 1)[1].rsplit('.', 1)[0]} #{i}", full_text="never")
        out.append(entry)
    return out


# --- one measured run per process ------------------------------------------------------------


def build(config_path: Path, *, now: dt.datetime, dry_run: bool = True) -> Any:
    """The one call into the pipeline (``digest build [--dry-run]``); returns the Digest.

    Isolated here so that a renamed pipeline entry point is a one-line change.
    """
    from digest import pipeline
    from digest.config import load_config

    config = load_config(config_path)
    return pipeline.build_and_write(config, now=now, dry_run=dry_run).digest


def fetch(config_path: Path, *, now: dt.datetime) -> Any:
    """``digest fetch``: validators and articles stored, no summaries, no digest."""
    from digest import pipeline
    from digest.config import load_config

    return pipeline.fetch_and_store(load_config(config_path), now=now)


def parse_all(files: Sequence[Path]) -> int:
    """The baseline: plain sequential feedparser.parse of every file; returns entries."""
    import feedparser

    return sum(len(feedparser.parse(path.read_bytes()).entries) for path in files)


def _stat(stats: Any, name: str) -> Any:
    return getattr(stats, name, None)


def _child(job: dict[str, Any], conn: Connection) -> None:
    """In a fresh process: run one job and send back what it cost and what it did."""
    import logging

    logging.basicConfig(level=logging.ERROR)  # as `digest -q`: the table is the output
    result: dict[str, Any] = {}
    me0 = resource.getrusage(resource.RUSAGE_SELF)
    kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    try:
        if job["kind"] == "parse":
            result["entries"] = parse_all([Path(p) for p in job["files"]])
        elif job["kind"] == "fetch":
            reports = fetch(Path(job["config"]), now=job["now"])
            result["feeds_failed"] = sum(1 for r in reports if r.status == "failed")
        else:
            digest = build(Path(job["config"]), now=job["now"], dry_run=job["kind"] == "dry-run")
            stats = digest.stats
            result.update(
                candidates=_stat(stats, "candidates"),
                pages_fetched=_stat(stats, "pages_fetched"),
                summaries_computed=_stat(stats, "summaries_computed"),
                pairs_compared=_stat(stats, "pairs_compared"),
                stages=[(str(k), float(v)) for k, v in (_stat(stats, "stages") or ())],
                stats_items=_stat(stats, "items"),
                feeds=_stat(stats, "feeds"),
                feeds_failed=_stat(stats, "feeds_failed"),
                articles_seen=_stat(stats, "articles_seen"),
                shown=len(digest.items),
                problems=len(digest.problems),
            )
    except BaseException as exc:  # reported in the table, not a traceback per run
        result["error"] = f"{type(exc).__name__}: {exc}"
    wall = time.perf_counter() - started
    me1 = resource.getrusage(resource.RUSAGE_SELF)
    kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    result.update(
        wall=wall,
        cpu=(me1.ru_utime + me1.ru_stime - me0.ru_utime - me0.ru_stime),
        cpu_workers=(kids1.ru_utime + kids1.ru_stime - kids0.ru_utime - kids0.ru_stime),
        rss_mb=me1.ru_maxrss / 1024,  # kilobytes on Linux
        worker_rss_mb=kids1.ru_maxrss / 1024,
    )
    conn.send(result)
    conn.close()


@dataclass
class Run:
    name: str
    figures: dict[str, Any] = field(default_factory=dict)


def run_job(job: dict[str, Any], timeout: float) -> dict[str, Any]:
    """``job`` in a fresh (spawned) process; its figures, or an error after ``timeout``."""
    context = mp.get_context("spawn")
    parent, child = context.Pipe(duplex=False)
    # Not a daemon: the build may start its own parse worker processes.
    process = context.Process(target=_child, args=(job, child))
    process.start()
    child.close()
    if parent.poll(timeout):
        result: dict[str, Any] = parent.recv()
    else:
        process.terminate()
        result = {"error": f"no result after {timeout:.0f} s"}
    process.join(30)
    return result


# --- the table ---------------------------------------------------------------------------------


def _fmt(value: Any, spec: str = "d") -> str:
    # Missing: a stage the run skipped (a replay ranks nothing) or a figure it cannot have.
    if value is None or value == []:
        return "n/a"
    return format(value, spec)


def print_table(runs: Sequence[Run], parse_s: float, parse_cpu: float) -> None:
    head = (
        f"{'run':24} {'wall s':>7} {'x parse':>7} {'cpu s':>7} {'workers':>7} {'x cpu':>6} "
        f"{'RSS MB':>7} "
        f"{'failed':>6} {'cands':>6} {'pages':>6} {'summ':>6} {'pairs':>8} {'shown':>5} "
        f"{'probl':>5}"
    )
    print(head)
    for run in runs:
        f = run.figures
        if "error" in f:
            print(f"{run.name:24} failed: {f['error']}")
            continue
        cpu_ratio = (f["cpu"] + f["cpu_workers"]) / parse_cpu
        print(
            f"{run.name:24} {f['wall']:7.1f} {f['wall'] / parse_s:7.2f} {f['cpu']:7.1f} "
            f"{f['cpu_workers']:7.1f} {cpu_ratio:6.2f} {f['rss_mb']:7.0f} "
            f"{f.get('feeds_failed') or 0:6d} {_fmt(f.get('candidates')):>6} "
            f"{_fmt(f.get('pages_fetched')):>6} {_fmt(f.get('summaries_computed')):>6} "
            f"{_fmt(f.get('pairs_compared')):>8} {f.get('shown', 0):5d} "
            f"{f.get('problems', 0):5d}"
        )
    names: list[str] = []
    for run in runs:
        for stage, _ in run.figures.get("stages", []):
            if stage not in names:
                names.append(stage)
    print()
    if not names:
        print("seconds per stage: n/a (DigestStats.stages is not filled in yet)")
        return
    print(f"{'seconds per stage':24} " + " ".join(f"{n[:9]:>9}" for n in names))
    for run in runs:
        stages = dict(run.figures.get("stages", []))
        cells = [f"{stages[n]:9.2f}" if n in stages else f"{'n/a':>9}" for n in names]
        print(f"{run.name:24} " + " ".join(cells))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=100, help="loopback addresses serving them")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 40 feeds, 8 hosts")
    parser.add_argument(
        "--runs",
        default="local-cold,loopback-cold,loopback-warm,second-build",
        help="which runs, comma-separated",
    )
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per run")
    parser.add_argument("--keep", action="store_true", help="keep the generated folder")
    args = parser.parse_args(argv)
    if args.quick:
        args.feeds, args.hosts = min(args.feeds, 40), min(args.hosts, 8)
    wanted = args.runs.split(",")
    data = Path(os.environ.get("DIGEST_SHARED_DATA", args.data))
    work = Path(tempfile.mkdtemp(prefix="digest-scale-"))
    # One clock for every run, so the second build is the same date as the recorded one.
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    try:
        t0 = time.perf_counter()
        files = make_feeds(data, args.feeds, work / "feeds")
        size_mb = sum(f.stat().st_size for f in files) / 1e6
        print(
            f"{args.feeds} feeds ({size_mb:.0f} MB) from {len(snapshots(data))} real snapshots, "
            f"made in {time.perf_counter() - t0:.1f} s; {args.hosts} loopback hosts at "
            f"{DELAY_S * 1000:.0f} ms per response; default settings, full_text: never; "
            f"cpus={os.cpu_count()}, load average at start {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        baseline = run_job({"kind": "parse", "files": [str(f) for f in files]}, args.timeout)
        if "error" in baseline:
            raise SystemExit(f"baseline failed: {baseline['error']}")
        parse_s, parse_cpu = baseline["wall"], baseline["cpu"]
        print(
            f"baseline: sequential feedparser.parse of the {len(files)} files: {parse_s:.1f} s "
            f"({parse_cpu:.1f} s CPU), {baseline['entries']} entries, peak RSS "
            f"{baseline['rss_mb']:.0f} MB",
            flush=True,
        )
        runs: list[Run] = []

        def measure(name: str, kind: str, config: Path) -> None:
            result = run_job({"kind": kind, "config": str(config), "now": now}, args.timeout)
            runs.append(Run(name, result))
            print(f"  {name}: {result.get('wall', 0):.1f} s {result.get('error', '')}", flush=True)

        local = feed_entries(files, None)
        if "local-cold" in wanted:
            measure("local cold", "dry-run", write_config(work / "local", local, {}))
        # The servers outlive every run (they exit by themselves only if we never stop them).
        lifetime = args.timeout * 5
        with LoopbackFeeds(
            files, len(files), loopback_hosts(args.hosts), max_seconds=lifetime
        ) as served:
            remote = feed_entries(files, served.urls)
            if "loopback-cold" in wanted:
                measure("loopback cold", "dry-run", write_config(work / "cold", remote, {}))
            if "loopback-warm" in wanted or "second-build" in wanted:
                config = write_config(work / "warm", remote, {})
                measure("(digest fetch)", "fetch", config)
                if "loopback-warm" in wanted:
                    measure("loopback warm (304)", "dry-run", config)
                if "second-build" in wanted:
                    measure("(digest build)", "record", config)
                    measure("second build, no news", "dry-run", config)
        print()
        print_table(runs, parse_s, parse_cpu)
        print(
            "\n(x parse = wall / baseline wall; cpu s: the build process, workers: its parse "
            "workers; x cpu = both / baseline CPU, steadier than wall time when other jobs "
            "share the cores; RSS: peak of the build process; failed = feeds that could not be "
            "read; cands = candidates, pages = article "
            "pages fetched, summ = summaries computed, pairs = clustering cosines, shown = "
            "stories in the digest, probl = footer problem lines; runs in parentheses prepare "
            "the state for the next one; n/a: a stage the run did not go through)"
        )
        cold = next((r for r in runs if r.name == "local cold" and "error" not in r.figures), None)
        if cold is None:
            print(f"RESULT scale_wall_ratio n/a x (feedparser_parse_s {parse_s:.2f})")
            return 1
        total_cpu = cold.figures["cpu"] + cold.figures["cpu_workers"]
        print(f"local cold CPU / baseline CPU: {total_cpu / parse_cpu:.2f}")
        print(
            f"RESULT scale_wall_ratio {cold.figures['wall'] / parse_s:.2f} x "
            f"(feedparser_parse_s {parse_s:.2f})"
        )
        return 0
    finally:
        if args.keep:
            print(f"generated feeds and state kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
