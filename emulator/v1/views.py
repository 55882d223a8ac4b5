"""Response shapes of the /vodencoding/v1 generation (the vendor's Go SDK names), built from the
same rows as the /api/ views."""

from __future__ import annotations

from typing import Any, cast

from pydantic import ConfigDict, with_config
from typing_extensions import TypedDict

from emulator.api.views import Presign, input_url, output_url
from emulator.db.models import Storage, Task, Template
from emulator.services import tasks as task_service
from emulator.services.templates import BUILT_IN

# The v1 generation says succeeded/failed where the store (and /api/) say success/fail.
STATUS_V1 = {"success": "succeeded", "fail": "failed"}
STATUS_FROM_V1 = {v1: stored for stored, v1 in STATUS_V1.items()}
# v1 fields kept in Template.extra, with what a template that does not set them shows.
TEMPLATE_EXTRA_ZEROS: dict[str, Any] = {
    "trans_mode": "",
    "video_bitrate": 0,
    "gop_size": 0,
    "gop_seconds": 0,
    "seg_type": "",
    "seg_time": 0,
    "audio_sample_rate": "",
    "audio_channels": 0,
    "adaptive_streams": None,
    "encryption": None,
    "thumbnail": None,
}


# TypedDicts, as in emulator/api/views.py: one definition for the docs and the builders.


class StorageV1(TypedDict):
    storage_id: str
    type: str
    region: str
    bucket: str
    prefix: str
    notify: str
    extra: str
    name_rule: str
    created_time: int


class StorageListV1(TypedDict):
    list: list[StorageV1]
    num: int


@with_config(ConfigDict(extra="allow"))  # the template's own v1 extras ride along
class TemplateV1(TypedDict):
    template_name: str
    description: str
    format: str
    vcodec: str
    acodec: str
    trans_mode: str
    resolution: str
    framerate: int
    quality: float
    video_bitrate: int
    gop_size: int
    gop_seconds: int
    seg_type: str
    seg_time: int
    audio_bitrate: int
    audio_sample_rate: str
    audio_channels: int
    logo_path: str
    logo_size: str
    logo_offset: str
    adaptive_streams: list[dict[str, Any]] | None
    encryption: dict[str, Any] | None
    thumbnail: dict[str, Any] | None
    created_at: int
    built_in: bool
    template_id: str


class TemplateListV1(TypedDict):
    list: list[TemplateV1]
    num: int


@with_config(ConfigDict(extra="allow"))  # source_* and output_* media fields (_media_fields)
class TaskResultV1(TypedDict):
    """A v1 task without URLs (a callback's too); bitrates in kbit/s, sizes in bytes, times
    in unix seconds."""

    task_id: str
    input: str
    output: str
    template_name: str
    template_id: str
    storage_id: str
    region: str
    status: str
    message: str
    code: int
    created_time: int
    started_time: int
    finished_time: int
    progress: float
    duration: float
    spend_time: float
    format: str
    output_media_size: int
    ratio: float


@with_config(ConfigDict(extra="allow"))
class TaskV1(TaskResultV1):
    """Every field of a v1 task."""

    input_url: str
    output_url: str
    output_groups: list[dict[str, Any]]


class TaskListV1(TypedDict):
    list: list[TaskV1]
    num: int
    total: int


def status_v1(status: str) -> str:
    return STATUS_V1.get(status, status)


def storage_v1(storage: Storage) -> StorageV1:
    return {
        "storage_id": storage.storage_id,
        "type": storage.type,
        "region": storage.region,
        "bucket": storage.bucket,
        "prefix": storage.prefix,
        "notify": storage.notify,
        "extra": str(storage.extra.get("extra", "")),
        "name_rule": str(storage.extra.get("name_rule", "")),
        "created_time": int(storage.created_time),
    }


def template_v1(template: Template) -> TemplateV1:
    # cast: the stored extras (any v1 field the template sets) are what TemplateV1 allows.
    return cast(
        TemplateV1,
        {
            "template_name": template.name,
            "description": template.description,
            "format": template.format,
            "vcodec": template.vcodec,
            "acodec": template.acodec,
            "resolution": template.resolution,
            "framerate": template.framerate,
            "quality": float(template.quality),
            "audio_bitrate": template.audio_bitrate,
            "logo_path": template.logo_path,
            "logo_size": template.logo_size,
            "logo_offset": template.logo_offset,
            **TEMPLATE_EXTRA_ZEROS,
            **template.extra,
            "created_at": int(template.create_time),
            "built_in": template.template_type == BUILT_IN,
            "template_id": template.template_id,
        },
    )


def task_result(task: Task) -> TaskResultV1:
    """The task without URLs (what a callback carries too): no presigning needed."""
    media = task.media or {}
    stages = task.stage_times
    started = stages.get("downloading")
    ended = stages.get(task.status) if task.status in STATUS_V1 else None
    source_size = int(media.get("source", {}).get("size", 0))
    output_size = int(media.get("output", {}).get("size", 0))
    # cast: the media fields are generated per prefix (TaskResultV1 allows them).
    return cast(
        TaskResultV1,
        {
            "task_id": task.task_id,
            "input": task.input,
            "output": task.output,
            "template_name": task.template_name,
            "template_id": task.template_id,
            "storage_id": task.storage_id,
            "region": task.storage["region"],
            "status": status_v1(task.status),
            "message": task_service.message(task),
            "code": task.err_code,
            "created_time": int(task.create_time),
            "started_time": _started_time(task, started, ended),
            "finished_time": int(task.finish_time) if task.finish_time is not None else 0,
            "progress": round(task.progress, 1),
            "duration": round(task.duration, 3),
            "spend_time": round(ended - started, 3) if started and ended else 0.0,
            "format": task.template.get("format", "mp4"),
            **_media_fields("source", media.get("source", {})),
            **_media_fields("output", media.get("output", {})),
            "output_media_size": output_size,
            "ratio": round(output_size / source_size, 4) if source_size and output_size else 0.0,
        },
    )


def task_v1(task: Task, presign: Presign) -> TaskV1:
    return {
        **task_result(task),
        "input_url": input_url(task, presign),
        "output_url": output_url(task, presign),
        "output_groups": output_groups(task, presign),
    }


def output_groups(task: Task, presign: Presign) -> list[dict[str, Any]]:
    """What the worker produced (media["output_groups"]); before that, what the template asks."""
    storage = task.storage
    done = task.status == "success"

    def located(key: str) -> dict[str, str]:
        return {
            "output": f"{storage['type']}://{storage['bucket']}/{key}",
            "output_url": presign(storage["bucket"], key) if done else "",
        }

    produced = task.media.get("output_groups") if done else None
    if produced:
        return [
            {
                **{k: v for k, v in group.items() if k not in ("key", "keys")},
                **located(group["key"]),
                "keys": [located(key)["output"] for key in group.get("keys", [])],
                # Each thumbnail as the outputs are given: its object and its presigned URL.
                "files": [located(key) for key in group.get("keys", [])],
            }
            for group in produced
        ]
    extra = task.template.get("extra", {})
    return [
        {
            "format": task.template.get("format", "mp4"),
            "seg_type": extra.get("seg_type", ""),
            "seg_time": extra.get("seg_time", 0),
            **located(task.objkey),
        }
    ]


def callback_item(task: Task) -> dict[str, Any]:
    """One `data` entry of a task-end callback (issue 7)."""
    if task.status == "fail":
        return {
            "task_id": task.task_id,
            "status": status_v1(task.status),
            "error_code": task.err_code,
            "error_msg": task.err_msg,
        }
    result = task_result(task)
    keep = ("task_id", "input", "output", "format", "status", "duration", "spend_time")
    return {
        key: value
        for key, value in result.items()
        if key in keep or key.startswith(("source_", "output_"))
    }


def _started_time(task: Task, started: float | None, ended: float | None) -> int:
    """Stage stamps are real-clock: place the start on the emulator clock (which the control
    API may shift) relative to the end, or to creation while the task runs."""
    if not started:
        return 0
    if ended and task.finish_time is not None:
        return int(task.finish_time - (ended - started))
    return int(task.create_time + max(0.0, started - task.stage_times.get("pending", started)))


def _media_fields(prefix: str, info: dict[str, Any]) -> dict[str, Any]:
    width, height = int(info.get("width", 0)), int(info.get("height", 0))
    return {
        f"{prefix}_bitrate": round(float(info.get("bitrate_kbps", 0)), 3),
        f"{prefix}_size": int(info.get("size", 0)),
        f"{prefix}_resolution": f"{width}x{height}" if width and height else "",
        f"{prefix}_framerate": round(float(info.get("framerate", 0)), 3),
        f"{prefix}_video_bitrate": round(float(info.get("video_bitrate_kbps", 0)), 3),
        f"{prefix}_audio_bitrate": round(float(info.get("audio_bitrate_kbps", 0)), 3),
        f"{prefix}_video_codec": str(info.get("video_codec", "")),
        f"{prefix}_audio_codec": str(info.get("audio_codec", "")),
        f"{prefix}_audio_samplerate": int(info.get("sample_rate", 0)),
    }
