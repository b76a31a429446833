"""The preview server: real HTTP on loopback, an injected build function, real files."""

from __future__ import annotations

import _thread
import contextlib
import datetime as dt
import http.client
import io
import ipaddress
import json
import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli.common import CliState
from digest.cli.preview import preview as preview_command
from digest.config import Config, load_config
from digest.errors import DigestError, RenderError
from digest.preview import PreviewServer, serve
from digest.render import RenderedDigest

NOW = dt.datetime(2026, 11, 26, 0, 0, tzinfo=dt.UTC)

OPML = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><head><title>subs</title></head><body>
<outline type="rss" text="{name}" title="{name}" xmlUrl="https://example.org/{name}.xml"/>
</body></opml>
"""


# ---------------------------------------------------------------------------- helpers


@dataclass
class Site:
    """A config folder: config.yaml, a templates_dir, a local feed and an OPML feeds_file."""

    root: Path
    config: Path
    template: Path
    feed: Path
    opml: Path


@pytest.fixture
def site(tmp_path: Path) -> Site:
    (tmp_path / "tpl").mkdir()
    template = tmp_path / "tpl" / "digest.html"
    template.write_text("<p>template one</p>", encoding="utf-8")
    feed = tmp_path / "feed.xml"
    feed.write_text("<p>feed one</p>", encoding="utf-8")
    opml = tmp_path / "feeds.opml"
    opml.write_text(OPML.format(name="first"), encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(
        "title: Preview Test\n"
        "templates_dir: tpl\n"
        "feeds_file: feeds.opml\n"
        "feeds:\n  - path: feed.xml\n"
        "state: state.sqlite\n",
        encoding="utf-8",
    )
    return Site(tmp_path, config, template, feed, opml)


class FakeBuild:
    """Builds from the files the real build reads, so every watched input shows in the page."""

    def __init__(self) -> None:
        self.calls: list[dt.datetime] = []

    def __call__(self, config: Config, *, now: dt.datetime) -> RenderedDigest:
        self.calls.append(now)
        assert config.templates_dir is not None
        template = (config.templates_dir / "digest.html").read_text(encoding="utf-8")
        if "BROKEN" in template:
            raise RenderError(
                f"{config.templates_dir / 'digest.html'}, line 2: unexpected '}}' "
                "near <script>alert(1)</script>"
            )
        if "CRASH" in template:
            raise ZeroDivisionError("the fake build divided by zero")
        sources = config.feed_sources()
        feeds = "".join(s.path.read_text(encoding="utf-8") for s in sources if s.path)
        urls = " ".join(s.url for s in sources if s.url)
        extra = config.templates_dir / "extra.html"
        more = extra.read_text(encoding="utf-8") if extra.exists() else ""
        html = (
            f"<!DOCTYPE html><html><body><h1>{config.title}</h1>{template}{more}{feeds}"
            f"<p>{urls}</p></body></html>"
        )
        return RenderedDigest(html=html, text=f"{config.title}\n{urls}\n")

    @property
    def count(self) -> int:
        return len(self.calls)


@dataclass
class Response:
    status: int
    headers: Message
    body: str


def request(
    server: PreviewServer | tuple[str, int],
    path: str,
    *,
    method: str = "GET",
    host_header: str | None = None,
) -> Response:
    host, port = server.server_address if isinstance(server, PreviewServer) else server
    if host == "0.0.0.0":
        host = "127.0.0.1"
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        conn.request(method, path, headers={"Host": host_header} if host_header else {})
        answer = conn.getresponse()
        body = answer.read().decode("utf-8")
        return Response(answer.status, answer.headers, body)
    finally:
        conn.close()


def bump(path: Path, text: str | None = None) -> None:
    """Rewrite ``path`` (when ``text`` is given) and move its mtime clearly forward."""
    if text is not None:
        path.write_text(text, encoding="utf-8")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


@pytest.fixture
def fake() -> FakeBuild:
    return FakeBuild()


@pytest.fixture
def server(site: Site, fake: FakeBuild) -> Iterator[PreviewServer]:
    with PreviewServer(site.config, port=0, build=fake, now=lambda: NOW, poll_interval=0) as srv:
        yield srv


def can_connect(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=2):
            return True
    except OSError:
        return False


def non_loopback_ipv4() -> str | None:
    """An IPv4 address of this machine that is not loopback, or None when it has none."""
    candidates: list[str] = []
    with contextlib.suppress(OSError):
        candidates.append(socket.gethostbyname(socket.gethostname()))
    try:
        # Connecting a UDP socket sends nothing; it only asks the kernel which source
        # address it would route from (198.51.100.1 is a documentation address).
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("198.51.100.1", 9))
            candidates.append(probe.getsockname()[0])
    except OSError:
        pass
    try:
        listing = subprocess.run(
            ["ip", "-4", "-o", "addr"], capture_output=True, text=True, timeout=5, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        listing = ""
    for line in listing.splitlines():
        parts = line.split()
        if "inet" in parts:
            candidates.append(parts[parts.index("inet") + 1].split("/")[0])
    for candidate in candidates:
        try:
            address = ipaddress.ip_address(candidate)
        except ValueError:
            continue
        if address.is_loopback or address.is_unspecified or address.version != 4:
            continue
        try:  # usable only if we may bind it
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind((candidate, 0))
        except OSError:
            continue
        return candidate
    return None


@pytest.fixture
def other_ip() -> str:
    address = non_loopback_ipv4()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to test binding against")
    return address


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------------------- serving


def test_root_is_the_mailed_html_exactly(
    server: PreviewServer, fake: FakeBuild, site: Site
) -> None:
    response = request(server, "/")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    expected = fake(load_config(site.config), now=NOW).html
    assert response.body == expected
    assert "<p>template one</p><p>feed one</p>" in response.body
    assert fake.calls[0] == NOW  # the injected clock reaches the build


def test_text_part(server: PreviewServer) -> None:
    response = request(server, "/text")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.body == "Preview Test\nhttps://example.org/first.xml\n"


def test_security_headers(server: PreviewServer) -> None:
    for path in ("/", "/text"):
        headers = request(server, path).headers
        assert headers["X-Content-Type-Options"] == "nosniff"
        csp = headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp
        assert "script-src" not in csp  # falls back to default-src 'none': no scripts at all
        assert "frame-ancestors 'self'" in csp


def test_unknown_path_is_404_and_head_has_no_body(server: PreviewServer) -> None:
    missing = request(server, "/nope")
    assert missing.status == 404
    assert "/text" in missing.body
    head = request(server, "/", method="HEAD")
    assert head.status == 200
    assert head.body == ""
    assert int(head.headers["Content-Length"]) > 0


def test_query_string_is_ignored_for_routing(server: PreviewServer) -> None:
    assert request(server, "/?v=3").body == request(server, "/").body


def test_no_rebuild_while_nothing_changed(server: PreviewServer, fake: FakeBuild) -> None:
    for path in ("/", "/text", "/", "/version", "/live"):
        request(server, path)
    assert fake.count == 1


@pytest.mark.parametrize("which", ["config", "template", "feed", "opml"])
def test_rebuilds_when_a_watched_file_changes(
    server: PreviewServer, fake: FakeBuild, site: Site, which: str
) -> None:
    first = request(server, "/").body
    if which == "config":
        bump(site.config, site.config.read_text().replace("Preview Test", "Renamed Digest"))
        expected = "<h1>Renamed Digest</h1>"
    elif which == "template":
        bump(site.template, "<p>template two</p>")
        expected = "<p>template two</p>"
    elif which == "feed":
        bump(site.feed, "<p>feed two</p>")
        expected = "<p>feed two</p>"
    else:
        bump(site.opml, OPML.format(name="second"))
        expected = "https://example.org/second.xml"
    second = request(server, "/").body
    assert fake.count == 2
    assert expected in second
    assert second != first
    request(server, "/")
    assert fake.count == 2  # and not again until the next change


def test_touch_without_new_content_still_rebuilds(
    server: PreviewServer, fake: FakeBuild, site: Site
) -> None:
    request(server, "/")
    bump(site.template)
    request(server, "/")
    assert fake.count == 2


def test_new_template_file_rebuilds_but_editor_files_do_not(
    server: PreviewServer, fake: FakeBuild, site: Site
) -> None:
    request(server, "/")
    (site.template.parent / ".digest.html.swp").write_bytes(b"vim swap")
    (site.template.parent / "digest.html~").write_text("backup")
    request(server, "/")
    assert fake.count == 1
    (site.template.parent / "extra.html").write_text("<p>an extra template</p>")
    assert "<p>an extra template</p>" in request(server, "/").body
    assert fake.count == 2


def test_poll_interval_limits_how_often_files_are_checked(site: Site, fake: FakeBuild) -> None:
    with PreviewServer(site.config, port=0, build=fake, poll_interval=3600) as srv:
        request(srv, "/")
        bump(site.template, "<p>template two</p>")
        assert "template one" in request(srv, "/").body  # not looked at yet
        assert fake.count == 1
        assert srv.refresh(force=True).ok
        assert "template two" in request(srv, "/").body
        assert fake.count == 2


# ---------------------------------------------------------------------------- errors


def test_template_error_is_shown_escaped_and_a_fix_recovers(
    server: PreviewServer, fake: FakeBuild, site: Site
) -> None:
    assert request(server, "/").status == 200
    bump(site.template, "BROKEN {{ }")
    page = request(server, "/")
    assert page.status == 500
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "Template error" in page.body
    assert f"{site.template}, line 2" in page.body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.body
    assert "<script>" not in page.body
    assert "How to fix" in page.body
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    text = request(server, "/text")
    assert text.status == 500
    assert "line 2" in text.body
    assert "How to fix" in text.body

    bump(site.template, "<p>template fixed</p>")
    fixed = request(server, "/")
    assert fixed.status == 200
    assert "<p>template fixed</p>" in fixed.body


def test_config_error_lists_every_mistake_and_a_fix_recovers(
    server: PreviewServer, site: Site
) -> None:
    good = site.config.read_text()
    bump(site.config, good + "langauge: en\nretention_days: -1\n")
    page = request(server, "/")
    assert page.status == 500
    assert "Configuration error" in page.body
    assert "langauge: unknown key" in page.body
    assert "retention_days:" in page.body
    assert str(site.config) in page.body  # the hint names the file to fix

    bump(site.config, "title: [unclosed\n")
    assert "invalid YAML" in request(server, "/").body

    bump(site.config, good)
    assert request(server, "/").status == 200


def test_missing_config_is_an_error_page_until_it_appears(site: Site, fake: FakeBuild) -> None:
    text = site.config.read_text()
    site.config.unlink()
    with PreviewServer(site.config, port=0, build=fake, poll_interval=0) as srv:
        page = request(srv, "/")
        assert page.status == 500
        assert "digest init" in page.body
        site.config.write_text(text)
        assert request(srv, "/").status == 200


def test_unexpected_exception_shows_traceback_and_server_survives(
    server: PreviewServer, site: Site
) -> None:
    bump(site.template, "CRASH")
    page = request(server, "/")
    assert page.status == 500
    assert "ZeroDivisionError: the fake build divided by zero" in page.body
    assert "Traceback" in page.body
    assert "bug in digest" in page.body
    bump(site.template, "<p>back</p>")
    assert request(server, "/").status == 200


# ---------------------------------------------------------------------------- live reload


def test_version_moves_only_on_rebuild(server: PreviewServer, site: Site) -> None:
    first = json.loads(request(server, "/version").body)
    assert first["ok"] is True
    assert first["built_at"] == NOW.isoformat()
    assert json.loads(request(server, "/version").body)["version"] == first["version"]
    bump(site.template, "BROKEN")
    second = json.loads(request(server, "/version").body)
    assert second["version"] == first["version"] + 1
    assert second["ok"] is False


def test_live_page_frames_the_digest_and_runs_only_its_own_script(
    server: PreviewServer,
) -> None:
    live = request(server, "/live")
    assert live.status == 200
    csp = live.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";", 1)[0]
    assert "<iframe id=frame src='/?v=1'" in live.body
    assert "sandbox='allow-popups allow-popups-to-escape-sandbox'" in live.body
    assert "<script src='/live.js'></script>" in live.body
    assert "src='/text?v=1'" in request(server, "/live?part=text").body
    script = request(server, "/live.js")
    assert script.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert 'fetch("/version"' in script.body


def test_requests_for_other_host_names_are_refused(server: PreviewServer) -> None:
    port = server.port
    assert request(server, "/", host_header=f"localhost:{port}").status == 200
    assert request(server, "/", host_header=f"127.0.0.1:{port}").status == 200
    refused = request(server, "/", host_header=f"attacker.example:{port}")
    assert refused.status == 403
    assert "--host" in refused.body


@pytest.mark.parametrize(
    "target",
    [
        "http://evil.example/",
        "http://evil.example:{port}/text",
        "https://evil.example/",
        "http://localhost.evil.example/",
        "http://127.0.0.1@evil.example/",
        "http:/",
    ],
)
def test_an_absolute_request_line_for_another_host_is_refused(
    server: PreviewServer, target: str
) -> None:
    # "GET http://evil.example/ HTTP/1.1" with "Host: localhost": both names must be ours.
    port = server.port
    answer = request(server, target.format(port=port), host_header=f"localhost:{port}")
    assert answer.status == 403
    assert "<h1>" not in answer.body


def test_an_absolute_request_line_for_loopback_is_answered(server: PreviewServer) -> None:
    port = server.port
    for authority in (f"localhost:{port}", f"127.0.0.1:{port}", "evil.example@127.0.0.1"):
        answer = request(server, f"http://{authority}/", host_header=f"localhost:{port}")
        assert answer.status == 200, authority


# ---------------------------------------------------------------------------- binding


def test_binds_loopback_only_by_default(server: PreviewServer, other_ip: str) -> None:
    assert server.server_address == ("127.0.0.1", server.port)
    assert server.url == f"http://127.0.0.1:{server.port}/"
    assert request(server, "/").status == 200
    # Every 127.x address reaches lo, so this shows the bind is to 127.0.0.1 itself.
    assert not can_connect("127.0.0.2", server.port)
    assert not can_connect("::1", server.port)
    assert not can_connect(other_ip, server.port)


def test_default_port_and_host() -> None:
    import inspect

    params = inspect.signature(PreviewServer).parameters
    assert params["host"].default == "127.0.0.1"
    assert params["port"].default == 8000


def test_host_all_interfaces_binds_as_asked(site: Site, fake: FakeBuild, other_ip: str) -> None:
    with PreviewServer(site.config, host="0.0.0.0", port=0, build=fake, poll_interval=0) as srv:
        assert srv.server_address == ("0.0.0.0", srv.port)
        assert srv.url == f"http://127.0.0.1:{srv.port}/"
        assert request((other_ip, srv.port), "/", host_header=f"{other_ip}:{srv.port}").status == (
            200
        )
        assert can_connect("127.0.0.2", srv.port)


def test_host_other_address_binds_only_there(site: Site, fake: FakeBuild, other_ip: str) -> None:
    with PreviewServer(site.config, host=other_ip, port=0, build=fake, poll_interval=0) as srv:
        assert srv.server_address == (other_ip, srv.port)
        assert request((other_ip, srv.port), "/").status == 200
        assert not can_connect("127.0.0.1", srv.port)


def test_port_in_use_says_how_to_fix(site: Site, fake: FakeBuild) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(DigestError, match=r"already in use.*--port 0"):
            PreviewServer(site.config, port=port, build=fake)
        result = CliRunner().invoke(
            preview_command, ["--port", str(port)], obj=CliState(config_arg=str(site.config))
        )
    assert result.exit_code == 1
    assert "already in use" in result.output


def test_unknown_host_says_how_to_fix(site: Site, fake: FakeBuild) -> None:
    with pytest.raises(DigestError, match="use an address of this machine"):
        PreviewServer(site.config, host="203.0.113.77", port=0, build=fake)


def test_shutdown_is_clean_and_idempotent(site: Site, fake: FakeBuild) -> None:
    srv = PreviewServer(site.config, port=0, build=fake)
    srv.start()
    port = srv.port
    assert request(srv, "/").status == 200
    srv.shutdown()
    srv.shutdown()
    assert not can_connect("127.0.0.1", port)
    # A server that never served shuts down without hanging too.
    PreviewServer(site.config, port=0, build=fake).shutdown()


# ---------------------------------------------------------------------------- serve and CLI


def _fetch_then_interrupt(port: int, paths: list[str], seen: dict[str, Response]) -> None:
    """Wait for the server, GET ``paths``, then press Ctrl-C in the main thread.

    Ctrl-C is sent only after a full response arrived, i.e. while the main thread is inside
    serve_forever, so it never lands in pytest itself.
    """
    for _ in range(600):
        try:
            for path in paths:
                seen[path] = request(("127.0.0.1", port), path)
        except OSError:
            threading.Event().wait(0.05)
            continue
        _thread.interrupt_main()
        return


def test_serve_opens_browser_prints_url_and_stops_on_ctrl_c(site: Site, fake: FakeBuild) -> None:
    err = io.StringIO()
    opened: list[str] = []
    seen: dict[str, Response] = {}
    port = free_port()

    def opener(url: str) -> None:
        opened.append(url)
        threading.Thread(target=_fetch_then_interrupt, args=(port, ["/"], seen)).start()

    serve(site.config, port=port, open_browser=True, opener=opener, build=fake, err=err)
    assert opened == [f"http://127.0.0.1:{port}/live"]
    assert seen["/"].status == 200
    output = err.getvalue()
    assert f"http://127.0.0.1:{port}/" in output
    assert "Preview stopped." in output
    assert not can_connect("127.0.0.1", port)


def test_serve_reports_a_failing_first_build(site: Site, fake: FakeBuild) -> None:
    bump(site.template, "BROKEN")
    err = io.StringIO()
    seen: dict[str, Response] = {}
    port = free_port()

    def opener(url: str) -> None:
        threading.Thread(target=_fetch_then_interrupt, args=(port, ["/"], seen)).start()

    serve(site.config, port=port, open_browser=True, opener=opener, build=fake, err=err)
    assert "first build failed (template error)" in err.getvalue()
    assert seen["/"].status == 500


def test_cli_without_config_exits_2_and_says_how_to_create_one(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        preview_command, ["--port", "0"], obj=CliState(config_arg=str(tmp_path / "none.yaml"))
    )
    assert result.exit_code == 2
    assert "digest init" in result.output


def test_cli_rejects_a_bad_port() -> None:
    result = CliRunner().invoke(preview_command, ["--port", "70000"])
    assert result.exit_code == 2


# ---------------------------------------------------------------------------- real build

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Local Test Feed</title><link>https://example.org/</link>
<description>test</description>
<item><title>Volcano quiet after week of tremors</title>
<link>https://example.org/volcano</link><guid>https://example.org/volcano</guid>
<pubDate>Wed, 25 Nov 2026 22:00:00 GMT</pubDate>
<description>The volcano on the island was quiet on Wednesday after a week of small tremors.
Scientists said the risk of an eruption had fallen. Villagers who had left their homes began
to return in the afternoon. The observatory will keep watching the crater for another
month.</description></item>
</channel></rss>
"""


def test_real_build_through_the_cli(tmp_path: Path) -> None:
    """The default build (digest.pipeline.build_preview) on a tiny config with a local feed."""
    (tmp_path / "feed.xml").write_text(RSS, encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(
        "title: Real Preview\ntimezone: UTC\n"
        "feeds:\n  - path: feed.xml\n    full_text: never\n"
        "state: state.sqlite\n",
        encoding="utf-8",
    )
    port = free_port()
    seen: dict[str, Response] = {}
    worker = threading.Thread(target=_fetch_then_interrupt, args=(port, ["/", "/text"], seen))
    worker.start()
    result = CliRunner().invoke(
        preview_command, ["--port", str(port)], obj=CliState(config_arg=str(config))
    )
    worker.join()
    assert result.exit_code == 0, result.output
    assert f"http://127.0.0.1:{port}/" in result.output
    page, text = seen["/"], seen["/text"]
    assert page.status == 200, page.body[:2000]
    assert page.body.lstrip().lower().startswith("<!doctype html")
    assert "Volcano quiet after week of tremors" in page.body
    assert "<script" not in page.body.lower()
    assert text.status == 200
    assert "Volcano quiet after week of tremors" in text.body
    assert not (tmp_path / "state.sqlite").exists() or _no_digest_recorded(tmp_path)


def test_real_build_picks_up_a_new_item_in_the_local_feed(tmp_path: Path) -> None:
    feed = tmp_path / "feed.xml"
    feed.write_text(RSS, encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(
        "title: Real Preview\ntimezone: UTC\n"
        "feeds:\n  - path: feed.xml\n    full_text: never\n"
        "state: state.sqlite\n",
        encoding="utf-8",
    )
    with PreviewServer(config, port=0, now=lambda: NOW, poll_interval=0) as srv:
        assert "Volcano quiet" in request(srv, "/").body
        item = RSS[RSS.index("<item>") : RSS.index("</item>") + len("</item>")]
        second = (
            item.replace("Volcano quiet after week of tremors", "Harbour reopens after storm")
            .replace("volcano", "harbour")
            .replace("22:00:00", "23:00:00")
        )
        bump(feed, RSS.replace("</channel>", second + "\n</channel>"))
        page = request(srv, "/")
        assert page.status == 200, page.body[:2000]
        assert "Harbour reopens after storm" in page.body
        assert "Volcano quiet" in page.body


def _no_digest_recorded(folder: Path) -> bool:
    import sqlite3

    with contextlib.closing(sqlite3.connect(folder / "state.sqlite")) as db:
        tables = {row[0] for row in db.execute("select name from sqlite_master")}
        if "digests" not in tables:
            return True
        count: int = db.execute("select count(*) from digests").fetchone()[0]
        return count == 0


# ---------------------------------------------------------------------------- real browser


def dump_dom(url: str, profile: Path) -> str:
    """The DOM of ``url`` after its scripts ran, from headless Chromium's command line."""
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.skip(
            "chromium is not installed: run `sh scripts/ensure-test-tools.sh` as root "
            "(apt-get install chromium) to enable the browser tests"
        )
    completed = subprocess.run(
        [
            executable,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-proxy-server",
            "--no-first-run",
            f"--user-data-dir={profile}",
            # Timers run on virtual time: the page's 1 s poll fires without waiting 1 s.
            "--virtual-time-budget=5000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout


@pytest.mark.browser
def test_browser_live_page_reloads_the_digest_after_a_rebuild(site: Site, tmp_path: Path) -> None:
    built: list[int] = []

    def build(config: Config, *, now: dt.datetime) -> RenderedDigest:
        template = site.template.read_text(encoding="utf-8")
        if not built:
            # An edit that lands while the first build runs: the next request must see it.
            bump(site.template, "<p>edited during the first build</p>")
        built.append(1)
        return RenderedDigest(html=f"<!DOCTYPE html><html><body>{template}</body></html>", text="")

    with PreviewServer(site.config, port=0, build=build, poll_interval=0) as srv:
        dom = dump_dom(srv.live_url, tmp_path / "profile")
    # /live was served with version 1; its script saw version 2 on /version and reloaded.
    assert 'data-version="1"' in dom
    assert '<iframe id="frame" src="/?v=2"' in dom
    assert '<span id="status" class="ok">built ' in dom
    assert len(built) == 2


@pytest.mark.browser
def test_browser_runs_no_script_from_the_digest(site: Site, tmp_path: Path) -> None:
    hostile = (
        "<!DOCTYPE html><html><body><p id=probe>safe</p>"
        "<script>document.getElementById('probe').textContent='script ran'</script>"
        "<img src=data:, onerror=\"document.getElementById('probe').textContent='handler ran'\">"
        "</body></html>"
    )

    def build(config: Config, *, now: dt.datetime) -> RenderedDigest:
        return RenderedDigest(html=hostile, text="")

    with PreviewServer(site.config, port=0, build=build, poll_interval=0) as srv:
        dom = dump_dom(srv.url, tmp_path / "profile")
    assert '<p id="probe">safe</p>' in dom
