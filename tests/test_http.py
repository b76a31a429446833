"""The one HTTP layer (digest.sources.http.Http) against real servers on loopback.

Redirects, the address guard on every hop (with an injected resolver and address policy, so a
loopback server can play a public site), DNS rebinding, the whole-request deadline (also
against a server that trickles its headers), the size cap, decoding, the per-host limit and
the bounded run-ahead of fetch_by_host.
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from digest import __version__
from digest.errors import BlockedAddress, FetchError, FetchErrorKind
from digest.sources.http import USER_AGENT, Http, fetch_by_host, host_of, looks_like_html
from tests.conftest import PUBLIC_IP, public_policy, public_resolve, public_url


@pytest.fixture(scope="module")
def server() -> Iterator[HTTPServer]:
    srv = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    srv.start()
    yield srv
    srv.clear()
    if srv.is_running():
        srv.stop()


@pytest.fixture
def http(server: HTTPServer) -> Iterator[HTTPServer]:
    server.clear()
    yield server
    server.clear()


def get(url: str, *, private_ok: bool = True, **options: object) -> object:
    with Http(**options) as client:  # type: ignore[arg-type]
        return client.get(url, private_ok=private_ok)


def test_user_agent_status_headers_and_body(http: HTTPServer) -> None:
    http.expect_request("/a").respond_with_data(
        b"hello", content_type="text/plain", headers={"ETag": '"v1"'}
    )
    with Http() as client:
        response = client.get(http.url_for("/a"), private_ok=True)
    assert (response.status, response.body, response.url) == (200, b"hello", http.url_for("/a"))
    assert response.headers["etag"] == '"v1"' and "content-length" not in response.headers
    request, _ = http.log[-1]
    assert request.headers["User-Agent"] == USER_AGENT
    assert f"digest/{__version__} (+https://github.com/digest-news/digest)" == USER_AGENT
    with Http(user_agent="custom/1") as client:
        client.get(http.url_for("/a"), private_ok=True)
    assert http.log[-1][0].headers["User-Agent"] == "custom/1"


def test_error_statuses_are_answers_without_a_body(http: HTTPServer) -> None:
    http.expect_request("/gone").respond_with_data("nope", status=404)
    with Http() as client:
        response = client.get(http.url_for("/gone"), private_ok=True)
    assert response.status == 404 and response.body == b""


class _CountingHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive; ``handle`` runs once per connection, so it counts them."""

    protocol_version = "HTTP/1.1"
    connections = 0
    open_now = 0
    lock = threading.Lock()

    def handle(self) -> None:
        with _CountingHandler.lock:
            _CountingHandler.connections += 1
            _CountingHandler.open_now += 1
        try:
            super().handle()
        finally:
            with _CountingHandler.lock:
                _CountingHandler.open_now -= 1

    def do_GET(self) -> None:
        status, body, headers = {
            "/unchanged": (304, b"", {"ETag": '"v1"'}),
            "/moved": (301, b"<p>moved</p>" * 50, {"Location": "/unchanged"}),
            "/missing": (404, b"<h1>not here</h1>" * 200, {}),
            "/huge-error": (500, b"x" * 1_000_000, {}),
        }[self.path]
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def keepalive_hosts() -> Iterator[list[str]]:
    """Twelve keep-alive servers (a host each: the port is part of it)."""
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), _CountingHandler) for _ in range(12)]
    for server in servers:
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    _CountingHandler.connections = _CountingHandler.open_now = 0
    yield [f"http://127.0.0.1:{server.server_address[1]}" for server in servers]
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def keepalive(keepalive_hosts: list[str]) -> str:
    return keepalive_hosts[0]


def test_answers_without_a_wanted_body_keep_their_connection(keepalive: str) -> None:
    # A thousand unchanged feeds on a few hosts: each 304 (or redirect, or error page)
    # must leave its connection reusable, not cost a new connection and handshake.
    with Http() as client:
        for path in ("/unchanged", "/moved", "/missing", "/unchanged", "/missing"):
            response = client.get(keepalive + path, private_ok=True)
            assert response.status in (304, 404) and response.body == b""
        assert _CountingHandler.connections == 1
        # An error body over DRAIN_BYTES is not read: that connection is dropped instead.
        started = time.monotonic()
        assert client.get(keepalive + "/huge-error", private_ok=True).status == 500
        assert client.get(keepalive + "/unchanged", private_ok=True).status == 304
        assert _CountingHandler.connections == 2
        assert time.monotonic() - started < 5


class _ForgetfulHandler(BaseHTTPRequestHandler):
    """Answers the first request of each connection; a second one on the same connection is
    read and the connection closed unanswered: a kept-alive connection the server dropped
    just as the client reused it. ``/never`` is never answered."""

    protocol_version = "HTTP/1.1"
    connections = 0

    def handle(self) -> None:
        _ForgetfulHandler.connections += 1
        self.close_connection = True
        self.raw_requestline = self.rfile.readline(65537)
        if not self.raw_requestline or b"/never" in self.raw_requestline:
            return
        if self.parse_request():
            self.send_response(304)
            self.send_header("Content-Length", "0")
            self.end_headers()
            self.wfile.flush()
        self.rfile.readline(65537)  # the next request: dropped with the connection

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_request_on_a_connection_the_server_dropped_goes_once_more() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ForgetfulHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    _ForgetfulHandler.connections = 0
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with Http() as client:
            for _ in range(3):
                assert client.get(base + "/feed", private_ok=True).status == 304
            assert _ForgetfulHandler.connections == 3
        # Once more only: a server that never answers is an error, not a loop.
        with Http() as client, pytest.raises(FetchError, match="network error"):
            client.get(base + "/never", private_ok=True)
        assert _ForgetfulHandler.connections == 5
    finally:
        server.shutdown()
        server.server_close()


def test_idle_connections_stay_bounded_across_many_hosts(keepalive_hosts: list[str]) -> None:
    # concurrency 8, one per host: the pools of at most 8 idle hosts stay open.
    with Http(concurrency=8, per_host=1) as client:
        for host in keepalive_hosts:
            assert client.get(host + "/unchanged", private_ok=True).status == 304
        deadline = time.monotonic() + 5
        while _CountingHandler.open_now > 8 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _CountingHandler.open_now == 8
        # The most recently used hosts kept theirs: no new connection.
        for host in keepalive_hosts[-8:]:
            assert client.get(host + "/unchanged", private_ok=True).status == 304
        assert _CountingHandler.connections == 12
    deadline = time.monotonic() + 5
    while _CountingHandler.open_now and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _CountingHandler.open_now == 0  # close() closes every host's pool


def test_redirects_permanent_url_loop_and_limit(http: HTTPServer) -> None:
    http.expect_request("/perm").respond_with_data("", status=301, headers={"Location": "/tmp"})
    http.expect_request("/tmp").respond_with_data("", status=302, headers={"Location": "/final"})
    http.expect_request("/final").respond_with_data("ok")
    http.expect_request("/a").respond_with_data("", status=302, headers={"Location": "/b"})
    http.expect_request("/b").respond_with_data("", status=302, headers={"Location": "/a"})
    for i in range(10):
        http.expect_request(f"/r{i}").respond_with_data(
            "", status=302, headers={"Location": f"/r{i + 1}"}
        )
    with Http() as client:
        response = client.get(http.url_for("/perm"), private_ok=True)
        assert response.url == http.url_for("/final") and response.body == b"ok"
        # Only the permanent hop counts: the resource now lives at /tmp.
        assert response.permanent_url == http.url_for("/tmp")
        with pytest.raises(FetchError, match="redirect loop") as loop:
            client.get(http.url_for("/a"), private_ok=True)
        assert loop.value.kind is FetchErrorKind.REDIRECTS
        with pytest.raises(FetchError, match="more than 5 redirects"):
            client.get(http.url_for("/r0"), private_ok=True)


def test_guard_refuses_loopback_unless_private_ok(http: HTTPServer) -> None:
    http.expect_request("/a").respond_with_data("ok")
    with Http() as client:
        with pytest.raises(BlockedAddress, match=r"non-public address 127\.0\.0\.1"):
            client.get(http.url_for("/a"))
        assert client.get(http.url_for("/a"), private_ok=True).body == b"ok"
    assert len(http.log) == 1


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:{port}/secret",
        "http://localhost:{port}/secret",
        "http://[::1]:{port}/secret",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.1]:{port}/secret",
        "file:///etc/passwd",
    ],
)
def test_every_redirect_hop_is_guarded(public_server: HTTPServer, target: str) -> None:
    public_server.expect_request("/start").respond_with_data(
        "", status=302, headers={"Location": "/hop"}
    )
    public_server.expect_request("/hop").respond_with_data(
        "", status=301, headers={"Location": target.format(port=public_server.port)}
    )
    with (
        Http(resolve=public_resolve, is_public=public_policy) as client,
        pytest.raises(FetchError) as refused,
    ):
        client.get(public_url(public_server, "/start"))
    assert refused.value.kind in (FetchErrorKind.BLOCKED, FetchErrorKind.INVALID_URL)
    assert [r.path for r, _ in public_server.log] == ["/start", "/hop"]


def test_a_rebinding_name_never_reaches_loopback(public_server: HTTPServer) -> None:
    """The check sees the public address; the connection asks again and gets loopback."""
    public_server.expect_request("/a").respond_with_data("secret")
    answers = iter([[PUBLIC_IP], ["127.0.0.1"], ["127.0.0.1"]])

    def rebinding(host: str) -> list[str]:
        return next(answers, ["127.0.0.1"])

    with (
        Http(resolve=rebinding, is_public=public_policy) as client,
        pytest.raises(BlockedAddress),
    ):
        client.get(public_url(public_server, "/a"))
    assert public_server.log == []


def test_slow_answer_ends_at_the_deadline(http: HTTPServer) -> None:
    def slow(_request: Request) -> Response:
        time.sleep(1.0)
        return Response("late")

    http.expect_request("/slow").respond_with_handler(slow)
    started = time.monotonic()
    with Http(timeout_s=0.25) as client, pytest.raises(FetchError) as late:
        client.get(http.url_for("/slow"), private_ok=True)
    assert time.monotonic() - started < 0.9
    assert late.value.kind is FetchErrorKind.TIMEOUT
    assert "within 0.5 s" in str(late.value)


def test_trickled_body_ends_at_the_deadline(http: HTTPServer) -> None:
    """Each chunk comes well within the read timeout, but the whole body never ends in time."""

    def trickle(_request: Request) -> Response:
        def gen() -> Iterator[bytes]:
            yield b"<rss>"
            for _ in range(20):
                time.sleep(0.1)
                yield b"<!-- still here -->"

        return Response(gen(), content_type="application/rss+xml")

    http.expect_request("/trickle").respond_with_handler(trickle)
    started = time.monotonic()
    with Http(timeout_s=0.4) as client, pytest.raises(FetchError, match=r"within 0\.8 s"):
        client.get(http.url_for("/trickle"), private_ok=True)
    assert time.monotonic() - started < 1.4


@pytest.fixture
def trickling_headers() -> Iterator[int]:
    """A raw server that sends its status line and headers one byte every 0.1 s."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(4096)
                head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Padding: " + b"x" * 200
                for byte in head:
                    if stop.is_set():
                        break
                    try:
                        conn.sendall(bytes([byte]))
                    except OSError:
                        break
                    time.sleep(0.1)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def test_trickled_headers_end_at_the_deadline(trickling_headers: int) -> None:
    """httpx's timeouts apply to each read; the deadline covers the headers too."""
    started = time.monotonic()
    with Http(timeout_s=0.5) as client, pytest.raises(FetchError) as late:
        client.get(f"http://127.0.0.1:{trickling_headers}/feed", private_ok=True)
    elapsed = time.monotonic() - started
    assert elapsed < 1.6, elapsed
    assert late.value.kind is FetchErrorKind.TIMEOUT


def test_size_cap_with_and_without_content_length(http: HTTPServer) -> None:
    http.expect_request("/big").respond_with_data(b"x" * 200_000)

    def chunked(_request: Request) -> Response:
        return Response((b"y" * 10_000 for _ in range(40)), content_type="text/plain")

    http.expect_request("/chunked").respond_with_handler(chunked)
    with Http(max_bytes=100_000) as client:
        for path in ("/big", "/chunked"):
            with pytest.raises(FetchError, match="larger than 100000 bytes") as big:
                client.get(http.url_for(path), private_ok=True)
            assert big.value.kind is FetchErrorKind.TOO_LARGE
        # A caller may ask for a smaller cap for one request (robots.txt).
        with pytest.raises(FetchError, match="larger than"):
            client.get(http.url_for("/big"), private_ok=True, max_bytes=1000)


def test_gzip_bomb_stops_at_the_cap(http: HTTPServer) -> None:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"\0" * (1 << 20)
    bomb = b"".join(compressor.compress(block) for _ in range(200)) + compressor.flush()
    http.expect_request("/bomb").respond_with_data(bomb, headers={"Content-Encoding": "gzip"})
    import tracemalloc

    tracemalloc.start()
    try:
        with Http(max_bytes=1_000_000) as client, pytest.raises(FetchError, match="larger"):
            client.get(http.url_for("/bomb"), private_ok=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000


def test_gzip_and_deflate_are_decoded_broken_gzip_is_an_error(http: HTTPServer) -> None:
    body = b"<rss>plain</rss>"
    raw = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    http.expect_request("/gz").respond_with_data(
        gzip.compress(body), headers={"Content-Encoding": "gzip"}
    )
    http.expect_request("/raw").respond_with_data(
        raw.compress(body) + raw.flush(), headers={"Content-Encoding": "deflate"}
    )
    http.expect_request("/zlib").respond_with_data(
        zlib.compress(body), headers={"Content-Encoding": "deflate"}
    )
    http.expect_request("/bad").respond_with_data(b"not gzip", headers={"Content-Encoding": "gzip"})
    with Http() as client:
        for path in ("/gz", "/raw", "/zlib"):
            response = client.get(http.url_for(path), private_ok=True)
            assert response.body == body and "content-encoding" not in response.headers
        with pytest.raises(FetchError, match="cannot decode the response"):
            client.get(http.url_for("/bad"), private_ok=True)


def test_unreachable_hosts_say_cannot_reach() -> None:
    with Http(timeout_s=2) as client:
        with pytest.raises(FetchError, match=r"cannot reach 127\.0\.0\.1") as refused:
            client.get("http://127.0.0.1:9/feed", private_ok=True)
        assert refused.value.kind is FetchErrorKind.UNREACHABLE
        with pytest.raises(FetchError, match="cannot reach") as unknown:
            client.get("http://nowhere.invalid/feed", private_ok=True)
        assert unknown.value.kind is FetchErrorKind.UNREACHABLE
        with pytest.raises(FetchError, match="not an http"):
            client.get("ftp://example.org/feed", private_ok=True)


def test_per_host_limit_holds_across_callers(http: HTTPServer) -> None:
    lock = threading.Lock()
    state = {"now": 0, "max": 0}

    def handler(_request: Request) -> Response:
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        time.sleep(0.1)
        with lock:
            state["now"] -= 1
        return Response("ok")

    http.expect_request("/p").respond_with_handler(handler)
    with Http(per_host=2, concurrency=8) as client:
        # Plain threads, not fetch_by_host: the limit lives in Http itself.
        threads = [
            threading.Thread(
                target=client.get, args=(http.url_for("/p"),), kwargs={"private_ok": True}
            )
            for _ in range(6)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert state["max"] == 2


def test_fetch_by_host_runs_hosts_in_parallel_and_keeps_indexes(http: HTTPServer) -> None:
    def handler(_request: Request) -> Response:
        time.sleep(0.2)
        return Response("ok")

    for i in range(4):
        http.expect_request(f"/p{i}").respond_with_handler(handler)
    port = http.port
    urls = [f"http://127.0.0.1:{port}/p{i}" for i in range(2)] + [
        f"http://localhost:{port}/p{i}" for i in range(2, 4)
    ]
    started = time.monotonic()
    with Http(per_host=1, concurrency=4) as client:
        results = list(
            fetch_by_host(
                urls,
                lambda u: client.get(u, private_ok=True).url,
                host=host_of,
                per_host=1,
                concurrency=4,
            )
        )
    assert sorted(results) == [(i, urls[i]) for i in range(4)]
    # per_host=1 over two hosts: two rounds of 0.2 s, not four.
    assert time.monotonic() - started < 0.75


def test_fetch_by_host_stays_bounded_ahead_of_a_slow_consumer(http: HTTPServer) -> None:
    http.expect_request("/feed").respond_with_data("ok")
    urls = [http.url_for("/feed") + f"?n={i}" for i in range(40)]
    with Http(per_host=4, concurrency=4) as client:
        results = fetch_by_host(
            urls,
            lambda u: client.get(u, private_ok=True),
            host=host_of,
            per_host=4,
            concurrency=4,
        )
        first = next(results)
        time.sleep(0.5)  # a consumer busy parsing
        started_meanwhile = len(http.log)
        rest = list(results)
    assert first[1].status == 200 and len(rest) == 39
    assert started_meanwhile <= 1 + 2 * 4


def test_a_bug_in_the_work_is_raised_to_the_consumer() -> None:
    def boom(_item: str) -> str:
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError, match="bug"):
        list(fetch_by_host(["a", "b"], boom, host=lambda _x: "h", per_host=1, concurrency=2))


def test_html_sniffing() -> None:
    assert looks_like_html(b"<!DOCTYPE html><html><body>x</body></html>")
    assert looks_like_html(b"\xef\xbb\xbf\n  <html lang='en'>")
    assert looks_like_html(b"<p>hi</p>", "text/html; charset=utf-8")
    assert not looks_like_html(b"<?xml version='1.0'?><rss></rss>", "text/html")
    assert not looks_like_html(b'{"version": "https://jsonfeed.org/version/1.1"}')
    assert not looks_like_html(b"<feed xmlns='http://www.w3.org/2005/Atom'/>")
