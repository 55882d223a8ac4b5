"""The one place a task's end is written, once, whatever ended it.

    success    uploading -> success, with the output's fields and a queued callback
    fail       -> fail (err_code, err_msg), retried while the database refuses the write
    cancelled  del_task came meanwhile: the row goes
    requeued   handed back to pending (clean stop, or another worker took it over)

A task this worker no longer owns (its lease expired and it was requeued or taken) is left to
whoever has it now.
"""

from __future__ import annotations

import errno
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlalchemy.exc import DBAPIError
from tenacity import Retrying, retry_if_exception_type, stop_when_event_set, wait_exponential

from emulator import callbacks
from emulator.db import tasks as machine
from emulator.db.engine import Database
from emulator.db.models import Task
from emulator.errors import TRANSCODE_FAILED, TaskCancelled, TaskFailed
from emulator.transcode.runner import FfmpegFailed
from emulator.worker.fetch import disk_full
from emulator.worker.job import LostTask

log = logging.getLogger("emulator.worker")

End = Literal["success", "fail", "cancelled", "requeued"]

# While the database refuses to record a failure: giving up would leave the task in flight, to
# be requeued and run again once its lease runs out, for as long as the database stays full.
FAIL_RETRY_WAIT = wait_exponential(multiplier=0.5, max=5.0)


@dataclass(frozen=True)
class Outcome:
    end: End
    fields: dict[str, Any] = field(default_factory=dict)
    failure: TaskFailed | None = None

    @classmethod
    def failed(cls, failure: TaskFailed) -> Outcome:
        fields: dict[str, Any] = {"err_code": failure.err_code, "err_msg": failure.message}
        if isinstance(failure, FfmpegFailed):  # in case the stage's own save found no room
            fields["stderr_tail"] = failure.stderr_tail
        return cls("fail", fields, failure)


@dataclass(frozen=True)
class Ledger:
    """Where settle writes: the database, as this worker, and who to tell."""

    db: Database
    worker_id: str
    stopping: threading.Event
    on_change: Callable[[], None]

    def pause(self, seconds: float) -> None:
        """Sleep between tries, cut short when the worker stops."""
        self.stopping.wait(seconds)


def settle(ledger: Ledger, task: Task, outcome: Outcome, *, free_disk: Callable[[], None]) -> End:
    """Write `outcome` for `task`; what was written (a lost success is written as a failure).

    `free_disk` removes the task's temp files: before a failure is written, since on a full
    disk the database needs their room to record it.
    """
    if outcome.end == "success":
        try:
            return _finish(ledger, task, "success", outcome.fields)
        except DBAPIError as exc:
            outcome = Outcome.failed(as_failure(exc, stage="uploading", data_dir=None))
    if outcome.end == "fail":
        assert outcome.failure is not None
        log.info(
            "task %s failed: %s %s", task.task_id, outcome.failure.err_code, outcome.failure.message
        )
        free_disk()
        return _record_failure(ledger, task, outcome.fields)
    if outcome.end == "requeued":
        log.info("task %s: handed back (stopped or taken over)", task.task_id)
        return _hand_back(ledger, task)
    _remove_if_deleted(ledger, task)
    return "cancelled"


def advance(ledger: Ledger, task: Task, to: str, fields: dict[str, Any]) -> Task:
    """Move `task` to `to` while it is still this worker's; the row as written.

    LostTask when another worker has it now, TaskCancelled when del_task came meanwhile.
    """
    with ledger.db.write(concurrent=True) as session:
        row = machine.owned(session, task_id=task.task_id, worker_id=ledger.worker_id)
        if row is None:
            raise LostTask(task.task_id)
        if row.deleted:
            raise TaskCancelled(task.task_id)
        machine.transition(session, row, to, **fields)
        callbacks.enqueue(session, row)  # only when `to` is final and the storage has notify
    ledger.on_change()
    return row


def _finish(ledger: Ledger, task: Task, to: str, fields: dict[str, Any]) -> End:
    try:
        advance(ledger, task, to, fields)
    except LostTask:
        return "requeued"  # someone else has it now
    except TaskCancelled:
        _remove_if_deleted(ledger, task)
        return "cancelled"
    return "success" if to == "success" else "fail"


def _record_failure(ledger: Ledger, task: Task, fields: dict[str, Any]) -> End:
    retrying = Retrying(
        retry=retry_if_exception_type(DBAPIError),
        wait=FAIL_RETRY_WAIT,
        stop=stop_when_event_set(ledger.stopping),  # the next start requeues it
        sleep=ledger.pause,
        before_sleep=lambda state: log.warning(
            "task %s: could not record its failure (%s); trying again",
            task.task_id,
            state.outcome.exception() if state.outcome else "?",
        ),
        reraise=True,
    )
    end: End = retrying(_finish, ledger, task, "fail", fields)
    return end


def _hand_back(ledger: Ledger, task: Task) -> End:
    with ledger.db.write() as session:
        row = machine.owned(session, task_id=task.task_id, worker_id=ledger.worker_id)
        if row is not None and not row.deleted:
            machine.transition(session, row, machine.PENDING, worker_id=None, progress=0)
            machine.announce(session)
        elif row is not None:
            machine.remove(session, task_id=row.task_id)
    return "requeued"


def _remove_if_deleted(ledger: Ledger, task: Task) -> None:
    with ledger.db.write() as session:
        row = session.get(Task, task.task_id)
        if row is not None and row.deleted:
            machine.remove(session, task_id=row.task_id)


_DOING = {"downloading": "fetching the input", "running": "transcoding", "uploading": "uploading"}


def as_failure(exc: Exception, *, stage: str, data_dir: Path | None) -> TaskFailed:
    """An unexpected error as a one-line 2003, saying plainly when the disk or database was full."""
    doing = _DOING.get(stage, stage)
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC and data_dir is not None:
        return disk_full(TRANSCODE_FAILED, doing, data_dir)
    if isinstance(exc, DBAPIError):  # str(exc) would carry the SQL and its parameters
        reason = " ".join(str(exc.orig).split())
        return TaskFailed(TRANSCODE_FAILED, f"database error while {doing}: {reason}")
    return TaskFailed(TRANSCODE_FAILED, f"transcoding failed: {exc}")
