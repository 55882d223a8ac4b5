"""Injected faults (control API): API errors and latency per route, failing and slowed tasks.

Faults live in the kv table (key "faults") so every process sees them; each is a dict:

    id, kind          "api_error" | "api_latency" | "task_fail" | "task_slow"
    route, method     api kinds: a path or glob ("/api/create_task", "/api/*"); method or null
    code              api_error: the vendor code answered (1000-1006)
    latency_ms        api_latency: added before the route runs
    stage, err_code,  task_fail: the stage the task fails in, and its err_code / err_msg
    err_msg
    delays            task_slow: seconds added to each named stage
    task_id           task kinds: only this task (null: the next tasks claimed)
    remaining, hits   how many more requests/tasks it applies to (null: until cleared); used

Requests and tasks consume faults inside a write transaction, so "the next N" is exact even
with several processes. A request looks for a matching fault in a per-process snapshot that
is re-read at most every WATCH_TTL_S (changes made through this process apply at once).
"""

from __future__ import annotations

import copy
import fnmatch
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from sqlmodel import Session

from emulator.db import state
from emulator.db.engine import Database
from emulator.errors import (
    ERRORS_BY_CODE,
    INPUT_DOWNLOAD_FAILED,
    TRANSCODE_FAILED,
    UPLOAD_FAILED,
    ApiError,
    BadParam,
    EmptyResult,
    TaskFailed,
)
from emulator.services.ids import hex_id

FAULTS_KEY = "faults"
API_KINDS = ("api_error", "api_latency")
TASK_KINDS = ("task_fail", "task_slow")
KINDS = (*API_KINDS, *TASK_KINDS)
TASK_STAGES = ("downloading", "running", "uploading")
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")
WATCH_TTL_S = 0.5

# What a failed stage reports unless the fault names its own err_code and err_msg.
STAGE_FAILURES = {
    "downloading": (INPUT_DOWNLOAD_FAILED, "input download failed"),
    "running": (TRANSCODE_FAILED, "transcoding failed"),
    "uploading": (UPLOAD_FAILED, "upload failed"),
}


def list_all(*, session: Session) -> list[dict[str, Any]]:
    # A copy: the JSON column only sees a change when it is given a new object.
    faults: list[dict[str, Any]] = copy.deepcopy(state.get(session, FAULTS_KEY, []))
    return faults


def add(
    *,
    session: Session,
    kind: str,
    route: str | None = None,
    method: str | None = None,
    code: int | None = None,
    latency_ms: int | None = None,
    stage: str | None = None,
    err_code: int | None = None,
    err_msg: str | None = None,
    delays: dict[str, float] | None = None,
    task_id: str | None = None,
    count: int | None = 1,
) -> dict[str, Any]:
    """Validate and store one fault; returns it with its id."""
    if kind not in KINDS:
        raise BadParam(f"kind: must be one of {', '.join(KINDS)}")
    if count is not None and count < 1:
        raise BadParam("count: must be at least 1 (or null: until cleared)")
    fault: dict[str, Any] = {"id": hex_id(8), "kind": kind}
    if kind in API_KINDS:
        fault |= _api_fields(kind, route=route, method=method, code=code, latency_ms=latency_ms)
    else:
        fault |= _task_fields(
            kind, stage=stage, err_code=err_code, err_msg=err_msg, delays=delays, task_id=task_id
        )
    fault |= {"remaining": count, "hits": 0, "created_at": time.time()}
    state.put(session, FAULTS_KEY, [*list_all(session=session), fault])
    return fault


def _api_fields(
    kind: str, *, route: str | None, method: str | None, code: int | None, latency_ms: int | None
) -> dict[str, Any]:
    if not route:
        raise BadParam("route: required for API faults (a path such as /api/create_task, a glob)")
    # "create_task" is short for "/api/create_task".
    route = route if route.startswith("/") or route == "*" else f"/api/{route}"
    if method is not None and method.upper() not in METHODS:
        raise BadParam(f"method: must be one of {', '.join(METHODS)} (or null: any)")
    fields: dict[str, Any] = {"route": route, "method": method.upper() if method else None}
    if kind == "api_error":
        if code not in ERRORS_BY_CODE:
            raise BadParam(f"code: must be one of {sorted(ERRORS_BY_CODE)}")
        fields["code"] = code
    else:
        if latency_ms is None or not 1 <= latency_ms <= 600_000:
            raise BadParam("latency_ms: required, 1 to 600000")
        fields["latency_ms"] = latency_ms
    return fields


def _task_fields(
    kind: str,
    *,
    stage: str | None,
    err_code: int | None,
    err_msg: str | None,
    delays: dict[str, float] | None,
    task_id: str | None,
) -> dict[str, Any]:
    fields: dict[str, Any] = {"task_id": task_id or None}
    if kind == "task_fail":
        if stage not in TASK_STAGES:
            raise BadParam(f"stage: must be one of {', '.join(TASK_STAGES)}")
        default_code, _ = STAGE_FAILURES[stage]
        if err_code is not None and not 1 <= err_code <= 99_999:
            raise BadParam("err_code: must be 1 to 99999")
        fields |= {"stage": stage, "err_code": err_code or default_code, "err_msg": err_msg}
    else:
        if not delays:
            raise BadParam(f"delays: required, seconds per stage ({', '.join(TASK_STAGES)})")
        unknown = sorted(set(delays) - set(TASK_STAGES))
        if unknown:
            raise BadParam(f"delays: unknown stage(s) {unknown}; use {', '.join(TASK_STAGES)}")
        if any(not 0 <= float(s) <= 3600 for s in delays.values()):
            raise BadParam("delays: each must be 0 to 3600 seconds")
        fields["delays"] = {stage: float(s) for stage, s in delays.items()}
    return fields


def delete(*, session: Session, fault_id: str) -> None:
    faults = list_all(session=session)
    left = [f for f in faults if f["id"] != fault_id]
    if len(left) == len(faults):
        raise EmptyResult(f"fault {fault_id!r} does not exist")
    state.put(session, FAULTS_KEY, left)


def clear(*, session: Session) -> None:
    state.put(session, FAULTS_KEY, [])


def active(faults: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in faults if f["remaining"] is None or f["remaining"] > 0]


def matches_route(fault: dict[str, Any], *, method: str, path: str) -> bool:
    return (
        fault["kind"] in API_KINDS
        and (fault["method"] is None or fault["method"] == method)
        and fnmatch.fnmatchcase(path, fault["route"])
    )


def consume_route(*, session: Session, method: str, path: str) -> list[dict[str, Any]]:
    """Use up the first matching fault of each API kind; returns them (empty: none)."""
    return _consume(session, lambda f: matches_route(f, method=method, path=path), kinds=API_KINDS)


def any_for_tasks(*, session: Session) -> bool:
    """Whether any task fault is left to meet (claims need not consume otherwise)."""
    return any(f["kind"] in TASK_KINDS for f in active(state.get(session, FAULTS_KEY, [])))


def take_for_task(*, session: Session, task_id: str) -> list[dict[str, Any]]:
    """At claim: the faults this task will meet (one of each task kind at most)."""
    return _consume(
        session,
        lambda f: f["kind"] in TASK_KINDS and f["task_id"] in (None, task_id),
        kinds=TASK_KINDS,
    )


def _consume(
    session: Session, wanted: Callable[[dict[str, Any]], bool], *, kinds: Iterable[str]
) -> list[dict[str, Any]]:
    faults = list_all(session=session)
    taken: dict[str, dict[str, Any]] = {}
    # A fault for one task goes before a general one, so a test's targeted fault wins.
    ordered = sorted(active(faults), key=lambda f: f.get("task_id") is None)
    for fault in ordered:
        if fault["kind"] in kinds and fault["kind"] not in taken and wanted(fault):
            taken[fault["kind"]] = fault
    if not taken:
        return []
    for fault in taken.values():
        fault["hits"] += 1
        if fault["remaining"] is not None:
            fault["remaining"] -= 1
    state.put(session, FAULTS_KEY, faults)
    return [dict(f) for f in taken.values()]


def route_error(fault: dict[str, Any], *, method: str, path: str) -> ApiError:
    return ERRORS_BY_CODE[fault["code"]](f"injected fault {fault['id']} on {method} {path}")


def stage_effect(faults: Iterable[dict[str, Any]], stage: str) -> tuple[float, TaskFailed | None]:
    """(seconds to wait, failure to raise) when a task with these faults enters `stage`."""
    delay, failure = 0.0, None
    for fault in faults:
        if fault["kind"] == "task_slow":
            delay += float(fault["delays"].get(stage, 0))
        elif fault["kind"] == "task_fail" and fault["stage"] == stage:
            _, message = STAGE_FAILURES[stage]
            text = fault["err_msg"] or f"{message} (injected fault {fault['id']})"
            failure = TaskFailed(fault["err_code"], text)
    return delay, failure


class FaultWatch:
    """This process's snapshot of the active API faults: requests that match none stay cheap."""

    def __init__(self, db: Database, *, ttl_s: float = WATCH_TTL_S) -> None:
        self._db = db
        self._ttl_s = ttl_s
        self._lock = threading.Lock()
        self._snapshot: list[dict[str, Any]] = []
        self._read_at = float("-inf")

    def might_hit(self, *, method: str, path: str) -> bool:
        if time.monotonic() - self._read_at > self._ttl_s:
            with self._db.read() as session:
                self.update(list_all(session=session))
        return any(matches_route(f, method=method, path=path) for f in self._snapshot)

    def hit(self, *, method: str, path: str) -> list[dict[str, Any]]:
        with self._db.write() as session:
            hits = consume_route(session=session, method=method, path=path)
            self.update(list_all(session=session))
        return hits

    def update(self, faults: list[dict[str, Any]]) -> None:
        with self._lock:
            self._snapshot = [f for f in active(faults) if f["kind"] in API_KINDS]
            self._read_at = time.monotonic()

    def invalidate(self) -> None:
        with self._lock:
            self._read_at = float("-inf")
