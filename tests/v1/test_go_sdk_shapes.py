"""Requests byte-for-byte as the vendor's Go SDK (visionular/aurora-sdk-go) sends them.

The SDK sets `Content-Type: application/json` even on GET and DELETE, puts DELETE parameters
in the query string, sends `auth-type: use-basic`, encodes bodies with Go's json.Encoder (a
trailing newline) and marshals whole structs: every field, unset ones as zero values.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from emulator.client import TranscodeClient
from emulator.client_v1 import basic_authorization
from emulator.server import EmulatorServer

pytestmark = pytest.mark.usefixtures("api")

# model.TemplateApiRequest as Go marshals its zero value (no omitempty: every field present).
ZERO_TEMPLATE_REQUEST: dict[str, Any] = {
    "template_name": "",
    "format": "",
    "vcodec": "",
    "acodec": "",
    "trans_mode": "",
    "resolution": "",
    "framerate": 0,
    "quality": 0,
    "video_bitrate": 0,
    "gop_size": 0,
    "gop_seconds": 0,
    "seg_type": "",
    "seg_time": 0,
    "audio_bitrate": 0,
    "audio_sample_rate": "",
    "audio_channels": 0,
    "logo_path": "",
    "logo_size": "",
    "logo_offset": "",
    "adaptive_streams": None,
    "encryption": None,
    "thumbnail": None,
    "description": "",
}


@pytest.fixture(scope="module")
def emulator_settings() -> dict[str, Any]:
    return {"worker_concurrency": 0}


def go(
    emulator: EmulatorServer, method: str, path: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One request as api/client.go's prepareRequest builds it; the parsed envelope."""
    s = emulator.settings
    headers = {
        "Content-Type": "application/json",
        "auth-type": "use-basic",
        "User-Agent": "Aurora Go | 1.1.3",
        "Authorization": basic_authorization(s.access_key_id, s.access_key_secret),
    }
    content = (json.dumps(body) + "\n").encode() if body is not None else None
    response = httpx.request(method, f"{emulator.base_url}{path}", headers=headers, content=content)
    assert response.status_code == 200, response.text
    envelope: dict[str, Any] = response.json()
    assert set(envelope) >= {"code", "msg", "data", "request_id"}
    return envelope


def test_query_and_list_template_as_get_with_content_type(emulator: EmulatorServer) -> None:
    body = go(emulator, "GET", "/vodencoding/v1/query_template?template_name=1080p")
    assert body["code"] == 0
    assert (
        body["data"] | {"template_name": "1080p", "built_in": True, "quality": 5.0} == body["data"]
    )
    listed = go(emulator, "GET", "/vodencoding/v1/list_template")["data"]
    assert listed["num"] == len(listed["list"]) >= 5
    assert [t["template_name"] for t in listed["list"][:4]] == ["480p", "720p", "1080p", "origin"]


def test_storage_add_list_delete_as_the_sdk(emulator: EmulatorServer) -> None:
    # model.StorageApiRequest: prefix, notify, storage_ak and storage_sk are omitempty.
    request = {"type": "oss", "region": "cn-beijing", "bucket": "mytestbucket-sdk"}
    request["notify"] = "http://test.com/callback"
    added = go(emulator, "POST", "/vodencoding/v1/add_storage", request)
    storage_id = added["data"]["storage_id"]
    listed = go(emulator, "GET", "/vodencoding/v1/list_storage")["data"]
    assert listed["num"] == 1
    row = listed["list"][0]
    assert row | request == row
    assert row["storage_id"] == storage_id and isinstance(row["created_time"], int)
    assert {"extra", "name_rule"} <= set(row) and "storage_sk" not in row
    deleted = go(emulator, "DELETE", f"/vodencoding/v1/del_storage?storage_id={storage_id}")
    assert (deleted["code"], deleted["data"]) == (0, None)
    assert go(emulator, "GET", "/vodencoding/v1/list_storage")["data"]["num"] == 0


def test_add_template_request_with_camel_case_audio_bitrate(emulator: EmulatorServer) -> None:
    # model.AddTemplateApiRequest, every field present; Quality is a float32.
    request = {
        "template_name": "sdk-add",
        "format": "hls",
        "quality": 6.5,
        "framerate": 0,
        "resolution": "",
        "vcodec": "",
        "acodec": "",
        "audioBitrate": 96,
    }
    data = go(emulator, "POST", "/vodencoding/v1/add_template", request)["data"]
    assert (
        data
        | {
            "template_name": "sdk-add",
            "format": "hls",
            "quality": 6.5,
            "framerate": 0,
            "resolution": "",
            "vcodec": "h264",
            "acodec": "aac",
            "audio_bitrate": 96000,
        }
        == data
    )


def test_every_field_with_zero_values_means_defaults(emulator: EmulatorServer) -> None:
    request = {**ZERO_TEMPLATE_REQUEST, "template_name": "sdk-zero"}
    data = go(emulator, "POST", "/vodencoding/v1/add_template", request)["data"]
    assert (
        data
        | {
            "format": "mp4",
            "vcodec": "h264",
            "acodec": "aac",
            "quality": 5.0,
            "audio_bitrate": 64000,
            "video_bitrate": 0,
            "adaptive_streams": None,
            "encryption": None,
            "thumbnail": None,
            "built_in": False,
        }
        == data
    )


def test_update_with_every_field_changes_only_non_zero_ones(
    emulator: EmulatorServer, api: TranscodeClient
) -> None:
    api.call("POST", "/api/add_template", {"name": "sdk-upd", "resolution": "720p", "quality": 8})
    request = {**ZERO_TEMPLATE_REQUEST, "template_name": "sdk-upd", "video_bitrate": 800}
    request["thumbnail"] = {"start_point": 0, "interval": 0, "number": 0, "width": 0, "height": 0}
    data = go(emulator, "PUT", "/vodencoding/v1/update_template", request)["data"]
    assert (data["resolution"], data["quality"], data["video_bitrate"]) == ("720p", 8.0, 800)
    assert data["thumbnail"] is None  # an all-zero struct is "not given" too
    seen = api.call("GET", "/api/query_template", {"name": "sdk-upd"})
    assert (seen["resolution"], seen["quality"], seen["video_bitrate"]) == ("720p", 8, 800)


def test_create_task_request_as_the_sdk(emulator: EmulatorServer, api: TranscodeClient) -> None:
    storage = {"region": "r", "type": "s3", "bucket": "out"}
    storage_id = api.call("POST", "/api/add_storage", storage)["storage_id"]
    request = {
        "template_name": "480p",
        "storage_id": storage_id,
        "input": "http://127.0.0.1:1/in.mp4",
        "output": "s3://out/sdk/out.mp4",
    }
    task_id = go(emulator, "POST", "/vodencoding/v1/create_task", request)["data"]["task_id"]
    task = go(emulator, "GET", f"/vodencoding/v1/query_task?task_id={task_id}")["data"]
    assert (task["status"], task["output"], task["storage_id"]) == (
        "pending",
        "s3://out/sdk/out.mp4",
        storage_id,
    )
    assert go(emulator, "DELETE", f"/vodencoding/v1/del_task?task_id={task_id}")["code"] == 0
