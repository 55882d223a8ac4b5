"""Looking at tasks for the control API: recent tasks, and waiting for a task to reach a status."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Collection, Sequence

from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from emulator.db import tasks as machine
from emulator.db.engine import Database
from emulator.db.models import Task
from emulator.errors import BadParam
from emulator.services import tasks
from emulator.services.changes import TaskChanges

WAIT_POLL_S = 0.05


def recent(*, session: Session, limit: int = 20, status: str | None = None) -> Sequence[Task]:
    """The newest tasks (any time window), newest first."""
    query = select(Task).where(col(Task.deleted).is_(False))
    if status:
        query = query.where(col(Task.status) == status)
    return session.exec(
        query.order_by(col(Task.create_time).desc(), col(Task.task_id).desc()).limit(limit)
    ).all()


def statuses(values: Collection[str]) -> set[str]:
    """Statuses given as repeated or comma-separated values; each must be one of the six."""
    wanted = {part.strip() for value in values for part in value.split(",") if part.strip()}
    unknown = sorted(wanted - set(machine.STATUSES))
    if unknown:
        raise BadParam(f"status: unknown {unknown}; use {', '.join(machine.STATUSES)}")
    return wanted


async def wait(
    *,
    db: Database,
    task_id: str,
    until: Collection[str],
    timeout_s: float,
    changes: TaskChanges | None = None,
) -> tuple[Task, bool]:
    """(task, True) once it is in `until` or final; (task as it is, False) after timeout_s.

    An unknown or deleted task is EmptyResult, also when it disappears while waited for.
    `changes` wakes the wait as soon as this process's worker moves a task; moves made by
    other processes are seen within WAIT_POLL_S.
    """
    deadline = time.monotonic() + timeout_s
    with changes.listen() if changes else contextlib.nullcontext(asyncio.Event()) as changed:
        while True:
            changed.clear()  # before reading, so a change committed after the read wakes us
            task = await run_in_threadpool(_read, db, task_id)  # off the event loop
            if task.status in until or task.status in machine.FINAL:
                return task, True
            if time.monotonic() >= deadline:
                return task, False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    changed.wait(), min(WAIT_POLL_S, max(0.0, deadline - time.monotonic()))
                )


def _read(db: Database, task_id: str) -> Task:
    with db.read() as session:
        return tasks.get(session=session, task_id=task_id)
