"""Bodies of the control API, shared by its routes and the Python client (no FastAPI here)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

FaultKind = Literal["api_error", "api_latency", "task_fail", "task_slow"]
TaskStage = Literal["downloading", "running", "uploading"]
HoldStage = Literal["pending", "downloading", "running", "uploading"]


class Model(BaseModel):
    # Newer servers may add fields; older clients keep working.
    model_config = ConfigDict(extra="allow")


class ResetIn(BaseModel):
    parts: list[str] | None = Field(
        None, description="tasks, storages, templates, objects, state (default: all)"
    )


class ResetOut(Model):
    reset: list[str]


class SnapshotIn(BaseModel):
    name: str = Field(description="letters, digits, '-', '_' and '.' (not first), up to 64")


class SnapshotInfo(Model):
    """A saved snapshot (GET /_emulator/snapshots); `bytes` is its size on disk, objects
    hard-linked from the live store counted in full."""

    name: str
    created: float
    tasks: int
    storages: int
    templates: int = Field(description="custom templates (built-ins come with the schema)")
    objects: int
    bytes: int
    revision: str = Field(description="the schema revision it was saved at")


class KeyIn(BaseModel):
    access_key_id: str | None = Field(None, description="16 characters (default: random)")
    access_key_secret: str | None = Field(None, description="32 characters (default: random)")


class KeyInfo(Model):
    access_key_id: str
    enabled: bool
    configured: bool = Field(description="the EMULATOR_ACCESS_KEY_ID pair; cannot be changed")
    created_at: float


class KeyPair(KeyInfo):
    """Only the create call shows a secret."""

    access_key_secret: str


class FaultIn(BaseModel):
    kind: FaultKind
    route: str | None = Field(None, description="api kinds: a path or glob, e.g. /api/create_task")
    method: str | None = Field(None, description="api kinds: only this HTTP method")
    code: int | None = Field(None, description="api_error: the vendor code (1000-1006)")
    latency_ms: int | None = Field(None, description="api_latency: added milliseconds")
    stage: TaskStage | None = Field(None, description="task_fail: the stage it fails in")
    err_code: int | None = Field(None, description="task_fail: default 2001/2003/2004 by stage")
    err_msg: str | None = Field(None, max_length=1024, description="task_fail: the err_msg")
    delays: dict[str, float] | None = Field(None, description="task_slow: seconds per stage")
    task_id: str | None = Field(None, description="task kinds: only this task")
    count: int | None = Field(1, description="how many requests or tasks (null: until cleared)")


class Fault(Model):
    id: str
    kind: FaultKind
    route: str | None = None
    method: str | None = None
    code: int | None = None
    latency_ms: int | None = None
    stage: str | None = None
    err_code: int | None = None
    err_msg: str | None = None
    delays: dict[str, float] | None = None
    task_id: str | None = None
    remaining: int | None = Field(description="uses left (null: until cleared)")
    hits: int
    created_at: float


class HoldIn(BaseModel):
    stage: HoldStage
    task_id: str | None = Field(None, description="only this task (default: every task)")


class Hold(Model):
    stage: str
    task_id: str | None = None


class ClockIn(BaseModel):
    """One of the three, or none to go back to the real clock."""

    offset_s: float | None = Field(None, description="shift the emulator clock by seconds")
    frozen_at: float | None = Field(
        None, ge=0, le=4_102_444_800, description="stop the emulator clock at unix seconds"
    )
    advance_s: float | None = Field(None, description="move the current setting forward")

    @model_validator(mode="after")
    def _one_at_most(self) -> ClockIn:
        given = [name for name, value in self.model_dump().items() if value is not None]
        if len(given) > 1:
            raise ValueError(f"give one of offset_s, frozen_at, advance_s (got {given})")
        return self


class Clock(Model):
    now: float = Field(description="the emulator clock (unix seconds)")
    real_now: float
    offset_s: float | None = None
    frozen_at: float | None = None


class TaskRow(Model):
    """A task as the control API lists it (times in unix seconds on the emulator clock)."""

    task_id: str
    status: str
    template_name: str
    input: str
    bucket: str
    objkey: str
    create_time: float
    finish_time: float | None = None
    progress: float = 0
    err_code: int = 0
    err_msg: str = ""
    attempts: int = 0
    worker_id: str | None = None
    stage_times: dict[str, float] = Field(default_factory=dict)


class RequestEntry(Model):
    request_id: str | None = None
    time: float
    method: str
    path: str
    params: dict[str, Any] = Field(default_factory=dict)
    body: str | None = Field(None, description="a body that is not a JSON object, as text")
    status: int
    code: int | None = None
    latency_ms: float
    signature: dict[str, Any] = Field(
        description="verdict ok|fail|none|off; scheme, access_key_id; detail, string_to_sign"
    )
    authorization: str | None = None
    fault: str | None = Field(None, description="ids of injected faults this request met")
    client: str | None = None
