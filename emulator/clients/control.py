"""Python client of the emulator's control API (/_emulator/): reset, keys, faults, holds, ...

Reach it as `TranscodeClient.control`, or build one alone (the CLI does). With
EMULATOR_CONTROL_TOKEN set on the server, pass `token=` (or set the variable here too).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable
from typing import Any

import httpx
from pydantic import TypeAdapter

from emulator.clients.models import Task
from emulator.control.models import (
    Clock,
    Fault,
    Hold,
    KeyInfo,
    KeyPair,
    RequestEntry,
    SnapshotInfo,
    TaskRow,
)
from emulator.errors import ERRORS_BY_CODE, ApiError, EmptyResult, InternalError

PREFIX = "/_emulator"


class NoLongPoll(Exception):
    """The server offers no task long-poll (the real service, EMULATOR_CONTROL=off, no token)."""


class ControlClient:
    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        http: httpx.Client | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token or os.environ.get("EMULATOR_CONTROL_TOKEN") or None
        self._owns_http = http is None  # TranscodeClient.control shares its client's
        self.http = http or httpx.Client(base_url=self.base_url, timeout=timeout)

    def __repr__(self) -> str:
        return f"ControlClient({self.base_url!r})"

    def close(self) -> None:
        if self._owns_http:
            self.http.close()

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- transport ---------------------------------------------------------------------------

    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return self.http.request(
            method, f"{self.base_url}{PREFIX}{path}", headers=headers, **kwargs
        )

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON answer of a control route; an ApiError subclass for an error status."""
        response = self.send(method, path, **kwargs)
        if response.is_success:
            return response.json() if response.content else None
        raise control_error(response)

    # -- state -------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """GET /_emulator/health (never needs the token); raises while the emulator starts."""
        health: dict[str, Any] = self.call("GET", "/health")
        return health

    def reset(self, parts: Iterable[str] | None = None) -> list[str]:
        """Back to a fresh emulator: tasks, storages, templates, objects, state (or `parts`)."""
        body = {"parts": list(parts)} if parts is not None else None
        reset: list[str] = self.call("POST", "/reset", json=body)["reset"]
        return reset

    # -- snapshots ---------------------------------------------------------------------------

    def save_snapshot(self, name: str) -> SnapshotInfo:
        """Save the whole state (database and embedded-S3 objects) as snapshot `name`."""
        return SnapshotInfo.model_validate(self.call("POST", "/snapshots", json={"name": name}))

    def list_snapshots(self) -> list[SnapshotInfo]:
        return [SnapshotInfo.model_validate(s) for s in self.call("GET", "/snapshots")]

    def restore_snapshot(self, name: str) -> SnapshotInfo:
        """Replace the whole state with snapshot `name` (tasks in flight stop first)."""
        return SnapshotInfo.model_validate(self.call("POST", f"/snapshots/{name}/restore"))

    def delete_snapshot(self, name: str) -> None:
        self.call("DELETE", f"/snapshots/{name}")

    # -- access keys -------------------------------------------------------------------------

    def list_keys(self) -> list[KeyInfo]:
        return [KeyInfo.model_validate(k) for k in self.call("GET", "/keys")]

    def create_key(
        self, access_key_id: str | None = None, access_key_secret: str | None = None
    ) -> KeyPair:
        body = {"access_key_id": access_key_id, "access_key_secret": access_key_secret}
        return KeyPair.model_validate(self.call("POST", "/keys", json=body))

    def disable_key(self, access_key_id: str) -> KeyInfo:
        return KeyInfo.model_validate(self.call("POST", f"/keys/{access_key_id}/disable"))

    def enable_key(self, access_key_id: str) -> KeyInfo:
        return KeyInfo.model_validate(self.call("POST", f"/keys/{access_key_id}/enable"))

    def delete_key(self, access_key_id: str) -> None:
        self.call("DELETE", f"/keys/{access_key_id}")

    # -- faults ------------------------------------------------------------------------------

    def add_fault(self, kind: str, **fields: Any) -> Fault:
        return Fault.model_validate(self.call("POST", "/faults", json={"kind": kind, **fields}))

    def fail_route(
        self, route: str, code: int, *, count: int | None = 1, method: str | None = None
    ) -> Fault:
        """The next `count` requests to `route` (path or glob) answer `code` (1000-1006)."""
        return self.add_fault("api_error", route=route, code=code, count=count, method=method)

    def slow_route(
        self, route: str, latency_ms: int, *, count: int | None = 1, method: str | None = None
    ) -> Fault:
        return self.add_fault(
            "api_latency", route=route, latency_ms=latency_ms, count=count, method=method
        )

    def fail_task(
        self,
        stage: str,
        err_code: int | None = None,
        *,
        err_msg: str | None = None,
        count: int | None = 1,
        task_id: str | None = None,
    ) -> Fault:
        """The next `count` tasks claimed (or `task_id`) fail in `stage` with err_code."""
        return self.add_fault(
            "task_fail",
            stage=stage,
            err_code=err_code,
            err_msg=err_msg,
            count=count,
            task_id=task_id,
        )

    def slow_task(
        self, *, count: int | None = 1, task_id: str | None = None, **seconds: float
    ) -> Fault:
        """Add seconds to stages of the next tasks: `slow_task(running=2.0)`."""
        return self.add_fault("task_slow", delays=seconds, count=count, task_id=task_id)

    def list_faults(self) -> list[Fault]:
        return [Fault.model_validate(f) for f in self.call("GET", "/faults")]

    def delete_fault(self, fault_id: str) -> None:
        self.call("DELETE", f"/faults/{fault_id}")

    def clear_faults(self) -> None:
        self.call("DELETE", "/faults")

    # -- holds and tasks ---------------------------------------------------------------------

    def hold(self, stage: str, task_id: str | None = None) -> HeldStage:
        """Park tasks (or one) in `stage` until released; usable as a context manager."""
        self.call("POST", "/holds", json={"stage": stage, "task_id": task_id})
        return HeldStage(self, stage, task_id)

    def list_holds(self) -> list[Hold]:
        return [Hold.model_validate(h) for h in self.call("GET", "/holds")]

    def release(self, stage: str | None = None, task_id: str | None = None) -> list[Hold]:
        """Release matching holds (all without arguments); returns the holds left."""
        params = {k: v for k, v in {"stage": stage, "task_id": task_id}.items() if v}
        return [Hold.model_validate(h) for h in self.call("DELETE", "/holds", params=params)]

    def recent_tasks(self, limit: int = 20, status: str | None = None) -> list[TaskRow]:
        params: dict[str, Any] = {"limit": limit, **({"status": status} if status else {})}
        return [TaskRow.model_validate(t) for t in self.call("GET", "/tasks", params=params)]

    def wait_task(self, task_id: str, timeout: float = 30, status: Iterable[str] = ()) -> Task:
        """Long-poll: the task once final or in `status`, or as it is after `timeout` s."""
        response = self.send(
            "GET",
            f"/tasks/{task_id}/wait",
            params={"timeout": timeout, "status": ",".join(sorted(status))},
            timeout=timeout + 30,
        )
        if response.is_success:
            return Task.model_validate(response.json())
        error = control_error(response)
        if isinstance(error, EmptyResult) or response.status_code == 400:
            raise error
        raise NoLongPoll(str(error))

    # -- clock and request log ---------------------------------------------------------------

    def clock(self) -> Clock:
        return Clock.model_validate(self.call("GET", "/clock"))

    def set_clock(
        self,
        *,
        offset_s: float | None = None,
        frozen_at: float | None = None,
        advance_s: float | None = None,
    ) -> Clock:
        body = {"offset_s": offset_s, "frozen_at": frozen_at, "advance_s": advance_s}
        clean = {k: v for k, v in body.items() if v is not None}
        return Clock.model_validate(self.call("POST", "/clock", json=clean))

    def clear_clock(self) -> Clock:
        return Clock.model_validate(self.call("DELETE", "/clock"))

    def requests(
        self,
        path: str | None = None,
        code: int | None = None,
        *,
        method: str | None = None,
        limit: int = 100,
    ) -> list[RequestEntry]:
        """The request log, newest first (path: a path or glob; "create_task" works too)."""
        given = {"path": path, "code": code, "method": method, "limit": limit}
        params = {k: v for k, v in given.items() if v is not None}
        entries = self.call("GET", "/requests", params=params)
        return TypeAdapter(list[RequestEntry]).validate_python(entries)

    def clear_requests(self) -> None:
        self.call("DELETE", "/requests")

    # -- callbacks and the inbox -------------------------------------------------------------

    def callbacks(self, task_id: str) -> list[dict[str, Any]]:
        """The task's callback deliveries, oldest first, each with its attempts' history."""
        deliveries: list[dict[str, Any]] = self.call("GET", f"/tasks/{task_id}/callbacks")[
            "deliveries"
        ]
        return deliveries

    def redeliver(self, task_id: str, delivery_id: int) -> dict[str, Any]:
        """Send a delivery again now; the delivery as the log shows it, with the new attempt."""
        delivery: dict[str, Any] = self.call(
            "POST", f"/tasks/{task_id}/callbacks/{delivery_id}/redeliver"
        )
        return delivery

    def inbox_url(self, name: str) -> str:
        """Where to point a storage's `notify` so callbacks land in inbox `name`."""
        return f"{self.base_url}{PREFIX}/inbox/{name}"

    def inbox(self, name: str, limit: int | None = None) -> list[dict[str, Any]]:
        """Requests received by inbox `name`, newest first (headers and bodies masked)."""
        params = {"limit": limit} if limit is not None else None
        entries: list[dict[str, Any]] = self.call("GET", f"/inbox/{name}", params=params)["entries"]
        return entries

    def clear_inbox(self, name: str) -> int:
        """Forget inbox `name`'s requests; how many there were."""
        cleared: int = self.call("DELETE", f"/inbox/{name}")["cleared"]
        return cleared

    def wait_for_callback(
        self, task_id: str, *, inbox: str, timeout: float = 60.0
    ) -> dict[str, Any]:
        """The callback payload inbox `inbox` received for `task_id`; else CallbackTimeout.

        Long-polls the task until it ends (no polling delay), then polls the inbox briefly:
        the deliverer sends within a fraction of a second of the task's end.
        """
        deadline = time.monotonic() + timeout
        with contextlib.suppress(NoLongPoll, EmptyResult):
            self.wait_task(task_id, timeout=max(0.0, min(timeout, 600.0)))
        pause = 0.02
        while True:
            for entry in self.inbox(inbox):
                if _names_task(entry.get("json"), task_id):
                    payload: dict[str, Any] = entry["json"]
                    return payload
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CallbackTimeout(task_id, inbox, timeout)
            time.sleep(min(pause, remaining))
            pause = min(pause * 2, 0.25)


class CallbackTimeout(TimeoutError):
    """No callback for the task reached the inbox in time."""

    def __init__(self, task_id: str, inbox: str, timeout: float) -> None:
        super().__init__(
            f"no callback for task {task_id} reached inbox {inbox!r} within {timeout:g} s"
            " (is the storage's notify the inbox's URL? see ControlClient.callbacks(task_id))"
        )
        self.task_id = task_id
        self.inbox = inbox
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"CallbackTimeout({self.task_id!r}, {self.inbox!r}, {self.timeout!r})"


def _names_task(body: Any, task_id: str) -> bool:
    """Whether a callback payload ({"data": [{"task_id": ...}]}) is about `task_id`."""
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        return False
    return any(isinstance(item, dict) and item.get("task_id") == task_id for item in body["data"])


class HeldStage:
    """A hold placed by ControlClient.hold(); release() (or leaving a `with`) lets tasks go."""

    def __init__(self, control: ControlClient, stage: str, task_id: str | None) -> None:
        self.control = control
        self.stage = stage
        self.task_id = task_id

    def release(self) -> None:
        self.control.release(stage=self.stage, task_id=self.task_id)

    def __enter__(self) -> HeldStage:
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


def control_error(response: httpx.Response) -> ApiError:
    """The ApiError subclass a control error body names (or InternalError for other bodies)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or "code" not in body:
        text = response.text[:200]
        return InternalError(f"HTTP {response.status_code} from {response.url.path}: {text}")
    cls = ERRORS_BY_CODE.get(body["code"], ApiError)
    return cls(
        body.get("detail") or body.get("msg", ""),
        request_id=body.get("request_id") or response.headers.get("X-Wz-Request-Id"),
    )
