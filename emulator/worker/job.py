"""One task's stages, in order; each runs in the task status it is listed with.

    download   input (and logo) into the task's temp dir         downloading
    probe      measure the input                                 downloading
    transcode  ffmpeg (renditions, logo, thumbnails in one run)  running
    package    HLS master bandwidths, AES-128, output figures    running
    upload     every written file to the task's storage          uploading

Entering a status writes its transition; the stage hooks (holds, faults) run at each entry.
What a stage raises ends the task (TaskFailed, TaskCancelled, LostTask); settle.py writes how.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulator.config import Settings
from emulator.db.models import Task
from emulator.errors import LOGO_FETCH_FAILED, UPLOAD_FAILED, TaskCancelled, TaskFailed
from emulator.netguard import NetGuard
from emulator.storage.store import ObjectStore, ObjectStoreError
from emulator.template_spec import TemplateSpec
from emulator.transcode import command, demuxers
from emulator.transcode.probe import MediaInfo
from emulator.transcode.runner import FfmpegFailed, Rate, run_ffmpeg
from emulator.worker.fetch import fetch_input, fetch_logo, input_path

Probe = Callable[..., MediaInfo]


class LostTask(Exception):
    """Another process took the task over (its lease expired while we were stalled), or the
    worker is stopping: the task goes back to pending."""


@dataclass
class Job:
    """One claimed task as its slot sees it, and what its stages have made so far."""

    task: Task
    workdir: Path
    # Faults injected through the control API that this task meets (taken at claim).
    faults: list[dict[str, Any]] = field(default_factory=list)
    progress: float | None = None
    rate: Rate | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    lost: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    source: MediaInfo | None = None
    logo: Path | None = None
    plan: command.EncodePlan | None = None
    finished: command.Finished | None = None
    keys: list[str] = field(default_factory=list)

    @property
    def task_id(self) -> str:
        return self.task.task_id

    def check(self) -> None:
        """Raise if the task was deleted (cancelled) or is no longer this worker's."""
        if self.cancelled.is_set():
            raise TaskCancelled(self.task_id)
        if self.lost.is_set():
            raise LostTask(self.task_id)

    def interrupted(self) -> bool:
        return self.cancelled.is_set() or self.lost.is_set()

    def pause(self, seconds: float) -> None:
        """Sleep, waking early when the task is cancelled."""
        self.cancelled.wait(seconds)


@dataclass(frozen=True)
class Tools:
    """What the stages use besides the job: the slot's settings, store, guard and prober."""

    settings: Settings
    objects: ObjectStore
    guard: NetGuard
    probe: Probe
    save: Callable[..., None]  # details for the task row (command, stderr): never fatal


def download(job: Job, tools: Tools) -> None:
    fetch_input(
        job.task,
        workdir=job.workdir,
        objects=tools.objects,
        settings=tools.settings,
        guard=tools.guard,
    )
    job.check()
    try:
        job.logo = fetch_logo(
            job.task,
            workdir=job.workdir,
            objects=tools.objects,
            settings=tools.settings,
            guard=tools.guard,
        )
    except TaskFailed:
        probe(job, tools)  # an input that is no video fails first
        raise


def probe(job: Job, tools: Tools) -> None:
    if job.source is None:
        job.source = tools.probe(input_path(job.workdir), formats=demuxers.INPUT_FORMATS)


def transcode(job: Job, tools: Tools) -> None:
    task, source, settings = job.task, _measured(job), tools.settings
    # Named after the task, so `ps` shows which task each ffmpeg works for.
    out_dir = job.workdir / task.task_id
    out_dir.mkdir()
    plan = job.plan = command.build_plan(
        TemplateSpec.from_task(task.template),
        input_path=input_path(job.workdir),
        out_dir=out_dir,
        basename=Path(task.objkey).stem or "output",
        source=source,
        logo_path=job.logo,
        preset=settings.encoder_preset,
        media_key_url=f"{settings.api_base_url}/_emulator/media-keys/{task.task_id}",
        max_pixel_rate=settings.max_pixel_rate,
    )
    elapsed = time.time() - task.stage_times.get("downloading", time.time())
    try:
        result = run_ffmpeg(
            plan.args,
            duration_s=source.duration,
            on_progress=lambda percent: setattr(job, "progress", percent),
            on_rate=lambda rate: setattr(job, "rate", rate),
            should_cancel=job.interrupted,
            timeout_s=max(1.0, settings.task_timeout - elapsed),
            memory_limit_mb=settings.ffmpeg_memory_mb,
            # Shown while ffmpeg runs; written while it loads its libraries.
            on_started=lambda: tools.save(job, ffmpeg_command=command.describe_command(plan.args)),
        )
    except FfmpegFailed as failure:
        tools.save(job, stderr_tail=failure.stderr_tail)
        if demuxer := demuxers.refused(failure.stderr_tail):
            # The input passed the same whitelist when it was probed: the logo did not.
            problem = "logo is not a self-contained image or video"
            raise demuxers.refusal(LOGO_FETCH_FAILED, problem, demuxer) from None
        raise
    tools.save(job, stderr_tail=result.stderr_tail)
    job.check()


def package(job: Job, tools: Tools) -> None:
    plan = _planned(job)
    probed = None if command.rewrites_outputs(plan) else tools.probe(plan.output)
    job.finished = command.finish(plan, probed=probed)
    job.check()


def upload(job: Job, tools: Tools) -> None:
    """Every written file to the task's storage; TaskFailed 2004."""
    task, plan = job.task, _planned(job)
    store = tools.objects.client_for(task.storage.get("storage_ak"), task.storage.get("storage_sk"))
    for path in command.written_files(plan):
        key = object_key(task, plan, path)
        job.check()
        try:
            store.upload_file(path, task.storage["bucket"], key)
        except ObjectStoreError as exc:
            # The store's messages start with the object's s3:// URL.
            raise TaskFailed(UPLOAD_FAILED, f"upload failed: {exc.message}") from None
        job.keys.append(key)


Stage = Callable[[Job, Tools], None]
# (status the stage runs in, the stage): the order a task goes through.
STAGES: tuple[tuple[str, Stage], ...] = (
    ("downloading", download),
    ("downloading", probe),
    ("running", transcode),
    ("running", package),
    ("uploading", upload),
)


def entering_fields(job: Job, status: str) -> dict[str, Any]:
    """What the transition into `status` records besides the status itself."""
    if status == "running":
        source = _measured(job)
        return {"src_bitrate": source.bitrate_kbps, "media": {"source": media(source)}}
    return {}


def success_fields(job: Job) -> dict[str, Any]:
    """The task row's fields once every stage is done."""
    plan, finished, source = _planned(job), job.finished, _measured(job)
    assert finished is not None
    result = finished.info
    groups = [group.to_json(lambda p: object_key(job.task, plan, p)) for group in finished.groups]
    extra: dict[str, Any] = {"output_groups": groups}
    if plan.encryption is not None:  # served at /_emulator/media-keys/{task_id}
        extra["hls_key_hex"] = plan.encryption.key.hex()
    return {
        "dst_bitrate": result.bitrate_kbps,
        "duration": result.duration,
        "width": result.width,
        "height": result.height,
        "output_keys": job.keys,
        "media": {"source": media(source), "output": media(result), **extra},
    }


def object_key(task: Task, plan: command.EncodePlan, path: Path) -> str:
    """The main output goes to objkey; every other file beside it, under its relative name."""
    if path == plan.output:
        return task.objkey
    folder = task.objkey.rpartition("/")[0]
    return "/".join(filter(None, [folder, path.relative_to(plan.out_dir).as_posix()]))


def media(info: MediaInfo) -> dict[str, Any]:
    return dict(info.__dict__)


def _measured(job: Job) -> MediaInfo:
    assert job.source is not None, "probe runs before this stage"
    return job.source


def _planned(job: Job) -> command.EncodePlan:
    assert job.plan is not None, "transcode runs before this stage"
    return job.plan
