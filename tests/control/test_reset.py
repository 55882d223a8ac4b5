"""Reset: back to a fresh emulator (all or some parts); built-ins and keys stay. Health."""

from __future__ import annotations

import httpx
import pytest

from emulator.client import TranscodeClient
from emulator.control_client import ControlClient
from emulator.errors import BadParam
from emulator.server import EmulatorServer


@pytest.fixture
def populated(api: TranscodeClient, control: ControlClient, emulator: EmulatorServer) -> str:
    storage = api.add_storage("cn-hz", "s3", "out").storage_id
    api.add_template("mine")
    api.create_task("mine", "http://127.0.0.1:1/a.mp4", "a.mp4", storage)
    emulator.app.state.ctx.objects._client.put_object(Bucket="out", Key="k", Body=b"x")
    control.fail_route("/api/list_storage", 1000)
    control.hold("running")
    control.set_clock(offset_s=60)
    return storage


def objects(emulator: EmulatorServer) -> list[str]:
    client = emulator.app.state.ctx.objects._client
    return [b["Name"] for b in client.list_buckets().get("Buckets", [])]


def test_reset_clears_everything_but_builtins_and_keys(
    api: TranscodeClient, control: ControlClient, emulator: EmulatorServer, populated: str
) -> None:
    key = control.create_key()
    assert control.reset() == ["tasks", "storages", "templates", "objects", "state"]
    assert api.list_storage().num == 0
    assert [t.template_type for t in api.list_template().list] == ["built-in"] * 5
    assert control.recent_tasks() == []
    assert objects(emulator) == []
    assert (control.list_faults(), control.list_holds(), control.clock().offset_s) == ([], [], None)
    assert key.access_key_id in [k.access_key_id for k in control.list_keys()]


def test_reset_some_parts(
    api: TranscodeClient, control: ControlClient, emulator: EmulatorServer, populated: str
) -> None:
    assert control.reset(["tasks", "templates"]) == ["tasks", "templates"]
    assert control.recent_tasks() == []
    assert len(control.list_faults()) == 1  # "state" stays
    control.clear_faults()
    assert [s.storage_id for s in api.list_storage().list] == [populated]
    assert "mine" not in [t.name for t in api.list_template().list]
    assert objects(emulator) == ["out"]
    assert len(control.list_holds()) == 1


def test_reset_parts_in_the_query(control: ControlClient, populated: str) -> None:
    response = control.send("POST", "/reset", params={"parts": "state"})
    assert response.json() == {"reset": ["state"]}
    assert control.list_holds() == []
    assert len(control.recent_tasks()) == 1


def test_unknown_part_is_400(control: ControlClient) -> None:
    with pytest.raises(BadParam, match="bogus"):
        control.reset(["bogus"])


def test_health_counts_tasks_by_status_and_reports_the_worker(
    api: TranscodeClient, emulator: EmulatorServer, populated: str
) -> None:
    health = httpx.get(f"{emulator.base_url}/_emulator/health").json()
    assert health["status"] == "ok"
    assert health["tasks"] == {
        "pending": 1,
        "downloading": 0,
        "running": 0,
        "uploading": 0,
        "success": 0,
        "fail": 0,
    }
    assert health["worker"] | {"worker_id": None} == {
        "enabled": False,
        "state": "off",
        "concurrency": 0,
        "running": 0,
        "worker_id": None,
        "hold_stage": None,
    }
    assert health["control"]["faults"] == 1 and health["control"]["holds"] == 1
    assert health["control"]["clock"] == {"offset": 60.0}
