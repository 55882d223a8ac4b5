"""Typed results of the Python client: the reference's response tables as pydantic models.

They are lenient on purpose (unknown fields kept, most fields defaulted) so the client reads
the real service's responses as well as the emulator's.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

FINAL_STATUSES = ("success", "fail")
# query_task's statuses, in their order (the emulator's state machine: emulator.db.tasks).
STATUSES = ("pending", "downloading", "running", "uploading", *FINAL_STATUSES)


class Result(BaseModel):
    model_config = ConfigDict(extra="allow")


class StorageCreated(Result):
    storage_id: str


class Storage(Result):
    storage_id: str
    bucket: str
    prefix: str = ""
    region: str = ""
    type: str = ""


class StorageList(Result):
    list: list[Storage]
    num: int


class StorageTypes(Result):
    list: list[str]
    num: int


class Template(Result):
    name: str
    description: str = ""
    format: str = "mp4"
    quality: int = 5
    framerate: int = 0
    resolution: str = ""
    vcodec: str = "h264"
    acodec: str = "aac"
    audio_bitrate: int | None = None
    logo_path: str = ""
    logo_size: str = ""
    logo_offset: str = ""
    template_id: str | None = None
    template_type: str | None = None
    create_time: str | None = None


class TemplateList(Result):
    list: list[Template]
    num: int


class TaskCreated(Result):
    task_id: str


class Task(Result):
    """query_task's data. err_msg and err_message carry the same text (the reference uses both)."""

    task_id: str
    status: str
    src_bitrate: float = 0
    dst_bitrate: float = 0
    create_time: int = 0
    finish_time: int = 0
    input: str = ""
    input_url: str = ""
    output_url: str = ""
    region: str = ""
    region_type: str = ""
    bucket: str = ""
    objkey: str = ""
    template_id: str = ""
    template_name: str = ""
    err_code: int = 0
    err_msg: str = ""
    err_message: str = ""

    @model_validator(mode="before")
    @classmethod
    def _one_message(cls, data: Any) -> Any:
        if isinstance(data, dict):
            text = data.get("err_msg") or data.get("err_message") or ""
            data = {**data, "err_msg": text, "err_message": text}
        return data

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def succeeded(self) -> bool:
        return self.status == "success"


class TaskListItem(Result):
    task_id: str
    status: str
    create_time: str = ""
    finish_time: str = ""
    input: str = ""
    message: str = ""


class TaskList(Result):
    list: list[TaskListItem]
    num: int
    total: int = 0


class SummaryBucket(Result):
    """One hour: count_total, count_sd, ... plus count_<region>_<codec>_<sd|hd> extras."""

    time_stamp: int
    count_total: int = 0
    count_sd: int = 0
    count_hd: int = 0
    duration_total: int = 0
    duration_sd: int = 0
    duration_hd: int = 0

    def counters(self) -> dict[str, int]:
        """Every count_* and duration_* field, the per-region ones included."""
        return {k: int(v) for k, v in self.model_dump().items() if k != "time_stamp"}


class Summary(Result):
    # `list` last: in a class body the field's name shadows the builtin for later annotations.
    resolution_types: list[str] = ["sd", "hd"]
    regions: list[str] = []
    num: int = 0
    list: list[SummaryBucket]
