"""The polled reads answered by emulator/api/fast.py are what their FastAPI routes answer.

Each request is sent twice to one emulator, through the fast path and with it switched off
(app.state.fast_reads), and the two answers, request log entries and console lines compared.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from emulator import signing
from emulator.api import fast
from emulator.client import TranscodeClient
from emulator.server import EmulatorServer

NOW = int(time.time())
WINDOW = {"start_time": str(NOW - 60), "end_time": str(NOW + 60)}
V1 = "/vodencoding/v1"

# (path, query, auth, fault): auth "signed", "bad-signature", "basic", "bad-basic" or "none";
# fault None, "error" (an api_error 1005) or "latency" (an api_latency of 30 ms).
Case = tuple[str, dict[str, str], str, str | None]
CASES: list[Case] = [
    ("/api/query_task", {"task_id": "{task_id}"}, "signed", None),
    ("/api/query_task", {}, "signed", None),  # 1001
    ("/api/query_task", {"task_id": "x" * 65}, "signed", None),  # 1002
    ("/api/query_task", {"task_id": "nope"}, "signed", None),  # 1004
    ("/api/query_task", {"task_id": "{task_id}"}, "bad-signature", None),  # 1003
    ("/api/query_task", {"task_id": "{task_id}"}, "none", None),  # 1003
    ("/api/query_task", {"task_id": "{task_id}"}, "signed", "error"),
    ("/api/query_task", {"task_id": "{task_id}"}, "signed", "latency"),
    ("/api/query_task", {}, "signed", "latency"),  # the latency, then 1001
    ("/api/list_task", {**WINDOW, "count": "10"}, "signed", None),
    ("/api/list_task", {"end_time": str(NOW)}, "signed", None),  # 1001
    ("/api/list_task", {"start_time": str(NOW), "end_time": str(NOW - 9)}, "signed", None),
    ("/api/list_task", WINDOW, "signed", "error"),
    ("/api/list_summary", {}, "signed", None),
    ("/api/list_summary", {"start_time": "1", "end_time": "5"}, "signed", None),  # 1002
    ("/api/list_summary", {}, "bad-signature", None),
    ("/api/query_template", {"name": "480p"}, "signed", None),
    ("/api/query_template", {}, "signed", None),
    ("/api/query_template", {"name": "nope"}, "signed", None),
    ("/api/list_template", {}, "signed", None),
    ("/api/list_template", {}, "bad-signature", None),
    ("/api/list_template", {}, "signed", "error"),
    ("/api/list_template", {}, "signed", "latency"),
    ("/api/list_storage", {}, "signed", None),
    ("/api/list_storage", {}, "basic", None),  # Basic is v1's only: 1003
    (f"{V1}/query_task", {"task_id": "{task_id}"}, "basic", None),
    (f"{V1}/query_task", {"task_id": "{task_id}"}, "signed", None),
    (f"{V1}/query_task", {"task_id": "nope"}, "basic", None),
    (f"{V1}/query_task", {"task_id": ""}, "basic", None),  # a zero value: not given, 1001
    (f"{V1}/query_task", {"task_id": "{task_id}"}, "bad-basic", None),  # 401
    (f"{V1}/query_task", {"task_id": "{task_id}"}, "none", None),  # 401
    (f"{V1}/query_task", {"task_id": "{task_id}"}, "bad-signature", None),  # 401
    (f"{V1}/query_task", {"task_id": "{task_id}"}, "basic", "error"),
    (f"{V1}/list_task", {**WINDOW, "limit": "5", "skip": "0"}, "basic", None),
    (f"{V1}/list_task", {"start_time": "12"}, "basic", None),  # 1001
    (f"{V1}/list_task", {"start_time": "123", "end_time": "456"}, "basic", None),  # 1002
    (f"{V1}/list_summary", {}, "basic", None),
    (f"{V1}/list_summary", {"start_time": "1", "end_time": "5"}, "basic", None),
    (f"{V1}/query_template", {"template_name": "480p"}, "basic", None),
    (f"{V1}/query_template", {"name": "480p"}, "basic", None),  # the alias
    (f"{V1}/query_template", {"template_name": "nope"}, "basic", None),
    (f"{V1}/list_template", {}, "basic", None),
    (f"{V1}/list_template", {}, "basic", "latency"),
    (f"{V1}/list_storage", {}, "basic", None),
    (f"{V1}/list_storage", {}, "bad-basic", None),
]
MS = re.compile(r"\d+\.\d ms")


def headers_for(emulator: EmulatorServer, auth: str, path: str, query: dict[str, str]) -> dict:
    s = emulator.settings
    if auth in ("basic", "bad-basic"):
        secret = s.access_key_secret if auth == "basic" else "wrong"
        token = base64.b64encode(f"{s.access_key_id}:{secret}".encode()).decode()
        return {"Authorization": f"Basic {token}"}
    if auth == "none":
        return {}
    # No nonce: the same signed request goes out twice, once on each path.
    headers = signing.sign_request(
        method="GET",
        path=path,
        query=query,
        nonce=False,
        access_key_id=s.access_key_id,
        access_key_secret=s.access_key_secret,
    )
    if auth == "bad-signature":
        headers["Authorization"] = headers["Authorization"][:-4] + "AAAA"
    return headers


def eventually(read: Callable[[], Any], timeout_s: float = 5) -> Any:
    """The request log and the console line are written after the response went out."""
    deadline = time.monotonic() + timeout_s
    while not (value := read()):
        assert time.monotonic() < deadline, "nothing was logged"
        time.sleep(0.01)
    return value


@pytest.fixture
def console(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.INFO, logger="emulator.requests")
    yield caplog


@pytest.fixture
def task_id(api: TranscodeClient, storage_id: str) -> str:
    params = {"template_name": "480p", "input": "http://x/in.mp4", "output": "o.mp4"}
    created: str = api.call("POST", "/api/create_task", {**params, "storage_id": storage_id})[
        "task_id"
    ]
    return created


def answer(
    emulator: EmulatorServer,
    console: pytest.LogCaptureFixture,
    case: Case,
    query: dict[str, str],
    headers: dict[str, str],
) -> dict[str, Any]:
    """One request of `case`, with what the client, the request log and the console saw."""
    path, _, _, fault = case
    with httpx.Client(base_url=emulator.base_url, timeout=10) as http:
        http.delete("/_emulator/requests").raise_for_status()
        fault_id = "no fault"
        if fault is not None:
            kind = {"error": {"code": 1005}, "latency": {"latency_ms": 30}}[fault]
            added = http.post(
                "/_emulator/faults", json={"kind": f"api_{fault}", "route": path, **kind}
            )
            fault_id = added.raise_for_status().json()["id"]
        console.clear()
        started = time.monotonic()
        response = http.get(path, params=query, headers=headers)
        elapsed_ms = (time.monotonic() - started) * 1000
        [entry] = eventually(lambda: http.get("/_emulator/requests").json())
    [line] = eventually(
        lambda: [r for r in console.records if r.name == "emulator.requests" and r.path == path]
    )
    body = response.json()
    assert body.pop("request_id") == response.headers["X-Wz-Request-Id"] == entry["request_id"]
    if fault == "latency":
        assert elapsed_ms >= 30
    for volatile in ("request_id", "time", "latency_ms", "client"):
        entry.pop(volatile)
    return {
        "status": response.status_code,
        "headers": {
            name: response.headers.get(name)
            for name in ("X-Emulator-Auth-Scheme", "WWW-Authenticate", "Content-Type")
        },
        "body": str(body).replace(fault_id, "<fault>"),
        "log": str(entry).replace(fault_id, "<fault>"),
        "console": MS.sub("<ms>", line.getMessage()),
    }


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{c[2]}-{i}" for i, c in enumerate(CASES)])
def test_the_fast_path_answers_as_the_fastapi_route(
    emulator: EmulatorServer,
    console: pytest.LogCaptureFixture,
    task_id: str,
    case: Case,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every request through the fast path runs its guard, whatever it answers.
    read = fast.READS[case[0]]
    guarded: list[str] = []

    def guard(*args: Any) -> Any:
        guarded.append(case[0])
        return read.guard(*args)

    monkeypatch.setitem(fast.READS, case[0], dataclasses.replace(read, guard=guard))
    path, query, auth, _ = case
    query = {k: v.replace("{task_id}", task_id) for k, v in query.items()}
    headers = headers_for(emulator, auth, path, query)
    switch = emulator.app.state.fast_reads
    through_fast = answer(emulator, console, case, query, headers)
    assert guarded == [case[0]]
    switch.on = False
    try:
        routed = answer(emulator, console, case, query, headers)
    finally:
        switch.on = True
    assert guarded == [case[0]]
    assert through_fast == routed


def test_every_fast_read_is_compared() -> None:
    # Each case's FastAPI answer is compared with the fast one, so a fast read without its
    # FastAPI route (no OpenAPI entry either) would fail above with "no route".
    assert {case[0] for case in CASES} == set(fast.READS)


@pytest.mark.parametrize("fast_on", [True, False])
def test_an_unsigned_request_with_a_repeated_parameter_is_an_auth_failure(
    emulator: EmulatorServer, fast_on: bool
) -> None:
    """The signature is checked before the query's shape, on both paths (the fuzzer found the
    fast path answering 1002 here)."""
    switch = emulator.app.state.fast_reads
    switch.on = fast_on
    try:
        response = httpx.get(f"{emulator.base_url}/api/query_template?name=a&name=b", timeout=10)
    finally:
        switch.on = True
    assert response.json()["code"] == 1003
