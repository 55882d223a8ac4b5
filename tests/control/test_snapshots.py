"""Named snapshots (README, Snapshots): save, list, restore, delete; names; in-flight tasks."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config

from emulator.client import TranscodeClient
from emulator.control_client import ControlClient
from emulator.db.engine import Database
from emulator.db.migrate import HEAD_REVISION, downgrade
from emulator.errors import BadParam, Duplicated, EmptyResult, OperationFail
from emulator.server import EmulatorServer
from tests.conftest import wait_for


@pytest.fixture(scope="module")
def emulator_settings() -> dict[str, Any]:
    return {"worker_concurrency": 1}


def boto(emulator: EmulatorServer) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=emulator.app.state.ctx.s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="emulator",
        aws_secret_access_key="emulator",
        config=Config(s3={"addressing_style": "path"}),
    )


def snapshot_dir(emulator: EmulatorServer) -> Path:
    path: Path = emulator.settings.snapshots_path
    return path


def build_state(api: TranscodeClient, emulator: EmulatorServer, storage_id: str) -> str:
    """A template, a key, an object and a task parked in pending; returns the task id."""
    api.add_template("tiny", resolution="160x120")
    keys = {k.access_key_id for k in api.control.list_keys()}  # keys outlive a reset
    if "SNAPSHOTKEY00001" not in keys:
        api.control.create_key("SNAPSHOTKEY00001", "s" * 32)
    s3 = boto(emulator)
    s3.create_bucket(Bucket="media")
    s3.put_object(Bucket="media", Key="a/b.bin", Body=b"\x00body" * 1000)
    api.control.hold("pending")
    return api.create_task("tiny", "s3://media/a/b.bin", "out/", storage_id).task_id


def test_a_snapshot_round_trips_tasks_storages_templates_keys_and_objects(
    api: TranscodeClient, emulator: EmulatorServer, storage_id: str
) -> None:
    task_id = build_state(api, emulator, storage_id)
    saved = api.control.save_snapshot("round-trip")
    api.control.reset()
    assert api.list_storage().num == 0

    restored = api.control.restore_snapshot("round-trip")

    assert restored == saved
    assert [s.storage_id for s in api.list_storage().list] == [storage_id]
    assert "tiny" in {t.name for t in api.list_template().list}
    assert "SNAPSHOTKEY00001" in {k.access_key_id for k in api.control.list_keys()}
    assert api.query_task(task_id).status == "pending"
    body = boto(emulator).get_object(Bucket="media", Key="a/b.bin")["Body"].read()
    assert body == b"\x00body" * 1000


def test_the_list_shows_counts_bytes_and_revision(
    api: TranscodeClient, emulator: EmulatorServer, storage_id: str
) -> None:
    build_state(api, emulator, storage_id)
    api.control.save_snapshot("counted")

    (info,) = [s for s in api.control.list_snapshots() if s.name == "counted"]

    assert (info.tasks, info.storages, info.templates, info.objects) == (1, 1, 1, 1)
    assert info.bytes > 5000
    assert info.revision == HEAD_REVISION
    api.control.delete_snapshot("counted")
    assert "counted" not in {s.name for s in api.control.list_snapshots()}
    assert not (snapshot_dir(emulator) / "counted").exists()


@pytest.mark.parametrize("name", ["", ".hidden", "..", "a/b", "x" * 65, "sp ace", "é"])
def test_a_bad_name_is_refused_naming_the_rule(control: ControlClient, name: str) -> None:
    with pytest.raises(BadParam, match=r"name: .*letters, digits"):
        control.save_snapshot(name)


def test_a_name_of_64_characters_is_fine(control: ControlClient) -> None:
    name = "A-b_c.1" + "x" * 57
    assert control.save_snapshot(name).name == name
    control.delete_snapshot(name)


def test_a_bad_name_in_the_path_is_refused(emulator: EmulatorServer) -> None:
    response = httpx.post(f"{emulator.base_url}/_emulator/snapshots/.hidden/restore")
    assert response.status_code == 400
    assert "name:" in response.json()["detail"]


@pytest.mark.parametrize("method", ["restore", "delete"])
def test_an_unknown_name_is_404(
    control: ControlClient, emulator: EmulatorServer, method: str
) -> None:
    with pytest.raises(EmptyResult, match="no snapshot 'nowhere'"):
        getattr(control, f"{method}_snapshot")("nowhere")
    response = httpx.delete(f"{emulator.base_url}/_emulator/snapshots/nowhere")
    assert response.status_code == 404


def test_a_duplicate_name_is_a_conflict(control: ControlClient, emulator: EmulatorServer) -> None:
    control.save_snapshot("twice")
    with pytest.raises(Duplicated, match="delete it first"):
        control.save_snapshot("twice")
    response = httpx.post(f"{emulator.base_url}/_emulator/snapshots", json={"name": "twice"})
    assert response.status_code == 409
    control.delete_snapshot("twice")


def test_a_task_in_flight_is_saved_as_pending_and_runs_after_restore(
    api: TranscodeClient, storage_id: str, clip_url: str
) -> None:
    control = api.control
    control.hold("running")
    task_id = api.create_task("480p", clip_url, "out.mp4", storage_id).task_id
    control.wait_task(task_id, status=["running"])
    control.save_snapshot("in-flight")
    control.reset()

    control.restore_snapshot("in-flight")

    # The holds came back with the snapshot's state; the task waits in pending or running.
    assert api.query_task(task_id).status in ("pending", "downloading", "running")
    control.release()
    assert wait_for(api, task_id)["status"] == "success"
    control.delete_snapshot("in-flight")


def test_restoring_stops_the_tasks_in_flight_first(
    api: TranscodeClient, storage_id: str, clip_url: str
) -> None:
    control = api.control
    control.save_snapshot("before")
    control.hold("running")
    task_id = api.create_task("480p", clip_url, "out.mp4", storage_id).task_id
    control.wait_task(task_id, status=["running"])

    control.restore_snapshot("before")

    assert control.health()["worker"]["running"] == 0
    assert task_id not in {t.task_id for t in control.recent_tasks()}
    control.delete_snapshot("before")


def test_a_snapshot_taken_under_concurrent_writes_is_one_instant(
    api: TranscodeClient, emulator: EmulatorServer
) -> None:
    """Each round adds a storage, then a template, then a task using both: at any committed
    instant storages >= templates >= tasks >= storages - 1, and every task's are present."""
    api.control.hold("pending")
    stop = threading.Event()
    rounds = [0]
    failures: list[BaseException] = []

    def write() -> None:
        try:
            while not stop.is_set():
                i = rounds[0]
                storage = api.add_storage("cn-hz", "s3", f"bucket-{i}").storage_id
                api.add_template(f"t{i}")
                api.create_task(f"t{i}", "s3://inputs/none.mp4", "out.mp4", storage)
                rounds[0] += 1
        except BaseException as exc:
            failures.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    names = [f"busy-{n}" for n in range(6)]
    try:
        for name in names:
            seen = rounds[0]
            deadline = time.monotonic() + 30
            while rounds[0] == seen and not failures and time.monotonic() < deadline:
                time.sleep(0.01)  # polls: the writer must have moved on since the last save
            api.control.save_snapshot(name)
    finally:
        stop.set()
        writer.join(60)
    assert not failures
    counts = [check_one_instant(snapshot_dir(emulator) / name / "db.sqlite3") for name in names]
    assert counts == sorted(set(counts)), "every save saw the writer further on"
    for name in names:
        api.control.delete_snapshot(name)


def check_one_instant(path: Path) -> int:
    with sqlite3.connect(path) as db:
        storages = {row[0] for row in db.execute("SELECT storage_id FROM storages")}
        templates = {
            row[0]
            for row in db.execute("SELECT name FROM templates WHERE template_type = 'custom'")
        }
        tasks = db.execute("SELECT storage_id, template_name FROM tasks").fetchall()
    db.close()
    assert len(storages) >= len(templates) >= len(tasks) >= len(storages) - 1, path
    assert all(s in storages and t in templates for s, t in tasks), path
    return len(tasks)


def test_an_older_revision_is_migrated_on_restore(
    api: TranscodeClient, emulator: EmulatorServer, storage_id: str
) -> None:
    build_state(api, emulator, storage_id)
    api.control.save_snapshot("old")
    path = snapshot_dir(emulator) / "old"
    old = Database(f"sqlite:///{path / 'db.sqlite3'}")
    downgrade(old, revision="0005")  # before the inbox table existed
    old.dispose()
    info = json.loads((path / "snapshot.json").read_text())
    (path / "snapshot.json").write_text(json.dumps({**info, "revision": "0005"}))
    api.control.reset()

    assert api.control.restore_snapshot("old").revision == "0005"

    assert [s.storage_id for s in api.list_storage().list] == [storage_id]
    assert api.control.inbox("anything") == []  # the table 0006 adds is there
    api.control.delete_snapshot("old")


def test_a_newer_revision_is_refused(control: ControlClient, emulator: EmulatorServer) -> None:
    control.save_snapshot("future")
    info_file = snapshot_dir(emulator) / "future" / "snapshot.json"
    info_file.write_text(json.dumps({**json.loads(info_file.read_text()), "revision": "9999"}))

    with pytest.raises(
        OperationFail, match=f"revision 9999, newer than this emulator's {HEAD_REVISION}"
    ):
        control.restore_snapshot("future")
    response = httpx.post(f"{emulator.base_url}/_emulator/snapshots/future/restore")
    assert response.status_code == 409
    control.delete_snapshot("future")


def test_a_foreign_page_cannot_save_or_restore(emulator: EmulatorServer) -> None:
    evil = {"Origin": "https://evil.example"}
    url = f"{emulator.base_url}/_emulator/snapshots"
    assert httpx.post(url, json={"name": "x"}, headers=evil).status_code == 403
    assert httpx.post(f"{url}/x/restore", headers=evil).status_code == 403
    assert httpx.delete(f"{url}/x", headers=evil).status_code == 403
