"""Snapshots where they are not supported (PostgreSQL, an external S3), and the control rules."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from emulator.control_client import ControlClient
from emulator.errors import OperationFail
from emulator.server import EmulatorServer
from tests.conftest import make_settings
from tests.scale.pg import fresh_database


@pytest.fixture
def pg_emulator(tmp_path: Path) -> Iterator[EmulatorServer]:
    with fresh_database("emulator_snapshots") as url:
        settings = make_settings(tmp_path, database_url=url, worker_concurrency=0)
        with EmulatorServer(settings) as server:
            yield server


def test_postgresql_is_refused_naming_it(pg_emulator: EmulatorServer) -> None:
    with ControlClient(pg_emulator.base_url) as control:
        with pytest.raises(OperationFail, match="PostgreSQL database"):
            control.save_snapshot("baseline")
        with pytest.raises(OperationFail, match="EMULATOR_DATABASE_URL"):
            control.restore_snapshot("baseline")
        assert control.list_snapshots() == []
    response = httpx.post(f"{pg_emulator.base_url}/_emulator/snapshots", json={"name": "b"})
    assert response.status_code == 409


def test_an_external_s3_is_refused_naming_it(emulator: EmulatorServer, tmp_path: Path) -> None:
    # This module's emulator serves as the external S3 of a second one.
    endpoint = emulator.app.state.ctx.s3_endpoint
    settings = make_settings(tmp_path, s3_endpoint_url=endpoint, worker_concurrency=0)
    with EmulatorServer(settings) as other, ControlClient(other.base_url) as control:
        with pytest.raises(OperationFail, match="EMULATOR_S3_ENDPOINT_URL"):
            control.save_snapshot("baseline")
        with pytest.raises(OperationFail, match="external S3"):
            control.restore_snapshot("baseline")


@pytest.fixture
def token_emulator(tmp_path: Path) -> Iterator[EmulatorServer]:
    settings = make_settings(tmp_path, control_token="t0ken", worker_concurrency=0)
    with EmulatorServer(settings) as server:
        yield server


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/snapshots"),
        ("POST", "/snapshots"),
        ("POST", "/snapshots/x/restore"),
        ("DELETE", "/snapshots/x"),
    ],
)
def test_snapshot_routes_need_the_token(
    token_emulator: EmulatorServer, method: str, path: str
) -> None:
    url = f"{token_emulator.base_url}/_emulator{path}"
    assert httpx.request(method, url, json={"name": "x"}).status_code == 401
    with ControlClient(token_emulator.base_url, token="t0ken") as control:
        control.save_snapshot("x")
        assert [s.name for s in control.list_snapshots()] == ["x"]


def test_snapshot_routes_are_absent_with_the_control_api_off(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, control="off", worker_concurrency=0)
    with EmulatorServer(settings) as server:
        url = f"{server.base_url}/_emulator/snapshots"
        assert httpx.get(url).status_code == 404
        assert httpx.post(url, json={"name": "x"}).status_code == 404
        assert httpx.post(f"{url}/x/restore").status_code == 404
