"""Browser fixtures: Debian's headless Chromium driven by Playwright (never `playwright install`).

`make browser` (a step of `make setup`, so of `make test`) installs Chromium where it can;
elsewhere these tests skip, saying why, instead of failing on a machine without a browser.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator.server import EmulatorServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # root in containers and CI: Chromium's sandbox needs user namespaces
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000

Snap = Callable[[Any, str], Path]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import Error, expect, sync_playwright
    except ImportError:
        pytest.skip(
            "UI TESTS SKIPPED: the `playwright` Python package is missing "
            "(it is a dev dependency: pip install -e '.[dev]')"
        )
    if not CHROMIUM.exists():
        pytest.skip(
            f"UI TESTS SKIPPED: no Chromium at {CHROMIUM}; `make browser` installs Debian's "
            "`chromium` package (needs root and apt-get)"
        )
    # Assertions wait as long as actions: a busy machine (the whole suite on 2 cores) is slow.
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        except Error as exc:
            pytest.skip(f"UI TESTS SKIPPED: {CHROMIUM} does not start: {exc.message[:300]}")
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, emulator: EmulatorServer) -> Iterator[Any]:
    """A fresh browser context on the module's emulator; uncaught page errors fail the test."""
    context = browser.new_context(
        base_url=emulator.base_url, viewport={"width": 1360, "height": 900}
    )
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield tab
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ui-screenshots")


@pytest.fixture
def snap(screenshots: Path) -> Snap:
    """snap(page, name): a full-page PNG in the session's screenshot directory."""

    def take(tab: Any, name: str) -> Path:
        path = screenshots / f"{re.sub(r'[^a-z0-9-]+', '-', name.lower())}.png"
        tab.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 1000
        return path

    return take
