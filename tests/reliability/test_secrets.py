"""Secrets: storage_sk and access-key secrets never leak into responses or logs; owner-only."""

from __future__ import annotations

import json
import logging
import os
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.server import EmulatorServer, free_port
from tests.conftest import wait_for
from tests.reliability.helpers import call, raw, target

STORAGE_SK = "StorageSecretKeyThatMustNeverLeak1"
STORAGE_AK = "StorageAccessKeyVisibleOK"
KEY_SECRET = "ZZtopSecretAccessKeySecret012345"  # 32 characters, as EMULATOR_ACCESS_KEY_SECRET
KEY_ID = "LEAKTESTAKID0001"


@pytest.fixture(scope="module")
def emulator_settings() -> dict[str, Any]:
    return {"access_key_id": KEY_ID, "access_key_secret": KEY_SECRET, "worker_concurrency": 1}


def session_texts(emulator: EmulatorServer, clip_url: str) -> list[str]:
    """A full session through both prefixes and the control surface; every response body."""
    texts: list[str] = []

    def keep(response: httpx.Response) -> dict:
        texts.append(response.text + json.dumps(dict(response.headers)))
        return response.json() if "json" in response.headers.get("content-type", "") else {}

    storage = {
        "region": "r",
        "type": "s3",
        "bucket": "out",
        "storage_ak": STORAGE_AK,
        "storage_sk": STORAGE_SK,
        "notify": f"http://127.0.0.1:{free_port()}/hook",
    }
    for prefix in ("/api", "/vodencoding/v1"):
        body = json.dumps(storage).encode()
        keep(raw(emulator, "POST", f"{prefix}/add_storage", body=body))
        keep(raw(emulator, "GET", f"{prefix}/list_storage"))
    storage_id = call(emulator, "GET", "/api/list_storage", {})["data"]["list"][0]["storage_id"]
    keep(raw(emulator, "POST", "/api/add_template", body=b'{"name": "t"}'))
    task = {"template_name": "t", "input": clip_url, "output": "o.mp4", "storage_id": storage_id}
    created = keep(raw(emulator, "POST", "/api/create_task", body=json.dumps(task).encode()))
    bad = {**task, "input": "s3://inputs/missing.mp4", "output": "bad.mp4"}
    failed = keep(raw(emulator, "POST", "/api/create_task", body=json.dumps(bad).encode()))
    from emulator.client import TranscodeClient

    with TranscodeClient(emulator.base_url, KEY_ID, KEY_SECRET) as api:
        for made in (created, failed):
            wait_for(api, made["data"]["task_id"], timeout_s=120)
    for made in (created, failed):
        task_id = made["data"]["task_id"]
        keep(raw(emulator, "GET", "/api/query_task", query=f"task_id={task_id}"))
        keep(raw(emulator, "GET", "/vodencoding/v1/query_task", query=f"task_id={task_id}"))
        keep(httpx.get(f"{emulator.base_url}/_emulator/tasks/{task_id}/callbacks", timeout=30))
        keep(httpx.get(f"{emulator.base_url}/_emulator/ui/tasks/{task_id}", timeout=30))
    keep(raw(emulator, "GET", "/api/list_task", query="start_time=1600000000&end_time=2000000000"))
    # A bad signature: the detail echoes the StringToSign, never the secret.
    bad_sig = httpx.get(
        f"{emulator.base_url}/api/list_storage",
        headers={"Authorization": f"Visionular AccessKeyId={KEY_ID}, Signature=AAAA"},
        timeout=30,
    )
    keep(bad_sig)
    keep(raw(emulator, "GET", "/vodencoding/v1/list_storage", auth="basic"))
    for path in ("/_emulator/health", "/_emulator/requests", "/_emulator/keys", "/openapi.json"):
        keep(httpx.get(f"{emulator.base_url}{path}", timeout=30))
    for page in ("", "/storages", "/templates", "/keys", "/requests", "/settings"):
        keep(httpx.get(f"{emulator.base_url}/_emulator/ui{page}", timeout=30))
    return texts


def test_no_secret_in_responses_or_logs(
    emulator: EmulatorServer, s3: Any, clip: Path, caplog: pytest.LogCaptureFixture
) -> None:
    httpx.post(f"{emulator.base_url}/_emulator/reset", timeout=30).raise_for_status()
    s3.ensure_bucket("inputs")
    s3.upload_file(clip, "inputs", "clip.mp4")
    clip_url = "s3://inputs/clip.mp4"
    assert target(emulator).access_key_secret == KEY_SECRET
    with caplog.at_level(logging.DEBUG):
        texts = session_texts(emulator, clip_url)
    logs = caplog.text + "\n".join(
        str(record.args) + str(record.__dict__) for record in caplog.records
    )
    assert len(texts) > 25
    for secret in (STORAGE_SK, KEY_SECRET):
        leaks = [text[:300] for text in texts if secret in text]
        assert not leaks, f"{secret} in responses: {leaks}"
        assert secret not in logs, "secret in the logs"


def assert_owner_only(data_dir: Path) -> None:
    mode = stat.S_IMODE(data_dir.stat().st_mode)
    assert mode & 0o077 == 0, f"{data_dir} is {oct(mode)}"
    for path in data_dir.glob("emulator.sqlite3*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path} is {oct(mode)}"


def test_in_process_data_dir_and_database_are_owner_only(emulator: EmulatorServer) -> None:
    data_dir = Path(emulator.settings.data_dir)
    assert list(data_dir.glob("emulator.sqlite3*")), os.listdir(data_dir)
    assert_owner_only(data_dir)
