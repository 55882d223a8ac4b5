"""The request log: parameters with secrets masked, codes, latency, signature verdicts."""

from __future__ import annotations

import json

from emulator import signing
from emulator.client import TranscodeClient
from emulator.control_client import ControlClient
from emulator.server import EmulatorServer


def test_entry_has_params_code_latency_and_verdict(
    api: TranscodeClient, control: ControlClient, emulator: EmulatorServer
) -> None:
    api.add_template("logged", quality=7)
    [entry] = control.requests()
    assert entry.method == "POST"
    assert entry.path == "/api/add_template"
    assert entry.params == {"name": "logged", "quality": 7}
    assert (entry.status, entry.code) == (200, 0)
    assert entry.latency_ms > 0
    assert entry.signature == {
        "verdict": "ok",
        "scheme": "primary",
        "access_key_id": emulator.settings.access_key_id,
    }
    assert entry.authorization == (
        f"Visionular AccessKeyId={emulator.settings.access_key_id}, Signature=***"
    )
    assert entry.request_id and entry.client == "127.0.0.1"


def test_secrets_are_masked(api: TranscodeClient, control: ControlClient) -> None:
    api.add_storage("cn-hz", "s3", "logged", storage_ak="AKSECRETVALUE", storage_sk="SKSECRETVALUE")
    [entry] = control.requests()
    assert entry.params == {
        "region": "cn-hz",
        "type": "s3",
        "bucket": "logged",
        "storage_ak": "***",
        "storage_sk": "***",
    }
    assert "SECRETVALUE" not in control.send("GET", "/requests").text


def test_bad_signature_shows_the_servers_string_to_sign(
    api: TranscodeClient, control: ControlClient, emulator: EmulatorServer
) -> None:
    headers = signing.sign_request(
        method="GET",
        path="/api/query_task",
        query={"task_id": "other"},
        access_key_id=emulator.settings.access_key_id,
        access_key_secret=emulator.settings.access_key_secret,
    )
    api.http.get("/api/query_task", params={"task_id": "t1"}, headers=headers)
    [entry] = control.requests()
    assert entry.code == 1003
    assert entry.signature["verdict"] == "fail"
    assert "signature mismatch" in entry.signature["detail"]
    sts = entry.signature["string_to_sign"]
    assert sts.startswith("GET\n\n\n") and sts.endswith("\n/api/query_task?task_id=t1")
    assert entry.params == {"task_id": "t1"}


def test_legacy_string_to_sign_is_masked_too(
    api: TranscodeClient, control: ControlClient, emulator: EmulatorServer
) -> None:
    body = json.dumps({"region": "r", "type": "s3", "bucket": "b", "storage_sk": "SKVALUE1"})
    api.http.post(
        "/api/add_storage",
        content=body,
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Visionular AccessKeyId={emulator.settings.access_key_id}, "
            "Signature=wrong",
        },
    )
    [entry] = control.requests()
    assert entry.signature["verdict"] == "fail"
    assert "SKVALUE1" not in json.dumps(entry.model_dump())
    assert "storage_sk=***" in entry.signature["string_to_sign"]


def test_unsigned_route_and_missing_header(api: TranscodeClient, control: ControlClient) -> None:
    api.request("GET", "/api/list_storage_type", sign=False)
    api.request("GET", "/api/list_storage", sign=False)
    missing, unsigned = control.requests()
    assert unsigned.signature == {"verdict": "none"}
    assert missing.signature["verdict"] == "fail"
    assert missing.signature["detail"] == "missing Authorization header"
    assert missing.signature["string_to_sign"] is None


def test_filters_by_path_code_and_method(api: TranscodeClient, control: ControlClient) -> None:
    api.list_storage()
    api.list_template()
    api.request("GET", "/api/query_template", {"name": "nope"})
    assert [e.path for e in control.requests(path="list_storage")] == ["/api/list_storage"]
    assert [e.path for e in control.requests(code=1004)] == ["/api/query_template"]
    assert [e.path for e in control.requests(path="/api/list_*")] == [
        "/api/list_template",
        "/api/list_storage",
    ]
    assert control.requests(method="POST") == []
    assert len(control.requests(limit=1)) == 1


def test_injected_fault_is_marked(api: TranscodeClient, control: ControlClient) -> None:
    fault = control.fail_route("/api/list_storage", 1005)
    api.request("GET", "/api/list_storage")
    [entry] = control.requests()
    assert (entry.code, entry.fault) == (1005, fault.id)


def test_non_json_body_is_shown_as_text(api: TranscodeClient, control: ControlClient) -> None:
    api.http.post("/api/add_storage", content=b'{"storage_sk": "abc", broken')
    [entry] = control.requests()
    assert entry.code in (1002, 1003)
    assert entry.body == '{"storage_sk": "***", broken'


def test_control_and_health_requests_are_not_logged(control: ControlClient) -> None:
    control.health()
    control.list_keys()
    assert control.requests() == []


def test_clear_and_reset_empty_the_log(api: TranscodeClient, control: ControlClient) -> None:
    api.list_storage()
    control.clear_requests()
    assert control.requests() == []
    api.list_storage()
    control.reset()
    assert control.requests() == []
