"""Dependencies shared by the routers: the context, sessions, and the signature check."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import Depends, Request

from emulator.auth import RequestFacts, SignatureMismatch, Unauthorized, is_basic
from emulator.context import Context
from emulator.errors import AuthFail
from emulator.services import faults


async def get_context(request: Request) -> Context:
    # async: it only reads app.state, and a `def` would cost a thread hand-off per request.
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


FactsDep = Annotated[RequestFacts, Depends(request_facts)]


Hits = list[dict[str, Any]]


def signed(request: Request, ctx: ContextDep, facts: FactsDep) -> Hits:
    """A signed /api/ request: the signature checked, then the faults it hits (recorded).

    A `def`, so FastAPI runs it in its thread pool: the key lookup, the shared nonces on
    PostgreSQL and the fault table read or write the database.
    """
    verify_signature(request, ctx, facts)
    return fault_hits(request, ctx)


def v1_authed(request: Request, ctx: ContextDep, facts: FactsDep) -> Hits:
    """/vodencoding/v1/: HTTP Basic (AK:SK) or a signature; failures are 1003 with HTTP 401."""
    header = request.headers.get("authorization")
    if header is None or ctx.settings.auth == "off" or not is_basic(header):
        try:
            verify_signature(request, ctx, facts)
        except AuthFail as exc:
            raise Unauthorized(exc.detail) from None
        return fault_hits(request, ctx)
    state = request.scope.setdefault("state", {})
    try:
        verdict = ctx.verifier.verify_basic(header)
    except AuthFail as exc:
        state["auth_error"] = exc.detail
        raise Unauthorized(exc.detail) from None
    state["access_key_id"] = verdict.access_key_id
    state["auth_scheme"] = verdict.scheme
    return fault_hits(request, ctx)


async def check_signature(request: Request, hits: Annotated[Hits, Depends(signed)]) -> None:
    """The /api/ routers' guard."""
    await apply_faults(request, hits)


async def check_v1_auth(request: Request, hits: Annotated[Hits, Depends(v1_authed)]) -> None:
    """The /vodencoding/v1 routers' guard."""
    await apply_faults(request, hits)


def verify_signature(request: Request, ctx: Context, facts: RequestFacts) -> None:
    """SPEC.md section 2; the verdict's scheme goes out in X-Emulator-Auth-Scheme.

    The verdict (or the failure and the server's StringToSign) stays in the request's state
    for the request log.
    """
    state = request.scope.setdefault("state", {})
    if ctx.settings.auth == "off":
        state["access_key_id"] = ctx.settings.access_key_id
        state["auth_scheme"] = "off"
        return
    try:
        verdict = ctx.verifier.verify(facts)
    except AuthFail as exc:
        state["auth_error"] = exc.detail
        if isinstance(exc, SignatureMismatch):
            state["string_to_sign"] = exc.string_to_sign
        raise
    state["access_key_id"] = verdict.access_key_id
    state["auth_scheme"] = verdict.scheme


def fault_hits(request: Request, ctx: Context) -> Hits:
    """The faults injected through the control API that this request consumes (usually none;
    injected faults apply to requests that passed authentication)."""
    watch = ctx.faults
    method, path = request.method, request.scope["path"]
    if watch is None or not watch.might_hit(method=method, path=path):
        return []
    hits = watch.hit(method=method, path=path)
    if hits:
        request.scope.setdefault("state", {})["fault"] = ",".join(f["id"] for f in hits)
    return hits


async def apply_faults(request: Request, hits: Hits) -> None:
    """Latency, then an error code. async: the latency is an asyncio.sleep, which holds no
    thread while it waits."""
    delay_ms = sum(f.get("latency_ms") or 0 for f in hits)
    if delay_ms:
        await asyncio.sleep(delay_ms / 1000)
    for fault in hits:
        if fault["kind"] == "api_error":
            raise faults.route_error(fault, method=request.method, path=request.scope["path"])
