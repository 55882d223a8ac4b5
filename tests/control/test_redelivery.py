"""Redelivery: any delivery of a task's callback log sent again, recorded as a new attempt."""

from __future__ import annotations

import time
from typing import Any

import pytest

from emulator.cli import main
from emulator.client import TranscodeClient
from emulator.errors import EmptyResult
from emulator.server import EmulatorServer
from tests.conftest import wait_for

UNREACHABLE = "http://127.0.0.1:1/missing"  # connection refused at once


@pytest.fixture(scope="module")
def emulator_settings() -> dict[str, Any]:
    return {"worker_concurrency": 1}


def failed_task(api: TranscodeClient, notify: str) -> str:
    """A task that fails at once (unreachable input), its storage notifying `notify`."""
    params = {"region": "cn-hz", "type": "s3", "bucket": "out", "notify": notify}
    storage = api.call("POST", "/api/add_storage", params)["storage_id"]
    task_id = api.create_task("480p", UNREACHABLE, "no.mp4", storage).task_id
    assert wait_for(api, task_id)["status"] == "fail"
    return task_id


def first_attempt(api: TranscodeClient, task_id: str) -> dict[str, Any]:
    """The task's delivery once its first scheduled attempt is recorded."""
    deadline = time.monotonic() + 10
    while True:
        (delivery,) = api.control.callbacks(task_id)
        if delivery["history"]:
            return delivery
        assert time.monotonic() < deadline, delivery
        time.sleep(0.02)


def test_a_delivered_callback_is_sent_again_as_a_new_attempt(api: TranscodeClient) -> None:
    task_id = failed_task(api, api.control.inbox_url("again"))
    payload = api.wait_for_callback(task_id, inbox="again", timeout=10)
    delivery = first_attempt(api, task_id)
    assert delivery["status"] == "delivered"

    again = api.control.redeliver(task_id, delivery["id"])
    assert (again["status"], again["attempts"], len(again["history"])) == ("delivered", 1, 2)
    assert again["history"][-1]["redelivery"] is True
    assert again["history"][-1]["status_code"] == 200 and again["history"][-1]["error"] == ""
    assert api.control.callbacks(task_id) == [again]  # the same log
    newest, first = api.control.inbox("again")
    assert newest["json"] == first["json"] == payload
    assert (first["headers"]["x-emulator-attempt"], newest["headers"]["x-emulator-attempt"]) == (
        "1",
        "2",
    )


def test_a_failing_target_is_recorded_as_a_failed_attempt(api: TranscodeClient) -> None:
    task_id = failed_task(api, "http://127.0.0.1:1/hook")
    delivery = first_attempt(api, task_id)
    again = api.control.redeliver(task_id, delivery["id"])
    last = again["history"][-1]
    assert last["redelivery"] is True and last["status_code"] is None
    assert "ConnectError" in last["error"]
    assert again["status"] == "pending"  # its scheduled retries go on


def test_an_unknown_delivery_is_404(api: TranscodeClient) -> None:
    response = api.control.send("POST", "/tasks/nope/callbacks/12345/redeliver")
    assert response.status_code == 404
    with pytest.raises(EmptyResult, match="has no callback delivery 12345"):
        api.control.redeliver("nope", 12345)


def test_the_cli_lists_redelivers_and_reads_the_inbox(
    api: TranscodeClient, emulator: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    url = emulator.base_url
    task_id = failed_task(api, api.control.inbox_url("cli"))
    delivery_id = str(first_attempt(api, task_id)["id"])

    assert main(["callbacks", task_id, "--url", url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["DELIVERY", "ID", "STATUS"]
    assert lines[1].split()[:3] == [delivery_id, "delivered", "1"]

    assert main(["redeliver", task_id, delivery_id, "--url", url]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"delivery {delivery_id}: ") and "HTTP 200 (now delivered)" in out

    assert main(["inbox", "cli", "--url", url]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert len(rows) == 2 and all(" POST " in row for row in rows)
    assert main(["inbox", "cli", "--clear", "--url", url]) == 0
    assert capsys.readouterr().out == "inbox cli: 2 cleared\n"
