"""The email in a real browser: Debian's headless Chromium driven over the DevTools protocol.

Chromium is started with ``--remote-debugging-pipe`` (JSON messages on file descriptors 3 and
4, no extra package needed) and every host except 127.0.0.1 resolves to nothing, so the page
reaches only the test's own image server (under a public-looking name, IMAGE_HOST, mapped to
127.0.0.1: the renderer drops pictures on loopback addresses). The email is rendered at 600 px
light, 600 px dark and 375 px; screenshots go to tests/artifacts/ (gitignored). Skipped when
chromium is not installed (``scripts/ensure-test-tools.sh`` installs it as root).
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import fcntl
import json
import os
import shutil
import struct
import subprocess
import tempfile
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from render_fixtures import sample_digest

from digest.render import RenderedDigest, render_digest

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
TIMEOUT_S = 20.0
# The image server's name in the email; Chromium maps it to 127.0.0.1 (a loopback URL would be
# dropped by the renderer, as it would be in a real email).
IMAGE_HOST = "images.example.com"


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


class Browser:
    """A minimal DevTools client over Chromium's debugging pipe."""

    def __init__(self, executable: str, profile: Path) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def wire_pipes() -> None:
            # Runs in the child: Chromium reads fd 3 and writes fd 4. Move both ends above 10
            # first so neither dup2 overwrites the other.
            high_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
            high_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        self.process = subprocess.Popen(
            [
                executable,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--hide-scrollbars",
                f"--host-resolver-rules=MAP {IMAGE_HOST} 127.0.0.1, MAP * ~NOTFOUND, "
                "EXCLUDE 127.0.0.1",
                f"--user-data-dir={profile}",
                "--remote-debugging-pipe",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=wire_pipes,
            pass_fds=(3, 4),  # closing other descriptors happens after wire_pipes
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        self.session: str | None = None

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if self.session and not method.startswith(("Target.", "Browser.")):
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            self.events.append(reply)

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise TimeoutError("chromium did not answer")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the debugging pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def open_page(self) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"})
        attached = self.send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )
        self.session = attached["sessionId"]
        self.send("Page.enable")
        self.send("Runtime.enable")

    def load(self, url: str, *, width: int, height: int, dark: bool) -> None:
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 500},
        )
        self.send(
            "Emulation.setEmulatedMedia",
            {"features": [{"name": "prefers-color-scheme", "value": "dark" if dark else "light"}]},
        )
        self.send("Page.navigate", {"url": url})
        deadline = time.monotonic() + TIMEOUT_S
        while self.evaluate("document.readyState") != "complete":
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not finish loading")
            time.sleep(0.05)

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path) -> None:
        metrics = self.send("Page.getLayoutMetrics")
        size = metrics["cssContentSize"]
        shot = self.send(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {
                    "x": 0,
                    "y": 0,
                    "width": size["width"],
                    "height": size["height"],
                    "scale": 1,
                },
            },
        )
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, TimeoutError, OSError):
            self.send("Browser.close")
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = find_chromium()
    if executable is None:
        pytest.skip(
            "chromium is not installed: run `sh scripts/ensure-test-tools.sh` as root "
            "(apt-get install chromium) to enable the browser tests"
        )
    with tempfile.TemporaryDirectory(prefix="digest-chromium-") as profile:
        client = Browser(executable, Path(profile))
        try:
            client.open_page()
            yield client
        finally:
            client.close()


def png(width: int, height: int) -> bytes:
    """A small gradient picture (pure Python), served as the top story's image."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter: none
        for x in range(width):
            rows += bytes((40 + 120 * x // width, 90 + 100 * y // height, 150))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 6))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def image_server() -> Iterator[HTTPServer]:
    """A real HTTP server on 127.0.0.1 (the only address the browser may reach)."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    try:
        yield server
    finally:
        server.clear()
        server.stop()


@pytest.fixture
def email_file(image_server: HTTPServer) -> Iterator[tuple[Path, RenderedDigest]]:
    """The sample digest with its picture served from a real local server."""
    httpserver = image_server
    httpserver.expect_request("/park.png").respond_with_data(
        png(480, 270), content_type="image/png"
    )
    digest = sample_digest()
    first = digest.top[0]
    assert first.article.image is not None
    url = httpserver.url_for("/park.png").replace("127.0.0.1", IMAGE_HOST, 1)
    image = dataclasses.replace(first.article.image, url=url)
    first = dataclasses.replace(first, article=dataclasses.replace(first.article, image=image))
    digest = dataclasses.replace(digest, top=(first, *digest.top[1:]))
    rendered = render_digest(digest, unsubscribe="https://example.org/unsubscribe?u=42")
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "email.html"
    path.write_text(rendered.html, encoding="utf-8")
    yield path, rendered


PAGE_FACTS = """JSON.stringify({
  width: window.innerWidth,
  scrollWidth: document.documentElement.scrollWidth,
  bodyScrollWidth: document.body.scrollWidth,
  background: getComputedStyle(document.querySelector('.card')).backgroundColor,
  pageBackground: getComputedStyle(document.body).backgroundColor,
  headline: getComputedStyle(document.querySelector('.headline-top')).color,
  link: getComputedStyle(document.querySelector('.more a')).color,
  hrefs: Array.from(document.querySelectorAll('a')).map(a => a.getAttribute('href')),
  containerWidth: document.querySelector('.container').getBoundingClientRect().width,
  images: Array.from(document.images).map(i => ({
    alt: i.getAttribute('alt'), width: i.getAttribute('width'),
    height: i.getAttribute('height'), shown: i.getBoundingClientRect().width,
    loaded: i.complete && i.naturalWidth > 0})),
  rtl: getComputedStyle(document.querySelector('[lang=ur]')).direction,
  preheaderHeight: document.querySelector('.preheader').getBoundingClientRect().height,
  scripts: document.scripts.length
})"""


def facts(browser: Browser, url: str, *, width: int, dark: bool, shot: str) -> dict[str, Any]:
    browser.load(url, width=width, height=900, dark=dark)
    result: dict[str, Any] = json.loads(browser.evaluate(PAGE_FACTS))
    browser.screenshot(ARTIFACTS / shot)
    return result


def test_email_in_chromium(browser: Browser, email_file: tuple[Path, RenderedDigest]) -> None:
    path, _ = email_file
    url = path.as_uri()

    light = facts(browser, url, width=600, dark=False, shot="email-600-light.png")
    dark = facts(browser, url, width=600, dark=True, shot="email-600-dark.png")
    phone = facts(browser, url, width=375, dark=False, shot="email-375.png")

    # 600 px: the column fills the window without overflowing it.
    assert light["width"] == 600 and light["scrollWidth"] <= 600
    assert light["containerWidth"] <= 600
    # 375 px: fluid, no horizontal scrolling.
    assert phone["width"] == 375
    assert phone["scrollWidth"] <= 375 and phone["bodyScrollWidth"] <= 375
    assert phone["containerWidth"] <= 375
    assert all(image["shown"] <= 375 for image in phone["images"])

    # Dark mode changes the backgrounds and keeps headlines and links readable.
    assert dark["background"] != light["background"]
    assert dark["pageBackground"] != light["pageBackground"]
    assert dark["headline"] != light["headline"]
    assert dark["link"] != light["link"]

    # Every link has an http(s) target; images carry alt, width and height.
    assert light["hrefs"], "the sample digest has links"
    assert all(h and h.startswith(("https://", "http://")) for h in light["hrefs"])
    assert light["images"] and all(
        image["alt"] and image["width"] and image["height"] for image in light["images"]
    )
    assert all(image["loaded"] for image in light["images"])
    assert light["rtl"] == "rtl"
    assert light["preheaderHeight"] == 0
    assert light["scripts"] == 0

    for name in ("email-600-light.png", "email-600-dark.png", "email-375.png"):
        assert (ARTIFACTS / name).stat().st_size > 10_000


def test_archive_in_chromium(browser: Browser) -> None:
    import datetime as dt

    from digest.output import ArchiveEntry, render_archive

    entries = [
        ArchiveEntry(dt.date(2026, 11, d), "Morning Digest", f"2026-11-{d}.html", d, "A · B")
        for d in (24, 25, 26)
    ]
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "index.html"
    path.write_text(render_archive(entries, title="Morning Digest", language="en"), "utf-8")
    browser.load(path.as_uri(), width=375, height=700, dark=False)
    width = browser.evaluate("document.documentElement.scrollWidth")
    assert width <= 375
    browser.screenshot(ARTIFACTS / "archive-375.png")
