"""Response shapes of the /api/ generation, in the reference's field names and types."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from pydantic import ConfigDict, with_config
from sqlmodel import col
from typing_extensions import TypedDict

from emulator.db.models import Storage, Task, Template
from emulator.services import tasks as task_service
from emulator.services.ids import rfc1123, utc_text
from emulator.storage.urls import parse_object_url

UNFINISHED = 946684800  # 2000-01-01 00:00:00 UTC: finish_time of a task that has not ended

Presign = Callable[[str, str], str]


# Each shape is a TypedDict: the builder below is typed as returning it (mypy checks the
# keys and types), and routes name it as their response_model, so OpenAPI documents what the
# body really holds. typing_extensions' TypedDict: pydantic needs it on Python < 3.12.


class StorageId(TypedDict):
    storage_id: str


class TaskId(TypedDict):
    task_id: str


class StorageView(TypedDict):
    bucket: str
    prefix: str
    region: str
    storage_id: str
    type: str
    notify: str


class StorageList(TypedDict):
    list: list[StorageView]
    num: int


@with_config(ConfigDict(extra="allow"))  # v1-only fields ride along as extensions
class TemplateView(TypedDict):
    name: str
    description: str
    format: str
    quality: int
    framerate: int
    resolution: str
    vcodec: str
    acodec: str
    audio_bitrate: int
    logo_path: str
    logo_size: str
    logo_offset: str
    template_id: str
    template_type: str
    create_time: str


class TemplateList(TypedDict):
    list: list[TemplateView]
    num: int


class TaskView(TypedDict):
    src_bitrate: float
    dst_bitrate: float
    create_time: int
    finish_time: int
    input: str
    input_url: str
    output_url: str
    region: str
    status: str
    region_type: str
    bucket: str
    objkey: str
    template_id: str
    task_id: str
    template_name: str
    err_code: int
    err_msg: str
    err_message: str
    progress: float
    duration: float
    width: int
    height: int


class TaskListItem(TypedDict):
    create_time: str
    finish_time: str
    input: str
    message: str
    status: str
    task_id: str


class TaskList(TypedDict):
    list: list[TaskListItem]
    num: int
    total: int


class StorageTypes(TypedDict):
    list: list[str]
    num: int


@with_config(ConfigDict(extra="allow"))  # count_<region>_<codec>_<kind>, duration_<...>
class SummaryRow(TypedDict):
    """One UTC hour of list_summary (SPEC.md section 6); durations in seconds."""

    time_stamp: int
    count_total: int
    count_sd: int
    count_hd: int
    duration_total: int
    duration_sd: int
    duration_hd: int


class Summary(TypedDict):
    list: list[SummaryRow]
    resolution_types: list[str]
    regions: list[str]
    num: int


def storage_view(storage: Storage) -> StorageView:
    return {
        "bucket": storage.bucket,
        "prefix": storage.prefix,
        "region": storage.region,
        "storage_id": storage.storage_id,
        "type": storage.type,
        "notify": storage.notify,
    }


def template_view(template: Template) -> TemplateView:
    view: TemplateView = {
        "name": template.name,
        "description": template.description,
        "format": template.format,
        "quality": round(template.quality),
        "framerate": template.framerate,
        "resolution": template.resolution,
        "vcodec": template.vcodec,
        "acodec": template.acodec,
        "audio_bitrate": template.audio_bitrate,
        "logo_path": template.logo_path,
        "logo_size": template.logo_size,
        "logo_offset": template.logo_offset,
        "template_id": template.template_id,
        "template_type": template.template_type,
        "create_time": rfc1123(template.create_time),
    }
    # The extensions first, so a stored extra never hides a column (cast: TypedDicts have no
    # typed spelling for "and other keys").
    return cast(TemplateView, {**template.extra, **view})


def input_url(task: Task, presign: Presign) -> str:
    located = parse_object_url(task.input)
    return presign(*located) if located else task.input


def output_url(task: Task, presign: Presign) -> str:
    return presign(task.storage["bucket"], task.objkey) if task.status == "success" else ""


def task_view(task: Task, presign: Presign) -> TaskView:
    return {
        "src_bitrate": round(task.src_bitrate, 3),
        "dst_bitrate": round(task.dst_bitrate, 3),
        "create_time": int(task.create_time),
        "finish_time": int(task.finish_time) if task.finish_time is not None else UNFINISHED,
        "input": task.input,
        "input_url": input_url(task, presign),
        "output_url": output_url(task, presign),
        "region": task.storage["region"],
        "status": task.status,
        "region_type": task.storage["type"],
        "bucket": task.storage["bucket"],
        "objkey": task.objkey,
        "template_id": task.template_id,
        "task_id": task.task_id,
        "template_name": task.template_name,
        "err_code": task.err_code,
        "err_msg": task.err_msg,
        "err_message": task.err_msg,
        "progress": round(task.progress, 1),
        "duration": round(task.duration, 3),
        "width": task.width,
        "height": task.height,
    }


# What task_list_item reads: list_task loads only these (services.tasks.page's `columns`).
LIST_ITEM_COLUMNS = (
    col(Task.task_id), col(Task.create_time), col(Task.finish_time), col(Task.input),
    col(Task.status), col(Task.err_msg),
)  # fmt: skip


def task_list_item(task: Task) -> TaskListItem:
    finish = task.finish_time if task.finish_time is not None else UNFINISHED
    return {
        "create_time": utc_text(task.create_time),
        "finish_time": utc_text(finish),
        "input": task.input,
        "message": task_service.message(task),
        "status": task.status,
        "task_id": task.task_id,
    }
