"""Authentication on /vodencoding/v1/: Basic or a signature; failures 1003 with HTTP 401."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from emulator.client import TranscodeClient
from emulator.client_v1 import basic_authorization
from emulator.server import EmulatorServer


@pytest.fixture(scope="module")
def emulator_settings() -> dict[str, Any]:
    return {"worker_concurrency": 0}


def get(emulator: EmulatorServer, path: str, headers: dict[str, str]) -> httpx.Response:
    return httpx.get(f"{emulator.base_url}{path}", headers=headers)


def basic(emulator: EmulatorServer, secret: str | None = None) -> dict[str, str]:
    s = emulator.settings
    return {"Authorization": basic_authorization(s.access_key_id, secret or s.access_key_secret)}


def assert_unauthorized(response: httpx.Response, cause: str) -> None:
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic ")
    body = response.json()
    assert (body["code"], body["msg"], body["data"]) == (1003, "auth fail", None)
    assert body["request_id"] == response.headers["X-Wz-Request-Id"]
    assert cause in body["detail"]


def test_basic_auth_is_accepted_on_v1(emulator: EmulatorServer) -> None:
    response = get(emulator, "/vodencoding/v1/list_storage", basic(emulator))
    assert response.status_code == 200
    assert response.json()["code"] == 0
    assert response.headers["X-Emulator-Auth-Scheme"] == "basic"


def test_basic_scheme_word_is_case_insensitive(emulator: EmulatorServer) -> None:
    headers = {"Authorization": basic(emulator)["Authorization"].replace("Basic", "basic")}
    assert get(emulator, "/vodencoding/v1/list_template", headers).json()["code"] == 0


def test_basic_auth_is_refused_on_api_with_http_200(emulator: EmulatorServer) -> None:
    response = get(emulator, "/api/list_storage", basic(emulator))
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == 1003
    assert "/vodencoding/v1/" in body["detail"]


def test_wrong_secret_is_401(emulator: EmulatorServer) -> None:
    response = get(emulator, "/vodencoding/v1/list_storage", basic(emulator, "w" * 32))
    assert_unauthorized(response, "wrong AccessKeySecret")


def test_unknown_key_is_401(emulator: EmulatorServer) -> None:
    headers = {"Authorization": basic_authorization("NOSUCHKEY0000000", "x" * 32)}
    assert_unauthorized(get(emulator, "/vodencoding/v1/list_storage", headers), "unknown")


@pytest.mark.parametrize(
    "token",
    [
        "not base64!",
        base64.b64encode(b"no-colon").decode(),
        base64.b64encode(b"\xff\xfe:x").decode(),
    ],
)
def test_malformed_basic_credentials_are_401(emulator: EmulatorServer, token: str) -> None:
    response = get(emulator, "/vodencoding/v1/list_storage", {"Authorization": f"Basic {token}"})
    assert_unauthorized(response, "malformed Basic credentials")


def test_missing_header_is_401(emulator: EmulatorServer) -> None:
    assert_unauthorized(get(emulator, "/vodencoding/v1/list_task", {}), "missing Authorization")


def test_api_auth_failures_keep_http_200(emulator: EmulatorServer) -> None:
    response = get(emulator, "/api/list_storage", {})
    assert (response.status_code, response.json()["code"]) == (200, 1003)
    assert "WWW-Authenticate" not in response.headers


@pytest.mark.parametrize("scheme", ["primary", "legacy"])
def test_signature_schemes_work_on_v1(emulator: EmulatorServer, scheme: str) -> None:
    s = emulator.settings
    with TranscodeClient(
        emulator.base_url,
        s.access_key_id,
        s.access_key_secret,
        scheme=scheme,  # type: ignore[arg-type]
    ) as client:
        response = client.request(
            "GET", "/vodencoding/v1/query_template", {"template_name": "720p"}
        )
        assert response.json()["data"]["template_name"] == "720p"
        assert response.headers["X-Emulator-Auth-Scheme"] == scheme
        storage = {"type": "s3", "region": "r", "bucket": f"signed-{scheme}"}
        response = client.request("POST", "/vodencoding/v1/add_storage", storage)
        assert response.json()["code"] == 0


def test_bad_signature_on_v1_is_401_with_string_to_sign(emulator: EmulatorServer) -> None:
    s = emulator.settings
    with TranscodeClient(emulator.base_url, s.access_key_id, "b" * 32) as client:
        response = client.request("GET", "/vodencoding/v1/list_storage")
    assert_unauthorized(response, "GET\\n\\n\\n")


def test_other_v1_errors_keep_http_200(emulator: EmulatorServer) -> None:
    response = httpx.get(
        f"{emulator.base_url}/vodencoding/v1/query_template",
        params={"template_name": "nope"},
        headers=basic(emulator),
    )
    assert (response.status_code, response.json()["code"]) == (200, 1004)


def test_storage_types_need_no_auth_on_v1(emulator: EmulatorServer) -> None:
    for path in ("/vodencoding/v1/list_storage_type", "/vodencoding/v1/list_storage_types"):
        body = get(emulator, path, {}).json()
        assert body["data"] == {"list": ["s3", "oss"], "num": 2}


def test_unknown_v1_route_is_404_1002(emulator: EmulatorServer) -> None:
    response = get(emulator, "/vodencoding/v1/no_such_op", basic(emulator))
    assert (response.status_code, response.json()["code"]) == (404, 1002)
