"""The real CLI as processes: serve signed from outside, kill -9 recovery, worker processes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from email.utils import formatdate
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from sqlmodel import select

from emulator.client import TranscodeClient
from emulator.config import DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET
from emulator.db.engine import Database
from emulator.db.models import Task
from emulator.server import free_port
from emulator.transcode.clips import make_clip
from tests.conftest import temp_files, wait_for
from tests.processes import Proc, serve, wait_healthy, worker

pytestmark = pytest.mark.slow


def spec_sign(method: str, path: str, query: dict[str, str], body: bytes) -> dict[str, str]:
    """A signer written from SPEC.md section 2 alone (not emulator.signing)."""
    date = formatdate(usegmt=True)
    md5 = hashlib.md5(body).hexdigest().upper() if body else ""
    ctype = "application/json" if body and method != "GET" else ""
    resource = path + (
        "?" + "&".join(f"{k}={v}" for k, v in sorted(query.items())) if query else ""
    )
    sts = f"{method}\n{md5}\n{ctype}\n{date}\n\n{resource}"
    digest = hmac.new(DEV_ACCESS_KEY_SECRET.encode(), sts.encode(), hashlib.sha1).digest()
    sig = base64.b64encode(digest).decode()
    headers = {
        "Date": date,
        "Authorization": f"Visionular AccessKeyId={DEV_ACCESS_KEY_ID}, Signature={sig}",
    }
    if ctype:
        headers["Content-Type"] = ctype
    return headers


def s3_client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="any",
        aws_secret_access_key="any",
        config=Config(s3={"addressing_style": "path"}),
    )


def client(base_url: str) -> TranscodeClient:
    return TranscodeClient(base_url, DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET)


def prepare(base_url: str, clip: Path) -> tuple[str, str]:
    """A storage and an uploaded input; returns (storage_id, input URL)."""
    endpoint = httpx.get(f"{base_url}/_emulator/health").json()["s3_endpoint"]
    s3 = s3_client(endpoint)
    s3.create_bucket(Bucket="inputs")
    s3.upload_file(str(clip), "inputs", "clip.mp4")
    with client(base_url) as api:
        storage = api.call(
            "POST", "/api/add_storage", {"region": "r", "type": "s3", "bucket": "out"}
        )
    return storage["storage_id"], "s3://inputs/clip.mp4"


def create(base_url: str, storage_id: str, input_url: str, output: str = "o.mp4") -> str:
    with client(base_url) as api:
        return api.call(
            "POST",
            "/api/create_task",
            {
                "template_name": "origin",
                "input": input_url,
                "output": output,
                "storage_id": storage_id,
            },
        )["task_id"]


def tasks_in(data_dir: Path) -> list[Task]:
    db = Database(f"sqlite:///{data_dir / 'emulator.sqlite3'}")
    with db.read() as session:
        rows = list(session.exec(select(Task)).all())
    db.dispose()
    return rows


def test_serve_process_answers_a_spec_signed_request(tmp_path: Path) -> None:
    with serve(tmp_path / "data", worker_concurrency=0) as (base_url, proc):
        body = json.dumps({"name": "outside", "quality": 7}).encode()
        response = httpx.post(
            f"{base_url}/api/add_template",
            content=body,
            headers=spec_sign("POST", "/api/add_template", {}, body),
        )
        assert response.json()["code"] == 0, response.text
        query = {"name": "outside"}
        response = httpx.get(
            f"{base_url}/api/query_template",
            params=query,
            headers=spec_sign("GET", "/api/query_template", query, b""),
        )
        assert response.json()["data"]["quality"] == 7
        banner = proc.output()
    assert base_url in banner and DEV_ACCESS_KEY_SECRET in banner and "/docs" in banner
    assert f"{base_url}/_emulator/ui" in banner  # the dashboard's URL


def test_kill9_mid_task_recovers_and_keeps_objects(tmp_path: Path) -> None:
    data = tmp_path / "data"
    clip = make_clip(tmp_path / "clip.mp4")
    port, s3_port = free_port(), free_port()
    with serve(data, port=port, s3_port=s3_port, hold_stage="running", worker_lease_s=1) as (
        base_url,
        proc,
    ):
        storage_id, input_url = prepare(base_url, clip)
        s3_client(f"http://127.0.0.1:{s3_port}").put_object(
            Bucket="inputs", Key="mine.txt", Body=b"acknowledged"
        )
        task_id = create(base_url, storage_id, input_url)
        with client(base_url) as api:
            wait_for(api, task_id, until=lambda d: d["status"] == "running")
        proc.kill9()
    with serve(data, port=port, s3_port=s3_port, worker_lease_s=1) as (base_url, _):
        with client(base_url) as api:
            done = wait_for(api, task_id)
        assert done["status"] == "success"
        s3 = s3_client(f"http://127.0.0.1:{s3_port}")
        assert s3.get_object(Bucket="inputs", Key="mine.txt")["Body"].read() == b"acknowledged"
        assert httpx.get(done["output_url"]).status_code == 200
        _, proc2 = base_url, _
        proc2.kill9()
    with serve(data, port=port, s3_port=s3_port) as (base_url, _):
        with client(base_url) as api:
            again = api.call("GET", "/api/query_task", {"task_id": task_id})
        assert again["status"] == "success"
        assert httpx.get(again["output_url"]).status_code == 200  # output survived kill -9 too
    (task,) = tasks_in(data)
    assert task.attempts == 2
    assert temp_files(data) == []


def test_two_worker_processes_share_one_queue(tmp_path: Path) -> None:
    data = tmp_path / "data"
    clip = make_clip(tmp_path / "clip.mp4")
    with serve(data, "--no-worker") as (base_url, _):
        storage_id, input_url = prepare(base_url, clip)
        workers = [worker(data, f"w{i}", encoder_preset="ultrafast") for i in range(2)]
        try:
            ids = [create(base_url, storage_id, input_url, f"o{i}.mp4") for i in range(6)]
            with client(base_url) as api:
                results = [wait_for(api, task_id) for task_id in ids]
        finally:
            for proc in workers:
                proc.stop()
    assert [r["status"] for r in results] == ["success"] * 6
    rows = tasks_in(data)
    assert all(task.attempts == 1 for task in rows)
    assert len({task.worker_id for task in rows}) >= 1


def test_restarting_serve_leaves_a_live_workers_task_alone(tmp_path: Path) -> None:
    data = tmp_path / "data"
    clip = make_clip(tmp_path / "clip.mp4")
    port, s3_port = free_port(), free_port()
    held: Proc | None = None
    try:
        with serve(data, "--no-worker", port=port, s3_port=s3_port, worker_lease_s=1) as (
            base_url,
            proc,
        ):
            storage_id, input_url = prepare(base_url, clip)
            held = worker(data, "held", hold_stage="running", worker_lease_s=1)
            task_id = create(base_url, storage_id, input_url)
            with client(base_url) as api:
                wait_for(api, task_id, until=lambda d: d["status"] == "running")
            proc.kill9()
        with serve(data, "--no-worker", port=port, s3_port=s3_port, worker_lease_s=1) as (
            base_url,
            _,
        ):
            time.sleep(2.5)  # longer than the lease: a live worker's heartbeats keep the task
            (task,) = tasks_in(data)
            assert (task.status, task.attempts) == ("running", 1)
            held.kill9()  # the worker is gone: the task goes back to pending, runs elsewhere
            free = worker(data, "free", worker_lease_s=1)
            try:
                with client(base_url) as api:
                    assert wait_for(api, task_id)["status"] == "success"
            finally:
                free.stop()
    finally:
        if held is not None:
            held.kill9()
    (task,) = tasks_in(data)
    assert task.attempts == 2


def test_ffmpeg_missing_refuses_to_start(tmp_path: Path) -> None:
    from tests.processes import env_for

    env = env_for(tmp_path / "data")
    env["PATH"] = "/nonexistent"
    proc = Proc(["serve", "--port", str(free_port())], env, tmp_path / "nof.log")
    assert proc.popen.wait(30) == 1
    proc.stop()
    assert "ffmpeg" in proc.output() and "apt-get install -y ffmpeg" in proc.output()
    port = free_port()
    env["EMULATOR_WORKER_CONCURRENCY"] = "0"
    env["EMULATOR_S3_PORT"] = "0"
    api_only = Proc(["serve", "--port", str(port)], env, tmp_path / "api.log")
    try:
        wait_healthy(f"http://127.0.0.1:{port}", api_only)
    finally:
        api_only.stop()


def test_a_task_whose_worker_dies_on_every_try_fails_on_the_last(tmp_path: Path) -> None:
    """EMULATOR_WORKER_MAX_TRIES (3): kill -9 of the worker during the same task three times
    fails it with 2003, naming the tries and the stage; the next task runs."""
    data = tmp_path / "data"
    clip = make_clip(tmp_path / "clip.mp4")
    with serve(data, "--no-worker", worker_lease_s=1) as (base_url, _):
        storage_id, input_url = prepare(base_url, clip)
        task_id = create(base_url, storage_id, input_url)
        for attempt in range(1, 4):
            doomed = worker(data, f"doomed{attempt}", hold_stage="running", worker_lease_s=1)
            try:
                deadline = time.monotonic() + 30
                while (tasks_in(data)[0].attempts, tasks_in(data)[0].status) != (
                    attempt,
                    "running",
                ):
                    assert time.monotonic() < deadline, tasks_in(data)
                    time.sleep(0.1)
            finally:
                doomed.kill9()
        survivor = worker(data, "survivor", worker_lease_s=1)
        try:
            with client(base_url) as api:
                lost = wait_for(api, task_id)
                assert (lost["status"], lost["err_code"]) == ("fail", 2003)
                assert lost["err_msg"] == "worker lost on 3 tries (last seen in running)"
                after = create(base_url, storage_id, input_url, "after.mp4")
                assert wait_for(api, after)["status"] == "success"
        finally:
            survivor.stop()
