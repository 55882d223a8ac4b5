"""The worker's stage hooks and its idle loop, watched through the database's own statements."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from emulator.client import TranscodeClient
from emulator.server import EmulatorServer
from tests.conftest import wait_for


@pytest.fixture(scope="module")
def emulator_settings() -> dict[str, Any]:
    return {"worker_concurrency": 2, "encoder_preset": "ultrafast", "worker_lease_s": 1.5}


class Statements:
    """SQL the emulator sends, with the thread that sent it and whether it was a writer's."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, bool, str]] = []
        self.lock = threading.Lock()

    def __call__(self, conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        writer = bool(conn.get_execution_options().get("immediate"))
        with self.lock:
            self.seen.append((threading.current_thread().name, writer, statement))

    def clear(self) -> None:
        with self.lock:
            self.seen.clear()

    def by_worker(self) -> list[tuple[bool, str]]:
        with self.lock:
            return [(w, s) for name, w, s in self.seen if name.startswith("worker-")]


@pytest.fixture
def statements(emulator: EmulatorServer) -> Iterator[Statements]:
    engine = emulator.app.state.ctx.db.engine
    watcher = Statements()
    event.listen(engine, "before_cursor_execute", watcher)
    try:
        yield watcher
    finally:
        event.remove(engine, "before_cursor_execute", watcher)


def create(api: TranscodeClient, storage_id: str, clip_url: str, output: str) -> str:
    params = {
        "template_name": "origin",
        "input": clip_url,
        "output": output,
        "storage_id": storage_id,
    }
    task_id: str = api.call("POST", "/api/create_task", params)["task_id"]
    return task_id


def test_stages_read_no_rules_when_none_is_set(
    api: TranscodeClient, storage_id: str, clip_url: str, statements: Statements
) -> None:
    """With no hold and no fault, a stage boundary pays no database read: the rules come with
    the claim's transaction (and the heartbeats'), never from a read of their own."""
    # The reset before each test changed the rules: the first boundary after it reads them once.
    assert wait_for(api, create(api, storage_id, clip_url, "first.mp4"))["status"] == "success"
    statements.clear()
    task_id = create(api, storage_id, clip_url, "plain.mp4")
    assert wait_for(api, task_id)["status"] == "success"
    reads = [sql for writer, sql in statements.by_worker() if not writer and " kv" in sql]
    assert reads == []
    written = [sql for writer, sql in statements.by_worker() if writer and " kv" in sql]
    assert written  # the claim did read the rules, inside its own transaction


def test_a_held_stage_is_let_go_soon_after_its_release(
    api: TranscodeClient, emulator: EmulatorServer, storage_id: str, clip_url: str
) -> None:
    control = f"{emulator.base_url}/_emulator/holds"
    httpx.post(control, json={"stage": "uploading"}).raise_for_status()
    task_id = create(api, storage_id, clip_url, "held.mp4")
    wait_for(api, task_id, until=lambda d: d["status"] == "uploading")
    time.sleep(0.3)  # parked: still uploading
    assert api.call("GET", "/api/query_task", {"task_id": task_id})["status"] == "uploading"
    released = time.monotonic()
    httpx.delete(control).raise_for_status()
    assert wait_for(api, task_id)["status"] == "success"
    # A release through this process wakes the held stage at once (worker/hooks.py); the
    # bound is generous for a loaded machine.
    assert time.monotonic() - released < 2.0


def test_a_hold_added_while_a_task_runs_parks_it_at_the_next_stage(
    api: TranscodeClient, emulator: EmulatorServer, storage_id: str, clip_url: str
) -> None:
    """A rule changed in this process reaches the worker at its next stage boundary."""
    control = f"{emulator.base_url}/_emulator/holds"
    httpx.post(control, json={"stage": "running"}).raise_for_status()
    task_id = create(api, storage_id, clip_url, "moved.mp4")
    wait_for(api, task_id, until=lambda d: d["status"] == "running")
    httpx.post(control, json={"stage": "uploading", "task_id": task_id}).raise_for_status()
    httpx.delete(control, params={"stage": "running"}).raise_for_status()
    parked = wait_for(api, task_id, until=lambda d: d["status"] == "uploading")
    time.sleep(0.3)
    assert api.call("GET", "/api/query_task", {"task_id": task_id})["status"] == "uploading"
    httpx.delete(control).raise_for_status()
    assert parked["task_id"] == task_id
    assert wait_for(api, task_id)["status"] == "success"


def test_idle_workers_and_the_deliverer_write_nothing(
    api: TranscodeClient, emulator: EmulatorServer, statements: Statements
) -> None:
    """Idle slots wait on a wakeup, the deliverer and the lease upkeep read: no write
    transactions (the upkeep looks every 0.5 s with this module's 1.5 s lease)."""
    time.sleep(0.3)  # whatever the reset woke settles
    statements.clear()
    time.sleep(2.0)
    with statements.lock:
        writes = [(name, sql) for name, writer, sql in statements.seen if writer]
    assert writes == []


def test_a_new_task_wakes_an_idle_slot_at_once(
    api: TranscodeClient, storage_id: str, clip_url: str
) -> None:
    """No slot polls: the create_task in this process wakes one directly."""
    time.sleep(0.5)
    task_id = create(api, storage_id, clip_url, "woken.mp4")
    started = time.monotonic()
    wait_for(api, task_id, until=lambda d: d["status"] != "pending")
    assert time.monotonic() - started < 2.0
    assert wait_for(api, task_id)["status"] == "success"
