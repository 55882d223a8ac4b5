"""Tasks whose ffmpeg runs for seconds (placebo preset): progress, cancel, time limit."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from emulator.client import TranscodeClient
from emulator.errors import EmptyResult
from emulator.server import EmulatorServer
from emulator.transcode.clips import make_clip
from tests.conftest import make_settings, temp_files, wait_for
from tests.processes import ffmpeg_running_for


@pytest.fixture(scope="module")
def emulator_settings() -> dict[str, Any]:
    return {"encoder_preset": "placebo"}


@pytest.fixture(scope="module")
def slow_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("slow") / "slow.mp4", size="640x360", duration=6)


def start_task(api: TranscodeClient, s3: Any, clip: Path, storage_id: str) -> str:
    s3.ensure_bucket("inputs")
    s3.upload_file(clip, "inputs", "slow.mp4")
    params = {
        "template_name": "origin",
        "input": "s3://inputs/slow.mp4",
        "output": "s.mp4",
        "storage_id": storage_id,
    }
    task_id: str = api.call("POST", "/api/create_task", params)["task_id"]
    return task_id


def test_progress_is_visible_while_running_and_cancel_stops_ffmpeg(
    api: TranscodeClient, s3: Any, slow_clip: Path, storage_id: str, emulator: EmulatorServer
) -> None:
    task_id = start_task(api, s3, slow_clip, storage_id)
    data = wait_for(api, task_id, until=lambda d: d["status"] == "running" and d["progress"] > 0)
    assert 0 < data["progress"] < 100
    assert ffmpeg_running_for(task_id)
    api.call("DELETE", "/api/del_task", {"task_id": task_id})
    with pytest.raises(EmptyResult):
        api.call("GET", "/api/query_task", {"task_id": task_id})
    deadline = time.monotonic() + 2
    while ffmpeg_running_for(task_id) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not ffmpeg_running_for(task_id)
    while temp_files(emulator.settings.data_dir) and time.monotonic() < deadline + 3:
        time.sleep(0.05)
    assert temp_files(emulator.settings.data_dir) == []


def test_time_limit_is_2006(tmp_path: Path, slow_clip: Path, emulator: EmulatorServer) -> None:
    settings = make_settings(tmp_path / "data", encoder_preset="placebo", task_timeout=1.5)
    with EmulatorServer(settings) as server:
        objects = server.app.state.ctx.objects
        with TranscodeClient(
            server.base_url, settings.access_key_id, settings.access_key_secret
        ) as api:
            storage = api.call(
                "POST", "/api/add_storage", {"region": "r", "type": "s3", "bucket": "out"}
            )["storage_id"]
            task_id = start_task(api, objects, slow_clip, storage)
            data = wait_for(api, task_id)
    assert (data["status"], data["err_code"]) == ("fail", 2006)
    assert "time limit" in data["err_msg"]
