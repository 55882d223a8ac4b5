"""The dashboard at /_emulator/ui: server-rendered pages over the services, live parts by fetch.

Part of the control surface: registered only with EMULATOR_CONTROL=on, behind the control
token when one is set (a browser gets the token's cookie from the login form, ui_login.py).
Pages read the services directly; the few lines of JavaScript in static/dashboard.js refresh
the elements marked `data-live` from the HTML fragments under /_emulator/ui/fragments/.

This module holds what every page shares (rendering, the error page, the form parser) and the
task, key and request-log pages; the other pages and the actions live beside it: ui_actions
(cancel, retry, new task), ui_crud (storages, templates), ui_browse (objects, snapshots,
inboxes), ui_settings, ui_login.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import parse_qsl, quote, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from emulator import __version__, callbacks
from emulator.api.deps import ContextDep
from emulator.api.views import task_view
from emulator.config import Settings
from emulator.control import snippets
from emulator.control.common import (
    TokenDep,
    TokenRequired,
    control_failed,
    describe,
    http_status,
)
from emulator.db import tasks as machine
from emulator.db.models import Task
from emulator.errors import ApiError, BadParam
from emulator.services import holds, inspection, keys, tasks
from emulator.services.requestlog import RequestLog, mask

if TYPE_CHECKING:
    from fastapi.templating import Jinja2Templates

PREFIX = "/_emulator/ui"
STATIC_URL = f"{PREFIX}/static"
FRAGMENTS = f"{PREFIX}/fragments"
PACKAGE_DIR = Path(__file__).resolve().parent.parent
# Fetches from dashboard.js send this header: a missing token is then a 401, not a redirect.
FETCH_HEADER = "x-emulator-ui"
STAGES = (machine.PENDING, *machine.IN_FLIGHT)
MAX_DOWNLOADS = 200


def _utc(ts: float, digits: int = 0) -> str:
    text = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")
    return text + f"{ts % 1:.{digits}f}"[1:] if digits else text


def _secs(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.2f} s"
    return f"{seconds // 60:.0f} min {seconds % 60:.0f} s"


@functools.cache
def _pages() -> Jinja2Templates:
    """The page templates, loaded on the first page view: start-up need not import Jinja2."""
    from fastapi.templating import Jinja2Templates

    pages = Jinja2Templates(directory=PACKAGE_DIR / "templates")
    pages.env.filters.update(
        utc=_utc,
        iso=lambda ts: datetime.fromtimestamp(ts, UTC).isoformat(),
        secs=_secs,
        mask=mask,
        pretty=lambda value: json.dumps(value, indent=2, ensure_ascii=False, default=str),
    )
    return pages


def static_files() -> StaticFiles:
    """CSS, JavaScript and the vendored players (hls.js, dash.js), mounted at STATIC_URL."""
    return StaticFiles(directory=PACKAGE_DIR / "static")


class UiRoute(APIRoute):
    """A missing token sends a browser to the login form; other errors render an error page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except TokenRequired as error:
                if request.headers.get(FETCH_HEADER):
                    return control_failed(request, error)
                target = quote(_here(request), safe="")
                return RedirectResponse(f"{PREFIX}/login?next={target}", status_code=303)
            except ApiError as error:
                return _error_page(request, error)
            except RequestValidationError as exc:
                return _error_page(request, BadParam(describe(exc)))

        return guarded


async def form_fields(request: Request) -> dict[str, str]:
    """A urlencoded form body as a dict (a field given twice keeps its last value): the
    dashboard's forms post nothing richer."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return dict(parse_qsl(body, keep_blank_values=True))


FormDep = Annotated[dict[str, str], Depends(form_fields)]

router = APIRouter(route_class=UiRoute, include_in_schema=False)
views = APIRouter(prefix=PREFIX, route_class=UiRoute, dependencies=[TokenDep])
Status = Annotated[str | None, Query(description="only tasks in this status")]
Limit = Annotated[int, Query(ge=1, le=1000)]


def _render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    settings: Settings = request.app.state.ctx.settings
    context.setdefault("prefix", PREFIX)
    context.setdefault("static", STATIC_URL)
    context.setdefault("version", __version__)
    context.setdefault("token_required", bool(settings.control_token))
    page = _pages().TemplateResponse(request, name, context, status_code=status_code)
    response: HTMLResponse = page
    return response


def _error_page(request: Request, error: ApiError) -> HTMLResponse:
    return _render(request, "error.html", http_status(error), active="", error=error, title="Error")


def _here(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


# Tasks ---------------------------------------------------------------------------------------

ROW_FIELDS = (
    *("task_id", "status", "template_name", "input", "objkey", "create_time"),
    *("finish_time", "err_code", "err_msg", "attempts", "worker_id"),
)


@views.get("")
@views.get("/tasks")
@views.get("/fragments/tasks")
def tasks_page(request: Request, ctx: ContextDep, status: Status = None, limit: Limit = 100) -> Any:
    """Newest tasks first, with a status filter; the fragment is the table, refreshed live."""
    if status:
        inspection.statuses([status])
    with ctx.db.read() as session:
        found = inspection.recent(session=session, limit=limit, status=status)
        held = holds.list_holds(session)
    if ctx.settings.hold_stage:
        held = [{"stage": ctx.settings.hold_stage, "task_id": None, "setting": True}, *held]
    now = time.time()
    counts = request.app.state.runtime.health()["tasks"]
    live: dict[str, Any] = {
        "rows": [task_row(task, now) for task in found],
        "holds": held,
        "status": status,
        "limit": limit,
        "statuses": machine.STATUSES,
        "counts": counts,
        "total": sum(counts.values()),
    }
    if request.url.path.startswith(FRAGMENTS):
        return _render(request, "_tasks_live.html", **live)
    query = urlencode({"status": status, "limit": limit} if status else {"limit": limit})
    live_url = f"{FRAGMENTS}/tasks?{query}"
    return _render(request, "tasks.html", active="tasks", title="Tasks", live_url=live_url, **live)


def task_row(task: Task, now: float) -> dict[str, Any]:
    """What a row of the tasks table shows (and the status panel of the detail page)."""
    timings = stage_timings(task.stage_times, task.status, now)
    total = sum(item["seconds"] for item in timings)
    for item in timings:
        item["share"] = 100 * item["seconds"] / total if total > 0 else 0
    return {
        **{name: getattr(task, name) for name in ROW_FIELDS},
        "final": task.status in machine.FINAL,
        "in_flight": task.status in machine.IN_FLIGHT,
        "progress": round(task.progress, 1),
        "format": task.template.get("format", ""),
        "bucket": task.storage.get("bucket", ""),
        "timings": timings,
        "total_s": total,
        **encoding_rate(task, now),
        "failed_in": failed_in(task.stage_times) if task.status == "fail" else None,
    }


def encoding_rate(task: Task, now: float) -> dict[str, Any]:
    """A running task's fps and speed as ffmpeg reports them, and an ETA from its progress:
    the time spent running so far, scaled by the share still to do."""
    if task.status != machine.RUNNING:
        return {"fps": None, "speed": None, "eta_s": None}
    started = task.stage_times.get(machine.RUNNING)
    percent = task.progress
    eta = None
    if started is not None and 0 < percent < 100:
        eta = max(0.0, now - started) * (100 - percent) / percent
    return {"fps": task.fps or None, "speed": task.speed or None, "eta_s": eta}


def failed_in(times: dict[str, float]) -> str:
    """The stage a failed task was in when it failed: the last one it entered."""
    entered = [stage for stage in STAGES if stage in times]
    return max(entered, key=lambda stage: times[stage]) if entered else machine.PENDING


def stage_timings(times: dict[str, float], status: str, now: float) -> list[dict[str, Any]]:
    """Seconds spent in each stage entered, from the real-clock stamps of each transition.

    The current stage of a task in flight counts up to `now` (marked ongoing).
    """
    found: list[dict[str, Any]] = []
    for index, stage in enumerate(STAGES):
        start = times.get(stage)
        if start is None:
            continue
        later = (*STAGES[index + 1 :], *machine.FINAL)
        ends = [times[s] for s in later if s in times and times[s] >= start]
        ongoing = status == stage
        if not ends and not ongoing:
            continue
        end = now if ongoing else min(ends)
        found.append({"stage": stage, "seconds": max(0.0, end - start), "ongoing": ongoing})
    return found


@views.get("/tasks/{task_id}")
@views.get("/fragments/tasks/{task_id}")
def task_page(request: Request, ctx: ContextDep, task_id: str) -> Any:
    """Everything about one task: parameters, snapshots, ffmpeg, probes, player, downloads.

    The fragment is the status panel, refreshed live until the task ends.
    """
    with ctx.db.read() as session:
        task = tasks.get(session=session, task_id=task_id)
        deliveries = callbacks.for_task(session, task_id)
        retried_as = tasks.retried_as(session=session, task_id=task_id)
    row = task_row(task, time.time())
    if request.url.path.startswith(FRAGMENTS):
        return _render(request, "_task_status.html", row=row)
    bucket = str(task.storage.get("bucket", ""))
    keys_out = task.output_keys if task.status == "success" else []
    return _render(
        request,
        "task.html",
        active="tasks",
        title=f"Task {task_id}",
        task=task,
        row=row,
        view=task_view(task, ctx.presign),
        storage=mask(task.storage),
        media={k: v for k, v in task.media.items() if k in ("source", "output", "output_groups")},
        players=players(task, ctx.presign) if task.status == "success" else [],
        downloads=[(key, ctx.presign(bucket, key)) for key in keys_out[:MAX_DOWNLOADS]],
        more_downloads=max(0, len(keys_out) - MAX_DOWNLOADS),
        deliveries=deliveries,
        live_url=f"{FRAGMENTS}/tasks/{task_id}",
        # Acting on the task (control/ui_actions.py): retry links and its request as code.
        retried_as=retried_as,
        snippets=snippets.create_task(
            {name: getattr(task, name) for name in snippets.PARAMS},
            base_url=ctx.settings.api_base_url,
            access_key_id=ctx.settings.access_key_id,
            dev_keys=ctx.settings.uses_dev_keys,
        ),
    )


def players(task: Task, presign: Callable[[str, str], str]) -> list[dict[str, Any]]:
    """One player per playable output: HLS (hls.js or native), DASH (dash.js), MP4 (native).

    FLV has no player in browsers (download link only); thumbnails show as images.
    """
    bucket = str(task.storage.get("bucket", ""))
    groups = task.media.get("output_groups") or [
        {"format": task.template.get("format", "mp4"), "key": task.objkey}
    ]
    found: list[dict[str, Any]] = []
    for group in groups:
        fmt, key = group.get("format", ""), group.get("key", "")
        item = {"format": fmt, "key": key, "url": presign(bucket, key) if key else ""}
        item["images"] = [presign(bucket, k) for k in group.get("keys", [])[:24]]
        item["renditions"] = group.get("renditions", [])
        found.append(item)
    return found


# Keys, request log (storages and templates, with their forms: ui_crud.py) -------------------


@views.get("/keys")
def keys_page(request: Request, ctx: ContextDep) -> Any:
    """Access keys and their state; the page template never prints a secret."""
    with ctx.db.read() as session:
        rows = keys.list_all(session=session)
    return _render(request, "keys.html", active="keys", title="Access keys", rows=rows)


Text = Annotated[str | None, Query()]


@views.get("/requests")
@views.get("/fragments/requests")
def requests_page(
    request: Request, path: Text = None, code: Text = None, method: Text = None, limit: Limit = 100
) -> Any:
    """The request log, newest first, with each request's signature verdict."""
    if code and not code.lstrip("-").isdigit():
        raise BadParam(f"code: {code!r} is not a number")
    log: RequestLog = request.app.state.runtime.requests
    entries = log.read(
        path=path or None, code=int(code) if code else None, method=method or None, limit=limit
    )
    if request.url.path.startswith(FRAGMENTS):
        return _render(request, "_requests_live.html", entries=entries)
    query = f"?{request.url.query}" if request.url.query else ""
    return _render(
        request,
        "requests.html",
        active="requests",
        title="Request log",
        filters={"path": path or "", "code": code or "", "method": method or ""},
        limit=limit,
        size=request.app.state.ctx.settings.request_log_size,
        live_url=f"{FRAGMENTS}/requests{query}",
        entries=entries,
    )


router.include_router(views)
