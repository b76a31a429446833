"""A local preview server for the next digest, rebuilt when its inputs change.

``GET /`` is the digest HTML exactly as it would be mailed and ``GET /text`` the plain-text
part; ``GET /live`` wraps ``/`` (or ``/text``) in a page that reloads it after each rebuild,
so ``/`` itself never carries a script. The digest is built as ``digest build --dry-run``
builds it (no state changes) and built again, lazily on the next request, when config.yaml,
a template, a local feed file or the ``feeds_file`` changes (their mtimes are polled). A
build that fails is shown in the page (HTTP 500) and the server keeps serving.

Feed content is untrusted: every response forbids content sniffing and the digest is served
with a Content-Security-Policy that allows no scripts. The server binds 127.0.0.1 unless
told otherwise, and then answers only requests addressed to a loopback name (a defence
against DNS rebinding).
"""

from __future__ import annotations

import datetime as dt
import errno
import html
import ipaddress
import json
import logging
import os
import socket
import socketserver
import sys
import threading
import time
import traceback
import webbrowser
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Protocol
from urllib.parse import parse_qs, urlsplit

from digest.config import Config, load_config
from digest.errors import ConfigError, DigestError, RenderError
from digest.models import utc_now
from digest.render import RenderedDigest, builtin_templates_dir

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000

# The digest may contain anything a feed sent; even though render.py sanitises it, the
# browser is told to run no script at all, and only our own /live page may frame it.
DIGEST_CSP = (
    "default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
)
# The live wrapper runs exactly one script of ours (/live.js) and frames only this server.
LIVE_CSP = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; frame-src 'self'; "
    "style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
# Editors write swap and backup files next to the file being edited; they are not templates.
_IGNORED_SUFFIXES = ("~", ".swp", ".swx", ".tmp")
# A templates_dir pointed at a huge tree would make every poll slow; stop walking there.
_MAX_WATCHED_FILES = 2000

Stamp = tuple[int, int] | None  # (mtime_ns, size) of a file; None when it does not exist


class BuildFunction(Protocol):
    """Builds the next digest for ``config`` at ``now`` without changing any state."""

    def __call__(self, config: Config, *, now: dt.datetime) -> RenderedDigest: ...


def default_build(config: Config, *, now: dt.datetime) -> RenderedDigest:
    """The real build: :func:`digest.pipeline.build_preview` (a ``--dry-run`` build)."""
    # Imported here so that `digest --help` does not load every pipeline stage.
    from digest.pipeline import build_preview

    return build_preview(config, now=now)


@dataclass(frozen=True)
class BuildFailure:
    """Why a build failed, in words for the page: a title, one line per mistake, a hint."""

    kind: str
    messages: tuple[str, ...]
    hint: str
    traceback: str | None = None


@dataclass(frozen=True)
class BuildResult:
    """One build attempt: the rendered digest or the failure, numbered by ``version``."""

    version: int
    built_at: dt.datetime
    seconds: float
    rendered: RenderedDigest | None = None
    failure: BuildFailure | None = None

    @property
    def ok(self) -> bool:
        return self.rendered is not None


def _stamp(path: Path) -> Stamp:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def _ignored(name: str) -> bool:
    return name.startswith((".", "#")) or name.endswith(_IGNORED_SUFFIXES) or name == "__pycache__"


def _files_under(folder: Path) -> Iterator[Path]:
    count = 0
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not _ignored(d))
        for name in sorted(files):
            if _ignored(name):
                continue
            if count >= _MAX_WATCHED_FILES:
                log.debug("watching only the first %d files under %s", count, folder)
                return
            count += 1
            yield Path(root) / name


def snapshot(paths: Iterable[Path]) -> dict[Path, Stamp]:
    """The stamp of every watched file; a folder stands for every file under it.

    Hidden files and editor swap files are left out, so an open editor does not trigger
    rebuilds; a file that appears or disappears changes the snapshot.
    """
    result: dict[Path, Stamp] = {}
    for path in paths:
        if not path.is_dir():
            result[path] = _stamp(path)
            continue
        result[path] = (-1, -1)  # the folder exists; its own mtime moves with swap files
        for file in _files_under(path):
            result[file] = _stamp(file)
    return result


def watched_paths(config: Config) -> list[Path]:
    """The inputs of a build besides the config file: templates, local feeds, feeds_file."""
    paths: list[Path] = []
    if config.templates_dir is not None:
        paths.append(config.templates_dir)
    # Watched too, so that editing the built-in templates in a source checkout rebuilds.
    builtin = builtin_templates_dir()
    if builtin.is_dir():
        paths.append(builtin)
    if config.feeds_file is not None:
        paths.append(config.feeds_file)
    try:
        sources = config.feed_sources()
    except DigestError:
        # An unreadable feeds_file fails the build itself, which reports it.
        sources = []
    local = {f.path for f in config.feeds if f.path is not None}
    local.update(s.path for s in sources if s.path is not None)
    paths.extend(sorted(local))
    return paths


def describe_failure(exc: Exception, config_path: Path) -> BuildFailure:
    """Turn a build exception into what the page shows; unexpected ones keep a traceback."""
    if isinstance(exc, ConfigError):
        return BuildFailure(
            "Configuration error",
            exc.messages,
            f"Fix {config_path} and save it; the preview rebuilds by itself.",
        )
    if isinstance(exc, RenderError):
        return BuildFailure(
            "Template error",
            (str(exc),),
            "Fix the template at the file and line named above and save it; "
            "the preview rebuilds by itself.",
        )
    if isinstance(exc, DigestError):
        return BuildFailure(
            "Build failed",
            tuple(str(exc).splitlines() or [type(exc).__name__]),
            "Fix the cause named above (config.yaml, a feed file or a template) and save; "
            "the preview rebuilds by itself.",
        )
    return BuildFailure(
        "Unexpected error",
        (f"{type(exc).__name__}: {exc}",),
        "This is a bug in digest, not in your files: please report it with the traceback "
        "below. The preview tries again when a watched file changes.",
        "".join(traceback.format_exception(exc)),
    )


def _when(result: BuildResult) -> str:
    return f"{result.built_at.isoformat(timespec='seconds')} ({result.seconds:.2f} s)"


def error_page(failure: BuildFailure, result: BuildResult) -> str:
    """A small HTML page that shows a failed build, every piece of text escaped."""
    esc = html.escape
    items = "".join(f"<li><pre>{esc(m)}</pre></li>" for m in failure.messages)
    tb = (
        f"<h2>Traceback</h2><pre class=tb>{esc(failure.traceback)}</pre>"
        if failure.traceback
        else ""
    )
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width, initial-scale=1'>"
        f"<title>digest preview: {esc(failure.kind)}</title><style>"
        "body{font:15px/1.5 system-ui,sans-serif;max-width:50rem;margin:2rem auto;"
        "padding:0 1rem;color:#1d1d1f;background:#fff}"
        "h1{color:#b3261e;font-size:1.4rem}ul{padding:0;list-style:none}"
        "pre{white-space:pre-wrap;word-break:break-word;margin:.4rem 0;padding:.6rem .9rem;"
        "background:#fdf0ef;border-left:4px solid #b3261e}"
        "pre.tb{background:#f4f4f4;border-color:#888;font-size:.85rem}"
        ".meta{color:#666;font-size:.85rem}</style></head><body>"
        f"<h1>{esc(failure.kind)}</h1><ul>{items}</ul>"
        f"<p><strong>How to fix:</strong> {esc(failure.hint)}</p>"
        f"<p class=meta>Build {result.version} at {esc(_when(result))}. "
        "Reload after saving a fix, or open <a href='/live'>/live</a>, "
        f"which reloads by itself.</p>{tb}</body></html>\n"
    )


def error_text(failure: BuildFailure, result: BuildResult) -> str:
    """The plain-text form of :func:`error_page`, for ``GET /text``."""
    lines = [f"digest preview: {failure.kind}", ""]
    lines += [f"  {m}" for m in failure.messages]
    lines += ["", f"How to fix: {failure.hint}", f"Build {result.version} at {_when(result)}."]
    if failure.traceback:
        lines += ["", failure.traceback.rstrip()]
    return "\n".join(lines) + "\n"


LIVE_JS = """\
(function () {
  "use strict";
  var frame = document.getElementById("frame");
  var status = document.getElementById("status");
  var target = frame.getAttribute("data-target");
  var version = Number(frame.getAttribute("data-version"));
  function poll() {
    fetch("/version", {cache: "no-store"})
      .then(function (response) { return response.json(); })
      .then(function (info) {
        if (info.version !== version) {
          version = info.version;
          frame.src = target + "?v=" + version;
        }
        status.textContent = (info.ok ? "built " : "build failed ") + info.built_at;
        status.className = info.ok ? "ok" : "failed";
      })
      .catch(function () {
        status.textContent = "preview server not reachable";
        status.className = "failed";
      })
      .then(function () { window.setTimeout(poll, 1000); });
  }
  window.setTimeout(poll, 1000);
})();
"""


def live_page(target: str, result: BuildResult) -> str:
    """The wrapper that frames ``target`` (/ or /text) and reloads it after each rebuild."""
    esc = html.escape
    state = "ok" if result.ok else "failed"
    label = "built" if result.ok else "build failed"
    tabs = " · ".join(
        f"<b>{name}</b>" if href == target else f"<a href='/live{query}'>{name}</a>"
        for name, href, query in (("HTML", "/", ""), ("Text", "/text", "?part=text"))
    )
    # The frame is sandboxed without scripts or same-origin rights: feed content in it can
    # neither run code nor reach this page; links may still open in a new tab.
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        "<title>digest preview</title><style>"
        "html,body{margin:0;height:100%}body{display:flex;flex-direction:column;"
        "font:13px/1.4 system-ui,sans-serif}"
        "header{padding:.4rem .8rem;background:#222;color:#eee}header a{color:#9cf}"
        ".ok{color:#8f8}.failed{color:#f88}"
        "iframe{flex:1;border:0;width:100%;background:#fff}</style></head><body>"
        f"<header>digest preview · {tabs} · <span id=status class={state}>"
        f"{label} {esc(result.built_at.isoformat(timespec='seconds'))}</span> · "
        "<a href='/' target=_blank>/</a> is the mail exactly</header>"
        f"<iframe id=frame src='{target}?v={result.version}' data-target='{target}' "
        f"data-version='{result.version}' title='digest' "
        "sandbox='allow-popups allow-popups-to-escape-sandbox'></iframe>"
        "<script src='/live.js'></script></body></html>\n"
    )


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], preview: PreviewServer, family: int) -> None:
        # TCPServer creates its socket from address_family, so set it before binding.
        self.address_family = family
        self.preview = preview
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS lookup that can hang.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            # A browser that closes a tab mid-response is not worth a traceback.
            log.debug("client %s went away: %s", client_address, exc)
            return
        log.exception("error while answering %s", client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    server_version = "digest-preview"

    def version_string(self) -> str:
        return self.server_version  # no Python version in the Server header

    def do_GET(self) -> None:
        self._dispatch(head=False)

    def do_HEAD(self) -> None:
        self._dispatch(head=True)

    def log_message(self, format: str, *args: Any) -> None:
        # /live polls /version every second; request lines belong in the debug log only.
        log.debug("%s %s", self.address_string(), format % args)

    def _send(
        self,
        status: int,
        body: str,
        content_type: str,
        *,
        head: bool,
        csp: str | None = DIGEST_CSP,
    ) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")
        if csp is not None:
            self.send_header("Content-Security-Policy", csp)
        self.end_headers()
        if not head:
            self.wfile.write(data)

    def _dispatch(self, *, head: bool) -> None:
        preview = self.server.preview
        url = urlsplit(self.path)
        # "GET http://evil.example/ HTTP/1.1" names its host in the request line, which
        # HTTP/1.1 servers must prefer to the Host header; a proxy or a rebinding page can
        # send it with "Host: localhost". Both names must be ours.
        if not preview.host_allowed(self.headers.get("Host")) or (
            url.scheme and not preview.host_allowed(url.netloc.rsplit("@", 1)[-1])
        ):
            self._send(
                403,
                "This preview answers only requests to localhost or 127.0.0.1; "
                "start it with --host to serve other names.\n",
                "text/plain; charset=utf-8",
                head=head,
            )
            return
        route = url.path
        if route in ("/", "/text"):
            result = preview.refresh()
            if route == "/":
                if result.rendered is not None:
                    body, status = result.rendered.html, 200
                else:
                    assert result.failure is not None
                    body, status = error_page(result.failure, result), 500
                self._send(status, body, "text/html; charset=utf-8", head=head)
            else:
                if result.rendered is not None:
                    body, status = result.rendered.text, 200
                else:
                    assert result.failure is not None
                    body, status = error_text(result.failure, result), 500
                self._send(status, body, "text/plain; charset=utf-8", head=head)
        elif route == "/live":
            part = parse_qs(url.query).get("part", ["html"])[0]
            target = "/text" if part == "text" else "/"
            page = live_page(target, preview.refresh())
            self._send(200, page, "text/html; charset=utf-8", head=head, csp=LIVE_CSP)
        elif route == "/live.js":
            self._send(200, LIVE_JS, "text/javascript; charset=utf-8", head=head, csp=None)
        elif route == "/version":
            result = preview.refresh()
            info = {
                "version": result.version,
                "ok": result.ok,
                "built_at": result.built_at.isoformat(timespec="seconds"),
                "seconds": round(result.seconds, 3),
            }
            self._send(200, json.dumps(info), "application/json", head=head)
        else:
            self._send(
                404,
                "Not found. Try / (the digest HTML), /text (the text part) or /live "
                "(the HTML, reloaded after each rebuild).\n",
                "text/plain; charset=utf-8",
                head=head,
            )


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bind(host: str, port: int, preview: PreviewServer) -> _HTTPServer:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return _HTTPServer((host, port), preview, family)
    except socket.gaierror as exc:
        raise DigestError(
            f"cannot listen on {host!r}: unknown host ({exc.strerror}); "
            "use an address of this machine, such as 127.0.0.1 (the default) or 0.0.0.0"
        ) from None
    except OverflowError:
        raise DigestError(
            f"port {port} is out of range; use 1-65535, or 0 for any free port"
        ) from None
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise DigestError(
                f"cannot listen on {host}:{port}: the port is already in use; "
                "pick another with --port N, or --port 0 for any free port"
            ) from None
        raise DigestError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; use an address of this "
            "machine (127.0.0.1 is the default) and a port you may open (1024 or above)"
        ) from None


class PreviewServer:
    """The preview of the digest that ``config_path`` describes, served over HTTP.

    The socket is bound on construction (so ``url`` is known, also with ``port=0``); call
    :meth:`start` to serve from a background thread or :meth:`serve_forever` to serve from
    this one, and :meth:`shutdown` to stop. ``build`` makes the digest (the default is a
    ``--dry-run`` build), ``now`` is the clock handed to it, ``load`` reads the config.
    Files are checked for changes at most every ``poll_interval`` seconds.
    """

    def __init__(
        self,
        config_path: Path,
        *,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        build: BuildFunction = default_build,
        now: Callable[[], dt.datetime] = utc_now,
        load: Callable[[Path], Config] = load_config,
        poll_interval: float = 0.1,
    ) -> None:
        self.config_path = Path(config_path).resolve()
        self.host = host
        self._build = build
        self._now = now
        self._load = load
        self._poll_interval = poll_interval
        self._lock = threading.Lock()
        self._result: BuildResult | None = None
        self._roots: list[Path] = [self.config_path]
        self._snapshot: dict[Path, Stamp] = {}
        self._last_check = float("-inf")
        self._version = 0
        self._serving = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self._httpd = _bind(host, port, self)

    # ------------------------------------------------------------------ addresses

    @property
    def server_address(self) -> tuple[str, int]:
        """The address the socket is bound to, as the operating system reports it."""
        host, port = self._httpd.server_address[:2]
        return (str(host), int(port))

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def url(self) -> str:
        """Where to point a browser: ``http://HOST:PORT/`` (loopback for a wildcard bind)."""
        host = self.server_address[0]
        if host in ("0.0.0.0", ""):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/"

    @property
    def live_url(self) -> str:
        """The page that shows the digest and reloads it after each rebuild."""
        return self.url + "live"

    def host_allowed(self, header: str | None) -> bool:
        """Whether a request with this Host header may be answered.

        When bound to loopback, a page on another site could reach us through a DNS name
        it controls (DNS rebinding); such requests carry that name, so they are refused.
        """
        if header is None or not _is_loopback(self.host):
            return True
        name = header.strip().lower()
        if name.startswith("["):
            name = name[1:].split("]", 1)[0]
        elif name.count(":") == 1:
            name = name.split(":", 1)[0]
        return name in _LOOPBACK_NAMES or name == self.host.lower()

    # ------------------------------------------------------------------ building

    @property
    def result(self) -> BuildResult | None:
        """The latest build attempt, or None before the first request."""
        return self._result

    def refresh(self, *, force: bool = False) -> BuildResult:
        """The current build, rebuilt first when a watched file changed (or ``force``)."""
        with self._lock:
            if self._result is not None and not force:
                mono = time.monotonic()
                if mono - self._last_check < self._poll_interval:
                    return self._result
                self._last_check = mono
                current = snapshot(self._roots)
                if current == self._snapshot:
                    return self._result
                changed = sorted(
                    str(p)
                    for p in current.keys() | self._snapshot.keys()
                    if current.get(p) != self._snapshot.get(p)
                )
                log.info("rebuilding, changed: %s", ", ".join(changed[:5]))
            self._result = self._rebuild()
            self._last_check = time.monotonic()
            return self._result

    def _rebuild(self) -> BuildResult:
        # Stamps are taken before reading each file, so an edit made during the build
        # triggers another build on the next request instead of being missed.
        config_stamp = _stamp(self.config_path)
        roots = [self.config_path]
        stamps: dict[Path, Stamp] = {self.config_path: config_stamp}
        started = time.perf_counter()
        now = self._now()
        self._version += 1
        rendered: RenderedDigest | None = None
        failure: BuildFailure | None = None
        try:
            config = self._load(self.config_path)
            roots += watched_paths(config)
            stamps = snapshot(roots)
            # A templates_dir that holds config.yaml must not hide an edit made since load.
            stamps[self.config_path] = config_stamp
            rendered = self._build(config, now=now)
        # Any failure, bugs included, is shown in the page with its traceback and logged;
        # the server must outlive a broken config or template.
        except Exception as exc:
            failure = describe_failure(exc, self.config_path)
            if isinstance(exc, DigestError):
                log.warning("%s: %s", failure.kind, failure.messages[0])
            else:
                log.error("the preview build crashed", exc_info=exc)
        self._roots = roots
        self._snapshot = stamps
        seconds = time.perf_counter() - started
        if rendered is not None:
            log.info("build %d took %.2f s", self._version, seconds)
        return BuildResult(self._version, now, seconds, rendered, failure)

    # ------------------------------------------------------------------ serving

    def start(self) -> None:
        """Serve from a background (daemon) thread; returns at once."""
        if self._closed or self._thread is not None:
            raise RuntimeError("this preview server was already started or shut down")
        self._serving = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="digest-preview",
            daemon=True,
        )
        self._thread.start()

    def serve_forever(self) -> None:
        """Serve from this thread until :meth:`shutdown` or KeyboardInterrupt."""
        if self._closed:
            raise RuntimeError("this preview server was shut down")
        self._serving = True
        try:
            self._httpd.serve_forever(poll_interval=0.2)
        finally:
            self._serving = False

    def shutdown(self) -> None:
        """Stop serving and close the socket; safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        if self._serving:
            self._httpd.shutdown()
            self._serving = False
        if self._thread is not None:
            self._thread.join()
        self._httpd.server_close()

    def __enter__(self) -> PreviewServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()


def serve(
    config_path: Path,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    open_browser: bool = False,
    opener: Callable[[str], object] = webbrowser.open,
    build: BuildFunction = default_build,
    now: Callable[[], dt.datetime] = utc_now,
    load: Callable[[Path], Config] = load_config,
    err: IO[str] | None = None,
) -> None:
    """Run the preview until Ctrl-C: bind, build once, print the URL on ``err``, serve.

    Raises DigestError when the address cannot be bound; build errors never stop it.
    """
    out = err if err is not None else sys.stderr
    server = PreviewServer(config_path, host=host, port=port, build=build, now=now, load=load)
    try:
        if not _is_loopback(host):
            print(
                f"Listening on {host}:{server.port}: other machines that can reach it "
                "may read the digest.",
                file=out,
            )
        print(
            f"Previewing {server.url} (text: {server.url}text, "
            f"reloading on change: {server.live_url}). Press Ctrl-C to stop.",
            file=out,
            flush=True,
        )
        if open_browser:
            opener(server.live_url)
        # Build before serving so a broken config is reported here too; a browser opened
        # above simply waits for it.
        first = server.refresh()
        if first.failure is not None:
            print(
                f"The first build failed ({first.failure.kind.lower()}); "
                "the page shows why and recovers when you save a fix.",
                file=out,
                flush=True,
            )
        server.serve_forever()
    except KeyboardInterrupt:
        print("Preview stopped.", file=out, flush=True)
    finally:
        server.shutdown()
