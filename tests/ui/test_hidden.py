"""With EMULATOR_CONTROL=off the dashboard is not served at all (it is control surface)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from emulator.server import EmulatorServer


@pytest.fixture(scope="module")
def emulator_settings() -> dict[str, Any]:
    return {"worker_concurrency": 0, "control": "off"}


@pytest.mark.parametrize(
    "path", ["", "/", "/login", "/settings", "/fragments/tasks", "/static/dashboard.css"]
)
def test_dashboard_is_hidden(emulator: EmulatorServer, path: str) -> None:
    response = httpx.get(f"{emulator.base_url}/_emulator/ui{path}")
    assert response.status_code == 404
