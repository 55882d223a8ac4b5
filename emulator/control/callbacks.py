"""GET /_emulator/tasks/{task_id}/callbacks: a task's callback deliveries and every attempt."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from emulator import callbacks
from emulator.api.deps import ContextDep

router = APIRouter(prefix="/_emulator", tags=["emulator"])


@router.get("/tasks/{task_id}/callbacks")
def task_callbacks(task_id: str, ctx: ContextDep) -> dict[str, Any]:
    """Deliveries to the storage's `notify` URL: status, attempts, next try and the payload.

    Each attempt: time (unix seconds), status_code (null when no answer), latency_ms, error.
    """
    with ctx.db.read() as session:
        rows = callbacks.for_task(session, task_id)
    deliveries = [
        {
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
        for row in rows
    ]
    return {"task_id": task_id, "deliveries": deliveries, "num": len(deliveries)}
