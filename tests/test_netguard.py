"""The connect-time SSRF guard: a name that rebinds to a private address is refused."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from pytest_httpserver import HTTPServer

from digest.models import Article
from digest.sources.http import Http, guarded_transport
from digest.sources.pages import MemoryExtractCache, add_full_text

PUBLIC = "93.184.216.34"  # a public address; nothing ever connects to it in these tests


def rebinding(first: str, then: str) -> tuple[list[str], object]:
    """A resolver answering ``first`` once, then ``then``: a DNS rebinding attacker."""
    calls: list[str] = []

    def resolve(host: str) -> list[str]:
        calls.append(host)
        return [first] if len(calls) == 1 else [then]

    return calls, resolve


@pytest.fixture
def server(httpserver: HTTPServer) -> Iterator[HTTPServer]:
    httpserver.expect_request("/page").respond_with_data("<html><p>secret</p></html>")
    yield httpserver


def test_guarded_transport_refuses_a_private_address(server: HTTPServer) -> None:
    transport = guarded_transport(lambda host: ["127.0.0.1"])
    with httpx.Client(transport=transport) as client, pytest.raises(httpx.ConnectError) as info:
        client.get(f"http://internal.test:{server.port}/page")
    assert "non-public address 127.0.0.1" in str(info.value)
    assert server.log == []


def test_guarded_transport_refuses_a_private_literal(server: HTTPServer) -> None:
    with httpx.Client(transport=guarded_transport()) as client, pytest.raises(httpx.ConnectError):
        client.get(f"http://127.0.0.1:{server.port}/page")
    assert server.log == []


def test_a_name_that_rebinds_after_the_check_is_not_fetched(server: HTTPServer) -> None:
    calls, resolve = rebinding(PUBLIC, "127.0.0.1")
    article = Article(
        id="a",
        feed="F",
        feed_key="https://feeds.example/f.xml",
        title="T",
        link=f"http://rebind.test:{server.port}/page",
        published=None,
        text="A teaser.",
    )
    with Http(resolve=resolve, timeout_s=2) as http:  # type: ignore[arg-type]
        [result] = add_full_text(
            [article],
            http=http,
            modes={article.feed_key: "always"},
            cache=MemoryExtractCache(),
            respect_robots=False,
        ).articles
    assert result == article  # kept the feed's text
    assert calls == ["rebind.test", "rebind.test"]  # checked, then checked again at connect
    assert server.log == []
