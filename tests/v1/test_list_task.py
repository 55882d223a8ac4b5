"""v1 list_task: seconds or milliseconds, count/start_num or limit/skip, v1 status names."""

from __future__ import annotations

from typing import Any

import pytest

from emulator.client import TranscodeClient
from emulator.client_v1 import TranscodeClientV1
from emulator.errors import BadParam, LackParam

SECONDS = {"start_time": 1_000_000_000, "end_time": 9_999_999_999}
MILLIS = {"start_time": 1_000_000_000_000, "end_time": 9_999_999_999_999}


@pytest.fixture(scope="module")
def emulator_settings() -> dict[str, Any]:
    return {"worker_concurrency": 0}


@pytest.fixture
def task_ids(api: TranscodeClient, v1: TranscodeClientV1) -> list[str]:
    """Five pending tasks, newest first as /api/list_task orders them."""
    storage_id = v1.add_storage(region="r", type="s3", bucket="out")
    for n in range(5):
        v1.create_task(
            template_name="480p", storage_id=storage_id, input="http://h/i.mp4", output=f"{n}.mp4"
        )
    return [t["task_id"] for t in api.call("GET", "/api/list_task", SECONDS)["list"]]


def ids(data: dict[str, Any]) -> list[str]:
    return [t["task_id"] for t in data["list"]]


@pytest.mark.parametrize("window", [SECONDS, MILLIS], ids=["seconds", "milliseconds"])
def test_both_time_units(v1: TranscodeClientV1, task_ids: list[str], window: dict) -> None:
    data = v1.list_task(**window)
    assert (ids(data), data["num"], data["total"]) == (task_ids, 5, 5)
    assert data["list"][0] == v1.query_task(task_ids[0]) | {
        "input_url": data["list"][0]["input_url"]
    }


def test_milliseconds_are_not_truncated(v1: TranscodeClientV1, task_ids: list[str]) -> None:
    created = v1.query_task(task_ids[-1])["created_time"]
    end = 9_999_999_999_999
    assert task_ids[-1] in ids(v1.list_task(start_time=created * 1000, end_time=end))
    assert task_ids[-1] not in ids(v1.list_task(start_time=created * 1000 + 1, end_time=end))
    assert ids(v1.list_task(start_time=created - 10, end_time=created - 1)) == []


def test_count_and_start_num(v1: TranscodeClientV1, task_ids: list[str]) -> None:
    data = v1.list_task(**SECONDS, count=2, start_num=1)
    assert (ids(data), data["num"], data["total"]) == (task_ids[1:3], 2, 5)


def test_limit_and_skip(v1: TranscodeClientV1, task_ids: list[str]) -> None:
    data = v1.list_task(**MILLIS, limit=2, skip=3)
    assert (ids(data), data["num"], data["total"]) == (task_ids[3:5], 2, 5)


def test_count_and_start_num_win_over_limit_and_skip(
    v1: TranscodeClientV1, task_ids: list[str]
) -> None:
    data = v1.list_task(**SECONDS, count=1, start_num=4, limit=3, skip=0)
    assert ids(data) == task_ids[4:5]


def test_zero_paging_means_defaults(v1: TranscodeClientV1, task_ids: list[str]) -> None:
    assert ids(v1.list_task(**SECONDS, count=0, limit=0, start_num=0, skip=0)) == task_ids


@pytest.mark.parametrize(
    ("status", "expected"),
    [("", 5), ("pending", 5), ("succeeded", 0), ("failed", 0), ("success", 0)],
)
def test_status_filter(
    v1: TranscodeClientV1, task_ids: list[str], status: str, expected: int
) -> None:
    assert v1.list_task(**SECONDS, status=status)["total"] == expected


@pytest.mark.parametrize(
    ("params", "error", "words"),
    [
        ({"start_time": 12345678901, "end_time": 9_999_999_999}, BadParam, "start_time"),
        ({"start_time": 1_000_000_000, "end_time": "soon"}, BadParam, "end_time"),
        ({"start_time": 2_000_000_000, "end_time": 1_000_000_000}, BadParam, "before"),
        (
            {"start_time": 1_000_000_000, "end_time": 9_999_999_999, "status": "ok"},
            BadParam,
            "status",
        ),
        (
            {"start_time": 1_000_000_000, "end_time": 9_999_999_999, "limit": 1001},
            BadParam,
            "limit",
        ),
        ({"end_time": 9_999_999_999}, LackParam, "start_time"),
    ],
)
def test_bad_parameters(
    v1_static: TranscodeClientV1, params: dict[str, Any], error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words):
        v1_static.call("GET", "list_task", params)
