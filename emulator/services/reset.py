"""Reset: back to a fresh emulator, like moto's /moto-api/reset (built-ins and keys stay)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete
from sqlmodel import Session, col

from emulator.db.models import InboxEntry, KeyValue, Storage, Task, Template
from emulator.services.templates import BUILT_IN

PARTS = ("tasks", "storages", "templates", "objects", "state")


def reset_database(*, session: Session, parts: Iterable[str] = PARTS) -> list[str]:
    """Delete the chosen parts; returns what was reset. Objects are the caller's job."""
    chosen = list(parts)
    if "tasks" in chosen:
        session.execute(delete(Task))
    if "storages" in chosen:
        session.execute(delete(Storage))
    if "templates" in chosen:
        session.execute(delete(Template).where(col(Template.template_type) != BUILT_IN))
    if "state" in chosen:
        session.execute(delete(KeyValue))
        session.execute(delete(InboxEntry))
    return chosen
