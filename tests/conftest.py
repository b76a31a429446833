"""Shared fixtures: where the public data lives, a demo config in a temp folder, a clock."""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from pytest_httpserver import HTTPServer

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("DIGEST_SHARED_DATA", REPO.parent / "shared" / "data")).resolve()

# The moment the golden files were built at: 07:00 in Jakarta on 26 November 2026.
FIXED_NOW = dt.datetime(2026, 11, 26, 0, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, or skip: corpus tests need the public data set beside the clone."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"public data not found at {SHARED_DATA} (set DIGEST_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture
def fixed_now() -> dt.datetime:
    return FIXED_NOW


@pytest.fixture
def demo_config(tmp_path: Path) -> Path:
    """The repo's config.yaml, copied into tmp_path with its sample feeds beside it."""
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    return tmp_path / "config.yaml"


def write_config(folder: Path, data: dict[str, object]) -> Path:
    """Write ``data`` as config.yaml in ``folder`` and return its path."""
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


# A loopback address that tests treat as a public one, so a local server can play a public
# site for the SSRF guard: the injected resolver maps PUBLIC_HOST to it, and the injected
# address policy counts it as public. Every other loopback or private address stays refused.
PUBLIC_IP = "127.0.0.2"
PUBLIC_HOST = "news.test"


def public_policy(address: str) -> bool:
    """is_public_ip, except that PUBLIC_IP counts as public."""
    from digest.sources.netguard import is_public_ip

    return address == PUBLIC_IP or is_public_ip(address)


def public_resolve(host: str) -> list[str]:
    """PUBLIC_HOST (and *.PUBLIC_HOST) resolve to PUBLIC_IP; anything else to a private
    address, so a name the test did not plan for is refused rather than looked up."""
    if host == PUBLIC_HOST or host.endswith("." + PUBLIC_HOST):
        return [PUBLIC_IP]
    return ["10.9.9.9"]


@pytest.fixture
def public_server() -> Iterator[HTTPServer]:
    """A real HTTP server on PUBLIC_IP: reach it as http://news.test:PORT/ with an Http made
    with ``resolve=public_resolve, is_public=public_policy``."""
    server = HTTPServer(host=PUBLIC_IP, port=0)
    server.start()
    try:
        yield server
    finally:
        server.clear()
        if server.is_running():
            server.stop()


def public_url(server: HTTPServer, path: str) -> str:
    return f"http://{PUBLIC_HOST}:{server.port}{path}"


@pytest.fixture
def quiet_test_servers() -> Iterator[None]:
    """Loopback servers of other tests live in this process (aiosmtpd's asyncio tasks are
    collected whenever); their log lines are not what a command under test wrote to stderr."""
    loggers = [logging.getLogger(name) for name in ("asyncio", "mail.log")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    yield
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)
