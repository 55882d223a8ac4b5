"""Control API under /_emulator/ (SPEC.md section 7); off with EMULATOR_CONTROL=off.

Every route here takes the control token when EMULATOR_CONTROL_TOKEN is set; health (its own
router) never does.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request

from emulator.control import clock, faults, holds, keys, requestlog, snapshots, tasks
from emulator.control.common import TAG, TokenDep, control_router
from emulator.control.models import ResetIn, ResetOut
from emulator.errors import BadParam
from emulator.services import reset as reset_service

router = control_router(prefix="/_emulator", tags=[TAG], dependencies=[TokenDep])


@router.post("/reset")
def reset(
    request: Request,
    body: ResetIn | None = None,
    parts: Annotated[str | None, Query(description="comma-separated, instead of a body")] = None,
) -> ResetOut:
    """Delete storages, custom templates, tasks, objects and shared state (or only `parts`).

    Running ffmpeg processes stop. Built-in templates and access keys stay. "state" is the
    clock, holds, faults, the request log and the callback inboxes.
    """
    chosen = (body.parts if body else None) or (parts.split(",") if parts else None)
    chosen = [p.strip() for p in chosen or reset_service.PARTS if p.strip()]
    unknown = sorted(set(chosen) - set(reset_service.PARTS))
    if unknown:
        raise BadParam(f"parts: unknown {unknown}; choose from {list(reset_service.PARTS)}")
    request.app.state.runtime.reset(chosen)
    return ResetOut(reset=chosen)


for _module in (keys, faults, tasks, holds, clock, requestlog, snapshots):
    router.include_router(_module.router)
