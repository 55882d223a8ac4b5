"""Task controls with a real worker: failing and slowed tasks, holds, the long-poll, the clock."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from emulator.client import TaskTimeout, TranscodeClient
from emulator.control_client import ControlClient
from emulator.errors import BadParam, EmptyResult
from emulator.server import EmulatorServer


@pytest.fixture(scope="module")
def emulator_settings() -> dict[str, Any]:
    # Two slots: a task parked by a hold must not keep the others waiting.
    return {"worker_concurrency": 2, "encoder_preset": "ultrafast"}


def create(api: TranscodeClient, clip_url: str, storage_id: str, name: str = "o.mp4") -> str:
    return api.create_task("origin", clip_url, name, storage_id).task_id


@pytest.mark.parametrize(
    ("stage", "err_code"), [("downloading", 2001), ("running", 2003), ("uploading", 2004)]
)
def test_task_fails_in_the_chosen_stage(
    api: TranscodeClient,
    control: ControlClient,
    clip_url: str,
    storage_id: str,
    stage: str,
    err_code: int,
) -> None:
    fault = control.fail_task(stage)
    task = api.wait_for_task(create(api, clip_url, storage_id), timeout=60)
    assert (task.status, task.err_code) == ("fail", err_code)
    assert f"injected fault {fault.id}" in task.err_msg
    [row] = control.recent_tasks()
    assert stage in row.stage_times and "fail" in row.stage_times
    assert control.list_faults()[0].hits == 1


def test_chosen_err_code_and_message_then_tasks_succeed_again(
    api: TranscodeClient, control: ControlClient, clip_url: str, storage_id: str
) -> None:
    control.fail_task("running", 2007, err_msg="feature not emulated: pretend")
    failed = api.wait_for_task(create(api, clip_url, storage_id, "a.mp4"), timeout=60)
    assert (failed.err_code, failed.err_msg, failed.err_message) == (
        2007,
        "feature not emulated: pretend",
        "feature not emulated: pretend",
    )
    assert api.wait_for_task(create(api, clip_url, storage_id, "b.mp4"), timeout=60).succeeded


def test_fault_for_one_task_only(
    api: TranscodeClient, control: ControlClient, clip_url: str, storage_id: str
) -> None:
    with control.hold("pending"):
        first = create(api, clip_url, storage_id, "a.mp4")
        second = create(api, clip_url, storage_id, "b.mp4")
        control.fail_task("downloading", task_id=second)
    assert api.wait_for_task(first, timeout=60).succeeded
    assert api.wait_for_task(second, timeout=60).err_code == 2001


def test_slowed_stage_takes_longer(
    api: TranscodeClient, control: ControlClient, clip_url: str, storage_id: str
) -> None:
    control.slow_task(running=1.0)
    task = api.wait_for_task(create(api, clip_url, storage_id), timeout=60)
    assert task.succeeded
    [row] = control.recent_tasks()
    assert row.stage_times["uploading"] - row.stage_times["running"] >= 1.0


def test_hold_parks_a_task_until_released(
    api: TranscodeClient, control: ControlClient, clip_url: str, storage_id: str
) -> None:
    with control.hold("running") as hold:
        task_id = create(api, clip_url, storage_id)
        running = api.wait_for_task(task_id, timeout=30, status="running")
        assert running.status == "running"
        assert api._long_poll is True  # the emulator's long-poll, not query_task polling
        assert [h.model_dump() for h in control.list_holds()] == [
            {"stage": "running", "task_id": None}
        ]
        with pytest.raises(TaskTimeout) as raised:
            api.wait_for_task(task_id, timeout=0.3)
        assert raised.value.last_status == "running"
        assert hold.stage == "running"
    assert control.list_holds() == []
    assert api.wait_for_task(task_id, timeout=60).succeeded


def test_hold_on_one_task(
    api: TranscodeClient, control: ControlClient, clip_url: str, storage_id: str
) -> None:
    with control.hold("pending"):
        held = create(api, clip_url, storage_id, "a.mp4")
        free = create(api, clip_url, storage_id, "b.mp4")
        control.hold("uploading", task_id=held)
    assert api.wait_for_task(free, timeout=60).succeeded
    assert api.wait_for_task(held, timeout=30, status="uploading").status == "uploading"
    control.release(task_id=held)
    assert api.wait_for_task(held, timeout=60).succeeded


def test_wait_route_reports_timeout_in_a_header(
    api: TranscodeClient, control: ControlClient, clip_url: str, storage_id: str
) -> None:
    control.hold("pending")
    task_id = create(api, clip_url, storage_id)
    response = control.send("GET", f"/tasks/{task_id}/wait", params={"timeout": 0.2})
    assert response.headers["X-Emulator-Wait"] == "timeout"
    assert response.json()["status"] == "pending"
    assert response.json() == api.call("GET", "/api/query_task", {"task_id": task_id})
    reached = control.send(
        "GET", f"/tasks/{task_id}/wait", params={"timeout": 1, "status": "pending,running"}
    )
    assert reached.headers["X-Emulator-Wait"] == "reached"


def test_wait_errors(control: ControlClient) -> None:
    with pytest.raises(EmptyResult):
        control.wait_task("nope", timeout=0.1)
    with pytest.raises(BadParam, match="sleeping"):
        control.wait_task("nope", timeout=0.1, status=["sleeping"])


def test_reset_stops_a_running_task(
    api: TranscodeClient,
    control: ControlClient,
    clip_url: str,
    storage_id: str,
    emulator: EmulatorServer,
) -> None:
    control.hold("running")
    task_id = create(api, clip_url, storage_id)
    api.wait_for_task(task_id, timeout=30, status="running")
    health = httpx.get(f"{emulator.base_url}/_emulator/health").json()
    assert health["worker"]["running"] == 1 and health["tasks"]["running"] == 1
    control.reset()
    assert control.recent_tasks() == []
    assert emulator.app.state.runtime.worker.running == 0


def test_frozen_clock_places_finished_tasks_in_summary_hours(
    api: TranscodeClient, control: ControlClient, clip_url: str, storage_id: str
) -> None:
    frozen = 1_700_000_000  # 2023-11-14 22:13:20 UTC
    control.set_clock(frozen_at=frozen)
    task = api.wait_for_task(create(api, clip_url, storage_id), timeout=60)
    assert (task.create_time, task.finish_time) == (frozen, frozen)
    [bucket] = api.list_summary(1, 0).list
    assert bucket.time_stamp == frozen // 3600 * 3600 and bucket.count_total == 1
    control.set_clock(advance_s=3 * 3600)
    assert api.list_summary(1, 0).num == 0
    assert api.list_summary(4, 2).list[0].counters()["count_cn-hz_h264_sd"] == 1
