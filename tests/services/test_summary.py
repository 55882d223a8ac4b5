"""list_summary's aggregate query gives what the per-row algorithm it replaced gave."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import column, table
from sqlmodel import Session, col, select

from emulator.db import state
from emulator.db.engine import Database
from emulator.db.migrate import downgrade, migrate
from emulator.db.models import Task
from emulator.db.state import clock_now
from emulator.services import summary
from tests.db.generated import BACKENDS, NOW, database, loaded, statements, task_rows

# The NOT NULL columns of tasks at revision 0004 that task_rows() leaves to the model.
OLD_DEFAULTS: dict[str, Any] = {
    "stage_times": "{}", "err_code": 0, "err_msg": "success", "progress": 0, "src_bitrate": 0,
    "dst_bitrate": 0, "width": 0, "output_keys": "[]", "media": "{}", "ffmpeg_command": "",
    "stderr_tail": "", "attempts": 0,
}  # fmt: skip
WINDOWS = [(48, 24), (48, 0), (1, 0), (24, 24), (60, 0), (100, 50), (0, 0)]
ROWS = task_rows(3000)


def old_summarize(*, session: Session, start_hours: int, end_hours: int) -> dict[str, Any]:
    """The implementation before issue 19, kept as the reference: every row in Python."""
    now = clock_now(session)
    since, until = now - start_hours * 3600, now - end_hours * 3600
    done = session.exec(
        select(Task).where(
            col(Task.status) == "success",
            col(Task.deleted).is_(False),
            col(Task.finish_time) >= since,
            col(Task.finish_time) <= until,
        )
    ).all()
    buckets: dict[int, dict[str, int | float]] = defaultdict(lambda: defaultdict(int))
    regions: list[str] = []
    for task in done:
        assert task.finish_time is not None
        bucket = buckets[int(task.finish_time // 3600 * 3600)]
        region = str(task.storage.get("region", ""))
        codec = str(task.template.get("vcodec", "h264"))
        kind = "hd" if task.height >= 720 else "sd"
        if region not in regions:
            regions.append(region)
        for suffix in ("total", kind, f"{region}_{codec}_{kind}"):
            bucket[f"count_{suffix}"] += 1
            bucket[f"duration_{suffix}"] += task.duration
    rows = []
    for stamp in sorted(buckets):
        row = {"time_stamp": stamp}
        for base in ("count", "duration"):
            for kind in ("total", "sd", "hd"):
                row[f"{base}_{kind}"] = 0
        row.update({key: round(value) for key, value in buckets[stamp].items()})
        rows.append(row)
    return {"list": rows, "resolution_types": ["sd", "hd"], "regions": sorted(regions),
            "num": len(rows)}  # fmt: skip


@pytest.fixture(scope="module", params=BACKENDS)
def db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    yield from loaded(request.param, tmp_path_factory.mktemp("summary"), ROWS)


@pytest.mark.parametrize(("start_hours", "end_hours"), WINDOWS)
def test_the_aggregate_equals_the_per_row_algorithm(
    db: Database, start_hours: int, end_hours: int
) -> None:
    with db.read() as session:
        expected = old_summarize(session=session, start_hours=start_hours, end_hours=end_hours)
        got = summary.summarize(session=session, start_hours=start_hours, end_hours=end_hours)
    assert got == expected
    assert start_hours == end_hours or got["num"] > 0  # the generated set reaches each window


def test_the_summary_is_one_query_that_returns_groups_only(db: Database) -> None:
    with db.read() as session, statements(db) as seen:
        data = summary.summarize(session=session, start_hours=48, end_hours=0)
    (aggregate,) = [sql for sql, _ in seen if "FROM tasks" in sql]
    assert "GROUP BY" in aggregate and "storage" not in aggregate
    assert data["num"] > 0


def test_tasks_stored_before_migration_0005_are_summarised_as_before(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """0005 fills the summary columns of the tasks already there (SQLite's backfill; the
    migration's PostgreSQL branch runs in tests/scale/test_database.py's up-down-up)."""
    with database("sqlite", tmp_path_factory.mktemp("backfill")) as db:
        downgrade(db, revision="0004")
        rows = [{**OLD_DEFAULTS, **row} for row in ROWS[:800]]
        for row in rows:
            row["storage"], row["template"] = (
                json.dumps(row["storage"]),
                json.dumps(row["template"]),
            )
        with db.write() as session:
            session.execute(table("tasks", *map(column, rows[0])).insert(), rows)
        migrate(db)
        with db.write() as session:
            state.set_clock(session, frozen_at=NOW)
        with db.read() as session:
            for start_hours, end_hours in WINDOWS:
                window = {"start_hours": start_hours, "end_hours": end_hours}
                assert summary.summarize(session=session, **window) == old_summarize(
                    session=session, **window
                )
