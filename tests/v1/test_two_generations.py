"""One store, two views: what one prefix creates the other reads, lists and deletes."""

from __future__ import annotations

from typing import Any

import pytest

from emulator.client import TranscodeClient
from emulator.client_v1 import TranscodeClientV1
from emulator.errors import EmptyResult

WINDOW_S = {"start_time": 1_000_000_000, "end_time": 9_999_999_999}


@pytest.fixture(scope="module")
def emulator_settings() -> dict[str, Any]:
    return {"worker_concurrency": 0}


class Api:
    """The /api/ generation, in the scenario's words."""

    def __init__(self, client: TranscodeClient) -> None:
        self.c = client

    def add_storage(self, **params: Any) -> str:
        storage_id: str = self.c.call("POST", "/api/add_storage", params)["storage_id"]
        return storage_id

    def storages(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.c.call("GET", "/api/list_storage")["list"]
        return rows

    def add_template(self, name: str, **fields: Any) -> None:
        self.c.call("POST", "/api/add_template", {"name": name, **fields})

    def template(self, name: str) -> dict[str, Any]:
        data: dict[str, Any] = self.c.call("GET", "/api/query_template", {"name": name})
        return data

    def create_task(self, **params: Any) -> str:
        task_id: str = self.c.call("POST", "/api/create_task", params)["task_id"]
        return task_id

    def task(self, task_id: str) -> dict[str, Any]:
        data: dict[str, Any] = self.c.call("GET", "/api/query_task", {"task_id": task_id})
        return data

    def task_ids(self) -> list[str]:
        return [t["task_id"] for t in self.c.call("GET", "/api/list_task", WINDOW_S)["list"]]

    def del_task(self, task_id: str) -> None:
        self.c.call("DELETE", "/api/del_task", {"task_id": task_id})

    def del_storage(self, storage_id: str) -> None:
        self.c.call("DELETE", "/api/del_storage", {"storage_id": storage_id})


class V1:
    """The /vodencoding/v1 generation, in the same words."""

    def __init__(self, client: TranscodeClientV1) -> None:
        self.c = client

    def add_storage(self, **params: Any) -> str:
        return self.c.add_storage(**params)

    def storages(self) -> list[dict[str, Any]]:
        return self.c.list_storage()

    def add_template(self, name: str, **fields: Any) -> None:
        self.c.add_template(name, **fields)

    def template(self, name: str) -> dict[str, Any]:
        data = self.c.query_template(name)
        return {**data, "name": data["template_name"]}

    def create_task(self, **params: Any) -> str:
        return self.c.create_task(**params)

    def task(self, task_id: str) -> dict[str, Any]:
        return self.c.query_task(task_id)

    def task_ids(self) -> list[str]:
        return [t["task_id"] for t in self.c.list_task(**WINDOW_S)["list"]]

    def del_task(self, task_id: str) -> None:
        self.c.del_task(task_id)

    def del_storage(self, storage_id: str) -> None:
        self.c.del_storage(storage_id)


@pytest.mark.parametrize("writer_name", ["api", "v1"])
def test_same_scenario_through_both_prefixes(
    api: TranscodeClient, v1: TranscodeClientV1, writer_name: str
) -> None:
    writer, reader = (Api(api), V1(v1)) if writer_name == "api" else (V1(v1), Api(api))
    storage_id = writer.add_storage(
        region="cn-hz", type="s3", bucket="out", prefix="p", notify="http://127.0.0.1:9/cb"
    )
    assert [(s["storage_id"], s["notify"], s["prefix"]) for s in reader.storages()] == [
        (storage_id, "http://127.0.0.1:9/cb", "p")
    ]
    writer.add_template("shared", format="hls", resolution="360p", quality=6)
    seen = reader.template("shared")
    assert (seen["name"], seen["format"], seen["resolution"], seen["quality"]) == (
        "shared",
        "hls",
        "360p",
        6,
    )
    task_id = writer.create_task(
        template_name="shared",
        input="http://127.0.0.1:1/in.mp4",
        output="v/out",
        storage_id=storage_id,
    )
    task = reader.task(task_id)
    assert (task["task_id"], task["status"], task["template_name"]) == (
        task_id,
        "pending",
        "shared",
    )
    assert reader.task_ids() == [task_id]
    reader.del_task(task_id)
    assert writer.task_ids() == []
    reader.del_storage(storage_id)
    assert writer.storages() == []


def test_storage_v1_fields(api: TranscodeClient, v1: TranscodeClientV1) -> None:
    storage_id = v1.add_storage(
        region="r",
        type="oss",
        bucket="with-extras",
        prefix="a/b/",
        notify="https://example.com/hook",
        extra='{"team": "video"}',
        name_rule="{task_id}",
        storage_sk="secret",
    )
    (row,) = v1.list_storage()
    assert (
        row
        | {
            "storage_id": storage_id,
            "type": "oss",
            "prefix": "a/b",
            "notify": "https://example.com/hook",
            "extra": '{"team": "video"}',
            "name_rule": "{task_id}",
        }
        == row
    )
    assert "storage_sk" not in row and isinstance(row["created_time"], int)
    assert api.call("GET", "/api/list_storage")["list"][0]["notify"] == "https://example.com/hook"


def test_pending_task_in_v1_shape(api: TranscodeClient, v1: TranscodeClientV1) -> None:
    storage_id = v1.add_storage(region="r", type="s3", bucket="out", prefix="pre")
    task_id = v1.create_task(
        template_name="720p",
        storage_id=storage_id,
        input="http://127.0.0.1:1/a.mp4",
        output="x.mp4",
    )
    task = v1.query_task(task_id)
    assert (
        task
        | {
            "task_id": task_id,
            "input": "http://127.0.0.1:1/a.mp4",
            "output": "x.mp4",
            "template_name": "720p",
            "storage_id": storage_id,
            "region": "r",
            "status": "pending",
            "message": "task pending",
            "code": 0,
            "started_time": 0,
            "finished_time": 0,
            "progress": 0.0,
            "spend_time": 0.0,
            "format": "mp4",
            "source_size": 0,
            "output_size": 0,
            "ratio": 0.0,
            "output_groups": [
                {
                    "format": "mp4",
                    "seg_type": "",
                    "seg_time": 0,
                    "output": "s3://out/pre/x.mp4",
                    "output_url": "",
                }
            ],
        }
        == task
    )
    assert api.call("GET", "/api/query_task", {"task_id": task_id})["objkey"] == "pre/x.mp4"


@pytest.mark.parametrize(
    ("output", "objkey"),
    [
        ("s3://out/abs/o.mp4", "abs/o.mp4"),
        ("oss://out/abs/o.mp4", "abs/o.mp4"),
        ("k.mp4", "p/k.mp4"),
    ],
)
def test_output_as_key_or_uri_of_the_storage_bucket(
    api: TranscodeClient, v1: TranscodeClientV1, output: str, objkey: str
) -> None:
    storage_id = v1.add_storage(region="r", type="s3", bucket="out", prefix="p")
    task_id = v1.create_task(
        template_name="480p", storage_id=storage_id, input="s3://in/a.mp4", output=output
    )
    assert api.call("GET", "/api/query_task", {"task_id": task_id})["objkey"] == objkey


@pytest.mark.parametrize("output", ["s3://other/o.mp4", "s3://out/", "s3://out/a/%2E%2E/b.mp4"])
def test_output_uri_outside_the_storage_is_1002(v1: TranscodeClientV1, output: str) -> None:
    storage_id = v1.add_storage(region="r", type="s3", bucket="out")
    with pytest.raises(Exception, match="output") as raised:
        v1.create_task(template_name="480p", storage_id=storage_id, input="s3://i/a", output=output)
    assert getattr(raised.value, "code", None) == 1002


def test_del_task_unknown_is_1004(v1: TranscodeClientV1) -> None:
    with pytest.raises(EmptyResult):
        v1.del_task("2026" + "0" * 28)


def test_list_summary_on_v1(v1: TranscodeClientV1, api: TranscodeClient) -> None:
    assert v1.list_summary() == api.call("GET", "/api/list_summary")
