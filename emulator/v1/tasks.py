"""/vodencoding/v1 task routes: create_task, del_task, query_task, list_task, list_summary."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlmodel import Session

from emulator.api import tasks as api_tasks
from emulator.api.deps import ContextDep, check_v1_auth
from emulator.api.envelope import Envelope, ok
from emulator.api.params import openapi
from emulator.api.tasks import ListSummary
from emulator.api.views import Summary, TaskId
from emulator.context import Context
from emulator.services import tasks
from emulator.v1.params import PREFIX, ByTaskId, CreateTask, ListTask, v1_params
from emulator.v1.views import TaskListV1, TaskV1, task_v1

router = APIRouter(prefix=PREFIX, tags=["v1 task"], dependencies=[Depends(check_v1_auth)])


@router.post(
    "/create_task", response_model=Envelope[TaskId], openapi_extra=openapi(CreateTask, "POST")
)
def create_task(
    request: Request, ctx: ContextDep, p: Annotated[CreateTask, Depends(v1_params(CreateTask))]
) -> Response:
    with ctx.db.write() as session:
        task = tasks.create(session=session, **p.model_dump())
    ctx.wake_workers()
    return ok(request, {"task_id": task.task_id})


@router.delete(
    "/del_task", response_model=Envelope[None], openapi_extra=openapi(ByTaskId, "DELETE")
)
def del_task(
    request: Request, ctx: ContextDep, p: Annotated[ByTaskId, Depends(v1_params(ByTaskId))]
) -> Response:
    with ctx.db.write() as session:
        tasks.delete(session=session, task_id=p.task_id)
    return ok(request)


@router.get("/query_task", response_model=Envelope[TaskV1], openapi_extra=openapi(ByTaskId, "GET"))
def query_task(
    request: Request, ctx: ContextDep, p: Annotated[ByTaskId, Depends(v1_params(ByTaskId))]
) -> Response:
    return ok(request, read_task(ctx, p))


def read_task(ctx: Context, p: ByTaskId) -> TaskV1:
    """query_task's data; emulator/api/fast.py answers the polled reads with these too."""
    return ctx.db.read_view(
        ("v1/query_task", p.task_id),
        lambda session: task_v1(tasks.get(session=session, task_id=p.task_id), ctx.presign),
    )


@router.get(
    "/list_task", response_model=Envelope[TaskListV1], openapi_extra=openapi(ListTask, "GET")
)
def list_task(
    request: Request, ctx: ContextDep, p: Annotated[ListTask, Depends(v1_params(ListTask))]
) -> Response:
    return ok(request, read_task_page(ctx, p))


def read_task_page(ctx: Context, p: ListTask) -> TaskListV1:
    # As on /api/: an absolute window, so the parameters are the whole key.
    query = p.query()

    def build(session: Session) -> TaskListV1:
        rows, total = tasks.page(session=session, **query)
        items = [task_v1(task, ctx.presign) for task in rows]
        return {"list": items, "num": len(items), "total": total}

    return ctx.db.read_view(("v1/list_task", *sorted(query.items())), build)


# Same parameters and data as /api/list_summary (hours before now): the same handler, behind
# this router's v1 authentication.
router.get(
    "/list_summary",
    response_model=Envelope[Summary],
    openapi_extra=openapi(ListSummary, "GET"),
)(api_tasks.list_summary)
