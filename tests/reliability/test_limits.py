"""README "Limits": every limit answers a clear 1002 (HTTP 200) on both prefixes."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from emulator.server import EmulatorServer
from tests.reliability.helpers import call, raw

PREFIXES = ["/api", "/vodencoding/v1"]
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def emulator_settings() -> dict[str, Any]:
    return {"worker_concurrency": 0}


@pytest.fixture(autouse=True)
def fresh(emulator: EmulatorServer) -> None:
    httpx.post(f"{emulator.base_url}/_emulator/reset", timeout=30).raise_for_status()


def name_key(prefix: str) -> str:
    return "name" if prefix == "/api" else "template_name"


def assert_code(response: Any, code: int, mentions: str = "") -> None:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["code"] == code, body
    if mentions:
        assert mentions in body["detail"], body


def task_params(**overrides: Any) -> dict[str, Any]:
    values = {
        "template_name": "tpl",
        "input": "s3://inputs/clip.mp4",
        "output": "out/clip.mp4",
        "storage_id": "st-1",
    }
    values.update(overrides)
    return values


@pytest.mark.parametrize("prefix", PREFIXES)
def test_body_over_1_mib(emulator: EmulatorServer, prefix: str) -> None:
    body = json.dumps({name_key(prefix): "big", "description": "a" * (MIB + 1)}).encode()
    response = raw(emulator, "POST", f"{prefix}/add_template", body=body)
    assert_code(response, 1002)


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize(
    ("route", "params", "field"),
    [
        ("add_template", {"NAME": "n" * 65}, "NAME"),
        ("add_storage", {"region": "r" * 1025, "type": "s3", "bucket": "out"}, "region"),
        (
            "add_storage",
            {"region": "r", "type": "s3", "bucket": "out", "storage_sk": "k" * 4097},
            "storage_sk",
        ),
        ("create_task", task_params(input="http://h/" + "a" * 4090), "input"),
        ("create_task", task_params(output="o" * 4097), "output"),
        ("add_template", {"NAME": "nul\x00"}, "NAME"),
        ("add_storage", {"region": "r\x01", "type": "s3", "bucket": "out"}, "region"),
        ("add_storage", {"region": "r\x7f", "type": "s3", "bucket": "out"}, "region"),
    ],
)
def test_string_limits_and_control_chars(
    emulator: EmulatorServer, prefix: str, route: str, params: dict[str, Any], field: str
) -> None:
    key = name_key(prefix)
    params = {key if k == "NAME" else k: v for k, v in params.items()}
    field = key if field == "NAME" else field
    envelope = call(emulator, "POST", f"{prefix}/{route}", params)
    assert envelope["code"] == 1002, envelope
    assert field in envelope["detail"], envelope


@pytest.mark.parametrize("prefix", PREFIXES)
def test_name_of_64_is_accepted(emulator: EmulatorServer, prefix: str) -> None:
    envelope = call(emulator, "POST", f"{prefix}/add_template", {name_key(prefix): "n" * 64})
    assert envelope["code"] == 0, envelope


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe{}",
        b'{"name": "caf\xe9"}',
        b"[1, 2]",
        b'"text"',
        b"42",
        b"null",
        b"{" * 5000,
        b'{"a": ' + b"[" * 40 + b"]" * 40 + b"}",
        b"[" * 100_000,
        b'{"name": "q", "template_name": "q", "quality": ' + b"9" * 5000 + b"}",
        b'{"name": "q", "template_name": "q", "quality": 1e999999}',
        b'{"name": "q", "template_name": "q", "quality": NaN}',
        b'{"name": "x", "name": "y", ',
    ],
    ids=lambda b: repr(b[:12] + b[-12:]),
)
def test_hostile_bodies(emulator: EmulatorServer, prefix: str, body: bytes) -> None:
    response = raw(emulator, "POST", f"{prefix}/add_template", body=body)
    assert_code(response, 1002)


@pytest.mark.parametrize("prefix", PREFIXES)
def test_huge_integers_in_parameters(emulator: EmulatorServer, prefix: str) -> None:
    params = {name_key(prefix): "huge", "quality": 10**30}
    assert call(emulator, "POST", f"{prefix}/add_template", params)["code"] == 1002
    query = "start_time=1600000000&end_time=" + "9" * 5000
    assert_code(raw(emulator, "GET", f"{prefix}/list_task", query=query), 1002, "end_time")


@pytest.mark.parametrize("prefix", PREFIXES)
def test_duplicate_query_keys(emulator: EmulatorServer, prefix: str) -> None:
    response = raw(emulator, "GET", f"{prefix}/query_task", query="task_id=a&task_id=b")
    assert_code(response, 1002, "more than once")


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize(
    "paging", ["start_num=-1", "count=0", "count=-5", "count=1001", "count=abc"]
)
def test_bad_paging(emulator: EmulatorServer, prefix: str, paging: str) -> None:
    if prefix == "/vodencoding/v1" and paging == "count=0":
        pytest.skip("v1 reads a zero count as the default: the Go SDK sends every field")
    query = f"start_time=1600000000&end_time=2000000000&{paging}"
    response = raw(emulator, "GET", f"{prefix}/list_task", query=query)
    assert_code(response, 1002, paging.split("=")[0])


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize(
    "output", ["../escape.mp4", "a/../../b.mp4", "/abs/out.mp4", "a\\b.mp4", "a\x01b.mp4", ".."]
)
def test_output_keys_stay_inside_the_storage(
    emulator: EmulatorServer, prefix: str, output: str
) -> None:
    envelope = call(emulator, "POST", f"{prefix}/create_task", task_params(output=output))
    assert envelope["code"] == 1002, envelope
    assert "output" in envelope["detail"]


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "FILE:///etc/passwd",
        "ftp://example.com/a.mp4",
        "data:video/mp4;base64,AAAA",
        "/etc/passwd",
        "./clip.mp4",
        "gopher://example.com/",
        "s3://bucket-only",
        " http://example.com/a.mp4",
    ],
)
def test_input_urls_only_http_s3_oss(emulator: EmulatorServer, prefix: str, url: str) -> None:
    envelope = call(emulator, "POST", f"{prefix}/create_task", task_params(input=url))
    assert envelope["code"] == 1002, envelope
    assert "input" in envelope["detail"]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_logo_and_notify_urls_are_checked(emulator: EmulatorServer, prefix: str) -> None:
    template = {name_key(prefix): "logo", "logo_path": "file:///etc/passwd"}
    envelope = call(emulator, "POST", f"{prefix}/add_template", template)
    assert envelope["code"] == 1002 and "logo_path" in envelope["detail"], envelope
    storage = {"region": "r", "type": "s3", "bucket": "out", "notify": "file:///tmp/x"}
    envelope = call(emulator, "POST", f"{prefix}/add_storage", storage)
    assert envelope["code"] == 1002 and "notify" in envelope["detail"], envelope
