"""The tables. Times are unix seconds (float); vendor formats are produced at the edge."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Column, Index, event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapper
from sqlmodel import Field, SQLModel


class AccessKey(SQLModel, table=True):
    __tablename__ = "access_keys"

    access_key_id: str = Field(primary_key=True, max_length=16)
    access_key_secret: str = Field(max_length=32)
    enabled: bool = True
    created_at: float
    # The configured key (EMULATOR_ACCESS_KEY_ID) is re-synced at every start.
    configured: bool = False


class Storage(SQLModel, table=True):
    __tablename__ = "storages"

    storage_id: str = Field(primary_key=True, max_length=16)
    type: str
    region: str
    bucket: str
    prefix: str = ""
    storage_ak: str = ""
    storage_sk: str = ""
    notify: str = ""
    extra: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_time: float


class Template(SQLModel, table=True):
    __tablename__ = "templates"

    template_id: str = Field(primary_key=True, max_length=32)
    name: str = Field(unique=True, max_length=64)
    template_type: str = "custom"  # "built-in" | "custom"
    description: str = ""
    format: str = "mp4"
    quality: float = 5
    framerate: int = 0
    resolution: str = ""
    vcodec: str = "h264"
    acodec: str = "aac"
    audio_bitrate: int = 64000
    logo_path: str = ""
    logo_size: str = ""
    logo_offset: str = ""
    # Fields of the current generation (/vodencoding/v1) that /api/ cannot express.
    extra: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    create_time: float


class Task(SQLModel, table=True):
    __tablename__ = "tasks"
    __table_args__ = (
        # list_task's page: its filters, then its order walked backwards (no sort), status
        # beside it so a status filter never reads the table.
        Index("ix_tasks_listing", "deleted", "create_time", "task_id", "status"),
        # list_task's `total`: the same filters without the task_id, so the COUNT over a
        # window of 100,000 tasks reads half the pages.
        Index("ix_tasks_count", "deleted", "create_time", "status"),
        # list_summary: every column it reads, in its GROUP BY order after the equality
        # filters, so SQLite streams the groups from the index without sorting or reading rows.
        Index(
            "ix_tasks_summary",
            *("status", "deleted", "finish_hour", "region", "vcodec", "height"),
            *("finish_time", "duration"),
        ),
        # A task page lists the tasks retried from it ("retried as ...").
        Index("ix_tasks_retry_of", "retry_of"),
    )

    task_id: str = Field(primary_key=True, max_length=32)
    template_name: str
    template_id: str
    # Snapshots taken at create_task (SPEC.md sections 3 and 4): later edits never reach a task.
    template: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    storage_id: str
    storage: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    input: str
    output: str
    objkey: str
    status: str = Field(default="pending", index=True)
    create_time: float = Field(index=True)  # emulator clock (control API may shift it)
    finish_time: float | None = None  # emulator clock
    # Real-clock stamps of each transition, for stage timings.
    stage_times: dict[str, float] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    err_code: int = 0
    err_msg: str = "success"
    progress: float = 0
    # ffmpeg's own figures while it runs (its -progress stream), for the dashboard's ETA.
    fps: float = 0
    speed: float = 0
    src_bitrate: float = 0
    dst_bitrate: float = 0
    duration: float = 0
    width: int = 0
    height: int = 0
    output_keys: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    media: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    ffmpeg_command: str = ""
    stderr_tail: str = ""
    worker_id: str | None = None
    heartbeat_at: float | None = None
    attempts: int = 0
    # del_task on a task in flight: hidden at once, removed by its worker once ffmpeg stopped.
    deleted: bool = Field(default=False, index=True)
    # list_summary's keys as plain columns, for its index (JSON paths cannot be in one that
    # both backends read without the row): copies of the snapshots' fields and finish_time's
    # UTC hour, kept by _summary_keys on every ORM write. Core inserts must fill them.
    region: str = ""
    vcodec: str = "h264"
    finish_hour: float | None = None
    # The task this one was made from by a retry (the dashboard's Retry); no foreign key:
    # the original may be deleted and the link then names a task that is gone.
    retry_of: str | None = Field(default=None, max_length=32)


def summary_keys(
    *, storage: dict[str, Any], template: dict[str, Any], finish_time: float | None
) -> dict[str, Any]:
    """region, vcodec and finish_hour of a task, as list_summary has always read them."""
    return {
        "region": str(storage.get("region", "")),
        "vcodec": str(template.get("vcodec", "h264")),
        "finish_hour": None if finish_time is None else finish_time // 3600 * 3600,
    }


@event.listens_for(Task, "before_insert")
@event.listens_for(Task, "before_update")
def _summary_keys(_mapper: Mapper[Task], _connection: Connection, task: Task) -> None:
    keys = summary_keys(storage=task.storage, template=task.template, finish_time=task.finish_time)
    for name, value in keys.items():
        setattr(task, name, value)


class KeyValue(SQLModel, table=True):
    """Small shared state every process must see: the clock offset, stage holds, faults."""

    __tablename__ = "kv"

    key: str = Field(primary_key=True)
    value: Any = Field(sa_column=Column(JSON, nullable=True))


class CallbackDelivery(SQLModel, table=True):
    """One task-end callback to a storage's `notify` URL, retried until delivered (issue 7)."""

    __tablename__ = "callback_deliveries"

    id: int | None = Field(default=None, primary_key=True)
    task_id: str = Field(index=True)
    url: str
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    status: str = Field(default="pending", index=True)  # pending | delivered | failed
    attempts: int = 0
    # Real clock. While an attempt is in flight it is pushed ahead by a lease, so a sender
    # that died mid-attempt leaves the delivery to be picked up again after a restart.
    next_attempt_at: float = Field(index=True)
    created_at: float
    finished_at: float | None = None
    # Every attempt: {"time", "status_code", "latency_ms", "error"}.
    history: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )


class Nonce(SQLModel, table=True):
    """An X-Wz-Nonce seen by some API node (shared replay check, services/nonces.py)."""

    __tablename__ = "nonces"

    # As sent, or "sha256:<hex>" of a longer one (index entries stay small).
    nonce: str = Field(primary_key=True, max_length=128)
    # Real clock of the node that saw it; rows older than the Date skew window are pruned.
    seen_at: float = Field(index=True)


class InboxEntry(SQLModel, table=True):
    """One request received by the callback inbox (services/inbox.py), secrets already masked."""

    __tablename__ = "inbox_entries"
    __table_args__ = (Index("ix_inbox_entries_inbox_id", "inbox", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    inbox: str = Field(max_length=64)
    received_at: float  # real clock
    method: str
    headers: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    body: str
    body_encoding: str  # "text" (UTF-8, as received) | "base64"
    size: int  # bytes received
