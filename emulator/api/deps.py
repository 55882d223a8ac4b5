"""Dependencies shared by the routers: the context, sessions, and the signature check."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import Depends, Request

from emulator.auth import RequestFacts, SignatureMismatch, Unauthorized, is_basic
from emulator.context import Context
from emulator.errors import AuthFail
from emulator.services import faults
from emulator.services.faults import FaultWatch


async def get_context(request: Request) -> Context:
    # async on purpose: FastAPI runs a plain `def` dependency in its thread pool, and that
    # hand-off cost more than everything else query_task does.
    ctx: Context = request.app.state.ctx
    return ctx


ContextDep = Annotated[Context, Depends(get_context)]


async def request_facts(request: Request) -> RequestFacts:
    scope = request.scope
    return RequestFacts(
        method=scope["method"],
        # What routing matched: for our plain-ASCII routes the same as request.url.path,
        # without building a URL on every request.
        path=scope["path"],
        raw_query=scope["query_string"].decode("utf-8", "replace"),
        query=request.query_params.multi_items(),
        headers=request.headers.items(),
        body=await request.body(),
    )


async def check_signature(request: Request, ctx: ContextDep) -> None:
    """SPEC.md section 2; the verdict's scheme goes out in X-Emulator-Auth-Scheme.

    The verdict (or the failure and the server's StringToSign) stays in the request's state
    for the request log; injected faults apply to requests that passed.
    """
    state = request.scope.setdefault("state", {})
    if ctx.settings.auth == "off":
        state["access_key_id"] = ctx.settings.access_key_id
        state["auth_scheme"] = "off"
    else:
        try:
            verdict = ctx.verifier.verify(await request_facts(request))
        except AuthFail as exc:
            state["auth_error"] = exc.detail
            if isinstance(exc, SignatureMismatch):
                state["string_to_sign"] = exc.string_to_sign
            raise
        state["access_key_id"] = verdict.access_key_id
        state["auth_scheme"] = verdict.scheme
    await apply_faults(request, ctx)


async def apply_faults(request: Request, ctx: Context) -> None:
    """Faults injected through the control API for this route: latency, then an error code."""
    watch: FaultWatch | None = ctx.services.get("faults")
    method, path = request.method, request.scope["path"]
    if watch is None or not watch.might_hit(method=method, path=path):
        return
    hits = watch.hit(method=method, path=path)
    if not hits:
        return
    request.scope.setdefault("state", {})["fault"] = ",".join(f["id"] for f in hits)
    delay_ms = sum(f.get("latency_ms") or 0 for f in hits)
    if delay_ms:
        await asyncio.sleep(delay_ms / 1000)
    for fault in hits:
        if fault["kind"] == "api_error":
            raise faults.route_error(fault, method=method, path=path)


async def check_v1_auth(request: Request, ctx: ContextDep) -> None:
    """/vodencoding/v1/: HTTP Basic (AK:SK) or a signature; failures are 1003 with HTTP 401."""
    header = request.headers.get("authorization")
    if header is None or ctx.settings.auth == "off" or not is_basic(header):
        try:
            await check_signature(request, ctx)
        except AuthFail as exc:
            raise Unauthorized(exc.detail) from None
        return
    state = request.scope.setdefault("state", {})
    try:
        verdict = ctx.verifier.verify_basic(header)
    except AuthFail as exc:
        state["auth_error"] = exc.detail
        raise Unauthorized(exc.detail) from None
    state["access_key_id"] = verdict.access_key_id
    state["auth_scheme"] = verdict.scheme
    await apply_faults(request, ctx)
