"""create_app(settings): routers, middleware, error handlers and the lifespan (db, s3, worker)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from emulator import __version__, docs
from emulator.api import fast, storages, tasks, templates
from emulator.api.envelope import error_response, failed
from emulator.config import Settings
from emulator.context import Context
from emulator.control import callbacks as control_callbacks
from emulator.control import (
    health,
    inbox,
    media_keys,
    routes,
    samples,
    ui,
    ui_actions,
    ui_browse,
    ui_crud,
    ui_login,
    ui_settings,
)
from emulator.control.common import TokenDep
from emulator.errors import ApiError, BadParam, MethodNotAllowed, NotFoundRoute
from emulator.middleware import ConsoleLog, RequestContext, SiteGuard
from emulator.origins import SitePolicy
from emulator.runtime import Runtime
from emulator.v1 import storages as v1_storages
from emulator.v1 import tasks as v1_tasks
from emulator.v1 import templates as v1_templates

log = logging.getLogger("emulator")


def create_app(
    settings: Settings | None = None,
    *,
    announce: bool = False,
    on_ready: Callable[[], None] | None = None,
) -> FastAPI:
    settings = settings or Settings()
    ctx = Context.build(settings)
    runtime = Runtime(ctx)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime.start()
        if announce:
            print(banner(ctx), flush=True)
        if on_ready is not None:
            on_ready()
        try:
            yield
        finally:
            runtime.stop()
            if announce:
                print("transcode-emulator stopped", flush=True)

    app = FastAPI(
        title="transcode-emulator",
        version=__version__,
        description=(
            "A local emulator of the Visionular cloud transcoding API. `/api/` routes take "
            "a signed `Authorization: Visionular AccessKeyId=..., Signature=...` header "
            "(README, Authentication). `/vodencoding/v1/` routes (the vendor's current "
            "generation) take HTTP Basic `base64(AccessKeyId:AccessKeySecret)` or that signature."
        ),
        lifespan=lifespan,
        # Served by emulator/docs.py from vendored assets: FastAPI's own pages use CDNs.
        docs_url=None,
        redoc_url=None,
        # FastAPI's native OpenTelemetry hooks looked up the global providers on every request;
        # the emulator exports no telemetry (README, Performance).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.ctx = ctx
    app.state.runtime = runtime
    for router in (storages.router, templates.router, tasks.router, health.router):
        app.include_router(router)
    # Players fetch AES-128 keys here: media delivery, so not behind EMULATOR_CONTROL.
    app.include_router(media_keys.router)
    app.include_router(docs.router)  # /docs, /redoc and `/`, with the control surface or not
    for router in (v1_storages.router, v1_templates.router, v1_tasks.router):
        app.include_router(router)
    if settings.control == "on":
        app.include_router(routes.router)
        app.include_router(samples.router)  # open without the token (control/samples.py)
        app.include_router(inbox.receiver)  # open without the token too (control/inbox.py)
        app.include_router(inbox.router)
        app.include_router(control_callbacks.router, dependencies=[TokenDep])
        app.include_router(control_callbacks.actions, dependencies=[TokenDep])
        app.include_router(ui_actions.new_task)  # before ui's /tasks/{task_id} takes "new"
        app.include_router(ui.router)  # the dashboard (README, Dashboard)
        app.include_router(ui_login.views)  # open: how a browser gets the token's cookie
        for pages in (ui_actions.views, ui_crud.views, ui_browse.views, ui_settings.views):
            app.include_router(pages)
        app.mount(ui.STATIC_URL, ui.static_files(), name="ui-static")
    _install_error_handlers(app)
    # The request log is read through the control API only: without it, nothing is kept.
    requests = runtime.requests if settings.control == "on" else None
    # Inside RequestContext, outside FastAPI's router: the polled reads (emulator/api/fast.py).
    app.state.fast_reads = fast.Switch()
    app.add_middleware(fast.FastReads, ctx=ctx, switch=app.state.fast_reads)
    app.add_middleware(RequestContext, request_log=requests)
    # Last, so outermost: a foreign Host or a cross-site write runs nothing (README, Security).
    app.add_middleware(SiteGuard, policy=SitePolicy.from_settings(settings))
    app.add_middleware(ConsoleLog)  # around everything: refused requests get their line too
    return app


def banner(ctx: Context) -> str:
    """What `serve` prints once ready: where things are and which keys sign requests."""
    s = ctx.settings
    secret = s.access_key_secret if s.uses_dev_keys else s.access_key_secret[:4] + "*" * 28
    note = "  (the documented development pair)" if s.uses_dev_keys else ""
    workers = f"{s.worker_concurrency} in-process" if s.worker_concurrency else "off (API only)"
    return "\n".join(
        [
            f"transcode-emulator {__version__} is ready",
            f"  API base URL      {s.api_base_url}",
            *([f"  dashboard         {s.api_base_url}/_emulator/ui"] if s.control == "on" else []),
            f"  API docs          {s.api_base_url}/docs",
            f"  AccessKeyId       {s.access_key_id}{note}",
            f"  AccessKeySecret   {secret}",
            f"  S3 endpoint       {ctx.s3_endpoint}",
            f"  workers           {workers}",
            f"  data dir          {s.data_dir.resolve()}",
        ]
    )


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def on_api_error(request: Request, exc: ApiError) -> Response:
        return error_response(request, exc)

    @app.exception_handler(HTTPException)
    async def on_http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 404:
            return failed(request, NotFoundRoute(f"no route {request.url.path}"))
        if exc.status_code == 405:
            return failed(
                request,
                MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}"),
            )
        return failed(request, BadParam(str(exc.detail)))

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(part) for part in first["loc"])
        return failed(request, BadParam(f"{where}: {first['msg']}"))
