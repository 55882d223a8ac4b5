"""Dependencies shared by the routers: the context, sessions, and the signature check."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from emulator.auth import RequestFacts
from emulator.context import Context


def get_context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


ContextDep = Annotated[Context, Depends(get_context)]


async def request_facts(request: Request) -> RequestFacts:
    return RequestFacts(
        method=request.method,
        path=request.url.path,
        raw_query=request.url.query,
        query=request.query_params.multi_items(),
        headers=request.headers.items(),
        body=await request.body(),
    )


async def check_signature(request: Request, ctx: ContextDep) -> None:
    """SPEC.md section 2; the verdict's scheme goes out in X-Emulator-Auth-Scheme."""
    state = request.scope.setdefault("state", {})
    if ctx.settings.auth == "off":
        state["access_key_id"] = ctx.settings.access_key_id
        state["auth_scheme"] = "off"
        return
    verdict = ctx.verifier.verify(await request_facts(request))
    state["access_key_id"] = verdict.access_key_id
    state["auth_scheme"] = verdict.scheme
