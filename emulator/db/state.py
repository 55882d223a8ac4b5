"""Shared small state in the kv table: the emulator clock and stage holds, seen by every process."""

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
