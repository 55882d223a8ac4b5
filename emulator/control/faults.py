"""Control API: inject faults for the next N matching requests or tasks; list and clear them."""

from __future__ import annotations

from fastapi import Request, Response

from emulator.api.deps import ContextDep
from emulator.control.common import control_router
from emulator.control.models import Fault, FaultIn
from emulator.services import faults
from emulator.services.faults import FaultWatch

router = control_router(prefix="/faults")


def _watch(request: Request) -> FaultWatch:
    watch: FaultWatch = request.app.state.runtime.faults
    return watch


@router.get("")
def list_faults(ctx: ContextDep) -> list[Fault]:
    """Every fault, used-up ones included (remaining 0), with how often each was met."""
    with ctx.db.read() as session:
        return [Fault(**f) for f in faults.list_all(session=session)]


@router.post("", status_code=201)
def add_fault(request: Request, ctx: ContextDep, body: FaultIn) -> Fault:
    """api_error / api_latency on a route; task_fail / task_slow for the next tasks claimed."""
    with ctx.db.write() as session:
        fault = faults.add(session=session, **body.model_dump())
    _watch(request).invalidate()
    return Fault(**fault)


@router.delete("", status_code=204)
def clear_faults(request: Request, ctx: ContextDep) -> Response:
    with ctx.db.write() as session:
        faults.clear(session=session)
    _watch(request).invalidate()
    return Response(status_code=204)


@router.delete("/{fault_id}", status_code=204)
def delete_fault(request: Request, ctx: ContextDep, fault_id: str) -> Response:
    with ctx.db.write() as session:
        faults.delete(session=session, fault_id=fault_id)
    _watch(request).invalidate()
    return Response(status_code=204)
