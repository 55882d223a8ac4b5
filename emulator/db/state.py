"""Shared small state in the kv table (clock, stage holds, faults), seen by every process."""

from __future__ import annotations

import time
from typing import Any

from sqlmodel import Session

from emulator.db.models import KeyValue

CLOCK_KEY = "clock"
HOLDS_KEY = "holds"


def get(session: Session, key: str, default: Any = None) -> Any:
    row = session.get(KeyValue, key)
    return default if row is None or row.value is None else row.value


def put(session: Session, key: str, value: Any) -> None:
    row = session.get(KeyValue, key)
    if row is None:
        session.add(KeyValue(key=key, value=value))
    else:
        row.value = value
        session.add(row)


def clock_now(session: Session) -> float:
    """Now on the emulator clock: real time, shifted or frozen through the control API."""
    clock = get(session, CLOCK_KEY) or {}
    if clock.get("frozen") is not None:
        return float(clock["frozen"])
    return time.time() + float(clock.get("offset", 0))


def clock_setting(session: Session) -> dict[str, float]:
    """The stored clock: `{"offset": s}`, `{"frozen": t}`, or `{}` for the real clock."""
    clock: dict[str, float] = get(session, CLOCK_KEY) or {}
    return clock


def set_clock(
    session: Session, *, offset_s: float | None = None, frozen_at: float | None = None
) -> None:
    """Shift the emulator clock by offset_s, or stop it at frozen_at (unix seconds)."""
    if frozen_at is not None:
        put(session, CLOCK_KEY, {"frozen": float(frozen_at)})
    else:
        put(session, CLOCK_KEY, {"offset": float(offset_s or 0)})


def clear_clock(session: Session) -> None:
    put(session, CLOCK_KEY, {})


def advance_clock(session: Session, *, seconds: float) -> None:
    """Move the clock forward (a frozen one stays frozen, at the later instant)."""
    clock = clock_setting(session)
    if clock.get("frozen") is not None:
        set_clock(session, frozen_at=float(clock["frozen"]) + seconds)
    else:
        set_clock(session, offset_s=float(clock.get("offset", 0)) + seconds)
