"""Shared fixtures: one real emulator per module (reset before each test), signed clients, clips."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.client import TranscodeClient
from emulator.config import Settings
from emulator.server import EmulatorServer


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    # One slot unless a module says otherwise: tests that hold or order tasks count on it.
    values: dict[str, Any] = {"data_dir": data_dir, "port": 0, "s3_port": 0}
    values["worker_concurrency"] = 1
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="module")
def emulator_settings() -> dict[str, Any]:
    """Override in a module to start its emulator differently."""
    return {}


@pytest.fixture(scope="module")
def emulator(
    tmp_path_factory: pytest.TempPathFactory, emulator_settings: dict[str, Any]
) -> Iterator[EmulatorServer]:
    settings = make_settings(tmp_path_factory.mktemp("data"), **emulator_settings)
    with EmulatorServer(settings) as server:
        yield server


@pytest.fixture
def api(emulator: EmulatorServer) -> Iterator[TranscodeClient]:
    """A signed client of a freshly reset emulator."""
    httpx.post(f"{emulator.base_url}/_emulator/reset", timeout=30).raise_for_status()
    settings = emulator.settings
    with TranscodeClient(
        emulator.base_url, settings.access_key_id, settings.access_key_secret
    ) as client:
        yield client


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1 s 160x120 clip with audio, made once per test session."""
    from emulator.transcode.clips import make_clip

    return make_clip(tmp_path_factory.mktemp("clips") / "clip.mp4")


@pytest.fixture
def s3(emulator: EmulatorServer) -> Any:
    """The emulator's object store (emulator.storage.store.ObjectStore)."""
    return emulator.app.state.ctx.objects


@pytest.fixture
def storage_id(api: TranscodeClient) -> str:
    """A storage on bucket `out` (created in the embedded S3)."""
    params = {"region": "cn-hz", "type": "s3", "bucket": "out"}
    storage: str = api.call("POST", "/api/add_storage", params)["storage_id"]
    return storage


@pytest.fixture
def clip_url(s3: Any, clip: Path) -> str:
    """`clip` uploaded to the embedded S3 as s3://inputs/clip.mp4."""
    s3.ensure_bucket("inputs")
    s3.upload_file(clip, "inputs", "clip.mp4")
    return "s3://inputs/clip.mp4"


def temp_files(data_dir: Path) -> list[Path]:
    """Files left in the workers' temp dirs (an idle worker leaves none).

    os.walk, not rglob: a worker removes a task's directory while it is listed, and rglob
    fails on a directory that went away between being found and being opened.
    """
    return [Path(root, name) for root, _, names in os.walk(data_dir / "tmp") for name in names]


def wait_for(api: TranscodeClient, task_id: str, timeout_s: float = 60, until: Any = None) -> dict:
    """Poll query_task until the task is final (or `until(data)` holds)."""
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        data: dict = api.call("GET", "/api/query_task", {"task_id": task_id})
        if until(data) if until else data["status"] in ("success", "fail"):
            return data
        if time.monotonic() > deadline:
            raise TimeoutError(f"task {task_id} still {data['status']} after {timeout_s} s")
        time.sleep(0.05)
