"""Bad input to every command: one line on stderr that says what to do, the contract's exit
code, never a traceback (issue 12).

Each row of CASES prepares a folder, runs ``digest ARGS`` in it and names the exit code, a
word the line must contain, and how many stderr lines (one, or one per config mistake). Most
run in-process through click's CliRunner; the read-only ones run ``python -m digest`` as an
unprivileged user (``nobody`` when the tests run as root, as CI does), since root writes
wherever it likes. `summarize` and `extract` have tests of their own.
"""

from __future__ import annotations

import os
import pwd
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from digest.cli import main
from tests.conftest import REPO

# What these tests read on stderr is what the command wrote, not other tests' servers.
pytestmark = pytest.mark.usefixtures("quiet_test_servers")


FEED = (
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>F</title>'
    "<item><title>One</title><link>https://example.org/1</link>"
    "<description>The council met on Tuesday. It approved the budget.</description>"
    "</item></channel></rss>"
)
OPML = (
    '<?xml version="1.0"?><opml version="2.0"><head><title>t</title></head><body>'
    '<outline type="rss" text="A" xmlUrl="https://a.example/feed"/></body></opml>'
)
EMAIL = {"from": "Digest <d@example.org>", "to": ["r@example.org"], "sendmail": "/bin/true"}
IS_ROOT = os.geteuid() == 0

Setup = Callable[[Path], None]


def config(**data: Any) -> Setup:
    """Write config.yaml (state in .digest/, a readable feed f.xml) with ``data`` on top."""

    def setup(folder: Path) -> None:
        (folder / "f.xml").write_text(FEED, encoding="utf-8")
        base: dict[str, Any] = {
            "feeds": [{"path": "f.xml", "full_text": "never"}],
            "state": ".digest/state.sqlite",
        }
        base.update(data)
        (folder / "config.yaml").write_text(yaml.safe_dump(base), encoding="utf-8")

    return setup


def raw_config(text: str) -> Setup:
    def setup(folder: Path) -> None:
        (folder / "config.yaml").write_text(text, encoding="utf-8")

    return setup


def files(**contents: str | bytes) -> Setup:
    """Files relative to the folder (``__`` in a name is a "/")."""

    def setup(folder: Path) -> None:
        for name, content in contents.items():
            path = folder / name.replace("__", "/")
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")

    return setup


def both(*setups: Setup) -> Setup:
    def setup(folder: Path) -> None:
        for one in setups:
            one(folder)

    return setup


def garbage_state(folder: Path) -> None:
    (folder / ".digest").mkdir(exist_ok=True)
    (folder / ".digest" / "state.sqlite").write_bytes(b"not a database at all " * 200)


def _state(folder: Path) -> Path:
    from digest.store import Store

    path = folder / ".digest" / "state.sqlite"
    Store(path).close()
    return path


def readonly_state(folder: Path) -> None:
    """A state database this user cannot write, in a folder it can."""
    path = _state(folder)
    writable(path.parent)
    readonly(path)


def readonly_state_folder(folder: Path) -> None:
    """A writable state database in a folder this user cannot write (SQLite needs both)."""
    path = _state(folder)
    writable(path)
    readonly(path.parent)


def readonly_folder(name: str) -> Setup:
    def setup(folder: Path) -> None:
        (folder / name).mkdir(parents=True, exist_ok=True)
        readonly(folder / name)

    return setup


def readonly(path: Path) -> None:
    # Owned by root (when root prepares it) and without write bits: read-only for `nobody`,
    # and for the user running the tests when that is not root.
    os.chmod(path, path.stat().st_mode & ~0o222)


def writable(path: Path) -> None:
    if IS_ROOT:
        user = pwd.getpwnam("nobody")
        os.chown(path, user.pw_uid, user.pw_gid)
    os.chmod(path, path.stat().st_mode | 0o200)


def nothing(folder: Path) -> None:
    """No files at all."""


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]
    code: int
    needle: str
    setup: Setup = nothing
    lines: int = 1
    unprivileged: bool = False
    stdout: str | None = field(default=None)

    def argv(self, folder: Path) -> list[str]:
        return [a.replace("{dir}", str(folder)) for a in self.args]


C = ("-c", "{dir}/config.yaml")
CASES = [
    # -- init
    Case("init-under-a-file", ("init", "{dir}/afile/sub"), 1, "is a file", files(afile="x")),
    Case("init-over-a-config", ("init", "{dir}"), 1, "already exists", config()),
    Case("init-bad-option", ("init", "--force"), 2, "--force"),
    Case(
        "init-read-only-folder",
        ("init", "{dir}/ro"),
        1,
        "read-only",
        readonly_folder("ro"),
        unprivileged=True,
    ),
    # -- build
    Case("build-no-config", ("-c", "{dir}/nope.yaml", "build"), 2, "digest init"),
    Case("build-config-is-a-folder", ("-c", "{dir}", "build"), 2, "cannot be read"),
    Case("build-invalid-yaml", (*C, "build"), 2, "invalid YAML", raw_config("feeds: [\n")),
    Case(
        "build-two-mistakes",
        (*C, "build"),
        2,
        "language",
        config(titel="x", language="english"),
        lines=2,
    ),
    Case("build-bad-date", (*C, "build", "--date", "tomorrow"), 2, "--date", config()),
    Case(
        "build-feeds-file-not-opml",
        (*C, "build"),
        2,
        "feeds_file:",
        both(config(feeds_file="subs.opml"), files(**{"subs.opml": "just text\n"})),
    ),
    Case(
        "build-feeds-file-truncated",
        (*C, "build"),
        2,
        "feeds_file:",
        both(config(feeds_file="subs.opml"), files(**{"subs.opml": OPML[:-20]})),
    ),
    Case(
        "build-feeds-file-missing",
        (*C, "build"),
        2,
        "feeds_file:",
        config(feeds_file="subs.opml"),
    ),
    Case(
        "build-template-not-utf8",
        (*C, "build", "--dry-run"),
        1,
        "digest.html: not UTF-8",
        both(config(templates_dir="tpl"), files(**{"tpl__digest.html": b"caf\xe9 {{ title }}"})),
    ),
    Case(
        "build-template-mistake",
        (*C, "build", "--dry-run"),
        1,
        "line 1",
        both(config(templates_dir="tpl"), files(**{"tpl__digest.html": "{{ nope.x }}"})),
    ),
    Case(
        "build-templates-dir-missing", (*C, "build"), 2, "templates_dir", config(templates_dir="t")
    ),
    Case("build-time-25", (*C, "build"), 2, "schedule.time", config(schedule={"time": "25:00"})),
    Case("build-time-number", (*C, "build"), 2, "in quotes", raw_config("schedule:\n  time: 7\n")),
    Case("build-bad-timezone", (*C, "build"), 2, "timezone", config(timezone="Mars/Olympus")),
    Case("build-garbage-state", (*C, "build"), 1, "is damaged", both(config(), garbage_state)),
    Case(
        "build-read-only-state",
        (*C, "build"),
        1,
        "cannot write the state database",
        both(config(), readonly_state),
        unprivileged=True,
    ),
    Case(
        "build-read-only-state-folder",
        (*C, "build"),
        1,
        "cannot write the state database",
        both(config(), readonly_state_folder),
        unprivileged=True,
    ),
    # -- check
    Case("check-missing-feed", (*C, "check"), 1, "feeds[0]", config(feeds=[{"path": "no.xml"}])),
    Case(
        "check-web-page",
        (*C, "check"),
        1,
        "web page",
        both(config(feeds=[{"path": "p.html"}]), files(**{"p.html": "<!DOCTYPE html><p>x"})),
    ),
    Case(
        "check-ill-formed-feed",
        (*C, "check"),
        0,
        "not well-formed",
        both(config(), files(**{"f.xml": FEED.replace("One", "One & two")})),
        stdout="warning\t1 entry\tF\n",
    ),
    Case(
        "check-sendmail-missing",
        (*C, "check"),
        1,
        "email.sendmail",
        config(email={**EMAIL, "sendmail": "/no/such/sendmail"}),
    ),
    Case("check-garbage-state", (*C, "check"), 1, "state:", both(config(), garbage_state)),
    Case(
        "check-feeds-file-broken",
        (*C, "check"),
        2,
        "feeds_file:",
        both(config(feeds_file="s.opml"), files(**{"s.opml": "<opml><body>"})),
    ),
    Case(
        "check-read-only-state",
        (*C, "check"),
        1,
        "state:",
        both(config(), readonly_state),
        unprivileged=True,
    ),
    # -- fetch
    Case("fetch-no-config", ("-c", "{dir}/none.yaml", "fetch"), 2, "digest init"),
    Case("fetch-garbage-state", (*C, "fetch"), 1, "is damaged", both(config(), garbage_state)),
    Case(
        "fetch-read-only-state-folder",
        (*C, "fetch"),
        1,
        "cannot write the state database",
        both(config(), readonly_state_folder),
        unprivileged=True,
    ),
    # -- parse
    Case("parse-missing-file", ("parse", "{dir}/nope.xml"), 1, "nope.xml"),
    Case("parse-empty-file", ("parse", "{dir}/e.xml"), 1, "empty", files(**{"e.xml": ""})),
    Case(
        "parse-binary",
        ("parse", "{dir}/b.bin"),
        1,
        "binary",
        files(**{"b.bin": b"\0\x01\x02" * 99}),
    ),
    Case("parse-a-folder", ("parse", "{dir}"), 1, "error: "),
    Case(
        "parse-json-not-a-feed",
        ("parse", "{dir}/j.json"),
        1,
        "not a JSON Feed",
        files(**{"j.json": '{"hello": "world"}'}),
    ),
    Case("parse-escape-in-path", ("parse", "{dir}/\x1b[2Jx.xml"), 1, "\\x1b[2J"),
    Case(
        "parse-ill-formed",
        ("parse", "{dir}/f.xml"),
        0,
        "not well-formed",
        files(**{"f.xml": FEED.replace("One", "One & two")}),
    ),
    # -- send
    Case(
        "send-two-addresses-in-one",
        (*C, "send", "--to", "a@b.org, c@d.org"),
        2,
        "one email address",
        config(email=EMAIL),
    ),
    Case(
        "send-bad-address", (*C, "send", "--to", "not-an-address"), 2, "--to", config(email=EMAIL)
    ),
    Case("send-no-email-section", (*C, "send"), 2, "email", config()),
    Case("send-bad-date", (*C, "send", "--date", "2026-13-01"), 2, "--date", config(email=EMAIL)),
    Case(
        "send-password-not-set",
        (*C, "send"),
        2,
        "password_env",
        config(
            email={
                "from": "d@example.org",
                "to": ["r@example.org"],
                "smtp": {"host": "127.0.0.1", "username": "u", "password_env": "NO_SUCH_VAR_12"},
            }
        ),
    ),
    Case(
        "send-read-only-state",
        (*C, "send"),
        1,
        "cannot write the state database",
        both(config(email=EMAIL), readonly_state),
        unprivileged=True,
    ),
    # -- status
    Case("status-no-config", ("-c", "{dir}/x.yaml", "status"), 2, "digest init"),
    Case("status-garbage-state", (*C, "status"), 1, "is damaged", both(config(), garbage_state)),
    # -- feeds
    Case(
        "feeds-add-not-a-url",
        (*C, "feeds", "add", "not-a-url"),
        2,
        "http:// or https://",
        config(feeds_file="s.opml"),
    ),
    Case(
        "feeds-add-empty-name",
        (*C, "feeds", "add", "https://a.example/f", "--no-check", "--name", ""),
        2,
        "--name",
        config(feeds_file="s.opml"),
    ),
    Case(
        "feeds-add-blank-name",
        (*C, "feeds", "add", "https://a.example/f", "--no-check", "--name", "   "),
        2,
        "--name",
        config(feeds_file="s.opml"),
    ),
    Case(
        "feeds-add-without-feeds-file",
        (*C, "feeds", "add", "https://a.example/f", "--no-check"),
        2,
        "feeds_file",
        config(),
    ),
    Case(
        "feeds-add-read-only-folder",
        (*C, "feeds", "add", "https://b.example/f", "--no-check"),
        1,
        "cannot write",
        both(config(feeds_file="subs/s.opml"), readonly_folder("subs")),
        unprivileged=True,
    ),
    Case(
        "feeds-remove-unknown",
        (*C, "feeds", "remove", "Nobody"),
        1,
        "no feed named",
        both(config(feeds_file="s.opml"), files(**{"s.opml": OPML})),
    ),
    Case(
        "feeds-remove-no-file",
        (*C, "feeds", "remove", "A"),
        1,
        "does not exist",
        config(feeds_file="s.opml"),
    ),
    Case(
        "feeds-import-missing",
        (*C, "feeds", "import", "{dir}/none.opml"),
        1,
        "cannot read",
        config(feeds_file="s.opml"),
    ),
    Case(
        "feeds-import-not-opml",
        (*C, "feeds", "import", "{dir}/f.xml"),
        1,
        "not an OPML",
        config(feeds_file="s.opml"),
    ),
    Case(
        "feeds-list-broken-file",
        (*C, "feeds", "list"),
        2,
        "feeds_file:",
        both(config(feeds_file="s.opml"), files(**{"s.opml": "{}"})),
    ),
    Case(
        "feeds-export-truncated-file",
        (*C, "feeds", "export"),
        2,
        "feeds_file:",
        both(config(feeds_file="s.opml"), files(**{"s.opml": OPML[:40]})),
    ),
    # -- preview
    Case("preview-no-config", ("-c", "{dir}/x.yaml", "preview"), 2, "digest init"),
    Case("preview-bad-port", (*C, "preview", "--port", "70000"), 2, "--port", config()),
    # -- the group
    Case("unknown-command", ("frobnicate",), 2, "No such command"),
    Case("unknown-option", ("--colour",), 2, "--colour"),
]


def test_there_are_enough_cases_across_every_command() -> None:
    assert len(CASES) >= 40
    commands = {
        next((a for a in c.args if not a.startswith("-") and "{dir}" not in a), None) for c in CASES
    }
    assert {
        "init",
        "build",
        "check",
        "fetch",
        "parse",
        "send",
        "status",
        "feeds",
        "preview",
    } <= commands


def _assert_one_line(case: Case, code: int, stdout: str, stderr: str) -> None:
    detail = f"{case.id}: exit {code}\nstderr: {stderr!r}\nstdout: {stdout[-500:]!r}"
    assert code == case.code, detail
    assert "Traceback" not in stderr and "Traceback" not in stdout, detail
    lines = stderr.splitlines()
    assert len(lines) == case.lines, detail
    assert case.needle in stderr, detail
    if case.code != 0:
        assert all(line.startswith("error: ") for line in lines), detail
    if case.stdout is not None:
        assert stdout == case.stdout, detail


@pytest.mark.parametrize("case", [c for c in CASES if not c.unprivileged], ids=lambda c: c.id)
def test_bad_input(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case.setup(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DIGEST_CONFIG", raising=False)
    result = CliRunner().invoke(main, case.argv(tmp_path))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    _assert_one_line(case, result.exit_code, result.stdout, result.stderr)


# --- as an unprivileged user -----------------------------------------------------------------


@dataclass(frozen=True)
class Unprivileged:
    """How to start a process that cannot write root's files."""

    prefix: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)

    def run(self, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.prefix, *argv], capture_output=True, text=True, **self.options, **kwargs
        )


@pytest.fixture(scope="module")
def unprivileged() -> Unprivileged:
    """Ourselves when not root; else `nobody`, through subprocess's user= or, when this
    Python lives where `nobody` cannot reach (a pyenv under /root), through setpriv, which
    drops every capability only once the program is started."""
    if not IS_ROOT:
        return Unprivileged()
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("running as root and there is no user 'nobody' to drop to")
    ways = [
        Unprivileged(options={"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []})
    ]
    setpriv = shutil.which("setpriv")
    if setpriv:
        drop = (f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups")
        ways.append(Unprivileged(prefix=(setpriv, *drop)))
    reasons = []
    for way in ways:
        try:
            probe = way.run(
                [sys.executable, "-c", "import os, digest.cli; print(os.geteuid())"], cwd="/"
            )
        except OSError as exc:
            reasons.append(str(exc))
            continue
        if probe.returncode == 0 and probe.stdout.strip() == str(nobody.pw_uid):
            return way
        reasons.append(probe.stderr.strip()[-200:])
    pytest.skip(f"cannot run this checkout's Python as 'nobody': {'; '.join(reasons)}")


@pytest.fixture
def open_folder() -> Iterator[Path]:
    """A temp folder every user can enter (pytest's own tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="digest-bad-input-"))
    folder.chmod(0o755)
    if IS_ROOT:
        writable(folder)
    yield folder
    for root, dirs, _ in os.walk(folder):
        for name in dirs:
            os.chmod(Path(root) / name, 0o755)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("case", [c for c in CASES if c.unprivileged], ids=lambda c: c.id)
def test_bad_input_as_an_unprivileged_user(
    case: Case, open_folder: Path, unprivileged: Unprivileged
) -> None:
    case.setup(open_folder)
    for path in [open_folder, *open_folder.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o444 | (0o111 if path.is_dir() else 0))
    env = {
        **os.environ,
        "HOME": str(open_folder),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": str(REPO),
    }
    env.pop("DIGEST_CONFIG", None)
    done = unprivileged.run(
        [sys.executable, "-m", "digest", *case.argv(open_folder)],
        cwd=open_folder,
        env=env,
        timeout=120,
    )
    _assert_one_line(case, done.returncode, done.stdout, done.stderr)


def test_the_database_a_read_only_case_starts_from_is_a_real_one(tmp_path: Path) -> None:
    path = _state(tmp_path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] > 0
