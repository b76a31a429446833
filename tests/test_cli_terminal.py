"""What reaches the terminal (issue 12): escaped log lines, quiet libraries, one-line usage
errors, and Ctrl-C at any moment as one line and exit 130."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import main
from digest.cli.common import SafeFormatter, escape_controls
from tests.conftest import REPO

# What these tests read on stderr is what the command wrote, not other tests' servers.
pytestmark = pytest.mark.usefixtures("quiet_test_servers")


NASTY = "title \x1b]0;pwned\x07 \x1b[2J\rfake line\nWARNING forged: \u202eevil \ud800 \x9b31m"


def test_escape_controls_leaves_one_printable_line() -> None:
    escaped = escape_controls(NASTY)
    assert escaped == (
        "title \\x1b]0;pwned\\x07 \\x1b[2J\\x0dfake line\\x0aWARNING forged: \\u202eevil "
        "\\ud800 \\x9b31m"
    )
    escaped.encode("utf-8")
    assert escape_controls("tab\tand ümlaut, اردو") == "tab\tand ümlaut, اردو"


def test_the_formatter_escapes_messages_but_keeps_traceback_lines() -> None:
    formatter = SafeFormatter("%(levelname)s %(name)s: %(message)s")
    record = logging.LogRecord("digest.x", logging.WARNING, __file__, 1, "%s", (NASTY,), None)
    line = formatter.format(record)
    assert "\n" not in line and "\x1b" not in line and "\\x1b" in line
    try:
        raise ValueError("bad \x1b[31m value")
    except ValueError:
        record = logging.LogRecord(
            "digest.x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    text = formatter.format(record)
    assert text.count("\n") >= 2 and "\x1b" not in text and "bad \\x1b[31m value" in text


LIBRARY_NOISE = textwrap.dedent(
    """
    import logging, sys, warnings
    from digest.cli.common import setup_logging
    setup_logging(int(sys.argv[1]), False)
    for name in ("trafilatura.core", "htmldate", "courlan", "charset_normalizer"):
        logging.getLogger(name).warning("library chatter from %s", name)
    warnings.warn("sumy: LSA may not work properly", UserWarning)
    logging.getLogger("digest.sources.feeds").warning("ours \\x1b[31m")
    """
)


def _noise(verbose: int) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", LIBRARY_NOISE, str(verbose)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    return done.stderr.splitlines()


def test_library_log_lines_and_warnings_stay_off_stderr_by_default() -> None:
    assert _noise(0) == ["WARNING digest.sources.feeds: ours \\x1b[31m"]
    shown = "\n".join(_noise(1))
    assert "library chatter from trafilatura.core" in shown
    assert "LSA may not work properly" in shown


def test_an_escape_sequence_in_an_error_is_escaped(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["parse", str(tmp_path / "x\x1b[2Jy.xml")])
    assert result.exit_code == 1
    assert "\x1b" not in result.stderr and "\\x1b[2J" in result.stderr
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["build", "--date", "26.11.2026"], "--date"),
        (["nosuchcommand"], "No such command"),
        (["build", "--no-such-option"], "--no-such-option"),
        (["preview", "--port", "70000"], "--port"),
    ],
)
def test_usage_errors_are_one_line(args: list[str], needle: str) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("error: ") and needle in line and "--help" in line


def test_help_and_version_still_work() -> None:
    assert CliRunner().invoke(main, ["--version"]).exit_code == 0
    group = CliRunner().invoke(main, ["feeds"])
    assert "list" in group.output and "Traceback" not in group.output


# --- Ctrl-C ---------------------------------------------------------------------------

# Sends SIGINT to itself the moment a chosen module starts importing, then runs the console
# script's code: a Ctrl-C at that exact point of the start-up or of the work, every time.
INTERRUPT_AT = textwrap.dedent(
    """
    import importlib.abc, os, signal, sys
    target = sys.argv[1]

    class Trap(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target_=None):
            if name == target:
                sys.meta_path.remove(self)
                os.kill(os.getpid(), signal.SIGINT)
            return None

    sys.meta_path.insert(0, Trap())
    sys.argv = ["digest", *sys.argv[2:]]
    from digest.cli import main
    sys.exit(main())
    """
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    shutil.copytree(REPO / "examples", folder / "examples")
    shutil.copy(REPO / "config.yaml", folder / "config.yaml")
    return folder / "config.yaml"


@pytest.mark.parametrize(
    "module",
    [
        "click",  # while digest.cli itself is imported
        "digest.models",
        "digest.config",  # inside the command: loading the config
        "digest.pipeline",
        "feedparser",  # parsing feeds
        "digest.text.summarize",  # summarising
        "css_inline",  # rendering
    ],
)
def test_ctrl_c_at_any_point_is_one_line_and_exit_130(demo: Path, module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", INTERRUPT_AT, module, "-c", str(demo), "build", "--dry-run"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=demo.parent,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert done.returncode == 130, done.stderr
    assert done.stderr.splitlines() == ["interrupted (Ctrl-C); run the command again to finish"], (
        done.stderr
    )
    assert done.stdout == ""


def _start_up_seconds() -> float:
    """How long `digest --version` takes here: the interpreter's start-up and our imports,
    before which no Python code of ours can catch a Ctrl-C (measured, since a loaded CI
    machine is several times slower than a quiet laptop)."""
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "digest", "--version"], capture_output=True, check=True)
    return time.monotonic() - started


def test_ctrl_c_during_a_real_build(demo: Path) -> None:
    start_up = _start_up_seconds()
    process = subprocess.Popen(
        [sys.executable, "-m", "digest", "-c", str(demo), "build", "--dry-run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=demo.parent,
    )
    # Past the interpreter's own start-up (which no Python code can guard), well before the
    # build is done.
    try:
        process.wait(timeout=2 * start_up)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    if process.returncode == 0:
        pytest.skip("the build finished before the signal was sent")
    assert process.returncode == 130, err
    assert err.splitlines() == ["interrupted (Ctrl-C); run the command again to finish"]


def test_a_ctrl_c_pydantic_caught_while_building_a_schema_is_still_a_ctrl_c() -> None:
    """pydantic-core keeps only the text of a KeyboardInterrupt that lands while it builds a
    model's schema (seen under load in test_ctrl_c_during_a_real_build): still exit 130."""
    from pydantic_core import SchemaError

    from digest.cli.common import _caused_by_interrupt

    wrapped = SchemaError("Error building `model` serializer:\n  KeyboardInterrupt: ")
    assert _caused_by_interrupt(wrapped)
    assert not _caused_by_interrupt(SchemaError("Invalid Schema: missing field"))
    assert not _caused_by_interrupt(ValueError("KeyboardInterrupt in a feed title"))
