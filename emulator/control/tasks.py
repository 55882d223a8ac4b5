"""Control API: recent tasks, and a long-poll that returns a task once it reaches a status."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from fastapi.responses import JSONResponse

from emulator.api.deps import ContextDep
from emulator.api.views import TaskView, task_view
from emulator.control.common import control_router
from emulator.control.models import TaskRow
from emulator.db.models import Task
from emulator.services import inspection

router = control_router(prefix="/tasks")

WAIT_HEADER = "X-Emulator-Wait"


def _row(task: Task) -> TaskRow:
    return TaskRow(
        task_id=task.task_id,
        status=task.status,
        template_name=task.template_name,
        input=task.input,
        bucket=str(task.storage.get("bucket", "")),
        objkey=task.objkey,
        create_time=task.create_time,
        finish_time=task.finish_time,
        progress=task.progress,
        err_code=task.err_code,
        err_msg=task.err_msg,
        attempts=task.attempts,
        worker_id=task.worker_id,
        stage_times=task.stage_times,
    )


@router.get("")
def recent_tasks(
    ctx: ContextDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
    status: Annotated[str | None, Query(description="only tasks in this status")] = None,
) -> list[TaskRow]:
    """The newest tasks, whatever their create time (list_task needs a window)."""
    if status:
        inspection.statuses([status])
    with ctx.db.read() as session:
        rows = inspection.recent(session=session, limit=limit, status=status)
        return [_row(task) for task in rows]


@router.get(
    "/{task_id}/wait",
    response_model=TaskView,
    responses={200: {"headers": {WAIT_HEADER: {"description": "reached | timeout"}}}},
)
async def wait_task(
    ctx: ContextDep,
    task_id: str,
    timeout: Annotated[float, Query(ge=0, le=600, description="seconds")] = 30,
    status: Annotated[
        list[str], Query(description="return at these statuses too (repeat or comma-separate)")
    ] = [],  # noqa: B006 - FastAPI copies defaults
) -> JSONResponse:
    """The task as query_task shows it, once final (or in `status`), or when timeout passed.

    The X-Emulator-Wait header says which: `reached` or `timeout`.
    """
    until = inspection.statuses(status)
    task, reached = await inspection.wait(
        db=ctx.db, task_id=task_id, until=until, timeout_s=timeout, changes=ctx.task_changes
    )
    return JSONResponse(
        task_view(task, ctx.presign), headers={WAIT_HEADER: "reached" if reached else "timeout"}
    )
