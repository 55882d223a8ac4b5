"""One end-to-end API scenario on SQLite and on PostgreSQL, and two API nodes on one database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from emulator import signing
from emulator.client import TranscodeClient
from emulator.errors import EmptyResult
from emulator.server import EmulatorServer
from tests.conftest import make_settings, wait_for


@pytest.fixture
def node(backend_url: str, tmp_path: Path) -> Iterator[EmulatorServer]:
    settings = make_settings(
        tmp_path / "data", database_url=backend_url, encoder_preset="ultrafast"
    )
    with EmulatorServer(settings) as server:
        httpx.post(f"{server.base_url}/_emulator/reset", timeout=30).raise_for_status()
        yield server


def client(server: EmulatorServer) -> TranscodeClient:
    s = server.settings
    return TranscodeClient(server.base_url, s.access_key_id, s.access_key_secret)


def replay_twice(server: EmulatorServer, other: EmulatorServer, nonce: str) -> list[int]:
    """The same signed request sent to `server`, then to `other`: the two codes."""
    s = server.settings
    headers = signing.sign_request(
        method="GET",
        path="/api/list_storage",
        access_key_id=s.access_key_id,
        access_key_secret=s.access_key_secret,
        nonce=nonce,
    )
    return [
        httpx.get(f"{target.base_url}/api/list_storage", headers=headers).json()["code"]
        for target in (server, other)
    ]


def test_storage_template_task_lifecycle(node: EmulatorServer, clip: Path) -> None:
    objects = node.app.state.ctx.objects
    objects.ensure_bucket("inputs")
    objects.upload_file(clip, "inputs", "clip.mp4")
    with client(node) as api:
        storage = api.call(
            "POST", "/api/add_storage", {"region": "r", "type": "s3", "bucket": "out"}
        )
        api.call("POST", "/api/add_template", {"name": "small", "quality": 7})
        task_id = api.call(
            "POST",
            "/api/create_task",
            {
                "template_name": "small",
                "input": "s3://inputs/clip.mp4",
                "output": "done.mp4",
                "storage_id": storage["storage_id"],
            },
        )["task_id"]
        done = wait_for(api, task_id)
        assert (done["status"], done["progress"]) == ("success", 100), done
        assert httpx.get(done["output_url"]).status_code == 200
        window = {"start_time": 1_000_000_000, "end_time": 9_999_999_999}
        listed = api.call("GET", "/api/list_task", window)
        assert [t["task_id"] for t in listed["list"]] == [task_id]
        api.call("DELETE", "/api/del_task", {"task_id": task_id})
        with pytest.raises(EmptyResult):
            api.call("GET", "/api/query_task", {"task_id": task_id})
    assert replay_twice(node, node, "lifecycle-nonce") == [0, 1003]


def test_two_api_nodes_share_tasks_and_nonces(pg_url: str, tmp_path: Path) -> None:
    """Nodes on one PostgreSQL database: a replay is caught by the node that did not see it."""
    first = EmulatorServer(make_settings(tmp_path / "a", database_url=pg_url, worker_concurrency=0))
    with first:
        endpoint = first.app.state.ctx.s3_endpoint
        second_settings = make_settings(
            tmp_path / "b", database_url=pg_url, worker_concurrency=0, s3_endpoint_url=endpoint
        )
        with EmulatorServer(second_settings) as second, client(first) as a, client(second) as b:
            a.call("POST", "/api/add_template", {"name": "shared-node-template"})
            assert b.call("GET", "/api/query_template", {"name": "shared-node-template"})
            assert replay_twice(first, second, "cross-node-nonce") == [0, 1003]
            assert replay_twice(second, first, "cross-node-nonce-2") == [0, 1003]
