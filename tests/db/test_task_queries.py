"""list_task's page and total on a generated table, and the indexes its queries and
list_summary's use (SQLite's EXPLAIN QUERY PLAN)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from emulator.api.views import LIST_ITEM_COLUMNS, task_list_item
from emulator.db.engine import Database
from emulator.services import summary, tasks
from tests.db.generated import BACKENDS, NOW, database, loaded, statements, task_rows

ROWS = task_rows(2500, seed=7)
WINDOW = {"start_time": NOW - 20 * 3600, "end_time": NOW - 2 * 3600}


@pytest.fixture(scope="module", params=BACKENDS)
def db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    yield from loaded(request.param, tmp_path_factory.mktemp("queries"), ROWS)


def expected(status: str | None) -> list[str]:
    """The rule of docs/api.md: the window, newest first, ties by task_id descending."""
    kept = [
        row for row in ROWS
        if not row["deleted"]
        and WINDOW["start_time"] <= row["create_time"] <= WINDOW["end_time"]
        and status in (None, row["status"])
    ]  # fmt: skip
    kept.sort(key=lambda row: (row["create_time"], row["task_id"]), reverse=True)
    return [row["task_id"] for row in kept]


@pytest.mark.parametrize("status", [None, "success", "pending"])
def test_pages_and_total_equal_a_python_sort(db: Database, status: str | None) -> None:
    want = expected(status)
    assert len(want) > 100  # several pages, and many ties within a second
    got: list[str] = []
    with db.read() as session:
        for start_num in range(0, len(want) + 37, 37):
            rows, total = tasks.page(
                session=session, **WINDOW, status=status, start_num=start_num, count=37
            )
            assert total == len(want)
            got += [task.task_id for task in rows]
    assert got == want


def test_a_page_past_the_end_is_empty_with_the_total(db: Database) -> None:
    with db.read() as session:
        rows, total = tasks.page(session=session, **WINDOW, start_num=10_000, count=100)
    assert (list(rows), total) == ([], len(expected(None)))


def _plans(db: Database, seen: list[tuple[str, Any]]) -> list[str]:
    out = []
    with db.engine.connect() as connection:
        for sql, params in seen:
            if "FROM tasks" in sql:
                found = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)
                out.append(" ".join(str(row[-1]) for row in found))
    return out


@pytest.fixture
def sqlite_db(db: Database) -> Database:
    if not db.is_sqlite:
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    return db


@pytest.mark.parametrize("status", [None, "fail"])
def test_list_task_walks_its_index_without_sorting(sqlite_db: Database, status: str | None) -> None:
    with sqlite_db.read() as session, statements(sqlite_db) as seen:
        tasks.page(session=session, **WINDOW, status=status, count=100)
    count, page = _plans(sqlite_db, seen)
    assert "COVERING INDEX ix_tasks_count" in count
    assert "INDEX ix_tasks_listing" in page and "TEMP B-TREE" not in page


def test_a_list_page_loads_only_what_its_items_show(db: Database) -> None:
    # /api/list_task's page selects the list item's columns, not the JSON snapshots.
    with db.read() as session, statements(db) as seen:
        rows, _ = tasks.page(session=session, **WINDOW, count=50, columns=LIST_ITEM_COLUMNS)
        narrow = [task_list_item(task) for task in rows]
    page_sql = [sql for sql, _ in seen if "ORDER BY" in sql]
    assert len(page_sql) == 1 and "template" not in page_sql[0] and "stderr_tail" not in page_sql[0]
    with db.read() as session:
        rows, _ = tasks.page(session=session, **WINDOW, count=50)
        assert narrow == [task_list_item(task) for task in rows]


def test_list_summary_streams_groups_from_its_index(sqlite_db: Database) -> None:
    with sqlite_db.read() as session, statements(sqlite_db) as seen:
        summary.summarize(session=session, start_hours=48, end_hours=0)
    (plan,) = _plans(sqlite_db, seen)
    assert "COVERING INDEX ix_tasks_summary" in plan and "TEMP B-TREE" not in plan


def test_tasks_written_through_the_orm_carry_their_summary_keys(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with database("sqlite", tmp_path_factory.mktemp("keys")) as db:
        [row] = task_rows(1)
        row.update(storage={"region": "ap-1"}, template={}, status="success",
                   finish_time=NOW + 3599.5)  # fmt: skip
        with db.write() as session:
            session.add(tasks.Task(**row))
        with db.write() as session:  # an update that moves finish_time moves its hour
            task = session.get(tasks.Task, row["task_id"])
            assert task is not None
            task.finish_time = NOW + 7200.25
        with db.read() as session:
            keys = session.execute(text("SELECT region, vcodec, finish_hour FROM tasks")).one()
    assert tuple(keys) == ("ap-1", "h264", NOW + 7200)
