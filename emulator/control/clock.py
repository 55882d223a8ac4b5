"""Control API: the emulator clock (offset or frozen) for the task times the API records.

Heartbeats, leases, time limits and the signature Date check keep the real clock.
"""

from __future__ import annotations

import time

from emulator.api.deps import ContextDep
from emulator.control.common import control_router
from emulator.control.models import Clock, ClockIn
from emulator.db import state

router = control_router(prefix="/clock")


def _clock(ctx: ContextDep) -> Clock:
    with ctx.db.read() as session:
        setting = state.clock_setting(session)
        now = state.clock_now(session)
    return Clock(
        now=now,
        real_now=time.time(),
        offset_s=setting.get("offset"),
        frozen_at=setting.get("frozen"),
    )


@router.get("")
def get_clock(ctx: ContextDep) -> Clock:
    return _clock(ctx)


@router.post("")
def set_clock(ctx: ContextDep, body: ClockIn) -> Clock:
    """`{"offset_s": N}`, `{"frozen_at": unix}`, `{"advance_s": N}`, or `{}` for the real clock."""
    with ctx.db.write() as session:
        if body.advance_s is not None:
            state.advance_clock(session, seconds=body.advance_s)
        elif body.offset_s is not None or body.frozen_at is not None:
            state.set_clock(session, offset_s=body.offset_s, frozen_at=body.frozen_at)
        else:
            state.clear_clock(session)
    return _clock(ctx)


@router.delete("")
def clear_clock(ctx: ContextDep) -> Clock:
    with ctx.db.write() as session:
        state.clear_clock(session)
    return _clock(ctx)
