"""Authentication on /api/ routes (SPEC.md section 2), every failure a 1003 naming its cause."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from emulator import signing
from emulator.client import TranscodeClient
from emulator.server import EmulatorServer

pytestmark = pytest.mark.usefixtures("api")


def get(emulator: EmulatorServer, path: str, headers: dict[str, str], **params: str) -> dict:
    response = httpx.get(f"{emulator.base_url}{path}", params=params, headers=headers)
    assert response.status_code == 200
    return response.json()


def signed(emulator: EmulatorServer, method: str, path: str, **kw: object) -> dict[str, str]:
    s = emulator.settings
    return signing.sign_request(
        method=method,
        path=path,
        access_key_id=s.access_key_id,
        access_key_secret=s.access_key_secret,
        **kw,  # type: ignore[arg-type]
    )


def assert_auth_fail(body: dict, *words: str) -> None:
    assert (body["code"], body["msg"]) == (1003, "auth fail")
    for word in words:
        assert word in body["detail"]


def test_signed_request_is_accepted_and_scheme_reported(emulator: EmulatorServer) -> None:
    headers = signed(emulator, "GET", "/api/list_storage")
    response = httpx.get(f"{emulator.base_url}/api/list_storage", headers=headers)
    assert response.json()["code"] == 0
    assert response.headers["X-Emulator-Auth-Scheme"] == "primary"


def test_missing_header(emulator: EmulatorServer) -> None:
    assert_auth_fail(get(emulator, "/api/list_storage", {}), "missing Authorization")


def test_malformed_header(emulator: EmulatorServer) -> None:
    body = get(emulator, "/api/list_storage", {"Authorization": "Visionular AK=x"})
    assert_auth_fail(body, "malformed Authorization")


def test_basic_auth_is_refused_on_api(emulator: EmulatorServer) -> None:
    s = emulator.settings
    token = base64.b64encode(f"{s.access_key_id}:{s.access_key_secret}".encode()).decode()
    body = get(emulator, "/api/list_storage", {"Authorization": f"Basic {token}"})
    assert_auth_fail(body, "malformed Authorization")


def test_unknown_access_key(emulator: EmulatorServer) -> None:
    headers = signing.sign_request(
        method="GET",
        path="/api/list_storage",
        access_key_id="NOSUCHKEY0000000",
        access_key_secret="x" * 32,
    )
    assert_auth_fail(get(emulator, "/api/list_storage", headers), "unknown AccessKeyId")


def test_signature_mismatch_echoes_string_to_sign(emulator: EmulatorServer) -> None:
    headers = signed(emulator, "GET", "/api/list_task", query={"count": "5"})
    body = get(emulator, "/api/list_task", headers, count="6")
    assert_auth_fail(body, "signature mismatch", "\\n/api/list_task?count=6", headers["Date"])


def test_skewed_date(emulator: EmulatorServer) -> None:
    old = signing.http_date(datetime.now(UTC) - timedelta(minutes=16))
    headers = signed(emulator, "GET", "/api/list_storage", date=old)
    assert_auth_fail(get(emulator, "/api/list_storage", headers), "from the server clock")


def test_unparseable_date(emulator: EmulatorServer) -> None:
    headers = signed(emulator, "GET", "/api/list_storage", date="yesterday")
    assert_auth_fail(get(emulator, "/api/list_storage", headers), "unparseable Date")


def test_missing_date_with_primary_only(tmp_path_factory: pytest.TempPathFactory) -> None:
    from tests.conftest import make_settings

    settings = make_settings(
        tmp_path_factory.mktemp("p"), auth_schemes="primary", worker_concurrency=0
    )
    with EmulatorServer(settings) as server:
        headers = signed(server, "GET", "/api/list_storage")
        del headers["Date"]
        assert_auth_fail(get(server, "/api/list_storage", headers), "missing Date")
        legacy = signed(server, "GET", "/api/list_storage", scheme="legacy")
        assert_auth_fail(get(server, "/api/list_storage", legacy), "signature mismatch")


def test_replayed_nonce(emulator: EmulatorServer) -> None:
    headers = signed(emulator, "GET", "/api/list_storage", nonce="nonce-1")
    assert get(emulator, "/api/list_storage", headers)["code"] == 0
    assert_auth_fail(get(emulator, "/api/list_storage", headers), "replay")


def test_legacy_scheme_without_date(emulator: EmulatorServer) -> None:
    headers = signed(
        emulator,
        "GET",
        "/api/list_task",
        scheme="legacy",
        query={"start_time": "1589386660", "end_time": "1589473060"},
    )
    del headers["Date"]
    response = httpx.get(
        f"{emulator.base_url}/api/list_task",
        headers=headers,
        params={"start_time": "1589386660", "end_time": "1589473060"},
    )
    assert response.json()["code"] == 0
    assert response.headers["X-Emulator-Auth-Scheme"] == "legacy"


def test_legacy_hex_signature_and_no_trailing_ampersand(emulator: EmulatorServer) -> None:
    s = emulator.settings
    sts = "GET&/api/list_storage"
    hex_sig = signing.hmac_sha1(s.access_key_secret, sts).hex()
    headers = {"Authorization": signing.authorization(s.access_key_id, hex_sig)}
    assert get(emulator, "/api/list_storage", headers)["code"] == 0


def test_legacy_post_body(api: TranscodeClient, emulator: EmulatorServer) -> None:
    legacy = TranscodeClient(
        emulator.base_url, api.access_key_id, api.access_key_secret, scheme="legacy"
    )
    with legacy:
        data = legacy.call("POST", "/api/add_template", {"name": "legacy", "quality": 6})
    assert data["quality"] == 6


def test_content_type_with_charset_may_be_signed(emulator: EmulatorServer) -> None:
    s = emulator.settings
    body = b'{"name":"charset"}'
    date = signing.http_date()
    sts = signing.primary_string_to_sign(
        method="POST",
        body=body,
        content_type="application/json; charset=utf-8",
        date=date,
        headers=[],
        resource="/api/add_template",
    )
    response = httpx.post(
        f"{emulator.base_url}/api/add_template",
        content=body,
        headers={
            "Date": date,
            "Content-Type": "application/json; charset=utf-8",
            "Authorization": signing.authorization(
                s.access_key_id, signing.signature(s.access_key_secret, sts)
            ),
        },
    )
    assert response.json()["code"] == 0


def test_url_encoded_query_values_may_be_signed_as_sent(emulator: EmulatorServer) -> None:
    s = emulator.settings
    date = signing.http_date()
    sts = signing.primary_string_to_sign(
        method="GET",
        body=b"",
        content_type="",
        date=date,
        headers=[],
        resource="/api/query_template?name=a%20b",
    )
    headers = {
        "Date": date,
        "Authorization": signing.authorization(
            s.access_key_id, signing.signature(s.access_key_secret, sts)
        ),
    }
    response = httpx.get(f"{emulator.base_url}/api/query_template?name=a%20b", headers=headers)
    assert response.json()["code"] == 1004  # authenticated; the template does not exist


def test_storage_types_need_no_auth(emulator: EmulatorServer) -> None:
    for path in ("/api/list_storage_type", "/api/list_storage_types"):
        body = get(emulator, path, {})
        assert body["data"] == {"list": ["s3", "oss"], "num": 2}


def test_auth_off_accepts_unsigned(tmp_path_factory: pytest.TempPathFactory) -> None:
    from tests.conftest import make_settings

    settings = make_settings(tmp_path_factory.mktemp("off"), auth="off", worker_concurrency=0)
    with EmulatorServer(settings) as server:
        assert get(server, "/api/list_storage", {})["code"] == 0
