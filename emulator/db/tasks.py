"""The task state machine and claims: the only code that sets Task.status.

pending -> downloading -> running -> uploading -> success
   |            |            |           |
   +------------+------------+-----------+----> fail
downloading | running | uploading -> pending      (lease expired: worker gone)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection
from typing import Any, Literal

from sqlalchemy import delete as sql_delete
from sqlalchemy import event, text
from sqlmodel import Session, col, select

from emulator.db.models import Task
from emulator.db.state import clock_now
from emulator.errors import TRANSCODE_FAILED as WORKER_LOST

PENDING = "pending"
RUNNING = "running"  # ffmpeg's stage: its rate is reported (Task.fps, Task.speed)
IN_FLIGHT = ("downloading", RUNNING, "uploading")
FINAL = ("success", "fail")
STATUSES = (PENDING, *IN_FLIGHT, *FINAL)

TRANSITIONS: frozenset[tuple[str, str]] = frozenset(
    [
        ("pending", "downloading"),  # claim
        ("downloading", "running"),
        ("running", "uploading"),
        ("uploading", "success"),
        *((stage, "fail") for stage in (PENDING, *IN_FLIGHT)),
        *((stage, PENDING) for stage in IN_FLIGHT),  # requeue after the lease expired
    ]
)

Beat = Literal["ok", "cancelled", "lost"]

# Where requeue_stale leaves the tasks it failed for lack of tries (session.info).
LOST = "emulator.lost_tasks"
# The PostgreSQL NOTIFY channel that says a task may be claimed.
CHANNEL = "emulator_tasks"

# One console line per transition, written once its transaction commits (a move rolled back
# never happened, so it is never logged).
log = logging.getLogger("emulator.tasks")
_PENDING_LINES = "emulator.task_transitions"


class IllegalTransition(RuntimeError):
    pass


def transition(session: Session, task: Task, to: str, **fields: Any) -> None:
    """Check the move, stamp its time, apply `fields`; the caller's transaction commits."""
    if (task.status, to) not in TRANSITIONS:
        raise IllegalTransition(f"task {task.task_id}: {task.status} -> {to} is not allowed")
    now = time.time()
    since = task.stage_times.get(task.status, now)
    session.info.setdefault(_PENDING_LINES, []).append((task.task_id, task.status, to, now - since))
    task.status = to
    task.stage_times = {**task.stage_times, to: now}
    if to in FINAL:
        task.finish_time = clock_now(session)
        task.progress = 100 if to == "success" else task.progress
    for key, value in fields.items():
        setattr(task, key, value)
    session.add(task)
    if to == "fail":
        lines = session.info[_PENDING_LINES]
        lines[-1] = (*lines[-1], task.err_code)


@event.listens_for(Session, "after_commit")
def _log_transitions(session: Session) -> None:
    for task_id, before, after, seconds, *err_code in session.info.pop(_PENDING_LINES, ()):
        failed = f" err_code {err_code[0]}" if err_code else ""
        log.info(
            "task %s %s → %s %.2f s%s",
            task_id,
            before,
            after,
            seconds,
            failed,
            extra={"task_id": task_id, "from": before, "to": after, "seconds": round(seconds, 3),
                   "err_code": err_code[0] if err_code else 0},
        )  # fmt: skip


@event.listens_for(Session, "after_rollback")
def _forget_transitions(session: Session) -> None:
    session.info.pop(_PENDING_LINES, None)


def claim(session: Session, *, worker_id: str, skip: Collection[str] = ()) -> Task | None:
    """Take the oldest pending task, or None.

    Run inside a write transaction: on SQLite that is BEGIN IMMEDIATE, which serialises
    claims; on PostgreSQL (`db.write(concurrent=True)`) the row lock with SKIP LOCKED lets
    claimers pass each other, and a row committed away meanwhile is re-checked, not taken.
    """
    task = session.exec(
        select(Task)
        .where(
            Task.status == PENDING,
            col(Task.deleted).is_(False),
            col(Task.task_id).not_in(list(skip)),
        )
        .order_by(col(Task.create_time), col(Task.task_id))
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()
    if task is None:
        return None
    transition(
        session,
        task,
        "downloading",
        worker_id=worker_id,
        heartbeat_at=time.time(),
        attempts=task.attempts + 1,
        progress=0,
        fps=0,
        speed=0,
    )
    return task


def pending_exists(session: Session) -> bool:
    """Whether any task waits to be claimed (a read: idle workers poll it, never a write)."""
    found = session.exec(
        select(Task.task_id).where(Task.status == PENDING, col(Task.deleted).is_(False)).limit(1)
    ).first()
    return found is not None


def owned(session: Session, *, task_id: str, worker_id: str) -> Task | None:
    """The task if this worker still holds it (not requeued, not deleted).

    The row stays locked (PostgreSQL) until the caller commits: a requeue or another
    worker's move waits, then sees this one's outcome.
    """
    task = session.get(Task, task_id, with_for_update=True)
    if task is None or task.worker_id != worker_id or task.status not in IN_FLIGHT:
        return None
    return task


def heartbeat(
    session: Session,
    *,
    task_id: str,
    worker_id: str,
    progress: float | None = None,
    rate: tuple[float, float] | None = None,
) -> Beat:
    task = owned(session, task_id=task_id, worker_id=worker_id)
    if task is None:
        return "lost"
    if task.deleted:
        return "cancelled"
    task.heartbeat_at = time.time()
    if progress is not None:
        task.progress = round(progress, 1)
    if rate is not None:
        task.fps, task.speed = round(rate[0], 1), round(rate[1], 3)
    session.add(task)
    return "ok"


def any_stale(session: Session, *, lease_s: float) -> bool:
    """Whether an in-flight task's heartbeat is older than the lease (a read)."""
    cutoff = time.time() - lease_s
    found = session.exec(
        select(Task.task_id)
        .where(col(Task.status).in_(IN_FLIGHT), col(Task.heartbeat_at) < cutoff)
        .limit(1)
    ).first()
    return found is not None


def requeue_stale(session: Session, *, lease_s: float, max_tries: int | None = None) -> list[str]:
    """In-flight tasks whose worker stopped heartbeating go back to pending (SPEC.md section 5);
    the ids requeued.

    A task that has used `max_tries` tries fails instead (2003): a worker that dies on every try
    (kill -9, the OOM killer) would otherwise run it forever. Deleted tasks whose worker died
    are removed: nobody else will clean them up. Failed ones are in `session.info[LOST]` for
    the caller, which queues their callbacks.
    """
    cutoff = time.time() - lease_s
    # SKIP LOCKED (PostgreSQL): a row locked now is being moved by its worker or requeued by
    # another process's maintenance; either way it is not ours to touch.
    stale = session.exec(
        select(Task)
        .where(col(Task.status).in_(IN_FLIGHT), col(Task.heartbeat_at) < cutoff)
        .with_for_update(skip_locked=True)
    ).all()
    requeued = []
    for task in stale:
        if task.deleted:
            session.delete(task)
        elif max_tries is not None and task.attempts >= max_tries:
            message = f"worker lost on {task.attempts} tries (last seen in {task.status})"
            transition(session, task, "fail", err_code=WORKER_LOST, err_msg=message)
            session.info.setdefault(LOST, []).append(task)
        else:
            transition(session, task, PENDING, worker_id=None, heartbeat_at=None, progress=0)
            requeued.append(task.task_id)
    if requeued:
        announce(session)
    return requeued


def announce(session: Session) -> None:
    """Tell workers in other processes that a task may be claimed, once this commits.

    PostgreSQL delivers a NOTIFY to every listener at commit (worker/loop.py listens); on SQLite
    other processes' workers find it by their read-only poll, and this process's by its wakeup.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})


def remove(session: Session, *, task_id: str) -> None:
    session.execute(sql_delete(Task).where(col(Task.task_id) == task_id))
