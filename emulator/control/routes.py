"""Control API under /_emulator/ (reset, ...); off with EMULATOR_CONTROL=off."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from emulator.api.deps import ContextDep
from emulator.errors import BadParam
from emulator.services import reset as reset_service

router = APIRouter(prefix="/_emulator", tags=["emulator"])


class ResetRequest(BaseModel):
    parts: list[str] | None = None


@router.post("/reset")
def reset(request: Request, ctx: ContextDep, body: ResetRequest | None = None) -> dict[str, Any]:
    """Delete storages, custom templates, tasks, objects and shared state (or only `parts`)."""
    parts = body.parts if body and body.parts else list(reset_service.PARTS)
    unknown = sorted(set(parts) - set(reset_service.PARTS))
    if unknown:
        raise BadParam(f"parts: unknown {unknown}; choose from {list(reset_service.PARTS)}")
    request.app.state.runtime.reset(parts)
    return {"reset": parts}
