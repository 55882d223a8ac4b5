"""Task callbacks (`notify`): POSTed to a real local receiver, retried, and sent after a restart."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator import callbacks
from emulator.client import TranscodeClient
from emulator.client_v1 import TranscodeClientV1
from emulator.server import EmulatorServer
from tests.conftest import make_settings
from tests.v1.helpers import poll

UNREACHABLE_INPUT = "http://127.0.0.1:1/missing.mp4"


class Receiver:
    """A tiny HTTP server recording every POST; answers with the queued statuses, then 200."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.answers: list[int] = []
        self.always: int | None = None
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    status = receiver.always or (
                        receiver.answers.pop(0) if receiver.answers else 200
                    )
                    receiver.received.append(
                        {"headers": dict(self.headers), "body": json.loads(body), "status": status}
                    )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:  # keep test output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def accepted(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.received if r["status"] == 200]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def deliveries(base_url: str, task_id: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{base_url}/_emulator/tasks/{task_id}/callbacks")
    response.raise_for_status()
    rows: list[dict[str, Any]] = response.json()["deliveries"]
    return rows


def test_succeeded_task_is_posted_to_notify(
    v1: TranscodeClientV1, receiver: Receiver, clip_url: str, emulator: EmulatorServer
) -> None:
    storage_id = v1.add_storage(region="r", type="s3", bucket="out", notify=receiver.url)
    task_id = v1.create_task(
        template_name="480p", storage_id=storage_id, input=clip_url, output="cb/ok.mp4"
    )
    task = v1.wait_for_task(task_id)
    (got,) = poll(receiver.accepted, what="callback")
    assert got["headers"]["Content-Type"] == "application/json"
    body = got["body"]
    assert (body["code"], body["msg"], body["callback_url"]) == (0, "succeeded", receiver.url)
    (item,) = body["data"]
    keys = [k for k in task if k.startswith(("source_", "output_")) and k != "output_groups"]
    keys += ["task_id", "input", "output", "format", "status", "duration", "spend_time"]
    assert item == {key: task[key] for key in keys if key != "output_url"}
    (delivery,) = poll(
        lambda: [d for d in deliveries(emulator.base_url, task_id) if d["status"] == "delivered"]
    )
    assert delivery["attempts"] == 1 and delivery["payload"] == body
    (attempt,) = delivery["history"]
    assert (attempt["status_code"], attempt["error"]) == (200, "")
    assert attempt["latency_ms"] >= 0 and attempt["time"] > 1_000_000_000


def test_failed_task_from_api_is_posted_with_its_error(
    api: TranscodeClient, receiver: Receiver
) -> None:
    params = {"region": "r", "type": "s3", "bucket": "out", "notify": receiver.url}
    storage_id = api.call("POST", "/api/add_storage", params)["storage_id"]
    task = {"template_name": "480p", "input": UNREACHABLE_INPUT, "output": "x.mp4"}
    task_id = api.call("POST", "/api/create_task", {**task, "storage_id": storage_id})["task_id"]
    (got,) = poll(receiver.accepted, what="callback")
    body = got["body"]
    assert (body["code"], body["msg"]) == (0, "failed")
    (item,) = body["data"]
    assert item.keys() == {"task_id", "status", "error_code", "error_msg"}
    assert (item["task_id"], item["status"], item["error_code"]) == (task_id, "failed", 2001)
    assert "127.0.0.1:1" in item["error_msg"]


def test_non_2xx_answer_is_retried_with_backoff(
    v1: TranscodeClientV1, receiver: Receiver, emulator: EmulatorServer
) -> None:
    receiver.answers = [500]
    storage_id = v1.add_storage(region="r", type="s3", bucket="out", notify=receiver.url)
    task_id = v1.create_task(
        template_name="480p", storage_id=storage_id, input=UNREACHABLE_INPUT, output="x.mp4"
    )
    (got,) = poll(receiver.accepted, what="retried callback")
    assert [r["status"] for r in receiver.received] == [500, 200]
    assert [r["headers"]["X-Emulator-Attempt"] for r in receiver.received] == ["1", "2"]
    assert receiver.received[0]["body"] == got["body"]
    (delivery,) = poll(
        lambda: [d for d in deliveries(emulator.base_url, task_id) if d["status"] == "delivered"]
    )
    first, second = delivery["history"]
    assert (first["status_code"], first["error"]) == (500, "HTTP 500")
    assert second["status_code"] == 200
    assert second["time"] - first["time"] >= callbacks.RETRY_DELAYS_S[0]


def test_storage_without_notify_sends_nothing(
    v1: TranscodeClientV1, emulator: EmulatorServer
) -> None:
    storage_id = v1.add_storage(region="r", type="s3", bucket="out")
    task_id = v1.create_task(
        template_name="480p", storage_id=storage_id, input=UNREACHABLE_INPUT, output="x.mp4"
    )
    assert v1.wait_for_task(task_id)["status"] == "failed"
    assert deliveries(emulator.base_url, task_id) == []


def test_pending_delivery_is_sent_after_a_restart(tmp_path: Path, receiver: Receiver) -> None:
    receiver.always = 503
    settings = make_settings(tmp_path / "data")
    with EmulatorServer(settings) as first:
        s = first.settings
        with TranscodeClientV1(first.base_url, s.access_key_id, s.access_key_secret) as v1:
            storage_id = v1.add_storage(region="r", type="s3", bucket="out", notify=receiver.url)
            task_id = v1.create_task(
                template_name="480p", storage_id=storage_id, input=UNREACHABLE_INPUT, output="x"
            )
        poll(lambda: any(d["attempts"] for d in deliveries(first.base_url, task_id)))
    (pending,) = _rows_offline(settings.sqlalchemy_url, task_id)
    assert pending["status"] == "pending" and pending["attempts"] >= 1
    receiver.always = None
    with EmulatorServer(make_settings(tmp_path / "data")) as second:
        (got,) = poll(receiver.accepted, what="callback after restart")
        assert got["body"]["data"][0]["task_id"] == task_id
        (delivery,) = poll(
            lambda: [d for d in deliveries(second.base_url, task_id) if d["status"] == "delivered"]
        )
        assert [a["status_code"] for a in delivery["history"]][-1] == 200
        assert delivery["history"][0]["status_code"] == 503


def _rows_offline(url: str, task_id: str) -> list[dict[str, Any]]:
    """The deliveries as stored while no emulator runs."""
    from emulator.db.engine import Database

    db = Database(url)
    try:
        with db.read() as session:
            return [row.model_dump() for row in callbacks.for_task(session, task_id)]
    finally:
        db.dispose()
