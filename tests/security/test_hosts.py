"""The Host allow-list: a DNS-rebinding page (Host: attacker.example) is refused on every port.

Every request goes to 127.0.0.1; only the Host header names another host.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.server import EmulatorServer
from tests.conftest import make_settings

FOREIGN_HOST = "attacker.example"
API_PATHS = [
    "/api/list_storage",
    "/vodencoding/v1/list_storage",
    "/_emulator/health",
    "/_emulator/reset",
    "/_emulator/ui",
    "/docs",
]
LOCAL_HOSTS = ["localhost", "127.0.0.1", "[::1]", "LOCALHOST", "localhost."]


@pytest.fixture(scope="module")
def emulator_settings() -> dict[str, Any]:
    return {"worker_concurrency": 0, "allowed_hosts": "emulator-test, 192.0.2.7"}


@pytest.fixture
def s3_url(emulator: EmulatorServer) -> str:
    httpx.post(f"{emulator.base_url}/_emulator/reset", timeout=30).raise_for_status()
    emulator.app.state.ctx.objects.ensure_bucket("out")
    return str(emulator.app.state.ctx.s3_endpoint)


def get(url: str, host: str, method: str = "GET") -> httpx.Response:
    return httpx.request(method, url, headers={"Host": host}, timeout=30)


def with_port(host: str, url: str) -> str:
    return f"{host}:{httpx.URL(url).port}"


@pytest.mark.parametrize("path", API_PATHS)
def test_foreign_host_is_refused_on_the_api_port(emulator: EmulatorServer, path: str) -> None:
    url = f"{emulator.base_url}{path}"
    response = get(url, with_port(FOREIGN_HOST, url))
    assert response.status_code == 403, response.text
    body = response.json()
    assert (body["code"], body["msg"], body["data"]) == (1003, "auth fail", None)
    assert body["request_id"]
    assert "EMULATOR_ALLOWED_HOSTS" in body["detail"]
    assert FOREIGN_HOST in body["detail"]


def test_foreign_host_post_is_refused_before_it_runs(emulator: EmulatorServer) -> None:
    emulator.app.state.ctx.objects.ensure_bucket("kept")
    url = f"{emulator.base_url}/_emulator/reset"
    assert get(url, FOREIGN_HOST, "POST").status_code == 403
    assert emulator.app.state.ctx.objects.bucket_exists("kept")


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_foreign_host_is_refused_on_the_s3_port(s3_url: str, method: str) -> None:
    response = get(f"{s3_url}/out", with_port(FOREIGN_HOST, s3_url), method)
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("application/xml")
    assert "<Code>AccessDenied</Code>" in response.text
    assert "EMULATOR_ALLOWED_HOSTS" in response.text


def test_foreign_host_cannot_delete_a_bucket(emulator: EmulatorServer, s3_url: str) -> None:
    # moto reads a dotted Host as virtual-host style: this names bucket `out`.
    get(f"{s3_url}/", f"out.{FOREIGN_HOST}", "DELETE")
    assert emulator.app.state.ctx.objects.bucket_exists("out")


@pytest.mark.parametrize("host", LOCAL_HOSTS)
def test_local_names_work_on_the_api_port(emulator: EmulatorServer, host: str) -> None:
    url = f"{emulator.base_url}/_emulator/health"
    assert get(url, with_port(host, url)).status_code == 200


@pytest.mark.parametrize("host", LOCAL_HOSTS)
def test_local_names_work_on_the_s3_port(s3_url: str, host: str) -> None:
    assert get(f"{s3_url}/out", with_port(host, s3_url)).status_code == 200


def test_the_port_does_not_matter(emulator: EmulatorServer, s3_url: str) -> None:
    assert get(f"{emulator.base_url}/_emulator/health", "localhost:1234").status_code == 200
    assert get(f"{s3_url}/out", "127.0.0.1:1234").status_code == 200


def test_virtual_host_style_bucket_on_the_s3_port(s3_url: str) -> None:
    response = get(f"{s3_url}/", with_port("out.localhost", s3_url))
    assert response.status_code == 200
    assert "<ListBucketResult" in response.text


def test_subdomains_are_for_the_s3_port_only(emulator: EmulatorServer) -> None:
    url = f"{emulator.base_url}/_emulator/health"
    assert get(url, with_port("out.localhost", url)).status_code == 403


@pytest.mark.parametrize("host", ["emulator-test", "192.0.2.7"])
def test_allowed_hosts_adds_names(emulator: EmulatorServer, s3_url: str, host: str) -> None:
    assert get(f"{emulator.base_url}/_emulator/health", host).status_code == 200
    assert get(f"{s3_url}/out", host).status_code == 200


def test_allowed_hosts_subdomains_on_the_s3_port(s3_url: str) -> None:
    assert get(f"{s3_url}/", "out.emulator-test").status_code == 200


@pytest.fixture
def star(tmp_path: Path, emulator: EmulatorServer) -> Iterator[EmulatorServer]:
    """An emulator with EMULATOR_ALLOWED_HOSTS=* (its objects in the module emulator's S3:
    moto's state is per process, so a second embedded S3 would replace the first one's)."""
    settings = make_settings(
        tmp_path,
        worker_concurrency=0,
        allowed_hosts="*",
        s3_endpoint_url=str(emulator.app.state.ctx.s3_endpoint),
    )
    with EmulatorServer(settings) as server:
        yield server


def test_star_turns_the_check_off(star: EmulatorServer) -> None:
    assert get(f"{star.base_url}/_emulator/health", FOREIGN_HOST).status_code == 200


def test_star_turns_the_check_off_on_the_s3_port() -> None:
    from emulator.config import Settings
    from emulator.origins import SitePolicy

    policy = SitePolicy.from_settings(Settings(allowed_hosts="*"))
    assert policy.allows_host(FOREIGN_HOST, s3=True)
    assert policy.allows_host(FOREIGN_HOST, s3=False)


def test_public_urls_and_a_specific_bind_address_are_allowed() -> None:
    from emulator.config import Settings
    from emulator.origins import SitePolicy

    settings = Settings(
        host="10.0.0.5",
        public_url="https://emulator.example.com/base",
        public_s3_url="http://media.example.com:9000",
    )
    policy = SitePolicy.from_settings(settings)
    for host in ("10.0.0.5:8080", "emulator.example.com", "media.example.com:9000"):
        assert policy.allows_host(host, s3=False), host
    assert policy.allows_host("bucket.media.example.com", s3=True)
    assert not policy.allows_host("bucket.media.example.com", s3=False)
    assert not policy.allows_host("example.com", s3=True)
    assert not policy.allows_host("evilemulator.example.com", s3=True)


def test_a_wildcard_bind_address_adds_nothing() -> None:
    from emulator.config import Settings
    from emulator.origins import SitePolicy

    for bind in ("0.0.0.0", "::", ""):
        policy = SitePolicy.from_settings(Settings(host=bind))
        assert not policy.allows_host("0.0.0.0", s3=False)
        assert not policy.allows_host(FOREIGN_HOST, s3=False)
