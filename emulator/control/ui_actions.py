"""Acting on tasks from the dashboard: cancel, retry, a create form, and copy as code.

The forms post to this router; the dashboard's server side calls the same service functions
as the API (never a signed API call from the browser). Cross-site posts never get here: the
middleware refuses a foreign Origin or Sec-Fetch-Site: cross-site on the control surface.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse

from emulator.api.deps import ContextDep
from emulator.api.params import validate
from emulator.api.tasks import CreateTask
from emulator.context import Context
from emulator.control.common import TokenDep, http_status
from emulator.control.samples import SAMPLES, SAMPLES_PATH
from emulator.control.ui import PREFIX, FormDep, UiRoute, _render, task_page
from emulator.errors import ApiError, BadParam
from emulator.services import storages, tasks, templates

views = APIRouter(
    prefix=PREFIX, route_class=UiRoute, dependencies=[TokenDep], include_in_schema=False
)
# Included before the dashboard's /tasks/{task_id}, which would take "new" for a task id.
new_task = APIRouter(
    prefix=PREFIX, route_class=UiRoute, dependencies=[TokenDep], include_in_schema=False
)

FIELDS = tuple(CreateTask.model_fields)


@views.post("/tasks/{task_id}/cancel")
def cancel(ctx: ContextDep, task_id: str) -> Any:
    """What del_task does: a pending task is removed, one in flight hidden until its worker
    stopped ffmpeg and removed it. A finished task has nothing to cancel."""
    with ctx.db.write() as session:
        tasks.cancel(session=session, task_id=task_id)
    return RedirectResponse(f"{PREFIX}?{urlencode({'cancelled': task_id})}", status_code=303)


@views.post("/tasks/{task_id}/retry")
def retry(request: Request, ctx: ContextDep, task_id: str) -> Any:
    """A new task with the same parameters, linked to this one; create_task's errors (its
    template or storage deleted since) are shown on this task's page."""
    try:
        with ctx.db.write() as session:
            again = tasks.retry(session=session, task_id=task_id)
    except BadParam as error:  # not EmptyResult or OperationFail: those get the error page
        # The task page as it is, with the error above it (`context`: what it was drawn from).
        shown = {
            k: v for k, v in task_page(request, ctx, task_id).context.items() if k != "request"
        }
        return _render(request, "task.html", http_status(error), **shown, action_error=error)
    ctx.wake_workers()
    return RedirectResponse(f"{PREFIX}/tasks/{again.task_id}", status_code=303)


@new_task.get("/tasks/new")
def new_task_form(request: Request, ctx: ContextDep) -> Any:
    return _form(request, ctx, dict.fromkeys(FIELDS, ""), error=None)


async def form_values(form: FormDep) -> dict[str, str]:
    """create_task's fields from the form ("" for one not sent)."""
    return {name: form.get(name, "") for name in FIELDS}


FormValues = Annotated[dict[str, str], Depends(form_values)]


@new_task.post("/tasks/new")
def create(request: Request, ctx: ContextDep, values: FormValues) -> Any:
    """create_task from the form: the API's own parameter model and service, so the form
    accepts and refuses exactly what /api/create_task does."""
    try:
        params = validate(CreateTask, values)
        with ctx.db.write() as session:
            task = tasks.create(session=session, **params.model_dump())
    except ApiError as error:
        return _form(request, ctx, values, error=error)
    ctx.wake_workers()
    return RedirectResponse(f"{PREFIX}/tasks/{task.task_id}", status_code=303)


def _form(request: Request, ctx: Context, values: dict[str, str], *, error: ApiError | None) -> Any:
    with ctx.db.read() as session:
        stored = storages.list_all(session=session)
        found = templates.list_all(session=session)
    base = ctx.settings.api_base_url
    return _render(
        request,
        "new_task.html",
        http_status(error),
        active="tasks",
        title="New task",
        values=values,
        error=error,
        storages=stored,
        builtin=[t.name for t in found if t.template_type == templates.BUILT_IN],
        custom=[t.name for t in found if t.template_type != templates.BUILT_IN],
        samples=[
            {"name": name, "url": f"{base}{SAMPLES_PATH}{name}", "description": s.description}
            for name, s in SAMPLES.items()
        ],
    )
