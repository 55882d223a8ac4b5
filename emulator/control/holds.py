"""Control API: stage holds park tasks in a stage until released (deterministic states)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from emulator.api.deps import ContextDep
from emulator.control.common import control_router
from emulator.control.models import Hold, HoldIn
from emulator.services import holds

router = control_router(prefix="/holds")


@router.get("")
def list_holds(ctx: ContextDep) -> list[Hold]:
    with ctx.db.read() as session:
        return [Hold(**h) for h in holds.list_holds(session)]


@router.post("", status_code=201)
def add_hold(ctx: ContextDep, body: HoldIn) -> list[Hold]:
    """Tasks (or one task) entering `stage` stay there until the hold is released."""
    with ctx.db.write() as session:
        left = holds.add(session, stage=body.stage, task_id=body.task_id)
    ctx.stage_rules_changed()
    return [Hold(**h) for h in left]


@router.delete("")
def release_holds(
    ctx: ContextDep,
    stage: Annotated[str | None, Query(description="only holds on this stage")] = None,
    task_id: Annotated[str | None, Query(description="only holds on this task")] = None,
) -> list[Hold]:
    """Release matching holds (all without parameters); returns the holds left."""
    with ctx.db.write() as session:
        left = holds.release(session, stage=stage, task_id=task_id)
    ctx.stage_rules_changed()
    return [Hold(**h) for h in left]
