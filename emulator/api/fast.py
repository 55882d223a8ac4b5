"""The polled reads (query_task, list_task, ...) answered before FastAPI's router, with one
thread hop each.

Why: clients poll these routes in tight loops, and as ordinary FastAPI routes each request
pays for the router's matching, the dependency solver, and a thread-pool hand-off per sync
dependency and again for the endpoint; that work, on the event loop's one thread, is what
bounded throughput, not the single SQL statement behind each read. Here a dict keyed by
(method, path) finds the read, and each request does in order what its FastAPI route does,
with the same functions:

    signature or Basic check    deps.signed / deps.v1_authed (same verifier, same
                                request.state keys: auth_scheme, auth_error, access_key_id,
                                string_to_sign, fault)
    injected faults             deps.apply_faults (latency, then the error code)
    parameters                  params.raw_params + validate (v1: normalize), 1001 / 1002
    the data                    the route module's read_* (service function + view builder)
    the answer                  envelope.ok / error_response

The check, the faults it consumes and the read run in ONE run_in_threadpool call, since the
key lookup, the shared nonces (PostgreSQL), the fault table and the read may touch the
database, which must never run on the event loop. Parameters are parsed first, on the loop
(pure CPU), but a parameter error is raised only where the FastAPI route raises it: after the
signature check and the faults. A request that hits a fault takes a second hop for the read,
after the fault's latency.

The FastAPI routes stay as they are: OpenAPI documents them with their real schemas, and
every other method or path (HEAD, a trailing slash) goes on to them. FastReads sits inside
RequestContext, SiteGuard and ConsoleLog (create_app), so ids, the request log and the console
line are made as for any route. create_app keeps the Switch in app.state.fast_reads: tests turn
it off to compare the two paths.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from emulator.api import storages, tasks, templates
from emulator.api.deps import Hits, apply_faults, request_facts, signed, v1_authed
from emulator.api.envelope import error_response, ok
from emulator.api.params import raw_params, validate
from emulator.auth import RequestFacts
from emulator.context import Context
from emulator.errors import ApiError
from emulator.v1 import params as v1_params
from emulator.v1 import storages as v1_storages
from emulator.v1 import tasks as v1_tasks
from emulator.v1 import templates as v1_templates

Guard = Callable[[Request, Context, RequestFacts], Hits]


@dataclass(frozen=True)
class FastRead:
    """One polled read: how it is authenticated, its parameters, and what it answers."""

    guard: Guard  # deps.signed (/api/) or deps.v1_authed (/vodencoding/v1/)
    model: type[BaseModel] | None  # None: the route takes no parameters
    v1_zeros: bool  # parameters parsed the v1 way (zero values dropped, aliases renamed)
    read: Callable[[Context, Any], object]
    quick: bool = True  # one short statement or two: held to READS_AT_ONCE


V1 = v1_params.PREFIX
READS_AT_ONCE = 2
READS: dict[str, FastRead] = {
    "/api/query_task": FastRead(signed, tasks.ByTaskId, False, tasks.read_task),
    "/api/list_task": FastRead(signed, tasks.ListTask, False, tasks.read_task_page),
    "/api/list_summary": FastRead(signed, tasks.ListSummary, False, tasks.read_summary, False),
    "/api/query_template": FastRead(signed, templates.ByName, False, templates.read_template),
    "/api/list_template": FastRead(signed, None, False, templates.read_templates),
    "/api/list_storage": FastRead(signed, None, False, storages.read_storages),
    f"{V1}/query_task": FastRead(v1_authed, v1_params.ByTaskId, True, v1_tasks.read_task),
    f"{V1}/list_task": FastRead(v1_authed, v1_params.ListTask, True, v1_tasks.read_task_page),
    # v1's list_summary is /api/'s handler behind v1 auth: /api/'s parameter parsing too.
    f"{V1}/list_summary": FastRead(v1_authed, tasks.ListSummary, False, tasks.read_summary, False),
    f"{V1}/query_template": FastRead(
        v1_authed, v1_params.ByTemplateName, True, v1_templates.read_template
    ),
    f"{V1}/list_template": FastRead(v1_authed, None, False, v1_templates.read_templates),
    f"{V1}/list_storage": FastRead(v1_authed, None, False, v1_storages.read_storages),
}


@dataclass
class Switch:
    on: bool = True


NOT_READ = object()  # the read did not run in the first hop (a fault was hit, or bad params)


class FastReads:
    """Pure ASGI: a GET of a path in READS is answered here, anything else goes on to `app`."""

    def __init__(self, app: ASGIApp, *, ctx: Context, switch: Switch) -> None:
        self.app = app
        self.ctx = ctx
        self.switch = switch
        # Few reads at once in the pool: 32 threads polling at once fought over the GIL (the
        # loop waited its turn behind them) and past the engine's pool size each read opened
        # and closed its own SQLite connection. list_summary is not held to it: one over a
        # big table must not stall every poll behind it.
        self.gate = asyncio.Semaphore(READS_AT_ONCE)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        read = None
        if scope["type"] == "http" and scope["method"] == "GET" and self.switch.on:
            read = READS.get(_route_path(scope))
        if read is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await self._answer(request, read)
        except ApiError as exc:
            response = error_response(request, exc)
        await response(scope, receive, send)

    async def _answer(self, request: Request, read: FastRead) -> Response:
        facts = await request_facts(request)
        p, bad = None, None
        if read.model is not None:
            try:  # a malformed query (a parameter given twice) also waits for the auth check
                raw = await raw_params(request)
                p = validate(read.model, v1_params.normalize(raw) if read.v1_zeros else raw)
            except ApiError as exc:
                bad = exc
        async with self.gate if read.quick else contextlib.nullcontext():
            hits, data = await run_in_threadpool(self._guarded_read, request, read, facts, p, bad)
        await apply_faults(request, hits)
        if bad is not None:
            raise bad
        if data is NOT_READ:
            data = await run_in_threadpool(read.read, self.ctx, p)
        return ok(request, data)

    def _guarded_read(
        self,
        request: Request,
        read: FastRead,
        facts: RequestFacts,
        p: BaseModel | None,
        bad: ApiError | None,
    ) -> tuple[Hits, object]:
        """In the thread pool: the auth check and fault lookup, then the read unless a fault
        (its latency comes first) or a parameter error stands in its way."""
        hits = read.guard(request, self.ctx, facts)
        if hits or bad is not None:
            return hits, NOT_READ
        return hits, read.read(self.ctx, p)


def _route_path(scope: Scope) -> str:
    """The path routing matches: without the root_path a proxy prefix put in front."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path
