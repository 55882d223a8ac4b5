"""/api/ task routes: create_task, del_task, query_task, list_task, and list_summary."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import Field, model_validator
from sqlmodel import Session

from emulator.api.deps import ContextDep, check_signature
from emulator.api.envelope import Envelope, ok
from emulator.api.params import VendorParams, openapi, params
from emulator.api.views import (
    LIST_ITEM_COLUMNS,
    Summary,
    TaskId,
    TaskList,
    TaskView,
    task_list_item,
    task_view,
)
from emulator.context import Context
from emulator.db.tasks import STATUSES
from emulator.services import fields, summary, tasks

router = APIRouter(prefix="/api", tags=["task"], dependencies=[Depends(check_signature)])

UnixSeconds = Annotated[int, Field(ge=1_000_000_000, le=9_999_999_999, description="10 digits")]
Hours = Annotated[int, Field(ge=0, le=87_600, description="hours before now")]


class CreateTask(VendorParams):
    template_name: fields.Name
    input: fields.MediaUrl
    output: fields.ObjectKey = Field(description="a key, or s3://<the storage's bucket>/key")
    storage_id: fields.Label


class ByTaskId(VendorParams):
    task_id: Annotated[str, Field(min_length=1, max_length=64)]


class ListTask(VendorParams):
    start_time: UnixSeconds
    end_time: UnixSeconds
    status: Literal[("", *STATUSES)] = ""  # type: ignore[valid-type]
    start_num: Annotated[int, Field(ge=0, le=10_000_000)] = 0
    count: Annotated[int, Field(ge=1, le=1000)] = 50

    @model_validator(mode="after")
    def _window(self) -> ListTask:
        if self.end_time < self.start_time:
            raise ValueError("end_time must not be before start_time")
        return self


class ListSummary(VendorParams):
    start_time: Hours = 48
    end_time: Hours = 24

    @model_validator(mode="after")
    def _window(self) -> ListSummary:
        if self.start_time < self.end_time:
            raise ValueError("start_time (hours ago) must be >= end_time (hours ago)")
        return self


@router.post(
    "/create_task", response_model=Envelope[TaskId], openapi_extra=openapi(CreateTask, "POST")
)
def create_task(
    request: Request, ctx: ContextDep, p: Annotated[CreateTask, Depends(params(CreateTask))]
) -> Response:
    with ctx.db.write() as session:
        task = tasks.create(session=session, **p.model_dump())
    ctx.wake_workers()
    return ok(request, {"task_id": task.task_id})


@router.delete(
    "/del_task", response_model=Envelope[None], openapi_extra=openapi(ByTaskId, "DELETE")
)
def del_task(
    request: Request, ctx: ContextDep, p: Annotated[ByTaskId, Depends(params(ByTaskId))]
) -> Response:
    with ctx.db.write() as session:
        tasks.delete(session=session, task_id=p.task_id)
    return ok(request)


@router.get(
    "/query_task", response_model=Envelope[TaskView], openapi_extra=openapi(ByTaskId, "GET")
)
def query_task(
    request: Request, ctx: ContextDep, p: Annotated[ByTaskId, Depends(params(ByTaskId))]
) -> Response:
    return ok(request, read_task(ctx, p))


def read_task(ctx: Context, p: ByTaskId) -> TaskView:
    """query_task's data; emulator/api/fast.py answers the polled reads with these too."""
    return ctx.db.read_view(
        ("api/query_task", p.task_id),
        lambda session: task_view(tasks.get(session=session, task_id=p.task_id), ctx.presign),
    )


@router.get("/list_task", response_model=Envelope[TaskList], openapi_extra=openapi(ListTask, "GET"))
def list_task(
    request: Request, ctx: ContextDep, p: Annotated[ListTask, Depends(params(ListTask))]
) -> Response:
    return ok(request, read_task_page(ctx, p))


def read_task_page(ctx: Context, p: ListTask) -> TaskList:
    # The window is absolute (unix seconds), so the parameters are the whole key; the
    # control clock lives in the database, and setting it is a commit that drops the cache.
    query = p.model_dump()

    def build(session: Session) -> TaskList:
        rows, total = tasks.page(session=session, **query, columns=LIST_ITEM_COLUMNS)
        items = [task_list_item(task) for task in rows]
        return {"list": items, "num": len(items), "total": total}

    return ctx.db.read_view(("api/list_task", *sorted(query.items())), build)


@router.get(
    "/list_summary",
    response_model=Envelope[Summary],
    openapi_extra=openapi(ListSummary, "GET"),
)
def list_summary(
    request: Request, ctx: ContextDep, p: Annotated[ListSummary, Depends(params(ListSummary))]
) -> Response:
    return ok(request, read_summary(ctx, p))


def read_summary(ctx: Context, p: ListSummary) -> dict[str, Any]:  # shaped as Summary
    with ctx.db.read() as session:
        return summary.summarize(session=session, start_hours=p.start_time, end_hours=p.end_time)
