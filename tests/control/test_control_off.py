"""EMULATOR_CONTROL=off: only health (and media keys) answer under /_emulator/; no request log."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from emulator.client import TaskTimeout, TranscodeClient
from emulator.server import EmulatorServer


@pytest.fixture(scope="module")
def emulator_settings() -> dict[str, Any]:
    return {"worker_concurrency": 0, "control": "off"}


@pytest.fixture
def api(emulator: EmulatorServer) -> Iterator[TranscodeClient]:
    """Overrides the shared fixture, which resets through the (absent) control API."""
    s = emulator.settings
    with TranscodeClient(emulator.base_url, s.access_key_id, s.access_key_secret) as client:
        yield client


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/reset"),
        ("GET", "/keys"),
        ("POST", "/faults"),
        ("GET", "/requests"),
        ("GET", "/samples/240p.mp4"),
    ],
)
def test_control_routes_are_absent(emulator: EmulatorServer, method: str, path: str) -> None:
    response = httpx.request(method, f"{emulator.base_url}/_emulator{path}")
    assert response.status_code == 404


def test_health_still_answers(emulator: EmulatorServer) -> None:
    health = httpx.get(f"{emulator.base_url}/_emulator/health")
    assert health.status_code == 200
    assert health.json()["control"]["enabled"] is False


def test_no_request_log_is_kept(api: TranscodeClient, emulator: EmulatorServer) -> None:
    api.list_storage()
    assert emulator.app.state.runtime.requests.read() == []


def test_wait_for_task_polls_query_task(api: TranscodeClient) -> None:
    storage = api.add_storage("cn-hz", "s3", "off-bucket").storage_id
    task = api.create_task("480p", "http://127.0.0.1:1/a.mp4", "a.mp4", storage)
    with pytest.raises(TaskTimeout) as raised:
        api.wait_for_task(task.task_id, timeout=0.3, poll=0.1)
    assert (raised.value.task_id, raised.value.last_status) == (task.task_id, "pending")
    assert api._long_poll is False


def test_control_routes_are_not_in_the_openapi_docs(emulator: EmulatorServer) -> None:
    paths = httpx.get(f"{emulator.base_url}/openapi.json").json()["paths"]
    control = [
        p
        for p in paths
        if p.startswith("/_emulator/") and not p.startswith("/_emulator/media-keys/")
    ]
    assert control == ["/_emulator/health"]
