"""Fleet test helpers: the `s3` process, API and worker processes, tasks through either node."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from emulator.client import TranscodeClient
from emulator.config import DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET
from tests.processes import Proc, env_for


def start_s3(data_dir: Path, port: int, log: Path) -> Proc:
    """`transcode-emulator s3` on `port`, keeping objects in data_dir/s3; waits until it answers."""
    proc = Proc(["s3", "--s3-port", str(port)], env_for(data_dir), log)
    deadline = time.monotonic() + 30
    while True:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"the s3 process exited:\n{proc.output()}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return proc
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"S3 on port {port} never answered:\n{proc.output()}") from None
            time.sleep(0.05)


def api_node(data_dir: Path, port: int, log: Path, **settings: object) -> Proc:
    """`transcode-emulator serve --no-worker` (not waited for: see processes.wait_healthy)."""
    return Proc(["serve", "--no-worker", "--port", str(port)], env_for(data_dir, **settings), log)


def client(base_url: str) -> TranscodeClient:
    return TranscodeClient(base_url, DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET)


def create(base_url: str, storage_id: str, source: str, output: str, template: str) -> str:
    with client(base_url) as api:
        task_id: str = api.call(
            "POST",
            "/api/create_task",
            {
                "template_name": template,
                "input": source,
                "output": output,
                "storage_id": storage_id,
            },
        )["task_id"]
    return task_id


def query(base_url: str, task_id: str) -> dict[str, Any]:
    with client(base_url) as api:
        data: dict[str, Any] = api.call("GET", "/api/query_task", {"task_id": task_id})
    return data


def poll(check: Any, *, timeout_s: float, what: str) -> Any:
    """Call `check()` until it returns something truthy; that value."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout_s} s")
        time.sleep(0.05)


def pid_of(worker_id: str) -> int:
    """Worker ids are <host>-<pid>-<random> (emulator.worker.Worker)."""
    return int(worker_id.rsplit("-", 2)[1])
