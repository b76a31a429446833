"""Slow loopback feed servers for the benchmarks (bench/fetch_load.py, bench/scale.py).

Feed ``i`` is the file ``files[i % len(files)]``, served at ``/feed/<i>`` by the server on
``hosts[i % len(hosts)]`` (127.0.0.2 and up: each address is its own host for the per-host
limit), after ``delay_s`` per response, with an ETag (304 on a match). The servers run in a
child process, so they share no GIL with the client being measured, and it exits by itself
after ``max_seconds`` if the parent never stops it.
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

DELAY_S = 0.25


def loopback_hosts(n: int) -> list[str]:
    """``n`` loopback addresses from 127.0.0.2 on (Linux routes all of 127/8 to lo)."""
    return [f"127.0.{i // 250}.{i % 250 + 2}" for i in range(n)]


def _serve(
    files: Sequence[str],
    n_feeds: int,
    ports: mp.Queue,  # type: ignore[type-arg]
    max_seconds: float,
    hosts: Sequence[str],
    delay_s: float,
) -> None:
    """Child process: one threaded server per address; exits after max_seconds."""
    cache: dict[str, tuple[str, bytes, str]] = {}
    lock = threading.Lock()

    def load(path: str) -> tuple[str, bytes, str]:
        with lock:
            if path not in cache:
                body = Path(path).read_bytes()
                kind = "application/feed+json" if path.endswith(".json") else "application/xml"
                cache[path] = (kind, body, f'"{hashlib.sha1(body).hexdigest()[:16]}"')
            return cache[path]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            time.sleep(delay_s)
            try:
                index = int(self.path.rsplit("/", 1)[-1])
            except ValueError:
                index = -1
            if not 0 <= index < n_feeds:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            kind, body, etag = load(files[index % len(files)])
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 128

    servers = [Server((host, 0), Handler) for host in hosts]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    ports.put([s.server_address[1] for s in servers])
    time.sleep(max_seconds)  # the parent terminates us long before this, normally


class LoopbackFeeds:
    """``with LoopbackFeeds(files, n, hosts) as feeds:`` serves them; ``feeds.urls[i]``."""

    def __init__(
        self,
        files: Sequence[Path],
        n_feeds: int,
        hosts: Sequence[str],
        *,
        delay_s: float = DELAY_S,
        max_seconds: float = 900,
    ) -> None:
        self.hosts = list(hosts)
        self.n_feeds = n_feeds
        context = mp.get_context("spawn")
        self._ports: mp.Queue = context.Queue()  # type: ignore[type-arg]
        self._process = context.Process(
            target=_serve,
            args=([str(f) for f in files], n_feeds, self._ports, max_seconds, self.hosts, delay_s),
            daemon=True,
        )
        self.urls: list[str] = []

    def __enter__(self) -> LoopbackFeeds:
        self._process.start()
        ports = self._ports.get(timeout=60)
        self.urls = [
            f"http://{self.hosts[i % len(self.hosts)]}:{ports[i % len(self.hosts)]}/feed/{i}"
            for i in range(self.n_feeds)
        ]
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._process.terminate()
        self._process.join(10)
