"""GET /_emulator/health: 200 only once ready (database migrated, object store, worker)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from emulator import __version__
from emulator.api.deps import ContextDep

router = APIRouter(prefix="/_emulator", tags=["emulator"])


@router.get("/health")
def health(request: Request, ctx: ContextDep) -> JSONResponse:
    # A `def`, so FastAPI runs it in its thread pool: runtime.health() counts tasks in the
    # database, which must not stall the event loop (tests/api/test_event_loop.py).
    runtime = request.app.state.runtime
    body: dict[str, Any] = {
        "status": "ok" if ctx.ready else "starting",
        "version": __version__,
        "s3_endpoint": ctx.s3_endpoint,
        **runtime.health(),
    }
    return JSONResponse(body, status_code=200 if ctx.ready else 503)
