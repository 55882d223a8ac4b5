"""Task routes while tasks stay pending (no worker in this module)."""

from __future__ import annotations

import re
import time

import pytest

from emulator.client import TranscodeClient
from emulator.errors import BadParam, EmptyResult, LackParam

WINDOW = {"start_time": 1_000_000_000, "end_time": 9_999_999_999}


@pytest.fixture
def storage_id(api: TranscodeClient) -> str:
    params = {"region": "ap-southeast-1", "type": "s3", "bucket": "out", "prefix": "pre/"}
    return api.call("POST", "/api/add_storage", params)["storage_id"]


def create(api: TranscodeClient, sid: str, **over: str) -> str:
    params = {
        "template_name": "480p",
        "input": "http://127.0.0.1:1/in.mp4",
        "output": "dir/out.mp4",
        "storage_id": sid,
        **over,
    }
    return api.call("POST", "/api/create_task", params)["task_id"]


def test_task_id_format(api: TranscodeClient, storage_id: str) -> None:
    task_id = create(api, storage_id)
    assert re.fullmatch(r"\d{14}[0-9a-f]{18}", task_id)
    utc8 = time.strftime("%Y%m%d%H", time.gmtime(time.time() + 8 * 3600))
    assert task_id.startswith(utc8)


def test_query_pending_task_has_every_field(api: TranscodeClient, storage_id: str) -> None:
    task_id = create(api, storage_id)
    data = api.call("GET", "/api/query_task", {"task_id": task_id})
    assert data == data | {
        "bucket": "out",
        "dst_bitrate": 0.0,
        "src_bitrate": 0.0,
        "err_code": 0,
        "err_message": "success",
        "err_msg": "success",
        "finish_time": 946684800,
        "input": "http://127.0.0.1:1/in.mp4",
        "input_url": "http://127.0.0.1:1/in.mp4",
        "objkey": "pre/dir/out.mp4",
        "output_url": "",
        "region": "ap-southeast-1",
        "region_type": "s3",
        "status": "pending",
        "task_id": task_id,
        "template_id": "builtin-480p",
        "template_name": "480p",
        "progress": 0.0,
    }
    assert abs(data["create_time"] - time.time()) < 5 and isinstance(data["create_time"], int)


def test_hls_objkey_gets_m3u8(api: TranscodeClient, storage_id: str) -> None:
    api.call("POST", "/api/add_template", {"name": "h", "format": "hls"})
    task_id = create(api, storage_id, template_name="h", output="v/index")
    assert api.call("GET", "/api/query_task", {"task_id": task_id})["objkey"] == "pre/v/index.m3u8"


@pytest.mark.parametrize("missing", ["template_name", "input", "output", "storage_id"])
def test_create_requires_each_param(api: TranscodeClient, storage_id: str, missing: str) -> None:
    with pytest.raises(LackParam, match=missing):
        create(api, storage_id, **{missing: ""})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("input", "file:///etc/passwd"),
        ("input", "ftp://x/y"),
        ("input", "/local/path.mp4"),
        ("output", "/abs.mp4"),
        ("output", "a/../b.mp4"),
        ("output", "a\\b"),
        ("output", "a\x01b"),
        ("template_name", "no-such"),
        ("storage_id", "0000000000000000"),
    ],
)
def test_create_rejects(api: TranscodeClient, storage_id: str, field: str, value: str) -> None:
    with pytest.raises(BadParam, match=field):
        create(api, storage_id, **{field: value})


def test_template_and_storage_are_snapshots(api: TranscodeClient, storage_id: str) -> None:
    api.call("POST", "/api/add_template", {"name": "snap", "quality": 3})
    task_id = create(api, storage_id, template_name="snap")
    api.call("DELETE", "/api/del_template", {"name": "snap"})
    api.call("DELETE", "/api/del_storage", {"storage_id": storage_id})
    data = api.call("GET", "/api/query_task", {"task_id": task_id})
    assert (data["template_name"], data["bucket"]) == ("snap", "out")


def test_del_task(api: TranscodeClient, storage_id: str) -> None:
    task_id = create(api, storage_id)
    assert api.call("DELETE", "/api/del_task", {"task_id": task_id}) is None
    with pytest.raises(EmptyResult):
        api.call("GET", "/api/query_task", {"task_id": task_id})
    with pytest.raises(EmptyResult):
        api.call("DELETE", "/api/del_task", {"task_id": task_id})


def test_list_task_newest_first_with_paging(api: TranscodeClient, storage_id: str) -> None:
    ids = [create(api, storage_id) for _ in range(5)]
    data = api.call("GET", "/api/list_task", {**WINDOW, "count": 2, "start_num": 1})
    assert (data["num"], data["total"]) == (2, 5)
    expected = sorted(ids, reverse=True)  # same second: task_id descending; ids grow in time
    full = api.call("GET", "/api/list_task", WINDOW)["list"]
    assert [item["task_id"] for item in full] == sorted(
        [item["task_id"] for item in full], key=lambda t: (t[:14], t), reverse=True
    )
    assert set(expected) == {item["task_id"] for item in full}
    assert [item["task_id"] for item in data["list"]] == [i["task_id"] for i in full[1:3]]
    item = full[0]
    assert item["finish_time"] == "2000-01-01 00:00:00"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", item["create_time"])
    assert (item["status"], item["message"]) == ("pending", "task pending")


def test_list_task_filters(api: TranscodeClient, storage_id: str) -> None:
    create(api, storage_id)
    assert api.call("GET", "/api/list_task", {**WINDOW, "status": "success"})["total"] == 0
    assert api.call("GET", "/api/list_task", {**WINDOW, "status": "pending"})["total"] == 1
    now = int(time.time())
    past = {"start_time": now - 7200, "end_time": now - 3600}
    assert api.call("GET", "/api/list_task", past) == {"list": [], "num": 0, "total": 0}


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"end_time": 9_999_999_999}, LackParam),
        ({"start_time": 1_600_000_000}, LackParam),
        ({**WINDOW, "start_time": 123}, BadParam),
        ({**WINDOW, "start_time": "x"}, BadParam),
        ({"start_time": 1_700_000_000, "end_time": 1_600_000_000}, BadParam),
        ({**WINDOW, "status": "done"}, BadParam),
        ({**WINDOW, "count": 0}, BadParam),
        ({**WINDOW, "count": 1001}, BadParam),
        ({**WINDOW, "start_num": -1}, BadParam),
    ],
)
def test_list_task_errors(api: TranscodeClient, params: dict, error: type) -> None:
    with pytest.raises(error):
        api.call("GET", "/api/list_task", params)


def test_list_summary_empty_shape(api: TranscodeClient) -> None:
    data = api.call("GET", "/api/list_summary")
    assert data == {"list": [], "resolution_types": ["sd", "hd"], "regions": [], "num": 0}
    assert api.call("GET", "/api/list_summary", {"start_time": 5, "end_time": 0})["num"] == 0
    with pytest.raises(BadParam, match="start_time"):
        api.call("GET", "/api/list_summary", {"start_time": 1, "end_time": 2})
    with pytest.raises(BadParam):
        api.call("GET", "/api/list_summary", {"start_time": -1, "end_time": 0})
