"""A running task's page shows ffmpeg's fps, speed and an ETA; a failed one says why."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from emulator.client import TranscodeClient
from emulator.server import EmulatorServer
from emulator.transcode.clips import make_clip
from tests.conftest import wait_for
from tests.ui.conftest import Snap

expect = pytest.importorskip(
    "playwright.sync_api", reason="UI TESTS SKIPPED: the playwright package is missing"
).expect

UI = "/_emulator/ui"


@pytest.fixture(scope="module")
def emulator_settings() -> dict[str, Any]:
    return {"encoder_preset": "placebo"}  # ffmpeg runs for many seconds: deleted once seen


@pytest.fixture(scope="module")
def slow_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("rate") / "slow.mp4", size="640x360", duration=20)


def create(api: TranscodeClient, source: str, storage_id: str) -> str:
    params = {"template_name": "origin", "input": source, "output": "r.mp4"}
    task_id: str = api.call("POST", "/api/create_task", {**params, "storage_id": storage_id})[
        "task_id"
    ]
    return task_id


def test_running_task_shows_fps_speed_and_eta(
    page: Any, api: TranscodeClient, s3: Any, slow_clip: Path, storage_id: str, snap: Snap
) -> None:
    s3.ensure_bucket("inputs")
    s3.upload_file(slow_clip, "inputs", "slow.mp4")
    task_id = create(api, "s3://inputs/slow.mp4", storage_id)
    wait_for(api, task_id, until=lambda d: d["status"] == "running" and d["progress"] > 0)

    page.goto(f"{UI}/tasks/{task_id}")
    rate = page.locator(".status-panel .rate")
    # The panel refreshes itself: the first heartbeat with a rate may come a second later.
    expect(rate.locator(".rate-fps")).to_have_text(re.compile(r"^\d+\.\d fps$"))
    expect(rate.locator(".rate-speed")).to_contain_text("× real time")
    expect(rate.locator(".rate-eta")).to_contain_text(" left")
    snap(page, "task-running-rate")
    api.call("DELETE", "/api/del_task", {"task_id": task_id})


def test_failed_task_says_why_and_not_what_it_would_show(
    page: Any, api: TranscodeClient, emulator: EmulatorServer, storage_id: str, snap: Snap
) -> None:
    task_id = create(api, "s3://inputs/missing.mp4", storage_id)
    wait_for(api, task_id, until=lambda d: d["status"] == "fail")

    page.goto(f"{UI}/tasks/{task_id}")
    expect(page.locator(".status-panel .err")).to_contain_text("Failed in downloading")
    expect(page.locator(".failed-note")).to_contain_text("the task failed in downloading")
    body = page.locator("main")
    expect(body).not_to_contain_text("once the task succeeds")
    expect(body).not_to_contain_text("Not run yet")
    expect(body).to_contain_text("Not run: the task failed in downloading, before ffmpeg.")
    snap(page, "task-failed")
