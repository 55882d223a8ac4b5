"""/docs and /redoc work with no network: every asset comes from the emulator (emulator/docs.py)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest

# Collected without the dev dependency too: the module then skips, saying why.
expect = pytest.importorskip(
    "playwright.sync_api", reason="UI TESTS SKIPPED: the playwright package is missing"
).expect

LOOPBACK = {"127.0.0.1"}
# ReDoc 2 shows Redocly's logo from Redocly's CDN; the pages' Content-Security-Policy stops it
# in the browser (and ReDoc hides the image). Any other attempt is a bug.
STOPPED_BY_POLICY = {"https://cdn.redoc.ly/redoc/logo-mini.svg"}


@pytest.fixture(scope="module")
def emulator_settings() -> dict[str, Any]:
    return {"worker_concurrency": 0}


def _local(url: str) -> bool:
    parts = urlsplit(url)
    # blob: (ReDoc's worker) and data: (Swagger's icons) are made in the page itself.
    return parts.scheme in ("blob", "data") or parts.hostname in LOOPBACK


@dataclass
class Offline:
    """What the page sent: `left` reached the network layer off loopback (and was aborted)."""

    page: Any
    left: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # url -> why the browser refused it
    attempted: list[str] = field(default_factory=list)

    def check(self) -> None:
        self.page.wait_for_load_state("networkidle")
        deadline = time.monotonic() + 5  # a refusal is reported after the attempt
        while set(self.attempted) - set(self.refused) and time.monotonic() < deadline:
            self.page.wait_for_timeout(50)
        assert self.left == []
        assert set(self.attempted) <= STOPPED_BY_POLICY
        assert {url: self.refused.get(url) for url in self.attempted} == dict.fromkeys(
            self.attempted, "csp"
        )


@pytest.fixture
def offline(page: Any) -> Offline:
    seen = Offline(page)

    def handle(route: Any) -> None:
        url = route.request.url
        if _local(url):
            route.continue_()
        else:
            seen.left.append(url)
            route.abort("internetdisconnected")

    def attempted(request: Any) -> None:
        if not _local(request.url):
            seen.attempted.append(request.url)

    page.route("**/*", handle)
    page.on("request", attempted)
    page.on("requestfailed", lambda request: seen.refused.update({request.url: request.failure}))
    return seen


def test_swagger_ui_lists_the_routes(page: Any, offline: Offline) -> None:
    page.goto("/docs")
    for path in ("/api/query_task", "/vodencoding/v1/query_task"):
        expect(page.locator(f'.opblock-summary-path[data-path="{path}"]')).to_be_visible()
    page.locator('.opblock-summary-path[data-path="/api/query_task"]').click()
    expect(page.get_by_text("task_id").first).to_be_visible()
    offline.check()


def test_redoc_renders_the_operations(page: Any, offline: Offline) -> None:
    page.goto("/redoc")
    expect(page.locator("h2", has_text="Query Task").first).to_be_visible()
    expect(page.get_by_text("/api/query_task", exact=True).first).to_be_attached()
    offline.check()


def test_the_pages_fetch_only_their_own_assets(page: Any) -> None:
    paths: set[str] = set()
    page.on("request", lambda request: paths.add(urlsplit(request.url).path))
    for url, ready in (("/docs", ".opblock"), ("/redoc", "[role=menuitem]")):
        page.goto(url)
        expect(page.locator(ready).first).to_be_visible()
    assets = {path for path in paths if path.startswith("/docs/static/")}
    assert assets == {
        "/docs/static/swagger-ui-bundle.js",
        "/docs/static/swagger-ui.css",
        "/docs/static/favicon.png",
        "/docs/static/redoc.standalone.js",
    }
