"""Tasks: creation, lookup, deletion and listing (SPEC.md section 5); the worker runs them."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func
from sqlalchemy.orm import load_only
from sqlmodel import Session, col, select

from emulator.db import tasks as machine
from emulator.db.models import Storage, Task
from emulator.db.state import clock_now
from emulator.errors import BadParam, EmptyResult, OperationFail
from emulator.services import fields, storages, templates
from emulator.services.ids import task_id as new_task_id
from emulator.storage.urls import OBJECT_SCHEMES, parse_object_url

# list_task's `message` per status (the reference's example shows "Success", "task running").
MESSAGES = {
    "pending": "task pending",
    "downloading": "task downloading",
    "running": "task running",
    "uploading": "task uploading",
    "success": "Success",
}


MANIFEST_SUFFIXES = {"hls": ".m3u8", "dash": ".mpd"}
# A URL's scheme (RFC 3986 section 3.1) followed by `//`: an output that names another place.
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def objkey(*, prefix: str, output: str, format: str) -> str:
    """prefix and output joined by one `/`; manifests get their suffix when it is missing:
    `.m3u8` for HLS (SPEC.md section 5) and, likewise, `.mpd` for DASH."""
    key = "/".join(part.strip("/") for part in (prefix, output) if part.strip("/"))
    suffix = MANIFEST_SUFFIXES.get(format, "")
    if suffix and not key.endswith(suffix):
        key += suffix
    return key


def create(
    *,
    session: Session,
    template_name: str,
    input: str,
    output: str,
    storage_id: str,
    retry_of: str | None = None,
) -> Task:
    """`output` is a key under the storage's prefix, or `s3://bucket/key` / `oss://bucket/key`
    naming the storage's own bucket, taken without the prefix (README "Tasks on v1").
    `retry_of` links a retry to the task it repeats (see retry)."""
    template = templates.get_for_task(session=session, name=template_name)
    storage = session.get(Storage, storage_id)
    if storage is None:
        raise BadParam(f"storage_id: storage {storage_id!r} does not exist")
    prefix, key = storage.prefix, output
    if output.startswith(OBJECT_SCHEMES):
        prefix, key = "", _own_bucket_key(output, storage.bucket)
    elif _URL.match(output):
        # Stored as a key it would land at `prefix/http://…`, which nobody asked for.
        raise BadParam(
            f"output: {output.split(':', 1)[0]}:// is not an object key; give a key, or "
            "s3://bucket/key or oss://bucket/key in the storage's own bucket"
        )
    # Whole seconds: list_task orders by second, then task_id (SPEC.md section 5).
    now = math.floor(clock_now(session))
    task = Task(
        task_id=new_task_id(now),
        template_name=template.name,
        template_id=template.template_id,
        template=templates.snapshot(template),
        storage_id=storage.storage_id,
        storage=storages.snapshot(storage),
        input=input,
        output=output,
        objkey=objkey(prefix=prefix, output=key, format=template.format),
        create_time=now,
        stage_times={"pending": time.time()},
        retry_of=retry_of,
    )
    session.add(task)
    machine.announce(session)
    return task


def _own_bucket_key(output: str, bucket: str) -> str:
    located = parse_object_url(output)
    if located is None or not located[1].strip("/"):
        raise BadParam("output: an object URI must name a bucket and a key, e.g. s3://bucket/key")
    if located[0] != bucket:
        raise BadParam(
            f"output: bucket {located[0]!r} is not the storage's bucket {bucket!r} "
            "(give a key, or a URI in the storage's own bucket)"
        )
    try:  # the key is URL-decoded: check it again
        return fields.object_key(located[1].lstrip("/"))
    except ValueError as exc:
        raise BadParam(f"output: key {located[1]!r} {exc}") from None


def get(*, session: Session, task_id: str) -> Task:
    """The one way to read a task (query_task, the control API's wait, delete): a deleted one
    is EmptyResult like an unknown one."""
    task = session.get(Task, task_id)
    if task is None or task.deleted:
        raise EmptyResult(f"task {task_id!r} does not exist")
    return task


def delete(*, session: Session, task_id: str) -> None:
    """A task in flight is hidden now and removed by its worker once its ffmpeg stopped."""
    task = get(session=session, task_id=task_id)
    if task.status in machine.IN_FLIGHT:
        task.deleted = True
        session.add(task)
    else:
        session.delete(task)


def cancel(*, session: Session, task_id: str) -> None:
    """delete, for a task not finished yet (the dashboard's Cancel): a finished one is left."""
    task = get(session=session, task_id=task_id)
    if task.status in machine.FINAL:
        raise OperationFail(f"task {task_id!r} is {task.status}: nothing to cancel")
    delete(session=session, task_id=task_id)


def retry(*, session: Session, task_id: str) -> Task:
    """A new task with a finished task's create_task parameters, linked to it by `retry_of`.

    The template and storage are looked up again, as create_task would: one deleted since is
    the error create_task gives.
    """
    task = get(session=session, task_id=task_id)
    if task.status not in machine.FINAL:
        raise OperationFail(f"task {task_id!r} is {task.status}: only a finished task is retried")
    return create(
        session=session,
        template_name=task.template_name,
        input=task.input,
        output=task.output,
        storage_id=task.storage_id,
        retry_of=task.task_id,
    )


def retried_as(*, session: Session, task_id: str) -> list[str]:
    """The ids of the tasks retried from `task_id`, oldest first (deleted ones left out)."""
    query = (
        select(Task.task_id)
        .where(col(Task.retry_of) == task_id, col(Task.deleted).is_(False))
        .order_by(col(Task.create_time), col(Task.task_id))
    )
    return list(session.exec(query).all())


def page(
    *,
    session: Session,
    start_time: float,
    end_time: float,
    status: str | None = None,
    start_num: int = 0,
    count: int = 50,
    columns: Sequence[Any] = (),
) -> tuple[Sequence[Task], int]:
    """Tasks created in [start_time, end_time], newest first; (page, total matching).

    `columns` (Task attributes), when given, are all a page's tasks load: a list item needs
    a few scalars, and the JSON snapshots and ffmpeg's stderr of 100 tasks cost more to
    decode than the query (docs/performance.md). Any other attribute loads when first read.
    """
    if end_time < start_time:
        raise BadParam("end_time must not be before start_time")
    where: list[Any] = [
        col(Task.deleted).is_(False),
        col(Task.create_time) >= start_time,
        col(Task.create_time) <= end_time,
    ]
    if status:
        where.append(col(Task.status) == status)
    total = session.exec(select(func.count()).select_from(Task).where(*where)).one()
    query = (
        select(Task)
        .where(*where)
        .order_by(col(Task.create_time).desc(), col(Task.task_id).desc())
        .offset(start_num)
        .limit(count)
    )
    if columns:
        query = query.options(load_only(*columns))
    return session.exec(query).all(), int(total)


def message(task: Task) -> str:
    return task.err_msg if task.status == "fail" else MESSAGES[task.status]
