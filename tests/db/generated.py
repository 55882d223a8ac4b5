"""A generated task table for query tests: varied regions, codecs, heights, times, statuses."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection

from emulator.db import state
from emulator.db.engine import Database
from emulator.db.migrate import migrate
from emulator.db.models import Task
from emulator.db.tasks import STATUSES
from tests.scale.pg import fresh_database

# Sat, 14 Nov 2023 22:00:00 UTC: an hour's start, so windows and hours line up exactly.
NOW = 1_700_000_000 // 3600 * 3600 + 3600
REGIONS = ["cn-hz", "us-east-1", "eu_west", ""]
# "h2_65" joins "eu_west"+"h2_65" and "eu"+"west_h2_65" into one key, as the reference does.
TEMPLATES: list[dict[str, Any]] = [
    {"vcodec": "h264"}, {"vcodec": "h265"}, {"vcodec": "h2_65"}, {"format": "mp4"},
]  # fmt: skip
HEIGHTS = [0, 360, 719, 720, 1080]
BACKENDS = ["sqlite", "postgresql"]


def task_rows(count: int, *, seed: int = 19) -> list[dict[str, Any]]:
    """Keyword arguments of `count` tasks; most successful, some deleted, many time ties."""
    rng = random.Random(seed)
    rows = []
    for index in range(count):
        status = rng.choice(["success"] * 6 + list(STATUSES))
        finished = status in ("success", "fail")
        # Exact hour starts, exact window edges (NOW - k h) and times in between.
        finish = NOW - rng.choice([0, 3600, 24 * 3600, 48 * 3600, rng.uniform(0, 60 * 3600)])
        region = rng.choice([*REGIONS, "eu"])
        rows.append(
            {
                "task_id": f"{index:08x}{rng.getrandbits(64):016x}",
                "template_name": "t",
                "template_id": "t",
                "template": rng.choice(TEMPLATES) if region != "eu" else {"vcodec": "west_h2_65"},
                "storage_id": "s",
                "storage": {"region": region, "bucket": "b"},
                "input": "http://in/clip.mp4",
                "output": "o.mp4",
                "objkey": "o.mp4",
                "status": status,
                "create_time": float(NOW - rng.randrange(0, 30) * 3600 - rng.randrange(0, 3)),
                "finish_time": finish if finished else None,
                "duration": rng.randrange(0, 400) / 4,  # exact in binary: sums are too
                "height": rng.choice(HEIGHTS),
                "deleted": rng.random() < 0.1,
            }
        )
    return rows


def insert(db: Database, rows: list[dict[str, Any]]) -> None:
    with db.write() as session:
        session.add_all(Task(**row) for row in rows)


@contextmanager
def database(backend: str, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database on `backend`; PostgreSQL's is created here and dropped."""
    if backend == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'emulator.sqlite3'}")
        migrate(db, lock_dir=tmp_path)
        yield db
        db.dispose()
        return
    with fresh_database() as url:
        db = Database(url)
        migrate(db)
        yield db
        db.dispose()


def loaded(backend: str, tmp_path: Path, rows: list[dict[str, Any]]) -> Iterator[Database]:
    """database() holding `rows`, its clock frozen at NOW."""
    with database(backend, tmp_path) as db:
        insert(db, rows)
        with db.write() as session:
            state.set_clock(session, frozen_at=NOW)
        yield db


@contextmanager
def statements(db: Database) -> Iterator[list[tuple[str, Any]]]:
    """Every SQL statement `db` runs meanwhile, with its parameters."""
    seen: list[tuple[str, Any]] = []

    def record(_c: Connection, _cursor: Any, sql: str, params: Any, *_: Any) -> None:
        seen.append((sql, params))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
