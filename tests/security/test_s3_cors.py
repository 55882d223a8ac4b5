"""CORS on the embedded S3: the dashboard's players may read; no other web page may write.

A request with an `Origin` comes from a browser; one from another origin that would write or
delete is refused before moto sees it. SDKs and curl send no Origin and work as before.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.server import EmulatorServer

EVIL = "http://evil.example"
APP = "http://app.test:3000"  # a developer's own web app, added by EMULATOR_S3_CORS_ORIGINS
BODY = b"the developer's output"


@pytest.fixture(scope="module")
def emulator_settings() -> dict[str, Any]:
    return {"worker_concurrency": 0, "s3_cors_origins": APP}


@pytest.fixture
def s3_url(emulator: EmulatorServer, tmp_path: Path) -> str:
    """The S3 endpoint, with s3://out/k holding BODY."""
    httpx.post(f"{emulator.base_url}/_emulator/reset", timeout=30).raise_for_status()
    objects = emulator.app.state.ctx.objects
    objects.ensure_bucket("out")
    (tmp_path / "k").write_bytes(BODY)
    objects.upload_file(tmp_path / "k", "out", "k")
    return str(emulator.app.state.ctx.s3_endpoint)


def stored(s3_url: str) -> bytes:
    return httpx.get(f"{s3_url}/out/k", timeout=30).raise_for_status().content


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("application/xml")
    assert "<Code>AccessDenied</Code>" in response.text
    assert "access-control-allow-origin" not in response.headers


def preflight(url: str, origin: str, method: str) -> httpx.Response:
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "range",
    }
    return httpx.options(url, headers=headers, timeout=30)


def test_cross_origin_delete_is_refused(s3_url: str) -> None:
    assert_refused(httpx.delete(f"{s3_url}/out/k", headers={"Origin": EVIL}, timeout=30))
    assert stored(s3_url) == BODY


def test_cross_origin_put_is_refused(s3_url: str) -> None:
    response = httpx.put(f"{s3_url}/out/k", content=b"evil", headers={"Origin": EVIL}, timeout=30)
    assert_refused(response)
    assert stored(s3_url) == BODY


def test_cross_origin_bulk_delete_is_refused(s3_url: str) -> None:
    body = b"<Delete><Object><Key>k</Key></Object></Delete>"
    url = f"{s3_url}/out?delete"
    assert_refused(httpx.post(url, content=body, headers={"Origin": EVIL}, timeout=30))
    assert stored(s3_url) == BODY


def test_dashboard_origin_only_reads_by_default(emulator: EmulatorServer, s3_url: str) -> None:
    headers = {"Origin": emulator.base_url}
    assert_refused(httpx.delete(f"{s3_url}/out/k", headers=headers, timeout=30))
    assert_refused(httpx.put(f"{s3_url}/out/k", content=b"x", headers=headers, timeout=30))
    assert stored(s3_url) == BODY


def test_sdk_writes_still_work(emulator: EmulatorServer, s3_url: str, tmp_path: Path) -> None:
    # boto3 sends no Origin: not a browser.
    (tmp_path / "new").write_bytes(b"new")
    emulator.app.state.ctx.objects.upload_file(tmp_path / "new", "out", "k")
    assert stored(s3_url) == b"new"


@pytest.mark.parametrize("method", ["PUT", "DELETE", "POST"])
@pytest.mark.parametrize("origin", [EVIL, "dashboard", APP])
def test_preflight_does_not_allow_writes(
    emulator: EmulatorServer, s3_url: str, method: str, origin: str
) -> None:
    origin = emulator.base_url if origin == "dashboard" else origin
    response = preflight(f"{s3_url}/out/k", origin, method)
    assert response.status_code == 403
    assert "access-control-allow-origin" not in response.headers
    assert method not in response.headers.get("access-control-allow-methods", "")


def test_preflight_from_another_site_allows_nothing(s3_url: str) -> None:
    response = preflight(f"{s3_url}/out/k", EVIL, "GET")
    assert response.status_code == 403
    assert "access-control-allow-origin" not in response.headers


def test_preflight_from_the_dashboard_allows_reads(emulator: EmulatorServer, s3_url: str) -> None:
    response = preflight(f"{s3_url}/out/k", emulator.base_url, "GET")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == emulator.base_url
    assert response.headers["access-control-allow-methods"] == "GET, HEAD"
    assert response.headers["access-control-allow-headers"] == "range"
    assert "Origin" in response.headers["vary"]


def test_presigned_get_plays_from_the_dashboard(emulator: EmulatorServer, s3_url: str) -> None:
    url = emulator.app.state.ctx.presign("out", "k")
    response = httpx.get(url, headers={"Origin": emulator.base_url}, timeout=30)
    assert (response.status_code, response.content) == (200, BODY)
    assert response.headers["access-control-allow-origin"] == emulator.base_url
    assert "Origin" in response.headers["vary"]


@pytest.mark.parametrize("name", ["localhost", "127.0.0.1", "[::1]"])
def test_every_local_dashboard_origin_may_read(
    emulator: EmulatorServer, s3_url: str, name: str
) -> None:
    origin = f"http://{name}:{emulator.settings.port}"
    response = httpx.get(f"{s3_url}/out/k", headers={"Origin": origin}, timeout=30)
    assert response.headers["access-control-allow-origin"] == origin


def test_a_configured_origin_may_read(s3_url: str) -> None:
    response = httpx.get(f"{s3_url}/out/k", headers={"Origin": APP}, timeout=30)
    assert response.headers["access-control-allow-origin"] == APP


def test_another_site_gets_no_cors_grant_for_reads(s3_url: str) -> None:
    # The GET itself can't be stopped (<video src> needs no CORS); its answer stays unreadable.
    for url in (f"{s3_url}/out/k", f"{s3_url}/out", f"{s3_url}/"):
        response = httpx.get(url, headers={"Origin": EVIL}, timeout=30)
        assert "access-control-allow-origin" not in response.headers, url


def test_configured_methods_allow_writes_from_configured_origins() -> None:
    from emulator.config import Settings
    from emulator.origins import SitePolicy

    settings = Settings(s3_cors_origins=f"{APP}, http://other.test", s3_cors_methods="GET,PUT")
    policy = SitePolicy.from_settings(settings)
    assert policy.s3_cors_methods == ("GET", "PUT")
    assert policy.allows_s3_request(APP, "PUT")
    assert policy.allows_s3_request("http://other.test", "PUT")
    assert not policy.allows_s3_request(APP, "DELETE")
    assert not policy.allows_s3_request(EVIL, "PUT")
    assert policy.allows_s3_request(None, "DELETE")  # no Origin: not a browser
