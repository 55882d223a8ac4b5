"""Control API: the request log (last N vendor-API requests of this process, secrets masked)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response

from emulator.control.common import control_router
from emulator.control.models import RequestEntry
from emulator.services.requestlog import RequestLog

router = control_router(prefix="/requests")


def _log(request: Request) -> RequestLog:
    log: RequestLog = request.app.state.runtime.requests
    return log


@router.get("")
def list_requests(
    request: Request,
    path: Annotated[str | None, Query(description="a path or glob; create_task = /api/...")] = None,
    code: Annotated[int | None, Query(description="only responses with this code")] = None,
    method: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> list[RequestEntry]:
    """Newest first: parameters, response code, latency and the signature verdict."""
    entries = _log(request).read(path=path, code=code, method=method, limit=limit)
    return [RequestEntry(**entry) for entry in entries]


@router.delete("", status_code=204)
def clear_requests(request: Request) -> Response:
    _log(request).clear()
    return Response(status_code=204)
