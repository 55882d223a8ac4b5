"""Cross-site writes to the control surface and the dashboard are refused before they run.

A web page the developer visits can send a plain HTML form to 127.0.0.1; the browser marks it
with `Origin` (and `Sec-Fetch-Site`). Requests without those headers (curl, SDKs, the CLI)
work as before.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from emulator.client import TranscodeClient
from emulator.server import EmulatorServer

EVIL = "http://evil.example"
FOREIGN = [
    pytest.param({"Origin": EVIL}, {"parts": "storages"}, id="form-post"),
    pytest.param({"Origin": EVIL}, None, id="bodyless-post"),
    pytest.param({"Origin": "null"}, None, id="opaque-origin"),
    pytest.param({"Origin": "http://127.0.0.1:1"}, None, id="other-local-port"),
    pytest.param({"Sec-Fetch-Site": "cross-site"}, None, id="sec-fetch-site"),
]


@pytest.fixture(scope="module")
def emulator_settings() -> dict[str, Any]:
    return {"worker_concurrency": 0}


def post(emulator: EmulatorServer, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.post(f"{emulator.base_url}{path}", timeout=30, **kwargs)


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    body = response.json()
    assert (body["code"], body["data"]) == (1003, None)
    assert body["request_id"]
    assert "cross-site" in body["detail"]


def storage_ids(api: TranscodeClient) -> list[str]:
    return [storage.storage_id for storage in api.list_storage().list]


@pytest.mark.parametrize(("headers", "form"), FOREIGN)
def test_cross_site_reset_changes_nothing(
    api: TranscodeClient, emulator: EmulatorServer, headers: dict[str, str], form: Any
) -> None:
    storage = api.add_storage("cn-hz", "s3", "out").storage_id
    assert_refused(post(emulator, "/_emulator/reset", headers=headers, data=form))
    assert storage_ids(api) == [storage]


@pytest.mark.parametrize(("headers", "form"), FOREIGN)
def test_cross_site_key_creation_changes_nothing(
    api: TranscodeClient, emulator: EmulatorServer, headers: dict[str, str], form: Any
) -> None:
    before = api.control.list_keys()
    assert_refused(post(emulator, "/_emulator/keys", headers=headers, data=form))
    assert api.control.list_keys() == before


def test_cross_site_key_deletion_is_refused(api: TranscodeClient, emulator: EmulatorServer) -> None:
    pair = api.control.create_key()
    url = f"{emulator.base_url}/_emulator/keys/{pair.access_key_id}"
    assert_refused(httpx.delete(url, headers={"Origin": EVIL}, timeout=30))
    assert pair.access_key_id in [key.access_key_id for key in api.control.list_keys()]


def test_cross_site_dashboard_form_is_refused(emulator: EmulatorServer) -> None:
    response = post(emulator, "/_emulator/ui/login", headers={"Origin": EVIL}, data={"token": "x"})
    assert_refused(response)


def test_same_origin_reset_works(api: TranscodeClient, emulator: EmulatorServer) -> None:
    api.add_storage("cn-hz", "s3", "out")
    headers = {"Origin": emulator.base_url, "Sec-Fetch-Site": "same-origin"}
    assert post(emulator, "/_emulator/reset", headers=headers).status_code == 200
    assert storage_ids(api) == []


def test_same_origin_by_localhost_works(api: TranscodeClient, emulator: EmulatorServer) -> None:
    api.add_storage("cn-hz", "s3", "out")
    own = f"localhost:{emulator.settings.port}"
    headers = {"Host": own, "Origin": f"http://{own}"}
    assert post(emulator, "/_emulator/reset", headers=headers).status_code == 200
    assert storage_ids(api) == []


def test_reset_without_browser_headers_works(
    api: TranscodeClient, emulator: EmulatorServer
) -> None:
    api.add_storage("cn-hz", "s3", "out")
    assert post(emulator, "/_emulator/reset").status_code == 200
    assert storage_ids(api) == []


def test_cross_site_reads_are_not_refused(emulator: EmulatorServer) -> None:
    # A page can't read the answer without CORS; refusing GETs would break links to the dashboard.
    url = f"{emulator.base_url}/_emulator/health"
    assert httpx.get(url, headers={"Origin": EVIL}, timeout=30).status_code == 200


def test_cross_site_api_call_is_not_a_control_matter(emulator: EmulatorServer) -> None:
    # The vendor API is signed, and a form cannot set Authorization: it is refused as unsigned.
    response = post(emulator, "/api/add_storage", headers={"Origin": EVIL})
    assert (response.status_code, response.json()["code"]) == (200, 1003)
    assert "cross-site" not in response.json()["detail"]
