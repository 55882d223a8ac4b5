"""The dashboard's task actions refuse a cross-site post (a foreign Origin) and change nothing.

No browser: a page on another site can post these forms, and httpx sends what it would.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from emulator.client import TranscodeClient
from emulator.server import EmulatorServer
from tests.conftest import wait_for

UI = "/_emulator/ui"
EVIL = {"Origin": "http://evil.example"}


def post(emulator: EmulatorServer, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.post(f"{emulator.base_url}{UI}{path}", timeout=30, **kwargs)


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    assert "cross-site" in response.json()["detail"]


def listed(api: TranscodeClient) -> list[tuple[str, str]]:
    page = api.call(
        "GET", "/api/list_task", {"start_time": 1_000_000_000, "end_time": 9_999_999_999}
    )
    return [(task["task_id"], task["status"]) for task in page["list"]]


def test_cross_site_cancel_changes_nothing(
    api: TranscodeClient, emulator: EmulatorServer, storage_id: str
) -> None:
    api.control.hold("pending")
    task_id = api.create_task("480p", "s3://inputs/held.mp4", "x.mp4", storage_id).task_id
    assert_refused(post(emulator, f"/tasks/{task_id}/cancel", headers=EVIL))
    assert listed(api) == [(task_id, "pending")]


def test_cross_site_retry_changes_nothing(
    api: TranscodeClient, emulator: EmulatorServer, storage_id: str
) -> None:
    task_id = api.create_task("480p", "s3://inputs/missing.mp4", "x.mp4", storage_id).task_id
    wait_for(api, task_id)
    assert_refused(post(emulator, f"/tasks/{task_id}/retry", headers=EVIL))
    assert listed(api) == [(task_id, "fail")]


@pytest.mark.parametrize("headers", [EVIL, {}], ids=["cross-site", "same-site"])
def test_only_a_same_site_form_creates_a_task(
    api: TranscodeClient, emulator: EmulatorServer, storage_id: str, headers: dict[str, str]
) -> None:
    api.control.hold("pending")
    form = {"storage_id": storage_id, "template_name": "480p"}
    form |= {"input": "s3://inputs/held.mp4", "output": "x.mp4"}
    answer = post(emulator, "/tasks/new", data=form, headers=headers)
    if headers:
        assert_refused(answer)
        assert listed(api) == []
    else:
        assert answer.status_code == 303
        (task_id, status), *others = listed(api)
        assert (answer.headers["location"], status, others) == (
            f"{UI}/tasks/{task_id}",
            "pending",
            [],
        )
