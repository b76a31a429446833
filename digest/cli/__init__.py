"""The ``digest`` command: a thin click layer over the library.

Each command parses its options, calls one library function, and lets
:func:`digest.cli.common.run` turn a DigestError into one line on stderr and the contract's
exit code (0 ok, 1 failed, 2 usage or config error). Results go to stdout; logs to stderr.

Importing this module is kept light (click and a few small modules of ours): the commands of
the later stages and every pipeline stage are imported when a command runs, inside the group,
where a Ctrl-C becomes one line and exit 130. A Ctrl-C during this import itself is answered
the same way by a handler that lives only as long as the import.
"""

# ruff: noqa: E402 -- the Ctrl-C handler must be in place before the imports it guards.
from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType


def _interrupted_while_starting(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # said once, whatever comes after
    sys.stderr.write("interrupted (Ctrl-C); run the command again to finish\n")
    raise SystemExit(130)


# Only when nobody else (an embedding program, a test runner) chose a handler.
_GUARD_IMPORT = (
    threading.current_thread() is threading.main_thread()
    and signal.getsignal(signal.SIGINT) is signal.default_int_handler
)
if _GUARD_IMPORT:
    signal.signal(signal.SIGINT, _interrupted_while_starting)

# Summaries multiply many small matrices; OpenBLAS threads make that 3-4x slower on a busy
# machine. Set before numpy loads, and only as a default the user can override.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import datetime as dt
import importlib
import json
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from digest import __version__
from digest.cli.common import (
    CliState,
    Group,
    parse_date,
    pass_state,
    plural,
    run,
    say,
    setup_logging,
)
from digest.errors import ConfigError, DigestError
from digest.models import SUMMARY_METHODS, ExtractedPage

if TYPE_CHECKING:
    from digest.text.summarize import Document

METHOD_CHOICE = click.Choice(SUMMARY_METHODS)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-c",
    "--config",
    "config_arg",
    metavar="CONFIG",
    help="Config file (default: $DIGEST_CONFIG, else ./config.yaml).",
)
@click.option("-v", "--verbose", count=True, help="More logging on stderr (-vv: debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors on stderr.")
@click.version_option(__version__, prog_name="digest")
@click.pass_context
def main(ctx: click.Context, config_arg: str | None, verbose: int, quiet: bool) -> None:
    """Build a daily digest of your feeds, summarised in each article's own language.

    \b
    Example:
        digest init && digest build        # write a starter config, then build today's digest
    """
    setup_logging(verbose, quiet)
    ctx.obj = CliState(config_arg=config_arg, verbose=verbose, quiet=quiet)


@main.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@pass_state
def init(state: CliState, directory: Path) -> None:
    """Write a commented starter config.yaml into DIRECTORY (refuses to overwrite).

    \b
    Example:
        digest init ~/digest && digest -c ~/digest/config.yaml check
    """
    target = directory / "config.yaml"

    def write() -> Path:
        if target.exists():
            raise DigestError(f"{target} already exists; edit it, or remove it first")
        text = resources.files("digest").joinpath("starter_config.yaml").read_text("utf-8")
        # A folder that does not exist yet is created, parents too (as `git init` does).
        try:
            directory.mkdir(parents=True, exist_ok=True)
            with target.open("x", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as exc:
            raise DigestError(_cannot_write(target, exc)) from None
        return target

    path = run(state, write)
    click.echo(str(path))


def _cannot_write(target: Path, exc: OSError) -> str:
    from digest.writable import file_problem

    reason = file_problem(target) or exc.strerror or str(exc)
    return f"cannot write {target}: {reason}; choose another folder, e.g. digest init ~/digest"


@main.command()
@click.option("--date", "date_arg", metavar="D", help="Digest date YYYY-MM-DD (default: today).")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (default: output.dir).",
)
@click.option("--dry-run", is_flag=True, help="Record nothing in the store (preview, replay).")
@pass_state
def build(state: CliState, date_arg: str | None, out_dir: Path | None, dry_run: bool) -> None:
    """Build the digest and write D.html, D.txt, index.html and feed.xml.

    Prints the path of the HTML file on stdout.

    \b
    Example:
        digest build --dry-run --out /tmp/preview
    """
    from digest.pipeline import build_and_write

    date = parse_date(date_arg)

    def go() -> Path:
        config = state.load()
        output = build_and_write(
            config,
            date=date,
            dry_run=dry_run,
            out_dir=out_dir,
            progress=sys.stderr.isatty() and not state.quiet,
        )
        return output.html_path

    click.echo(str(run(state, go)))


@main.command()
@pass_state
def fetch(state: CliState) -> None:
    """Fetch every feed now and store new articles (no summaries, no digest).

    One line per feed: status, new articles, name.

    \b
    Example:
        digest fetch
    """
    from digest.pipeline import fetch_and_store

    def go() -> int:
        config = state.load()
        reports = fetch_and_store(config, progress=sys.stderr.isatty() and not state.quiet)
        failed = 0
        for report in reports:
            detail = (
                report.error or f"{report.new} new of {plural(report.entries, 'entry', 'entries')}"
            )
            click.echo(f"{report.status}\t{detail}\t{report.source.name or report.source.label}")
            failed += report.status == "failed"
        return failed

    failed = run(state, go)
    sys.exit(1 if failed else 0)


@main.command()
@pass_state
def check(state: CliState) -> None:
    """Validate the config, read every feed once, look at the mail transport and the state
    database; one line per mistake, the same warnings a build would give.

    One line per feed on stdout: ok or warning, its entries, its name. Exit 2 for config
    mistakes, 1 when a feed cannot be read or mail or the state database would fail, else 0.

    \b
    Example:
        digest -c config.yaml check
    """
    from digest.checks import check_feeds, check_mail, check_state
    from digest.config import load_config

    try:
        config = load_config(state.config_arg)
        feeds = check_feeds(config)  # reads feeds_file, which can be broken too
    except ConfigError as exc:
        for message in exc.messages:
            say(f"error: {message}")
        sys.exit(2)
    if not feeds:
        say("warning: feeds: no feeds configured; add some under feeds:")
    bad = 0
    for feed in feeds:
        if feed.error is not None:
            say(f"error: {feed.where}: {feed.error}")
            bad += 1
            continue
        for warning in feed.warnings:
            say(f"warning: {feed.where}: {warning}")
        status = "warning" if feed.warnings else "ok"
        click.echo(f"{status}\t{plural(feed.entries, 'entry', 'entries')}\t{feed.name}")
    for problem in [*check_mail(config), *check_state(config.state)]:
        say(f"error: {problem}")
        bad += 1
    sys.exit(1 if bad else 0)


# Magic numbers of formats that are certainly not text (images, archives, documents).
_BINARY_SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a ZIP archive (or an Office document)",
    b"\x1f\x8b": "gzip-compressed data",
    b"RIFF": "a RIFF file (audio, video or WebP)",
    b"\x7fELF": "a program",
}


def _read_source(source: str) -> str:
    """The text of FILE (or stdin for "-"); DigestError for what is not a readable text file."""
    if source == "-":
        data = sys.stdin.buffer.read()
        name = "stdin"
    else:
        path = Path(source)
        if path.is_dir():
            raise DigestError(f"{source}: is a folder; give a text or HTML file")
        if not path.exists():
            raise DigestError(f"{source}: no such file; check the path")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise DigestError(f"{source}: cannot be read ({exc.strerror or exc})") from exc
        name = source
    head = data[:8192]
    for magic, kind in _BINARY_SIGNATURES.items():
        if head.startswith(magic):
            raise DigestError(f"{name}: {kind}, not text; give a text or HTML file")
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DigestError(f"{name}: binary data, not text; give a text or HTML file")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    # Undecodable bytes become U+FFFD rather than stopping a long batch.
    return data.decode("utf-8-sig", errors="replace")


@main.command()
@click.argument("source", default="-", metavar="[FILE|-]")
@click.option(
    "--sentences",
    "-n",
    type=click.IntRange(1, 50),
    help="Exactly N sentences (default: summary.sentences within summary.max_words).",
)
@click.option("--lang", "language", metavar="CODE|auto", help="Language (default: detect).")
@click.option("--method", type=METHOD_CHOICE, help="Summariser (default: summary.method).")
@click.option("--jsonl", is_flag=True, help='Input lines {"id","text",...}; JSON lines out.')
@pass_state
def summarize(
    state: CliState,
    source: str,
    sentences: int | None,
    language: str | None,
    method: str | None,
    jsonl: bool,
) -> None:
    """Summarise text or HTML: one summary sentence per line on stdout.

    Runs the digest's own road: a whole page goes through extraction (as `digest extract`),
    an HTML fragment through the conversion feed content gets, plain text through the same
    cleaning. With --jsonl each input line is {"id", "text", "title"?, "lang"?, "feed"?}
    and each output line {"id", "lang", "method", "summary": [...], "excerpt"?}, in input
    order; lines recurring across records of one feed are dropped as its boilerplate; a
    malformed line is reported on stderr with its number and skipped (exit 1 at the end).

    \b
    Examples:
        digest summarize article.txt --sentences 2
        digest summarize page.html --lang id
        digest summarize --jsonl < articles.jsonl > summaries.jsonl
    """
    from digest.i18n import is_language_code
    from digest.text.summarize import summarize as summarize_text
    from digest.text.summarize import summarize_documents

    config = run(state, state.load_optional)
    lang = (language or config.summary.language).lower()
    if not (lang == "auto" or is_language_code(lang)):
        raise click.BadParameter(
            f"expected 'auto' or an ISO 639-1 code such as 'en' or 'id', found {language!r}",
            param_hint="--lang",
        )
    # --sentences N means exactly N; otherwise the config's length: up to
    # summary.sentences sentences within summary.max_words words, as in the digest.
    count = sentences or config.summary.sentences
    budget = None if sentences else config.summary.max_words
    chosen = method or config.summary.method
    text = run(state, lambda: _read_source(source))
    if not jsonl:
        summary = summarize_text(
            text, language=lang, sentences=count, method=chosen, max_words=budget
        )
        for sentence in summary.sentences:
            click.echo(sentence)
        return
    bad = 0
    records: list[tuple[Any, Document]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(_jsonl_record(line, lang))
        except ValueError as exc:
            click.echo(f"line {number}: skipped: {exc}", err=True)
            bad += 1
    # All records at once: lines recurring across the records of one feed (their "feed"
    # key; one group without it) are boilerplate, as when the digest parses a feed.
    summaries = summarize_documents(
        [document for _, document in records],
        sentences=count,
        method=chosen,
        max_words=budget,
    )
    for (ident, _), summary in zip(records, summaries, strict=True):
        record_out: dict[str, Any] = {
            "id": ident,
            "lang": summary.language,
            "method": summary.method,
            "summary": list(summary.sentences),
        }
        if summary.excerpt:
            record_out["excerpt"] = True
        click.echo(json.dumps(record_out, ensure_ascii=False))
    if bad:
        sys.exit(1)


def _jsonl_record(line: str, lang: str) -> tuple[Any, Document]:
    """The id and the document of one --jsonl input line; ValueError says what is wrong."""
    from digest.i18n import language_code
    from digest.text.summarize import Document

    record = json.loads(line)
    if not isinstance(record, dict):
        raise ValueError("expected a JSON object")
    body = record.get("text")
    if not isinstance(body, str):
        raise ValueError('missing "text" string')
    if "id" not in record:
        raise ValueError('missing "id"')
    title = record.get("title")
    line_lang = record.get("lang") or lang
    if not isinstance(line_lang, str) or not (
        line_lang.lower() == "auto" or language_code(line_lang) is not None
    ):
        raise ValueError('"lang" must be "auto" or an ISO 639-1 code such as "id"')
    feed = record.get("feed")
    return record["id"], Document(
        body,
        title=title if isinstance(title, str) else None,
        language=line_lang.lower(),
        feed=feed if isinstance(feed, str) else None,
    )


@main.command()
@click.argument("target", metavar="FILE|URL")
@click.option("--json", "as_json", is_flag=True, help="JSON lines, one per entry.")
@pass_state
def parse(state: CliState, target: str, as_json: bool) -> None:
    """Every entry of one feed, in feed order, no dedupe.

    JSON lines: {"id","title","link","published","lang","text_chars","full_text"}.
    Problems go to stderr; exit 1 with one line when nothing could be read.

    \b
    Example:
        digest parse examples/feeds/antara-id.xml --json
    """
    from digest.pipeline import read_feed

    config = run(state, state.load_optional)
    parsed = run(state, lambda: read_feed(target, config=config))
    for problem in parsed.problems:
        say(f"warning: {problem.feed}: {problem.message}")
    for article in parsed.articles:
        published = (
            article.published.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
            if article.published
            else None
        )
        if as_json:
            record = {
                "id": article.id,
                "title": article.title,
                "link": article.link,
                "published": published,
                "lang": article.language,
                "text_chars": len(article.text),
                "full_text": article.full_text,
            }
            click.echo(_json_line(record))
        else:
            click.echo(f"{published or '-'}\t{article.title}\t{article.link or '-'}")


def _json_line(record: dict[str, Any]) -> str:
    """One JSON line; U+2028/U+2029 escaped, as readers that split on them would break it."""
    text = json.dumps(record, ensure_ascii=False)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


@main.command()
@click.argument("target", metavar="FILE|URL")
@click.option("--json", "as_json", is_flag=True, help='{"url","title","lang","text"}.')
@pass_state
def extract(state: CliState, target: str, as_json: bool) -> None:
    """Main text of an article page (a file or an http(s) URL), without boilerplate.

    \b
    Example:
        digest extract https://example.org/news/story.html --json
    """
    from digest.sources.pages import extract_source

    config = run(state, state.load_optional)
    from digest.pipeline import make_http

    def go() -> ExtractedPage:
        with make_http(config) as http:
            return extract_source(target, http=http)

    page = run(state, go)
    if as_json:
        record = {"url": page.url, "title": page.title, "lang": page.language, "text": page.text}
        click.echo(json.dumps(record, ensure_ascii=False))
    else:
        click.echo(page.text)


class _Commands(dict[str, click.Command]):
    """The group's commands, where those of the later stages are imported on first use.

    They live beside their library modules (mail, store, preview), which take a few hundred
    milliseconds to import; `digest build` should not wait for `digest send`'s. Asking for
    a command by name imports its module; listing them imports all.
    """

    def __init__(self, lazy: dict[str, tuple[str, str]]) -> None:
        super().__init__()
        self._lazy = dict(lazy)

    def _load(self, name: str | None = None) -> None:
        for key in [name] if name is not None else list(self._lazy):
            spec = self._lazy.pop(key, None) if key is not None else None
            if spec is not None:
                module = importlib.import_module(spec[0])
                super().__setitem__(key, getattr(module, spec[1]))

    def __getitem__(self, key: str) -> click.Command:
        self._load(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self._load(key)
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._lazy or super().__contains__(key)

    def __iter__(self) -> Any:
        self._load()
        return super().__iter__()

    def __len__(self) -> int:
        return len(self._lazy) + super().__len__()

    def keys(self) -> Any:
        self._load()
        return super().keys()

    def values(self) -> Any:
        self._load()
        return super().values()

    def items(self) -> Any:
        self._load()
        return super().items()

    def setdefault(self, key: str, default: Any = None) -> Any:
        self._load(key)
        return super().setdefault(key, default)


def _register() -> None:
    # Commands of the later stages live beside their library modules; the group is here.
    commands = _Commands(
        {
            "preview": ("digest.cli.preview", "preview"),
            "send": ("digest.cli.delivery", "send"),
            "status": ("digest.cli.delivery", "status"),
            "run": ("digest.cli.delivery", "run_daemon"),
            "feeds": ("digest.cli.feeds", "feeds"),
            "state": ("digest.cli.state", "state_group"),
        }
    )
    commands.update(main.commands)
    main.commands = commands


_register()

if _GUARD_IMPORT:
    # From here on a Ctrl-C is a KeyboardInterrupt again, which the group turns into one line.
    signal.signal(signal.SIGINT, signal.default_int_handler)
