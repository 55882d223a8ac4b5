"""EMULATOR_CONTROL_TOKEN locks the control API (Bearer header or cookie); health stays open."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from emulator.client import TranscodeClient
from emulator.control_client import ControlClient
from emulator.errors import AuthFail
from emulator.server import EmulatorServer
from emulator.testing import EmulatorOptions, EmulatorStartError, start_emulator

TOKEN = "s3cret-control-token"


@pytest.fixture(scope="module")
def emulator_settings() -> dict[str, Any]:
    return {"worker_concurrency": 0, "control_token": TOKEN}


@pytest.fixture
def api(emulator: EmulatorServer) -> Iterator[TranscodeClient]:
    """Overrides the shared fixture: its reset needs the token here."""
    s = emulator.settings
    with TranscodeClient(
        emulator.base_url, s.access_key_id, s.access_key_secret, control_token=TOKEN
    ) as client:
        client.control.reset()
        yield client


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/reset"),
        ("GET", "/keys"),
        ("GET", "/faults"),
        ("GET", "/holds"),
        ("GET", "/clock"),
        ("GET", "/requests"),
        ("GET", "/tasks"),
        ("GET", "/tasks/x/wait"),
        ("GET", "/tasks/x/callbacks"),
    ],
)
def test_control_routes_need_the_token(emulator: EmulatorServer, method: str, path: str) -> None:
    response = httpx.request(method, f"{emulator.base_url}/_emulator{path}")
    assert response.status_code == 401
    assert response.json()["code"] == 1003
    assert "Bearer" in response.json()["detail"]


def test_wrong_token_is_refused(emulator: EmulatorServer) -> None:
    with (
        ControlClient(emulator.base_url, token="nope") as control,
        pytest.raises(AuthFail, match="wrong control token"),
    ):
        control.list_keys()


def test_bearer_header_and_cookie_are_accepted(emulator: EmulatorServer) -> None:
    with ControlClient(emulator.base_url, token=TOKEN) as control:
        assert control.list_keys()
    cookies = {"emulator_control_token": TOKEN}
    response = httpx.get(f"{emulator.base_url}/_emulator/keys", cookies=cookies)
    assert response.status_code == 200


def test_token_from_the_environment(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMULATOR_CONTROL_TOKEN", TOKEN)
    with ControlClient(emulator.base_url) as control:
        assert control.list_keys()


def test_health_and_api_need_no_token(api: TranscodeClient, emulator: EmulatorServer) -> None:
    assert httpx.get(f"{emulator.base_url}/_emulator/health").status_code == 200
    assert api.list_storage().num == 0


def test_wait_for_task_falls_back_to_polling_without_the_token(
    api: TranscodeClient, emulator: EmulatorServer
) -> None:
    storage = api.add_storage("cn-hz", "s3", "out").storage_id
    task = api.create_task("480p", "http://127.0.0.1:1/a.mp4", "a.mp4", storage)
    s = emulator.settings
    with TranscodeClient(emulator.base_url, s.access_key_id, s.access_key_secret) as client:
        assert client.control_token is None
        done = client.wait_for_task(task.task_id, timeout=0.3, poll=0.1, status="pending")
        assert done.status == "pending"
        assert client._long_poll is False


def test_plugin_reset_without_the_token_says_what_to_do(emulator: EmulatorServer) -> None:
    options = EmulatorOptions(url=emulator.base_url)
    with (
        start_emulator(options) as running,
        pytest.raises(EmulatorStartError, match="--transcode-emulator-token"),
    ):
        running.reset()
