"""/_emulator/tasks/{task_id}/callbacks: a task's callback deliveries, every attempt, redelivery."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from emulator import callbacks
from emulator.api.deps import ContextDep
from emulator.control.common import control_router
from emulator.db.models import CallbackDelivery

router = APIRouter(prefix="/_emulator", tags=["emulator"])
# Errors as real HTTP statuses (an unknown delivery is a 404); app.py adds the token.
actions = control_router(prefix="/_emulator", tags=["emulator"])


@router.get("/tasks/{task_id}/callbacks")
def task_callbacks(task_id: str, ctx: ContextDep) -> dict[str, Any]:
    """Deliveries to the storage's `notify` URL: status, attempts, next try and the payload.

    Each attempt: time (unix seconds), status_code (null when no answer), latency_ms, error;
    a redelivery's has `"redelivery": true` (not counted in `attempts`).
    """
    with ctx.db.read() as session:
        rows = callbacks.for_task(session, task_id)
    deliveries = [delivery_view(row) for row in rows]
    return {"task_id": task_id, "deliveries": deliveries, "num": len(deliveries)}


@actions.post("/tasks/{task_id}/callbacks/{delivery_id}/redeliver")
def redeliver(task_id: str, delivery_id: int, request: Request) -> dict[str, Any]:
    """Send the delivery again now (its payload, to its URL), whatever its status; the attempt
    is appended to its history with its outcome, and the delivery is answered as above."""
    deliverer: callbacks.Deliverer = request.app.state.runtime.callbacks
    return delivery_view(deliverer.redeliver(task_id=task_id, delivery_id=delivery_id))


def delivery_view(row: CallbackDelivery) -> dict[str, Any]:
    return {
        "id": row.id,
        "url": row.url,
        "status": row.status,
        "attempts": row.attempts,
        "max_attempts": callbacks.MAX_ATTEMPTS,
        "created_at": row.created_at,
        "next_attempt_at": row.next_attempt_at if row.status == callbacks.PENDING else None,
        "finished_at": row.finished_at,
        "history": row.history,
        "payload": row.payload,
    }
