"""Injected API faults: error codes and latency for the next N matching requests."""

from __future__ import annotations

import time

import pytest

from emulator.client import TranscodeClient
from emulator.control_client import ControlClient
from emulator.db.engine import Database
from emulator.errors import (
    AuthFail,
    BadParam,
    Duplicated,
    EmptyResult,
    InternalError,
    LackParam,
    OperationFail,
)
from emulator.server import EmulatorServer
from emulator.services import faults


@pytest.mark.parametrize(
    "error", [InternalError, LackParam, BadParam, AuthFail, EmptyResult, OperationFail, Duplicated]
)
def test_error_fault_is_answered_once_then_the_route_works(
    api: TranscodeClient, control: ControlClient, error: type
) -> None:
    fault = control.fail_route("/api/list_storage", error.code)
    with pytest.raises(error, match=f"injected fault {fault.id}") as raised:
        api.list_storage()
    assert raised.value.request_id
    assert api.list_storage().num == 0


def test_internal_error_fault_is_http_500(api: TranscodeClient, control: ControlClient) -> None:
    control.fail_route("list_template", 1000)
    response = api.request("GET", "/api/list_template")
    assert response.status_code == 500
    assert response.json()["code"] == 1000


def test_count_and_hits(api: TranscodeClient, control: ControlClient) -> None:
    fault = control.fail_route("/api/list_storage", 1000, count=2)
    for _ in range(2):
        with pytest.raises(InternalError):
            api.list_storage()
    api.list_storage()
    [seen] = control.list_faults()
    assert (seen.id, seen.remaining, seen.hits) == (fault.id, 0, 2)


def test_unlimited_fault_lasts_until_cleared(api: TranscodeClient, control: ControlClient) -> None:
    control.fail_route("/api/list_storage", 1000, count=None)
    for _ in range(3):
        with pytest.raises(InternalError):
            api.list_storage()
    control.clear_faults()
    assert control.list_faults() == []
    api.list_storage()


def test_glob_and_method_choose_the_requests(api: TranscodeClient, control: ControlClient) -> None:
    control.fail_route("/api/*_template", 1002, method="PUT", count=None)
    api.list_template()  # GET: not matched
    api.add_template("t1")  # POST: not matched
    with pytest.raises(BadParam, match="injected"):
        api.update_template("t1", quality=7)


def test_other_routes_are_untouched(api: TranscodeClient, control: ControlClient) -> None:
    control.fail_route("/api/list_storage", 1000)
    api.list_template()
    with pytest.raises(InternalError):
        api.list_storage()


def test_latency_fault_delays_the_next_request(
    api: TranscodeClient, control: ControlClient
) -> None:
    control.slow_route("/api/list_template", 400)
    started = time.monotonic()
    api.list_template()
    assert time.monotonic() - started >= 0.4
    started = time.monotonic()
    api.list_template()
    assert time.monotonic() - started < 0.4


def test_failed_auth_does_not_use_up_a_fault(api: TranscodeClient, control: ControlClient) -> None:
    control.fail_route("/api/list_storage", 1000)
    assert api.request("GET", "/api/list_storage", sign=False).json()["code"] == 1003
    with pytest.raises(InternalError):
        api.list_storage()


def test_delete_one_fault(api: TranscodeClient, control: ControlClient) -> None:
    first = control.fail_route("/api/list_storage", 1000)
    second = control.slow_route("/api/list_template", 10)
    control.delete_fault(first.id)
    assert [f.id for f in control.list_faults()] == [second.id]
    api.list_storage()
    with pytest.raises(EmptyResult):
        control.delete_fault(first.id)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"kind": "api_error", "code": 1000}, "route"),
        ({"kind": "api_error", "route": "/api/x", "code": 999}, "code"),
        ({"kind": "api_latency", "route": "/api/x"}, "latency_ms"),
        ({"kind": "api_error", "route": "/api/x", "code": 1000, "method": "BREW"}, "method"),
        ({"kind": "task_fail", "stage": "pending"}, "stage"),
        ({"kind": "task_slow", "delays": {"sleeping": 1}}, "delays"),
        ({"kind": "task_slow"}, "delays"),
        ({"kind": "api_error", "route": "/api/x", "code": 1000, "count": 0}, "count"),
        ({"kind": "boom"}, "kind"),
    ],
)
def test_bad_faults_are_400_naming_the_field(
    control: ControlClient, body: dict, words: str
) -> None:
    response = control.send("POST", "/faults", json=body)
    assert response.status_code == 400
    assert words in response.json()["detail"]


def test_reset_clears_faults(api: TranscodeClient, control: ControlClient) -> None:
    control.fail_route("/api/list_storage", 1000)
    control.reset()
    assert control.list_faults() == []
    api.list_storage()


def test_fault_written_by_another_process_applies(
    api: TranscodeClient, emulator: EmulatorServer
) -> None:
    """Faults live in the database; another process's fault is seen within the snapshot TTL."""
    other = Database(emulator.settings.sqlalchemy_url)
    with other.write() as session:
        fault = faults.add(session=session, kind="api_error", route="/api/list_storage", code=1000)
    other.dispose()
    deadline = time.monotonic() + faults.WATCH_TTL_S + 2
    while time.monotonic() < deadline:
        try:
            api.list_storage()
        except InternalError as exc:
            assert fault["id"] in exc.detail
            return
        time.sleep(0.05)
    pytest.fail("the fault was never applied")
