"""Database work never runs on the event loop: the polled reads run in FastAPI's thread pool.

A statement executed on a thread that runs an event loop would stall every other request for
its duration; the engine's `before_cursor_execute` event says on which thread each one runs.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event, insert

from emulator.client import TranscodeClient
from emulator.db.models import Task
from emulator.server import EmulatorServer

FINISHED_TASKS = 10_000


def on_a_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@pytest.fixture
def statements_on_loop(emulator: EmulatorServer) -> Iterator[list[str]]:
    """The SQL statements the emulator executes on an event loop's thread while the test runs."""
    engine = emulator.app.state.ctx.db.engine
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if on_a_loop():
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def add_finished_tasks(emulator: EmulatorServer, count: int) -> None:
    """`count` succeeded tasks finished within the last day, in one Core INSERT (building
    10,000 ORM objects takes longer than the rest of the test)."""
    now = time.time()
    columns = Task.__table__.c  # type: ignore[attr-defined]
    rows = []
    for i in range(count):
        finish = now - 3600 - i % 3000
        row = {
            "task_id": f"loop{i:028d}",
            "template_name": "480p",
            "template_id": "t480p",
            "template": {"vcodec": "h264", "format": "mp4"},
            "storage_id": "s",
            "storage": {"region": "cn-hz", "type": "s3", "bucket": "out", "prefix": ""},
            "input": "http://example.invalid/in.mp4",
            "output": f"out/{i}.mp4",
            "objkey": f"out/{i}.mp4",
            "status": "success",
            "create_time": now - 7200,
            "finish_time": finish,
            "stage_times": {},
            "output_keys": [],
            "media": {},
            "duration": 1.0,
            "height": 480 if i % 2 else 720,
        }
        # Where the schema keeps list_summary's keys as columns, a Core insert fills them.
        keys = {"region": "cn-hz", "vcodec": "h264", "finish_hour": finish // 3600 * 3600}
        row.update({name: value for name, value in keys.items() if name in columns})
        rows.append(row)
    with emulator.app.state.ctx.db.write() as session:
        session.execute(insert(Task), rows)


def test_polled_reads_run_no_statement_on_the_event_loop(
    api: TranscodeClient, storage_id: str, statements_on_loop: list[str]
) -> None:
    task_id = api.call(
        "POST",
        "/api/create_task",
        {
            "template_name": "480p",
            "input": "http://x/in.mp4",
            "output": "o.mp4",
            "storage_id": storage_id,
        },
    )["task_id"]
    now = int(time.time())
    window = {"start_time": now - 60, "end_time": now + 60}
    for path, params in [
        ("/api/query_task", {"task_id": task_id}),
        ("/api/list_task", window),
        ("/api/list_summary", {}),
        ("/api/query_template", {"name": "480p"}),
        ("/api/list_template", {}),
        ("/api/list_storage", {}),
        ("/vodencoding/v1/query_task", {"task_id": task_id}),
        ("/vodencoding/v1/list_task", window),
        ("/vodencoding/v1/list_summary", {}),
        ("/vodencoding/v1/query_template", {"template_name": "480p"}),
        ("/vodencoding/v1/list_template", {}),
        ("/vodencoding/v1/list_storage", {}),
    ]:
        api.call("GET", path, params)
    assert statements_on_loop == []


def test_health_answers_while_list_summary_reads_10000_tasks(
    emulator: EmulatorServer, api: TranscodeClient, statements_on_loop: list[str]
) -> None:
    add_finished_tasks(emulator, FINISHED_TASKS)
    summary: dict[str, Any] = {}

    def summarize() -> None:
        summary.update(api.call("GET", "/api/list_summary", {"start_time": 24, "end_time": 0}))

    reader = threading.Thread(target=summarize)
    health_answers = 0
    with httpx.Client(base_url=emulator.base_url, timeout=10) as client:
        reader.start()
        while reader.is_alive() or not health_answers:
            assert client.get("/_emulator/health").status_code == 200
            health_answers += 1
        reader.join()
    assert sum(row["count_total"] for row in summary["list"]) == FINISHED_TASKS
    assert statements_on_loop == []
