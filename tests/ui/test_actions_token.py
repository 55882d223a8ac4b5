"""With EMULATOR_CONTROL_TOKEN set, the task actions need it too: without, nothing changes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from emulator.client import TranscodeClient
from emulator.server import EmulatorServer

TOKEN = "ui-actions-token"
UI = "/_emulator/ui"


@pytest.fixture(scope="module")
def emulator_settings() -> dict[str, Any]:
    return {"worker_concurrency": 0, "control_token": TOKEN}


@pytest.fixture
def signed(emulator: EmulatorServer) -> Iterator[TranscodeClient]:
    """A signed client (the vendor API needs no control token), on a reset emulator."""
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    httpx.post(
        f"{emulator.base_url}/_emulator/reset", headers=bearer, timeout=30
    ).raise_for_status()
    s = emulator.settings
    with TranscodeClient(emulator.base_url, s.access_key_id, s.access_key_secret) as client:
        yield client


def post(emulator: EmulatorServer, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.post(f"{emulator.base_url}{UI}{path}", timeout=30, **kwargs)


def task_ids(api: TranscodeClient) -> list[str]:
    page = api.list_task(start_time=1_000_000_000, end_time=9_999_999_999)
    return [task.task_id for task in page.list]


def test_without_the_token_the_form_sends_to_the_login_and_creates_nothing(
    emulator: EmulatorServer, signed: TranscodeClient
) -> None:
    storage = signed.add_storage("cn-hz", "s3", "out").storage_id
    form = {"storage_id": storage, "template_name": "480p", "input": "s3://in/a.mp4"}
    refused = post(emulator, "/tasks/new", data={**form, "output": "a.mp4"})
    assert refused.status_code == 303
    assert refused.headers["location"].startswith(f"{UI}/login?next=")
    assert task_ids(signed) == []

    bearer = {"Authorization": f"Bearer {TOKEN}"}
    made = post(emulator, "/tasks/new", data={**form, "output": "a.mp4"}, headers=bearer)
    assert made.status_code == 303
    assert made.headers["location"] == f"{UI}/tasks/{task_ids(signed)[0]}"


def test_without_the_token_cancel_changes_nothing(
    emulator: EmulatorServer, signed: TranscodeClient
) -> None:
    storage = signed.add_storage("cn-hz", "s3", "out").storage_id
    task_id = signed.create_task("480p", "s3://in/a.mp4", "a.mp4", storage).task_id
    refused = post(emulator, f"/tasks/{task_id}/cancel")
    assert refused.status_code == 303
    assert refused.headers["location"].startswith(f"{UI}/login?next=")
    assert task_ids(signed) == [task_id]
