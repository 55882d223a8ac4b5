"""Stage holds: park tasks in a chosen stage until released, so tests never race the worker.

A hold is `{"stage": <pending|downloading|running|uploading>, "task_id": <id or null>}`;
holds live in the kv table so every process sees them. EMULATOR_HOLD_STAGE adds one for all
tasks of this process (a hold that only a restart without the setting releases).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from emulator.config import Settings
from emulator.db import state
from emulator.db import tasks as machine
from emulator.errors import BadParam

STAGES = ("pending", "downloading", "running", "uploading")


def list_holds(session: Session) -> list[dict[str, Any]]:
    holds: list[dict[str, Any]] = state.get(session, state.HOLDS_KEY, [])
    return holds


def add(session: Session, *, stage: str, task_id: str | None = None) -> list[dict[str, Any]]:
    if stage not in STAGES:
        raise BadParam(f"stage: must be one of {', '.join(STAGES)}")
    holds = [h for h in list_holds(session) if h != {"stage": stage, "task_id": task_id}]
    holds.append({"stage": stage, "task_id": task_id})
    state.put(session, state.HOLDS_KEY, holds)
    return holds


def release(
    session: Session, *, stage: str | None = None, task_id: str | None = None
) -> list[dict[str, Any]]:
    """Drop holds matching stage and task_id (None matches any); returns what is left."""
    left = [
        h
        for h in list_holds(session)
        if not (
            (stage is None or h["stage"] == stage) and (task_id is None or h["task_id"] == task_id)
        )
    ]
    state.put(session, state.HOLDS_KEY, left)
    machine.announce(session)  # a task held in pending may be claimed now
    return left


def holds_task(holds: list[dict[str, Any]], settings: Settings, stage: str, task_id: str) -> bool:
    """Whether one of `holds` (or EMULATOR_HOLD_STAGE) parks `task_id` in `stage`."""
    if settings.hold_stage == stage:
        return True
    return any(h["stage"] == stage and h["task_id"] in (None, task_id) for h in holds)


def blocks_claims(holds: list[dict[str, Any]], settings: Settings) -> bool:
    """A pending hold for every task: nothing is claimed."""
    return settings.hold_stage == "pending" or any(
        h["stage"] == "pending" and h["task_id"] is None for h in holds
    )


def held_pending(holds: list[dict[str, Any]]) -> list[str]:
    """Tasks held in pending by id: claims pass them by."""
    return [h["task_id"] for h in holds if h["stage"] == "pending" and h["task_id"]]
