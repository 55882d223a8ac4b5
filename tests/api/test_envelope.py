"""The envelope, statuses and request ids of SPEC.md section 1, on every kind of error."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from emulator.client import TranscodeClient
from emulator.server import EmulatorServer
from tests.conftest import make_settings


def test_success_envelope_and_request_id_header(api: TranscodeClient) -> None:
    response = api.request("GET", "/api/list_storage")
    body = response.json()
    assert set(body) == {"code", "msg", "data", "request_id"}
    assert (body["code"], body["msg"]) == (0, "success")
    assert body["request_id"] == response.headers["X-Wz-Request-Id"]


def test_error_envelope_has_detail(api: TranscodeClient) -> None:
    response = api.request("GET", "/api/query_task", {"task_id": "nope"})
    body = response.json()
    assert response.status_code == 200
    assert (body["code"], body["msg"], body["data"]) == (1004, "empty result", None)
    assert "nope" in body["detail"] and body["request_id"] == response.headers["X-Wz-Request-Id"]


def test_unknown_path_is_404_bad_param(api: TranscodeClient) -> None:
    response = api.request("GET", "/api/nothing_here")
    assert response.status_code == 404
    assert response.json()["code"] == 1002 and "/api/nothing_here" in response.json()["detail"]


def test_wrong_method_is_405_bad_param(api: TranscodeClient) -> None:
    response = api.request("GET", "/api/create_task")
    assert response.status_code == 405
    assert response.json()["code"] == 1002


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"{not json", "malformed JSON"),
        (b"[1, 2]", "must be an object"),
        (b"\xff\xfe", "UTF-8"),
        (b'"text"', "must be an object"),
    ],
)
def test_bad_bodies_are_bad_param(
    emulator: EmulatorServer, api: TranscodeClient, body: bytes, detail: str
) -> None:
    from emulator import signing

    headers = signing.sign_request(
        method="POST",
        path="/api/add_template",
        body=body,
        access_key_id=api.access_key_id,
        access_key_secret=api.access_key_secret,
    )
    response = httpx.post(f"{emulator.base_url}/api/add_template", content=body, headers=headers)
    assert response.status_code == 200
    assert response.json()["code"] == 1002 and detail in response.json()["detail"]


def test_body_over_one_mib_is_refused(emulator: EmulatorServer) -> None:
    response = httpx.post(f"{emulator.base_url}/api/add_template", content=b"x" * (1024 * 1024 + 1))
    assert response.json()["code"] == 1002 and "larger than" in response.json()["detail"]


def test_duplicate_query_keys_are_refused(api: TranscodeClient, emulator: EmulatorServer) -> None:
    response = httpx.get(f"{emulator.base_url}/api/list_storage_type?a=1&a=2")
    assert response.json()["code"] == 0  # no parameters read there
    response = api.http.get("/api/query_task?task_id=a&task_id=b")
    assert response.json()["code"] in (1002, 1003)


@pytest.fixture
def broken_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    server = EmulatorServer(
        make_settings(tmp_path_factory.mktemp("b"), auth="off", worker_concurrency=0)
    )

    @server.app.get("/api/explode")
    def explode() -> None:
        raise RuntimeError("secret internals")

    with server:
        yield server


def test_unhandled_error_is_500_internal_without_internals(
    broken_server: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    response = httpx.get(f"{broken_server.base_url}/api/explode")
    assert response.status_code == 500
    body = response.json()
    assert (body["code"], body["msg"]) == (1000, "internal error")
    assert "secret internals" not in response.text
    assert body["request_id"] == response.headers["X-Wz-Request-Id"]
    assert "secret internals" in caplog.text
