"""The callback inbox: task callbacks land there (private networks blocked too), capped, masked."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.client import TranscodeClient
from emulator.control_client import CallbackTimeout, ControlClient
from emulator.db.engine import Database
from emulator.db.migrate import migrate
from emulator.errors import AuthFail
from emulator.server import EmulatorServer
from emulator.services import inbox
from tests.conftest import make_settings, wait_for

UNREACHABLE_INPUT = "http://127.0.0.1:1/missing.mp4"  # refused at once with private blocked
TOKEN = "inbox-control-token"


@pytest.fixture(scope="module")
def emulator_settings() -> dict[str, Any]:
    # Private networks blocked: the inbox, on the emulator's own base URL, stays reachable.
    return {"worker_concurrency": 1, "block_private_networks": "on"}


def notify_storage(api: TranscodeClient, inbox: str) -> str:
    params = {
        "region": "cn-hz",
        "type": "s3",
        "bucket": "out",
        "notify": api.control.inbox_url(inbox),
    }
    storage: str = api.call("POST", "/api/add_storage", params)["storage_id"]
    return storage


def post(emulator: EmulatorServer, name: str, **kwargs: Any) -> httpx.Response:
    return httpx.post(f"{emulator.base_url}/_emulator/inbox/{name}", timeout=30, **kwargs)


def test_a_succeeded_tasks_callback_lands_in_the_inbox(api: TranscodeClient, clip_url: str) -> None:
    task_id = api.create_task("480p", clip_url, "ok.mp4", notify_storage(api, "hooks")).task_id
    payload = api.wait_for_callback(task_id, inbox="hooks", timeout=60)
    assert payload["data"][0]["task_id"] == task_id
    assert wait_for(api, task_id)["status"] == "success"
    assert payload["data"][0]["status"] == "succeeded"  # the callback speaks the v1 names
    (entry,) = api.control.inbox("hooks")
    assert entry["method"] == "POST" and entry["headers"]["content-type"] == "application/json"
    assert entry["headers"]["x-emulator-delivery-id"]
    (delivery,) = api.control.callbacks(task_id)
    assert delivery["status"] == "delivered"


def test_a_failed_tasks_callback_lands_in_the_inbox(api: TranscodeClient) -> None:
    storage = notify_storage(api, "failures")
    task_id = api.create_task("480p", UNREACHABLE_INPUT, "no.mp4", storage).task_id
    payload = api.wait_for_callback(task_id, inbox="failures", timeout=30)
    item = payload["data"][0]
    assert (item["task_id"], item["status"]) == (task_id, "failed")
    assert "EMULATOR_BLOCK_PRIVATE_NETWORKS=on" in item["error_msg"]


def test_wait_for_callback_times_out_clearly(api: TranscodeClient) -> None:
    with pytest.raises(CallbackTimeout, match="no callback for task nope reached inbox 'quiet'"):
        api.wait_for_callback("nope", inbox="quiet", timeout=0.3)


def test_headers_and_body_secrets_are_masked(
    api: TranscodeClient, emulator: EmulatorServer
) -> None:
    body = {"storage_sk": "very-secret-sk", "nested": [{"password": "pw"}], "keep": "visible"}
    headers = {"Authorization": "Bearer abc.def", "Cookie": "session=1", "X-Api-Token": "t0k"}
    assert post(emulator, "masked", json=body, headers=headers).status_code == 200
    (entry,) = api.control.inbox("masked")
    assert entry["headers"]["authorization"] == "Bearer ***"
    assert entry["headers"]["cookie"] == entry["headers"]["x-api-token"] == "***"
    assert entry["json"] == {
        "storage_sk": "***",
        "nested": [{"password": "***"}],
        "keep": "visible",
    }
    assert "very-secret-sk" not in json.dumps(entry)
    post(
        emulator, "masked", content=b"storage_sk=abc&keep=1", headers={"Content-Type": "text/plain"}
    )
    assert api.control.inbox("masked", limit=1)[0]["body"] == "storage_sk=***&keep=1"


def test_bodies_are_text_when_utf8_else_base64(
    api: TranscodeClient, emulator: EmulatorServer
) -> None:
    post(emulator, "bodies", content="héllo".encode())
    httpx.put(f"{emulator.base_url}/_emulator/inbox/bodies", content=b"\xff\x00", timeout=10)
    binary, text = api.control.inbox("bodies")  # newest first
    assert (binary["method"], binary["body_encoding"]) == ("PUT", "base64")
    assert base64.b64decode(binary["body"]) == b"\xff\x00"
    assert (text["body"], text["body_encoding"], text["size"]) == ("héllo", "text", 6)


def test_the_newest_thousand_are_kept(tmp_path: Path) -> None:
    # At the service, in one transaction: 1,001 HTTP posts would take seconds.
    db = Database(f"sqlite:///{tmp_path / 'emulator.sqlite3'}")
    migrate(db, lock_dir=tmp_path)
    with db.write() as session:
        for n in range(1001):
            inbox.receive(
                session, name="many", method="POST", headers=[], body=b"%d" % n, now=n, keep=1000
            )
    with db.read() as session:
        entries = inbox.read(session, name="many")
    db.dispose()
    assert len(entries) == 1000
    assert (entries[0]["body"], entries[-1]["body"]) == ("1000", "1")


def test_a_body_over_one_mib_is_refused(api: TranscodeClient, emulator: EmulatorServer) -> None:
    declared = post(emulator, "big", content=b"x" * (1024 * 1024 + 1))
    assert declared.status_code == 413
    assert "larger than 1048576 bytes" in declared.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: refused as it streams in
        for _ in range(17):
            yield b"x" * 65536

    streamed = post(emulator, "big", content=chunks())
    assert streamed.status_code == 400 and "larger than" in streamed.json()["detail"]
    assert post(emulator, "big", content=b"x" * (1024 * 1024)).status_code == 200
    assert [e["size"] for e in api.control.inbox("big")] == [1024 * 1024]


@pytest.mark.parametrize("name", ["a" * 65, "sp ace", "..", "semi;colon"])
def test_bad_names_are_refused(emulator: EmulatorServer, name: str) -> None:
    answer = post(emulator, name, content=b"{}")
    assert answer.status_code in (400, 404), answer.text
    if answer.status_code == 400:
        assert "letters, digits and -_." in answer.json()["detail"]


def test_a_cross_site_browser_post_is_refused(
    api: TranscodeClient, emulator: EmulatorServer
) -> None:
    answer = post(emulator, "xsite", content=b"{}", headers={"Origin": "http://evil.example"})
    assert answer.status_code == 403
    assert api.control.inbox("xsite") == []


def test_clear_and_reset_empty_it(api: TranscodeClient, emulator: EmulatorServer) -> None:
    post(emulator, "gone", content=b"1")
    post(emulator, "gone", content=b"2")
    assert api.control.clear_inbox("gone") == 2
    post(emulator, "gone", content=b"3")
    api.control.reset(["state"])
    assert api.control.inbox("gone") == []


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    settings = make_settings(
        tmp_path_factory.mktemp("locked"), worker_concurrency=0, control_token=TOKEN, inbox_size=2
    )
    with EmulatorServer(settings) as server:
        yield server


def test_receiving_needs_no_token_but_reading_and_clearing_do(locked: EmulatorServer) -> None:
    assert post(locked, "locked", content=b"hi").status_code == 200
    with ControlClient(locked.base_url) as anonymous:
        anonymous.token = None
        with pytest.raises(AuthFail):
            anonymous.inbox("locked")
        with pytest.raises(AuthFail):
            anonymous.clear_inbox("locked")
    with ControlClient(locked.base_url, token=TOKEN) as control:
        assert [e["body"] for e in control.inbox("locked")] == ["hi"]
        assert control.clear_inbox("locked") == 1


def test_the_kept_number_is_a_setting(locked: EmulatorServer) -> None:
    for body in (b"1", b"2", b"3"):
        post(locked, "small", content=body)
    with ControlClient(locked.base_url, token=TOKEN) as control:
        assert [e["body"] for e in control.inbox("small")] == ["3", "2"]  # EMULATOR_INBOX_SIZE=2


def test_the_inbox_is_off_with_the_control_api(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, worker_concurrency=0, control="off")
    with EmulatorServer(settings) as server:
        assert post(server, "off", content=b"{}").status_code == 404
        assert httpx.get(f"{server.base_url}/_emulator/inbox/off", timeout=10).status_code == 404
