"""The request log keeps truncated, masked values within a memory budget."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from emulator.control_client import ControlClient
from emulator.server import EmulatorServer
from emulator.services.requestlog import TRUNCATED, RequestLog

BUDGET = 64 * 1024


@pytest.fixture(scope="module")
def emulator_settings() -> dict[str, Any]:
    return {"worker_concurrency": 0, "request_log_bytes": BUDGET}


@pytest.fixture
def control(emulator: EmulatorServer) -> Iterator[ControlClient]:
    httpx.post(f"{emulator.base_url}/_emulator/reset", timeout=30).raise_for_status()
    with ControlClient(emulator.base_url) as client:
        yield client


def request_log(emulator: EmulatorServer) -> RequestLog:
    log: RequestLog = emulator.app.state.ctx.request_log
    return log


def test_a_large_header_and_body_are_kept_truncated_and_masked(
    emulator: EmulatorServer, control: ControlClient
) -> None:
    authorization = f"Visionular AccessKeyId={'K' * 20 * 1024}, Signature=SIGNATUREVALUE"
    body = b'{"storage_sk": "SKSECRETVALUE", "pad": "' + b"p" * 200_000 + b'"}'
    httpx.post(
        f"{emulator.base_url}/api/add_storage",
        content=body,
        headers={"Authorization": authorization, "Content-Type": "application/json"},
        timeout=30,
    )
    [entry] = control.requests()
    assert entry.authorization is not None
    assert entry.authorization.endswith(TRUNCATED)
    assert len(entry.authorization) <= 1024 + len(TRUNCATED)
    assert entry.body is not None
    assert entry.body.startswith('{"storage_sk": "***"')
    assert entry.body.endswith(TRUNCATED)
    assert len(entry.body) <= 4096 + len(TRUNCATED)
    raw = control.send("GET", "/requests").text
    assert "SKSECRETVALUE" not in raw and "SIGNATUREVALUE" not in raw


def test_a_bearer_token_is_masked_whatever_its_length(
    emulator: EmulatorServer, control: ControlClient
) -> None:
    token = "T" * 20 * 1024
    httpx.get(
        f"{emulator.base_url}/api/query_task",
        params={"task_id": "x"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    [entry] = control.requests()
    assert entry.authorization == "Bearer ***"


def test_many_requests_stay_within_the_byte_budget(
    emulator: EmulatorServer, control: ControlClient
) -> None:
    with httpx.Client(base_url=emulator.base_url, timeout=30) as client:
        for i in range(100):
            client.post(
                "/api/add_template",
                content=b'{"name": "t%03d", "pad": "%s"}' % (i, b"p" * 8000),
                headers={"Authorization": "Visionular " + "A" * 8000},
            )
    log = request_log(emulator)
    assert 0 < log.bytes_kept <= BUDGET
    entries = control.requests(limit=1000)
    assert 1 < len(entries) < 100
    assert entries[0].body is not None and entries[0].body.startswith('{"name": "t099"')
