"""A `kill -9` of `serve` in the middle of a save leaves no half snapshot, and the next works."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import boto3
import httpx
from botocore.config import Config

from emulator.control_client import ControlClient
from tests.processes import serve


def put_objects(base_url: str, count: int) -> None:
    endpoint = httpx.get(f"{base_url}/_emulator/health").json()["s3_endpoint"]
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="emulator",
        aws_secret_access_key="emulator",
        config=Config(s3={"addressing_style": "path"}),
    )
    s3.create_bucket(Bucket="many")
    for i in range(count):
        s3.put_object(Bucket="many", Key=f"k{i}", Body=b"x" * 1024)


def staged(snapshots: Path) -> list[str]:
    try:
        return [name for name in os.listdir(snapshots) if name.startswith(".saving-")]
    except FileNotFoundError:
        return []


def test_kill_9_mid_save_leaves_no_half_snapshot(tmp_path: Path) -> None:
    data = tmp_path / "data"
    snapshots = data / "snapshots"
    with serve(data, worker_concurrency=0) as (base_url, proc):
        put_objects(base_url, 300)
        saving = threading.Thread(
            target=lambda: httpx.post(
                f"{base_url}/_emulator/snapshots", json={"name": "mid"}, timeout=30
            ),
            daemon=True,
        )
        saving.start()
        deadline = time.monotonic() + 30
        while not staged(snapshots) and time.monotonic() < deadline:
            pass  # no sleep: the save is over in milliseconds
        proc.kill9()
        caught_mid_save = bool(staged(snapshots))
        saving.join(30)

    with serve(data, worker_concurrency=0) as (base_url, _), ControlClient(base_url) as control:
        listed = {s.name: s for s in control.list_snapshots()}
        if caught_mid_save:
            assert "mid" not in listed
        else:  # the save won the race: then it is whole
            assert listed["mid"].objects == 300
            control.delete_snapshot("mid")
        saved = control.save_snapshot("mid")
        assert staged(snapshots) == []  # the next save removed what the killed one left
        control.reset()
        assert control.restore_snapshot("mid") == saved
        assert saved.objects == 300
    assert caught_mid_save, "the kill landed after the save; the test proved less than it says"
