"""With EMULATOR_CONTROL=off, wait polls query_task and tasks reads list_task."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from emulator.client import TranscodeClient
from emulator.server import EmulatorServer
from tests.cli.conftest import Cli


@pytest.fixture(scope="module")
def emulator_settings() -> dict[str, Any]:
    return {"control": "off"}


@pytest.fixture
def api(emulator: EmulatorServer) -> Iterator[TranscodeClient]:
    """Overrides the shared fixture, which resets through the (absent) control API."""
    s = emulator.settings
    with TranscodeClient(emulator.base_url, s.access_key_id, s.access_key_secret) as client:
        yield client


@pytest.fixture
def storage_id(api: TranscodeClient) -> str:
    """The shared fixture's storage, kept across tests: nothing resets this emulator."""
    existing = [s.storage_id for s in api.list_storage().list if s.bucket == "out"]
    return existing[0] if existing else api.add_storage("cn-hz", "s3", "out").storage_id


def test_wait_polls_query_task(
    api: TranscodeClient, cli: Cli, storage_id: str, clip_url: str
) -> None:
    task = api.create_task("origin", clip_url, "off.mp4", storage_id).task_id
    done = cli("wait", task, "--timeout", "60", "--poll", "0.05")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1].startswith("success http")


def test_tasks_falls_back_to_list_task(api: TranscodeClient, cli: Cli, storage_id: str) -> None:
    task = api.create_task("origin", "http://127.0.0.1:1/a.mp4", "l.mp4", storage_id).task_id
    done = cli("tasks", "--hours", "1")
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert header.split()[:3] == ["TASK", "ID", "STATUS"]
    assert task in [row.split()[0] for row in rows]
