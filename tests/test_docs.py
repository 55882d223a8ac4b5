"""`/` and the API docs pages, with the control surface on and off (emulator/docs.py).

tests/ui/test_docs_offline.py loads the pages in Chromium with the network cut off.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from emulator.docs import ASSETS, ASSETS_URL
from emulator.errors import NotFoundRoute
from emulator.server import EmulatorServer

ABSOLUTE_URL = re.compile(r"""["'(]\s*(?:https?:)?//""")


@pytest.fixture(scope="module", params=["on", "off"])
def emulator_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    return {"worker_concurrency": 0, "control": request.param}


def test_root_redirects_to_the_dashboard_or_without_it_to_the_docs(
    emulator: EmulatorServer,
) -> None:
    response = httpx.get(f"{emulator.base_url}/", follow_redirects=False)
    expected = "/_emulator/ui" if emulator.settings.control == "on" else "/docs"
    assert (response.status_code, response.headers["location"]) == (307, expected)


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_pages_link_only_to_the_emulator(emulator: EmulatorServer, path: str) -> None:
    response = httpx.get(f"{emulator.base_url}{path}")
    assert response.status_code == 200
    assert ABSOLUTE_URL.findall(response.text) == []
    assert f"{ASSETS_URL}/" in response.text
    assert "default-src 'self'" in response.headers["content-security-policy"]


@pytest.mark.parametrize("name", sorted(ASSETS))
def test_every_docs_asset_is_served(emulator: EmulatorServer, name: str) -> None:
    response = httpx.get(f"{emulator.base_url}{ASSETS_URL}/{name}")
    assert response.status_code == 200
    assert response.content == ASSETS[name].read_bytes()


@pytest.mark.parametrize("name", ["LICENSE", "..%2Fredoc%2FLICENSE", "hls.min.js"])
def test_a_file_not_on_the_asset_list_is_a_404_envelope(
    emulator: EmulatorServer, name: str
) -> None:
    response = httpx.get(f"{emulator.base_url}{ASSETS_URL}/{name}")
    assert response.status_code == 404
    assert response.json()["code"] == NotFoundRoute.code
