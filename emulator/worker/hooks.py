"""Holds and injected faults at each stage boundary: the one interface the job calls.

Both live in the kv table, so every process sees them. Reading it at every boundary would cost
each stage of every task a database read for a rule that is almost never set, so the hooks keep
a snapshot: refreshed inside transactions the worker opens anyway (each claim, each heartbeat),
and at the next boundary after this process changes a rule (`changed`, set by the control API).
With no hold and no fault set, a stage boundary reads nothing. A held stage waits for `changed`
(a release through this process lets it go at once) and re-reads the rules every HOLD_POLL_S,
so a release made by another process lets it go within that.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlmodel import Session

from emulator.config import Settings
from emulator.db.engine import Database
from emulator.services import faults, holds

HOLD_POLL_S = 0.15


class StageHooks:
    def __init__(
        self, *, db: Database, settings: Settings, changed: threading.Event | None = None
    ) -> None:
        self.db = db
        self.settings = settings
        self.changed = changed or threading.Event()
        self._holds: list[dict[str, Any]] = []
        self._task_faults = False

    def refresh(self, session: Session) -> None:
        """Take the current rules from `session` (a transaction the caller has open anyway)."""
        self._holds = holds.list_holds(session)
        self._task_faults = faults.any_for_tasks(session=session)

    @property
    def task_faults(self) -> bool:
        """Whether any task fault is set (as of the last refresh): claims consume them then."""
        return self._task_faults

    def blocks_claims(self) -> bool:
        return holds.blocks_claims(self._holds, self.settings)

    def held_pending(self) -> list[str]:
        return holds.held_pending(self._holds)

    def enter(
        self,
        stage: str,
        *,
        task_id: str,
        taken: list[dict[str, Any]],
        check: Callable[[], None],
        pause: Callable[[float], None],
    ) -> None:
        """Called as a task enters `stage`: wait out a hold, then meet the faults it took.

        `check` raises when the task is cancelled or lost; `pause` sleeps, waking early on that.
        """
        if self.changed.is_set():
            self.changed.clear()
            with self.db.read() as session:
                self.refresh(session)
        while holds.holds_task(self._holds, self.settings, stage, task_id):
            check()
            self.changed.wait(HOLD_POLL_S)
            self.changed.clear()
            with self.db.read() as session:
                self.refresh(session)
        check()
        if taken:
            self._meet_faults(stage, taken, check=check, pause=pause)

    @staticmethod
    def _meet_faults(
        stage: str,
        taken: list[dict[str, Any]],
        *,
        check: Callable[[], None],
        pause: Callable[[float], None],
    ) -> None:
        """A slowed stage waits (cancellable), a failing one fails here."""
        delay, failure = faults.stage_effect(taken, stage)
        deadline = time.monotonic() + delay
        while (left := deadline - time.monotonic()) > 0:
            check()
            pause(min(0.05, left))
        check()
        if failure is not None:
            raise failure


__all__ = ["StageHooks"]
