"""kill -9 of `serve` at random moments during a stream of tiny tasks, restarting each time."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from emulator.client import TranscodeClient
from emulator.config import DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET
from emulator.server import free_port
from emulator.transcode.clips import make_clip
from tests.conftest import temp_files
from tests.processes import Proc, env_for, wait_healthy


@dataclass
class CrashReport:
    tasks: int = 0
    kills: int = 0
    lost: list[str] = field(default_factory=list)  # not success, or no output object
    duplicated: list[str] = field(default_factory=list)
    temp_files: list[str] = field(default_factory=list)


def client(base_url: str) -> TranscodeClient:
    return TranscodeClient(base_url, DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET)


def successes(base_url: str, task_ids: list[str]) -> int:
    with client(base_url) as api:
        statuses = [api.call("GET", "/api/query_task", {"task_id": t})["status"] for t in task_ids]
    return statuses.count("success")


def wait_successes(base_url: str, task_ids: list[str], target: int, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    while True:
        done = successes(base_url, task_ids)
        if done >= target or time.monotonic() > deadline:
            return done
        time.sleep(0.1)


def start_tasks(base_url: str, clip: Path, count: int) -> list[str]:
    endpoint = httpx.get(f"{base_url}/_emulator/health", timeout=30).json()["s3_endpoint"]
    with client(base_url) as api:
        storage = api.call(
            "POST", "/api/add_storage", {"region": "r", "type": "s3", "bucket": "out"}
        )
        input_url = "s3://inputs/clip.mp4"
        upload(endpoint, clip)
        return [
            api.call(
                "POST",
                "/api/create_task",
                {
                    "template_name": "origin",
                    "input": input_url,
                    "output": f"crash/{n}.mp4",
                    "storage_id": storage["storage_id"],
                },
            )["task_id"]
            for n in range(count)
        ]


def upload(endpoint: str, clip: Path) -> None:
    import boto3
    from botocore.config import Config

    s3: Any = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="any",
        aws_secret_access_key="any",
        config=Config(s3={"addressing_style": "path"}),
    )
    s3.create_bucket(Bucket="inputs")
    s3.upload_file(str(clip), "inputs", "clip.mp4")


def check(base_url: str, task_ids: list[str], data: Path, report: CrashReport) -> None:
    with client(base_url) as api:
        listed = api.call(
            "GET",
            "/api/list_task",
            {"start_time": 1600000000, "end_time": 4000000000, "count": 1000},
        )
        ids = [task["task_id"] for task in listed["list"]]
        report.duplicated = sorted({t for t in ids if ids.count(t) > 1})
        for task_id in task_ids:
            task = api.call("GET", "/api/query_task", {"task_id": task_id})
            url = task.get("output_url") or ""
            if task["status"] != "success" or httpx.get(url, timeout=30).status_code != 200:
                report.lost.append(task_id)
    report.temp_files = [str(p) for p in temp_files(data)]


def start(data: Path, port: int, settings: dict[str, Any], n: int) -> tuple[str, Proc]:
    proc = Proc(
        ["serve", "--port", str(port)], env_for(data, **settings), data.parent / f"serve-{n}.log"
    )
    base_url = f"http://127.0.0.1:{port}"
    wait_healthy(base_url, proc, timeout_s=60)
    return base_url, proc


def run_crash(workdir: Path, *, tasks: int, kills: int, seed: int = 9) -> CrashReport:
    """`tasks` tasks, `kills` kill -9 at random numbers of finished tasks, restarting each time."""
    rng = random.Random(seed)
    data, clip = workdir / "data", make_clip(workdir / "clip.mp4")
    port = free_port()
    settings: dict[str, Any] = {"s3_port": free_port(), "worker_lease_s": 1}
    report = CrashReport(tasks=tasks)
    base_url, proc = start(data, port, settings, 0)
    try:
        task_ids = start_tasks(base_url, clip, tasks)
        done = 0
        for threshold in sorted(rng.randint(0, tasks - 1) for _ in range(kills)):
            done = wait_successes(base_url, task_ids, max(threshold, done), timeout_s=120)
            proc.kill9()
            report.kills += 1
            base_url, proc = start(data, port, settings, report.kills)
        wait_successes(base_url, task_ids, tasks, timeout_s=60 + 10 * tasks)
        check(base_url, task_ids, data, report)
    finally:
        proc.stop()
    return report
