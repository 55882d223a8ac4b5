"""Hostile input: schemathesis over /openapi.json, signed and unsigned, against a live emulator."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from emulator.server import EmulatorServer
from tests.reliability.fuzzing import MSGS, Stats, Target, fuzz

# Per operation and generation mode (positive, negative); every example is sent in each auth
# mode. `benchmarks/fuzz.py` runs many more.
EXAMPLES = 4


@pytest.fixture(scope="module")
def emulator_settings() -> dict[str, Any]:
    return {"worker_concurrency": 0}


def target(emulator: EmulatorServer) -> Target:
    settings = emulator.settings
    return Target(emulator.base_url, settings.access_key_id, settings.access_key_secret)


def test_openapi_schemas_are_self_contained(emulator: EmulatorServer) -> None:
    """Pydantic's `#/$defs/...` references resolve against the OpenAPI document's root."""
    text = httpx.get(f"{emulator.base_url}/openapi.json", timeout=30).text
    assert "#/$defs/" not in text
    assert '"$defs"' not in text


def test_fuzz_every_route_signed_and_unsigned(emulator: EmulatorServer) -> None:
    httpx.post(f"{emulator.base_url}/_emulator/reset", timeout=30).raise_for_status()
    stats: Stats = fuzz(target(emulator), EXAMPLES)
    assert stats.requests > 200
    assert not stats.problems, "\n".join(stats.problems[:30])


@pytest.mark.parametrize("prefix", ["/api", "/vodencoding/v1"])
@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/no_such_route", 404),
        ("POST", "/no_such_route", 404),
        ("DELETE", "/query_task", 405),
        ("PATCH", "/add_template", 405),
    ],
)
def test_unknown_paths_and_methods(
    emulator: EmulatorServer, prefix: str, method: str, path: str, status: int
) -> None:
    response = httpx.request(method, f"{emulator.base_url}{prefix}{path}", timeout=30)
    assert response.status_code == status
    body = response.json()
    assert body["code"] == 1002 and body["msg"] == MSGS[1002]
    assert body["request_id"] == response.headers["X-Wz-Request-Id"]
    assert body["detail"]
