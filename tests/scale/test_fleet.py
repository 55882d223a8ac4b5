"""The issue's fleet on PostgreSQL: 2 API processes, 3 worker processes, 1 S3 process.

40 tiny tasks created through both API nodes; one worker is killed with kill -9 while it holds
a task (a stage hold makes "mid-task" certain); every task ends in success exactly once with its
output in S3. A long encode's progress is visible from both nodes, and del_task on the node
that did not create it stops its ffmpeg within 2 s.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from emulator.db.engine import Database
from emulator.db.models import Task
from emulator.errors import EmptyResult
from emulator.server import free_port
from emulator.storage.store import ObjectStore
from emulator.transcode.clips import make_clip
from tests.processes import Proc, ffmpeg_running_for, wait_healthy, worker
from tests.scale.fleet import (
    api_node,
    client,
    create,
    pid_of,
    poll,
    query,
    start_s3,
)

pytestmark = pytest.mark.slow

TASKS = 40


def rows(url: str) -> list[Task]:
    db = Database(url)
    try:
        with db.read() as session:
            return list(session.exec(select(Task)).all())
    finally:
        db.dispose()


def test_fleet_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    s3_port = free_port()
    endpoint = f"http://127.0.0.1:{s3_port}"
    shared = {
        "database_url": pg_url,
        "s3_endpoint_url": endpoint,
        "worker_lease_s": 2,
        "encoder_preset": "ultrafast",
    }
    with ExitStack() as stack:
        s3 = start_s3(tmp_path / "s3", s3_port, tmp_path / "s3.log")
        stack.callback(s3.stop)
        ports = [free_port(), free_port()]
        nodes = [
            api_node(tmp_path / f"api{i}", port, tmp_path / f"api{i}.log", **shared)
            for i, port in enumerate(ports)
        ]
        for node in nodes:
            stack.callback(node.stop)
        workers = {}
        for i in range(3):
            proc = worker(tmp_path / f"worker{i}", f"worker{i}", **shared)
            stack.callback(proc.stop)
            workers[proc.popen.pid] = proc
        a, b = (f"http://127.0.0.1:{port}" for port in ports)
        for url, node in zip((a, b), nodes, strict=True):
            wait_healthy(url, node, timeout_s=90)
        storage_id = prepare_inputs(a, endpoint, tmp_path)
        run_forty_tasks_and_kill_a_worker(pg_url, a, b, storage_id, workers)
        objects = ObjectStore(endpoint_url=endpoint)
        for task in rows(pg_url):
            assert httpx.get(objects.presign_get("out", task.objkey)).status_code == 200
        cancel_across_nodes(pg_url, a, b, storage_id)


def prepare_inputs(base_url: str, endpoint: str, tmp_path: Path) -> str:
    objects = ObjectStore(endpoint_url=endpoint)
    objects.ensure_bucket("inputs")
    objects.upload_file(make_clip(tmp_path / "clip.mp4"), "inputs", "clip.mp4")
    # Long enough that the 1080p encode is still running when it is cancelled.
    long_clip = make_clip(tmp_path / "long.mp4", duration=120, rate=25, audio=False)
    objects.upload_file(long_clip, "inputs", "long.mp4")
    with client(base_url) as api:
        storage = api.call(
            "POST", "/api/add_storage", {"region": "r", "type": "s3", "bucket": "out"}
        )
    storage_id: str = storage["storage_id"]
    return storage_id


def run_forty_tasks_and_kill_a_worker(
    pg_url: str, a: str, b: str, storage_id: str, workers: dict[int, Proc]
) -> None:
    with client(a) as api_a, client(b) as api_b:
        control_a, control_b = api_a.control, api_b.control
        control_a.hold("pending")  # nothing is claimed until every task exists
        ids = [
            create((a, b)[i % 2], storage_id, "s3://inputs/clip.mp4", f"o/{i}.mp4", "origin")
            for i in range(TASKS)
        ]
        victim = ids[7]
        control_b.hold("running", task_id=victim)
        control_a.release("pending")
        poll(lambda: query(b, victim)["status"] == "running", timeout_s=60, what="victim runs")
        (held,) = [t for t in rows(pg_url) if t.task_id == victim]
        assert held.worker_id is not None
        killed = workers[pid_of(held.worker_id)]
        killed.kill9()
        control_a.release("running", task_id=victim)
        try:
            finished = poll(lambda: all_final(pg_url, TASKS), timeout_s=120, what="40 tasks final")
        except TimeoutError:
            left = [
                (t.task_id, t.status, t.worker_id) for t in rows(pg_url) if t.status != "success"
            ]
            logs = {pid: proc.output()[-2000:] for pid, proc in workers.items()}
            raise AssertionError(f"unfinished: {left}; worker logs: {logs}") from None
    assert {t.status for t in finished} == {"success"}, [
        (t.task_id, t.status, t.err_msg) for t in finished if t.status != "success"
    ]
    attempts = {t.task_id: t.attempts for t in finished}
    assert attempts.pop(victim) == 2
    assert set(attempts.values()) == {1}
    (again,) = [t for t in finished if t.task_id == victim]
    assert again.worker_id != held.worker_id
    for i, task_id in enumerate(ids):  # either node answers for any task
        assert query((b, a)[i % 2], task_id)["status"] == "success"


def all_final(pg_url: str, count: int) -> list[Task] | None:
    found = rows(pg_url)
    done = len(found) == count and all(t.status in ("success", "fail") for t in found)
    return found if done else None


def cancel_across_nodes(pg_url: str, a: str, b: str, storage_id: str) -> None:
    task_id = create(a, storage_id, "s3://inputs/long.mp4", "long.mp4", "1080p")
    seen_a = poll(
        lambda: (d := query(a, task_id))["status"] == "running" and d["progress"] > 0 and d,
        timeout_s=30,
        what="progress of the long encode on node A",
    )
    seen_b = query(b, task_id)
    assert seen_b["status"] == "running" and seen_b["progress"] >= seen_a["progress"] > 0
    assert ffmpeg_running_for(task_id)
    with client(b) as api_b:
        api_b.call("DELETE", "/api/del_task", {"task_id": task_id})
        cancelled_at = time.monotonic()
        with pytest.raises(EmptyResult):
            api_b.call("GET", "/api/query_task", {"task_id": task_id})
    with client(a) as api_a, pytest.raises(EmptyResult):
        api_a.call("GET", "/api/query_task", {"task_id": task_id})
    poll(lambda: not ffmpeg_running_for(task_id), timeout_s=5, what="ffmpeg stopped")
    assert time.monotonic() - cancelled_at < 2, "ffmpeg outlived the cancel by 2 s or more"
    poll(
        lambda: all(t.task_id != task_id for t in rows(pg_url)),
        timeout_s=10,
        what="the cancelled task's row removed by its worker",
    )
    assert httpx.get(f"{a}/_emulator/health").json()["tasks"]["running"] == 0


def test_s3_command_keeps_objects_across_restarts(tmp_path: Path) -> None:
    port = free_port()
    first = start_s3(tmp_path / "s3", port, tmp_path / "s3-1.log")
    try:
        objects = ObjectStore(endpoint_url=f"http://127.0.0.1:{port}")
        objects.ensure_bucket("kept")
        objects.upload_file(make_clip(tmp_path / "c.mp4", duration=0.2), "kept", "c.mp4")
    finally:
        first.stop()
    assert first.popen.returncode == 0 and f"127.0.0.1:{port}" in first.output()
    second = start_s3(tmp_path / "s3", port, tmp_path / "s3-2.log")
    try:
        url = ObjectStore(endpoint_url=f"http://127.0.0.1:{port}").presign_get("kept", "c.mp4")
        assert httpx.get(url).content == (tmp_path / "c.mp4").read_bytes()
    finally:
        second.stop()
